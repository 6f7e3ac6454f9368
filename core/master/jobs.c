/* Pagoda master — job definitions: validation, normalisation, and the
 * in-memory cache that keeps the run path free of store reads. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/names.h"
#include "common/clock.h"
#include "master/jobs_int.h"
#include "script/balancer.h"
#include "master/resources.h"

static bool valid_name(const char *s) { return pgd_name_chars_ok(s, strlen(s), 128); }

static bool check_number(const cJSON *job, const char *key, double min, double max, char *err,
                         size_t errlen) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(job, key);
  if (!v || cJSON_IsNull(v)) return true;
  if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max) {
    snprintf(err, errlen, "%s must be a number between %g and %g", key, min, max);
    return false;
  }
  return true;
}

/* `retention`: null, or an object of days (0..36500) and keep_last
 * (0..1000000), whole numbers, 0 = keep (docs/operations.md "Retention"). */
static bool check_retention(const cJSON *job, char *err, size_t errlen) {
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(job, "retention");
  if (!r || cJSON_IsNull(r)) return true;
  if (!cJSON_IsObject(r)) {
    snprintf(err, errlen, "retention must be an object {\"days\": N, \"keep_last\": N}");
    return false;
  }
  const cJSON *v;
  cJSON_ArrayForEach(v, r) {
    double max = strcmp(v->string, "days") == 0 ? 36500 : strcmp(v->string, "keep_last") == 0 ? 1000000 : -1;
    if (max < 0) {
      snprintf(err, errlen, "retention.%s is not a setting (days, keep_last)", v->string);
      return false;
    }
    if (!cJSON_IsNull(v) && (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > max ||
                             v->valuedouble != (double)(long long)v->valuedouble)) {
      snprintf(err, errlen, "retention.%s must be a whole number between 0 and %g", v->string, max);
      return false;
    }
  }
  return true;
}

/* `limits`: null, or an object of memory_mb (integer MiB), cpus (number)
 * and pids (integer), each >= 0 (0 = none); no other key. */
static bool check_limits(const cJSON *v, char *err, size_t errlen) {
  if (!v || cJSON_IsNull(v)) return true;
  if (!cJSON_IsObject(v)) {
    snprintf(err, errlen, "limits must be an object {memory_mb, cpus, pids}");
    return false;
  }
  const cJSON *x;
  cJSON_ArrayForEach(x, v) {
    const char *k = x->string;
    bool whole = strcmp(k, "memory_mb") == 0 || strcmp(k, "pids") == 0;
    if (!whole && strcmp(k, "cpus") != 0) {
      snprintf(err, errlen, "limits.%s is not a known limit (memory_mb, cpus, pids)", k);
      return false;
    }
    double max = strcmp(k, "memory_mb") == 0 ? 1e9 : strcmp(k, "pids") == 0 ? 1e7 : 4096;
    if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > max ||
        (whole && x->valuedouble != (double)(int64_t)x->valuedouble)) {
      snprintf(err, errlen, "limits.%s must be %s from 0 to %g", k,
               whole ? "an integer" : "a number", max);
      return false;
    }
  }
  return true;
}

pgd_msg_limits_t m_job_limits(const cJSON *def) {
  pgd_msg_limits_t l = {0};
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(def, "limits");
  if (!cJSON_IsObject(v)) return l;
  const cJSON *x;
  if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(v, "memory_mb")))
    l.memory_mb = (int64_t)x->valuedouble;
  if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(v, "cpus"))) l.cpus = x->valuedouble;
  if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(v, "pids")))
    l.pids = (int64_t)x->valuedouble;
  l.set = l.memory_mb > 0 || l.cpus > 0 || l.pids > 0;
  return l;
}

static bool string_array(const cJSON *v) {
  if (!cJSON_IsArray(v)) return false;
  const cJSON *x;
  cJSON_ArrayForEach(x, v) if (!cJSON_IsString(x) || !*x->valuestring) return false;
  return true;
}

/* The execution policy fields shared by every job type (docs/api.md). */
static bool check_policy(const cJSON *job, char *err, size_t errlen) {
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(job, "labels")) && !string_array(v)) {
    snprintf(err, errlen, "labels must be an array of non-empty strings");
    return false;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(job, "mode"))) {
    if (!cJSON_IsString(v) || (strcmp(v->valuestring, "single") != 0 &&
                               strcmp(v->valuestring, "broadcast") != 0 &&
                               strcmp(v->valuestring, "sharded") != 0)) {
      snprintf(err, errlen, "mode must be \"single\", \"broadcast\" or \"sharded\"");
      return false;
    }
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(job, "shards");
    if (strcmp(v->valuestring, "sharded") == 0 &&
        (!cJSON_IsNumber(sh) || sh->valuedouble < 1 || sh->valuedouble > 10000 ||
         sh->valuedouble != (int)sh->valuedouble)) {
      snprintf(err, errlen, "a sharded job needs shards: an integer from 1 to 10000");
      return false;
    }
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(job, "retry_backoff"))) {
    const char *kind = cJSON_IsString(v) ? v->valuestring
                                         : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "type"));
    if (!kind || (strcmp(kind, "fixed") != 0 && strcmp(kind, "exponential") != 0)) {
      snprintf(err, errlen, "retry_backoff must be \"fixed\" or \"exponential\"");
      return false;
    }
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(job, "retry_on"))) {
    const cJSON *x;
    bool ok = cJSON_IsArray(v);
    cJSON_ArrayForEach(x, v) {
      if (!cJSON_IsString(x) || (strcmp(x->valuestring, "failed") != 0 &&
                                 strcmp(x->valuestring, "timed_out") != 0 &&
                                 strcmp(x->valuestring, "lost") != 0))
        ok = false;
    }
    if (!ok) {
      snprintf(err, errlen, "retry_on must be an array of \"failed\", \"timed_out\", \"lost\"");
      return false;
    }
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(job, "relaunch_on_lost")) && !cJSON_IsBool(v)) {
    snprintf(err, errlen, "relaunch_on_lost must be true or false");
    return false;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(job, "run_as")) && !cJSON_IsNull(v) &&
      (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) > 64)) {
    snprintf(err, errlen, "run_as must be a user name");
    return false;
  }
  if (!check_limits(cJSON_GetObjectItemCaseSensitive(job, "limits"), err, errlen)) return false;
  if ((v = cJSON_GetObjectItemCaseSensitive(job, "balancer_args")) && !cJSON_IsObject(v)) {
    snprintf(err, errlen, "balancer_args must be an object");
    return false;
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(job, "secret_env"))) {
    const cJSON *x;
    bool ok = cJSON_IsObject(v);
    cJSON_ArrayForEach(x, v) if (!cJSON_IsString(x) || !x->string[0]) ok = false;
    if (!ok) {
      snprintf(err, errlen, "secret_env must be an object of strings");
      return false;
    }
    cJSON_ArrayForEach(x, v) {
      if (strcmp(x->valuestring, M_SECRET_MASK) == 0) {
        snprintf(err, errlen, "secret_env.%s is \"%s\": send the value (\"%s\" keeps a stored "
                 "value only when the job already has one)", x->string, M_SECRET_MASK, M_SECRET_MASK);
        return false;
      }
    }
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(job, "env"))) {
    const cJSON *x;
    bool ok = cJSON_IsObject(v);
    cJSON_ArrayForEach(x, v) if (!cJSON_IsString(x)) ok = false;
    if (!ok) {
      snprintf(err, errlen, "env must be an object of strings");
      return false;
    }
  }
  return true;
}

/* `balancer` names a loaded balancer (docs/balancers.md). */
static bool check_balancer(pgd_master_t *m, const cJSON *job, char *err, size_t errlen) {
  const cJSON *bal = cJSON_GetObjectItemCaseSensitive(job, "balancer");
  if (!bal || (cJSON_IsString(bal) && pgd_balancers_exists(m->balancers, bal->valuestring)))
    return true;
  cJSON *list = pgd_balancers_to_json(m->balancers);
  char names[512] = "";
  const cJSON *b;
  cJSON_ArrayForEach(b, list) {
    const char *n = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "name"));
    if (n && strlen(names) + strlen(n) + 3 < sizeof names) {
      if (names[0]) strcat(names, ", ");
      strcat(names, n);
    }
  }
  cJSON_Delete(list);
  snprintf(err, errlen, "unknown balancer '%s' (known: %s)",
           cJSON_IsString(bal) ? bal->valuestring : "(not a string)", names);
  return false;
}

cJSON *m_job_normalise(pgd_master_t *m, const cJSON *in, char *err, size_t errlen) {
  if (!cJSON_IsObject(in)) {
    snprintf(err, errlen, "a job definition must be a JSON object");
    return NULL;
  }
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
  if (!cJSON_IsString(name) || !valid_name(name->valuestring)) {
    snprintf(err, errlen, "name is required: 1 to 128 characters of A-Z a-z 0-9 _ - .");
    return NULL;
  }
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(in, "type");
  if (!cJSON_IsString(type)) {
    snprintf(err, errlen, "type is required (a job type such as \"shell\")");
    return NULL;
  }
  const pgd_plugin_t *plugin = pgd_registry_find(m->plugins, type->valuestring);
  if (!plugin) {
    cJSON *types = pgd_registry_types_json(m->plugins);
    char *list = cJSON_PrintUnformatted(types);
    snprintf(err, errlen, "unknown job type '%s' (loaded types: %s)", type->valuestring,
             list ? list : "[]");
    free(list);
    cJSON_Delete(types);
    return NULL;
  }
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(in, "params");
  if (params && !cJSON_IsObject(params)) {
    snprintf(err, errlen, "params must be an object");
    return NULL;
  }
  if (!check_number(in, "timeout", 0, 31536000, err, errlen) ||
      !check_number(in, "slots", 1, 1000000, err, errlen) ||
      !check_number(in, "priority", -1000000, 1000000, err, errlen) ||
      !check_number(in, "retries", 0, 1000, err, errlen) ||
      !check_number(in, "retry_delay", 0, 86400, err, errlen) ||
      !check_number(in, "retry_max_delay", 0, 86400, err, errlen) ||
      !check_number(in, "max_relaunches", 0, 1000, err, errlen) ||
      !check_retention(in, err, errlen) ||
      !check_policy(in, err, errlen) || !check_balancer(m, in, err, errlen) ||
      !m_resources_check(m, in, err, errlen))
    return NULL;
  cJSON *job = cJSON_Duplicate(in, 1);
  if (!params) cJSON_AddItemToObject(job, "params", cJSON_CreateObject());
  if (pgd_plugin_validate(plugin, cJSON_GetObjectItemCaseSensitive(job, "params"), err, errlen) <
      0) {
    cJSON_Delete(job);
    return NULL;
  }
  return job;
}

void m_job_mask_secrets(cJSON *doc) {
  if (!doc) return;
  cJSON *x;
  cJSON_ArrayForEach(x, doc) {
    if (x->string && strcmp(x->string, "secret_env") == 0 && cJSON_IsObject(x)) {
      cJSON *s;
      cJSON_ArrayForEach(s, x) if (cJSON_IsString(s)) cJSON_SetValuestring(s, M_SECRET_MASK);
    } else if (cJSON_IsObject(x) || cJSON_IsArray(x)) {
      m_job_mask_secrets(x);
    }
  }
}

cJSON *m_job_unmask_secrets(const cJSON *in, const cJSON *stored, char *err, size_t errlen) {
  cJSON *out = cJSON_Duplicate(in, 1);
  if (!out) return NULL;
  cJSON *sec = cJSON_GetObjectItemCaseSensitive(out, "secret_env");
  const cJSON *old = stored ? cJSON_GetObjectItemCaseSensitive(stored, "secret_env") : NULL;
  if (!cJSON_IsObject(sec)) return out;
  cJSON *x;
  cJSON_ArrayForEach(x, sec) {
    if (!cJSON_IsString(x) || strcmp(x->valuestring, M_SECRET_MASK) != 0) continue;
    const cJSON *keep = cJSON_IsObject(old) ? cJSON_GetObjectItemCaseSensitive(old, x->string) : NULL;
    if (!cJSON_IsString(keep)) {
      snprintf(err, errlen, "secret_env.%s is \"%s\" but the job has no stored value for it: "
               "send the value", x->string, M_SECRET_MASK);
      cJSON_Delete(out);
      return NULL;
    }
    cJSON_SetValuestring(x, keep->valuestring);
  }
  return out;
}

m_job_t *m_job_find(pgd_master_t *m, const char *name) {
  m_job_t *j = NULL;
  HASH_FIND_STR(m->jobs, name, j);
  return j;
}

void m_job_put_cache(pgd_master_t *m, cJSON *def) {
  const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(def, "name"));
  if (!name) {
    cJSON_Delete(def);
    return;
  }
  m_job_t *j = m_job_find(m, name);
  if (j) {
    cJSON_Delete(j->def);
    j->def = def;
    return;
  }
  j = calloc(1, sizeof *j);
  if (!j) abort();
  j->name = strdup(name);
  j->def = def;
  HASH_ADD_KEYPTR(hh, m->jobs, j->name, strlen(j->name), j);
}

void m_job_remove_cache(pgd_master_t *m, const char *name) {
  m_job_t *j = m_job_find(m, name);
  if (!j) return;
  HASH_DEL(m->jobs, j);
  cJSON_Delete(j->def);
  free(j->name);
  free(j);
}
