/* Helpers shared by the core/flow unit tests: a fake job store and a driver
 * that turns the engine's actions into a readable trace. */
#ifndef PAGODA_TEST_SUPPORT_FLOW_FIXTURE_H
#define PAGODA_TEST_SUPPORT_FLOW_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "flow/flow.h"

#pragma GCC diagnostic ignored "-Wunused-function"

/* JSON written with single quotes (no quote inside strings). */
static cJSON *J(const char *s) {
  char *d = strdup(s);
  for (char *p = d; *p; p++)
    if (*p == '\'') *p = '"';
  cJSON *j = cJSON_Parse(d);
  if (!j) fprintf(stderr, "\nbad test JSON: %s\n", s);
  free(d);
  return j;
}

/* Stored jobs: "echo" (shell) and "lua1"; anything else is unknown. */
static cJSON *test_jobs;
static const cJSON *test_lookup(void *ud, const char *name) {
  (void)ud;
  if (!test_jobs)
    test_jobs = J("{'echo':{'name':'echo','type':'shell','params':{'script':'echo hi','day':'x'}},"
                  "'lua1':{'name':'lua1','type':'lua','params':{}}}");
  return cJSON_GetObjectItemCaseSensitive(test_jobs, name);
}
static int test_check(void *ud, const cJSON *job, const cJSON *ov, char *err, size_t errlen) {
  (void)ov;
  if (cJSON_IsString(job) && !test_lookup(ud, job->valuestring)) {
    snprintf(err, errlen, "job '%s' not found", job->valuestring);
    return -1;
  }
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(job, "type");
  if (cJSON_IsObject(job) && (!cJSON_IsString(type) || strcmp(type->valuestring, "shell") != 0)) {
    snprintf(err, errlen, "unknown job type");
    return -1;
  }
  return 0;
}
static const pgd_flow_checks_t test_checks = {
    .check_job = test_check, .lookup_job = test_lookup, .hook_instructions = 100000};

static char perr[1024];

static pgd_flow_def_t *parse_ok(const char *json) {
  cJSON *j = J(json);
  pgd_flow_def_t *d = NULL;
  perr[0] = '\0';
  int rc = pgd_flow_def_parse(j, &test_checks, &d, perr, sizeof perr);
  if (rc) fprintf(stderr, "\nparse failed: %s\n", perr);
  CU_ASSERT_EQUAL(rc, 0);
  cJSON_Delete(j);
  return d;
}

/* Parses `json` expecting failure; returns the message (static). */
static const char *parse_err(const char *json) {
  cJSON *j = J(json);
  pgd_flow_def_t *d = NULL;
  perr[0] = '\0';
  int rc = pgd_flow_def_parse(j, &test_checks, &d, perr, sizeof perr);
  CU_ASSERT_NOT_EQUAL(rc, 0);
  CU_ASSERT_PTR_NULL(d);
  pgd_flow_def_free(d);
  cJSON_Delete(j);
  return perr;
}

static pgd_flow_run_t *run_ok(pgd_flow_def_t *d, int64_t id, const char *params, int64_t lt) {
  cJSON *p = params ? J(params) : NULL;
  pgd_flow_run_t *r = NULL;
  char err[512];
  int rc = pgd_flow_run_new(d, id, p, lt, &r, err, sizeof err);
  if (rc) fprintf(stderr, "\nrun_new: %s\n", err);
  CU_ASSERT_EQUAL(rc, 0);
  cJSON_Delete(p);
  return r;
}

/* Last START_NODE job of each node (owned here). */
static cJSON *started_jobs;
static int64_t next_exec_id = 100;

/* Drives pgd_flow_run_next until it has nothing more; returns a trace like
 * "start:a start:b kill:c done:failed" (static buffer). Started nodes get
 * execution ids 100, 101, ... */
static const char *step(pgd_flow_run_t *r) {
  static char trace[2048];
  pgd_flow_action_t a[3];
  int n;
  size_t off = 0;
  trace[0] = '\0';
  if (!started_jobs) started_jobs = cJSON_CreateObject();
  do {
    n = pgd_flow_run_next(r, a, 3);
    for (int i = 0; i < n; i++) {
      const char *sep = off ? " " : "";
      if (a[i].kind == PGD_FLOW_START_NODE) {
        off += (size_t)snprintf(trace + off, sizeof trace - off, "%sstart:%s", sep, a[i].node_id);
        CU_ASSERT_EQUAL(pgd_flow_run_node_started(r, a[i].node_id, next_exec_id++), 0);
        cJSON_DeleteItemFromObjectCaseSensitive(started_jobs, a[i].node_id);
        cJSON_AddItemToObject(started_jobs, a[i].node_id, a[i].job);
      } else if (a[i].kind == PGD_FLOW_KILL_NODE) {
        off += (size_t)snprintf(trace + off, sizeof trace - off, "%skill:%s", sep, a[i].node_id);
      } else {
        off += (size_t)snprintf(trace + off, sizeof trace - off, "%sdone:%s", sep, a[i].state);
      }
    }
  } while (n == 3);
  return trace;
}

/* Finishes `node` with `state` and steps. */
static const char *fin(pgd_flow_run_t *r, const char *node, const char *state) {
  CU_ASSERT_EQUAL(pgd_flow_run_node_finished(r, node, state, NULL), 0);
  return step(r);
}

/* The param `key` of the last started job of `node` (or NULL). */
static const char *job_param(const char *node, const char *key) {
  cJSON *job = cJSON_GetObjectItemCaseSensitive(started_jobs, node);
  cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(job, "params"), key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *nstate(pgd_flow_run_t *r, const char *node) {
  const char *s = pgd_flow_run_node_state_name(r, node);
  return s ? s : "(none)";
}

#define EXPECT_STR(got, want)                                                                     \
  do {                                                                                            \
    const char *g_ = (got);                                                                       \
    if (!g_ || strcmp(g_, (want)) != 0)                                                           \
      fprintf(stderr, "\n%s:%d: got '%s' want '%s'\n", __FILE__, __LINE__, g_ ? g_ : "(null)",    \
              (want));                                                                            \
    CU_ASSERT_STRING_EQUAL(g_ ? g_ : "(null)", (want));                                           \
  } while (0)

static void support_cleanup(void) {
  cJSON_Delete(test_jobs);
  cJSON_Delete(started_jobs);
  test_jobs = started_jobs = NULL;
}

#endif
