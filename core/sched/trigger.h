/* Pagoda — schedule triggers: when a schedule fires, and what to run after
 * the master was down (misfires).
 *
 * A trigger is parsed from the JSON schedule object (docs/schedules.md):
 *   {"cron": "0 9 * * MON-FRI"} | {"every": "30s"} | {"delay": "5m"} |
 *   {"at": "2026-12-24T18:00:00+01:00"}            exactly one of these, plus
 *   "timezone"      IANA name, default "UTC" (cron, and `at`/start/end
 *                   written without an offset)
 *   "start", "end"  RFC 3339 bounds, inclusive: no fire before start or after end
 *   "misfire"       "skip" (default) | "run_once" | "run_all"
 *   "max_catchup"   1-1000, default 10 (run_all only)
 *   "misfire_grace" duration, default "60s": a fire time later than this is
 *                   a misfire; within it, it is on time and always runs
 *   "enabled"       boolean, default true (recorded; the computations ignore it)
 * Other keys (name, job, flow, concurrency...) are ignored: the master
 * validates them.
 *
 * Times are microseconds since the Unix epoch, UTC.
 * Thread rules: a parsed trigger is immutable; all functions are pure and
 * safe from any thread.
 * Added in Pagoda 0.1.0.
 */
#ifndef PAGODA_SCHED_TRIGGER_H
#define PAGODA_SCHED_TRIGGER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef enum {
  PGD_TRIGGER_CRON = 0,
  PGD_TRIGGER_EVERY = 1, /* fixed rate: anchor + k * interval */
  PGD_TRIGGER_DELAY = 2, /* fixed delay after the previous run ends */
  PGD_TRIGGER_AT = 3     /* once */
} pgd_trigger_kind_t;

typedef enum {
  PGD_MISFIRE_SKIP = 0,
  PGD_MISFIRE_RUN_ONCE = 1,
  PGD_MISFIRE_RUN_ALL = 2
} pgd_misfire_t;

#define PGD_TRIGGER_DEFAULT_MAX_CATCHUP 10
#define PGD_TRIGGER_DEFAULT_GRACE_US ((int64_t)60 * 1000000)

typedef struct pgd_trigger pgd_trigger_t;

/* Parses `schedule` (borrowed). `now_us` > 0 enables the checks against the
 * present: an `at` at or before now, an `end` before now, or a cron with no
 * fire time left are refused; pass 0 when reloading stored schedules. On
 * success returns 0 and *out is owned by the caller (pgd_trigger_free); on
 * failure -EINVAL (or -ENOMEM), *out NULL, and err (errlen bytes) says what
 * is wrong and where, e.g. `unknown time zone "Mars/Base"`. */
int pgd_trigger_parse(const cJSON *schedule, int64_t now_us, pgd_trigger_t **out, char *err,
                      size_t errlen);

/* Frees a trigger (and drops its time zone reference); NULL is a no-op. */
void pgd_trigger_free(pgd_trigger_t *t);

pgd_trigger_kind_t pgd_trigger_kind(const pgd_trigger_t *t);
pgd_misfire_t pgd_trigger_misfire(const pgd_trigger_t *t);
/* misfire_grace in µs (added in 0.7, for the misfire metric). */
int64_t pgd_trigger_misfire_grace_us(const pgd_trigger_t *t);
int pgd_trigger_enabled(const pgd_trigger_t *t);
/* The time zone name ("UTC" by default); borrowed, valid while t lives. */
const char *pgd_trigger_timezone(const pgd_trigger_t *t);

/* The first fire time strictly after `after_us` and inside [start, end], or
 * -1 if there is none. For `delay`, `last_end_us` is when the previous run
 * ended (-1 if none has: the first run is at `start`, or right after
 * after_us); the result is never before after_us + 1. Other kinds ignore
 * last_end_us. `every` fires at start + k * interval, or at multiples of the
 * interval since the Unix epoch when there is no start. */
int64_t pgd_trigger_next(const pgd_trigger_t *t, int64_t after_us, int64_t last_end_us);

/* What to run now. `last_fired_us` is the fire time of the last run started
 * (the largest value this function returned in `fires` before), or, if the
 * schedule never fired, the time it was created or last enabled; fire times
 * in (last_fired_us, now_us] are due. `last_end_us` as for pgd_trigger_next.
 * Writes the fire times to run now into fires[0..] in ascending order (at
 * most `max`, which must be >= 1) and returns their count, or -EINVAL.
 * *next_us (may be NULL) is the first fire time after now_us, or -1 (none
 * left; for `delay` after a fire: unknown until that run ends).
 * Policy: a due time no older than misfire_grace is on time and runs under
 * every policy. Older ones are misfires: `skip` runs none of them,
 * `run_once` runs one (the latest due time), `run_all` runs the latest
 * min(max, max_catchup) due times. For `delay`, a missed time runs once under
 * run_once and run_all; under skip the next run is now + delay. */
int pgd_trigger_due(const pgd_trigger_t *t, int64_t last_fired_us, int64_t last_end_us,
                    int64_t now_us, int64_t *fires, int max, int64_t *next_us);

#endif
