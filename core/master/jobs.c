/* Pagoda master — job definitions: validation, normalisation, and the
 * in-memory cache that keeps the run path free of store reads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "master/internal.h"

static bool valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 128) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '-' || c == '.'))
      return false;
  }
  return true;
}

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
      !check_number(in, "priority", -1000000, 1000000, err, errlen))
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
