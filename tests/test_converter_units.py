"""Unit tests of the converter's building blocks (no model training)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("tensorflow")

from patternlite.converter.cli import keep_arg, masks_path_for, patterns_arg  # noqa: E402
from patternlite.converter.errors import ConverterError, OutputPathError  # noqa: E402
from patternlite.converter.export.io import atomic_path, check_output, load_masks, save_masks  # noqa: E402
from patternlite.converter.solvers.allocation import allocate  # noqa: E402
from patternlite.converter.solvers.conv import LayerProblem, solve_layer  # noqa: E402
from patternlite.converter.solvers.patterns import (  # noqa: E402
    all_candidates,
    check_library,
    distill_library,
    kernels_as_rows,
    rows_to_kernel,
)
from patternlite.converter.solvers.projection import kept_count, project  # noqa: E402
from patternlite.metadata import PRUNED, kernel_patterns_from_weights, validate_pattern  # noqa: E402


def test_candidates_are_all_valid_and_distinct() -> None:
    cands = all_candidates()
    assert len(cands) == 56 == len(set(cands))
    for c in cands:
        validate_pattern(c)


def test_rows_round_trip_and_bit_order() -> None:
    k = np.arange(3 * 3 * 2 * 5, dtype=np.float32).reshape(3, 3, 2, 5)
    rows = kernels_as_rows(k)
    assert rows.shape == (10, 9)
    # row i*O + o, column 3*ky + kx
    assert rows[1 * 5 + 3, 3 * 2 + 1] == k[2, 1, 1, 3]
    np.testing.assert_array_equal(rows_to_kernel(rows, k.shape), k)


def test_distillation_finds_the_planted_pattern() -> None:
    rng = np.random.default_rng(1)
    planted = 0b000111010 | 0b10000  # taps 1, 3, 4, 5 (a plus without the bottom)
    mask = np.array([(planted >> b) & 1 for b in range(9)], np.float32).reshape(3, 3, 1, 1)
    k = rng.standard_normal((3, 3, 16, 16)).astype(np.float32) * (0.05 + mask)
    lib = distill_library([k], 3)
    assert lib[0] == planted


def test_check_library_rejects_bad_masks() -> None:
    with pytest.raises(ConverterError):
        check_library([0x1FF])
    with pytest.raises(ConverterError):
        check_library([0x0F])  # no centre
    with pytest.raises(ConverterError):
        check_library([0x1B0, 0x1B0])
    assert check_library([0x1B0]) == [0x1B0]


@settings(max_examples=30, deadline=None)
@given(
    i=st.integers(1, 4),
    o=st.integers(1, 4),
    keep=st.floats(0.05, 1.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_projection_is_exact(i: int, o: int, keep: float, seed: int) -> None:
    """Projection equals brute force over every pattern choice per kernel, then top-k kernels."""
    rng = np.random.default_rng(seed)
    lib = [0x1B0, 0x017, 0x0D8, 0x03C]
    k = rng.standard_normal((3, 3, i, o)).astype(np.float32)
    p = project(k, lib, keep)
    # Structure: every surviving kernel follows its assigned pattern; the right number survive.
    kp = kernel_patterns_from_weights(np.transpose(p.kernel, (3, 0, 1, 2)), lib).T  # (O, I) -> (I, O)
    assert np.count_nonzero(p.assignment != PRUNED) == kept_count(keep, i * o)
    assert np.all((kp == PRUNED) | (p.assignment != PRUNED))
    # Optimality: the kept energy is the maximum achievable.
    rows = kernels_as_rows(k) ** 2
    best = np.array([max(float(r[[b for b in range(9) if (m >> b) & 1]].sum()) for m in lib) for r in rows])
    n = kept_count(keep, i * o)
    assert float((p.kernel**2).sum()) == pytest.approx(float(np.sort(best)[::-1][:n].sum()), rel=1e-5)


def _linear_problem(seed: int, i: int = 4, o: int = 6) -> LayerProblem:
    rng = np.random.default_rng(seed)
    n = 9 * i
    # Correlated inputs (like real feature maps) so that refitting matters.
    mix = rng.standard_normal((n, n)) * 0.3 + np.eye(n)
    x = rng.standard_normal((2000, n)) @ mix
    p = np.hstack([x, np.ones((len(x), 1))])
    g = p.T @ p
    w0 = rng.standard_normal((n + 1, o))
    return LayerProblem(gpp=g, gpq=g, gqq=g, w0=w0, kernel_shape=(3, 3, i, o))


@pytest.mark.parametrize("keep", [1.0, 0.5])
def test_admm_beats_projection_and_respects_the_set(keep: float) -> None:
    lib = all_candidates()[:8]
    prob = _linear_problem(3)
    sol = solve_layer(prob, lib, keep, iterations=20)
    assert sol.error < sol.error_projection
    kernel = sol.weights[:-1].reshape(prob.kernel_shape)
    kp = kernel_patterns_from_weights(np.transpose(kernel, (3, 0, 1, 2)), lib)
    assert np.count_nonzero(kp != PRUNED) <= kept_count(keep, 4 * 6)
    np.testing.assert_array_equal(kernel * ~sol.projection.mask, 0)


def test_error_of_original_weights_is_zero() -> None:
    prob = _linear_problem(4)
    assert prob.error(prob.w0) == pytest.approx(0.0, abs=1e-9)


def test_check_output_refuses_the_input(tmp_path: Path) -> None:
    src = tmp_path / "m.keras"
    src.write_bytes(b"x")
    with pytest.raises(OutputPathError):
        check_output(src, src)
    with pytest.raises(OutputPathError):
        check_output(tmp_path / "sub" / ".." / "m.keras", src)
    with pytest.raises(OutputPathError):
        check_output(tmp_path / "missing_dir" / "out.tflite")
    assert check_output(tmp_path / "out.tflite", src) == tmp_path / "out.tflite"


def test_atomic_write_leaves_nothing_on_interrupt(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"new")
    assert target.read_bytes() == b"new"


def test_masks_round_trip(tmp_path: Path) -> None:
    masks = {"a": np.random.default_rng(0).random((3, 3, 2, 4)) > 0.5, "b/c": np.ones((3, 3, 1, 1), bool)}
    save_masks(tmp_path / "m.masks.npz", masks, [0x1B0, 0x17], {"a": 0.5, "b/c": 1.0})
    got, lib, keep = load_masks(tmp_path / "m.masks.npz")
    assert lib == [0x1B0, 0x17] and keep == {"a": 0.5, "b/c": 1.0}
    for k, v in masks.items():
        np.testing.assert_array_equal(got[k], v)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(ConverterError):
        load_masks(tmp_path / "bad.npz")


def test_cli_value_parsers() -> None:
    assert keep_arg("0.5") == 0.5
    assert keep_arg("a=0.3, b=0.6") == {"a": 0.3, "b": 0.6}
    assert patterns_arg("8") == 8
    assert patterns_arg("0x1b0,0x17") == [0x1B0, 0x17]
    assert masks_path_for(Path("/x/model.keras")) == Path("/x/model.masks.npz")


def test_library_orders_are_reproducible() -> None:
    rng = np.random.default_rng(5)
    k = rng.standard_normal((3, 3, 8, 8)).astype(np.float32)
    assert distill_library([k], 6, seed=1) == distill_library([k], 6, seed=1)
    assert len(set(itertools.chain(distill_library([k], 6)))) == 6


def test_tap_weights_rank_kernels_by_input_energy() -> None:
    rng = np.random.default_rng(2)
    k = rng.standard_normal((3, 3, 2, 4)).astype(np.float32)
    taps = np.ones((3, 3, 2), np.float32)
    taps[..., 1] = 1e-3  # input channel 1 is nearly silent
    p = project(k, all_candidates()[:4], 0.5, tap_weights=taps)
    assert np.all(p.assignment[0] != PRUNED) and np.all(p.assignment[1] == PRUNED)
    lib = all_candidates()[:4]
    assert project(k, lib, 1.0, tap_weights=np.ones((3, 3, 2))).assignment.tolist() == (
        project(k, lib, 1.0).assignment.tolist()
    )


@pytest.mark.parametrize("metric", [False, True])
def test_admm_metric_option(metric: bool) -> None:
    prob = _linear_problem(7)
    sol = solve_layer(prob, all_candidates()[:8], 0.5, iterations=10, metric=metric)
    assert sol.error < sol.error_projection


def test_public_names_resolve() -> None:
    import patternlite.converter as conv

    for name in conv.__all__:
        assert getattr(conv, name) is not None
    with pytest.raises(AttributeError):
        _ = conv.no_such_name


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    keep=st.floats(0.05, 0.95),
    seed=st.integers(0, 10_000),
)
def test_allocation_is_the_best_fit_under_the_budget(sizes: list[int], keep: float, seed: int) -> None:
    grid = (0.25, 0.5, 0.75, 1.0)
    rng = np.random.default_rng(seed)
    # Damage falls as a layer keeps more, at a different rate per layer.
    damage = {f"l{i}": sorted(rng.random(len(grid)).tolist(), reverse=True) for i in range(len(sizes))}
    kernels = {f"l{i}": n for i, n in enumerate(sizes)}
    got = allocate(damage, kernels, keep, grid=grid)
    # The budget is never below what uniform keep keeps after its per-layer rounding.
    budget = max(kept_count(keep, sum(sizes)), sum(kept_count(keep, n) for n in sizes))
    fits = [
        pick
        for pick in itertools.product(range(len(grid)), repeat=len(sizes))
        if sum(kept_count(grid[g], n) for g, n in zip(pick, sizes, strict=True)) <= budget
    ]
    if not fits:  # nothing fits: every layer gets the smallest fraction
        assert set(got.values()) == {grid[0]}
        return
    best = min(sum(damage[f"l{i}"][g] for i, g in enumerate(pick)) for pick in fits)
    assert sum(kept_count(got[n], kernels[n]) for n in kernels) <= budget
    assert sum(damage[n][grid.index(got[n])] for n in kernels) == pytest.approx(best)


def test_prune_policy_holds_every_old_option() -> None:
    import inspect as pyinspect

    from patternlite.converter import prune
    from patternlite.converter.policy import (
        OPTIONS,
        BudgetPolicy,
        DistillationPolicy,
        PrunePolicy,
        SolverPolicy,
        SynthesisPolicy,
    )

    assert len(pyinspect.signature(prune).parameters) <= 8
    flat = PrunePolicy.from_options(method="magnitude", samples=16, distill_steps=0, budget=0.0)
    nested = PrunePolicy(
        solver=SolverPolicy(method="magnitude"),
        synthesis=SynthesisPolicy(samples=16),
        distillation=DistillationPolicy(steps=0),
        budget=BudgetPolicy(minutes=0.0),
    )
    assert flat == nested
    assert flat.options()["method"] == "magnitude" and flat.options()["synthetic_steps"] is None
    assert PrunePolicy().options() == PrunePolicy.from_options(**PrunePolicy().options()).options()
    # Every former keyword of prune is a policy option, or one of prune's own parameters.
    former = {
        "layers", "kind_keep", "patterns", "method", "synthetic", "samples", "iterations", "prune_first",
        "prune_head", "synthetic_steps", "augment", "distill_steps", "distill_adversarial",
        "distill_only_pruned", "allocation", "preset", "budget", "growth",
    }  # fmt: skip
    # ...plus the options added since, each a policy field with an unchanged default.
    assert former | {"connectivity", "pointwise_quads"} == set(OPTIONS)
    # The data a prune runs on is an argument, like the model, not a setting: ``data`` (the client's images).
    assert set(pyinspect.signature(prune).parameters) == {
        "model", "keep", "policy", "inputs", "data", "seed", "progress",
    }  # fmt: skip
    with pytest.raises(ConverterError, match="unknown prune option"):
        PrunePolicy.from_options(sample=3)
