#!/usr/bin/env bash
# Native leak and thread checks of the delegate (docs/delegate.md, "Native
# checks"): builds tests/native/lifecycle_check.cc together with the delegate's
# sources under LeakSanitizer (ASan's leak checker, with UBSan; build/lsan) and
# under ThreadSanitizer (build/tsan), and runs each. No Python, no TFLite.
#
#   tools/native_checks.sh              # both
#   tools/native_checks.sh tsan         # one of them (lsan, tsan)
#   LIFECYCLE_SCALE=0.2 tools/native_checks.sh   # fewer iterations
#
# Build parallelism follows CMAKE_BUILD_PARALLEL_LEVEL. Exits non-zero on any
# sanitizer report or check failure.
set -euo pipefail
cd "$(dirname "$0")/.."

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi
scale=${LIFECYCLE_SCALE:-1}

run_mode() {
  local mode=$1 sanitize
  case $mode in
    lsan) sanitize=address,undefined ;;
    tsan) sanitize=thread ;;
    *) echo "native_checks.sh: unknown mode '$mode' (lsan or tsan)" >&2; return 2 ;;
  esac
  local dir=build/$mode
  cmake -S . -B "$dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug \
    -DPATTERNLITE_SANITIZE="$sanitize" -DPATTERNLITE_NATIVE_CHECKS=ON >/dev/null
  cmake --build "$dir" --target lifecycle_check >/dev/null
  local start=$SECONDS log="$dir/lifecycle_check.log"
  # Any report aborts with a non-zero status: leaks (detect_leaks=1 is the
  # default on x86-64 Linux, set here to be explicit), races, UB.
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1 \
       LSAN_OPTIONS=report_objects=1 \
       UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
       TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
       "$dir/lifecycle_check" --scale="$scale" >"$log" 2>&1; then
    cat "$log" >&2
    echo "native_checks.sh: $mode FAILED (log: $log)" >&2
    return 1
  fi
  if grep -q "WARNING: ThreadSanitizer\|ERROR: LeakSanitizer\|ERROR: AddressSanitizer\|runtime error:" "$log"; then
    cat "$log" >&2
    echo "native_checks.sh: $mode reported a finding (log: $log)" >&2
    return 1
  fi
  sed "s/^/  /" "$log"
  echo "native_checks.sh: $mode clean ($((SECONDS - start)) s)"
}

modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(lsan tsan)
for mode in "${modes[@]}"; do run_mode "$mode"; done
