"""Per-layer timing of the int8 3x3 pattern kernels (docs/int8.md, "Speed").

patternlite_int8_conv3x3 (one or more delegate builds, kernel "auto") against a
single-op int8 .tflite of the same dense conv under ai_edge_litert's default
interpreter (XNNPACK), 1 thread, interleaved rounds, medians. Efficiency =
speed-up over XNNPACK / (9 / (4 * keep)).

    python tools/bench_int8_layers.py LIB.so [LIB2.so ...]   # ROUNDS=7 by default

STRUCTURE=kernel (default) keeps kernels one by one, each with a random pattern;
block keeps the same input channels for each block of 16 filters (each kernel its
own pattern); shared also gives the 16 filters one pattern per kept channel (the
converter's connectivity of the same names). A comma list (kernel,block,shared)
times each structure against the same XNNPACK baseline. OUT=FILE.json also writes
the rows as JSON.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from ai_edge_litert.interpreter import Interpreter  # noqa: E402

P = ctypes.POINTER
KEEPS = (1.0, 0.5, 0.28)
LAYERS = [
    (56, 64, 64, 1),
    (28, 128, 128, 1),
    (14, 256, 256, 1),
    (7, 512, 512, 1),
    (56, 64, 128, 2),
    (28, 128, 256, 2),
    (14, 256, 512, 2),
]


def load(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    lib.patternlite_int8_conv3x3.restype = ctypes.c_int
    lib.patternlite_last_error.restype = ctypes.c_char_p
    return lib


def ours(lib: ctypes.CDLL, x: np.ndarray, q: tuple, w: np.ndarray, b: np.ndarray, stride: int, repeats: int) -> float:
    s_in, zp_in, s_w, s_out, zp_out = q
    n, h, wd, c = x.shape
    o = w.shape[0]
    out = np.empty((n, -(-h // stride), -(-wd // stride), o), np.int8)
    sec = ctypes.c_double()
    sw = np.ascontiguousarray(s_w, np.float32)
    rc = lib.patternlite_int8_conv3x3(
        x.ctypes.data_as(P(ctypes.c_int8)),
        n,
        h,
        wd,
        c,
        ctypes.c_float(s_in),
        zp_in,
        w.ctypes.data_as(P(ctypes.c_int8)),
        o,
        sw.ctypes.data_as(P(ctypes.c_float)),
        b.ctypes.data_as(P(ctypes.c_int32)),
        ctypes.c_float(s_out),
        zp_out,
        stride,
        stride,
        1,
        max(-128, zp_out),
        127,
        b"auto",
        1,
        repeats,
        out.ctypes.data_as(P(ctypes.c_int8)),
        ctypes.byref(sec),
    )
    if rc != 0:
        raise RuntimeError(lib.patternlite_last_error().decode())
    return sec.value


def pattern_mask(c: int, o: int, keep: float, rng: np.random.Generator, structure: str) -> np.ndarray:
    """OHWI 0/1 mask: `keep` of the kernels, each one of 8 centre-keeping 4-tap patterns."""
    pats = [m for m in range(512) if bin(m).count("1") == 4 and m & 16]
    lib8 = rng.choice(pats, 8, replace=False)
    mask = np.zeros((o, 3, 3, c), np.float32)
    blocks = -(-o // 16)
    block_keep = rng.random((blocks, c)) < keep
    block_pattern = rng.integers(8, size=(blocks, c))
    for i in range(c):
        for f in range(o):
            kept = block_keep[f // 16, i] if structure in ("block", "shared") else rng.random() < keep
            if kept:
                m = int(lib8[block_pattern[f // 16, i] if structure == "shared" else rng.integers(8)])
                for t in range(9):
                    if m >> t & 1:
                        mask[f, t // 3, t % 3, i] = 1
    return mask


def model(hw: int, cin: int, cout: int, stride: int, rng: np.random.Generator) -> bytes:
    inp = tf.keras.Input((hw, hw, cin), batch_size=1)
    conv = tf.keras.layers.Conv2D(cout, 3, strides=stride, padding="same", activation="relu")
    m = tf.keras.Model(inp, conv(inp))
    conv.set_weights(
        [rng.normal(0, 0.05, (3, 3, cin, cout)).astype(np.float32), rng.normal(0, 0.1, cout).astype(np.float32)]
    )

    def rep():  # type: ignore[no-untyped-def]
        for _ in range(4):
            yield [rng.normal(0, 1, (1, hw, hw, cin)).astype(np.float32)]

    cv = tf.lite.TFLiteConverter.from_keras_model(m)
    cv.optimizations = [tf.lite.Optimize.DEFAULT]
    cv.representative_dataset = rep
    cv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    cv.inference_input_type = tf.int8
    cv.inference_output_type = tf.int8
    return cv.convert()


def main() -> None:
    libs = [load(p) for p in sys.argv[1:]]
    rounds = int(os.environ.get("ROUNDS", "7"))
    structures = os.environ.get("STRUCTURE", "kernel").split(",")
    rng = np.random.default_rng(0)
    rows = []
    for hw, c, o, stride in LAYERS:
        blob = model(hw, c, o, stride, rng)
        xn = Interpreter(model_content=blob, num_threads=1)
        xn.allocate_tensors()
        ind, outd = xn.get_input_details()[0], xn.get_output_details()[0]
        conv = [d for d in xn._get_ops_details() if d["op_name"] == "CONV_2D"][0]
        td = {t["index"]: t for t in xn.get_tensor_details()}
        wt, bt = td[conv["inputs"][1]], td[conv["inputs"][2]]
        w0 = np.asarray(xn.get_tensor(wt["index"]))
        b = np.ascontiguousarray(xn.get_tensor(bt["index"]))
        q = (
            ind["quantization"][0],
            int(ind["quantization"][1]),
            wt["quantization_parameters"]["scales"],
            outd["quantization"][0],
            int(outd["quantization"][1]),
        )
        x = rng.integers(-128, 128, (1, hw, hw, c), dtype=np.int8)
        xn.set_tensor(ind["index"], x)
        for _ in range(3):
            xn.invoke()
        reps = max(5, int(1e8 / (hw * hw * c * o * 9 / stride**2)))
        cases = [(s, k) for s in structures for k in KEEPS]
        ws = {sk: np.ascontiguousarray((w0 * pattern_mask(c, o, sk[1], rng, sk[0])).astype(np.int8)) for sk in cases}
        tx: list[float] = []
        tp: dict[tuple[int, str, float], list[float]] = {(i, *sk): [] for i in range(len(libs)) for sk in cases}
        for _ in range(rounds):
            ts = []
            for _ in range(reps):
                t0 = time.perf_counter()
                xn.invoke()
                ts.append(time.perf_counter() - t0)
            tx.append(float(np.median(ts)))
            for i, lib in enumerate(libs):
                for sk in cases:
                    tp[(i, *sk)].append(ours(lib, x, q, ws[sk], b, stride, reps))
        xm = float(np.median(tx))
        layer = f"{hw}x{hw}x{c}->{o} s{stride}"
        line = f"| {layer} | {xm * 1e3:.3f} ms |"
        for i in range(len(libs)):
            for s_, k in cases:
                pm = float(np.median(tp[(i, s_, k)]))
                eff = xm / pm / (9 / (4 * k))
                line += f" {pm * 1e3:.3f} ms ({eff:.2f}) |"
                rows.append(
                    {
                        "layer": layer,
                        "xnnpack_int8_ms": xm * 1e3,
                        "lib": sys.argv[1 + i],
                        "structure": s_,
                        "keep": k,
                        "patternlite_ms": pm * 1e3,
                        "speedup": xm / pm,
                        "efficiency": eff,
                    }
                )
        print(line, flush=True)
    if os.environ.get("OUT"):
        import datetime
        import json
        import platform

        with open(os.environ["OUT"], "w") as f:
            json.dump(
                {
                    "schema": "patternlite-int8-layers/1",
                    "date": datetime.datetime.now().isoformat(timespec="seconds"),
                    "machine": platform.processor() or platform.machine(),
                    "threads": 1,
                    "rounds": rounds,
                    "command": "STRUCTURE="
                    + ",".join(structures)
                    + " python tools/bench_int8_layers.py "
                    + " ".join(sys.argv[1:]),
                    "rows": rows,
                },
                f,
                indent=1,
            )
            f.write("\n")


if __name__ == "__main__":
    main()
