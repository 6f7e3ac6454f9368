/* Unit tests of the shipped balancers (conf/balancers/NAME.lua) and of the
 * fallback rules of core/script/balancer, against fixed worker lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "script/balancer.h"

static pgd_balancers_t *bals;
static char reason[256], error[1024];
static cJSON *lab_ssd, *lab_gpu, *lab_both;

#define NW 4
static pgd_bal_worker_t W[NW];

static void reset_workers(void) {
  /* w1: 2 free, w2: 4 free load 0.5, w3: 4 free load 0.2, w4: 1 free */
  pgd_bal_worker_t w[NW] = {
      {"w1", "h1", lab_ssd, 4, 2, 2, 0.1, 1000},
      {"w2", "h2", lab_gpu, 4, 4, 0, 0.5, 1000},
      {"w3", "h3", NULL, 4, 4, 0, 0.2, 1000},
      {"w4", "h4", lab_both, 2, 1, 1, 0.0, 1000},
  };
  memcpy(W, w, sizeof w);
}

static int setup(void) {
  char dir[1024];
  const char *src = getenv("PAGODA_SOURCE_DIR");
  if (src) {
    snprintf(dir, sizeof dir, "%s/conf/balancers", src);
  } else {
    /* __FILE__ is tests/unit/test_script_balancer.c under the source tree */
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *p = strstr(dir, "tests/unit/");
    if (!p) return 1;
    strcpy(p, "conf/balancers");
  }
  lab_ssd = cJSON_Parse("[\"ssd\"]");
  lab_gpu = cJSON_Parse("[\"gpu\"]");
  lab_both = cJSON_Parse("[\"ssd\",\"gpu\"]");
  reset_workers();
  char err[256];
  if (pgd_balancers_open(NULL, dir, "round_robin", &bals, err, sizeof err) != 0) {
    fprintf(stderr, "open %s: %s\n", dir, err);
    return 1;
  }
  return 0;
}

static int teardown(void) {
  pgd_balancers_close(bals);
  cJSON_Delete(lab_ssd);
  cJSON_Delete(lab_gpu);
  cJSON_Delete(lab_both);
  return 0;
}

static int pick(const char *name, const pgd_bal_job_t *job, size_t n, uint64_t gen) {
  pgd_bal_job_t empty = {.name = "j", .type = "shell", .attempt = 1};
  int i = pgd_balancers_pick(bals, name, job ? job : &empty, W, n, gen, reason, sizeof reason,
                             error, sizeof error);
  if (error[0]) fprintf(stderr, "\n%s: error %s\n", name ? name : "(default)", error);
  return i;
}

static void test_all_shipped_load(void) {
  const char *names[] = {"round_robin", "pinned", "least_loaded", "random", "spread",
                         "label_affinity", NULL};
  cJSON *list = pgd_balancers_to_json(bals);
  for (int i = 0; names[i]; i++) {
    CU_ASSERT(pgd_balancers_exists(bals, names[i]));
    int found = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, list) {
      if (strcmp(cJSON_GetObjectItem(e, "name")->valuestring, names[i]) != 0) continue;
      found = 1;
      CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(e, "loaded")));
      CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(e, "last_error")));
      CU_ASSERT(cJSON_IsString(cJSON_GetObjectItem(e, "file")));
      CU_ASSERT_EQUAL(cJSON_IsTrue(cJSON_GetObjectItem(e, "default")), !strcmp(names[i], "round_robin"));
    }
    CU_ASSERT(found);
  }
  cJSON_Delete(list);
}

static void test_round_robin_cycles(void) {
  reset_workers();
  int seen[NW] = {0};
  int prev = -1;
  for (int k = 0; k < 3 * NW; k++) {
    int i = pick(NULL, NULL, NW, 1); /* NULL name = default = round_robin */
    CU_ASSERT_FATAL(i >= 0 && i < NW);
    CU_ASSERT_NOT_EQUAL(i, prev);
    if (prev >= 0) CU_ASSERT_EQUAL(i, (prev + 1) % NW);
    seen[i]++;
    prev = i;
    CU_ASSERT_STRING_EQUAL(error, "");
  }
  for (int i = 0; i < NW; i++) CU_ASSERT_EQUAL(seen[i], 3);
  /* The list changes (w2 is full and drops out): the turn goes on by id. */
  int last = prev; /* index into the old list */
  const char *last_id = W[last].id;
  pgd_bal_worker_t saved = W[1];
  memmove(&W[1], &W[2], 2 * sizeof W[0]);
  int i = pick("round_robin", NULL, NW - 1, 2);
  CU_ASSERT(i >= 0 && i < NW - 1);
  /* the next id after last_id among w1, w3, w4 (wrapping) */
  const char *want = !strcmp(last_id, "w4") ? "w1" : !strcmp(last_id, "w1") ? "w3" : "w4";
  CU_ASSERT_STRING_EQUAL(W[i].id, want);
  W[3] = W[2];
  W[2] = W[1];
  W[1] = saved;
}

/* dispatch.c keeps the generation while a worker that filled up drops out
 * of the candidates (positions shift, ids and labels of the remaining
 * workers are the same pointers): the script must still see each position's
 * real id (an id cached per position and generation would say w3 here). */
static void test_round_robin_shift_same_generation(void) {
  reset_workers();
  const uint64_t gen = 100;
  int i = -1;
  for (int k = 0; k < 2 * NW && i != 2; k++) i = pick("round_robin", NULL, NW, gen);
  CU_ASSERT_EQUAL_FATAL(i, 2); /* w3, reached by stepping from w2 */
  memmove(&W[1], &W[2], 2 * sizeof W[0]); /* w1, w3, w4: w2 is full */
  i = pick("round_robin", NULL, NW - 1, gen);
  CU_ASSERT_STRING_EQUAL(error, "");
  CU_ASSERT_FATAL(i >= 0 && i < NW - 1);
  CU_ASSERT_STRING_EQUAL(W[i].id, "w4"); /* not w1: w4 would be skipped */
  reset_workers();
}

static void test_pinned(void) {
  reset_workers();
  cJSON *args = cJSON_Parse("{\"node\":\"w3\"}");
  pgd_bal_job_t job = {.name = "j", .type = "shell", .balancer_args = args, .attempt = 1};
  CU_ASSERT_EQUAL(pick("pinned", &job, NW, 1), 2);
  CU_ASSERT_STRING_EQUAL(error, "");
  /* By host name too. */
  cJSON *params = cJSON_Parse("{\"node\":\"h4\"}");
  pgd_bal_job_t job2 = {.name = "j", .type = "shell", .params = params, .attempt = 1};
  CU_ASSERT_EQUAL(pick("pinned", &job2, NW, 1), 3);
  /* The node is gone: the job waits, with a reason. */
  CU_ASSERT_EQUAL(pick("pinned", &job, 2, 3), -1);
  CU_ASSERT_STRING_EQUAL(error, "");
  CU_ASSERT_PTR_NOT_NULL(strstr(reason, "w3"));
  /* No node named: waits and says how to name one. */
  CU_ASSERT_EQUAL(pick("pinned", NULL, NW, 1), -1);
  CU_ASSERT_PTR_NOT_NULL(strstr(reason, "balancer_args.node"));
  cJSON_Delete(args);
  cJSON_Delete(params);
}

static void test_least_loaded_order(void) {
  reset_workers();
  /* w2 and w3 both have 4 free; w3 has the lower load. */
  CU_ASSERT_EQUAL(pick("least_loaded", NULL, NW, 1), 2);
  CU_ASSERT_EQUAL(pgd_bal_least_loaded(W, NW), 2);
  W[2].slots_free = 1;
  CU_ASSERT_EQUAL(pick("least_loaded", NULL, NW, 1), 1);
  CU_ASSERT_EQUAL(pgd_bal_least_loaded(W, NW), 1);
  W[1].slots_free = 2;
  W[0].load1 = 0.5;
  W[0].running = 1; /* w1 and w2: 2 free, load 0.5; w1 fewer running */
  W[1].running = 3;
  CU_ASSERT_EQUAL(pick("least_loaded", NULL, NW, 1), 0);
  CU_ASSERT_EQUAL(pgd_bal_least_loaded(W, NW), 0);
  CU_ASSERT_EQUAL(pgd_bal_least_loaded(W, 0), -1);
  reset_workers();
}

static void test_spread_avoids_previous(void) {
  reset_workers();
  cJSON *prev = cJSON_Parse("[\"w3\"]");
  pgd_bal_job_t job = {.name = "j", .type = "shell", .attempt = 2, .previous_workers = prev};
  /* Least loaded is w3, but it ran the previous attempt: w2 instead. */
  CU_ASSERT_EQUAL(pick("spread", &job, NW, 1), 1);
  cJSON_Delete(prev);
  prev = cJSON_Parse("[\"w3\",\"w2\",\"w1\"]");
  job.previous_workers = prev;
  job.attempt = 4;
  CU_ASSERT_EQUAL(pick("spread", &job, NW, 1), 3);
  cJSON_Delete(prev);
  /* All were tried: the least loaded of all rather than wait. */
  prev = cJSON_Parse("[\"w1\",\"w2\",\"w3\",\"w4\"]");
  job.previous_workers = prev;
  CU_ASSERT_EQUAL(pick("spread", &job, NW, 1), 2);
  cJSON_Delete(prev);
  /* First attempt: plain least loaded. */
  CU_ASSERT_EQUAL(pick("spread", NULL, NW, 1), 2);
}

static void test_label_affinity(void) {
  reset_workers();
  cJSON *args = cJSON_Parse("{\"prefer_labels\":[\"ssd\"]}");
  pgd_bal_job_t job = {.name = "j", .type = "shell", .balancer_args = args, .attempt = 1};
  /* w1 (ssd, 2 free) beats w4 (ssd+gpu, 1 free). */
  CU_ASSERT_EQUAL(pick("label_affinity", &job, NW, 1), 0);
  cJSON_Delete(args);
  args = cJSON_Parse("{\"prefer_labels\":[\"ssd\",\"gpu\"]}");
  job.balancer_args = args;
  CU_ASSERT_EQUAL(pick("label_affinity", &job, NW, 1), 3); /* matches both */
  cJSON_Delete(args);
  args = cJSON_Parse("{\"prefer_labels\":\"gpu\"}");
  job.balancer_args = args;
  CU_ASSERT_EQUAL(pick("label_affinity", &job, NW, 1), 1); /* w2 gpu 4 free */
  cJSON_Delete(args);
  args = cJSON_Parse("{\"prefer_labels\":[\"nvme\"]}");
  job.balancer_args = args;
  CU_ASSERT_EQUAL(pick("label_affinity", &job, NW, 1), 2); /* nobody: least loaded */
  cJSON_Delete(args);
  CU_ASSERT_EQUAL(pick("label_affinity", NULL, NW, 1), 2);
  /* Labels change under a new generation: the cached tables follow. */
  W[2].labels = lab_both;
  args = cJSON_Parse("{\"prefer_labels\":[\"ssd\",\"gpu\"]}");
  job.balancer_args = args;
  CU_ASSERT_EQUAL(pick("label_affinity", &job, NW, 2), 2);
  cJSON_Delete(args);
  reset_workers();
}

static void test_random_only_candidates(void) {
  reset_workers();
  int seen[NW] = {0};
  for (int k = 0; k < 400; k++) {
    int i = pick("random", NULL, 3, 1); /* only the first three are candidates */
    CU_ASSERT_FATAL(i >= 0 && i < 3);
    seen[i]++;
  }
  for (int i = 0; i < 3; i++) CU_ASSERT(seen[i] > 50);
  CU_ASSERT_EQUAL(seen[3], 0);
}

static void test_fallbacks(void) {
  reset_workers();
  /* Missing balancer: built-in decides, error says so. */
  int i = pgd_balancers_pick(bals, "nope", NULL, W, NW, 1, reason, sizeof reason, error, sizeof error);
  CU_ASSERT_EQUAL(i, 2);
  CU_ASSERT_PTR_NOT_NULL(strstr(error, "nope"));
  /* No candidates: pending. */
  i = pgd_balancers_pick(bals, "round_robin", NULL, W, 0, 1, reason, sizeof reason, error, sizeof error);
  CU_ASSERT_EQUAL(i, -1);
  CU_ASSERT_STRING_EQUAL(reason, "no candidate worker");
  /* NULL set (not opened) still decides. */
  i = pgd_balancers_pick(NULL, NULL, NULL, W, NW, 1, reason, sizeof reason, error, sizeof error);
  CU_ASSERT_EQUAL(i, 2);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("script_balancer", setup, teardown);
  CU_add_test(s, "all shipped balancers load", test_all_shipped_load);
  CU_add_test(s, "round_robin cycles", test_round_robin_cycles);
  CU_add_test(s, "round_robin: list shifts, same generation", test_round_robin_shift_same_generation);
  CU_add_test(s, "pinned picks its node or waits", test_pinned);
  CU_add_test(s, "least_loaded order", test_least_loaded_order);
  CU_add_test(s, "spread avoids previous workers", test_spread_avoids_previous);
  CU_add_test(s, "label_affinity prefers", test_label_affinity);
  CU_add_test(s, "random picks only candidates", test_random_only_candidates);
  CU_add_test(s, "fallbacks", test_fallbacks);
  return pgd_test_run();
}
