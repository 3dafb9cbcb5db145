"""The cheap ops the delegate claims next to its convs (delegate/runtime/op_claim.h).

A float32 ADD that reads a claimed conv's output, or feeds a claimed conv, is
taken so that XNNPACK is not cut into one-op partitions between the convs.
Claimed ADDs are bit-exact against TFLite's builtin ADD; every other ADD stays
with TFLite, and stats() says which were taken and why.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import patternlite

from conv_models import pattern_pruned_filters
from graph_models import GraphBuilder, builtin_add, execution_plan_ops
from runtimes import delegated_op_count, make_interpreter, max_scaled_error, run, run_keeping_tensors

LIBRARY = [0b000111010, 0b010110010, 0b010011010, 0b010111000]  # centre + 3 neighbours each
SHAPE = (1, 10, 10, 8)


def _pruned(seed: int, c: int = 8) -> npt.NDArray[np.float32]:
    return pattern_pruned_filters(np.random.default_rng(seed), c, c, LIBRARY, 0.5)[0]


def _residual_model(blocks: int = 2, add_activation: str = "RELU") -> bytes:
    """stem conv, then `blocks` basic blocks: conv-relu, conv, ADD(block input), activation."""
    g = GraphBuilder()
    x = g.conv(g.input(SHAPE), _pruned(0), activation="RELU")
    for b in range(blocks):
        y = g.conv(x, _pruned(10 + 2 * b), activation="RELU")
        y = g.conv(y, _pruned(11 + 2 * b))
        x = g.add(y, x, activation=add_activation)
    return g.build([x])


def _x(seed: int = 0, shape: tuple[int, ...] = SHAPE) -> npt.NDArray[np.float32]:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _plan_ops(interp: Any) -> list[str]:
    return execution_plan_ops(interp)


@pytest.mark.parametrize("activation", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
@pytest.mark.parametrize("threads", [1, 2])
def test_residual_adds_are_claimed_and_bit_exact(activation: str, threads: int) -> None:
    model = _residual_model(blocks=2, add_activation=activation)
    x = _x(1)
    ref, _ = run(model, x, reference=True)
    delegate = patternlite.load_delegate(num_threads=threads)
    # Builtin resolver: no XNNPACK, so every DELEGATE node is ours.
    out, interp = run(model, x, delegate=delegate, reference=True, threads=threads)
    stats = delegate.stats()
    assert len(stats["claimed"]) == 5
    ops = stats["claimed_ops"]
    assert [op["op"] for op in ops] == ["ADD", "ADD"]
    assert all(op["activation"] == activation and op["dtype"] == "float32" for op in ops)
    assert all(op["invocations"] == 1 for op in ops)
    assert stats["declined_ops"] == []
    assert _plan_ops(interp) == ["DELEGATE"] * 7
    # The convs' kernels sum in another order than TFLite's: the graph agrees to rounding
    # (relative to the clamped output's scale, which RELU_N1_TO_1 makes 1 over sums of ~100) ...
    assert max_scaled_error(out, ref) <= 1e-4
    # ... and each claimed ADD is bit-exact against TFLite's ADD on the same inputs.
    interp = run_keeping_tensors(model, [x], patternlite.load_delegate(num_threads=threads), threads)
    adds = [op for op in interp._get_ops_details() if op["op_name"] == "ADD"]
    assert len(adds) == 2
    for op in adds:
        a, b = (interp.get_tensor(int(t)) for t in op["inputs"])
        got = interp.get_tensor(int(op["outputs"][0]))
        np.testing.assert_array_equal(got, builtin_add(a, b, activation=activation))


def test_claimed_add_reasons_name_its_convs() -> None:
    delegate = patternlite.load_delegate()
    run(_residual_model(blocks=2), _x(), delegate=delegate, reference=True)
    stats = delegate.stats()
    # Plan order: conv 0, block 1 = convs 1, 2 and ADD 3; block 2 = convs 4, 5 and ADD 6.
    reasons = {op["node"]: op["reason"] for op in stats["claimed_ops"]}
    assert reasons == {3: "between claimed convs 2,0 and 4", 6: "after claimed conv 5"}


def test_adds_stay_with_tflite_when_claim_ops_is_off() -> None:
    model = _residual_model(blocks=2)
    x = _x(2)
    ref, _ = run(model, x, reference=True)
    delegate = patternlite.load_delegate(claim_ops=False)
    out, interp = run(model, x, delegate=delegate, reference=True)
    stats = delegate.stats()
    assert stats["options"]["claim_ops"] is False
    assert stats["claimed_ops"] == [] and stats["declined_ops"] == []
    assert _plan_ops(interp).count("ADD") == 2
    assert max_scaled_error(out, ref) <= 1e-5


def test_xnnpack_partitions_go_down() -> None:
    """With XNNPACK (the default resolver), each ADD between claimed convs was its own
    XNNPACK partition; claiming the ADDs leaves XNNPACK nothing in this graph."""
    model = _residual_model(blocks=3)
    x = _x(3)
    ref, _ = run(model, x, reference=True)
    counts = {}
    for claim_ops in (False, True):
        delegate = patternlite.load_delegate(claim_ops=claim_ops)
        out, interp = run(model, x, delegate=delegate, threads=2)
        stats = delegate.stats()
        ours = len(stats["claimed"]) + len(stats["claimed_ops"])
        ops = _plan_ops(interp)
        assert "ADD" not in ops  # XNNPACK or the delegate took every ADD
        counts[claim_ops] = {"ours": ours, "xnnpack": delegated_op_count(interp) - ours}
        assert max_scaled_error(out, ref) <= 1e-5
    assert counts[False] == {"ours": 7, "xnnpack": 3}  # one XNNPACK partition per ADD
    assert counts[True] == {"ours": 10, "xnnpack": 0}


def test_add_not_next_to_a_claimed_conv_stays_with_tflite() -> None:
    g = GraphBuilder()
    a, b = g.input(SHAPE), g.input(SHAPE)
    s = g.add(a, b, activation="RELU")  # reads graph inputs, feeds the output only
    y = g.conv(a, _pruned(4))  # claimed, but not a neighbour of the ADD
    model = g.build([s, y])
    delegate = patternlite.load_delegate()
    interp = make_interpreter(model, delegate=delegate, reference=True)
    interp.allocate_tensors()
    stats = delegate.stats()
    assert len(stats["claimed"]) == 1 and stats["claimed_ops"] == []
    assert [(d["op"], d["node"]) for d in stats["declined_ops"]] == [("ADD", 0)]
    assert "not next to a claimed conv" in stats["declined_ops"][0]["reason"]
    assert sorted(_plan_ops(interp)) == ["ADD", "DELEGATE"]


def test_add_next_to_a_declined_conv_stays_with_tflite() -> None:
    g = GraphBuilder()
    x = g.input(SHAPE)
    dense = np.random.default_rng(5).standard_normal((8, 3, 3, 8)).astype(np.float32)
    y = g.conv(x, dense)  # not pattern-sparse: declined
    model = g.build([g.add(y, x)])
    delegate = patternlite.load_delegate()
    interp = make_interpreter(model, delegate=delegate, reference=True)
    interp.allocate_tensors()
    stats = delegate.stats()
    assert stats["claimed"] == [] and stats["claimed_ops"] == []
    assert _plan_ops(interp) == ["CONV_2D", "ADD"]


def test_broadcasting_add_is_declined() -> None:
    g = GraphBuilder()
    y = g.conv(g.input(SHAPE), _pruned(6))
    bias = g.tensor("channel_bias", (1, 1, 1, 8), np.linspace(-1, 1, 8, dtype=np.float32))
    model = g.build([g.add(y, bias, activation="RELU")])
    x = _x(7)
    ref, _ = run(model, x, reference=True)
    delegate = patternlite.load_delegate()
    out, interp = run(model, x, delegate=delegate, reference=True)
    stats = delegate.stats()
    assert stats["claimed_ops"] == []
    [decline] = stats["declined_ops"]
    assert decline["op"] == "ADD" and "different shapes [1,10,10,8] and [1,1,1,8]" in decline["reason"]
    assert sorted(_plan_ops(interp)) == ["ADD", "DELEGATE"]
    assert max_scaled_error(out, ref) <= 1e-5


def test_int16_add_is_declined() -> None:
    """Only float32 and int8 ADDs are reproduced (int8 in tests/test_int8_add.py): an
    int16 ADD stays with TFLite, and stats() says why."""
    g = GraphBuilder()
    int16 = g.s.TensorType.INT16
    a = g.tensor("a", SHAPE, int8=(0.05, 0), ttype=int16)
    b = g.tensor("b", SHAPE, int8=(0.04, 0), ttype=int16)
    g.inputs = [a, b]
    y = g.add(a, b, int8=(0.08, 0))
    g.tensors[y].type = int16
    model = g.build([y])
    delegate = patternlite.load_delegate()
    interp = make_interpreter(model, delegate=delegate, reference=True)
    interp.allocate_tensors()
    stats = delegate.stats()
    [decline] = stats["declined_ops"]
    assert "quantized ADD of type 7 (only int8 is reproduced)" in decline["reason"]
    assert _plan_ops(interp) == ["ADD"]


def test_claimed_add_follows_a_resized_input() -> None:
    model = _residual_model(blocks=1)
    x = _x(8, (2, 6, 6, 8))
    ref, _ = run(model, x, reference=True, resize=True)
    delegate = patternlite.load_delegate()
    out, _ = run(model, x, delegate=delegate, reference=True, resize=True)
    assert len(delegate.stats()["claimed_ops"]) == 1
    assert max_scaled_error(out, ref) <= 1e-5


@pytest.mark.parametrize("activation", ["NONE", "RELU"])
def test_claimed_add_overflow_and_nan_as_tflite(activation: str) -> None:
    """An ADD feeding a claimed conv, on sums that overflow and NaNs: TFLite clamps an
    overflow at +-FLT_MAX (its NONE range is [lowest, max]) and passes NaN through."""
    g = GraphBuilder()
    a, b = g.input(SHAPE), g.input(SHAPE)
    s = g.add(a, b, activation=activation)
    model = g.build([g.conv(s, _pruned(9))])
    big = np.float32(3e38)
    x = np.where(_x(10) > 0, big, -big).astype(np.float32)
    y = x.copy()
    x[0, 0, 0, :3] = [np.nan, 1.0, -big]
    y[0, 0, 0, :3] = [1.0, np.inf, big]
    delegate = patternlite.load_delegate()
    interp = run_keeping_tensors(model, [x, y], delegate)
    [op] = delegate.stats()["claimed_ops"]
    assert op["reason"] == "before claimed conv 1"
    np.testing.assert_array_equal(interp.get_tensor(s), builtin_add(x, y, activation=activation))
