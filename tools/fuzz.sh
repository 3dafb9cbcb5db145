#!/usr/bin/env bash
# Fuzzing (docs/fuzzing.md): builds the libFuzzer harnesses of tests/fuzz with
# clang, AddressSanitizer and UBSan into build/fuzz, and runs them and the
# atheris harness of the Python reader.
#
#   tools/fuzz.sh                     # short mode (CI): each harness FUZZ_SECONDS (25) seconds
#   tools/fuzz.sh long                # long mode: each harness FUZZ_RUNS (1,000,000) executions
#   tools/fuzz.sh short conv_path     # some harnesses only
#   tools/fuzz.sh build               # build only
#   tools/fuzz.sh check               # exit 0 when clang can link libFuzzer, 1 when not
#
# Harnesses: metadata_reader (tests/fuzz/metadata_reader_fuzz.cc), conv_path
# (tests/fuzz/conv_path_fuzz.cc), block_path (tests/fuzz/block_path_fuzz.cc: 1x1 and
# depthwise), tflite_reader (tests/fuzz/tflite_reader_fuzz.py,
# atheris in .venv; skipped with a message when atheris is missing).
#
# The committed seeds, tests/fuzz/corpus/<harness>, are read and never
# written: new inputs go to build/fuzz/corpus/<harness> (kept between runs),
# crashing inputs to build/fuzz/artifacts/<harness>/, logs to
# build/fuzz/logs/<harness>.log. FUZZ_FLAGS adds libFuzzer flags. Build
# parallelism follows CMAKE_BUILD_PARALLEL_LEVEL. Exits non-zero on any crash,
# sanitizer report or failed harness check, naming the saved input.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-short}
[ $# -gt 0 ] && shift
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(metadata_reader conv_path block_path tflite_reader)
seconds=${FUZZ_SECONDS:-25}
runs=${FUZZ_RUNS:-1000000}
CXX=${FUZZ_CXX:-clang++}
PYTHON=${PYTHON:-.venv/bin/python}
dir=build/fuzz

toolchain_ok() {
  command -v "$CXX" >/dev/null 2>&1 || return 1
  local probe
  probe=$(mktemp -d)
  printf '%s\n' '#include <cstdint>' '#include <cstddef>' \
    'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' >"$probe/p.cc"
  local rc=0
  "$CXX" -fsanitize=fuzzer,address,undefined "$probe/p.cc" -o "$probe/p" >/dev/null 2>&1 || rc=1
  rm -rf "$probe"
  return $rc
}

build() {
  if ! toolchain_ok; then
    echo "fuzz.sh: $CXX cannot link -fsanitize=fuzzer (install clang and libfuzzer-<version>-dev; setup.sh does)" >&2
    return 1
  fi
  local generator=()
  if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
  cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_COMPILER="$CXX" \
    -DPATTERNLITE_FUZZ=ON -DPATTERNLITE_SANITIZE=fuzzer-no-link,address,undefined >/dev/null
  cmake --build "$dir" --target metadata_reader_fuzz conv_path_fuzz block_path_fuzz >/dev/null
}

# Runs one harness; $@ are the mode's libFuzzer flags.
run_harness() {
  local h=$1 cmd
  shift
  local corpus=$dir/corpus/$h artifacts=$dir/artifacts/$h log=$dir/logs/$h.log
  mkdir -p "$corpus" "$artifacts" "$dir/logs"
  local dict=()
  [ -f "tests/fuzz/$h.dict" ] && dict=(-dict="tests/fuzz/$h.dict")
  case $h in
    metadata_reader|conv_path|block_path) cmd=("$dir/${h}_fuzz") ;;
    tflite_reader)
      if ! "$PYTHON" -c "import atheris" >/dev/null 2>&1; then
        echo "fuzz.sh: $h skipped: atheris is not installed in $PYTHON (pip install atheris)"
        return 0
      fi
      cmd=("$PYTHON" tests/fuzz/tflite_reader_fuzz.py) ;;
    *) echo "fuzz.sh: unknown harness '$h' (metadata_reader, conv_path, block_path, tflite_reader)" >&2; return 2 ;;
  esac
  local start=$SECONDS
  # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
  if ! ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
       "${cmd[@]}" "$@" "${dict[@]}" -print_final_stats=1 -timeout=30 -artifact_prefix="$artifacts/" \
       ${FUZZ_FLAGS:-} "$corpus" "tests/fuzz/corpus/$h" >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz.sh: $h FAILED after $((SECONDS - start)) s (log: $log; inputs: $artifacts/)" >&2
    return 1
  fi
  # libFuzzer's summary: executions, coverage (cov: edges, ft: features), corpus.
  local done_line execs
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  echo "fuzz.sh: $h clean: ${execs:-?} executions in $((SECONDS - start)) s; ${done_line:-no summary line}"
}

case $mode in
  check) toolchain_ok; exit $? ;;
  build) build; exit $? ;;
  short) flags=(-max_total_time="$seconds") ;;
  long) flags=(-runs="$runs") ;;
  *) echo "usage: tools/fuzz.sh [short|long|build|check] [harness...]" >&2; exit 2 ;;
esac

needs_build=0
for h in "${harnesses[@]}"; do
  case $h in metadata_reader|conv_path|block_path) needs_build=1 ;; esac
done
[ $needs_build = 0 ] || build
for h in "${harnesses[@]}"; do run_harness "$h" "${flags[@]}"; done
