"""patternlite.converter: data-free pattern pruning of Keras CNNs and export to .tflite.

Needs the ``converter`` extra (TensorFlow, Keras). Typical use::

    from patternlite.converter import prune, export_tflite
    result = prune(model, keep=0.5, patterns=8)          # ADMM on BN-synthetic inputs
    export_tflite(result, "model.tflite")                # stock .tflite + pattern metadata
"""

from __future__ import annotations

from patternlite.converter.errors import ConverterError, OutputPathError, UnsupportedModelError
from patternlite.converter.export import export_tflite
from patternlite.converter.finetune import MaskCallback, MaskConstraint, masked_finetune
from patternlite.converter.inspect import inspect
from patternlite.converter.pruner import PruneResult, prune

__all__ = [
    "MaskCallback",
    "MaskConstraint",
    "ConverterError",
    "OutputPathError",
    "PruneResult",
    "UnsupportedModelError",
    "export_tflite",
    "inspect",
    "masked_finetune",
    "prune",
]
