"""int8 sparse 1x1 and pattern depthwise layers: our delegate against XNNPACK int8 dense, per layer.

    python -m benchmarks.int8_block_bench                # block_bench's 16 layers, 1x1 at keep 0.28
    python -m benchmarks.int8_block_bench --quick

Each layer is a one-op int8 .tflite (tests/int8_models.py: per-channel int8
weights, RELU6). The pruned 1x1 runs under our delegate twice: with the
converter's structure (a block of 16 filters keeps round(keep*I) random
inputs) and with the kept inputs grouped in aligned fours (the converter rule
the int8 kernel's 4-byte dot products would want); depthwise blocks follow
one 4-tap pattern (keep 1.0). The dense layer runs under TFLite + XNNPACK's
int8 kernels. Invocations interleaved, median of --repeats; efficiency =
speed-up / MAC reduction (I / kept inputs; 9 / 4 for depthwise). Prints a
Markdown table; writes benchmarks/results/int8-blocks-<date>-<host>-t<threads>.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from int8_models import (  # noqa: E402
    build_quantized_conv_model,
    choose_quant,
    quantize_depthwise_filters,
    quantize_filters,
    quantized_bias,
)

import patternlite  # noqa: E402
from benchmarks.block_bench import LAYERS, depthwise_filters, pointwise_filters  # noqa: E402
from benchmarks.kernel_bench import interleaved_times, print_row, save_layers  # noqa: E402
from patternlite.metadata import CHANNEL_BLOCK  # noqa: E402

TARGET = 0.5  # 1x1 efficiency at keep 0.28 (on at least 8 of the 11 layers)


def quad_filters(rng: np.random.Generator, o: int, c: int, keep: float) -> np.ndarray:
    """[O,1,1,I] weights: each block of 16 filters keeps round(keep*I/4) aligned quads of inputs."""
    w = rng.standard_normal((o, 1, 1, c)).astype(np.float32)
    quads = (c + 3) // 4
    n_keep = max(1, round(keep * c / 4))
    for b in range(0, o, CHANNEL_BLOCK):
        drop = rng.permutation(quads)[n_keep:]
        for q in drop:
            w[b : b + CHANNEL_BLOCK, :, :, 4 * q : 4 * q + 4] = 0
    return w


def int8_model(x_shape: tuple[int, ...], w: np.ndarray, stride: int, depthwise: bool, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    if depthwise:
        quant = choose_quant(rng, np.ascontiguousarray(w.transpose(3, 1, 2, 0)))
        wq, _ = quantize_depthwise_filters(w)
        out_c = w.shape[3]
    else:
        quant = choose_quant(rng, w)
        wq, _ = quantize_filters(w)
        out_c = w.shape[0]
    bias = quantized_bias(rng, quant, out_c)
    return build_quantized_conv_model(
        x_shape, wq, quant, bias, stride=(stride, stride), activation="RELU6", depthwise=depthwise
    )


def measure(layer: tuple[Any, ...], keep: float, threads: int, repeats: int) -> dict[str, Any]:
    name, kind, h, wd, c, o, s = layer
    rng = np.random.default_rng(0)
    depthwise = kind == "depthwise"
    x = rng.integers(-128, 128, (1, h, wd, c)).astype(np.int8)
    models = []
    if depthwise:
        models.append(int8_model(x.shape, depthwise_filters(rng, c), s, True, 1))
        dense = rng.standard_normal((1, 3, 3, c)).astype(np.float32)
        reduction = 9 / 4
    else:
        models.append(int8_model(x.shape, pointwise_filters(rng, o, c, keep), s, False, 1))
        models.append(int8_model(x.shape, quad_filters(rng, o, c, keep), s, False, 1))
        dense = rng.standard_normal((o, 1, 1, c)).astype(np.float32)
        reduction = c / max(1, round(keep * c))
    models.append(int8_model(x.shape, dense, s, depthwise, 1))
    delegates = [patternlite.load_delegate(num_threads=threads, int8="all") for _ in models[:-1]]
    times = interleaved_times(models, x, threads, repeats, [*delegates, None])
    for d in delegates:
        claimed = d.stats()["claimed"]
        if len(claimed) != 1 or claimed[0]["dtype"] != "int8":
            raise RuntimeError(f"{name}: the delegate did not claim the layer as int8: {d.stats()['declined']}")
    t_dense = times[-1]
    row: dict[str, Any] = {
        "layer": name,
        "kind": kind,
        "keep": 1.0 if depthwise else keep,
        "int8_kernel": delegates[0].stats()["claimed"][0]["int8_kernel"],
        "xnnpack_int8_dense_ms": 1e3 * t_dense,
        "delegate_ms": 1e3 * times[0],
        "mac_reduction": reduction,
        "efficiency": t_dense / times[0] / reduction,
    }
    if not depthwise:
        row["delegate_quads_ms"] = 1e3 * times[1]
        row["efficiency_quads"] = t_dense / times[1] / reduction
    return row


def markdown_table(rows: list[dict[str, Any]], threads: int) -> str:
    head = ["layer", "keep", "XNNPACK int8 dense ms", "ours ms (eff.)", "ours, kept inputs in aligned fours ms (eff.)"]
    lines = [
        f"Threads: {threads}. int8, median of interleaved runs; efficiency = speed-up over XNNPACK int8 dense / "
        f"MAC reduction. Target: 1x1 at keep 0.28 >= {TARGET} on 8 of 11 layers.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        quads = f"{r['delegate_quads_ms']:.3f} ({r['efficiency_quads']:.2f})" if "delegate_quads_ms" in r else "-"
        lines.append(
            f"| {r['layer']} | {r['keep']:.2f} | {r['xnnpack_int8_dense_ms']:.3f} | "
            f"{r['delegate_ms']:.3f} ({r['efficiency']:.2f}) | {quads} |"
        )
    pw = [r for r in rows if r["kind"] == "pointwise"]
    if pw:
        met = sum(r["efficiency"] >= TARGET for r in pw)
        met_q = sum(r["efficiency_quads"] >= TARGET for r in pw)
        lines += ["", f"1x1 layers at efficiency >= {TARGET}: {met} of {len(pw)}; kept inputs in fours: {met_q}."]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=float, default=0.28, help="fraction of 1x1 inputs kept")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--quick", action="store_true", help="two layers, fewer repeats")
    ap.add_argument("--no-save", action="store_true")
    ap.add_argument("--tag", default="", help="suffix for the results file name (keeps earlier runs of the day)")
    args = ap.parse_args()
    layers = [LAYERS[0], LAYERS[-4]] if args.quick else LAYERS
    repeats = 5 if args.quick else args.repeats
    rows = []
    for layer in layers:
        row = measure(layer, args.keep, args.threads, repeats)
        rows.append(row)
        print_row(row)
    table = markdown_table(rows, args.threads)
    print(table)
    if not args.no_save:
        save_layers("int8-blocks", "benchmarks.int8_block_bench", args.threads, rows, table, args.tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
