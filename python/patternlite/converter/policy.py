"""``PrunePolicy``: every setting of ``prune`` but the model, the keep fraction and the inputs.

Grouped by pipeline stage, in the way of tensorflow-model-optimization's pruning
params: which layers and how sparse (:class:`SparsityPolicy`), the synthetic
inputs (:class:`SynthesisPolicy`), the layer-wise solver (:class:`SolverPolicy`),
end-to-end distillation (:class:`DistillationPolicy`) and the time budget
(:class:`BudgetPolicy`). The defaults are the measured choices of ``defaults.py``,
so ``prune(model, keep=0.5)`` needs no policy at all::

    policy = PrunePolicy(solver=SolverPolicy(method="magnitude"))
    policy = PrunePolicy.from_options(samples=128, distill_steps=0)  # the flat names of the CLI

No TensorFlow import here: the CLI builds a policy before TensorFlow loads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from patternlite.converter import defaults
from patternlite.converter.clock import MONOTONIC, Clock
from patternlite.converter.errors import ConverterError

if TYPE_CHECKING:
    from patternlite.converter.synthesis.pool_growth import PoolGrowth


@dataclass(frozen=True)
class SparsityPolicy:
    """Which layers are pruned, and into which structure.

    ``layers``: the kinds ("conv3x3"/"3x3", "pointwise"/"1x1", "depthwise3x3"/"depthwise",
    a list or a comma-separated string; None: all three). ``kind_keep``: kind -> keep
    fraction, overriding ``prune``'s float ``keep`` for that kind (depthwise convs keep
    every channel unless set here). ``patterns``: the library size to distil, or an
    explicit list of 9-bit masks. ``allocation``: "uniform" (every layer keeps ``keep``)
    or "sensitivity" (the same kernel total shared out by measured damage; ADMM and one
    float ``keep`` only). ``prune_first``: prune the conv that sees the raw input too;
    ``prune_head``: prune a 1x1 or depthwise classifier head too. ``connectivity``: which
    kernels a 3x3 conv keeps, "kernel" (the ``keep`` fraction with the most energy, each
    kernel ranked on its own) or "block" (every filter of a block of ``CHANNEL_BLOCK``
    output channels keeps the same input channels, each kernel its own pattern: what
    the delegate's int8 filter-lane kernel skips work on) or "shared" ("block", and
    the filters of a block read each kept input channel through one pattern: the
    delegate's fastest int8 3x3 kernel, at any keep). ``pointwise_quads``: every
    block of a 1x1 conv keeps whole aligned fours of input channels (what the
    delegate's int8 1x1 kernel reads as one dot product; its ``int8="auto"`` claims
    int8 1x1 layers only so, docs/int8.md).
    """

    layers: str | Sequence[str] | None = None
    kind_keep: Mapping[str, float] | None = None
    patterns: int | Sequence[int] = 8
    allocation: str = "uniform"
    prune_first: bool = False
    prune_head: bool = False
    connectivity: str = "kernel"
    pointwise_quads: bool = False


@dataclass(frozen=True)
class SynthesisPolicy:
    """The synthetic inputs of the layer-wise solve and of distillation (ADMM only).

    ``kind``: "bn" (matched to the BatchNorm statistics) or "noise". ``samples`` and
    ``steps`` (Adam steps per batch): None takes the budget preset's. ``augment``:
    augmented copies added to each layer's least-squares problem. ``growth``: a
    :class:`~patternlite.converter.synthesis.pool_growth.PoolGrowth` makes distillation
    grow the pool with adversarial images (BatchNorm synthesis only).
    """

    kind: str = "bn"
    samples: int | None = None
    steps: int | None = None
    augment: int = defaults.AUGMENT_COPIES
    growth: PoolGrowth | None = None


@dataclass(frozen=True)
class SolverPolicy:
    """The layer-wise solver: ``method`` "admm" (reconstruction on synthetic inputs) or
    "magnitude" (the data-free projection only), and the ADMM ``iterations`` per layer."""

    method: str = "admm"
    iterations: int = defaults.ITERATIONS


@dataclass(frozen=True)
class DistillationPolicy:
    """End-to-end distillation after the layer-wise pass (ADMM only; ``steps`` 0 turns it off).

    ``adversarial``: the size of the adversarial nudge of half of each batch (0: off).
    ``only_pruned``: adapt only the pruned layers' weights, not the dense ones'.
    """

    steps: int = defaults.DISTILL_STEPS
    adversarial: float = defaults.DISTILL_ADVERSARIAL
    only_pruned: bool = False


@dataclass(frozen=True)
class BudgetPolicy:
    """The time budget: a ``preset`` ("fast" or "standard", ``defaults.PRESETS``) supplies
    ``minutes`` and the synthesis sizes left as None; ``minutes`` = 0 means no bound.
    ``clock`` is what the budget is measured on (seconds; tests pass a fake one)."""

    preset: str = defaults.PRESET
    minutes: float | None = None
    clock: Clock = field(default=MONOTONIC, repr=False, compare=False)


# The flat option names (``prune``'s keyword arguments before the policy, the CLI's
# destinations) -> (section, field) of the policy.
OPTIONS: dict[str, tuple[str, str]] = {
    "layers": ("sparsity", "layers"),
    "kind_keep": ("sparsity", "kind_keep"),
    "patterns": ("sparsity", "patterns"),
    "allocation": ("sparsity", "allocation"),
    "prune_first": ("sparsity", "prune_first"),
    "prune_head": ("sparsity", "prune_head"),
    "connectivity": ("sparsity", "connectivity"),
    "pointwise_quads": ("sparsity", "pointwise_quads"),
    "synthetic": ("synthesis", "kind"),
    "samples": ("synthesis", "samples"),
    "synthetic_steps": ("synthesis", "steps"),
    "augment": ("synthesis", "augment"),
    "growth": ("synthesis", "growth"),
    "method": ("solver", "method"),
    "iterations": ("solver", "iterations"),
    "distill_steps": ("distillation", "steps"),
    "distill_adversarial": ("distillation", "adversarial"),
    "distill_only_pruned": ("distillation", "only_pruned"),
    "preset": ("budget", "preset"),
    "budget": ("budget", "minutes"),
}


@dataclass(frozen=True)
class PrunePolicy:
    """All of ``prune``'s settings, by stage; every field has its measured default."""

    sparsity: SparsityPolicy = field(default_factory=SparsityPolicy)
    synthesis: SynthesisPolicy = field(default_factory=SynthesisPolicy)
    solver: SolverPolicy = field(default_factory=SolverPolicy)
    distillation: DistillationPolicy = field(default_factory=DistillationPolicy)
    budget: BudgetPolicy = field(default_factory=BudgetPolicy)

    @classmethod
    def from_options(cls, **options: Any) -> PrunePolicy:
        """A policy from flat option names (:data:`OPTIONS`: ``samples=128``, ``distill_steps=0``, ...)."""
        return cls().replace(**options)

    def replace(self, **options: Any) -> PrunePolicy:
        """A copy with the given flat options (:data:`OPTIONS`) changed."""
        unknown = sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ConverterError(f"unknown prune option(s) {unknown}; options: {sorted(OPTIONS)}")
        sections: dict[str, dict[str, Any]] = {}
        for name, value in options.items():
            section, attr = OPTIONS[name]
            sections.setdefault(section, {})[attr] = value
        changed = {s: dataclasses.replace(getattr(self, s), **values) for s, values in sections.items()}
        return dataclasses.replace(self, **changed)

    def options(self) -> dict[str, Any]:
        """The policy as flat options (:data:`OPTIONS`), e.g. for a report."""
        return {name: getattr(getattr(self, s), attr) for name, (s, attr) in OPTIONS.items()}
