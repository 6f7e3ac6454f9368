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

/* Formats a microsecond timestamp as RFC 3339 UTC with milliseconds
 * ("2026-11-22T10:00:00.123Z") into `buf` (at least 32 bytes). Returns buf. */
char *pgd_format_time_us(int64_t us, char *buf, unsigned long len);

#endif
