/* Unit tests of core/sched triggers: JSON parsing and its error messages, the
 * next fire time of each kind with start/end bounds, and the misfire policy
 * computation (pgd_trigger_due). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "pgd_test.h"
#include "sched/timefmt.h"
#include "sched/trigger.h"

#define S 1000000LL

static int64_t T(const char *s) {
  int64_t us = -2;
  if (pgd_sched_parse_time(s, NULL, "t", &us, NULL, 0) < 0) CU_FAIL_FATAL("bad test time");
  return us;
}

/* Parses a JSON text into a trigger; NULL with err filled on failure. */
static pgd_trigger_t *P(const char *json, int64_t now, char *err, size_t errlen) {
  cJSON *j = cJSON_Parse(json);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  pgd_trigger_t *t = NULL;
  int rc = pgd_trigger_parse(j, now, &t, err, errlen);
  cJSON_Delete(j);
  if (rc == 0) CU_ASSERT_PTR_NOT_NULL(t);
  return t;
}

static pgd_trigger_t *OK(const char *json) {
  char err[300];
  pgd_trigger_t *t = P(json, 0, err, sizeof err);
  if (!t) fprintf(stderr, "\n  %s: %s\n", json, err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  return t;
}

static void test_parse_ok(void) {
  pgd_trigger_t *t = OK("{\"cron\":\"0 9 * * MON-FRI\",\"timezone\":\"Europe/Berlin\","
                        "\"misfire\":\"run_all\",\"max_catchup\":3,\"enabled\":false,"
                        "\"name\":\"nightly\",\"job\":\"etl\"}");
  CU_ASSERT_EQUAL(pgd_trigger_kind(t), PGD_TRIGGER_CRON);
  CU_ASSERT_EQUAL(pgd_trigger_misfire(t), PGD_MISFIRE_RUN_ALL);
  CU_ASSERT_EQUAL(pgd_trigger_enabled(t), 0);
  CU_ASSERT_STRING_EQUAL(pgd_trigger_timezone(t), "Europe/Berlin");
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-11-20T12:00:00Z"), -1), T("2026-11-23T08:00:00Z"));
  pgd_trigger_free(t);
  t = OK("{\"every\":\"1h30m\"}");
  CU_ASSERT_EQUAL(pgd_trigger_kind(t), PGD_TRIGGER_EVERY);
  CU_ASSERT_EQUAL(pgd_trigger_misfire(t), PGD_MISFIRE_SKIP);
  CU_ASSERT_EQUAL(pgd_trigger_enabled(t), 1);
  CU_ASSERT_STRING_EQUAL(pgd_trigger_timezone(t), "UTC");
  pgd_trigger_free(t);
  t = OK("{\"every\":90}"); /* a number is seconds */
  CU_ASSERT_EQUAL(pgd_trigger_next(t, 0, -1), 90 * S);
  pgd_trigger_free(t);
}

static void test_next_kinds(void) {
  /* every: multiples of the interval since the epoch, or since start. */
  pgd_trigger_t *t = OK("{\"every\":\"30s\"}");
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-01-01T00:00:10Z"), -1), T("2026-01-01T00:00:30Z"));
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-01-01T00:00:30Z"), -1), T("2026-01-01T00:01:00Z"));
  pgd_trigger_free(t);
  t = OK("{\"every\":\"1h\",\"start\":\"2026-01-01T00:20:00Z\",\"end\":\"2026-01-01T03:20:00Z\"}");
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2025-06-01T00:00:00Z"), -1), T("2026-01-01T00:20:00Z"));
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-01-01T00:20:00Z"), -1), T("2026-01-01T01:20:00Z"));
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-01-01T02:20:00Z"), -1), T("2026-01-01T03:20:00Z"));
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-01-01T03:20:00Z"), -1), -1); /* past end */
  pgd_trigger_free(t);
  /* delay: after the previous run ends. */
  t = OK("{\"delay\":\"5m\"}");
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-01-01T00:00:00Z"), -1), T("2026-01-01T00:00:00Z") + 1);
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-01-01T00:07:00Z"), T("2026-01-01T00:07:00Z")),
                  T("2026-01-01T00:12:00Z"));
  pgd_trigger_free(t);
  t = OK("{\"delay\":\"5m\",\"start\":\"2026-02-01T00:00:00Z\"}");
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-01-01T00:00:00Z"), -1), T("2026-02-01T00:00:00Z"));
  pgd_trigger_free(t);
  /* at: once. A time without offset is read in the schedule's zone. */
  t = OK("{\"at\":\"2026-12-24T18:00:00\",\"timezone\":\"Europe/Berlin\"}");
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-01-01T00:00:00Z"), -1), T("2026-12-24T17:00:00Z"));
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-12-24T17:00:00Z"), -1), -1);
  pgd_trigger_free(t);
  /* cron with start/end bounds (inclusive) and a zone. */
  t = OK("{\"cron\":\"0 0 * * *\",\"timezone\":\"America/New_York\","
         "\"start\":\"2026-03-10T00:00:00-04:00\",\"end\":\"2026-03-12T00:00:00-04:00\"}");
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-01-01T00:00:00Z"), -1), T("2026-03-10T04:00:00Z"));
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-03-11T04:00:00Z"), -1), T("2026-03-12T04:00:00Z"));
  CU_ASSERT_EQUAL(pgd_trigger_next(t, T("2026-03-12T04:00:00Z"), -1), -1);
  pgd_trigger_free(t);
}

typedef struct {
  const char *json, *msg;
} bad_case_t;

static void test_parse_bad(void) {
  int64_t now = T("2026-11-22T10:00:00Z");
  static const bad_case_t bad[] = {
      {"{}", "a schedule needs one of \"cron\", \"every\", \"delay\" or \"at\""},
      {"{\"cron\":\"* * * * *\",\"every\":\"1m\"}",
       "a schedule takes only one of \"cron\", \"every\", \"delay\" or \"at\" (got \"cron\" and \"every\")"},
      {"{\"cron\":\"0 0 32 * *\"}", "cron field 3 (day of month): 32 is out of range 1-31"},
      {"{\"cron\":\"0 0 30 2 *\"}", "cron \"0 0 30 2 *\" never fires (February has no day 30)"},
      {"{\"cron\":5}", "\"cron\" must be a string"},
      {"{\"cron\":\"* * * * *\",\"timezone\":\"Mars/Base\"}", "unknown time zone \"Mars/Base\""},
      {"{\"cron\":\"* * * * *\",\"timezone\":7}", "\"timezone\" must be a string"},
      {"{\"every\":\"0s\"}", "every \"0s\" must be greater than zero"},
      {"{\"every\":0}", "every 0 must be greater than zero"},
      {"{\"every\":-5}", "every -5 must be greater than zero"},
      {"{\"every\":1.5}", "every 1.5 must be a whole number of seconds up to 3660 days"},
      {"{\"every\":true}", "\"every\" must be a duration string like \"30s\" or a number of seconds"},
      {"{\"delay\":\"soon\"}",
       "delay \"soon\" is not a duration (write numbers with units d, h, m, s, like \"30s\" or \"1h30m\")"},
      {"{\"at\":\"2020-01-01T00:00:00Z\"}",
       "at \"2020-01-01T00:00:00Z\" is in the past (now is 2026-11-22T10:00:00.000Z)"},
      {"{\"at\":\"2026-11-22T10:00:00Z\"}",
       "at \"2026-11-22T10:00:00Z\" is in the past (now is 2026-11-22T10:00:00.000Z)"},
      {"{\"at\":\"next week\"}", "at \"next week\" is not an RFC 3339 time (like \"2026-11-22T10:00:00Z\")"},
      {"{\"every\":\"1m\",\"start\":\"2027-01-02T00:00:00Z\",\"end\":\"2027-01-01T00:00:00Z\"}",
       "end \"2027-01-01T00:00:00Z\" is before start \"2027-01-02T00:00:00Z\""},
      {"{\"every\":\"1m\",\"end\":\"2026-01-01T00:00:00Z\"}",
       "end \"2026-01-01T00:00:00Z\" is in the past (now is 2026-11-22T10:00:00.000Z)"},
      {"{\"every\":\"1m\",\"misfire\":\"later\"}", "misfire \"later\" is not one of skip, run_once, run_all"},
      {"{\"every\":\"1m\",\"max_catchup\":0}", "max_catchup must be an integer from 1 to 1000"},
      {"{\"every\":\"1m\",\"max_catchup\":2.5}", "max_catchup must be an integer from 1 to 1000"},
      {"{\"every\":\"1m\",\"enabled\":\"yes\"}", "\"enabled\" must be true or false"},
      {"{\"cron\":\"0 0 1 1 *\",\"end\":\"2026-12-01T00:00:00Z\"}",
       "cron \"0 0 1 1 *\" never fires between now and its end"},
      {"[1]", "a schedule must be a JSON object"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char err[300] = "";
    pgd_trigger_t *t = P(bad[i].json, now, err, sizeof err);
    CU_ASSERT_PTR_NULL(t);
    pgd_trigger_free(t);
    if (strcmp(err, bad[i].msg) != 0)
      fprintf(stderr, "\n  %s:\n   got  '%s'\n   want '%s'\n", bad[i].json, err, bad[i].msg);
    CU_ASSERT_STRING_EQUAL(err, bad[i].msg);
  }
  /* `at` in the past is accepted when reloading (now_us = 0). */
  char err[200];
  pgd_trigger_t *t = P("{\"at\":\"2020-01-01T00:00:00Z\"}", 0, err, sizeof err);
  CU_ASSERT_PTR_NOT_NULL(t);
  pgd_trigger_free(t);
  CU_ASSERT_EQUAL(pgd_trigger_parse(NULL, now, &t, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NULL(t);
}

/* ---- misfires ---------------------------------------------------------------- */

static int due(pgd_trigger_t *t, const char *last, const char *now, int64_t *fires, int max,
               int64_t *next) {
  return pgd_trigger_due(t, T(last), -1, T(now), fires, max, next);
}

static void test_due_on_time(void) {
  /* The normal path: the timer fires 2 ms after the due time. */
  pgd_trigger_t *t = OK("{\"cron\":\"*/5 * * * *\"}");
  int64_t f[16], next;
  CU_ASSERT_EQUAL(pgd_trigger_due(t, T("2026-01-01T00:00:00Z"), -1, T("2026-01-01T00:05:00Z") + 2000,
                                  f, 16, &next), 1);
  CU_ASSERT_EQUAL(f[0], T("2026-01-01T00:05:00Z"));
  CU_ASSERT_EQUAL(next, T("2026-01-01T00:10:00Z"));
  /* Nothing due yet. */
  CU_ASSERT_EQUAL(due(t, "2026-01-01T00:05:00Z", "2026-01-01T00:09:59Z", f, 16, &next), 0);
  CU_ASSERT_EQUAL(next, T("2026-01-01T00:10:00Z"));
  /* last_fired == now: nothing (no double fire). */
  CU_ASSERT_EQUAL(due(t, "2026-01-01T00:05:00Z", "2026-01-01T00:05:00Z", f, 16, &next), 0);
  pgd_trigger_free(t);
}

static void test_due_policies(void) {
  int64_t f[2000], next;
  /* Down from 00:02 to 01:00:30: due times 00:05 ... 01:00 (12 of them). */
  pgd_trigger_t *skip = OK("{\"cron\":\"*/5 * * * *\"}");
  pgd_trigger_t *once = OK("{\"cron\":\"*/5 * * * *\",\"misfire\":\"run_once\"}");
  pgd_trigger_t *all = OK("{\"cron\":\"*/5 * * * *\",\"misfire\":\"run_all\",\"max_catchup\":1000}");
  pgd_trigger_t *all3 = OK("{\"cron\":\"*/5 * * * *\",\"misfire\":\"run_all\",\"max_catchup\":3}");
  /* 01:00 is 30 s late: within the 60 s grace, so on time for every policy. */
  CU_ASSERT_EQUAL(due(skip, "2026-01-01T00:02:00Z", "2026-01-01T01:00:30Z", f, 2000, &next), 1);
  CU_ASSERT_EQUAL(f[0], T("2026-01-01T01:00:00Z"));
  CU_ASSERT_EQUAL(next, T("2026-01-01T01:05:00Z"));
  CU_ASSERT_EQUAL(due(once, "2026-01-01T00:02:00Z", "2026-01-01T01:00:30Z", f, 2000, &next), 1);
  CU_ASSERT_EQUAL(f[0], T("2026-01-01T01:00:00Z"));
  int n = due(all, "2026-01-01T00:02:00Z", "2026-01-01T01:00:30Z", f, 2000, &next);
  CU_ASSERT_EQUAL_FATAL(n, 12);
  for (int i = 0; i < n; i++) CU_ASSERT_EQUAL(f[i], T("2026-01-01T00:05:00Z") + i * 300 * S);
  n = due(all3, "2026-01-01T00:02:00Z", "2026-01-01T01:00:30Z", f, 2000, &next);
  CU_ASSERT_EQUAL_FATAL(n, 3); /* the latest three */
  CU_ASSERT_EQUAL(f[0], T("2026-01-01T00:50:00Z"));
  CU_ASSERT_EQUAL(f[2], T("2026-01-01T01:00:00Z"));
  n = due(all, "2026-01-01T00:02:00Z", "2026-01-01T01:00:30Z", f, 2, &next); /* buffer cap */
  CU_ASSERT_EQUAL(n, 2);
  CU_ASSERT_EQUAL(f[1], T("2026-01-01T01:00:00Z"));
  /* Now 01:03: the latest due time (01:00) is 3 min late, a misfire. */
  CU_ASSERT_EQUAL(due(skip, "2026-01-01T00:02:00Z", "2026-01-01T01:03:00Z", f, 2000, &next), 0);
  CU_ASSERT_EQUAL(next, T("2026-01-01T01:05:00Z"));
  CU_ASSERT_EQUAL(due(once, "2026-01-01T00:02:00Z", "2026-01-01T01:03:00Z", f, 2000, &next), 1);
  CU_ASSERT_EQUAL(f[0], T("2026-01-01T01:00:00Z"));
  CU_ASSERT_EQUAL(due(all, "2026-01-01T00:02:00Z", "2026-01-01T01:03:00Z", f, 2000, &next), 12);
  /* A long outage of a frequent schedule: a year of every-second fires. */
  pgd_trigger_t *sec = OK("{\"cron\":\"* * * * * *\",\"misfire\":\"run_all\",\"max_catchup\":5}");
  n = due(sec, "2025-01-01T00:00:00Z", "2026-01-01T00:00:00.5Z", f, 2000, &next);
  CU_ASSERT_EQUAL_FATAL(n, 5);
  CU_ASSERT_EQUAL(f[0], T("2025-12-31T23:59:56Z"));
  CU_ASSERT_EQUAL(f[4], T("2026-01-01T00:00:00Z"));
  CU_ASSERT_EQUAL(next, T("2026-01-01T00:00:01Z"));
  /* A rare schedule missed long ago, found by widening the look-back. */
  pgd_trigger_t *yr = OK("{\"cron\":\"@yearly\",\"misfire\":\"run_once\"}");
  CU_ASSERT_EQUAL(due(yr, "2020-06-01T00:00:00Z", "2026-06-01T00:00:00Z", f, 2000, &next), 1);
  CU_ASSERT_EQUAL(f[0], T("2026-01-01T00:00:00Z"));
  CU_ASSERT_EQUAL(next, T("2027-01-01T00:00:00Z"));
  CU_ASSERT_EQUAL(pgd_trigger_due(yr, -1, -1, T("2026-06-01T00:00:00Z"), f, 0, &next), -EINVAL);
  pgd_trigger_free(skip);
  pgd_trigger_free(once);
  pgd_trigger_free(all);
  pgd_trigger_free(all3);
  pgd_trigger_free(sec);
  pgd_trigger_free(yr);
}

static void test_due_every_at_delay(void) {
  int64_t f[16], next;
  pgd_trigger_t *t = OK("{\"every\":\"10m\",\"misfire\":\"run_all\",\"max_catchup\":4}");
  int n = due(t, "2026-01-01T00:00:00Z", "2026-01-01T01:05:00Z", f, 16, &next);
  CU_ASSERT_EQUAL_FATAL(n, 4);
  CU_ASSERT_EQUAL(f[0], T("2026-01-01T00:30:00Z"));
  CU_ASSERT_EQUAL(f[3], T("2026-01-01T01:00:00Z"));
  CU_ASSERT_EQUAL(next, T("2026-01-01T01:10:00Z"));
  pgd_trigger_free(t);
  /* at: created before it, master down through it. */
  t = OK("{\"at\":\"2026-01-01T12:00:00Z\",\"misfire\":\"run_once\"}");
  CU_ASSERT_EQUAL(due(t, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", f, 16, &next), 1);
  CU_ASSERT_EQUAL(f[0], T("2026-01-01T12:00:00Z"));
  CU_ASSERT_EQUAL(next, -1);
  CU_ASSERT_EQUAL(due(t, "2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z", f, 16, &next), 0);
  pgd_trigger_free(t);
  t = OK("{\"at\":\"2026-01-01T12:00:00Z\"}"); /* skip */
  CU_ASSERT_EQUAL(due(t, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", f, 16, &next), 0);
  CU_ASSERT_EQUAL(next, -1);
  pgd_trigger_free(t);
  /* delay 5m: the previous run ended at 00:10. */
  pgd_trigger_t *d = OK("{\"delay\":\"5m\"}");
  pgd_trigger_t *d1 = OK("{\"delay\":\"5m\",\"misfire\":\"run_once\"}");
  int64_t end = T("2026-01-01T00:10:00Z");
  CU_ASSERT_EQUAL(pgd_trigger_due(d, T("2026-01-01T00:00:00Z"), end, T("2026-01-01T00:12:00Z"), f, 16, &next), 0);
  CU_ASSERT_EQUAL(next, T("2026-01-01T00:15:00Z"));
  CU_ASSERT_EQUAL(pgd_trigger_due(d, T("2026-01-01T00:00:00Z"), end, T("2026-01-01T00:15:00.003Z"), f, 16, &next), 1);
  CU_ASSERT_EQUAL(f[0], T("2026-01-01T00:15:00Z"));
  CU_ASSERT_EQUAL(next, -1); /* known when this run ends */
  /* Master down until 03:00: skip waits a delay from now; run_once runs now. */
  CU_ASSERT_EQUAL(pgd_trigger_due(d, T("2026-01-01T00:00:00Z"), end, T("2026-01-01T03:00:00Z"), f, 16, &next), 0);
  CU_ASSERT_EQUAL(next, T("2026-01-01T03:05:00Z"));
  CU_ASSERT_EQUAL(pgd_trigger_due(d1, T("2026-01-01T00:00:00Z"), end, T("2026-01-01T03:00:00Z"), f, 16, &next), 1);
  CU_ASSERT_EQUAL(f[0], T("2026-01-01T00:15:00Z"));
  /* Never ran: the first run is due when the schedule was created. */
  CU_ASSERT_EQUAL(pgd_trigger_due(d, T("2026-01-01T00:00:00Z"), -1, T("2026-01-01T00:00:00.002Z"), f, 16, &next), 1);
  CU_ASSERT_EQUAL(f[0], T("2026-01-01T00:00:00Z"));
  pgd_trigger_free(d);
  pgd_trigger_free(d1);
}

/* The fire times returned by due, fed back as last_fired, never repeat and
 * never skip a time: walking a DST day in Berlin hour by hour. */
static void test_due_walk(void) {
  pgd_trigger_t *t = OK("{\"cron\":\"0 * * * *\",\"timezone\":\"Europe/Berlin\",\"misfire\":\"run_all\",\"max_catchup\":100}");
  int64_t f[100], next, last = T("2026-10-24T22:00:00Z"), total = 0;
  for (int64_t now = last + 7 * 60 * S; now < T("2026-10-25T23:00:00Z"); now += 7 * 60 * S) {
    int n = pgd_trigger_due(t, last, -1, now, f, 100, &next);
    CU_ASSERT_FATAL(n >= 0 && n <= 1);
    if (n) {
      CU_ASSERT(f[0] > last);
      last = f[0];
      total++;
    }
  }
  /* 24 whole hours strictly inside that 25-hour window (01:00 ... 23:00
   * local), minus the repeated 02:00 that fires only once. */
  CU_ASSERT_EQUAL(total, 23);
  pgd_trigger_free(t);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("sched_trigger", NULL, NULL);
  CU_add_test(s, "parse: good schedules", test_parse_ok);
  CU_add_test(s, "next fire of each kind with bounds", test_next_kinds);
  CU_add_test(s, "parse: bad schedules and messages", test_parse_bad);
  CU_add_test(s, "due: on time", test_due_on_time);
  CU_add_test(s, "due: skip, run_once, run_all", test_due_policies);
  CU_add_test(s, "due: every, at, delay", test_due_every_at_delay);
  CU_add_test(s, "due: walking a fall-back day", test_due_walk);
  return pgd_test_run();
}
