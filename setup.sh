#!/usr/bin/env bash
# Installs patternlite and everything its demo, tests and builds need.
#
#   ./setup.sh            # .venv with patternlite[converter,test], plus .venv-tflrt
#   PATTERNLITE_EDITABLE=1 ./setup.sh   # editable install for development
#   PATTERNLITE_BAZEL=0 ./setup.sh      # without Bazel (optional, for the Bazel build)
#
# Two virtual environments, because tflite-runtime 2.14 (the last release)
# needs numpy<2 while TensorFlow 2.21 needs numpy>=2:
#   .venv        TensorFlow 2.21, ai-edge-litert, the converter, the tests
#   .venv-tflrt  tflite-runtime 2.14 + numpy<2, used by the cross-runtime tests
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}

need_cmd() { command -v "$1" >/dev/null 2>&1; }
if ! need_cmd g++ || ! need_cmd cmake; then
  # The delegate is C++17 built with CMake; Debian packages provide both.
  if need_cmd apt-get && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && apt-get install -y -qq g++ cmake ninja-build >/dev/null
  else
    echo "setup.sh: g++ and cmake are required to build the delegate" >&2
    exit 1
  fi
fi

# Optional: an arm64 cross compiler and qemu-user let the tests run the NEON
# kernel under emulation (tests/test_neon_emulated.py); skipped when missing.
if ! need_cmd aarch64-linux-gnu-g++ || ! need_cmd qemu-aarch64; then
  if need_cmd apt-get && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq g++-aarch64-linux-gnu qemu-user >/dev/null) ||
      echo "setup.sh: no arm64 cross toolchain; the NEON emulation test will be skipped" >&2
  fi
fi

# Optional: an OpenCL ICD loader and PoCL (OpenCL on the CPU) for the
# delegate's OpenCL backend; its tests (tests/test_opencl_backend.py) run on
# PoCL and skip without an OpenCL device. The delegate itself loads OpenCL at
# run time and needs neither to build. PATTERNLITE_OPENCL=0 skips them.
if [ "${PATTERNLITE_OPENCL:-1}" = 1 ] && ! { need_cmd clinfo && clinfo -l 2>/dev/null | grep -q "Device #"; }; then
  if need_cmd apt-get && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq ocl-icd-libopencl1 pocl-opencl-icd clinfo >/dev/null) ||
      echo "setup.sh: no PoCL; the OpenCL backend's tests will be skipped" >&2
  fi
fi

# Optional: Bazel for the Bazel build of the delegate (BUILD, docs/building.md);
# Debian's bazel-bootstrap (4.2) builds it offline. CI builds and tests with it
# when it is installed; the pip build does not need it. PATTERNLITE_BAZEL=0 skips it.
if [ "${PATTERNLITE_BAZEL:-1}" = 1 ] && ! need_cmd bazel; then
  if need_cmd apt-get && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq bazel-bootstrap >/dev/null) ||
      echo "setup.sh: no bazel-bootstrap; the Bazel build will be skipped" >&2
  fi
fi

# Optional: clang and libFuzzer for the C++ fuzz harnesses (tools/fuzz.sh,
# docs/fuzzing.md); CI runs them briefly when clang can link libFuzzer.
# libfuzzer-N-dev must match clang's major version. PATTERNLITE_FUZZ=0 skips them.
if [ "${PATTERNLITE_FUZZ:-1}" = 1 ] && ! tools/fuzz.sh check; then
  if need_cmd apt-get && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq clang >/dev/null &&
      clang_major=$(clang++ --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1) &&
      apt-get install -y -qq "libfuzzer-$clang_major-dev" >/dev/null && tools/fuzz.sh check) ||
      echo "setup.sh: no clang/libFuzzer; the C++ fuzz harnesses will be skipped" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ "${PATTERNLITE_EDITABLE:-0}" = 1 ]; then
  .venv/bin/python -m pip install -q -e ".[converter,test]"
else
  .venv/bin/python -m pip install -q ".[converter,test]"
fi

# Optional: atheris, for the fuzz harness of the Python .tflite reader (the
# "fuzz" extra; tools/fuzz.sh). It ships wheels for common CPython versions
# only; where it does not install, that harness is skipped with a message.
.venv/bin/python -m pip install -q "atheris>=2.3" ||
  echo "setup.sh: atheris did not install; the Python fuzz harness will be skipped" >&2

[ -x .venv-tflrt/bin/python ] || "$PYTHON" -m venv .venv-tflrt
.venv-tflrt/bin/python -m pip install -q "numpy<2" "tflite-runtime==2.14.0"

echo "setup.sh: done. Try: .venv/bin/patternlite demo   or   .venv/bin/python -m pytest"
