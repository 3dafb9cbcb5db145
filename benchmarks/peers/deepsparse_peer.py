"""DeepSparse (Neural Magic, PyPI ``deepsparse``) on the tf2onnx ONNX file of the same .tflite.

Two engines share this module:
- ``deepsparse`` (:class:`Peer`): the dense model, a dense peer like the others.  It reads
  the very ONNX file the onnxruntime peer writes (``common.onnx_path``).
- ``deepsparse_pruned`` (:class:`PrunedPeer`): the pattern-pruned .tflite that patternlite
  runs, converted the same way, so the pruned kernels' zeros are in the ONNX weights and
  DeepSparse's own sparse kernels may use them.  It runs at every keep, like patternlite.

Facts found on this machine that shape this module:
- deepsparse 1.8.0 needs Python < 3.12 and pins onnx 1.14, so it lives in its own venv
  without tensorflow; tf2onnx runs in the onnx peer's venv (``benchmarks/.venvs/onnx``),
  started from here when an ONNX file is missing or older than its .tflite.
- It sends usage analytics (Google Analytics, with a machine id) on import unless
  NM_DISABLE_ANALYTICS is set: the harness sets it in every worker's environment, and this
  module sets it again before anything imports deepsparse or sparsezoo.
- It exits with an error when run under a debugger or ptrace.
- The input is NCHW (tf2onnx ``inputs_as_nchw``), as for onnxruntime; ``num_cores`` =
  the harness's thread count, batch size 1, the default scheduler (one stream here).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers.base import Peer as BasePeer
from benchmarks.peers.base import PeerUnavailableError
from benchmarks.peers.common import fresh, int8_onnx_path, onnx_path

# Before deepsparse/sparsezoo are imported (only inside the methods below); the harness
# also sets it in every worker's environment.
os.environ["NM_DISABLE_ANALYTICS"] = "1"

# The onnx peer's interpreter (has tf2onnx + tensorflow-cpu).  Not resolved: a venv's
# python is a symlink, and following it would leave the venv.
ONNX_VENV_PYTHON = Path(__file__).resolve().parent.parent / ".venvs" / "onnx" / "bin" / "python"


def conv3x3_zero_fraction(onnx_file: Path) -> float | None:
    """Fraction of zeros in the 3x3 Conv weights of an ONNX file (None: no 3x3 conv weight found).

    Shows that the pruned model's zeros reached the file DeepSparse compiles.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_file))
    inits = {t.name: t for t in model.graph.initializer}
    zeros = total = 0
    for node in model.graph.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in inits:
            continue
        w = numpy_helper.to_array(inits[node.input[1]])
        if w.ndim == 4 and w.shape[2:] == (3, 3) and w.shape[1] > 3:  # stems (3 input channels) stay dense
            zeros += int(w.size - np.count_nonzero(w))
            total += int(w.size)
    return zeros / total if total else None


class Peer(BasePeer):
    name = "deepsparse"

    def __init__(self) -> None:
        self.engine: Any = None
        self.x: np.ndarray | None = None
        self.out: list[np.ndarray] | None = None

    def version(self) -> str:
        import deepsparse

        return f"deepsparse {deepsparse.__version__}"

    def onnx_file(self, tflite: Path, workdir: Path) -> Path:
        return onnx_path(workdir)  # shared with onnxruntime (which converts it first) and ncnn

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        import deepsparse

        tflite = Path(artifacts["tflite"])
        onnx_file = self.onnx_file(tflite, workdir)
        if not fresh(onnx_file, tflite):
            if not ONNX_VENV_PYTHON.exists():
                raise PeerUnavailableError(
                    f"{onnx_file.name} missing and tf2onnx not installed: run benchmarks/install_peers.sh onnx"
                )
            from benchmarks.peers.onnxruntime_peer import convert_guarded

            convert_guarded(tflite, onnx_file, python=ONNX_VENV_PYTHON)
        self.engine = deepsparse.compile_model(str(onnx_file), batch_size=1, num_cores=threads)
        return {
            "onnx": str(onnx_file),
            "num_cores": self.engine.num_cores,
            "scheduler": str(self.engine.scheduler),
            "fraction_of_supported_ops": float(self.engine.fraction_of_supported_ops),
            "conv3x3_weight_zeros": conv3x3_zero_fraction(onnx_file),
        }

    def set_input(self, x: np.ndarray) -> None:
        self.x = np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)
        self.engine._validate_inputs([self.x])  # once here, so the timed runs skip it (val_inp=False)

    def _invoke(self) -> None:
        self.out = self.engine.run([self.x], val_inp=False)

    def output(self) -> np.ndarray:
        assert self.out is not None
        return np.asarray(self.out[0])

    def close(self) -> None:
        self.engine = None


class PrunedPeer(Peer):
    """The pattern-pruned .tflite of one keep, converted to its own ONNX file next to the dense one."""

    name = "deepsparse_pruned"

    def onnx_file(self, tflite: Path, workdir: Path) -> Path:
        return workdir / f"{tflite.stem}.nchw.onnx"  # e.g. keep0.5.nchw.onnx


class Int8Peer(Peer):
    """DeepSparse on the int8 (QDQ) ONNX file ONNX Runtime's quantiser wrote from the dense model.

    It does not quantise by itself: run with ``onnxruntime`` (which writes the file first); a
    file it cannot compile is reported with DeepSparse's reason.
    """

    name = "deepsparse_int8"

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        import deepsparse

        onnx_file = int8_onnx_path(workdir)
        if not onnx_file.exists():
            raise PeerUnavailableError(
                f"{onnx_file.name} missing: the onnxruntime int8 peer writes it (run onnxruntime with --dtypes int8)"
            )
        try:
            self.engine = deepsparse.compile_model(str(onnx_file), batch_size=1, num_cores=threads)
        except Exception as exc:  # noqa: BLE001  # its compiler raises many kinds; the reason is the result
            reason = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
            raise PeerUnavailableError(f"deepsparse does not compile the int8 ONNX: {reason[0][:300]}") from exc
        return {
            "onnx": str(onnx_file),
            "num_cores": self.engine.num_cores,
            "fraction_of_supported_ops": float(self.engine.fraction_of_supported_ops),
        }
