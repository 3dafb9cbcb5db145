"""The allocation plot reads an accuracy results JSON and draws only the sensitivity runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
pytest.importorskip("matplotlib")

from benchmarks.plot_allocation import allocation_rows, main  # noqa: E402


def _row(allocation: str, keeps: dict[str, float]) -> dict[str, object]:
    return {
        "model": "m",
        "keep": 0.5,
        "variant": "bn-admm",
        "allocation": allocation,
        "layer_keep": keeps,
        "top1": 0.8,
        "kernels_kept": 0.5,
        "macs_kept": 0.6,
    }


def test_plot_draws_the_sensitivity_runs(tmp_path: Path) -> None:
    res = {"runs": [_row("uniform", {"a": 0.5, "b": 0.5}), _row("sensitivity", {"a": 0.9, "b": 0.3})]}
    path = tmp_path / "accuracy-x.json"
    path.write_text(json.dumps(res))
    assert [r["layer_keep"] for r in allocation_rows(res)] == [{"a": 0.9, "b": 0.3}]
    assert main([str(path)]) == 0
    png = tmp_path / "accuracy-x-allocation.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_skips_files_without_sensitivity_runs(tmp_path: Path) -> None:
    path = tmp_path / "accuracy-y.json"
    path.write_text(json.dumps({"runs": [_row("uniform", {"a": 0.5})]}))
    assert main([str(path)]) == 0
    assert not (tmp_path / "accuracy-y-allocation.png").exists()
