"""One conv on raw NHWC arrays through the library's C benchmark entry points
(``patternlite_conv2d``, ``patternlite_opencl_conv2d`` in delegate/runtime/plugin.cc),
no TFLite involved. Both take the same leading conv arguments and end with the
output and its median seconds; only what lies between (ISA and threads, or the
OpenCL device) differs."""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from patternlite.delegate import _library

RELU = 1  # TfLiteFusedActivation
_FLOATS = ctypes.POINTER(ctypes.c_float)


def run_native_conv(
    entry: str, x: np.ndarray, w: np.ndarray, bias: np.ndarray, stride: int, middle: list[Any], trailing: tuple = ()
) -> tuple[float, np.ndarray]:
    """Calls ``entry`` on a SAME-padded, ReLU conv: median seconds of one run, and the output.

    ``middle`` are the entry's own arguments before the output; ``trailing`` those after the
    seconds. Raises RuntimeError with the library's message when it refuses.
    """
    lib = _library()
    fn = getattr(lib, entry)
    fn.restype = ctypes.c_int
    n, h, wd, c = x.shape
    o = w.shape[0]
    out = np.empty((n, -(-h // stride), -(-wd // stride), o), np.float32)
    seconds = ctypes.c_double()
    head = [x.ctypes.data_as(_FLOATS), n, h, wd, c, w.ctypes.data_as(_FLOATS), o, bias.ctypes.data_as(_FLOATS)]
    head += [stride, stride, 1, RELU]  # strides, SAME padding, fused ReLU
    rc = fn(*head, *middle, out.ctypes.data_as(_FLOATS), ctypes.byref(seconds), *trailing)
    if rc != 0:
        raise RuntimeError(lib.patternlite_last_error().decode())
    return seconds.value, out
