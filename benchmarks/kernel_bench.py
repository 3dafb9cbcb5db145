"""Scalar vs SIMD pattern kernels, and XNNPACK dense, on single conv layers.

    python -m benchmarks.kernel_bench                      # every layer at keep 1.0, 0.5 and 0.28
    python -m benchmarks.kernel_bench --keeps 0.5 --quick

For each layer it times (median of --repeats runs, interleaved):
  * our kernels called directly on raw arrays (scalar, avx2, avx512),
  * the same pattern-pruned layer as a one-op .tflite under our delegate,
  * the dense layer as a one-op .tflite under TFLite + XNNPACK,
and writes benchmarks/results/kernels-<date>-<host>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import patternlite  # noqa: E402
from benchmarks.native_conv import run_native_conv  # noqa: E402
from benchmarks.run import machine_info  # noqa: E402
from patternlite.delegate import isa_available  # noqa: E402

from conv_models import build_conv_model, metadata_for, pattern_pruned_filters  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
LIBRARY = [0b000111010, 0b010110010, 0b010011010, 0b010111000, 0b000110011, 0b110110000, 0b000011110, 0b011011000]
# (name, H, W, C, O, stride)
LAYERS = [
    ("resnet 56x56x64->64", 56, 56, 64, 64, 1),
    ("vgg 112x112x128->128", 112, 112, 128, 128, 1),
    ("resnet 28x28x128->128", 28, 28, 128, 128, 1),
    ("resnet 14x14x256->256", 14, 14, 256, 256, 1),
    ("resnet 7x7x512->512", 7, 7, 512, 512, 1),
    ("cifar 32x32x16->16", 32, 32, 16, 16, 1),
    ("cifar 8x8x64->64", 8, 8, 64, 64, 1),
    ("stride2 56x56x64->128", 56, 56, 64, 128, 2),
]


def direct(
    isa: str, x: np.ndarray, w: np.ndarray, bias: np.ndarray, stride: int, threads: int, repeats: int
) -> tuple[float, np.ndarray]:
    """One ISA's kernel on raw arrays, no TFLite: median seconds of one run, and the output."""
    return run_native_conv("patternlite_conv2d", x, w, bias, stride, [isa.encode(), threads, repeats])


# Warm-up invocations before timing: enough for the delegate's autotuner to try
# each candidate plan (up to 9, 3 runs each).
WARMUP = 30


def interleaved_times(
    models: list[bytes], x: np.ndarray, threads: int, repeats: int, delegates: list[Any]
) -> list[float]:
    """Median seconds per model, the models' invocations alternating so that load drift hits all alike."""
    from ai_edge_litert.interpreter import Interpreter

    its = []
    for model, delegate in zip(models, delegates, strict=True):
        it = Interpreter(
            model_content=model, num_threads=threads, experimental_delegates=[delegate] if delegate else None
        )
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        its.append(it)
    # Warm up interleaved too: the autotuner then chooses among its plans in the
    # conditions of the timed runs (XNNPACK's pool spinning between our runs).
    for _ in range(WARMUP):
        for it in its:
            it.invoke()
    times: list[list[float]] = [[] for _ in its]
    for _ in range(repeats):
        for it, ts in zip(its, times, strict=True):
            t0 = time.perf_counter()
            it.invoke()
            ts.append(time.perf_counter() - t0)
    return [float(np.median(ts)) for ts in times]


def print_row(row: dict[str, Any]) -> None:
    """One measured layer as a JSON line, floats to 4 significant digits."""
    print(json.dumps({k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in row.items()}), flush=True)


def save_layers(prefix: str, module: str, threads: int, rows: list[dict[str, Any]], table: str) -> None:
    """``results/<prefix>-<date>-<host>-t<threads>.{json,md}``: the machine, the command, the rows, the table."""
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / f"{prefix}-{dt.date.today()}-{socket.gethostname()}-t{threads}"
    payload = {
        "machine": {**machine_info(), "isa": patternlite.delegate.best_isa()},
        "threads": threads,
        "command": f"python -m {module} " + " ".join(sys.argv[1:]),
        "layers": rows,
    }
    stem.with_suffix(".json").write_text(json.dumps(payload, indent=1))
    stem.with_suffix(".md").write_text(table + "\n")
    print(f"wrote {stem}.json and .md")


# Efficiency targets per keep (speed-up over XNNPACK dense / FLOP reduction).
TARGETS = {1.0: 0.8, 0.5: 0.7, 0.28: 0.6}


def markdown_table(rows: list[dict[str, Any]], threads: int) -> str:
    """The per-layer table the README shows."""
    isas = [i for i in ("scalar", "avx2", "avx512", "neon") if rows and f"{i}_ms" in rows[0]]
    head = [
        "layer (H W C->O, stride)",
        "keep",
        *[f"{i} ms" for i in isas],
        "delegate ms",
        "XNNPACK dense ms",
        "speed-up",
        "MAC reduction",
        "efficiency",
        "target",
    ]
    lines = [
        f"Threads: {threads}. Median of the timed runs; 'efficiency' = speed-up / MAC reduction;"
        " targets: >= 0.8 / 0.7 / 0.6 at keep 1.0 / 0.5 / 0.28.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        cells = [
            r["layer"],
            f"{r['keep']:.2f}",
            *[f"{r[f'{i}_ms']:.2f}" for i in isas],
            f"{r['delegate_ms']:.2f}",
            f"{r['xnnpack_dense_ms']:.2f}",
            f"{r['speedup_vs_xnnpack']:.2f}x",
            f"{r['flop_reduction']:.2f}x",
            f"{r['efficiency']:.2f}",
            _target_cell(r),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _target_cell(r: dict[str, Any]) -> str:
    target = TARGETS.get(round(r["keep"], 2))
    if target is None:
        return "-"
    return f"{'met' if r['efficiency'] >= target else 'missed'} (>= {target})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keeps", default="1.0,0.5,0.28", help="comma-separated kernel fractions kept")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="first layer only, fewer repeats")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args()
    layers = LAYERS[:1] if args.quick else LAYERS
    repeats = 5 if args.quick else args.repeats
    isas = [i for i in ("scalar", "avx2", "avx512", "neon") if isa_available(i)]
    keeps = [float(k) for k in args.keeps.split(",")]
    rows = []
    for (name, h, wd, c, o, s), keep in ((layer, k) for layer in layers for k in keeps):
        rng = np.random.default_rng(0)
        w, ids = pattern_pruned_filters(rng, o, c, LIBRARY, keep)
        dense = rng.standard_normal(w.shape).astype(np.float32)
        bias = rng.standard_normal(o).astype(np.float32)
        x = rng.standard_normal((1, h, wd, c)).astype(np.float32)
        row: dict[str, Any] = {"layer": name, "shape": [h, wd, c, o, s], "keep": keep}
        outs = {}
        for isa in isas:
            reps = max(1, repeats // 10) if isa == "scalar" else repeats
            row[f"{isa}_ms"], outs[isa] = direct(isa, x, w, bias, s, args.threads, reps)
            row[f"{isa}_ms"] *= 1e3
        ref = outs["scalar"]
        row["max_err_vs_scalar"] = max(float(np.abs(v - ref).max() / np.abs(ref).max()) for v in outs.values())
        pruned = build_conv_model(
            x.shape, w, bias, stride=(s, s), activation="RELU", metadata=metadata_for(LIBRARY, ids, keep)
        )
        dense_m = build_conv_model(x.shape, dense, bias, stride=(s, s), activation="RELU")
        delegate = patternlite.load_delegate()
        t_delegate, t_dense = interleaved_times([pruned, dense_m], x, args.threads, repeats, [delegate, None])
        row["delegate_ms"], row["xnnpack_dense_ms"] = 1e3 * t_delegate, 1e3 * t_dense
        row["plan"] = delegate.stats()["claimed"][0].get("plan")
        macs_dense = (h // s) * (wd // s) * o * c * 9
        row["flop_reduction"] = 9 / (4 * keep)
        row["speedup_vs_xnnpack"] = row["xnnpack_dense_ms"] / row["delegate_ms"]
        row["efficiency"] = row["speedup_vs_xnnpack"] / row["flop_reduction"]
        row["gflops_dense_equiv_xnnpack"] = 2 * macs_dense / row["xnnpack_dense_ms"] / 1e6
        row["gflops_kept_delegate"] = 2 * macs_dense / row["flop_reduction"] / row["delegate_ms"] / 1e6
        rows.append(row)
        print_row(row)
    table = markdown_table(rows, args.threads)
    print(table)
    if not args.no_save:
        save_layers("kernels", "benchmarks.kernel_bench", args.threads, rows, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
