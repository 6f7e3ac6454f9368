/* Pagoda — the runs of an array or file run (client_runs.h). */
#include "cli/client_runs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

/* A copy of base (nullable) with the members of over put over it. */
static cJSON *merged(const cJSON *base, const cJSON *over) {
  cJSON *out = cJSON_IsObject(base) ? cJSON_Duplicate(base, 1) : cJSON_CreateObject();
  const cJSON *kv;
  cJSON_ArrayForEach(kv, over) {
    cJSON_DeleteItemFromObjectCaseSensitive(out, kv->string);
    cJSON_AddItemToObject(out, kv->string, cJSON_Duplicate(kv, 1));
  }
  return out;
}

static cJSON *run_object(const char *job, cJSON *params, long index, const char *key_prefix) {
  cJSON *r = cJSON_CreateObject();
  cJSON_AddStringToObject(r, "job", job);
  cJSON_AddItemToObject(r, "params", params);
  cJSON_AddNumberToObject(r, "run_index", (double)index);
  char key[256];
  snprintf(key, sizeof key, "%s-%ld", key_prefix, index);
  cJSON_AddStringToObject(r, "idempotency_key", key);
  return r;
}

static bool blank(const char *s) {
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') return false;
  return true;
}

cJSON *pgd_cli_runs_build(const char *job, const cJSON *params, long count, FILE *params_file,
                          const char *file_name, const char *key_prefix, char *err,
                          size_t errlen) {
  if (!job || !key_prefix || strlen(key_prefix) > 200) {
    pgd_set_err(err, errlen, -EINVAL, "a job name and a key prefix of at most 200 chars are needed");
    return NULL;
  }
  cJSON *runs = cJSON_CreateArray();
  if (!params_file) {
    if (count < 1) {
      cJSON_Delete(runs);
      pgd_set_err(err, errlen, -EINVAL, "--count wants a positive integer");
      return NULL;
    }
    for (long i = 0; i < count; i++)
      cJSON_AddItemToArray(runs, run_object(job, merged(params, NULL), i, key_prefix));
    return runs;
  }
  char *line = NULL;
  size_t cap = 0;
  long lineno = 0, index = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, params_file)) >= 0) {
    lineno++;
    if (blank(line)) continue;
    cJSON *obj = cJSON_ParseWithLength(line, (size_t)len);
    if (!cJSON_IsObject(obj)) {
      cJSON_Delete(obj);
      cJSON_Delete(runs);
      free(line);
      pgd_set_err(err, errlen, -EINVAL, "%s, line %ld: not a JSON object of params", file_name,
                  lineno);
      return NULL;
    }
    cJSON_AddItemToArray(runs, run_object(job, merged(params, obj), index++, key_prefix));
    cJSON_Delete(obj);
  }
  free(line);
  if (ferror(params_file)) {
    cJSON_Delete(runs);
    pgd_set_err(err, errlen, -EIO, "%s: read error", file_name);
    return NULL;
  }
  if (index == 0) {
    cJSON_Delete(runs);
    pgd_set_err(err, errlen, -EINVAL, "%s holds no runs (one JSON object of params a line)",
                file_name);
    return NULL;
  }
  return runs;
}
