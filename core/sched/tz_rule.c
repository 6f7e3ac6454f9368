/* Pagoda — POSIX TZ strings (the footer of TZif files): parsing and
 * evaluation, for times after the last transition stored in a zone file. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "sched/civil.h"
#include "sched/tz_internal.h"

static const char *skip_name(const char *p) {
  if (*p == '<') {
    const char *q = strchr(p, '>');
    return q && q > p + 1 ? q + 1 : NULL;
  }
  const char *q = p;
  while (isalpha((unsigned char)*q)) q++;
  return q - p >= 3 ? q : NULL;
}

static int parse_num(const char **pp, int max, int *out) {
  const char *p = *pp;
  if (!isdigit((unsigned char)*p)) return -1;
  int v = 0;
  while (isdigit((unsigned char)*p)) {
    v = v * 10 + (*p++ - '0');
    if (v > max) return -1;
  }
  *pp = p;
  *out = v;
  return 0;
}

/* [+-]hh[:mm[:ss]] into seconds; hours up to 167 (RFC 8536 extension). */
static int parse_hms(const char **pp, int32_t *out) {
  const char *p = *pp;
  int sign = 1, h, m = 0, s = 0;
  if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
  if (parse_num(&p, 167, &h) < 0) return -1;
  if (*p == ':') {
    p++;
    if (parse_num(&p, 59, &m) < 0) return -1;
    if (*p == ':') {
      p++;
      if (parse_num(&p, 59, &s) < 0) return -1;
    }
  }
  *pp = p;
  *out = sign * (h * 3600 + m * 60 + s);
  return 0;
}

static int parse_date(const char **pp, pgd_tz_date_t *d) {
  const char *p = *pp;
  memset(d, 0, sizeof *d);
  if (*p == 'M') {
    p++;
    d->kind = 'M';
    if (parse_num(&p, 12, &d->month) < 0 || d->month < 1 || *p++ != '.') return -1;
    if (parse_num(&p, 5, &d->week) < 0 || d->week < 1 || *p++ != '.') return -1;
    if (parse_num(&p, 6, &d->wday) < 0) return -1;
  } else if (*p == 'J') {
    p++;
    d->kind = 'J';
    if (parse_num(&p, 365, &d->yday) < 0 || d->yday < 1) return -1;
  } else {
    d->kind = 'N';
    if (parse_num(&p, 365, &d->yday) < 0) return -1;
  }
  d->time = 7200;
  if (*p == '/') {
    p++;
    if (parse_hms(&p, &d->time) < 0) return -1;
  }
  *pp = p;
  return 0;
}

int pgd_tz_rule_parse(const char *s, pgd_tz_rule_t *r) {
  memset(r, 0, sizeof *r);
  const char *p = skip_name(s);
  int32_t off;
  if (!p || parse_hms(&p, &off) < 0) return -EINVAL;
  r->std_off = -off;
  r->dst_off = r->std_off;
  if (*p == '\0') return 0;
  p = skip_name(p);
  if (!p) return -EINVAL;
  r->has_dst = 1;
  r->dst_off = r->std_off + 3600;
  if (*p && *p != ',') {
    if (parse_hms(&p, &off) < 0) return -EINVAL;
    r->dst_off = -off;
  }
  if (*p == '\0') { /* POSIX default: US rules of 2007 */
    r->start = (pgd_tz_date_t){'M', 3, 2, 0, 0, 7200};
    r->end = (pgd_tz_date_t){'M', 11, 1, 0, 0, 7200};
    return 0;
  }
  if (*p++ != ',' || parse_date(&p, &r->start) < 0) return -EINVAL;
  if (*p++ != ',' || parse_date(&p, &r->end) < 0) return -EINVAL;
  return *p == '\0' ? 0 : -EINVAL;
}

/* Local wall seconds of the date `d` in year `y`. */
static int64_t date_local(const pgd_tz_date_t *d, int64_t y) {
  int64_t jan1 = pgd_days_from_civil(y, 1, 1), day;
  if (d->kind == 'J') {
    day = jan1 + d->yday - 1 + (pgd_is_leap(y) && d->yday >= 60 ? 1 : 0);
  } else if (d->kind == 'N') {
    day = jan1 + d->yday;
  } else {
    int64_t first = pgd_days_from_civil(y, d->month, 1);
    int wd0 = pgd_weekday_from_days(first);
    int dom = 1 + (d->wday - wd0 + 7) % 7 + (d->week - 1) * 7;
    int dim = pgd_days_in_month(y, d->month);
    while (dom > dim) dom -= 7;
    day = first + dom - 1;
  }
  return day * 86400 + d->time;
}

int32_t pgd_tz_rule_offset(const pgd_tz_rule_t *r, int64_t utc_s, int *is_dst) {
  int dst = 0;
  if (r->has_dst) {
    pgd_civil_t c;
    pgd_civil_from_secs(utc_s + r->std_off, &c);
    int64_t start = date_local(&r->start, c.year) - r->std_off;
    int64_t end = date_local(&r->end, c.year) - r->dst_off;
    if (start < end) dst = utc_s >= start && utc_s < end;
    else dst = !(utc_s >= end && utc_s < start);
  }
  if (is_dst) *is_dst = dst;
  return dst ? r->dst_off : r->std_off;
}
