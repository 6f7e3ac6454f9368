/* Behavioural cases of the store's writer (store.h, "urgent and background
 * writes, coalescing"), shared by the backend tests like
 * test_store_cases.h (include it first). What they show is counted, not
 * timed: the writer's counters (pgd_store_writer_stats) say how many
 * commits and statements a sequence of queued writes became. Windows are
 * an hour long where a test needs writes to be held, so no test depends on
 * how fast the machine is. */
#ifndef PAGODA_TEST_STORE_WRITER_CASES_H
#define PAGODA_TEST_STORE_WRITER_CASES_H

#ifndef PAGODA_TEST_STORE_CASES_H
#error "include test_store_cases.h before test_store_writer_cases.h"
#endif

#define HOUR_US (3600LL * 1000 * 1000)

/* Callbacks record their order and status. */
typedef struct {
  int calls;
  int order[64];
  int status[64];
} wlog_t;

typedef struct {
  wlog_t *log;
  int id;
} wref_t;

static void wlog_cb(int status, void *ud) {
  wref_t *r = ud;
  wlog_t *l = r->log;
  if (l->calls < 64) {
    l->order[l->calls] = r->id;
    l->status[l->calls] = status;
  }
  l->calls++;
}

static void put_exec_state(pgd_store_t *s, int64_t id, const char *state, wref_t *ref) {
  char text[256];
  snprintf(text, sizeof text,
           "{\"id\":%lld,\"job\":\"w\",\"type\":\"shell\",\"state\":\"%s\","
           "\"submitted_us\":1000,\"idempotency_key\":\"key-%lld\"}",
           (long long)id, state, (long long)id);
  cJSON *o = parse(text);
  CU_ASSERT_FATAL(pgd_store_put_execution(s, o, wlog_cb, ref) == 0);
  cJSON_Delete(o);
}

static void put_attempt_state(pgd_store_t *s, int64_t id, int attempt, const char *state,
                              wref_t *ref) {
  char text[256];
  snprintf(text, sizeof text,
           "{\"execution_id\":%lld,\"attempt\":%d,\"worker_id\":\"w1\",\"state\":\"%s\"}",
           (long long)id, attempt, state);
  cJSON *o = parse(text);
  CU_ASSERT_FATAL(pgd_store_put_attempt(s, o, wlog_cb, ref) == 0);
  cJSON_Delete(o);
}

static pgd_store_writer_stats_t wstats(pgd_store_t *s) {
  pgd_store_writer_stats_t st;
  pgd_store_writer_stats(s, &st);
  return st;
}

static const char *stored_state(pgd_store_t *s, int64_t id) {
  static char buf[64];
  cJSON *e = pgd_store_get_execution(s, id);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "state");
  snprintf(buf, sizeof buf, "%s", cJSON_IsString(v) ? v->valuestring : "(none)");
  cJSON_Delete(e);
  return buf;
}

/* Background writes are held (an hour-long window) until an urgent write
 * arrives; then ONE commit carries them all, the puts of one execution and
 * of one attempt each become one statement with the newest version, and
 * every write still gets its callback, in order. */
static void test_writer_background_then_urgent(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  pgd_store_set_group_window(s, HOUR_US, 1000);
  wlog_t log = {0};
  wref_t r[8];
  for (int i = 0; i < 8; i++) r[i] = (wref_t){&log, i + 1};
  CU_ASSERT(pgd_store_background(s, true) == false);
  put_exec_state(s, 1, "dispatched", &r[0]);
  put_attempt_state(s, 1, 1, "dispatched", &r[1]);
  put_exec_state(s, 1, "running", &r[2]);
  put_attempt_state(s, 1, 1, "running", &r[3]);
  put_exec_state(s, 1, "succeeded", &r[4]);
  put_attempt_state(s, 1, 1, "succeeded", &r[5]);
  CU_ASSERT(pgd_store_background(s, false) == true);
  /* held: nothing committed, all six still queued */
  uv_run(&loop, UV_RUN_NOWAIT);
  CU_ASSERT(log.calls == 0);
  CU_ASSERT(wstats(s).commits == 0);
  CU_ASSERT(pgd_store_queue_depth(s) == 6);
  /* an urgent write (a new execution) ends the wait and takes them along */
  put_exec_state(s, 2, "pending", &r[6]);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(log.calls == 7);
  for (int i = 0; i < 7 && i < log.calls; i++) {
    CU_ASSERT(log.order[i] == i + 1);
    CU_ASSERT(log.status[i] == 0);
  }
  pgd_store_writer_stats_t st = wstats(s);
  CU_ASSERT(st.commits == 1);
  CU_ASSERT(st.writes == 7);
  CU_ASSERT(st.rows == 3);      /* execution 1, attempt (1,1), execution 2 */
  CU_ASSERT(st.coalesced == 4); /* two older versions of each row of execution 1 */
  CU_ASSERT(st.urgent == 1);
  CU_ASSERT(st.held == 0);
  CU_ASSERT_STRING_EQUAL(stored_state(s, 1), "succeeded");
  CU_ASSERT_STRING_EQUAL(stored_state(s, 2), "pending");
  cJSON *e = pgd_store_get_execution(s, 1);
  const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(e, "attempts"), 0);
  CU_ASSERT(a && json_equal_text(cJSON_GetObjectItemCaseSensitive(a, "state"), "\"succeeded\""));
  CU_ASSERT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e, "attempts")) == 1);
  cJSON_Delete(e);
  close_all(s, &loop);
  remove_db();
}

/* A full window (max_writes queued) is committed without an urgent write;
 * a flush is urgent; with no window, background writes commit on their
 * own; closing commits what is held. */
static void test_writer_window_limits(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  wlog_t log = {0};
  wref_t r[8];
  for (int i = 0; i < 8; i++) r[i] = (wref_t){&log, i + 1};
  pgd_store_set_group_window(s, HOUR_US, 3);
  bool was = pgd_store_background(s, true);
  put_exec_state(s, 1, "running", &r[0]);
  put_exec_state(s, 2, "running", &r[1]);
  put_exec_state(s, 3, "running", &r[2]); /* the third fills the window */
  pgd_store_background(s, was);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(log.calls == 3);
  pgd_store_writer_stats_t st = wstats(s);
  CU_ASSERT(st.commits == 1 && st.rows == 3 && st.urgent == 0 && st.held == 0);

  /* a flush is urgent: it takes the held write along */
  pgd_store_set_group_window(s, HOUR_US, 1000);
  was = pgd_store_background(s, true);
  put_exec_state(s, 1, "succeeded", &r[3]);
  counter_t fc = {0};
  CU_ASSERT(pgd_store_flush(s, count_cb, &fc) == 0);
  pgd_store_background(s, was);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(log.calls == 4 && fc.calls == 1 && fc.last_status == 0);
  CU_ASSERT(wstats(s).commits == 2);
  CU_ASSERT_STRING_EQUAL(stored_state(s, 1), "succeeded");

  /* no window: a background write commits by itself */
  pgd_store_set_group_window(s, 0, 0);
  was = pgd_store_background(s, true);
  put_exec_state(s, 2, "succeeded", &r[4]);
  pgd_store_background(s, was);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(log.calls == 5 && log.status[4] == 0);
  CU_ASSERT_STRING_EQUAL(stored_state(s, 2), "succeeded");

  /* held again, then closed: close commits it and runs its callback */
  pgd_store_set_group_window(s, HOUR_US, 1000);
  was = pgd_store_background(s, true);
  put_exec_state(s, 3, "succeeded", &r[5]);
  pgd_store_background(s, was);
  uv_run(&loop, UV_RUN_NOWAIT);
  CU_ASSERT(log.calls == 5);
  pgd_store_close(s);
  CU_ASSERT(log.calls == 6 && log.status[5] == 0);
  CU_ASSERT(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  CU_ASSERT(uv_loop_close(&loop) == 0);
  uv_loop_init(&loop);
  s = open_ok(&loop);
  CU_ASSERT_STRING_EQUAL(stored_state(s, 3), "succeeded");
  CU_ASSERT(pgd_store_background(NULL, true) == false);
  pgd_store_set_group_window(NULL, 0, 0);
  close_all(s, &loop);
  remove_db();
}

/* Coalescing stops at writes that touch executions by other means than
 * their id (expiring keys), keeps every callback's status (a merged write
 * that fails fails for all its versions), never merges across commits, and
 * a group (background and urgent mixed) lands in one commit. */
static void test_writer_coalesce_limits(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  pgd_store_set_group_window(s, HOUR_US, 1000);
  wlog_t log = {0};
  wref_t r[16];
  for (int i = 0; i < 16; i++) r[i] = (wref_t){&log, i + 1};
  bool was = pgd_store_background(s, true);
  put_exec_state(s, 1, "running", &r[0]);
  CU_ASSERT(pgd_store_expire_keys(s, 2000, wlog_cb, &r[1]) == 0);
  put_exec_state(s, 1, "succeeded", &r[2]); /* written after the expiry: keeps its key */
  /* an attempt of an execution that does not exist, twice: one statement,
   * both callbacks get its error */
  put_attempt_state(s, 99, 1, "running", &r[3]);
  put_attempt_state(s, 99, 1, "succeeded", &r[4]);
  pgd_store_background(s, was);
  CU_ASSERT(pgd_store_flush(s, wlog_cb, &r[5]) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(log.calls == 6);
  for (int i = 0; i < 6 && i < log.calls; i++) CU_ASSERT(log.order[i] == i + 1);
  CU_ASSERT(log.status[0] == 0 && log.status[1] == 0 && log.status[2] == 0);
  CU_ASSERT(log.status[3] == -EINVAL && log.status[4] == -EINVAL);
  CU_ASSERT(log.status[5] == 0);
  pgd_store_writer_stats_t st = wstats(s);
  CU_ASSERT(st.commits == 1);
  CU_ASSERT(st.writes == 6);
  CU_ASSERT(st.rows == 4); /* exec, expire, exec, attempt (the flush is no row) */
  CU_ASSERT(st.coalesced == 1);
  cJSON *found = pgd_store_find_execution_by_key(s, "key-1", 0);
  CU_ASSERT(found != NULL); /* the later put was not applied before the expiry */
  cJSON_Delete(found);
  CU_ASSERT_STRING_EQUAL(stored_state(s, 1), "succeeded");

  /* a group mixing background and urgent writes: one commit, in order */
  log.calls = 0;
  pgd_store_group_begin(s);
  was = pgd_store_background(s, true);
  put_exec_state(s, 1, "killed", &r[6]);
  put_attempt_state(s, 1, 1, "killed", &r[7]);
  pgd_store_background(s, was);
  put_exec_state(s, 5, "pending", &r[8]);
  pgd_store_group_end(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(log.calls == 3 && log.order[0] == 7 && log.order[2] == 9);
  CU_ASSERT(wstats(s).commits == 2);
  CU_ASSERT_STRING_EQUAL(stored_state(s, 1), "killed");
  close_all(s, &loop);
  remove_db();
}

static void store_add_writer_cases(CU_pSuite suite) {
  CU_add_test(suite, "writer: background writes held until an urgent one, coalesced",
              test_writer_background_then_urgent);
  CU_add_test(suite, "writer: full window, flush, no window, close", test_writer_window_limits);
  CU_add_test(suite, "writer: coalescing limits and groups", test_writer_coalesce_limits);
}

#endif
