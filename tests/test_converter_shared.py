"""The converter on the real evaluation models (skipped when ../shared is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from patternlite.converter import export_tflite, prune  # noqa: E402
from patternlite.converter.policy import PrunePolicy  # noqa: E402
from patternlite.converter.runtime import interpreter, predict, try_delegate  # noqa: E402
from patternlite.converter.synthesis.synthetic import noise_inputs  # noqa: E402
from patternlite.metadata import PRUNED  # noqa: E402

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def cifar(shared: Path) -> tuple[np.ndarray, np.ndarray]:
    d = np.load(shared / "data" / "cifar10_dev_lossless.npz")
    return d["images"].astype(np.float32), d["labels"]


def _acc(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(model.predict(x, batch_size=100, verbose=0), axis=1) == y))


def test_resnet20_magnitude_export_and_delegate(shared: Path, cifar: tuple, tmp_path: Path) -> None:
    from patternlite.converter import inspect

    model = keras.models.load_model(shared / "models" / "resnet20_cifar10.keras", compile=False)
    result = prune(model, keep=0.5, policy=PrunePolicy.from_options(patterns=8, method="magnitude"), progress=False)
    # 19 3x3 convs, the first stays dense; the 1x1 option-A shortcuts are never touched.
    assert len(result.masks) == 18 and "conv1" not in result.masks
    assert not any("shortcut" in name for name in result.masks)
    for layer in model.layers:
        if "shortcut" in layer.name:
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(result.model.get_layer(layer.name).kernel),
                keras.ops.convert_to_numpy(layer.kernel),
            )
    path = export_tflite(result, tmp_path / "r20.tflite")
    summary = inspect(path)
    assert summary["metadata"]["present"] and summary["metadata"]["layers"] == 18
    pruned = [row for row in summary["convs"] if row.get("pattern_source") == "metadata"]
    assert len(pruned) == 18
    for row in pruned:
        assert row["kept_kernels"] == round(0.5 * row["total_kernels"])
    x = cifar[0][:20]
    ref = result.model.predict(x, verbose=0)
    np.testing.assert_allclose(predict(interpreter(path), x, batch=10), ref, rtol=1e-3, atol=1e-3)
    delegate, why = try_delegate()
    if delegate is None:
        pytest.skip(f"delegate not available: {why}")
    out = predict(interpreter(path, delegate), x, batch=10)
    np.testing.assert_allclose(out, ref, rtol=1e-3, atol=1e-3)
    claimed = delegate.stats()["claimed"]
    # The 18 pruned 3x3 convs from their records; the two fixed option-A
    # shortcuts (1x1, stride 2, a channel-selection matrix) from their weights:
    # they are sparse in whole blocks of 16 filters, so the pointwise kernel runs them.
    kinds = sorted((c["kind"], c["source"]) for c in claimed)
    assert kinds == [("conv3x3", "metadata")] * 18 + [("pointwise", "weights")] * 2, kinds


def test_resnet8_admm_beats_magnitude(shared: Path, cifar: tuple) -> None:
    model = keras.models.load_model(shared / "models" / "mlperf_tiny_resnet8.h5", compile=False)
    x, y = cifar
    mag = prune(model, keep=1.0, policy=PrunePolicy.from_options(method="magnitude"), progress=False)
    admm = prune(
        model, keep=1.0, policy=PrunePolicy.from_options(iterations=10), inputs=noise_inputs(model, 64), progress=False
    )
    assert set(admm.masks) == set(mag.masks) and len(admm.masks) == 6
    for name, a in admm.assignments.items():
        assert np.all(a != PRUNED)  # keep 1.0: patterns only, no kernel removed
        k = keras.ops.convert_to_numpy(admm.model.get_layer(name).kernel)
        assert np.all(np.count_nonzero(k.reshape(9, -1), axis=0) <= 4)
    assert _acc(admm.model, x, y) > _acc(mag.model, x, y)
