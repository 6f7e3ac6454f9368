/* The built-in balancer rule (pgd_bal_builtin_pick): a retry goes to a
 * candidate its earlier attempts did not run on when there is one, even when
 * the worker it failed on has more free slots; when every candidate was
 * tried, the least-loaded order decides among all. Also through
 * pgd_balancers_pick with no script of that name (the fallback). */
#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "pgd_test.h"
#include "script/balancer.h"

static const pgd_bal_worker_t cands[] = {
    {.id = "big", .slots = 8, .slots_free = 8},
    {.id = "small-1", .slots = 1, .slots_free = 1},
    {.id = "small-2", .slots = 2, .slots_free = 2},
};

static void test_first_attempt_is_least_loaded(void) {
  pgd_bal_job_t job = {.attempt = 1};
  CU_ASSERT_EQUAL(pgd_bal_builtin_pick(&job, cands, 3), 0);
  CU_ASSERT_EQUAL(pgd_bal_builtin_pick(NULL, cands, 3), 0);
  CU_ASSERT_EQUAL(pgd_bal_builtin_pick(NULL, cands, 0), -1);
}

static void test_retry_avoids_previous_workers(void) {
  cJSON *prev = cJSON_CreateStringArray((const char *const[]){"big"}, 1);
  pgd_bal_job_t job = {.attempt = 2, .previous_workers = prev};
  CU_ASSERT_EQUAL(pgd_bal_builtin_pick(&job, cands, 3), 2); /* small-2: most free of the rest */
  cJSON_AddItemToArray(prev, cJSON_CreateString("small-2"));
  CU_ASSERT_EQUAL(pgd_bal_builtin_pick(&job, cands, 3), 1);
  cJSON_AddItemToArray(prev, cJSON_CreateString("small-1"));
  CU_ASSERT_EQUAL(pgd_bal_builtin_pick(&job, cands, 3), 0); /* all tried: least loaded */
  cJSON_Delete(prev);
}

static void test_fallback_applies_the_rule(void) {
  pgd_balancers_t *b = NULL;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(pgd_balancers_open(NULL, "/nonexistent/pagoda-balancers", NULL, &b, err,
                                           sizeof err), 0);
  cJSON *prev = cJSON_CreateStringArray((const char *const[]){"big"}, 1);
  pgd_bal_job_t job = {.attempt = 2, .previous_workers = prev};
  int i = pgd_balancers_pick(b, NULL, &job, cands, 3, 1, NULL, 0, NULL, 0);
  CU_ASSERT_EQUAL(i, 2);
  cJSON_Delete(prev);
  pgd_balancers_close(b);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("builtin_pick", NULL, NULL);
  CU_add_test(s, "a first attempt takes the least loaded", test_first_attempt_is_least_loaded);
  CU_add_test(s, "a retry avoids the workers tried", test_retry_avoids_previous_workers);
  CU_add_test(s, "the fallback applies the rule", test_fallback_applies_the_rule);
  return pgd_test_run();
}
