"""The interface every engine implements; numpy only, so each peer venv can import it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np


class PeerUnavailableError(RuntimeError):
    """The engine cannot run this model here; the message is reported as the reason."""


class Peer:
    """One engine holding one model at one thread count.

    ``prepare`` converts (cached under ``workdir``) and loads; ``set_input`` takes the
    NHWC float32 input every engine gets; ``run_once`` runs one inference and returns
    its wall time in seconds, timing only the engine's own run call.
    """

    name = "base"

    def version(self) -> str:
        raise NotImplementedError

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        raise NotImplementedError

    def set_input(self, x: np.ndarray) -> None:
        raise NotImplementedError

    def _invoke(self) -> None:
        raise NotImplementedError

    def run_once(self) -> float:
        t0 = time.perf_counter()
        self._invoke()
        return time.perf_counter() - t0

    def output(self) -> np.ndarray:
        raise NotImplementedError

    def close(self) -> None:
        """Free the model; the default relies on garbage collection."""
