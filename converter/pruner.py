"""``prune``: data-free pattern + connectivity pruning of a Keras model, layer by layer."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import numpy.typing as npt

from patternlite.converter import defaults
from patternlite.converter.admm import solve_layer
from patternlite.converter.allocation import ALLOCATIONS, Allocation, sensitivity_allocation
from patternlite.converter.distill import DistillReport, augment_pool, distill
from patternlite.converter.errors import ConverterError
from patternlite.converter.graph import ConvInfo, clone_with_weights, find_convs
from patternlite.converter.layer_problem import apply_weights, bn_scale, build_problem, forward, output_pixels
from patternlite.converter.patterns import resolve_library
from patternlite.converter.pool_growth import PoolGrowth
from patternlite.converter.progress import progress_bar
from patternlite.converter.projection import project
from patternlite.converter.report import LayerReport, format_table
from patternlite.converter.synthetic import SYNTHETIC_KINDS, batchnorms, synthetic_inputs

METHODS = ("admm", "magnitude")
_MAX_POOL_VALUES = 32 * 1024 * 1024  # input values (augmented copies included) in the layer-wise pool


@dataclass
class PruneResult:
    """What ``prune`` produces.

    ``masks[layer]`` is a boolean array of the layer's Keras kernel shape
    (3, 3, I, O), True where a weight may stay non-zero; ``assignments[layer]``
    is the (I, O) library index of each kernel (255 = pruned).
    """

    model: keras.Model
    masks: dict[str, npt.NDArray[np.bool_]]
    library: list[int]
    report: list[LayerReport]
    keep: dict[str, float]
    assignments: dict[str, npt.NDArray[np.uint8]] = field(default_factory=dict)
    method: str = "admm"
    synthetic: str | None = "bn"
    seconds: float = 0.0
    distilled: DistillReport | None = None
    synthetic_images: int = 0
    allocation: Allocation | None = None

    def summary(self) -> str:
        table = format_table(self.report)
        if self.allocation is not None:
            kept = sum(r.kept_kernels for r in self.report)
            total = sum(r.total_kernels for r in self.report)
            table += (
                f"\nkeep allocated by measured sensitivity: {kept} of {total} kernels kept ({kept / total:.1%}), "
                f"{self.macs_kept():.1%} of the pruned layers' 3x3 multiply-accumulates"
            )
        if self.synthetic_images:
            table += f"\nsynthetic inputs: {self.synthetic_images} images"
        if self.distilled is not None:
            d = self.distilled
            table += (
                f"\ndistilled end to end: {d.steps} steps, loss {d.loss_start:.3g} -> {d.loss_end:.3g} "
                f"({d.seconds:.1f} s); err columns are before distillation"
            )
            if d.grown_images:
                table += (
                    f"\ngrowing pool: {d.grown_images} adversarial images added in {d.synthesis_seconds:.1f} s "
                    f"({d.pool_images} in all)"
                )
        return table

    def macs_kept(self) -> float:
        """Fraction of the pruned layers' 3x3 multiply-accumulates that remain (kernels x output pixels)."""
        pixels = {c.name: output_pixels(c.layer) for c in find_convs(self.model)}
        kept = sum(r.kept_kernels * pixels[r.layer] for r in self.report)
        total = sum(r.total_kernels * pixels[r.layer] for r in self.report)
        return kept / max(total, 1)

    def save_masks(self, path: str | Path) -> Path:
        """Masks, library and keep fractions as one .npz (what ``export``/``finetune`` read back)."""
        from patternlite.converter.io import save_masks

        return save_masks(path, self.masks, self.library, self.keep)


def _is_stem(model: keras.Model, conv: ConvInfo) -> bool:
    """True when no convolution of any kind comes before ``conv``: it sees the raw input.

    That layer has few input channels, so every kernel matters, and it is cheap
    anyway; ImageNet ResNets start with a 7x7 stem, so their first 3x3 is not it.
    """
    for layer in model.layers:
        if layer.name == conv.name:
            return True
        if isinstance(layer, keras.layers.Conv2D | keras.layers.DepthwiseConv2D):
            return False
    return True


def _resolve_keep(keep: float | Mapping[str, float], names: Sequence[str]) -> dict[str, float]:
    if isinstance(keep, Mapping):
        unknown = sorted(set(keep) - set(names))
        if unknown:
            raise ConverterError(f"keep names layers that are not pruned 3x3 convs: {unknown}; prunable: {list(names)}")
        out = {n: float(keep.get(n, 1.0)) for n in names}
    else:
        out = {n: float(keep) for n in names}
    for n, k in out.items():
        if not (0.0 < k <= 1.0) or math.isnan(k):
            raise ConverterError(f"keep for {n} is {k}; it must be in (0, 1]")
    return out


def prune(
    model: keras.Model,
    *,
    keep: float | dict[str, float] = 1.0,
    patterns: int | list[int] = 8,
    method: str = "admm",
    synthetic: str = "bn",
    samples: int | None = None,
    iterations: int = defaults.ITERATIONS,
    seed: int = 0,
    prune_first: bool = False,
    progress: bool = True,
    synthetic_steps: int | None = None,
    inputs: npt.NDArray[np.float32] | None = None,
    augment: int = defaults.AUGMENT_COPIES,
    distill_steps: int = defaults.DISTILL_STEPS,
    distill_adversarial: float = defaults.DISTILL_ADVERSARIAL,
    distill_only_pruned: bool = False,
    allocation: str = "uniform",
    preset: str = defaults.PRESET,
    budget: float | None = None,
    growth: PoolGrowth | None = None,
) -> PruneResult:
    """Pattern-prune every 3x3 conv of ``model`` (a copy; the input model is not modified).

    ``keep`` is the fraction of 3x3 kernels kept per layer (one float, or a dict
    layer name -> fraction; unnamed layers keep all kernels but still get
    patterns). ``patterns`` is the library size to distil or an explicit list of
    9-bit masks. ``method="admm"`` reconstructs each layer's output on synthetic
    inputs (``synthetic`` = "bn" or "noise", ``samples`` of them, or your own
    ``inputs``); ``method="magnitude"`` is the fast data-free projection only.
    A 3x3 conv that sees the raw input (no conv before it) is left dense unless ``prune_first``. Each layer's
    least-squares problem sees the inputs plus ``augment`` freshly augmented
    copies of them (shifts, flips, mixing; see ``distill.augment``). ``distill_steps``
    > 0 (ADMM only) then trains the pruned model end to end to match the
    original on augmented synthetic inputs, masks and BN statistics held fixed
    (see ``distill.py``); ``distill_adversarial`` is the size of its adversarial
    nudge (0 turns it off: faster, slightly less accurate). Distillation also
    adapts the unpruned layers' weights (never their structure) unless
    ``distill_only_pruned``. ``allocation="sensitivity"`` (one float ``keep`` < 1,
    ADMM only) keeps the same total number of kernels but shares them out
    across layers by each layer's measured damage on the synthetic inputs
    (see ``allocation.py``); the default ``"uniform"`` keeps ``keep`` of every layer.
    ``preset`` ("fast" or "standard", see ``defaults.PRESETS``) supplies the
    time ``budget`` in minutes and the ``samples``/``synthetic_steps`` left as
    None. The budget bounds synthesis and distillation (``budget=0``: no bound,
    every stage runs its full sizes). ``growth`` (a :class:`PoolGrowth`, ADMM with
    BatchNorm synthesis only) makes distillation grow its synthetic pool with
    adversarial images (CMI-style, ``pool_growth.py``) for that share of its time.
    """
    t_start = time.perf_counter()
    if preset not in defaults.PRESETS:
        raise ConverterError(f"preset must be one of {tuple(defaults.PRESETS)}, got {preset!r}")
    chosen = defaults.PRESETS[preset]
    samples = int(chosen["samples"]) if samples is None else samples
    synthetic_steps = int(chosen["synthetic_steps"]) if synthetic_steps is None else synthetic_steps
    budget = chosen["budget"] if budget is None else budget
    if not (budget >= 0 and math.isfinite(budget)):
        raise ConverterError(f"budget must be >= 0 minutes, got {budget}")
    deadline = t_start + 60.0 * budget if budget > 0 else None
    if method not in METHODS:
        raise ConverterError(f"method must be one of {METHODS}, got {method!r}")
    if method == "admm" and inputs is None and synthetic not in SYNTHETIC_KINDS:
        raise ConverterError(f"synthetic must be one of {SYNTHETIC_KINDS}, got {synthetic!r}")
    if allocation not in ALLOCATIONS:
        raise ConverterError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")
    if allocation == "sensitivity" and (method != "admm" or isinstance(keep, Mapping)):
        raise ConverterError("allocation='sensitivity' needs method='admm' and one float keep (it sets per-layer keep)")
    # ``not x >= 0`` also refuses NaN.
    if samples < 1 or min(iterations, augment, distill_steps) < 0 or not distill_adversarial >= 0:
        raise ConverterError("samples must be >= 1; iterations, augment, distill_steps and distill_adversarial >= 0")
    pruned = clone_with_weights(model)
    convs = find_convs(pruned)
    orig_convs = {c.name: c for c in find_convs(model)}
    targets = convs if prune_first or not _is_stem(model, convs[0]) else convs[1:]
    if not targets:
        raise ConverterError(
            "the only prunable conv (a plain 3x3 Conv2D; depthwise and 1x1 convs are not pruned) is the first one, "
            "which sees the raw input; prune it with prune_first=True (CLI: --prune-first)"
        )
    keeps = _resolve_keep(keep, [c.name for c in targets])
    scales = {c.name: bn_scale(c) for c in targets}
    # The library is distilled from BN-folded kernels: that is what the delegate will see.
    folded = [keras.ops.convert_to_numpy(c.layer.kernel) * scales[c.name][None, None, None, :] for c in targets]
    library = resolve_library(patterns, folded, seed=seed)

    x: npt.NDArray[np.float32] | None = None
    if method == "admm":
        if inputs is not None:
            x = np.asarray(inputs, np.float32)
        else:
            share = None if deadline is None else defaults.SYNTHESIS_SHARE * 60.0 * budget
            x = synthetic_inputs(
                model, synthetic, samples, steps=synthetic_steps, seed=seed, progress=progress, seconds=share
            )
    allocated: Allocation | None = None
    if allocation == "sensitivity" and x is not None and not isinstance(keep, Mapping) and keep < 1.0:
        allocated = sensitivity_allocation(model, targets, x, library, scales, keep, seed=seed, progress=progress)
        keeps = allocated.keep
    rng = np.random.default_rng(seed)
    # The layer-wise problems see augmented copies too; distillation augments afresh every batch.
    # Capped so large inputs (ImageNet-sized) do not multiply memory: their patch rows are subsampled anyway.
    copies = min(augment, max(0, _MAX_POOL_VALUES // max(x.size, 1) - 1)) if x is not None else 0
    x_layers = None if x is None else augment_pool(x, copies, seed=seed)

    masks: dict[str, npt.NDArray[np.bool_]] = {}
    assignments: dict[str, npt.NDArray[np.uint8]] = {}
    rows: list[LayerReport] = []
    bar = progress_bar(targets, desc=f"prune ({method})", disable=not progress, leave=False)
    for conv in bar:
        t0 = time.perf_counter()
        bar.set_postfix(layer=conv.name, refresh=False)
        kernel = keras.ops.convert_to_numpy(conv.layer.kernel)
        nz_before = int(np.count_nonzero(kernel))
        err_proj: float | None = None
        err: float | None = None
        if method == "magnitude" or x_layers is None:
            proj = project(kernel, library, keeps[conv.name], weights=scales[conv.name])
            conv.layer.kernel.assign(proj.kernel)
        else:
            orig = orig_convs[conv.name]
            xp = forward(keras.Model(pruned.inputs, conv.layer.input), x_layers)
            xq = forward(keras.Model(model.inputs, orig.layer.input), x_layers)
            problem = build_problem(conv, orig, xp, xq, scales[conv.name], rng)
            sol = solve_layer(problem, library, keeps[conv.name], iterations=iterations)
            apply_weights(conv, sol.weights, scales[conv.name], sol.projection.mask)
            proj = sol.projection
            err_proj, err = sol.error_projection, sol.error
        masks[conv.name] = proj.mask
        assignments[conv.name] = proj.assignment
        rows.append(
            LayerReport(
                layer=conv.name,
                shape=tuple(kernel.shape),  # type: ignore[arg-type]
                keep=keeps[conv.name],
                kept_kernels=int(np.count_nonzero(proj.assignment != 255)),
                total_kernels=int(proj.assignment.size),
                weights_before=nz_before,
                weights_after=int(np.count_nonzero(keras.ops.convert_to_numpy(conv.layer.kernel))),
                error_projection=err_proj,
                error=err,
                seconds=time.perf_counter() - t0,
            )
        )
    bar.close()
    distilled: DistillReport | None = None
    left = None if deadline is None else deadline - time.perf_counter()
    if x is not None and distill_steps > 0 and (left is None or left > 0):
        distilled = distill(
            pruned,
            model,
            x,
            masks,
            steps=distill_steps,
            adversarial=distill_adversarial,
            only_pruned=distill_only_pruned,
            seed=seed,
            progress=progress,
            seconds=left,
            growth=growth if inputs is None and synthetic == "bn" and batchnorms(model) else None,
        )
    return PruneResult(
        model=pruned,
        masks=masks,
        library=library,
        report=rows,
        keep=keeps,
        assignments=assignments,
        method=method,
        synthetic=(None if method == "magnitude" else ("custom" if inputs is not None else synthetic)),
        seconds=time.perf_counter() - t_start,
        distilled=distilled,
        synthetic_images=0 if x is None else len(x),
        allocation=allocated,
    )
