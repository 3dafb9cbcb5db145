"""``patternlite prune|export|finetune|demo``: argv[0] is the subcommand (see patternlite.cli).

Every argument and every output path is checked before a model loads or any
long work starts. An error is one line on stderr naming the fix, with a
documented exit code (``EXIT_*`` below) and no traceback unless ``--verbose``;
nothing is written on failure. Without ``--verbose`` TensorFlow's start-up
chatter and Keras' warnings are kept out of the way.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from patternlite.converter import defaults
from patternlite.converter.errors import ConverterError
from patternlite.converter.finetune_policy import FinetunePolicy

EXIT_OK = 0
EXIT_FAILED = 1  # the request was refused or failed: a missing or bad file, an unusable output path, ...
EXIT_USAGE = 2  # the command line itself is wrong (argparse's convention)
EXIT_INTERRUPTED = 130

KERAS_SUFFIXES = (".keras", ".h5")
_FT = FinetunePolicy()
_LAYERS = ("3x3", "1x1", "depthwise")  # the CLI's names of defaults.LAYERS


def keep_arg(text: str) -> float | dict[str, float]:
    """``0.5`` or ``layer_a=0.3,layer_b=0.6``; every fraction in (0, 1]."""

    def fraction(value: str) -> float:
        try:
            f = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a fraction in (0, 1] or layer=fraction,..., got {text!r}"
            ) from None
        if not 0.0 < f <= 1.0 or math.isnan(f):
            raise argparse.ArgumentTypeError(f"a keep fraction must be in (0, 1], got {value}")
        return f

    if "=" not in text:
        return fraction(text)
    out = {}
    for item in text.split(","):
        name, sep, val = item.partition("=")
        if not sep or not name.strip():
            raise argparse.ArgumentTypeError(f"expected layer=fraction, got {item!r}")
        out[name.strip()] = fraction(val)
    return out


def fraction_arg(text: str) -> float:
    """One keep fraction in (0, 1]."""
    try:
        f = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1], got {text!r}") from None
    if not 0.0 < f <= 1.0 or math.isnan(f):
        raise argparse.ArgumentTypeError(f"a keep fraction must be in (0, 1], got {text}")
    return f


def layers_arg(text: str) -> tuple[str, ...]:
    """``3x3,1x1,depthwise`` (any of them, in any order) -> the kinds' metadata names."""
    from patternlite.metadata import KINDS

    aliases = dict(zip(("3x3", "1x1", "depthwise"), KINDS, strict=True)) | {k: k for k in KINDS}
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no layer kind selected (choose from 3x3, 1x1, depthwise)")
    for name in names:
        if name not in aliases:
            raise argparse.ArgumentTypeError(f"unknown layer kind {name!r} (choose from 3x3, 1x1, depthwise)")
    return tuple(k for k in KINDS if k in {aliases[n] for n in names})


def patterns_arg(text: str) -> int | list[int]:
    """``8`` (distil 8 of the 56 shapes) or a comma list of 9-bit masks such as ``0x1b0,0x17``."""
    from patternlite.metadata import MetadataError, validate_pattern

    try:
        if "," in text or text.lower().startswith("0x"):
            masks = [int(t, 0) for t in text.split(",") if t.strip()]
            for m in masks:
                validate_pattern(m)
            return masks
        size = int(text)
    except MetadataError as exc:  # a ValueError too: caught first
        raise argparse.ArgumentTypeError(str(exc)) from None
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count (1..56) or masks like 0x1b0,0x17, got {text!r}") from None
    if not 1 <= size <= 56:
        raise argparse.ArgumentTypeError(f"a distilled library holds 1..56 patterns, got {size}")
    return size


def _number(kind: type, low: float, *, above: bool = False) -> Callable[[str], Any]:
    """An argparse type: ``kind`` (int or float) >= ``low`` (> with ``above``), finite."""
    word = "an integer" if kind is int else "a number"
    bound = f"> {low:g}" if above else f">= {low:g}"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {word} {bound}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (above and value == low):
            raise argparse.ArgumentTypeError(f"expected {word} {bound}, got {text}")
        return value

    parse.__name__ = word  # what argparse would print for an unexpected error
    return parse


count = _number(int, 1)
nonnegative_int = _number(int, 0)
nonnegative = _number(float, 0.0)
positive = _number(float, 0.0, above=True)


class _Help(argparse.HelpFormatter):
    """Shows an option's default when it has a meaningful one (not None, not a switch)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        # By identity: 0 == False, and --seed's default 0 is worth showing.
        if (
            not any(action.default is v for v in (None, False, argparse.SUPPRESS))
            and "%(default)" not in text
            and action.option_strings
        ):
            text += " (default: %(default)s)"
        return text


def _int8_args(parser: argparse.ArgumentParser) -> None:
    """``--int8``, ``--int8-io`` and ``--calibration``, the same for prune and export."""
    parser.add_argument(
        "--int8",
        action="store_true",
        help="write a full-integer int8 .tflite (per-channel int8 weights, int8 activations, float32 input/output)",
    )
    parser.add_argument("--int8-io", action="store_true", help="with --int8: int8 input and output tensors too")
    parser.add_argument(
        "--calibration",
        type=Path,
        metavar="DATA",
        help="with --int8: calibrate on these images (.npz or a folder, as finetune --data reads; raw pixel "
        f"values, as the model takes them) instead of {defaults.CALIBRATION_IMAGES} synthetic ones",
    )


def _parser() -> argparse.ArgumentParser:
    from patternlite import __version__

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--verbose", action="store_true", help="TensorFlow's logs, and a traceback on errors")
    fmt = _Help
    p = argparse.ArgumentParser(prog="patternlite", formatter_class=fmt)
    p.add_argument("--version", action="version", version=f"patternlite {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, parents=[common], formatter_class=fmt)

    pr = command("prune", "pattern + connectivity pruning of a Keras model, data-free or on your own data")
    pr.add_argument("model", type=Path, help="input Keras model (.keras or .h5)")
    pr.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="OUT.tflite (the pruned Keras model OUT.keras and masks OUT.masks.npz go beside it), or OUT.keras",
    )
    pr.add_argument(
        "--layers",
        type=layers_arg,
        default=",".join(_LAYERS),
        help="kinds to prune: 3x3 convs, 1x1 convs (blocks of 16 output channels keep the same inputs), "
        "3x3 depthwise convs (one pattern per 16 channels)",
    )
    pr.add_argument(
        "--keep",
        type=keep_arg,
        default=1.0,
        help="fraction kept of each 3x3 conv's kernels and each 1x1 conv's weights (or layer=frac,...)",
    )
    pr.add_argument("--keep-1x1", type=fraction_arg, metavar="F", help="fraction of 1x1 weights kept (default: --keep)")
    pr.add_argument(
        "--keep-depthwise",
        type=fraction_arg,
        metavar="F",
        help=f"fraction of depthwise channels kept (default: {defaults.DEPTHWISE_KEEP}, patterns only)",
    )
    pr.add_argument("--patterns", type=patterns_arg, default=8, help="library size, or explicit masks 0x1b0,...")
    pr.add_argument("--method", choices=("admm", "magnitude"), default="admm", help="magnitude: instant, no data")
    pr.add_argument(
        "--data",
        type=Path,
        help="prune on your own images instead of synthetic ones, then retrain on them within the budget "
        f"(default {defaults.DATA_BUDGET:g} min): .npz or a folder, as finetune --data reads",
    )
    # The research knobs: measured defaults (docs/converter.md); shown after the options above.
    adv = pr.add_argument_group(
        "advanced options", "synthesis, solver, distillation and budget settings; the defaults are measured choices"
    )
    adv.add_argument("--synthetic", choices=("bn", "noise"), default="bn", help="how the synthetic inputs are made")
    pr.add_argument(
        "--preset",
        choices=tuple(defaults.PRESETS),
        default=defaults.PRESET,
        help="fast (ResNet-20: about 5 min on a 2-core machine) or standard: a time budget and synthesis sizes",
    )
    adv.add_argument(
        "--budget",
        type=nonnegative,
        help="minutes for synthesis + distillation, overriding the preset's (0: unbounded)",
    )
    adv.add_argument(
        "--synthesis",
        choices=defaults.SYNTHESIS_KINDS,
        default=defaults.SYNTHESIS,
        help="fixed: distil on the images made up front; growing: also add adversarial images while distilling",
    )
    adv.add_argument("--samples", type=count, help="synthetic images to generate (default: the preset's)")
    adv.add_argument(
        "--iterations", type=nonnegative_int, default=defaults.ITERATIONS, help="ADMM iterations per layer"
    )
    adv.add_argument(
        "--synthetic-steps", type=nonnegative_int, help="steps per synthetic batch (default: the preset's)"
    )
    adv.add_argument(
        "--augment", type=nonnegative_int, default=defaults.AUGMENT_COPIES, help="augmented copies per synthetic image"
    )
    adv.add_argument(
        "--distill-steps",
        type=nonnegative_int,
        default=defaults.DISTILL_STEPS,
        help="most end-to-end distillation steps (0: skip); the budget may allow fewer",
    )
    adv.add_argument(
        "--distill-adversarial",
        type=nonnegative,
        default=defaults.DISTILL_ADVERSARIAL,
        help="size of distillation's adversarial nudge, in pool standard deviations (0: off, faster)",
    )
    adv.add_argument(
        "--distill-only-pruned",
        action="store_true",
        help="distillation trains only the pruned convs; every other layer keeps its weights bit-exact",
    )
    adv.add_argument(
        "--allocation",
        choices=("uniform", "sensitivity"),
        default="uniform",
        help="uniform: --keep of every layer; sensitivity: --keep of all 3x3 kernels, shared out by measured damage",
    )
    adv.add_argument(
        "--connectivity",
        choices=defaults.CONNECTIVITIES,
        default="kernel",
        help="which 3x3 kernels are kept: kernel: each ranked on its own; block: the 16 filters of a block "
        "keep the same input channels (what the int8 filter-lane kernel skips on); shared: block, and the 16 "
        "filters read each kept channel through one pattern (the fastest int8 3x3 kernel, at any --keep)",
    )
    adv.add_argument(
        "--pointwise-quads",
        action="store_true",
        help="1x1 convs keep whole aligned fours of input channels per block of 16 filters "
        "(what the int8 1x1 kernel reads as one dot product; int8 models)",
    )
    pr.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    pr.add_argument("--prune-first", action="store_true", help="also prune the conv that sees the raw input")
    pr.add_argument(
        "--prune-head", action="store_true", help="also prune a 1x1 or depthwise conv with no conv or dense after it"
    )
    pr.add_argument("--tflite", type=Path, help="also export this .tflite")
    _int8_args(pr)
    pr.add_argument("--no-progress", action="store_true", help="no progress bars")

    ex = command("export", "Keras model -> .tflite with pattern metadata")
    ex.add_argument("model", type=Path, help="a pruned (or retrained) Keras model, .keras or .h5")
    ex.add_argument("-o", "--output", type=Path, required=True, help="the .tflite to write")
    ex.add_argument("--masks", type=Path, help="masks .npz from prune (default: <model>.masks.npz if present)")
    ex.add_argument("--no-metadata", action="store_true", help="write a plain .tflite")
    _int8_args(ex)
    ex.add_argument("--seed", type=int, default=0, help="seed of the synthetic calibration images")
    ex.add_argument("--no-progress", action="store_true", help="no progress bars")

    ft = command("finetune", "the client stage: masked retraining on your own data, distilled from the dense model")
    ft.add_argument("model", type=Path, help="the pruned Keras model (from prune)")
    ft.add_argument(
        "--data",
        type=Path,
        required=True,
        help=".npz with images (and optional labels), or a folder of images (one sub-folder per class)",
    )
    ft.add_argument("-o", "--output", type=Path, required=True, help="the retrained model, .keras or .h5")
    ft.add_argument("--teacher", type=Path, help="the dense model to distil from (needed for unlabelled data)")
    ft.add_argument("--masks", type=Path, help="masks .npz (default: <model>.masks.npz)")
    ft.add_argument("--minutes", type=positive, default=_FT.minutes, help="training time budget")
    ft.add_argument("--epochs", type=positive, help="also stop after this many passes over the data")
    ft.add_argument("--batch-size", type=count, default=_FT.batch_size, help="images per step")
    ft.add_argument(
        "--lr", type=positive, help="peak learning rate (SGD, cosine; 0.02, or 0.002 with --batchnorm frozen)"
    )
    ft.add_argument("--temperature", type=positive, default=_FT.temperature, help="distillation temperature")
    ft.add_argument(
        "--label-weight", type=float, default=_FT.label_weight, help="weight of the labels against the teacher (0..1)"
    )
    ft.add_argument("--batchnorm", choices=("train", "frozen"), default=_FT.batchnorm, help="BatchNorm statistics")
    ft.add_argument("--no-augment", action="store_true", help="no random crops and flips")
    ft.add_argument(
        "--holdout", type=float, default=_FT.holdout, help="fraction of labelled data scored before/after (0: none)"
    )
    ft.add_argument(
        "--remask",
        action="store_true",
        help="let the data re-select patterns and kept kernels (ADMM, then masked retraining; same library and keep)",
    )
    ft.add_argument(
        "--remask-share",
        type=fraction_arg,
        default=_FT.remask_share,
        metavar="F",
        help="with --remask: the fraction of the budget spent re-selecting",
    )
    ft.add_argument(
        "--remask-from",
        choices=("pruned", "dense"),
        default=_FT.remask_from,
        help="with --remask: start re-selecting from the pruned weights or from the teacher's dense ones",
    )
    ft.add_argument("--seed", type=int, default=0, help="seed of the split, the order and the augmentation")
    ft.add_argument("--tflite", type=Path, help="also export this .tflite")
    ft.add_argument("--no-progress", action="store_true", help="no progress bar")

    de = command("demo", "the whole story on built-in material")
    de.add_argument("--out", type=Path, help="keep the demo's files in this folder (default: a temporary one)")
    de.add_argument("--keep", type=keep_arg, default=0.5, help="fraction of 3x3 kernels kept")
    de.add_argument("--vgg-blocks", type=nonnegative_int, default=2, help="VGG-16 blocks in the speed test (0 skips)")
    de.add_argument("--runs", type=count, default=10, help="timed runs per latency")
    de.add_argument("--threads", type=count, default=None, help="interpreter threads (default: TFLite's)")
    de.add_argument("--seed", type=int, default=0, help="seed of every random choice (the same seed, the same table)")
    return p


def masks_path_for(model_path: Path) -> Path:
    return model_path.with_name(model_path.name.rsplit(".", 1)[0] + ".masks.npz")


# The first bytes of each Keras format: a .keras file is a zip archive, a .h5 file an HDF5 one
# (the HDF5 signature may also follow a user block of 512, 1024, 2048, ... bytes).
_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_HDF5_OFFSETS = (0, *(512 << k for k in range(12)))  # up to a 1 MiB user block


def _sniff_keras(path: Path) -> None:
    """Refuse a file whose bytes are not the format its suffix names, before TensorFlow loads.

    Keras' own messages for such a file mislead ("File not found" for a text file
    named .keras) and come only after TensorFlow's start-up.
    """
    suffix = path.suffix.lower()
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if suffix == ".keras" and head[:4] == _ZIP_MAGIC:
                return
            if suffix == ".h5":
                for offset in _HDF5_OFFSETS:
                    f.seek(offset)
                    if f.read(8) == _HDF5_MAGIC:
                        return
    except OSError as exc:
        raise ConverterError(f"cannot read {path}: {exc.strerror or exc}") from exc
    want = "a zip archive" if suffix == ".keras" else "an HDF5 file"
    what = "it is empty" if path.stat().st_size == 0 else f"it starts with {head[:8]!r}"
    raise ConverterError(f"cannot load {path} as a Keras model: a {suffix} file is {want}, but {what}")


def _check_input(path: Path, suffixes: Sequence[str], what: str) -> None:
    if not path.exists():
        raise ConverterError(f"{path} does not exist")
    if not path.is_file():
        raise ConverterError(f"{path} is not a file")
    if path.suffix.lower() not in suffixes:
        hint = " (prune and finetune take the Keras model, not the .tflite)" if path.suffix == ".tflite" else ""
        raise ConverterError(f"{what} must be {' or '.join(suffixes)}, got {path.name!r}{hint}")
    if suffixes == KERAS_SUFFIXES:
        _sniff_keras(path)


def _check_out(path: Path, suffixes: Sequence[str], what: str, *inputs: Path | None) -> None:
    from patternlite.converter.export.io import check_output, check_suffix

    check_suffix(path, suffixes, what)
    check_output(path, *inputs)


def _load(path: Path) -> Any:
    """A Keras model, or one line saying why not (Keras' own messages mislead: "File not found", "TFSMLayer")."""
    import keras

    _check_input(path, KERAS_SUFFIXES, "the model")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # noqa: BLE001  # Keras raises anything from ValueError to OSError or KeyError
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConverterError(f"cannot load {path} as a Keras model: {reason[:200]}") from exc


def _save_model(model: Any, out: Path, source: Path) -> None:
    from patternlite.converter.export.io import check_output, write_atomic

    write_atomic(check_output(out, source), lambda tmp: model.save(tmp))


def _validate_int8(args: argparse.Namespace, tflite: Path | None) -> None:
    """The int8 options: consistent, and the calibration data readable (an .npz is read and checked now)."""
    from patternlite.converter.export.calibration import read_calibration

    args.calibration_images = None
    if not args.int8:
        for flag, value in (("--int8-io", args.int8_io), ("--calibration", args.calibration)):
            if value:
                raise ConverterError(f"{flag} applies to int8 export; add --int8")
        return
    if tflite is None:
        raise ConverterError("--int8 applies to the .tflite; give -o OUT.tflite or --tflite OUT.tflite")
    if args.calibration is not None:
        try:
            args.calibration_images = read_calibration(args.calibration)
        except ConverterError as exc:
            raise ConverterError(f"--calibration: {exc}") from None


def _validate(args: argparse.Namespace) -> None:
    """Everything that can be checked before TensorFlow loads a model."""
    if args.command == "prune":
        from patternlite.metadata import KINDS

        for flag, value, kind in (("--keep-1x1", args.keep_1x1, 1), ("--keep-depthwise", args.keep_depthwise, 2)):
            if value is not None and KINDS[kind] not in args.layers:
                raise ConverterError(f"{flag} is given but --layers does not select {_LAYERS[kind]}")
        if args.output.suffix.lower() == ".tflite":
            # `prune MODEL -o OUT.tflite`: the .tflite is the main output; the
            # pruned Keras model and its masks (for masked retraining) go beside it.
            if args.tflite:
                raise ConverterError("give either -o OUT.tflite or --tflite, not both")
            args.tflite, args.output = args.output, args.output.with_suffix(".keras")
        _check_input(args.model, KERAS_SUFFIXES, "the model")
        _check_out(args.output, KERAS_SUFFIXES + (".tflite",), "-o", args.model)
        _check_out(masks_path_for(args.output), (".npz",), "the masks file", args.model)
        if args.tflite:
            _check_out(args.tflite, (".tflite",), "--tflite", args.model, args.output, args.calibration, args.data)
        _validate_int8(args, args.tflite)
        args.client_x = args.client_y = None
        if args.data is not None:
            from patternlite.converter.client_data import read_before_model

            if args.method != "admm":
                raise ConverterError("--data is used by the ADMM solver; --method magnitude prunes without data")
            _check_out(args.output, KERAS_SUFFIXES + (".tflite",), "-o", args.data)
            # The data last: reading it can take a while, and it is refused before any model loads.
            args.client_x, args.client_y, _ = read_before_model(args.data)
    elif args.command == "export":
        _check_input(args.model, KERAS_SUFFIXES, "the model")
        if args.masks:
            _check_input(args.masks, (".npz",), "--masks")
        _check_out(args.output, (".tflite",), "-o", args.model, args.masks, args.calibration)
        _validate_int8(args, args.output)
    elif args.command == "finetune":
        from patternlite.converter.client_data import check_data_path, read_before_model

        _finetune_policy(args)
        if args.remask and args.remask_from == "dense" and not args.teacher:
            raise ConverterError("--remask-from dense starts from the teacher's weights; give --teacher DENSE.keras")
        _check_input(args.model, KERAS_SUFFIXES, "the model")
        if args.teacher:
            _check_input(args.teacher, KERAS_SUFFIXES, "--teacher")
        check_data_path(args.data)
        mpath = args.masks or masks_path_for(args.model)
        if not mpath.exists():
            raise ConverterError(f"no masks at {mpath}; pass --masks")
        _check_out(args.output, KERAS_SUFFIXES, "-o", args.model, args.teacher, args.data)
        _check_out(masks_path_for(args.output), (".npz",), "the masks file", args.model, args.masks)
        if args.tflite:
            _check_out(args.tflite, (".tflite",), "--tflite", args.model, args.output)
        # The data last: reading it can take a while, and it is refused before any model loads.
        args.client_x, args.client_y, labelled = read_before_model(args.data)
        if not labelled and not args.teacher:
            raise ConverterError(
                f"{args.data} has no labels: unlabelled client data needs a teacher (--teacher DENSE.keras)"
            )
    elif args.command == "demo" and args.out is not None:
        if args.out.exists() and not args.out.is_dir():
            raise ConverterError(f"--out {args.out} exists and is not a folder")
        from patternlite.converter.export.io import check_output

        target = args.out if args.out.is_dir() else args.out.parent
        check_output(target / "probe")


def _quiet() -> None:
    """Keep TensorFlow's start-up lines (oneDNN, cuInit, absl) and Keras' warnings off the terminal.

    TensorFlow 2.21 logs those through absl before any setting is read
    (``TF_CPP_MIN_LOG_LEVEL`` no longer silences them), so file descriptor 2
    points at /dev/null while TensorFlow imports and initialises its devices,
    and is restored before anything of ours can print.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.filterwarnings("ignore", message="The structure of `inputs`")
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import tensorflow as tf

        tf.constant(0.0).numpy()  # device initialisation happens on the first op
        tf.get_logger().setLevel(logging.ERROR)  # e.g. retracing notices
    except ImportError:
        pass  # reported by the command that needs it
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        _validate(args)  # before TensorFlow loads: a refusal is immediate
        if not args.verbose:
            _quiet()
        return _run(args)
    except ConverterError as exc:
        if args.verbose:
            raise
        print(f"patternlite {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted; no output was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001  # a bug or an unforeseen input: one line unless --verbose
        if args.verbose:
            raise
        print(
            f"patternlite {args.command}: unexpected {type(exc).__name__}: {str(exc)[:200]} "
            "(rerun with --verbose for the traceback)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    if args.command == "prune":
        return _prune(args)
    if args.command == "export":
        return _export(args)
    if args.command == "finetune":
        return _finetune(args)
    if args.command == "demo":
        from patternlite.converter.demo import run_demo

        run_demo(
            args.out, keep=args.keep, vgg=args.vgg_blocks, runs=args.runs, num_threads=args.threads, seed=args.seed
        )
        return EXIT_OK
    raise AssertionError(args.command)


def _prune(args: argparse.Namespace) -> int:
    from patternlite.converter.export.io import save_masks
    from patternlite.converter.export.tflite import export_tflite
    from patternlite.converter.graph import DEPTHWISE, POINTWISE
    from patternlite.converter.policy import PrunePolicy
    from patternlite.converter.pruner import prune
    from patternlite.converter.synthesis.pool_growth import PoolGrowth

    model = _load(args.model)
    kind_keep = {}
    if args.keep_1x1 is not None:
        kind_keep[POINTWISE] = args.keep_1x1
    if args.keep_depthwise is not None:
        kind_keep[DEPTHWISE] = args.keep_depthwise
    policy = PrunePolicy.from_options(
        layers=args.layers,
        kind_keep=kind_keep,
        patterns=args.patterns,
        method=args.method,
        synthetic=args.synthetic,
        samples=args.samples,
        iterations=args.iterations,
        synthetic_steps=args.synthetic_steps,
        distill_steps=args.distill_steps,
        distill_adversarial=args.distill_adversarial,
        distill_only_pruned=args.distill_only_pruned,
        augment=args.augment,
        allocation=args.allocation,
        preset=args.preset,
        budget=args.budget,
        growth=PoolGrowth() if args.synthesis == "growing" else None,
        prune_first=args.prune_first,
        prune_head=args.prune_head,
        connectivity=args.connectivity,
        pointwise_quads=args.pointwise_quads,
    )
    data = None
    if args.data is not None:
        from patternlite.converter.client_data import load_client_data

        x, y = args.client_x, args.client_y  # an .npz, read and checked before the model loaded
        if x is None:  # a folder: decoded now, at the model's input size
            shape = tuple(model.inputs[0].shape[1:])
            x, y = load_client_data(args.data, shape if len(shape) == 3 else None)  # type: ignore[arg-type]
        print(f"client data: {len(x)} images from {args.data}, {'labelled' if y is not None else 'unlabelled'}")
        data = (x, y)
    result = prune(model, keep=args.keep, policy=policy, data=data, seed=args.seed, progress=not args.no_progress)
    print(result.summary())
    print("pattern library:", " ".join(f"{p:#05x}" for p in result.library))
    _save_model(result.model, args.output, args.model)
    masks = save_masks(masks_path_for(args.output), result.masks, result.library, result.keep)
    print(f"wrote {args.output} and {masks} ({result.seconds:.1f} s)")
    if args.tflite:
        int8 = _int8_options(args, result.model)
        out = export_tflite(result, args.tflite, source=args.model, int8=int8)
        print(f"wrote {out}" + (" (int8)" if args.int8 else ""))
    return EXIT_OK


def _int8_options(args: argparse.Namespace, model: Any) -> Any:
    """``export_tflite``'s ``int8`` for the command line: False, or Int8Options with the calibration images."""
    if not args.int8:
        return False
    from patternlite.converter.export.calibration import load_calibration
    from patternlite.converter.export.int8 import Int8Options

    images = None
    if args.calibration is not None:
        shape = tuple(model.inputs[0].shape[1:])
        try:
            images = load_calibration(args.calibration, shape, args.calibration_images)
        except ConverterError as exc:
            raise ConverterError(f"--calibration: {exc}") from None
        print(f"calibration: {len(images)} images from {args.calibration}")
    return Int8Options(calibration=images, int8_io=args.int8_io, seed=args.seed, progress=not args.no_progress)


def _export(args: argparse.Namespace) -> int:
    from patternlite.converter.export.io import load_masks
    from patternlite.converter.export.tflite import export_tflite

    model = _load(args.model)
    int8 = _int8_options(args, model)
    mpath = args.masks or masks_path_for(args.model)
    if args.masks or mpath.exists():
        masks, library, keep = load_masks(mpath)
        out = export_tflite(
            model,
            args.output,
            metadata=not args.no_metadata,
            masks=masks,
            library=library,
            keep=keep,
            source=args.model,
            int8=int8,
        )
    else:
        out = export_tflite(model, args.output, metadata=not args.no_metadata, source=args.model, int8=int8)
    print(f"wrote {out}" + (" (int8)" if args.int8 else ""))
    return EXIT_OK


def _finetune_policy(args: argparse.Namespace) -> FinetunePolicy:
    """The ``finetune`` options as a checked policy."""
    return FinetunePolicy(
        minutes=args.minutes,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        temperature=args.temperature,
        label_weight=args.label_weight,
        augment=not args.no_augment,
        batchnorm=args.batchnorm,
        holdout=args.holdout,
        seed=args.seed,
        remask=args.remask,
        remask_share=args.remask_share,
        remask_from=args.remask_from,
    ).check()


def _finetune(args: argparse.Namespace) -> int:
    from patternlite.converter.client_data import load_client_data
    from patternlite.converter.export.io import load_masks, save_masks
    from patternlite.converter.export.tflite import export_tflite
    from patternlite.converter.finetune import masked_finetune

    policy = _finetune_policy(args)
    masks, library, keep = load_masks(args.masks or masks_path_for(args.model))
    model = _load(args.model)
    teacher = _load(args.teacher) if args.teacher else None
    shape = tuple(model.inputs[0].shape[1:])
    x, y = args.client_x, args.client_y  # an .npz, read and checked before the models loaded
    if x is None:  # a folder: decoded now, at the model's input size
        x, y = load_client_data(args.data, shape if len(shape) == 3 else None)  # type: ignore[arg-type]
    kind = "labelled" if y is not None else "unlabelled"
    print(f"client data: {len(x)} images, {kind}; budget {policy.minutes:g} min")
    report = masked_finetune(
        model, x, y, masks=masks, teacher=teacher, policy=policy, library=library, progress=not args.no_progress
    )
    print(report.summary())
    masks = report.masks  # re-selected by --remask, else the ones given
    _save_model(model, args.output, args.model)
    save_masks(masks_path_for(args.output), masks, library, keep)
    print(f"wrote {args.output}")
    if args.tflite:
        out = export_tflite(model, args.tflite, masks=masks, library=library, keep=keep, source=args.model)
        print(f"wrote {out}")
    return EXIT_OK
