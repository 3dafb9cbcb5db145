"""The delegate inside a long-running host: churn without leaks, concurrent interpreters, sharing.

What a host app may do, and what the delegate promises (docs/delegate.md, "Lifetime and threads"):
* create and destroy delegates and interpreters over and over: memory stays flat;
* run several interpreters, each with its own delegate, from several threads at once;
* apply one delegate to one interpreter after another;
* apply one delegate to two live interpreters and invoke them from two threads at once: supported.
  Each interpreter gets its own conv nodes (weights, workspace); the only shared state is the
  kernel thread pool, which serialises its jobs.
"""

from __future__ import annotations

import gc
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import patternlite

from conv_models import build_conv_model, metadata_for, pattern_pruned_filters
from runtimes import make_interpreter, max_scaled_error, run

LIBRARY = [0b000111010, 0b010110010, 0b010011010, 0b010111000]
# A per-cycle leak of the smallest thing the delegate allocates per node (its packed weights,
# ~32 KiB here) would add 28 MiB over 900 cycles; glibc and TFLite's own arenas settle within a
# few MiB after the warm-up. The bound sits between the two.
RSS_BOUND_MIB = 12.0


@pytest.fixture(scope="module")
def model() -> bytes:
    rng = np.random.default_rng(0)
    w, ids = pattern_pruned_filters(rng, 64, 64, LIBRARY, keep=0.5)
    bias = rng.standard_normal(64).astype(np.float32)
    return build_conv_model((1, 16, 16, 64), w, bias, activation="RELU", metadata=metadata_for(LIBRARY, ids, 0.5))


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return np.random.default_rng(1).standard_normal((1, 16, 16, 64)).astype(np.float32)


@pytest.fixture(scope="module")
def reference(model: bytes, x: np.ndarray) -> np.ndarray:
    return run(model, x, reference=True)[0]


def _invoke(interp: Any, x: np.ndarray) -> np.ndarray:
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return np.asarray(interp.get_tensor(interp.get_output_details()[0]["index"])).copy()


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_a_thousand_create_invoke_destroy_cycles_keep_memory_flat(
    model: bytes, x: np.ndarray, reference: np.ndarray
) -> None:
    def cycle(threads: int) -> np.ndarray:
        delegate = patternlite.load_delegate(num_threads=threads)
        interp = make_interpreter(model, delegate=delegate, threads=threads)
        interp.allocate_tensors()
        out = _invoke(interp, x)
        claimed = len(delegate.stats()["claimed"])
        del interp
        delegate.close()
        assert claimed == 1
        return out

    for i in range(100):  # warm-up: arenas, caches, the first pool threads
        cycle(1 + i % 2)
    gc.collect()
    start = _rss_mib()
    for i in range(900):
        out = cycle(1 + i % 2)
    gc.collect()
    growth = _rss_mib() - start
    assert max_scaled_error(out, reference) <= 1e-4
    assert growth < RSS_BOUND_MIB, f"RSS grew {growth:.1f} MiB over 900 cycles"
    print(f"RSS growth over 900 cycles after 100 of warm-up: {growth:.2f} MiB (bound {RSS_BOUND_MIB})")


def _hammer(interps: list[Any], x: np.ndarray, reference: np.ndarray, invokes: int) -> list[float]:
    """Invoke each interpreter ``invokes`` times from its own thread, all at once; the worst errors."""
    errors = [0.0] * len(interps)
    failures: list[BaseException] = []
    barrier = threading.Barrier(len(interps))

    def work(k: int) -> None:
        try:
            barrier.wait()
            for _ in range(invokes):
                errors[k] = max(errors[k], max_scaled_error(_invoke(interps[k], x), reference))
        except BaseException as exc:  # noqa: BLE001  # re-raised in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(interps))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]
    return errors


def test_interpreters_with_their_own_delegates_run_concurrently(
    model: bytes, x: np.ndarray, reference: np.ndarray
) -> None:
    delegates = [patternlite.load_delegate(num_threads=1 + k % 2) for k in range(4)]
    interps = [make_interpreter(model, delegate=d, threads=1 + k % 2) for k, d in enumerate(delegates)]
    for it in interps:
        it.allocate_tensors()
    errors = _hammer(interps, x, reference, invokes=50)
    assert max(errors) <= 1e-4, errors
    assert all(len(d.stats()["claimed"]) == 1 for d in delegates)
    print(f"4 interpreters x 50 concurrent invokes, worst scaled error {max(errors):.2e}")


def test_one_delegate_serves_interpreters_one_after_another(model: bytes, x: np.ndarray, reference: np.ndarray) -> None:
    delegate = patternlite.load_delegate(num_threads=2)
    for _ in range(3):
        interp = make_interpreter(model, delegate=delegate, threads=2)
        interp.allocate_tensors()
        assert max_scaled_error(_invoke(interp, x), reference) <= 1e-4
        del interp
        gc.collect()
    assert len(delegate.stats()["claimed"]) >= 1


@pytest.mark.parametrize("threads", [1, 2])
def test_one_delegate_shared_by_two_live_interpreters_invoked_concurrently(
    model: bytes, x: np.ndarray, reference: np.ndarray, threads: int
) -> None:
    delegate = patternlite.load_delegate(num_threads=threads)
    interps = [make_interpreter(model, delegate=delegate, threads=threads) for _ in range(2)]
    for it in interps:
        it.allocate_tensors()
    errors = _hammer(interps, x, reference, invokes=100)
    assert max(errors) <= 1e-4, errors
    # Both interpreters' nodes are claimed and counted.
    assert len(delegate.stats()["claimed"]) == 2


def test_interpreters_built_concurrently_with_one_delegate(model: bytes, x: np.ndarray, reference: np.ndarray) -> None:
    """Construction (where the delegate prepares and packs) from several threads at once."""
    delegate = patternlite.load_delegate(num_threads=2)
    built: list[Any] = [None] * 4
    failures: list[BaseException] = []

    def build(k: int) -> None:
        try:
            interp = make_interpreter(model, delegate=delegate, threads=2)
            interp.allocate_tensors()
            built[k] = interp
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    threads = [threading.Thread(target=build, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    errors = _hammer(built, x, reference, invokes=20)
    assert max(errors) <= 1e-4


def test_the_rss_bound_is_documented() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "delegate.md").read_text()
    assert "Lifetime and threads" in doc and f"{RSS_BOUND_MIB:g} MiB" in doc
