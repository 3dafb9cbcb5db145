"""How the client stage trains (``patternlite finetune``): one policy object, no TensorFlow import.

The CLI reads its defaults from here before TensorFlow loads, so ``--help``
answers at once. Each default is a measured choice (docs/converter.md,
"client stage").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from patternlite.converter.clock import MONOTONIC, Clock
from patternlite.converter.errors import ConverterError

BATCHNORM_POLICIES = ("train", "frozen")
# Where the ADMM phase of a remask starts: the pruned model's weights, or the dense teacher's (PatDNN's flow).
REMASK_STARTS = ("pruned", "dense")
LEARNING_RATE = {"train": 0.02, "frozen": 0.002}  # peak SGD learning rate per BatchNorm policy


@dataclass(frozen=True)
class FinetunePolicy:
    """How the client stage trains; every field is validated by :meth:`check`.

    ``minutes`` bounds the training loop (not the before/after scoring).
    ``epochs`` (optional) caps the run at that many passes over the training
    split even when the budget would allow more; the schedule then fits
    whichever limit comes first. ``holdout`` is the fraction of labelled client
    data set aside to score the model before and after (0 turns it off).
    ``learning_rate`` None means the measured default for the BatchNorm policy:
    0.02 with BatchNorm training; with frozen statistics nothing renormalises
    the convs' outputs, and 0.02 diverged on ResNet-20 (11% top-1), so 10x less.

    ``remask`` lets the client's data re-select the masks (``remask.py``): the
    first ``remask_share`` of the budget trains with the masks lifted under an
    ADMM pull towards the structure (``admm_updates`` Z/U steps spread over that
    time, ``rho`` growing from ``rho_start`` to ``rho_end``), then the weights are
    projected onto the structure (same library, same kept count per layer) and
    the rest of the budget retrains them masked. ``remask_from`` "dense" starts
    the ADMM phase from the teacher's weights (same architecture needed) instead
    of the pruned model's.
    """

    minutes: float = 10.0
    epochs: float | None = None
    batch_size: int = 128
    learning_rate: float | None = None
    momentum: float = 0.9
    warmup: float = 0.03
    temperature: float = 4.0
    label_weight: float = 0.5
    augment: bool = True
    batchnorm: str = "train"
    holdout: float = 0.1
    seed: int = 0
    remask: bool = False
    remask_share: float = 0.5
    remask_from: str = "pruned"
    admm_updates: int = 8
    rho_start: float = 1e-3
    rho_end: float = 10.0
    clock: Clock = field(default=MONOTONIC, repr=False, compare=False)  # what ``minutes`` is measured on

    def check(self) -> FinetunePolicy:
        if self.batchnorm not in BATCHNORM_POLICIES:
            raise ConverterError(f"batchnorm must be one of {BATCHNORM_POLICIES}, got {self.batchnorm!r}")
        if not (self.minutes > 0 and math.isfinite(self.minutes)):
            raise ConverterError(f"minutes must be a positive number, got {self.minutes}")
        if self.epochs is not None and not self.epochs > 0:
            raise ConverterError(f"epochs must be positive, got {self.epochs}")
        if self.batch_size < 1:
            raise ConverterError(f"batch_size must be >= 1, got {self.batch_size}")
        if not self.lr > 0 or not 0 <= self.momentum < 1:
            raise ConverterError("learning_rate must be > 0 and momentum in [0, 1)")
        if not 0 <= self.warmup < 1 or not self.temperature > 0 or not 0 <= self.label_weight <= 1:
            raise ConverterError("warmup must be in [0, 1), temperature > 0, label_weight in [0, 1]")
        if not 0 <= self.holdout < 1:
            raise ConverterError(f"holdout must be in [0, 1), got {self.holdout}")
        if self.remask_from not in REMASK_STARTS:
            raise ConverterError(f"remask_from must be one of {REMASK_STARTS}, got {self.remask_from!r}")
        if not 0 < self.remask_share < 1 or self.admm_updates < 1:
            raise ConverterError("remask_share must be in (0, 1) and admm_updates >= 1")
        if not 0 < self.rho_start <= self.rho_end or not math.isfinite(self.rho_end):
            raise ConverterError(f"rho must satisfy 0 < rho_start <= rho_end, got {self.rho_start}, {self.rho_end}")
        return self

    @property
    def lr(self) -> float:
        """The peak learning rate in effect."""
        if self.learning_rate is not None:
            return self.learning_rate
        return LEARNING_RATE.get(self.batchnorm, 0.0)
