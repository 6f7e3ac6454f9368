/* Pagoda unit tests — the runner (see pgd_test.h). */
#include "pgd_test.h"

#include <stdio.h>
#include <stdlib.h>

#include <CUnit/Basic.h>

int pgd_test_build_path(char *buf, unsigned long cap, const char *rel) {
  const char *build = getenv("PAGODA_BUILD_DIR");
  if (!build || !build[0]) {
    fprintf(stderr, "PAGODA_BUILD_DIR is not set (run the tests through ctest)\n");
    return -1;
  }
  int n = snprintf(buf, cap, "%s/%s", build, rel);
  if (n < 0 || (unsigned long)n >= cap) {
    fprintf(stderr, "path %s/%s is too long\n", build, rel);
    return -1;
  }
  return 0;
}

int pgd_test_run(void) {
  CU_pTestRegistry reg = CU_get_registry();
  if (!reg) {
    fprintf(stderr, "pgd_test_run: FAILED: the CUnit registry is not initialised\n");
    return 1;
  }
  /* An error while the main added suites and tests (CU_add_suite returning
   * NULL, a duplicate name) leaves the registry short of what was meant. */
  CU_ErrorCode add_err = CU_get_error();
  unsigned registered = reg->uiNumberOfTests;
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  const CU_RunSummary *sum = CU_get_run_summary();
  unsigned suites_init_failed = CU_get_number_of_suites_failed();
  unsigned records = CU_get_number_of_failure_records(); /* asserts, init and cleanup failures */
  unsigned run = sum->nTestsRun, tests_failed = sum->nTestsFailed;
  unsigned asserts_failed = sum->nAssertsFailed;
  int fail = 0;
  if (add_err != CUE_SUCCESS) {
    fprintf(stderr, "FAILED: registering suites/tests: %s\n", CU_get_error_msg());
    fail = 1;
  }
  if (suites_init_failed) {
    fprintf(stderr, "FAILED: %u suite(s) could not be set up; their tests did not run\n",
            suites_init_failed);
    fail = 1;
  }
  if (run == 0) {
    fprintf(stderr, "FAILED: no test ran\n");
    fail = 1;
  } else if (run < registered) {
    fprintf(stderr, "FAILED: %u of %u registered tests ran\n", run, registered);
    fail = 1;
  }
  if (tests_failed || asserts_failed) {
    fprintf(stderr, "FAILED: %u test(s) failed (%u assertion(s))\n", tests_failed, asserts_failed);
    fail = 1;
  }
  if (records && !fail) { /* e.g. a suite cleanup that failed */
    fprintf(stderr, "FAILED: %u failure record(s) (a suite cleanup failed?)\n", records);
    fail = 1;
  }
  CU_cleanup_registry();
  return fail ? 1 : 0;
}
