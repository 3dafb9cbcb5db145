"""int8 against float32 on the shared CIFAR-10 material: the README's int8 accuracy rows.

For each model (ResNet-20, ResNet-8) and keep fraction, the data-free pruned
model (``prune --keep K``, no data, cached by accuracy/pruned.py and shared
with accuracy/run.py) is exported three ways and scored under TFLite:

* **fp32**: ``export_tflite(model)``, the float32 file;
* **int8 synthetic**: ``export_tflite(model, int8=True)``, calibrated without
  data on BatchNorm-matched synthetic images (what ``patternlite export
  pruned.keras --int8`` does; ``prune --int8`` reuses its own pool instead);
* **int8 client**: calibrated on ``--calibration-images`` of the client's JPEG
  training images (``cifar10_client_train_jpeg_q75.npz``, a seeded random
  sample), which never overlap the test images.

The dense model, in float32 and int8 (synthetic calibration), is the
reference. Every file runs under TFLite's builtin kernels and again under the
pattern delegate, which must give the same top-1; the delegate's claimed and
declined convs and the outputs' agreement are recorded. Top-1 on the 500
lossless dev images and on all 4,500 JPEG dev images (the same images for every
variant, so the differences between variants are tighter than either absolute
score's margin).

    PATTERNLITE_SHARED=../shared python -m benchmarks.accuracy.int8

writes benchmarks/results/accuracy-<date>-<host>-int8.json and .md. Exits 2
(with one line) when the shared material is absent.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import numpy.typing as npt

from benchmarks.accuracy.common import REPO, dev_sets, results_base, shared_dir, top1
from benchmarks.accuracy.pruned import cache_tag, pruned_model

# Points int8 may lose against the same pruned model in float32 (ResNet-20, lossless images).
TARGETS = {"int8_synthetic": 0.5, "int8_client": 0.3}
TARGET_MODELS = ("resnet20",)
VARIANTS = ("fp32", "int8_synthetic", "int8_client")


def client_calibration(shared: Path, count: int, seed: int) -> npt.NDArray[np.float32]:
    """``count`` client training images (raw 0..255, as the models take them), a seeded sample over all classes."""
    images = np.load(shared / "data" / "cifar10_client_train_jpeg_q75.npz")["images"]
    pick = np.sort(np.random.default_rng(seed).choice(len(images), size=count, replace=False))
    return images[pick].astype(np.float32)


def _output_scale(interp: Any) -> float | None:
    """The int8 scale of the tensor the final DEQUANTIZE reads (one output quantum), or None for a float model."""
    out = interp.get_output_details()[0]["index"]
    details = {t["index"]: t for t in interp.get_tensor_details()}
    for op in interp._get_ops_details():
        if op["op_name"] == "DEQUANTIZE" and out in list(op["outputs"]):
            scale = details[int(op["inputs"][0])]["quantization"][0]
            return float(scale) if scale else None
    return None


def _interpreter(path: Path, delegate: Any | None, args: argparse.Namespace) -> Any:
    """An ai_edge_litert interpreter: TFLite's builtin kernels only, or with XNNPACK as well (``--xnnpack``).

    Without XNNPACK the reference is TFLite's own int8 conv, whose requantisation
    (double rounding) the delegate reproduces; XNNPACK requantises in float32 and
    differs by a quantum here and there, which would blur the agreement figures.
    """
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if args.xnnpack else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    return Interpreter(
        model_path=str(path),
        experimental_delegates=None if delegate is None else [delegate],
        num_threads=args.threads,
        experimental_op_resolver_type=resolver,
    )


def evaluate(
    path: Path, sets: dict[str, tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]], args: argparse.Namespace
) -> dict[str, Any]:
    """Top-1 of one .tflite under the builtin kernels and under the delegate, and how far the two disagree."""
    from patternlite.converter.runtime import predict, try_delegate

    t = time.perf_counter()
    builtin = _interpreter(path, None, args)
    scale = _output_scale(builtin)
    ref = {k: predict(builtin, x, args.batch) for k, (x, _) in sets.items()}
    result: dict[str, Any] = {k: float(np.mean(np.argmax(ref[k], 1) == y)) for k, (_, y) in sets.items()}
    result["eval_seconds"] = round(time.perf_counter() - t, 1)
    if args.no_delegate:
        return result
    # int8="all": compare our int8 kernels, which int8="auto" leaves to TFLite (docs/int8.md).
    delegate, why = try_delegate(num_threads=args.threads, int8="all")
    if delegate is None:
        result["delegate"] = {"error": why}
        return result
    t = time.perf_counter()
    interp = _interpreter(path, delegate, args)
    got = {k: predict(interp, x, args.batch) for k, (x, _) in sets.items()}
    stats = delegate.stats()
    diff = np.concatenate([np.abs(got[k] - ref[k]).ravel() for k in sets])
    delegated: dict[str, Any] = {k: float(np.mean(np.argmax(got[k], 1) == y)) for k, (_, y) in sets.items()}
    delegated.update(
        {
            "claimed": len(stats.get("claimed", [])),
            "claimed_kinds": dict(
                collections.Counter(f"{c.get('kind')}/{c.get('dtype', 'float32')}" for c in stats.get("claimed", []))
            ),
            "declined": len(stats.get("declined", [])),
            "declined_reasons": dict(
                collections.Counter(str(d.get("reason", d.get("reasons", "?"))) for d in stats.get("declined", []))
            ),
            "int8_kernels": sorted({str(c["int8_kernel"]) for c in stats.get("claimed", []) if "int8_kernel" in c}),
            "top1_agree": float(np.mean(np.concatenate([np.argmax(got[k], 1) == np.argmax(ref[k], 1) for k in sets]))),
            "outputs_identical": float(np.mean(diff == 0)),
            "max_abs_diff": float(diff.max()),
            "max_quanta": None if scale is None else round(float(diff.max()) / scale, 3),
            "eval_seconds": round(time.perf_counter() - t, 1),
        }
    )
    result["delegate"] = delegated
    del interp
    delegate.close()
    return result


def export_variants(
    name: str, model: Any, out_dir: Path, calibration: npt.NDArray[np.float32], pattern_args: dict[str, Any] | None
) -> dict[str, tuple[Path, float]]:
    """The fp32, int8 synthetic and int8 client files of one model (pattern_args None: a dense model, no metadata)."""
    from patternlite.converter import Int8Options, export_tflite

    kwargs: dict[str, Any] = {"metadata": False} if pattern_args is None else dict(pattern_args)
    int8 = {
        "fp32": False,
        "int8_synthetic": Int8Options(progress=False),
        "int8_client": Int8Options(calibration=calibration, progress=False),
    }
    files: dict[str, tuple[Path, float]] = {}
    for variant, option in int8.items():
        path = out_dir / f"{name}-{variant}.tflite"
        t = time.perf_counter()
        export_tflite(model, path, int8=option, **kwargs)
        files[variant] = (path, round(time.perf_counter() - t, 1))
    return files


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:.1%}"


def _both(scores: dict[str, Any]) -> str:
    return f"{_pct(scores.get('lossless'))} / {_pct(scores.get('jpeg'))}"


def _delta(row: dict[str, Any], variant: str, key: str) -> float:
    return 100 * (row["variants"][variant][key] - row["variants"]["fp32"][key])


def verdict(row: dict[str, Any], variant: str) -> str:
    """met / missed against TARGETS on the lossless images, for the target models' pruned rows."""
    if row["model"] not in TARGET_MODELS or row["keep"] is None:
        return ""
    lost = 0.0 - _delta(row, variant, "lossless")  # 0.0 -, so that no change reads +0.0, not -0.0
    return f"{'met' if lost <= TARGETS[variant] else 'missed'} ({lost:+.1f})"


def _signed(points: float) -> str:
    return f"{round(points, 1) + 0.0:+.1f}"  # + 0.0: a rounded -0.0 reads +0.0


def _delegate_cell(row: dict[str, Any], variant: str) -> str:
    """Top-1 under the delegate, its change from fp32 and how often it agrees with the builtin kernels."""
    scores = row["variants"][variant]
    d = scores.get("delegate")
    if d is None:
        return "not run"
    if "error" in d:
        return f"not loaded: {d['error'][:60]}"
    fp32 = row["variants"]["fp32"]
    change = f"{_signed(100 * (d['lossless'] - fp32['lossless']))} / {_signed(100 * (d['jpeg'] - fp32['jpeg']))}"
    same = "same top-1" if d["lossless"] == scores["lossless"] and d["jpeg"] == scores["jpeg"] else "top-1 differs"
    quanta = "" if d["max_quanta"] is None else f", max {d['max_quanta']:g} q"
    return (
        f"{_both(d)} ({change}); {same}: {d['top1_agree']:.1%} of predictions agree, "
        f"{d['outputs_identical']:.1%} of outputs identical{quanta}"
    )


def _claimed(row: dict[str, Any]) -> str:
    cells = []
    for variant in VARIANTS:
        d = row["variants"][variant].get("delegate") or {}
        if "claimed_kinds" in d:
            kinds = ", ".join(f"{n} {k}" for k, n in sorted(d["claimed_kinds"].items())) or "none"
            cells.append(f"{variant.replace('int8_', '')}: {kinds}")
    return "; ".join(cells)


def render(meta: dict[str, Any], rows: list[dict[str, Any]], command: str) -> str:
    lines = [
        f"# int8 against float32, {meta['date']}, {meta['host']}",
        "",
        meta["note"],
        "",
        "Top-1 under TFLite's builtin kernels, lossless (500) / JPEG (4,500); differences: int8 minus fp32 of the "
        "same model, in points.",
        "",
        "| model | keep | fp32 | int8 synthetic | int8 client | synthetic - fp32 | client - fp32 | "
        "target synthetic (<= 0.5 lost) | target client (<= 0.3 lost) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        v = r["variants"]
        d_s = f"{_signed(_delta(r, 'int8_synthetic', 'lossless'))} / {_signed(_delta(r, 'int8_synthetic', 'jpeg'))}"
        d_c = f"{_signed(_delta(r, 'int8_client', 'lossless'))} / {_signed(_delta(r, 'int8_client', 'jpeg'))}"
        keep = "dense" if r["keep"] is None else f"{r['keep']:g}"
        lines.append(
            f"| {r['model']} | {keep} | {_both(v['fp32'])} | "
            f"{_both(v['int8_synthetic'])} | {_both(v['int8_client'])} | {d_s} | {d_c} | "
            f"{verdict(r, 'int8_synthetic')} | {verdict(r, 'int8_client')} |"
        )
    lines += [
        "",
        "Targets apply to ResNet-20's pruned rows and are judged on the lossless images (points lost in "
        "brackets); the JPEG column is the same comparison on 9x more images.",
        "",
        "The same files with the pattern delegate: top-1 lossless / JPEG (change from fp32 under the builtin "
        "kernels), and against the builtin kernels on the same file: predictions that agree, outputs that are "
        "bit-identical, the largest output difference in output quanta (`q`).",
        "",
        "| model | keep | claimed convs | fp32 | int8 synthetic | int8 client |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        keep = "dense" if r["keep"] is None else f"{r['keep']:g}"
        cells = " | ".join(_delegate_cell(r, variant) for variant in VARIANTS)
        lines.append(f"| {r['model']} | {keep} | {_claimed(r)} | {cells} |")
    run = " ".join(["python -m benchmarks.accuracy.int8", command]).strip()
    took = f" ({meta['seconds'] / 60:.0f} minutes)" if "seconds" in meta else ""
    lines += ["", f"Reproduce: `PATTERNLITE_SHARED=../shared {run}`{took}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", help="the shared material folder (default $PATTERNLITE_SHARED or ../shared)")
    p.add_argument("--models", default="resnet20,resnet8")
    p.add_argument("--keeps", default="1.0,0.5")
    p.add_argument("--budget", type=float, default=None, help="data-free stage budget in minutes (prune --budget)")
    p.add_argument("--preset", default="fast", help="data-free preset (prune --preset)")
    p.add_argument("--patterns", type=int, default=8)
    p.add_argument("--calibration-images", type=int, default=500, help="client images that calibrate int8 client")
    p.add_argument("--seed", type=int, default=0, help="seed of the client calibration sample")
    p.add_argument("--threads", type=int, default=1, help="interpreter and delegate threads")
    p.add_argument("--batch", type=int, default=50, help="images per invoke (divides 500 and 4,500)")
    p.add_argument("--no-delegate", action="store_true", help="builtin kernels only")
    p.add_argument("--xnnpack", action="store_true", help="let XNNPACK run what the delegate leaves (default: off)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache" / "accuracy")
    p.add_argument("--tag", default="int8")
    p.add_argument("--render", type=Path, help="only rewrite the .md beside this results .json")
    args = p.parse_args(argv)
    if args.render:
        done = json.loads(args.render.read_text())
        args.render.with_suffix(".md").write_text(render(done["meta"], done["rows"], done["meta"].get("command", "")))
        return 0

    shared = shared_dir(args.shared)
    if not (shared / "models").is_dir() or not (shared / "data" / "cifar10_client_train_jpeg_q75.npz").is_file():
        print(f"shared material not found at {shared}; set PATTERNLITE_SHARED", file=sys.stderr)
        return 2
    from benchmarks.accuracy.run import load_dense

    started = time.perf_counter()
    x_eval, y_eval, x_jpeg, y_jpeg = dev_sets(shared)
    sets = {"lossless": (x_eval, y_eval), "jpeg": (x_jpeg, y_jpeg)}
    calibration = client_calibration(shared, args.calibration_images, args.seed)
    base, stamp, host = results_base(args.out, "accuracy", args.tag)
    files_dir = args.cache / "int8"
    files_dir.mkdir(parents=True, exist_ok=True)
    kernels = "XNNPACK" if args.xnnpack else "builtin kernels, no XNNPACK"
    stage = f"preset {args.preset}" + (f", budget {args.budget:g} min" if args.budget else "")
    meta: dict[str, Any] = {
        "date": stamp,
        "host": host,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "note": (
            f"Pruned: `prune --keep K --patterns {args.patterns}` ({stage}), no data. fp32: `export_tflite`; "
            "int8 synthetic: `export_tflite(int8=True)`, calibrated on 200 BatchNorm-matched synthetic images "
            "(no data); int8 client: calibrated on "
            f"{args.calibration_images} client JPEG training images (cifar10_client_train_jpeg_q75.npz, seeded "
            f"sample, seed {args.seed}; disjoint from the test images). Float32 input and output. Run under TFLite "
            f"(ai_edge_litert, {args.threads} thread(s)), {kernels}, "
            "and again with the pattern delegate. "
            "Dense rows: the unpruned model, the same exports without pattern metadata."
        ),
    }
    command = " ".join(sys.argv[1:] if argv is None else argv)
    meta["command"] = command
    rows: list[dict[str, Any]] = []

    def save() -> None:
        meta["seconds"] = round(time.perf_counter() - started, 1)
        base.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
        base.with_suffix(".md").write_text(render(meta, rows, command))

    for name in args.models.split(","):
        dense_model = load_dense(name, shared, args.cache, 8.0)
        keeps: list[float | None] = [None, *(float(k) for k in args.keeps.split(","))]
        for keep in keeps:
            row: dict[str, Any] = {"model": name, "keep": keep, "variants": {}}
            if keep is None:
                model, pattern_args, label = dense_model, None, f"{name}-dense"
                row["keras_lossless"] = top1(dense_model, x_eval, y_eval)
            else:
                data_free = pruned_model(
                    name, dense_model, keep, args.cache, patterns=args.patterns, preset=args.preset, budget=args.budget
                )
                model, label = data_free.model, cache_tag(name, keep, args.patterns, args.preset, args.budget)
                pattern_args = {"masks": data_free.masks, "library": data_free.library, "keep": data_free.keep}
                row["prune_seconds"] = data_free.seconds
                row["keras_lossless"] = top1(model, x_eval, y_eval)
            for variant, (path, seconds) in export_variants(label, model, files_dir, calibration, pattern_args).items():
                scores = evaluate(path, sets, args)
                scores["export_seconds"] = seconds
                scores["file_bytes"] = path.stat().st_size
                row["variants"][variant] = scores
                print(f"{label} {variant}: {json.dumps(scores)}", flush=True)
            rows.append(row)
            save()
    print(f"wrote {base}.json and .md ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
