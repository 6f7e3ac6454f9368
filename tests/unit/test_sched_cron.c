/* Unit tests of core/sched: time zones (TZif + POSIX footer rules), the cron
 * parser and the next-fire computation, against tables of expected times. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "common/clock.h"
#include "sched/cron.h"
#include "sched/timefmt.h"
#include "sched/tz.h"

static int64_t T(const char *s) {
  int64_t us = -2;
  char err[200];
  if (pgd_sched_parse_time(s, NULL, "t", &us, err, sizeof err) < 0) {
    fprintf(stderr, "bad test time %s: %s\n", s, err);
    CU_FAIL_FATAL("bad test time");
  }
  return us;
}

/* ---- time zones ------------------------------------------------------------ */

static void test_parse_time(void) {
  CU_ASSERT_EQUAL(T("2026-11-22T10:00:00Z"), (int64_t)1795341600 * 1000000);
  CU_ASSERT_EQUAL(T("2026-11-22T11:00:00+01:00"), (int64_t)1795341600 * 1000000);
  CU_ASSERT_EQUAL(T("2026-11-22t05:30:00.25-04:30"), (int64_t)1795341600 * 1000000 + 250000);
  CU_ASSERT_EQUAL(T("1970-01-01 00:00:00z"), 0);
  CU_ASSERT_EQUAL(T("1969-12-31T23:59:59Z"), -1000000);
  int64_t us;
  char err[200];
  CU_ASSERT_EQUAL(pgd_sched_parse_time("2026-02-29T00:00:00Z", NULL, "at", &us, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "at \"2026-02-29T00:00:00Z\" is not a valid date and time");
  CU_ASSERT_EQUAL(pgd_sched_parse_time("tomorrow", NULL, "start", &us, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "start \"tomorrow\" is not an RFC 3339 time (like \"2026-11-22T10:00:00Z\")");
  CU_ASSERT_EQUAL(pgd_sched_parse_time("2026-11-22T10:00:00Zx", NULL, "at", &us, err, sizeof err), -EINVAL);
  /* Without an offset: read in the given zone. */
  pgd_tz_t *b;
  CU_ASSERT_EQUAL_FATAL(pgd_tz_load("Europe/Berlin", &b, err, sizeof err), 0);
  CU_ASSERT_EQUAL(pgd_sched_parse_time("2026-07-01T12:00:00", b, "at", &us, err, sizeof err), 0);
  CU_ASSERT_EQUAL(us, T("2026-07-01T10:00:00Z"));
  pgd_tz_free(b);
}

static void test_durations(void) {
  int64_t us;
  char err[200];
  CU_ASSERT_EQUAL(pgd_sched_parse_duration("30s", "every", &us, err, sizeof err), 0);
  CU_ASSERT_EQUAL(us, 30000000);
  CU_ASSERT_EQUAL(pgd_sched_parse_duration("1h30m", "every", &us, err, sizeof err), 0);
  CU_ASSERT_EQUAL(us, (int64_t)5400 * 1000000);
  CU_ASSERT_EQUAL(pgd_sched_parse_duration("2d1s", "every", &us, err, sizeof err), 0);
  CU_ASSERT_EQUAL(us, (int64_t)172801 * 1000000);
  CU_ASSERT_EQUAL(pgd_sched_parse_duration("0s", "every", &us, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "every \"0s\" must be greater than zero");
  CU_ASSERT_EQUAL(pgd_sched_parse_duration("5", "every", &us, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not a duration"));
  CU_ASSERT_EQUAL(pgd_sched_parse_duration("", "delay", &us, err, sizeof err), -EINVAL);
  CU_ASSERT_EQUAL(pgd_sched_parse_duration("1x", "delay", &us, err, sizeof err), -EINVAL);
  CU_ASSERT_EQUAL(pgd_sched_parse_duration("99999999999999s", "delay", &us, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "too long"));
}

static void test_tz_load(void) {
  pgd_tz_t *a, *b, *u;
  char err[200];
  CU_ASSERT_EQUAL(pgd_tz_load("UTC", &u, err, sizeof err), 0);
  CU_ASSERT_EQUAL(pgd_tz_offset(u, 0, NULL), 0);
  CU_ASSERT_EQUAL(pgd_tz_load("Europe/Berlin", &a, err, sizeof err), 0);
  CU_ASSERT_EQUAL(pgd_tz_load("Europe/Berlin", &b, err, sizeof err), 0);
  CU_ASSERT_PTR_EQUAL(a, b); /* cached and shared */
  CU_ASSERT_STRING_EQUAL(pgd_tz_name(a), "Europe/Berlin");
  pgd_tz_free(a);
  pgd_tz_free(b);
  pgd_tz_free(u);
  pgd_tz_t *x = (pgd_tz_t *)1;
  CU_ASSERT_EQUAL(pgd_tz_load("Mars/Base", &x, err, sizeof err), -ENOENT);
  CU_ASSERT_PTR_NULL(x);
  CU_ASSERT_STRING_EQUAL(err, "unknown time zone \"Mars/Base\"");
  CU_ASSERT_EQUAL(pgd_tz_load("../etc/passwd", &x, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "unknown time zone \"../etc/passwd\"");
  CU_ASSERT_EQUAL(pgd_tz_load("/etc/passwd", &x, err, sizeof err), -EINVAL);
  CU_ASSERT_EQUAL(pgd_tz_load("", &x, err, sizeof err), -EINVAL);
  CU_ASSERT_EQUAL(pgd_tz_load("Europe", &x, err, sizeof err), -ENOENT); /* a directory */
  CU_ASSERT_EQUAL(pgd_tz_load("zone.tab", &x, err, sizeof err), -EINVAL); /* '.' refused */
  CU_ASSERT_STRING_EQUAL(err, "unknown time zone \"zone.tab\"");
  CU_ASSERT_EQUAL(pgd_tz_load("leapseconds", &x, err, sizeof err), -EINVAL); /* not TZif */
  CU_ASSERT_STRING_EQUAL(err, "time zone \"leapseconds\": not a usable TZif file");
  CU_ASSERT_EQUAL(pgd_tz_load("right/UTC", &x, err, sizeof err), -EINVAL);
}

typedef struct {
  const char *zone, *utc;
  int32_t off;
  int dst;
} off_case_t;

static void test_tz_offsets(void) {
  static const off_case_t cases[] = {
      {"Europe/Berlin", "2026-01-15T12:00:00Z", 3600, 0},
      {"Europe/Berlin", "2026-03-29T00:59:59Z", 3600, 0},
      {"Europe/Berlin", "2026-03-29T01:00:00Z", 7200, 1},
      {"Europe/Berlin", "2026-10-25T00:59:59Z", 7200, 1},
      {"Europe/Berlin", "2026-10-25T01:00:00Z", 3600, 0},
      /* Past the table: the footer rule CET-1CEST,M3.5.0,M10.5.0/3. */
      {"Europe/Berlin", "2050-03-27T00:59:59Z", 3600, 0},
      {"Europe/Berlin", "2050-03-27T01:00:00Z", 7200, 1},
      {"Europe/Berlin", "2100-10-31T00:59:59Z", 7200, 1},
      {"Europe/Berlin", "2100-10-31T01:00:00Z", 3600, 0},
      {"Europe/Berlin", "1975-07-01T00:00:00Z", 3600, 0}, /* no DST in 1975 West Germany */
      {"Europe/Berlin", "1980-07-01T00:00:00Z", 7200, 1},
      {"America/New_York", "2026-03-08T06:59:59Z", -18000, 0},
      {"America/New_York", "2026-03-08T07:00:00Z", -14400, 1},
      {"America/New_York", "2026-11-01T06:00:00Z", -18000, 0},
      {"America/New_York", "2050-11-06T05:59:59Z", -14400, 1},
      {"America/New_York", "2050-11-06T06:00:00Z", -18000, 0},
      {"Australia/Sydney", "2050-04-02T15:59:59Z", 39600, 1},
      {"Australia/Sydney", "2050-04-02T16:00:00Z", 36000, 0},
      {"Australia/Sydney", "2050-10-01T16:00:00Z", 39600, 1},
      {"Australia/Sydney", "2051-01-01T00:00:00Z", 39600, 1},
      {"Asia/Kolkata", "2026-06-01T00:00:00Z", 19800, 0},
      {"Asia/Tokyo", "2080-06-01T00:00:00Z", 32400, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    pgd_tz_t *z;
    char err[200];
    CU_ASSERT_EQUAL_FATAL(pgd_tz_load(cases[i].zone, &z, err, sizeof err), 0);
    int dst = -1;
    int32_t off = pgd_tz_offset(z, T(cases[i].utc) / 1000000, &dst);
    if (off != cases[i].off || dst != cases[i].dst)
      fprintf(stderr, "\n  %s at %s: offset %d dst %d, expected %d %d\n", cases[i].zone,
              cases[i].utc, off, dst, cases[i].off, cases[i].dst);
    CU_ASSERT_EQUAL(off, cases[i].off);
    CU_ASSERT_EQUAL(dst, cases[i].dst);
    pgd_tz_free(z);
  }
}

static void test_tz_local_to_utc(void) {
  pgd_tz_t *b, *s;
  char err[200];
  CU_ASSERT_EQUAL_FATAL(pgd_tz_load("Europe/Berlin", &b, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(pgd_tz_load("Australia/Sydney", &s, err, sizeof err), 0);
  pgd_tz_local_kind_t k;
  /* Wall times written as if UTC. */
  CU_ASSERT_EQUAL(pgd_tz_local_to_utc(b, T("2026-07-01T12:00:00Z") / 1000000, &k) * 1000000,
                  T("2026-07-01T10:00:00Z"));
  CU_ASSERT_EQUAL(k, PGD_TZ_LOCAL_UNIQUE);
  CU_ASSERT_EQUAL(pgd_tz_local_to_utc(b, T("2026-03-29T02:30:00Z") / 1000000, &k) * 1000000,
                  T("2026-03-29T01:00:00Z")); /* gap: the jump to 03:00 CEST */
  CU_ASSERT_EQUAL(k, PGD_TZ_LOCAL_GAP);
  CU_ASSERT_EQUAL(pgd_tz_local_to_utc(b, T("2026-03-29T02:00:00Z") / 1000000, &k) * 1000000,
                  T("2026-03-29T01:00:00Z"));
  CU_ASSERT_EQUAL(k, PGD_TZ_LOCAL_GAP);
  CU_ASSERT_EQUAL(pgd_tz_local_to_utc(b, T("2026-03-29T03:00:00Z") / 1000000, &k) * 1000000,
                  T("2026-03-29T01:00:00Z"));
  CU_ASSERT_EQUAL(k, PGD_TZ_LOCAL_UNIQUE);
  CU_ASSERT_EQUAL(pgd_tz_local_to_utc(b, T("2026-10-25T02:30:00Z") / 1000000, &k) * 1000000,
                  T("2026-10-25T00:30:00Z")); /* repeat: the first (CEST) */
  CU_ASSERT_EQUAL(k, PGD_TZ_LOCAL_REPEAT);
  CU_ASSERT_EQUAL(pgd_tz_local_to_utc(b, T("2050-03-27T02:59:59Z") / 1000000, &k) * 1000000,
                  T("2050-03-27T01:00:00Z"));
  CU_ASSERT_EQUAL(k, PGD_TZ_LOCAL_GAP);
  CU_ASSERT_EQUAL(pgd_tz_local_to_utc(s, T("2026-10-04T02:15:00Z") / 1000000, &k) * 1000000,
                  T("2026-10-03T16:00:00Z"));
  CU_ASSERT_EQUAL(k, PGD_TZ_LOCAL_GAP);
  CU_ASSERT_EQUAL(pgd_tz_local_to_utc(s, T("2026-04-05T02:15:00Z") / 1000000, &k) * 1000000,
                  T("2026-04-04T15:15:00Z"));
  CU_ASSERT_EQUAL(k, PGD_TZ_LOCAL_REPEAT);
  pgd_tz_free(b);
  pgd_tz_free(s);
}

/* ---- cron ------------------------------------------------------------------ */

typedef struct {
  const char *expr, *zone, *after, *expect; /* expect NULL = never (-1) */
} next_case_t;

static const next_case_t NEXT[] = {
    {"* * * * *", "UTC", "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"},
    {"* * * * *", "UTC", "2026-01-01T00:00:59.999Z", "2026-01-01T00:01:00Z"},
    {"*/15 * * * *", "UTC", "2026-01-01T00:07:30Z", "2026-01-01T00:15:00Z"},
    {"*/15 * * * *", "UTC", "2026-01-01T23:50:00Z", "2026-01-02T00:00:00Z"},
    {"5/20 * * * *", "UTC", "2026-01-01T00:26:00Z", "2026-01-01T00:45:00Z"},
    {"10-20/5 3 * * *", "UTC", "2026-01-01T03:16:00Z", "2026-01-01T03:20:00Z"},
    {"0 0 1 1 *", "UTC", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z"},
    {"0 12 L * *", "UTC", "2026-02-01T00:00:00Z", "2026-02-28T12:00:00Z"},
    {"0 12 L * *", "UTC", "2028-02-01T00:00:00Z", "2028-02-29T12:00:00Z"},
    {"0 12 L * *", "UTC", "2026-04-30T12:00:00Z", "2026-05-31T12:00:00Z"},
    {"0 0 1,L * *", "UTC", "2026-04-02T00:00:00Z", "2026-04-30T00:00:00Z"},
    {"0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"}, /* 2100 not leap */
    {"0 0 31 * *", "UTC", "2026-04-01T00:00:00Z", "2026-05-31T00:00:00Z"},
    {"30 10 * * MON-FRI", "UTC", "2026-11-20T11:00:00Z", "2026-11-23T10:30:00Z"},
    {"30 10 * * mon-fri", "UTC", "2026-11-23T10:29:59Z", "2026-11-23T10:30:00Z"},
    {"0 0 * * 7", "UTC", "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"},
    {"0 0 * * SAT-SUN", "UTC", "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"},
    {"0 0 * * FRI-MON", "UTC", "2026-11-24T00:00:00Z", "2026-11-27T00:00:00Z"},
    {"0 0 13 * FRI", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"}, /* OR */
    {"0 0 13 * FRI", "UTC", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z"},
    {"0 0 */2 * FRI", "UTC", "2026-01-01T00:00:00Z", "2026-01-09T00:00:00Z"}, /* AND */
    {"0 0 ? * SUN", "UTC", "2026-11-22T00:00:00Z", "2026-11-29T00:00:00Z"},
    {"0 0 1 JAN,jul *", "UTC", "2026-02-01T00:00:00Z", "2026-07-01T00:00:00Z"},
    {"0 0 1 NOV-FEB *", "UTC", "2026-03-01T00:00:00Z", "2026-11-01T00:00:00Z"},
    {"0 22-2 * * *", "UTC", "2026-01-01T02:30:00Z", "2026-01-01T22:00:00Z"},
    {"0 22-2 * * *", "UTC", "2026-01-01T23:00:00Z", "2026-01-02T00:00:00Z"},
    {"*/10 * * * * *", "UTC", "2026-01-01T00:00:05Z", "2026-01-01T00:00:10Z"},
    {"* * * * * *", "UTC", "2026-01-01T00:00:00.999999Z", "2026-01-01T00:00:01Z"},
    {"15 30 9 * * *", "UTC", "2026-01-01T09:30:15Z", "2026-01-02T09:30:15Z"},
    {"0 0 0 29 2 ?", "UTC", "2027-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
    {"@hourly", "UTC", "2026-01-01T00:00:00.5Z", "2026-01-01T01:00:00Z"},
    {"@daily", "UTC", "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"},
    {"@midnight", "UTC", "2026-01-01T12:00:00Z", "2026-01-02T00:00:00Z"},
    {"@weekly", "UTC", "2026-11-18T00:00:00Z", "2026-11-22T00:00:00Z"},
    {"@monthly", "UTC", "2026-11-18T00:00:00Z", "2026-12-01T00:00:00Z"},
    {"@yearly", "UTC", "2026-11-18T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"@annually", "UTC", "2026-11-18T00:00:00Z", "2027-01-01T00:00:00Z"},
    {"0 0 * * *", "UTC", "1969-12-31T12:00:00Z", "1970-01-01T00:00:00Z"},
    /* Europe/Berlin: CET -> CEST 2026-03-29 02:00 -> 03:00; back 2026-10-25 03:00 -> 02:00. */
    {"0 9 * * *", "Europe/Berlin", "2026-07-01T00:00:00Z", "2026-07-01T07:00:00Z"},
    {"0 9 * * *", "Europe/Berlin", "2026-01-01T00:00:00Z", "2026-01-01T08:00:00Z"},
    {"30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"}, /* gap */
    {"30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
    {"0 3 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
    {"*/15 * * * *", "Europe/Berlin", "2026-03-29T00:50:00Z", "2026-03-29T01:00:00Z"},
    {"*/15 * * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-29T01:15:00Z"},
    {"30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"}, /* repeat */
    {"30 2 * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
    {"0 * * * *", "Europe/Berlin", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"},
    {"30 2 * * *", "Europe/Berlin", "2026-10-25T01:40:00Z", "2026-10-26T01:30:00Z"},
    {"30 2 * * SUN", "Europe/Berlin", "2050-03-20T12:00:00Z", "2050-03-27T01:00:00Z"}, /* rule */
    {"0 0 L * *", "Europe/Berlin", "2028-02-01T00:00:00Z", "2028-02-28T23:00:00Z"},
    /* America/New_York: EST -> EDT 2026-03-08 02:00 -> 03:00; back 2026-11-01 02:00 -> 01:00. */
    {"30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", "2026-03-08T07:00:00Z"},
    {"30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", "2026-11-01T05:30:00Z"},
    {"30 1 * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
    {"0 0 * * *", "America/New_York", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"},
    {"0 12 * * MON", "America/New_York", "2040-11-01T00:00:00Z", "2040-11-05T17:00:00Z"},
    /* Feb 29 on a Sunday (AND: "*\/7" counts as "*"): 2032, then 2060, past the horizon. */
    {"0 0 29 2 */7", "UTC", "2030-01-01T00:00:00Z", "2032-02-29T00:00:00Z"},
    {"0 0 29 2 */7", "UTC", "2033-01-01T00:00:00Z", NULL},
};

static void test_cron_next_table(void) {
  for (size_t i = 0; i < sizeof NEXT / sizeof NEXT[0]; i++) {
    const next_case_t *c = &NEXT[i];
    pgd_cron_t *cr;
    pgd_tz_t *z;
    char err[200];
    int rc = pgd_cron_parse(c->expr, &cr, err, sizeof err);
    if (rc != 0) fprintf(stderr, "\n  parse \"%s\": %s\n", c->expr, err);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    CU_ASSERT_EQUAL_FATAL(pgd_tz_load(c->zone, &z, err, sizeof err), 0);
    int64_t got = pgd_cron_next(cr, z, T(c->after));
    int64_t want = c->expect ? T(c->expect) : -1;
    if (got != want) {
      char b[40];
      fprintf(stderr, "\n  \"%s\" %s after %s: got %s, want %s\n", c->expr, c->zone, c->after,
              got < 0 ? "-1" : pgd_format_time_us(got, b, sizeof b), c->expect ? c->expect : "-1");
    }
    CU_ASSERT_EQUAL(got, want);
    /* The UTC evaluation with a NULL zone agrees with the "UTC" zone. */
    if (strcmp(c->zone, "UTC") == 0) CU_ASSERT_EQUAL(pgd_cron_next(cr, NULL, T(c->after)), want);
    pgd_tz_free(z);
    pgd_cron_free(cr);
  }
}

/* Walking an every-minute cron through a whole DST year in Berlin: strictly
 * increasing, never two fires in one minute, one minute apart except across
 * the two jumps. */
static void test_cron_walk_year(void) {
  pgd_cron_t *cr;
  pgd_tz_t *z;
  char err[200];
  CU_ASSERT_EQUAL_FATAL(pgd_cron_parse("* * * * *", &cr, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(pgd_tz_load("Europe/Berlin", &z, err, sizeof err), 0);
  int64_t t = T("2026-01-01T00:00:00Z"), end = T("2027-01-01T00:00:00Z");
  long n = 0, odd = 0;
  while (t < end) {
    int64_t nx = pgd_cron_next(cr, z, t);
    CU_ASSERT_FATAL(nx > t);
    if (nx - t != 60000000) odd++;
    t = nx;
    n++;
  }
  /* 525600 minutes in 2026; the repeated hour in October fires once: -60. */
  CU_ASSERT_EQUAL(n, 525600 - 60);
  CU_ASSERT_EQUAL(odd, 1); /* the 61-minute step over the repeated hour */
  pgd_tz_free(z);
  pgd_cron_free(cr);
}

typedef struct {
  const char *expr, *msg;
} bad_case_t;

static void test_cron_bad(void) {
  static const bad_case_t bad[] = {
      {"0 0 32 * *", "cron field 3 (day of month): 32 is out of range 1-31"},
      {"60 * * * *", "cron field 1 (minute): 60 is out of range 0-59"},
      {"0 24 * * *", "cron field 2 (hour): 24 is out of range 0-23"},
      {"0 0 0 * *", "cron field 3 (day of month): 0 is out of range 1-31"},
      {"0 0 * 13 *", "cron field 4 (month): 13 is out of range 1-12"},
      {"0 0 * * 8", "cron field 5 (day of week): 8 is out of range 0-7"},
      {"61 0 0 * * *", "cron field 1 (second): 61 is out of range 0-59"},
      {"0 0 30 2 *", "cron \"0 0 30 2 *\" never fires (February has no day 30)"},
      {"0 0 31 2,4,6 *", "cron \"0 0 31 2,4,6 *\" never fires (February, April, June have no day 31)"},
      {"0 0 * FOO *", "cron field 4 (month): \"FOO\" is not a month (1-12 or JAN-DEC)"},
      {"0 0 * * MONDAY", "cron field 5 (day of week): \"MONDAY\" is not a weekday (0-7 or SUN-SAT)"},
      {"x * * * *", "cron field 1 (minute): \"x\" is not a number"},
      {"*/0 * * * *", "cron field 1 (minute): step 0 is out of range 1-60"},
      {"*/x * * * *", "cron field 1 (minute): step \"x\" is not a number"},
      {"1,,2 * * * *", "cron field 1 (minute): empty element in a list"},
      {"1- * * * *", "cron field 1 (minute): a value is missing"},
      {"1-2-3 * * * *", "cron field 1 (minute): unexpected \"-3\" in \"1-2-3\""},
      {"? * * * *", "cron field 1 (minute): \"?\" is only allowed in day of month and day of week"},
      {"0 0 * * L", "cron field 5 (day of week): \"L\" is only allowed in day of month"},
      {"0 0 L/2 * *", "cron field 3 (day of month): \"L\" cannot take a step"},
      {"* * * *", "cron \"* * * *\" has 4 fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (second first)"},
      {"0 0 0 1 1 * 2027", "cron \"0 0 0 1 1 * 2027\" has 7 fields; expected 5 (minute hour day-of-month month day-of-week) or 6 (second first)"},
      {"", "cron expression is empty"},
      {"   ", "cron expression is empty"},
      {"@reboot", "unknown cron macro \"@reboot\" (use @yearly, @monthly, @weekly, @daily or @hourly)"},
      {"@daily 5", "unknown cron macro \"@daily\" (use @yearly, @monthly, @weekly, @daily or @hourly)"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    pgd_cron_t *cr = (pgd_cron_t *)1;
    char err[300] = "";
    CU_ASSERT_EQUAL(pgd_cron_parse(bad[i].expr, &cr, err, sizeof err), -EINVAL);
    CU_ASSERT_PTR_NULL(cr);
    if (strcmp(err, bad[i].msg) != 0)
      fprintf(stderr, "\n  \"%s\": got '%s'\n  want '%s'\n", bad[i].expr, err, bad[i].msg);
    CU_ASSERT_STRING_EQUAL(err, bad[i].msg);
  }
  /* A tiny error buffer truncates, never overflows; NULL is fine too. */
  pgd_cron_t *cr;
  char small[8];
  CU_ASSERT_EQUAL(pgd_cron_parse("0 0 32 * *", &cr, small, sizeof small), -EINVAL);
  CU_ASSERT_EQUAL(strlen(small), 7);
  CU_ASSERT_EQUAL(pgd_cron_parse("0 0 32 * *", &cr, NULL, 0), -EINVAL);
  CU_ASSERT_EQUAL(pgd_cron_parse(NULL, &cr, NULL, 0), -EINVAL);
}

static void test_cron_text(void) {
  pgd_cron_t *cr;
  CU_ASSERT_EQUAL_FATAL(pgd_cron_parse("@weekly", &cr, NULL, 0), 0);
  CU_ASSERT_STRING_EQUAL(pgd_cron_text(cr), "@weekly");
  pgd_cron_free(cr);
  /* Feb 30 with weekdays restricted is fine (OR): it fires on Mondays of February. */
  CU_ASSERT_EQUAL_FATAL(pgd_cron_parse("0 0 30 2 MON", &cr, NULL, 0), 0);
  CU_ASSERT_EQUAL(pgd_cron_next(cr, NULL, T("2026-01-01T00:00:00Z")), T("2026-02-02T00:00:00Z"));
  pgd_cron_free(cr);
}

/* Random expressions built from valid and invalid fragments, some with a
 * character mutated, never crash the parser (run it under ASan); whatever
 * parses yields strictly increasing fire times. */
static void test_cron_random(void) {
  static const char *frag[] = {"*", "*/7", "1-5", "L", "?", "MON-FRI", "JAN", "0", "59", "32",
                               "7", "1,15", "5/10", "22-2", "sat-sun", "2", "L,1", "30", "12",
                               "feb", "0-7/2", "31", "29", "*", "*", "?", "3", "1-12/3",
                               "x", "*/0", "1-", "-", ","};
  static const char alpha[] = "0123456789*/,-? LJAN@";
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  int parsed = 0, refused = 0;
  pgd_tz_t *z;
  CU_ASSERT_EQUAL_FATAL(pgd_tz_load("America/New_York", &z, NULL, 0), 0);
  for (int i = 0; i < 20000; i++) {
    char buf[128] = "";
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int nf = x % 10 == 0 ? 4 + (int)(x % 4) : 5 + (int)(x >> 8 & 1);
    uint64_t y = x;
    for (int k = 0; k < nf; k++) {
      y = y * 6364136223846793005ULL + 1442695040888963407ULL;
      strcat(buf, frag[(y >> 33) % (sizeof frag / sizeof frag[0])]);
      if (k + 1 < nf) strcat(buf, " ");
    }
    if (x % 5 == 0) buf[(x >> 20) % strlen(buf)] = alpha[(x >> 40) % (sizeof alpha - 1)];
    pgd_cron_t *cr;
    char err[200] = "";
    if (pgd_cron_parse(buf, &cr, err, sizeof err) == 0) {
      parsed++;
      int64_t a = T("2026-03-01T00:00:00Z");
      int64_t n1 = pgd_cron_next(cr, z, a);
      int64_t n2 = n1 < 0 ? -1 : pgd_cron_next(cr, z, n1);
      CU_ASSERT(n1 == -1 || n1 > a);
      CU_ASSERT(n2 == -1 || n2 > n1);
      pgd_cron_free(cr);
    } else {
      refused++;
      CU_ASSERT(err[0] != '\0');
    }
  }
  CU_ASSERT(parsed > 200); /* both paths were exercised (seeded: 371) */
  CU_ASSERT(refused > 1000);
  pgd_tz_free(z);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("sched_cron", NULL, NULL);
  CU_add_test(s, "RFC 3339 times", test_parse_time);
  CU_add_test(s, "durations", test_durations);
  CU_add_test(s, "zone loading and errors", test_tz_load);
  CU_add_test(s, "zone offsets incl. footer rules", test_tz_offsets);
  CU_add_test(s, "wall time to UTC in gaps and repeats", test_tz_local_to_utc);
  CU_add_test(s, "cron next-fire table", test_cron_next_table);
  CU_add_test(s, "every minute through a Berlin year", test_cron_walk_year);
  CU_add_test(s, "bad cron expressions and messages", test_cron_bad);
  CU_add_test(s, "macro text, OR with weekdays", test_cron_text);
  CU_add_test(s, "random strings never crash", test_cron_random);
  return pgd_test_run();
}
