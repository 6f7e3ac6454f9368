/* Pagoda — proleptic Gregorian calendar arithmetic (internal to core/sched).
 *
 * Days are counted from 1970-01-01 (day 0); seconds are "wall seconds": a
 * local or UTC date and time expressed as seconds since 1970-01-01T00:00:00
 * of the same clock. Algorithms from Howard Hinnant's "chrono-Compatible
 * Low-Level Date Algorithms". Pure functions; safe from any thread.
 */
#ifndef PAGODA_SCHED_CIVIL_H
#define PAGODA_SCHED_CIVIL_H

#include <stdint.h>

typedef struct {
  int64_t year;
  int month;  /* 1-12 */
  int day;    /* 1-31 */
  int hour;   /* 0-23 */
  int minute; /* 0-59 */
  int second; /* 0-59 */
} pgd_civil_t;

static inline int64_t pgd_floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static inline int pgd_is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static inline int pgd_days_in_month(int64_t y, int m) {
  static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && pgd_is_leap(y) ? 29 : d[m - 1];
}

/* Days since 1970-01-01 of y-m-d. */
static inline int64_t pgd_days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = pgd_floordiv(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static inline void pgd_civil_from_days(int64_t z, int64_t *y, int *m, int *d) {
  z += 719468;
  int64_t era = pgd_floordiv(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

/* 0 = Sunday ... 6 = Saturday. */
static inline int pgd_weekday_from_days(int64_t z) {
  int64_t w = (z + 4) % 7;
  return (int)(w < 0 ? w + 7 : w);
}

static inline void pgd_civil_from_secs(int64_t s, pgd_civil_t *c) {
  int64_t days = pgd_floordiv(s, 86400);
  int64_t rem = s - days * 86400;
  pgd_civil_from_days(days, &c->year, &c->month, &c->day);
  c->hour = (int)(rem / 3600);
  c->minute = (int)(rem / 60 % 60);
  c->second = (int)(rem % 60);
}

static inline int64_t pgd_secs_from_civil(const pgd_civil_t *c) {
  return pgd_days_from_civil(c->year, c->month, c->day) * 86400 + c->hour * 3600 +
         c->minute * 60 + c->second;
}

#endif
