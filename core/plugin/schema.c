/* The parameter schema as the host enforces it (ABI 1.2). */
#include "plugin/schema.h"

#include <errno.h>
#include <string.h>

#include "common/err.h"
#include "plugin/plugin_priv.h"

/* The schema entry as a 1.0/1.1 plugin compiled it: the array is read with
 * this element size for those plugins (must_be was added in 1.2). */
typedef struct param_spec_1_1 {
  const char *key;
  pagoda_json_type_t type;
  int required;
  const char *default_text;
  const char *description;
} param_spec_1_1_t;

const char *pgd_param_type_name(pagoda_json_type_t t) {
  switch (t) {
    case PAGODA_JSON_NULL: return "null";
    case PAGODA_JSON_BOOL: return "bool";
    case PAGODA_JSON_NUMBER: return "number";
    case PAGODA_JSON_STRING: return "string";
    case PAGODA_JSON_ARRAY: return "array";
    case PAGODA_JSON_OBJECT: return "object";
    case PAGODA_PARAM_TEXT: return "text";
    case PAGODA_PARAM_STRINGS: return "strings";
    case PAGODA_PARAM_INTEGER: return "integer";
    case PAGODA_PARAM_ENV: return "env";
    default: return "any";
  }
}

int pgd_env_key_ok(const char *key) {
  if (!key || !*key || (*key >= '0' && *key <= '9')) return 0;
  size_t n = 0;
  for (; key[n]; n++) {
    char c = key[n];
    if (n >= PGD_ENV_KEY_MAX) return 0;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '.' || c == '-'))
      return 0;
  }
  return 1;
}

int pgd_param_spec_at(const pagoda_plugin_descriptor_t *d, size_t i, pagoda_param_spec_t *out) {
  if (!d || !d->params || !out) return 0;
  memset(out, 0, sizeof *out);
  if (d->abi_minor >= PGD_SCHEMA_MINOR) {
    *out = d->params[i];
  } else {
    const param_spec_1_1_t *old = (const param_spec_1_1_t *)(const void *)d->params;
    out->key = old[i].key;
    out->type = old[i].type;
    out->required = old[i].required;
    out->default_text = old[i].default_text;
    out->description = old[i].description;
  }
  return out->key != NULL;
}

/* The phrase completing "must be ..." for a type without must_be. */
static const char *type_phrase(pagoda_json_type_t t) {
  switch (t) {
    case PAGODA_JSON_NULL: return "null";
    case PAGODA_JSON_BOOL: return "a boolean";
    case PAGODA_JSON_NUMBER: return "a number";
    case PAGODA_JSON_STRING: return "a string";
    case PAGODA_JSON_ARRAY: return "an array";
    case PAGODA_JSON_OBJECT: return "an object";
    case PAGODA_PARAM_TEXT: return "a non-empty string";
    case PAGODA_PARAM_STRINGS: return "an array of strings";
    case PAGODA_PARAM_INTEGER: return "an integer";
    case PAGODA_PARAM_ENV: return "an object";
    default: return "a value";
  }
}

/* 0 when `v` (present) has type `t`, else 1, with *item set to the index
 * of the first bad item of a PAGODA_PARAM_STRINGS array (else -1). */
static int mismatch(const cJSON *v, pagoda_json_type_t t, int *item) {
  *item = -1;
  switch (t) {
    case PAGODA_JSON_MISSING: return 0; /* any value */
    case PAGODA_JSON_NULL: return !cJSON_IsNull(v);
    case PAGODA_JSON_BOOL: return !cJSON_IsBool(v);
    case PAGODA_JSON_NUMBER: return !cJSON_IsNumber(v);
    case PAGODA_JSON_STRING: return !cJSON_IsString(v);
    case PAGODA_JSON_ARRAY: return !cJSON_IsArray(v);
    case PAGODA_JSON_OBJECT:
    case PAGODA_PARAM_ENV: return !cJSON_IsObject(v);
    case PAGODA_PARAM_TEXT: return !cJSON_IsString(v) || !v->valuestring[0];
    case PAGODA_PARAM_INTEGER:
      return !cJSON_IsNumber(v) || !(v->valuedouble > -9007199254740992.0 &&
                                     v->valuedouble < 9007199254740992.0) ||
             v->valuedouble != (double)(long long)v->valuedouble;
    case PAGODA_PARAM_STRINGS: {
      if (!cJSON_IsArray(v)) return 1;
      int i = 0;
      for (const cJSON *c = v->child; c; c = c->next, i++)
        if (!cJSON_IsString(c)) {
          *item = i;
          return 1;
        }
      return 0;
    }
    default: return 0; /* a type this host does not know: not checked */
  }
}

/* The environment rules of PAGODA_PARAM_ENV, past the object check. */
static int check_env(const char *type, const char *key, const cJSON *env, char *err,
                     size_t errlen) {
  for (const cJSON *c = env->child; c; c = c->next) {
    if (!pgd_env_key_ok(c->string))
      return pgd_set_err(err, errlen, -EINVAL,
                         "%s: params.%s key \"%.64s\" is not a valid variable name", type, key,
                         c->string ? c->string : "");
    if (!cJSON_IsString(c))
      return pgd_set_err(err, errlen, -EINVAL, "%s: params.%s.%s must be a string", type, key,
                         c->string);
  }
  return 0;
}

int pgd_plugin_schema_check(const pgd_plugin_t *p, const cJSON *params, char *err, size_t errlen) {
  if (!p) return -EINVAL;
  const pagoda_plugin_descriptor_t *d = p->desc;
  if (params && !cJSON_IsObject(params))
    return pgd_set_err(err, errlen, -EINVAL, "%s: params must be an object", d->type);
  if (d->abi_minor < PGD_SCHEMA_MINOR) return 0;
  pagoda_param_spec_t s;
  for (size_t i = 0; pgd_param_spec_at(d, i, &s); i++) {
    const cJSON *v = params ? cJSON_GetObjectItemCaseSensitive(params, s.key) : NULL;
    if (!v) {
      if (s.required)
        return pgd_set_err(err, errlen, -EINVAL, "%s: params.%s is required%s%s%s", d->type,
                           s.key, s.must_be ? " (" : "", s.must_be ? s.must_be : "",
                           s.must_be ? ")" : "");
      continue;
    }
    int item;
    if (mismatch(v, s.type, &item)) {
      if (s.must_be)
        return pgd_set_err(err, errlen, -EINVAL, "%s: params.%s must be %s", d->type, s.key,
                           s.must_be);
      if (item >= 0)
        return pgd_set_err(err, errlen, -EINVAL, "%s: params.%s[%d] must be a string", d->type,
                           s.key, item);
      return pgd_set_err(err, errlen, -EINVAL, "%s: params.%s must be %s", d->type, s.key,
                         type_phrase(s.type));
    }
    if (s.type == PAGODA_PARAM_ENV) {
      int rc = check_env(d->type, s.key, v, err, errlen);
      if (rc < 0) return rc;
    }
  }
  return 0;
}
