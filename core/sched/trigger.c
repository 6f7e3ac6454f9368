/* Pagoda — schedule triggers: JSON parsing, next fire time, misfires. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"
#include "sched/civil.h"
#include "sched/cron.h"
#include "sched/timefmt.h"
#include "sched/trigger.h"
#include "sched/tz.h"

#define NO_START INT64_MIN
#define NO_END INT64_MAX

struct pgd_trigger {
  pgd_trigger_kind_t kind;
  pgd_cron_t *cron;
  pgd_tz_t *tz;
  int64_t interval_us; /* every, delay */
  int64_t at_us;
  int64_t start_us, end_us;
  pgd_misfire_t misfire;
  int max_catchup;
  int64_t grace_us;
  int enabled;
};

void pgd_trigger_free(pgd_trigger_t *t) {
  if (!t) return;
  pgd_cron_free(t->cron);
  pgd_tz_free(t->tz);
  free(t);
}

pgd_trigger_kind_t pgd_trigger_kind(const pgd_trigger_t *t) { return t->kind; }
int64_t pgd_trigger_misfire_grace_us(const pgd_trigger_t *t) { return t ? t->grace_us : 0; }
pgd_misfire_t pgd_trigger_misfire(const pgd_trigger_t *t) { return t->misfire; }
int pgd_trigger_enabled(const pgd_trigger_t *t) { return t->enabled; }
const char *pgd_trigger_timezone(const pgd_trigger_t *t) { return pgd_tz_name(t->tz); }

static int get_string(const cJSON *o, const char *key, const char **out, char *err,
                      size_t errlen) {
  const cJSON *v = pgd_json_get(o, key);
  *out = NULL;
  if (!v || cJSON_IsNull(v)) return 0;
  if (!cJSON_IsString(v) || !v->valuestring) {
    return pgd_set_err(err, errlen, -EINVAL, "\"%s\" must be a string", key);
  }
  *out = v->valuestring;
  return 0;
}

/* Like get_string, for a key that must be there: absent or null is an
 * error (a schedule {"at": null} names its kind but gives no value). */
static int get_required_string(const cJSON *o, const char *key, const char **out, char *err,
                               size_t errlen) {
  if (get_string(o, key, out, err, errlen) < 0) return -EINVAL;
  if (!*out) return pgd_set_err(err, errlen, -EINVAL, "\"%s\" must be a string (got null)", key);
  return 0;
}

/* A duration key given as a string ("30s") or a number of seconds. */
static int get_duration(const cJSON *o, const char *key, int64_t *us, char *err,
                        size_t errlen) {
  const cJSON *v = pgd_json_get(o, key);
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (!(d > 0)) {
      return pgd_set_err(err, errlen, -EINVAL, "%s %g must be greater than zero", key, d);
    }
    if (d > 3660.0 * 86400 || d != (double)(int64_t)d) { /* range before the cast */
      return pgd_set_err(err, errlen, -EINVAL,
                         "%s %g must be a whole number of seconds up to 3660 days", key, d);
    }
    *us = (int64_t)d * 1000000;
    return 0;
  }
  if (!cJSON_IsString(v) || !v->valuestring) {
    return pgd_set_err(err, errlen, -EINVAL,
                       "\"%s\" must be a duration string like \"30s\" or a number of seconds", key);
  }
  return pgd_sched_parse_duration(v->valuestring, key, us, err, errlen);
}

static int parse_fields(pgd_trigger_t *t, const cJSON *s, int64_t now_us, char *err,
                        size_t errlen) {
  static const char *KINDS[4] = {"cron", "every", "delay", "at"};
  int found = -1;
  for (int k = 0; k < 4; k++) {
    if (!pgd_json_get(s, KINDS[k])) continue;
    if (found >= 0) {
      return pgd_set_err(
          err, errlen, -EINVAL,
          "a schedule takes only one of \"cron\", \"every\", \"delay\" or \"at\" (got \"%s\" "
          "and \"%s\")",
          KINDS[found], KINDS[k]);
    }
    found = k;
  }
  if (found < 0) {
    return pgd_set_err(err, errlen, -EINVAL,
                       "a schedule needs one of \"cron\", \"every\", \"delay\" or \"at\"");
  }
  t->kind = (pgd_trigger_kind_t)found;

  const char *zone, *str;
  if (get_string(s, "timezone", &zone, err, errlen) < 0) return -EINVAL;
  int rc = pgd_tz_load(zone ? zone : "UTC", &t->tz, err, errlen);
  if (rc < 0) return rc;

  switch (t->kind) {
    case PGD_TRIGGER_CRON:
      if (get_required_string(s, "cron", &str, err, errlen) < 0) return -EINVAL;
      if ((rc = pgd_cron_parse(str, &t->cron, err, errlen)) < 0) return rc;
      break;
    case PGD_TRIGGER_EVERY:
    case PGD_TRIGGER_DELAY:
      if (get_duration(s, KINDS[found], &t->interval_us, err, errlen) < 0) return -EINVAL;
      if (t->interval_us < 1000000) {
        return pgd_set_err(err, errlen, -EINVAL, "%s must be at least 1s", KINDS[found]);
      }
      break;
    case PGD_TRIGGER_AT:
      if (get_required_string(s, "at", &str, err, errlen) < 0) return -EINVAL;
      if (pgd_sched_parse_time(str, t->tz, "at", &t->at_us, err, errlen) < 0) return -EINVAL;
      if (now_us > 0 && t->at_us <= now_us) {
        char b[40];
        return pgd_set_err(err, errlen, -EINVAL, "at \"%s\" is in the past (now is %s)", str,
                           pgd_format_time_us(now_us, b, sizeof b));
      }
      break;
  }

  t->start_us = NO_START;
  t->end_us = NO_END;
  if (get_string(s, "start", &str, err, errlen) < 0) return -EINVAL;
  if (str && pgd_sched_parse_time(str, t->tz, "start", &t->start_us, err, errlen) < 0)
    return -EINVAL;
  const char *start_text = str;
  if (get_string(s, "end", &str, err, errlen) < 0) return -EINVAL;
  if (str && pgd_sched_parse_time(str, t->tz, "end", &t->end_us, err, errlen) < 0)
    return -EINVAL;
  if (str && start_text && t->end_us < t->start_us) {
    return pgd_set_err(err, errlen, -EINVAL, "end \"%s\" is before start \"%s\"", str, start_text);
  }
  if (str && now_us > 0 && t->end_us <= now_us) {
    char b[40];
    return pgd_set_err(err, errlen, -EINVAL, "end \"%s\" is in the past (now is %s)", str,
                       pgd_format_time_us(now_us, b, sizeof b));
  }

  t->misfire = PGD_MISFIRE_SKIP;
  if (get_string(s, "misfire", &str, err, errlen) < 0) return -EINVAL;
  if (str) {
    if (strcmp(str, "skip") == 0) t->misfire = PGD_MISFIRE_SKIP;
    else if (strcmp(str, "run_once") == 0) t->misfire = PGD_MISFIRE_RUN_ONCE;
    else if (strcmp(str, "run_all") == 0) t->misfire = PGD_MISFIRE_RUN_ALL;
    else {
      return pgd_set_err(err, errlen, -EINVAL,
                         "misfire \"%.40s\" is not one of skip, run_once, run_all", str);
    }
  }
  t->max_catchup = PGD_TRIGGER_DEFAULT_MAX_CATCHUP;
  const cJSON *v = pgd_json_get(s, "max_catchup");
  if (v && !cJSON_IsNull(v)) {
    /* range first: casting a huge double to int is undefined */
    if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1000 ||
        v->valuedouble != (double)(int)v->valuedouble) {
      return pgd_set_err(err, errlen, -EINVAL, "max_catchup must be an integer from 1 to 1000");
    }
    t->max_catchup = (int)v->valuedouble;
  }
  t->grace_us = PGD_TRIGGER_DEFAULT_GRACE_US;
  v = pgd_json_get(s, "misfire_grace");
  if (v && !cJSON_IsNull(v) && get_duration(s, "misfire_grace", &t->grace_us, err, errlen) < 0)
    return -EINVAL;
  t->enabled = 1;
  v = pgd_json_get(s, "enabled");
  if (v && !cJSON_IsNull(v)) {
    if (!cJSON_IsBool(v)) {
      return pgd_set_err(err, errlen, -EINVAL, "\"enabled\" must be true or false");
    }
    t->enabled = cJSON_IsTrue(v);
  }
  if (now_us > 0 && t->kind == PGD_TRIGGER_CRON && pgd_trigger_next(t, now_us, -1) < 0) {
    return pgd_set_err(err, errlen, -EINVAL, "cron \"%s\" never fires between now and %s",
                       pgd_cron_text(t->cron),
                       t->end_us != NO_END ? "its end" : "the next 8 years");
  }
  return 0;
}

int pgd_trigger_parse(const cJSON *schedule, int64_t now_us, pgd_trigger_t **out, char *err,
                      size_t errlen) {
  *out = NULL;
  if (err && errlen) err[0] = '\0';
  if (!cJSON_IsObject(schedule)) {
    return pgd_set_err(err, errlen, -EINVAL, "a schedule must be a JSON object");
  }
  pgd_trigger_t *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  int rc = parse_fields(t, schedule, now_us, err, errlen);
  if (rc < 0) {
    pgd_trigger_free(t);
    return rc;
  }
  *out = t;
  return 0;
}

int64_t pgd_trigger_next(const pgd_trigger_t *t, int64_t after_us, int64_t last_end_us) {
  int64_t a = after_us;
  if (t->start_us != NO_START && a < t->start_us - 1) a = t->start_us - 1;
  int64_t r;
  switch (t->kind) {
    case PGD_TRIGGER_CRON:
      r = pgd_cron_next(t->cron, t->tz, a);
      break;
    case PGD_TRIGGER_EVERY: {
      int64_t anchor = t->start_us != NO_START ? t->start_us : 0;
      int64_t k = pgd_floordiv(a - anchor, t->interval_us) + 1;
      if (k > (INT64_MAX - anchor) / t->interval_us) return -1;
      r = anchor + k * t->interval_us;
      break;
    }
    case PGD_TRIGGER_DELAY:
      if (last_end_us >= 0) {
        if (last_end_us > INT64_MAX - t->interval_us) return -1;
        r = last_end_us + t->interval_us;
      } else {
        r = a + 1;
      }
      if (r <= a) r = a + 1;
      break;
    case PGD_TRIGGER_AT:
      r = t->at_us > a ? t->at_us : -1;
      break;
    default:
      return -1;
  }
  if (r < 0 || r > t->end_us) return -1;
  return r;
}

/* The due times in (from, to], keeping the latest `cap` in ring order;
 * returns how many there were in total (stops counting past 1<<30). */
static int64_t collect(const pgd_trigger_t *t, int64_t from, int64_t to, int64_t *ring,
                       int cap) {
  int64_t n = 0;
  for (int64_t f = pgd_trigger_next(t, from, -1); f >= 0 && f <= to;
       f = pgd_trigger_next(t, f, -1)) {
    ring[n % cap] = f;
    if (++n >= (1 << 30)) break;
  }
  return n;
}

static int due_delay(const pgd_trigger_t *t, int64_t last_fired_us, int64_t last_end_us,
                     int64_t now_us, int64_t *fires, int64_t *next_us) {
  int64_t c = last_end_us >= 0 ? last_end_us + t->interval_us : last_fired_us;
  if (t->start_us != NO_START && c < t->start_us) c = t->start_us;
  if (c > t->end_us) {
    *next_us = -1;
    return 0;
  }
  if (c > now_us) {
    *next_us = c;
    return 0;
  }
  if (now_us - c > t->grace_us && t->misfire == PGD_MISFIRE_SKIP) {
    int64_t n = now_us + t->interval_us;
    *next_us = n <= t->end_us ? n : -1;
    return 0;
  }
  fires[0] = c;
  *next_us = -1;
  return 1;
}

int pgd_trigger_due(const pgd_trigger_t *t, int64_t last_fired_us, int64_t last_end_us,
                    int64_t now_us, int64_t *fires, int max, int64_t *next_us) {
  int64_t next_dummy;
  if (!t || !fires || max < 1) return -EINVAL;
  if (!next_us) next_us = &next_dummy;
  if (t->kind == PGD_TRIGGER_DELAY)
    return due_delay(t, last_fired_us, last_end_us, now_us, fires, next_us);
  *next_us = pgd_trigger_next(t, now_us, last_end_us);
  if (last_fired_us >= now_us) return 0;
  int64_t oldest = now_us - (int64_t)200 * 366 * 86400 * 1000000; /* clamp "never" */
  if (last_fired_us < oldest) last_fired_us = oldest;

  int cap = t->misfire == PGD_MISFIRE_RUN_ALL ? (max < t->max_catchup ? max : t->max_catchup) : 1;
  int64_t *ring = malloc((size_t)cap * sizeof *ring);
  if (!ring) return -ENOMEM;
  /* Look back in growing windows from now, so a long outage of a frequent
   * schedule costs about `cap` fire times, not every missed one. */
  int64_t n = 0, window = (int64_t)60 * 1000000, from;
  for (;;) {
    from = now_us - last_fired_us <= window ? last_fired_us : now_us - window;
    n = collect(t, from, now_us, ring, cap);
    if (n >= cap || from == last_fired_us) break;
    window = window > INT64_MAX / 8 ? INT64_MAX : window * 8;
  }
  int count = 0;
  if (n > 0) {
    int64_t latest = ring[(n - 1) % cap];
    int on_time = now_us - latest <= t->grace_us;
    if (t->misfire == PGD_MISFIRE_RUN_ALL) {
      int k = n < cap ? (int)n : cap;
      for (int i = 0; i < k; i++) fires[count++] = ring[(n - k + i) % cap];
    } else if (on_time || t->misfire == PGD_MISFIRE_RUN_ONCE) {
      fires[count++] = latest;
    }
  }
  free(ring);
  return count;
}

