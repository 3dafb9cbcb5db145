"""The layer solver for a 3x3 depthwise conv: ``C`` independent 9-tap least-squares problems, one ADMM.

Output channel ``c`` of a depthwise conv (depth multiplier 1) reads input channel
``c`` only, so the reconstruction objective ``||P W - Q W0||^2`` of ``conv.py``
splits into ``C`` problems of 9 taps plus a bias, 10 variables each. They are
coupled only through the constraint: a block of ``CHANNEL_BLOCK`` channels
shares one library pattern (the delegate runs a block's channels in the lanes of
one vector), and with ``keep`` < 1 whole channels are pruned. ADMM handles that
as it does for a full conv (the core of ``admm.py``): the W-step is ``C`` batched 10x10 solves, the Z-step
is :func:`projection.project_depthwise`; then the support is fixed and each
channel's kept taps and bias are refitted, with the same ridge towards the
pretrained weights. Keeping ``C`` small Grams instead of one ``(9C+1)^2`` matrix
is what makes this cheap: MobileNetV2's widest depthwise layer has 960 channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import numpy.typing as npt

from patternlite._contract import KERNEL_TAPS
from patternlite.converter.graph import ConvInfo
from patternlite.converter.solvers.admm import PRIOR, AdmmSettings, AdmmSteps, LayerSolution, solve
from patternlite.converter.solvers.layer_problem import patches, write_bias
from patternlite.converter.solvers.projection import Projection, project_depthwise

F64 = npt.NDArray[np.float64]
_TAPS = KERNEL_TAPS
# Patch rows per layer: each Gram is 10x10, so far fewer rows than a full conv's suffice.
_MAX_ROWS = 65_536
_CHUNK_VALUES = 8_000_000  # patch values extracted at once (32 MB of float32)


@dataclass
class DepthwiseProblem:
    """Per-channel Gram statistics (9 taps in ``3*ky + kx`` order, bias last)."""

    gpp: F64  # (C, 10, 10): P'P of each channel
    gpq: F64  # (C, 10, 10): P'Q
    gqq: F64  # (C, 10, 10): Q'Q
    w0: F64  # (C, 10): original taps and bias, scaled per channel (BN-folded units)
    kernel_shape: tuple[int, int, int, int]  # (3, 3, C, 1)

    def error(self, w: F64) -> float:
        """Relative squared reconstruction error of ``w`` (C, 10), summed over the channels."""
        c = np.einsum("ckl,cl->ck", self.gpq, self.w0)
        target = float(np.einsum("ck,ck->", self.w0, np.einsum("ckl,cl->ck", self.gqq, self.w0)))
        err = float(np.einsum("ck,ck->", w, np.einsum("ckl,cl->ck", self.gpp, w)) - 2 * np.sum(w * c)) + target
        return max(err, 0.0) / max(target, 1e-30)


def _rows(kernel_33c1: npt.NDArray[np.floating] | npt.NDArray[np.bool_]) -> F64:
    """A (3, 3, C, 1) kernel as (C, 9) rows."""
    k = np.asarray(kernel_33c1, dtype=np.float64)
    return k.reshape(_TAPS, k.shape[2]).T


def _kernel(w: F64, shape: tuple[int, int, int, int]) -> npt.NDArray[np.float32]:
    return np.ascontiguousarray(w[:, :_TAPS].T).reshape(shape).astype(np.float32)


def _with_bias(kernel: npt.NDArray[np.floating], bias: F64) -> F64:
    return np.concatenate([_rows(kernel), bias[:, None]], axis=1)


def build_depthwise_problem(
    conv: ConvInfo,
    orig_conv: ConvInfo,
    xp: npt.NDArray[np.float32],
    xq: npt.NDArray[np.float32],
    scale: F64,
    rng: np.random.Generator,
) -> DepthwiseProblem:
    """The per-channel Grams of a depthwise conv on the pruned (``xp``) and original (``xq``) inputs."""
    layer = orig_conv.layer
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype(np.float64)
    c_ch = kernel.shape[2]
    bias = keras.ops.convert_to_numpy(layer.bias).astype(np.float64) if layer.use_bias else np.zeros(c_ch)
    has_bias_slot = conv.layer.use_bias or conv.bn is not None
    w0 = _with_bias(kernel, bias) * scale[:, None]
    grams = [np.zeros((c_ch, _TAPS + 1, _TAPS + 1)) for _ in range(3)]
    out_hw = patches(xp[:1], conv.layer).shape[0]
    frac = min(1.0, _MAX_ROWS / (out_hw * len(xp)))
    chunk = max(1, min(32, _CHUNK_VALUES // max(out_hw * _TAPS * c_ch, 1)))
    for i in range(0, len(xp), chunk):
        p = patches(xp[i : i + chunk], conv.layer).reshape(-1, _TAPS, c_ch)
        q = patches(xq[i : i + chunk], conv.layer).reshape(-1, _TAPS, c_ch)
        if frac < 1.0:
            pick = rng.random(len(p)) < frac
            p, q = p[pick], q[pick]
        # Without a bias (and no BN to absorb one) the bias column is zero, so the solver keeps bias 0.
        p = np.concatenate([p, np.full((len(p), 1, c_ch), 1.0 if has_bias_slot else 0.0, np.float32)], axis=1)
        q = np.concatenate([q, np.ones((len(q), 1, c_ch), np.float32)], axis=1)
        pt, qt = p.transpose(2, 1, 0), q.transpose(2, 1, 0)  # (C, 10, rows)
        for g, (left, right) in zip(grams, ((pt, pt), (pt, qt), (qt, qt)), strict=True):
            g += np.matmul(left, right.transpose(0, 2, 1)).astype(np.float64)
    return DepthwiseProblem(gpp=grams[0], gpq=grams[1], gqq=grams[2], w0=w0, kernel_shape=tuple(kernel.shape))  # type: ignore[arg-type]


def _solve_batched(a: F64, b: F64) -> F64:
    """Solve ``a[c] x[c] = b[c]`` for every ``c`` ((C, n, n) and (C, n))."""
    try:
        return np.asarray(np.linalg.solve(a, b[..., None])[..., 0])
    except np.linalg.LinAlgError:
        return np.asarray(np.einsum("ckl,cl->ck", np.linalg.pinv(a), b))


def refit_depthwise(problem: DepthwiseProblem, mask: npt.NDArray[np.bool_], ridge: float) -> F64:
    """Least-squares refit of each channel's kept taps and its bias, support fixed by ``mask`` (3, 3, C, 1).

    As ``conv.refit``: the ridge pulls towards the pretrained weights. A pruned
    channel keeps only its bias, which still absorbs its mean output.
    """
    a = problem.gpp
    c = np.einsum("ckl,cl->ck", problem.gpq, problem.w0) + ridge * problem.w0
    support = np.concatenate([_rows(mask) > 0, np.ones((len(c), 1), bool)], axis=1)  # (C, 10)
    w = np.zeros_like(c)
    counts = support.sum(axis=1)
    for n in np.unique(counts):
        chans = np.flatnonzero(counts == n)
        idx = np.nonzero(support[chans])[1].reshape(len(chans), int(n))
        sub = a[chans[:, None, None], idx[:, :, None], idx[:, None, :]] + ridge * np.eye(int(n))
        w[chans[:, None], idx] = _solve_batched(sub, c[chans[:, None], idx])
    return w


def solve_depthwise(
    problem: DepthwiseProblem,
    library: Sequence[int],
    keep: float,
    *,
    iterations: int = 30,
    rho_start: float = 1e-3,
    rho_end: float = 1.0,
    prior: float = PRIOR,
    tolerance: float = 1e-5,
) -> LayerSolution:
    """ADMM + refit for one depthwise layer (the core of ``admm.py``, as for ``conv.solve_layer``).

    Returns weights (C, 10) in scaled units whose taps follow one library pattern
    per block of channels, with ``keep`` of the channels kept.
    """
    shape = problem.kernel_shape
    a = problem.gpp
    scale = float(np.mean(np.diagonal(a, axis1=1, axis2=2))) or 1.0  # the typical input energy behind one tap
    ridge = prior * scale
    pen = np.ones(_TAPS + 1)
    pen[-1] = 0.0  # the bias is unconstrained
    c = np.einsum("ckl,cl->ck", problem.gpq, problem.w0) + ridge * problem.w0

    def w_step(rho: float, z_minus_u: F64) -> F64:
        return _solve_batched(a + np.diag(rho * pen + ridge), c + rho * pen * z_minus_u)

    def finish(chosen: Projection, w_best: F64) -> tuple[F64, Projection]:
        w_out = np.concatenate([w_best[:, :_TAPS] * (_rows(chosen.mask) > 0), w_best[:, -1:]], axis=1)
        return w_out, Projection(kernel=_kernel(w_out, shape), mask=chosen.mask, assignment=chosen.assignment)

    steps = AdmmSteps(
        w0=problem.w0,
        scale=scale,
        w_step=w_step,
        project=lambda v: project_depthwise(_kernel(v, shape), library, keep),
        with_bias=lambda p, v: _with_bias(p.kernel, v[:, -1]),
        kernel=lambda x: x[:, :_TAPS],
        constrained=pen,
        refit=lambda mask: refit_depthwise(problem, mask, ridge),
        error=problem.error,
        finish=finish,
    )
    return solve(steps, AdmmSettings(iterations, rho_start, rho_end, tolerance))


def apply_depthwise_weights(conv: ConvInfo, weights: F64, scale: F64, mask: npt.NDArray[np.bool_]) -> None:
    """Write solved (scaled) weights (C, 10) back: the kernel, and the bias into the conv bias or the BN mean."""
    layer = conv.layer
    kernel = _kernel(weights / scale[:, None], tuple(layer.kernel.shape)) * mask  # type: ignore[arg-type]
    layer.kernel.assign(kernel.astype(np.float32))
    write_bias(conv, weights[:, -1] / scale)
