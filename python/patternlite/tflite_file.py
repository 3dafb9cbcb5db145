"""Reading and annotating ``.tflite`` flatbuffers without TensorFlow.

The reader walks the few tables patternlite needs (tensors, operators, conv
options, buffers, metadata) with the ``flatbuffers`` runtime alone, so
``patternlite inspect`` works beside any TFLite runtime. Field numbers follow
TFLite's ``schema.fbs``.

Writing (adding a metadata entry) re-serialises the model with the generated
schema module that ai-edge-litert and TensorFlow both ship.
"""

from __future__ import annotations

import importlib
import math
import struct
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import flatbuffers
import numpy as np
import numpy.typing as npt
from flatbuffers import encode, number_types, packer
from flatbuffers.table import Table

from patternlite._contract import BUILTIN_CONV_2D as BUILTIN_CONV_2D
from patternlite._contract import BUILTIN_DEPTHWISE_CONV_2D as BUILTIN_DEPTHWISE_CONV_2D
from patternlite._contract import KIND_RULES

# The builtin operators of the kinds (spec/contract.toml): the ops the reader lists.
CONV_BUILTINS = {rule.builtin_code: rule.op for rule in KIND_RULES}
TENSOR_TYPES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 9: "int8", 10: "float64"}
PADDING = {0: "SAME", 1: "VALID"}
ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


class TfliteFileError(ValueError):
    """The bytes are not a readable TFLite model."""


# What the flatbuffers runtime raises on damaged offsets: an index past the end,
# a negative offset ("bad number ... for type uint32" is a TypeError), a short read.
_DAMAGE = (IndexError, ValueError, UnicodeDecodeError, struct.error, TypeError)


def _past_the_end(exc: Exception) -> bool:
    """Whether the flatbuffers runtime failed by reading past the end of the bytes (a truncated file)."""
    return isinstance(exc, IndexError) or (isinstance(exc, struct.error) and "requires a buffer" in str(exc))


def _field(t: Table, index: int) -> int:
    return int(t.Offset(4 + 2 * index))


def _scalar(t: Table | None, index: int, flags: Any, default: int) -> int:
    if t is None:
        return default
    o = _field(t, index)
    return int(t.Get(flags, o + t.Pos)) if o else default


def _string(t: Table, index: int) -> str:
    o = _field(t, index)
    return t.String(o + t.Pos).decode("utf-8", errors="replace") if o else ""


def _table(t: Table, index: int) -> Table | None:
    o = _field(t, index)
    return Table(t.Bytes, t.Indirect(o + t.Pos)) if o else None


def _tables(t: Table, index: int) -> list[Table]:
    o = _field(t, index)
    if not o:
        return []
    start, n = t.Vector(o), t.VectorLen(o)
    return [Table(t.Bytes, t.Indirect(start + 4 * j)) for j in range(n)]


def _ints(t: Table, index: int, dtype: str = "<i4") -> npt.NDArray[Any]:
    o = _field(t, index)
    if not o:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(t.Bytes, dtype=dtype, count=t.VectorLen(o), offset=t.Vector(o))


def _quantization(q: Table | None) -> Quantization | None:
    """QuantizationParameters (min 0, max 1, scale 2, zero_point 3, ..., quantized_dimension 6)."""
    if q is None:
        return None
    scales = _ints(q, 2, "<f4")
    if scales.size == 0:
        return None
    zero_points = _ints(q, 3, "<i8")
    return Quantization(
        scales=tuple(float(s) for s in scales),
        zero_points=tuple(int(z) for z in zero_points),
        axis=_scalar(q, 6, number_types.Int32Flags, 0),
    )


@dataclass
class Quantization:
    """A tensor's affine quantisation: ``real = scale * (q - zero_point)``, per tensor or along one axis."""

    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    axis: int  # the quantized dimension (per-channel when there are several scales)

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1

    @property
    def symmetric(self) -> bool:
        """Every zero point is 0: a real 0 is stored as 0 (a pruned weight stays exactly zero)."""
        return all(z == 0 for z in self.zero_points)


@dataclass
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    buffer: int
    quantization: Quantization | None = None  # None: not quantised (no scales)


@dataclass
class ConvOp:
    """One CONV_2D or DEPTHWISE_CONV_2D operator of the primary subgraph."""

    index: int
    input: int
    filter: int
    bias: int
    output: int
    padding: str
    stride: tuple[int, int]
    dilation: tuple[int, int]
    activation: str
    builtin: str = "CONV_2D"  # or "DEPTHWISE_CONV_2D"
    depth_multiplier: int = 1  # DEPTHWISE_CONV_2D only


@dataclass
class TfliteModel:
    """The parts of a TFLite model patternlite reads."""

    data: bytes
    tensors: list[TensorInfo] = field(default_factory=list)  # of the subgraph read
    convs: list[ConvOp] = field(default_factory=list)  # CONV_2D and DEPTHWISE_CONV_2D, in operator order
    operator_count: int = 0
    subgraph: int = 0  # the subgraph read: 0, the primary one, unless asked
    subgraph_count: int = 1
    inputs: list[int] = field(default_factory=list)  # tensor indices of the subgraph's inputs
    outputs: list[int] = field(default_factory=list)
    _buffers: list[Table] = field(default_factory=list, repr=False)
    _metadata: dict[str, int] = field(default_factory=dict, repr=False)

    @classmethod
    def from_bytes(cls, data: bytes, subgraph: int = 0) -> TfliteModel:
        """The model's tables, the tensors and convs of subgraph ``subgraph`` (the primary one by default)."""
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise TfliteFileError("not a TFLite file (no TFL3 file identifier at byte 4)")
        try:
            return cls._parse(bytes(data), subgraph)
        except _DAMAGE as exc:  # damaged offsets
            if _past_the_end(exc):
                raise TfliteFileError(
                    f"truncated TFLite file: its {len(data)} bytes end before the data its tables point to "
                    "(an incomplete download or copy?)"
                ) from exc
            raise TfliteFileError(f"malformed TFLite flatbuffer: {exc}") from exc

    @classmethod
    def from_file(cls, path: str) -> TfliteModel:
        with open(path, "rb") as f:
            return cls.from_bytes(f.read())

    @classmethod
    def _parse(cls, data: bytes, subgraph: int) -> TfliteModel:
        root = Table(bytearray(data), encode.Get(packer.uoffset, data, 0))
        model = cls(data=data, subgraph=subgraph)
        model._buffers = _tables(root, 4)
        for md in _tables(root, 6):
            model._metadata[_string(md, 0)] = _scalar(md, 1, number_types.Uint32Flags, 0)
        codes = []
        for oc in _tables(root, 1):
            deprecated = _scalar(oc, 0, number_types.Int8Flags, 0)
            builtin = _scalar(oc, 3, number_types.Int32Flags, 0)
            codes.append(max(deprecated, builtin))
        subgraphs = _tables(root, 2)
        if not subgraphs:
            raise TfliteFileError("model has no subgraph")
        if not 0 <= subgraph < len(subgraphs):
            raise TfliteFileError(f"subgraph {subgraph} out of range ({len(subgraphs)} subgraphs)")
        model.subgraph_count = len(subgraphs)
        sg = subgraphs[subgraph]
        for i, t in enumerate(_tables(sg, 0)):
            model.tensors.append(
                TensorInfo(
                    index=i,
                    name=_string(t, 3),
                    shape=tuple(int(d) for d in _ints(t, 0)),
                    dtype=TENSOR_TYPES.get(_scalar(t, 1, number_types.Int8Flags, 0), "other"),
                    buffer=_scalar(t, 2, number_types.Uint32Flags, 0),
                    quantization=_quantization(_table(t, 4)),
                )
            )
        model.inputs = [int(v) for v in _ints(sg, 1)]
        model.outputs = [int(v) for v in _ints(sg, 2)]
        # The reader promises that every index it returns names a tensor.
        for what, indices in (("input", model.inputs), ("output", model.outputs)):
            if not all(0 <= j < len(model.tensors) for j in indices):
                raise TfliteFileError(f"a subgraph {what} names a tensor outside the {len(model.tensors)} tensors")
        ops = _tables(sg, 3)
        model.operator_count = len(ops)
        for i, op in enumerate(ops):
            code_index = _scalar(op, 0, number_types.Uint32Flags, 0)
            if code_index >= len(codes) or codes[code_index] not in CONV_BUILTINS:
                continue
            op_name = CONV_BUILTINS[codes[code_index]]
            ins = [int(v) for v in _ints(op, 1)]
            outs = [int(v) for v in _ints(op, 2)]
            named = [ins[0], ins[1], outs[0], *(ins[2:3] if len(ins) > 2 and ins[2] != -1 else [])]  # -1: no bias
            if not all(0 <= j < len(model.tensors) for j in named):
                raise TfliteFileError(f"{op_name} operator {i} names a tensor outside the {len(model.tensors)} tensors")
            opts = _table(op, 4)
            # Conv2DOptions: padding, stride w/h, activation, dilation w/h; DepthwiseConv2DOptions
            # has the depth multiplier where Conv2DOptions has the activation, and the rest after it.
            depthwise = op_name == "DEPTHWISE_CONV_2D"
            act_field, dil_fields = (4, (5, 6)) if depthwise else (3, (4, 5))
            pad, act = _scalar(opts, 0, number_types.Int8Flags, 0), _scalar(opts, act_field, number_types.Int8Flags, 0)
            # stride w/h, dilation w/h
            i32 = [_scalar(opts, k, number_types.Int32Flags, 1) for k in (1, 2, *dil_fields)]
            model.convs.append(
                ConvOp(
                    index=i,
                    input=ins[0],
                    filter=ins[1],
                    bias=ins[2] if len(ins) > 2 else -1,
                    output=outs[0],
                    padding=PADDING.get(pad, "?"),
                    stride=(i32[1], i32[0]),
                    dilation=(i32[3], i32[2]),
                    activation=ACTIVATIONS.get(act, str(act)),
                    builtin=op_name,
                    depth_multiplier=_scalar(opts, 3, number_types.Int32Flags, 1) if depthwise else 1,
                )
            )
        return model

    def metadata(self, name: str) -> bytes | None:
        """The bytes of the named metadata entry, or None."""
        if name not in self._metadata:
            return None
        return self.buffer_bytes(self._metadata[name])

    def metadata_names(self) -> list[str]:
        return list(self._metadata)

    def buffer_bytes(self, index: int) -> bytes:
        if not 0 <= index < len(self._buffers):
            raise TfliteFileError(f"buffer {index} out of range")
        buf = self._buffers[index]
        try:  # buffers are read when asked for, so their offsets are checked here
            offset = _scalar(buf, 1, number_types.Uint64Flags, 0)
            if offset > 1:  # large models keep buffers after the flatbuffer
                size = _scalar(buf, 2, number_types.Uint64Flags, 0)
                return self.data[offset : offset + size]
            return bytes(_ints(buf, 0, "u1").tobytes())
        except _DAMAGE as exc:
            raise TfliteFileError(f"buffer {index} is malformed: {exc}") from exc

    def tensor_array(self, index: int) -> npt.NDArray[Any] | None:
        """A constant tensor's values, or None when it has no data.

        Raises TfliteFileError when the data does not fill the tensor's shape.
        """
        t = self.tensors[index]
        raw = self.buffer_bytes(t.buffer) if t.buffer else b""
        if not raw or t.dtype == "other":
            return None
        dtype = np.dtype(t.dtype).newbyteorder("<")
        if any(d < 0 for d in t.shape) or len(raw) != dtype.itemsize * math.prod(t.shape):
            raise TfliteFileError(
                f"tensor {index} ({t.name!r}): {len(raw)} bytes of data do not fill its shape {t.shape} of {t.dtype}"
            )
        return np.frombuffer(raw, dtype=dtype).reshape(t.shape)


def _schema() -> ModuleType:
    for name in ("ai_edge_litert.schema_py_generated", "tensorflow.lite.python.schema_py_generated"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("writing .tflite metadata needs ai-edge-litert or tensorflow")


def with_metadata(model_bytes: bytes, name: str, blob: bytes) -> bytes:
    """A copy of the model with metadata entry ``name`` set to ``blob`` (replacing any old one)."""
    TfliteModel.from_bytes(model_bytes)  # fail early, with our error, on junk
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(model_bytes), 0))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(blob, dtype=np.uint8).copy()
    model.buffers = list(model.buffers or [])
    model.buffers.append(buffer)
    entries = [m for m in (model.metadata or []) if (m.name.decode() if isinstance(m.name, bytes) else m.name) != name]
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(model.buffers) - 1
    model.metadata = [*entries, entry]
    builder = flatbuffers.Builder(len(model_bytes) + len(blob) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
