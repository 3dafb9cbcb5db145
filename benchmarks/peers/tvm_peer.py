"""Apache TVM 0.27 (PyPI ``apache-tvm``), relax TFLite frontend, target llvm -mcpu=<host>.

Facts found on this machine: import the frontend as ``tvm.relax.frontend.tflite``; build
the target from the dict form; apache-tvm-ffi 0.1.15 segfaults in meta-schedule, so the
venv pins 0.1.14.  Without tuning the default schedules are ~100x slower than XNNPACK
here, so these numbers are reported as *untuned*.  The worker is started with
TVM_NUM_THREADS set, since TVM's thread pool reads it once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.peers.base import Peer as BasePeer
from benchmarks.peers.common import fresh


def host_target(threads: int) -> Any:
    import tvm
    from tvm.target import codegen

    return tvm.target.Target({"kind": "llvm", "mcpu": codegen.llvm_get_system_cpu(), "num-cores": threads})


def import_tflite(path: Path, input_name: str, shape: tuple[int, ...]) -> Any:
    import tflite
    from tvm.relax.frontend.tflite import from_tflite

    buf = path.read_bytes()
    model = tflite.Model.GetRootAsModel(buf, 0)
    res = from_tflite(model, shape_dict={input_name: shape}, dtype_dict={input_name: "float32"})
    return res[0] if isinstance(res, tuple) else res


def _input_name(path: Path) -> str:
    import tflite

    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    sub = model.Subgraphs(0)
    return sub.Tensors(sub.Inputs(0)).Name().decode()


class Peer(BasePeer):
    name = "tvm_untuned"

    def __init__(self) -> None:
        self.vm: Any = None
        self.x: Any = None
        self.out: Any = None

    def version(self) -> str:
        import tvm
        from tvm.target import codegen

        return f"apache-tvm {tvm.__version__} llvm -mcpu={codegen.llvm_get_system_cpu()} (untuned)"

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        import tvm
        from tvm import relax

        tflite_file = Path(artifacts["tflite"])
        lib_file = workdir / f"tvm_untuned_t{threads}.so"
        if not fresh(lib_file, tflite_file):
            shape = tuple(int(s) for s in artifacts["input_shape_nhwc"].split(","))
            mod = import_tflite(tflite_file, _input_name(tflite_file), shape)
            ex = tvm.compile(mod, target=host_target(threads))
            ex.export_library(str(lib_file.with_suffix(".tmp.so")))
            lib_file.with_suffix(".tmp.so").replace(lib_file)
        self.vm = relax.VirtualMachine(tvm.runtime.load_module(str(lib_file)), tvm.cpu())
        return {"lib": str(lib_file)}

    def set_input(self, x: np.ndarray) -> None:
        import tvm

        self.x = tvm.runtime.tensor(np.ascontiguousarray(x), tvm.cpu())

    def _invoke(self) -> None:
        self.out = self.vm["main"](self.x)

    def output(self) -> np.ndarray:
        out = self.out
        while isinstance(out, (list, tuple)) or type(out).__name__ == "Array":
            out = out[0]
        return np.asarray(out.numpy())

    def close(self) -> None:
        self.vm = None
