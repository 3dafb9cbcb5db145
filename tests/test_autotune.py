"""Per-layer auto-tuning: the tuned plan changes only the work split, never a bit of the output."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import patternlite

from conv_models import build_conv_model, metadata_for, pattern_pruned_filters
from runtimes import make_interpreter, max_scaled_error, run

LIBRARY = [0b000111010, 0b010110010, 0b010011010, 0b010111000, 0b100110010, 0b001011010]
# Enough invocations for every candidate (2 thread counts x up to 4 filter blocks,
# plus one row split per thread) to run PlanTuner::kRuns (3) times.
TUNING_RUNS = (2 * 4 + 1) * 3


def _model(in_c: int, out_c: int, hw: int, stride: int, keep: float) -> bytes:
    rng = np.random.default_rng(in_c * 1000 + out_c)
    w, ids = pattern_pruned_filters(rng, out_c, in_c, LIBRARY, keep)
    bias = rng.standard_normal(out_c).astype(np.float32)
    return build_conv_model(
        (1, hw, hw, in_c),
        w,
        bias,
        stride=(stride, stride),
        activation="RELU",
        metadata=metadata_for(LIBRARY, ids, keep),
    )


def _invoke_many(interp: Any, x: np.ndarray, n: int) -> list[np.ndarray]:
    idx = interp.get_input_details()[0]["index"]
    out_idx = interp.get_output_details()[0]["index"]
    outs = []
    for _ in range(n):
        interp.set_tensor(idx, x)
        interp.invoke()
        outs.append(interp.get_tensor(out_idx).copy())
    return outs


# Narrow (7x7) and wide (28x28) layouts, stride 1 and 2, 300 filters so that
# filter blocks of 32-256 and 64-512 are all distinct candidates.
@pytest.mark.parametrize(("in_c", "out_c", "hw", "stride"), [(32, 300, 28, 1), (48, 300, 7, 1), (32, 64, 30, 2)])
def test_tuned_output_is_bit_identical_to_the_fixed_plan(in_c: int, out_c: int, hw: int, stride: int) -> None:
    model = _model(in_c, out_c, hw, stride, keep=0.5)
    x = np.random.default_rng(3).standard_normal((1, hw, hw, in_c)).astype(np.float32)
    fixed = patternlite.load_delegate(autotune=False)
    ref, _ = run(model, x, delegate=fixed, threads=2)
    plan = fixed.stats()["claimed"][0]["plan"]
    assert plan["tuned"] is False

    tuned = patternlite.load_delegate(autotune=True)
    interp = make_interpreter(model, delegate=tuned, threads=2)
    interp.allocate_tensors()
    outs = _invoke_many(interp, x, TUNING_RUNS + 2)
    for out in outs:  # during tuning (every candidate) and after it
        np.testing.assert_array_equal(out, ref)
    claim = tuned.stats()["claimed"][0]
    assert claim["plan"]["tuned"] is True
    assert claim["plan"]["threads"] in (1, 2)
    assert claim["invocations"] == TUNING_RUNS + 2
    builtin, _ = run(model, x, reference=True)
    assert max_scaled_error(outs[-1], builtin) <= 1e-4


def test_a_second_interpreter_starts_with_the_tuned_plan() -> None:
    model = _model(32, 96, 20, 1, keep=0.5)
    x = np.random.default_rng(4).standard_normal((1, 20, 20, 32)).astype(np.float32)
    delegate = patternlite.load_delegate()  # autotune is on by default
    first = make_interpreter(model, delegate=delegate, threads=2)
    first.allocate_tensors()
    _invoke_many(first, x, TUNING_RUNS)
    chosen = delegate.stats()["claimed"][0]["plan"]
    assert chosen["tuned"] is True

    second = make_interpreter(model, delegate=delegate, threads=2)
    second.allocate_tensors()
    _invoke_many(second, x, 1)
    plans = [c["plan"] for c in delegate.stats()["claimed"]]
    assert len(plans) == 2
    assert all(p == chosen for p in plans)


def test_autotune_off_keeps_the_heuristic_plan() -> None:
    model = _model(16, 16, 8, 1, keep=1.0)  # tiny: the heuristic runs it on one thread
    x = np.random.default_rng(5).standard_normal((1, 8, 8, 16)).astype(np.float32)
    delegate = patternlite.load_delegate(autotune=False)
    interp = make_interpreter(model, delegate=delegate, threads=2)
    interp.allocate_tensors()
    _invoke_many(interp, x, TUNING_RUNS)
    plan = delegate.stats()["claimed"][0]["plan"]
    assert plan == {"threads": 1, "filter_block": plan["filter_block"], "row_blocks": 1, "tuned": False}
    assert delegate.stats()["options"]["autotune"] is False


@pytest.mark.parametrize("value", [2, -1, "yes"])
def test_bad_autotune_value(value: object) -> None:
    with pytest.raises(ValueError, match=r"autotune must be an integer in \[0, 1\]"):
        patternlite.load_delegate(autotune=value)
