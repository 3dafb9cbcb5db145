"""Test helpers: single-CONV_2D .tflite models built directly as flatbuffers.

Building the flatbuffer by hand takes milliseconds, which is what lets the
property-based sweep try hundreds of configurations. The generated models are
ordinary TFLite models: the reference is always TFLite's own builtin kernel
on the very same file.
"""

from __future__ import annotations

import struct
import zlib
from typing import Any

import flatbuffers
import numpy as np
import numpy.typing as npt

from patternlite._contract import HEADER_OFFSETS, HEADER_SIZE, METADATA_NAME, PATTERN_CANDIDATES
from patternlite.metadata import (
    PRUNED,
    LayerPatterns,
    PatternMetadata,
    encode,
)
from patternlite.tflite_file import _schema

FILTER_NAME = "conv/filter"
ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4}
ALL_TAP_MASKS_WITH_CENTRE = list(PATTERN_CANDIDATES)  # the 56 masks a library may hold (spec/contract.toml)


def out_size(n: int, stride: int, padding: str, k: int = 3, dilation: int = 1) -> int:
    eff = (k - 1) * dilation + 1
    return (n + stride - 1) // stride if padding == "SAME" else (n + stride - eff) // stride


def build_conv_model(
    input_shape: tuple[int, int, int, int],
    filters: npt.NDArray[Any],
    bias: npt.NDArray[np.float32] | None = None,
    *,
    stride: tuple[int, int] = (1, 1),
    padding: str = "SAME",
    activation: str = "NONE",
    dilation: tuple[int, int] = (1, 1),
    filter_is_input: bool = False,
    metadata: bytes | None = None,
    depthwise: bool = False,
) -> bytes:
    """A float32 model: input -> CONV_2D(filters OHWI, bias) -> output.

    With ``depthwise``, DEPTHWISE_CONV_2D instead: ``filters`` is [1, kh, kw, C]
    with C the input's channels (depth multiplier 1).
    """
    s = _schema()
    n, h, w, _ = input_shape
    o, kh, kw, _ = filters.shape
    if depthwise:
        o = filters.shape[3]
    oh = out_size(h, stride[0], padding, kh, dilation[0])
    ow = out_size(w, stride[1], padding, kw, dilation[1])

    buffers = [s.BufferT()]

    def buffer_of(array: npt.NDArray[Any] | None) -> int:
        b = s.BufferT()
        if array is not None:
            b.data = np.frombuffer(np.ascontiguousarray(array).tobytes(), dtype=np.uint8).copy()
        buffers.append(b)
        return len(buffers) - 1

    def tensor(name: str, shape: tuple[int, ...], buf: int) -> Any:
        t = s.TensorT()
        t.name = name
        t.shape = list(shape)
        t.type = s.TensorType.FLOAT32
        t.buffer = buf
        return t

    tensors = [
        tensor("input", input_shape, buffer_of(None)),
        tensor(FILTER_NAME, filters.shape, buffer_of(None if filter_is_input else filters.astype(np.float32))),
    ]
    # TFLite's float CONV_2D requires a bias tensor (its converter writes zeros).
    bias = np.zeros(o, np.float32) if bias is None else bias
    tensors.append(tensor("conv/bias", bias.shape, buffer_of(bias.astype(np.float32))))
    inputs = [0, 1, 2]
    tensors.append(tensor("output", (n, oh, ow, o), buffer_of(None)))
    out_index = len(tensors) - 1

    opts = s.DepthwiseConv2DOptionsT() if depthwise else s.Conv2DOptionsT()
    opts.padding = s.Padding.SAME if padding == "SAME" else s.Padding.VALID
    opts.strideH, opts.strideW = stride
    opts.dilationHFactor, opts.dilationWFactor = dilation
    opts.fusedActivationFunction = ACTIVATIONS[activation]
    if depthwise:
        opts.depthMultiplier = 1
    op = s.OperatorT()
    op.opcodeIndex = 0
    op.inputs = inputs
    op.outputs = [out_index]
    op.builtinOptionsType = s.BuiltinOptions.DepthwiseConv2DOptions if depthwise else s.BuiltinOptions.Conv2DOptions
    op.builtinOptions = opts

    code = s.OperatorCodeT()
    builtin = s.BuiltinOperator.DEPTHWISE_CONV_2D if depthwise else s.BuiltinOperator.CONV_2D
    code.builtinCode = builtin
    code.deprecatedBuiltinCode = builtin
    code.version = 2 if depthwise else 1

    sg = s.SubGraphT()
    sg.tensors = tensors
    sg.inputs = [0, 1] if filter_is_input else [0]
    sg.outputs = [out_index]
    sg.operators = [op]
    sg.name = "main"

    model = s.ModelT()
    model.version = 3
    model.operatorCodes = [code]
    model.subgraphs = [sg]
    model.description = "patternlite test conv"
    model.buffers = buffers
    if metadata is not None:
        entry = s.MetadataT()
        entry.name = METADATA_NAME
        entry.buffer = buffer_of(np.frombuffer(metadata, dtype=np.uint8))
        model.metadata = [entry]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def pattern_pruned_filters(
    rng: np.random.Generator, out_c: int, in_c: int, library: list[int], keep: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.uint8]]:
    """Random OHWI filters whose kernels follow `library`, with a `keep` fraction kept."""
    w = rng.standard_normal((out_c, 3, 3, in_c)).astype(np.float32)
    ids = rng.integers(0, len(library), size=(out_c, in_c)).astype(np.uint8)
    n_keep = max(1, int(round(keep * out_c * in_c)))
    order = rng.permutation(out_c * in_c)
    kept = np.zeros(out_c * in_c, dtype=bool)
    kept[order[:n_keep]] = True
    ids[~kept.reshape(out_c, in_c)] = PRUNED
    masks = np.zeros((out_c, in_c, 9), dtype=bool)
    for o in range(out_c):
        for i in range(in_c):
            if ids[o, i] != PRUNED:
                m = library[ids[o, i]]
                masks[o, i] = [(m >> b) & 1 for b in range(9)]
    w *= masks.transpose(0, 2, 1).reshape(out_c, 3, 3, in_c)
    # Exact zeros inside a pattern are legal (and happen after training).
    return w, ids


def metadata_for(library: list[int], ids: npt.NDArray[np.uint8], keep: float = 1.0) -> bytes:
    return encode(PatternMetadata(patterns=list(library), layers=[LayerPatterns(FILTER_NAME, ids, keep)]))


def refresh_header(blob: bytearray) -> bytes:
    """Fix a metadata blob's size and CRC fields, so a mutated body reaches the record parser."""
    struct.pack_into("<I", blob, HEADER_OFFSETS["total_size"], len(blob))
    struct.pack_into("<I", blob, HEADER_OFFSETS["crc32"], zlib.crc32(bytes(blob[HEADER_SIZE:])) & 0xFFFFFFFF)
    return bytes(blob)


def pattern_prune_keras(model: Any, conv_type: type, rng: np.random.Generator, masks: list[int]) -> None:
    """Gives every `conv_type` layer of a Keras model with more than 3 input channels random
    patterns from `masks`, half of its kernels pruned and a random bias, in place."""
    for layer in model.layers:
        if isinstance(layer, conv_type) and layer.kernel.shape[2] > 3:
            w, b = layer.get_weights()  # HWIO
            ids = rng.integers(0, len(masks), size=w.shape[2:])
            keep = rng.random(w.shape[2:]) < 0.5
            grid = np.array([[(masks[i] >> t) & 1 for t in range(9)] for i in ids.ravel()], np.float32)
            grid = grid.reshape(*w.shape[2:], 3, 3).transpose(2, 3, 0, 1) * keep
            layer.set_weights([w * grid, rng.standard_normal(b.shape).astype(np.float32)])
