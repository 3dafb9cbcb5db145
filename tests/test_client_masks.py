"""When the client has data: ``prune(..., data=...)`` and the mask-moving ``remask`` retraining.

On a digits CNN trained here. What must hold: the library and each layer's kept
count stay as asked, every kept kernel follows a library pattern, the weights
are zero outside the (new) masks, the budget holds on a fake clock, and bad data
is refused before any work.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402
from fake_clock import TickingClock  # noqa: E402

from patternlite.converter import ConverterError, PruneResult, masked_finetune, prune  # noqa: E402
from patternlite.converter.cli import main as cli_main  # noqa: E402
from patternlite.converter.export.io import load_masks  # noqa: E402
from patternlite.converter.finetune_policy import FinetunePolicy  # noqa: E402
from patternlite.converter.graph import clone_with_weights  # noqa: E402
from patternlite.converter.models import accuracy, digits_data, train_digits_cnn  # noqa: E402
from patternlite.converter.policy import PrunePolicy  # noqa: E402
from patternlite.converter.remask import changed_fraction, count_kept, infer_connectivity  # noqa: E402
from patternlite.metadata import CHANNEL_BLOCK, PRUNED, kernel_patterns_from_weights  # noqa: E402

KEEP = 0.3


def _policy(budget: float, clock: TickingClock, **options: object) -> PrunePolicy:
    """A prune policy whose budget (minutes) is measured on ``clock``."""
    policy = PrunePolicy.from_options(budget=budget, **options)
    return dataclasses.replace(policy, budget=dataclasses.replace(policy.budget, clock=clock))


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return digits_data()


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> tuple[keras.Model, Path]:
    model = train_digits_cnn(epochs=10, width=16)
    path = tmp_path_factory.mktemp("client_masks") / "dense.keras"
    model.save(path)
    return model, path


@pytest.fixture(scope="module")
def magnitude(dense: tuple[keras.Model, Path]) -> PruneResult:
    # Magnitude pruning at keep 0.3 loses most of the accuracy: the masks are worth re-selecting.
    return prune(dense[0], keep=KEEP, policy=PrunePolicy.from_options(patterns=6, method="magnitude"), progress=False)


def _assert_structure(model: keras.Model, masks: dict[str, np.ndarray], like: PruneResult) -> None:
    """Weights zero outside the masks; every kept kernel a library pattern; the same kept count per layer."""
    for name, mask in masks.items():
        k = np.asarray(model.get_layer(name).kernel)
        assert np.all(k[~mask] == 0), name
        kp = kernel_patterns_from_weights(np.transpose(k, (3, 0, 1, 2)), like.library)  # raises off-library
        assert np.count_nonzero(kp != PRUNED) == count_kept("conv3x3", like.masks[name]), name
        assert count_kept("conv3x3", mask) == count_kept("conv3x3", like.masks[name]), name


def test_remask_moves_the_masks_and_keeps_library_and_keep(
    dense: tuple[keras.Model, Path], magnitude: PruneResult, digits: tuple
) -> None:
    model = clone_with_weights(magnitude.model)
    before = accuracy(model, digits[2], digits[3])
    # No held-out slice: the re-selected masks are always what comes back, so the test sees them.
    report = masked_finetune(
        model,
        digits[0],
        digits[1],
        masks=magnitude.masks,
        library=magnitude.library,
        teacher=dense[0],
        epochs=20,
        remask=True,
        holdout=0.0,
        progress=False,
    )
    assert report.remask is not None and report.remask.kept_new_masks
    assert report.remask.z_updates == FinetunePolicy().admm_updates
    assert report.remask.admm_steps > 0 and report.steps > report.remask.admm_steps
    changed = changed_fraction(magnitude.masks, report.masks)
    assert changed > 0, "the data re-selected nothing"
    assert report.remask.changed == pytest.approx(changed)
    _assert_structure(model, report.masks, magnitude)
    after = accuracy(model, digits[2], digits[3])
    assert after > before + 0.3, (before, after)
    assert "re-selected the masks" in report.summary()
    assert report.remask.assignments is not None
    for name, a in report.remask.assignments.items():
        k = np.asarray(model.get_layer(name).kernel)
        np.testing.assert_array_equal(
            a.T, kernel_patterns_from_weights(np.transpose(k, (3, 0, 1, 2)), magnitude.library)
        )


def test_remask_from_the_dense_weights(dense: tuple[keras.Model, Path], magnitude: PruneResult, digits: tuple) -> None:
    model = clone_with_weights(magnitude.model)
    report = masked_finetune(
        model,
        digits[0],
        digits[1],
        masks=magnitude.masks,
        library=magnitude.library,
        teacher=dense[0],
        epochs=20,
        remask=True,
        remask_from="dense",
        holdout=0.0,
        progress=False,
    )
    assert report.remask is not None
    _assert_structure(model, report.masks, magnitude)
    # Starting from the dense weights, the data chooses masks of its own rather than adjusting the old ones.
    assert report.remask.changed > 0.01
    assert accuracy(model, digits[2], digits[3]) > accuracy(magnitude.model, digits[2], digits[3]) + 0.3
    with pytest.raises(ConverterError, match="needs the teacher"):
        masked_finetune(magnitude, digits[0], digits[1], remask=True, remask_from="dense", epochs=1, progress=False)


def test_remask_needs_the_library(magnitude: PruneResult, digits: tuple) -> None:
    with pytest.raises(ConverterError, match="library"):
        masked_finetune(
            clone_with_weights(magnitude.model), digits[0], digits[1], masks=magnitude.masks, remask=True, epochs=1
        )
    with pytest.raises(ConverterError, match="remask_share"):
        masked_finetune(magnitude, digits[0], digits[1], remask=True, remask_share=1.0, epochs=1, progress=False)


def test_remask_budget_holds_on_a_fake_clock(
    dense: tuple[keras.Model, Path], magnitude: PruneResult, digits: tuple
) -> None:
    budget = 6.0
    clock = TickingClock(0.02)
    result = PruneResult(
        model=clone_with_weights(magnitude.model), masks=magnitude.masks, library=magnitude.library, report=[], keep={}
    )
    report = masked_finetune(
        result,
        digits[0],
        digits[1],
        teacher=dense[0],
        policy=FinetunePolicy(clock=clock, remask=True, remask_share=0.5),
        minutes=budget / 60,
        progress=False,
    )
    assert report.remask is not None
    # masked_finetune times itself with policy.clock only, so report.seconds is a whole number of the
    # fake clock's ticks (wall time would not be), and the budget is checked in clock reads: the whole
    # run (both phases and the projection) within the budget plus the last step's readings.
    reads = round(report.seconds / clock.tick)
    assert report.seconds == pytest.approx(reads * clock.tick)
    assert 0 < reads <= clock.reads
    assert reads <= round(budget / clock.tick) + 8
    # The ADMM phase took its share of the budget, no more (a step reads the clock a few times).
    assert report.remask.admm_seconds == pytest.approx(budget / 2, abs=6 * clock.tick)
    assert report.remask.admm_steps > 10 and report.steps > 2 * report.remask.admm_steps - 10
    # Z/U steps spread over the phase's time: all of them ran.
    assert report.remask.z_updates == FinetunePolicy().admm_updates


def test_connectivity_is_read_from_the_masks() -> None:
    rng = np.random.default_rng(0)
    kept = rng.random((32, 2 * CHANNEL_BLOCK)) < 0.4  # (I, O)
    per_kernel = np.broadcast_to(kept, (3, 3, *kept.shape)).copy()
    assert infer_connectivity(per_kernel) == "kernel"
    block = np.repeat(rng.random((32, 2)) < 0.4, CHANNEL_BLOCK, axis=1)
    # Every kept kernel with the same taps: the blocks share patterns too.
    assert infer_connectivity(np.broadcast_to(block, (3, 3, *block.shape)).copy()) == "shared"
    # The same blocks with one filter reading a channel through other taps: block, not shared.
    mixed = np.broadcast_to(block, (3, 3, *block.shape)).copy()
    i = int(np.flatnonzero(block[:, 0])[0])
    mixed[0, 0, i, 0] = False
    assert infer_connectivity(mixed) == "block"
    # Fewer filters than a block, or everything kept: nothing says "block".
    assert infer_connectivity(np.ones((3, 3, 8, 8), bool)) == "kernel"


def test_prune_with_data_beats_data_free_and_says_so(
    dense: tuple[keras.Model, Path], magnitude: PruneResult, digits: tuple
) -> None:
    # On a fake clock the retraining gets the same steps however loaded the machine is.
    clock = TickingClock(0.002)
    result = prune(
        dense[0],
        keep=KEEP,
        policy=_policy(0.1, clock, patterns=magnitude.library, iterations=10),
        data=(digits[0], digits[1]),
        progress=False,
    )
    assert result.synthetic == "data" and result.data_images == len(digits[0]) and result.data_labelled
    assert result.distilled is None and result.retrained is not None
    assert result.library == magnitude.library
    _assert_structure(result.model, result.masks, magnitude)
    acc = accuracy(result.model, digits[2], digits[3])
    assert acc > accuracy(magnitude.model, digits[2], digits[3]) + 0.3
    assert acc >= accuracy(dense[0], digits[2], digits[3]) - 0.1
    summary = result.summary()
    assert f"client data: {len(digits[0])} labelled images" in summary and "synthetic inputs" not in summary
    assert "retrained on the client data" in summary


def test_prune_with_data_keeps_its_budget(dense: tuple[keras.Model, Path], digits: tuple) -> None:
    clock = TickingClock(0.01)
    budget = 0.1  # minutes
    result = prune(
        dense[0],
        keep=KEEP,
        policy=_policy(budget, clock, patterns=6, iterations=5),
        data=digits[0][:300],
        progress=False,
    )
    assert not result.data_labelled and result.retrained is not None
    assert result.retrained.holdout_images == 0  # no labels: nothing to score, the teacher alone trains
    # The whole run, layer-wise pass included, on the fake clock: the retraining gets what is left.
    # prune times itself with policy.budget.clock, so result.seconds is a whole number of ticks and the
    # budget is checked in clock reads: it holds however loaded the machine is.
    reads = round(result.seconds / clock.tick)
    assert result.seconds == pytest.approx(reads * clock.tick)
    assert reads <= round(60 * budget / clock.tick) + 10
    assert result.retrained.budget_seconds < 60 * budget


def test_prune_with_data_says_when_no_time_was_left_to_retrain(dense: tuple[keras.Model, Path], digits: tuple) -> None:
    clock = TickingClock(30.0)  # every reading costs half a minute: the layer-wise pass spends it all
    result = prune(
        dense[0],
        keep=KEEP,
        policy=_policy(0.1, clock, patterns=6, iterations=5),
        data=(digits[0][:200], digits[1][:200]),
        progress=False,
    )
    assert result.retrained is None
    assert "not retrained on the client data: the layer-wise solve used the whole budget" in result.summary()


def test_prune_refuses_bad_data_before_any_work(dense: tuple[keras.Model, Path], digits: tuple) -> None:
    cases = [
        ((digits[0][:, :8], digits[1]), "shape"),
        ((digits[0], digits[1][:-1]), "labels"),
        ((digits[0], np.where(digits[1] == 0, 99, digits[1])), r"labels must be in \[0, 9\]"),
    ]
    for data, match in cases:
        with pytest.raises(ConverterError, match=match):
            prune(dense[0], keep=KEEP, data=data, progress=False)
    with pytest.raises(ConverterError, match="magnitude"):
        prune(dense[0], keep=KEEP, policy=PrunePolicy.from_options(method="magnitude"), data=digits[0], progress=False)
    with pytest.raises(ConverterError, match="not both"):
        prune(dense[0], keep=KEEP, data=digits[0], inputs=digits[0], progress=False)


def test_cli_prune_with_data_and_finetune_remask(
    tmp_path: Path, dense: tuple[keras.Model, Path], digits: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "client.npz"
    np.savez(data, images=digits[0], labels=digits[1])
    out = tmp_path / "pruned.keras"
    args = ["prune", str(dense[1]), "-o", str(out), "--keep", str(KEEP), "--patterns", "6", "--iterations", "5"]
    assert cli_main([*args, "--data", str(data), "--budget", "0.1", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert f"client data: {len(digits[0])} images from {data}, labelled" in text
    # A 6-second budget: on a busy machine the layer-wise solve may use all of it, and the summary
    # must then say so (the budget split itself is tested on a fake clock above).
    assert ("\nretrained on the client data" in text) != ("not retrained on the client data" in text), text
    masks, library, _ = load_masks(tmp_path / "pruned.masks.npz")
    retrained = tmp_path / "remasked.keras"
    ft = ["finetune", str(out), "--data", str(data), "--teacher", str(dense[1]), "-o", str(retrained)]
    assert cli_main([*ft, "--remask", "--epochs", "4", "--no-progress"]) == 0
    assert "re-selected the masks" in capsys.readouterr().out
    new_masks, new_library, _ = load_masks(tmp_path / "remasked.masks.npz")
    assert new_library == library and set(new_masks) == set(masks)
    model = keras.models.load_model(retrained, compile=False)
    for name, mask in new_masks.items():
        assert np.all(np.asarray(model.get_layer(name).kernel)[~mask] == 0)
        assert count_kept("conv3x3", mask) == count_kept("conv3x3", masks[name])


def test_cli_prune_refuses_bad_data_first(
    tmp_path: Path, dense: tuple[keras.Model, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, images=np.zeros((3, 8, 8, 1), np.uint8))
    out = tmp_path / "o.keras"
    model = str(dense[1])
    for data, match in ((tmp_path / "missing.npz", "missing.npz"), (bad, "3 images")):
        assert cli_main(["prune", model, "-o", str(out), "--data", str(data)]) != 0
        err = capsys.readouterr().err
        assert err.startswith("patternlite prune:") and match in err and "Traceback" not in err, err
    assert cli_main(["prune", model, "-o", str(out), "--data", str(bad), "--method", "magnitude"]) != 0
    assert "--method magnitude" in capsys.readouterr().err
    assert not out.exists()
