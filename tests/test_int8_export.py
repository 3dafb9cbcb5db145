"""int8 export on a digits CNN trained here: stock TFLite runs it, the patterns and metadata survive."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from patternlite.converter import ConverterError, OutputPathError, PruneResult, export_tflite, prune  # noqa: E402
from patternlite.converter.cli import main as cli_main  # noqa: E402
from patternlite.converter.export.int8 import Int8Options  # noqa: E402
from patternlite.converter.export.io import save_masks  # noqa: E402
from patternlite.converter.models import accuracy, digits_data, train_digits_cnn  # noqa: E402
from patternlite.converter.policy import PrunePolicy  # noqa: E402
from patternlite.converter.runtime import interpreter, predict, try_delegate  # noqa: E402
from patternlite.inspect import inspect_model  # noqa: E402
from patternlite.metadata import METADATA_NAME, PRUNED, decode  # noqa: E402
from patternlite.tflite_file import TfliteModel  # noqa: E402

pytestmark = pytest.mark.tensorflow


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return digits_data()


@pytest.fixture(scope="module")
def pruned(tmp_path_factory: pytest.TempPathFactory) -> tuple[PruneResult, Path]:
    """A pruned digits CNN (keep 0.5, short distillation), saved with its masks."""
    model = train_digits_cnn(epochs=12, width=16)
    result = prune(
        model,
        keep=0.5,
        policy=PrunePolicy.from_options(patterns=6, samples=128, iterations=10, distill_steps=200, budget=0),
        progress=False,
    )
    folder = tmp_path_factory.mktemp("int8")
    path = folder / "pruned.keras"
    result.model.save(path)
    save_masks(folder / "pruned.masks.npz", result.masks, result.library, result.keep)
    return result, path


@pytest.fixture(scope="module")
def int8_file(pruned: tuple[PruneResult, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("int8_out") / "p8.tflite"
    return export_tflite(pruned[0], out, int8=Int8Options(progress=False))


def _metadata(path: Path):  # type: ignore[no-untyped-def]
    blob = TfliteModel.from_file(str(path)).metadata(METADATA_NAME)
    return None if blob is None else decode(blob)


def test_stock_tflite_runs_it_within_a_small_margin_of_fp32(
    pruned: tuple[PruneResult, Path], int8_file: Path, digits: tuple, tmp_path: Path
) -> None:
    x, y = digits[2], digits[3]
    fp32 = accuracy(pruned[0].model, x, y)
    interp = interpreter(int8_file)
    got = predict(interp, x.astype(np.float32), batch=16)
    int8 = float(np.mean(np.argmax(got, axis=1) == y[: len(got)]))
    assert int8 >= fp32 - 0.03, (int8, fp32)
    # Float input and output by default: the app's code does not change.
    assert interp.get_input_details()[0]["dtype"] == np.float32
    assert interp.get_output_details()[0]["dtype"] == np.float32


def test_every_conv_filter_is_int8_per_channel_symmetric(int8_file: Path) -> None:
    graph = TfliteModel.from_file(str(int8_file))
    assert graph.convs
    for conv in graph.convs:
        ft = graph.tensors[conv.filter]
        q = ft.quantization
        assert ft.dtype == "int8" and q is not None
        assert len(q.scales) == ft.shape[0] and q.axis == 0, (ft.name, len(q.scales))
        assert set(q.zero_points) == {0}
        assert all(s > 0 for s in q.scales)
        assert graph.tensors[conv.input].dtype == "int8" and graph.tensors[conv.output].dtype == "int8"
        if conv.bias >= 0:
            assert graph.tensors[conv.bias].dtype == "int32"


def test_pruned_kernels_are_exactly_zero_and_the_records_match(
    pruned: tuple[PruneResult, Path], int8_file: Path
) -> None:
    result = pruned[0]
    meta = _metadata(int8_file)
    assert meta is not None and meta.patterns == result.library
    graph = TfliteModel.from_file(str(int8_file))
    by_name = {graph.tensors[c.filter].name: c for c in graph.convs}
    float_file = export_tflite(result, int8_file.with_name("p32.tflite"))
    float_meta = _metadata(float_file)
    assert float_meta is not None
    # The int8 filters keep the float file's tensor names.
    assert {r.tensor_name for r in meta.layers} == {r.tensor_name for r in float_meta.layers}
    assert len(meta.layers) == len(result.masks)
    for record in meta.layers:
        w = graph.tensor_array(by_name[record.tensor_name].filter)
        assert w is not None and w.dtype == np.int8
        taps = (w != 0).reshape(w.shape[0], 9, w.shape[3])  # OHWI -> [O, tap, I]
        for o in range(w.shape[0]):
            for i in range(w.shape[3]):
                entry = record.kernel_pattern[o, i]
                kept = taps[o, :, i]
                if entry == PRUNED:
                    assert not kept.any()  # a pruned kernel is all-zero in int8
                else:
                    pattern = meta.patterns[entry]
                    support = sum(1 << t for t in range(9) if kept[t])
                    assert support & ~pattern == 0  # kept weights inside their pattern
        # The pattern structure survives quantisation: the same kernels kept as in the float file.
        twin = next(r for r in float_meta.layers if r.tensor_name == record.tensor_name)
        np.testing.assert_array_equal(record.kernel_pattern == PRUNED, twin.kernel_pattern == PRUNED)


def test_inspect_reads_the_int8_file(int8_file: Path) -> None:
    summary = inspect_model(str(int8_file))
    assert summary["dtype"] == "int8"
    assert summary["input_dtype"] == ["float32"] and summary["output_dtype"] == ["float32"]
    assert summary["metadata"]["present"] and not summary["metadata"]["error"]
    assert all(row["weights"] == "int8 per-channel" for row in summary["convs"])
    assert sum(row["pattern_pruned"] for row in summary["convs"]) == summary["metadata"]["layers"]
    assert summary["total_reduction"] > 1.5
    float_summary = inspect_model(str(int8_file.with_name("p32.tflite")))
    assert float_summary["dtype"] == "float32" and float_summary["convs"][0]["weights"] == "float32"


def test_int8_io_gives_int8_input_and_output(pruned: tuple[PruneResult, Path], digits: tuple, tmp_path: Path) -> None:
    calib = digits[0][:64]
    path = export_tflite(pruned[0], tmp_path / "io8.tflite", int8=Int8Options(calibration=calib, int8_io=True))
    interp = interpreter(path)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert _metadata(path) is not None
    # An app quantises its input with the input tensor's scale and zero point.
    scale, zero = inp["quantization"]
    x = digits[2][:64]
    q = np.clip(np.round(x / scale + zero), -128, 127).astype(np.int8)
    interp.resize_tensor_input(inp["index"], [len(q), *q.shape[1:]])
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], q)
    interp.invoke()
    logits = interp.get_tensor(out["index"])
    assert logits.dtype == np.int8
    assert np.mean(np.argmax(logits, axis=1) == digits[3][:64]) > 0.7


def test_calibration_with_user_images_and_bad_arrays(
    pruned: tuple[PruneResult, Path], digits: tuple, tmp_path: Path
) -> None:
    good = export_tflite(pruned[0], tmp_path / "c.tflite", int8=Int8Options(calibration=digits[0][:50], progress=False))
    assert TfliteModel.from_file(str(good)).tensors[TfliteModel.from_file(str(good)).convs[0].filter].dtype == "int8"
    x = digits[0][:8]
    for bad, match in [
        (x[:, :8], "shape"),
        (x[:0], "no images"),
        (np.full_like(x, np.nan), "NaN"),
        (x.astype(str), "numbers"),
        (x[0], r"\(N, H, W, C\)"),
    ]:
        with pytest.raises(ConverterError, match=match):
            export_tflite(pruned[0], tmp_path / "bad.tflite", int8=Int8Options(calibration=bad))
    assert not (tmp_path / "bad.tflite").exists()


def test_weights_that_disagree_with_the_masks_are_refused(pruned: tuple[PruneResult, Path], tmp_path: Path) -> None:
    result = pruned[0]
    model = keras.models.clone_model(result.model)
    model.set_weights(result.model.get_weights())
    name = next(iter(result.masks))
    kernel = np.asarray(model.get_layer(name).kernel).copy()
    kernel[~result.masks[name]] = 0.5  # every pruned weight comes back
    model.get_layer(name).kernel.assign(kernel)
    out = tmp_path / "refused.tflite"
    with pytest.raises(ConverterError, match=f"layer {name}: the weights of .* disagree with the masks"):
        export_tflite(
            model, out, masks=result.masks, library=result.library, keep=result.keep, int8=Int8Options(progress=False)
        )
    assert not out.exists()


def test_the_input_is_never_overwritten_and_the_write_is_atomic(
    pruned: tuple[PruneResult, Path], tmp_path: Path
) -> None:
    src = pruned[1]
    before = src.read_bytes()
    with pytest.raises(OutputPathError, match="overwrite the input"):
        export_tflite(pruned[0].model, src, source=src, int8=True)
    assert src.read_bytes() == before
    # A failed conversion leaves the existing output as it was and no temporary file behind.
    out = tmp_path / "kept.tflite"
    out.write_bytes(b"old")
    with pytest.raises(ConverterError):
        export_tflite(pruned[0], out, int8=Int8Options(calibration=np.zeros((1, 3, 3, 1))))
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.tflite"]


def test_the_delegate_loads_the_int8_file_and_it_runs_correctly(int8_file: Path, digits: tuple) -> None:
    delegate, why = try_delegate()
    if delegate is None:
        pytest.skip(f"delegate not available: {why}")
    x = digits[2][:32].astype(np.float32)
    ref = predict(interpreter(int8_file), x, batch=8)
    out = predict(interpreter(int8_file, delegate), x, batch=8)
    stats = delegate.stats()
    n_convs = len(TfliteModel.from_file(str(int8_file)).convs)
    # Each int8 conv is claimed, or declined with a reason (and then runs in TFLite).
    assert len(stats["claimed"]) + len(stats["declined"]) == n_convs
    assert all(d["reason"] for d in stats["declined"])
    # At most one quantum of the output apart from TFLite's own int8 kernels: the float output is
    # dequantised from the int8 logits, whose scale is that quantum.
    graph = TfliteModel.from_file(str(int8_file))
    shape = graph.tensors[graph.outputs[0]].shape
    logits = [t for t in graph.tensors if t.dtype == "int8" and t.shape == shape and t.quantization]
    assert logits
    quantum = max(t.quantization.scales[0] for t in logits if t.quantization)
    assert np.max(np.abs(out - ref)) <= quantum + 1e-6


# ---------------------------------------------------------------- command line


def test_cli_export_int8_and_prune_int8(pruned: tuple[PruneResult, Path], digits: tuple, tmp_path: Path) -> None:
    src = pruned[1]
    out = tmp_path / "e8.tflite"
    assert cli_main(["export", str(src), "-o", str(out), "--int8", "--no-progress"]) == 0
    assert inspect_model(str(out))["dtype"] == "int8" and _metadata(out) is not None
    data = tmp_path / "calib.npz"
    np.savez(data, images=digits[0][:40])
    io8 = tmp_path / "io8.tflite"
    argv = ["export", str(src), "-o", str(io8), "--int8", "--int8-io", "--calibration", str(data), "--no-progress"]
    assert cli_main(argv) == 0
    assert inspect_model(str(io8))["input_dtype"] == ["int8"]
    pr = tmp_path / "pr.tflite"
    argv = ["prune", str(src), "-o", str(pr), "--int8", "--method", "magnitude", "--patterns", "4", "--no-progress"]
    assert cli_main(argv) == 0
    assert inspect_model(str(pr))["dtype"] == "int8"
    assert (tmp_path / "pr.keras").exists() and (tmp_path / "pr.masks.npz").exists()


def test_cli_bad_calibration_fails_fast_with_one_line(
    pruned: tuple[PruneResult, Path], digits: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = pruned[1]
    out = tmp_path / "x.tflite"
    nan = tmp_path / "nan.npz"
    np.savez(nan, images=np.full((4, 16, 16, 1), np.nan, np.float32))
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, images=np.array([object()], dtype=object))
    notdata = tmp_path / "text.txt"
    notdata.write_text("hello")
    empty = tmp_path / "empty"
    empty.mkdir()
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, images=digits[0][:4, :8])
    cases = [
        (["--int8", "--calibration", str(tmp_path / "missing.npz")], "--calibration: .* does not exist"),
        (["--int8", "--calibration", str(nan)], "NaN"),
        (["--int8", "--calibration", str(pickled)], "cannot read"),
        (["--int8", "--calibration", str(notdata)], r"\.npz file or a folder"),
        (["--int8", "--calibration", str(empty)], "holds no images"),
        (["--int8", "--calibration", str(wrong)], "the model takes"),
        (["--calibration", str(nan)], "add --int8"),
        (["--int8-io"], "add --int8"),
    ]
    for extra, match in cases:
        code = cli_main(["export", str(src), "-o", str(out), "--no-progress", *extra])
        err = capsys.readouterr().err.strip()
        assert code == 1, (extra, err)
        assert len(err.splitlines()) == 1 and err.startswith("patternlite export: "), err
        assert re.search(match, err), (match, err)
        assert not out.exists()
    # prune --int8 needs a .tflite to write.
    assert cli_main(["prune", str(src), "-o", str(tmp_path / "p.keras"), "--int8"]) == 1
    assert "--int8 applies to the .tflite" in capsys.readouterr().err
    assert not (tmp_path / "p.keras").exists()
