/* Pagoda — durations ("1h30m") and RFC 3339 times of schedules. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "sched/civil.h"
#include "sched/timefmt.h"

#define MAX_DURATION_US ((int64_t)3660 * 86400 * 1000000) /* ~10 years */

int pgd_sched_parse_duration(const char *s, const char *what, int64_t *us, char *err,
                             size_t errlen) {
  const char *p = s;
  int64_t total = 0;
  int parts = 0;
  while (*p) {
    if (!isdigit((unsigned char)*p)) goto bad;
    int64_t v = 0;
    while (isdigit((unsigned char)*p)) {
      v = v * 10 + (*p++ - '0');
      if (v > 1000000000) goto big;
    }
    int64_t unit;
    switch (*p++) {
      case 'd': unit = (int64_t)86400 * 1000000; break;
      case 'h': unit = (int64_t)3600 * 1000000; break;
      case 'm': unit = (int64_t)60 * 1000000; break;
      case 's': unit = 1000000; break;
      default: goto bad;
    }
    if (v > MAX_DURATION_US / unit) goto big;
    total += v * unit;
    if (total > MAX_DURATION_US) goto big;
    parts++;
  }
  if (parts == 0) goto bad;
  if (total == 0) {
    return pgd_set_err(err, errlen, -EINVAL, "%s \"%s\" must be greater than zero", what, s);
  }
  *us = total;
  return 0;
bad:
  return pgd_set_err(err, errlen, -EINVAL,
                     "%s \"%.40s\" is not a duration (write numbers with units d, h, m, s, like "
                     "\"30s\" or \"1h30m\")",
                     what, s);
big:
  return pgd_set_err(err, errlen, -EINVAL, "%s \"%.40s\" is too long (over 3660 days)", what, s);
}

static int digits(const char **pp, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*pp)[i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  *pp += n;
  *out = v;
  return 0;
}

int pgd_sched_parse_time(const char *s, const pgd_tz_t *tz, const char *what, int64_t *us,
                         char *err, size_t errlen) {
  if (!s) return pgd_set_err(err, errlen, -EINVAL, "%s must be a time string (got null)", what);
  const char *p = s;
  pgd_civil_t c = {0};
  int y, frac_us = 0;
  if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &c.month) < 0 || *p++ != '-' ||
      digits(&p, 2, &c.day) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
    goto bad;
  p++;
  if (digits(&p, 2, &c.hour) < 0 || *p++ != ':' || digits(&p, 2, &c.minute) < 0 ||
      *p++ != ':' || digits(&p, 2, &c.second) < 0)
    goto bad;
  c.year = y;
  if (*p == '.') {
    p++;
    if (!isdigit((unsigned char)*p)) goto bad;
    int scale = 100000;
    while (isdigit((unsigned char)*p)) {
      frac_us += (*p++ - '0') * scale;
      scale /= 10;
    }
  }
  if (c.month < 1 || c.month > 12 || c.day < 1 || c.day > pgd_days_in_month(y, c.month) ||
      c.hour > 23 || c.minute > 59 || c.second > 59) {
    return pgd_set_err(err, errlen, -EINVAL, "%s \"%.40s\" is not a valid date and time", what, s);
  }
  int64_t wall = pgd_secs_from_civil(&c), utc;
  if (*p == 'Z' || *p == 'z') {
    p++;
    utc = wall;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1, oh, om;
    if (digits(&p, 2, &oh) < 0 || *p++ != ':' || digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
      goto bad;
    utc = wall - sign * (oh * 3600 + om * 60);
  } else if (*p == '\0') {
    utc = tz ? pgd_tz_local_to_utc(tz, wall, NULL) : wall;
  } else {
    goto bad;
  }
  if (*p) goto bad;
  *us = utc * 1000000 + frac_us;
  return 0;
bad:
  return pgd_set_err(err, errlen, -EINVAL,
                     "%s \"%.40s\" is not an RFC 3339 time (like \"2026-11-22T10:00:00Z\")", what,
                     s);
}
