/* Pagoda — the time and duration syntax of schedules.
 * Thread rules: pure functions, safe from any thread. Added in Pagoda 0.1.0. */
#ifndef PAGODA_SCHED_TIMEFMT_H
#define PAGODA_SCHED_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#include "sched/tz.h"

/* Parses a duration: one or more <integer><unit> with units d, h, m, s
 * ("30s", "5m", "1h30m", "2d"). On success returns 0 and *us holds
 * microseconds (> 0). Returns -EINVAL with a message in err for anything else,
 * including a zero total ("0s"). `what` (borrowed) names the key in messages,
 * e.g. every "0s" must be greater than zero. */
int pgd_sched_parse_duration(const char *s, const char *what, int64_t *us, char *err,
                             size_t errlen);

/* Parses an RFC 3339 time ("2026-11-22T10:00:00Z", "2026-11-22T11:00:00.5+01:00";
 * 't', 'z' and a space separator accepted). Without an offset
 * ("2026-12-24T18:00:00") the wall time is read in `tz` (borrowed; NULL = UTC),
 * a DST gap or repeat resolved as in pgd_tz_local_to_utc. Fractions past
 * microseconds are truncated. Returns 0 with *us, or -EINVAL with a message
 * naming `what`. */
int pgd_sched_parse_time(const char *s, const pgd_tz_t *tz, const char *what, int64_t *us,
                         char *err, size_t errlen);

#endif
