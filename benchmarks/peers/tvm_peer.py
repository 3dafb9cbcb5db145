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


class TunedPeer(Peer):
    """TVM with meta-schedule tuning (optional, ``--tvm-tune MODEL``; minutes per model).

    Tuned once per model at num-cores = all cores and reused at every thread count:
    num-cores only shapes the search space, TVM_NUM_THREADS sets the runtime threads.
    The builder timeout is longer than TVM's own import time, or every candidate fails.
    """

    name = "tvm_tuned"

    def version(self) -> str:
        return super().version().replace("(untuned)", "(meta-schedule tuned)")

    def prepare(self, artifacts: dict[str, str], workdir: Path, threads: int) -> dict[str, Any]:
        import os
        import time

        import tvm
        from tvm import relax
        from tvm.s_tir import meta_schedule as ms

        tflite_file = Path(artifacts["tflite"])
        trials = int(artifacts.get("tvm_trials", "512"))
        lib_file = workdir / f"tvm_tuned_{trials}.so"
        info: dict[str, Any] = {"trials": trials, "lib": str(lib_file)}
        if not fresh(lib_file, tflite_file):
            shape = tuple(int(s) for s in artifacts["input_shape_nhwc"].split(","))
            mod = import_tflite(tflite_file, _input_name(tflite_file), shape)
            target = host_target(os.cpu_count() or threads)
            t0 = time.time()
            work = str(workdir / f"tvm_tune_{trials}")
            with target:
                # What relax's "static_shape_tuning" pipeline does, but calling tune_relax
                # ourselves: the pipeline's builder times out (30 s) before a build worker
                # has even imported TVM on a loaded machine, and every trial fails.
                mod = tvm.transform.Sequential(
                    [
                        relax.transform.DecomposeOpsForInference(),
                        relax.transform.CanonicalizeBindings(),
                        relax.get_pipeline("zero"),
                    ]
                )(mod)
                ms.relax_integration.tune_relax(
                    mod,
                    params={},
                    target=target,
                    work_dir=work,
                    max_trials_global=trials,
                    builder=ms.builder.LocalBuilder(timeout_sec=300),
                    runner=ms.runner.LocalRunner(timeout_sec=300),
                )
                records = Path(work) / "database_tuning_record.json"
                if not records.exists() or not records.read_text().strip():
                    # Every candidate failed to build or run: do not pass untuned code off as tuned.
                    raise RuntimeError(f"meta-schedule produced no valid record (logs in {work}/logs)")
                mod = relax.transform.MetaScheduleApplyDatabase(work)(mod)
            info["tuning_s"] = round(time.time() - t0, 1)
            ex = tvm.compile(mod, target=target)
            ex.export_library(str(lib_file.with_suffix(".tmp.so")))
            lib_file.with_suffix(".tmp.so").replace(lib_file)
        self.vm = relax.VirtualMachine(tvm.runtime.load_module(str(lib_file)), tvm.cpu())
        return info
