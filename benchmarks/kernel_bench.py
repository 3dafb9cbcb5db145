"""Scalar vs SIMD pattern kernels, and XNNPACK dense, on single conv layers.

    python -m benchmarks.kernel_bench                      # every layer at keep 1.0, 0.5 and 0.28
    python -m benchmarks.kernel_bench --keeps 0.5 --quick
    python -m benchmarks.kernel_bench --dtypes float32     # without the int8 columns

For each layer it times (median of --repeats runs, interleaved):
  * our kernels called directly on raw arrays (scalar, avx2, avx512),
  * the same pattern-pruned layer as a one-op .tflite under our delegate,
  * the dense layer as a one-op .tflite under TFLite + XNNPACK,
and, for int8 (TFLite's full-integer scheme, int8 input and output):
  * our int8 kernels on raw arrays (``patternlite_int8_conv3x3``, each variant this CPU runs),
  * the pruned layer as a one-op int8 .tflite under our delegate,
  * the dense layer as a one-op int8 .tflite under TFLite + XNNPACK,
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
from int8_models import Int8Quant, build_quantized_conv_model, choose_quant, quantize_filters  # noqa: E402

import patternlite  # noqa: E402
from benchmarks.native_conv import run_native_conv, run_native_int8_conv  # noqa: E402
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
    models: list[bytes],
    x: np.ndarray,
    threads: int,
    repeats: int,
    delegates: list[Any],
    outputs: list[Any] | None = None,
) -> list[float]:
    """Median seconds per model, the models' invocations alternating so that load drift hits all alike.

    ``outputs``: a list that receives each model's output after the last run."""
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
    if outputs is not None:
        outputs += [np.array(it.get_tensor(it.get_output_details()[0]["index"])) for it in its]
    return [float(np.median(ts)) for ts in times]


def print_row(row: dict[str, Any]) -> None:
    """One measured layer as a JSON line, floats to 4 significant digits."""
    print(json.dumps({k: (float(f"{v:.4g}") if isinstance(v, float) else v) for k, v in row.items()}), flush=True)


def save_layers(prefix: str, module: str, threads: int, rows: list[dict[str, Any]], table: str, tag: str = "") -> None:
    """``results/<prefix>-<date>-<host>-t<threads>[-<tag>].{json,md}``: the machine, the command, the rows,
    the table."""
    RESULTS.mkdir(exist_ok=True)
    stem = RESULTS / (f"{prefix}-{dt.date.today()}-{socket.gethostname()}-t{threads}" + (f"-{tag}" if tag else ""))
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
# The int8 targets: speed-up over XNNPACK int8 dense / MAC reduction.
INT8_TARGETS = {1.0: 0.7, 0.5: 0.6, 0.28: 0.5}
# The int8 variants timed on raw arrays, where this CPU runs them.  "avx2" asks for the isa
# option's choice, which is AVX-VNNI where the CPU has it: then it is not timed again (the
# entry point offers no way to force the plain AVX2 kernel on such a CPU).
INT8_VARIANTS = ("scalar", "avxvnni", "avx2", "avx512vnni", "neondot")


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


def _target_cell(r: dict[str, Any], targets: dict[float, float] = TARGETS, key: str = "efficiency") -> str:
    target = targets.get(round(r["keep"], 2))
    if target is None or r.get(key) is None:
        return "-"
    return f"{'met' if r[key] >= target else 'missed'} (>= {target})"


def int8_markdown_table(rows: list[dict[str, Any]], threads: int) -> str:
    """The per-layer int8 table: raw variants, the delegate, XNNPACK int8 dense, efficiency and target."""
    rows = [r for r in rows if "int8_delegate_ms" in r]
    variants = [v for v in INT8_VARIANTS if rows and f"int8_{v}_ms" in rows[0]]
    head = [
        "layer (H W C->O, stride)",
        "keep",
        *[f"{v} ms" for v in variants],
        "delegate int8 ms",
        "XNNPACK int8 dense ms",
        "speed-up",
        "MAC reduction",
        "efficiency",
        "target",
        "max quanta vs builtin",
    ]
    lines = [
        f"int8, threads: {threads}. Raw variants and the delegate on the pruned layer, XNNPACK on the dense layer; "
        "'efficiency' = speed-up / MAC reduction; targets: >= 0.7 / 0.6 / 0.5 at keep 1.0 / 0.5 / 0.28.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        cells = [
            r["layer"],
            f"{r['keep']:.2f}",
            *[f"{r[f'int8_{v}_ms']:.2f}" for v in variants],
            f"{r['int8_delegate_ms']:.2f}",
            f"{r['int8_xnnpack_dense_ms']:.2f}",
            f"{r['int8_speedup_vs_xnnpack']:.2f}x",
            f"{r['flop_reduction']:.2f}x",
            f"{r['int8_efficiency']:.2f}",
            _target_cell(r, INT8_TARGETS, "int8_efficiency"),
            f"{r['int8_max_quanta']:g}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def int8_columns(
    rng: np.random.Generator,
    w: np.ndarray,
    dense: np.ndarray,
    bias: np.ndarray,
    ids: np.ndarray,
    keep: float,
    shape: tuple[int, int, int, int, int],
    threads: int,
    repeats: int,
) -> dict[str, Any]:
    """The int8 columns of one layer row: the same filters (pruned and dense) quantised as TFLite's
    full-integer scheme does (per-channel symmetric), one set of activation ranges for both."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    h, wd, c, o, s = shape
    quant = choose_quant(rng, dense)
    wq_dense, scales_dense = quantize_filters(dense)
    wq, scales = quantize_filters(w)
    q_pruned = Int8Quant(quant.input_scale, quant.input_zero_point, scales, quant.output_scale, quant.output_zero_point)
    q_dense = Int8Quant(
        quant.input_scale, quant.input_zero_point, scales_dense, quant.output_scale, quant.output_zero_point
    )
    # The float bias at about one output range, in each model's int32 form.
    fbias = bias * quant.output_scale * 40

    def qbias(sc: np.ndarray) -> np.ndarray:
        return np.round(fbias / (np.float32(quant.input_scale) * sc)).astype(np.int32)

    x = rng.integers(-128, 128, (1, h, wd, c), dtype=np.int8)
    pruned_m = build_quantized_conv_model(
        x.shape,
        wq,
        q_pruned,
        qbias(scales),
        stride=(s, s),
        activation="RELU",
        metadata=metadata_for(LIBRARY, ids, keep),
    )
    dense_m = build_quantized_conv_model(
        x.shape, wq_dense, q_dense, qbias(scales_dense), stride=(s, s), activation="RELU"
    )
    ref_it = Interpreter(
        model_content=pruned_m,
        num_threads=1,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    ref_it.allocate_tensors()
    ref_it.set_tensor(ref_it.get_input_details()[0]["index"], x)
    ref_it.invoke()
    ref = ref_it.get_tensor(ref_it.get_output_details()[0]["index"]).astype(np.int32)
    col: dict[str, Any] = {}
    quanta: list[int] = []
    for v in INT8_VARIANTS:
        if v == "avx2" and "int8_avxvnni_ms" in col:
            continue  # the isa avx2 choice is AVX-VNNI on this CPU: timed above
        reps = max(1, repeats // 10) if v == "scalar" else repeats
        try:
            secs, out = run_native_int8_conv(
                x, wq, qbias(scales), s, quant.input_scale, quant.input_zero_point, scales,
                quant.output_scale, quant.output_zero_point, v, threads, reps,
            )  # fmt: skip
        except RuntimeError as exc:
            if "not available" in str(exc):
                continue
            raise
        col[f"int8_{v}_ms"] = 1e3 * secs
        quanta.append(int(np.abs(out.astype(np.int32) - ref).max()))
    delegate = patternlite.load_delegate(int8="all")  # time our int8 kernel, which int8="auto" leaves to XNNPACK
    outs: list[Any] = []
    t_delegate, t_dense = interleaved_times([pruned_m, dense_m], x, threads, repeats, [delegate, None], outs)
    claimed = delegate.stats()["claimed"]
    if not claimed or claimed[0].get("dtype") != "int8":
        raise RuntimeError(f"the delegate did not claim the int8 conv: {delegate.stats()}")
    quanta.append(int(np.abs(outs[0].astype(np.int32) - ref).max()))
    col["int8_delegate_ms"], col["int8_xnnpack_dense_ms"] = 1e3 * t_delegate, 1e3 * t_dense
    col["int8_kernel"] = claimed[0].get("int8_kernel")
    col["int8_max_quanta"] = max(quanta)
    col["int8_speedup_vs_xnnpack"] = col["int8_xnnpack_dense_ms"] / col["int8_delegate_ms"]
    col["int8_efficiency"] = col["int8_speedup_vs_xnnpack"] / (9 / (4 * keep))
    return col


def float32_columns(
    w: np.ndarray,
    dense: np.ndarray,
    bias: np.ndarray,
    x: np.ndarray,
    ids: np.ndarray,
    keep: float,
    isas: list[str],
    shape: tuple[int, int, int, int, int],
    threads: int,
    repeats: int,
) -> dict[str, Any]:
    """The float32 columns of one layer row: each ISA on raw arrays, the delegate, XNNPACK dense."""
    h, wd, c, o, s = shape
    row: dict[str, Any] = {}
    outs = {}
    for isa in isas:
        reps = max(1, repeats // 10) if isa == "scalar" else repeats
        row[f"{isa}_ms"], outs[isa] = direct(isa, x, w, bias, s, threads, reps)
        row[f"{isa}_ms"] *= 1e3
    ref = outs["scalar"]
    row["max_err_vs_scalar"] = max(float(np.abs(v - ref).max() / np.abs(ref).max()) for v in outs.values())
    pruned = build_conv_model(
        x.shape, w, bias, stride=(s, s), activation="RELU", metadata=metadata_for(LIBRARY, ids, keep)
    )
    dense_m = build_conv_model(x.shape, dense, bias, stride=(s, s), activation="RELU")
    delegate = patternlite.load_delegate()
    t_delegate, t_dense = interleaved_times([pruned, dense_m], x, threads, repeats, [delegate, None])
    row["delegate_ms"], row["xnnpack_dense_ms"] = 1e3 * t_delegate, 1e3 * t_dense
    row["plan"] = delegate.stats()["claimed"][0].get("plan")
    macs_dense = (h // s) * (wd // s) * o * c * 9
    reduction = 9 / (4 * keep)
    row["speedup_vs_xnnpack"] = row["xnnpack_dense_ms"] / row["delegate_ms"]
    row["efficiency"] = row["speedup_vs_xnnpack"] / reduction
    row["gflops_dense_equiv_xnnpack"] = 2 * macs_dense / row["xnnpack_dense_ms"] / 1e6
    row["gflops_kept_delegate"] = 2 * macs_dense / reduction / row["delegate_ms"] / 1e6
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keeps", default="1.0,0.5,0.28", help="comma-separated kernel fractions kept")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="first layer only, fewer repeats")
    ap.add_argument("--dtypes", default="float32,int8", help="float32 and/or int8 columns (comma list)")
    ap.add_argument("--no-save", action="store_true")
    args = ap.parse_args()
    layers = LAYERS[:1] if args.quick else LAYERS
    repeats = 5 if args.quick else args.repeats
    isas = [i for i in ("scalar", "avx2", "avx512", "neon") if isa_available(i)]
    keeps = [float(k) for k in args.keeps.split(",")]
    dtypes = [d for d in args.dtypes.split(",") if d]
    if not dtypes or set(dtypes) - {"float32", "int8"}:
        ap.error(f"--dtypes: choose from float32,int8, got {args.dtypes}")
    rows = []
    for (name, h, wd, c, o, s), keep in ((layer, k) for layer in layers for k in keeps):
        rng = np.random.default_rng(0)
        w, ids = pattern_pruned_filters(rng, o, c, LIBRARY, keep)
        dense = rng.standard_normal(w.shape).astype(np.float32)
        bias = rng.standard_normal(o).astype(np.float32)
        x = rng.standard_normal((1, h, wd, c)).astype(np.float32)
        row: dict[str, Any] = {"layer": name, "shape": [h, wd, c, o, s], "keep": keep}
        row["flop_reduction"] = 9 / (4 * keep)
        if "float32" in dtypes:
            row.update(float32_columns(w, dense, bias, x, ids, keep, isas, (h, wd, c, o, s), args.threads, repeats))
        if "int8" in dtypes:
            # Its own generator: the int8 columns do not depend on whether float32 ran.
            rng8 = np.random.default_rng(1)
            row.update(int8_columns(rng8, w, dense, bias, ids, keep, (h, wd, c, o, s), args.threads, repeats))
        rows.append(row)
        print_row(row)
    tables = []
    if "float32" in dtypes:
        tables.append(markdown_table(rows, args.threads))
    if "int8" in dtypes:
        tables.append(int8_markdown_table(rows, args.threads))
    table = "\n\n".join(tables)
    print(table)
    if not args.no_save:
        save_layers("kernels", "benchmarks.kernel_bench", args.threads, rows, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
