"""patternlite: data-free pattern pruning and a TFLite delegate for pattern-sparse convs.

The runtime half (this package's top level) needs numpy and any one TFLite
runtime (tensorflow, ai-edge-litert or tflite-runtime), never TensorFlow itself.
The converter lives in :mod:`patternlite.converter` and needs the ``converter``
extra.
"""

from __future__ import annotations

from patternlite._contract import PACKAGE_VERSION
from patternlite.delegate import Delegate, DelegateError, OpenCLUnavailableError, library_path, load_delegate
from patternlite.metadata import METADATA_NAME, LayerPatterns, MetadataError, PatternMetadata

__all__ = [
    "METADATA_NAME",
    "Delegate",
    "DelegateError",
    "LayerPatterns",
    "MetadataError",
    "OpenCLUnavailableError",
    "PatternMetadata",
    "library_path",
    "load_delegate",
]
__version__ = PACKAGE_VERSION  # spec/contract.toml
