"""Accuracy benchmark of the converter on the shared CIFAR-10 material.

For each model (ResNet-20, ResNet-8) and each keep fraction, prune with:
  * ``bn-admm``    ADMM on BatchNorm-statistics synthetic inputs (the default method)
  * ``noise-admm`` ADMM on calibrated Gaussian noise
  * ``magnitude``  no data, no ADMM: best pattern per kernel, then top kernels by norm
and score top-1 on the 500 lossless dev images. Then masked retraining of the
bn-admm models on "client data" (the JPEG images with test_index >= 1000,
disjoint from the scoring images), scored again on the lossless images.

    PATTERNLITE_SHARED=../shared python benchmarks/accuracy_variants.py

writes benchmarks/results/accuracy-<date>-<host>.json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from patternlite.converter import defaults

REPO = Path(__file__).resolve().parent.parent
MODELS = {"resnet20": "resnet20_cifar10.keras", "resnet8": "mlperf_tiny_resnet8.h5"}


def _shared(arg: str | None) -> Path:
    return Path(arg or os.environ.get("PATTERNLITE_SHARED", REPO.parent / "shared")).resolve()


def _acc(model: Any, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model.predict(x, batch_size=100, verbose=0), axis=1) == y))


def write_results(
    base: Path, meta: dict[str, Any], summary: dict[str, Any], runs: list[dict[str, Any]], command: str
) -> None:
    """``base``.json (everything) and ``base``.md (the table); rewritten after every run, so an
    interrupted benchmark keeps what it measured."""
    base.with_suffix(".json").write_text(json.dumps({"meta": meta, "dense": summary, "runs": runs}, indent=1))
    lines = [
        f"# Converter accuracy, {meta['date']}, {meta['host']}",
        "",
        "Top-1 on the 500 lossless CIFAR-10 dev images (95% margin about +-2.5 points). "
        "`layer-wise`: after the layer-wise ADMM alone; `top-1`: after end-to-end distillation on the same "
        "synthetic images (the full `prune`). `real-admm` is a reference, not data-free: the same pipeline fed "
        "unlabeled client images. `finetuned`: masked retraining on the 4000 JPEG images with test_index >= 1000. "
        "`JPEG`: top-1 on all 4500 JPEG dev images, layer-wise -> full `prune`: JPEG costs every model about 10 "
        "points, so read it only against the dense model's JPEG score, as a lower-noise comparison of variants.",
        "",
        "| model | dense | keep | variant | allocation | weights kept | 3x3 MACs kept | layer-wise | top-1 "
        "| points lost | finetuned | JPEG (dense) | prune s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        ft = f"{r['finetuned_top1']:.1%}" if "finetuned_top1" in r else ""
        lines.append(
            f"| {r['model']} | {summary[r['model']]['dense']:.1%} | {r['keep']} | {r['variant']} | "
            f"{r['allocation']} | {r['weights_kept']:.1%} | {r['macs_kept']:.1%} | {r['layerwise_top1']:.1%} | "
            f"{r['top1']:.1%} | {100 * r['drop']:.1f} | {ft} | "
            f"{r['layerwise_jpeg_top1']:.1%} -> {r['jpeg_top1']:.1%} ({summary[r['model']]['dense_jpeg']:.1%}) | "
            f"{r['prune_seconds']} |"
        )
    lines += ["", f"Reproduce: `python benchmarks/accuracy_variants.py {command}`"]
    base.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", help="the shared material folder (default $PATTERNLITE_SHARED or ../shared)")
    p.add_argument("--models", default="resnet20,resnet8")
    p.add_argument("--keeps", default="1.0,0.5,0.28")
    p.add_argument("--variants", default="bn-admm,noise-admm,magnitude")
    p.add_argument("--patterns", type=int, default=8)
    p.add_argument("--samples", type=int, default=defaults.SAMPLES)
    p.add_argument("--iterations", type=int, default=defaults.ITERATIONS)
    p.add_argument("--synthetic-steps", type=int, default=defaults.SYNTHETIC_STEPS)
    p.add_argument("--augment", type=int, default=defaults.AUGMENT_COPIES)
    p.add_argument("--distill-steps", type=int, default=defaults.DISTILL_STEPS)
    p.add_argument(
        "--allocations",
        default="uniform",
        help="per-layer keep of the ADMM variants at keep < 1, comma-separated: uniform, sensitivity",
    )
    p.add_argument(
        "--distill-only-pruned", action="store_true", help="distil only the pruned convs (other layers bit-exact)"
    )
    p.add_argument("--finetune-epochs", type=int, default=2, help="0 skips masked retraining")
    p.add_argument("--finetune-lr", type=float, default=5e-4)
    p.add_argument(
        "--finetune-bn",
        choices=("frozen", "trained"),
        default="frozen",
        help="BatchNorm statistics during masked retraining (frozen: keep the pretrained ones)",
    )
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--tag", default="")
    args = p.parse_args(argv)

    shared = _shared(args.shared)
    if not (shared / "models").is_dir():
        print(f"shared material not found at {shared}; set PATTERNLITE_SHARED", file=sys.stderr)
        return 2
    import keras

    from patternlite.converter import masked_finetune, prune
    from patternlite.converter.distill import distill
    from patternlite.converter.synthetic import bn_inputs, noise_inputs

    lossless = np.load(shared / "data" / "cifar10_dev_lossless.npz")
    x_eval, y_eval = lossless["images"].astype(np.float32), lossless["labels"]
    jpeg = np.load(shared / "data" / "cifar10_dev_jpeg_q75.npz")
    client = jpeg["test_index"] >= 1000
    x_client, y_client = jpeg["images"][client].astype(np.float32), jpeg["labels"][client]
    # All 4500 JPEG images: a lower-noise yardstick for comparing data-free variants with each
    # other (never for absolute accuracy, and not after retraining on part of them).
    x_jpeg, y_jpeg = jpeg["images"].astype(np.float32), jpeg["labels"]

    host = socket.gethostname()
    stamp = dt.date.today().isoformat()
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.out / f"accuracy-{stamp}-{host}{('-' + args.tag) if args.tag else ''}"
    meta = {
        "date": stamp,
        "host": host,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "eval": "top-1 on cifar10_dev_lossless.npz (500 images, +-2.5 points at 95%)",
        "client_data": "cifar10_dev_jpeg_q75.npz, test_index >= 1000 (4000 images)",
    }
    command = " ".join(sys.argv[1:] if argv is None else argv)
    keeps = [float(k) for k in args.keeps.split(",")]
    variants = args.variants.split(",")
    runs: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for name in args.models.split(","):
        model = keras.models.load_model(shared / "models" / MODELS[name], compile=False)
        dense = _acc(model, x_eval, y_eval)
        dense_jpeg = _acc(model, x_jpeg, y_jpeg)
        print(f"{name}: dense top-1 {dense:.3f}", flush=True)
        summary[name] = {"dense": dense, "dense_jpeg": dense_jpeg}
        synth: dict[str, tuple[np.ndarray, float]] = {}
        if "bn-admm" in variants:
            t = time.perf_counter()
            synth["bn"] = (
                bn_inputs(model, args.samples, steps=args.synthetic_steps, progress=False),
                time.perf_counter() - t,
            )
        if "noise-admm" in variants:
            t = time.perf_counter()
            synth["noise"] = (noise_inputs(model, args.samples), time.perf_counter() - t)
        if "real-admm" in variants:
            # A reference, not a data-free result: the same pipeline on unlabeled client images.
            synth["real"] = (x_client[: args.samples], 0.0)
        for keep in keeps:
            jobs = [
                (v, a)
                for v in variants
                for a in (["uniform"] if v == "magnitude" or keep >= 1.0 else args.allocations.split(","))
            ]
            for variant, allocation in jobs:
                kw: dict[str, Any] = {"keep": keep, "patterns": args.patterns, "progress": False}
                gen = 0.0
                if variant == "magnitude":
                    kw["method"] = "magnitude"
                else:
                    kind = variant.split("-")[0]
                    x_syn, gen = synth[kind]
                    kw.update(
                        method="admm",
                        inputs=x_syn,
                        iterations=args.iterations,
                        augment=args.augment,
                        distill_steps=0,
                        allocation=allocation,
                    )
                t = time.perf_counter()
                result = prune(model, **kw)
                seconds = time.perf_counter() - t + gen  # pruning only, not the scoring below
                layerwise = acc = _acc(result.model, x_eval, y_eval)
                layerwise_jpeg = jpeg_acc = _acc(result.model, x_jpeg, y_jpeg)
                if variant != "magnitude" and args.distill_steps > 0:
                    # What prune(distill_steps=N) does, split so both stages get scored.
                    x_syn = synth[variant.split("-")[0]][0]
                    t = time.perf_counter()
                    distill(
                        result.model,
                        model,
                        x_syn,
                        result.masks,
                        steps=args.distill_steps,
                        only_pruned=args.distill_only_pruned,
                        progress=False,
                    )
                    seconds += time.perf_counter() - t
                    acc = _acc(result.model, x_eval, y_eval)
                    jpeg_acc = _acc(result.model, x_jpeg, y_jpeg)
                row: dict[str, Any] = {
                    "model": name,
                    "keep": keep,
                    "variant": variant,
                    "layerwise_top1": layerwise,
                    "top1": acc,
                    "layerwise_jpeg_top1": layerwise_jpeg,
                    "jpeg_top1": jpeg_acc,
                    "drop": dense - acc,
                    "prune_seconds": round(seconds, 1),
                    "synthetic_seconds": round(gen, 1),
                    "weights_kept": sum(r.weights_after for r in result.report)
                    / max(sum(r.weights_before for r in result.report), 1),
                    "kernels_kept": sum(r.kept_kernels for r in result.report)
                    / max(sum(r.total_kernels for r in result.report), 1),
                    "macs_kept": result.macs_kept(),
                    "allocation": allocation,
                    "layer_keep": result.keep,
                }
                if variant == "bn-admm" and args.finetune_epochs > 0:
                    t = time.perf_counter()
                    masked_finetune(
                        result,
                        x_client,
                        y_client,
                        epochs=args.finetune_epochs,
                        learning_rate=args.finetune_lr,
                        freeze_bn=args.finetune_bn == "frozen",
                        verbose=0,
                    )
                    row["finetuned_top1"] = _acc(result.model, x_eval, y_eval)
                    row["finetune_seconds"] = round(time.perf_counter() - t, 1)
                runs.append(row)
                print(json.dumps(row), flush=True)
                write_results(base, meta, summary, runs, command)

    print(f"wrote {base}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
