"""The three ways a client with data can get its accuracy back, side by side at equal total time.

For each ``model:keep:minutes`` run, on the 10,000 client JPEG training images
(``cifar10_client_train_jpeg_q75.npz``), each path gets ``minutes`` in all:

* **datafree**: the vendor's data-free ``prune`` (cached, accuracy/pruned.py; its
  own pruning time counts), then ``finetune`` (masked retraining) for the rest;
* **data**: ``prune --data``: the layer-wise solve on the client images, then
  retraining on them, all within ``--budget minutes``;
* **remask**: the same data-free model, then ``finetune --remask`` (ADMM
  re-selection of the masks, then masked retraining) for the rest.

Every path runs with the CLI's defaults (a 10% held-out slice picks the best
checkpoint). Scored on the 500 lossless dev images (absolute top-1, about
+-2.5 points) and the 4,500 JPEG dev images (comparisons between rows only).

    PATTERNLITE_SHARED=../shared python -m benchmarks.accuracy.client_paths \
        --runs resnet20:0.28:20,resnet8:0.5:20 [--paths datafree,data,remask] [--threads 1]

writes benchmarks/results/accuracy-<date>-<host>-client-paths[-tag].json and .md.
``--threads 1`` pins TensorFlow to one core, so two runs can share this 2-core
machine; every row records the thread count it ran with.
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

PATHS = ("datafree", "data", "remask")
# The targets: points lost on the lossless images against the dense model, within the minutes given.
TARGETS = {("resnet20", 0.28): (2.0, 20.0), ("resnet8", 0.5): (2.0, 20.0), ("resnet20", 0.5): (0.5, 10.0)}


def parse_runs(text: str) -> list[tuple[str, float, float]]:
    runs = []
    for item in text.split(","):
        name, keep, minutes = item.split(":")
        if name not in MODELS or MODELS[name] is None:
            raise SystemExit(f"unknown model {name!r}; choose from resnet20, resnet8")
        runs.append((name, float(keep), float(minutes)))
    return runs


def run_path(
    path: str,
    name: str,
    dense_model: Any,
    keep: float,
    minutes: float,
    client: tuple[np.ndarray, np.ndarray],
    cache: Path,
    allocation: str = "uniform",
) -> tuple[Any, dict[str, Any]]:
    """One path; (the model it produced, what it did). `allocation` is the data path's keep
    allocation across layers (``prune --allocation``)."""
    from patternlite.converter import masked_finetune, prune
    from patternlite.converter.graph import clone_with_weights
    from patternlite.converter.policy import PrunePolicy

    x, y = client
    t0 = time.perf_counter()
    if path == "data":
        result = prune(
            dense_model,
            keep=keep,
            policy=PrunePolicy.from_options(budget=minutes, allocation=allocation),
            data=(x, y),
            progress=False,
        )
        rep = result.retrained
        info: dict[str, Any] = {
            "prune_seconds": round(result.seconds, 1),
            "layerwise_images": result.synthetic_images,
            "retrain_steps": None if rep is None else rep.steps,
            "retrain_epochs": None if rep is None else round(rep.epochs, 1),
            "summary": result.summary(),
        }
        model = result.model
    else:
        data_free = pruned_model(name, dense_model, keep, cache, patterns=8, preset="fast", budget=None)
        t0 = time.perf_counter()  # the pruning time is counted once, as measured when it was cached
        model = clone_with_weights(data_free.model)
        left = max(minutes - data_free.seconds / 60.0, 0.5)
        rep = masked_finetune(
            model,
            x,
            y,
            masks=data_free.masks,
            library=data_free.library,
            teacher=dense_model,
            minutes=left,
            remask=path == "remask",
            progress=False,
        )
        info = {
            "prune_seconds": data_free.seconds,
            "retrain_minutes": round(left, 2),
            "retrain_steps": rep.steps,
            "retrain_epochs": round(rep.epochs, 1),
            "summary": rep.summary(),
        }
        if rep.remask is not None:
            info["remask"] = {
                "admm_steps": rep.remask.admm_steps,
                "admm_epochs": round(rep.remask.admm_epochs, 1),
                "changed": rep.remask.changed,
                "gap_last": rep.remask.gap_last,
                "kept_new_masks": rep.remask.kept_new_masks,
            }
    info["wall_seconds"] = round(time.perf_counter() - t0 + (info["prune_seconds"] if path != "data" else 0.0), 1)
    return model, info


def render(meta: dict[str, Any], rows: list[dict[str, Any]], command: str) -> str:
    lines = [
        f"# When the client has data: three paths at equal total time, {meta['date']}, {meta['host']}",
        "",
        meta["note"],
        "",
        "| model | keep | total min | path | lossless | lost | JPEG | what ran | target | met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        target = TARGETS.get((r["model"], r["keep"]))
        lost = r["dense"] - r["lossless"]
        met = ""
        if target is not None and r["minutes"] <= target[1]:
            met = "met" if lost * 100 <= target[0] + 1e-9 else "missed"
        what = f"{r['info'].get('retrain_steps')} steps, {r['info'].get('retrain_epochs')} epochs"
        if "remask" in r["info"]:
            rm = r["info"]["remask"]
            what += f" (ADMM {rm['admm_steps']} of them; {rm['changed']:.1%} of positions moved)"
        lines.append(
            f"| {r['model']} | {r['keep']:g} | {r['minutes']:g} | {r['path']} | {r['lossless']:.1%} | "
            f"{lost * 100:+.1f} | {r['jpeg']:.1%} | {what}, {r['info']['wall_seconds']:.0f} s in all | "
            f"{'' if target is None else f'<= {target[0]:g} points in {target[1]:g} min'} | {met} |"
        )
    lines += [
        "",
        f"Dense models: {meta['dense']}",
        "",
        f"Reproduce: `python -m benchmarks.accuracy.client_paths {command}`",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", help="the shared material folder (default $PATTERNLITE_SHARED or ../shared)")
    p.add_argument("--runs", default="resnet20:0.28:20,resnet8:0.5:20,resnet20:0.5:10", help="model:keep:minutes,...")
    p.add_argument("--paths", default=",".join(PATHS))
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads (0: its default)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--cache", type=Path, default=REPO / "benchmarks" / ".cache" / "accuracy")
    p.add_argument("--tag", default="")
    p.add_argument(
        "--allocation", default="uniform", choices=["uniform", "sensitivity"], help="the data path's keep allocation"
    )
    args = p.parse_args(argv)
    runs = parse_runs(args.runs)
    paths = [s for s in args.paths.split(",") if s]
    if any(s not in PATHS for s in paths):
        raise SystemExit(f"--paths: choose from {PATHS}")
    shared = shared_dir(args.shared)
    if not (shared / "models").is_dir() or not (shared / "data" / "cifar10_client_train_jpeg_q75.npz").is_file():
        print(f"shared material not found at {shared}; set PATTERNLITE_SHARED", file=sys.stderr)
        return 2
    import keras
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    x_eval, y_eval, x_jpeg, y_jpeg = dev_sets(shared)
    data = np.load(shared / "data" / "cifar10_client_train_jpeg_q75.npz")
    client = (data["images"], data["labels"])
    base, stamp, host = results_base(args.out, "accuracy", "client-paths" + (f"-{args.tag}" if args.tag else ""))
    meta: dict[str, Any] = {
        "date": stamp,
        "host": host,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpus": os.cpu_count(),
        "threads": args.threads or "default",
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "dense": {},
        "note": (
            "Each path gets the total minutes: datafree = data-free `prune --preset fast` (its time counts) + "
            "`finetune --teacher dense` for the rest; data = `prune --data client.npz --budget MIN`; remask = the "
            "same data-free model + `finetune --teacher dense --remask` for the rest. Client data: the 10,000 "
            "JPEG training images, CLI defaults (10% held out to pick the best checkpoint). lossless: top-1 on "
            "the 500 lossless dev images (about +-2.5 points), lost: points below the dense model there; JPEG: "
            f"the 4,500 JPEG dev images (compare rows only). TensorFlow threads: {args.threads or 'default'}"
            f" on a {os.cpu_count()}-core machine."
        ),
    }
    command = " ".join(sys.argv[1:] if argv is None else argv)
    rows: list[dict[str, Any]] = []
    for name, keep, minutes in runs:
        dense_model = keras.models.load_model(shared / "models" / str(MODELS[name]), compile=False)
        dense = top1(dense_model, x_eval, y_eval)
        meta["dense"][name] = {"lossless": dense, "jpeg": top1(dense_model, x_jpeg, y_jpeg)}
        for path in paths:
            model, info = run_path(path, name, dense_model, keep, minutes, client, args.cache, args.allocation)
            row = {
                "model": name,
                "keep": keep,
                "minutes": minutes,
                "path": path,
                "allocation": args.allocation if path == "data" else "uniform",
                "dense": dense,
                "lossless": top1(model, x_eval, y_eval),
                "jpeg": top1(model, x_jpeg, y_jpeg),
                "info": info,
            }
            rows.append(row)
            print(f"{name} keep {keep:g} {minutes:g} min {path}: {row['lossless']:.1%} / {row['jpeg']:.1%}", flush=True)
            base.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1, default=str))
            base.with_suffix(".md").write_text(render(meta, rows, command))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
