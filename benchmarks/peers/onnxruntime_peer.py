"""ONNX Runtime on the tf2onnx conversion of the very same .tflite.

tf2onnx runs in this peer's venv (it has tensorflow-cpu, which tf2onnx imports); the
input is made NCHW (``inputs_as_nchw``) so the file also suits ncnn's pnnx.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers.base import Peer as BasePeer
from benchmarks.peers.base import PeerUnavailableError
from benchmarks.peers.common import fresh, onnx_path

CONVERT_MEM_GB = float(os.environ.get("PATTERNLITE_BENCH_CONVERT_MEM_GB", "10"))


def _limit_memory() -> None:
    limit = int(CONVERT_MEM_GB * (1 << 30))
    resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def convert_guarded(tflite: Path, out: Path, python: str | Path | None = None) -> None:
    """tf2onnx in a child process capped at CONVERT_MEM_GB of data.

    ``python``: the interpreter that has tf2onnx (default: this one, the onnx venv's);
    the DeepSparse peer (its venv pins an old onnx and has no tensorflow) passes the onnx venv's.

    As installed, tf2onnx needs more than 14 GB for VGG-16: its optimizers deep-copy the
    graph before each pass (``catch_errors``) and re-serialize every constant into node
    protos, and with protobuf's upb backend the replaced 400 MB FC tensors stay in the
    message arena.  Setting TF2ONNX_CATCH_ERRORS (any value turns the copies off: tf2onnx
    compares the variable's name, not its value) and the pure-python protobuf backend
    brings VGG-16 to ~50 s under the cap.  The cap stays: uncapped, the kernel's OOM killer
    picks a victim on a shared 24 GB machine, possibly someone else's process.
    """
    env = dict(os.environ, TF2ONNX_CATCH_ERRORS="FALSE", PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    code = "import sys; from pathlib import Path; from benchmarks.peers.onnxruntime_peer import tflite_to_onnx; "
    code += "tflite_to_onnx(Path(sys.argv[1]), Path(sys.argv[2]))"
    res = subprocess.run(
        [str(python or sys.executable), "-c", code, str(tflite), str(out)],
        env=env,
        preexec_fn=_limit_memory,
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        tail = res.stderr.strip().splitlines()[-1:] or ["?"]
        raise PeerUnavailableError(
            f"tf2onnx failed within its {CONVERT_MEM_GB:g} GB cap (PATTERNLITE_BENCH_CONVERT_MEM_GB): {tail[0]}"
        )


def tflite_to_onnx(tflite: Path, out: Path) -> None:
    import tensorflow as tf
    import tf2onnx

    interp = tf.lite.Interpreter(model_path=str(tflite))
    in_name = interp.get_input_details()[0]["name"]
    tf2onnx.convert.from_tflite(
        str(tflite), inputs_as_nchw=[in_name], opset=17, output_path=str(out.with_suffix(".tmp"))
    )
    out.with_suffix(".tmp").replace(out)


class Peer(BasePeer):
    name = "onnxruntime"

    def __init__(self) -> None:
        self.sess: Any = None
        self.x: np.ndarray | None = None
        self.out: np.ndarray | None = None

    def version(self) -> str:
        import onnxruntime
        import tf2onnx

        return f"onnxruntime {onnxruntime.__version__} (tf2onnx {tf2onnx.__version__})"

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        import onnxruntime as ort

        tflite = Path(artifacts["tflite"])
        onnx_file = onnx_path(workdir)
        if not fresh(onnx_file, tflite):
            convert_guarded(tflite, onnx_file)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(str(onnx_file), so, providers=["CPUExecutionProvider"])
        self.in_name = self.sess.get_inputs()[0].name
        return {"onnx": str(onnx_file)}

    def set_input(self, x: np.ndarray) -> None:
        self.x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def _invoke(self) -> None:
        self.out = self.sess.run(None, {self.in_name: self.x})[0]

    def output(self) -> np.ndarray:
        assert self.out is not None
        return np.asarray(self.out)

    def close(self) -> None:
        self.sess = None
