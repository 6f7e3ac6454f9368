#!/usr/bin/env bash
# Sets up the machine (Debian packages), builds Pagoda twice — a normal build
# and one with AddressSanitizer + UndefinedBehaviorSanitizer — and runs the
# whole test suite (unit + integration) in both.
#
#   sbin/run-tests.sh            # everything
#   SKIP_SANITIZE=1 sbin/run-tests.sh   # only the normal build
#   CTEST_ARGS="-R integration" sbin/run-tests.sh
set -euo pipefail
cd "$(dirname "$0")/.."

bash sbin/setup-deps.sh

JOBS="${JOBS:-$(nproc)}"
run_suite() {
  local dir="$1"; shift
  echo "=== build $dir ($*)"
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$dir" -j"$JOBS"
  echo "=== test $dir"
  (cd "$dir" && ctest --output-on-failure --timeout 300 ${CTEST_ARGS:-})
}

run_suite build-test
if [ -z "${SKIP_SANITIZE:-}" ]; then
  # Leak checks on; a sanitizer report fails the test that triggered it.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  run_suite build-asan -DPAGODA_SANITIZE=ON
fi
echo "=== all tests passed"
