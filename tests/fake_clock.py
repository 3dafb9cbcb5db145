"""A fake clock for the time budgets: time moves only when it is read (or advanced).

Every budget decision (when synthesis stops, how long distillation or the client
stage runs) reads the policy's ``clock``. Driven by this one, those decisions are
the same on an idle and on a loaded machine: each reading costs ``tick`` seconds,
and a test can charge extra work with :meth:`advance`.
"""

from __future__ import annotations


class TickingClock:
    def __init__(self, tick: float) -> None:
        self.tick = tick
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.now += self.tick
        self.reads += 1
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
