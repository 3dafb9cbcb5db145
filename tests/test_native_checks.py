"""The native lifetime and thread checks (tests/native/lifecycle_check.cc), plain build.

The driver compiles the delegate's sources into one program and drives them
without Python or TFLite: plugin create/destroy with good and bad options, a
fake host running the whole delegate-kernel lifetime, the direct conv entry on
every ISA against the scalar kernel, concurrent ParallelFor callers, pool
create/destroy cycles and convs from several threads at once. CI also runs it
under LeakSanitizer and ThreadSanitizer (tools/native_checks.sh).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from native_build import cmake_target

pytestmark = pytest.mark.slow  # one CMake build of the delegate's sources


def test_lifecycle_check_passes(tmp_path: Path) -> None:
    program = cmake_target(tmp_path / "build", "PATTERNLITE_NATIVE_CHECKS", "lifecycle_check")
    run = subprocess.run([str(program)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "lifecycle_check: all checks passed" in run.stdout
    assert "FAIL" not in run.stdout
