"""A cosine learning-rate schedule sized to a time budget (distillation and the client stage).

A fixed step count finishes at a different time on every machine; a schedule
driven by the clock alone never reaches its end cleanly. So the first few steps
are timed (after the first, which traces the graph), the number of steps that
fit in the remaining time fixes the schedule's length, and one cosine (after a
short linear warm-up) runs over exactly those steps. The budget is also a hard
stop, should later steps turn out slower than the timed ones.
"""

from __future__ import annotations

import math
import time

_CALIBRATION_STEPS = 8


class BudgetedCosine:
    """``lr(step)`` for the next step, ``done(step)`` after it; ``seconds=None`` means ``max_steps`` only."""

    def __init__(self, peak: float, *, seconds: float | None, max_steps: int | None, warmup: float = 0.03) -> None:
        if seconds is None and max_steps is None:
            raise ValueError("a schedule needs a time budget, a step count or both")
        self.peak, self.seconds, self.warmup = peak, seconds, warmup
        self.total = max_steps if seconds is None else None
        self.max_steps = max_steps
        self.start = time.perf_counter()
        self._after_first = 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def lr(self, step: int) -> float:
        if self.total is None:
            # Until the step time is known: a gentle provisional warm-up.
            return self.peak * (step + 1) / (4 * (_CALIBRATION_STEPS + 1))
        warm = max(1, int(self.warmup * self.total))
        if step < warm:
            return self.peak * (step + 1) / warm
        frac = min(1.0, (step - warm) / max(1, self.total - warm))
        return self.peak * 0.5 * (1.0 + math.cos(math.pi * frac))

    def done(self, steps: int) -> bool:
        """Record that ``steps`` steps have run; True when training should stop."""
        now = self.elapsed()
        if steps == 1:
            self._after_first = now
        if self.total is None and steps >= _CALIBRATION_STEPS + 1 and self.seconds is not None:
            per_step = max((now - self._after_first) / (steps - 1), 1e-9)
            fit = steps + int(max(0.0, self.seconds - now) / per_step)
            self.total = max(steps + 1, fit if self.max_steps is None else min(fit, self.max_steps))
        if self.seconds is not None and now >= self.seconds:
            return True
        if self.max_steps is not None and steps >= self.max_steps:
            return True
        return self.total is not None and steps >= self.total
