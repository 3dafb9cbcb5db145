"""Running an exported .tflite with and without the pattern delegate (demo and benchmarks)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


def interpreter(path: str | Path, delegate: Any | None = None, num_threads: int | None = None) -> Any:
    """A TFLite interpreter from ai_edge_litert when installed (the supported runtime), else tf.lite."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter  # noqa: N806 - a class alias
    delegates = [delegate] if delegate is not None else None
    return Interpreter(model_path=str(path), experimental_delegates=delegates, num_threads=num_threads)


def predict(interp: Any, x: npt.NDArray[np.float32], batch: int = 1) -> npt.NDArray[np.float32]:
    """Run ``x`` through the interpreter ``batch`` samples at a time."""
    inp = interp.get_input_details()[0]
    out = interp.get_output_details()[0]
    interp.resize_tensor_input(inp["index"], [batch, *x.shape[1:]])
    interp.allocate_tensors()
    results = []
    for i in range(0, len(x) - len(x) % batch, batch):
        interp.set_tensor(inp["index"], np.ascontiguousarray(x[i : i + batch], np.float32))
        interp.invoke()
        results.append(np.array(interp.get_tensor(out["index"])))
    return np.concatenate(results)


def latency_ms(interp: Any, shape: tuple[int, ...], runs: int = 10, warmup: int = 2) -> float:
    """Median wall time of one batch-1 invoke, in milliseconds (random input)."""
    inp = interp.get_input_details()[0]
    interp.resize_tensor_input(inp["index"], [1, *shape])
    interp.allocate_tensors()
    x = np.random.default_rng(0).standard_normal((1, *shape)).astype(np.float32)
    interp.set_tensor(inp["index"], x)
    for _ in range(warmup):
        interp.invoke()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        interp.invoke()
        times.append(time.perf_counter() - t)
    return 1000.0 * statistics.median(times)


def try_delegate(num_threads: int | None = None, **options: Any) -> tuple[Any | None, str]:
    """(delegate, "") or (None, why it could not be loaded); ``options`` go to ``load_delegate``."""
    try:
        import patternlite

        return patternlite.load_delegate(num_threads=num_threads, **options), ""
    except Exception as exc:  # noqa: BLE001 - any failure means "run without it", and say why
        return None, f"{type(exc).__name__}: {exc}"
