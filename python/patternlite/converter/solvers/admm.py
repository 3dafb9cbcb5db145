"""The ADMM core shared by every kind's layer solver: the rho schedule, the Z/U updates,
the stopping test and the choice of support, around a kind's own W-step and projection.

Each layer minimises a least-squares reconstruction error ``f(W)`` over weights
whose kernel part lies in the kind's structured set ``S`` (a library pattern per
kernel, a block of shared inputs, a pattern per block of channels):

    W  <- argmin  f(W) + rho/2 ||W - Z + U||^2     (the kind's linear solve)
    Z  <- proj_S(W + U)                            (the kind's projection, projection.py)
    U  <- U + W - Z                                (the bias is unconstrained: no U there)

``rho`` grows geometrically, relative to the typical input energy behind one
weight, so the iterate is pulled into ``S`` gradually. The loop stops once the
primal residual ||W - Z|| / ||Z|| of the kernel part falls below the tolerance:
W then already satisfies the constraints, and more iterations cannot move the
support. The final support is then fixed and the kept weights (and the bias)
refitted exactly, which is where most of the accuracy is recovered; ADMM being a
heuristic on a non-convex set, the plain projection's support is kept instead
when it refits better.

The kinds differ only in the layout of ``W`` and how the W-step solves: one
``(n+1)``-variable system per output channel for 3x3 and 1x1 convs (``conv.py``),
``C`` batched 10-variable systems for a depthwise conv (``depthwise.py``). They
hand the core an :class:`AdmmSteps`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from patternlite.converter.solvers.projection import Projection

F64 = npt.NDArray[np.float64]

# Ridge towards the pretrained weights, in units of the input energy (see ``conv.refit``).
PRIOR = 1e-2


@dataclass
class LayerSolution:
    weights: F64  # the solved weights, bias included, in the kind's layout
    projection: Projection
    error_projection: float  # relative error of plain projection of the original weights
    error: float  # relative error of the solution


@dataclass(frozen=True)
class AdmmSettings:
    """The schedule of one solve: ``iterations`` at most, rho from ``rho_start`` to ``rho_end``
    (in units of the input energy), stopping at a relative primal residual of ``tolerance``."""

    iterations: int = 30
    rho_start: float = 1e-3
    rho_end: float = 1.0
    tolerance: float = 1e-5


@dataclass(frozen=True)
class AdmmSteps:
    """What one kind gives the core, all in its own layout of ``W`` (kernel and bias).

    ``w_step(rho, z_minus_u)`` solves the W-step; ``project(v)`` projects the kernel part
    of ``v`` onto the kind's set; ``with_bias(p, v)`` is the projection's kernel with
    ``v``'s bias (the Z iterate); ``kernel(x)`` the kernel part of ``x`` (for the
    residual); ``constrained`` is 1 where ``W`` is constrained and 0 at the bias, broadcast
    against ``W`` in the U update; ``refit(mask)`` refits the weights on a fixed support;
    ``error(w)`` is the relative reconstruction error; ``finish(p, w)`` is the final
    weights and projection of the chosen support.
    """

    w0: F64
    scale: float
    w_step: Callable[[float, F64], F64]
    project: Callable[[F64], Projection]
    with_bias: Callable[[Projection, F64], F64]
    kernel: Callable[[F64], F64]
    constrained: npt.NDArray[Any]
    refit: Callable[[npt.NDArray[np.bool_]], F64]
    error: Callable[[F64], float]
    finish: Callable[[Projection, F64], tuple[F64, Projection]]


def solve(steps: AdmmSteps, settings: AdmmSettings) -> LayerSolution:
    """ADMM from the original weights ``steps.w0``, then the refit of the better support."""
    plain = steps.project(steps.w0)
    w_plain = steps.with_bias(plain, steps.w0)
    error_projection = steps.error(w_plain)

    w = steps.w0.copy()
    z_proj, z = plain, w_plain.copy()
    u = np.zeros_like(w)
    n = settings.iterations
    for k in range(n):
        t = k / max(n - 1, 1)
        rho = steps.scale * settings.rho_start * (settings.rho_end / settings.rho_start) ** t
        w = steps.w_step(rho, z - u)
        v = w + u
        z_proj = steps.project(v)
        z = steps.with_bias(z_proj, v)
        u = u + (w - z) * steps.constrained
        residual = float(np.linalg.norm(steps.kernel(w - z)))
        if residual <= settings.tolerance * max(float(np.linalg.norm(steps.kernel(z))), 1e-12):
            break

    candidates = [(p, steps.refit(p.mask)) for p in (z_proj, plain)]
    errors = [steps.error(wc) for _, wc in candidates]
    chosen, w_best = candidates[int(np.argmin(errors))]
    weights, final = steps.finish(chosen, w_best)
    return LayerSolution(
        weights=weights, projection=final, error_projection=error_projection, error=steps.error(weights)
    )
