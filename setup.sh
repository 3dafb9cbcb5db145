#!/usr/bin/env bash
# Installs patternlite: what the demo and the test suite need, or (--dev) the
# developer tools too.
#
#   ./setup.sh          # .venv with patternlite[converter,test]; g++ and cmake if missing
#   ./setup.sh --dev    # also: .venv-tflrt, arm64 cross toolchain + qemu, PoCL,
#                       # Bazel, clang/libFuzzer, atheris (what .ci/run uses)
#   PATTERNLITE_EDITABLE=1 ./setup.sh   # editable install for development
#   PATTERNLITE_REBUILD=1 ./setup.sh    # rebuild the wheel even when the sources did not change
#
# With --dev, PATTERNLITE_OPENCL=0, PATTERNLITE_BAZEL=0 and PATTERNLITE_FUZZ=0
# leave out PoCL, Bazel and clang/libFuzzer. Without the developer tools their
# tests skip with a one-line reason (PATTERNLITE_REQUIRE_DEV=1 makes them fail).
#
# Two virtual environments with --dev, because tflite-runtime 2.14 (the last
# release) needs numpy<2 while TensorFlow 2.21 needs numpy>=2:
#   .venv        TensorFlow 2.21, ai-edge-litert, the converter, the tests
#   .venv-tflrt  tflite-runtime 2.14 + numpy<2, used by the cross-runtime tests
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}

DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (try --dev or --help)" >&2; exit 2 ;;
  esac
done

need_cmd() { command -v "$1" >/dev/null 2>&1; }
can_apt() { need_cmd apt-get && [ "$(id -u)" = 0 ]; }
apt_updated=0
apt_install() {  # quietly; one `apt-get update` per run
  if [ "$apt_updated" = 0 ]; then apt-get update -qq && apt_updated=1; fi
  apt-get install -y -qq "$@" >/dev/null
}

if ! need_cmd g++ || ! need_cmd cmake; then
  # The delegate is C++17 built with CMake; Debian packages provide both.
  if can_apt; then
    apt_install g++ cmake ninja-build
  else
    echo "setup.sh: g++ and cmake are required to build the delegate" >&2
    exit 1
  fi
fi

if [ "$DEV" = 1 ]; then
  # An arm64 cross compiler and qemu-user run the NEON kernel under emulation
  # (tests/test_neon_emulated.py).
  if ! need_cmd aarch64-linux-gnu-g++ || ! need_cmd qemu-aarch64; then
    if can_apt; then
      apt_install g++-aarch64-linux-gnu qemu-user ||
        echo "setup.sh: no arm64 cross toolchain; the NEON emulation test will be skipped" >&2
    fi
  fi

  # An OpenCL ICD loader and PoCL (OpenCL on the CPU) for the delegate's OpenCL
  # backend; its tests (tests/test_opencl_backend.py) run on PoCL. The delegate
  # itself loads OpenCL at run time and needs neither to build.
  if [ "${PATTERNLITE_OPENCL:-1}" = 1 ] && ! { need_cmd clinfo && clinfo -l 2>/dev/null | grep -q "Device #"; }; then
    if can_apt; then
      apt_install ocl-icd-libopencl1 pocl-opencl-icd clinfo ||
        echo "setup.sh: no PoCL; the OpenCL backend's tests will be skipped" >&2
    fi
  fi

  # Bazel for the Bazel build of the delegate (BUILD, docs/building.md);
  # Debian's bazel-bootstrap (4.2, with a JDK) builds it offline.
  if [ "${PATTERNLITE_BAZEL:-1}" = 1 ] && ! need_cmd bazel; then
    if can_apt; then
      apt_install bazel-bootstrap || echo "setup.sh: no bazel-bootstrap; the Bazel build will be skipped" >&2
    fi
  fi

  # clang and libFuzzer for the C++ fuzz harnesses (tools/fuzz.sh, docs/fuzzing.md);
  # libfuzzer-N-dev must match clang's major version.
  if [ "${PATTERNLITE_FUZZ:-1}" = 1 ] && ! tools/fuzz.sh check; then
    if can_apt; then
      (apt_install clang &&
        clang_major=$(clang++ --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -n 1) &&
        apt_install "libfuzzer-$clang_major-dev" && tools/fuzz.sh check) ||
        echo "setup.sh: no clang/libFuzzer; the C++ fuzz harnesses will be skipped" >&2
    fi
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

# The wheel build (the delegate's C++ with CMake) takes minutes: skip it when
# nothing it is made from changed since the last install into this .venv.
sources_hash() {
  {
    git ls-files -s -- delegate python spec third_party CMakeLists.txt pyproject.toml 2>/dev/null || true
    git diff --no-ext-diff -- delegate python spec third_party CMakeLists.txt pyproject.toml 2>/dev/null || true
    git ls-files --others --exclude-standard -- delegate python spec 2>/dev/null | xargs -r sha1sum
    echo "editable=${PATTERNLITE_EDITABLE:-0} python=$(.venv/bin/python -V 2>&1)"
  } | sha1sum | cut -d' ' -f1
}
stamp=.venv/.patternlite-install-stamp
want=$(sources_hash)
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  want="no-git-$RANDOM$RANDOM"  # outside a git checkout, no reliable hash: always install
fi
if [ "${PATTERNLITE_REBUILD:-0}" != 1 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
  .venv/bin/python -c "import patternlite.delegate" >/dev/null 2>&1; then
  echo "setup.sh: patternlite is up to date in .venv (sources unchanged; PATTERNLITE_REBUILD=1 rebuilds)"
else
  rm -f "$stamp"
  .venv/bin/python -m pip install -q --upgrade pip
  if [ "${PATTERNLITE_EDITABLE:-0}" = 1 ]; then
    .venv/bin/python -m pip install -q -e ".[converter,test]"
  else
    .venv/bin/python -m pip install -q ".[converter,test]"
  fi
  echo "$want" >"$stamp"
fi

if [ "$DEV" = 1 ]; then
  # atheris, for the fuzz harness of the Python .tflite reader (the "fuzz"
  # extra; tools/fuzz.sh). It ships wheels for common CPython versions only;
  # where it does not install, that harness is skipped with a message.
  .venv/bin/python -m pip install -q "atheris>=2.3" ||
    echo "setup.sh: atheris did not install; the Python fuzz harness will be skipped" >&2

  [ -x .venv-tflrt/bin/python ] || "$PYTHON" -m venv .venv-tflrt
  .venv-tflrt/bin/python -m pip install -q "numpy<2" "tflite-runtime==2.14.0"
fi

echo "setup.sh: done. Try: .venv/bin/patternlite demo   or   .venv/bin/python -m pytest"
