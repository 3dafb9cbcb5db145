"""The pattern metadata blob: what the converter writes and the delegate reads.

The blob lives in the ``.tflite`` flatbuffer's ``metadata`` table under the name
:data:`METADATA_NAME`. Its byte layout is specified in ``docs/metadata-format.md``;
``delegate/metadata/metadata_reader.cc`` is the C++ reader of the same format.
Names, sizes and offsets come from ``spec/contract.toml`` through the generated
:mod:`patternlite._contract` (docs/contract.md).
This module needs numpy only, so the light runtime can inspect models.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from patternlite._contract import (
    ALIGNMENT,
    HEADER_FORMAT,
    KERNEL_SIZE,
    KERNEL_TAPS,
    LAYER_HEAD_FORMAT,
    LAYER_SHAPE_FORMAT,
    LAYER_TAIL_FORMAT,
    LAYER_TAIL_SINCE_MINOR,
    MASK_LIMIT,
    PATTERN_ENTRY_FORMAT,
    PATTERN_ENTRY_SIZE,
    PATTERN_TAPS,
)
from patternlite._contract import CENTRE_BIT as CENTRE_BIT  # bit index 3*ky + kx, centre is (1, 1)
from patternlite._contract import CHANNEL_BLOCK as CHANNEL_BLOCK
from patternlite._contract import INPUT_QUAD as INPUT_QUAD
from patternlite._contract import INT8_CONV3X3_MIN_OUTPUTS as INT8_CONV3X3_MIN_OUTPUTS
from patternlite._contract import KIND_CONV3X3 as KIND_CONV3X3
from patternlite._contract import KIND_DEPTHWISE3X3 as KIND_DEPTHWISE3X3
from patternlite._contract import KIND_POINTWISE as KIND_POINTWISE
from patternlite._contract import KINDS as KINDS
from patternlite._contract import MAGIC as MAGIC
from patternlite._contract import MAX_PATTERNS as MAX_PATTERNS
from patternlite._contract import METADATA_NAME as METADATA_NAME
from patternlite._contract import PRUNED as PRUNED
from patternlite._contract import QUAD_MIN_INPUTS as QUAD_MIN_INPUTS
from patternlite._contract import QUAD_MIN_OUTPUTS as QUAD_MIN_OUTPUTS
from patternlite._contract import VERSION_MAJOR as VERSION_MAJOR
from patternlite._contract import VERSION_MINOR as VERSION_MINOR

_HEADER = struct.Struct(HEADER_FORMAT)  # magic, major, minor, total, crc, K, L
_LAYER_HEAD = struct.Struct(LAYER_HEAD_FORMAT)  # record_size, name_len
_LAYER_SHAPE = struct.Struct(LAYER_SHAPE_FORMAT)  # out_channels, in_channels, keep
_LAYER_TAIL = struct.Struct(LAYER_TAIL_FORMAT)  # kind (from minor version 1)


class MetadataError(ValueError):
    """The metadata blob is malformed, corrupt or of an unsupported version."""


def _pad4(n: int) -> int:
    return (n + ALIGNMENT - 1) & ~(ALIGNMENT - 1)


def mask_to_grid(mask: int) -> npt.NDArray[np.bool_]:
    """A 9-bit pattern mask as a 3x3 boolean grid (row ky, column kx)."""
    return np.array([(mask >> b) & 1 for b in range(KERNEL_TAPS)], dtype=bool).reshape(KERNEL_SIZE, KERNEL_SIZE)


def validate_pattern(mask: int) -> None:
    """Raise MetadataError unless ``mask`` keeps exactly 4 of 9 taps, centre included."""
    if not 0 <= mask < MASK_LIMIT:
        raise MetadataError(f"pattern mask {mask} is not a {KERNEL_TAPS}-bit value")
    if bin(mask).count("1") != PATTERN_TAPS:
        raise MetadataError(f"pattern mask {mask:#05x} keeps {bin(mask).count('1')} taps, not {PATTERN_TAPS}")
    if not mask & CENTRE_BIT:
        raise MetadataError(f"pattern mask {mask:#05x} does not keep the centre tap")


@dataclass
class LayerPatterns:
    """One pruned layer: which library pattern each kernel follows.

    ``kernel_pattern[o, i]`` is the index into the library of the kernel of output
    channel ``o`` and input channel ``i``, or :data:`PRUNED` when the whole kernel
    was removed by connectivity pruning. ``kind`` says how to read it
    (:data:`KINDS`): a 3x3 conv (``O x I`` patterns), a 1x1 conv (``O x I``
    entries, ``0`` kept or :data:`PRUNED`) or a 3x3 depthwise conv (``C x 1``
    patterns, one per channel).
    """

    tensor_name: str
    kernel_pattern: npt.NDArray[np.uint8]
    keep: float = 1.0
    kind: int = KIND_CONV3X3

    @property
    def kind_name(self) -> str:
        return KINDS[self.kind]

    @property
    def out_channels(self) -> int:
        return int(self.kernel_pattern.shape[0])

    @property
    def in_channels(self) -> int:
        return int(self.kernel_pattern.shape[1])

    @property
    def kept_kernels(self) -> int:
        return int(np.count_nonzero(self.kernel_pattern != PRUNED))


@dataclass
class PatternMetadata:
    """The pattern library and the per-layer kernel assignments of one model."""

    patterns: list[int]
    layers: list[LayerPatterns] = field(default_factory=list)
    version: tuple[int, int] = (VERSION_MAJOR, VERSION_MINOR)

    def layer(self, tensor_name: str) -> LayerPatterns | None:
        for layer in self.layers:
            if layer.tensor_name == tensor_name:
                return layer
        return None

    def validate(self) -> None:
        if not 1 <= len(self.patterns) <= MAX_PATTERNS:
            raise MetadataError(f"library holds {len(self.patterns)} patterns (1..{MAX_PATTERNS})")
        for mask in self.patterns:
            validate_pattern(mask)
        names = [layer.tensor_name for layer in self.layers]
        if len(set(names)) != len(names):
            raise MetadataError("two layer records name the same filter tensor")
        for layer in self.layers:
            kp = layer.kernel_pattern
            if kp.ndim != 2 or kp.dtype != np.uint8:
                raise MetadataError(f"{layer.tensor_name}: kernel_pattern must be 2-D uint8")
            bad = (kp != PRUNED) & (kp >= len(self.patterns))
            if bad.any():
                raise MetadataError(f"{layer.tensor_name}: kernel refers to a pattern outside the library")
            if not 0.0 < layer.keep <= 1.0:
                raise MetadataError(f"{layer.tensor_name}: keep {layer.keep} outside (0, 1]")
            if not 0 <= layer.kind < len(KINDS):
                raise MetadataError(f"{layer.tensor_name}: unknown layer kind {layer.kind}")
            if layer.kind == KIND_POINTWISE and np.any((kp != PRUNED) & (kp != 0)):
                raise MetadataError(f"{layer.tensor_name}: a pointwise entry is 0 (kept) or {PRUNED} (pruned)")
            if layer.kind == KIND_DEPTHWISE3X3 and kp.shape[1:] != (1,):
                raise MetadataError(f"{layer.tensor_name}: a depthwise record has one input channel per filter")


def encode(meta: PatternMetadata) -> bytes:
    """Serialise ``meta`` to the blob of the current version (1.1: every record ends with its kind)."""
    meta.validate()
    body = bytearray()
    k = len(meta.patterns)
    body += struct.pack(f"<{k}{PATTERN_ENTRY_FORMAT}", *meta.patterns)
    body += b"\0" * (_pad4(len(body)) - len(body))
    for layer in meta.layers:
        name = layer.tensor_name.encode("utf-8")
        kp = np.ascontiguousarray(layer.kernel_pattern, dtype=np.uint8)
        rec = bytearray()
        rec += name + b"\0" * (_pad4(len(name)) - len(name))
        rec += _LAYER_SHAPE.pack(layer.out_channels, layer.in_channels, float(layer.keep))
        rec += kp.tobytes()
        rec += b"\0" * (_pad4(len(rec)) - len(rec))
        rec += _LAYER_TAIL.pack(layer.kind)
        body += _LAYER_HEAD.pack(_LAYER_HEAD.size + len(rec), len(name)) + rec
    total = _HEADER.size + len(body)
    crc = zlib.crc32(bytes(body)) & 0xFFFFFFFF
    header = _HEADER.pack(MAGIC, VERSION_MAJOR, VERSION_MINOR, total, crc, k, len(meta.layers))
    return header + bytes(body)


def decode(blob: bytes) -> PatternMetadata:
    """Parse a blob, checking magic, version, size, CRC and every bound.

    Records of a kind this reader does not know (a later minor version) are
    skipped; from version 1.1 on a record without its kind field is an error.
    """
    if len(blob) < _HEADER.size:
        raise MetadataError(f"metadata is {len(blob)} bytes, shorter than its header")
    magic, major, minor, total, crc, k, n_layers = _HEADER.unpack_from(blob, 0)
    if magic != MAGIC:
        raise MetadataError(f"bad magic {magic!r}, expected {MAGIC!r}")
    if major != VERSION_MAJOR:
        raise MetadataError(f"metadata version {major}.{minor} is not supported (need {VERSION_MAJOR}.x)")
    if total != len(blob):
        raise MetadataError(f"metadata says {total} bytes but holds {len(blob)}")
    body = bytes(blob[_HEADER.size :])
    if zlib.crc32(body) & 0xFFFFFFFF != crc:
        raise MetadataError("metadata CRC mismatch: the blob is corrupt")
    pos = 0
    need = _pad4(PATTERN_ENTRY_SIZE * k)
    if not 1 <= k <= MAX_PATTERNS or need > len(body):
        raise MetadataError(f"bad pattern count {k}")
    patterns = list(struct.unpack_from(f"<{k}{PATTERN_ENTRY_FORMAT}", body, 0))
    pos = need
    layers: list[LayerPatterns] = []
    for _ in range(n_layers):
        if pos + _LAYER_HEAD.size > len(body):
            raise MetadataError("layer record runs past the end of the metadata")
        size, name_len = _LAYER_HEAD.unpack_from(body, pos)
        end = pos + size
        if size < _LAYER_HEAD.size or end > len(body):
            raise MetadataError("layer record size out of bounds")
        p = pos + _LAYER_HEAD.size
        name_end = p + name_len
        if name_end > end:
            raise MetadataError("layer name runs past its record")
        try:
            name = body[p:name_end].decode("utf-8", errors="strict")
        except UnicodeDecodeError as exc:
            raise MetadataError(f"layer name is not UTF-8: {exc}") from exc
        p = pos + _LAYER_HEAD.size + _pad4(name_len)
        if p + _LAYER_SHAPE.size > end:
            raise MetadataError(f"{name}: record too short for its shape")
        o, i, keep = _LAYER_SHAPE.unpack_from(body, p)
        p += _LAYER_SHAPE.size
        if o * i > end - p:
            raise MetadataError(f"{name}: {o}x{i} kernel table runs past its record")
        kp = np.frombuffer(body, dtype=np.uint8, count=o * i, offset=p).reshape(o, i).copy()
        kind = KIND_CONV3X3
        if minor >= LAYER_TAIL_SINCE_MINOR:
            p += _pad4(o * i)
            if p + _LAYER_TAIL.size > end:
                raise MetadataError(f"{name}: record of version {major}.{minor} has no kind field")
            (kind,) = _LAYER_TAIL.unpack_from(body, p)
        pos = end
        if kind >= len(KINDS):
            continue  # a kind of a later minor version: not ours to read
        layers.append(LayerPatterns(tensor_name=name, kernel_pattern=kp, keep=float(keep), kind=int(kind)))
    meta = PatternMetadata(patterns=patterns, layers=layers, version=(major, minor))
    meta.validate()
    return meta


def kernel_patterns_from_weights(filters_ohwi: npt.NDArray[np.floating], patterns: list[int]) -> npt.NDArray[np.uint8]:
    """Which library pattern each 3x3 kernel of an OHWI filter follows.

    A kernel that is entirely zero is :data:`PRUNED`. Raises MetadataError if a
    non-zero kernel fits no pattern of the library. When several patterns
    contain a kernel's support (it has fewer than 4 non-zeros), the first wins.
    """
    w = np.asarray(filters_ohwi)
    if w.ndim != 4 or w.shape[1:3] != (KERNEL_SIZE, KERNEL_SIZE):
        raise MetadataError(f"expected OHWI 3x3 filters, got shape {w.shape}")
    support = (w != 0).transpose(0, 3, 1, 2).reshape(w.shape[0], w.shape[3], KERNEL_TAPS)
    bits = (support * (1 << np.arange(KERNEL_TAPS))).sum(axis=2)
    out = np.full(bits.shape, PRUNED, dtype=np.uint8)
    unresolved = bits != 0
    for idx, mask in enumerate(patterns):
        fits = unresolved & ((bits & ~mask) == 0)
        out[fits] = idx
        unresolved &= ~fits
    if unresolved.any():
        o, i = np.argwhere(unresolved)[0]
        raise MetadataError(f"kernel (o={o}, i={i}) with support {int(bits[o, i]):#05x} fits no library pattern")
    return out
