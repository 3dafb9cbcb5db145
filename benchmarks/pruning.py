"""Pattern-pruned .tflite files for the benchmark, made by the project's converter.

The results record the pruner (:data:`PRUNER`) of every file, so a cached file made
by something else (the numpy stop-gap that preceded the converter) is rebuilt.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

# The suffix names the converter generation: files of an older one are rebuilt
# ("+kinds": 1x1 and depthwise convs are pruned too, metadata 1.1).
PRUNER = "patternlite.converter+kinds"


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


def calibration_images(model: Any, samples: int) -> Any:
    """The converter's default int8 calibration set for ``model``: BatchNorm-matched synthetic images
    (calibrated noise for a model without BatchNorm), seeded, so a rebuild gives the same set."""
    from patternlite.converter import Int8Options
    from patternlite.converter.export.int8 import calibration_inputs

    return calibration_inputs(model, Int8Options(samples=samples, seed=0, progress=False))


def int8_tflite(model: Any, path: Path, calibration: Any) -> None:
    """The dense model as a full-integer int8 .tflite (float32 I/O) through the converter's export path."""
    from patternlite.converter import Int8Options, export_tflite

    export_tflite(model, str(path), metadata=False, int8=Int8Options(calibration=calibration, progress=False))
    release_keras()


def pruned_tflite(
    build: Any,
    keep: float,
    path: Path | None,
    patterns: int = 8,
    prune_first: bool = False,
    int8_path: Path | None = None,
    calibration: Any = None,
    connectivity: str = "kernel",
) -> str:
    """Write a pattern-pruned .tflite of a freshly built model; return which pruner ran.

    ``int8_path``: also write the same pruned model as a full-integer int8 .tflite (float32 I/O),
    calibrated on ``calibration`` (the images the dense int8 file was calibrated on). ``path``
    None writes the int8 file only (the float32 one is cached already). ``connectivity``: which
    3x3 kernels are kept ("kernel", the converter's default, or "block": the 16 filters of a
    block keep the same input channels), or "quads": "block" plus 1x1 blocks that keep whole
    aligned fours of inputs (``pointwise_quads``, what the int8 1x1 kernel wants), or "shared":
    the converter's "shared" 3x3 connectivity plus the same 1x1 quads; the default is
    what every cached file was made with, so :data:`PRUNER` does not change.
    """
    from patternlite.converter import Int8Options, export_tflite, prune
    from patternlite.converter.policy import PrunePolicy

    model = build()
    # prune_first: a single-op layer model's only conv is its first (the converter keeps
    # a network's first 3x3 conv dense by default).
    res = prune(
        model,
        keep=keep,
        policy=PrunePolicy.from_options(
            patterns=patterns,
            method="magnitude",
            prune_first=prune_first,
            connectivity="block" if connectivity == "quads" else connectivity,
            pointwise_quads=connectivity in ("quads", "shared"),
        ),
        progress=False,
    )
    if path is not None:
        export_tflite(res, str(path))
    if int8_path is not None:
        export_tflite(res, str(int8_path), int8=Int8Options(calibration=calibration, progress=False))
    release_keras()
    return PRUNER
