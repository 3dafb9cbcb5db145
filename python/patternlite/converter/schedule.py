"""A cosine learning-rate schedule that ends exactly at a time budget (distillation, the client stage).

A fixed step count finishes at a different time on every machine. Sizing the
step count once, from the first steps' timing, was tried first and ended runs
early whenever those steps happened to be slow (a busy machine at start-up: a
3-minute client run stopped after 2). So progress is measured on the clock:
``progress = elapsed / seconds`` (or ``step / max_steps`` when that is larger,
for a step cap), a short linear warm-up and then one cosine run over it, and
training stops when progress reaches 1. The learning rate therefore reaches
zero at the budget however fast or unevenly the steps run.
"""

from __future__ import annotations

import math

from patternlite.converter.clock import MONOTONIC, Clock


class BudgetedCosine:
    """``lr(step)`` before each step, ``done(steps)`` after it; ``seconds=None`` means ``max_steps`` only."""

    def __init__(
        self,
        peak: float,
        *,
        seconds: float | None,
        max_steps: int | None,
        warmup: float = 0.03,
        clock: Clock = MONOTONIC,
    ) -> None:
        if seconds is None and max_steps is None:
            raise ValueError("a schedule needs a time budget, a step count or both")
        self.peak, self.seconds, self.max_steps, self.warmup = peak, seconds, max_steps, warmup
        self.clock = clock
        self.start = clock()

    def elapsed(self) -> float:
        return self.clock() - self.start

    def progress(self, step: int) -> float:
        """How far through the schedule: the larger of time used and steps used, in [0, 1]."""
        by_time = self.elapsed() / self.seconds if self.seconds else 0.0
        by_steps = step / self.max_steps if self.max_steps else 0.0
        return min(1.0, max(by_time, by_steps))

    def lr(self, step: int) -> float:
        p = self.progress(step)
        if self.warmup > 0 and p < self.warmup:
            return self.peak * max(p / self.warmup, 0.01)
        frac = (p - self.warmup) / (1.0 - self.warmup)
        return self.peak * 0.5 * (1.0 + math.cos(math.pi * frac))

    def done(self, steps: int) -> bool:
        """Record that ``steps`` steps have run; True when training should stop."""
        return self.progress(steps) >= 1.0
