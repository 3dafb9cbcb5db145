"""Pattern-pruned .tflite files for the benchmark: the project's converter when it is
importable, otherwise a numpy stop-gap that produces the same structure.

The stop-gap exists only so the harness can be built and run before
``patternlite.converter`` lands; the delegate claims convs without metadata when every
non-zero kernel fits a 4-entry pattern, which is what the stop-gap guarantees.  The
result records which path was used, so a results file always says.
"""

from __future__ import annotations

import contextlib
import io
import itertools
from pathlib import Path
from typing import Any

import numpy as np

CENTRE = 4  # index of the centre tap in a row-major 3x3 kernel


def converter_available() -> tuple[bool, str]:
    try:
        from patternlite.converter import export_tflite, prune  # noqa: F401
    except Exception as exc:  # any import failure means "use the stop-gap"
        return False, f"{type(exc).__name__}: {exc}"
    return True, ""


def _candidate_masks() -> np.ndarray:
    """All 56 4-entry masks that include the centre, as (56, 9) booleans."""
    others = [i for i in range(9) if i != CENTRE]
    masks = []
    for combo in itertools.combinations(others, 3):
        m = np.zeros(9, dtype=bool)
        m[[CENTRE, *combo]] = True
        masks.append(m)
    return np.stack(masks)


def _prunable(layer: Any) -> bool:
    import keras

    if not isinstance(layer, keras.layers.Conv2D) or isinstance(layer, keras.layers.DepthwiseConv2D):
        return False
    w = layer.get_weights()[0]
    return tuple(layer.kernel_size) == (3, 3) and getattr(layer, "groups", 1) == 1 and w.shape[2] > 3


def stopgap_prune(model: Any, keep: float, patterns: int = 8) -> dict[str, dict[str, Any]]:
    """Prune ``model`` in place; return per-layer {library, kept_kernels, nonzeros}.

    Pattern library: the ``patterns`` most frequent magnitude-top-4 masks over the whole
    model (PatDNN's data-free choice); each kernel then takes the library pattern that
    keeps most of its energy.  Connectivity: the top ``keep`` fraction of kernels by the
    L2 norm of what is left survives, per layer.
    """
    cands = _candidate_masks()
    layers = [layer for layer in model.layers if _prunable(layer)]
    counts = np.zeros(len(cands), dtype=np.int64)
    for layer in layers:
        k = layer.get_weights()[0]  # (3, 3, cin, cout)
        energy = (k.reshape(9, -1) ** 2).T  # (kernels, 9)
        counts += np.bincount((energy @ cands.T).argmax(axis=1), minlength=len(cands))
    library = cands[np.argsort(-counts)[:patterns]]
    info: dict[str, dict[str, Any]] = {}
    for layer in layers:
        weights = layer.get_weights()
        k = weights[0]
        flat = k.reshape(9, -1).T.copy()  # (kernels, 9), kernel index = cin*cout order
        choice = ((flat**2) @ library.T).argmax(axis=1)
        flat *= library[choice]
        n_keep = max(1, int(round(keep * flat.shape[0])))
        norms = np.linalg.norm(flat, axis=1)
        drop = np.argsort(-norms, kind="stable")[n_keep:]
        flat[drop] = 0.0
        weights[0] = flat.T.reshape(k.shape).astype(k.dtype)
        layer.set_weights(weights)
        info[layer.name] = {"kept_kernels": int(n_keep), "nonzeros": int(np.count_nonzero(flat))}
    return info


def keras_to_tflite(model: Any, path: Path) -> None:
    import keras
    import tensorflow as tf

    # Batch fixed to 1 (what is benchmarked): with Keras' dynamic batch, Flatten becomes a
    # Shape/Pack/Reshape chain and the graph has dynamic-sized tensors, which delegates that
    # want static shapes (ours included) reject, and which peers' converters handle worse.
    inp = keras.Input(tuple(model.inputs[0].shape[1:]), batch_size=1)
    conv = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inp, model(inp)))
    # Keras prints its SavedModel signature for every export: keep the harness log readable.
    with contextlib.redirect_stdout(io.StringIO()):
        flat = conv.convert()
    path.write_bytes(flat)
    release_keras()


def release_keras() -> None:
    """Drop Keras/TF graph state: four VGG-16 conversions in one process otherwise hold ~8 GB."""
    import gc

    import keras

    keras.backend.clear_session()
    gc.collect()


def pruned_tflite(build: Any, keep: float, path: Path, patterns: int = 8, prune_first: bool = False) -> str:
    """Write a pattern-pruned .tflite of a freshly built model; return which pruner ran."""
    ok, why = converter_available()
    model = build()
    if ok:
        from patternlite.converter import export_tflite, prune

        # prune_first: a single-op layer model's only conv is its first (the converter keeps
        # a network's first 3x3 conv dense by default).
        res = prune(model, keep=keep, patterns=patterns, method="magnitude", progress=False, prune_first=prune_first)
        export_tflite(res, str(path))
        release_keras()
        return "patternlite.converter"
    stopgap_prune(model, keep, patterns)
    keras_to_tflite(model, path)
    return f"benchmarks stop-gap (converter unavailable: {why})"
