/* Pagoda unit tests — proves that pgd_test_run() cannot pass silently.
 *
 * Each case builds a CUnit registry in a forked child, ends the child with
 * pgd_test_run() and checks the child's exit status: a failing suite setup,
 * a failing suite cleanup, a failed assertion, a binary with no test and an
 * uninitialised registry must each exit 1; a passing registry must exit 0.
 * Registered in ctest as unit.support_runner. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"

static int init_ok(void) { return 0; }
static int init_fails(void) { return -1; }
static int clean_fails(void) { return -1; }
static void test_passes(void) { CU_ASSERT_EQUAL(1 + 1, 2); }
static void test_fails(void) { CU_ASSERT_EQUAL(1 + 1, 3); }

static int all_pass(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("passing", init_ok, NULL);
  CU_add_test(s, "passes", test_passes);
  return pgd_test_run();
}

/* The case the runner exists for: one suite's setup fails while another
 * suite passes; CUnit alone reports 0 failed assertions. */
static int setup_fails(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite ok = CU_add_suite("passing", NULL, NULL);
  CU_add_test(ok, "passes", test_passes);
  CU_pSuite bad = CU_add_suite("setup fails", init_fails, NULL);
  CU_add_test(bad, "never runs", test_passes);
  return pgd_test_run();
}

/* Every suite's setup fails: 0 tests run. */
static int only_suite_setup_fails(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite bad = CU_add_suite("setup fails", init_fails, NULL);
  CU_add_test(bad, "never runs", test_passes);
  return pgd_test_run();
}

static int cleanup_fails(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("cleanup fails", NULL, clean_fails);
  CU_add_test(s, "passes", test_passes);
  return pgd_test_run();
}

static int assertion_fails(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_pSuite s = CU_add_suite("assertion", NULL, NULL);
  CU_add_test(s, "passes", test_passes);
  CU_add_test(s, "fails", test_fails);
  return pgd_test_run();
}

static int no_test(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 2;
  CU_add_suite("empty", NULL, NULL);
  return pgd_test_run();
}

static int no_registry(void) { return pgd_test_run(); }

/* Runs body() in a child with its output silenced; returns its exit status,
 * or -1 when it did not exit normally. */
static int run_child(int (*body)(void)) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(3);
    _exit(body());
  }
  int st;
  if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

int main(void) {
  struct {
    const char *name;
    int (*body)(void);
    int want;
  } cases[] = {
      {"all tests pass", all_pass, 0},
      {"a suite setup fails beside a passing suite", setup_fails, 1},
      {"the only suite's setup fails", only_suite_setup_fails, 1},
      {"a suite cleanup fails", cleanup_fails, 1},
      {"an assertion fails", assertion_fails, 1},
      {"no test registered", no_test, 1},
      {"registry never initialised", no_registry, 1},
  };
  int bad = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int got = run_child(cases[i].body);
    int ok = got == cases[i].want;
    printf("%-45s exit %d, want %d: %s\n", cases[i].name, got, cases[i].want, ok ? "ok" : "FAILED");
    bad += !ok;
  }
  return bad ? 1 : 0;
}
