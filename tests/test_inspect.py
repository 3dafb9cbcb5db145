"""patternlite inspect: metadata summary and MAC reduction, for every layer kind, with the light runtime only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from patternlite.cli import main as cli_main
from patternlite.inspect import inspect_model
from patternlite.metadata import KIND_DEPTHWISE3X3, KIND_POINTWISE, PRUNED, LayerPatterns, PatternMetadata, encode

from conv_models import (
    ALL_TAP_MASKS_WITH_CENTRE,
    FILTER_NAME,
    build_conv_model,
    metadata_for,
    pattern_pruned_filters,
)

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


@pytest.mark.parametrize("structure", ["kernel", "block", "shared"])
def test_summary_names_the_3x3_block_structure(
    tmp_path: Path, structure: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``structure``: how the 16 filters of each block keep their kernels (the converter's --connectivity)."""
    rng = np.random.default_rng(2)
    o, i = 40, 8  # blocks of 16, 16 and a partial 8
    ids = rng.integers(0, len(LIBRARY), size=(o, i)).astype(np.uint8)
    if structure != "kernel":
        for s in range(0, o, 16):
            ids[s : s + 16, rng.permutation(i)[:3]] = PRUNED  # the block drops the same inputs
            if structure == "shared":
                ids[s : s + 16] = ids[s]  # and reads each kept input through one pattern
    w = rng.standard_normal((o, 3, 3, i)).astype(np.float32)
    masks = np.array([[(LIBRARY[k] >> b) & 1 if k != PRUNED else 0 for b in range(9)] for k in ids.ravel()])
    w *= masks.reshape(o, i, 9).transpose(0, 2, 1).reshape(o, 3, 3, i)
    path = _write(tmp_path, "m.tflite", build_conv_model((1, 8, 8, i), w, metadata=metadata_for(LIBRARY, ids, 0.6)))
    assert inspect_model(path)["convs"][0]["structure"] == structure
    assert cli_main(["inspect", path]) == 0
    assert f" {structure} " in capsys.readouterr().out


def test_summary_infers_patterns_without_metadata(tmp_path: Path) -> None:
    w, _ = pattern_pruned_filters(np.random.default_rng(1), 8, 8, LIBRARY, 0.5)
    s = inspect_model(_write(tmp_path, "m.tflite", build_conv_model((1, 10, 10, 8), w)))
    assert not s["metadata"]["present"]
    assert s["convs"][0]["pattern_source"] == "weights"
    assert s["total_reduction"] > 4.0


def test_a_conv_the_delegate_declines_by_shape_is_no_kind(tmp_path: Path) -> None:
    """The op-kind rule the delegate applies: a 3x3 conv of stride 3 is not a conv3x3, whatever its weights."""
    w, _ = pattern_pruned_filters(np.random.default_rng(1), 8, 8, LIBRARY, 0.5)
    s = inspect_model(_write(tmp_path, "m.tflite", build_conv_model((1, 12, 12, 8), w, stride=(3, 3))))
    (conv,) = s["convs"]
    assert conv["kind"] == "other" and conv["stride"] == [3, 3]
    assert "pattern_source" not in conv and conv["kept_macs"] == conv["dense_macs"]


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
    assert "not a TFLite file" in capsys.readouterr().err
    truncated = build_conv_model((1, 10, 10, 8), np.ones((8, 3, 3, 8), np.float32))[:200]
    assert cli_main(["inspect", _write(tmp_path, "cut.tflite", truncated)]) == 1
    err = capsys.readouterr().err
    assert "truncated TFLite file: its 200 bytes" in err and "unpack_from" not in err, err
    assert len(err.strip().splitlines()) == 1, err


def _depthwise_model(input_shape: tuple[int, int, int, int], filters_13c: np.ndarray, metadata: bytes | None) -> bytes:
    """build_conv_model's single conv turned into a DEPTHWISE_CONV_2D with a [1, 3, 3, C] filter."""
    import flatbuffers

    from patternlite.tflite_file import _schema

    c = filters_13c.shape[3]
    as_conv = filters_13c.transpose(3, 1, 2, 0)  # [C, 3, 3, 1]: build_conv_model then sizes output and bias C
    s = _schema()
    data = build_conv_model(input_shape, as_conv, metadata=metadata)
    m = s.ModelT.InitFromObj(s.Model.GetRootAsModel(bytearray(data), 0))
    m.operatorCodes[0].builtinCode = m.operatorCodes[0].deprecatedBuiltinCode = s.BuiltinOperator.DEPTHWISE_CONV_2D
    op = m.subgraphs[0].operators[0]
    opts = s.DepthwiseConv2DOptionsT()
    opts.padding, opts.strideH, opts.strideW, opts.depthMultiplier = s.Padding.SAME, 1, 1, 1
    op.builtinOptionsType, op.builtinOptions = s.BuiltinOptions.DepthwiseConv2DOptions, opts
    ft = m.subgraphs[0].tensors[op.inputs[1]]
    ft.shape = [1, 3, 3, c]
    m.buffers[ft.buffer].data = np.frombuffer(filters_13c.astype(np.float32).tobytes(), np.uint8).copy()
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_pointwise_and_depthwise_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(3)
    # A 1x1 conv, 32 x 24, whose two blocks of 16 outputs keep 12 inputs each.
    kept = np.zeros((32, 24), bool)
    kept[:16, rng.permutation(24)[:12]] = True
    kept[16:, rng.permutation(24)[:12]] = True
    w = (rng.standard_normal((32, 24)) * kept).astype(np.float32).reshape(32, 1, 1, 24)
    table = np.where(kept, 0, PRUNED).astype(np.uint8)
    blob = encode(PatternMetadata(LIBRARY, [LayerPatterns(FILTER_NAME, table, 0.5, KIND_POINTWISE)]))
    s = inspect_model(_write(tmp_path, "pw.tflite", build_conv_model((1, 10, 10, 24), w, metadata=blob)))
    (row,) = s["convs"]
    assert row["kind"] == "pointwise" and row["builtin"] == "CONV_2D" and row["pattern_source"] == "metadata"
    assert row["kept_kernels"] == 384 and row["total_kernels"] == 768 and "pattern_histogram" not in row
    assert row["dense_macs"] == 100 * 32 * 24 and row["kept_macs"] == 100 * 384
    assert s["metadata"]["kinds"] == {"conv3x3": 0, "pointwise": 1, "depthwise3x3": 0}
    # A depthwise conv, 40 channels: 4 taps of 9 per kept channel, 8 channels pruned.
    ids = np.repeat(np.array([0, 3, 5], np.uint8), 16)[:40]
    ids[rng.permutation(40)[:8]] = PRUNED
    taps = np.array([[(LIBRARY[i] >> b) & 1 if i != PRUNED else 0 for b in range(9)] for i in ids], np.float32)
    f = (rng.standard_normal((40, 9)) * taps).T.reshape(1, 3, 3, 40)
    blob = encode(PatternMetadata(LIBRARY, [LayerPatterns(FILTER_NAME, ids.reshape(40, 1), 0.8, KIND_DEPTHWISE3X3)]))
    path = _write(tmp_path, "dw.tflite", _depthwise_model((1, 10, 10, 40), f, blob))
    s = inspect_model(path)
    (row,) = s["convs"]
    assert row["kind"] == "depthwise3x3" and row["builtin"] == "DEPTHWISE_CONV_2D" and row["shape"] == [1, 3, 3, 40]
    assert row["kept_kernels"] == 32 and row["total_kernels"] == 40
    assert row["dense_macs"] == 100 * 9 * 40 and row["kept_macs"] == 100 * 4 * 32
    assert sum(row["pattern_histogram"]) == 32
    assert cli_main(["inspect", path]) == 0
    out = capsys.readouterr().out
    assert "1 DEPTHWISE_CONV_2D" in out and "depthwise" in out and "32/40" in out and "(1 depthwise)" in out
    # Without metadata a depthwise conv is dense: only 3x3 CONV_2D weights are read for patterns.
    s = inspect_model(_write(tmp_path, "dw_bare.tflite", _depthwise_model((1, 10, 10, 40), f, None)))
    assert s["convs"][0]["kept_macs"] == s["convs"][0]["dense_macs"] and "pattern_source" not in s["convs"][0]


def test_a_record_of_the_wrong_kind_is_reported_and_not_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    w, ids = pattern_pruned_filters(np.random.default_rng(4), 8, 8, LIBRARY, 0.5)
    blob = encode(
        PatternMetadata(
            LIBRARY,
            [LayerPatterns(FILTER_NAME, np.where(ids == PRUNED, PRUNED, 0).astype(np.uint8), 0.5, KIND_POINTWISE)],
        )
    )
    path = _write(tmp_path, "m.tflite", build_conv_model((1, 10, 10, 8), w, metadata=blob))
    (row,) = inspect_model(path)["convs"]
    assert "pointwise record" in row["record_ignored"] and not row["pattern_pruned"]
    assert row["pattern_source"] == "weights"  # its weights still fit patterns, as the delegate would see
    assert cli_main(["inspect", path]) == 0
    assert "declines it" in capsys.readouterr().out
