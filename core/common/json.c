#include "common/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cJSON *pgd_json_get(const cJSON *o, const char *key) {
  return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

int64_t pgd_json_int(const cJSON *o, const char *key, int64_t dflt) {
  const cJSON *v = pgd_json_get(o, key);
  return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

int pgd_json_int_strict(const cJSON *o, const char *key, int64_t *out) {
  const cJSON *v = pgd_json_get(o, key);
  if (!v) return -ENOENT;
  if (!cJSON_IsNumber(v)) return -EINVAL;
  double d = v->valuedouble;
  if (!isfinite(d) || d != floor(d) || d >= 9007199254740992.0 || d <= -9007199254740992.0)
    return -EINVAL;
  *out = (int64_t)d;
  return 0;
}

const char *pgd_json_str(const cJSON *o, const char *key) {
  return cJSON_GetStringValue(pgd_json_get(o, key));
}

bool pgd_json_bool(const cJSON *o, const char *key, bool dflt) {
  const cJSON *v = pgd_json_get(o, key);
  return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

void pgd_json_set(cJSON *o, const char *key, cJSON *v) {
  if (!v) v = cJSON_CreateNull();
  if (!v) return;
  if (cJSON_GetObjectItemCaseSensitive(o, key)) {
    cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
  } else if (!cJSON_AddItemToObject(o, key, v)) {
    cJSON_Delete(v);
  }
}

void pgd_json_set_int(cJSON *o, const char *key, int64_t v) {
  pgd_json_set(o, key, cJSON_CreateNumber((double)v));
}

void pgd_json_set_str(cJSON *o, const char *key, const char *v) {
  pgd_json_set(o, key, v ? cJSON_CreateString(v) : cJSON_CreateNull());
}

void pgd_json_set_bool(cJSON *o, const char *key, bool v) {
  pgd_json_set(o, key, cJSON_CreateBool(v));
}

cJSON *pgd_json_int_item(int64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%" PRId64, v);
  return cJSON_CreateRaw(buf);
}

static int cmp_key(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool pgd_json_ambiguous(const cJSON *v, const char **why) {
  if (cJSON_IsNumber(v)) {
    if (isfinite(v->valuedouble)) return false;
    if (why) *why = "a number beyond the range of a double";
    return true;
  }
  if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) return false;
  size_t n = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, v) {
    if (pgd_json_ambiguous(c, why)) return true;
    n++;
  }
  if (!cJSON_IsObject(v) || n < 2) return false;
  const char **keys = malloc(n * sizeof *keys);
  if (!keys) {
    if (why) *why = "an object too large to check";
    return true;
  }
  size_t i = 0;
  cJSON_ArrayForEach(c, v) keys[i++] = c->string ? c->string : "";
  qsort(keys, n, sizeof *keys, cmp_key);
  bool dup = false;
  for (i = 1; i < n && !dup; i++) dup = strcmp(keys[i - 1], keys[i]) == 0;
  free(keys);
  if (dup && why) *why = "an object that names a key twice";
  return dup;
}
