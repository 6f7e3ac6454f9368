/* Benchmark: log chunks written to PostgreSQL through the store's writer
 * (store/store_logs.h), and what that traffic costs the execution records
 * that share the writer queue (issue 16).
 *
 *  1. log throughput: `mb` MiB of 80-byte lines, cut into chunks of
 *     `chunk` KiB (the master queues 64 KiB chunks, or less at each tick),
 *     spread over 50 executions' attempts, enqueued as fast as the loop can
 *     and timed until every chunk is durable: MB/s and lines/s;
 *  2. job records alone: a burst of `n` put_execution (new rows) + an
 *     update each (the shape of a short job: created, then final);
 *  3. the same burst while log chunks stream at the same time (one 64 KiB
 *     chunk queued per 20 record writes, i.e. the output of a chatty job):
 *     records/s with and without logs is the effect on job throughput at
 *     the store, the master's bottleneck on PostgreSQL.
 * The PostgreSQL server is a throw-away one (tests/unit/support/pg_server.h:
 * local socket, fsync on, synchronous_commit on).
 *
 * usage: bench_log_chunks [mb [chunk_kib [n]]]   (default 256 64 50000)
 * Prints figures; asserts nothing (exit 1 when a write failed). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/unit/support/pg_server.h"
#include "common/clock.h"
#include "common/log.h"
#include "store/store.h"
#include "store/store_logs.h"

static int g_done, g_failed;
static void on_done(int status, void *ud) {
  (void)ud;
  g_done++;
  if (status != 0) g_failed++;
}

/* `len` bytes of 80-byte lines ("line NNNNNNN <hex noise> ...\n"): the
 * noise keeps PostgreSQL's TOAST compression from shrinking the chunks to
 * nothing (real output compresses somewhere in between). */
static char *make_lines(size_t len) {
  char *buf = malloc(len + 1);
  if (!buf) abort();
  uint64_t x = 88172645463325252ULL;
  for (size_t i = 0; i < len; i += 80) {
    char line[96];
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    snprintf(line, sizeof line, "line %07zu %016llx%016llx %-34s", i / 80, (unsigned long long)x,
             (unsigned long long)(x * 2654435761ULL), "the quick brown fox jumps");
    line[79] = '\n';
    memcpy(buf + i, line, len - i < 80 ? len - i : 80);
  }
  buf[len] = '\0';
  return buf;
}

static int put_execs(pgd_store_t *s, int64_t first, int n, const char *state) {
  cJSON *o = cJSON_Parse("{\"id\":0,\"job\":\"bench\",\"type\":\"shell\",\"attempt\":1,"
                         "\"worker_id\":\"w-1\",\"params\":{\"script\":\"echo\"},\"trigger\":\"api\","
                         "\"submitted_us\":1790000000000000}");
  cJSON_AddStringToObject(o, "state", state);
  cJSON *id = cJSON_GetObjectItem(o, "id");
  int failed = 0;
  for (int i = 0; i < n; i++) {
    cJSON_SetNumberValue(id, (double)(first + i));
    if (pgd_store_put_execution(s, o, on_done, NULL) != 0) failed++;
  }
  cJSON_Delete(o);
  return failed;
}

int main(int argc, char **argv) {
  int mb = argc > 1 ? atoi(argv[1]) : 256;
  int chunk_kib = argc > 2 ? atoi(argv[2]) : 64;
  int n = argc > 3 ? atoi(argv[3]) : 50000;
  if (mb <= 0 || chunk_kib <= 0 || chunk_kib > 1024 || n <= 0) {
    fprintf(stderr, "usage: %s [mb [chunk_kib [n]]]\n", argv[0]);
    return 2;
  }
  pgd_log_set_level(PGD_LOG_WARN);
  char err[512] = "";
  pgd_test_pg_t pg;
  if (pgd_test_pg_start(&pg, err, sizeof(err)) != 0) {
    fprintf(stderr, "postgresql: %s\n", err);
    pgd_test_pg_stop(&pg);
    return 1;
  }
  char ci[512];
  pgd_test_pg_conninfo(&pg, "postgres", ci, sizeof(ci));
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = NULL;
  if (pgd_store_open_postgres(&loop, ci, &s, err, sizeof(err)) != 0) {
    fprintf(stderr, "postgresql: %s\n", err);
    pgd_test_pg_stop(&pg);
    return 1;
  }
  int64_t e = 0;
  pgd_store_acquire_epoch(s, &e, NULL, 0); /* as a leader writes: fenced */
  pgd_store_set_epoch(s, e);

  /* 1. log throughput */
  const int execs = 50;
  g_done = g_failed = 0;
  put_execs(s, 1, execs, "running");
  uv_run(&loop, UV_RUN_DEFAULT);
  size_t chunk = (size_t)chunk_kib * 1024, total = (size_t)mb * 1024 * 1024;
  chunk -= chunk % 80; /* whole lines */
  char *lines = make_lines(chunk);
  size_t nchunks = total / chunk;
  int64_t off[50] = {0};
  g_done = g_failed = 0;
  uint64_t t0 = pgd_mono_ns();
  for (size_t i = 0; i < nchunks; i++) {
    int x = (int)(i % (size_t)execs);
    if (pgd_store_put_log_chunk(s, x + 1, 1, off[x], lines, chunk, on_done, NULL) != 0) g_failed++;
    off[x] += (int64_t)chunk;
    if (i % 64 == 63) uv_run(&loop, UV_RUN_NOWAIT); /* completions as they come */
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  double secs = (double)(pgd_mono_ns() - t0) / 1e9;
  double bytes = (double)nchunks * (double)chunk;
  printf("log chunks to PostgreSQL: %zu chunks of %zu bytes (%.0f MiB) in %.2f s\n", nchunks, chunk,
         bytes / 1048576.0, secs);
  printf("  %.1f MB/s, %.0f lines/s, %.0f chunks/s%s\n", bytes / 1e6 / secs, bytes / 80 / secs,
         (double)nchunks / secs, g_failed ? " (SOME FAILED)" : "");
  printf("  log_chunks table: %.1f MiB on disk (with TOAST and index)\n",
         (double)pgd_store_log_bytes(s) / 1048576.0);
  int failed = g_failed;

  /* 2. records alone; 3. records with log chunks streaming */
  for (int with_logs = 0; with_logs < 2; with_logs++) {
    int64_t first = 1000000 + (int64_t)with_logs * 1000000;
    g_done = g_failed = 0;
    uint64_t r0 = pgd_mono_ns();
    size_t logs = 0;
    for (int i = 0; i < n; i += 20) {
      int k = n - i < 20 ? n - i : 20;
      put_execs(s, first + i, k, "running");
      put_execs(s, first + i, k, "succeeded");
      if (with_logs) {
        int x = (int)(logs % (size_t)execs);
        if (pgd_store_put_log_chunk(s, x + 1, 1, off[x], lines, chunk, on_done, NULL) != 0) g_failed++;
        off[x] += (int64_t)chunk;
        logs++;
      }
      if ((i / 20) % 64 == 63) uv_run(&loop, UV_RUN_NOWAIT);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    double rs = (double)(pgd_mono_ns() - r0) / 1e9;
    printf("%s: %d jobs (insert + final update) in %.2f s: %.0f jobs/s at the store%s\n",
           with_logs ? "job records + 64 KiB of log per 20 jobs" : "job records alone", n, rs,
           n / rs, g_failed ? " (SOME FAILED)" : "");
    if (with_logs)
      printf("  log bytes meanwhile: %.1f MB (%.1f MB/s)\n", (double)logs * (double)chunk / 1e6,
             (double)logs * (double)chunk / 1e6 / rs);
    failed += g_failed;
  }
  free(lines);
  pgd_store_close(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  pgd_test_pg_stop(&pg);
  return failed ? 1 : 0;
}
