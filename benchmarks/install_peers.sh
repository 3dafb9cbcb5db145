#!/usr/bin/env bash
# Create one venv per dense peer under benchmarks/.venvs/<peer>.
# The peers pin numpy/protobuf/ffi versions that clash with the main venv
# (tensorflow 2.21), so each gets its own interpreter and talks to the harness
# through benchmarks/peers/worker.py (files in, JSON out).
#
# Usage: bash benchmarks/install_peers.sh [mnn] [ncnn] [onnx] [tvm] [deepsparse]   (default: all)
# Env:   PYTHON=/path/to/python3.10+ (default: the main .venv's interpreter)
#        DEEPSPARSE_PYTHON=/path/to/python3.10 or 3.11 (default: PYTHON if it is < 3.12, else python3.11)
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
VENVS=benchmarks/.venvs
mkdir -p "$VENVS"
peers=("$@")
[ ${#peers[@]} -eq 0 ] && peers=(mnn ncnn onnx tvm deepsparse)

mkvenv() {  # mkvenv NAME [PYTHON] -> a venv under $VENVS with an up-to-date pip
  local d="$VENVS/$1" py="${2:-$PY}"
  [ -x "$d/bin/python" ] || "$py" -m venv "$d" || return 1
  "$d/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
}

status=0
for p in "${peers[@]}"; do
  echo "== $p"
  case "$p" in
    mnn)
      # MNN's console scripts (mnnconvert, ...) pip-install things and send
      # telemetry; the worker only ever calls the Python module, never them.
      mkvenv mnn && "$VENVS/mnn/bin/pip" install -q "mnn==3.6.1" "numpy<3" || status=1 ;;
    ncnn)
      # pnnx would pull a multi-GB torch: --no-deps, we only use its converter binary.
      mkvenv ncnn && "$VENVS/ncnn/bin/pip" install -q "ncnn==1.0.20261020" "numpy<3" "onnx" \
        && "$VENVS/ncnn/bin/pip" install -q --no-deps "pnnx==20261020" || status=1 ;;
    onnx)
      # tf2onnx converts the very same .tflite the other peers read (--tflite),
      # then onnxruntime runs it; ncnn's pnnx also starts from this ONNX file.
      mkvenv onnx && "$VENVS/onnx/bin/pip" install -q "onnxruntime==1.32.0" "onnx" "tf2onnx==1.17.0" \
        "tensorflow-cpu==2.21.0" || status=1 ;;
    tvm)
      # apache-tvm-ffi 0.1.15 segfaults in meta-schedule: pin 0.1.14.
      # psutil/cloudpickle/xgboost are needed by tuning; tflite gives the frontend its flatbuffer bindings.
      mkvenv tvm && "$VENVS/tvm/bin/pip" install -q "apache-tvm==0.27.0.post1" "apache-tvm-ffi==0.1.14.post1" \
        "numpy<3" tflite psutil cloudpickle xgboost || status=1 ;;
    deepsparse)
      # deepsparse 1.8.0 is the last release with wheels (1.9.0 is an end-of-life sdist that
      # refuses to build); it needs Python < 3.12 and pins an old onnx, hence its own venv.
      # It reads the ONNX files the onnx peer's tf2onnx writes (and runs that venv to convert
      # the pruned models), so it needs `onnx` installed too.  NM_DISABLE_ANALYTICS=1: it
      # sends usage analytics on import otherwise (the harness sets it for every worker).
      dspy=${DEEPSPARSE_PYTHON:-}
      if [ -z "$dspy" ]; then
        if "$PY" -c 'import sys; sys.exit(sys.version_info >= (3, 12))' 2>/dev/null; then dspy=$PY; else dspy=python3.11; fi
      fi
      mkvenv deepsparse "$dspy" && "$VENVS/deepsparse/bin/pip" install -q "deepsparse==1.8.0" \
        && NM_DISABLE_ANALYTICS=1 "$VENVS/deepsparse/bin/python" -c "import deepsparse; print('deepsparse', deepsparse.__version__)" \
        || status=1 ;;
    *) echo "unknown peer $p"; status=1 ;;
  esac
done
exit $status
