"""TFLite with its default XNNPACK delegate; also the builtin-kernel reference interpreter.

Prefers ai-edge-litert (the maintained runtime) and falls back to tf.lite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers.base import Peer as BasePeer


def tflite_module() -> tuple[Any, str]:
    """(module with Interpreter and OpResolverType, version string)."""
    try:
        import ai_edge_litert
        from ai_edge_litert import interpreter as litert

        return litert, f"ai-edge-litert {getattr(ai_edge_litert, '__version__', '?')}"
    except ImportError:
        import tensorflow as tf

        return tf.lite.experimental, f"tensorflow {tf.__version__}"  # pragma: no cover


def make_interpreter(
    model_path: str, threads: int, builtin_only: bool = False, delegates: list[Any] | None = None
) -> Any:
    mod, _ = tflite_module()
    kwargs: dict[str, Any] = {"model_path": model_path, "num_threads": threads}
    if builtin_only:
        # TFLite's reference kernels, no XNNPACK: the agreement baseline.
        kwargs["experimental_op_resolver_type"] = mod.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    if delegates:
        kwargs["experimental_delegates"] = delegates
    interp = mod.Interpreter(**kwargs)
    interp.allocate_tensors()
    return interp


class Peer(BasePeer):
    name = "tflite_xnnpack"
    builtin_only = False

    def __init__(self) -> None:
        self.interp: Any = None

    def version(self) -> str:
        return tflite_module()[1] + (" (builtin kernels)" if self.builtin_only else " + XNNPACK")

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        self.interp = make_interpreter(artifacts["tflite"], threads, builtin_only=self.builtin_only)
        return {}

    def set_input(self, x: np.ndarray) -> None:
        self.interp.set_tensor(self.interp.get_input_details()[0]["index"], x)

    def _invoke(self) -> None:
        self.interp.invoke()

    def output(self) -> np.ndarray:
        return np.array(self.interp.get_tensor(self.interp.get_output_details()[0]["index"]))

    def close(self) -> None:
        self.interp = None


class BuiltinPeer(Peer):
    name = "tflite_builtin"
    builtin_only = True
