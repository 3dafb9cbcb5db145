"""ONNX Runtime on the tf2onnx conversion of the very same .tflite.

tf2onnx runs in this peer's venv (it has tensorflow-cpu, which tf2onnx imports); the
input is made NCHW (``inputs_as_nchw``) so the file also suits ncnn's pnnx.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers.base import Peer as BasePeer
from benchmarks.peers.common import fresh, onnx_path


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
            tflite_to_onnx(tflite, onnx_file)
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
