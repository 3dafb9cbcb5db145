"""ncnn (PyPI ``ncnn``) on the pnnx conversion of the tf2onnx ONNX file.

- pnnx is installed with --no-deps (it would pull a multi-GB torch); we run its binary.
- ``fp16=0`` and fp16/bf16 options off: a like-for-like fp32 comparison.
- pnnx silently drops ONNX Pad ops, so they are folded into the next conv first.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers.base import Peer as BasePeer
from benchmarks.peers.base import PeerUnavailableError
from benchmarks.peers.common import fresh, onnx_path
from benchmarks.peers.onnx_fold import fold_pads


def _io_names(param: Path) -> tuple[str, str]:
    lines = param.read_text().splitlines()[2:]
    inputs = [ln.split()[4] for ln in lines if ln.split() and ln.split()[0] == "Input"]
    # pnnx names graph outputs out0, out1, ...; the last blob written is the output.
    last = lines[-1].split()
    n_in, n_out = int(last[2]), int(last[3])
    return inputs[0], last[4 + n_in + n_out - 1]


def _pnnx_binary() -> Path:
    """The converter executable shipped in the pnnx wheel.

    ``import pnnx`` would import torch (its export helpers), which --no-deps left out.
    """
    spec = importlib.util.find_spec("pnnx")
    if spec is None or not spec.submodule_search_locations:
        raise PeerUnavailableError("pnnx not installed")
    exe = Path(next(iter(spec.submodule_search_locations))) / "pnnx"
    if not exe.exists():
        raise PeerUnavailableError(f"pnnx binary missing at {exe}")
    return exe


class Peer(BasePeer):
    name = "ncnn"

    def __init__(self) -> None:
        self.net: Any = None
        self.mat: Any = None
        self.out: Any = None

    def version(self) -> str:
        from importlib.metadata import version

        return f"ncnn {version('ncnn')} (pnnx {version('pnnx')})"

    def _convert(self, onnx_file: Path, workdir: Path, shape: list[int]) -> tuple[Path, Path, dict[str, Any]]:
        import onnx

        d = workdir / "ncnn"
        d.mkdir(exist_ok=True)
        param, binf = d / "model.ncnn.param", d / "model.ncnn.bin"
        if fresh(param, onnx_file) and fresh(binf, onnx_file):
            return param, binf, {"cached": True}
        model = onnx.load(str(onnx_file))
        folded, left = fold_pads(model)
        folded_file = d / "model.onnx"
        onnx.save(model, str(folded_file))
        cmd = [
            str(_pnnx_binary()),
            str(folded_file),
            f"inputshape={shape}".replace(" ", ""),
            "fp16=0",
            f"ncnnparam={param}",
            f"ncnnbin={binf}",
            f"pnnxparam={d / 'model.pnnx.param'}",
            f"pnnxbin={d / 'model.pnnx.bin'}",
            f"pnnxpy={d / 'model_pnnx.py'}",
            f"pnnxonnx={d / 'model.pnnx.onnx'}",
            f"ncnnpy={d / 'model_ncnn.py'}",
        ]
        res = subprocess.run(cmd, cwd=d, capture_output=True, text=True, timeout=1800)
        (d / "pnnx.log").write_text(res.stdout + res.stderr)
        if res.returncode != 0 or not param.exists():
            raise RuntimeError(f"pnnx failed (rc {res.returncode}): {res.stderr[-400:]}")
        return param, binf, {"pads_folded": folded, "pads_left": left}

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        import ncnn

        onnx_file = onnx_path(workdir)
        if not onnx_file.exists():
            raise PeerUnavailableError(
                "needs the ONNX file the onnxruntime peer converts with tf2onnx: it is missing "
                "(onnxruntime not in --engines, or its conversion failed)"
            )
        shape = [int(s) for s in artifacts["input_shape_nchw"].split(",")]
        param, binf, info = self._convert(onnx_file, workdir, shape)
        net = ncnn.Net()
        net.opt.num_threads = threads
        net.opt.use_fp16_packed = False
        net.opt.use_fp16_storage = False
        net.opt.use_fp16_arithmetic = False
        net.opt.use_bf16_storage = False
        net.opt.use_vulkan_compute = False
        if net.load_param(str(param)) != 0 or net.load_model(str(binf)) != 0:
            raise RuntimeError("ncnn could not load the pnnx output")
        self.net, self.threads = net, threads
        self.in_name, self.out_name = _io_names(param)
        return info

    def set_input(self, x: np.ndarray) -> None:
        import ncnn

        # ncnn drops the batch axis: a CHW Mat.
        self.x = np.ascontiguousarray(x[0].transpose(2, 0, 1))
        self.mat = ncnn.Mat(self.x)

    def _invoke(self) -> None:
        ex = self.net.create_extractor()
        ex.input(self.in_name, self.mat)
        ret, self.out = ex.extract(self.out_name)
        if ret != 0:
            raise RuntimeError(f"ncnn extract returned {ret}")

    def output(self) -> np.ndarray:
        return np.array(self.out, dtype=np.float32)

    def close(self) -> None:
        self.net = None
