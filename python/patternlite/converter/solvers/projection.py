"""Euclidean projections onto the sparsity structure the delegate runs fast, one per layer kind.

* 3x3 convs (:func:`project`): "every kernel follows one library pattern, a fraction
  ``keep`` survive". For a fixed library this set is a union of coordinate
  subspaces, so the exact projection is: give each kernel the pattern that keeps
  most of its energy, then keep the ``round(keep * I * O)`` kernels with the
  largest kept energy. With ``connectivity="block"`` the kept kernels are chosen
  per block of ``CHANNEL_BLOCK`` consecutive output channels instead: every
  filter of a block keeps the same ``round(keep * I)`` input channels (each
  kernel still with its own best pattern), the structure the int8 filter-lane
  kernel skips on (docs/int8.md). ``connectivity="shared"`` also gives the
  filters of a block one pattern per kept input channel, the one that keeps most
  of their summed energy: the int8 shared-pattern kernel then reads a pixel's 4
  taps once for all 16 filters.
* 1x1 convs (:func:`project_pointwise`): blocks of ``CHANNEL_BLOCK`` consecutive
  output channels share one set of kept input channels.
* 3x3 depthwise convs (:func:`project_depthwise`): the channels of a block share
  one library pattern; with ``keep`` < 1 whole channels are pruned.

The delegate runs any zeros exactly, but only these block structures give speed:
its pointwise kernel costs in proportion to the kept inputs of a block, and its
depthwise kernel runs a block's channels in the lanes of one vector, which must
all read the same taps. Each function is the whole of the fast ``magnitude``
method and the Z-step of ADMM for its kind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from patternlite._contract import KERNEL_TAPS
from patternlite.converter import defaults
from patternlite.converter.solvers.patterns import kernels_as_rows, masks_matrix, rows_to_kernel
from patternlite.metadata import (
    CHANNEL_BLOCK,
    INPUT_QUAD,
    INT8_CONV3X3_MIN_OUTPUTS,
    KINDS,
    PRUNED,
    QUAD_MIN_INPUTS,
    QUAD_MIN_OUTPUTS,
)

CONV3X3, POINTWISE, DEPTHWISE = KINDS  # as graph.py names them; this module needs numpy only


@dataclass
class Projection:
    """The projected kernel plus which pattern each kernel got (``PRUNED`` when removed)."""

    kernel: npt.NDArray[np.float32]  # the Keras kernel's shape: (3, 3, I, O), (1, 1, I, O) or (3, 3, C, 1)
    mask: npt.NDArray[np.bool_]  # the same shape, True where a weight may be non-zero
    # (I, O) in Keras' axis order: a library index per kernel or PRUNED; for a 1x1
    # conv 0 (kept) or PRUNED per weight; for a depthwise conv (C, 1), one per channel.
    assignment: npt.NDArray[np.uint8]


# How a 3x3 conv's kept kernels are chosen: "kernel" ranks every (input, output)
# kernel on its own; "block" keeps the same input channels for all filters of a
# block of CHANNEL_BLOCK consecutive output channels (the blocks of the delegate's
# int8 filter-lane pack, which are over the original filter order); "shared" is
# "block" with one pattern per (block, kept input channel) (defaults.CONNECTIVITIES).
CONNECTIVITIES = defaults.CONNECTIVITIES
# Inputs per int8 dot product (4 bytes, spec/contract.toml): the aligned groups a
# 1x1 block keeps with ``quads``.
QUAD = INPUT_QUAD


def kept_count(keep: float, n_kernels: int) -> int:
    """How many kernels survive: at least one, so a layer never goes dead."""
    return max(1, min(n_kernels, int(round(keep * n_kernels))))


def project(
    kernel_hwio: npt.NDArray[np.floating],
    library: Sequence[int],
    keep: float,
    *,
    weights: npt.NDArray[np.floating] | None = None,
    tap_weights: npt.NDArray[np.floating] | None = None,
    connectivity: str = "kernel",
    block: int = CHANNEL_BLOCK,
) -> Projection:
    """Project a (3, 3, I, O) kernel onto the pattern + connectivity set.

    ``weights`` (shape (O,), optional) scales each output channel's kernels when
    ranking them for connectivity pruning, e.g. by the following BatchNorm's
    scale, so kernels are compared by their effect after BN.

    ``tap_weights`` (shape (3, 3, I), optional, non-negative) makes it the exact
    projection in the diagonal metric ``sum d * w**2``: with ``d`` the input
    energy seen by each tap (the Gram diagonal), a weight on a quiet input
    channel counts for little and one on a loud channel for a lot.

    ``connectivity`` "block": output channels ``[b*block, (b+1)*block)`` form a
    block (the last may be partial) and each block keeps the ``kept_count(keep, I)``
    input channels whose kept energy, summed over the block's filters, is largest.
    For a fixed block support each kernel's best pattern is independent, so this is
    the exact projection onto that set too.

    ``connectivity`` "shared": as "block", and the filters of a block read each kept
    input channel through one pattern, the one with the most kept energy summed over
    them (in the metric of ``weights``). For a fixed block support the blocks'
    choices are independent, so this is the exact projection as well. Only where it
    pays (:func:`shared_pays`): a conv with fewer outputs is projected per kernel.
    """
    if connectivity not in CONNECTIVITIES:
        raise ValueError(f"connectivity must be one of {CONNECTIVITIES}, got {connectivity!r}")
    k = np.asarray(kernel_hwio, dtype=np.float32)
    shape = k.shape
    i_ch, o_ch = shape[2], shape[3]
    if connectivity == "shared" and not shared_pays(o_ch):
        connectivity = "kernel"
    rows = kernels_as_rows(k)  # (I*O, 9), row i*O + o
    mm = masks_matrix(library)  # (9, K)
    sq = rows**2
    if tap_weights is not None:
        d = np.asarray(tap_weights, dtype=np.float32).reshape(KERNEL_TAPS, i_ch)
        sq = sq * np.repeat(d.T, o_ch, axis=0)  # row i*O + o gets channel i's tap weights
    energy = sq @ mm  # (I*O, K)
    if weights is not None:
        energy = energy * np.tile(np.asarray(weights, dtype=np.float32) ** 2, i_ch)[:, None]
    if connectivity == "shared":
        starts = _block_starts(o_ch, block)
        per_block = np.add.reduceat(energy.reshape(i_ch, o_ch, -1).astype(np.float64), starts, axis=1)
        best = np.repeat(np.argmax(per_block, axis=2), np.diff(np.append(starts, o_ch)), axis=1).reshape(-1)
    else:
        best = np.argmax(energy, axis=1)
    kept_energy = energy[np.arange(len(rows)), best]
    if connectivity in ("block", "shared"):
        alive = _block_alive(kept_energy.reshape(i_ch, o_ch), keep, block).reshape(-1)
    else:
        alive = _kernel_alive(kept_energy, keep)
    mask_rows = (mm.T[best] > 0) & alive[:, None]
    assignment = np.where(alive, best, PRUNED).astype(np.uint8).reshape(i_ch, o_ch)
    return Projection(
        kernel=rows_to_kernel(rows * mask_rows, shape),
        mask=rows_to_kernel(mask_rows.astype(np.float32), shape) > 0,
        assignment=assignment,
    )


def shared_pays(out_channels: int) -> bool:
    """Whether a 3x3 conv of this size gains from the ``shared`` connectivity.

    The delegate's int8 3x3 kernels run 16 filters per vector and were measured
    faster than XNNPACK's int8 dense kernel from ``INT8_CONV3X3_MIN_OUTPUTS``
    filters (spec/contract.toml; its ``int8="auto"`` claims no smaller conv), so
    constraining a smaller one would cost accuracy and buy nothing.
    """
    return out_channels >= INT8_CONV3X3_MIN_OUTPUTS


def _kernel_alive(kept_energy: npt.NDArray[np.floating], keep: float) -> npt.NDArray[np.bool_]:
    """The ``kept_count(keep, n)`` kernels with the largest kept energy, over the whole layer."""
    rows = kept_energy
    n_keep = kept_count(keep, len(rows))
    alive = np.zeros(len(rows), dtype=bool)
    if n_keep >= len(rows):
        alive[:] = True
    else:
        # argpartition + stable tie-break by index makes the result deterministic.
        order = np.lexsort((np.arange(len(rows)), -kept_energy))
        alive[order[:n_keep]] = True
    return alive


def _block_alive(kept_energy: npt.NDArray[np.floating], keep: float, block: int) -> npt.NDArray[np.bool_]:
    """(I, O): per block of ``block`` output channels, the ``kept_count(keep, I)`` inputs of most summed energy."""
    i_ch, o_ch = kept_energy.shape
    starts = _block_starts(o_ch, block)
    score = np.add.reduceat(kept_energy.astype(np.float64), starts, axis=1)  # (I, blocks)
    n_keep = kept_count(keep, i_ch)
    # Largest score first, ties to the lower input index: deterministic.
    order = np.argsort(-score, axis=0, kind="stable")[:n_keep]
    kept = np.zeros_like(score, dtype=bool)
    np.put_along_axis(kept, order, True, axis=0)
    return np.repeat(kept, np.diff(np.append(starts, o_ch)), axis=1)


def _block_starts(n: int, block: int) -> npt.NDArray[np.intp]:
    return np.arange(0, n, block)


def quads_pay(in_channels: int, out_channels: int) -> bool:
    """Whether a 1x1 conv of this size gains from inputs kept in aligned fours.

    The delegate's int8 1x1 kernel beats XNNPACK's int8 dense kernel only from
    ``QUAD_MIN_INPUTS`` inputs and ``QUAD_MIN_OUTPUTS`` outputs (spec/contract.toml;
    its ``int8="auto"`` claims no smaller layer), so grouping a smaller one would
    cost accuracy and buy nothing.
    """
    return in_channels >= QUAD_MIN_INPUTS and out_channels >= QUAD_MIN_OUTPUTS


def project_pointwise(
    kernel_11io: npt.NDArray[np.floating],
    keep: float,
    *,
    weights: npt.NDArray[np.floating] | None = None,
    block: int = CHANNEL_BLOCK,
    quads: bool = False,
) -> Projection:
    """Project a (1, 1, I, O) kernel onto "each block of ``block`` output channels keeps the same inputs".

    Output channels ``[b*block, (b+1)*block)`` form a block (the last may be
    partial). Each block keeps the ``kept_count(keep, I)`` input channels with
    the largest squared norm summed over the block's outputs, so every block keeps
    the same number of inputs and its outputs share them: the delegate's pointwise
    kernel costs in proportion to a block's kept inputs, and only a shared set lets
    the block's output channels run as one vector. This is the exact Euclidean
    projection onto that set (the norms are in the metric of ``weights``).

    ``weights`` (shape (O,), optional) scales each output channel, e.g. by the
    following BatchNorm's scale, so inputs are ranked by their effect after BN.

    ``quads``: a block keeps whole aligned fours of inputs ``4q..4q+3`` (the last
    may be short), the ``round(kept_count / 4)`` fours (at least one) of most summed
    score: the exact projection onto that coarser set. The delegate's int8 1x1
    kernel reads a pixel's four bytes ``4q..4q+3`` as one dot product, so it runs
    a block in proportion to the fours it touches: with inputs chosen one by one
    at keep 0.28 that is ~73% of the fours, with ``quads`` 28%. Only where it pays
    (:func:`quads_pay`): a smaller layer keeps its inputs one by one.
    """
    k = np.asarray(kernel_11io, dtype=np.float32)
    i_ch, o_ch = k.shape[2], k.shape[3]
    w2 = k.reshape(i_ch, o_ch).astype(np.float64) ** 2
    if weights is not None:
        w2 = w2 * np.asarray(weights, dtype=np.float64)[None, :] ** 2
    starts = _block_starts(o_ch, block)
    score = np.add.reduceat(w2, starts, axis=1)  # (I, blocks)
    n_keep = kept_count(keep, i_ch)
    if quads and quads_pay(i_ch, o_ch):
        quad_score = np.add.reduceat(score, np.arange(0, i_ch, QUAD), axis=0)  # (ceil(I/4), blocks)
        n_quads = min(quad_score.shape[0], max(1, round(n_keep / QUAD)))
        order = np.argsort(-quad_score, axis=0, kind="stable")[:n_quads]
        kept_quads = np.zeros_like(quad_score, dtype=bool)
        np.put_along_axis(kept_quads, order, True, axis=0)
        kept = np.repeat(kept_quads, QUAD, axis=0)[:i_ch]
    else:
        # Largest score first, ties to the lower input index: deterministic.
        order = np.argsort(-score, axis=0, kind="stable")[:n_keep]  # (n_keep, blocks)
        kept = np.zeros_like(score, dtype=bool)
        np.put_along_axis(kept, order, True, axis=0)
    mask2 = np.repeat(kept, np.diff(np.append(starts, o_ch)), axis=1)  # (I, O)
    mask = mask2.reshape(k.shape)
    return Projection(
        kernel=(k * mask).astype(np.float32),
        mask=mask,
        assignment=np.where(mask2, 0, PRUNED).astype(np.uint8),
    )


def project_depthwise(
    kernel_33c1: npt.NDArray[np.floating],
    library: Sequence[int],
    keep: float,
    *,
    weights: npt.NDArray[np.floating] | None = None,
    block: int = CHANNEL_BLOCK,
) -> Projection:
    """Project a (3, 3, C, 1) depthwise kernel onto "one library pattern per block of channels".

    Channels ``[b*block, (b+1)*block)`` form a block (the last may be partial).
    Each block gets the library pattern that keeps the most energy summed over its
    channels: the delegate runs a block's channels in the lanes of one vector,
    so they must read the same 4 taps. With ``keep`` < 1 the ``C - kept_count(keep, C)``
    channels whose kept energy is least are then pruned whole (the choice of
    pattern comes first, so it is the exact projection for a given block pattern,
    and the blocks' patterns stay what the energy says). ``weights`` (shape (C,),
    optional) scales each channel, e.g. by the following BatchNorm's scale.
    """
    k = np.asarray(kernel_33c1, dtype=np.float32)
    c_ch = k.shape[2]
    rows = kernels_as_rows(k)  # (C, 9): depth multiplier 1, so row c is channel c
    mm = masks_matrix(library)  # (9, K)
    sq = rows.astype(np.float64) ** 2
    if weights is not None:
        sq = sq * np.asarray(weights, dtype=np.float64)[:, None] ** 2
    energy = sq @ mm  # (C, K)
    starts = _block_starts(c_ch, block)
    best_block = np.argmax(np.add.reduceat(energy, starts, axis=0), axis=1)  # (blocks,)
    best = np.repeat(best_block, np.diff(np.append(starts, c_ch)))  # (C,)
    kept_energy = energy[np.arange(c_ch), best]
    alive = np.ones(c_ch, dtype=bool)
    n_keep = kept_count(keep, c_ch)
    if n_keep < c_ch:
        alive[:] = False
        alive[np.lexsort((np.arange(c_ch), -kept_energy))[:n_keep]] = True
    mask_rows = (mm.T[best] > 0) & alive[:, None]
    return Projection(
        kernel=rows_to_kernel(rows * mask_rows, k.shape),
        mask=rows_to_kernel(mask_rows.astype(np.float32), k.shape) > 0,
        assignment=np.where(alive, best, PRUNED).astype(np.uint8).reshape(c_ch, 1),
    )


def project_layer(
    kind: str,
    kernel: npt.NDArray[np.floating],
    library: Sequence[int],
    keep: float,
    *,
    weights: npt.NDArray[np.floating] | None = None,
    connectivity: str = "kernel",
    pointwise_quads: bool = False,
) -> Projection:
    """The projection of a layer of ``kind`` (``graph.ALL_KINDS``): the ``magnitude`` method's whole work.

    ``connectivity`` applies to 3x3 convs (:func:`project`); 1x1 convs are block-structured
    always, in aligned fours of inputs with ``pointwise_quads`` (:func:`project_pointwise`).
    """
    if kind == CONV3X3:
        return project(kernel, library, keep, weights=weights, connectivity=connectivity)
    if kind == POINTWISE:
        return project_pointwise(kernel, keep, weights=weights, quads=pointwise_quads)
    if kind == DEPTHWISE:
        return project_depthwise(kernel, library, keep, weights=weights)
    raise ValueError(f"unknown layer kind {kind!r}")
