"""Metadata versions: 1.0 files keep working, 1.1 records carry their kind.

``tests/data/metadata_v1_0.tflite`` was written by the converter when the
format was 1.0 (three pattern-pruned 3x3 convs, records without a kind). It is
committed so that every later reader is run against a real old file.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np
import pytest

import patternlite
from patternlite._contract import HEADER_OFFSETS, HEADER_SIZE, LAYER_TAIL_SINCE_MINOR, VERSION_MINOR
from patternlite.metadata import (
    KIND_CONV3X3,
    KIND_DEPTHWISE3X3,
    KIND_POINTWISE,
    KINDS,
    METADATA_NAME,
    PRUNED,
    LayerPatterns,
    MetadataError,
    PatternMetadata,
    decode,
    encode,
)
from patternlite.tflite_file import TfliteModel

from conv_models import FILTER_NAME, build_conv_model, pattern_pruned_filters, refresh_header
from runtimes import delegated_op_count, max_scaled_error, run

V1_0 = Path(__file__).parent / "data" / "metadata_v1_0.tflite"
LIBRARY = [0b000111010, 0b010110010, 0b010011010, 0b010111000]


def test_committed_v1_0_file_reads_as_conv3x3_records() -> None:
    blob = TfliteModel.from_file(str(V1_0)).metadata(METADATA_NAME)
    assert blob is not None
    meta = decode(blob)
    assert meta.version == (1, 0)
    assert len(meta.layers) == 3
    assert {layer.kind for layer in meta.layers} == {KIND_CONV3X3}


def test_committed_v1_0_file_runs_under_the_delegate() -> None:
    data = V1_0.read_bytes()
    x = np.random.default_rng(0).standard_normal((1, 8, 8, 3)).astype(np.float32)
    ref, _ = run(data, x, reference=True)
    delegate = patternlite.load_delegate(metadata="require")
    out, interp = run(data, x, delegate=delegate, reference=True)
    stats = delegate.stats()
    assert delegated_op_count(interp) == 3
    assert {c["source"] for c in stats["claimed"]} == {"metadata"}
    assert stats["metadata"]["error"] == ""
    assert max_scaled_error(out, ref) <= 1e-4


def test_every_kind_round_trips() -> None:
    rng = np.random.default_rng(1)
    layers = [
        LayerPatterns("c3", rng.integers(0, 4, (6, 5)).astype(np.uint8), 0.5, KIND_CONV3X3),
        LayerPatterns("pw", np.where(rng.random((32, 7)) < 0.3, 0, PRUNED).astype(np.uint8), 0.3, KIND_POINTWISE),
        LayerPatterns("dw", rng.integers(0, 4, (24, 1)).astype(np.uint8), 1.0, KIND_DEPTHWISE3X3),
    ]
    meta = decode(encode(PatternMetadata(patterns=LIBRARY, layers=layers)))
    assert meta.version[1] == VERSION_MINOR >= LAYER_TAIL_SINCE_MINOR
    assert [(lp.tensor_name, lp.kind_name) for lp in meta.layers] == [
        ("c3", "conv3x3"),
        ("pw", "pointwise"),
        ("dw", "depthwise3x3"),
    ]
    for a, b in zip(layers, meta.layers, strict=True):
        np.testing.assert_array_equal(a.kernel_pattern, b.kernel_pattern)


def _kind_offsets(blob: bytes) -> list[int]:
    """Where each record's kind field lies (the last 4 bytes of the record)."""
    (patterns,) = struct.unpack_from("<I", blob, HEADER_OFFSETS["num_patterns"])
    (layers,) = struct.unpack_from("<I", blob, HEADER_OFFSETS["num_layers"])
    offsets, pos = [], HEADER_SIZE + ((2 * patterns + 3) & ~3)
    for _ in range(layers):
        size = struct.unpack_from("<I", blob, pos)[0]
        offsets.append(pos + size - 4)
        pos += size
    return offsets


def _model_with(blob: bytes) -> tuple[bytes, np.ndarray]:
    w, _ = pattern_pruned_filters(np.random.default_rng(3), 8, 8, LIBRARY, 0.5)
    x = np.random.default_rng(4).standard_normal((1, 9, 9, 8)).astype(np.float32)
    return build_conv_model((1, 9, 9, 8), w, metadata=blob), x


def test_a_later_kind_is_skipped_by_both_readers() -> None:
    """A minor version may add kinds: readers skip those records and keep the rest."""
    w, ids = pattern_pruned_filters(np.random.default_rng(3), 8, 8, LIBRARY, 0.5)
    layers = [LayerPatterns(FILTER_NAME, ids, 0.5), LayerPatterns("future/op", np.zeros((4, 4), np.uint8), 0.5)]
    blob = bytearray(encode(PatternMetadata(patterns=LIBRARY, layers=layers)))
    struct.pack_into("<I", blob, _kind_offsets(bytes(blob))[1], len(KINDS))  # the first unknown kind
    future = refresh_header(blob)
    assert [lp.tensor_name for lp in decode(future).layers] == [FILTER_NAME]
    model = build_conv_model((1, 9, 9, 8), w, metadata=future)
    x = np.random.default_rng(4).standard_normal((1, 9, 9, 8)).astype(np.float32)
    delegate = patternlite.load_delegate(metadata="require")
    out, _ = run(model, x, delegate=delegate, reference=True)
    stats = delegate.stats()
    assert stats["metadata"] == {"found": True, "error": "", "layers": 1}
    assert [c["source"] for c in stats["claimed"]] == ["metadata"]
    ref, _ = run(model, x, reference=True)
    assert max_scaled_error(out, ref) <= 1e-4


@pytest.mark.parametrize(
    "kind, table, reason",
    [
        (KIND_POINTWISE, np.full((8, 8), 1, np.uint8), "pointwise entry"),
        (KIND_DEPTHWISE3X3, np.zeros((8, 2), np.uint8), "depthwise record"),
        ("missing", np.zeros((8, 8), np.uint8), "kind field"),
    ],
)
def test_both_readers_refuse_bad_kind_records(kind: int | str, table: np.ndarray, reason: str) -> None:
    layer = LayerPatterns(FILTER_NAME, table, 0.5)  # written as conv3x3, then edited
    blob = bytearray(encode(PatternMetadata(patterns=LIBRARY, layers=[layer])))
    at = _kind_offsets(bytes(blob))[0]
    if kind == "missing":
        # Drop the tail and shrink the record: a 1.1 record must end with its kind.
        del blob[at : at + 4]
        rec = HEADER_SIZE + 8
        struct.pack_into("<I", blob, rec, struct.unpack_from("<I", blob, rec)[0] - 4)
    else:
        struct.pack_into("<I", blob, at, int(kind))
    bad = refresh_header(blob)
    with pytest.raises(MetadataError, match=re.escape(reason)):
        decode(bad)
    model, x = _model_with(bad)
    delegate = patternlite.load_delegate(log_level="silent")
    out, _ = run(model, x, delegate=delegate, reference=True)
    stats = delegate.stats()
    assert reason in stats["metadata"]["error"], stats["metadata"]["error"]
    assert stats["claimed"] == []
    ref, _ = run(model, x, reference=True)
    assert max_scaled_error(out, ref) <= 1e-5
