"""Chains: claimed convs that feed only each other run as one delegate kernel.

The tensors between them stay inside the kernel, in the planar layout where
the consumer's kernel reads it (runtime/chain_node.h). Only where the floats
are stored changes, so every output must be bit-identical to one kernel per
conv (``chain=False``), on every ISA and thread count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import patternlite
from patternlite.delegate import best_isa, isa_available

from conv_models import pattern_prune_keras
from runtimes import delegated_op_count, make_interpreter, max_scaled_error

tf = pytest.importorskip("tensorflow")

MASKS = [0b000111010, 0b010110010, 0b010011010, 0b010111000, 0b000110011, 0b110110000]
ISAS = [isa for isa in ("scalar", "avx2", "avx512", "neon") if isa_available(isa)]


def _convert(build: Callable[[Any], Any], shape: tuple[int, int, int], seed: int) -> bytes:
    inp = tf.keras.Input(shape)
    model = tf.keras.Model(inp, build(inp))
    pattern_prune_keras(model, tf.keras.layers.Conv2D, np.random.default_rng(seed), MASKS)
    return bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())


def _conv(filters: int, stride: int = 1, act: str | None = "relu") -> Any:
    return tf.keras.layers.Conv2D(filters, 3, strides=stride, padding="same", activation=act)


def _straight(x: Any) -> Any:  # three convs, each feeding only the next: one chain of three
    return _conv(16, act=None)(_conv(16)(_conv(16)(x)))


def _residual(x: Any) -> Any:  # the ResNet block: c1 -> c2 chained, then an ADD, then c3 alone
    return _conv(16)(tf.keras.layers.Add()([_conv(16)(_conv(16)(x)), x]))


def _fan_out(x: Any) -> Any:  # c1's output is read twice: no chain
    a = _conv(16)(x)
    return tf.keras.layers.Add()([a, _conv(16)(a)])


def _stride_two(x: Any) -> Any:  # the consumer has stride 2: chained through an NHWC buffer
    return _conv(24, stride=2)(_conv(16)(x))


MODELS = {
    "straight": (_straight, (16, 16, 8)),
    "residual": (_residual, (16, 16, 16)),
    "fan_out": (_fan_out, (16, 16, 16)),
    "stride_two": (_stride_two, (16, 16, 8)),
    "narrow": (_straight, (7, 7, 8)),  # 7 columns: the narrow layout on AVX-512, wide on AVX2
}


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    return {name: _convert(build, shape, seed) for seed, (name, (build, shape)) in enumerate(MODELS.items())}


def _outputs(model: bytes, x: np.ndarray, **kw: Any) -> tuple[list[np.ndarray], Any]:
    interp = make_interpreter(model, **kw)
    idx = interp.get_input_details()[0]["index"]
    if x.shape[0] != 1:
        interp.resize_tensor_input(idx, list(x.shape))
    interp.allocate_tensors()
    interp.set_tensor(idx, x)
    interp.invoke()
    return [interp.get_tensor(d["index"]).copy() for d in interp.get_output_details()], interp


def _planar_links(stats: dict[str, Any]) -> int:
    claimed = stats["claimed"]
    produced = sum(c["planar_output"] for c in claimed)
    assert produced == sum(c["planar_input"] for c in claimed)  # every link has both ends
    return int(produced)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", list(MODELS))
def test_chained_output_is_bit_identical_to_one_kernel_per_conv(
    models: dict[str, bytes], name: str, isa: str, threads: int
) -> None:
    model = models[name]
    shape = MODELS[name][1]
    x = np.random.default_rng(5).standard_normal((1, *shape)).astype(np.float32) * 10
    ref, _ = _outputs(model, x, reference=True)
    results = {}
    for chain in (True, False):
        delegate = patternlite.load_delegate(isa=isa, chain=chain, autotune=False)
        outs, interp = _outputs(model, x, delegate=delegate, threads=threads)
        results[chain] = (outs, delegate.stats(), delegated_op_count(interp))
    (chained, stats, nodes), (separate, stats_off, nodes_off) = results[True], results[False]
    for a, b, r in zip(chained, separate, ref, strict=True):
        np.testing.assert_array_equal(a, b)
        assert max_scaled_error(a, r) <= 1e-4
    assert stats["options"]["chain"] is True and stats_off["options"]["chain"] is False
    assert len(stats["claimed"]) == len(stats_off["claimed"]) == {"stride_two": 2, "fan_out": 2}.get(name, 3)
    assert _planar_links(stats_off) == 0
    links = _planar_links(stats)
    simd = isa != "scalar"
    lanes = {"avx2": 8, "avx512": 16, "neon": 4}.get(isa, 1)
    expected = {
        "straight": 2 if simd else 0,
        "residual": 1 if simd else 0,
        "fan_out": 0,
        "stride_two": 0,  # a stride-2 consumer fills its own input
        "narrow": 2 if simd and lanes < 16 else 0,  # 7 of 16 lanes: AVX-512 runs it narrow
    }[name]
    assert links == expected
    # Fewer delegate kernels wherever convs were chained, planar or not.
    chained_convs = {"straight": 2, "residual": 1, "fan_out": 0, "stride_two": 1, "narrow": 2}[name]
    assert nodes == nodes_off - chained_convs


def test_an_inner_tensor_that_is_a_model_output_is_still_written(models: dict[str, bytes]) -> None:
    inp = tf.keras.Input((16, 16, 8))
    first = _conv(16)(inp)
    model = tf.keras.Model(inp, [first, _conv(16)(first)])
    pattern_prune_keras(model, tf.keras.layers.Conv2D, np.random.default_rng(9), MASKS)
    tfl = bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    x = np.random.default_rng(6).standard_normal((1, 16, 16, 8)).astype(np.float32)
    ref, _ = _outputs(tfl, x, reference=True)
    delegate = patternlite.load_delegate(chain=True, autotune=False)
    outs, _ = _outputs(tfl, x, delegate=delegate)
    assert len(outs) == 2
    for a, r in zip(outs, ref, strict=True):
        assert max_scaled_error(a, r) <= 1e-4
    assert _planar_links(delegate.stats()) == 0  # the first conv's output had to reach its tensor


def test_chains_follow_a_batch_resize(models: dict[str, bytes]) -> None:
    model = models["straight"]
    x = np.random.default_rng(7).standard_normal((3, 16, 16, 8)).astype(np.float32)
    ref, _ = _outputs(model, x, reference=True)
    delegate = patternlite.load_delegate(chain=True)
    interp = make_interpreter(model, delegate=delegate, threads=2)
    idx = interp.get_input_details()[0]["index"]
    interp.resize_tensor_input(idx, list(x.shape))
    interp.allocate_tensors()
    for _ in range(40):  # through autotuning and after it
        interp.set_tensor(idx, x)
        interp.invoke()
        out = interp.get_tensor(interp.get_output_details()[0]["index"])
        assert max_scaled_error(out, ref[0]) <= 1e-4
    expected = 2 if best_isa() != "scalar" else 0
    assert _planar_links(delegate.stats()) == expected


def test_chain_option_is_validated() -> None:
    with pytest.raises(ValueError, match="chain must be"):
        patternlite.load_delegate(chain=5)
