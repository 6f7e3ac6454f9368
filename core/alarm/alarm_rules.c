/* Pagoda alarms — parsing of the alarm configuration and rules, matching,
 * grouping, backoff and the webhook signature (alarm_rules.h). Pure. */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "alarm/alarm_rules.h"
#include "common/json.h"
#include "sched/timefmt.h"
#include "sched/tz.h"

static const char *const event_names[PGD_ALARM_EV__COUNT] = {
    "failed", "timed_out", "lost", "retries_exhausted", "misfire", "sla_missed", "worker_lost",
    "leader_change"};

const char *pgd_alarm_event_name(pgd_alarm_event_t ev) {
  return (unsigned)ev < PGD_ALARM_EV__COUNT ? event_names[ev] : NULL;
}

int pgd_alarm_event_parse(const char *name) {
  for (int i = 0; name && i < PGD_ALARM_EV__COUNT; i++)
    if (strcmp(name, event_names[i]) == 0) return i;
  return -1;
}


/* A duration member: "30s"/"5m" (schedule syntax) or a number of seconds.
 * Absent or null leaves *us. */
static int get_duration(const cJSON *o, const char *key, int64_t *us, char *err, size_t errlen) {
  const cJSON *v = pgd_json_get(o, key);
  if (!v || cJSON_IsNull(v)) return 0;
  if (cJSON_IsNumber(v)) {
    if (v->valuedouble <= 0 || v->valuedouble > 1e9) {
      snprintf(err, errlen, "%s must be a positive number of seconds", key);
      return -EINVAL;
    }
    *us = (int64_t)(v->valuedouble * 1e6);
    return 0;
  }
  if (!cJSON_IsString(v)) {
    snprintf(err, errlen, "%s must be a duration (\"30s\", \"5m\") or seconds", key);
    return -EINVAL;
  }
  return pgd_sched_parse_duration(v->valuestring, key, us, err, errlen);
}

static int get_opt_str(const cJSON *o, const char *key, char **out, char *err, size_t errlen) {
  const cJSON *v = pgd_json_get(o, key);
  if (!v || cJSON_IsNull(v)) return 0;
  if (!cJSON_IsString(v) || !*v->valuestring) {
    snprintf(err, errlen, "%s must be a non-empty string", key);
    return -EINVAL;
  }
  free(*out);
  *out = strdup(v->valuestring);
  return *out ? 0 : -ENOMEM;
}

/* A list of strings (or one string) into a new array. */
static int get_strings(const cJSON *o, const char *key, char ***out, int *n, char *err,
                       size_t errlen) {
  const cJSON *v = pgd_json_get(o, key);
  *out = NULL;
  *n = 0;
  if (!v || cJSON_IsNull(v)) return 0;
  if (cJSON_IsString(v)) {
    *out = calloc(1, sizeof **out);
    if (!*out || !((*out)[0] = strdup(v->valuestring))) return -ENOMEM;
    *n = 1;
    return 0;
  }
  if (!cJSON_IsArray(v)) {
    snprintf(err, errlen, "%s must be a list of strings", key);
    return -EINVAL;
  }
  int cnt = cJSON_GetArraySize(v);
  *out = calloc((size_t)cnt + 1, sizeof **out);
  if (!*out) return -ENOMEM;
  const cJSON *it;
  cJSON_ArrayForEach(it, v) {
    if (!cJSON_IsString(it) || !*it->valuestring) {
      snprintf(err, errlen, "%s must be a list of non-empty strings", key);
      return -EINVAL;
    }
    if (!((*out)[(*n)++] = strdup(it->valuestring))) return -ENOMEM;
  }
  return 0;
}

static void free_strings(char **v, int n) {
  for (int i = 0; i < n; i++) free(v[i]);
  free(v);
}

int pgd_alarm_parse_time_of_day(const char *s) {
  int h, mi, se = 0, used = 0;
  if (!s) return -1;
  size_t len = strlen(s);
  if (len == 5 && sscanf(s, "%2d:%2d%n", &h, &mi, &used) == 2 && used == 5) {
  } else if (len == 8 && sscanf(s, "%2d:%2d:%2d%n", &h, &mi, &se, &used) == 3 && used == 8) {
  } else {
    return -1;
  }
  if (!isdigit((unsigned char)s[0]) || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59)
    return -1;
  return h * 3600 + mi * 60 + se;
}

int64_t pgd_alarm_next_time_of_day(const char *zone, int64_t from_us, int tod_s) {
  pgd_tz_t *tz = NULL;
  char err[128];
  if (pgd_tz_load(zone ? zone : "UTC", &tz, err, sizeof err) < 0) return -1;
  int64_t from_s = from_us / 1000000 + (from_us % 1000000 > 0); /* at or after */
  int64_t local = pgd_tz_to_local(tz, from_s);
  int64_t midnight = local - ((local % 86400) + 86400) % 86400;
  int64_t t = pgd_tz_local_to_utc(tz, midnight + tod_s, NULL);
  if (t < from_s) t = pgd_tz_local_to_utc(tz, midnight + 86400 + tod_s, NULL);
  pgd_tz_free(tz);
  return t * 1000000;
}

void pgd_alarm_rule_free(pgd_alarm_rule_t *r) {
  if (!r) return;
  free(r->id);
  free(r->job);
  free(r->flow);
  free(r->schedule);
  free(r->worker);
  free_strings(r->channels, r->n_channels);
  memset(r, 0, sizeof *r);
}

int pgd_alarm_rule_parse(const cJSON *in, const char *id, bool targeted, int64_t dflt_window_us,
                         const pgd_alarm_config_t *c, pgd_alarm_rule_t *out, char *err,
                         size_t errlen) {
  memset(out, 0, sizeof *out);
  out->sla_start_within_us = out->sla_finish_within_us = -1;
  out->sla_finish_by_s = -1;
  out->group_window_us = dflt_window_us;
  char e[256] = "";
  int rc = 0;
  char **on = NULL;
  int n_on = 0;
  if (!cJSON_IsObject(in)) {
    snprintf(err, errlen, "alarm rule %s must be an object", id);
    return -EINVAL;
  }
  if (!(out->id = strdup(id))) return -ENOMEM;
  static const char *const known[] = {"on",     "channels", "group_window", "sla",     "job",
                                      "flow",   "schedule", "worker",       "comment", NULL};
  const cJSON *it;
  cJSON_ArrayForEach(it, in) {
    int k = 0;
    while (known[k] && strcmp(known[k], it->string) != 0) k++;
    if (!known[k]) {
      snprintf(e, sizeof e, "unknown key '%.64s'", it->string);
      rc = -EINVAL;
      goto out;
    }
    if (!targeted && k >= 4 && k <= 7) {
      snprintf(e, sizeof e, "'%s' is for rules in the configuration; a definition's rule is "
                            "about that definition", it->string);
      rc = -EINVAL;
      goto out;
    }
  }
  rc = get_strings(in, "on", &on, &n_on, e, sizeof e);
  if (rc == 0 && n_on == 0) {
    snprintf(e, sizeof e, "'on' must name at least one event");
    rc = -EINVAL;
  }
  for (int i = 0; rc == 0 && i < n_on; i++) {
    int ev = pgd_alarm_event_parse(on[i]);
    if (ev < 0) {
      snprintf(e, sizeof e, "unknown event '%.64s' in 'on'", on[i]);
      rc = -EINVAL;
    } else {
      out->events |= 1u << ev;
    }
  }
  free_strings(on, n_on);
  if (rc < 0) goto out;
  if ((rc = get_strings(in, "channels", &out->channels, &out->n_channels, e, sizeof e)) < 0)
    goto out;
  for (int i = 0; c && i < out->n_channels; i++)
    if (!pgd_alarm_channel_find(c, out->channels[i])) {
      snprintf(e, sizeof e, "unknown channel '%.64s'", out->channels[i]);
      rc = -EINVAL;
      goto out;
    }
  if ((rc = get_duration(in, "group_window", &out->group_window_us, e, sizeof e)) < 0) goto out;
  if ((rc = get_opt_str(in, "job", &out->job, e, sizeof e)) < 0 ||
      (rc = get_opt_str(in, "flow", &out->flow, e, sizeof e)) < 0 ||
      (rc = get_opt_str(in, "schedule", &out->schedule, e, sizeof e)) < 0 ||
      (rc = get_opt_str(in, "worker", &out->worker, e, sizeof e)) < 0)
    goto out;
  const cJSON *sla = pgd_json_get(in, "sla");
  if (sla && !cJSON_IsNull(sla)) {
    if (!cJSON_IsObject(sla)) {
      snprintf(e, sizeof e, "sla must be an object");
      rc = -EINVAL;
      goto out;
    }
    if ((rc = get_duration(sla, "start_within", &out->sla_start_within_us, e, sizeof e)) < 0 ||
        (rc = get_duration(sla, "finish_within", &out->sla_finish_within_us, e, sizeof e)) < 0)
      goto out;
    const char *by = pgd_json_str(sla, "finish_by");
    if (pgd_json_get(sla, "finish_by") &&
        (!by || (out->sla_finish_by_s = pgd_alarm_parse_time_of_day(by)) < 0)) {
      snprintf(e, sizeof e, "sla.finish_by must be a time of day \"HH:MM\" or \"HH:MM:SS\"");
      rc = -EINVAL;
      goto out;
    }
    if (out->sla_start_within_us < 0 && out->sla_finish_within_us < 0 && out->sla_finish_by_s < 0) {
      snprintf(e, sizeof e, "sla needs start_within, finish_within or finish_by");
      rc = -EINVAL;
      goto out;
    }
    out->events |= 1u << PGD_ALARM_EV_SLA_MISSED;
  }
out:
  if (rc < 0) {
    snprintf(err, errlen, "alarm rule %s: %s", id, e);
    pgd_alarm_rule_free(out);
  }
  return rc;
}

/* A secret from `<key>_file` (first line, trailing newline dropped) or
 * `<key>_env`. The value is never put into messages. */
static int read_secret(const cJSON *o, const char *key, char **out, char *err, size_t errlen) {
  char k[64];
  snprintf(k, sizeof k, "%s_file", key);
  const char *file = pgd_json_str(o, k);
  snprintf(k, sizeof k, "%s_env", key);
  const char *env = pgd_json_str(o, k);
  if (file) {
    FILE *f = fopen(file, "re");
    if (!f) {
      snprintf(err, errlen, "cannot read %s_file %s: %s", key, file, strerror(errno));
      return -EINVAL;
    }
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
    if (n == 0) {
      snprintf(err, errlen, "%s_file %s is empty", key, file);
      return -EINVAL;
    }
    *out = strdup(buf);
    explicit_bzero(buf, sizeof buf);
    return *out ? 0 : -ENOMEM;
  }
  if (env) {
    const char *v = getenv(env);
    if (!v || !*v) {
      snprintf(err, errlen, "%s_env: environment variable %s is not set", key, env);
      return -EINVAL;
    }
    *out = strdup(v);
    return *out ? 0 : -ENOMEM;
  }
  return 0;
}

static bool name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i])) return false;
  return true;
}

static int parse_channel(const cJSON *o, pgd_alarm_channel_t *ch, char *err, size_t errlen) {
  char e[256] = "";
  int rc = -EINVAL;
  const char *name = pgd_json_str(o, "name"), *type = pgd_json_str(o, "type");
  const char *url = pgd_json_str(o, "url");
  ch->timeout_ms = 5000;
  ch->tls_verify = true;
  if (!name || !name_ok(name)) {
    snprintf(err, errlen, "alarm channel: name must be 1-64 of A-Z a-z 0-9 _ . -");
    return -EINVAL;
  }
  ch->name = strdup(name);
  if (!type || (strcmp(type, "webhook") != 0 && strcmp(type, "email") != 0)) {
    snprintf(e, sizeof e, "type must be \"webhook\" or \"email\"");
    goto out;
  }
  ch->type = strcmp(type, "webhook") == 0 ? PGD_ALARM_CH_WEBHOOK : PGD_ALARM_CH_EMAIL;
  if (!url) {
    snprintf(e, sizeof e, "url is required");
    goto out;
  }
  bool http = strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0;
  bool smtp = strncmp(url, "smtp://", 7) == 0 || strncmp(url, "smtps://", 8) == 0;
  if ((ch->type == PGD_ALARM_CH_WEBHOOK && !http) || (ch->type == PGD_ALARM_CH_EMAIL && !smtp)) {
    snprintf(e, sizeof e, "url must start with %s", http || ch->type == PGD_ALARM_CH_EMAIL
                                                         ? "smtp:// or smtps://"
                                                         : "http:// or https://");
    goto out;
  }
  ch->url = strdup(url);
  int64_t t = (int64_t)ch->timeout_ms * 1000;
  if (get_duration(o, "timeout", &t, e, sizeof e) < 0) goto out;
  ch->timeout_ms = (long)(t / 1000);
  ch->tls_verify = pgd_json_bool(o, "tls_verify", true);
  if (get_opt_str(o, "ca_file", &ch->ca_file, e, sizeof e) < 0) goto out;
  if (ch->type == PGD_ALARM_CH_WEBHOOK) {
    if (read_secret(o, "secret", &ch->secret, e, sizeof e) < 0) goto out;
  } else {
    const char *from = pgd_json_str(o, "from");
    if (!from) {
      snprintf(e, sizeof e, "from is required");
      goto out;
    }
    ch->from = strdup(from);
    if (get_strings(o, "to", &ch->to, &ch->n_to, e, sizeof e) < 0) goto out;
    if (ch->n_to == 0) {
      snprintf(e, sizeof e, "to must name at least one address");
      goto out;
    }
    ch->starttls = pgd_json_bool(o, "starttls", false);
    if (get_opt_str(o, "username", &ch->username, e, sizeof e) < 0) goto out;
    if (read_secret(o, "password", &ch->password, e, sizeof e) < 0) goto out;
  }
  rc = 0;
out:
  if (rc < 0) snprintf(err, errlen, "alarm channel %s: %s", ch->name ? ch->name : "?", e);
  return rc;
}

static void channel_free(pgd_alarm_channel_t *ch) {
  free(ch->name);
  free(ch->url);
  free(ch->ca_file);
  if (ch->secret) explicit_bzero(ch->secret, strlen(ch->secret));
  free(ch->secret);
  free(ch->from);
  free_strings(ch->to, ch->n_to);
  free(ch->username);
  if (ch->password) explicit_bzero(ch->password, strlen(ch->password));
  free(ch->password);
}

void pgd_alarm_config_free(pgd_alarm_config_t *c) {
  if (!c) return;
  for (int i = 0; i < c->n_channels; i++) channel_free(&c->channels[i]);
  free(c->channels);
  for (int i = 0; i < c->n_rules; i++) pgd_alarm_rule_free(&c->rules[i]);
  free(c->rules);
  free(c->hooks_dir);
  memset(c, 0, sizeof *c);
}

const pgd_alarm_channel_t *pgd_alarm_channel_find(const pgd_alarm_config_t *c, const char *name) {
  for (int i = 0; c && name && i < c->n_channels; i++)
    if (strcmp(c->channels[i].name, name) == 0) return &c->channels[i];
  return NULL;
}

int pgd_alarm_config_parse(const cJSON *in, pgd_alarm_config_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  out->group_window_us = (int64_t)600 * 1000000;
  out->backoff_initial_us = 1000000;
  out->backoff_max_us = (int64_t)300 * 1000000;
  out->max_attempts = 50;
  if (!in || cJSON_IsNull(in)) return 0;
  int rc = -EINVAL;
  if (!cJSON_IsObject(in)) {
    snprintf(err, errlen, "alarms must be a group");
    return -EINVAL;
  }
  if (get_duration(in, "group_window", &out->group_window_us, err, errlen) < 0 ||
      get_duration(in, "backoff_initial", &out->backoff_initial_us, err, errlen) < 0 ||
      get_duration(in, "backoff_max", &out->backoff_max_us, err, errlen) < 0 ||
      get_opt_str(in, "hooks_dir", &out->hooks_dir, err, errlen) < 0)
    goto fail;
  out->max_attempts = (int)pgd_json_int(in, "max_attempts", 50);
  out->hook_instructions = (long)pgd_json_int(in, "hook_instructions", 0);
  if (out->max_attempts < 0) {
    snprintf(err, errlen, "alarms.max_attempts must be >= 0");
    goto fail;
  }
  const cJSON *chs = pgd_json_get(in, "channels"), *it;
  if (chs && !cJSON_IsArray(chs)) {
    snprintf(err, errlen, "alarms.channels must be a list");
    goto fail;
  }
  if (cJSON_GetArraySize(chs) > PGD_ALARM_MAX_CHANNELS) {
    snprintf(err, errlen, "alarms.channels: at most %d channels", PGD_ALARM_MAX_CHANNELS);
    goto fail;
  }
  out->channels = calloc((size_t)cJSON_GetArraySize(chs) + 1, sizeof *out->channels);
  if (!out->channels) goto fail;
  cJSON_ArrayForEach(it, chs) {
    pgd_alarm_channel_t *ch = &out->channels[out->n_channels++];
    if (parse_channel(it, ch, err, errlen) < 0) goto fail;
    for (int i = 0; i + 1 < out->n_channels; i++)
      if (strcmp(out->channels[i].name, ch->name) == 0) {
        snprintf(err, errlen, "alarm channel %s is defined twice", ch->name);
        goto fail;
      }
  }
  const cJSON *rules = pgd_json_get(in, "rules");
  if (rules && !cJSON_IsArray(rules)) {
    snprintf(err, errlen, "alarms.rules must be a list");
    goto fail;
  }
  out->rules = calloc((size_t)cJSON_GetArraySize(rules) + 1, sizeof *out->rules);
  if (!out->rules) goto fail;
  cJSON_ArrayForEach(it, rules) {
    char id[32];
    snprintf(id, sizeof id, "config.%d", out->n_rules);
    if (pgd_alarm_rule_parse(it, id, true, out->group_window_us, out, &out->rules[out->n_rules],
                             err, errlen) < 0)
      goto fail;
    out->n_rules++;
  }
  return 0;
fail:
  pgd_alarm_config_free(out);
  return rc;
}

static bool pattern_ok(const char *pattern, const char *value) {
  if (!pattern) return true;
  return value && fnmatch(pattern, value, 0) == 0;
}

bool pgd_alarm_rule_matches(const pgd_alarm_rule_t *r, const pgd_alarm_cause_t *c) {
  if (!r || !c || (unsigned)c->event >= PGD_ALARM_EV__COUNT) return false;
  if (!(r->events & (1u << c->event))) return false;
  return pattern_ok(r->job, c->job) && pattern_ok(r->flow, c->flow) &&
         pattern_ok(r->schedule, c->schedule) && pattern_ok(r->worker, c->worker);
}

char *pgd_alarm_group_key(const pgd_alarm_rule_t *r, const pgd_alarm_cause_t *c, char *buf,
                          size_t len) {
  snprintf(buf, len, "%s|%s|%s|%s|%s|%s%s%s", r->id, pgd_alarm_event_name(c->event),
           c->job ? c->job : "", c->flow ? c->flow : "", c->schedule ? c->schedule : "",
           c->worker ? c->worker : "", c->master ? "|" : "", c->master ? c->master : "");
  return buf;
}

bool pgd_alarm_group_folds(int64_t group_first_us, int64_t now_us, int64_t window_us) {
  return group_first_us > 0 && window_us > 0 && now_us >= group_first_us &&
         now_us - group_first_us < window_us;
}

int64_t pgd_alarm_backoff_us(int attempt, int64_t initial_us, int64_t max_us) {
  if (attempt <= 0) return 0;
  int64_t d = initial_us > 0 ? initial_us : 1;
  for (int i = 1; i < attempt && d < max_us; i++) d *= 2;
  return d > max_us ? max_us : d;
}

int pgd_alarm_sign(const char *key, const char *body, size_t body_len, char *out, size_t outlen) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (!key || outlen < PGD_ALARM_SIGNATURE_LEN + 1) return -EINVAL;
  if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)body, body_len, mac,
            &mac_len) ||
      mac_len != 32)
    return -EIO;
  memcpy(out, "sha256=", 7);
  for (unsigned i = 0; i < mac_len; i++) snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
  return 0;
}
