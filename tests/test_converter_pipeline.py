"""End to end on a digits CNN trained inside the tests: prune, export, run, finetune, CLI."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402
from fake_clock import TickingClock  # noqa: E402
from tensorflow.lite.python import schema_py_generated as schema  # noqa: E402

from patternlite.converter import (  # noqa: E402
    ConverterError,
    OutputPathError,
    PruneResult,
    defaults,
    export_tflite,
    inspect,
    masked_finetune,
    prune,
)
from patternlite.converter.cli import main as cli_main  # noqa: E402
from patternlite.converter.export.io import load_masks  # noqa: E402
from patternlite.converter.graph import clone_with_weights, find_convs, with_logits  # noqa: E402
from patternlite.converter.models import accuracy, digits_data, train_digits_cnn  # noqa: E402
from patternlite.converter.policy import PrunePolicy  # noqa: E402
from patternlite.converter.runtime import interpreter, predict, try_delegate  # noqa: E402
from patternlite.converter.synthesis.distill import augment, distill  # noqa: E402
from patternlite.converter.synthesis.pool_growth import PoolGrower, PoolGrowth  # noqa: E402
from patternlite.converter.synthesis.synthetic import synthetic_inputs  # noqa: E402
from patternlite.metadata import METADATA_NAME, PRUNED, decode, kernel_patterns_from_weights  # noqa: E402


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return digits_data()


@pytest.fixture(scope="module")
def cnn(tmp_path_factory: pytest.TempPathFactory) -> tuple[keras.Model, Path]:
    model = train_digits_cnn(epochs=12, width=16)
    path = tmp_path_factory.mktemp("digits") / "digits.keras"
    model.save(path)
    return model, path


@pytest.fixture(scope="module")
def pruned(cnn: tuple[keras.Model, Path]) -> PruneResult:
    # A short distillation, so every test below also checks what distillation leaves behind.
    return prune(
        cnn[0],
        keep=0.5,
        policy=PrunePolicy.from_options(patterns=6, samples=128, iterations=15, distill_steps=300),
        progress=False,
    )


def _metadata(path: Path):  # type: ignore[no-untyped-def]
    buf = path.read_bytes()
    m = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(buf, 0))
    for entry in m.metadata or []:
        name = entry.name.decode() if isinstance(entry.name, bytes) else entry.name
        if name == METADATA_NAME:
            return decode(np.asarray(m.buffers[entry.buffer].data, np.uint8).tobytes())
    return None


def test_trained_model_is_good(cnn: tuple[keras.Model, Path], digits: tuple) -> None:
    assert accuracy(cnn[0], digits[2], digits[3]) > 0.9


def test_prune_respects_masks_keep_and_library(cnn: tuple[keras.Model, Path], pruned: PruneResult) -> None:
    model = cnn[0]
    assert set(pruned.masks) == {"conv1", "conv2", "conv3"}  # the first conv stays dense by default
    assert len(pruned.library) == 6
    for name, mask in pruned.masks.items():
        k = np.asarray(pruned.model.get_layer(name).kernel)
        assert np.all(k[~mask] == 0)
        kp = kernel_patterns_from_weights(np.transpose(k, (3, 0, 1, 2)), pruned.library)
        n = kp.size
        assert np.count_nonzero(kp != PRUNED) == round(0.5 * n)
        np.testing.assert_array_equal(kp.T, pruned.assignments[name])
    # The input model is untouched.
    assert (
        np.count_nonzero(np.asarray(model.get_layer("conv1").kernel))
        == np.asarray(model.get_layer("conv1").kernel).size
    )
    assert "conv1" in pruned.summary()


def test_admm_beats_magnitude(cnn: tuple[keras.Model, Path], pruned: PruneResult, digits: tuple) -> None:
    x, y = digits[2], digits[3]
    mag = prune(
        cnn[0], keep=0.5, policy=PrunePolicy.from_options(patterns=pruned.library, method="magnitude"), progress=False
    )
    acc_admm, acc_mag = accuracy(pruned.model, x, y), accuracy(mag.model, x, y)
    # Patterns + half the kernels removed from a 16-wide net is brutal: magnitude pruning
    # collapses to chance, the data-free ADMM keeps most of the accuracy.
    assert acc_admm > acc_mag + 0.2
    assert acc_admm > 0.4
    for row in pruned.report:
        assert row.error is not None and row.error_projection is not None
        assert row.error < row.error_projection


def test_distillation_lowers_its_loss_and_keeps_the_masks(cnn: tuple[keras.Model, Path], digits: tuple) -> None:
    base = prune(
        cnn[0],
        keep=0.5,
        policy=PrunePolicy.from_options(patterns=6, samples=128, iterations=15, distill_steps=0),
        progress=False,
    )
    assert base.distilled is None
    student = clone_with_weights(base.model)
    x = synthetic_inputs(cnn[0], "bn", 128, progress=False)
    report = distill(student, cnn[0], x, base.masks, steps=300, progress=False)
    assert report.loss_end < 0.95 * report.loss_start
    for name, mask in base.masks.items():
        assert np.all(np.asarray(student.get_layer(name).kernel)[~mask] == 0)
    # The student now agrees with the teacher more often on real digits it never saw.
    xt = digits[2]
    teacher = np.argmax(cnn[0].predict(xt, verbose=0), axis=1)
    before = np.mean(np.argmax(base.model.predict(xt, verbose=0), axis=1) == teacher)
    after = np.mean(np.argmax(student.predict(xt, verbose=0), axis=1) == teacher)
    assert after > before


def test_distillation_only_pruned_leaves_every_other_layer_bit_exact(cnn: tuple[keras.Model, Path]) -> None:
    base = prune(
        cnn[0],
        keep=0.5,
        policy=PrunePolicy.from_options(patterns=6, samples=32, iterations=3, distill_steps=0),
        progress=False,
    )
    student = clone_with_weights(base.model)
    before = {layer.name: [np.array(w) for w in layer.get_weights()] for layer in student.layers}
    x = synthetic_inputs(cnn[0], "noise", 32)
    distill(student, cnn[0], x, base.masks, steps=30, only_pruned=True, progress=False)
    trained = set(base.masks) | {c.bn.name for c in find_convs(student) if c.name in base.masks and c.bn}
    for layer in student.layers:
        pairs = zip(before[layer.name], layer.get_weights(), strict=True)
        changed = any(not np.array_equal(a, b) for a, b in pairs)
        assert changed == (layer.name in trained), layer.name


def test_demo_model_loses_at_most_two_points_with_patterns_only(digits: tuple) -> None:
    model = train_digits_cnn()  # the demo's model (width 32), trained here rather than read from the cache
    dense = accuracy(model, digits[2], digits[3])
    result = prune(
        model,
        keep=1.0,
        policy=PrunePolicy.from_options(samples=128, synthetic_steps=100, distill_steps=0),
        progress=False,
    )
    assert dense - accuracy(result.model, digits[2], digits[3]) <= 0.02


def test_sensitivity_allocation_keeps_the_budget_and_varies_per_layer(cnn: tuple[keras.Model, Path]) -> None:
    r = prune(
        cnn[0],
        keep=0.5,
        policy=PrunePolicy.from_options(
            patterns=6, samples=64, iterations=5, distill_steps=0, allocation="sensitivity"
        ),
        progress=False,
    )
    assert r.allocation is not None
    kept = sum(row.kept_kernels for row in r.report)
    total = sum(row.total_kernels for row in r.report)
    assert kept <= round(0.5 * total)
    # Each layer holds exactly the fraction it was given, and the damage curves are measured, not flat.
    for row in r.report:
        assert row.kept_kernels == max(1, round(r.keep[row.layer] * row.total_kernels))
        curve = r.allocation.damage[row.layer]
        assert curve[0] > curve[-1] >= 0.0
    # Uniform keep is on the grid, so the chosen split is never predicted worse than it.
    grid = r.allocation.grid
    chosen = sum(r.allocation.damage[n][grid.index(k)] for n, k in r.keep.items())
    assert chosen <= sum(r.allocation.damage[n][grid.index(0.5)] for n in r.keep) + 1e-12
    assert 0.0 < r.macs_kept() < 1.0
    assert "sensitivity" in r.summary()
    with pytest.raises(ConverterError):
        prune(
            cnn[0],
            keep=0.5,
            policy=PrunePolicy.from_options(method="magnitude", allocation="sensitivity"),
            progress=False,
        )
    with pytest.raises(ConverterError):
        prune(cnn[0], keep=0.5, policy=PrunePolicy.from_options(allocation="greedy"), progress=False)


def test_noise_synthetic_and_prune_first(cnn: tuple[keras.Model, Path]) -> None:
    r = prune(
        cnn[0],
        keep=0.8,
        policy=PrunePolicy.from_options(synthetic="noise", samples=32, iterations=5, prune_first=True, distill_steps=0),
        progress=False,
    )
    assert "conv0" in r.masks and r.synthetic == "noise"


def test_bad_arguments_are_refused(cnn: tuple[keras.Model, Path], tmp_path: Path) -> None:
    with pytest.raises(ConverterError):
        prune(cnn[0], keep=0.0, policy=PrunePolicy.from_options(method="magnitude"), progress=False)
    with pytest.raises(ConverterError):
        prune(cnn[0], keep={"nope": 0.5}, policy=PrunePolicy.from_options(method="magnitude"), progress=False)
    with pytest.raises(ConverterError):
        prune(cnn[0], policy=PrunePolicy.from_options(method="fancy"), progress=False)
    with pytest.raises(ConverterError):
        prune(cnn[0], policy=PrunePolicy.from_options(distill_adversarial=-0.1), progress=False)
    # The CLI refuses the value as a usage error (exit 2) before anything loads, and writes nothing.
    args = ["-o", str(tmp_path / "out.tflite"), "--distill-adversarial", "-1", "--no-progress"]
    with pytest.raises(SystemExit) as exc:
        cli_main(["prune", str(cnn[1]), *args])
    assert exc.value.code == 2
    assert not list(tmp_path.iterdir())


def _budgeted(clock: TickingClock, minutes: float, **options: object) -> PrunePolicy:
    """A policy whose budget is measured on ``clock`` (so the decisions do not depend on machine load)."""
    policy = PrunePolicy.from_options(budget=minutes, **options)
    return dataclasses.replace(policy, budget=dataclasses.replace(policy.budget, clock=clock))


def test_prune_budget_is_honoured_by_synthesis_and_distillation(cnn: tuple[keras.Model, Path]) -> None:
    budget = 0.25  # minutes
    # Each clock reading costs 0.25 s: a synthesis batch, a layer, a distillation step all take time.
    clock = TickingClock(0.25)
    result = prune(
        cnn[0],
        keep=0.5,
        policy=_budgeted(clock, budget, patterns=6, samples=4096, synthetic_steps=20, iterations=5),
        progress=False,
    )
    # Synthesis stopped early (4096 images do not fit in its share), distillation filled the rest.
    assert 64 <= result.synthetic_images < 4096
    assert result.synthetic_images % 64 == 0  # whole batches
    assert result.distilled is not None and 0 < result.distilled.steps < 2000
    # Synthesis kept to its share: it starts no batch it expects to overrun, so it ends within one batch of it.
    share = defaults.SYNTHESIS_SHARE * 60 * budget
    batches = result.synthetic_images // 64
    assert (batches - 1) * clock.tick <= share
    # Distillation ran to the deadline and stopped at it: within one step (two readings) and the closing readings.
    # prune times itself with the policy's clock only, so result.seconds is a whole number of the fake
    # clock's ticks (wall time would not be), and the budget is checked in clock reads.
    readings = round(result.seconds / clock.tick)
    assert result.seconds == pytest.approx(readings * clock.tick)
    assert 0 < readings <= clock.reads
    budget_readings = round(60 * budget / clock.tick)
    assert readings <= budget_readings + 4, readings
    assert readings >= 0.7 * budget_readings, readings
    distill_readings = round(result.distilled.seconds / clock.tick)
    assert result.distilled.seconds == pytest.approx(distill_readings * clock.tick)
    assert distill_readings >= 0.5 * budget_readings, distill_readings
    with pytest.raises(ConverterError, match="preset"):
        prune(cnn[0], policy=PrunePolicy.from_options(preset="slow"), progress=False)
    with pytest.raises(ConverterError, match="budget"):
        prune(cnn[0], policy=PrunePolicy.from_options(budget=-1), progress=False)


def test_distillation_without_the_adversarial_nudge(cnn: tuple[keras.Model, Path]) -> None:
    r = prune(
        cnn[0],
        keep=0.5,
        policy=PrunePolicy.from_options(samples=32, iterations=3, distill_steps=20, distill_adversarial=0.0),
        progress=False,
    )
    assert r.distilled is not None and r.distilled.steps == 20
    for name, mask in r.masks.items():
        assert np.all(np.asarray(r.model.get_layer(name).kernel)[~mask] == 0)


def test_export_runs_on_stock_tflite_with_metadata(pruned: PruneResult, digits: tuple, tmp_path: Path) -> None:
    path = export_tflite(pruned, tmp_path / "p.tflite")
    meta = _metadata(path)
    assert meta is not None and meta.patterns == pruned.library
    assert len(meta.layers) == 3
    assert {layer.kept_kernels for layer in meta.layers} == {
        int(np.count_nonzero(a != PRUNED)) for a in pruned.assignments.values()
    }
    x = digits[2][:64]
    out = predict(interpreter(path), x, batch=16)
    np.testing.assert_allclose(out, pruned.model.predict(x, verbose=0), atol=1e-4, rtol=1e-4)
    summary = inspect(path)
    assert isinstance(summary, dict)
    # No temp files left beside the output.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.tflite"]


def test_delegate_claims_every_pruned_conv(pruned: PruneResult, digits: tuple, tmp_path: Path) -> None:
    delegate, why = try_delegate()
    if delegate is None:
        pytest.skip(f"delegate not available: {why}")
    path = export_tflite(pruned, tmp_path / "p.tflite")
    x = digits[2][:32]
    ref = predict(interpreter(path), x, batch=8)
    out = predict(interpreter(path, delegate), x, batch=8)
    stats = delegate.stats()
    meta = _metadata(path)
    assert meta is not None
    assert {c["filter"] for c in stats["claimed"]} == {layer.tensor_name for layer in meta.layers}
    np.testing.assert_allclose(out, ref, atol=1e-4, rtol=1e-4)


def test_export_infers_patterns_from_a_bare_model(pruned: PruneResult, tmp_path: Path) -> None:
    path = export_tflite(pruned.model, tmp_path / "bare.tflite")
    meta = _metadata(path)
    assert meta is not None and len(meta.layers) == 3
    plain = export_tflite(pruned.model, tmp_path / "plain.tflite", metadata=False)
    assert _metadata(plain) is None


def test_finetune_keeps_pruned_weights_zero(pruned: PruneResult, digits: tuple) -> None:
    model = keras.models.clone_model(pruned.model)
    model.set_weights(pruned.model.get_weights())
    before = accuracy(model, digits[2], digits[3])
    masked_finetune(model, digits[0], digits[1], masks=pruned.masks, epochs=2, augment=False, progress=False)
    for name, mask in pruned.masks.items():
        k = np.asarray(model.get_layer(name).kernel)
        assert np.all(k[~mask] == 0)
        assert np.count_nonzero(k[mask]) > 0.9 * mask.sum()
    assert accuracy(model, digits[2], digits[3]) >= before - 0.02


def test_cli_prune_export_finetune(cnn: tuple[keras.Model, Path], digits: tuple, tmp_path: Path) -> None:
    src = cnn[1]
    out = tmp_path / "pruned.keras"
    args = ["--keep", "0.5", "--method", "magnitude", "--no-progress"]
    assert cli_main(["prune", str(src), "-o", str(out), *args]) == 0
    masks, library, keep = load_masks(tmp_path / "pruned.masks.npz")
    assert set(masks) == {"conv1", "conv2", "conv3"} and keep["conv2"] == 0.5
    assert cli_main(["export", str(out), "-o", str(tmp_path / "pruned.tflite")]) == 0
    meta = _metadata(tmp_path / "pruned.tflite")
    assert meta is not None and meta.patterns == library
    data = tmp_path / "client.npz"
    np.savez(data, images=digits[0][:256], labels=digits[1][:256])
    tuned = tmp_path / "tuned.keras"
    rc = cli_main(["finetune", str(out), "--data", str(data), "-o", str(tuned), "--epochs", "1", "--no-progress"])
    assert rc == 0
    k = np.asarray(keras.models.load_model(tuned, compile=False).get_layer("conv2").kernel)
    assert np.all(k[~masks["conv2"]] == 0)


def test_cli_prune_to_tflite(cnn: tuple[keras.Model, Path], tmp_path: Path) -> None:
    """`patternlite prune MODEL -o OUT.tflite`: the .tflite, plus the Keras model and masks beside it."""
    out = tmp_path / "model.tflite"
    rc = cli_main(["prune", str(cnn[1]), "-o", str(out), "--keep", "0.5", "--method", "magnitude", "--no-progress"])
    assert rc == 0
    meta = _metadata(out)
    assert meta is not None and len(meta.layers) == 3
    assert (tmp_path / "model.keras").is_file() and (tmp_path / "model.masks.npz").is_file()


def test_cli_refuses_to_overwrite_the_input(cnn: tuple[keras.Model, Path]) -> None:
    src = cnn[1]
    before = src.read_bytes()
    with pytest.raises(OutputPathError):
        export_tflite(cnn[0], src, source=src)
    rc = cli_main(["prune", str(src), "-o", str(src), "--method", "magnitude", "--no-progress"])
    assert rc == 1
    assert src.read_bytes() == before


def test_stem_rule_and_sequential_models(tmp_path: Path) -> None:
    """A 3x3 conv after a 7x7 stem is pruned; a Sequential model prunes (ADMM) and exports."""
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(8, 7, padding="same", name="stem")(inp)
    x = keras.layers.Conv2D(8, 3, padding="same", name="a")(x)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="valid", name="b")(x)
    functional = keras.Model(inp, x)
    r = prune(functional, keep=0.5, policy=PrunePolicy.from_options(method="magnitude"), progress=False)
    assert set(r.masks) == {"a", "b"}

    seq = keras.Sequential(
        [
            keras.Input((12, 12, 2)),
            keras.layers.Conv2D(8, 3, padding="same", name="c0"),
            keras.layers.BatchNormalization(name="n0"),
            keras.layers.ReLU(),
            keras.layers.Conv2D(8, 3, padding="same", name="c1"),
            keras.layers.BatchNormalization(name="n1"),
            keras.layers.ReLU(),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )
    r = prune(
        seq,
        keep=0.75,
        policy=PrunePolicy.from_options(synthetic="noise", samples=16, iterations=5, patterns=4, distill_steps=0),
        progress=False,
    )
    assert set(r.masks) == {"c1"}
    path = export_tflite(r, tmp_path / "seq.tflite")
    meta = _metadata(path)
    assert meta is not None and len(meta.layers) == 1 and meta.layers[0].kept_kernels == 48


def test_augment_is_seeded_and_stays_within_the_images() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(-2.0, 5.0, (16, 20, 20, 3)).astype(np.float32)
    a = augment(x, np.random.default_rng(7))
    b = augment(x, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    assert a.shape == x.shape and a.dtype == np.float32
    # Shifts, flips and convex mixing never leave the range of the pixels they came from.
    assert a.min() >= x.min() - 1e-6 and a.max() <= x.max() + 1e-6
    assert not np.allclose(a, x)
    # Small inputs (8x8 digits) are only mixed, never shifted.
    small = rng.uniform(0, 1, (8, 8, 8, 1)).astype(np.float32)
    assert augment(small, np.random.default_rng(0)).shape == small.shape


def test_growing_pool_adds_adversarial_images_within_the_budget(
    cnn: tuple[keras.Model, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = 0.25  # minutes
    growth = PoolGrowth(share=0.3, batch=16, steps=5)
    # Each clock reading costs 0.05 s (a distillation step reads it three times) and a round of growth 1 s.
    clock = TickingClock(0.05)
    round_seconds = 1.0
    grow = PoolGrower.grow

    rounds_charged: list[int] = []

    def timed_grow(self: PoolGrower, start: np.ndarray) -> np.ndarray:
        clock.advance(round_seconds)
        rounds_charged.append(1)
        return grow(self, start)

    monkeypatch.setattr(PoolGrower, "grow", timed_grow)
    r = prune(
        cnn[0],
        keep=0.5,
        policy=_budgeted(clock, budget, patterns=6, samples=64, synthetic_steps=50, iterations=3, growth=growth),
        progress=False,
    )
    d = r.distilled
    assert d is not None and d.grown_images > 0 and d.grown_images % growth.batch == 0
    assert d.pool_images == r.synthetic_images + d.grown_images
    rounds = d.grown_images // growth.batch
    # A round starts only while synthesis is below its share, so it overshoots by at most one round.
    assert d.synthesis_seconds <= growth.share * d.seconds + d.synthesis_seconds / rounds
    # And it keeps starting rounds: synthesis is not far below its share either.
    assert d.synthesis_seconds >= growth.share * d.seconds - d.synthesis_seconds / rounds - 3 * clock.tick
    # prune times itself with the policy's clock only, so r.seconds is a whole number of the fake clock's
    # ticks plus the rounds charged to it (wall time would be neither); the budget is checked in those units.
    charged = len(rounds_charged) * round_seconds
    readings = round((r.seconds - charged) / clock.tick)
    assert r.seconds == pytest.approx(readings * clock.tick + charged)
    assert 0 < readings <= clock.reads
    assert readings * clock.tick + charged <= 60 * budget + round_seconds + 5 * clock.tick, (readings, charged)
    for name, mask in r.masks.items():
        assert np.all(np.asarray(r.model.get_layer(name).kernel)[~mask] == 0)
    assert "adversarial images added" in r.summary()


def test_adversarial_round_raises_disagreement_and_keeps_batchnorm_statistics(cnn: tuple[keras.Model, Path]) -> None:
    import tensorflow as tf

    teacher = cnn[0]
    student = prune(teacher, keep=0.5, policy=PrunePolicy.from_options(method="magnitude"), progress=False).model
    t_logits, s_logits = with_logits(teacher), with_logits(student)
    start = synthetic_inputs(teacher, "bn", 32, steps=60, progress=False)
    grower = PoolGrower(teacher, t_logits, s_logits, PoolGrowth(batch=32, steps=10))
    grown = grower.grow(start)
    assert grown.shape == start.shape and not np.array_equal(grown, start)

    def kl(x: np.ndarray) -> float:
        p = tf.nn.softmax(t_logits(x)).numpy()
        return float(np.mean(np.sum(p * (np.log(p + 1e-12) - tf.nn.log_softmax(s_logits(x)).numpy()), axis=-1)))

    noise = np.random.default_rng(0).standard_normal(start.shape).astype(np.float32)
    bn = grower.matcher
    bn_start, bn_grown, bn_noise = (float(bn.loss(tf.constant(bn.latent(v)))) for v in (start, grown, noise))
    assert kl(grown) > kl(start)
    # Still images of the teacher's world: far closer to its BatchNorm statistics than noise.
    assert bn_grown < 0.5 * bn_noise, (bn_start, bn_grown, bn_noise)
    assert grower.images == 32 and grower.rounds == 1
    with pytest.raises(ValueError, match="share"):
        PoolGrowth(share=1.5).validate()
