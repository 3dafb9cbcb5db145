"""The delegate's int8 3x3 convs against TFLite's builtin int8 kernels.

The sweep draws shapes, strides, padding, activation, bias, keep ratio,
metadata, float or int8 model I/O, the ISA and threads; builds the quantized
model by hand (int8_models.py: no TensorFlow, so it runs in the sanitizer
pass); runs it through TFLite's builtin kernels (no default delegate, so no
XNNPACK) and through the pattern delegate; and checks that the delegate
claimed the node as int8 and is never more than 1 quantum off. Bit-exact
outputs are counted over the whole sweep: every one must be (the kernels
round as TFLite's builtin CONV_2D does, tests/test_int8_rounding.py), and
both figures are printed and written to build/int8_numerics.json.

The TensorFlow tests convert with TFLiteConverter (representative dataset,
TFLITE_BUILTINS_INT8, per-channel weights): a single conv and a small CNN.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from int8_checks import ISAS, claimed_quanta, invoke, new_totals, quanta, record, sweep_input
from int8_models import (
    Int8Quant,
    build_quantized_conv_model,
    choose_quant,
    quantize_filters,
    quantized_bias,
)

import patternlite
from patternlite.metadata import QUAD_MIN_INPUTS, QUAD_MIN_OUTPUTS

from conv_models import ALL_TAP_MASKS_WITH_CENTRE, metadata_for, pattern_pruned_filters
from runtimes import REPO, delegated_op_count, make_interpreter

EXACT_FRACTION = 1.0  # of all outputs over the sweep: bit-exact (requantize.h's CONV_2D rounding)
# Outputs compared, bit-exact ones, and the largest difference in quanta, over the sweep.
TOTALS = new_totals()


@st.composite
def int8_case(draw: st.DrawFn) -> dict[str, Any]:
    padding = draw(st.sampled_from(["SAME", "VALID"]))
    lo = 3 if padding == "VALID" else 1
    return {
        "batch": draw(st.integers(1, 2)),
        "h": draw(st.integers(lo, 20)),
        "w": draw(st.integers(lo, 20)),
        "in_c": draw(st.integers(1, 70)),
        "out_c": draw(st.integers(1, 70)),
        "stride": (draw(st.sampled_from([1, 2])), draw(st.sampled_from([1, 2]))),
        "padding": padding,
        "activation": draw(st.sampled_from(["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])),
        "library": draw(st.lists(st.sampled_from(ALL_TAP_MASKS_WITH_CENTRE), min_size=1, max_size=12, unique=True)),
        "keep": draw(st.sampled_from([1.0, 0.5, 0.28])),
        "bias": draw(st.booleans()),
        "with_metadata": draw(st.booleans()),
        "float_io": draw(st.booleans()),
        "isa": draw(st.sampled_from(ISAS)),
        "threads": draw(st.sampled_from([1, 2])),
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def case_model(case: dict[str, Any]) -> tuple[bytes, npt.NDArray[Any], Int8Quant]:
    rng = np.random.default_rng(case["seed"])
    w, ids = pattern_pruned_filters(rng, case["out_c"], case["in_c"], case["library"], case["keep"])
    quant = choose_quant(rng, w)
    wq, _ = quantize_filters(w)
    bias = quantized_bias(rng, quant, case["out_c"]) if case["bias"] else None
    meta = metadata_for(case["library"], ids, case["keep"]) if case["with_metadata"] else None
    shape = (case["batch"], case["h"], case["w"], case["in_c"])
    model = build_quantized_conv_model(
        shape,
        wq,
        quant,
        bias,
        stride=case["stride"],
        padding=case["padding"],
        activation=case["activation"],
        float_io=case["float_io"],
        metadata=meta,
    )
    x = sweep_input(rng, shape, case["float_io"])
    return model, x, quant


def check_case(case: dict[str, Any]) -> None:
    model, x, quant = case_model(case)
    diff, _ = claimed_quanta(model, x, quant, case, "conv3x3")
    record(TOTALS, diff)
    assert diff.max(initial=0) <= 1, f"{int(diff.max())} quanta off: {case}"


@settings(
    max_examples=320,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(int8_case())
def test_int8_sweep_matches_builtin(case: dict[str, Any]) -> None:
    check_case(case)


def test_int8_sweep_is_bit_exact_on_every_output() -> None:
    """Runs after the sweep (file order): the sweep's exactness figures, reported and checked."""
    if TOTALS["cases"] == 0:
        pytest.skip("the sweep did not run in this session")
    fraction = TOTALS["exact"] / max(TOTALS["outputs"], 1)
    report = dict(TOTALS, exact_fraction=fraction, isas=ISAS)
    print(f"\nint8 sweep: {report}")
    out = REPO / "build" / "int8_numerics.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    assert fraction >= EXACT_FRACTION
    assert TOTALS["max_quanta"] <= 1


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", [1, 2])
def test_int8_realistic_layer_repeated_and_resized(isa: str, threads: int) -> None:
    """A larger layer (2 threads split its rows), invoked twice, then resized."""
    rng = np.random.default_rng(7)
    lib = ALL_TAP_MASKS_WITH_CENTRE[:8]
    w, ids = pattern_pruned_filters(rng, 64, 48, lib, 0.5)
    quant = choose_quant(rng, w)
    wq, _ = quantize_filters(w)
    model = build_quantized_conv_model(
        (1, 28, 28, 48),
        wq,
        quant,
        quantized_bias(rng, quant, 64),
        activation="RELU",
        metadata=metadata_for(lib, ids, 0.5),
    )
    delegate = patternlite.load_delegate(int8="all", isa=isa, num_threads=threads)
    for shape in [(1, 28, 28, 48), (2, 17, 31, 48)]:
        x = rng.integers(-128, 128, shape).astype(np.int8)
        ref_i = make_interpreter(model, reference=True)
        ref_i.resize_tensor_input(ref_i.get_input_details()[0]["index"], list(shape))
        ref_i.allocate_tensors()
        ref_i.set_tensor(ref_i.get_input_details()[0]["index"], x)
        ref_i.invoke()
        ref = ref_i.get_tensor(ref_i.get_output_details()[0]["index"])
        interp = make_interpreter(model, delegate=delegate, reference=True, threads=threads)
        interp.resize_tensor_input(interp.get_input_details()[0]["index"], list(shape))
        interp.allocate_tensors()
        for _ in range(2):
            interp.set_tensor(interp.get_input_details()[0]["index"], x)
            interp.invoke()
            out = interp.get_tensor(interp.get_output_details()[0]["index"])
            assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
            assert (out == ref).mean() >= EXACT_FRACTION
    claim = delegate.stats()["claimed"][-1]
    assert claim["dtype"] == "int8" and claim["int8_kernel"]
    if threads == 2:
        assert claim["plan"]["threads"] == 2


def test_int8_runs_on_cpu_with_opencl_backend_requested() -> None:
    """backend=auto without a GPU and cpu alike: the int8 node is a CPU node."""
    rng = np.random.default_rng(8)
    w, _ = pattern_pruned_filters(rng, 8, 8, ALL_TAP_MASKS_WITH_CENTRE[:4], 0.5)
    quant = choose_quant(rng, w)
    model = build_quantized_conv_model((1, 9, 9, 8), quantize_filters(w)[0], quant)
    x = rng.integers(-128, 128, (1, 9, 9, 8)).astype(np.int8)
    ref, _ = invoke(model, x)
    delegate = patternlite.load_delegate(int8="all", backend="auto")
    out, _ = invoke(model, x, delegate)
    assert delegate.stats()["claimed"][0]["backend"] == "cpu"
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


# --- declines ---------------------------------------------------------------------------------------------


def _declined(model: bytes, x: npt.NDArray[Any], reason_part: str, **load: Any) -> None:
    ref, _ = invoke(model, x)
    delegate = patternlite.load_delegate(int8="all", log_level="silent", **load)
    out, interp = invoke(model, x, delegate)
    stats = delegate.stats()
    assert delegated_op_count(interp) == 0 and not stats["claimed"]
    assert reason_part in stats["declined"][0]["reason"], stats["declined"]
    np.testing.assert_array_equal(out, ref)


def _pruned_quant(
    seed: int, out_c: int = 8, in_c: int = 8
) -> tuple[npt.NDArray[np.int8], Int8Quant, npt.NDArray[np.float32]]:
    rng = np.random.default_rng(seed)
    w, _ = pattern_pruned_filters(rng, out_c, in_c, ALL_TAP_MASKS_WITH_CENTRE[:4], 0.5)
    return quantize_filters(w)[0], choose_quant(rng, w), w


def test_int16_activations_are_declined() -> None:
    wq, quant, _ = _pruned_quant(20)
    quant.input_zero_point = quant.output_zero_point = 0  # 16x8: symmetric activations
    model = build_quantized_conv_model((1, 9, 9, 8), wq, quant, np.zeros(8, np.int64), activation_type="int16")
    x = np.random.default_rng(21).integers(-3000, 3000, (1, 9, 9, 8)).astype(np.int16)
    _declined(model, x, "int16 activations")


def test_uint8_model_is_declined() -> None:
    rng = np.random.default_rng(22)
    w, _ = pattern_pruned_filters(rng, 8, 8, ALL_TAP_MASKS_WITH_CENTRE[:4], 0.5)
    scale = float(np.abs(w).max() / 127)
    wq = (np.round(w / scale) + 128).astype(np.uint8)
    quant = Int8Quant(0.03, 128, np.array([scale], np.float32), 0.1, 120)
    zp = np.array([128], np.int64)
    bias = np.zeros(8, np.int32)
    model = build_quantized_conv_model((1, 9, 9, 8), wq, quant, bias, activation_type="uint8", filter_zero_points=zp)
    _declined(model, rng.integers(0, 256, (1, 9, 9, 8)).astype(np.uint8), "uint8")


def test_per_tensor_weights_are_claimed_by_broadcasting_the_scale() -> None:
    wq, quant, w = _pruned_quant(23)
    scale = float(np.abs(w).max() / 127)
    wq = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
    quant.filter_scales = np.array([scale], np.float32)
    model = build_quantized_conv_model((1, 9, 9, 8), wq, quant, quantized_bias(np.random.default_rng(0), quant, 8))
    x = np.random.default_rng(24).integers(-128, 128, (1, 9, 9, 8)).astype(np.int8)
    ref, _ = invoke(model, x)
    delegate = patternlite.load_delegate(int8="all")
    out, interp = invoke(model, x, delegate)
    assert delegated_op_count(interp) == 1 and delegate.stats()["claimed"][0]["dtype"] == "int8"
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


@pytest.mark.parametrize(
    "edit,reason",
    [
        ("zero_point", "zero point"),
        ("dimension", "dimension 3"),
        ("dense", "not pattern-sparse"),
        ("sparsity", "min_sparsity"),
        ("filter_input", "not a constant"),
        ("metadata", "outside metadata pattern"),
    ],
)
def test_int8_declines(edit: str, reason: str) -> None:
    """What the int8 judge declines, each with its reason; TFLite runs the node (same output) where it can."""
    wq, quant, _ = _pruned_quant(25)
    rng = np.random.default_rng(26)
    x = rng.integers(-128, 128, (1, 9, 9, 8)).astype(np.int8)
    kwargs: dict[str, Any] = {}
    load: dict[str, Any] = {}
    if edit == "zero_point":
        kwargs["filter_zero_points"] = np.ones(8, np.int64)
    elif edit == "dimension":
        kwargs["quantized_dimension"] = 3
    elif edit == "dense":
        wq = rng.integers(-127, 128, wq.shape).astype(np.int8)
    elif edit == "sparsity":
        load["min_sparsity"] = 0.9
    elif edit == "filter_input":
        kwargs["filter_is_input"] = True
    elif edit == "metadata":
        # Metadata naming this filter with patterns the weights do not follow.
        wrong_ids = np.zeros((8, 8), np.uint8)
        kwargs["metadata"] = metadata_for([0b000010000 | 0b111], wrong_ids, 1.0)
    model = build_quantized_conv_model((1, 9, 9, 8), wq, quant, **kwargs)
    if edit in ("zero_point", "dimension", "filter_input"):
        # TFLite's builtin int8 conv itself refuses these files: only the decline is checked.
        delegate = patternlite.load_delegate(int8="all", log_level="silent")
        interp = make_interpreter(model, delegate=delegate, reference=True)
        with contextlib.suppress(RuntimeError, ValueError):
            interp.allocate_tensors()
        assert not delegate.stats()["claimed"]
        assert reason in delegate.stats()["declined"][0]["reason"], delegate.stats()["declined"]
        return
    _declined(model, x, reason, **load)


# --- models converted by TensorFlow ------------------------------------------------------------------------


def _convert_int8(model: Any, samples: list[npt.NDArray[np.float32]], int8_io: bool) -> bytes:
    tf = pytest.importorskip("tensorflow")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return bytes(converter.convert())


def _compare_converted(tfl: bytes, x: npt.NDArray[np.float32], isa: str) -> tuple[int, int, int, dict[str, Any]]:
    """(differing outputs, outputs, max quanta, stats) of the delegate against builtin on a converted model."""
    probe = make_interpreter(tfl, reference=True)
    d_in, d_out = probe.get_input_details()[0], probe.get_output_details()[0]
    if d_in["dtype"] == np.int8:
        scale, zero = d_in["quantization"]
        x = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
    out_scale = d_out["quantization"][0] or 1.0
    ref, _ = invoke(tfl, x)
    delegate = patternlite.load_delegate(int8="all", isa=isa)
    out, interp = invoke(tfl, x, delegate)
    diff = quanta(out, ref, out_scale)
    return int((diff > 0).sum()), int(diff.size), int(diff.max(initial=0)), delegate.stats()


@pytest.mark.tensorflow
@pytest.mark.parametrize("int8_io", [False, True])
def test_tf_converted_single_conv(int8_io: bool) -> None:
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(30)
    w, _ = pattern_pruned_filters(rng, 24, 16, ALL_TAP_MASKS_WITH_CENTRE[:6], 0.5)
    inp = tf.keras.Input((14, 14, 16), batch_size=1)
    conv = tf.keras.layers.Conv2D(24, 3, padding="same", activation="relu")
    model = tf.keras.Model(inp, conv(inp))
    conv.set_weights([w.transpose(1, 2, 3, 0), rng.standard_normal(24).astype(np.float32) * 0.1])
    samples = [rng.standard_normal((1, 14, 14, 16)).astype(np.float32) for _ in range(16)]
    tfl = _convert_int8(model, samples, int8_io)
    for isa in ISAS:
        differing, total, max_q, stats = _compare_converted(tfl, samples[0], isa)
        print(f"\nTF int8 single conv (int8 I/O {int8_io}, {isa}): {total - differing}/{total} bit-exact, max {max_q}")
        assert [c["dtype"] for c in stats["claimed"]] == ["int8"], stats["declined"]
        assert max_q <= 1 and differing <= (1 - EXACT_FRACTION) * total


def _pattern_prune_convs(model: Any, keep: float, rng: np.random.Generator) -> None:
    """Magnitude pattern pruning by hand: each 3x3 kernel keeps its 4 largest taps; then the
    `keep` fraction of kernels with the most energy stays, the rest is zeroed."""
    import tensorflow as tf

    for layer in model.layers:
        if not isinstance(layer, tf.keras.layers.Conv2D) or layer.kernel.shape[0] != 3:
            continue
        weights = layer.get_weights()
        w = weights[0]  # HWIO
        flat = w.reshape(9, -1)
        order = np.argsort(-np.abs(flat), axis=0)
        mask = np.zeros_like(flat)
        np.put_along_axis(mask, order[:4], 1.0, axis=0)
        flat = flat * mask
        energy = (flat**2).sum(axis=0)
        n_keep = max(1, int(round(keep * energy.size)))
        kept = np.zeros(energy.size, bool)
        kept[np.argsort(-energy)[:n_keep]] = True
        weights[0] = (flat * kept).reshape(w.shape)
        layer.set_weights(weights)


@pytest.mark.tensorflow
@pytest.mark.slow
def test_digits_cnn_int8_all_convs_claimed() -> None:
    """The converter tests' digits CNN, pattern-pruned, converted to int8: every 3x3 conv is claimed
    and the logits are within 1 quantum of TFLite's builtin kernels."""
    pytest.importorskip("tensorflow")
    from patternlite.converter.models import digits_data, train_digits_cnn

    x_train, _, x_test, _ = digits_data()
    model = train_digits_cnn(epochs=2)
    _pattern_prune_convs(model, 0.5, np.random.default_rng(31))
    samples = [x_train[i : i + 1] for i in range(0, 400, 8)]
    tfl = _convert_int8(model, samples, int8_io=False)
    n_convs = sum(1 for op in make_interpreter(tfl)._get_ops_details() if op["op_name"] == "CONV_2D")
    assert n_convs == 4
    for isa in ISAS:
        differing, total, max_q, stats = _compare_converted(tfl, x_test[:1], isa)
        print(
            f"\ndigits CNN int8 ({isa}): {len(stats['claimed'])}/{n_convs} convs claimed, "
            f"{total - differing}/{total} logits bit-exact, max {max_q} quanta"
        )
        assert len(stats["claimed"]) == n_convs, stats["declined"]
        assert all(c["dtype"] == "int8" for c in stats["claimed"])
        assert max_q <= 1


# --- the int8 option ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("choice,claimed", [("auto", False), ("none", False), ("all", True)])
def test_int8_option_decides_whether_an_exact_int8_conv_is_claimed(choice: str, claimed: bool) -> None:
    """``auto`` leaves int8 convs to TFLite until their kernels beat XNNPACK; ``all`` claims; either way exact."""
    wq, quant, _ = _pruned_quant(31)
    model = build_quantized_conv_model((1, 9, 9, 8), wq, quant, quantized_bias(np.random.default_rng(1), quant, 8))
    x = np.random.default_rng(32).integers(-128, 128, (1, 9, 9, 8)).astype(np.int8)
    ref, _ = invoke(model, x)
    delegate = patternlite.load_delegate(int8=choice, log_level="silent")
    out, interp = invoke(model, x, delegate)
    stats = delegate.stats()
    assert stats["options"]["int8"] == choice
    assert delegated_op_count(interp) == int(claimed) and bool(stats["claimed"]) == claimed
    if not claimed:
        reason = stats["declined"][0]["reason"]
        assert ("int8='none'" in reason) if choice == "none" else ("not yet faster than XNNPACK" in reason)
        np.testing.assert_array_equal(out, ref)
    else:
        assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


def _block_pruned_quant(
    seed: int, out_c: int, in_c: int, keep: float, *, taps: int = 3, shared: bool = False
) -> tuple[npt.NDArray[np.int8], Int8Quant]:
    """Block-structured filters (``--connectivity block``): the 16 filters of a block keep the same
    round(keep * in_c) input channels, each kept kernel its own pattern (``taps`` = 1: a 1x1 conv);
    ``shared`` (``--connectivity shared``): the block's filters read each kept channel through one pattern."""
    rng = np.random.default_rng(seed)
    if taps == 3 and shared:
        w = rng.standard_normal((out_c, 3, 3, in_c)).astype(np.float32)
        library = ALL_TAP_MASKS_WITH_CENTRE[:4]
        for start in range(0, out_c, 16):
            for i in range(in_c):
                m = library[rng.integers(len(library))]
                w[start : start + 16, :, :, i] *= np.array([(m >> b) & 1 for b in range(9)], np.float32).reshape(3, 3)
    elif taps == 3:
        w, _ = pattern_pruned_filters(rng, out_c, in_c, ALL_TAP_MASKS_WITH_CENTRE[:4], 1.0)
    else:
        w = rng.standard_normal((out_c, 1, 1, in_c)).astype(np.float32)
    n_keep = max(1, round(keep * in_c))
    for start in range(0, out_c, 16):
        dropped = rng.permutation(in_c)[n_keep:]
        w[start : start + 16, :, :, dropped] = 0
    return quantize_filters(w)[0], choose_quant(rng, w)


def _run_auto(wq: npt.NDArray[np.int8], quant: Int8Quant, isa: str = "auto") -> tuple[dict[str, Any], int]:
    """Runs a 12x12 layer under int8='auto'; returns the stats and the largest difference from TFLite in quanta."""
    in_c = wq.shape[3]
    model = build_quantized_conv_model(
        (1, 12, 12, in_c), wq, quant, quantized_bias(np.random.default_rng(5), quant, wq.shape[0])
    )
    x = np.random.default_rng(6).integers(-128, 128, (1, 12, 12, in_c)).astype(np.int8)
    ref, _ = invoke(model, x)
    delegate = patternlite.load_delegate(int8="auto", isa=isa, log_level="silent")
    out, interp = invoke(model, x, delegate)
    stats = delegate.stats()
    assert delegated_op_count(interp) == len(stats["claimed"])
    return stats, int(np.abs(out.astype(int) - ref.astype(int)).max())


def _filter_lanes_available() -> bool:
    """Whether this CPU runs the AVX-512 VNNI int8 kernel (the one that hands layers to filter lanes)."""
    wq, quant, _ = _pruned_quant(40, out_c=16, in_c=8)
    model = build_quantized_conv_model((1, 6, 6, 8), wq, quant, np.zeros(16, np.int64))
    delegate = patternlite.load_delegate(int8="all", log_level="silent")
    invoke(model, np.zeros((1, 6, 6, 8), np.int8), delegate)
    claimed = delegate.stats()["claimed"]
    return bool(claimed) and claimed[0]["int8_kernel"] == "avx512vnni"


def _assert_auto_declines(wq: npt.NDArray[np.int8], quant: Int8Quant, what: str, head: str, reason: str) -> None:
    """int8='auto' leaves the layer to TFLite (outputs unchanged), saying it is not yet faster and, on
    AVX-512 VNNI (where the policy's figures apply), what the layer lacks."""
    stats, max_q = _run_auto(wq, quant)
    assert not stats["claimed"] and max_q == 0, what
    declined = stats["declined"][0]["reason"]
    assert head in declined and "int8='all' claims it" in declined, declined
    if _filter_lanes_available():
        assert reason in declined, declined


@pytest.mark.parametrize("keep", [0.5, 0.28])
def test_auto_claims_a_block_structured_int8_conv_where_filter_lanes_beat_xnnpack(keep: float) -> None:
    """int8='auto' claims a 3x3 conv with >= 64 filters whose blocks of 16 share their kept inputs,
    on AVX-512 VNNI (filter lanes: 1.2-2.6x XNNPACK int8 dense, docs/int8.md); elsewhere it says why not."""
    wq, quant = _block_pruned_quant(41, 64, 32, keep)
    stats, max_q = _run_auto(wq, quant)
    assert max_q <= 1
    if _filter_lanes_available():
        assert len(stats["claimed"]) == 1, stats["declined"]
        assert stats["claimed"][0]["dtype"] == "int8" and stats["claimed"][0]["int8_kernel"] == "avx512vnni"
    else:
        assert not stats["claimed"] and "the isa option gives" in stats["declined"][0]["reason"]
    # A forced ISA without the filter-lane kernel is left to TFLite, with the reason.
    stats, max_q = _run_auto(wq, quant, isa="avx2")
    assert not stats["claimed"] and max_q == 0
    assert "the isa option gives the " in stats["declined"][0]["reason"], stats["declined"]


@pytest.mark.parametrize("keep", [1.0, 0.5])
def test_auto_claims_a_shared_pattern_int8_conv_at_any_keep(keep: float) -> None:
    """int8='auto' claims a 3x3 conv with >= 64 filters whose blocks of 16 read each kept channel through
    one pattern, patterns only included (the shared-pattern kernel: 1.2-1.5x XNNPACK int8 dense at keep 1.0,
    docs/int8.md), within 1 quantum of TFLite; elsewhere it says why not."""
    wq, quant = _block_pruned_quant(43, 80, 24, keep, shared=True)
    stats, max_q = _run_auto(wq, quant)
    assert max_q <= 1
    if _filter_lanes_available():
        assert len(stats["claimed"]) == 1, stats["declined"]
        assert stats["claimed"][0]["int8_tiles"] == "shared_pattern"
        # The same layer with a pattern per kernel runs other tiles (and auto leaves it at keep 1.0).
        wq2, quant2 = _block_pruned_quant(43, 80, 24, keep)
        delegate = patternlite.load_delegate(int8="all", log_level="silent")
        model = build_quantized_conv_model((1, 8, 8, 24), wq2, quant2, np.zeros(80, np.int64))
        invoke(model, np.zeros((1, 8, 8, 24), np.int8), delegate)
        assert delegate.stats()["claimed"][0]["int8_tiles"] in ("filter_lanes", "pixel_lanes")
    else:
        assert not stats["claimed"] and "the isa option gives" in stats["declined"][0]["reason"]


@pytest.mark.parametrize(
    "what,out_c,keep,block,reason",
    [
        ("per-kernel pruning at keep 0.5", 64, 0.5, False, "of its pairs are non-empty"),
        ("patterns only", 64, 1.0, True, "of its pairs are non-empty"),
        ("too few filters", 32, 0.28, True, "it has 32 output channels"),
    ],
)
def test_auto_declines_int8_convs_where_xnnpack_is_faster(
    what: str, out_c: int, keep: float, block: bool, reason: str
) -> None:
    """Per-kernel pruning leaves nearly every (block, channel) pair non-empty and keep 0.5 measured
    0.8-1.2x XNNPACK; keep 1.0 0.8-1.0x; below 64 filters nothing was measured: all left to TFLite
    with the reason."""
    if block:
        wq, quant = _block_pruned_quant(42, out_c, 32, keep)
    else:
        rng = np.random.default_rng(42)
        w, _ = pattern_pruned_filters(rng, out_c, 32, ALL_TAP_MASKS_WITH_CENTRE[:4], keep)
        wq, quant = quantize_filters(w)[0], choose_quant(rng, w)
    _assert_auto_declines(wq, quant, what, "not yet faster than XNNPACK", reason)


def _quad_pruned_pointwise(seed: int, out_c: int, in_c: int, keep: float) -> tuple[npt.NDArray[np.int8], Int8Quant]:
    """A 1x1 conv pruned as ``--pointwise-quads`` prunes: each block of 16 filters keeps whole
    aligned fours of inputs, round(keep * in_c / 4) of them."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((out_c, 1, 1, in_c)).astype(np.float32)
    quads = in_c // 4
    for start in range(0, out_c, 16):
        for q in rng.permutation(quads)[max(1, round(keep * in_c / 4)) :]:
            w[start : start + 16, :, :, 4 * q : 4 * q + 4] = 0
    return quantize_filters(w)[0], choose_quant(rng, w)


def test_auto_claims_int8_pointwise_with_kept_inputs_in_aligned_fours() -> None:
    """int8='auto' claims a 1x1 conv with >= QUAD_MIN_INPUTS inputs and >= QUAD_MIN_OUTPUTS outputs
    whose blocks keep whole aligned fours at low keep (measured 1.05-2.2x XNNPACK int8 dense,
    docs/int8.md); exact."""
    wq, quant = _quad_pruned_pointwise(43, 64, 128, 0.28)
    stats, max_q = _run_auto(wq, quant)
    assert max_q == 0
    if _filter_lanes_available():
        assert len(stats["claimed"]) == 1, stats["declined"]
        assert stats["claimed"][0]["kind"] == "pointwise" and stats["claimed"][0]["dtype"] == "int8"
    else:
        assert not stats["claimed"] and "the isa option gives" in stats["declined"][0]["reason"]


@pytest.mark.parametrize(
    "what,out_c,in_c,quads,reason",
    [
        ("inputs kept one by one", 64, 128, False, "of its pairs are touched"),
        ("too few inputs", 64, QUAD_MIN_INPUTS - 4, True, f"it has {QUAD_MIN_INPUTS - 4} inputs and 64 outputs"),
        ("too few outputs", QUAD_MIN_OUTPUTS - 8, 128, True, f"it has 128 inputs and {QUAD_MIN_OUTPUTS - 8} outputs"),
    ],
)
def test_auto_declines_int8_pointwise_where_xnnpack_is_faster(
    what: str, out_c: int, in_c: int, quads: bool, reason: str
) -> None:
    """Inputs kept one by one touch ~73% of the fours at keep 0.28 (0.7-1.1x XNNPACK); layers smaller
    than any measured to gain (spec/contract.toml's quad_min_*): left to TFLite with the reason."""
    if quads:
        wq, quant = _quad_pruned_pointwise(44, out_c, in_c, 0.28)
    else:
        wq, quant = _block_pruned_quant(44, out_c, in_c, 0.28, taps=1)
    _assert_auto_declines(wq, quant, what, "int8 pointwise kernel is exact but not yet faster", reason)


def test_auto_claims_a_per_kernel_pruned_int8_conv_at_low_keep() -> None:
    """At most 0.35 of the kernels kept, any structure: the int8 kernels measured faster than XNNPACK."""
    rng = np.random.default_rng(44)
    w, _ = pattern_pruned_filters(rng, 64, 32, ALL_TAP_MASKS_WITH_CENTRE[:4], 0.28)
    wq, quant = quantize_filters(w)[0], choose_quant(rng, w)
    stats, max_q = _run_auto(wq, quant)
    assert max_q == 0
    if _filter_lanes_available():
        assert len(stats["claimed"]) == 1 and stats["claimed"][0]["dtype"] == "int8", stats["declined"]
    else:
        assert not stats["claimed"] and "the isa option gives" in stats["declined"][0]["reason"]


def test_int8_conv_threads_are_tuned_and_results_stay_exact() -> None:
    """At 2 threads with autotune (the default), an int8 3x3 conv large enough for the pool first
    alternates the pool's plan and a one-thread plan and keeps the faster (int8 layers do their MACs
    3-4x faster than the fp32 ones the thread threshold was measured on); every run bit-exact."""
    wq, quant = _block_pruned_quant(61, 64, 64, 0.5)
    shape = (1, 40, 40, 64)
    model = build_quantized_conv_model(shape, wq, quant, quantized_bias(np.random.default_rng(62), quant, 64))
    delegate = patternlite.load_delegate(int8="all", num_threads=2, log_level="silent")
    x0 = np.random.default_rng(0).integers(-128, 128, shape).astype(np.int8)
    _, interp = invoke(model, x0, delegate, threads=2)
    first = delegate.stats()["claimed"][0]["plan"]
    assert first["threads"] == 2 and first["tuned"] is False, first
    idx_in, idx_out = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    for i in range(8):
        x = np.random.default_rng(i).integers(-128, 128, shape).astype(np.int8)
        expected, _ = invoke(model, x)
        interp.set_tensor(idx_in, x)
        interp.invoke()
        np.testing.assert_array_equal(interp.get_tensor(idx_out), expected)
    plan = delegate.stats()["claimed"][0]["plan"]
    assert plan["tuned"] is True and plan["threads"] in (1, 2), plan
