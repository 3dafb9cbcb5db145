"""Interleaved timing and the output-agreement checks."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from benchmarks.engines import Engine, EngineError

# Relative tolerance (max |a-b| over the output's max |ref|) for "agrees": fp32 engines
# reorder sums and use Winograd/GEMM tiling, so bit equality is not expected.
AGREE_TOL = 2e-3
# int8 engines on the same int8 file: at most this many output quanta (the scale of the
# int8 tensor the float output is dequantized from) off TFLite's builtin int8 kernels.
AGREE_QUANTA = 1.0


def agreement(
    out: np.ndarray, ref: np.ndarray, reference: str, quantum: float | None = None, tol: float | None = None
) -> dict[str, Any]:
    """How far ``out`` is from ``ref``: max |out - ref| / max |ref| (``rel_diff``), passing at ``tol``
    (default AGREE_TOL); with ``quantum`` (int8 outputs) also that difference in quanta
    (``quanta``) and the fraction of outputs that differ, then passing at ``tol`` quanta
    (default AGREE_QUANTA) instead."""
    a = np.asarray(out, dtype=np.float64).ravel()
    b = np.asarray(ref, dtype=np.float64).ravel()
    if a.size != b.size:
        return {"reference": reference, "ok": False, "error": f"output size {a.size} != {b.size}"}
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    rel = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
    res: dict[str, Any] = {"reference": reference, "max_abs_diff": diff, "output_scale": scale, "rel_diff": rel}
    if quantum is not None:
        # Dequantized values are multiples of the quantum up to float rounding.
        quanta = diff / quantum
        tol_q = AGREE_QUANTA if tol is None else tol
        differ = float(np.mean(np.abs(a - b) > quantum / 2)) if a.size else 0.0
        res.update(quantum=quantum, quanta=quanta, differ=differ, ok=bool(quanta <= tol_q + 1e-3), tol_quanta=tol_q)
        return res
    tol = AGREE_TOL if tol is None else tol
    res.update(ok=bool(rel <= tol), tol=tol)
    return res


def summarize(times_s: list[float]) -> dict[str, Any]:
    ms = np.asarray(times_s) * 1e3
    return {
        "n": int(ms.size),
        "median_ms": float(np.median(ms)),
        "p90_ms": float(np.percentile(ms, 90)),
        "min_ms": float(ms.min()),
        "mean_ms": float(ms.mean()),
        "times_ms": [round(float(t), 4) for t in ms],
    }


def round_robin(
    engines: dict[str, Engine],
    warmup: int,
    reps: int,
    failures: dict[str, str],
    gap_s: float = 0.0,
    burst: int = 1,
) -> dict[str, list[float]]:
    """Each repetition runs every engine once, the starting engine rotating, so load drift on
    a shared machine spreads over all engines instead of landing on whichever ran last.

    ``gap_s`` of idle time before each run lets the previous engine's thread pool stop
    spinning (ORT, OpenMP in ncnn, XNNPACK's pthreadpool all busy-wait a while after a
    run); on 2 cores a spinning pool from engine A would otherwise be billed to engine B.

    ``burst`` > 1 measures steady-state latency, as TFLite's benchmark_model does: each
    turn runs one untimed invocation (it pays for the caches the previous engine took
    and for waking the pool) and then ``burst`` timed back-to-back invocations, whose
    median is the turn's time. ``burst`` = 1 times the first invocation after the gap,
    i.e. cold-cache latency, which on small models is several times the steady state
    for every engine.
    """
    names = list(engines)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(warmup + reps):
        order = names[r % len(names) :] + names[: r % len(names)] if names else []
        for n in order:
            if n in failures:
                continue
            if gap_s > 0:
                time.sleep(gap_s)
            try:
                ts = engines[n].run(burst + 1 if burst > 1 else 1)
            except EngineError as exc:
                failures[n] = f"failed during run: {exc.reason}"
                continue
            if r >= warmup:
                times[n].append(float(np.median(ts[1:])) if burst > 1 else ts[0])
    return times
