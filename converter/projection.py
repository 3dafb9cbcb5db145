"""Euclidean projection onto "every kernel follows one library pattern, a fraction ``keep`` survive".

For a fixed library this set is a union of coordinate subspaces, so the exact
projection is: give each kernel the pattern that keeps most of its energy, then
keep the ``round(keep * I * O)`` kernels with the largest kept energy. The same
function is the whole of the fast ``magnitude`` method and the Z-step of ADMM.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from patternlite.converter.patterns import kernels_as_rows, masks_matrix, rows_to_kernel
from patternlite.metadata import PRUNED


@dataclass
class Projection:
    """The projected kernel plus which pattern each kernel got (``PRUNED`` when removed)."""

    kernel: npt.NDArray[np.float32]  # (3, 3, I, O)
    mask: npt.NDArray[np.bool_]  # (3, 3, I, O), True where a weight may be non-zero
    assignment: npt.NDArray[np.uint8]  # (I, O) library index or PRUNED


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
) -> Projection:
    """Project a (3, 3, I, O) kernel onto the pattern + connectivity set.

    ``weights`` (shape (O,), optional) scales each output channel's kernels when
    ranking them for connectivity pruning, e.g. by the following BatchNorm's
    scale, so kernels are compared by their effect after BN.

    ``tap_weights`` (shape (3, 3, I), optional, non-negative) makes it the exact
    projection in the diagonal metric ``sum d * w**2``: with ``d`` the input
    energy seen by each tap (the Gram diagonal), a weight on a quiet input
    channel counts for little and one on a loud channel for a lot.
    """
    k = np.asarray(kernel_hwio, dtype=np.float32)
    shape = k.shape
    i_ch, o_ch = shape[2], shape[3]
    rows = kernels_as_rows(k)  # (I*O, 9), row i*O + o
    mm = masks_matrix(library)  # (9, K)
    sq = rows**2
    if tap_weights is not None:
        d = np.asarray(tap_weights, dtype=np.float32).reshape(9, i_ch)
        sq = sq * np.repeat(d.T, o_ch, axis=0)  # row i*O + o gets channel i's tap weights
    energy = sq @ mm  # (I*O, K)
    best = np.argmax(energy, axis=1)
    kept_energy = energy[np.arange(len(rows)), best]
    if weights is not None:
        w = np.asarray(weights, dtype=np.float32) ** 2
        kept_energy = kept_energy * np.tile(w, i_ch)
    n_keep = kept_count(keep, len(rows))
    alive = np.zeros(len(rows), dtype=bool)
    if n_keep >= len(rows):
        alive[:] = True
    else:
        # argpartition + stable tie-break by index makes the result deterministic.
        order = np.lexsort((np.arange(len(rows)), -kept_energy))
        alive[order[:n_keep]] = True
    mask_rows = (mm.T[best] > 0) & alive[:, None]
    assignment = np.where(alive, best, PRUNED).astype(np.uint8).reshape(i_ch, o_ch)
    return Projection(
        kernel=rows_to_kernel(rows * mask_rows, shape),
        mask=rows_to_kernel(mask_rows.astype(np.float32), shape) > 0,
        assignment=assignment,
    )
