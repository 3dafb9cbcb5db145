"""The pattern library: which 4-tap (centre-kept) 3x3 shapes a model's kernels may follow.

A pattern is a 9-bit mask, bit ``3*ky + kx`` set for a kept tap (the encoding of
``docs/metadata-format.md``). There are C(8, 3) = 56 candidates. The library is
*distilled* from the pretrained weights alone: greedily add the candidate that
most increases the total weight energy the library can keep, which needs no data
and favours the shapes the network already leans on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from patternlite._contract import KERNEL_TAPS, PATTERN_CANDIDATES
from patternlite.converter.errors import ConverterError
from patternlite.metadata import MAX_PATTERNS, MetadataError, validate_pattern

# Kernels sampled per distillation: enough for stable statistics, bounded memory on VGG-size nets.
_MAX_DISTILL_KERNELS = 200_000


def all_candidates() -> list[int]:
    """Every 4-tap mask that keeps the centre, in increasing order (56 of them; spec/contract.toml)."""
    return list(PATTERN_CANDIDATES)


def masks_matrix(patterns: Sequence[int]) -> npt.NDArray[np.float32]:
    """A (9, K) 0/1 matrix: column k marks the taps kept by pattern k."""
    return np.array([[(m >> b) & 1 for m in patterns] for b in range(KERNEL_TAPS)], dtype=np.float32)


def kernels_as_rows(kernel_hwio: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """A Keras (3, 3, I, O) kernel as (I*O, 9) rows, column ``3*ky + kx``; row ``i*O + o``."""
    k = np.asarray(kernel_hwio, dtype=np.float32)
    return k.reshape(KERNEL_TAPS, -1).T


def rows_to_kernel(rows: npt.NDArray[np.floating], shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """Inverse of :func:`kernels_as_rows`."""
    return np.ascontiguousarray(np.asarray(rows, dtype=np.float32).T.reshape(shape))


def check_library(patterns: Sequence[int]) -> list[int]:
    """Validate a user-given library; return it as a list of ints."""
    lib = [int(p) for p in patterns]
    if not 1 <= len(lib) <= MAX_PATTERNS:
        raise ConverterError(f"a pattern library holds 1..{MAX_PATTERNS} patterns, got {len(lib)}")
    if len(set(lib)) != len(lib):
        raise ConverterError("the pattern library lists a pattern twice")
    for mask in lib:
        try:
            validate_pattern(mask)
        except MetadataError as exc:
            raise ConverterError(str(exc)) from exc
    return lib


def distill_library(kernels: Sequence[npt.NDArray[np.floating]], size: int, *, seed: int = 0) -> list[int]:
    """Greedily pick ``size`` candidate patterns that keep the most weight energy.

    ``kernels`` are Keras (3, 3, I, O) kernels. Each kernel's energy is normalised
    per layer so that a layer with large weights does not dictate the library.
    """
    if not 1 <= size <= 56:
        raise ConverterError(f"a distilled library holds 1..56 patterns, got {size}")
    rows = []
    for k in kernels:
        r = kernels_as_rows(k) ** 2
        total = float(r.sum())
        if total > 0:
            rows.append(r / total * len(r))  # mean kernel energy 1 in every layer
    if not rows:
        raise ConverterError("all prunable kernels are zero; cannot distil a pattern library")
    sq = np.concatenate(rows)
    if len(sq) > _MAX_DISTILL_KERNELS:
        pick = np.random.default_rng(seed).choice(len(sq), _MAX_DISTILL_KERNELS, replace=False)
        sq = sq[pick]
    cands = all_candidates()
    energy = sq @ masks_matrix(cands)  # (n, 56): energy each candidate keeps for each kernel
    chosen: list[int] = []
    best = np.zeros(len(sq), dtype=np.float32)
    for _ in range(size):
        gains = np.maximum(energy, best[:, None]).sum(axis=0)
        gains[chosen] = -np.inf
        j = int(np.argmax(gains))
        chosen.append(j)
        best = np.maximum(best, energy[:, j])
    return [cands[j] for j in chosen]


def resolve_library(
    patterns: int | Sequence[int], kernels: Sequence[npt.NDArray[np.floating]], *, seed: int = 0
) -> list[int]:
    """``patterns`` as a library: an int asks for a distilled library of that size."""
    if isinstance(patterns, (int, np.integer)):
        return distill_library(kernels, int(patterns), seed=seed)
    return check_library(patterns)
