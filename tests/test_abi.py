"""Run-time proof that delegate/abi/tflite_abi.h matches each supported runtime.

The delegate reports what it read through our struct mirror (the tensor
table, recommended_num_threads, GetModelMetadata); each runtime's Python API
reports the same facts its own way. Any layout drift shows up as a mismatch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dev_tools import skip_without_dev_tool

import patternlite

from conv_models import build_conv_model, metadata_for, pattern_pruned_filters
from runtimes import run, run_in_tflite_runtime, tflite_runtime_python

LIBRARY = [0b000111010, 0b010110010]
TYPE_CODES = {np.float32: 1, np.int32: 2, np.uint8: 3, np.int64: 4, np.int8: 9}


def _model() -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(0)
    w, ids = pattern_pruned_filters(rng, 12, 5, LIBRARY, 0.6)
    model = build_conv_model(
        (1, 9, 7, 5),
        w,
        rng.standard_normal(12).astype(np.float32),
        stride=(2, 1),
        padding="SAME",
        activation="RELU6",
        metadata=metadata_for(LIBRARY, ids, 0.6),
    )
    return model, rng.standard_normal((2, 9, 7, 5)).astype(np.float32)


def _check_probe(stats: dict, details: list[dict], threads: int) -> None:
    abi = stats["abi"]
    assert abi["tensors_size"] == len(details)
    by_index = {t["index"]: t for t in abi["tensors"]}
    for d in details:
        seen = by_index[d["index"]]
        assert seen["name"] == d["name"]
        # Shapes are probed before resize_tensor_input takes effect on re-application,
        # so compare ranks and the non-batch dims.
        assert len(seen["shape"]) == len(d["shape"])
        assert seen["shape"][1:] == list(d["shape"])[1:]
    assert abi["recommended_num_threads"] == threads
    assert abi["has_get_model_metadata"]
    assert abi["get_tensor_consistent"] in (-1, 1)
    assert stats["metadata"]["found"] and stats["metadata"]["layers"] == 1 and not stats["metadata"]["error"]
    claim = stats["claimed"][0]
    assert (claim["out_channels"], claim["in_channels"], claim["stride"]) == (12, 5, [2, 1])
    assert (claim["padding"], claim["activation"], claim["source"]) == ("SAME", "RELU6", "metadata")


@pytest.mark.parametrize("runtime", ["litert", pytest.param("tf", marks=pytest.mark.tensorflow)])
@pytest.mark.parametrize("threads", [1, 2])
def test_abi_probe_matches_runtime(runtime: str, threads: int) -> None:
    if runtime == "tf":
        pytest.importorskip("tensorflow")
    model, x = _model()
    delegate = patternlite.load_delegate()
    out, interp = run(model, x, runtime=runtime, delegate=delegate, threads=threads, resize=True)
    stats = delegate.stats()
    details = [{"index": d["index"], "name": d["name"], "shape": list(d["shape"])} for d in interp.get_tensor_details()]
    _check_probe(stats, details, threads)
    for t in stats["abi"]["tensors"]:
        if t["name"] == "output":
            assert t["type"] == 1
    ref, _ = run(model, x, runtime=runtime, reference=True, resize=True)
    np.testing.assert_allclose(out, ref, atol=1e-4 * np.abs(ref).max())


def test_abi_probe_tflite_runtime(tmp_path: Path) -> None:
    if tflite_runtime_python() is None:
        skip_without_dev_tool("no tflite-runtime venv (.venv-tflrt)")
    model, x = _model()
    (tmp_path / "m.tflite").write_bytes(model)
    np.save(tmp_path / "x.npy", x)
    result = run_in_tflite_runtime(
        tmp_path / "m.tflite", tmp_path / "x.npy", tmp_path / "y.npy", {"interpreter_threads": 2}
    )
    assert result["version"].startswith("2.14")
    assert result["delegated"] == 1
    _check_probe(result["stats"], result["tensors"], 2)
    ref, _ = run(model, x, reference=True, resize=True)
    out = np.load(tmp_path / "y.npy")
    np.testing.assert_allclose(out, ref, atol=1e-4 * np.abs(ref).max())
