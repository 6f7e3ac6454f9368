/* pgd_format_time_us (common/clock.h): RFC 3339 UTC with milliseconds. Its
 * date arithmetic must agree with the C library's gmtime_r for every time
 * it formats (leap days, century years, the ends of its range), and known
 * instants read as they should. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "common/clock.h"
#include "pgd_test.h"

/* The text gmtime_r gives for `us`. */
static void reference(int64_t us, char *buf, size_t len) {
  time_t sec = (time_t)(us / 1000000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  snprintf(buf, len > 64 ? 64 : len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((us % 1000000) / 1000));
}

static bool agrees(int64_t us) {
  char got[64], want[64];
  pgd_format_time_us(us, got, sizeof got);
  reference(us, want, sizeof want);
  if (strcmp(got, want) != 0) fprintf(stderr, "\n  %lld: got %s, want %s\n", (long long)us, got, want);
  return strcmp(got, want) == 0;
}

static void test_known(void) {
  char b[40];
  CU_ASSERT_STRING_EQUAL(pgd_format_time_us(0, b, sizeof b), "1970-01-01T00:00:00.000Z");
  CU_ASSERT_STRING_EQUAL(pgd_format_time_us(951782400999999LL, b, sizeof b),
                         "2000-02-29T00:00:00.999Z");
  CU_ASSERT_STRING_EQUAL(pgd_format_time_us(1795000000123456LL, b, sizeof b),
                         "2026-11-18T11:06:40.123Z");
  CU_ASSERT_STRING_EQUAL(pgd_format_time_us(253402300799999999LL, b, sizeof b),
                         "9999-12-31T23:59:59.999Z");
}

static void test_against_gmtime(void) {
  /* Every day boundary (and the second before it) from 1970 to 2400 ... */
  int ok = 1;
  for (int64_t day = 0; day < 157000; day++) {
    ok &= agrees(day * 86400LL * 1000000LL);
    ok &= agrees(day * 86400LL * 1000000LL + 86399999999LL);
  }
  /* ... and random instants up to 9999, and past it (the general path). */
  srand(17);
  for (int i = 0; i < 200000; i++) {
    int64_t us = (((int64_t)rand() << 31) ^ rand()) % 253402300800000000LL;
    ok &= agrees(us < 0 ? -us : us);
  }
  ok &= agrees(253402300800000000LL);
  ok &= agrees(-1000000LL * 86400 * 365);
  CU_ASSERT(ok);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("common_time_format", NULL, NULL);
  CU_add_test(s, "known instants", test_known);
  CU_add_test(s, "the same text as gmtime_r", test_against_gmtime);
  return pgd_test_run();
}
