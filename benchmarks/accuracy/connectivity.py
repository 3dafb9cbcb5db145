"""What the 3x3 connectivity choices cost in accuracy: kernel against shared (and block) on the shared CIFAR models.

For each model, keep and connectivity, the data-free pruned model (``prune --preset fast
--connectivity C``, cached by accuracy/pruned.py) is scored on the 500 lossless and 4,500
JPEG dev images, then retrained for ``--minutes`` with ``finetune`` on the client's
10,000 JPEG training images (masks held, the dense model as teacher) and scored again.
``shared`` constrains only the convs with at least ``INT8_CONV3X3_MIN_OUTPUTS`` filters
(ResNet-20's 64-filter stage); ``block`` constrains every 3x3 conv.

    PATTERNLITE_SHARED=../shared python -m benchmarks.accuracy.connectivity \\
        --models resnet20 --keeps 1.0,0.5 --connectivities kernel,shared --minutes 3

writes benchmarks/results/accuracy-<date>-<host>-connectivity.json and .md. Exits 2
(with one line) when the shared material is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from benchmarks.accuracy.common import MODELS, REPO, dev_sets, results_base, shared_dir, top1
from benchmarks.accuracy.pruned import pruned_model


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--shared", help="the shared material folder (default $PATTERNLITE_SHARED or ../shared)")
    p.add_argument("--models", default="resnet20")
    p.add_argument("--keeps", default="1.0,0.5")
    p.add_argument("--connectivities", default="kernel,shared")
    p.add_argument("--minutes", type=float, default=3.0, help="client retraining per row (0: none)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache" / "accuracy")
    args = p.parse_args(argv)
    shared = shared_dir(args.shared)
    if not (shared / "models").is_dir():
        print(f"connectivity: no shared material at {shared}", file=sys.stderr)
        return 2
    import keras

    from patternlite.converter import masked_finetune
    from patternlite.converter.graph import clone_with_weights

    xl, yl, xj, yj = dev_sets(shared)
    client = np.load(shared / "data" / "cifar10_client_train_jpeg_q75.npz")
    cx, cy = client["images"].astype(np.float32), client["labels"]
    rows: list[dict[str, Any]] = []
    for name in args.models.split(","):
        dense = keras.models.load_model(shared / "models" / MODELS[name], compile=False)
        base = {"lossless": top1(dense, xl, yl), "jpeg": top1(dense, xj, yj)}
        for keep in (float(k) for k in args.keeps.split(",")):
            for conn in args.connectivities.split(","):
                pr = pruned_model(
                    name, dense, keep, args.cache, patterns=8, preset="fast", budget=None, connectivity=conn
                )
                row: dict[str, Any] = {
                    "model": name,
                    "keep": keep,
                    "connectivity": conn,
                    "dense": base,
                    "prune_seconds": pr.seconds,
                    "data_free": {"lossless": top1(pr.model, xl, yl), "jpeg": top1(pr.model, xj, yj)},
                }
                if args.minutes > 0:
                    model = clone_with_weights(pr.model)
                    t = time.perf_counter()
                    rep = masked_finetune(
                        model,
                        cx,
                        cy,
                        masks=pr.masks,
                        library=pr.library,
                        teacher=dense,
                        minutes=args.minutes,
                        progress=False,
                    )
                    row["client"] = {
                        "lossless": top1(model, xl, yl),
                        "jpeg": top1(model, xj, yj),
                        "minutes": args.minutes,
                        "steps": rep.steps,
                        "seconds": round(time.perf_counter() - t, 1),
                    }
                print(json.dumps(row), flush=True)
                rows.append(row)
    base_path, stamp, host = results_base(args.out, "accuracy", "connectivity")
    meta = {"date": stamp, "host": host, "machine": platform.processor(), "args": sys.argv[1:]}
    Path(f"{base_path}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    lines = [
        f"# 3x3 connectivity and accuracy, {meta['date']}",
        "",
        "| model | keep | connectivity | data-free lossless / JPEG | after client retraining lossless / JPEG |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        df, cl = r["data_free"], r.get("client")
        after = "-" if cl is None else f"{cl['lossless']:.1%} / {cl['jpeg']:.1%} ({cl['minutes']:g} min)"
        lines.append(
            f"| {r['model']} | {r['keep']:g} | {r['connectivity']} | "
            f"{df['lossless']:.1%} / {df['jpeg']:.1%} | {after} |"
        )
    lines += ["", f"Reproduce: `python -m benchmarks.accuracy.connectivity {' '.join(sys.argv[1:])}`"]
    Path(f"{base_path}.md").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
