"""Tests that need the developer tools (``./setup.sh --dev``): skip without them, fail in CI.

A user's ``./setup.sh`` leaves out the arm64 cross toolchain and qemu, the
tflite-runtime venv, PoCL, Bazel and clang/libFuzzer, so the tests that need
them skip with a one-line reason. ``.ci/run`` installs them with
``./setup.sh --dev`` and sets ``PATTERNLITE_REQUIRE_DEV=1``, which turns those
skips into failures: CI cannot pass by silently skipping them. (``CI`` set to
anything non-empty does the same, as the hosted CI services set it.)
"""

from __future__ import annotations

import os

import pytest


def dev_tools_required() -> bool:
    """Whether a missing developer tool is a failure (CI) rather than a reason to skip."""
    return os.environ.get("PATTERNLITE_REQUIRE_DEV") == "1" or bool(os.environ.get("CI"))


def skip_without_dev_tool(reason: str) -> None:
    """Skip with ``reason`` (one line, naming what is missing), or fail where the tools are required."""
    message = f"{reason} (./setup.sh --dev installs it)"
    if dev_tools_required():
        pytest.fail(f"PATTERNLITE_REQUIRE_DEV: {message}")
    pytest.skip(message)
