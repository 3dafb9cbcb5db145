"""Sparse 1x1 and pattern depthwise convs: the delegate against TFLite's builtin kernels.

The same shape of sweep as test_delegate_numerics.py, once per kind: every case
draws a shape, strides, padding, activation, batch, channel counts off the
SIMD width, a sparsity structure (the block structure the converter makes, or
any zeros at all), metadata or not, an ISA and a thread count, and checks that
the delegate claimed the node and matches to within 1e-4 of the output's scale.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import patternlite
from patternlite.delegate import isa_available
from patternlite.metadata import (
    CHANNEL_BLOCK,
    KIND_DEPTHWISE3X3,
    KIND_POINTWISE,
    PRUNED,
    LayerPatterns,
    PatternMetadata,
    encode,
)

from conv_models import ALL_TAP_MASKS_WITH_CENTRE, FILTER_NAME, build_conv_model
from runtimes import check_declined, delegated_op_count, max_scaled_error, run

TOLERANCE = 1e-4
ISAS = [isa for isa in ("scalar", "avx2", "avx512", "neon") if isa_available(isa)]
ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


def pointwise_filters(
    rng: np.random.Generator, out_c: int, in_c: int, keep: float, blocked: bool
) -> tuple[np.ndarray, np.ndarray]:
    """[O,1,1,I] weights and their O x I kept table (True = kept)."""
    if blocked:  # what the converter makes: a block of filters shares its kept inputs
        kept = np.zeros((out_c, in_c), bool)
        for b in range(0, out_c, CHANNEL_BLOCK):
            kept[b : b + CHANNEL_BLOCK] = rng.random(in_c) < keep
    else:
        kept = rng.random((out_c, in_c)) < keep
    w = rng.standard_normal((out_c, 1, 1, in_c)).astype(np.float32) * kept[:, None, None, :]
    return w, kept


def depthwise_filters(
    rng: np.random.Generator, channels: int, library: list[int], keep: float, blocked: bool
) -> tuple[np.ndarray, np.ndarray]:
    """[1,3,3,C] weights and each channel's library index (PRUNED: the channel is all zero)."""
    if blocked:
        ids = np.repeat(rng.integers(0, len(library), (channels + CHANNEL_BLOCK - 1) // CHANNEL_BLOCK), CHANNEL_BLOCK)
        ids = ids[:channels]
    else:
        ids = rng.integers(0, len(library), channels)
    ids = np.where(rng.random(channels) < keep, ids, PRUNED).astype(np.uint8)
    grid = np.zeros((channels, 9), np.float32)
    for c in range(channels):
        if ids[c] != PRUNED:
            grid[c] = [(library[ids[c]] >> t) & 1 for t in range(9)]
    w = rng.standard_normal((1, 3, 3, channels)).astype(np.float32) * grid.T.reshape(1, 3, 3, channels)
    return w, ids


@st.composite
def block_case(draw: st.DrawFn, depthwise: bool) -> dict:
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    lo = 3 if padding == "VALID" and depthwise else 1
    return {
        "batch": draw(st.integers(1, 3)),
        "h": draw(st.integers(lo, 30)),
        "w": draw(st.integers(lo, 30)),
        "in_c": draw(st.integers(1, 70)),
        "out_c": draw(st.integers(1, 70)),
        "stride": (draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2]))),
        "padding": padding,
        "activation": draw(st.sampled_from(ACTIVATIONS)),
        "library": draw(st.lists(st.sampled_from(ALL_TAP_MASKS_WITH_CENTRE), min_size=1, max_size=8, unique=True)),
        "keep": draw(st.floats(0.05, 1.0)),
        "blocked": draw(st.booleans()),
        "bias": draw(st.booleans()),
        "with_metadata": draw(st.booleans()),
        "isa": draw(st.sampled_from(ISAS)),
        "threads": draw(st.sampled_from([1, 2, 3])),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def case_model(case: dict, depthwise: bool) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(case["seed"])
    channels = case["in_c"]
    shape = (case["batch"], case["h"], case["w"], channels)
    if depthwise:
        w, ids = depthwise_filters(rng, channels, case["library"], case["keep"], case["blocked"])
        out_c = channels
        layer = LayerPatterns(FILTER_NAME, ids[:, None], case["keep"], KIND_DEPTHWISE3X3)
        library = case["library"]
    else:
        out_c = case["out_c"]
        w, kept = pointwise_filters(rng, out_c, channels, case["keep"], case["blocked"])
        layer = LayerPatterns(FILTER_NAME, np.where(kept, 0, PRUNED).astype(np.uint8), case["keep"], KIND_POINTWISE)
        library = case["library"][:1]
    meta = encode(PatternMetadata(patterns=library, layers=[layer])) if case["with_metadata"] else None
    bias = rng.standard_normal(out_c).astype(np.float32) if case["bias"] else None
    model = build_conv_model(
        shape,
        w,
        bias,
        stride=case["stride"],
        padding=case["padding"],
        activation=case["activation"],
        metadata=meta,
        depthwise=depthwise,
    )
    return model, (rng.standard_normal(shape) * 0.5).astype(np.float32)


def check_case(case: dict, depthwise: bool) -> None:
    model, x = case_model(case, depthwise)
    ref, _ = run(model, x, reference=True)
    delegate = patternlite.load_delegate(isa=case["isa"], min_sparsity=0.0)
    out, interp = run(model, x, delegate=delegate, threads=case["threads"])
    stats = delegate.stats()
    assert delegated_op_count(interp) == 1, stats["declined"]
    claim = stats["claimed"][0]
    assert claim["kind"] == ("depthwise3x3" if depthwise else "pointwise")
    assert claim["source"] == ("metadata" if case["with_metadata"] else "weights")
    assert claim["invocations"] == 1
    assert out.shape == ref.shape
    assert max_scaled_error(out, ref) <= TOLERANCE


@settings(max_examples=350, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(case=block_case(depthwise=False))
def test_pointwise_matches_builtin_kernels(case: dict) -> None:
    check_case(case, depthwise=False)


@settings(max_examples=350, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(case=block_case(depthwise=True))
def test_depthwise_matches_builtin_kernels(case: dict) -> None:
    check_case(case, depthwise=True)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize(
    ("shape", "out_c", "stride"),
    [
        ((1, 56, 56, 24), 144, 1),  # MobileNetV2 expand: few inputs, blocks grouped on a tile
        ((1, 14, 14, 576), 96, 1),  # project: many inputs, one block at a time
        ((1, 28, 28, 256), 520, 2),  # ResNet-50 shortcut, a partial last block
        ((2, 7, 7, 320), 1280, 1),
    ],
)
def test_pointwise_network_layers(isa: str, shape: tuple[int, int, int, int], out_c: int, stride: int) -> None:
    rng = np.random.default_rng(5)
    w, _ = pointwise_filters(rng, out_c, shape[3], 0.28, blocked=True)
    model = build_conv_model(shape, w, rng.standard_normal(out_c).astype(np.float32), stride=(stride, stride))
    x = rng.standard_normal(shape).astype(np.float32)
    ref, _ = run(model, x, reference=True)
    out, interp = run(model, x, delegate=patternlite.load_delegate(isa=isa), threads=2)
    assert delegated_op_count(interp) == 1
    assert max_scaled_error(out, ref) <= TOLERANCE


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize(
    ("shape", "stride", "padding"),
    [((1, 112, 112, 96), 2, "SAME"), ((1, 28, 28, 192), 1, "SAME"), ((2, 9, 9, 40), 1, "VALID")],
)
def test_depthwise_network_layers(isa: str, shape: tuple[int, int, int, int], stride: int, padding: str) -> None:
    rng = np.random.default_rng(6)
    w, _ = depthwise_filters(rng, shape[3], ALL_TAP_MASKS_WITH_CENTRE[::9], 1.0, blocked=True)
    model = build_conv_model(
        shape,
        w,
        rng.standard_normal(shape[3]).astype(np.float32),
        stride=(stride, stride),
        padding=padding,
        activation="RELU6",
        depthwise=True,
    )
    x = rng.standard_normal(shape).astype(np.float32)
    ref, _ = run(model, x, reference=True)
    out, interp = run(model, x, delegate=patternlite.load_delegate(isa=isa), threads=2)
    assert delegated_op_count(interp) == 1
    assert max_scaled_error(out, ref) <= TOLERANCE


def test_dense_and_unstructured_1x1_are_declined() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 8, 8, 32)).astype(np.float32)
    dense = rng.standard_normal((32, 1, 1, 32)).astype(np.float32)
    check_declined(build_conv_model(x.shape, dense), x, "min_sparsity")
    # 60% zeros, but scattered: a block of 16 filters skips almost no input.
    w, _ = pointwise_filters(rng, 32, 32, 0.4, blocked=False)
    check_declined(build_conv_model(x.shape, w), x, "in whole blocks of 16 filters")


def test_depthwise_the_kernels_cannot_run_exactly_is_declined() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 10, 10, 8)).astype(np.float32)
    w, _ = depthwise_filters(rng, 8, ALL_TAP_MASKS_WITH_CENTRE[:4], 1.0, blocked=True)
    check_declined(build_conv_model(x.shape, w, dilation=(2, 2), depthwise=True), x, "dilation")
    w2, _ = depthwise_filters(rng, 16, ALL_TAP_MASKS_WITH_CENTRE[:4], 1.0, blocked=True)
    check_declined(build_conv_model(x.shape, w2, depthwise=True), x, "depth multiplier")
    dense = rng.standard_normal((1, 3, 3, 8)).astype(np.float32)
    check_declined(build_conv_model(x.shape, dense, depthwise=True), x, "min_sparsity")


def test_metadata_of_another_kind_is_declined() -> None:
    """A record naming the filter must describe its kind: a pointwise record on a depthwise filter is refused."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 10, 10, 16)).astype(np.float32)
    library = ALL_TAP_MASKS_WITH_CENTRE[:4]
    w, ids = depthwise_filters(rng, 16, library, 1.0, blocked=True)
    wrong = LayerPatterns(FILTER_NAME, np.zeros((16, 1), np.uint8), 1.0, KIND_POINTWISE)
    meta = encode(PatternMetadata(patterns=library, layers=[wrong]))
    check_declined(build_conv_model(x.shape, w, depthwise=True, metadata=meta), x, "another kind")
    # And a depthwise record whose patterns disagree with the weights.
    bad_ids = (ids[:, None] + 1) % len(library)
    liar = LayerPatterns(FILTER_NAME, bad_ids.astype(np.uint8), 1.0, KIND_DEPTHWISE3X3)
    meta = encode(PatternMetadata(patterns=library, layers=[liar]))
    check_declined(build_conv_model(x.shape, w, depthwise=True, metadata=meta), x, "outside its metadata pattern")


@pytest.mark.parametrize("depthwise", [False, True])
def test_threads_are_tuned_and_results_stay_exact(depthwise: bool) -> None:
    """With autotune, the first runs alternate the pool and one thread; the faster is kept, every run exact."""
    rng = np.random.default_rng(9)
    # Enough work that the pool is a candidate (the smallest nodes run on one thread untuned).
    shape = (1, 64, 64, 64)
    if depthwise:
        w, _ = depthwise_filters(rng, 64, ALL_TAP_MASKS_WITH_CENTRE[:4], 1.0, blocked=True)
    else:
        w, _ = pointwise_filters(rng, 96, 64, 0.3, blocked=True)
    model = build_conv_model(shape, w, activation="RELU", depthwise=depthwise)
    ref, _ = run(model, rng.standard_normal(shape).astype(np.float32), reference=True)
    delegate = patternlite.load_delegate()
    out, interp = run(model, rng.standard_normal(shape).astype(np.float32), delegate=delegate, threads=2)
    idx_in, idx_out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    for i in range(8):
        x = np.random.default_rng(i).standard_normal(shape).astype(np.float32)
        expected, _ = run(model, x, reference=True)
        interp.set_tensor(idx_in, x)
        interp.invoke()
        assert max_scaled_error(interp.get_tensor(idx_out), expected) <= TOLERANCE
    plan = delegate.stats()["claimed"][0]["plan"]
    assert plan["tuned"] and plan["threads"] in (1, 2)
    assert ref.shape == out.shape
