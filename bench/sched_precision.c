/* Pagoda benchmark — precision and cost of the schedule timer queue
 * (core/sched/timerq.h) on a libuv loop.
 *
 * 1. Precision: 1,000 schedules firing every second (500 cron "* * * * * *",
 *    500 every "1s", all due on the same second boundary) for N seconds; each
 *    fire re-arms itself with pgd_trigger_next. Prints lateness (callback
 *    time minus due time) p50 / p99 / max. Target: p99 <= 10 ms.
 * 2. Holding 100,000 schedules (daily crons at random times in UTC,
 *    Europe/Berlin and America/New_York): RSS before and after parsing them
 *    and queueing them, then CPU time of the process over an idle period
 *    (fires that fall due in that period are handled and re-armed).
 *
 * Usage: bench_sched_precision [--seconds N] [--idle N] [--hold N]
 *        (defaults 60, 10, 100000). Output: human lines, then key=value lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "common/clock.h"
#include "lib/bench_util.h"
#include "sched/timerq.h"
#include "sched/trigger.h"

typedef struct {
  pgd_timerq_t *q;
  pgd_trigger_t **trig;
  int64_t *late;
  size_t nlate, cap;
  int64_t stop_us;
  long fired;
} ctx_t;

static void on_due(void *item, int64_t due, void *ud) {
  ctx_t *c = ud;
  int64_t now = pgd_now_us();
  uintptr_t i = (uintptr_t)item;
  if (c->late && c->nlate < c->cap) c->late[c->nlate++] = now - due;
  c->fired++;
  int64_t next = pgd_trigger_next(c->trig[i], due, -1);
  if (next >= 0 && (c->stop_us == 0 || next <= c->stop_us)) pgd_timerq_set(c->q, i, next, item);
}

static int cmp64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static pgd_trigger_t *parse(const char *json) {
  cJSON *j = cJSON_Parse(json);
  pgd_trigger_t *t = NULL;
  char err[256];
  if (!j || pgd_trigger_parse(j, 0, &t, err, sizeof err) < 0) {
    fprintf(stderr, "bench_sched_precision: %s: %s\n", json, j ? err : "bad JSON");
    exit(1);
  }
  cJSON_Delete(j);
  return t;
}

static void stop_loop(uv_timer_t *t) { uv_stop(t->loop); }

static void run_for(uv_loop_t *loop, int64_t seconds) {
  uv_timer_t stop;
  uv_timer_init(loop, &stop);
  uv_timer_start(&stop, stop_loop, (uint64_t)seconds * 1000 + 300, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&stop, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

static long parse_pos(const char *s, const char *what) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*end || v < 1 || v > 10000000) {
    fprintf(stderr, "bench_sched_precision: %s must be a positive integer, not '%s'\n", what, s);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  long seconds = 60, idle = 10, hold = 100000;
  for (int i = 1; i < argc; i++) {
    if (i + 1 < argc && strcmp(argv[i], "--seconds") == 0) seconds = parse_pos(argv[++i], "--seconds");
    else if (i + 1 < argc && strcmp(argv[i], "--idle") == 0) idle = parse_pos(argv[++i], "--idle");
    else if (i + 1 < argc && strcmp(argv[i], "--hold") == 0) hold = parse_pos(argv[++i], "--hold");
    else {
      fprintf(stderr, "usage: bench_sched_precision [--seconds N] [--idle N] [--hold N]\n");
      return 2;
    }
  }
  uv_loop_t *loop = uv_default_loop();

  /* ---- 1. precision ---- */
  enum { COUNT = 1000 };
  ctx_t c = {0};
  c.trig = calloc(COUNT, sizeof *c.trig);
  c.cap = (size_t)COUNT * (size_t)(seconds + 2);
  c.late = malloc(c.cap * sizeof *c.late);
  if (pgd_timerq_init(loop, &c.q, on_due, &c) < 0) return 1;
  int64_t now = pgd_now_us();
  c.stop_us = now + seconds * 1000000;
  for (uintptr_t i = 0; i < COUNT; i++) {
    c.trig[i] = parse(i % 2 ? "{\"every\":\"1s\"}" : "{\"cron\":\"* * * * * *\"}");
    pgd_timerq_set(c.q, i, pgd_trigger_next(c.trig[i], now, -1), (void *)i);
  }
  printf("precision: %d schedules firing every second for %ld s ...\n", COUNT, seconds);
  fflush(stdout);
  run_for(loop, seconds);
  qsort(c.late, c.nlate, sizeof *c.late, cmp64);
  double p50 = c.nlate ? c.late[c.nlate / 2] / 1000.0 : 0;
  double p99 = c.nlate ? c.late[c.nlate * 99 / 100] / 1000.0 : 0;
  double mx = c.nlate ? c.late[c.nlate - 1] / 1000.0 : 0;
  double mn = c.nlate ? c.late[0] / 1000.0 : 0;
  printf("  fires %zu, lateness p50 %.3f ms, p99 %.3f ms, max %.3f ms (min %.3f ms)\n", c.nlate,
         p50, p99, mx, mn);
  pgd_timerq_close(c.q, NULL, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  for (int i = 0; i < COUNT; i++) pgd_trigger_free(c.trig[i]);
  free(c.trig);
  free(c.late);

  /* ---- 2. holding `hold` schedules ---- */
  static const char *zones[3] = {"UTC", "Europe/Berlin", "America/New_York"};
  ctx_t h = {0};
  long rss0 = bench_self_rss_kb();
  h.trig = calloc((size_t)hold, sizeof *h.trig);
  if (pgd_timerq_init(loop, &h.q, on_due, &h) < 0) return 1;
  srand(42);
  double t0 = pgd_mono_ns() / 1e9;
  now = pgd_now_us();
  for (uintptr_t i = 0; i < (uintptr_t)hold; i++) {
    char json[160];
    snprintf(json, sizeof json, "{\"cron\":\"%d %d %d * * *\",\"timezone\":\"%s\"}", rand() % 60,
             rand() % 60, rand() % 24, zones[i % 3]);
    h.trig[i] = parse(json);
    pgd_timerq_set(h.q, i, pgd_trigger_next(h.trig[i], now, -1), (void *)i);
  }
  double t1 = pgd_mono_ns() / 1e9;
  long rss1 = bench_self_rss_kb();
  printf("hold: %ld schedules parsed and queued in %.2f s; RSS %+ld KiB (%.0f bytes each)\n",
         hold, t1 - t0, rss1 - rss0, (rss1 - rss0) * 1024.0 / (double)hold);
  fflush(stdout);
  double c0 = bench_self_cpu_s();
  run_for(loop, idle);
  double c1 = bench_self_cpu_s();
  printf("idle: %ld s with %ld schedules: CPU %.1f ms (%.3f%% of one core), %ld fired meanwhile\n",
         idle, hold, (c1 - c0) * 1000, (c1 - c0) * 100 / (double)idle, h.fired);
  pgd_timerq_close(h.q, NULL, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  for (long i = 0; i < hold; i++) pgd_trigger_free(h.trig[i]);
  free(h.trig);

  printf("lateness_p50_ms=%.3f\nlateness_p99_ms=%.3f\nlateness_max_ms=%.3f\n", p50, p99, mx);
  printf("hold_rss_kib=%ld\nhold_bytes_each=%.0f\nidle_cpu_ms=%.1f\n", rss1 - rss0,
         (rss1 - rss0) * 1024.0 / (double)hold, (c1 - c0) * 1000);
  uv_loop_close(loop);
  return 0;
}
