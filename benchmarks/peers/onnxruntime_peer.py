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
from benchmarks.peers.common import fresh, int8_onnx_path, onnx_path

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

    def model_file(self, artifacts: dict[str, str], workdir: Path) -> tuple[Path, dict[str, Any]]:
        """The ONNX file this engine runs (converted where missing), and what to record about it."""
        tflite = Path(artifacts["tflite"])
        onnx_file = onnx_path(workdir)
        if not fresh(onnx_file, tflite):
            convert_guarded(tflite, onnx_file)
        return onnx_file, {"onnx": str(onnx_file)}

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        import onnxruntime as ort

        onnx_file, info = self.model_file(artifacts, workdir)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(str(onnx_file), so, providers=["CPUExecutionProvider"])
        self.in_name = self.sess.get_inputs()[0].name
        return info

    def set_input(self, x: np.ndarray) -> None:
        self.x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def _invoke(self) -> None:
        self.out = self.sess.run(None, {self.in_name: self.x})[0]

    def output(self) -> np.ndarray:
        assert self.out is not None
        return np.asarray(self.out)

    def close(self) -> None:
        self.sess = None


class Int8Peer(Peer):
    """ONNX Runtime's int8 path: the fp32 ONNX file above quantised by ORT's own static quantiser.

    ``quantize_static`` in QDQ format (ORT fuses QuantizeLinear/DequantizeLinear pairs around a
    Conv into its int8 conv kernels), int8 activations and per-channel int8 weights, calibrated
    (MinMax) on the very images that calibrated the int8 .tflite files (``artifacts["calibration"]``,
    NHWC), so the comparison uses the same data.  The input and output stay float32.
    """

    name = "onnxruntime_int8"

    def model_file(self, artifacts: dict[str, str], workdir: Path) -> tuple[Path, dict[str, Any]]:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

        fp32_file, _ = super().model_file(artifacts, workdir)
        calib = Path(artifacts["calibration"])
        out = int8_onnx_path(workdir)
        if not fresh(out, fp32_file, calib):
            import onnx

            in_name = onnx.load(str(fp32_file), load_external_data=False).graph.input[0].name
            images = np.load(calib).astype(np.float32).transpose(0, 3, 1, 2)

            class Reader(CalibrationDataReader):  # type: ignore[misc]
                def __init__(self) -> None:
                    self.it = iter([{in_name: images[i : i + 1]} for i in range(len(images))])

                def get_next(self) -> dict[str, np.ndarray] | None:
                    return next(self.it, None)

            tmp = out.with_suffix(".tmp.onnx")
            quantize_static(
                str(fp32_file),
                str(tmp),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
            )
            tmp.replace(out)
        return out, {"onnx": str(out), "quantizer": "onnxruntime.quantization.quantize_static QDQ per-channel s8s8"}
