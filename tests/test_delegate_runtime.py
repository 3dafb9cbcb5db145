"""A real Keras-converted CNN through all three runtimes; resizing; options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dev_tools import skip_without_dev_tool

import patternlite
from patternlite.delegate import Delegate

from conv_models import pattern_prune_keras
from runtimes import delegated_op_count, max_scaled_error, run, run_in_tflite_runtime, tflite_runtime_python

MASKS = [0b000111010, 0b010110010, 0b010011010, 0b010111000, 0b100110010, 0b001011010]


@pytest.fixture(scope="module")
def keras_cnn() -> bytes:
    """Conv(3->16, dense) -> Conv(16->24, RELU, pattern) -> Conv(24->32, stride 2, RELU6 via BN-free)..."""
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(0)
    inp = tf.keras.Input((24, 24, 3))
    x = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inp)
    x = tf.keras.layers.Conv2D(24, 3, padding="same", activation="relu")(x)
    x = tf.keras.layers.Conv2D(32, 3, strides=2, padding="valid", activation="relu6")(x)
    x = tf.keras.layers.MaxPooling2D()(x)
    x = tf.keras.layers.Conv2D(20, 3, padding="same")(x)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    model = tf.keras.Model(inp, tf.keras.layers.Dense(10)(x))
    pattern_prune_keras(model, tf.keras.layers.Conv2D, rng, MASKS)
    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def _x(batch: int = 1) -> np.ndarray:
    return np.random.default_rng(1).uniform(0, 1, (batch, 24, 24, 3)).astype(np.float32)


@pytest.mark.parametrize("runtime", ["litert", "tf"])
def test_keras_model_in_runtime(keras_cnn: bytes, runtime: str) -> None:
    ref, _ = run(keras_cnn, _x(), runtime=runtime, reference=True)
    delegate = patternlite.load_delegate()
    out, interp = run(keras_cnn, _x(), runtime=runtime, delegate=delegate)
    stats = delegate.stats()
    assert len(stats["claimed"]) == 3  # the 3-channel first conv is dense
    assert "not pattern-sparse" in stats["declined"][0]["reason"]
    assert all(c["invocations"] == 1 for c in stats["claimed"])
    assert max_scaled_error(out, ref) <= 1e-4


def test_keras_model_in_tflite_runtime(keras_cnn: bytes, tmp_path: Path) -> None:
    if tflite_runtime_python() is None:
        skip_without_dev_tool("no tflite-runtime venv (.venv-tflrt)")
    (tmp_path / "m.tflite").write_bytes(keras_cnn)
    np.save(tmp_path / "x.npy", _x(2))
    result = run_in_tflite_runtime(tmp_path / "m.tflite", tmp_path / "x.npy", tmp_path / "y.npy", {})
    assert len(result["stats"]["claimed"]) == 3
    ref, _ = run(keras_cnn, _x(2), reference=True, resize=True)
    assert max_scaled_error(np.load(tmp_path / "y.npy"), ref) <= 1e-4


@pytest.mark.parametrize("shape", [(3, 24, 24, 3), (1, 40, 33, 3), (2, 9, 11, 3)])
def test_resize_then_allocate(keras_cnn: bytes, shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(2).uniform(0, 1, shape).astype(np.float32)
    ref, _ = run(keras_cnn, x, reference=True, resize=True)
    delegate = patternlite.load_delegate()
    out, interp = run(keras_cnn, x, delegate=delegate, resize=True, threads=2)
    assert len(delegate.stats()["claimed"]) == 3
    assert max_scaled_error(out, ref) <= 1e-4
    # And back to another shape on the same interpreter.
    idx = interp.get_input_details()[0]["index"]
    x2 = _x(1)
    interp.resize_tensor_input(idx, list(x2.shape))
    interp.allocate_tensors()
    interp.set_tensor(idx, x2)
    interp.invoke()
    ref2, _ = run(keras_cnn, x2, reference=True)
    assert max_scaled_error(interp.get_tensor(interp.get_output_details()[0]["index"]), ref2) <= 1e-4


def test_num_threads_option_overrides_interpreter(keras_cnn: bytes) -> None:
    delegate = patternlite.load_delegate(num_threads=2)
    run(keras_cnn, _x(), delegate=delegate, threads=1)
    assert {c["threads"] for c in delegate.stats()["claimed"]} == {2}
    follow = patternlite.load_delegate()
    run(keras_cnn, _x(), delegate=follow, threads=2)
    assert {c["threads"] for c in follow.stats()["claimed"]} == {2}


def test_unknown_option_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown delegate option.*bogus"):
        patternlite.load_delegate(bogus=1)
    # The library itself also rejects it (for tf.lite.experimental.load_delegate users).
    with pytest.raises(ValueError, match="unknown option 'bogus'"):
        Delegate({"bogus": "1"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"min_sparsity": 1.5}, "min_sparsity must be"),
        ({"metadata": "maybe"}, "metadata must be one of"),
        ({"log_level": "loud"}, "log_level must be one of"),
        ({"isa": "sse9"}, "isa must be one of"),
        ({"num_threads": "many"}, "num_threads must be"),
    ],
)
def test_bad_option_values(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        patternlite.load_delegate(**options)


def test_loads_through_tf_experimental_load_delegate(keras_cnn: bytes) -> None:
    """The library follows TFLite's external-delegate plugin convention."""
    tf = pytest.importorskip("tensorflow")
    d = tf.lite.experimental.load_delegate(str(patternlite.library_path()), {"num_threads": "1"})
    interp = tf.lite.Interpreter(model_content=keras_cnn, experimental_delegates=[d])
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], _x())
    interp.invoke()
    ref, _ = run(keras_cnn, _x(), runtime="tf", reference=True)
    assert max_scaled_error(interp.get_tensor(interp.get_output_details()[0]["index"]), ref) <= 1e-4
    assert delegated_op_count(interp) >= 3


def test_graph_with_dynamic_tensors_still_accepts_the_delegate() -> None:
    """A variable batch feeding Flatten makes later tensors dynamic; the app must still load."""
    tf = pytest.importorskip("tensorflow")
    inp = tf.keras.Input((16, 16, 8))
    conv = tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu")
    model = tf.keras.Model(inp, tf.keras.layers.Dense(4)(tf.keras.layers.Flatten()(conv(inp))))
    w, b = conv.get_weights()
    grid = np.array([(MASKS[0] >> t) & 1 for t in range(9)], np.float32).reshape(3, 3, 1, 1)
    conv.set_weights([w * grid, b])
    tfl = bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    x = np.random.default_rng(5).standard_normal((3, 16, 16, 8)).astype(np.float32)
    ref, _ = run(tfl, x, reference=True, resize=True)
    delegate = patternlite.load_delegate()
    out, _ = run(tfl, x, delegate=delegate, resize=True)
    assert len(delegate.stats()["claimed"]) == 1
    assert max_scaled_error(out, ref) <= 1e-4
