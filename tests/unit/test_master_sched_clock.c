/* Pagoda unit tests — a master's schedules on a manual clock
 * (pgd_master_config_t.clock). Every schedule decision and the schedule
 * timer queue read that clock, so hours of an hourly schedule pass in
 * moments, without sleeping, and the fire times are exact: the clock starts
 * in 2030, far from the system clock, so a decision that still read the
 * system clock would fire at the wrong time or not at all.
 *
 * The master runs in-process on its own loop with a SQLite store in a
 * temporary directory and no worker: fired executions stay queued, which is
 * all a schedule decides. */
#include <CUnit/Basic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "master/master.h"
#include "plugin/registry.h"
#include "pgd_test.h"

#define T0_US (1893456000LL * 1000000) /* 2030-01-01T00:00:00Z */
#define HOUR_US (3600LL * 1000000)
#define DEADLINE_NS (20ULL * 1000000000ULL) /* generous: the machine is loaded */

static uv_loop_t loop;
static pgd_manual_clock_t mclock;
static pgd_registry_t *reg;
static pgd_master_t *master;
static char data_dir[] = "/tmp/pgd-sched-clock-XXXXXX";
/* Wakes the loop every 100 ms while a test waits, so that a deadline is
 * checked even when nothing the master does is due (a failing run fails
 * at its deadline instead of hanging). */
static uv_timer_t pace;

static void on_pace(uv_timer_t *t) { (void)t; }

typedef struct {
  int done;
  int status;
} wait_t;

static void on_done(void *ud, int status) {
  wait_t *w = ud;
  w->done = 1;
  w->status = status;
}

/* Runs the loop until *flag is set or the deadline passes; 0 when set. */
static int run_until(const int *flag) {
  uint64_t end = pgd_mono_ns() + DEADLINE_NS;
  uv_timer_start(&pace, on_pace, 100, 100);
  while (!*flag && pgd_mono_ns() < end) uv_run(&loop, UV_RUN_ONCE);
  uv_timer_stop(&pace);
  return *flag ? 0 : -1;
}

/* Executions of job "tick" (newest first); caller owns. */
static cJSON *tick_execs(void) { return pgd_master_execs_list(master, "tick", NULL, 100, 0); }

/* Runs the loop until job "tick" has `n` executions or the deadline
 * passes; returns how many it has. The timer queue re-reads the clock at
 * least every PGD_TIMERQ_MAX_SLEEP_MS, so a moved clock is seen in time. */
static int wait_for_execs(int n) {
  uint64_t end = pgd_mono_ns() + DEADLINE_NS;
  int have = 0;
  uv_timer_start(&pace, on_pace, 100, 100);
  for (;;) {
    cJSON *list = tick_execs();
    have = cJSON_GetArraySize(list);
    cJSON_Delete(list);
    if (have >= n || pgd_mono_ns() >= end) break;
    uv_run(&loop, UV_RUN_ONCE);
  }
  uv_timer_stop(&pace);
  return have;
}

static int64_t view_us(const char *key) {
  cJSON *v = pgd_master_schedule_get(master, "hourly", 0, -1);
  const cJSON *j = cJSON_GetObjectItemCaseSensitive(v, key);
  int64_t us = cJSON_IsNumber(j) ? (int64_t)j->valuedouble : -1;
  cJSON_Delete(v);
  return us;
}

static int suite_init(void) {
  pgd_log_set_level(PGD_LOG_WARN);
  if (uv_loop_init(&loop) != 0 || uv_timer_init(&loop, &pace) != 0) return -1;
  if (!mkdtemp(data_dir)) {
    perror("mkdtemp");
    return -1;
  }
  char path[PATH_MAX], err[512];
  if (pgd_test_build_path(path, sizeof path, "plugins/shell.so") != 0) return -1;
  reg = pgd_registry_new();
  if (!reg || pgd_registry_load_file(reg, path, err, sizeof err) != 0) {
    fprintf(stderr, "cannot load %s (the shell job type): %s\n", path, err);
    return -1;
  }
  pgd_manual_clock_init(&mclock, T0_US);
  pgd_master_config_t cfg;
  pgd_master_config_defaults(&cfg);
  cfg.data_dir = data_dir;
  cfg.rpc_host = "127.0.0.1";
  cfg.rpc_port = 0;
  cfg.secret = "sched-clock-test-secret";
  cfg.clock = &mclock.clock;
  if (pgd_master_start(&loop, &cfg, reg, &master, err, sizeof err) != 0) {
    fprintf(stderr, "cannot start the master: %s\n", err);
    return -1;
  }
  return 0;
}

static void on_stopped(void *ud) { *(int *)ud = 1; }

static int suite_clean(void) {
  int stopped = !master;
  if (master) pgd_master_stop(master, on_stopped, &stopped);
  uv_close((uv_handle_t *)&pace, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&loop);
  pgd_registry_free(reg);
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", data_dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", data_dir);
  return stopped && rc == 0 ? 0 : -1;
}

static void test_hourly_fires_on_the_manual_clock(void) {
  char err[512];
  cJSON *job = cJSON_Parse("{\"name\":\"tick\",\"type\":\"shell\",\"params\":{\"script\":\"true\"}}");
  cJSON *norm = NULL;
  bool created = false;
  wait_t w = {0};
  CU_ASSERT_EQUAL_FATAL(pgd_master_job_define(master, job, &norm, &created, on_done, &w, err,
                                              sizeof err), 0);
  cJSON_Delete(job);
  cJSON_Delete(norm);
  CU_ASSERT_EQUAL_FATAL(run_until(&w.done), 0);
  CU_ASSERT_EQUAL_FATAL(w.status, 0);

  cJSON *sched = cJSON_Parse("{\"name\":\"hourly\",\"job\":\"tick\",\"every\":\"1h\"}");
  char *name = NULL;
  wait_t ws = {0};
  CU_ASSERT_EQUAL_FATAL(pgd_master_schedule_define(master, sched, &name, &created, on_done, &ws,
                                                   err, sizeof err), 0);
  cJSON_Delete(sched);
  free(name);
  CU_ASSERT_EQUAL_FATAL(run_until(&ws.done), 0);
  CU_ASSERT_EQUAL(ws.status, 0);

  /* Counted from the manual clock's now, not the system clock's. */
  CU_ASSERT_EQUAL(view_us("created_us"), T0_US);
  CU_ASSERT_EQUAL(view_us("next_fire_us"), T0_US + HOUR_US);

  /* The hour: one execution, for exactly T0 + 1h. */
  pgd_manual_clock_advance(&mclock, HOUR_US);
  CU_ASSERT_EQUAL_FATAL(wait_for_execs(1), 1);
  CU_ASSERT_EQUAL(view_us("last_fired_us"), T0_US + HOUR_US);
  CU_ASSERT_EQUAL(view_us("next_fire_us"), T0_US + 2 * HOUR_US);

  /* The next hour: a second one. */
  pgd_manual_clock_advance(&mclock, HOUR_US);
  CU_ASSERT_EQUAL_FATAL(wait_for_execs(2), 2);
  CU_ASSERT_EQUAL(view_us("last_fired_us"), T0_US + 2 * HOUR_US);
  CU_ASSERT_EQUAL(view_us("next_fire_us"), T0_US + 3 * HOUR_US);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("master_sched_clock", suite_init, suite_clean);
  if (!s) return 1;
  CU_add_test(s, "an hourly schedule fires on the manual clock",
              test_hourly_fires_on_the_manual_clock);
  return pgd_test_run();
}
