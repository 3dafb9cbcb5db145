"""The client stage (``masked_finetune``, ``patternlite finetune``) on a digits CNN trained here."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402
from fake_clock import TickingClock  # noqa: E402

from patternlite.converter import ConverterError, PruneResult, masked_finetune, prune  # noqa: E402
from patternlite.converter.cli import main as cli_main  # noqa: E402
from patternlite.converter.client_data import load_client_data  # noqa: E402
from patternlite.converter.finetune_policy import FinetunePolicy  # noqa: E402
from patternlite.converter.graph import clone_with_weights  # noqa: E402
from patternlite.converter.models import accuracy, digits_data, train_digits_cnn  # noqa: E402
from patternlite.converter.policy import PrunePolicy  # noqa: E402


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return digits_data()


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> tuple[keras.Model, Path]:
    model = train_digits_cnn(epochs=10, width=16)
    path = tmp_path_factory.mktemp("client") / "dense.keras"
    model.save(path)
    return model, path


@pytest.fixture(scope="module")
def pruned(dense: tuple[keras.Model, Path]) -> PruneResult:
    # Magnitude pruning at keep 0.3 loses accuracy, so there is something to give back.
    return prune(dense[0], keep=0.3, policy=PrunePolicy.from_options(patterns=6, method="magnitude"), progress=False)


def _copy(result: PruneResult) -> keras.Model:
    return clone_with_weights(result.model)


def _assert_masked(model: keras.Model, masks: dict[str, np.ndarray]) -> None:
    for name, mask in masks.items():
        k = np.asarray(model.get_layer(name).kernel)
        assert np.all(k[~mask] == 0), name
        assert np.count_nonzero(k[mask]) > 0.9 * mask.sum(), name


def test_teacher_and_labels_recover_accuracy_and_hold_the_mask(
    dense: tuple[keras.Model, Path], pruned: PruneResult, digits: tuple
) -> None:
    model = _copy(pruned)
    before = accuracy(model, digits[2], digits[3])
    report = masked_finetune(
        model, digits[0], digits[1], masks=pruned.masks, teacher=dense[0], epochs=20, augment=False, progress=False
    )
    assert report.model is model
    _assert_masked(model, pruned.masks)
    after = accuracy(model, digits[2], digits[3])
    assert after > before + 0.05, (before, after)
    assert after >= accuracy(dense[0], digits[2], digits[3]) - 0.05
    # The held-out slice is scored before and after, and it never trains.
    assert report.holdout_images == round(0.1 * len(digits[0]))
    assert report.train_images + report.holdout_images == len(digits[0])
    assert report.accuracy_before is not None and report.accuracy_after is not None
    assert report.accuracy_after > report.accuracy_before
    assert report.teacher_accuracy is not None and report.teacher_accuracy > 0.9
    assert report.loss_end < report.loss_start
    assert "held-out client images" in report.summary()


def test_unlabelled_data_trains_from_the_teacher_alone(
    dense: tuple[keras.Model, Path], pruned: PruneResult, digits: tuple
) -> None:
    model = _copy(pruned)
    before = accuracy(model, digits[2], digits[3])
    report = masked_finetune(model, digits[0], None, masks=pruned.masks, teacher=dense[0], epochs=6, progress=False)
    _assert_masked(model, pruned.masks)
    assert report.holdout_images == 0 and report.accuracy_before is None
    assert accuracy(model, digits[2], digits[3]) > before + 0.05
    with pytest.raises(ConverterError, match="needs a teacher"):
        masked_finetune(_copy(pruned), digits[0], None, masks=pruned.masks, epochs=1, progress=False)


def test_labels_alone_and_frozen_batchnorm(pruned: PruneResult, digits: tuple) -> None:
    model = _copy(pruned)
    stats = [np.asarray(v).copy() for v in model.non_trainable_variables]
    masked_finetune(
        model, digits[0], digits[1], masks=pruned.masks, batchnorm="frozen", epochs=2, augment=False, progress=False
    )
    _assert_masked(model, pruned.masks)
    # Frozen BatchNorm: the running statistics are exactly the pretrained ones.
    for a, b in zip(stats, model.non_trainable_variables, strict=True):
        np.testing.assert_array_equal(a, np.asarray(b))


def test_a_run_that_hurts_returns_the_starting_weights(
    dense: tuple[keras.Model, Path], pruned: PruneResult, digits: tuple
) -> None:
    """A learning rate far too high wrecks the model; the held-out checkpoint keeps the start instead."""
    model = _copy(pruned)
    start = [w.copy() for w in model.get_weights()]
    report = masked_finetune(
        model, digits[0], digits[1], masks=pruned.masks, teacher=dense[0], epochs=3, augment=False,
        learning_rate=5.0, progress=False,
    )  # fmt: skip
    assert report.accuracy_before is not None and report.accuracy_last is not None
    assert report.accuracy_last < report.accuracy_before  # the training did hurt ...
    assert report.kept_step == 0 and report.accuracy_after == report.accuracy_before  # ... and was undone
    assert report.checkpoints == 3  # the end of epochs 1 and 2, and the last step
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), start, strict=True))
    assert "kept the starting weights" in report.summary()


def test_the_best_checkpoint_is_kept_and_named(
    dense: tuple[keras.Model, Path], pruned: PruneResult, digits: tuple
) -> None:
    report = masked_finetune(
        _copy(pruned), digits[0], digits[1], masks=pruned.masks, teacher=dense[0], epochs=4, augment=False,
        progress=False,
    )  # fmt: skip
    assert report.kept_step is not None and 0 < report.kept_step <= report.steps
    assert report.accuracy_after is not None and report.accuracy_before is not None
    assert report.accuracy_after >= report.accuracy_before
    assert report.accuracy_last is not None and report.accuracy_after >= report.accuracy_last
    assert f"kept step {report.kept_step} of {report.steps}" in report.summary()


def test_degenerate_client_data_is_refused(pruned: PruneResult, digits: tuple) -> None:
    x, y = digits[0], digits[1]
    cases = [
        (x[:4], y[:4], "holds 4 images"),
        (np.zeros_like(x[:64]), y[:64], "every client image is constant"),
        (x[:64], np.full(64, 2), "every label is 2"),
    ]
    for xb, yb, match in cases:
        with pytest.raises(ConverterError, match=match):
            masked_finetune(_copy(pruned), xb, yb, masks=pruned.masks, epochs=1, progress=False)


def test_the_time_budget_is_honoured(dense: tuple[keras.Model, Path], pruned: PruneResult, digits: tuple) -> None:
    budget = 6.0
    # The budget is measured on a fake clock (each reading costs 0.02 s; a step reads it three times),
    # so the stop does not depend on how loaded the machine is.
    clock = TickingClock(0.02)
    report = masked_finetune(
        _copy(pruned),
        digits[0],
        digits[1],
        masks=pruned.masks,
        teacher=dense[0],
        policy=FinetunePolicy(clock=clock),
        minutes=budget / 60,
        progress=False,
    )
    assert report.budget_seconds == pytest.approx(budget)
    # A hard stop at the budget (plus at most one step: three readings, and the closing one), and the
    # schedule is sized to use it.
    # masked_finetune times itself with policy.clock only, so report.seconds is a whole number of the
    # fake clock's ticks (wall time would not be), and the budget is checked in clock reads.
    readings = round(report.seconds / clock.tick)
    assert report.seconds == pytest.approx(readings * clock.tick)
    assert 0 < readings <= clock.reads
    budget_readings = round(budget / clock.tick)
    assert readings <= budget_readings + 4, readings
    assert readings >= 0.9 * budget_readings, readings  # the clock-driven schedule never ends early
    assert report.steps > 10
    # The steps are what the budget allows on this clock: the run is decided by the budget, not by machine speed.
    assert report.steps == pytest.approx(budget / (3 * clock.tick), abs=2)


def test_bad_client_data_is_refused(pruned: PruneResult, digits: tuple) -> None:
    x, y = digits[0], digits[1]
    cases = [
        (x[:, :8], y, "shape"),
        (x[:0], y[:0], "no images"),
        (x, y[:-1], "labels"),
        (x, y + 10, r"\[0, 9\]"),
        (x, y + 0.5, "integer"),
        (np.where(np.arange(x.size).reshape(x.shape) == 5, np.nan, x), y, "NaN"),
    ]
    for xb, yb, match in cases:
        with pytest.raises(ConverterError, match=match):
            masked_finetune(_copy(pruned), xb, yb, masks=pruned.masks, epochs=1, progress=False)
    with pytest.raises(ConverterError, match="not a layer"):
        masked_finetune(_copy(pruned), x, y, masks={"nope": np.ones((3, 3, 1, 1), bool)}, epochs=1, progress=False)
    for bad in ({"minutes": 0}, {"batchnorm": "moving"}, {"holdout": 1.0}, {"label_weight": 2.0}, {"epochs": -1}):
        with pytest.raises(ConverterError):
            FinetunePolicy(**bad).check()  # type: ignore[arg-type]


def _write_folder(root: Path, x: np.ndarray, y: np.ndarray) -> None:
    from PIL import Image

    for i, (img, label) in enumerate(zip(x, y, strict=True)):
        d = root / str(int(label))
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray((img[..., 0] * 255).astype(np.uint8), mode="L").save(d / f"{i}.png")


def test_folder_of_images_reads_labels_from_subfolders(tmp_path: Path, digits: tuple) -> None:
    x, y = digits[0][:40], digits[1][:40]
    _write_folder(tmp_path / "data", x, y)
    xs, ys = load_client_data(tmp_path / "data", (16, 16, 1))
    assert xs.shape == (40, 16, 16, 1) and ys is not None
    assert sorted(ys.tolist()) == sorted(y.tolist())
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in list((tmp_path / "data" / str(int(y[0]))).iterdir())[:3]:
        (flat / f.name).write_bytes(f.read_bytes())
    xf, yf = load_client_data(flat, (16, 16, 1))
    assert xf.shape == (3, 16, 16, 1) and yf is None
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConverterError, match="no images"):
        load_client_data(tmp_path / "empty", (16, 16, 1))
    (tmp_path / "bad" / "0").mkdir(parents=True)
    (tmp_path / "bad" / "0" / "x.png").write_bytes(b"not a png")
    with pytest.raises(ConverterError, match="cannot read the image"):
        load_client_data(tmp_path / "bad", (16, 16, 1))


def test_cli_finetune_with_teacher_from_a_folder(
    dense: tuple[keras.Model, Path], pruned: PruneResult, digits: tuple, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src = tmp_path / "pruned.keras"
    pruned.model.save(src)
    pruned.save_masks(tmp_path / "pruned.masks.npz")
    _write_folder(tmp_path / "client", digits[0][:300], digits[1][:300])
    out = tmp_path / "tuned.keras"
    args = ["--data", str(tmp_path / "client"), "-o", str(out), "--teacher", str(dense[1]), "--epochs", "2"]
    rc = cli_main(["finetune", str(src), *args, "--no-augment", "--no-progress"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "300 images, labelled" in printed and "held-out client images (30)" in printed
    _assert_masked(keras.models.load_model(out, compile=False), pruned.masks)
    assert (tmp_path / "tuned.masks.npz").is_file()


def test_cli_finetune_refuses_bad_input_and_writes_nothing(
    dense: tuple[keras.Model, Path], pruned: PruneResult, digits: tuple, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    src = tmp_path / "pruned.keras"
    pruned.model.save(src)
    pruned.save_masks(tmp_path / "pruned.masks.npz")
    good = tmp_path / "client.npz"
    np.savez(good, images=digits[0][:64], labels=digits[1][:64])
    unlabelled = tmp_path / "unlabelled.npz"
    np.savez(unlabelled, images=digits[0][:64])
    csv = tmp_path / "client.csv"
    csv.write_text("1,2,3\n")
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, pixels=digits[0][:4])
    out = tmp_path / "out" / "tuned.keras"
    (tmp_path / "out").mkdir()
    cases = [
        (["--data", str(csv)], "must be an .npz file or a folder"),
        (["--data", str(tmp_path / "missing.npz")], "does not exist"),
        (["--data", str(wrong)], "no 'images'"),
        (["--data", str(unlabelled)], "needs a teacher"),
        (["--data", str(good), "--teacher", str(tmp_path / "nope.keras")], "does not exist"),
        (["--data", str(good), "--masks", str(csv)], "cannot read masks"),
    ]
    for extra, message in cases:
        rc = cli_main(["finetune", str(src), "-o", str(out), *extra, "--epochs", "1", "--no-progress"])
        err = capsys.readouterr().err
        assert rc == 1, extra
        assert message in err and "Traceback" not in err, (extra, err)
        assert not list((tmp_path / "out").iterdir()), extra
    before = src.read_bytes()
    rc = cli_main(["finetune", str(src), "-o", str(src), "--data", str(good), "--no-progress"])
    assert rc == 1 and src.read_bytes() == before
