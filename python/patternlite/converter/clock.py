"""The clock the time budgets read (prune's synthesis and distillation, the client stage).

Every budget decision reads time through one ``Clock`` passed down from the
policy (``BudgetPolicy.clock``, ``FinetunePolicy.clock``), so a test can drive
those decisions with a fake clock instead of depending on how loaded the
machine is. The default is ``time.monotonic``: immune to wall-clock changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]

MONOTONIC: Clock = time.monotonic
