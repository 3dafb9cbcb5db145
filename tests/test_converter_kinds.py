"""1x1 and 3x3 depthwise pruning: the block structure, a MobileNet-style model end to end, --layers,
masks through distillation and finetuning, export and inspect."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from patternlite.cli import main as patternlite_main  # noqa: E402
from patternlite.converter import ConverterError, PruneResult, export_tflite, inspect, masked_finetune, prune  # noqa: E402
from patternlite.converter.cli import main as cli_main  # noqa: E402
from patternlite.converter.errors import UnsupportedModelError  # noqa: E402
from patternlite.converter.export.io import load_masks, save_masks  # noqa: E402
from patternlite.converter.graph import (  # noqa: E402
    clone_with_weights,
    find_convs,
    find_layers,
    heads,
    layer_kind,
    resolve_kinds,
)
from patternlite.converter.policy import PrunePolicy  # noqa: E402
from patternlite.converter.remask import infer_quads  # noqa: E402
from patternlite.converter.solvers.conv import LayerProblem, solve_layer  # noqa: E402
from patternlite.converter.solvers.depthwise import DepthwiseProblem, solve_depthwise  # noqa: E402
from patternlite.converter.solvers.patterns import all_candidates, masks_matrix  # noqa: E402
from patternlite.converter.solvers.projection import (  # noqa: E402
    kept_count,
    project_depthwise,
    project_pointwise,
    quads_pay,
)
from patternlite.metadata import (  # noqa: E402
    CHANNEL_BLOCK,
    INPUT_QUAD,
    METADATA_NAME,
    PRUNED,
    QUAD_MIN_INPUTS,
    QUAD_MIN_OUTPUTS,
    PatternMetadata,
    decode,
)
from patternlite.tflite_file import TfliteModel  # noqa: E402

SIZE = 16
CLASSES = 5


def mobile_model(seed: int = 0) -> keras.Model:
    """A small MobileNetV2-style net: a stem conv, three inverted-residual blocks, GAP, Dense.

    Channel counts are not multiples of 16 everywhere (48, 24, 40), so partial
    blocks are exercised; the BatchNorm statistics are randomised so folding matters.
    """
    keras.utils.set_random_seed(seed)
    inp = keras.Input((SIZE, SIZE, 3), name="image")
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="stem")(inp)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU(6.0)(x)
    for i, (expand, out, stride) in enumerate([(48, 16, 1), (40, 24, 2), (72, 24, 1)]):
        h = keras.layers.Conv2D(expand, 1, use_bias=False, name=f"b{i}_expand")(x)
        h = keras.layers.BatchNormalization(name=f"b{i}_expand_bn")(h)
        h = keras.layers.ReLU(6.0)(h)
        h = keras.layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"b{i}_dw")(h)
        h = keras.layers.BatchNormalization(name=f"b{i}_dw_bn")(h)
        h = keras.layers.ReLU(6.0)(h)
        h = keras.layers.Conv2D(out, 1, use_bias=False, name=f"b{i}_project")(h)
        h = keras.layers.BatchNormalization(name=f"b{i}_project_bn")(h)
        x = keras.layers.Add(name=f"b{i}_add")([x, h]) if stride == 1 and x.shape[-1] == out else h
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inp, keras.layers.Dense(CLASSES, name="logits")(x), name="mobile")
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = int(layer.gamma.shape[0])
            layer.gamma.assign(rng.uniform(0.5, 1.5, n).astype(np.float32))
            layer.beta.assign(rng.normal(0.0, 0.1, n).astype(np.float32))
            layer.moving_mean.assign(rng.normal(0.0, 0.1, n).astype(np.float32))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, n).astype(np.float32))
    return model


POINTWISE = {f"b{i}_{part}" for i in range(3) for part in ("expand", "project")}
DEPTHWISE = {f"b{i}_dw" for i in range(3)}


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return mobile_model()


@pytest.fixture(scope="module")
def magnitude(model: keras.Model) -> PruneResult:
    return prune(
        model,
        keep=0.5,
        policy=PrunePolicy.from_options(kind_keep={"depthwise": 0.75}, method="magnitude"),
        progress=False,
    )


@pytest.fixture(scope="module")
def admm(model: keras.Model) -> PruneResult:
    # A few synthetic samples and short stages: seconds, not minutes.
    return prune(
        model,
        keep=0.5,
        policy=PrunePolicy.from_options(samples=16, synthetic_steps=5, iterations=8, augment=1, distill_steps=10),
        progress=False,
    )


def _images(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 1.0, (n, SIZE, SIZE, 3)).astype(np.float32)


def assert_block_structure(result: PruneResult) -> None:
    """Every 1x1 block keeps the same inputs, every depthwise block one pattern; keep fractions exact."""
    for name, mask in result.masks.items():
        kind = result.kinds[name]
        kernel = keras.ops.convert_to_numpy(result.model.get_layer(name).kernel)
        assert mask.shape == kernel.shape, name
        assert not np.any(kernel[~mask]), f"{name}: a pruned weight is non-zero"
        keep = result.keep[name]
        if kind == "pointwise":
            m = mask[0, 0]  # (I, O)
            i_ch, o_ch = m.shape
            for start in range(0, o_ch, CHANNEL_BLOCK):
                block = m[:, start : start + CHANNEL_BLOCK]
                assert np.all(block == block[:, :1]), f"{name}: block at {start} does not share its inputs"
                assert block[:, 0].sum() == kept_count(keep, i_ch), name
            np.testing.assert_array_equal(result.assignments[name], np.where(m, 0, PRUNED))
        elif kind == "depthwise3x3":
            c_ch = mask.shape[2]
            assignment = result.assignments[name].reshape(c_ch)
            taps = mask.reshape(9, c_ch).T  # (C, 9)
            alive = assignment != PRUNED
            assert alive.sum() == kept_count(keep, c_ch), name
            assert not taps[~alive].any()
            for c in np.flatnonzero(alive):
                assert np.array_equal(taps[c], masks_matrix([result.library[assignment[c]]])[:, 0] > 0)
            for start in range(0, c_ch, CHANNEL_BLOCK):
                block = assignment[start : start + CHANNEL_BLOCK]
                assert len(set(block[block != PRUNED].tolist())) <= 1, f"{name}: block at {start} mixes patterns"
        else:
            assert kind == "conv3x3"


# --- the graph and the projections -------------------------------------------------------------


def test_graph_finds_every_kind_and_keeps_find_convs_3x3(model: keras.Model) -> None:
    found = find_layers(model)
    assert [c.kind for c in found if c.name == "stem"] == ["conv3x3"]
    assert {c.name for c in found if c.kind == "pointwise"} == POINTWISE
    assert {c.name for c in found if c.kind == "depthwise3x3"} == DEPTHWISE
    assert all(c.bn is not None and c.bn.name == c.name + "_bn" for c in found)
    dw = next(c for c in found if c.name == "b1_dw")
    assert (dw.out_channels, dw.in_channels) == (40, 1)
    assert [c.name for c in find_convs(model)] == ["stem"]
    assert [c.name for c in find_layers(model, "1x1,depthwise")] == [c.name for c in found if c.name != "stem"]
    with pytest.raises(UnsupportedModelError, match="no prunable layers"):
        find_layers(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), "1x1")
    assert heads(model) >= {"logits"} and not heads(model) & (POINTWISE | DEPTHWISE)


def test_layer_kinds_follow_what_the_delegate_runs() -> None:
    def kind(layer: keras.layers.Layer) -> str | None:
        layer.build((None, 8, 8, 32))
        return layer_kind(layer)

    assert kind(keras.layers.Conv2D(8, 1, strides=2)) == "pointwise"
    assert kind(keras.layers.DepthwiseConv2D(3, strides=2)) == "depthwise3x3"
    assert kind(keras.layers.Conv2D(8, 1, strides=3)) is None
    assert kind(keras.layers.Conv2D(8, 3, strides=2)) == "conv3x3"
    assert kind(keras.layers.Conv2D(8, 3, strides=3)) is None  # the delegate runs strides 1 and 2 only
    assert kind(keras.layers.Conv2D(8, 3, strides=(1, 3))) is None
    assert kind(keras.layers.Conv2D(8, 1, groups=2)) is None
    assert kind(keras.layers.Conv2D(8, 1, dilation_rate=2)) is None
    assert kind(keras.layers.DepthwiseConv2D(3, depth_multiplier=2)) is None
    assert kind(keras.layers.DepthwiseConv2D(3, dilation_rate=2)) is None
    assert kind(keras.layers.DepthwiseConv2D(5)) is None
    assert kind(keras.layers.SeparableConv2D(8, 3)) is None
    assert resolve_kinds(None) == ("conv3x3", "pointwise", "depthwise3x3")
    assert resolve_kinds("depthwise, 1x1") == ("pointwise", "depthwise3x3")
    assert resolve_kinds(["pointwise", "3x3"]) == ("conv3x3", "pointwise")
    with pytest.raises(ConverterError, match="unknown layer kind 'conv5x5'"):
        resolve_kinds("3x3,conv5x5")
    with pytest.raises(ConverterError, match="no layer kind selected"):
        resolve_kinds([])


def test_a_stride_3_conv_is_left_dense_as_the_delegate_declines_it() -> None:
    """The converter and the delegate share one op-kind rule: a 3x3 conv of stride 3 is no conv3x3."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", name="stem")(inp)
    x = keras.layers.Conv2D(16, 3, strides=3, padding="same", name="stride3")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", name="stride1")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, keras.layers.Dense(CLASSES)(x))
    assert [c.name for c in find_layers(model, "3x3")] == ["stem", "stride1"]
    result = prune(model, keep=0.5, policy=PrunePolicy.from_options(method="magnitude"), progress=False)
    assert set(result.masks) == {"stride1"}
    kernel = keras.ops.convert_to_numpy(result.model.get_layer("stride3").kernel)
    np.testing.assert_array_equal(kernel, keras.ops.convert_to_numpy(model.get_layer("stride3").kernel))


def test_pointwise_projection_keeps_each_blocks_strongest_inputs() -> None:
    rng = np.random.default_rng(0)
    k = rng.standard_normal((1, 1, 40, 37)).astype(np.float32)  # 37 outputs: blocks of 16, 16, 5
    scale = rng.uniform(0.1, 3.0, 37)
    p = project_pointwise(k, 0.3, weights=scale)
    n = kept_count(0.3, 40)
    for start in range(0, 37, CHANNEL_BLOCK):
        cols = slice(start, start + CHANNEL_BLOCK)
        score = ((k[0, 0, :, cols] * scale[cols]) ** 2).sum(axis=1)
        want = np.zeros(40, bool)
        want[np.argsort(-score, kind="stable")[:n]] = True
        assert np.all(p.mask[0, 0, :, cols] == want[:, None])
    np.testing.assert_array_equal(p.kernel, k * p.mask)
    assert project_pointwise(k, 0.001).mask[0, 0, :, 0].sum() == 1  # never a dead block


def test_pointwise_quads_keep_whole_aligned_fours_of_most_energy() -> None:
    rng = np.random.default_rng(3)
    k = rng.standard_normal((1, 1, 130, 70)).astype(np.float32)  # 130 inputs: the last four is short
    scale = rng.uniform(0.1, 3.0, 70)
    assert quads_pay(130, 70)
    p = project_pointwise(k, 0.3, weights=scale, quads=True)
    n_quads = round(kept_count(0.3, 130) / INPUT_QUAD)
    for start in range(0, 70, CHANNEL_BLOCK):
        cols = slice(start, start + CHANNEL_BLOCK)
        score = ((k[0, 0, :, cols] * scale[cols]) ** 2).sum(axis=1)
        quad_score = np.add.reduceat(score, np.arange(0, 130, INPUT_QUAD))
        want = np.zeros(130, bool)
        for q in np.argsort(-quad_score, kind="stable")[:n_quads]:
            want[q * INPUT_QUAD : (q + 1) * INPUT_QUAD] = True
        assert np.all(p.mask[0, 0, :, cols] == want[:, None])
    np.testing.assert_array_equal(p.kernel, k * p.mask)
    assert infer_quads(p.mask) and not infer_quads(project_pointwise(k, 0.3, weights=scale).mask)
    # At least one four per block, however small the keep.
    assert project_pointwise(k, 0.001, quads=True).mask[0, 0, :, 0].sum() == INPUT_QUAD


def test_pointwise_quads_leave_layers_too_small_to_gain_alone() -> None:
    """Below QUAD_MIN_INPUTS inputs or QUAD_MIN_OUTPUTS outputs the int8 kernel gains nothing from
    fours (spec/contract.toml), so the inputs stay chosen one by one."""
    rng = np.random.default_rng(4)
    for shape in [(1, 1, QUAD_MIN_INPUTS - 4, 70), (1, 1, 130, QUAD_MIN_OUTPUTS - 1)]:
        k = rng.standard_normal(shape).astype(np.float32)
        assert not quads_pay(shape[2], shape[3])
        np.testing.assert_array_equal(project_pointwise(k, 0.3, quads=True).mask, project_pointwise(k, 0.3).mask)


def test_prune_with_pointwise_quads_groups_the_layers_where_it_pays() -> None:
    keras.utils.set_random_seed(5)
    inp = keras.Input((4, 4, 8), name="x")
    h = keras.layers.Conv2D(132, 1, use_bias=False, name="widen")(inp)  # 8 inputs: too small to group
    h = keras.layers.Conv2D(64, 1, use_bias=False, name="squeeze")(h)  # 132 inputs, 64 outputs: grouped
    out = keras.layers.Dense(3)(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inp, out)
    policy = PrunePolicy.from_options(method="magnitude", pointwise_quads=True, prune_first=True)
    res = prune(model, keep=0.28, policy=policy, progress=False)
    assert res.kinds == {"widen": "pointwise", "squeeze": "pointwise"}
    assert infer_quads(res.masks["squeeze"])
    plain = prune(model, keep=0.28, policy=policy.replace(pointwise_quads=False), progress=False)
    assert not infer_quads(plain.masks["squeeze"])
    np.testing.assert_array_equal(res.masks["widen"], plain.masks["widen"])


def test_depthwise_projection_shares_one_pattern_per_block() -> None:
    rng = np.random.default_rng(1)
    library = all_candidates()[:6]
    k = rng.standard_normal((3, 3, 40, 1)).astype(np.float32)
    p = project_depthwise(k, library, 1.0)
    a = p.assignment.reshape(40)
    energy = (k.reshape(9, 40).T ** 2) @ masks_matrix(library)  # (C, K)
    for start in range(0, 40, CHANNEL_BLOCK):
        block = a[start : start + CHANNEL_BLOCK]
        assert len(set(block.tolist())) == 1
        assert block[0] == np.argmax(energy[start : start + CHANNEL_BLOCK].sum(axis=0))
    assert p.mask.sum() == 4 * 40
    pruned = project_depthwise(k, library, 0.5)
    alive = pruned.assignment.reshape(40) != PRUNED
    assert alive.sum() == 20 and np.array_equal(pruned.assignment.reshape(40)[alive], a[alive])
    kept = energy[np.arange(40), a]
    assert kept[alive].min() >= kept[~alive].max()  # the weakest channels go


def test_layer_solvers_recover_a_planted_block_structure() -> None:
    """When the original weights already have the structure, ADMM + refit reproduce them exactly."""
    rng = np.random.default_rng(2)
    # 1x1: the dense weights are a block-sparse truth; inputs are random pixel rows.
    i_ch, o_ch, rows = 24, 20, 4000
    truth = project_pointwise(rng.standard_normal((1, 1, i_ch, o_ch)).astype(np.float32), 0.5)
    x = np.hstack([rng.standard_normal((rows, i_ch)), np.ones((rows, 1))])
    gram = x.T @ x
    w0 = np.vstack([truth.kernel.reshape(i_ch, o_ch), rng.standard_normal((1, o_ch))]).astype(np.float64)
    problem = LayerProblem(gpp=gram, gpq=gram, gqq=gram, w0=w0, kernel_shape=(1, 1, i_ch, o_ch))
    sol = solve_layer(problem, [0x1B0], 0.5, iterations=5, projector=lambda k: project_pointwise(k, 0.5))
    np.testing.assert_array_equal(sol.projection.mask, truth.mask)
    assert sol.error < 1e-4
    # Depthwise: 20 channels whose kernels already follow one pattern per block.
    library = all_candidates()[:4]
    c_ch = 20
    planted = project_depthwise(rng.standard_normal((3, 3, c_ch, 1)).astype(np.float32), library, 1.0)
    patches = np.concatenate([rng.standard_normal((c_ch, rows, 9)), np.ones((c_ch, rows, 1))], axis=2)
    grams = np.einsum("crk,crl->ckl", patches, patches)
    w0_dw = np.concatenate([planted.kernel.reshape(9, c_ch).T, rng.standard_normal((c_ch, 1))], axis=1)
    dw = DepthwiseProblem(gpp=grams, gpq=grams, gqq=grams, w0=w0_dw, kernel_shape=(3, 3, c_ch, 1))
    dsol = solve_depthwise(dw, library, 1.0, iterations=5)
    np.testing.assert_array_equal(dsol.projection.assignment, planted.assignment)
    assert dsol.error < 1e-4


# --- prune -------------------------------------------------------------------------------------


def test_magnitude_prunes_1x1_and_depthwise_in_blocks(model: keras.Model, magnitude: PruneResult) -> None:
    assert set(magnitude.masks) == POINTWISE | DEPTHWISE  # the stem stays dense
    assert all(magnitude.kinds[n] == "pointwise" for n in POINTWISE)
    assert all(magnitude.keep[n] == 0.5 for n in POINTWISE) and all(magnitude.keep[n] == 0.75 for n in DEPTHWISE)
    assert_block_structure(magnitude)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(magnitude.model.get_layer("stem").kernel),
        keras.ops.convert_to_numpy(model.get_layer("stem").kernel),
    )
    table = magnitude.summary()
    assert "depthwise" in table and "1x1" in table and "total (pruned layers)" in table


def test_depthwise_keeps_every_channel_unless_asked(model: keras.Model) -> None:
    r = prune(model, keep=0.3, policy=PrunePolicy.from_options(method="magnitude"), progress=False)
    assert all(r.keep[n] == 1.0 for n in DEPTHWISE) and all(r.keep[n] == 0.3 for n in POINTWISE)
    assert all(np.all(r.assignments[n] != PRUNED) for n in DEPTHWISE)
    assert_block_structure(r)
    # kind_keep overrides a kind, a per-layer dict overrides both.
    r = prune(
        model,
        keep={"b0_expand": 0.25},
        policy=PrunePolicy.from_options(kind_keep={"pointwise": 0.5, "depthwise3x3": 0.5}, method="magnitude"),
        progress=False,
    )
    assert r.keep["b0_expand"] == 0.25 and r.keep["b1_project"] == 0.5 and r.keep["b2_dw"] == 0.5
    assert_block_structure(r)


def test_admm_prunes_every_kind_and_distillation_holds_the_blocks(admm: PruneResult) -> None:
    assert set(admm.masks) == POINTWISE | DEPTHWISE
    assert admm.distilled is not None and admm.distilled.steps == 10
    assert_block_structure(admm)
    for row in admm.report:
        assert row.error is not None and row.error_projection is not None
        assert row.error <= row.error_projection, row  # the refit does at least as well as plain projection


def test_layers_selects_the_kinds(model: keras.Model) -> None:
    only_1x1 = prune(model, keep=0.5, policy=PrunePolicy.from_options(layers="1x1", method="magnitude"), progress=False)
    assert set(only_1x1.masks) == POINTWISE
    for name in DEPTHWISE | {"stem"}:
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(only_1x1.model.get_layer(name).kernel),
            keras.ops.convert_to_numpy(model.get_layer(name).kernel),
        )
    only_dw = prune(
        model, keep=0.5, policy=PrunePolicy.from_options(layers=["depthwise"], method="magnitude"), progress=False
    )
    assert set(only_dw.masks) == DEPTHWISE and all(only_dw.keep[n] == 1.0 for n in DEPTHWISE)
    # A 1x1 conv at keep 1.0 has nothing to prune: it stays a plain conv.
    assert set(prune(model, policy=PrunePolicy.from_options(method="magnitude"), progress=False).masks) == DEPTHWISE
    with pytest.raises(ConverterError, match="unknown layer kind"):
        prune(model, policy=PrunePolicy.from_options(layers="5x5", method="magnitude"), progress=False)
    with pytest.raises(ConverterError, match="no layer to prune.*--prune-first"):
        prune(model, policy=PrunePolicy.from_options(layers="3x3", method="magnitude"), progress=False)
    with pytest.raises(ConverterError, match="1x1 at keep 1.0"):
        prune(model, policy=PrunePolicy.from_options(layers="1x1", method="magnitude"), progress=False)
    with pytest.raises(ConverterError, match="not a layer kind"):
        prune(model, policy=PrunePolicy.from_options(kind_keep={"5x5": 0.5}, method="magnitude"), progress=False)
    with pytest.raises(ConverterError, match="must be in"):
        prune(model, policy=PrunePolicy.from_options(kind_keep={"depthwise": 0.0}, method="magnitude"), progress=False)


def test_heads_and_frozen_layers_stay_dense() -> None:
    keras.utils.set_random_seed(3)
    inp = keras.Input((8, 8, 16))
    h = keras.layers.Conv2D(16, 3, padding="same", name="stem")(inp)
    h = keras.layers.Conv2D(32, 1, name="frozen_1x1", trainable=False)(h)
    h = keras.layers.DepthwiseConv2D(3, padding="same", name="dw")(h)
    h = keras.layers.Conv2D(10, 1, name="classifier")(h)  # no conv or dense after it: a head
    net = keras.Model(inp, keras.layers.GlobalAveragePooling2D()(h))
    r = prune(net, keep=0.5, policy=PrunePolicy.from_options(method="magnitude"), progress=False)
    assert set(r.masks) == {"dw"}
    r = prune(
        net,
        keep=0.5,
        policy=PrunePolicy.from_options(method="magnitude", prune_head=True, prune_first=True),
        progress=False,
    )
    assert set(r.masks) == {"stem", "dw", "classifier"}
    with pytest.raises(ConverterError, match="classifier head"):
        prune(net, keep=0.5, policy=PrunePolicy.from_options(layers="1x1", method="magnitude"), progress=False)


# --- export, inspect, finetune, CLI --------------------------------------------------------------


def _metadata(data: bytes) -> PatternMetadata:
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
        f.write(data)
        f.flush()
        blob = TfliteModel.from_file(f.name).metadata(METADATA_NAME)
    assert blob is not None
    return decode(blob)


def _run_tflite(data: bytes, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_content=data)
    inp = interp.get_input_details()[0]
    interp.resize_tensor_input(inp["index"], x.shape)
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    return np.asarray(interp.get_tensor(interp.get_output_details()[0]["index"]))


@pytest.mark.parametrize("which", ["magnitude", "admm"])
def test_export_writes_records_of_every_kind_and_runs_like_keras(
    which: str, magnitude: PruneResult, admm: PruneResult, tmp_path: Path
) -> None:
    result = magnitude if which == "magnitude" else admm
    path = export_tflite(result, tmp_path / "m.tflite")
    data = path.read_bytes()
    meta = _metadata(data)
    assert meta.version == (1, 1) and meta.patterns == result.library
    kinds = sorted(layer.kind_name for layer in meta.layers)
    assert kinds == sorted(result.kinds[n] for n in result.masks)
    by_kind = {"pointwise": [], "depthwise3x3": []}  # type: dict[str, list]
    for layer in meta.layers:
        by_kind[layer.kind_name].append(layer)
    shapes = {(r.out_channels, r.in_channels) for r in by_kind["pointwise"]}
    assert shapes == {(48, 16), (16, 48), (40, 16), (24, 40), (72, 24), (24, 72)}
    assert {(r.out_channels, r.in_channels) for r in by_kind["depthwise3x3"]} == {(48, 1), (40, 1), (72, 1)}
    for name, mask in result.masks.items():
        record = next(r for r in meta.layers if name in r.tensor_name)
        if result.kinds[name] == "pointwise":
            np.testing.assert_array_equal(record.kernel_pattern, np.where(mask[0, 0].T, 0, PRUNED))
        else:
            np.testing.assert_array_equal(record.kernel_pattern, result.assignments[name])
    x = _images(8)
    ref = result.model.predict(x, verbose=0)
    out = _run_tflite(data, x)
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-4 * float(np.abs(ref).max()))
    # inspect (numpy only) sees the same records and counts MACs per kind.
    summary = inspect(path)
    assert summary["metadata"]["kinds"] == {"conv3x3": 0, "pointwise": 6, "depthwise3x3": 3}
    rows = {row["kind"]: [] for row in summary["convs"]}  # type: dict[str, list]
    for row in summary["convs"]:
        rows[row["kind"]].append(row)
    assert len(rows["pointwise"]) == 6 and len(rows["depthwise3x3"]) == 3 and len(rows["conv3x3"]) == 1
    for row in rows["pointwise"] + rows["depthwise3x3"]:
        pixels = row["output"][1] * row["output"][2]
        assert row["pattern_source"] == "metadata"
        taps = 1 if row["kind"] == "pointwise" else 4
        assert row["kept_macs"] == pixels * taps * row["kept_kernels"]
        assert row["dense_macs"] == pixels * int(np.prod(row["shape"]))
    assert rows["conv3x3"][0]["kept_macs"] == rows["conv3x3"][0]["dense_macs"]


def test_masks_round_trip_and_export_from_them(magnitude: PruneResult, tmp_path: Path) -> None:
    path = magnitude.save_masks(tmp_path / "m.masks.npz")
    masks, library, keep = load_masks(path)
    assert set(masks) == set(magnitude.masks) and library == magnitude.library and keep == magnitude.keep
    for name, mask in magnitude.masks.items():
        np.testing.assert_array_equal(masks[name], mask)
    from_masks = export_tflite(magnitude.model, tmp_path / "a.tflite", masks=masks, library=library, keep=keep)
    direct = export_tflite(magnitude, tmp_path / "b.tflite")
    a, b = _metadata(from_masks.read_bytes()), _metadata(direct.read_bytes())
    assert [(r.tensor_name, r.kind, r.kernel_pattern.tobytes()) for r in a.layers] == [
        (r.tensor_name, r.kind, r.kernel_pattern.tobytes()) for r in b.layers
    ]
    save_masks(tmp_path / "again.npz", masks, library, keep)
    assert load_masks(tmp_path / "again.npz")[0].keys() == masks.keys()


def test_finetune_holds_the_masks_of_every_kind(model: keras.Model, magnitude: PruneResult) -> None:
    student = clone_with_weights(magnitude.model)
    x = _images(64, seed=5)
    report = masked_finetune(
        student, x, None, masks=magnitude.masks, teacher=model, epochs=2, batch_size=16, progress=False
    )
    assert report.steps > 0
    moved = False
    for name, mask in magnitude.masks.items():
        k = keras.ops.convert_to_numpy(student.get_layer(name).kernel)
        assert not np.any(k[~mask]), name
        assert np.count_nonzero(k[mask]) == mask.sum(), name
        moved |= not np.array_equal(k, keras.ops.convert_to_numpy(magnitude.model.get_layer(name).kernel))
    assert moved  # the kept weights did train


def test_cli_prunes_only_the_selected_kinds(model: keras.Model, tmp_path: Path) -> None:
    src = tmp_path / "mobile.keras"
    model.save(src)
    out = tmp_path / "p.tflite"
    argv = ["prune", str(src), "-o", str(out), "--method", "magnitude", "--no-progress"]
    assert cli_main([*argv, "--layers", "1x1", "--keep-1x1", "0.5"]) == 0
    masks, _, keep = load_masks(tmp_path / "p.masks.npz")
    assert set(masks) == POINTWISE and set(keep.values()) == {0.5}
    meta = _metadata(out.read_bytes())
    assert {r.kind_name for r in meta.layers} == {"pointwise"} and len(meta.layers) == 6
    assert cli_main([*argv, "--keep", "0.5", "--keep-depthwise", "0.5", "--layers", "depthwise,1x1"]) == 0
    masks, _, keep = load_masks(tmp_path / "p.masks.npz")
    assert set(masks) == POINTWISE | DEPTHWISE and set(keep.values()) == {0.5}
    assert patternlite_main(["inspect", str(out)]) == 0
