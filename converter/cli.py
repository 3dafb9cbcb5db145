"""``patternlite prune|export|finetune|demo``: argv[0] is the subcommand (see patternlite.cli)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from patternlite.converter import defaults
from patternlite.converter.finetune_policy import FinetunePolicy

_FT = FinetunePolicy()

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: keep the CLI readable


def _keep(text: str) -> float | dict[str, float]:
    """``0.5`` or ``layer_a=0.3,layer_b=0.6``."""
    if "=" not in text:
        return float(text)
    out = {}
    for item in text.split(","):
        name, _, val = item.partition("=")
        out[name.strip()] = float(val)
    return out


def _patterns(text: str) -> int | list[int]:
    """``8`` (distil 8) or a comma list of 9-bit masks such as ``0x1b0,0x17``."""
    if "," in text or text.lower().startswith("0x"):
        return [int(t, 0) for t in text.split(",") if t.strip()]
    return int(text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="patternlite")
    sub = p.add_subparsers(dest="command", required=True)

    pr = sub.add_parser("prune", help="data-free pattern + connectivity pruning of a Keras model")
    pr.add_argument("model", type=Path, help="input Keras model (.keras or .h5)")
    pr.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="OUT.tflite (the pruned Keras model OUT.keras and masks OUT.masks.npz go beside it), or OUT.keras",
    )
    pr.add_argument("--keep", type=_keep, default=1.0, help="fraction of 3x3 kernels kept (or layer=frac,...)")
    pr.add_argument("--patterns", type=_patterns, default=8, help="library size, or explicit masks 0x1b0,...")
    pr.add_argument("--method", choices=("admm", "magnitude"), default="admm")
    pr.add_argument("--synthetic", choices=("bn", "noise"), default="bn")
    pr.add_argument(
        "--preset",
        choices=tuple(defaults.PRESETS),
        default=defaults.PRESET,
        help="fast (ResNet-20: about 5 min here) or standard (%(default)s): a time budget and synthesis sizes",
    )
    pr.add_argument(
        "--budget",
        type=float,
        help="time budget in minutes for synthesis + distillation (overrides the preset's; 0: unbounded)",
    )
    pr.add_argument("--samples", type=int, help="synthetic images to generate (default: the preset's)")
    pr.add_argument("--iterations", type=int, default=defaults.ITERATIONS, help="ADMM iterations per layer")
    pr.add_argument(
        "--synthetic-steps", type=int, help="optimisation steps per synthetic batch (default: the preset's)"
    )
    pr.add_argument(
        "--augment", type=int, default=defaults.AUGMENT_COPIES, help="augmented copies per synthetic image (0: none)"
    )
    pr.add_argument(
        "--distill-steps", type=int, default=defaults.DISTILL_STEPS, help="end-to-end distillation steps (0: skip)"
    )
    pr.add_argument(
        "--distill-adversarial",
        type=float,
        default=defaults.DISTILL_ADVERSARIAL,
        help="size of distillation's adversarial nudge, in pool standard deviations (0: off, faster)",
    )
    pr.add_argument(
        "--distill-only-pruned",
        action="store_true",
        help="distillation trains only the pruned convs; every other layer keeps its weights bit-exact",
    )
    pr.add_argument(
        "--allocation",
        choices=("uniform", "sensitivity"),
        default="uniform",
        help="uniform: --keep of every layer; sensitivity: --keep of all kernels, shared out by measured damage",
    )
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--prune-first", action="store_true", help="also prune a 3x3 conv that sees the raw input")
    pr.add_argument("--tflite", type=Path, help="also export this .tflite")
    pr.add_argument("--no-progress", action="store_true")

    ex = sub.add_parser("export", help="Keras model -> .tflite with pattern metadata")
    ex.add_argument("model", type=Path)
    ex.add_argument("-o", "--output", type=Path, required=True)
    ex.add_argument("--masks", type=Path, help="masks .npz from prune (default: <model>.masks.npz if present)")
    ex.add_argument("--no-metadata", action="store_true", help="write a plain .tflite")

    ft = sub.add_parser(
        "finetune",
        help="the client stage: masked retraining on your own data, distilled from the dense model",
    )
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
    ft.add_argument("--minutes", type=float, default=_FT.minutes, help="training time budget (default %(default)s)")
    ft.add_argument("--epochs", type=float, help="also stop after this many passes over the data")
    ft.add_argument("--batch-size", type=int, default=_FT.batch_size)
    ft.add_argument(
        "--lr", type=float, help="peak learning rate (SGD, cosine; default 0.02, or 0.002 with --batchnorm frozen)"
    )
    ft.add_argument("--temperature", type=float, default=_FT.temperature, help="distillation temperature")
    ft.add_argument(
        "--label-weight", type=float, default=_FT.label_weight, help="weight of the labels against the teacher (0..1)"
    )
    ft.add_argument("--batchnorm", choices=("train", "frozen"), default=_FT.batchnorm, help="BatchNorm statistics")
    ft.add_argument("--no-augment", action="store_true", help="no random crops and flips")
    ft.add_argument(
        "--holdout", type=float, default=_FT.holdout, help="fraction of labelled data scored before/after (0: none)"
    )
    ft.add_argument("--seed", type=int, default=0)
    ft.add_argument("--tflite", type=Path, help="also export this .tflite")
    ft.add_argument("--no-progress", action="store_true")

    de = sub.add_parser("demo", help="the whole story on built-in material")
    de.add_argument("--out", type=Path, help="keep the demo's files here")
    de.add_argument("--keep", type=float, default=0.5)
    de.add_argument("--vgg-blocks", type=int, default=2, help="VGG-16 blocks in the speed test (0 skips it)")
    de.add_argument("--runs", type=int, default=10)
    de.add_argument("--threads", type=int, default=None)
    return p


def masks_path_for(model_path: Path) -> Path:
    return model_path.with_name(model_path.name.rsplit(".", 1)[0] + ".masks.npz")


def _load(path: Path):  # type: ignore[no-untyped-def]  # keras.Model, imported lazily
    import keras

    if not path.exists():
        raise SystemExit(f"patternlite: {path} does not exist")
    return keras.models.load_model(path, compile=False)


def _save_model(model: object, out: Path, source: Path) -> None:
    from patternlite.converter.io import check_output, write_atomic

    target = check_output(out, source)
    if target.suffix not in (".keras", ".h5"):
        raise SystemExit("patternlite: the output model must end in .keras or .h5")
    write_atomic(target, lambda tmp: model.save(tmp))  # type: ignore[attr-defined]


def _finetune(args: argparse.Namespace) -> int:
    from patternlite.converter.client_data import check_data_path, load_client_data
    from patternlite.converter.errors import ConverterError
    from patternlite.converter.export import export_tflite
    from patternlite.converter.finetune import masked_finetune
    from patternlite.converter.io import check_output, load_masks, save_masks

    # Every argument and path is checked before anything loads or trains.
    policy = FinetunePolicy(
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
    ).check()
    for path in (args.model, args.teacher):
        if path is not None and not path.exists():
            raise ConverterError(f"{path} does not exist")
    check_data_path(args.data)
    check_output(args.output, args.model, args.teacher, args.data)
    if args.output.suffix not in (".keras", ".h5"):
        raise ConverterError("the output model must end in .keras or .h5")
    check_output(masks_path_for(args.output), args.model, args.masks)
    if args.tflite:
        check_output(args.tflite, args.model, args.output)
    mpath = args.masks or masks_path_for(args.model)
    if not mpath.exists():
        raise ConverterError(f"no masks at {mpath}; pass --masks")
    masks, library, keep = load_masks(mpath)
    model = _load(args.model)
    teacher = _load(args.teacher) if args.teacher else None
    shape = tuple(model.inputs[0].shape[1:])
    x, y = load_client_data(args.data, shape if len(shape) == 3 else None)  # type: ignore[arg-type]
    kind = "labelled" if y is not None else "unlabelled"
    print(f"client data: {len(x)} images, {kind}; budget {policy.minutes:g} min")
    report = masked_finetune(model, x, y, masks=masks, teacher=teacher, policy=policy, progress=not args.no_progress)
    print(report.summary())
    _save_model(model, args.output, args.model)
    save_masks(masks_path_for(args.output), masks, library, keep)
    print(f"wrote {args.output}")
    if args.tflite:
        out = export_tflite(model, args.tflite, masks=masks, library=library, keep=keep, source=args.model)
        print(f"wrote {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    from patternlite.converter.errors import ConverterError

    try:
        return _run(args)
    except ConverterError as exc:
        print(f"patternlite {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; no output was written", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    from patternlite.converter.export import export_tflite
    from patternlite.converter.io import check_output, load_masks, save_masks

    if args.command == "prune":
        from patternlite.converter.pruner import prune

        if args.output.suffix == ".tflite":
            # `prune MODEL -o OUT.tflite`: the .tflite is the main output; the
            # pruned Keras model and its masks (for masked retraining) go beside it.
            if args.tflite:
                raise SystemExit("patternlite: give either -o OUT.tflite or --tflite, not both")
            args.tflite, args.output = args.output, args.output.with_suffix(".keras")
        # Refuse bad outputs before minutes of work, not after.
        check_output(args.output, args.model)
        if args.tflite:
            check_output(args.tflite, args.model)
        model = _load(args.model)
        result = prune(
            model,
            keep=args.keep,
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
            seed=args.seed,
            prune_first=args.prune_first,
            progress=not args.no_progress,
        )
        print(result.summary())
        print("pattern library:", " ".join(f"{p:#05x}" for p in result.library))
        _save_model(result.model, args.output, args.model)
        masks = save_masks(masks_path_for(args.output), result.masks, result.library, result.keep)
        print(f"wrote {args.output} and {masks} ({result.seconds:.1f} s)")
        if args.tflite:
            print(f"wrote {export_tflite(result, args.tflite, source=args.model)}")
        return 0

    if args.command == "export":
        model = _load(args.model)
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
            )
        else:
            out = export_tflite(model, args.output, metadata=not args.no_metadata, source=args.model)
        print(f"wrote {out}")
        return 0

    if args.command == "finetune":
        return _finetune(args)

    if args.command == "demo":
        from patternlite.converter.demo import run_demo

        run_demo(args.out, keep=args.keep, vgg=args.vgg_blocks, runs=args.runs, num_threads=args.threads)
        return 0
    raise AssertionError(args.command)
