"""Accuracy of both stages on the shared CIFAR-10 material: the README's accuracy table.

For each model (ResNet-20, ResNet-8) and keep fraction:

* **data-free**: ``prune`` from synthetic inputs only (the vendor's stage);
* **+ client**: that model retrained by ``masked_finetune`` on the client's
  10,000 JPEG training images, distilled from the dense model, for each budget
  in ``--minutes`` (the accuracy-against-minutes curve);
* **fine-tuned dense**: the dense model retrained with the same recipe, same
  data, longest budget. It is the fair yardstick on the JPEG images: it
  separates "recovered the pruning loss" from "adapted to JPEG".

Scored on the 500 lossless dev images (absolute top-1, +-2.5 points) and the
4,500 JPEG dev images (comparisons only). The data-free models are cached in
benchmarks/.cache/accuracy/ (accuracy/pruned.py) so an interrupted run resumes.

    PATTERNLITE_SHARED=../shared python -m benchmarks.accuracy.run

writes benchmarks/results/accuracy-<date>-<host>[-tag].json and .md. Exits 2
(with one line) when the shared material is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from benchmarks.accuracy.common import MODELS, REPO, dev_sets, results_base, shared_dir, top1
from benchmarks.accuracy.pruned import pruned_model

# The client-stage targets (points below the dense model on the lossless images, at the longest budget).
TARGETS = {0.5: 0.5, 0.28: 1.5}


def load_dense(name: str, shared: Path, cache: Path, train_minutes: float) -> Any:
    """A model of MODELS: loaded from the shared folder, or trained on the client images (mobilenet)."""
    import keras

    if MODELS[name] is None:
        from benchmarks.accuracy.mobilenet_cifar import trained

        return trained(shared, cache, train_minutes)
    return keras.models.load_model(shared / "models" / str(MODELS[name]), compile=False)


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:.1%}"


def render(meta: dict[str, Any], rows: list[dict[str, Any]], command: str) -> str:
    """The markdown table: one row per model and keep, the curve and the targets."""
    lines = [
        f"# Accuracy of both stages, {meta['date']}, {meta['host']}",
        "",
        f"{meta['note']}",
        "",
        "| model | keep | dense | data-free (prune s) | + client, lossless | + client, JPEG | fine-tuned dense, "
        "lossless / JPEG | target | met |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        curve = r["client"]
        lossless = ", ".join(f"{c['minutes']:g} min {c['lossless']:.1%}" for c in curve)
        jpeg = ", ".join(f"{c['minutes']:g} min {c['jpeg']:.1%}" for c in curve)
        target = TARGETS.get(r["keep"])
        met = ""
        if target is not None and curve:
            lost = 100 * (r["dense"] - curve[-1]["lossless"])
            met = f"{'met' if lost <= target else 'missed'} ({lost:+.1f})"
        lines.append(
            f"| {r['model']} | {r['keep']:g} | {r['dense']:.1%} | {r['datafree']:.1%} "
            f"({r['prune_seconds']:.0f} s) | {lossless} | {jpeg} | "
            f"{_pct(r['ft_dense'].get('lossless'))} / {_pct(r['ft_dense'].get('jpeg'))} | "
            f"{'' if target is None else f'<= {target} points'} | {met} |"
        )
    lines += [
        "",
        "`met` compares the longest client budget with the dense model on the lossless images "
        "(points lost in brackets; the 500-image margin is about +-2.5 points).",
        "",
        f"Reproduce: `PATTERNLITE_SHARED=../shared python -m benchmarks.accuracy.run {command}`",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", help="the shared material folder (default $PATTERNLITE_SHARED or ../shared)")
    p.add_argument("--models", default="resnet20,resnet8")
    p.add_argument("--keeps", default="1.0,0.5,0.28")
    p.add_argument("--minutes", default="1,3,10", help="client-stage budgets, comma-separated (the curve)")
    p.add_argument(
        "--curve-keeps", default="0.5,0.28", help="keeps that get the whole curve; the others get the longest budget"
    )
    p.add_argument("--budget", type=float, default=None, help="data-free stage budget in minutes (prune --budget)")
    p.add_argument("--preset", default="fast", help="data-free preset (prune --preset)")
    p.add_argument("--patterns", type=int, default=8)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache" / "accuracy")
    p.add_argument("--tag", default="")
    p.add_argument(
        "--pointwise-quads",
        action="store_true",
        help="prune with the converter's --pointwise-quads (1x1 blocks keep aligned fours of inputs)",
    )
    p.add_argument(
        "--train-minutes", type=float, default=8.0, help="training time of the mobilenet model on the client images"
    )
    args = p.parse_args(argv)

    shared = shared_dir(args.shared)
    if not (shared / "models").is_dir() or not (shared / "data" / "cifar10_client_train_jpeg_q75.npz").is_file():
        print(f"shared material not found at {shared}; set PATTERNLITE_SHARED", file=sys.stderr)
        return 2
    minutes = [float(m) for m in args.minutes.split(",")]
    keeps = [float(k) for k in args.keeps.split(",")]
    curve_keeps = {float(k) for k in args.curve_keeps.split(",") if k}
    from patternlite.converter import masked_finetune
    from patternlite.converter.graph import clone_with_weights

    x_eval, y_eval, x_jpeg, y_jpeg = dev_sets(shared)
    client = np.load(shared / "data" / "cifar10_client_train_jpeg_q75.npz")
    x_client, y_client = client["images"], client["labels"]

    base, stamp, host = results_base(args.out, "accuracy", args.tag)
    args.cache.mkdir(parents=True, exist_ok=True)
    quads = " --pointwise-quads" if args.pointwise_quads else ""
    stage = f"preset {args.preset}" + (f", budget {args.budget:g} min" if args.budget else "")
    meta = {
        "date": stamp,
        "host": host,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "note": (
            f"Data-free: `prune --keep K --patterns {args.patterns}{quads}` ({stage}), no data. "
            "+ client: `finetune --teacher dense` on the 10,000 client JPEG training images "
            "(cifar10_client_train_jpeg_q75.npz, all of them: --holdout 0), default recipe, per budget. "
            "lossless: top-1 on the 500 lossless dev images; JPEG: on the 4,500 JPEG dev images (compare "
            "with the fine-tuned dense column only). Fine-tuned dense: the dense model, same recipe, same "
            f"data, {max(minutes):g} min."
            + (
                " mobilenet: MobileNetV2-style (benchmarks/accuracy/mobilenet_cifar.py), "
                f"trained {args.train_minutes:g} min "
                "on the same 10,000 client images (no pretrained MobileNet is shared); keep K applies to its 1x1 "
                "convs, its depthwise convs get patterns only (keep 1.0: patterns only, 1x1 convs untouched)."
                if "mobilenet" in args.models.split(",")
                else ""
            )
        ),
    }
    command = " ".join(sys.argv[1:] if argv is None else argv)
    rows: list[dict[str, Any]] = []

    def save() -> None:
        base.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
        base.with_suffix(".md").write_text(render(meta, rows, command))

    for name in args.models.split(","):
        dense_model = load_dense(name, shared, args.cache, args.train_minutes)
        dense = top1(dense_model, x_eval, y_eval)
        print(f"{name}: dense top-1 {dense:.1%}", flush=True)
        tuned = clone_with_weights(dense_model)
        rep = masked_finetune(
            tuned, x_client, y_client, masks={}, teacher=dense_model, minutes=max(minutes), holdout=0, progress=False
        )
        ft_dense = {
            "lossless": top1(tuned, x_eval, y_eval),
            "jpeg": top1(tuned, x_jpeg, y_jpeg),
            "dense_jpeg": top1(dense_model, x_jpeg, y_jpeg),
            "steps": rep.steps,
            "seconds": round(rep.seconds, 1),
        }
        print(f"{name}: fine-tuned dense {json.dumps(ft_dense)}", flush=True)
        for keep in keeps:
            data_free = pruned_model(
                name,
                dense_model,
                keep,
                args.cache,
                patterns=args.patterns,
                preset=args.preset,
                budget=args.budget,
                pointwise_quads=args.pointwise_quads,
            )
            pruned, masks, prune_seconds = data_free.model, data_free.masks, data_free.seconds
            row: dict[str, Any] = {
                "model": name,
                "keep": keep,
                "dense": dense,
                "datafree": top1(pruned, x_eval, y_eval),
                "datafree_jpeg": top1(pruned, x_jpeg, y_jpeg),
                "prune_seconds": prune_seconds,
                "ft_dense": ft_dense,
                "client": [],
            }
            print(f"{name} keep {keep:g}: data-free {row['datafree']:.1%} ({prune_seconds} s)", flush=True)
            for m in minutes if keep in curve_keeps else [max(minutes)]:
                student = clone_with_weights(pruned)
                rep = masked_finetune(
                    student, x_client, y_client, masks=masks, teacher=dense_model, minutes=m, holdout=0, progress=False
                )
                point = {
                    "minutes": m,
                    "lossless": top1(student, x_eval, y_eval),
                    "jpeg": top1(student, x_jpeg, y_jpeg),
                    "steps": rep.steps,
                    "epochs": round(rep.epochs, 2),
                    "seconds": round(rep.seconds, 1),
                }
                row["client"].append(point)
                print(f"  + client {m:g} min: {json.dumps(point)}", flush=True)
            rows.append(row)
            save()
    print(f"wrote {base}.json and .md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
