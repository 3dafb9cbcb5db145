"""``inspect()``: what a .tflite carries; the light runtime's ``patternlite inspect``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from patternlite.inspect import inspect_model


def inspect(path: str | Path) -> dict[str, Any]:
    """A summary dict of a .tflite's convs and pattern metadata (:func:`patternlite.inspect.inspect_model`)."""
    return inspect_model(str(path))
