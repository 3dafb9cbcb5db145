"""Does a larger pattern library buy accuracy? The data-free stage at several library sizes.

Prunes a shared CIFAR-10 model with ``prune(keep=K, patterns=P)`` (the same preset for every
P, no data) and scores top-1 on the 500 lossless dev images. The delegate runs any 4-tap
mask at the same speed, so a larger library costs nothing at run time; it only changes
how closely each kernel can keep its largest weights.

    python -m benchmarks.accuracy.pattern_library --model resnet8 --patterns 8,16,56 --keeps 1.0

writes benchmarks/results/patterns-<date>-<host>-<model>.json and .md. Exits 2 with one
line when ``../shared`` (or $PATTERNLITE_SHARED) is missing.

The other side of the trade, speed: each extra pattern is another group of kernels per
input channel for the kernel to switch to, so a larger library is slower.

    python -m benchmarks.accuracy.pattern_library --speed resnet20 --patterns 8,16,56 --keeps 1.0,0.5

times a benchmark model (random weights, `magnitude` pruning at each size) under the
delegate at 1 thread, the sizes' invocations alternating, and writes
benchmarks/results/patterns-<date>-<host>-<model>-speed.json and .md. Needs no shared data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from benchmarks.accuracy.common import MODELS, REPO, shared_dir, top1


def render(meta: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    lines = [
        f"# Pattern library size, {meta['model']}, {meta['date']}, {meta['host']}",
        "",
        f"Data-free `prune(keep=K, patterns=P, preset={meta['preset']!r})`, no data; top-1 on the 500 lossless "
        "CIFAR-10 dev images (95% margin about +-2.5 points, so read differences under ~3 points as even). "
        f"Dense model: {meta['dense']:.1%}. "
        f"Command: `python -m benchmarks.accuracy.pattern_library {meta['command']}`.",
        "",
        "| keep | patterns | top-1 | lost (points) | layer-wise stage: mean relative output error | prune time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['keep']:g} | {r['patterns']} | {r['top1']:.1%} | {100 * (meta['dense'] - r['top1']):.1f} | "
            f"{r['layer_error']:.4f} | {r['seconds']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def speed(model: str, sizes: list[int], keeps: list[float], reps: int, out: Path) -> int:
    """Median ms per invocation of ``model`` pruned at each (keep, library size), 1 thread."""
    import tempfile

    import patternlite
    from benchmarks.artifacts import _seeded
    from benchmarks.kernel_bench import interleaved_times
    from benchmarks.models import MODELS as BENCH_MODELS
    from benchmarks.pruning import pruned_tflite

    keys = [(keep, size) for keep in keeps for size in sizes]
    models = []
    with tempfile.TemporaryDirectory() as tmp:
        for keep, size in keys:
            path = Path(tmp) / f"k{keep:g}-p{size}.tflite"
            pruned_tflite(_seeded(BENCH_MODELS[model].build), keep, path, patterns=size)
            models.append(path.read_bytes())
    shape = (1, *BENCH_MODELS[model].input_shape)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    delegates = [patternlite.load_delegate(num_threads=1) for _ in keys]
    medians = interleaved_times(models, x, 1, reps, delegates)
    times = dict(zip(keys, medians, strict=True))
    stamp = dt.date.today().isoformat()
    host = socket.gethostname()
    rows = [{"keep": k[0], "patterns": k[1], "median_ms": 1e3 * v} for k, v in times.items()]
    lines = [
        f"# Pattern library size and delegate speed, {model}, {stamp}, {host}",
        "",
        f"Random weights, `magnitude` pruning at each library size, 1 thread, median of {reps} alternating "
        f"invocations. Command: `python -m benchmarks.accuracy.pattern_library --speed {model} "
        f"--patterns {','.join(map(str, sizes))} --keeps {','.join(f'{k:g}' for k in keeps)}`.",
        "",
        "| keep | patterns | ms | vs the smallest library |",
        "|---|---|---|---|",
    ]
    for r in rows:
        base = next(b for b in rows if b["keep"] == r["keep"] and b["patterns"] == min(sizes))
        lines.append(
            f"| {r['keep']:g} | {r['patterns']} | {r['median_ms']:.3f} | {r['median_ms'] / base['median_ms']:.2f}x |"
        )
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"patterns-{stamp}-{host}-{model}-speed"
    stem.with_suffix(".json").write_text(json.dumps({"model": model, "reps": reps, "rows": rows}, indent=1))
    stem.with_suffix(".md").write_text(text)
    print(text)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", help="the shared material folder (default $PATTERNLITE_SHARED or ../shared)")
    p.add_argument("--model", default="resnet8", choices=sorted(MODELS))
    p.add_argument("--patterns", default="8,16,56", help="library sizes, comma-separated (56: every 4-tap mask)")
    p.add_argument("--keeps", default="1.0")
    p.add_argument("--preset", default="fast")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--speed", metavar="MODEL", help="time a benchmark model (e.g. resnet20) instead; no shared data")
    p.add_argument("--reps", type=int, default=200, help="timed invocations per size with --speed")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.patterns.split(",") if s]
    keeps = [float(k) for k in args.keeps.split(",") if k]
    if any(not 1 <= s <= 56 for s in sizes):
        p.error(f"--patterns must be sizes in 1..56, got {args.patterns}")
    if args.speed is not None:
        from benchmarks.models import MODELS as BENCH_MODELS

        if args.speed not in BENCH_MODELS:
            p.error(f"--speed must be one of {sorted(BENCH_MODELS)}, got {args.speed}")
        return speed(args.speed, sizes, keeps, args.reps, args.out)
    shared = shared_dir(args.shared)
    if not (shared / "models" / MODELS[args.model]).is_file():
        print(f"shared material not found at {shared}; set PATTERNLITE_SHARED", file=sys.stderr)
        return 2
    import keras

    from patternlite.converter import prune
    from patternlite.converter.policy import PrunePolicy

    data = np.load(shared / "data" / "cifar10_dev_lossless.npz")
    x, y = data["images"].astype(np.float32), data["labels"]
    dense_model = keras.models.load_model(shared / "models" / MODELS[args.model], compile=False)
    stamp = dt.date.today().isoformat()
    host = socket.gethostname()
    meta: dict[str, Any] = {
        "model": args.model,
        "date": stamp,
        "host": host,
        "preset": args.preset,
        "dense": top1(dense_model, x, y),
        "command": " ".join(sys.argv[1:] if argv is None else argv),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    base = args.out / f"patterns-{stamp}-{host}-{args.model}"
    rows: list[dict[str, Any]] = []
    for keep in keeps:
        for size in sizes:
            t = time.perf_counter()
            result = prune(
                dense_model,
                keep=keep,
                policy=PrunePolicy.from_options(patterns=size, preset=args.preset),
                progress=False,
            )
            errors = [r.error for r in result.report if r.error is not None]
            rows.append(
                {
                    "keep": keep,
                    "patterns": size,
                    "top1": top1(result.model, x, y),
                    "layer_error": float(np.mean(errors)) if errors else float("nan"),
                    "seconds": round(time.perf_counter() - t, 1),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
            base.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
            base.with_suffix(".md").write_text(render(meta, rows))
    print(render(meta, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
