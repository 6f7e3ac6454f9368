/* Behavioural cases of the store, shared by the backend tests
 * (test_store_sqlite.c, test_store_pg.c): each test file defines a
 * store_backend_t, points `B` at it and registers store_add_cases(). Every
 * case uses a fresh database and its own loop, and ends by checking that
 * the loop closes with no handle left. Not a test of its own (the test glob
 * is test_*.c). */
#ifndef PAGODA_TEST_STORE_CASES_H
#define PAGODA_TEST_STORE_CASES_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <uv.h>

#include "common/clock.h"
#include "common/log.h"
#include "store/store.h"

typedef struct {
  const char *name; /* pgd_store_backend() of its stores */
  void (*fresh)(void); /* makes a new empty database current */
  void (*drop)(void);  /* removes the current database */
  /* opens the current database: pgd_store_open_* */
  int (*open)(uv_loop_t *loop, pgd_store_t **out, char *err, size_t errlen);
  /* one integer from a query on its own connection; -1 on error */
  int64_t (*sql_int)(const char *sql);
} store_backend_t;

static const store_backend_t *B;

/* The including backend test defines its latest schema version and the
 * number of its migrations (from its migration list). */
#if !defined(SCHEMA_LATEST) || !defined(SCHEMA_ROWS)
#error "define SCHEMA_LATEST and SCHEMA_ROWS before including test_store_cases.h"
#endif

static int suite_init(void) {
  pgd_log_set_level(PGD_LOG_WARN);
  return 0;
}

static void fresh_db(void) { B->fresh(); }
static void remove_db(void) { B->drop(); }
static int64_t sql_int(const char *sql) { return B->sql_int(sql); }

static pgd_store_t *open_ok(uv_loop_t *loop) {
  pgd_store_t *s = NULL;
  char err[512] = "";
  int rc = B->open(loop, &s, err, sizeof(err));
  if (rc != 0) fprintf(stderr, "open failed: %d %s\n", rc, err);
  CU_ASSERT_FATAL(rc == 0);
  CU_ASSERT_FATAL(s != NULL);
  return s;
}

/* Closes the store, runs the loop so the handle close completes, and checks
 * that no handle is left. */
static void close_all(pgd_store_t *s, uv_loop_t *loop) {
  pgd_store_close(s);
  CU_ASSERT(uv_run(loop, UV_RUN_DEFAULT) == 0);
  CU_ASSERT(uv_loop_close(loop) == 0);
}

typedef struct {
  int calls;
  int ok;
  int last_status;
  int min_status;
} counter_t;

static void count_cb(int status, void *ud) {
  counter_t *c = ud;
  c->calls++;
  if (status == 0) c->ok++;
  c->last_status = status;
  if (status < c->min_status) c->min_status = status;
}

static cJSON *parse(const char *text) {
  cJSON *j = cJSON_Parse(text);
  CU_ASSERT_FATAL(j != NULL);
  return j;
}

/* put + wait for the callback; returns its status */
static int put_wait(uv_loop_t *loop, pgd_store_t *s,
                    int (*put)(pgd_store_t *, const cJSON *, pgd_store_done_cb, void *),
                    const char *text) {
  cJSON *o = parse(text);
  counter_t c = {0};
  int rc = put(s, o, count_cb, &c);
  cJSON_Delete(o);
  CU_ASSERT_FATAL(rc == 0);
  uv_run(loop, UV_RUN_DEFAULT);
  CU_ASSERT_FATAL(c.calls == 1);
  return c.last_status;
}

static int json_equal_text(const cJSON *got, const char *want_text) {
  cJSON *want = cJSON_Parse(want_text);
  int eq = want && got && cJSON_Compare(got, want, 1);
  if (!eq) {
    char *g = got ? cJSON_PrintUnformatted(got) : NULL;
    fprintf(stderr, "\n  want %s\n  got  %s\n", want_text, g ? g : "(null)");
    free(g);
  }
  cJSON_Delete(want);
  return eq;
}

static int64_t get_int(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

/* ---- migrations (backend-neutral part) ---------------------------------- */

static void test_migrations_fresh_and_reopen(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  CU_ASSERT_STRING_EQUAL(pgd_store_backend(s), B->name);
  CU_ASSERT(pgd_store_schema_version(s) == SCHEMA_LATEST);
  CU_ASSERT(pgd_store_max_execution_id(s) == 0);
  cJSON *jobs = pgd_store_list_jobs(s);
  CU_ASSERT(cJSON_IsArray(jobs) && cJSON_GetArraySize(jobs) == 0);
  cJSON_Delete(jobs);
  close_all(s, &loop);
  CU_ASSERT(sql_int("SELECT count(*) FROM pagoda_schema") == SCHEMA_ROWS);
  CU_ASSERT(sql_int("SELECT count(*) FROM jobs") == 0);
  CU_ASSERT(sql_int("SELECT count(*) FROM executions") == 0);
  CU_ASSERT(sql_int("SELECT count(*) FROM attempts") == 0);
  CU_ASSERT(sql_int("SELECT count(*) FROM workers") == 0);
  CU_ASSERT(sql_int("SELECT epoch FROM cluster WHERE id=1") == 0);
  CU_ASSERT(sql_int("SELECT count(*) FROM docs") == 0);

  /* reopen: nothing re-applied */
  uv_loop_init(&loop);
  s = open_ok(&loop);
  CU_ASSERT(pgd_store_schema_version(s) == SCHEMA_LATEST);
  close_all(s, &loop);
  CU_ASSERT(sql_int("SELECT count(*) FROM pagoda_schema") == SCHEMA_ROWS);
  CU_ASSERT(sql_int("SELECT count(*) FROM cluster") == 1);
  remove_db();
}

/* ---- round trips -------------------------------------------------------- */

static void test_job_roundtrip_upsert_delete(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);

  const char *job_b = "{\"name\":\"b\",\"type\":\"shell\",\"params\":{\"script\":\"echo hi\"},"
                      "\"retries\":3,\"labels\":[\"x\",\"y\"],\"timeout_s\":null}";
  int64_t t0 = pgd_now_us();
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_job, job_b) == 0);
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_job, "{\"name\":\"c\",\"type\":\"lua\"}") == 0);
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_job,
                     "{\"name\":\"a\",\"type\":\"java\",\"created_us\":5,\"updated_us\":6}") == 0);

  cJSON *j = pgd_store_get_job(s, "b");
  CU_ASSERT_FATAL(j != NULL);
  int64_t created = get_int(j, "created_us"), updated = get_int(j, "updated_us");
  CU_ASSERT(created >= t0 && created <= pgd_now_us());
  CU_ASSERT(updated == created);
  cJSON_DeleteItemFromObject(j, "created_us");
  cJSON_DeleteItemFromObject(j, "updated_us");
  CU_ASSERT(json_equal_text(j, job_b));
  cJSON_Delete(j);

  /* store-managed timestamps: the caller's are ignored */
  j = pgd_store_get_job(s, "a");
  CU_ASSERT(get_int(j, "created_us") >= t0);
  cJSON_Delete(j);

  /* upsert keeps created_us, replaces the rest */
  usleep(2000);
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_job, "{\"name\":\"b\",\"type\":\"shell\",\"retries\":5}") == 0);
  j = pgd_store_get_job(s, "b");
  CU_ASSERT_FATAL(j != NULL);
  CU_ASSERT(get_int(j, "created_us") == created);
  CU_ASSERT(get_int(j, "updated_us") > created);
  CU_ASSERT(get_int(j, "retries") == 5);
  CU_ASSERT(cJSON_GetObjectItem(j, "params") == NULL);
  cJSON_Delete(j);

  cJSON *list = pgd_store_list_jobs(s);
  CU_ASSERT_FATAL(cJSON_GetArraySize(list) == 3);
  const char *order[] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++)
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(cJSON_GetArrayItem(list, i), "name")->valuestring, order[i]);
  cJSON_Delete(list);

  counter_t c = {0};
  CU_ASSERT(pgd_store_delete_job(s, "b", count_cb, &c) == 0);
  CU_ASSERT(pgd_store_delete_job(s, "never-existed", count_cb, &c) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(c.calls == 2 && c.ok == 2);
  CU_ASSERT(pgd_store_get_job(s, "b") == NULL);
  CU_ASSERT(pgd_store_get_job(s, "nope") == NULL);
  list = pgd_store_list_jobs(s);
  CU_ASSERT(cJSON_GetArraySize(list) == 2);
  cJSON_Delete(list);
  close_all(s, &loop);
  remove_db();
}

static const char *EXEC_FULL =
    "{\"id\":7,\"job\":\"etl\",\"type\":\"shell\",\"state\":\"failed\",\"attempt\":2,"
    "\"worker_id\":\"w-1\",\"exit_code\":3,\"signal\":null,\"error\":\"exit status 3\","
    "\"params\":{\"date\":\"2026-11-22\",\"n\":[1,2,3]},"
    "\"definition\":{\"name\":\"etl\",\"type\":\"shell\",\"params\":{\"script\":\"x\"}},"
    "\"submitted_us\":1790000000000001,\"dispatched_us\":1790000000000002,"
    "\"started_us\":1790000000000003,\"finished_us\":1790000000000004,\"trigger\":\"cron\","
    "\"flow_id\":12,\"node\":\"load\",\"tags\":{\"a\":true,\"b\":null},\"ratio\":0.25}";

static void test_execution_roundtrip(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);

  CU_ASSERT(put_wait(&loop, s, pgd_store_put_execution, EXEC_FULL) == 0);
  cJSON *e = pgd_store_get_execution(s, 7);
  CU_ASSERT_FATAL(e != NULL);
  cJSON *att = cJSON_DetachItemFromObject(e, "attempts");
  CU_ASSERT(cJSON_IsArray(att) && cJSON_GetArraySize(att) == 0);
  cJSON_Delete(att);
  CU_ASSERT(json_equal_text(e, EXEC_FULL));
  cJSON_Delete(e);

  /* known columns really are columns (filters use them) */
  CU_ASSERT(sql_int("SELECT exit_code FROM executions WHERE id=7") == 3);
  CU_ASSERT(sql_int("SELECT finished_us FROM executions WHERE id=7") == 1790000000000004LL);

  /* upsert replaces the whole object */
  const char *smaller = "{\"id\":7,\"job\":\"etl\",\"state\":\"running\",\"exit_code\":null}";
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_execution, smaller) == 0);
  cJSON *list = pgd_store_list_executions(s, NULL, NULL, 0, 0);
  CU_ASSERT_FATAL(cJSON_GetArraySize(list) == 1);
  CU_ASSERT(json_equal_text(cJSON_GetArrayItem(list, 0), smaller));
  cJSON_Delete(list);

  /* known fields with other types, and an "attempts" member that is ignored */
  const char *odd = "{\"id\":8,\"state\":3,\"attempt\":\"two\",\"exit_code\":1.5,\"params\":null,"
                    "\"definition\":[1,\"x\"],\"job\":[\"not\",\"a\",\"string\"],\"signal\":-9,"
                    "\"attempts\":[{\"bogus\":1}]}";
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_execution, odd) == 0);
  e = pgd_store_get_execution(s, 8);
  CU_ASSERT_FATAL(e != NULL);
  CU_ASSERT(cJSON_GetArraySize(cJSON_GetObjectItem(e, "attempts")) == 0);
  cJSON_DeleteItemFromObject(e, "attempts");
  CU_ASSERT(json_equal_text(e, "{\"id\":8,\"state\":3,\"attempt\":\"two\",\"exit_code\":1.5,"
                               "\"params\":null,\"definition\":[1,\"x\"],"
                               "\"job\":[\"not\",\"a\",\"string\"],\"signal\":-9}"));
  cJSON_Delete(e);
  CU_ASSERT(pgd_store_get_execution(s, 9) == NULL);
  CU_ASSERT(pgd_store_max_execution_id(s) == 8);
  close_all(s, &loop);
  remove_db();
}

static void test_attempt_roundtrip(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_execution, "{\"id\":1,\"state\":\"running\"}") == 0);
  const char *a2 = "{\"execution_id\":1,\"attempt\":2,\"worker_id\":\"w2\",\"state\":\"running\","
                   "\"started_us\":1790000000000100,\"pid\":4242}";
  const char *a1 = "{\"execution_id\":1,\"attempt\":1,\"worker_id\":\"w1\",\"state\":\"lost\","
                   "\"exit_code\":null,\"signal\":9,\"error\":\"worker lost\","
                   "\"started_us\":1790000000000000,\"finished_us\":1790000000000050,"
                   "\"extra\":{\"k\":\"v\"}}";
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_attempt, a2) == 0);
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_attempt, a1) == 0);
  cJSON *e = pgd_store_get_execution(s, 1);
  CU_ASSERT_FATAL(e != NULL);
  cJSON *att = cJSON_GetObjectItem(e, "attempts");
  CU_ASSERT_FATAL(cJSON_GetArraySize(att) == 2);
  CU_ASSERT(json_equal_text(cJSON_GetArrayItem(att, 0), a1));
  CU_ASSERT(json_equal_text(cJSON_GetArrayItem(att, 1), a2));
  cJSON_Delete(e);

  /* upsert by (execution_id, attempt) */
  const char *a2b = "{\"execution_id\":1,\"attempt\":2,\"state\":\"succeeded\",\"exit_code\":0}";
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_attempt, a2b) == 0);
  e = pgd_store_get_execution(s, 1);
  att = cJSON_GetObjectItem(e, "attempts");
  CU_ASSERT_FATAL(cJSON_GetArraySize(att) == 2);
  CU_ASSERT(json_equal_text(cJSON_GetArrayItem(att, 1), a2b));
  cJSON_Delete(e);
  close_all(s, &loop);
  remove_db();
}

static void test_worker_roundtrip(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  const char *w2 = "{\"id\":\"w2\",\"host\":\"h2\",\"addr\":\"10.0.0.2:7100\",\"labels\":[\"gpu\"],"
                   "\"slots\":8,\"types\":[\"shell\",\"java\"],\"first_seen_us\":100,\"last_seen_us\":100}";
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_worker, w2) == 0);
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_worker, "{\"id\":\"w1\",\"host\":\"h1\"}") == 0);
  cJSON *l = pgd_store_list_workers(s);
  CU_ASSERT_FATAL(cJSON_GetArraySize(l) == 2);
  CU_ASSERT(json_equal_text(cJSON_GetArrayItem(l, 0), "{\"id\":\"w1\",\"host\":\"h1\"}"));
  CU_ASSERT(json_equal_text(cJSON_GetArrayItem(l, 1), w2));
  cJSON_Delete(l);

  /* first_seen_us of an existing row is kept; the rest is replaced */
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_worker,
                     "{\"id\":\"w2\",\"host\":\"h2\",\"first_seen_us\":200,\"last_seen_us\":300,"
                     "\"state\":\"draining\"}") == 0);
  l = pgd_store_list_workers(s);
  CU_ASSERT(json_equal_text(cJSON_GetArrayItem(l, 1),
                            "{\"id\":\"w2\",\"host\":\"h2\",\"first_seen_us\":100,"
                            "\"last_seen_us\":300,\"state\":\"draining\"}"));
  cJSON_Delete(l);
  close_all(s, &loop);
  remove_db();
}

/* ---- listing ------------------------------------------------------------ */

static void put_exec_async(pgd_store_t *s, int64_t id, const char *job, const char *state,
                           counter_t *c) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "id", (double)id);
  if (job) cJSON_AddStringToObject(o, "job", job);
  if (state) cJSON_AddStringToObject(o, "state", state);
  CU_ASSERT(pgd_store_put_execution(s, o, count_cb, c) == 0);
  cJSON_Delete(o);
}

static int ids_are(const cJSON *arr, const int *ids, int n) {
  if (cJSON_GetArraySize(arr) != n) {
    fprintf(stderr, "\n  size %d want %d\n", cJSON_GetArraySize(arr), n);
    return 0;
  }
  for (int i = 0; i < n; i++) {
    const cJSON *e = cJSON_GetArrayItem(arr, i);
    if (get_int(e, "id") != ids[i]) return 0;
  }
  return 1;
}

static void test_list_filters(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  counter_t c = {0};
  static const char *states[] = {"pending", "dispatched", "running", "succeeded", "failed"};
  char job[16];
  for (int id = 1; id <= 30; id++) {
    snprintf(job, sizeof(job), "j%d", id % 3);
    put_exec_async(s, id, job, states[id % 5], &c);
  }
  /* an attempt for 2 (dispatched) */
  cJSON *a = parse("{\"execution_id\":2,\"attempt\":1,\"state\":\"dispatched\"}");
  CU_ASSERT(pgd_store_put_attempt(s, a, count_cb, &c) == 0);
  cJSON_Delete(a);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(c.calls == 31 && c.ok == 31);

  cJSON *l = pgd_store_list_executions(s, NULL, NULL, 0, 0);
  CU_ASSERT(cJSON_GetArraySize(l) == 30);
  CU_ASSERT(get_int(cJSON_GetArrayItem(l, 0), "id") == 30);
  CU_ASSERT(get_int(cJSON_GetArrayItem(l, 29), "id") == 1);
  CU_ASSERT(cJSON_GetObjectItem(cJSON_GetArrayItem(l, 28), "attempts") == NULL);
  cJSON_Delete(l);

  l = pgd_store_list_executions(s, "j1", NULL, 0, 0);
  int j1[] = {28, 25, 22, 19, 16, 13, 10, 7, 4, 1};
  CU_ASSERT(ids_are(l, j1, 10));
  cJSON_Delete(l);

  l = pgd_store_list_executions(s, NULL, "running", 3, 0); /* id%5 == 2 */
  int run3[] = {27, 22, 17};
  CU_ASSERT(ids_are(l, run3, 3));
  cJSON_Delete(l);

  l = pgd_store_list_executions(s, NULL, NULL, 4, 21);
  int page[] = {20, 19, 18, 17};
  CU_ASSERT(ids_are(l, page, 4));
  cJSON_Delete(l);

  l = pgd_store_list_executions(s, "j1", "running", 0, 22); /* id%3==1 && id%5==2 && id<22 */
  int both[] = {7};
  CU_ASSERT(ids_are(l, both, 1));
  cJSON_Delete(l);

  l = pgd_store_list_executions(s, "nope", NULL, 10, 0);
  CU_ASSERT(cJSON_IsArray(l) && cJSON_GetArraySize(l) == 0);
  cJSON_Delete(l);

  /* unfinished: pending (id%5==0), dispatched (1), running (2); oldest first */
  l = pgd_store_list_unfinished_executions(s);
  CU_ASSERT_FATAL(l != NULL);
  CU_ASSERT(cJSON_GetArraySize(l) == 18);
  int64_t prev = 0, bad = 0;
  cJSON *e;
  cJSON_ArrayForEach(e, l) {
    int64_t id = get_int(e, "id");
    if (id <= prev || id % 5 > 2) bad++;
    prev = id;
    cJSON *att = cJSON_GetObjectItem(e, "attempts");
    if (!cJSON_IsArray(att)) bad++;
    if (id == 2 && cJSON_GetArraySize(att) != 1) bad++;
    if (id != 2 && cJSON_GetArraySize(att) != 0) bad++;
  }
  CU_ASSERT(bad == 0);
  CU_ASSERT(get_int(cJSON_GetArrayItem(l, 0), "id") == 1);
  cJSON_Delete(l);

  CU_ASSERT(pgd_store_max_execution_id(s) == 30);
  close_all(s, &loop);
  remove_db();
}

/* ---- durability, close, volume ------------------------------------------ */

static void test_durability_reopen(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_job, "{\"name\":\"j\",\"type\":\"shell\"}") == 0);
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_execution, EXEC_FULL) == 0);
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_attempt, "{\"execution_id\":7,\"attempt\":1}") == 0);
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_worker, "{\"id\":\"w\",\"slots\":2}") == 0);

  /* writes still queued at close are committed and called back in close */
  counter_t c = {0};
  for (int id = 100; id < 200; id++) put_exec_async(s, id, "late", "pending", &c);
  CU_ASSERT(c.calls == 0);
  pgd_store_close(s);
  CU_ASSERT(c.calls == 100 && c.ok == 100);
  CU_ASSERT(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  CU_ASSERT(uv_loop_close(&loop) == 0);

  uv_loop_init(&loop);
  s = open_ok(&loop);
  cJSON *j = pgd_store_get_job(s, "j");
  CU_ASSERT(j && strcmp(cJSON_GetObjectItem(j, "type")->valuestring, "shell") == 0);
  cJSON_Delete(j);
  cJSON *e = pgd_store_get_execution(s, 7);
  CU_ASSERT_FATAL(e != NULL);
  CU_ASSERT(cJSON_GetArraySize(cJSON_GetObjectItem(e, "attempts")) == 1);
  cJSON_DeleteItemFromObject(e, "attempts");
  CU_ASSERT(json_equal_text(e, EXEC_FULL));
  cJSON_Delete(e);
  cJSON *w = pgd_store_list_workers(s);
  CU_ASSERT(cJSON_GetArraySize(w) == 1);
  cJSON_Delete(w);
  cJSON *l = pgd_store_list_executions(s, "late", NULL, 0, 0);
  CU_ASSERT(cJSON_GetArraySize(l) == 100);
  cJSON_Delete(l);
  CU_ASSERT(pgd_store_max_execution_id(s) == 199);
  close_all(s, &loop);
  remove_db();
}

static struct {
  int calls, ok, in_order;
  intptr_t next;
} g_order;
static void seq_cb(int status, void *ud) {
  intptr_t i = (intptr_t)ud;
  g_order.calls++;
  if (status == 0) g_order.ok++;
  if (i != g_order.next) g_order.in_order = 0;
  g_order.next = i + 1;
}

static void test_many_async_writes(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  memset(&g_order, 0, sizeof(g_order));
  g_order.in_order = 1;
  g_order.next = 1;
  const int N = 10000;
  cJSON *o = parse("{\"id\":0,\"job\":\"bulk\",\"type\":\"shell\",\"state\":\"running\",\"attempt\":1,"
                   "\"worker_id\":\"w-17\",\"params\":{\"a\":1,\"b\":\"two\"},\"trigger\":\"api\","
                   "\"submitted_us\":1790000000000000,\"started_us\":1790000000000500}");
  cJSON *id = cJSON_GetObjectItem(o, "id");
  uint64_t t0 = pgd_mono_ns();
  for (int i = 1; i <= N; i++) {
    cJSON_SetNumberValue(id, i);
    CU_ASSERT_FATAL(pgd_store_put_execution(s, o, seq_cb, (void *)(intptr_t)i) == 0);
  }
  uint64_t t1 = pgd_mono_ns();
  uv_run(&loop, UV_RUN_DEFAULT);
  uint64_t t2 = pgd_mono_ns();
  cJSON_Delete(o);
  CU_ASSERT(g_order.calls == N);
  CU_ASSERT(g_order.ok == N);
  CU_ASSERT(g_order.in_order == 1);
  fprintf(stderr, "\n  [store %s] %d durable put_execution: enqueue %.1f us/op, all committed in %.1f ms "
                  "= %.0f writes/s\n",
          B->name, N, (double)(t1 - t0) / 1e3 / N, (double)(t2 - t0) / 1e6, N / ((double)(t2 - t0) / 1e9));
  CU_ASSERT(pgd_store_max_execution_id(s) == N);
  cJSON *l = pgd_store_list_executions(s, "bulk", NULL, 0, 0);
  CU_ASSERT(cJSON_GetArraySize(l) == N);
  cJSON_Delete(l);
  cJSON *e = pgd_store_get_execution(s, 1234);
  CU_ASSERT(e && get_int(e, "id") == 1234 && get_int(cJSON_GetObjectItem(e, "params"), "a") == 1);
  cJSON_Delete(e);
  close_all(s, &loop);
  remove_db();
}

/* A store group (pgd_store_group_begin/end, POST /api/v1/runs): its writes
 * are held until the outermost end, then all land (in one transaction),
 * callbacks in order; a group larger than the writer's batch limit (8192)
 * still completes whole. */
static void test_group(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  memset(&g_order, 0, sizeof(g_order));
  g_order.in_order = 1;
  g_order.next = 1;
  const int N = 9000;
  cJSON *o = parse("{\"id\":0,\"job\":\"grouped\",\"type\":\"shell\",\"state\":\"pending\","
                   "\"submitted_us\":1790000000000000}");
  cJSON *id = cJSON_GetObjectItem(o, "id");
  pgd_store_group_begin(s);
  for (int i = 1; i <= N; i++) {
    if (i == 10) pgd_store_group_begin(s); /* nested: only the outer end releases */
    cJSON_SetNumberValue(id, i);
    CU_ASSERT_FATAL(pgd_store_put_execution(s, o, seq_cb, (void *)(intptr_t)i) == 0);
    if (i == 20) pgd_store_group_end(s);
  }
  /* Nothing was handed to the writer yet: running the loop now would only
   * block, so check the store is still empty of them instead. */
  CU_ASSERT(pgd_store_max_execution_id(s) <= 0);
  pgd_store_group_end(s);
  pgd_store_group_end(s); /* an extra end is ignored */
  uv_run(&loop, UV_RUN_DEFAULT);
  cJSON_Delete(o);
  CU_ASSERT(g_order.calls == N);
  CU_ASSERT(g_order.ok == N);
  CU_ASSERT(g_order.in_order == 1);
  CU_ASSERT(pgd_store_max_execution_id(s) == N);
  pgd_store_group_begin(NULL); /* NULL: no-op */
  pgd_store_group_end(NULL);
  close_all(s, &loop);
  remove_db();
}

/* ---- errors ------------------------------------------------------------- */

static void test_invalid_writes(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  counter_t c = {0};
  const char *bad_jobs[] = {"{\"type\":\"shell\"}", "{\"name\":\"\"}", "{\"name\":5}", "[1]", "\"x\""};
  for (int i = 0; i < 5; i++) {
    cJSON *j = parse(bad_jobs[i]);
    CU_ASSERT(pgd_store_put_job(s, j, count_cb, &c) == -EINVAL);
    cJSON_Delete(j);
  }
  const char *bad_execs[] = {"{\"job\":\"x\"}", "{\"id\":\"5\"}", "{\"id\":0}", "{\"id\":1.5}",
                             "{\"id\":-3}", "{\"id\":1e300}"};
  for (int i = 0; i < 6; i++) {
    cJSON *j = parse(bad_execs[i]);
    CU_ASSERT(pgd_store_put_execution(s, j, count_cb, &c) == -EINVAL);
    cJSON_Delete(j);
  }
  const char *bad_attempts[] = {"{\"execution_id\":1}", "{\"attempt\":1}",
                                "{\"execution_id\":1,\"attempt\":-1}"};
  for (int i = 0; i < 3; i++) {
    cJSON *j = parse(bad_attempts[i]);
    CU_ASSERT(pgd_store_put_attempt(s, j, count_cb, &c) == -EINVAL);
    cJSON_Delete(j);
  }
  cJSON *w = parse("{\"id\":\"\"}");
  CU_ASSERT(pgd_store_put_worker(s, w, count_cb, &c) == -EINVAL);
  cJSON_Delete(w);
  CU_ASSERT(pgd_store_put_job(s, NULL, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_put_execution(s, NULL, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_put_worker(NULL, NULL, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_delete_job(s, NULL, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_flush(NULL, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_get_job(s, NULL) == NULL);
  CU_ASSERT(pgd_store_get_job(NULL, "x") == NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(c.calls == 0); /* a call that returned an error never calls back */

  /* an error found while applying: only that write fails */
  counter_t ok1 = {0}, bad = {0}, ok2 = {0}, fl = {0};
  cJSON *e1 = parse("{\"id\":1,\"state\":\"running\"}");
  cJSON *orphan = parse("{\"execution_id\":999,\"attempt\":1}");
  cJSON *a1 = parse("{\"execution_id\":1,\"attempt\":1}");
  CU_ASSERT(pgd_store_put_execution(s, e1, count_cb, &ok1) == 0);
  CU_ASSERT(pgd_store_put_attempt(s, orphan, count_cb, &bad) == 0);
  CU_ASSERT(pgd_store_put_attempt(s, a1, count_cb, &ok2) == 0);
  CU_ASSERT(pgd_store_flush(s, count_cb, &fl) == 0);
  cJSON_Delete(e1);
  cJSON_Delete(orphan);
  cJSON_Delete(a1);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(ok1.calls == 1 && ok1.last_status == 0);
  CU_ASSERT(bad.calls == 1 && bad.last_status == -EINVAL);
  CU_ASSERT(ok2.calls == 1 && ok2.last_status == 0);
  CU_ASSERT(fl.calls == 1 && fl.last_status == 0);
  cJSON *e = pgd_store_get_execution(s, 1);
  CU_ASSERT(e && cJSON_GetArraySize(cJSON_GetObjectItem(e, "attempts")) == 1);
  cJSON_Delete(e);
  CU_ASSERT(pgd_store_get_execution(s, 999) == NULL);
  close_all(s, &loop);
  remove_db();
}

/* flush: its callback comes after every earlier callback */
static int flush_seen_before;
static counter_t flush_writes;
static void flush_cb(int status, void *ud) {
  (void)ud;
  CU_ASSERT(status == 0);
  flush_seen_before = flush_writes.calls;
}

static void test_flush_order(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  memset(&flush_writes, 0, sizeof(flush_writes));
  flush_seen_before = -1;
  for (int i = 1; i <= 500; i++) put_exec_async(s, i, "f", "pending", &flush_writes);
  CU_ASSERT(pgd_store_flush(s, flush_cb, NULL) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(flush_seen_before == 500);
  /* a flush with nothing before it also completes */
  counter_t c = {0};
  CU_ASSERT(pgd_store_flush(s, count_cb, &c) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(c.calls == 1 && c.last_status == 0);
  close_all(s, &loop);
  remove_db();
}

/* a callback that closes the store: the remaining callbacks still run, in
 * close, and writes from callbacks during close are refused */
static pgd_store_t *reentrant_store;
static int reentrant_calls, reentrant_shutdown;
static void reentrant_cb(int status, void *ud) {
  intptr_t i = (intptr_t)ud;
  reentrant_calls++;
  if (status != 0) return;
  if (i == 1) pgd_store_close(reentrant_store);
  if (i == 3) {
    cJSON *o = parse("{\"id\":77}");
    if (pgd_store_put_execution(reentrant_store, o, reentrant_cb, (void *)(intptr_t)99) == -ESHUTDOWN)
      reentrant_shutdown = 1;
    cJSON_Delete(o);
    /* reads still work during close */
    cJSON *e = pgd_store_get_execution(reentrant_store, 3);
    if (!e) reentrant_shutdown = -1;
    cJSON_Delete(e);
  }
}

static void test_close_from_callback(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  reentrant_store = s;
  reentrant_calls = reentrant_shutdown = 0;
  for (int i = 1; i <= 5; i++) {
    char buf[64];
    snprintf(buf, sizeof(buf), "{\"id\":%d}", i);
    cJSON *o = parse(buf);
    CU_ASSERT(pgd_store_put_execution(s, o, reentrant_cb, (void *)(intptr_t)i) == 0);
    cJSON_Delete(o);
  }
  CU_ASSERT(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  CU_ASSERT(reentrant_calls == 5);
  CU_ASSERT(reentrant_shutdown == 1);
  CU_ASSERT(uv_loop_close(&loop) == 0);

  uv_loop_init(&loop);
  s = open_ok(&loop);
  CU_ASSERT(pgd_store_max_execution_id(s) == 5);
  close_all(s, &loop);
  remove_db();
}

/* reads on another thread while the loop writes */
static int reader_stop;   /* accessed with __atomic builtins */
static long reader_reads; /* reads done so far, published for the writer */
static void *reader_main(void *arg) {
  pgd_store_t *s = arg;
  long reads = 0;
  while (!__atomic_load_n(&reader_stop, __ATOMIC_ACQUIRE)) {
    cJSON *l = pgd_store_list_executions(s, NULL, "running", 50, 0);
    cJSON_Delete(l);
    int64_t m = pgd_store_max_execution_id(s);
    if (m < 0) return (void *)-1;
    reads++;
    __atomic_store_n(&reader_reads, reads, __ATOMIC_RELEASE);
  }
  return (void *)reads;
}

static void test_concurrent_reader(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  __atomic_store_n(&reader_stop, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&reader_reads, 0, __ATOMIC_RELEASE);
  pthread_t th;
  CU_ASSERT_FATAL(pthread_create(&th, NULL, reader_main, s) == 0);
  counter_t c = {0};
  /* At least 20 rounds of writes, and more until the reader has read a few
   * times while they run: on a loaded machine the reader thread may not be
   * scheduled during the first 20 (the test checks overlap, not speed). */
  int rounds = 0;
  while (rounds < 20 || (__atomic_load_n(&reader_reads, __ATOMIC_ACQUIRE) < 3 && rounds < 2000)) {
    for (int i = 1; i <= 100; i++) put_exec_async(s, rounds * 100 + i, "r", "running", &c);
    uv_run(&loop, UV_RUN_DEFAULT);
    rounds++;
  }
  __atomic_store_n(&reader_stop, 1, __ATOMIC_RELEASE);
  void *ret = NULL;
  pthread_join(th, &ret);
  CU_ASSERT((intptr_t)ret > 0);
  CU_ASSERT(c.calls == rounds * 100 && c.ok == rounds * 100);
  close_all(s, &loop);
  remove_db();
}

/* ---- epoch fencing ------------------------------------------------------ */

static void test_epoch_fencing(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *a = open_ok(&loop);
  pgd_store_t *b = open_ok(&loop);
  char err[256] = "";
  int64_t ea = -1, eb = -1;
  CU_ASSERT(pgd_store_epoch(a) == 0);
  CU_ASSERT(pgd_store_epoch(NULL) == -EINVAL);
  CU_ASSERT(pgd_store_acquire_epoch(NULL, &ea, err, sizeof(err)) == -EINVAL);
  CU_ASSERT(pgd_store_acquire_epoch(a, NULL, err, sizeof(err)) == -EINVAL);

  /* A is elected: epoch 1; its writes go through */
  CU_ASSERT_FATAL(pgd_store_acquire_epoch(a, &ea, err, sizeof(err)) == 0);
  CU_ASSERT(ea == 1);
  pgd_store_set_epoch(a, ea);
  CU_ASSERT(pgd_store_epoch(a) == 1);
  CU_ASSERT(put_wait(&loop, a, pgd_store_put_execution, "{\"id\":1,\"state\":\"running\"}") == 0);

  /* B is elected: epoch 2 */
  CU_ASSERT_FATAL(pgd_store_acquire_epoch(b, &eb, err, sizeof(err)) == 0);
  CU_ASSERT(eb == 2);
  pgd_store_set_epoch(b, eb);
  CU_ASSERT(sql_int("SELECT epoch FROM cluster WHERE id=1") == 2);

  /* A, deposed, writes: every write of its batches is refused, none stored */
  counter_t ca = {0};
  put_exec_async(a, 1, "a", "failed", &ca);
  put_exec_async(a, 2, "a", "pending", &ca);
  cJSON *j = parse("{\"name\":\"from-a\"}");
  CU_ASSERT(pgd_store_put_job(a, j, count_cb, &ca) == 0);
  cJSON_Delete(j);
  CU_ASSERT(pgd_store_delete_job(a, "x", count_cb, &ca) == 0);
  CU_ASSERT(pgd_store_flush(a, count_cb, &ca) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(ca.calls == 5);
  CU_ASSERT(ca.ok == 0);
  CU_ASSERT(ca.min_status == -ESTALE && ca.last_status == -ESTALE);
  CU_ASSERT(sql_int("SELECT count(*) FROM executions WHERE id=2") == 0);
  CU_ASSERT(sql_int("SELECT count(*) FROM jobs") == 0);
  cJSON *e = pgd_store_get_execution(a, 1); /* reads still work: A's epoch-1 write */
  CU_ASSERT(e && strcmp(cJSON_GetObjectItem(e, "state")->valuestring, "running") == 0);
  cJSON_Delete(e);

  /* B's writes succeed */
  counter_t cb = {0};
  put_exec_async(b, 1, "b", "succeeded", &cb);
  put_exec_async(b, 3, "b", "pending", &cb);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(cb.calls == 2 && cb.ok == 2);
  e = pgd_store_get_execution(a, 1);
  CU_ASSERT(e && strcmp(cJSON_GetObjectItem(e, "state")->valuestring, "succeeded") == 0);
  cJSON_Delete(e);

  /* A stays fenced even after B's writes; with the right epoch it writes */
  memset(&ca, 0, sizeof(ca));
  put_exec_async(a, 4, "a", "pending", &ca);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(ca.calls == 1 && ca.last_status == -ESTALE);
  pgd_store_set_epoch(a, 2); /* (only a leader that acquired 2 may do this) */
  memset(&ca, 0, sizeof(ca));
  put_exec_async(a, 4, "a", "pending", &ca);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(ca.calls == 1 && ca.last_status == 0);

  /* epoch 0 turns fencing off (a single master) */
  pgd_store_set_epoch(a, 1);
  pgd_store_set_epoch(a, 0);
  memset(&ca, 0, sizeof(ca));
  put_exec_async(a, 5, "a", "pending", &ca);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(ca.calls == 1 && ca.last_status == 0);
  CU_ASSERT(pgd_store_max_execution_id(b) == 5);

  /* the epoch survives reopening */
  pgd_store_close(a);
  pgd_store_close(b);
  CU_ASSERT(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  b = open_ok(&loop);
  CU_ASSERT(pgd_store_acquire_epoch(b, &eb, err, sizeof(err)) == 0);
  CU_ASSERT(eb == 3);
  close_all(b, &loop);
  remove_db();
}

/* pgd_store_last_execution_before: the time bound of the executions list. */
static void test_last_execution_before(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  CU_ASSERT(pgd_store_last_execution_before(s, 1000000) == 0); /* none stored */
  counter_t c = {0};
  for (int id = 1; id <= 10; id++) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", id);
    cJSON_AddStringToObject(o, "job", "t");
    cJSON_AddStringToObject(o, "state", "succeeded");
    cJSON_AddNumberToObject(o, "submitted_us", 1000.0 * id);
    CU_ASSERT(pgd_store_put_execution(s, o, count_cb, &c) == 0);
    cJSON_Delete(o);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(c.ok == 10);
  CU_ASSERT(pgd_store_last_execution_before(s, 1000) == 0);  /* before the first */
  CU_ASSERT(pgd_store_last_execution_before(s, 1001) == 1);  /* strictly before */
  CU_ASSERT(pgd_store_last_execution_before(s, 5000) == 4);
  CU_ASSERT(pgd_store_last_execution_before(s, 5500) == 5);
  CU_ASSERT(pgd_store_last_execution_before(s, INT64_MAX) == 10);
  close_all(s, &loop);
  remove_db();
}

static void store_add_cases(CU_pSuite suite) {
  CU_add_test(suite, "migrations on a fresh database and on reopen", test_migrations_fresh_and_reopen);
  CU_add_test(suite, "job round trip, upsert, delete", test_job_roundtrip_upsert_delete);
  CU_add_test(suite, "execution round trip", test_execution_roundtrip);
  CU_add_test(suite, "attempt round trip", test_attempt_roundtrip);
  CU_add_test(suite, "worker round trip", test_worker_roundtrip);
  CU_add_test(suite, "list filters, unfinished, max id", test_list_filters);
  CU_add_test(suite, "durability across close and reopen", test_durability_reopen);
  CU_add_test(suite, "10000 async writes", test_many_async_writes);
  CU_add_test(suite, "a store group lands whole", test_group);
  CU_add_test(suite, "invalid writes", test_invalid_writes);
  CU_add_test(suite, "flush order", test_flush_order);
  CU_add_test(suite, "close from a callback", test_close_from_callback);
  CU_add_test(suite, "reads on another thread", test_concurrent_reader);
  CU_add_test(suite, "epoch fencing: a deposed leader cannot write", test_epoch_fencing);
  CU_add_test(suite, "last execution before a time", test_last_execution_before);
}

#endif
