/* Pagoda benchmark — a store with many executions (issue 17, item 3):
 *
 *   bench_store_scale DATA_DIR [N=1000000] [UNFINISHED=1000]
 *
 * makes DATA_DIR/pagoda.db with the store's schema (pgd_store_open_sqlite
 * runs the migrations), inserts N executions and one attempt each directly
 * with SQLite (one transaction; ids 1..N, jobs job-0..job-9 by id % 10,
 * the newest UNFINISHED ones `pending`, one in a thousand `failed` (all of
 * job-7), the rest `succeeded`), then times through the store API, 20
 * times each (p50 and max): a page of 100 executions newest first, by job,
 * by state, by job and state, first pages and deep pages (before = N/2),
 * and the start-up read of unfinished work (pgd_store_list_unfinished_
 * executions). The data directory is left for a master to start on
 * (bench/store_scale.py times that). Prints figures; asserts nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>
#include <uv.h>

#include "common/clock.h"
#include "common/log.h"
#include "store/store.h"

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int fill(const char *db, long n, long unfinished) {
  sqlite3 *h;
  if (sqlite3_open(db, &h) != SQLITE_OK) return -1;
  sqlite3_exec(h, "PRAGMA synchronous=OFF; BEGIN", NULL, NULL, NULL);
  sqlite3_stmt *ex, *at;
  if (sqlite3_prepare_v2(h,
                         "INSERT INTO executions (id, job, type, state, attempt, worker_id, "
                         "exit_code, params, definition, submitted_us, dispatched_us, started_us, "
                         "finished_us, \"trigger\", data) VALUES (?1, ?2, 'shell', ?3, ?4, ?5, ?6, "
                         "'{\"argv\":[\"/bin/true\"],\"shell\":\"bash\"}', ?7, ?8, ?9, ?10, ?11, "
                         "'api', ?12)",
                         -1, &ex, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(h,
                         "INSERT INTO attempts (execution_id, attempt, worker_id, state, exit_code, "
                         "started_us, finished_us, data) VALUES (?1, 1, 'w-bench', ?2, ?3, ?4, ?5, "
                         "'{\"pid\":4242,\"dispatched_us\":0}')",
                         -1, &at, NULL) != SQLITE_OK) {
    fprintf(stderr, "prepare: %s\n", sqlite3_errmsg(h));
    return -1;
  }
  int64_t t0 = 1790000000000000LL;
  for (long id = 1; id <= n; id++) {
    char job[16], def[160], data[200];
    snprintf(job, sizeof job, "job-%ld", id % 10);
    snprintf(def, sizeof def, "{\"name\":\"%s\",\"type\":\"shell\",\"params\":{\"argv\":[\"/bin/true\"]}}",
             job);
    bool pending = id > n - unfinished;
    const char *state = pending ? "pending" : id % 1000 == 7 ? "failed" : "succeeded";
    int64_t sub = t0 + id * 1000;
    snprintf(data, sizeof data,
             "{\"mode\":\"single\",\"tasks\":[{\"attempt\":%d,\"state\":\"%s\",\"worker_id\":%s,"
             "\"retries_used\":0,\"relaunches_used\":0}],\"signal\":null,\"error\":null}",
             pending ? 0 : 1, state, pending ? "null" : "\"w-bench\"");
    sqlite3_bind_int64(ex, 1, id);
    sqlite3_bind_text(ex, 2, job, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ex, 3, state, -1, SQLITE_STATIC);
    sqlite3_bind_int(ex, 4, pending ? 0 : 1);
    if (pending) {
      for (int k = 5; k <= 6; k++) sqlite3_bind_null(ex, k);
    } else {
      sqlite3_bind_text(ex, 5, "w-bench", -1, SQLITE_STATIC);
      sqlite3_bind_int(ex, 6, id % 1000 == 7 ? 1 : 0);
    }
    sqlite3_bind_text(ex, 7, def, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ex, 8, sub);
    if (pending) {
      for (int k = 9; k <= 11; k++) sqlite3_bind_null(ex, k);
    } else {
      sqlite3_bind_int64(ex, 9, sub + 300);
      sqlite3_bind_int64(ex, 10, sub + 700);
      sqlite3_bind_int64(ex, 11, sub + 1500);
    }
    sqlite3_bind_text(ex, 12, data, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(ex) != SQLITE_DONE) {
      fprintf(stderr, "insert: %s\n", sqlite3_errmsg(h));
      return -1;
    }
    sqlite3_reset(ex);
    if (!pending) {
      sqlite3_bind_int64(at, 1, id);
      sqlite3_bind_text(at, 2, state, -1, SQLITE_STATIC);
      sqlite3_bind_int(at, 3, id % 1000 == 7 ? 1 : 0);
      sqlite3_bind_int64(at, 4, sub + 700);
      sqlite3_bind_int64(at, 5, sub + 1500);
      if (sqlite3_step(at) != SQLITE_DONE) return -1;
      sqlite3_reset(at);
    }
  }
  sqlite3_finalize(ex);
  sqlite3_finalize(at);
  int rc = sqlite3_exec(h, "COMMIT; ANALYZE", NULL, NULL, NULL);
  sqlite3_close(h);
  return rc == SQLITE_OK ? 0 : -1;
}

typedef struct {
  const char *what, *job, *state;
  int64_t before;
} page_t;

static void time_page(pgd_store_t *s, const page_t *p) {
  double ms[20];
  int rows = 0;
  for (int i = 0; i < 20; i++) {
    uint64_t t = pgd_mono_ns();
    cJSON *l = pgd_store_list_executions(s, p->job, p->state, 100, p->before);
    ms[i] = (double)(pgd_mono_ns() - t) / 1e6;
    rows = cJSON_GetArraySize(l);
    cJSON_Delete(l);
  }
  qsort(ms, 20, sizeof ms[0], cmp_d);
  printf("  %-44s %4d rows  p50 %7.3f ms  max %7.3f ms  %s\n", p->what, rows, ms[10], ms[19],
         ms[10] <= 10 ? "(bar <= 10 ms: MET)" : "(bar <= 10 ms: MISSED)");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s DATA_DIR [N] [UNFINISHED]\n", argv[0]);
    return 2;
  }
  long n = argc > 2 ? atol(argv[2]) : 1000000, unfinished = argc > 3 ? atol(argv[3]) : 1000;
  pgd_log_set_level(PGD_LOG_WARN);
  mkdir(argv[1], 0700);
  char db[4096];
  snprintf(db, sizeof db, "%s/pagoda.db", argv[1]);
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = NULL;
  char err[512];
  if (pgd_store_open_sqlite(&loop, db, &s, err, sizeof err) < 0) {
    fprintf(stderr, "open: %s\n", err);
    return 1;
  }
  bool empty = pgd_store_max_execution_id(s) <= 0;
  pgd_store_close(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (empty) {
    uint64_t t = pgd_mono_ns();
    if (fill(db, n, unfinished) < 0) return 1;
    printf("filled %s: %ld executions (%ld unfinished) and their attempts in %.1f s\n", db, n,
           unfinished, (double)(pgd_mono_ns() - t) / 1e9);
  }
  struct stat st;
  if (stat(db, &st) == 0) printf("database size: %.0f MB\n", (double)st.st_size / 1e6);
  if (pgd_store_open_sqlite(&loop, db, &s, err, sizeof err) < 0) {
    fprintf(stderr, "open: %s\n", err);
    return 1;
  }
  printf("schema version %d; pages of 100 executions (20 times each):\n", pgd_store_schema_version(s));
  const int64_t deep = n / 2;
  const page_t pages[] = {
      {"newest first", NULL, NULL, 0},
      {"newest first, deep (before=N/2) = by time", NULL, NULL, deep},
      {"by job (job-3)", "job-3", NULL, 0},
      {"by job (job-3), deep", "job-3", NULL, deep},
      {"by state (failed, 0.1%)", NULL, "failed", 0},
      {"by state (failed), deep", NULL, "failed", deep},
      {"by state (succeeded)", NULL, "succeeded", 0},
      {"by state (pending)", NULL, "pending", 0},
      {"by job and state (job-7, failed)", "job-7", "failed", 0},
      {"by job and state (job-3, failed): none", "job-3", "failed", 0},
      {"by job and state (job-7, failed), deep", "job-7", "failed", deep},
  };
  for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) time_page(s, &pages[i]);
  uint64_t t = pgd_mono_ns();
  cJSON *u = pgd_store_list_unfinished_executions(s);
  printf("start-up read of unfinished work: %d executions in %.1f ms\n", cJSON_GetArraySize(u),
         (double)(pgd_mono_ns() - t) / 1e6);
  cJSON_Delete(u);
  t = pgd_mono_ns();
  int64_t max = pgd_store_max_execution_id(s);
  printf("max execution id %lld in %.3f ms\n", (long long)max, (double)(pgd_mono_ns() - t) / 1e6);
  pgd_store_close(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}
