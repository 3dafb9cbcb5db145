"""Full-integer int8 export through TensorFlow's own post-training quantisation.

TFLite's converter quantises the weights per output channel and symmetrically
(zero point 0, scale ``max|w| / 127``), so a pruned weight is stored as exactly
0 and the pattern structure of every pruned layer survives unchanged; the
activations are int8 with ranges calibrated on a representative set of images,
the biases int32. The input and output stay float32 unless ``int8_io`` (then an
app quantises its input itself, with the input tensor's scale and zero point).

Calibration needs no data: by default the images are BatchNorm-matched synthetic
ones (``synthesis/synthetic.py``, what ``prune`` already makes; a PruneResult's
own pool is reused). The user's images, as the model takes them, replace them.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from patternlite.converter import defaults
from patternlite.converter.errors import ConverterError
from patternlite.converter.export.calibration import check_images, fit_model_input
from patternlite.converter.progress import progress_bar
from patternlite.converter.synthesis.synthetic import batchnorms, synthetic_inputs
from patternlite.op_kinds import tflite_kind_value
from patternlite.tflite_file import TfliteModel


@dataclass(frozen=True)
class Int8Options:
    """How :func:`~patternlite.converter.export.tflite.export_tflite` quantises (``int8=Int8Options(...)``).

    ``calibration``: images (N, H, W, C) as the model takes them (raw pixel values
    for a model that normalises inside); None: ``samples`` synthetic images (or the
    pool of the PruneResult being exported). ``int8_io``: int8 input and output
    tensors instead of float32. ``seed`` seeds the synthetic images; ``progress``
    shows the synthesis and calibration bars.
    """

    calibration: npt.ArrayLike | None = None
    samples: int = defaults.CALIBRATION_IMAGES
    int8_io: bool = False
    seed: int = 0
    progress: bool = True


def calibration_inputs(
    model: keras.Model, options: Int8Options, pool: npt.NDArray[np.float32] | None = None
) -> npt.NDArray[np.float32]:
    """The images that calibrate ``model``: the user's (checked), else ``pool``, else fresh synthetic ones."""
    shape = tuple(model.inputs[0].shape[1:])
    if options.calibration is not None:
        x = check_images(options.calibration)
        fit_model_input(x, shape, "calibration images")
        return x
    if options.samples < 1:
        raise ConverterError(f"calibration needs at least 1 image, got samples={options.samples}")
    if pool is not None and len(pool):
        return np.asarray(pool[: options.samples], np.float32)
    # BatchNorm-matched images where the model has BatchNorm; calibrated noise otherwise.
    kind = "bn" if batchnorms(model) else "noise"
    return synthetic_inputs(
        model, kind, options.samples, steps=defaults.SYNTHETIC_STEPS, seed=options.seed, progress=options.progress
    )


@contextlib.contextmanager
def _native_stderr_quiet() -> Iterator[TextIO]:
    """Yield a stream on the real stderr, with file descriptor 2 on /dev/null meanwhile, when logs are off.

    TensorFlow's quantiser prints a line from C++ straight to descriptor 2 whatever
    ``TF_CPP_MIN_LOG_LEVEL`` says; where that is 3 (the CLI without ``--verbose``)
    the line is dropped, and the progress bar writes to the stream instead.
    """
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0") < "3":
        yield sys.stderr
        return
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    stream = os.fdopen(os.dup(saved), "w", buffering=1)
    try:
        os.dup2(null, 2)
        yield stream
    finally:
        stream.flush()
        os.dup2(saved, 2)
        for fd in (saved, null):
            os.close(fd)
        stream.close()


def keras_to_int8_tflite(model: keras.Model, images: npt.NDArray[np.float32], options: Int8Options) -> bytes:
    """Full-integer conversion (TFLITE_BUILTINS_INT8) calibrated on ``images``, one at a time."""
    with _native_stderr_quiet() as err:
        return _convert_int8(model, images, options, err)


def _convert_int8(model: keras.Model, images: npt.NDArray[np.float32], options: Int8Options, err: TextIO) -> bytes:
    bar = progress_bar(total=len(images), desc="int8 calibration", disable=not options.progress, leave=False, file=err)

    def representative() -> Iterator[list[npt.NDArray[np.float32]]]:
        for i in range(len(images)):
            yield [images[i : i + 1]]
            bar.update(1)

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if options.int8_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        # The converter's chatter, and its notice that an int8 input has no statistics given (it needs none).
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
            return bytes(converter.convert())
    except Exception as exc:  # noqa: BLE001  # TensorFlow raises ConverterError, RuntimeError, ValueError...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConverterError(f"TensorFlow's int8 conversion failed: {reason[:200]}") from exc
    finally:
        bar.close()


def check_int8_filters(model_bytes: bytes) -> None:
    """Every conv of a pattern kind holds an int8 filter, per output channel, zero point 0.

    That is what keeps a pruned weight exactly 0 in the file; anything else
    (per-tensor asymmetric weights, float weights left behind) is refused.
    """
    graph = TfliteModel.from_bytes(model_bytes)
    for conv in graph.convs:
        if tflite_kind_value(graph, conv) is None:
            continue
        ft = graph.tensors[conv.filter]
        q = ft.quantization
        axis = 3 if conv.builtin == "DEPTHWISE_CONV_2D" else 0
        channels = ft.shape[axis] if len(ft.shape) == 4 else -1
        if ft.dtype != "int8" or q is None:
            raise ConverterError(f"{conv.builtin} {ft.name!r}: the filter is {ft.dtype}, not int8")
        if not q.symmetric or len(q.scales) != channels or q.axis != axis:
            raise ConverterError(
                f"{conv.builtin} {ft.name!r}: the int8 filter is not per-channel symmetric "
                f"({len(q.scales)} scales on axis {q.axis}, zero points {sorted(set(q.zero_points))})"
            )
