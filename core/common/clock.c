#include "common/clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t pgd_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t pgd_now_ms(void) { return pgd_now_us() / 1000; }

uint64_t pgd_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t pgd_clock_now_us(const pgd_clock_t *clock) {
  return clock ? clock->now_us(clock) : pgd_now_us();
}

static int64_t manual_now_us(const pgd_clock_t *clock) {
  return ((const pgd_manual_clock_t *)clock)->now;
}

void pgd_manual_clock_init(pgd_manual_clock_t *mc, int64_t start_us) {
  mc->clock.now_us = manual_now_us;
  mc->now = start_us;
}

void pgd_manual_clock_advance(pgd_manual_clock_t *mc, int64_t delta_us) { mc->now += delta_us; }

/* Digits of v (0 <= v < 10^width) into p, zero-padded to `width`. */
static void put_digits(char *p, unsigned v, int width) {
  for (int i = width - 1; i >= 0; i--) {
    p[i] = (char)('0' + v % 10);
    v /= 10;
  }
}

char *pgd_format_time_us(int64_t us, char *buf, unsigned long len) {
  /* Every view of an execution prints four of these: the date from the
   * day number by arithmetic (H. Hinnant's civil_from_days) instead of
   * gmtime_r (which takes glibc's time-zone lock) and snprintf. Times
   * before 1970 or after 9999 take the general path. */
  if (us >= 0 && us < 253402300800000000LL && len >= 25) {
    int64_t sec = us / 1000000;
    unsigned ms = (unsigned)((us % 1000000) / 1000);
    int64_t days = sec / 86400;
    unsigned sod = (unsigned)(sec % 86400);
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned day = doy - (153 * mp + 2) / 5 + 1;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    unsigned year = (unsigned)(yoe + era * 400) + (month <= 2);
    memcpy(buf, "0000-00-00T00:00:00.000Z", 25);
    put_digits(buf, year, 4);
    put_digits(buf + 5, month, 2);
    put_digits(buf + 8, day, 2);
    put_digits(buf + 11, sod / 3600, 2);
    put_digits(buf + 14, sod / 60 % 60, 2);
    put_digits(buf + 17, sod % 60, 2);
    put_digits(buf + 20, ms, 3);
    return buf;
  }
  time_t sec = (time_t)(us / 1000000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((us % 1000000) / 1000));
  return buf;
}
