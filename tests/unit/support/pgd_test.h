/* Pagoda unit tests — the one runner every CUnit test binary ends with.
 *
 * A test main() initialises the CUnit registry, adds its suites and tests,
 * and returns pgd_test_run(). The runner decides the exit status so that a
 * binary can never pass without testing anything:
 *
 *   - a suite whose init (setup) function fails FAILS the binary; CUnit on
 *     its own only counts it and its tests simply do not run;
 *   - a suite whose cleanup function fails fails the binary;
 *   - any failed assertion fails the binary;
 *   - a binary that ran fewer tests than it registered (for example because
 *     a suite could not be set up) or ran no test at all fails;
 *   - a registry error while adding suites/tests (duplicate name, out of
 *     memory) fails the binary.
 *
 * Thread rules: call from the main thread only, once per process, after the
 * registry is filled. Linked as the static library pgd_test_support
 * (tests/unit/CMakeLists.txt); every tests/unit/test_*.c links it. */
#ifndef PAGODA_TEST_SUPPORT_PGD_TEST_H
#define PAGODA_TEST_SUPPORT_PGD_TEST_H

/* Runs every registered suite in CUnit's verbose basic mode, prints one
 * summary line naming why the binary fails (if it does), cleans up the
 * registry, and returns the process exit status: 0 when every registered
 * test ran and passed and every suite set up and cleaned up, else 1.
 * Returns 1 at once when the registry was never initialised. */
int pgd_test_run(void);

/* Fills buf with "$PAGODA_BUILD_DIR/<rel>". Returns 0, or -1 with a message
 * on stderr when PAGODA_BUILD_DIR is not set (the tests are run through ctest,
 * which sets it) or the path does not fit. */
int pgd_test_build_path(char *buf, unsigned long cap, const char *rel);

#endif
