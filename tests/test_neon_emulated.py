"""The arm64 NEON kernel against the scalar reference, under qemu-user.

CI runs on x86-64, so the NEON kernel is cross-compiled (aarch64-linux-gnu-g++)
into a static test program with the whole delegate and run under
qemu-aarch64. `./setup.sh --dev` installs both tools from Debian when it can.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from dev_tools import skip_without_dev_tool

REPO = Path(__file__).resolve().parent.parent
SOURCES = [
    "tests/native/neon_check.cc",
    *sorted(str(p.relative_to(REPO)) for p in (REPO / "delegate").rglob("*.cc") if "avx" not in p.name),
]


def test_neon_kernel_matches_scalar_under_emulation(tmp_path: Path) -> None:
    cxx, qemu = shutil.which("aarch64-linux-gnu-g++"), shutil.which("qemu-aarch64")
    if cxx is None or qemu is None:
        skip_without_dev_tool("needs aarch64-linux-gnu-g++ and qemu-aarch64")
    exe = tmp_path / "neon_check"
    build = [
        cxx,
        "-std=c++17",
        "-O2",
        "-static",
        "-DPL_HAVE_NEON=1",
        "-I",
        str(REPO),
        *SOURCES,
        "-lpthread",
        "-o",
        str(exe),
    ]
    subprocess.run(build, cwd=REPO, check=True, capture_output=True, timeout=600)
    run = subprocess.run([qemu, str(exe)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "max scaled error" in run.stdout
    assert "1x1 and depthwise" in run.stdout, run.stdout


def test_int8_sdot_kernel_is_bit_exact_under_emulation(tmp_path: Path) -> None:
    """The int8 sweep (tests/native/int8_kernel_tests.cc) on arm64: NEON sdot against both oracles, bit-exact.

    qemu's "max" CPU model has dotprod (HWCAP_ASIMDDP), so the sdot variant runs.
    """
    cxx, qemu = shutil.which("aarch64-linux-gnu-g++"), shutil.which("qemu-aarch64")
    if cxx is None or qemu is None:
        skip_without_dev_tool("needs aarch64-linux-gnu-g++ and qemu-aarch64")
    exe = tmp_path / "int8_kernel_tests"
    sources = ["tests/native/int8_kernel_tests.cc", *SOURCES[1:]]
    build = [cxx, "-std=c++17", "-O2", "-static", "-DPL_HAVE_NEON=1", "-I", str(REPO), *sources, "-lpthread"]
    subprocess.run([*build, "-o", str(exe)], cwd=REPO, check=True, capture_output=True, timeout=600)
    run = subprocess.run(
        [qemu, "-cpu", "max", str(exe), "scalar", "neondot"], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "neondot    conv3x3" in run.stdout and "all passed (bit-exact)" in run.stdout, run.stdout


def test_int8_block_sdot_kernels_are_bit_exact_under_emulation(tmp_path: Path) -> None:
    """The int8 1x1/depthwise sweep (tests/native/int8_block_kernel_tests.cc) on arm64: NEON sdot, bit-exact."""
    cxx, qemu = shutil.which("aarch64-linux-gnu-g++"), shutil.which("qemu-aarch64")
    if cxx is None or qemu is None:
        skip_without_dev_tool("needs aarch64-linux-gnu-g++ and qemu-aarch64")
    exe = tmp_path / "int8_block_kernel_tests"
    sources = ["tests/native/int8_block_kernel_tests.cc", *SOURCES[1:]]
    build = [cxx, "-std=c++17", "-O2", "-static", "-DPL_HAVE_NEON=1", "-I", str(REPO), *sources, "-lpthread"]
    subprocess.run([*build, "-o", str(exe)], cwd=REPO, check=True, capture_output=True, timeout=600)
    run = subprocess.run(
        [qemu, "-cpu", "max", str(exe), "scalar", "neondot"], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "neondot    pointwise" in run.stdout and "all passed (bit-exact)" in run.stdout, run.stdout
