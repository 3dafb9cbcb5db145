"""Progress bars on a terminal only: a redirected stream (a log, CI, a pipe) gets none.

tqdm redraws with carriage returns, which a log keeps as one long line of
frames; the summaries each command prints say what was done. Set
``PATTERNLITE_PROGRESS=1`` to get bars in a log anyway, redrawn every 30 s.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from tqdm.auto import tqdm

# Seconds between redraws in a log when bars are asked for there: a 30-minute
# prune writes about 60 frames instead of thousands.
_LOG_INTERVAL = 30.0


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_bar(*args: Any, disable: bool = False, **kwargs: Any) -> Any:
    """``tqdm(*args, **kwargs)`` on a terminal; disabled (or throttled, when asked for) otherwise."""
    if not disable and not _is_terminal(kwargs.get("file") or sys.stderr):
        if os.environ.get("PATTERNLITE_PROGRESS") == "1":
            kwargs.setdefault("mininterval", _LOG_INTERVAL)
            kwargs.setdefault("maxinterval", _LOG_INTERVAL * 4)
        else:
            disable = True
    return tqdm(*args, disable=disable, **kwargs)
