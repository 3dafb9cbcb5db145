"""The native lifetime and thread checks (tests/native/lifecycle_check.cc), plain build.

The driver compiles the delegate's sources into one program and drives them
without Python or TFLite: plugin create/destroy with good and bad options, a
fake host running the whole delegate-kernel lifetime, the direct conv entry on
every ISA against the scalar kernel, concurrent ParallelFor callers, pool
create/destroy cycles and convs from several threads at once. CI also runs it
under LeakSanitizer and ThreadSanitizer (tools/native_checks.sh).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow  # one CMake build of the delegate's sources


def _compiler() -> str | None:
    cxx = os.environ.get("CXX")
    if cxx and shutil.which(cxx):
        return cxx
    return next((c for c in ("c++", "g++", "clang++") if shutil.which(c)), None)


def test_lifecycle_check_passes(tmp_path: Path) -> None:
    cxx, cmake = _compiler(), shutil.which("cmake")
    if cxx is None or cmake is None:
        pytest.skip("needs a C++ compiler and cmake")
    build = tmp_path / "build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    env = dict(os.environ)
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
    configure = [
        cmake, "-S", str(REPO), "-B", str(build), *generator,
        "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_CXX_COMPILER={cxx}", "-DPATTERNLITE_NATIVE_CHECKS=ON",
    ]  # fmt: skip
    for cmd in (configure, [cmake, "--build", str(build), "--target", "lifecycle_check"]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    run = subprocess.run([str(build / "lifecycle_check")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "lifecycle_check: all checks passed" in run.stdout
    assert "FAIL" not in run.stdout
