"""The layer solver of 3x3 and 1x1 convs: ADMM on a least-squares reconstruction objective, then a masked refit.

For one conv, unfold its inputs into patch rows ``P`` (pruned network's inputs)
and ``Q`` (original network's inputs), append a ones column for the bias, and
minimise ``|| P W - Q W0 ||^2`` over ``W`` whose kernel part lies in the
pattern + connectivity set ``S``. Everything only needs the Gram matrices
``P'P``, ``P'Q`` and ``Q'Q``, which are small ((9I+1)^2), so each ADMM step
(``admm.py``, the core every kind shares) costs one Cholesky solve.

The same solver serves 1x1 convs: their patch rows are the input pixels
themselves (``I`` columns), and the Z-step is the block projection of
``projection.project_pointwise`` (pass it as ``projector``). Depthwise convs are
``C`` independent 10-variable problems with their own batched W-step
(``depthwise.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.linalg as sla

from patternlite.converter.solvers.admm import PRIOR, AdmmSettings, AdmmSteps, LayerSolution, solve
from patternlite.converter.solvers.projection import Projection, project

F64 = npt.NDArray[np.float64]


@dataclass
class LayerProblem:
    """Gram statistics of one conv's reconstruction problem (bias row last)."""

    gpp: F64  # P'P, (n+1, n+1)
    gpq: F64  # P'Q
    gqq: F64  # Q'Q
    w0: F64  # original weights incl. bias row, (n+1, O), already scaled per output channel
    kernel_shape: tuple[int, int, int, int]  # (3, 3, I, O), or (1, 1, I, O) for a 1x1 conv

    def error(self, w: F64) -> float:
        """Relative squared reconstruction error of weights ``w`` (same layout as ``w0``)."""
        c = self.gpq @ self.w0
        target = float(np.sum(self.w0 * (self.gqq @ self.w0)))
        err = float(np.sum(w * (self.gpp @ w)) - 2 * np.sum(w * c)) + target
        return max(err, 0.0) / max(target, 1e-30)


def _kernel(w: F64, shape: tuple[int, int, int, int]) -> npt.NDArray[np.float32]:
    return w[:-1].reshape(shape).astype(np.float32)


def _solve_spd(a: F64, b: F64) -> F64:
    try:
        return np.asarray(sla.cho_solve(sla.cho_factor(a, lower=True, check_finite=False), b))
    except np.linalg.LinAlgError:
        return np.asarray(np.linalg.lstsq(a, b, rcond=None)[0])


def refit(problem: LayerProblem, mask: npt.NDArray[np.bool_], ridge: float) -> F64:
    """Least-squares refit of the kept weights and the bias, support fixed by ``mask`` (the kernel's shape).

    The ridge pulls towards the original weights, not towards zero: an input
    channel that synthetic inputs never excite (dead after a ReLU) carries no
    information in the Grams, and must keep its pretrained weights rather than
    be silently zeroed. Output channels with the same support (a 1x1 conv's
    block) share one factorisation.
    """
    a = problem.gpp
    c = problem.gpq @ problem.w0 + ridge * problem.w0
    n1, o_ch = c.shape
    keep_rows = np.concatenate([mask.reshape(n1 - 1, o_ch), np.ones((1, o_ch), bool)])
    w = np.zeros_like(c)
    supports, group = np.unique(keep_rows.T, axis=0, return_inverse=True)
    for g, support in enumerate(supports):
        idx = np.flatnonzero(support)
        cols = np.flatnonzero(group.reshape(-1) == g)
        sub = a[np.ix_(idx, idx)] + ridge * np.eye(len(idx))
        w[np.ix_(idx, cols)] = _solve_spd(sub, c[np.ix_(idx, cols)])
    return w


def input_energy(problem: LayerProblem) -> float:
    """The typical input energy behind one weight (mean Gram diagonal): the unit of rho and the ridge."""
    return float(np.mean(np.diag(problem.gpp))) or 1.0


def solve_layer(
    problem: LayerProblem,
    library: Sequence[int],
    keep: float,
    *,
    iterations: int = 30,
    rho_start: float = 1e-3,
    rho_end: float = 1.0,
    prior: float = PRIOR,
    metric: bool = False,
    tolerance: float = 1e-5,
    projector: Callable[[npt.NDArray[np.float32]], Projection] | None = None,
    connectivity: str = "kernel",
) -> LayerSolution:
    """ADMM + refit for one layer; returns weights whose kernel part follows ``library``.

    Stops early once the primal residual ||W - Z|| / ||Z|| falls below ``tolerance``:
    W already satisfies the constraints, so more iterations cannot move the support.
    ``projector`` (optional) replaces the 3x3 pattern projection as the Z-step, e.g.
    the block projection of a 1x1 conv; ``metric`` and ``connectivity`` (which kernels a
    3x3 conv keeps, ``projection.CONNECTIVITIES``) apply to the 3x3 projection only.
    """
    shape = problem.kernel_shape
    a = problem.gpp
    scale = input_energy(problem)  # rho is relative to the typical input energy
    n1 = a.shape[0]
    # The bias row is unconstrained, so it carries no penalty term.
    pen = np.ones(n1)
    if metric:
        pen[:-1] = np.maximum(np.diag(a)[:-1] / scale, 1e-6)
    pen[-1] = 0.0
    ridge = prior * scale
    c = problem.gpq @ problem.w0 + ridge * problem.w0

    # ``metric``: ADMM in the Gram-diagonal metric (input energy behind each weight). Off by
    # default: on ResNet-20 at keep 0.5 it scored 74.6% against 76.6% for the plain metric,
    # since synthetic inputs make a poor judge of which input channels are loud.
    diag = np.diag(a)[:-1]
    taps = (diag / (float(diag.mean()) or 1.0)).reshape(shape[:3]) if metric and projector is None else None

    def project_z(kernel: npt.NDArray[np.float32]) -> Projection:
        if projector is not None:
            return projector(kernel)
        return project(kernel, library, keep, tap_weights=taps, connectivity=connectivity)

    def w_step(rho: float, z_minus_u: F64) -> F64:
        return _solve_spd(a + np.diag(rho * pen + ridge), c + rho * pen[:, None] * z_minus_u)

    def with_bias(p: Projection, v: F64) -> F64:
        return np.concatenate([p.kernel.reshape(n1 - 1, -1), v[-1:]]).astype(np.float64)

    def finish(proj: Projection, w_best: F64) -> tuple[F64, Projection]:
        kernel = (w_best[:-1].reshape(shape) * proj.mask).astype(np.float64)
        w_out = np.concatenate([kernel.reshape(n1 - 1, -1), w_best[-1:]])
        return w_out, Projection(kernel=kernel.astype(np.float32), mask=proj.mask, assignment=proj.assignment)

    steps = AdmmSteps(
        w0=problem.w0,
        scale=scale,
        w_step=w_step,
        project=lambda v: project_z(_kernel(v, shape)),
        with_bias=with_bias,
        kernel=lambda x: x[:-1],
        constrained=(pen > 0)[:, None],
        refit=lambda mask: refit(problem, mask, ridge),
        error=problem.error,
        finish=finish,
    )
    return solve(steps, AdmmSettings(iterations, rho_start, rho_end, tolerance))
