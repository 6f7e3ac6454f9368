#include "common/clock.h"

#include <stdio.h>
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

char *pgd_format_time_us(int64_t us, char *buf, unsigned long len) {
  time_t sec = (time_t)(us / 1000000);
  struct tm tm;
  gmtime_r(&sec, &tm);
  snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)((us % 1000000) / 1000));
  return buf;
}
