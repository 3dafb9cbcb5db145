"""``inspect()``: what a .tflite carries (the light runtime's ``patternlite inspect`` when present)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from tensorflow.lite.python import schema_py_generated as schema

from patternlite.metadata import METADATA_NAME, PRUNED, decode


def inspect(path: str | Path) -> dict[str, Any]:
    """A summary dict of a .tflite's pattern metadata.

    Delegates to :func:`patternlite.inspect.inspect_model` when the runtime
    package provides it; otherwise reads the flatbuffer here.
    """
    try:
        from patternlite.inspect import inspect_model  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return _inspect(Path(path))
    return dict(inspect_model(str(path)))


def _inspect(path: Path) -> dict[str, Any]:
    buf = path.read_bytes()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    blob = None
    for m in model.metadata or []:
        name = m.name.decode() if isinstance(m.name, bytes) else m.name
        if name == METADATA_NAME:
            blob = np.asarray(model.buffers[m.buffer].data, np.uint8).tobytes()
    summary: dict[str, Any] = {"path": str(path), "size_bytes": len(buf), "has_metadata": blob is not None}
    if blob is None:
        return summary
    meta = decode(blob)
    layers = []
    for layer in meta.layers:
        total = layer.kernel_pattern.size
        kept = int(np.count_nonzero(layer.kernel_pattern != PRUNED))
        # Each kept kernel computes 4 of 9 taps: the layer's MACs shrink by kept*4 / (total*9).
        layers.append(
            {
                "filter": layer.tensor_name,
                "out": layer.out_channels,
                "in": layer.in_channels,
                "keep": layer.keep,
                "kept_kernels": kept,
                "mac_fraction": kept * 4 / (total * 9),
            }
        )
    summary.update({"version": meta.version, "patterns": meta.patterns, "layers": layers})
    return summary
