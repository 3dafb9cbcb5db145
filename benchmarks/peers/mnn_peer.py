"""MNN (PyPI ``mnn``) on its TFLITE conversion of the same .tflite.

Two facts found on this machine shape this module:
- MNN's console scripts (``mnnconvert`` etc.) run ``pip install`` and send telemetry that
  includes the machine id.  We call the converter's C++ entry point ``_tools.mnnconvert``
  directly, which has no network side effects, and the harness starts this worker with a
  PATH whose ``pip`` refuses to run and PIP_NO_INDEX=1 (see benchmarks/worker_env.py).
- MNN overwrites its input tensor during a run, so the input is copied in again before
  every timed run (outside the timed region: other engines do not pay for it either).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers.base import Peer as BasePeer
from benchmarks.peers.common import fresh


class Peer(BasePeer):
    name = "mnn"

    def __init__(self) -> None:
        self.interp: Any = None
        self.session: Any = None
        self.host_in: Any = None

    def version(self) -> str:
        import MNN

        return f"mnn {getattr(MNN, '__version__', None) or _dist_version('mnn')}"

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        import _tools  # MNN's converter binding; NOT MNN.tools.mnnconvert (telemetry)
        import MNN

        tflite = Path(artifacts["tflite"])
        out = workdir / "model.mnn"
        if not fresh(out, tflite):
            tmp = workdir / "model.mnn.tmp"
            _tools.mnnconvert(
                [
                    "mnnconvert",
                    "-f",
                    "TFLITE",
                    "--modelFile",
                    str(tflite),
                    "--MNNModel",
                    str(tmp),
                    "--bizCode",
                    "patternlite-bench",
                ]
            )
            if not tmp.exists():
                raise RuntimeError("mnnconvert produced no file")
            tmp.replace(out)
        self.interp = MNN.Interpreter(str(out))
        # precision "high": plain fp32 everywhere, a like-for-like comparison.
        self.session = self.interp.createSession({"numThread": threads, "precision": "high"})
        self.inp = self.interp.getSessionInput(self.session)
        return {"mnn": str(out)}

    def set_input(self, x: np.ndarray) -> None:
        import MNN

        self.x = np.ascontiguousarray(x, dtype=np.float32)
        self.host_in = MNN.Tensor(tuple(x.shape), MNN.Halide_Type_Float, self.x, MNN.Tensor_DimensionType_Tensorflow)

    def run_once(self) -> float:
        self.inp.copyFrom(self.host_in)  # MNN overwrote it during the previous run
        t0 = time.perf_counter()
        self.interp.runSession(self.session)
        return time.perf_counter() - t0

    def _invoke(self) -> None:
        self.inp.copyFrom(self.host_in)
        self.interp.runSession(self.session)

    def output(self) -> np.ndarray:
        import MNN

        out = self.interp.getSessionOutput(self.session)
        shape = tuple(out.getShape())
        host = MNN.Tensor(
            shape, MNN.Halide_Type_Float, np.zeros(shape, np.float32), MNN.Tensor_DimensionType_Tensorflow
        )
        out.copyToHostTensor(host)
        return np.array(host.getData(), dtype=np.float32).reshape(shape)

    def close(self) -> None:
        self.session = None
        self.interp = None


def _dist_version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)
