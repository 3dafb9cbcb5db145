"""Nodes the delegate must decline: each still runs correctly through TFLite."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import patternlite
from patternlite._contract import HEADER_OFFSETS, HEADER_SIZE
from patternlite.metadata import PRUNED, MetadataError, decode

from conv_models import FILTER_NAME, build_conv_model, metadata_for, pattern_pruned_filters, refresh_header
from runtimes import check_declined, delegated_op_count, make_interpreter, max_scaled_error, run

LIBRARY = [0b000111010, 0b010110010, 0b010011010, 0b010111000]  # centre + 3 neighbours each


def _pruned(seed: int = 0, out_c: int = 8, in_c: int = 8) -> tuple[np.ndarray, np.ndarray]:
    return pattern_pruned_filters(np.random.default_rng(seed), out_c, in_c, LIBRARY, 0.5)


def test_dense_conv_is_declined() -> None:
    rng = np.random.default_rng(1)
    w = rng.standard_normal((8, 3, 3, 8)).astype(np.float32)
    model = build_conv_model((1, 10, 10, 8), w)
    check_declined(model, rng.standard_normal((1, 10, 10, 8)).astype(np.float32), "not pattern-sparse")


def test_pattern_layer_below_min_sparsity_is_declined() -> None:
    w, _ = pattern_pruned_filters(np.random.default_rng(2), 8, 8, LIBRARY, 1.0)  # 4/9 kept: sparsity 0.56
    model = build_conv_model((1, 10, 10, 8), w)
    x = np.random.default_rng(3).standard_normal((1, 10, 10, 8)).astype(np.float32)
    check_declined(model, x, "min_sparsity", min_sparsity=0.9)


def test_dilated_conv_is_declined() -> None:
    w, _ = _pruned()
    model = build_conv_model((1, 12, 12, 8), w, dilation=(2, 2))
    x = np.random.default_rng(4).standard_normal((1, 12, 12, 8)).astype(np.float32)
    check_declined(model, x, "dilation")


def test_5x5_conv_is_declined() -> None:
    rng = np.random.default_rng(5)
    w = np.zeros((8, 5, 5, 8), np.float32)
    w[:, 2, 2, :] = rng.standard_normal((8, 8))  # very sparse, but not 3x3
    model = build_conv_model((1, 10, 10, 8), w)
    check_declined(model, rng.standard_normal((1, 10, 10, 8)).astype(np.float32), "only 3x3")


def test_non_constant_weights_are_declined() -> None:
    w, _ = _pruned()
    model = build_conv_model((1, 10, 10, 8), w, filter_is_input=True)
    x = np.random.default_rng(6).standard_normal((1, 10, 10, 8)).astype(np.float32)
    results = []
    for delegate in (None, patternlite.load_delegate()):
        interp = make_interpreter(model, delegate=delegate, reference=True)
        interp.allocate_tensors()
        inputs = {d["name"]: d["index"] for d in interp.get_input_details()}
        interp.set_tensor(inputs["input"], x)
        interp.set_tensor(inputs[FILTER_NAME], w)
        interp.invoke()
        results.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
        if delegate is not None:
            assert delegated_op_count(interp) == 0
            assert "not a constant" in delegate.stats()["declined"][0]["reason"]
    assert max_scaled_error(results[1], results[0]) <= 1e-5


@pytest.mark.parametrize(
    "corrupt",
    ["flip_byte", "truncate", "bad_magic", "future_version", "garbage"],
)
def test_corrupt_metadata_declines_and_runs(corrupt: str) -> None:
    w, ids = _pruned()
    blob = bytearray(metadata_for(LIBRARY, ids, 0.5))
    if corrupt == "flip_byte":
        blob[-5] ^= 0x40
    elif corrupt == "truncate":
        blob = blob[:-8]
    elif corrupt == "bad_magic":
        blob[0:4] = b"XXXX"
    elif corrupt == "future_version":
        struct.pack_into("<H", blob, HEADER_OFFSETS["version_major"], 9)
    else:
        blob = bytearray(np.random.default_rng(0).integers(0, 256, 64, dtype=np.uint8).tobytes())
    model = build_conv_model((1, 10, 10, 8), w, metadata=bytes(blob))
    x = np.random.default_rng(7).standard_normal((1, 10, 10, 8)).astype(np.float32)
    stats = check_declined(model, x, "metadata is corrupt")
    assert stats["metadata"]["found"] and stats["metadata"]["error"]
    # metadata="ignore" trusts only the weights, which are fine.
    out, interp = run(model, x, delegate=patternlite.load_delegate(metadata="ignore"), reference=True)
    assert delegated_op_count(interp) == 1


def _python_reader_accepts(blob: bytes) -> bool:
    try:
        decode(blob)
    except MetadataError:
        return False
    return True


@pytest.mark.parametrize(
    "field, value, reason",
    [
        ("name", b"\xb0", "not UTF-8"),  # a continuation byte cannot start a character
        ("name", b"\xed\xa0\x80", "not UTF-8"),  # an encoded surrogate, which Python refuses too
        ("name", b"\xc0\xaf", "not UTF-8"),  # an overlong form
        ("keep", float("nan"), "outside (0, 1]"),
        ("keep", 0.0, "outside (0, 1]"),
        ("keep", -0.5, "outside (0, 1]"),
        ("keep", 1.5, "outside (0, 1]"),
    ],
)
def test_both_readers_refuse_the_same_fields(field: str, value: object, reason: str) -> None:
    """The C++ reader refuses what Python's decode refuses (docs/metadata-format.md)."""
    w, ids = _pruned(seed=3)
    good = metadata_for(LIBRARY, ids, 0.5)
    blob = bytearray(good)
    name_at = blob.index(FILTER_NAME.encode())
    if field == "name":
        assert isinstance(value, bytes)
        blob[name_at : name_at + len(value)] = value
    else:
        assert isinstance(value, float)
        keep_at = blob.index(struct.pack("<f", 0.5), name_at)
        struct.pack_into("<f", blob, keep_at, value)
    bad = refresh_header(blob)
    with pytest.raises(MetadataError, match=re.escape(reason)):
        decode(bad)
    model = build_conv_model((1, 10, 10, 8), w, metadata=bad)
    x = np.random.default_rng(8).standard_normal((1, 10, 10, 8)).astype(np.float32)
    stats = check_declined(model, x, "metadata is corrupt")
    assert reason in stats["metadata"]["error"], stats["metadata"]["error"]
    # The untouched blob is accepted by both.
    assert _python_reader_accepts(good)


def test_metadata_disagreeing_with_weights_is_declined() -> None:
    w, ids = _pruned()
    lying = ids.copy()
    o, i = np.argwhere(ids != PRUNED)[0]
    lying[o, i] = PRUNED  # claims a kernel with weights is pruned
    model = build_conv_model((1, 10, 10, 8), w, metadata=metadata_for(LIBRARY, lying, 0.5))
    x = np.random.default_rng(8).standard_normal((1, 10, 10, 8)).astype(np.float32)
    check_declined(model, x, "pruned but it holds non-zero weights")


def test_metadata_with_wrong_pattern_is_declined() -> None:
    w, ids = _pruned()
    lying = ids.copy()
    o, i = np.argwhere(ids != PRUNED)[0]
    lying[o, i] = (ids[o, i] + 1) % len(LIBRARY)
    model = build_conv_model((1, 10, 10, 8), w, metadata=metadata_for(LIBRARY, lying, 0.5))
    x = np.random.default_rng(9).standard_normal((1, 10, 10, 8)).astype(np.float32)
    check_declined(model, x, "fall outside metadata pattern")


def test_metadata_with_wrong_shape_is_declined() -> None:
    w, ids = _pruned()
    model = build_conv_model((1, 10, 10, 8), w, metadata=metadata_for(LIBRARY, ids[:, :4].copy(), 0.5))
    x = np.random.default_rng(10).standard_normal((1, 10, 10, 8)).astype(np.float32)
    check_declined(model, x, "disagrees with the filter")


def test_require_mode_declines_layers_without_metadata() -> None:
    w, _ = _pruned()
    model = build_conv_model((1, 10, 10, 8), w)
    x = np.random.default_rng(11).standard_normal((1, 10, 10, 8)).astype(np.float32)
    check_declined(model, x, "metadata=require", metadata="require")


@pytest.mark.tensorflow
def test_dense_int8_conv_is_declined() -> None:
    """An int8 conv goes to the int8 judge (tests/test_int8_numerics.py claims the pattern-sparse ones);
    dense int8 weights are declined like dense float ones, and TFLite runs the node."""
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(12)
    w = rng.standard_normal((8, 3, 3, 8)).astype(np.float32)
    inp = tf.keras.Input((10, 10, 8), batch_size=1)
    conv = tf.keras.layers.Conv2D(8, 3, padding="same")
    model = tf.keras.Model(inp, conv(inp))
    conv.set_weights([w.transpose(1, 2, 3, 0), np.zeros(8, np.float32)])
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    samples = [rng.standard_normal((1, 10, 10, 8)).astype(np.float32) for _ in range(8)]
    converter.representative_dataset = lambda: ([s] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    tfl = converter.convert()
    outs = []
    for delegate in (None, patternlite.load_delegate()):
        interp = make_interpreter(tfl, delegate=delegate, reference=True)
        interp.allocate_tensors()
        d = interp.get_input_details()[0]
        scale, zero = d["quantization"]
        interp.set_tensor(d["index"], np.clip(np.round(samples[0] / scale + zero), -128, 127).astype(np.int8))
        interp.invoke()
        outs.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
        if delegate is not None:
            assert delegated_op_count(interp) == 0
            assert "not pattern-sparse" in delegate.stats()["declined"][0]["reason"]
    np.testing.assert_array_equal(outs[0], outs[1])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    edits=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=8),
    cut=st.integers(0, 64),
)
def test_mutated_metadata_never_crashes_or_misleads(edits: list[tuple[int, int]], cut: int) -> None:
    """Random byte edits behind a valid CRC: the parser's bounds checks, under ASan in CI."""
    w, ids = _pruned(seed=13)
    blob = bytearray(metadata_for(LIBRARY, ids, 0.5))
    for pos, value in edits:
        if HEADER_SIZE <= pos < len(blob):
            blob[pos] = value
    if cut:
        blob = blob[: max(HEADER_SIZE, len(blob) - cut)]
    model = build_conv_model((1, 9, 9, 8), w, metadata=refresh_header(blob))
    x = np.random.default_rng(14).standard_normal((1, 9, 9, 8)).astype(np.float32)
    ref, _ = run(model, x, reference=True)
    delegate = patternlite.load_delegate(log_level="silent")
    out, _ = run(model, x, delegate=delegate, reference=True)
    stats = delegate.stats()
    # Whatever the blob says, the answer is right: claimed only if the weights agree.
    assert max_scaled_error(out, ref) <= 1e-4
    assert len(stats["claimed"]) + len(stats["declined"]) == 1
    # Both readers take the same view of every blob: parsed by both or refused by both.
    assert bool(stats["metadata"]["error"]) != _python_reader_accepts(refresh_header(blob))
