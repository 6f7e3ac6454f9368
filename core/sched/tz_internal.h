/* Pagoda — internals of core/sched/tz*.c (not a public interface). */
#ifndef PAGODA_SCHED_TZ_INTERNAL_H
#define PAGODA_SCHED_TZ_INTERNAL_H

#include <stdint.h>

/* One end of a daylight-saving period of a POSIX TZ rule. */
typedef struct {
  char kind;    /* 'M' (Mm.w.d), 'J' (Jn, 1-365, no Feb 29) or 'N' (n, 0-365) */
  int month;    /* M: 1-12 */
  int week;     /* M: 1-5 (5 = last) */
  int wday;     /* M: 0-6, 0 = Sunday */
  int yday;     /* J or N */
  int32_t time; /* seconds after local midnight, may be negative or > 24h */
} pgd_tz_date_t;

/* A POSIX TZ string ("std offset [dst [offset] [,start[/time],end[/time]]]"). */
typedef struct {
  int32_t std_off; /* seconds east of UTC (sign already flipped from POSIX) */
  int32_t dst_off;
  int has_dst;
  pgd_tz_date_t start, end;
} pgd_tz_rule_t;

/* Parses a POSIX TZ string; 0 or -EINVAL. Pure, any thread. */
int pgd_tz_rule_parse(const char *s, pgd_tz_rule_t *r);

/* Offset (seconds east) at utc_s under the rule; *is_dst set when not NULL. */
int32_t pgd_tz_rule_offset(const pgd_tz_rule_t *r, int64_t utc_s, int *is_dst);

#endif
