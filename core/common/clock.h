/* Pagoda — clocks. Thread rules: all functions are safe from any thread. */
#ifndef PAGODA_COMMON_CLOCK_H
#define PAGODA_COMMON_CLOCK_H

#include <stdint.h>

/* Wall-clock time in microseconds since the Unix epoch (stored timestamps). */
int64_t pgd_now_us(void);

/* Wall-clock time in milliseconds since the Unix epoch. */
int64_t pgd_now_ms(void);

/* Monotonic time in nanoseconds (durations, deadlines). */
uint64_t pgd_mono_ns(void);

/* ---- an injectable wall clock ------------------------------------------
 *
 * Code that decides by wall-clock time (the schedule timer queue) reads it
 * through a pgd_clock_t, so that a test can hand it a manual clock and
 * advance time instead of sleeping. Production code passes NULL, which means
 * the system clock (pgd_now_us). A clock is handed to what uses it, never
 * installed process-wide: the master's schedules take theirs from
 * pgd_master_config_t.clock (the timer queue and every schedule decision
 * read that one), other wall-clock reads (stored timestamps) stay on the
 * system clock. */

typedef struct pgd_clock pgd_clock_t;

struct pgd_clock {
  /* Wall-clock time in microseconds since the Unix epoch. Called from the
   * thread that uses the clock; must not block. */
  int64_t (*now_us)(const pgd_clock_t *clock);
};

/* The clock's time; `clock` NULL means the system clock (pgd_now_us). */
int64_t pgd_clock_now_us(const pgd_clock_t *clock);

/* A clock that only moves when told to, for tests. Embed it by value; its
 * `clock` member is what code takes. Thread rules: set and advance it on the
 * thread that reads it (the loop thread), or synchronise yourself. */
typedef struct pgd_manual_clock {
  pgd_clock_t clock; /* first member: &mc->clock is a pgd_clock_t * */
  int64_t now;       /* microseconds since the Unix epoch */
} pgd_manual_clock_t;

/* Starts a manual clock at `start_us`. */
void pgd_manual_clock_init(pgd_manual_clock_t *mc, int64_t start_us);

/* Moves a manual clock forward by `delta_us` (>= 0; a negative step is
 * allowed too, to test a wall clock stepped backwards). */
void pgd_manual_clock_advance(pgd_manual_clock_t *mc, int64_t delta_us);

/* Formats a microsecond timestamp as RFC 3339 UTC with milliseconds
 * ("2026-11-22T10:00:00.123Z") into `buf` (at least 32 bytes). Returns buf. */
char *pgd_format_time_us(int64_t us, char *buf, unsigned long len);

#endif
