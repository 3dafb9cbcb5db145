"""``prune``: data-free pattern + connectivity pruning of a Keras model, layer by layer.

Three kinds of layer are pruned (``graph.py``): 3x3 convs (a library pattern per
kernel, a fraction of kernels kept), 1x1 convs (blocks of ``CHANNEL_BLOCK``
output channels that keep the same input channels) and 3x3 depthwise convs (one
pattern per block of channels, optionally whole channels pruned). The delegate
runs any zeros exactly, but only these block structures give it speed
(``projection.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import numpy.typing as npt

from patternlite._contract import PRUNED
from patternlite.converter import defaults
from patternlite.converter.errors import ConverterError
from patternlite.converter.finetune import FinetuneReport, check_client_data, masked_finetune
from patternlite.converter.finetune_policy import FinetunePolicy
from patternlite.converter.graph import (
    CONV3X3,
    DEPTHWISE,
    KIND_ALIASES,
    PATTERN_KINDS,
    POINTWISE,
    SHORT_NAMES,
    ConvInfo,
    clone_with_weights,
    find_layers,
    heads,
    resolve_kinds,
)
from patternlite.converter.policy import PrunePolicy
from patternlite.converter.progress import progress_bar
from patternlite.converter.report import LayerReport, format_table
from patternlite.converter.solvers.admm import LayerSolution
from patternlite.converter.solvers.allocation import ALLOCATIONS, Allocation, sensitivity_allocation
from patternlite.converter.solvers.conv import solve_layer
from patternlite.converter.solvers.depthwise import apply_depthwise_weights, build_depthwise_problem, solve_depthwise
from patternlite.converter.solvers.layer_problem import apply_weights, bn_scale, build_problem, forward, output_pixels
from patternlite.converter.solvers.patterns import all_candidates, check_library, resolve_library
from patternlite.converter.solvers.projection import CONNECTIVITIES, Projection, project_layer, project_pointwise
from patternlite.converter.synthesis.distill import DistillReport, augment_pool, distill
from patternlite.converter.synthesis.synthetic import SYNTHETIC_KINDS, batchnorms, synthetic_inputs

METHODS = ("admm", "magnitude")
_MAX_POOL_VALUES = 32 * 1024 * 1024  # input values (augmented copies included) in the layer-wise pool


@dataclass
class PruneResult:
    """What ``prune`` produces.

    ``masks[layer]`` is a boolean array of the layer's Keras kernel shape
    ((3, 3, I, O), (1, 1, I, O) for a 1x1 conv, (3, 3, C, 1) for a depthwise
    conv), True where a weight may stay non-zero; ``assignments[layer]`` is the
    (I, O) library index of each kernel (255 = pruned): 0 or 255 per weight of a
    1x1 conv, (C, 1) one pattern per channel of a depthwise conv. ``kinds[layer]``
    is the layer's kind (``graph.ALL_KINDS``).
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
    kinds: dict[str, str] = field(default_factory=dict)
    # Up to defaults.CALIBRATION_IMAGES of the inputs pruning saw: an int8 export calibrates on them.
    calibration_pool: npt.NDArray[np.float32] | None = field(default=None, repr=False)
    # With ``data``: how many client images (labelled or not) and the retraining that replaced distillation.
    data_images: int = 0
    data_labelled: bool = False
    retrained: FinetuneReport | None = None

    def summary(self) -> str:
        inputs = {"data": "the client's images", "custom": "the given inputs"}.get(
            str(self.synthetic), "synthetic inputs"
        )
        table = format_table(self.report, inputs)
        if self.allocation is not None:
            rows = [r for r in self.report if r.kind == CONV3X3]
            kept = sum(r.kept_kernels for r in rows)
            total = sum(r.total_kernels for r in rows)
            table += (
                f"\n3x3 keep allocated by measured sensitivity: {kept} of {total} kernels kept ({kept / total:.1%}), "
                f"{self.macs_kept():.1%} of the pruned layers' 3x3 multiply-accumulates"
            )
        if self.data_images:
            kind = "labelled" if self.data_labelled else "unlabelled"
            table += (
                f"\nclient data: {self.data_images} {kind} images; the layer-wise solve used "
                f"{self.synthetic_images} of them (no synthetic images)"
            )
        elif self.synthetic_images:
            table += f"\nsynthetic inputs: {self.synthetic_images} images"
        if self.retrained is not None:
            table += "\nretrained on the client data (distilled from the original model):\n" + self.retrained.summary()
        elif self.data_images:
            # Said out loud: a budget the layer-wise solve used up leaves the masked model unretrained.
            table += "\nnot retrained on the client data: the layer-wise solve used the whole budget (raise --budget)"
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
        """Fraction of the pruned 3x3 convs' multiply-accumulates that remain (kernels x output pixels)."""
        rows = [r for r in self.report if r.kind == CONV3X3]
        pixels = {c.name: output_pixels(c.layer) for c in find_layers(self.model, (CONV3X3,))} if rows else {}
        kept = sum(r.kept_kernels * pixels[r.layer] for r in rows)
        total = sum(r.total_kernels * pixels[r.layer] for r in rows)
        return kept / max(total, 1)

    def save_masks(self, path: str | Path) -> Path:
        """Masks, library and keep fractions as one .npz (what ``export``/``finetune`` read back)."""
        from patternlite.converter.export.io import save_masks

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


def _resolve_keep(
    keep: float | Mapping[str, float],
    kind_keep: Mapping[str, float] | None,
    layers: Sequence[ConvInfo],
) -> dict[str, float]:
    """Each layer's keep: its own entry of a dict ``keep``, else its kind's, else the default.

    A kind's default is ``kind_keep[kind]`` when given; otherwise a float ``keep``
    for 3x3 and 1x1 convs (1.0 with a dict ``keep``) and ``defaults.DEPTHWISE_KEEP``
    for depthwise convs.
    """
    per_kind: dict[str, float] = {k: 1.0 if isinstance(keep, Mapping) else float(keep) for k in (CONV3X3, POINTWISE)}
    per_kind[DEPTHWISE] = defaults.DEPTHWISE_KEEP
    for name, value in (kind_keep or {}).items():
        if name not in KIND_ALIASES:
            raise ConverterError(f"kind_keep names {name!r}, which is not a layer kind; kinds: {list(SHORT_NAMES)}")
        per_kind[KIND_ALIASES[name]] = float(value)
    names = [c.name for c in layers]
    out = {c.name: per_kind[c.kind] for c in layers}
    if isinstance(keep, Mapping):
        unknown = sorted(set(keep) - set(names))
        if unknown:
            raise ConverterError(f"keep names layers that are not pruned: {unknown}; prunable: {names}")
        out.update({n: float(k) for n, k in keep.items()})
    checks = [*((f"kind {k}", v) for k, v in per_kind.items()), *out.items()]
    for n, k in checks:
        if not (0.0 < k <= 1.0) or math.isnan(k):
            raise ConverterError(f"keep for {n} is {k}; it must be in (0, 1]")
    return out


def _candidates(
    model: keras.Model, found: Sequence[ConvInfo], *, prune_first: bool, prune_head: bool
) -> tuple[list[ConvInfo], dict[str, list[str]]]:
    """The layers ``prune`` may touch, and the names of those it leaves dense, by reason.

    Left dense: the conv that sees the raw input (any kind; ``prune_first``), and,
    of the 1x1 and depthwise layers, a classifier head (no conv or dense layer
    after it; ``prune_head``) and frozen layers (``trainable=False``: fixed by
    design, like ResNet-20's option-A 1x1 shortcuts, which select channels).
    3x3 convs follow the rules they always had: only the stem rule applies.
    """
    head_names = heads(model) if not prune_head else set()
    left: dict[str, list[str]] = {"stem": [], "head": [], "frozen": []}
    out = []
    for c in found:
        if not prune_first and _is_stem(model, c):
            left["stem"].append(c.name)
        elif c.kind != CONV3X3 and c.name in head_names:
            left["head"].append(c.name)
        elif c.kind != CONV3X3 and not c.layer.trainable:
            left["frozen"].append(c.name)
        else:
            out.append(c)
    return out, left


def _nothing_to_prune(kinds: Sequence[str], left: Mapping[str, list[str]]) -> ConverterError:
    what = ", ".join(SHORT_NAMES[k] for k in kinds)
    why = []
    if left.get("stem"):
        why.append(
            f"{left['stem'][0]} is the first conv, which sees the raw input; "
            "prune it with prune_first=True (CLI: --prune-first)"
        )
    if left.get("head"):
        why.append(f"{', '.join(left['head'])}: classifier head, pruned only with prune_head=True (CLI: --prune-head)")
    if left.get("frozen"):
        why.append(f"{', '.join(left['frozen'])}: frozen (trainable=False)")
    if left.get("keep"):
        why.append(f"{', '.join(left['keep'])}: 1x1 at keep 1.0, nothing to prune (give a keep < 1)")
    return ConverterError(f"no layer to prune among the {what} layers: " + "; ".join(why))


def _library(
    patterns: int | Sequence[int], targets: Sequence[ConvInfo], scales: Mapping[str, npt.NDArray[np.float64]], seed: int
) -> list[int]:
    """The library, distilled from the BN-folded 3x3 and depthwise kernels: what the delegate will see.

    A run that prunes only 1x1 convs uses no pattern; its library (written to the
    metadata, which needs one) is then the first candidates.
    """
    folded = []
    for c in targets:
        if c.kind in PATTERN_KINDS:
            k = keras.ops.convert_to_numpy(c.layer.kernel)
            scale = scales[c.name]
            folded.append(k * (scale[None, None, None, :] if c.kind == CONV3X3 else scale[None, None, :, None]))
    if folded:
        return resolve_library(patterns, folded, seed=seed)
    if isinstance(patterns, (int, np.integer)):
        return all_candidates()[: int(patterns)]
    return check_library(patterns)


def _solve(
    conv: ConvInfo,
    orig: ConvInfo,
    xp: npt.NDArray[np.float32],
    xq: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float64],
    library: Sequence[int],
    keep: float,
    iterations: int,
    rng: np.random.Generator,
    connectivity: str = "kernel",
    pointwise_quads: bool = False,
) -> LayerSolution:
    """The layer-wise ADMM solve of one layer of any kind, written back into the pruned model."""
    if conv.kind == DEPTHWISE:
        dw = build_depthwise_problem(conv, orig, xp, xq, scale, rng)
        sol = solve_depthwise(dw, library, keep, iterations=iterations)
        apply_depthwise_weights(conv, sol.weights, scale, sol.projection.mask)
        return sol
    problem = build_problem(conv, orig, xp, xq, scale, rng)
    projector = None
    if conv.kind == POINTWISE:

        def projector(kernel: npt.NDArray[np.float32]) -> Projection:
            return project_pointwise(kernel, keep, quads=pointwise_quads)

    sol = solve_layer(problem, library, keep, iterations=iterations, projector=projector, connectivity=connectivity)
    apply_weights(conv, sol.weights, scale, sol.projection.mask)
    return sol


def prune(
    model: keras.Model,
    *,
    keep: float | dict[str, float] = 1.0,
    policy: PrunePolicy | None = None,
    inputs: npt.NDArray[np.float32] | None = None,
    data: npt.ArrayLike | tuple[npt.ArrayLike, npt.ArrayLike | None] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> PruneResult:
    """Pattern-prune the 3x3, 1x1 and 3x3 depthwise convs of ``model`` (a copy; the input model is not modified).

    ``keep`` is the fraction kept per layer: of the kernels of a 3x3 conv, of the
    weights of a 1x1 conv (the same input channels kept by every block of
    ``CHANNEL_BLOCK`` output channels), of the channels of a depthwise conv (one
    float, or a dict layer name -> fraction). A float ``keep`` applies to 3x3 and
    1x1 convs (1.0 with a dict ``keep``); depthwise convs keep every channel
    (``defaults.DEPTHWISE_KEEP``: patterns only; pruning whole depthwise channels
    costs much accuracy for little time) unless the policy's ``kind_keep`` says
    otherwise. A 1x1 conv at keep 1.0 is left alone: there is nothing to prune.

    ``policy`` (:class:`~patternlite.converter.policy.PrunePolicy`, its defaults when
    None) holds every other setting, by stage. With the ADMM solver each layer's
    output is reconstructed on synthetic inputs, or on your own ``inputs``; for a 1x1
    conv ADMM is the 3x3 solver on pixel rows with the block projection as its
    Z-step; for a depthwise conv it is ``C`` batched 9-tap problems
    (``solvers/depthwise.py``); all share one ADMM core (``solvers/admm.py``) and
    end with the same masked least-squares refit. The conv that sees the raw input
    (no conv before it) is left dense unless ``prune_first``; a 1x1 or depthwise
    classifier head (no conv or dense layer after it) unless ``prune_head``; frozen
    1x1 and depthwise layers always. Each layer's least-squares problem sees the
    inputs plus ``augment`` freshly augmented copies of them (``synthesis.distill.augment``).
    Distillation (ADMM only) then trains the pruned model end to end to match the
    original on augmented synthetic inputs, masks and BN statistics held fixed
    (``synthesis/distill.py``). The budget bounds synthesis and distillation
    (0 minutes: no bound, every stage runs its full sizes). ``seed`` seeds every
    random choice.

    ``data`` (the client's images, or ``(images, labels)``) replaces the synthetic
    inputs: the layer-wise solve runs on up to ``defaults.DATA_LAYERWISE_IMAGES``
    of them (plus augmented copies), and instead of distillation the pruned model
    is retrained on all of them with the client stage's recipe (``masked_finetune``:
    distilled from ``model``, with the labels when given, crops and flips, the
    best held-out checkpoint) for whatever the budget leaves. The budget then
    covers the whole run (``defaults.DATA_BUDGET`` minutes unless set).
    """
    policy = PrunePolicy() if policy is None else policy
    sparsity, synthesis, solver = policy.sparsity, policy.synthesis, policy.solver
    layers, kind_keep, patterns = sparsity.layers, sparsity.kind_keep, sparsity.patterns
    allocation, prune_first, prune_head = sparsity.allocation, sparsity.prune_first, sparsity.prune_head
    connectivity, pointwise_quads = sparsity.connectivity, sparsity.pointwise_quads
    synthetic, samples, synthetic_steps = synthesis.kind, synthesis.samples, synthesis.steps
    augment, growth = synthesis.augment, synthesis.growth
    method, iterations = solver.method, solver.iterations
    distill_steps = policy.distillation.steps
    distill_adversarial = policy.distillation.adversarial
    distill_only_pruned = policy.distillation.only_pruned
    preset, budget, clock = policy.budget.preset, policy.budget.minutes, policy.budget.clock
    t_start = clock()
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
    if connectivity not in CONNECTIVITIES:
        raise ConverterError(f"connectivity must be one of {CONNECTIVITIES}, got {connectivity!r}")
    if allocation not in ALLOCATIONS:
        raise ConverterError(f"allocation must be one of {ALLOCATIONS}, got {allocation!r}")
    if allocation == "sensitivity" and (method != "admm" or isinstance(keep, Mapping)):
        raise ConverterError("allocation='sensitivity' needs method='admm' and one float keep (it sets per-layer keep)")
    data_x, data_y = _client_data(model, data, inputs, method)
    if data_x is not None and policy.budget.minutes is None:
        budget = defaults.DATA_BUDGET
        deadline = t_start + 60.0 * budget
    kinds = resolve_kinds(layers)
    # ``not x >= 0`` also refuses NaN.
    if samples < 1 or min(iterations, augment, distill_steps) < 0 or not distill_adversarial >= 0:
        raise ConverterError("samples must be >= 1; iterations, augment, distill_steps and distill_adversarial >= 0")
    pruned = clone_with_weights(model)
    candidates, kept_dense = _candidates(
        model, find_layers(pruned, kinds), prune_first=prune_first, prune_head=prune_head
    )
    keeps = _resolve_keep(keep, kind_keep, candidates)
    # A 1x1 conv at keep 1.0 has nothing to prune: it stays a plain conv, without a record.
    kept_dense["keep"] = [c.name for c in candidates if c.kind == POINTWISE and keeps[c.name] >= 1.0]
    targets = [c for c in candidates if c.name not in kept_dense["keep"]]
    keeps = {c.name: keeps[c.name] for c in targets}
    if not targets:
        raise _nothing_to_prune(kinds, kept_dense)
    orig_convs = {c.name: c for c in find_layers(model, kinds)}
    scales = {c.name: bn_scale(c) for c in targets}
    library = _library(patterns, targets, scales, seed)

    x: npt.NDArray[np.float32] | None = None
    if method == "admm":
        if data_x is not None:
            pick = np.random.default_rng(seed).permutation(len(data_x))[: defaults.DATA_LAYERWISE_IMAGES]
            x = data_x[np.sort(pick)]
        elif inputs is not None:
            x = np.asarray(inputs, np.float32)
        else:
            share = None if deadline is None else defaults.SYNTHESIS_SHARE * 60.0 * budget
            x = synthetic_inputs(
                model,
                synthetic,
                samples,
                steps=synthetic_steps,
                seed=seed,
                progress=progress,
                seconds=share,
                clock=clock,
            )
    allocated: Allocation | None = None
    convs3 = [c for c in targets if c.kind == CONV3X3]
    if allocation == "sensitivity" and x is not None and not isinstance(keep, Mapping) and convs3:
        k3 = float((kind_keep or {}).get(CONV3X3, (kind_keep or {}).get("3x3", keep)))
        if k3 < 1.0:
            # The 3x3 convs share their kernels out by sensitivity; the other kinds keep their kind's keep.
            allocated = sensitivity_allocation(
                model, convs3, x, library, scales, k3, seed=seed, progress=progress, connectivity=connectivity
            )
            keeps.update(allocated.keep)
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
        t0 = clock()
        bar.set_postfix(layer=conv.name, refresh=False)
        kernel = keras.ops.convert_to_numpy(conv.layer.kernel)
        nz_before = int(np.count_nonzero(kernel))
        err_proj: float | None = None
        err: float | None = None
        if method == "magnitude" or x_layers is None:
            proj = project_layer(
                conv.kind,
                kernel,
                library,
                keeps[conv.name],
                weights=scales[conv.name],
                connectivity=connectivity,
                pointwise_quads=pointwise_quads,
            )
            conv.layer.kernel.assign(proj.kernel)
        else:
            orig = orig_convs[conv.name]
            xp = forward(keras.Model(pruned.inputs, conv.layer.input), x_layers)
            xq = forward(keras.Model(model.inputs, orig.layer.input), x_layers)
            sol = _solve(
                conv,
                orig,
                xp,
                xq,
                scales[conv.name],
                library,
                keeps[conv.name],
                iterations,
                rng,
                connectivity,
                pointwise_quads,
            )
            proj = sol.projection
            err_proj, err = sol.error_projection, sol.error
        masks[conv.name] = proj.mask
        assignments[conv.name] = proj.assignment
        rows.append(
            LayerReport(
                layer=conv.name,
                shape=tuple(kernel.shape),  # type: ignore[arg-type]
                keep=keeps[conv.name],
                kept_kernels=int(np.count_nonzero(proj.assignment != PRUNED)),
                total_kernels=int(proj.assignment.size),
                weights_before=nz_before,
                weights_after=int(np.count_nonzero(keras.ops.convert_to_numpy(conv.layer.kernel))),
                error_projection=err_proj,
                error=err,
                seconds=clock() - t0,
                kind=conv.kind,
            )
        )
    bar.close()
    distilled: DistillReport | None = None
    retrained: FinetuneReport | None = None
    left = None if deadline is None else deadline - clock()
    if data_x is not None:
        if left is not None and left > 0:
            retrained = masked_finetune(
                pruned,
                data_x,
                data_y,
                masks=masks,
                teacher=model,
                policy=FinetunePolicy(minutes=left / 60.0, seed=seed, clock=clock),
                progress=progress,
            )
    elif x is not None and distill_steps > 0 and (left is None or left > 0):
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
            clock=clock,
        )
    return PruneResult(
        model=pruned,
        masks=masks,
        library=library,
        report=rows,
        keep=keeps,
        assignments=assignments,
        method=method,
        synthetic=(
            None
            if method == "magnitude"
            else ("data" if data_x is not None else "custom" if inputs is not None else synthetic)
        ),
        seconds=clock() - t_start,
        distilled=distilled,
        synthetic_images=0 if x is None else len(x),
        allocation=allocated,
        kinds={c.name: c.kind for c in targets},
        calibration_pool=None if x is None else x[: defaults.CALIBRATION_IMAGES].copy(),
        data_images=0 if data_x is None else len(data_x),
        data_labelled=data_y is not None,
        retrained=retrained,
    )


def _client_data(
    model: keras.Model,
    data: npt.ArrayLike | tuple[npt.ArrayLike, npt.ArrayLike | None] | None,
    inputs: npt.NDArray[np.float32] | None,
    method: str,
) -> tuple[npt.NDArray[np.float32] | None, npt.NDArray[np.int64] | None]:
    """``data`` as checked (images, labels or None), before any work starts; (None, None) without data."""
    if data is None:
        return None, None
    if inputs is not None:
        raise ConverterError("give either data (the client's images) or inputs, not both")
    if method != "admm":
        raise ConverterError("data is used by the ADMM solver; method='magnitude' prunes without any")
    x, y = data if isinstance(data, tuple) else (data, None)
    return check_client_data(model, x, y)
