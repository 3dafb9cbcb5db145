"""patternlite.converter: data-free pattern pruning of Keras CNNs and export to .tflite.

Needs the ``converter`` extra (TensorFlow, Keras). Typical use::

    from patternlite.converter import prune, export_tflite
    result = prune(model, keep=0.5, patterns=8)          # ADMM on BN-synthetic inputs
    export_tflite(result, "model.tflite")                # stock .tflite + pattern metadata

Names are imported on first use, so ``patternlite prune --help`` answers
before TensorFlow has loaded.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patternlite.converter.errors import ConverterError, OutputPathError, UnsupportedModelError
    from patternlite.converter.export.int8 import Int8Options
    from patternlite.converter.export.tflite import export_tflite
    from patternlite.converter.finetune import MaskCallback, MaskConstraint, masked_finetune
    from patternlite.converter.inspect import inspect
    from patternlite.converter.pruner import PruneResult, prune

_EXPORTS = {
    "ConverterError": "errors",
    "OutputPathError": "errors",
    "UnsupportedModelError": "errors",
    "export_tflite": "export.tflite",
    "Int8Options": "export.int8",
    "MaskCallback": "finetune",
    "MaskConstraint": "finetune",
    "masked_finetune": "finetune",
    "inspect": "inspect",
    "PruneResult": "pruner",
    "prune": "pruner",
}

__all__ = [
    "ConverterError",
    "Int8Options",
    "MaskCallback",
    "MaskConstraint",
    "OutputPathError",
    "PruneResult",
    "UnsupportedModelError",
    "export_tflite",
    "inspect",
    "masked_finetune",
    "prune",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'patternlite.converter' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"patternlite.converter.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
