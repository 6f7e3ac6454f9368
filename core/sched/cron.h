/* Pagoda — cron expressions: parsing and next-fire computation.
 *
 * Syntax (docs/schedules.md has the full reference):
 *   5 fields  "minute hour day-of-month month day-of-week", or
 *   6 fields  "second minute hour day-of-month month day-of-week";
 *   each field: "*", "?", a value, a range "a-b", a step "*" "/n", "a/n",
 *   "a-b/n", or a comma list of those; months JAN-DEC and weekdays SUN-SAT by
 *   name (any case); weekday 0 and 7 are Sunday; "L" in day-of-month is the
 *   last day of the month; "?" (day fields only) means "*"; a range whose
 *   start is above its end wraps ("FRI-MON", "22-2");
 *   macros @yearly (@annually) @monthly @weekly @daily (@midnight) @hourly.
 * Day-of-month and day-of-week: when both are restricted (neither starts
 * with "*" or "?"), a day matches if EITHER matches (Vixie cron); otherwise
 * both must match.
 *
 * Thread rules: a parsed expression is immutable; every function is pure and
 * safe from any thread.
 * Added in Pagoda 0.1.0.
 */
#ifndef PAGODA_SCHED_CRON_H
#define PAGODA_SCHED_CRON_H

#include <stddef.h>
#include <stdint.h>

#include "sched/tz.h"

/* How far pgd_cron_next looks ahead: 8 years, enough for "0 0 29 2 *"
 * across 2100 (not a leap year). */
#define PGD_CRON_HORIZON_YEARS 8

typedef struct pgd_cron pgd_cron_t;

/* Parses `expr` (borrowed). On success returns 0 and *out is owned by the
 * caller (pgd_cron_free). On failure returns -EINVAL (or -ENOMEM), *out is
 * NULL, and err (errlen bytes) holds a message naming the wrong part, e.g.
 *   cron field 3 (day of month): 32 is out of range 1-31
 *   cron "0 0 30 2 *" never fires (February has no day 30)
 * An expression that can never fire is refused at parse time. */
int pgd_cron_parse(const char *expr, pgd_cron_t **out, char *err, size_t errlen);

/* Frees a parsed expression; NULL is a no-op. */
void pgd_cron_free(pgd_cron_t *c);

/* The first fire time strictly after `after_us` (microseconds since the Unix
 * epoch), evaluated on the wall clock of `tz` (borrowed; NULL = UTC), or -1
 * if there is none within PGD_CRON_HORIZON_YEARS. Fire times are whole
 * seconds. A wall time skipped by a DST jump fires at the first instant after
 * the jump; a wall time that occurs twice fires once, at its first occurrence. */
int64_t pgd_cron_next(const pgd_cron_t *c, const pgd_tz_t *tz, int64_t after_us);

/* The expression as given (borrowed; valid while c lives). */
const char *pgd_cron_text(const pgd_cron_t *c);

#endif
