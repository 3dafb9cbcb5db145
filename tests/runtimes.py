"""Test helpers: run a .tflite with or without the delegate in a chosen runtime."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parent.parent


def interpreter_class(runtime: str) -> Any:
    if runtime == "litert":
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter
    if runtime == "tf":
        import tensorflow as tf

        return tf.lite.Interpreter
    raise ValueError(runtime)


def builtin_resolver(runtime: str) -> Any:
    if runtime == "litert":
        from ai_edge_litert.interpreter import OpResolverType
    else:
        import tensorflow as tf

        OpResolverType = tf.lite.experimental.OpResolverType  # noqa: N806
    return OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES


def make_interpreter(
    model: bytes, *, runtime: str = "litert", delegate: Any = None, reference: bool = False, threads: int = 1
) -> Any:
    """An interpreter for `model`; `reference` uses TFLite's builtin kernels with no default delegate."""
    kwargs: dict[str, Any] = {"model_content": model, "num_threads": threads}
    if delegate is not None:
        kwargs["experimental_delegates"] = [delegate]
    if reference:
        kwargs["experimental_op_resolver_type"] = builtin_resolver(runtime)
    return interpreter_class(runtime)(**kwargs)


def run(
    model: bytes,
    x: npt.NDArray[np.float32],
    *,
    runtime: str = "litert",
    delegate: Any = None,
    reference: bool = False,
    threads: int = 1,
    resize: bool = False,
) -> tuple[npt.NDArray[np.float32], Any]:
    """Run `model` on `x`. `reference` uses TFLite's builtin kernels with no default delegate."""
    interp = make_interpreter(model, runtime=runtime, delegate=delegate, reference=reference, threads=threads)
    idx = interp.get_input_details()[0]["index"]
    if resize:
        interp.resize_tensor_input(idx, list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(idx, x)
    interp.invoke()
    out = interp.get_tensor(interp.get_output_details()[0]["index"]).copy()
    return out, interp


def delegated_op_count(interp: Any) -> int:
    return sum(1 for op in interp._get_ops_details() if op["op_name"] == "DELEGATE")


def max_scaled_error(out: npt.NDArray[Any], ref: npt.NDArray[Any]) -> float:
    """Max abs difference relative to the reference output's scale (max |ref|)."""
    scale = max(float(np.abs(ref).max()) if ref.size else 0.0, 1e-6)
    return float(np.abs(out.astype(np.float64) - ref).max() / scale) if ref.size else 0.0


def tflite_runtime_python() -> Path | None:
    """The python of the tflite-runtime 2.14 venv (it needs numpy<2, so it lives apart)."""
    env = os.environ.get("PATTERNLITE_TFLITE_RUNTIME_PYTHON")
    path = Path(env) if env else REPO / ".venv-tflrt" / "bin" / "python"
    return path if path.is_file() else None


def run_in_tflite_runtime(model_path: Path, x_path: Path, out_path: Path, options: dict[str, Any]) -> dict[str, Any]:
    """Runs the model with the delegate inside the tflite_runtime venv; returns the delegate stats."""
    python = tflite_runtime_python()
    assert python is not None
    from patternlite.delegate import library_path

    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "python")
    env["PATTERNLITE_DELEGATE_LIB"] = str(library_path())
    script = REPO / "tests" / "tflite_runtime_worker.py"
    cmd = [str(python), str(script), str(model_path), str(x_path), str(out_path), json.dumps(options)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"tflite_runtime worker failed:\n{proc.stdout}\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def check_declined(model: bytes, x: npt.NDArray[np.float32], reason_part: str, **load: Any) -> dict[str, Any]:
    """The delegate declines the model's one conv node, saying `reason_part`, and TFLite's answer is unchanged."""
    import patternlite

    ref, _ = run(model, x, reference=True)
    delegate = patternlite.load_delegate(**load)
    # Builtin resolver: no XNNPACK, so any DELEGATE node would be ours.
    out, interp = run(model, x, delegate=delegate, reference=True)
    stats: dict[str, Any] = delegate.stats()
    assert delegated_op_count(interp) == 0
    assert stats["claimed"] == []
    assert len(stats["declined"]) == 1
    assert reason_part in stats["declined"][0]["reason"], stats["declined"][0]["reason"]
    assert max_scaled_error(out, ref) <= 1e-5
    return stats


def run_keeping_tensors(model: bytes, inputs: list[npt.NDArray[Any]], delegate: Any, threads: int = 1) -> Any:
    """`model` under `delegate` on TFLite's builtin resolver (no XNNPACK), every tensor kept
    readable (``experimental_preserve_all_tensors``), invoked once on `inputs` in input order."""
    interp = interpreter_class("litert")(
        model_content=model,
        experimental_delegates=[delegate],
        experimental_op_resolver_type=builtin_resolver("litert"),
        num_threads=threads,
        experimental_preserve_all_tensors=True,
    )
    interp.allocate_tensors()
    for detail, value in zip(interp.get_input_details(), inputs, strict=True):
        interp.set_tensor(detail["index"], value)
    interp.invoke()
    return interp
