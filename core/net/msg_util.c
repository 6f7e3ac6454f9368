/* Pagoda — checked field readers and writers of the message codec, and the
 * record accessors of net/msg.h (see msg_util.h). */
#include "net/msg_util.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "common/err.h"

/* ---- reading ---- */

bool msg_rd_fail(msg_rd_t *rd, const char *at, const char *key, const char *fmt, ...) {
  if (rd->rc < 0) return false;
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  rd->rc = pgd_set_err(rd->err, rd->errlen, -EINVAL, "%s.%s%s%s %s", rd->msg, at ? at : "",
                       at ? "." : "", key, what);
  return false;
}

/* The member `key` of `o`, or NULL; fails when required and absent. */
static const cJSON *member(msg_rd_t *rd, const cJSON *o, const char *at, const char *key,
                           bool req) {
  if (rd->rc < 0) return NULL;
  const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
  if (!v && req) msg_rd_fail(rd, at, key, "is missing");
  return v;
}

static bool int_value(const cJSON *v, int64_t min, int64_t max, int64_t *out) {
  if (!cJSON_IsNumber(v)) return false;
  double d = v->valuedouble;
  if (!isfinite(d) || d != floor(d) || d < (double)min || d > (double)max) return false;
  *out = (int64_t)d;
  return true;
}

bool msg_rd_int(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                int64_t min, int64_t max, int64_t *out) {
  const cJSON *v = member(rd, o, at, key, req);
  if (!v) return false;
  int64_t x;
  if (!int_value(v, min, max, &x))
    return msg_rd_fail(rd, at, key, "must be an integer from %lld to %lld", (long long)min,
                       (long long)max);
  *out = x;
  return true;
}

bool msg_rd_opt_int(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, int64_t min,
                    int64_t max, pgd_msg_opt_int_t *out) {
  int64_t v;
  if (!msg_rd_int(rd, o, at, key, false, min, max, &v)) return false;
  *out = pgd_msg_int(v);
  return true;
}

bool msg_rd_num(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                double *out) {
  const cJSON *v = member(rd, o, at, key, req);
  if (!v) return false;
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
    return msg_rd_fail(rd, at, key, "must be a finite number");
  *out = v->valuedouble;
  return true;
}

bool msg_rd_str(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                const char **out) {
  const cJSON *v = member(rd, o, at, key, req);
  if (!v) return false;
  if (!cJSON_IsString(v) || !v->valuestring) return msg_rd_fail(rd, at, key, "must be a string");
  *out = v->valuestring;
  return true;
}

bool msg_rd_obj(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                const cJSON **out) {
  const cJSON *v = member(rd, o, at, key, req);
  if (!v) return false;
  if (!cJSON_IsObject(v)) return msg_rd_fail(rd, at, key, "must be an object");
  *out = v;
  return true;
}

bool msg_rd_any(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                const cJSON **out) {
  const cJSON *v = member(rd, o, at, key, req);
  if (!v) return false;
  if (cJSON_IsInvalid(v)) return msg_rd_fail(rd, at, key, "must be a JSON value");
  *out = v;
  return true;
}

static const cJSON *array_member(msg_rd_t *rd, const cJSON *o, const char *at, const char *key,
                                 bool req) {
  const cJSON *v = member(rd, o, at, key, req);
  if (v && !cJSON_IsArray(v)) {
    msg_rd_fail(rd, at, key, "must be an array");
    return NULL;
  }
  return v;
}

bool msg_rd_strs(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                 const cJSON **out) {
  const cJSON *v = array_member(rd, o, at, key, req);
  if (!v) return false;
  const cJSON *e;
  int i = 0;
  cJSON_ArrayForEach(e, v) {
    if (!cJSON_IsString(e) || !e->valuestring)
      return msg_rd_fail(rd, at, key, "must be an array of strings (element %d is not)", i);
    i++;
  }
  *out = v;
  return true;
}

bool msg_rd_ints(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                 int64_t min, int64_t max, const cJSON **out) {
  const cJSON *v = array_member(rd, o, at, key, req);
  if (!v) return false;
  const cJSON *e;
  int i = 0;
  int64_t x;
  cJSON_ArrayForEach(e, v) {
    if (!int_value(e, min, max, &x))
      return msg_rd_fail(rd, at, key,
                         "must be an array of integers from %lld to %lld (element %d is not)",
                         (long long)min, (long long)max, i);
    i++;
  }
  *out = v;
  return true;
}

bool msg_rd_records(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                    msg_rd_record_fn check, const cJSON **out) {
  const cJSON *v = array_member(rd, o, at, key, req);
  if (!v) return false;
  const cJSON *e;
  int i = 0;
  cJSON_ArrayForEach(e, v) {
    char elem_at[160];
    snprintf(elem_at, sizeof elem_at, "%s%s%s[%d]", at ? at : "", at ? "." : "", key, i);
    if (!cJSON_IsObject(e)) {
      snprintf(elem_at, sizeof elem_at, "%s[%d]", key, i);
      return msg_rd_fail(rd, at, elem_at, "must be an object");
    }
    if (!check(rd, e, elem_at, NULL)) return false;
    i++;
  }
  *out = v;
  return true;
}

bool msg_rd_attempt_ref(msg_rd_t *rd, const cJSON *rec, const char *at, void *out) {
  pgd_msg_attempt_ref_t r = {0};
  int64_t attempt = 0;
  msg_rd_int(rd, rec, at, "execution_id", true, -MSG_INT_MAX, MSG_INT_MAX, &r.execution_id);
  msg_rd_int(rd, rec, at, "attempt", true, 0, INT_MAX, &attempt);
  if (rd->rc < 0) return false;
  r.attempt = (int)attempt;
  if (out) *(pgd_msg_attempt_ref_t *)out = r;
  return true;
}

bool msg_rd_resource(msg_rd_t *rd, const cJSON *rec, const char *at, void *out) {
  pgd_msg_resource_t r = {0};
  msg_rd_str(rd, rec, at, "name", true, &r.name);
  msg_rd_str(rd, rec, at, "hash", false, &r.hash);
  msg_rd_opt_int(rd, rec, at, "size", 0, MSG_INT_MAX, &r.size);
  msg_rd_str(rd, rec, at, "error", false, &r.error);
  if (rd->rc < 0) return false;
  if (out) *(pgd_msg_resource_t *)out = r;
  return true;
}

bool msg_rd_load(msg_rd_t *rd, const cJSON *o, const char *at, const char *key,
                 pgd_msg_load_t *out) {
  const cJSON *l = NULL;
  if (!msg_rd_obj(rd, o, at, key, false, &l)) return false;
  char sub[96];
  snprintf(sub, sizeof sub, "%s%s%s", at ? at : "", at ? "." : "", key);
  pgd_msg_load_t v = {.set = true};
  msg_rd_num(rd, l, sub, "load1", true, &v.load1);
  msg_rd_int(rd, l, sub, "mem_free_mb", true, -1, MSG_INT_MAX, &v.mem_free_mb);
  if (rd->rc < 0) return false;
  *out = v;
  return true;
}

/* ---- record accessors (net/msg.h) ---- */

int pgd_msg_count(const cJSON *array) {
  return cJSON_IsArray(array) ? cJSON_GetArraySize(array) : 0;
}

int pgd_msg_attempt_ref_at(const cJSON *array, int i, pgd_msg_attempt_ref_t *out) {
  const cJSON *e = cJSON_IsArray(array) && i >= 0 ? cJSON_GetArrayItem(array, i) : NULL;
  msg_rd_t rd = {.msg = "attempt"};
  if (!cJSON_IsObject(e) || !msg_rd_attempt_ref(&rd, e, NULL, out)) return -EINVAL;
  return 0;
}

int pgd_msg_resource_at(const cJSON *array, int i, pgd_msg_resource_t *out) {
  const cJSON *e = cJSON_IsArray(array) && i >= 0 ? cJSON_GetArrayItem(array, i) : NULL;
  msg_rd_t rd = {.msg = "resource"};
  if (!cJSON_IsObject(e) || !msg_rd_resource(&rd, e, NULL, out)) return -EINVAL;
  return 0;
}

/* ---- writing ---- */

bool msg_wr_init(msg_wr_t *w) {
  w->o = cJSON_CreateObject();
  w->ok = w->o != NULL;
  return w->ok;
}

cJSON *msg_wr_done(msg_wr_t *w) {
  if (w->ok) return w->o;
  cJSON_Delete(w->o);
  return NULL;
}

static void add(msg_wr_t *w, cJSON *o, const char *key, cJSON *v) {
  if (!o || !v || !cJSON_AddItemToObject(o, key, v)) {
    cJSON_Delete(v);
    w->ok = false;
  }
}

void msg_wr_int(msg_wr_t *w, cJSON *o, const char *key, int64_t v) {
  add(w, o, key, cJSON_CreateNumber((double)v));
}

void msg_wr_opt_int(msg_wr_t *w, cJSON *o, const char *key, pgd_msg_opt_int_t v) {
  if (v.set) msg_wr_int(w, o, key, v.v);
}

void msg_wr_num(msg_wr_t *w, cJSON *o, const char *key, double v) {
  add(w, o, key, cJSON_CreateNumber(v));
}

void msg_wr_str(msg_wr_t *w, cJSON *o, const char *key, const char *v) {
  if (v) add(w, o, key, cJSON_CreateString(v));
}

void msg_wr_dup(msg_wr_t *w, cJSON *o, const char *key, const cJSON *v) {
  if (v) add(w, o, key, cJSON_Duplicate(v, 1));
}

void msg_wr_array(msg_wr_t *w, cJSON *o, const char *key, const cJSON *v) {
  add(w, o, key, v ? cJSON_Duplicate(v, 1) : cJSON_CreateArray());
}

cJSON *msg_wr_obj(msg_wr_t *w, cJSON *o, const char *key) {
  cJSON *s = cJSON_CreateObject();
  add(w, o, key, s);
  return w->ok ? s : NULL;
}

void msg_wr_load(msg_wr_t *w, cJSON *o, const char *key, const pgd_msg_load_t *l) {
  if (!l->set) return;
  cJSON *s = msg_wr_obj(w, o, key);
  msg_wr_num(w, s, "load1", l->load1);
  msg_wr_int(w, s, "mem_free_mb", l->mem_free_mb);
}

int pgd_msg_attempt_ref_add(cJSON *array, int64_t execution_id, int attempt) {
  msg_wr_t w = {.ok = true};
  cJSON *o = cJSON_CreateObject();
  msg_wr_int(&w, o, "execution_id", execution_id);
  msg_wr_int(&w, o, "attempt", attempt);
  if (!w.ok || !cJSON_AddItemToArray(array, o)) {
    cJSON_Delete(o);
    return -ENOMEM;
  }
  return 0;
}

int pgd_msg_resource_add(cJSON *array, const pgd_msg_resource_t *r) {
  msg_wr_t w = {.ok = true};
  cJSON *o = cJSON_CreateObject();
  msg_wr_str(&w, o, "name", r->name ? r->name : "");
  msg_wr_str(&w, o, "hash", r->hash);
  msg_wr_opt_int(&w, o, "size", r->size);
  msg_wr_str(&w, o, "error", r->error);
  if (!w.ok || !cJSON_AddItemToArray(array, o)) {
    cJSON_Delete(o);
    return -ENOMEM;
  }
  return 0;
}

void msg_wr_attempt_refs(msg_wr_t *w, cJSON *o, const char *key, const cJSON *refs) {
  if (!refs) return;
  cJSON *arr = cJSON_CreateArray();
  add(w, o, key, arr);
  pgd_msg_attempt_ref_t r;
  for (int i = 0; w->ok && i < pgd_msg_count(refs); i++)
    if (pgd_msg_attempt_ref_at(refs, i, &r) == 0 &&
        pgd_msg_attempt_ref_add(arr, r.execution_id, r.attempt) < 0)
      w->ok = false;
}

void msg_wr_resources(msg_wr_t *w, cJSON *o, const char *key, const cJSON *res) {
  if (!res) return;
  cJSON *arr = cJSON_CreateArray();
  add(w, o, key, arr);
  pgd_msg_resource_t r;
  for (int i = 0; w->ok && i < pgd_msg_count(res); i++)
    if (pgd_msg_resource_at(res, i, &r) == 0 && pgd_msg_resource_add(arr, &r) < 0) w->ok = false;
}

/* ---- pushed plugins (heartbeat.plugins, plugins.plugins) ---- */

bool msg_rd_plugin_state(msg_rd_t *rd, const cJSON *rec, const char *at, void *out) {
  pgd_msg_plugin_state_t r = {0};
  msg_rd_str(rd, rec, at, "type", true, &r.type);
  msg_rd_str(rd, rec, at, "sha256", true, &r.sha256);
  msg_rd_str(rd, rec, at, "status", true, &r.status);
  msg_rd_str(rd, rec, at, "version", false, &r.version);
  msg_rd_str(rd, rec, at, "abi", false, &r.abi);
  msg_rd_str(rd, rec, at, "reason", false, &r.reason);
  if (rd->rc < 0) return false;
  if (out) *(pgd_msg_plugin_state_t *)out = r;
  return true;
}

bool msg_rd_plugin_offer(msg_rd_t *rd, const cJSON *rec, const char *at, void *out) {
  pgd_msg_plugin_offer_t r = {0};
  msg_rd_str(rd, rec, at, "type", true, &r.type);
  msg_rd_str(rd, rec, at, "sha256", true, &r.sha256);
  msg_rd_opt_int(rd, rec, at, "size", 0, MSG_INT_MAX, &r.size);
  if (rd->rc < 0) return false;
  if (out) *(pgd_msg_plugin_offer_t *)out = r;
  return true;
}

int pgd_msg_plugin_state_at(const cJSON *array, int i, pgd_msg_plugin_state_t *out) {
  const cJSON *e = cJSON_IsArray(array) && i >= 0 ? cJSON_GetArrayItem(array, i) : NULL;
  msg_rd_t rd = {.msg = "plugin"};
  if (!cJSON_IsObject(e) || !msg_rd_plugin_state(&rd, e, NULL, out)) return -EINVAL;
  return 0;
}

int pgd_msg_plugin_offer_at(const cJSON *array, int i, pgd_msg_plugin_offer_t *out) {
  const cJSON *e = cJSON_IsArray(array) && i >= 0 ? cJSON_GetArrayItem(array, i) : NULL;
  msg_rd_t rd = {.msg = "plugin"};
  if (!cJSON_IsObject(e) || !msg_rd_plugin_offer(&rd, e, NULL, out)) return -EINVAL;
  return 0;
}

int pgd_msg_plugin_state_add(cJSON *array, const pgd_msg_plugin_state_t *r) {
  msg_wr_t w = {.ok = true};
  cJSON *o = cJSON_CreateObject();
  msg_wr_str(&w, o, "type", r->type ? r->type : "");
  msg_wr_str(&w, o, "sha256", r->sha256 ? r->sha256 : "");
  msg_wr_str(&w, o, "status", r->status ? r->status : "");
  msg_wr_str(&w, o, "version", r->version);
  msg_wr_str(&w, o, "abi", r->abi);
  msg_wr_str(&w, o, "reason", r->reason);
  if (!w.ok || !cJSON_AddItemToArray(array, o)) {
    cJSON_Delete(o);
    return -ENOMEM;
  }
  return 0;
}

int pgd_msg_plugin_offer_add(cJSON *array, const pgd_msg_plugin_offer_t *r) {
  msg_wr_t w = {.ok = true};
  cJSON *o = cJSON_CreateObject();
  msg_wr_str(&w, o, "type", r->type ? r->type : "");
  msg_wr_str(&w, o, "sha256", r->sha256 ? r->sha256 : "");
  msg_wr_opt_int(&w, o, "size", r->size);
  if (!w.ok || !cJSON_AddItemToArray(array, o)) {
    cJSON_Delete(o);
    return -ENOMEM;
  }
  return 0;
}

void msg_wr_plugin_states(msg_wr_t *w, cJSON *o, const char *key, const cJSON *recs) {
  if (!recs) return;
  cJSON *arr = cJSON_CreateArray();
  add(w, o, key, arr);
  pgd_msg_plugin_state_t r;
  for (int i = 0; w->ok && i < pgd_msg_count(recs); i++)
    if (pgd_msg_plugin_state_at(recs, i, &r) == 0 && pgd_msg_plugin_state_add(arr, &r) < 0)
      w->ok = false;
}

void msg_wr_plugin_offers(msg_wr_t *w, cJSON *o, const char *key, const cJSON *recs) {
  cJSON *arr = cJSON_CreateArray();
  add(w, o, key, arr);
  pgd_msg_plugin_offer_t r;
  for (int i = 0; w->ok && i < pgd_msg_count(recs); i++)
    if (pgd_msg_plugin_offer_at(recs, i, &r) == 0 && pgd_msg_plugin_offer_add(arr, &r) < 0)
      w->ok = false;
}
