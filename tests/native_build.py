"""Builds a native test program from the delegate's sources with CMake (shared by the native tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def compiler() -> str | None:
    """The C++ compiler: $CXX when it exists, else the first of c++, g++, clang++."""
    cxx = os.environ.get("CXX")
    if cxx and shutil.which(cxx):
        return cxx
    return next((c for c in ("c++", "g++", "clang++") if shutil.which(c)), None)


def cmake_target(build: Path, option: str, target: str) -> Path:
    """Configures the repository with `-D<option>=ON`, builds `target` and returns the program.

    Skips the calling test when no C++ compiler or no cmake is installed.
    """
    cxx, cmake = compiler(), shutil.which("cmake")
    if cxx is None or cmake is None:
        pytest.skip("needs a C++ compiler and cmake")
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    env = dict(os.environ)
    env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
    configure = [
        cmake, "-S", str(REPO), "-B", str(build), *generator,
        "-DCMAKE_BUILD_TYPE=Release", f"-DCMAKE_CXX_COMPILER={cxx}", f"-D{option}=ON",
    ]  # fmt: skip
    for cmd in (configure, [cmake, "--build", str(build), "--target", target]):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return build / target
