/* Pagoda — cron expressions: the parser and the next-fire search. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "sched/civil.h"
#include "sched/cron.h"

enum { F_SEC, F_MIN, F_HOUR, F_DOM, F_MON, F_DOW, F_COUNT };

typedef struct {
  const char *name;
  int min, max;
} field_def_t;

static const field_def_t FIELDS[F_COUNT] = {
    {"second", 0, 59},      {"minute", 0, 59}, {"hour", 0, 23},
    {"day of month", 1, 31}, {"month", 1, 12},  {"day of week", 0, 7},
};

static const char *MONTH_NAMES[12] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                      "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *MONTH_LONG[12] = {"January", "February", "March",     "April",
                                     "May",     "June",     "July",      "August",
                                     "September", "October", "November", "December"};
static const char *DOW_NAMES[7] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct pgd_cron {
  uint64_t bits[F_COUNT]; /* bit v set when value v matches */
  int dom_last;           /* "L" in day of month */
  int dom_star, dow_star; /* field text starts with '*' or '?' */
  char *text;
};

typedef struct {
  char *err;
  size_t errlen;
  int pos;  /* 1-based field number as written */
  int kind; /* F_* */
} perr_t;

static int fail(perr_t *pe, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(perr_t *pe, const char *fmt, ...) {
  if (pe->err && pe->errlen) {
    int n = snprintf(pe->err, pe->errlen, "cron field %d (%s): ", pe->pos, FIELDS[pe->kind].name);
    if (n >= 0 && (size_t)n < pe->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(pe->err + n, pe->errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return -EINVAL;
}

/* A value: digits, or a month/weekday name. *end is set past it. */
static int parse_value(perr_t *pe, const char *s, const char **end, int *out) {
  const field_def_t *f = &FIELDS[pe->kind];
  const char *p = s;
  if (isdigit((unsigned char)*p)) {
    long v = 0;
    while (isdigit((unsigned char)*p)) {
      if (v < 100000) v = v * 10 + (*p - '0');
      p++;
    }
    if (v < f->min || v > f->max)
      return fail(pe, "%ld is out of range %d-%d", v, f->min, f->max);
    *out = (int)v;
    *end = p;
    return 0;
  }
  while (isalpha((unsigned char)*p)) p++;
  int n = (int)(p - s);
  if (n == 3 && (pe->kind == F_MON || pe->kind == F_DOW)) {
    const char **names = pe->kind == F_MON ? MONTH_NAMES : DOW_NAMES;
    int count = pe->kind == F_MON ? 12 : 7;
    for (int i = 0; i < count; i++) {
      if (strncasecmp(s, names[i], 3) == 0) {
        *out = pe->kind == F_MON ? i + 1 : i;
        *end = p;
        return 0;
      }
    }
  }
  if (n == 0) n = *s ? 1 : 0;
  if (n == 0) return fail(pe, "a value is missing");
  if (pe->kind == F_MON) return fail(pe, "\"%.*s\" is not a month (1-12 or JAN-DEC)", n, s);
  if (pe->kind == F_DOW) return fail(pe, "\"%.*s\" is not a weekday (0-7 or SUN-SAT)", n, s);
  return fail(pe, "\"%.*s\" is not a number", n, s);
}

static int parse_item(perr_t *pe, const char *s, size_t len, pgd_cron_t *c) {
  const field_def_t *f = &FIELDS[pe->kind];
  char buf[64];
  if (len == 0) return fail(pe, "empty element in a list");
  if (len >= sizeof buf) return fail(pe, "element \"%.20s...\" is too long", s);
  memcpy(buf, s, len);
  buf[len] = '\0';
  char *slash = strchr(buf, '/');
  int step = 1;
  if (slash) {
    *slash = '\0';
    const char *p = slash + 1;
    if (!isdigit((unsigned char)*p)) return fail(pe, "step \"%s\" is not a number", p);
    long v = 0;
    while (isdigit((unsigned char)*p)) {
      if (v < 100000) v = v * 10 + (*p - '0');
      p++;
    }
    if (*p) return fail(pe, "step \"%s\" is not a number", slash + 1);
    if (v < 1 || v > f->max - f->min + 1)
      return fail(pe, "step %ld is out of range 1-%d", v, f->max - f->min + 1);
    step = (int)v;
  }
  int lo, hi;
  const char *p = buf;
  if (strcmp(buf, "*") == 0 || strcmp(buf, "?") == 0) {
    if (buf[0] == '?' && pe->kind != F_DOM && pe->kind != F_DOW)
      return fail(pe, "\"?\" is only allowed in day of month and day of week");
    lo = f->min;
    hi = pe->kind == F_DOW ? 6 : f->max;
  } else if (strcasecmp(buf, "L") == 0) {
    if (pe->kind != F_DOM) return fail(pe, "\"L\" is only allowed in day of month");
    if (slash) return fail(pe, "\"L\" cannot take a step");
    c->dom_last = 1;
    return 0;
  } else {
    if (parse_value(pe, p, &p, &lo) < 0) return -EINVAL;
    hi = lo;
    if (*p == '-') {
      p++;
      if (parse_value(pe, p, &p, &hi) < 0) return -EINVAL;
    } else if (slash) {
      hi = pe->kind == F_DOW ? 6 : f->max; /* "a/n": from a to the end */
    }
    if (*p) return fail(pe, "unexpected \"%s\" in \"%.*s\"", p, (int)len, s);
  }
  int span = f->max - f->min + 1;
  int count = (hi - lo + span) % span + 1; /* lo > hi wraps around */
  for (int k = 0; k < count; k += step) {
    int v = f->min + (lo - f->min + k) % span;
    if (pe->kind == F_DOW && v == 7) v = 0;
    c->bits[pe->kind] |= (uint64_t)1 << v;
  }
  return 0;
}

static int parse_field(perr_t *pe, const char *s, size_t len, pgd_cron_t *c) {
  if (pe->kind == F_DOM) c->dom_star = s[0] == '*' || s[0] == '?';
  if (pe->kind == F_DOW) c->dow_star = s[0] == '*' || s[0] == '?';
  size_t i = 0;
  while (i <= len) {
    size_t j = i;
    while (j < len && s[j] != ',') j++;
    if (parse_item(pe, s + i, j - i, c) < 0) return -EINVAL;
    i = j + 1;
  }
  return 0;
}

static const struct {
  const char *name, *expr;
} MACROS[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* 0 when some month of the expression has one of its days; else a message. */
static int check_fires(const pgd_cron_t *c, const char *expr, char *err, size_t errlen) {
  if (c->dom_star || !c->dow_star || c->dom_last) return 0; /* OR with weekdays, or L */
  int first_day = 0;
  for (int d = 1; d <= 31; d++)
    if (c->bits[F_DOM] >> d & 1) {
      first_day = d;
      break;
    }
  char months[160] = "";
  int nmonths = 0;
  for (int m = 1; m <= 12; m++) {
    if (!(c->bits[F_MON] >> m & 1)) continue;
    int dim = m == 2 ? 29 : pgd_days_in_month(2001, m);
    if (first_day <= dim) return 0;
    size_t n = strlen(months);
    snprintf(months + n, sizeof months - n, "%s%s", nmonths ? ", " : "", MONTH_LONG[m - 1]);
    nmonths++;
  }
  return pgd_set_err(err, errlen, -EINVAL, "cron \"%s\" never fires (%s %s no day %d)", expr,
                     months, nmonths > 1 ? "have" : "has", first_day);
}

int pgd_cron_parse(const char *expr, pgd_cron_t **out, char *err, size_t errlen) {
  *out = NULL;
  if (err && errlen) err[0] = '\0';
  if (!expr) expr = "";
  const char *text = expr;
  while (isspace((unsigned char)*text)) text++;
  if (*text == '\0') {
    return pgd_set_err(err, errlen, -EINVAL, "cron expression is empty");
  }
  if (strlen(text) > 512) {
    return pgd_set_err(err, errlen, -EINVAL, "cron expression is too long (over 512 characters)");
  }
  if (*text == '@') {
    size_t n = strcspn(text, " \t");
    const char *rest = text + n;
    while (isspace((unsigned char)*rest)) rest++;
    const char *found = NULL;
    for (size_t i = 0; i < sizeof MACROS / sizeof MACROS[0]; i++)
      if (strlen(MACROS[i].name) == n && strncasecmp(text, MACROS[i].name, n) == 0)
        found = MACROS[i].expr;
    if (!found || *rest) {
      return pgd_set_err(err, errlen, -EINVAL,
                         "unknown cron macro \"%.*s\" (use @yearly, @monthly, @weekly, @daily or "
                         "@hourly)",
                         (int)(n > 40 ? 40 : n), text);
    }
    int rc = pgd_cron_parse(found, out, err, errlen);
    if (rc == 0) {
      free((*out)->text);
      (*out)->text = strdup(expr);
      if (!(*out)->text) {
        pgd_cron_free(*out);
        *out = NULL;
        return -ENOMEM;
      }
    }
    return rc;
  }
  const char *start[8];
  size_t len[8];
  int n = 0;
  for (const char *p = text; *p;) {
    while (isspace((unsigned char)*p)) p++;
    if (!*p) break;
    const char *q = p;
    while (*q && !isspace((unsigned char)*q)) q++;
    if (n < 8) {
      start[n] = p;
      len[n] = (size_t)(q - p);
    }
    n++;
    p = q;
  }
  if (n != 5 && n != 6) {
    pgd_set_err(err, errlen, -EINVAL,
                "cron \"%s\" has %d field%s; expected 5 (minute hour day-of-month month "
                "day-of-week) or 6 (second first)",
                expr, n, n == 1 ? "" : "s");
    return -EINVAL;
  }
  pgd_cron_t *c = calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  perr_t pe = {err, errlen, 0, 0};
  int first = n == 6 ? F_SEC : F_MIN;
  if (n == 5) c->bits[F_SEC] = 1; /* second 0 */
  for (int i = 0; i < n; i++) {
    pe.pos = i + 1;
    pe.kind = first + i;
    if (parse_field(&pe, start[i], len[i], c) < 0) {
      pgd_cron_free(c);
      return -EINVAL;
    }
  }
  if (check_fires(c, expr, err, errlen) < 0) {
    pgd_cron_free(c);
    return -EINVAL;
  }
  if (!(c->text = strdup(expr))) {
    pgd_cron_free(c);
    return -ENOMEM;
  }
  *out = c;
  return 0;
}

void pgd_cron_free(pgd_cron_t *c) {
  if (!c) return;
  free(c->text);
  free(c);
}

const char *pgd_cron_text(const pgd_cron_t *c) { return c->text; }

/* Smallest v in [from, max] with bit v set, or -1. */
static int next_bit(uint64_t bits, int from, int max) {
  for (int v = from; v <= max; v++)
    if (bits >> v & 1) return v;
  return -1;
}

static int day_matches(const pgd_cron_t *c, const pgd_civil_t *t, int64_t days) {
  int dom = (int)(c->bits[F_DOM] >> t->day & 1) ||
            (c->dom_last && t->day == pgd_days_in_month(t->year, t->month));
  int dow = (int)(c->bits[F_DOW] >> pgd_weekday_from_days(days) & 1);
  if (c->dom_star || c->dow_star) return dom && dow;
  return dom || dow;
}

/* The first matching wall time >= L (wall seconds), or INT64_MIN. */
static int64_t calendar_next(const pgd_cron_t *c, int64_t L) {
  pgd_civil_t t;
  pgd_civil_from_secs(L, &t);
  int64_t limit = t.year + PGD_CRON_HORIZON_YEARS;
  for (;;) {
    pgd_civil_from_secs(L, &t);
    if (t.year > limit) return INT64_MIN;
    int64_t days = pgd_days_from_civil(t.year, t.month, t.day);
    int64_t day0 = days * 86400;
    if (!(c->bits[F_MON] >> t.month & 1)) {
      int m = next_bit(c->bits[F_MON], t.month + 1, 12);
      L = m < 0 ? pgd_days_from_civil(t.year + 1, 1, 1) * 86400
                : pgd_days_from_civil(t.year, m, 1) * 86400;
      continue;
    }
    if (!day_matches(c, &t, days)) {
      L = day0 + 86400;
      continue;
    }
    int h = next_bit(c->bits[F_HOUR], t.hour, 23);
    if (h < 0) {
      L = day0 + 86400;
      continue;
    }
    if (h != t.hour) {
      L = day0 + h * 3600;
      continue;
    }
    int mi = next_bit(c->bits[F_MIN], t.minute, 59);
    if (mi < 0) {
      L = day0 + (h + 1) * 3600;
      continue;
    }
    if (mi != t.minute) {
      L = day0 + h * 3600 + mi * 60;
      continue;
    }
    int s = next_bit(c->bits[F_SEC], t.second, 59);
    if (s < 0) {
      L = day0 + h * 3600 + (mi + 1) * 60;
      continue;
    }
    return day0 + h * 3600 + mi * 60 + s;
  }
}

int64_t pgd_cron_next(const pgd_cron_t *c, const pgd_tz_t *tz, int64_t after_us) {
  int64_t after_s = pgd_floordiv(after_us, 1000000);
  if (after_s > INT64_MAX / 1000000 - 86400 * 366 * (PGD_CRON_HORIZON_YEARS + 1)) return -1;
  int64_t L = (tz ? pgd_tz_to_local(tz, after_s) : after_s) + 1;
  /* More than one round only for wall times repeated by a fall-back jump. */
  for (int round = 0; round < 100000; round++) {
    int64_t m = calendar_next(c, L);
    if (m == INT64_MIN) return -1;
    int64_t u = tz ? pgd_tz_local_to_utc(tz, m, NULL) : m;
    if (u > after_s) return u * 1000000;
    L = m + 1;
  }
  return -1;
}
