"""patternlite inspect: metadata summary and MAC reduction, with the light runtime only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from patternlite.cli import main as cli_main
from patternlite.inspect import inspect_model

from conv_models import ALL_TAP_MASKS_WITH_CENTRE, build_conv_model, metadata_for, pattern_pruned_filters

LIBRARY = ALL_TAP_MASKS_WITH_CENTRE[:6]


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_summary_with_metadata(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w, ids = pattern_pruned_filters(np.random.default_rng(0), 16, 8, LIBRARY, 0.5)
    path = _write(tmp_path, "m.tflite", build_conv_model((1, 12, 12, 8), w, metadata=metadata_for(LIBRARY, ids, 0.5)))
    s = inspect_model(path)
    assert s["metadata"]["present"] and not s["metadata"]["error"] and s["metadata"]["layers"] == 1
    (conv,) = s["convs"]
    kept = int(np.count_nonzero(ids != 255))
    assert conv["kept_kernels"] == kept and conv["total_kernels"] == 128
    assert conv["dense_macs"] == 12 * 12 * 16 * 9 * 8
    assert conv["kept_macs"] == 12 * 12 * kept * 4
    assert sum(conv["pattern_histogram"]) == kept
    assert cli_main(["inspect", path]) == 0
    out = capsys.readouterr().out
    assert "6 patterns" in out and f"{kept}/128" in out and "expected reduction" in out


def test_summary_infers_patterns_without_metadata(tmp_path: Path) -> None:
    w, _ = pattern_pruned_filters(np.random.default_rng(1), 8, 8, LIBRARY, 0.5)
    s = inspect_model(_write(tmp_path, "m.tflite", build_conv_model((1, 10, 10, 8), w)))
    assert not s["metadata"]["present"]
    assert s["convs"][0]["pattern_source"] == "weights"
    assert s["total_reduction"] > 4.0


def test_corrupt_metadata_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w, ids = pattern_pruned_filters(np.random.default_rng(2), 8, 8, LIBRARY, 0.5)
    blob = bytearray(metadata_for(LIBRARY, ids))
    blob[-3] ^= 1
    path = _write(tmp_path, "m.tflite", build_conv_model((1, 10, 10, 8), w, metadata=bytes(blob)))
    assert "CRC" in inspect_model(path)["metadata"]["error"]
    assert cli_main(["inspect", path]) == 0
    assert "CORRUPT" in capsys.readouterr().out


def test_bad_files_are_clear_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["inspect", str(tmp_path / "missing.tflite")]) == 1
    assert "no such file" in capsys.readouterr().err
    junk = _write(tmp_path, "junk.tflite", b"not a model at all")
    assert cli_main(["inspect", junk]) == 1
    assert "not a TFLite flatbuffer" in capsys.readouterr().err
    truncated = build_conv_model((1, 10, 10, 8), np.ones((8, 3, 3, 8), np.float32))[:200]
    assert cli_main(["inspect", _write(tmp_path, "cut.tflite", truncated)]) == 1
