"""The int8 accuracy harness's own logic (benchmarks/accuracy/int8.py), without TensorFlow or the shared material."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.accuracy import int8


def _row(model: str, keep: float | None, fp32: float, synthetic: float, client: float) -> dict[str, Any]:
    def scores(v: float) -> dict[str, Any]:
        return {"lossless": v, "jpeg": v - 0.1}

    return {
        "model": model,
        "keep": keep,
        "variants": {"fp32": scores(fp32), "int8_synthetic": scores(synthetic), "int8_client": scores(client)},
    }


def test_verdict_marks_the_resnet20_targets_on_the_lossless_images() -> None:
    row = _row("resnet20", 0.5, 0.800, 0.796, 0.796)
    # 0.4 points lost: within 0.5 (synthetic), beyond 0.3 (client).
    assert int8.verdict(row, "int8_synthetic").startswith("met")
    assert int8.verdict(row, "int8_client").startswith("missed")
    # A gain is met, and the points are signed as lost.
    assert int8.verdict(_row("resnet20", 1.0, 0.80, 0.80, 0.81), "int8_client") == "met (-1.0)"
    assert int8.verdict(_row("resnet20", 1.0, 0.80, 0.80, 0.80), "int8_client") == "met (+0.0)"


def test_verdict_leaves_dense_and_non_target_rows_blank() -> None:
    assert int8.verdict(_row("resnet20", None, 0.9, 0.8, 0.8), "int8_synthetic") == ""
    assert int8.verdict(_row("resnet8", 0.5, 0.9, 0.8, 0.8), "int8_synthetic") == ""


def test_render_flags_a_delegate_that_disagrees_with_the_builtin_kernels() -> None:
    row = _row("resnet20", 0.5, 0.8, 0.8, 0.8)
    for variant, scores in row["variants"].items():
        lossless = scores["lossless"] - (0.002 if variant == "int8_client" else 0.0)
        scores["delegate"] = {
            "lossless": lossless,
            "jpeg": scores["jpeg"],
            "claimed_kinds": {"conv3x3/int8": 18},
            "top1_agree": 0.99,
            "outputs_identical": 0.5,
            "max_quanta": 1.0,
        }
    meta = {"date": "d", "host": "h", "note": "n", "seconds": 120.0}
    table = int8.render(meta, [row], "--models resnet20")
    synthetic, client = [line for line in table.splitlines() if "18 conv3x3/int8" in line][0].split(" | ")[4:6]
    assert "same top-1" in synthetic
    assert "top-1 differs" in client and "(-0.2 / +0.0)" in client and "max 1 q" in client
    assert "python -m benchmarks.accuracy.int8 --models resnet20` (2 minutes)" in table


def test_client_calibration_is_a_seeded_sample_without_repeats(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    images = np.arange(40 * 2 * 2 * 3, dtype=np.uint8).reshape(40, 2, 2, 3)
    np.savez(tmp_path / "data" / "cifar10_client_train_jpeg_q75.npz", images=images, labels=np.zeros(40))
    a = int8.client_calibration(tmp_path, 10, seed=0)
    assert a.dtype == np.float32 and a.shape == (10, 2, 2, 3)
    assert len({float(x[0, 0, 0]) for x in a}) == 10
    np.testing.assert_array_equal(a, int8.client_calibration(tmp_path, 10, seed=0))
    assert not np.array_equal(a, int8.client_calibration(tmp_path, 10, seed=1))


def test_absent_shared_material_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert int8.main(["--shared", str(tmp_path / "absent")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
