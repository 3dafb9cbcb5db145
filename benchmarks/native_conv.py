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


def run_native_int8_conv(
    x: np.ndarray,
    w: np.ndarray,
    bias: np.ndarray,
    stride: int,
    input_scale: float,
    input_zero_point: int,
    filter_scales: np.ndarray,
    output_scale: float,
    output_zero_point: int,
    kernel: str,
    threads: int,
    repeats: int,
) -> tuple[float, np.ndarray]:
    """``patternlite_int8_conv3x3`` on a SAME-padded, ReLU int8 conv (TFLite's full-integer scheme:
    int8 NHWC input, OHWI int8 filter with per-channel scales, int32 bias): median seconds of one
    run, and the int8 output.

    ``kernel`` is an int8 variant ("scalar", "avxvnni", "avx512vnni", "neondot") or an isa name
    (mapped as the delegate maps its isa option). Raises RuntimeError with the library's message
    when it refuses (e.g. "int8 kernel not available" on this CPU).
    """
    lib = _library()
    fn = lib.patternlite_int8_conv3x3
    fn.restype = ctypes.c_int
    i8 = ctypes.POINTER(ctypes.c_int8)
    n, h, wd, c = x.shape
    o = w.shape[0]
    x = np.ascontiguousarray(x, np.int8)
    w = np.ascontiguousarray(w, np.int8)
    scales = np.ascontiguousarray(filter_scales, np.float32)
    b = np.ascontiguousarray(bias, np.int32)
    out = np.empty((n, -(-h // stride), -(-wd // stride), o), np.int8)
    seconds = ctypes.c_double()
    # ReLU as TFLite folds it into the int8 range: [max(-128, output zero point), 127].
    act_min, act_max = max(-128, int(output_zero_point)), 127
    rc = fn(
        x.ctypes.data_as(i8), n, h, wd, c,
        ctypes.c_float(input_scale), int(input_zero_point),
        w.ctypes.data_as(i8), o, scales.ctypes.data_as(_FLOATS), b.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
        ctypes.c_float(output_scale), int(output_zero_point),
        stride, stride, 1, act_min, act_max,
        kernel.encode(), threads, repeats,
        out.ctypes.data_as(i8), ctypes.byref(seconds),
    )  # fmt: skip
    if rc != 0:
        raise RuntimeError(lib.patternlite_last_error().decode())
    return seconds.value, out
