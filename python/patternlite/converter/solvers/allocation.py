"""Per-layer keep fractions under one global kernel budget, chosen by measured sensitivity.

Uniform connectivity pruning removes the same fraction of kernels from every
layer, but layers are not equally robust: a 16-channel layer near the input
has 256 kernels, a 64-channel one near the output 4096, and removing half of
the former costs far more accuracy than removing half of the latter. Here the
budget (``keep`` times the total number of prunable kernels) is shared out so
that the summed damage is smallest:

1. **Measure.** For each layer alone and each fraction on a grid, prune the
   layer the way the layer-wise pass would start (best pattern per kernel,
   top kernels by BN-scaled energy, then the least-squares refit of the kept
   weights and bias on the synthetic inputs; all other layers untouched) and
   measure the KL divergence between the original model's class distribution
   and the damaged one's on the synthetic inputs. Without the refit the
   damage curves are dominated by the uncorrected bias shift and are not even
   monotonic. No data beyond the synthetic inputs is involved.
2. **Allocate.** Treat the per-layer damages as additive (the usual
   assumption of sensitivity-based mixed-precision and pruning allocators)
   and pick one grid fraction per layer by dynamic programming: the least
   total damage whose kernel count fits the budget.

The budget counts kernels, like uniform ``keep``: the same number of 3x3
weights survive either way. Multiply-accumulates are not held equal: layers
at higher resolution cost more per kernel, so the summary reports both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np
import numpy.typing as npt
import tensorflow as tf

from patternlite.converter.graph import ConvInfo, find_convs, with_logits
from patternlite.converter.progress import progress_bar
from patternlite.converter.solvers.admm import PRIOR
from patternlite.converter.solvers.conv import input_energy, refit
from patternlite.converter.solvers.layer_problem import apply_weights, build_problem, forward
from patternlite.converter.solvers.projection import kept_count, project

ALLOCATIONS = ("uniform", "sensitivity")
# Fractions tried per layer (plus the requested keep itself, so uniform is always a candidate).
# The floor of 0.1 keeps every layer alive and the search small.
GRID = tuple(round(0.1 + 0.05 * i, 2) for i in range(19))  # 0.10, 0.15, ..., 1.00
_PROBE = 128  # synthetic inputs used to measure each damage
_MAX_UNITS = 200_000  # budget resolution of the dynamic programme (exact kernel counts below this)


@dataclass
class Allocation:
    """The chosen fraction per layer and the measured damage curves behind it."""

    keep: dict[str, float]
    grid: tuple[float, ...]
    damage: dict[str, list[float]]  # KL per grid fraction, per layer


def _kl(p_logits: npt.NDArray[np.float64], q_logits: npt.NDArray[np.float64]) -> float:
    """Mean KL(softmax(p) || softmax(q)) over the batch."""
    lp = p_logits - p_logits.max(axis=1, keepdims=True)
    lp -= np.log(np.exp(lp).sum(axis=1, keepdims=True))
    lq = q_logits - q_logits.max(axis=1, keepdims=True)
    lq -= np.log(np.exp(lq).sum(axis=1, keepdims=True))
    return float(np.mean(np.sum(np.exp(lp) * (lp - lq), axis=1)))


def measure_damage(
    model: keras.Model,
    targets: Sequence[ConvInfo],
    x: npt.NDArray[np.float32],
    library: Sequence[int],
    scales: dict[str, npt.NDArray[np.float64]],
    *,
    grid: Sequence[float] = GRID,
    seed: int = 0,
    progress: bool = True,
    connectivity: str = "kernel",
) -> dict[str, list[float]]:
    """KL damage of pruning (and refitting) each layer alone to each grid fraction."""
    probe = with_logits(model)
    convs = {c.name: c for c in find_convs(probe)}
    xs = tf.constant(x[:_PROBE])
    run = tf.function(lambda t: probe(t, training=False))
    reference = np.asarray(run(xs), np.float64)
    rng = np.random.default_rng(seed)
    damage: dict[str, list[float]] = {}
    bar = progress_bar(total=len(targets) * len(grid), desc="sensitivity", disable=not progress, leave=False)
    for target in targets:
        conv = convs[target.name]
        scale = scales[target.name]
        saved = [v.numpy() for v in _touched(conv)]
        xin = forward(keras.Model(probe.inputs, conv.layer.input), x)
        problem = build_problem(conv, conv, xin, xin, scale, rng)
        # The same ridge towards the pretrained weights as the layer solver's refit.
        ridge = PRIOR * input_energy(problem)
        w0_kernel = problem.w0[:-1].reshape(problem.kernel_shape)
        curve = []
        for frac in grid:
            mask = project(w0_kernel, library, frac, connectivity=connectivity).mask
            apply_weights(conv, refit(problem, mask, ridge), scale, mask)
            curve.append(_kl(reference, np.asarray(run(xs), np.float64)))
            for v, s in zip(_touched(conv), saved, strict=True):
                v.assign(s)
            bar.update(1)
        damage[target.name] = curve
    bar.close()
    return damage


def _touched(conv: ConvInfo) -> list[tf.Variable]:
    """The variables ``apply_weights`` may change: kernel, bias, or the BN's moving mean."""
    out = [conv.layer.kernel]
    if conv.layer.use_bias:
        out.append(conv.layer.bias)
    if conv.bn is not None:
        out.append(conv.bn.moving_mean)
    return out


def allocate(
    damage: dict[str, list[float]],
    kernels: dict[str, int],
    keep: float,
    *,
    grid: Sequence[float] = GRID,
) -> dict[str, float]:
    """The grid fraction per layer with least summed damage whose kernels fit ``keep`` of the total.

    Exact over the grid: dynamic programming on the budget counted in kernels
    (in blocks of kernels for models with more than ``_MAX_UNITS``, each
    layer's cost rounded up, so the result never exceeds the budget).
    When even the smallest fractions do not fit, every layer gets the smallest.
    """
    names = list(damage)
    total = sum(kernels[n] for n in names)
    unit = max(1, math.ceil(total / _MAX_UNITS))
    # Never less than uniform ``keep`` would keep after its per-layer rounding, so uniform fits.
    allowed = max(kept_count(keep, total), sum(kept_count(keep, kernels[n]) for n in names))
    budget = math.floor(allowed / unit)

    def cost(frac: float, n: str) -> int:
        return math.ceil(kept_count(frac, kernels[n]) / unit)

    inf = float("inf")
    # best[b]: least damage of the layers so far using at most b units; choice[l][b]: grid index picked.
    best = np.zeros(budget + 1)
    choices: list[npt.NDArray[np.int64]] = []
    for n in names:
        costs = [cost(f, n) for f in grid]
        nxt = np.full(budget + 1, inf)
        pick = np.full(budget + 1, -1, np.int64)
        for g, (c, d) in enumerate(zip(costs, damage[n], strict=True)):
            if c > budget:
                continue
            cand = np.full(budget + 1, inf)
            cand[c:] = best[: budget + 1 - c] + d
            better = cand < nxt
            nxt[better], pick[better] = cand[better], g
        best = nxt
        choices.append(pick)
    if not np.isfinite(best[budget]):
        return {n: float(min(grid)) for n in names}
    out: dict[str, float] = {}
    b = budget
    for n, pick in zip(reversed(names), reversed(choices), strict=True):
        g = int(pick[b])
        out[n] = float(grid[g])
        b -= cost(grid[g], n)
    return {n: out[n] for n in names}


def sensitivity_allocation(
    model: keras.Model,
    targets: Sequence[ConvInfo],
    x: npt.NDArray[np.float32],
    library: Sequence[int],
    scales: dict[str, npt.NDArray[np.float64]],
    keep: float,
    *,
    seed: int = 0,
    progress: bool = True,
    connectivity: str = "kernel",
) -> Allocation:
    """Measure each layer's damage curve on ``x`` and share ``keep`` of all kernels out by it.

    ``keep`` itself is on the grid, so uniform ``keep`` is one of the candidates:
    under the additive model the allocation is never predicted worse than it.
    """
    grid = tuple(sorted({*GRID, round(keep, 4)}))
    damage = measure_damage(
        model, targets, x, library, scales, grid=grid, seed=seed, progress=progress, connectivity=connectivity
    )
    kernels = {c.name: c.in_channels * c.out_channels for c in targets}
    return Allocation(keep=allocate(damage, kernels, keep, grid=grid), grid=grid, damage=damage)
