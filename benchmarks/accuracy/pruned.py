"""The data-free pruned models of the accuracy runs, cached so a rerun (or another script) reuses them.

``prune`` on ResNet-20 takes minutes per keep, and every accuracy script scores
the same data-free models, so each one is saved once under the cache folder as
``<model>-keep<K>-p<patterns>-<preset>[-b<budget>]`` (.keras, .masks.npz and
.json with the pruning time) and loaded from there afterwards.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt


@dataclass
class Pruned:
    """A data-free pruned model with what ``export_tflite`` needs beside it, and how long pruning took."""

    model: Any
    masks: dict[str, npt.NDArray[np.bool_]]
    library: list[int]
    keep: dict[str, float]
    seconds: float


def cache_tag(
    name: str,
    keep: float,
    patterns: int,
    preset: str,
    budget: float | None,
    pointwise_quads: bool = False,
    connectivity: str = "kernel",
) -> str:
    return (
        f"{name}-keep{keep:g}-p{patterns}-{preset}"
        + (f"-b{budget:g}" if budget else "")
        + ("-quads" if pointwise_quads else "")
        + ("" if connectivity == "kernel" else f"-{connectivity}")
    )


def pruned_model(
    name: str,
    dense_model: Any,
    keep: float,
    cache: Path,
    *,
    patterns: int,
    preset: str,
    budget: float | None,
    pointwise_quads: bool = False,
    connectivity: str = "kernel",
) -> Pruned:
    """``prune(dense_model, keep)`` without data, from the cache when an earlier run saved it.
    ``pointwise_quads``: the converter's ``--pointwise-quads`` (1x1 blocks keep aligned fours of inputs);
    ``connectivity``: its ``--connectivity`` for 3x3 convs."""
    import keras

    from patternlite.converter import prune
    from patternlite.converter.export.io import load_masks, save_masks, write_atomic
    from patternlite.converter.policy import PrunePolicy

    cache.mkdir(parents=True, exist_ok=True)
    tag = cache_tag(name, keep, patterns, preset, budget, pointwise_quads, connectivity)
    cached, cached_masks, info_file = cache / f"{tag}.keras", cache / f"{tag}.masks.npz", cache / f"{tag}.json"
    if cached.exists() and cached_masks.exists() and info_file.exists():
        masks, library, keeps = load_masks(cached_masks)
        seconds = json.loads(info_file.read_text())["seconds"]
        return Pruned(keras.models.load_model(cached, compile=False), masks, library, keeps, seconds)
    options: dict[str, Any] = {
        "patterns": patterns,
        "preset": preset,
        "pointwise_quads": pointwise_quads,
        "connectivity": connectivity,
    }
    if budget:
        options["budget"] = budget
    t = time.perf_counter()
    result = prune(dense_model, keep=keep, policy=PrunePolicy.from_options(**options), progress=False)
    seconds = round(time.perf_counter() - t, 1)
    write_atomic(cached, lambda tmp, m=result.model: m.save(tmp))
    save_masks(cached_masks, result.masks, result.library, result.keep)
    info_file.write_text(json.dumps({"seconds": seconds}))
    return Pruned(result.model, dict(result.masks), list(result.library), dict(result.keep), seconds)
