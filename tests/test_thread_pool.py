"""The delegate's thread pool runs every task exactly once, job after job."""

from __future__ import annotations

import ctypes

import pytest

from patternlite.delegate import _library


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
def test_every_task_runs_once(threads: int) -> None:
    fn = _library().patternlite_selftest_thread_pool
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_int, ctypes.c_int]
    assert fn(threads, 3000) == 0
