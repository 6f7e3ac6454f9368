/* Behavioural cases of the store's log chunks, blobs, execution deletion
 * and retention scans (store/store_logs.h), shared by the backend tests
 * like test_store_cases.h (include that one first: this file uses its
 * helpers and `B`). Registered with store_add_log_cases(). */
#ifndef PAGODA_TEST_STORE_LOG_CASES_H
#define PAGODA_TEST_STORE_LOG_CASES_H

#include "store/store_logs.h"
#include "test_store_cases.h"

static void chunk_async(pgd_store_t *s, int64_t id, int attempt, int64_t off, const char *text,
                        counter_t *c) {
  CU_ASSERT(pgd_store_put_log_chunk(s, id, attempt, off, text, strlen(text), count_cb, c) == 0);
}

/* The whole log (from attempt 0, offset 0) as a new string. */
static char *log_text(pgd_store_t *s, int64_t id, int attempt, int64_t off, bool one) {
  char *buf = NULL;
  size_t len = 0;
  CU_ASSERT(pgd_store_read_log(s, id, attempt, off, one, &buf, &len) == 0);
  if (!buf) buf = calloc(1, 1);
  CU_ASSERT(strlen(buf) == len);
  return buf;
}

static void test_log_chunks(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  counter_t c = {0};
  put_exec_async(s, 7, "j", "running", &c);
  chunk_async(s, 7, 1, 0, "hello ", &c);
  chunk_async(s, 7, 1, 6, "world\n", &c);
  chunk_async(s, 7, 1, 6, "WORLD\n", &c); /* the same chunk again: the first copy stays */
  chunk_async(s, 7, 2, 0, "second \xc3\xa9\n", &c);
  chunk_async(s, 7, 3, 5, "after a gap", &c); /* attempt 3 has no bytes 0..4 */
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(c.calls == 6 && c.ok == 6);

  char *t = log_text(s, 7, 0, 0, false);
  CU_ASSERT_STRING_EQUAL(t, "hello world\nsecond \xc3\xa9\n");
  free(t);
  t = log_text(s, 7, 1, 3, false); /* from byte 3 of attempt 1 */
  CU_ASSERT_STRING_EQUAL(t, "lo world\nsecond \xc3\xa9\n");
  free(t);
  t = log_text(s, 7, 1, 8, true); /* attempt 1 only, inside its second chunk */
  CU_ASSERT_STRING_EQUAL(t, "rld\n");
  free(t);
  t = log_text(s, 7, 2, 100, false); /* beyond attempt 2, attempt 3 has a gap */
  CU_ASSERT_STRING_EQUAL(t, "");
  free(t);

  cJSON *sizes = pgd_store_log_sizes(s, 7);
  CU_ASSERT(json_equal_text(sizes, "[{\"attempt\":1,\"size\":12},{\"attempt\":2,\"size\":10},"
                                   "{\"attempt\":3,\"size\":16}]"));
  cJSON_Delete(sizes);
  CU_ASSERT(pgd_store_log_bytes(s) > 0);
  CU_ASSERT(pgd_store_size_bytes(s) > 0);

  /* shape errors are synchronous */
  CU_ASSERT(pgd_store_put_log_chunk(s, 0, 1, 0, "x", 1, NULL, NULL) == -EINVAL);
  CU_ASSERT(pgd_store_put_log_chunk(s, 7, 0, 0, "x", 1, NULL, NULL) == -EINVAL);
  CU_ASSERT(pgd_store_put_log_chunk(s, 7, 1, -1, "x", 1, NULL, NULL) == -EINVAL);
  CU_ASSERT(pgd_store_put_log_chunk(s, 7, 1, 0, "a\0b", 3, NULL, NULL) == -EINVAL);
  CU_ASSERT(pgd_store_put_log_chunk(s, 7, 1, 0, "", 0, NULL, NULL) == -EINVAL);
  /* a chunk of an execution the store does not have fails in its callback */
  counter_t bad = {0};
  chunk_async(s, 99, 1, 0, "orphan", &bad);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(bad.calls == 1 && bad.last_status == -EINVAL);

  /* deleting the execution deletes its attempts and chunks */
  counter_t d = {0};
  cJSON *a = parse("{\"execution_id\":7,\"attempt\":1,\"state\":\"succeeded\"}");
  CU_ASSERT(pgd_store_put_attempt(s, a, count_cb, &d) == 0);
  cJSON_Delete(a);
  CU_ASSERT(pgd_store_delete_execution(s, 7, count_cb, &d) == 0);
  CU_ASSERT(pgd_store_delete_execution(s, 7, count_cb, &d) == 0); /* gone already: fine */
  CU_ASSERT(pgd_store_delete_execution(s, 0, count_cb, &d) == -EINVAL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(d.calls == 3 && d.ok == 3);
  CU_ASSERT(pgd_store_get_execution(s, 7) == NULL);
  CU_ASSERT(sql_int("SELECT count(*) FROM log_chunks") == 0);
  CU_ASSERT(sql_int("SELECT count(*) FROM attempts") == 0);
  close_all(s, &loop);
  remove_db();
}

static void test_blobs(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  /* 600 KiB of every byte value: three chunks */
  size_t n = 600 * 1024;
  unsigned char *data = malloc(n);
  for (size_t i = 0; i < n; i++) data[i] = (unsigned char)(i * 7 + i / 256);
  const char *h1 = "1111111111111111111111111111111111111111111111111111111111111111";
  const char *h2 = "2222222222222222222222222222222222222222222222222222222222222222";
  counter_t c = {0};
  CU_ASSERT(pgd_store_put_blob(s, h1, data, n, count_cb, &c) == 0);
  CU_ASSERT(pgd_store_put_blob(s, h2, "", 0, count_cb, &c) == 0);
  CU_ASSERT(pgd_store_put_blob(s, "nothex", data, 1, count_cb, &c) == -EINVAL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(c.calls == 2 && c.ok == 2); /* one callback per blob */
  CU_ASSERT(sql_int("SELECT count(*) FROM blobs") == 4);
  char *back = NULL;
  size_t len = 0;
  CU_ASSERT(pgd_store_read_blob(s, h1, &back, &len) == 0);
  CU_ASSERT(len == n && back && memcmp(back, data, n) == 0);
  free(back);
  CU_ASSERT(pgd_store_read_blob(s, h2, &back, &len) == 0 && len == 0);
  free(back);
  CU_ASSERT(pgd_store_blob_bytes(s) > 0);
  counter_t d = {0};
  CU_ASSERT(pgd_store_delete_blob(s, h1, count_cb, &d) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(d.calls == 1 && d.ok == 1);
  CU_ASSERT(pgd_store_read_blob(s, h1, &back, &len) == -ENOENT && back == NULL);
  free(data);
  close_all(s, &loop);
  remove_db();
}

static void test_retention_scans(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  counter_t c = {0};
  const char *states[] = {"succeeded", "failed", "running", "killed", "pending", "lost"};
  for (int i = 1; i <= 12; i++)
    put_exec_async(s, i, i % 2 ? "odd" : "even", states[(i - 1) % 6], &c);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(c.ok == 12);
  cJSON *rows = pgd_store_scan_executions(s, 4, 3);
  int want_scan[] = {5, 6, 7};
  CU_ASSERT(ids_are(rows, want_scan, 3));
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(rows, 0), "state")),
                         "pending");
  cJSON_Delete(rows);
  /* odd: 1 succeeded, 3 running, 5 pending, 7 succeeded, 9 running, 11 pending;
   * final ones newest first: 7, 1: beyond the newest 1 -> 1 */
  rows = pgd_store_executions_beyond(s, "odd", 1, 10);
  int want_odd[] = {1};
  CU_ASSERT(ids_are(rows, want_odd, 1));
  cJSON_Delete(rows);
  /* even: 2 failed, 4 killed, 6 lost, 8 failed, 10 killed, 12 lost: beyond 2 -> 8 6 4 2,
   * at most 3 */
  rows = pgd_store_executions_beyond(s, "even", 2, 3);
  int want_even[] = {8, 6, 4};
  CU_ASSERT(ids_are(rows, want_even, 3));
  cJSON_Delete(rows);
  CU_ASSERT(pgd_store_executions_beyond(s, NULL, 1, 3) == NULL);
  close_all(s, &loop);
  remove_db();
}

static void store_add_log_cases(CU_pSuite suite) {
  CU_add_test(suite, "logs: chunks in order, idempotent, gaps, delete cascades", test_log_chunks);
  CU_add_test(suite, "blobs: chunked round trip of binary content, delete", test_blobs);
  CU_add_test(suite, "retention scans: by id, final ones beyond the newest N", test_retention_scans);
}

#endif
