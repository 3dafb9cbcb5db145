"""How TFLite's builtin int8 kernels round their requantisation, per op, measured.

TFLite rescales an int32 accumulator with a Q31 multiplier M and a shift:
first gemmlowp's SaturatingRoundingDoublingHighMul (for M > 0 it is
floor((x * M + 2^30) / 2^31)), then a rounding right shift by ``right``. How
that final shift rounds halves is up to the kernel: gemmlowp's
RoundingDivideByPOT (TFLite's reference MultiplyByQuantizedMultiplier) rounds
them away from zero; ruy's kernels, behind the optimized CONV_2D, round them
up. A third variant, TFLITE_SINGLE_ROUNDING, rounds once:
floor((x * M + 2^(30 + right)) / 2^(31 + right)).

The exact int32 accumulators are computed here in numpy, each variant is
applied, and each is compared with TFLite's builtin kernel (no default
delegate, so no XNNPACK) over many random shapes per op. Which variant
matches every output is what the delegate's kernels reproduce
(delegate/kernels/requantize.h; docs/int8.md, "Numerics"):

    .venv/bin/python -m pytest -q -s tests/test_int8_rounding.py

The pinned cases at the end put accumulators exactly on negative halves,
where the variants differ, and check TFLite's builtin kernels and the
delegate's int8 kernels (every ISA) against the hand-computed outputs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from int8_models import Int8Quant, build_quantized_conv_model, choose_quant, quantize_filters, quantized_bias

import patternlite
from patternlite.delegate import isa_available

from conv_models import ACTIVATIONS, out_size
from runtimes import delegated_op_count, make_interpreter

ISAS = [isa for isa in ("scalar", "avx2", "avx512", "neon") if isa_available(isa)]
I64 = npt.NDArray[np.int64]


# --- TFLite's requantisation, each variant, in numpy ---------------------------------------------------------


def quantize_multiplier(real: npt.NDArray[np.float64]) -> tuple[I64, I64]:
    """TFLite's QuantizeMultiplier: a Q31 multiplier (rounded half away from zero) and an exponent."""
    m, e = np.frexp(real)
    scaled = m * float(1 << 31)
    q = (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int64)
    e = np.where(q == (1 << 31), e + 1, e).astype(np.int64)
    q = np.where(q == (1 << 31), q // 2, q)
    return q, e


def doubling_high_mul(x: I64, m: I64) -> I64:
    """gemmlowp's SaturatingRoundingDoublingHighMul (x * m cannot saturate: m > 0), as gemmlowp writes it."""
    ab = x * m
    v = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    return np.where(v >= 0, v >> 31, -((-v) >> 31))  # C++'s division truncates


def shift_half_away(x: I64, right: I64) -> I64:
    """gemmlowp's RoundingDivideByPOT: x / 2^right, halves away from zero."""
    mask = (np.int64(1) << right) - 1
    return (x >> right) + ((x & mask) > (mask >> 1) + (x < 0))


def shift_half_up(x: I64, right: I64) -> I64:
    """A rounding right shift, halves up (ruy; NEON's vrshl): floor((x + 2^(right-1)) / 2^right)."""
    return (x + ((np.int64(1) << right) >> 1)) >> right


def _split(shift: I64) -> tuple[I64, I64]:
    return np.maximum(shift, 0), np.maximum(-shift, 0)


def double_rounding(final_shift: Callable[[I64, I64], I64]) -> Callable[[I64, I64, I64], I64]:
    def rescale(acc: I64, m: I64, shift: I64) -> I64:
        left, right = _split(shift)
        shifted = ((acc << left) + (1 << 31)) % (1 << 32) - (1 << 31)  # int32 wrap, as TFLite's
        return final_shift(doubling_high_mul(shifted, m), right)

    return rescale


def single_rounding(acc: I64, m: I64, shift: I64) -> I64:
    left, right = _split(shift)
    total = 31 + right
    return (acc * (np.int64(1) << left) * m + (np.int64(1) << (total - 1))) >> total


VARIANTS: dict[str, Callable[[I64, I64, I64], I64]] = {
    "half_up": double_rounding(shift_half_up),
    "half_away": double_rounding(shift_half_away),
    "single": single_rounding,
}


# --- the int32 accumulators of a quantized conv, in numpy ---------------------------------------------------


def padded(x: I64, k: int, stride: tuple[int, int], padding: str) -> tuple[I64, int, int]:
    """Input padded with zeros (after the zero point is taken off) as TFLite pads: the extra row/column after."""
    _, h, w, _ = x.shape
    oh, ow = out_size(h, stride[0], padding, k), out_size(w, stride[1], padding, k)
    ph = max((oh - 1) * stride[0] + k - h, 0) if padding == "SAME" else 0
    pw = max((ow - 1) * stride[1] + k - w, 0) if padding == "SAME" else 0
    xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    return xp, oh, ow


def conv_acc(x: I64, wq: I64, bias: I64, stride: tuple[int, int], padding: str) -> I64:
    """CONV_2D: x [N,H,W,C] (zero point already off), wq [O,k,k,C]."""
    k = wq.shape[1]
    xp, oh, ow = padded(x, k, stride, padding)
    acc = np.zeros((x.shape[0], oh, ow, wq.shape[0]), np.int64)
    for ky in range(k):
        for kx in range(k):
            tap = xp[:, ky : ky + (oh - 1) * stride[0] + 1 : stride[0], kx : kx + (ow - 1) * stride[1] + 1 : stride[1]]
            acc += np.einsum("nhwc,oc->nhwo", tap, wq[:, ky, kx, :])
    return acc + bias


def depthwise_acc(x: I64, wq: I64, bias: I64, stride: tuple[int, int], padding: str, multiplier: int) -> I64:
    """DEPTHWISE_CONV_2D: wq [1,k,k,C*multiplier]; output channel c*multiplier + j reads input channel c."""
    k = wq.shape[1]
    xp, oh, ow = padded(np.repeat(x, multiplier, axis=3), k, stride, padding)
    acc = np.zeros((x.shape[0], oh, ow, wq.shape[3]), np.int64)
    for ky in range(k):
        for kx in range(k):
            tap = xp[:, ky : ky + (oh - 1) * stride[0] + 1 : stride[0], kx : kx + (ow - 1) * stride[1] + 1 : stride[1]]
            acc += tap * wq[0, ky, kx, :]
    return acc + bias


def activation_range(activation: str, scale: float, zp: int) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized (float32 division, rounded half away from zero)."""

    def q(f: float) -> int:
        v = float(np.float32(f) / np.float32(scale))
        return zp + int(np.sign(v) * np.floor(abs(v) + 0.5))

    lo, hi = {"NONE": (-128, 127), "RELU": (q(0.0), 127), "RELU6": (q(0.0), q(6.0)), "RELU_N1_TO_1": (q(-1.0), q(1.0))}[
        activation
    ]
    return max(lo, -128), min(hi, 127)


def multipliers(quant: Int8Quant) -> tuple[I64, I64]:
    """Per-channel (M, shift) from the scales as TFLite derives them (float32 scales, double arithmetic)."""
    real = np.float64(np.float32(quant.input_scale)) * quant.filter_scales.astype(np.float64)
    return quantize_multiplier(real / np.float64(np.float32(quant.output_scale)))


def depthwise_rounding(acc: I64, m: I64, shift: I64) -> I64:
    """TFLite's optimized per-channel depthwise output stage (optimized_integer_ops' Quantize; NEON, which x86
    builds emulate with SSE): the output channels in whole eights round their final shift half up (vrshl);
    the last channels % 8, done one by one with MultiplyByQuantizedMultiplier, half away from zero."""
    channels = acc.shape[-1]
    whole = np.arange(channels) < channels - channels % 8
    return np.where(whole, VARIANTS["half_up"](acc, m, shift), VARIANTS["half_away"](acc, m, shift))


OP_VARIANTS = dict(VARIANTS, depthwise=depthwise_rounding)


def requantize(acc: I64, quant: Int8Quant, activation: str, variant: str) -> I64:
    m, shift = multipliers(quant)
    lo, hi = activation_range(activation, quant.output_scale, quant.output_zero_point)
    return np.clip(OP_VARIANTS[variant](acc, m, shift) + quant.output_zero_point, lo, hi)


def builtin(model: bytes, x: npt.NDArray[np.int8]) -> I64:
    interp = make_interpreter(model, reference=True)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"]).astype(np.int64)


# --- random shapes per op: which variant matches every output -----------------------------------------------


def random_case(rng: np.random.Generator, op: str) -> tuple[bytes, npt.NDArray[np.int8], I64, Int8Quant, str]:
    """A random quantized op, its input and its exact accumulators."""
    padding = str(rng.choice(["SAME", "VALID"]))
    stride = (int(rng.choice([1, 2])), int(rng.choice([1, 2])))
    activation = str(rng.choice(list(a for a in ACTIVATIONS if a != "TANH")))
    k = 1 if op == "conv1x1" else 3
    lo = k if padding == "VALID" else 1
    shape = (int(rng.integers(1, 3)), int(rng.integers(lo, 14)), int(rng.integers(lo, 14)), int(rng.integers(1, 72)))
    x = rng.integers(-128, 128, shape).astype(np.int8)
    if op.startswith("depthwise"):
        multiplier = 1 if op == "depthwise3x3" else int(rng.integers(2, 5))
        c_out = shape[3] * multiplier
        w = rng.standard_normal((1, 3, 3, c_out)).astype(np.float32)
        w_ohwi = np.ascontiguousarray(w.transpose(3, 1, 2, 0))
        quant = choose_quant(rng, w_ohwi)
        wq = np.ascontiguousarray(quantize_filters(w_ohwi)[0].transpose(3, 1, 2, 0))
    else:
        multiplier, c_out = 1, int(rng.integers(1, 72))
        w = rng.standard_normal((c_out, k, k, shape[3])).astype(np.float32)
        quant = choose_quant(rng, w)
        wq = quantize_filters(w)[0]
    bias = quantized_bias(rng, quant, c_out)
    model = build_quantized_conv_model(
        shape,
        wq,
        quant,
        bias,
        stride=stride,
        padding=padding,
        activation=activation,
        depthwise=op.startswith("depthwise"),
        depth_multiplier=multiplier,
    )
    xs = x.astype(np.int64) - quant.input_zero_point
    if op.startswith("depthwise"):
        acc = depthwise_acc(xs, wq.astype(np.int64), bias.astype(np.int64), stride, padding, multiplier)
    else:
        acc = conv_acc(xs, wq.astype(np.int64), bias.astype(np.int64), stride, padding)
    return model, x, acc, quant, activation


# The variant each op's builtin kernel matches on every output (TFLite 2.x on x86: ruy behind CONV_2D,
# the optimized per-channel depthwise kernel behind DEPTHWISE_CONV_2D).
EXPECTED = {
    "conv3x3": "half_up",
    "conv1x1": "half_up",
    "depthwise3x3": "depthwise",
    "depthwise_multiplier": "depthwise",
}
CASES_PER_OP = 60


@pytest.mark.parametrize("op", list(EXPECTED))
def test_builtin_rounding_per_op(op: str) -> None:
    rng = np.random.default_rng(sum(map(ord, op)))
    mismatches = dict.fromkeys(OP_VARIANTS, 0)
    outputs = 0
    for _ in range(CASES_PER_OP):
        model, x, acc, quant, activation = random_case(rng, op)
        ref = builtin(model, x)
        for name in OP_VARIANTS:
            mismatches[name] += int((requantize(acc, quant, activation, name) != ref).sum())
        outputs += ref.size
    print(f"\n{op}: {outputs} outputs over {CASES_PER_OP} random cases; outputs each variant gets wrong: {mismatches}")
    assert mismatches[EXPECTED[op]] == 0
    # The sweep is large enough to tell the variants apart: every other one misses some outputs.
    assert all(n > 0 for name, n in mismatches.items() if name != EXPECTED[op])


# --- pinned ties: hand-made accumulators on the halves ------------------------------------------------------

# Scales 1 (input), 1 (filter) and 16 (output): the real multiplier is 2^-4 exactly, so M = 2^30 and the
# shift is -3: the doubling high multiply gives floor((acc + 1) / 2), then the final shift divides by 8.
# A single tap of weight 1 (the centre of a 3x3, or the 1x1 weight), zero points 0 and no bias: acc = x.
TIE_ACC = [-24, -9, -8, 7, 8, -40, 24]  # acc / 16 = -1.5, -0.5625, -0.5, 0.4375, 0.5, -2.5, 1.5
# Ties up: -12/8 -> -1, -4/8 -> 0, -4/8 -> 0, 4/8 -> 1, 4/8 -> 1, -20/8 -> -2, 12/8 -> 2. (Single rounding would
# give 0 for 7 (7/16 < 1/2) and -1 for -9; a half-away first step would give -1 for -9: -4.5 -> -5.)
TIE_UP = [-1, 0, 0, 1, 1, -2, 2]
# Ties away from zero: the negative halves go down instead.
TIE_AWAY = [-2, -1, -1, 1, 1, -3, 2]
TIE_QUANT = Int8Quant(1.0, 0, np.array([1.0], np.float32), 16.0, 0)
DEPTHWISE_TIE_CHANNELS = 9  # channels 0..7 a whole eight (ties up), channel 8 the tail (ties away from zero)


def tie_model(op: str) -> tuple[bytes, npt.NDArray[np.int8], npt.NDArray[np.int64]]:
    """A one-tap op over a 1x7 row whose accumulators are TIE_ACC, and the outputs TFLite's rule gives."""
    n = len(TIE_ACC)
    if op == "depthwise3x3":
        c = DEPTHWISE_TIE_CHANNELS
        wq = np.zeros((1, 3, 3, c), np.int8)
        wq[0, 1, 1, :] = 1
        quant = Int8Quant(1.0, 0, np.ones(c, np.float32), 16.0, 0)
        x = np.repeat(np.array(TIE_ACC, np.int8)[:, None], c, axis=1).reshape(1, 1, n, c)
        expected = np.stack([TIE_UP] * 8 + [TIE_AWAY], axis=1).reshape(1, 1, n, c)
        model = build_quantized_conv_model((1, 1, n, c), wq, quant, np.zeros(c, np.int32), depthwise=True)
        return model, x, expected
    k = 3 if op == "conv3x3" else 1
    wq = np.zeros((1, k, k, 1), np.int8)
    wq[0, k // 2, k // 2, 0] = 1
    x = np.array(TIE_ACC, np.int8).reshape(1, 1, n, 1)
    model = build_quantized_conv_model((1, 1, n, 1), wq, TIE_QUANT, np.zeros(1, np.int32))
    return model, x, np.array(TIE_UP).reshape(1, 1, n, 1)


@pytest.mark.parametrize("op", ["conv3x3", "conv1x1", "depthwise3x3"])
def test_pinned_ties_builtin(op: str) -> None:
    """TFLite's builtin kernel rounds the pinned ties as requantize.h says for the op."""
    model, x, expected = tie_model(op)
    np.testing.assert_array_equal(builtin(model, x), expected)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("op", ["conv3x3", "conv1x1", "depthwise3x3"])
def test_pinned_ties_delegate(op: str, isa: str) -> None:
    """The delegate's int8 kernel for the op (claimed) gives the builtin kernel's outputs on the pinned ties."""
    model, x, expected = tie_model(op)
    delegate = patternlite.load_delegate(int8="all", isa=isa, min_sparsity=0.0, log_level="silent")
    interp = make_interpreter(model, delegate=delegate, reference=True)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    assert delegated_op_count(interp) == 1, delegate.stats()["declined"]
    assert delegate.stats()["claimed"][0]["dtype"] == "int8"
    out = interp.get_tensor(interp.get_output_details()[0]["index"])
    np.testing.assert_array_equal(out, expected)
