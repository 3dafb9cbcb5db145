"""The delegate against TFLite's builtin kernels on hundreds of random convs.

Every case draws a shape, stride, padding, activation, batch, pattern
library, connectivity ratio and pruned weights; builds the model; runs it
through TFLite's reference kernels (no default delegate) and through the
pattern delegate; and checks that the delegate claimed the node and matches to
within 1e-4 of the output's scale.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import patternlite
from patternlite.delegate import isa_available

from conv_models import ALL_TAP_MASKS_WITH_CENTRE, build_conv_model, metadata_for, pattern_pruned_filters
from runtimes import delegated_op_count, max_scaled_error, run

TOLERANCE = 1e-4
ISAS = [isa for isa in ("scalar", "avx2", "avx512", "neon") if isa_available(isa)]


@st.composite
def conv_case(draw: st.DrawFn) -> dict:
    stride = (draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2])))
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    # Tiny (1x1 under SAME) to moderately large images; VALID needs at least 3.
    lo = 3 if padding == "VALID" else 1
    h = draw(st.integers(lo, 40))
    w = draw(st.integers(lo, 40))
    return {
        "batch": draw(st.integers(1, 3)),
        "h": h,
        "w": w,
        # Channel counts off the SIMD width on purpose (1..70).
        "in_c": draw(st.integers(1, 70)),
        "out_c": draw(st.integers(1, 70)),
        "stride": stride,
        "padding": padding,
        "activation": draw(st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])),
        "library": draw(st.lists(st.sampled_from(ALL_TAP_MASKS_WITH_CENTRE), min_size=1, max_size=12, unique=True)),
        "keep": draw(st.floats(0.02, 1.0)),
        "bias": draw(st.booleans()),
        "with_metadata": draw(st.booleans()),
        "isa": draw(st.sampled_from(ISAS)),
        "threads": draw(st.sampled_from([1, 2, 3])),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def case_model(case: dict) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A conv_case as (one-conv model, input, TFLite's builtin output)."""
    rng = np.random.default_rng(case["seed"])
    w, ids = pattern_pruned_filters(rng, case["out_c"], case["in_c"], case["library"], case["keep"])
    bias = rng.standard_normal(case["out_c"]).astype(np.float32) if case["bias"] else None
    meta = metadata_for(case["library"], ids, case["keep"]) if case["with_metadata"] else None
    shape = (case["batch"], case["h"], case["w"], case["in_c"])
    model = build_conv_model(
        shape, w, bias, stride=case["stride"], padding=case["padding"], activation=case["activation"], metadata=meta
    )
    # Inputs around the RELU_N1_TO_1 / RELU6 clamps so both sides of them are hit.
    x = (rng.standard_normal(shape) * 0.5).astype(np.float32)
    ref, _ = run(model, x, reference=True)
    return model, x, ref


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(case=conv_case())
def test_delegate_matches_builtin_kernels(case: dict) -> None:
    model, x, ref = case_model(case)
    delegate = patternlite.load_delegate(isa=case["isa"], min_sparsity=0.0)
    out, interp = run(model, x, delegate=delegate, threads=case["threads"])
    stats = delegate.stats()
    assert delegated_op_count(interp) == 1, stats["declined"]
    assert len(stats["claimed"]) == 1
    claim = stats["claimed"][0]
    assert claim["source"] == ("metadata" if case["with_metadata"] else "weights")
    assert claim["invocations"] == 1
    assert claim["threads"] == case["threads"]
    assert out.shape == ref.shape
    assert max_scaled_error(out, ref) <= TOLERANCE


@pytest.mark.parametrize("isa", ISAS)
def test_realistic_layer_all_isas_agree(isa: str) -> None:
    """A ResNet-style 32x32x64 -> 64 layer with half the kernels kept, on every kernel."""
    rng = np.random.default_rng(7)
    library = ALL_TAP_MASKS_WITH_CENTRE[::7][:8]
    w, ids = pattern_pruned_filters(rng, 64, 64, library, 0.5)
    bias = rng.standard_normal(64).astype(np.float32)
    model = build_conv_model((1, 32, 32, 64), w, bias, activation="RELU", metadata=metadata_for(library, ids, 0.5))
    x = rng.standard_normal((1, 32, 32, 64)).astype(np.float32)
    ref, _ = run(model, x, reference=True)
    out, interp = run(model, x, delegate=patternlite.load_delegate(isa=isa), threads=2)
    assert delegated_op_count(interp) == 1
    assert max_scaled_error(out, ref) <= TOLERANCE


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize(
    ("shape", "out_c", "padding"),
    [
        ((1, 56, 56, 24), 40, "SAME"),  # wide rows: the planar-row layout
        ((2, 23, 62, 9), 17, "VALID"),  # rows not a multiple of the tile height
        ((1, 13, 46, 33), 8, "SAME"),  # channels across two channel blocks
        ((1, 30, 30, 70), 5, "SAME"),  # channel count off the transpose tile
        ((1, 16, 16, 12), 200, "SAME"),  # wide layout, two channel-major filter blocks (128 + 72)
        ((1, 7, 7, 20), 300, "SAME"),  # narrow im2col layout, two filter blocks (256 + 44)
        ((1, 9, 11, 6), 130, "VALID"),  # narrow, ragged pixels and filters
    ],
)
def test_stride1_layers(isa: str, shape: tuple[int, int, int, int], out_c: int, padding: str) -> None:
    """Stride-1 layers across both SIMD input layouts and several filter blocks."""
    rng = np.random.default_rng(11)
    library = ALL_TAP_MASKS_WITH_CENTRE[3::5][:10]
    w, ids = pattern_pruned_filters(rng, out_c, shape[3], library, 0.4)
    model = build_conv_model(
        shape,
        w,
        rng.standard_normal(out_c).astype(np.float32),
        padding=padding,
        activation="RELU6",
        metadata=metadata_for(library, ids, 0.4),
    )
    x = rng.standard_normal(shape).astype(np.float32)
    ref, _ = run(model, x, reference=True)
    delegate = patternlite.load_delegate(isa=isa)
    out, interp = run(model, x, delegate=delegate, threads=2)
    assert delegate.stats()["claimed"][0]["invocations"] == 1
    assert max_scaled_error(out, ref) <= TOLERANCE


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize(("shape", "out_c"), [((1, 34, 34, 10), 140), ((1, 14, 14, 8), 270), ((2, 40, 40, 3), 20)])
def test_stride2_layers(isa: str, shape: tuple[int, int, int, int], out_c: int) -> None:
    """Stride 2 in the wide layout (column phases) and the narrow one, across filter blocks."""
    rng = np.random.default_rng(12)
    library = ALL_TAP_MASKS_WITH_CENTRE[1::6][:9]
    w, ids = pattern_pruned_filters(rng, out_c, shape[3], library, 0.6)
    bias = rng.standard_normal(out_c).astype(np.float32)
    model = build_conv_model(shape, w, bias, stride=(2, 2), activation="RELU", metadata=metadata_for(library, ids, 0.6))
    x = rng.standard_normal(shape).astype(np.float32)
    ref, _ = run(model, x, reference=True)
    out, interp = run(model, x, delegate=patternlite.load_delegate(isa=isa), threads=1)
    assert delegated_op_count(interp) == 1
    assert max_scaled_error(out, ref) <= TOLERANCE
