"""The OpenCL backend (backend="opencl") against TFLite's builtin kernels.

Runs on any OpenCL device; CI has PoCL (setup.sh installs it), which runs
real OpenCL C on the CPU. Without an OpenCL platform the tests that need one
skip with the reason, unless PATTERNLITE_REQUIRE_OPENCL=1, or =auto (set by
.ci/run) on a machine where clinfo lists a device, where they fail instead. The no-OpenCL tests hide the
library through PATTERNLITE_OPENCL_LIB and run everywhere.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dev_tools import skip_without_dev_tool
from hypothesis import HealthCheck, given, settings
from test_delegate_numerics import TOLERANCE, case_model, conv_case

import patternlite
from patternlite.delegate import OpenCLUnavailableError, _library

from conv_models import (
    ALL_TAP_MASKS_WITH_CENTRE,
    build_conv_model,
    metadata_for,
    pattern_prune_keras,
    pattern_pruned_filters,
)
from runtimes import (
    delegated_op_count,
    make_interpreter,
    max_scaled_error,
    run,
    run_in_tflite_runtime,
    tflite_runtime_python,
)

CL_OUT_OF_RESOURCES = -5
CL_ERROR = re.compile(r"cl[A-Z]\w+ failed: CL_OUT_OF_RESOURCES")


def _opencl_reason() -> str | None:
    """None when backend="opencl" opens a device here, else why not."""
    try:
        patternlite.load_delegate(backend="opencl").close()
    except OpenCLUnavailableError as exc:
        return str(exc)
    return None


_REASON = _opencl_reason()


@functools.cache
def _opencl_required() -> bool:
    """PATTERNLITE_REQUIRE_OPENCL=1, or =auto (.ci/run) on a machine where `clinfo` lists a device."""
    mode = os.environ.get("PATTERNLITE_REQUIRE_OPENCL", "")
    if mode == "auto":
        clinfo = shutil.which("clinfo")
        if clinfo is None:
            return False
        listed = subprocess.run([clinfo, "-l"], capture_output=True, text=True, timeout=60)
        return "Device #" in listed.stdout
    return mode == "1"


def _need_opencl() -> None:
    if _REASON is None:
        return
    if _opencl_required():
        pytest.fail(f"PATTERNLITE_REQUIRE_OPENCL is set and clinfo lists a device, but OpenCL is unusable: {_REASON}")
    pytest.skip(f"no usable OpenCL device: {_REASON}")


@pytest.fixture()
def opencl() -> None:
    _need_opencl()


def _lib() -> Any:
    lib = _library()
    lib.patternlite_opencl_inject_failure.argtypes = [ctypes.c_longlong, ctypes.c_int]
    lib.patternlite_opencl_inject_failure.restype = None
    lib.patternlite_opencl_call_count.restype = ctypes.c_longlong
    return lib


def _calls() -> int:
    return int(_lib().patternlite_opencl_call_count())


def _inject(nth: int) -> None:
    """The nth OpenCL call from now fails with CL_OUT_OF_RESOURCES (0: none)."""
    _lib().patternlite_opencl_inject_failure(nth, CL_OUT_OF_RESOURCES if nth > 0 else 0)


# ---------------------------------------------------------------- numerics


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(case=conv_case())
def test_opencl_matches_builtin_kernels(case: dict) -> None:
    """The CPU sweep's cases (shapes, strides, padding, activations, keeps, batch) on the OpenCL backend."""
    _need_opencl()
    model, x, ref = case_model(case)
    delegate = patternlite.load_delegate(backend="opencl", min_sparsity=0.0)
    out, interp = run(model, x, delegate=delegate, threads=case["threads"])
    stats = delegate.stats()
    assert delegated_op_count(interp) == 1, stats["declined"]
    (claim,) = stats["claimed"]
    assert (claim["backend"], claim["device"]) == ("opencl", stats["backend"]["device"])
    assert claim["invocations"] == 1
    assert out.shape == ref.shape
    assert max_scaled_error(out, ref) <= TOLERANCE


def _layer(shape: tuple[int, int, int, int], out_c: int, **kwargs: Any) -> tuple[bytes, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    library = ALL_TAP_MASKS_WITH_CENTRE[::7][:8]
    w, ids = pattern_pruned_filters(rng, out_c, shape[3], library, 0.5)
    bias = rng.standard_normal(out_c).astype(np.float32)
    model = build_conv_model(shape, w, bias, metadata=metadata_for(library, ids, 0.5), **kwargs)
    x = rng.standard_normal(shape).astype(np.float32)
    ref, _ = run(model, x, reference=True)
    return model, x, ref


def test_opencl_realistic_layers_and_repeated_invokes(opencl: None) -> None:
    """ResNet-sized layers; the host-pointer buffers are reused across invokes with new inputs."""
    for shape, out_c, kwargs in [
        ((1, 32, 32, 64), 64, {"activation": "RELU"}),
        ((2, 16, 16, 32), 64, {"stride": (2, 2), "activation": "RELU6"}),
        ((1, 8, 8, 128), 130, {"padding": "VALID"}),
    ]:
        model, x, ref = _layer(shape, out_c, **kwargs)
        delegate = patternlite.load_delegate(backend="opencl")
        interp = make_interpreter(model, delegate=delegate)
        interp.allocate_tensors()
        inp, outp = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
        for scale in (1.0, -2.0, 0.5):
            interp.set_tensor(inp, x * scale)
            interp.invoke()
            expect, _ = run(model, x * scale, reference=True)
            assert max_scaled_error(interp.get_tensor(outp), expect) <= TOLERANCE
        assert delegate.stats()["claimed"][0]["invocations"] == 3


def test_opencl_resize_then_allocate(opencl: None) -> None:
    model, _, _ = _layer((1, 10, 10, 8), 12, activation="RELU")
    delegate = patternlite.load_delegate(backend="opencl")
    for shape in [(3, 10, 10, 8), (1, 21, 7, 8)]:
        x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
        out, _ = run(model, x, delegate=delegate, resize=True)
        ref, _ = run(model, x, reference=True, resize=True)
        assert max_scaled_error(out, ref) <= TOLERANCE


# ---------------------------------------------------------------- whole models in three runtimes

MASKS = [0b000111010, 0b010110010, 0b010011010, 0b010111000, 0b100110010, 0b001011010]


@pytest.fixture(scope="module")
def small_resnet() -> bytes:
    """A pruned residual CNN: dense stem, pattern convs, a residual add, stride 2, pooling, dense head."""
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    inp = tf.keras.Input((20, 20, 3))
    stem = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
    x = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu")(stem)
    x = tf.keras.layers.Conv2D(16, 3, padding="same")(x)
    x = tf.keras.layers.ReLU()(tf.keras.layers.Add()([x, stem]))
    x = tf.keras.layers.Conv2D(32, 3, strides=2, padding="valid", activation="relu6")(x)
    x = tf.keras.layers.Conv2D(24, 3, padding="same", activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(10)(x))
    pattern_prune_keras(model, tf.keras.layers.Conv2D, rng, MASKS)
    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def _images(batch: int = 2) -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 1, (batch, 20, 20, 3)).astype(np.float32)


@pytest.mark.tensorflow
@pytest.mark.parametrize("runtime", ["litert", "tf"])
def test_small_resnet_in_runtime(small_resnet: bytes, runtime: str, opencl: None) -> None:
    ref, _ = run(small_resnet, _images(), runtime=runtime, reference=True, resize=True)
    delegate = patternlite.load_delegate(backend="opencl")
    out, interp = run(small_resnet, _images(), runtime=runtime, delegate=delegate, resize=True)
    stats = delegate.stats()
    assert len(stats["claimed"]) == 4  # the 3-channel stem stays dense
    assert {c["backend"] for c in stats["claimed"]} == {"opencl"}
    assert all(c["invocations"] == 1 for c in stats["claimed"])
    assert max_scaled_error(out, ref) <= TOLERANCE


@pytest.mark.tensorflow
def test_small_resnet_in_tflite_runtime(small_resnet: bytes, tmp_path: Path, opencl: None) -> None:
    if tflite_runtime_python() is None:
        skip_without_dev_tool("no tflite-runtime venv (.venv-tflrt)")
    (tmp_path / "m.tflite").write_bytes(small_resnet)
    np.save(tmp_path / "x.npy", _images())
    result = run_in_tflite_runtime(tmp_path / "m.tflite", tmp_path / "x.npy", tmp_path / "y.npy", {"backend": "opencl"})
    claimed = result["stats"]["claimed"]
    assert len(claimed) == 4 and {c["backend"] for c in claimed} == {"opencl"}
    ref, _ = run(small_resnet, _images(), reference=True, resize=True)
    assert max_scaled_error(np.load(tmp_path / "y.npy"), ref) <= TOLERANCE


@pytest.mark.tensorflow
def test_opencl_after_tensorflow_is_imported(tmp_path: Path, opencl: None) -> None:
    """TensorFlow exports its own LLVM; a driver with its own LLVM (PoCL) must still load after it."""
    pytest.importorskip("tensorflow")
    model, x, ref = _layer((1, 9, 9, 4), 8, activation="RELU")
    (tmp_path / "m.tflite").write_bytes(model)
    np.save(tmp_path / "x.npy", x)
    script = (
        "import sys, numpy as np, tensorflow as tf, patternlite\n"
        "d = patternlite.load_delegate(backend='opencl')\n"
        "i = tf.lite.Interpreter(model_path=sys.argv[1], experimental_delegates=[d])\n"
        "i.allocate_tensors()\n"
        "i.set_tensor(i.get_input_details()[0]['index'], np.load(sys.argv[2]))\n"
        "i.invoke()\n"
        "np.save(sys.argv[3], i.get_tensor(i.get_output_details()[0]['index']))\n"
        "assert d.stats()['claimed'][0]['backend'] == 'opencl'\n"
    )
    # POCL_KERNEL_CACHE=0: PoCL compiles afresh, through its own LLVM, beside TensorFlow's.
    env = dict(os.environ, PYTHONPATH=str(Path(patternlite.__file__).resolve().parent.parent), POCL_KERNEL_CACHE="0")
    env["PATTERNLITE_DELEGATE_LIB"] = str(patternlite.library_path())
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "m.tflite"), str(tmp_path / "x.npy"), str(tmp_path / "y.npy")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert max_scaled_error(np.load(tmp_path / "y.npy"), ref) <= TOLERANCE


# ---------------------------------------------------------------- device choice and the no-OpenCL path


def test_backend_choice_and_stats(opencl: None) -> None:
    stats = patternlite.load_delegate(backend="opencl").stats()["backend"]
    assert stats["requested"] == "opencl" and stats["active"] == "opencl"
    assert stats["device"] and stats["platform"] and stats["library"]
    # The same device by index and by a piece of its name.
    by_index = patternlite.load_delegate(backend="opencl", opencl_platform="0", opencl_device="0")
    assert by_index.stats()["backend"]["active"] == "opencl"
    piece = stats["device"].split()[0][:6].upper()
    assert patternlite.load_delegate(backend="opencl", opencl_device=piece).stats()["backend"]["device"]
    with pytest.raises(OpenCLUnavailableError, match="no usable OpenCL device matches .*opencl_device='no-such'"):
        patternlite.load_delegate(backend="opencl", opencl_device="no-such")
    # auto takes a GPU only: whatever it chose, it says so, and the default stays the CPU.
    auto = patternlite.load_delegate(backend="auto").stats()["backend"]
    if stats["device_type"] != "GPU":
        assert auto["active"] == "cpu" and "no OpenCL GPU device" in auto["note"]
    assert patternlite.load_delegate().stats()["backend"]["active"] == "cpu"


def test_without_opencl_auto_falls_back_and_opencl_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """With the OpenCL library hidden: auto runs the CPU kernels, opencl names what it looked for."""
    missing = tmp_path / "libOpenCL.so.1"
    monkeypatch.setenv("PATTERNLITE_OPENCL_LIB", str(missing))
    model, x, ref = _layer((1, 12, 12, 8), 16, activation="RELU")
    delegate = patternlite.load_delegate(backend="auto")
    out, interp = run(model, x, delegate=delegate)
    stats = delegate.stats()
    assert stats["backend"]["active"] == "cpu"
    assert str(missing) in stats["backend"]["note"]
    assert stats["claimed"][0]["backend"] == "cpu"
    assert max_scaled_error(out, ref) <= TOLERANCE
    with pytest.raises(OpenCLUnavailableError) as info:
        patternlite.load_delegate(backend="opencl")
    message = str(info.value)
    assert "no OpenCL library found" in message and str(missing) in message
    assert "apt-get install ocl-icd-libopencl1 pocl-opencl-icd" in message and "/vendor/lib64" in message
    # A library that is not OpenCL at all: named, with the missing entry point.
    monkeypatch.setenv("PATTERNLITE_OPENCL_LIB", "libm.so.6")
    with pytest.raises(OpenCLUnavailableError, match="libm.so.6 lacks clGetPlatformIDs"):
        patternlite.load_delegate(backend="opencl")
    # Bad option values stay ValueErrors.
    with pytest.raises(ValueError, match="backend must be one of cpu, opencl, auto"):
        patternlite.load_delegate(backend="gpu")


def test_one_delegate_two_interpreters_invoked_concurrently(opencl: None) -> None:
    """Nodes of one delegate share its queue; concurrent invokes take turns and stay exact."""
    model, x, ref = _layer((2, 14, 14, 16), 24, activation="RELU6")
    delegate = patternlite.load_delegate(backend="opencl")
    interps = [make_interpreter(model, delegate=delegate) for _ in range(2)]
    errors: list[float] = []

    def work(interp: Any, scale: float) -> None:
        interp.allocate_tensors()
        inp, outp = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
        expect, _ = run(model, x * scale, reference=True)
        for _ in range(20):
            interp.set_tensor(inp, x * scale)
            interp.invoke()
            errors.append(max_scaled_error(interp.get_tensor(outp), expect))

    threads = [threading.Thread(target=work, args=(i, s)) for i, s in zip(interps, (1.0, -0.5), strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 40 and max(errors) <= TOLERANCE
    assert sum(c["invocations"] for c in delegate.stats()["claimed"]) == 40


def _rss_mib() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_create_invoke_destroy_cycles_keep_memory_flat(opencl: None) -> None:
    """Each cycle opens a context, builds the program, uploads weights, wraps tensors; none may leak.

    Measured on 2026-11-30 with PoCL: 144.8 MiB after 50, 100, 200 and 300 cycles.
    """
    if not Path("/proc/self/statm").is_file():
        pytest.skip("needs /proc/self/statm")
    if "libasan" in os.environ.get("LD_PRELOAD", ""):
        pytest.skip("AddressSanitizer's quarantine holds freed memory, so RSS grows without a leak")
    model, x, ref = _layer((1, 16, 16, 32), 32, activation="RELU")
    marks = {}
    for cycle in range(1, 101):
        delegate = patternlite.load_delegate(backend="opencl")
        out, interp = run(model, x, delegate=delegate)
        del interp
        delegate.close()
        if cycle in (30, 100):
            marks[cycle] = _rss_mib()
    assert max_scaled_error(out, ref) <= TOLERANCE
    assert marks[100] - marks[30] < 4.0, marks


# ---------------------------------------------------------------- fault injection


def test_failures_opening_the_device(opencl: None) -> None:
    """Any failed call while opening the device: opencl raises with the error name, auto falls back."""
    before = _calls()
    patternlite.load_delegate(backend="opencl").close()
    n = _calls() - before
    assert n >= 5
    for k in range(1, n + 1):
        _inject(k)
        try:
            delegate = patternlite.load_delegate(backend="opencl")
        except OpenCLUnavailableError as exc:
            assert "CL_OUT_OF_RESOURCES" in str(exc)
        else:
            # Only a failed release (after the device was opened) goes unnoticed.
            delegate.close()
        finally:
            _inject(0)
        _inject(k)
        try:
            auto = patternlite.load_delegate(backend="auto").stats()["backend"]
        finally:
            _inject(0)
        assert auto["active"] in ("cpu", "opencl")


def test_failure_at_prepare_declines_the_node(opencl: None) -> None:
    """Every OpenCL call made while claiming a node, failed in turn: the node is declined with the
    call and error name, and TFLite runs it."""
    model, x, ref = _layer((1, 12, 12, 8), 16, activation="RELU")
    delegate = patternlite.load_delegate(backend="opencl")
    before = _calls()
    interp = make_interpreter(model, delegate=delegate)  # kept: its release calls come later
    interp.allocate_tensors()
    n = _calls() - before
    del interp
    assert n >= 8  # program, kernel, work-group size, 6 weight buffers
    failed = 0
    for k in range(1, n + 1):
        delegate = patternlite.load_delegate(backend="opencl")  # a fresh one builds its program again
        _inject(k)
        try:
            out, _ = run(model, x, delegate=delegate)
        finally:
            _inject(0)
        stats = delegate.stats()
        if stats["declined"]:
            failed += 1
            assert CL_ERROR.search(stats["declined"][0]["reason"]), stats["declined"]
            assert stats["declined"][0]["reason"].startswith("OpenCL: ")
            assert not stats["claimed"]  # TFLite (with XNNPACK) runs the conv
        else:
            assert stats["claimed"][0]["backend"] == "opencl"
        assert max_scaled_error(out, ref) <= TOLERANCE
    # Every call but the releases after a failure belongs to the claim.
    assert failed >= 8


def test_failure_during_eval_is_an_error_not_a_crash(opencl: None) -> None:
    """Every OpenCL call of one invoke, failed in turn: invoke raises with the error name, and the
    next invoke recovers with the exact result."""
    model, x, ref = _layer((1, 12, 12, 8), 16, activation="RELU")
    delegate = patternlite.load_delegate(backend="opencl")
    interp = make_interpreter(model, delegate=delegate)
    interp.allocate_tensors()
    inp, outp = interp.get_input_details()[0]["index"], interp.get_output_details()[0]["index"]
    interp.set_tensor(inp, x)
    interp.invoke()
    before = _calls()
    interp.invoke()
    n = _calls() - before
    assert n >= 20  # map/unmap in and out, the kernel's arguments, the launch, finish
    for k in range(1, n + 1):
        _inject(k)
        try:
            with pytest.raises(RuntimeError, match=CL_ERROR):
                interp.invoke()
        finally:
            _inject(0)
        interp.set_tensor(inp, x)
        interp.invoke()
        assert max_scaled_error(interp.get_tensor(outp), ref) <= TOLERANCE


# ---------------------------------------------------------------- the pruned ResNet-20 (../shared)


@pytest.mark.shared
@pytest.mark.tensorflow
@pytest.mark.slow
def test_pruned_resnet20_on_opencl_in_three_runtimes(shared: Path, tmp_path: Path, opencl: None) -> None:
    """benchmarks/opencl_resnet20.py: stock tf.lite, 500 CIFAR-10 images, OpenCL against the CPU path;
    then the same model on OpenCL through ai_edge_litert and tflite_runtime."""
    pytest.importorskip("tensorflow")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the benchmarks package
    from benchmarks.opencl_resnet20 import evaluate, pruned_resnet20

    model = pruned_resnet20(shared, 0.5, tmp_path / "resnet20.tflite")
    result = evaluate(shared, keep=0.5, model=model)
    # Every 3x3 conv the CPU path claims runs on OpenCL; ResNet-20's two fixed option-A
    # shortcuts (sparse 1x1) are claimed too and stay on the CPU kernels, whatever the backend.
    assert result["claimed_opencl"] == result["claimed_cpu_conv3x3"] == 18, json.dumps(result)
    assert result["claimed_opencl_run_on_cpu"] == ["pointwise", "pointwise"], json.dumps(result)
    assert result["claimed_cpu"] == 20, json.dumps(result)
    assert result["same_predictions"] == result["images"] == 500
    assert result["top1_opencl"] == result["top1_cpu"] == result["top1_tflite"]
    assert result["max_scaled_diff_opencl_vs_tflite"] <= TOLERANCE

    images = np.load(shared / "data" / "cifar10_dev_lossless.npz")["images"][:20].astype(np.float32)
    content = model.read_bytes()
    ref, _ = run(content, images, reference=True, resize=True)
    delegate = patternlite.load_delegate(backend="opencl")
    out, _ = run(content, images, runtime="litert", delegate=delegate, resize=True)
    assert sum(c["backend"] == "opencl" for c in delegate.stats()["claimed"]) == 18
    assert max_scaled_error(out, ref) <= TOLERANCE
    if tflite_runtime_python() is None:
        skip_without_dev_tool("no tflite-runtime venv (.venv-tflrt)")
    np.save(tmp_path / "x.npy", images)
    worker = run_in_tflite_runtime(model, tmp_path / "x.npy", tmp_path / "y.npy", {"backend": "opencl"})
    assert sum(c["backend"] == "opencl" for c in worker["stats"]["claimed"]) == 18
    assert max_scaled_error(np.load(tmp_path / "y.npy"), ref) <= TOLERANCE
