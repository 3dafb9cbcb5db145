"""Test helpers: quantized single-conv .tflite models built directly as flatbuffers.

The int8 counterpart of conv_models.build_conv_model, in TFLite's full-integer
scheme (what TFLiteConverter writes with TFLITE_BUILTINS_INT8): int8
activations with a per-tensor scale and zero point, int8 weights with
per-output-channel symmetric scales, int32 bias at input_scale x filter_scale.
Built by hand in milliseconds, so the sweep needs no TensorFlow (and runs in
the sanitizer pass); the reference is TFLite's own builtin int8 kernel on the
same file. Any filter size (3x3, 1x1) and DEPTHWISE_CONV_2D ([1, kh, kw, C]
filter, per-channel along dimension 3). Also the schemes the delegate
declines (int16 activations, uint8, per-tensor asymmetric weights,
dynamic-range).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import flatbuffers
import numpy as np
import numpy.typing as npt

from patternlite._contract import METADATA_NAME
from patternlite.tflite_file import _schema

from conv_models import ACTIVATIONS, FILTER_NAME, out_size


@dataclass
class Int8Quant:
    """A conv's quantization: activations (scale, zero point), per-channel filter scales."""

    input_scale: float
    input_zero_point: int
    filter_scales: npt.NDArray[np.float32]
    output_scale: float
    output_zero_point: int


def quantize_filters(w: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Per-output-channel symmetric int8 (as TFLite's converter): a zero weight stays exactly 0."""
    peak = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scales = (np.where(peak > 0, peak, 1.0) / 127.0).astype(np.float32)
    q = np.clip(np.round(w / scales[:, None, None, None]), -127, 127).astype(np.int8)
    return q, scales


def choose_quant(rng: np.random.Generator, w: npt.NDArray[np.float32], in_range: float = 3.0) -> Int8Quant:
    """Activation ranges that keep most outputs unsaturated, with random zero points."""
    in_lo = -in_range * rng.uniform(0.2, 1.0)
    in_hi = in_range * rng.uniform(0.2, 1.0)
    in_scale = (in_hi - in_lo) / 255.0
    in_zp = int(np.clip(round(-128 - in_lo / in_scale), -128, 127))
    norm = float(np.sqrt((w.astype(np.float64) ** 2).reshape(w.shape[0], -1).sum(axis=1)).max()) or 1.0
    out_half = norm * in_range * rng.uniform(0.3, 1.2)
    out_scale = 2 * out_half / 255.0
    out_zp = int(rng.integers(-40, 41))
    _, f_scales = quantize_filters(w)
    return Int8Quant(float(np.float32(in_scale)), in_zp, f_scales, float(np.float32(out_scale)), out_zp)


def build_quantized_conv_model(
    input_shape: tuple[int, int, int, int],
    filters_q: npt.NDArray[Any],
    quant: Int8Quant,
    bias_q: npt.NDArray[Any] | None = None,
    *,
    stride: tuple[int, int] = (1, 1),
    padding: str = "SAME",
    activation: str = "NONE",
    float_io: bool = False,
    metadata: bytes | None = None,
    activation_type: str = "int8",
    filter_zero_points: npt.NDArray[np.int64] | None = None,
    quantized_dimension: int | None = None,
    filter_is_input: bool = False,
    depthwise: bool = False,
    depth_multiplier: int = 1,
) -> bytes:
    """input -> CONV_2D(filters_q OHWI, bias_q) -> output, quantized.

    ``depthwise``: DEPTHWISE_CONV_2D (``depth_multiplier``, 1 unless given) with
    a [1, kh, kw, C * depth_multiplier] filter, quantized per channel along
    dimension 3 unless ``quantized_dimension`` says otherwise.

    ``activation_type`` int8 (full integer), int16 (16x8: int64 bias) or uint8
    (uint8 filter with a per-tensor zero point). ``float_io`` wraps the conv in
    QUANTIZE / DEQUANTIZE so that the model's input and output are float32.
    """
    s = _schema()
    n, h, w, _ = input_shape
    o = filters_q.shape[3] if depthwise else filters_q.shape[0]
    k = filters_q.shape[1]
    oh, ow = out_size(h, stride[0], padding, k), out_size(w, stride[1], padding, k)
    if quantized_dimension is None:
        quantized_dimension = 3 if depthwise else 0
    act_type = {"int8": s.TensorType.INT8, "int16": s.TensorType.INT16, "uint8": s.TensorType.UINT8}[activation_type]
    filter_type = s.TensorType.UINT8 if activation_type == "uint8" else s.TensorType.INT8
    bias_type = s.TensorType.INT64 if activation_type == "int16" else s.TensorType.INT32
    bias_dtype = np.int64 if activation_type == "int16" else np.int32

    buffers = [s.BufferT()]

    def buffer_of(array: npt.NDArray[Any] | None) -> int:
        b = s.BufferT()
        if array is not None:
            b.data = np.frombuffer(np.ascontiguousarray(array).tobytes(), dtype=np.uint8).copy()
        buffers.append(b)
        return len(buffers) - 1

    def qparams(scales: Any, zero_points: Any, dim: int = 0) -> Any:
        qp = s.QuantizationParametersT()
        qp.scale = [float(v) for v in np.atleast_1d(scales)]
        qp.zeroPoint = [int(v) for v in np.atleast_1d(zero_points)]
        qp.quantizedDimension = dim
        return qp

    tensors: list[Any] = []

    def tensor(name: str, shape: tuple[int, ...], ttype: int, buf: int, qp: Any = None) -> int:
        t = s.TensorT()
        t.name = name
        t.shape = list(shape)
        t.type = ttype
        t.buffer = buf
        t.quantization = qp
        tensors.append(t)
        return len(tensors) - 1

    codes: list[Any] = []

    def opcode(builtin: int, version: int) -> int:
        c = s.OperatorCodeT()
        c.builtinCode = builtin
        c.deprecatedBuiltinCode = builtin
        c.version = version
        codes.append(c)
        return len(codes) - 1

    in_qp = qparams(quant.input_scale, quant.input_zero_point)
    out_qp = qparams(quant.output_scale, quant.output_zero_point)
    ops = []
    if float_io:
        x_f = tensor("input", input_shape, s.TensorType.FLOAT32, buffer_of(None))
        x_q = tensor("input_q", input_shape, act_type, buffer_of(None), in_qp)
        q_op = s.OperatorT()
        q_op.opcodeIndex = opcode(s.BuiltinOperator.QUANTIZE, 2 if activation_type == "int8" else 1)
        q_op.inputs, q_op.outputs = [x_f], [x_q]
        ops.append(q_op)
    else:
        x_f = x_q = tensor("input", input_shape, act_type, buffer_of(None), in_qp)
    f_scales = quant.filter_scales
    f_zp = np.zeros(np.atleast_1d(f_scales).size, np.int64) if filter_zero_points is None else filter_zero_points
    f_buf = buffer_of(None if filter_is_input else filters_q)
    f_idx = tensor(FILTER_NAME, filters_q.shape, filter_type, f_buf, qparams(f_scales, f_zp, quantized_dimension))
    inputs = [x_q, f_idx]
    # TFLite's quantized CONV_2D requires a bias tensor (its converter writes zeros).
    bias_q = np.zeros(o, bias_dtype) if bias_q is None else bias_q
    b_scales = np.float32(quant.input_scale) * np.atleast_1d(f_scales).astype(np.float32)
    b_buf = buffer_of(bias_q.astype(bias_dtype))
    inputs.append(tensor("conv/bias", (o,), bias_type, b_buf, qparams(b_scales, np.zeros(b_scales.size, np.int64))))
    y_q = tensor("output_q" if float_io else "output", (n, oh, ow, o), act_type, buffer_of(None), out_qp)

    opts: Any = s.DepthwiseConv2DOptionsT() if depthwise else s.Conv2DOptionsT()
    opts.padding = s.Padding.SAME if padding == "SAME" else s.Padding.VALID
    opts.strideH, opts.strideW = stride
    opts.dilationHFactor = opts.dilationWFactor = 1
    opts.fusedActivationFunction = ACTIVATIONS[activation]
    conv = s.OperatorT()
    if depthwise:
        opts.depthMultiplier = depth_multiplier
        version = {"int8": 3, "int16": 5, "uint8": 1}[activation_type]
        conv.opcodeIndex = opcode(s.BuiltinOperator.DEPTHWISE_CONV_2D, version)
        conv.builtinOptionsType = s.BuiltinOptions.DepthwiseConv2DOptions
    else:
        conv.opcodeIndex = opcode(s.BuiltinOperator.CONV_2D, {"int8": 3, "int16": 4, "uint8": 1}[activation_type])
        conv.builtinOptionsType = s.BuiltinOptions.Conv2DOptions
    conv.inputs, conv.outputs = inputs, [y_q]
    conv.builtinOptions = opts
    ops.append(conv)
    y_f = y_q
    if float_io:
        y_f = tensor("output", (n, oh, ow, o), s.TensorType.FLOAT32, buffer_of(None))
        dq = s.OperatorT()
        dq.opcodeIndex = opcode(s.BuiltinOperator.DEQUANTIZE, 2 if activation_type == "int8" else 1)
        dq.inputs, dq.outputs = [y_q], [y_f]
        ops.append(dq)

    sg = s.SubGraphT()
    sg.tensors = tensors
    sg.inputs = [x_f, f_idx] if filter_is_input else [x_f]
    sg.outputs = [y_f]
    sg.operators = ops
    sg.name = "main"
    model = s.ModelT()
    model.version = 3
    model.operatorCodes = codes
    model.subgraphs = [sg]
    model.description = "patternlite test int8 conv"
    model.buffers = buffers
    if metadata is not None:
        entry = s.MetadataT()
        entry.name = METADATA_NAME
        entry.buffer = buffer_of(np.frombuffer(metadata, dtype=np.uint8))
        model.metadata = [entry]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def quantized_bias(rng: np.random.Generator, quant: Int8Quant, out_c: int) -> npt.NDArray[np.int32]:
    """A random float bias (about one output range) in TFLite's int32 form."""
    b = rng.standard_normal(out_c) * quant.output_scale * 40
    return np.round(b / (np.float32(quant.input_scale) * quant.filter_scales)).astype(np.int32)


def quantize_depthwise_filters(w: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """A [1, kh, kw, C] filter quantized per channel (dimension 3), symmetric, as TFLite's converter does."""
    q, scales = quantize_filters(np.ascontiguousarray(w.transpose(3, 1, 2, 0)))
    return np.ascontiguousarray(q.transpose(3, 1, 2, 0)), scales
