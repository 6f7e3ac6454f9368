#include "common/json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

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
