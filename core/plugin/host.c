/* The pagoda_host_t services table: logging, memory, errors, JSON read
 * access over cJSON, request and process builders, in-process run services,
 * execution attributes (1.1). */
#include "plugin/host.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "plugin/procspec.h"

#define J(v) ((const cJSON *)(const void *)(v))
#define PJ(v) ((const pagoda_json_t *)(const void *)(v))

/* ---- log, memory, errors ------------------------------------------------ */

static void h_log(pagoda_log_level_t level, const char *fmt, ...) {
  if (!fmt) return;
  int lvl = (int)level;
  if (lvl < PGD_LOG_DEBUG) lvl = PGD_LOG_DEBUG;
  if (lvl > PGD_LOG_ERROR) lvl = PGD_LOG_ERROR;
  va_list ap;
  va_start(ap, fmt);
  pgd_logv((pgd_log_level_t)lvl, "plugin", fmt, ap);
  va_end(ap);
}

static void *h_alloc(size_t size) { return malloc(size ? size : 1); }
static void h_free(void *p) { free(p); }
static char *h_strdup(const char *s) { return s ? strdup(s) : NULL; }

void pgd_plugin_error_init(struct pagoda_error *e, char *buf, size_t len) {
  e->buf = len ? buf : NULL;
  e->len = buf ? len : 0;
  e->set = 0;
  if (e->buf) e->buf[0] = '\0';
}

static void error_vset(struct pagoda_error *e, const char *fmt, va_list ap) {
  if (!e) return;
  e->set = 1;
  if (!e->buf || !e->len) return;
  if (!fmt) {
    e->buf[0] = '\0';
    return;
  }
  int n = vsnprintf(e->buf, e->len, fmt, ap);
  if (n < 0) e->buf[0] = '\0';
}

void pgd_plugin_error_setf(struct pagoda_error *e, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  error_vset(e, fmt, ap);
  va_end(ap);
}

static void h_error_set(pagoda_error_t *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  error_vset(err, fmt, ap);
  va_end(ap);
}

/* ---- JSON read access ---------------------------------------------------- */

static const pagoda_json_t *h_json_get(const pagoda_json_t *obj, const char *key) {
  if (!obj || !key || !cJSON_IsObject(J(obj))) return NULL;
  return PJ(cJSON_GetObjectItemCaseSensitive(J(obj), key));
}

static pagoda_json_type_t h_json_type(const pagoda_json_t *v) {
  const cJSON *j = J(v);
  if (!j) return PAGODA_JSON_MISSING;
  if (cJSON_IsNull(j)) return PAGODA_JSON_NULL;
  if (cJSON_IsBool(j)) return PAGODA_JSON_BOOL;
  if (cJSON_IsNumber(j)) return PAGODA_JSON_NUMBER;
  if (cJSON_IsString(j)) return PAGODA_JSON_STRING;
  if (cJSON_IsArray(j)) return PAGODA_JSON_ARRAY;
  if (cJSON_IsObject(j)) return PAGODA_JSON_OBJECT;
  return PAGODA_JSON_MISSING; /* cJSON_Invalid / raw */
}

static const char *h_json_string(const pagoda_json_t *v) {
  return (v && cJSON_IsString(J(v))) ? J(v)->valuestring : NULL;
}

static double h_json_number(const pagoda_json_t *v, double fallback) {
  return (v && cJSON_IsNumber(J(v))) ? J(v)->valuedouble : fallback;
}

static int h_json_bool(const pagoda_json_t *v, int fallback) {
  if (!v || !cJSON_IsBool(J(v))) return fallback;
  return cJSON_IsTrue(J(v)) ? 1 : 0;
}

static size_t h_child_count(const pagoda_json_t *v, int want_array) {
  const cJSON *j = J(v);
  if (!j || (want_array ? !cJSON_IsArray(j) : !cJSON_IsObject(j))) return 0;
  size_t n = 0;
  for (const cJSON *c = j->child; c; c = c->next) n++;
  return n;
}

static const cJSON *h_child_at(const pagoda_json_t *v, size_t index, int want_array) {
  const cJSON *j = J(v);
  if (!j || (want_array ? !cJSON_IsArray(j) : !cJSON_IsObject(j))) return NULL;
  const cJSON *c = j->child;
  for (size_t i = 0; c && i < index; i++) c = c->next;
  return c;
}

static size_t h_json_array_size(const pagoda_json_t *v) { return h_child_count(v, 1); }
static const pagoda_json_t *h_json_array_item(const pagoda_json_t *v, size_t i) {
  return PJ(h_child_at(v, i, 1));
}
static size_t h_json_object_size(const pagoda_json_t *v) { return h_child_count(v, 0); }
static const char *h_json_object_key_at(const pagoda_json_t *v, size_t i) {
  const cJSON *c = h_child_at(v, i, 0);
  return c ? c->string : NULL;
}
static const pagoda_json_t *h_json_object_value_at(const pagoda_json_t *v, size_t i) {
  return PJ(h_child_at(v, i, 0));
}

static char *h_json_print(const pagoda_json_t *v) {
  if (!v) return NULL;
  char *text = cJSON_PrintUnformatted(J(v));
  if (!text) return NULL;
  /* Copy into host->alloc memory so that host->free is always right, even
   * if cJSON's hooks are changed one day. */
  char *copy = strdup(text);
  cJSON_free(text);
  return copy;
}

/* ---- request builders ---------------------------------------------------- */

static int req_set(pagoda_request_t *req, const char *key, cJSON *item) {
  cJSON *obj = (cJSON *)(void *)req;
  if (!item) return PAGODA_ENOMEM;
  if (!obj || !key || !cJSON_IsObject(obj)) {
    cJSON_Delete(item);
    return PAGODA_EINVAL;
  }
  if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
    if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item)) {
      cJSON_Delete(item);
      return PAGODA_ENOMEM;
    }
    return PAGODA_OK;
  }
  if (!cJSON_AddItemToObject(obj, key, item)) {
    cJSON_Delete(item);
    return PAGODA_ENOMEM;
  }
  return PAGODA_OK;
}

static int h_request_set_string(pagoda_request_t *req, const char *key, const char *value) {
  if (!value) return PAGODA_EINVAL;
  return req_set(req, key, cJSON_CreateString(value));
}
static int h_request_set_number(pagoda_request_t *req, const char *key, double value) {
  return req_set(req, key, cJSON_CreateNumber(value));
}
static int h_request_set_bool(pagoda_request_t *req, const char *key, int value) {
  return req_set(req, key, cJSON_CreateBool(value ? 1 : 0));
}
static int h_request_set_json(pagoda_request_t *req, const char *key, const pagoda_json_t *value) {
  if (!value) return PAGODA_EINVAL;
  return req_set(req, key, cJSON_Duplicate(J(value), 1));
}
static int h_request_remove(pagoda_request_t *req, const char *key) {
  cJSON *obj = (cJSON *)(void *)req;
  if (!obj || !key || !cJSON_IsObject(obj)) return PAGODA_EINVAL;
  cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
  return PAGODA_OK;
}

/* ---- process builders ---------------------------------------------------- */

#define SPEC(p) ((pgd_procspec_t *)(void *)(p))

static int h_process_add_arg(pagoda_process_t *p, const char *arg) {
  return pgd_procspec_add_arg(SPEC(p), arg);
}
static int h_process_set_env(pagoda_process_t *p, const char *k, const char *v) {
  return pgd_procspec_set_env(SPEC(p), k, v);
}
static int h_process_set_cwd(pagoda_process_t *p, const char *dir) {
  if (!dir) return PAGODA_EINVAL;
  return pgd_procspec_set_cwd(SPEC(p), dir);
}
static int h_process_set_user(pagoda_process_t *p, const char *user) {
  if (!user) return PAGODA_EINVAL;
  return pgd_procspec_set_user(SPEC(p), user);
}

/* ---- in-process run services ------------------------------------------- */

static int h_run_is_cancelled(pagoda_run_t *run) {
  if (!run || !run->ops || !run->ops->is_cancelled) return 0;
  return run->ops->is_cancelled(run->ops->ud) ? 1 : 0;
}

static void h_run_log(pagoda_run_t *run, const char *data, size_t len) {
  if (!run || !run->ops || !run->ops->log || !data || !len) return;
  run->ops->log(run->ops->ud, data, len);
}

static int h_run_set_result(pagoda_run_t *run, const char *json_text) {
  if (!run || !json_text) return PAGODA_EINVAL;
  cJSON *parsed = cJSON_Parse(json_text);
  if (!parsed) return PAGODA_EINVAL;
  cJSON_Delete(parsed);
  if (run->ops && run->ops->set_result) run->ops->set_result(run->ops->ud, json_text);
  return PAGODA_OK;
}

static pagoda_error_t *h_run_error(pagoda_run_t *run) { return run ? &run->err : NULL; }

/* ---- execution attributes (1.1) ------------------------------------------ */

int pgd_plugin_attr_key_ok(const char *key) {
  if (!key) return 0;
  size_t n = 0;
  for (; key[n]; n++) {
    char c = key[n];
    if (n >= PGD_ATTR_KEY_MAX) return 0;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
  }
  return n > 0;
}

static int h_attr_set(pagoda_attrs_t *attrs, const char *key, const char *value) {
  cJSON *obj = attrs ? attrs->obj : NULL;
  if (!obj || !cJSON_IsObject(obj) || !pgd_plugin_attr_key_ok(key) || !value ||
      strlen(value) > PGD_ATTR_VALUE_MAX)
    return PAGODA_EINVAL;
  cJSON *old = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (cJSON_IsString(old) && strcmp(old->valuestring, value) == 0) return PAGODA_OK;
  int rc = req_set((pagoda_request_t *)(void *)obj, key, cJSON_CreateString(value));
  if (rc == PAGODA_OK) attrs->changes++;
  return rc;
}

static const char *h_attr_get(const pagoda_attrs_t *attrs, const char *key) {
  const cJSON *obj = attrs ? attrs->obj : NULL;
  if (!obj || !key || !cJSON_IsObject(obj)) return NULL;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const pagoda_host_t g_host = {
    .abi_major = PAGODA_PLUGIN_ABI_MAJOR,
    .abi_minor = PAGODA_PLUGIN_ABI_MINOR,
    .struct_size = (uint32_t)sizeof(pagoda_host_t),
    .log = h_log,
    .alloc = h_alloc,
    .free = h_free,
    .strdup = h_strdup,
    .error_set = h_error_set,
    .json_get = h_json_get,
    .json_type = h_json_type,
    .json_string = h_json_string,
    .json_number = h_json_number,
    .json_bool = h_json_bool,
    .json_array_size = h_json_array_size,
    .json_array_item = h_json_array_item,
    .json_object_size = h_json_object_size,
    .json_object_key_at = h_json_object_key_at,
    .json_object_value_at = h_json_object_value_at,
    .json_print = h_json_print,
    .request_set_string = h_request_set_string,
    .request_set_number = h_request_set_number,
    .request_set_bool = h_request_set_bool,
    .request_set_json = h_request_set_json,
    .request_remove = h_request_remove,
    .process_add_arg = h_process_add_arg,
    .process_set_env = h_process_set_env,
    .process_set_cwd = h_process_set_cwd,
    .process_set_user = h_process_set_user,
    .run_is_cancelled = h_run_is_cancelled,
    .run_log = h_run_log,
    .run_set_result = h_run_set_result,
    .run_error = h_run_error,
    .attr_set = h_attr_set,
    .attr_get = h_attr_get,
};

const pagoda_host_t *pgd_plugin_host(void) { return &g_host; }
