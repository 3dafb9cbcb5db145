"""Block-structured connectivity of 3x3 convs (``connectivity="block"`` and ``"shared"``): the
projection, both solvers on the small digits CNN, the CLI flag, and the default left as it was."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

pytest.importorskip("tensorflow")

import keras  # noqa: E402

from patternlite.converter import ConverterError, PruneResult, prune  # noqa: E402
from patternlite.converter.cli import main as cli_main  # noqa: E402
from patternlite.converter.export.io import load_masks  # noqa: E402
from patternlite.converter.graph import CONV3X3, find_layers  # noqa: E402
from patternlite.converter.models import digits_cnn  # noqa: E402
from patternlite.converter.policy import PrunePolicy  # noqa: E402
from patternlite.converter.remask import infer_connectivity  # noqa: E402
from patternlite.converter.solvers.layer_problem import bn_scale  # noqa: E402
from patternlite.converter.solvers.patterns import all_candidates, masks_matrix  # noqa: E402
from patternlite.converter.solvers.projection import kept_count, project  # noqa: E402
from patternlite.metadata import CHANNEL_BLOCK, INT8_CONV3X3_MIN_OUTPUTS, PRUNED  # noqa: E402

LIBRARY = all_candidates()[:8]


def _old_kernel_projection(
    k: npt.NDArray[np.float32], library: list[int], keep: float, weights: npt.NDArray[np.float64] | None
) -> npt.NDArray[np.uint8]:
    """The per-kernel choice as the converter made it before connectivity became a choice: best
    pattern per kernel, then the ``keep`` fraction of kernels with most (BN-weighted) kept energy."""
    i_ch, o_ch = k.shape[2], k.shape[3]
    rows = k.reshape(9, i_ch * o_ch).T.astype(np.float32)  # row i*O + o
    energy = (rows**2) @ masks_matrix(library)
    best = np.argmax(energy, axis=1)
    kept = energy[np.arange(len(rows)), best]
    if weights is not None:
        kept = kept * np.tile(np.asarray(weights, np.float32) ** 2, i_ch)
    n = kept_count(keep, len(rows))
    alive = np.zeros(len(rows), bool)
    alive[np.lexsort((np.arange(len(rows)), -kept))[:n]] = True
    return np.where(alive, best, PRUNED).astype(np.uint8).reshape(i_ch, o_ch)


def _assert_block_connectivity(assignment: npt.NDArray[np.uint8], keep: float, name: str = "") -> None:
    """Every filter of a block of CHANNEL_BLOCK output channels keeps the same inputs, kept_count(keep, I) of them."""
    alive = assignment != PRUNED  # (I, O)
    i_ch, o_ch = alive.shape
    for start in range(0, o_ch, CHANNEL_BLOCK):
        block = alive[:, start : start + CHANNEL_BLOCK]
        assert np.all(block == block[:, :1]), f"{name}: block at {start} does not share its input channels"
        assert block[:, 0].sum() == kept_count(keep, i_ch), f"{name}: block at {start}"


def _assert_shared_patterns(assignment: npt.NDArray[np.uint8], name: str = "") -> None:
    """The filters of a block read each kept input channel through one pattern."""
    for start in range(0, assignment.shape[1], CHANNEL_BLOCK):
        block = assignment[:, start : start + CHANNEL_BLOCK]
        assert np.all(block == block[:, :1]), f"{name}: block at {start} mixes patterns on an input channel"


def _assert_patterns(mask: npt.NDArray[np.bool_], assignment: npt.NDArray[np.uint8], library: list[int]) -> None:
    """Each kept kernel's taps are its assigned library pattern; a pruned kernel has none."""
    i_ch, o_ch = assignment.shape
    taps = mask.reshape(9, i_ch * o_ch).T  # row i*O + o
    mm = masks_matrix(library) > 0  # (9, K)
    for r, a in enumerate(assignment.reshape(-1)):
        if a == PRUNED:
            assert not taps[r].any()
        else:
            assert np.array_equal(taps[r], mm[:, a])


@pytest.mark.parametrize("shape", [(5, 40), (24, 16), (7, 3)])
@pytest.mark.parametrize("keep", [1.0, 0.5, 0.28])
def test_block_projection_shares_inputs_per_block_and_keeps_patterns(shape: tuple[int, int], keep: float) -> None:
    i_ch, o_ch = shape
    rng = np.random.default_rng(i_ch * o_ch)
    k = rng.standard_normal((3, 3, i_ch, o_ch)).astype(np.float32)
    w = rng.uniform(0.5, 2.0, o_ch)
    p = project(k, LIBRARY, keep, weights=w, connectivity="block")
    _assert_block_connectivity(p.assignment, keep)
    _assert_patterns(p.mask, p.assignment, LIBRARY)
    np.testing.assert_array_equal(p.kernel, k * p.mask)
    # The kept fraction of the layer is the per-block one: keep, after rounding per block.
    assert np.count_nonzero(p.assignment != PRUNED) == kept_count(keep, i_ch) * o_ch
    # Each kept kernel has the pattern it would have under per-kernel connectivity: only WHICH kernels changes.
    dense = project(k, LIBRARY, 1.0)
    alive = p.assignment != PRUNED
    np.testing.assert_array_equal(p.assignment[alive], dense.assignment[alive])


def test_block_projection_is_the_exact_projection() -> None:
    """Brute force over every input subset per block: the chosen one keeps the most (weighted) energy."""
    rng = np.random.default_rng(3)
    i_ch, o_ch, keep = 5, 20, 0.4
    k = rng.standard_normal((3, 3, i_ch, o_ch)).astype(np.float32)
    w = rng.uniform(0.5, 2.0, o_ch)
    p = project(k, LIBRARY, keep, weights=w, connectivity="block")
    rows = k.reshape(9, i_ch * o_ch).T
    kept = ((rows**2) @ masks_matrix(LIBRARY)).max(axis=1).reshape(i_ch, o_ch) * w[None, :] ** 2
    n = kept_count(keep, i_ch)
    for start in range(0, o_ch, CHANNEL_BLOCK):
        score = kept[:, start : start + CHANNEL_BLOCK].sum(axis=1)
        best = max(score[list(c)].sum() for c in itertools.combinations(range(i_ch), n))
        chosen = np.flatnonzero(p.assignment[:, start] != PRUNED)
        assert score[chosen].sum() == pytest.approx(best, rel=1e-6)


@pytest.mark.parametrize("shape", [(5, 72), (24, 64), (7, 100)])
@pytest.mark.parametrize("keep", [1.0, 0.5, 0.28])
def test_shared_projection_gives_a_block_one_pattern_per_input(shape: tuple[int, int], keep: float) -> None:
    i_ch, o_ch = shape
    rng = np.random.default_rng(i_ch * o_ch + 1)
    k = rng.standard_normal((3, 3, i_ch, o_ch)).astype(np.float32)
    w = rng.uniform(0.5, 2.0, o_ch)
    p = project(k, LIBRARY, keep, weights=w, connectivity="shared")
    _assert_block_connectivity(p.assignment, keep)
    _assert_shared_patterns(p.assignment)
    _assert_patterns(p.mask, p.assignment, LIBRARY)
    np.testing.assert_array_equal(p.kernel, k * p.mask)


def test_shared_projection_is_the_exact_projection() -> None:
    """Brute force over every (input subset, pattern per kept input) of a block: the chosen one keeps the most
    weighted energy, so no other shared-pattern structure is closer to the kernel."""
    rng = np.random.default_rng(4)
    i_ch, o_ch, keep = 4, 68, 0.5
    library = LIBRARY[:3]
    k = rng.standard_normal((3, 3, i_ch, o_ch)).astype(np.float32)
    w = rng.uniform(0.5, 2.0, o_ch)
    p = project(k, library, keep, weights=w, connectivity="shared")
    rows = k.reshape(9, i_ch * o_ch).T
    energy = ((rows**2) @ masks_matrix(library)).reshape(i_ch, o_ch, -1) * w[None, :, None] ** 2
    n = kept_count(keep, i_ch)
    for start in range(0, o_ch, CHANNEL_BLOCK):
        e = energy[:, start : start + CHANNEL_BLOCK].sum(axis=1)  # (I, K)
        best = max(
            sum(e[c, pat] for c, pat in zip(chosen, pats, strict=True))
            for chosen in itertools.combinations(range(i_ch), n)
            for pats in itertools.product(range(len(library)), repeat=n)
        )
        a = p.assignment[:, start]
        got = sum(e[c, a[c]] for c in range(i_ch) if a[c] != PRUNED)
        assert got == pytest.approx(best, rel=1e-6)


def test_shared_connectivity_leaves_small_convs_per_kernel() -> None:
    """Below INT8_CONV3X3_MIN_OUTPUTS filters no int8 kernel gains from shared patterns: projected per kernel."""
    rng = np.random.default_rng(5)
    k = rng.standard_normal((3, 3, 24, INT8_CONV3X3_MIN_OUTPUTS - 1)).astype(np.float32)
    np.testing.assert_array_equal(
        project(k, LIBRARY, 0.5, connectivity="shared").assignment, project(k, LIBRARY, 0.5).assignment
    )


@pytest.mark.parametrize("keep", [1.0, 0.5, 0.28])
def test_kernel_connectivity_is_the_former_projection(keep: float) -> None:
    rng = np.random.default_rng(7)
    k = rng.standard_normal((3, 3, 24, 40)).astype(np.float32)
    w = rng.uniform(0.5, 2.0, 40)
    old = _old_kernel_projection(k, LIBRARY, keep, w)
    np.testing.assert_array_equal(project(k, LIBRARY, keep, weights=w).assignment, old)
    np.testing.assert_array_equal(project(k, LIBRARY, keep, weights=w, connectivity="kernel").assignment, old)
    with pytest.raises(ValueError, match="connectivity"):
        project(k, LIBRARY, keep, connectivity="filter")


# --- the pruner, on the small digits CNN -------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> keras.Model:
    return digits_cnn(width=40)  # 40 filters: blocks of 16, 16 and a partial 8


def _prune(model: keras.Model, keep: float, **options: object) -> PruneResult:
    return prune(model, keep=keep, policy=PrunePolicy.from_options(**options), progress=False)


def _check_block_result(r: PruneResult) -> None:
    assert r.masks, "nothing pruned"
    for name, mask in r.masks.items():
        assignment, keep = r.assignments[name], r.keep[name]
        _assert_block_connectivity(assignment, keep, name)
        _assert_patterns(mask, assignment, r.library)
        kernel = keras.ops.convert_to_numpy(r.model.get_layer(name).kernel)
        assert not np.any(kernel[~mask]), f"{name}: a pruned weight is non-zero"
        i_ch, o_ch = assignment.shape
        assert np.count_nonzero(assignment != PRUNED) == kept_count(keep, i_ch) * o_ch


@pytest.mark.parametrize("keep", [0.5, 0.28])
def test_magnitude_block_connectivity_on_the_digits_cnn(digits: keras.Model, keep: float) -> None:
    result = _prune(digits, keep, method="magnitude", connectivity="block")
    _check_block_result(result)
    assert set(result.keep.values()) == {keep}


@pytest.fixture(scope="module")
def digits64() -> keras.Model:
    return digits_cnn(width=INT8_CONV3X3_MIN_OUTPUTS + 8)  # wide enough for shared patterns, a partial block


@pytest.mark.parametrize("keep", [1.0, 0.28])
def test_magnitude_shared_connectivity_on_the_digits_cnn(digits64: keras.Model, keep: float) -> None:
    result = _prune(digits64, keep, method="magnitude", connectivity="shared")
    _check_block_result(result)
    for name, assignment in result.assignments.items():
        _assert_shared_patterns(assignment, name)
        assert infer_connectivity(result.masks[name]) == "shared"


@pytest.mark.parametrize("int8", [False, True])
def test_export_keeps_shared_patterns_when_a_kept_weight_is_zero(
    digits64: keras.Model, tmp_path: Path, int8: bool
) -> None:
    """A kept weight stored as 0 (int8 rounding, or training) fits several library patterns; the record
    keeps the one the pruner gave, so the file still says "shared" and the delegate packs it so."""
    from patternlite.converter import Int8Options, export_tflite
    from patternlite.inspect import inspect_model

    result = _prune(digits64, 1.0, method="magnitude", connectivity="shared")
    name = next(iter(result.masks))
    layer = result.model.get_layer(name)
    kernel = keras.ops.convert_to_numpy(layer.kernel).copy()
    ky, kx, i, o = (int(v[0]) for v in np.nonzero(result.masks[name] & (np.arange(9).reshape(3, 3, 1, 1) != 4)))
    kernel[ky, kx, i, o] = 0.0  # one kept, non-centre weight of one kernel
    layer.kernel.assign(kernel)
    path = export_tflite(result, tmp_path / "s.tflite", int8=Int8Options(progress=False) if int8 else False)
    structures = [c["structure"] for c in inspect_model(str(path))["convs"] if "structure" in c]
    assert structures and set(structures) == {"shared"}, structures


def test_admm_shared_connectivity_holds_through_distillation(digits64: keras.Model) -> None:
    options = {"samples": 16, "synthetic_steps": 5, "iterations": 8, "augment": 1, "distill_steps": 10}
    result = _prune(digits64, 0.5, connectivity="shared", **options)
    _check_block_result(result)
    for name, assignment in result.assignments.items():
        _assert_shared_patterns(assignment, name)


def test_admm_block_connectivity_holds_through_distillation(digits: keras.Model) -> None:
    options = {"samples": 16, "synthetic_steps": 5, "iterations": 8, "augment": 1, "distill_steps": 10}
    _check_block_result(_prune(digits, 0.5, connectivity="block", **options))


def test_default_connectivity_is_per_kernel_and_unchanged(digits: keras.Model) -> None:
    default = _prune(digits, 0.5, method="magnitude")
    explicit = _prune(digits, 0.5, method="magnitude", connectivity="kernel")
    block = _prune(digits, 0.5, method="magnitude", connectivity="block")
    convs = {c.name: c for c in find_layers(digits, (CONV3X3,))}
    differs = False
    for name, mask in default.masks.items():
        np.testing.assert_array_equal(mask, explicit.masks[name])
        kernel = keras.ops.convert_to_numpy(convs[name].layer.kernel)
        old = _old_kernel_projection(kernel, default.library, 0.5, bn_scale(convs[name]))
        np.testing.assert_array_equal(default.assignments[name], old)
        differs |= not np.array_equal(mask, block.masks[name])
    assert differs, "block connectivity chose the same kernels as per-kernel connectivity everywhere"


def test_cli_connectivity_flag(digits: keras.Model, tmp_path: Path) -> None:
    src = tmp_path / "digits.keras"
    digits.save(src)
    out = tmp_path / "p.keras"
    argv = ["prune", str(src), "-o", str(out), "--method", "magnitude", "--keep", "0.28", "--no-progress"]
    assert cli_main([*argv, "--connectivity", "block"]) == 0
    masks, _, keep = load_masks(tmp_path / "p.masks.npz")
    assert masks
    for name, mask in masks.items():
        i_ch = mask.shape[2]
        alive = mask.reshape(9, -1).any(axis=0).reshape(i_ch, -1)
        _assert_block_connectivity(np.where(alive, 0, PRUNED).astype(np.uint8), keep[name], name)
    with pytest.raises(SystemExit):
        cli_main([*argv, "--connectivity", "filter"])
    with pytest.raises(ConverterError, match="connectivity"):
        _prune(digits, 0.5, method="magnitude", connectivity="filter")
