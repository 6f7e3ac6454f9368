/* Benchmark: durable put_execution throughput of the store, SQLite vs
 * PostgreSQL, in two shapes:
 *  - burst: N writes enqueued at once, group commit batches them;
 *  - one at a time: each write waits for its own commit (latency bound).
 * The PostgreSQL server is a throw-away one started like the tests do
 * (tests/pg_harness.sh via tests/unit/support/pg_server.h: local unix socket, fsync on,
 * synchronous_commit on) and stopped at the end.
 *
 * usage: bench_store_backends [burst_n [single_n]]   (default 100000 2000)
 * Prints figures; asserts nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tests/unit/support/pg_server.h"
#include "common/clock.h"
#include "common/log.h"
#include "store/store.h"

static int g_done, g_failed;
static void on_done(int status, void *ud) {
  (void)ud;
  g_done++;
  if (status != 0) g_failed++;
}

static cJSON *make_exec(void) {
  return cJSON_Parse("{\"id\":0,\"job\":\"bench\",\"type\":\"shell\",\"state\":\"running\","
                     "\"attempt\":1,\"worker_id\":\"w-17\",\"params\":{\"a\":1,\"b\":\"two\"},"
                     "\"trigger\":\"api\",\"submitted_us\":1790000000000000,"
                     "\"started_us\":1790000000000500}");
}

/* ids start at `base`; returns writes/s */
static double burst(uv_loop_t *loop, pgd_store_t *s, int n, int base) {
  cJSON *o = make_exec();
  cJSON *id = cJSON_GetObjectItem(o, "id");
  g_done = g_failed = 0;
  uint64_t t0 = pgd_mono_ns();
  for (int i = 0; i < n; i++) {
    cJSON_SetNumberValue(id, base + i);
    if (pgd_store_put_execution(s, o, on_done, NULL) != 0) g_failed++;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  uint64_t t1 = pgd_mono_ns();
  cJSON_Delete(o);
  if (g_failed) fprintf(stderr, "  %d writes failed\n", g_failed);
  return n / ((double)(t1 - t0) / 1e9);
}

static double one_at_a_time(uv_loop_t *loop, pgd_store_t *s, int n, int base) {
  cJSON *o = make_exec();
  cJSON *id = cJSON_GetObjectItem(o, "id");
  g_done = g_failed = 0;
  uint64_t t0 = pgd_mono_ns();
  for (int i = 0; i < n; i++) {
    cJSON_SetNumberValue(id, base + i);
    if (pgd_store_put_execution(s, o, on_done, NULL) != 0) g_failed++;
    uv_run(loop, UV_RUN_DEFAULT);
  }
  uint64_t t1 = pgd_mono_ns();
  cJSON_Delete(o);
  if (g_failed) fprintf(stderr, "  %d writes failed\n", g_failed);
  return n / ((double)(t1 - t0) / 1e9);
}

static void run(const char *name, pgd_store_t *s, uv_loop_t *loop, int nb, int ns, int fenced) {
  if (fenced) {
    int64_t e = 0;
    pgd_store_acquire_epoch(s, &e, NULL, 0);
    pgd_store_set_epoch(s, e);
  }
  const char *tag = fenced ? " (epoch fencing on)" : "";
  double b1 = burst(loop, s, nb, 1);             /* inserts */
  double b2 = burst(loop, s, nb, 1);             /* updates of the same rows */
  double o1 = one_at_a_time(loop, s, ns, nb + 1);
  printf("%-10s%s\n", name, tag);
  printf("  burst of %d inserts:        %9.0f writes/s\n", nb, b1);
  printf("  burst of %d updates:        %9.0f writes/s\n", nb, b2);
  printf("  one at a time (%d):          %9.0f commits/s (%.3f ms each)\n", ns, o1, 1e3 / o1);
}

int main(int argc, char **argv) {
  int nb = argc > 1 ? atoi(argv[1]) : 100000;
  int ns = argc > 2 ? atoi(argv[2]) : 2000;
  if (nb <= 0 || ns <= 0) {
    fprintf(stderr, "usage: %s [burst_n [single_n]]\n", argv[0]);
    return 2;
  }
  pgd_log_set_level(PGD_LOG_WARN);
  char err[512] = "";

  for (int fenced = 0; fenced < 2; fenced++) {
    char dir[] = "/tmp/pgd_bench_store.XXXXXX", path[64];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof(path), "%s/pagoda.db", dir);
    uv_loop_t loop;
    uv_loop_init(&loop);
    pgd_store_t *s = NULL;
    if (pgd_store_open_sqlite(&loop, path, &s, err, sizeof(err)) != 0) {
      fprintf(stderr, "sqlite: %s\n", err);
      return 1;
    }
    run("sqlite", s, &loop, nb, ns, fenced);
    pgd_store_close(s);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
  }

  pgd_test_pg_t pg;
  if (pgd_test_pg_start(&pg, err, sizeof(err)) != 0) {
    fprintf(stderr, "postgresql: %s\n", err);
    pgd_test_pg_stop(&pg);
    return 1;
  }
  char ci[512];
  pgd_test_pg_conninfo(&pg, "postgres", ci, sizeof(ci));
  int rc = 0;
  for (int fenced = 0; fenced < 2 && rc == 0; fenced++) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    pgd_store_t *s = NULL;
    if (pgd_store_open_postgres(&loop, ci, &s, err, sizeof(err)) != 0) {
      fprintf(stderr, "postgresql: %s\n", err);
      rc = 1;
    } else {
      run("postgresql", s, &loop, nb, ns, fenced);
      pgd_store_close(s);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
  pgd_test_pg_stop(&pg);
  return rc;
}
