"""The int8 residual ADD the delegate claims next to its int8 convs (delegate/kernels/add_int8.h).

TFLite's int8 ADD is fixed point: both inputs shifted left by 20 and rescaled
by a Q31 multiplier each, summed, rescaled to the output. Its builtin kernel
computes whole groups of 16 elements with its vector code and the last
size % 16 with its scalar code, which round differently: the pinned cases
below are input pairs on which the two differ, and TFLite is checked to take
each where the delegate does. Every claimed ADD is compared with TFLite's
builtin ADD on the very same input tensors: bit-exact, no tolerance.

    .venv/bin/python -m pytest -q tests/test_int8_add.py
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from int8_models import quantize_filters

import patternlite
from patternlite.delegate import isa_available

from conv_models import pattern_pruned_filters
from graph_models import GraphBuilder, builtin_add, execution_plan_ops
from runtimes import make_interpreter, run_keeping_tensors

LIBRARY = [0b000111010, 0b010110010, 0b010011010, 0b010111000]
I8 = npt.NDArray[np.int8]
Quant = tuple[float, int]

# (input 1, input 2, output) quantizations and an input pair on which
# AddElementwiseInt8's vector and scalar formulas give different outputs
# (found by searching all 65536 pairs of random quantizations).
PINNED: list[tuple[Quant, Quant, Quant, tuple[int, int]]] = [
    ((0.0688270851969719, 88), (0.08685784041881561, 5), (0.01315766479820013, 103), (-15, 72)),
    ((0.03960241749882698, -62), (0.020574748516082764, -110), (0.08134390413761139, 59), (-126, -56)),
    ((0.038128215819597244, -68), (0.09627995640039444, -85), (0.1402606964111328, -111), (-93, 48)),
    ((0.03178924694657326, 65), (0.016705647110939026, 114), (0.15171517431735992, -19), (67, 33)),
]


def _conv_filters(seed: int, c: int) -> tuple[I8, npt.NDArray[np.float32]]:
    w = pattern_pruned_filters(np.random.default_rng(seed), c, c, LIBRARY, 0.5)[0]
    return quantize_filters(w)


def _residual(shape: tuple[int, ...], qx: Quant, qy: Quant, qz: Quant, activation: str) -> bytes:
    """x -> int8 conv (claimed) -> ADD(conv, x): the ADD reads a claimed conv's output."""
    g = GraphBuilder()
    x = g.input(shape, int8=qx)
    y = g.conv_int8(x, *_conv_filters(1, shape[-1]), qy, activation="RELU")
    return g.build([g.add(y, x, int8=qz, activation=activation)])


def _add_then_conv(shape: tuple[int, ...], qa: Quant, qb: Quant, qz: Quant) -> bytes:
    """ADD(a, b) -> int8 conv (claimed): the ADD's inputs are the model's."""
    g = GraphBuilder()
    a, b = g.input(shape, int8=qa), g.input(shape, int8=qb)
    s = g.add(a, b, int8=qz)
    return g.build([g.conv_int8(s, *_conv_filters(2, shape[-1]), (0.05, 0))])


def _delegated(model: bytes, inputs: list[I8], **options: Any) -> tuple[Any, Any]:
    """The model under the delegate (int8="all"; TFLite's builtin kernels elsewhere), every tensor kept."""
    delegate = patternlite.load_delegate(int8="all", **options)
    return run_keeping_tensors(model, inputs, delegate), delegate


def _tensor(interp: Any, name: str) -> I8:
    [detail] = [d for d in interp.get_tensor_details() if d["name"] == name]
    return np.array(interp.get_tensor(detail["index"]))


def _builtin_add(a: I8, b: I8, qa: Quant, qb: Quant, qz: Quant, activation: str = "NONE") -> I8:
    """TFLite's builtin int8 ADD of `a` and `b` (no XNNPACK)."""
    return builtin_add(a, b, activation=activation, quant=(qa, qb, qz))


def _random_quant(rng: np.random.Generator, scale: float) -> Quant:
    return float(np.float32(scale * rng.uniform(0.5, 2.0))), int(rng.integers(-128, 128))


def _claimed_add(delegate: Any) -> dict[str, Any]:
    [claim] = delegate.stats()["claimed_ops"]
    return dict(claim)


@pytest.mark.parametrize("activation", ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"])
@pytest.mark.parametrize("shape", [(1, 6, 6, 16), (1, 5, 7, 8), (2, 3, 3, 24)])
def test_int8_residual_add_is_claimed_and_bit_exact(activation: str, shape: tuple[int, ...]) -> None:
    """(1, 5, 7, 8) has 280 elements: 17 whole groups of 16 and a tail of 8."""
    rng = np.random.default_rng(sum(shape))
    qx, qy, qz = _random_quant(rng, 0.05), _random_quant(rng, 0.05), _random_quant(rng, 0.08)
    model = _residual(shape, qx, qy, qz, activation)
    x = rng.integers(-128, 128, shape).astype(np.int8)
    interp, delegate = _delegated(model, [x])
    claim = _claimed_add(delegate)
    assert claim["op"] == "ADD" and claim["dtype"] == "int8" and claim["activation"] == activation
    assert "after claimed conv" in claim["reason"]
    assert execution_plan_ops(interp) == ["DELEGATE", "DELEGATE"]
    y = _tensor(interp, "conv0/out")
    out = np.array(interp.get_tensor(interp.get_output_details()[0]["index"]))
    np.testing.assert_array_equal(out, _builtin_add(y, x, qy, qx, qz, activation))
    # The whole graph, conv included, as TFLite's builtin kernels run it.
    ref = make_interpreter(model, reference=True)
    ref.allocate_tensors()
    ref.set_tensor(ref.get_input_details()[0]["index"], x)
    ref.invoke()
    np.testing.assert_array_equal(out, ref.get_tensor(ref.get_output_details()[0]["index"]))


@pytest.mark.parametrize("case", range(len(PINNED)))
@pytest.mark.parametrize("where", ["group", "tail"])
def test_pinned_pairs_round_as_tflite_in_groups_and_tail(case: int, where: str) -> None:
    """The pair sits in a whole group of 16 or in the tail; TFLite's two formulas differ
    on it, and the delegate must give what TFLite gives at that position."""
    qa, qb, qz, (pa, pb) = PINNED[case]
    shape = (1, 1, 5, 5)  # 25 elements: one group of 16, a tail of 9
    a = np.full(shape, pa, np.int8)
    b = np.full(shape, pb, np.int8)
    ref = _builtin_add(a, b, qa, qb, qz).ravel()
    # The pin is meaningful only if TFLite's group and tail outputs differ on it.
    assert ref[0] != ref[-1]
    interp, delegate = _delegated(_add_then_conv(shape, qa, qb, qz), [a, b])
    assert _claimed_add(delegate)["reason"].startswith("before claimed conv")
    out = _tensor(interp, "add0/out").ravel()
    picked = out[:16] if where == "group" else out[16:]
    expected = ref[:16] if where == "group" else ref[16:]
    np.testing.assert_array_equal(picked, expected)


@pytest.mark.parametrize("isa", [isa for isa in ("scalar", "avx512") if isa_available(isa)])
def test_int8_add_sweep_matches_tflite(isa: str) -> None:
    """Random quantizations (input scales up to 2^6 apart, outputs finer and coarser),
    random sizes and zero points; every ADD claimed and bit-exact."""
    rng = np.random.default_rng(77)
    for _ in range(40):
        shape = (1, int(rng.integers(1, 5)), int(rng.integers(1, 9)), 8)
        base = float(np.exp2(rng.uniform(-8, 0)))
        qa = _random_quant(rng, base)
        qb = _random_quant(rng, base * float(np.exp2(rng.uniform(-6, 6))))
        qz = _random_quant(rng, base * float(np.exp2(rng.uniform(-3, 3))))
        a = rng.integers(-128, 128, shape).astype(np.int8)
        b = rng.integers(-128, 128, shape).astype(np.int8)
        interp, delegate = _delegated(_add_then_conv(shape, qa, qb, qz), [a, b], isa=isa)
        assert len(delegate.stats()["claimed_ops"]) == 1
        np.testing.assert_array_equal(_tensor(interp, "add0/out"), _builtin_add(a, b, qa, qb, qz))


def test_int8_add_declines_what_it_cannot_reproduce() -> None:
    """Input scales 2^22 apart (TFLite's vector code would shift right where it shifts
    left) and a broadcasting ADD stay with TFLite, each with its reason. (An output
    multiplier above 1, also declined, makes TFLite's own Prepare abort.)"""
    shape = (1, 4, 4, 8)
    model = _add_then_conv(shape, (0.5, 0), (0.5 / 2**22, 0), (0.5, 0))
    _, delegate = _delegated(model, [np.zeros(shape, np.int8)] * 2)
    [decline] = delegate.stats()["declined_ops"]
    assert "input scales more than 2^20 apart" in decline["reason"]

    g = GraphBuilder()
    a, b = g.input(shape, int8=(0.05, 0)), g.input((1, 1, 1, 8), int8=(0.05, 0))
    s = g.add(a, b, int8=(0.1, 0), shape=shape)
    model = g.build([g.conv_int8(s, *_conv_filters(2, 8), (0.05, 0))])
    _, delegate = _delegated(model, [np.zeros(shape, np.int8), np.zeros((1, 1, 1, 8), np.int8)])
    [decline] = delegate.stats()["declined_ops"]
    assert "broadcast" in decline["reason"]


@pytest.mark.skipif(not isa_available("avx2"), reason="needs an x86-64 CPU with AVX2")
def test_int8_add_without_a_vector_kernel_stays_with_xnnpack() -> None:
    """AVX2 has no int8 ADD kernel: a scalar one would be slower than XNNPACK's, so the
    ADD is left to TFLite, with the reason."""
    shape = (1, 4, 4, 8)
    model = _residual(shape, (0.05, 0), (0.05, 0), (0.1, 0), "NONE")
    _, delegate = _delegated(model, [np.zeros(shape, np.int8)], isa="avx2")
    assert delegate.stats()["claimed_ops"] == []
    [decline] = delegate.stats()["declined_ops"]
    assert "no vector kernel for avx2" in decline["reason"]
