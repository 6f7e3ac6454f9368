#!/usr/bin/env bash
# Sets up the machine (Debian packages), builds Pagoda three times and runs
# the tests in parallel (ctest -j) in each: a normal build and one with
# AddressSanitizer + UndefinedBehaviorSanitizer run every test (unit +
# integration); a ThreadSanitizer build runs the unit tests. See docs/testing.md.
#
#   sbin/run-tests.sh                     # everything
#   SKIP_SANITIZE=1 sbin/run-tests.sh     # only the normal build
#   SKIP_TSAN=1 sbin/run-tests.sh         # no ThreadSanitizer build
#   CTEST_ARGS="-L fast" sbin/run-tests.sh   # only the unit tests (labels: fast, slow, ha)
#   JOBS=4 sbin/run-tests.sh              # build and test parallelism (default: nproc)
set -euo pipefail
cd "$(dirname "$0")/.."

bash sbin/setup-deps.sh

JOBS="${JOBS:-$(nproc)}"
t_start=$(date +%s)

# configure DIR [cmake args...]
configure() {
  local dir="$1"; shift
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
}

# run_ctest DIR [ctest args...]
run_ctest() {
  local dir="$1"; shift
  echo "=== test $dir ($*)"
  (cd "$dir" && ctest -j"$JOBS" --output-on-failure --timeout 300 "$@" ${CTEST_ARGS:-})
}

run_suite() {
  local dir="$1"; shift
  echo "=== build $dir ($*)"
  local t0=$(date +%s)
  configure "$dir" "$@"
  cmake --build "$dir" -j"$JOBS"
  run_ctest "$dir"
  echo "=== $dir: $(( $(date +%s) - t0 )) s"
}

run_suite build-test
if [ -z "${SKIP_SANITIZE:-}" ]; then
  # Leak checks on; a sanitizer report fails the test that triggered it.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  run_suite build-asan -DPAGODA_SANITIZE=ON
fi
if [ -z "${SKIP_SANITIZE:-}" ] && [ -z "${SKIP_TSAN:-}" ]; then
  # ThreadSanitizer: the unit tests only (the target pagoda_unit_tests builds
  # them and the plugins they load, not the daemon or the benches). A report
  # fails the test (exit code 66). tests/tsan.supp names third-party races;
  # die_after_fork=0 because test_ha_election forks a child that keeps using
  # the ZooKeeper client's threads.
  export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp die_after_fork=0 second_deadlock_stack=1"
  echo "=== build build-tsan (-DPAGODA_TSAN=ON, unit tests)"
  t0=$(date +%s)
  configure build-tsan -DPAGODA_TSAN=ON
  cmake --build build-tsan -j"$JOBS" --target pagoda_unit_tests
  # Not under TSan: test_worker_protocol. Its jobs start through
  # clone(CLONE_VM | CLONE_VFORK) (core/worker/spawn_as.c); the child runs
  # TSan's interceptors on the parent thread's TSan state and leaves it broken,
  # so every later mutex hand-over in that process is reported as a race
  # (reproduced with libuv alone; docs/testing.md). It runs in the other builds.
  echo "=== build-tsan: excluded: unit.test_worker_protocol (clone(CLONE_VM) spawns; docs/testing.md)"
  run_ctest build-tsan -L unit -E '^unit\.test_worker_protocol$'
  echo "=== build-tsan: $(( $(date +%s) - t0 )) s"
fi
echo "=== all tests passed in $(( $(date +%s) - t_start )) s"
