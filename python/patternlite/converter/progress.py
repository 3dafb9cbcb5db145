"""Progress bars that stay readable in a log: a terminal gets a live bar, a redirected stream a few lines."""

from __future__ import annotations

import sys
from typing import Any

from tqdm.auto import tqdm

# Seconds between redraws when stderr is not a terminal: a 30-minute prune writes
# about 60 lines to a log instead of thousands of carriage-return frames.
_LOG_INTERVAL = 30.0


def progress_bar(*args: Any, disable: bool = False, **kwargs: Any) -> Any:
    """``tqdm(*args, **kwargs)``, throttled when stderr is redirected."""
    if not disable and not sys.stderr.isatty():
        kwargs.setdefault("mininterval", _LOG_INTERVAL)
        kwargs.setdefault("maxinterval", _LOG_INTERVAL * 4)
    return tqdm(*args, disable=disable, **kwargs)
