/* Pagoda API — the helpers every handler uses: JSON answers, the status of
 * a service error, body and query parsing, the one "reply when durable"
 * helper, and the views that add readable times. Loop thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "common/json.h"
#include "common/clock.h"
#include "common/utf8.h"

/* ---- answers ---- */

/* cJSON prints integers beyond 32 bits as "1.79530887980924e+15": exact,
 * but not what a client expects of a microsecond timestamp. Such numbers are
 * turned into raw integer text before printing. */
void api_json_ints_raw(cJSON *o) {
  for (cJSON *c = o ? o->child : NULL; c; c = c->next) {
    if (cJSON_IsNumber(c)) {
      double d = c->valuedouble;
      if (d == (double)(int64_t)d && (d > 2147483647.0 || d < -2147483648.0) &&
          d < 9007199254740992.0 && d > -9007199254740992.0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)d);
        char *txt = strdup(buf);
        if (!txt) continue;
        c->type = cJSON_Raw;
        c->valuestring = txt;
      }
    } else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
      api_json_ints_raw(c);
    }
  }
}

int api_respond_json(pgd_http_req_t *req, int status, cJSON *obj) {
  /* pgd_http_respond_json prints integers as integers (pgd_json_print). */
  return pgd_http_respond_json(req, status, obj);
}

int api_respond_take(pgd_http_req_t *req, int status, cJSON *obj) {
  int rc = api_respond_json(req, status, obj);
  cJSON_Delete(obj);
  return rc;
}

int api_respond_wrapped(pgd_http_req_t *req, const char *key, cJSON *value) {
  cJSON *out = cJSON_CreateObject();
  cJSON_AddItemToObject(out, key, value ? value : cJSON_CreateArray());
  return api_respond_take(req, 200, out);
}

int api_status_of(int rc) {
  switch (rc) {
    case -ENOENT: return 404;
    case -EINVAL: return 400;
    case -EALREADY:
    case -EBUSY: return 409;
    case -ESHUTDOWN: return 503;
    default: return 500;
  }
}

/* ---- request parsing ---- */

cJSON *api_parse_body(pgd_http_req_t *req, bool required) {
  size_t len = 0;
  const char *body = pgd_http_req_body(req, &len);
  if (!body || len == 0) {
    if (required) pgd_http_respond_error(req, 400, "a JSON body is required");
    return required ? NULL : cJSON_CreateObject();
  }
  /* JSON text is UTF-8 (RFC 8259); what is stored and served must be too,
   * and cJSON would keep invalid bytes inside strings as they are. */
  if (!pgd_utf8_valid(body, len)) {
    pgd_http_respond_error(req, 400, "the body is not valid UTF-8");
    return NULL;
  }
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (!j) {
    size_t at = end && end >= body ? (size_t)(end - body) : 0;
    pgd_http_respond_error(req, 400, "invalid JSON near byte %zu", at);
    return NULL;
  }
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    pgd_http_respond_error(req, 400, "the body must be a JSON object");
    return NULL;
  }
  const char *why = NULL;
  if (pgd_json_ambiguous(j, &why)) {
    cJSON_Delete(j);
    pgd_http_respond_error(req, 400, "the body holds %s", why);
    return NULL;
  }
  return j;
}

bool api_parse_limit(pgd_http_req_t *req, const char *text, int *limit) {
  if (!text) return true;
  char *end;
  long v = strtol(text, &end, 10);
  if (*end || v < 1 || v > 10000) {
    pgd_http_respond_error(req, 400, "limit must be an integer from 1 to 10000");
    return false;
  }
  *limit = (int)v;
  return true;
}

bool api_parse_id(const char *s, int64_t *out) {
  size_t len = strlen(s);
  if (len == 0 || len > 18) return false;
  int64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return v > 0;
}

bool api_query_int(pgd_http_req_t *req, const char *key, int dflt, int max, int *out) {
  const char *q = pgd_http_req_query(req, key);
  *out = dflt;
  if (!q) return true;
  char *end;
  long v = strtol(q, &end, 10);
  if (!*q || *end || v < 0 || v > max) {
    pgd_http_respond_error(req, 400, "%s must be an integer from 0 to %d", key, max);
    return false;
  }
  *out = (int)v;
  return true;
}

bool api_query_flag(pgd_http_req_t *req, const char *key) {
  const char *v = pgd_http_req_query(req, key);
  return v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}

/* ---- reply when durable ---- */

static void reply_abort(pgd_http_req_t *req, void *ud) {
  (void)req;
  ((api_reply_t *)ud)->req = NULL;
}

api_reply_t *api_reply_new(api_req_t *r, int status, cJSON *body) {
  api_reply_t *rp = calloc(1, sizeof *rp);
  if (!rp) abort();
  rp->req = r->req;
  rp->m = r->m;
  rp->status = status;
  rp->body = body;
  rp->held = true;
  pgd_http_req_on_abort(r->req, reply_abort, rp);
  return rp;
}

void api_reply_refresh(api_reply_t *rp, api_refresh_fn fn, const char *key, int64_t id) {
  rp->refresh = fn;
  free(rp->key);
  rp->key = key ? strdup(key) : NULL;
  rp->id = id;
}

static void reply_free(api_reply_t *rp) {
  cJSON_Delete(rp->body);
  free(rp->key);
  free(rp);
}

void api_reply_done(void *ud, int status) {
  api_reply_t *rp = ud;
  if (rp->held) {
    rp->done_seen = true;
    rp->done_status = status;
    return;
  }
  if (rp->req) {
    pgd_http_req_on_abort(rp->req, NULL, NULL);
    if (status < 0) {
      /* A resource failure (disk full, lost database) is the service's
       * state, not the request's fault: 503, retry later (docs/api.md). */
      pgd_http_respond_error(rp->req, pgd_master_error_is_unavailable(status) ? 503 : 500,
                             "the store could not save the change (%s)", strerror(-status));
    } else {
      cJSON *fresh = rp->refresh ? rp->refresh(rp->m, rp->key, rp->id) : NULL;
      if (fresh) {
        cJSON_Delete(rp->body);
        rp->body = fresh;
      }
      if (!rp->body) rp->body = cJSON_CreateObject();
      api_respond_json(rp->req, rp->status, rp->body);
    }
  }
  reply_free(rp);
}

void api_reply_release(api_reply_t *rp) {
  rp->held = false;
  if (rp->done_seen) api_reply_done(rp, rp->done_status);
}

void api_reply_cancel(api_reply_t *rp) {
  if (rp->req) pgd_http_req_on_abort(rp->req, NULL, NULL);
  reply_free(rp);
}

void api_delete_named(api_req_t *r, const char *kind, const char *name, api_delete_fn del) {
  cJSON *out = cJSON_CreateObject();
  cJSON_AddStringToObject(out, "deleted", name);
  api_reply_t *rp = api_reply_new(r, 200, out);
  if (del(r->m, name, api_reply_done, rp) < 0) {
    api_reply_cancel(rp);
    pgd_http_respond_error(r->req, 404, "%s '%s' not found", kind, name);
    return;
  }
  api_reply_release(rp);
}

/* ---- views ---- */

void api_add_time_strings(cJSON *o) {
  static const char *const keys[][2] = {{"submitted_us", "submitted_at"},
                                        {"dispatched_us", "dispatched_at"},
                                        {"started_us", "started_at"},
                                        {"finished_us", "finished_at"},
                                        {"created_us", "created_at"},
                                        {"updated_us", "updated_at"}};
  char buf[40];
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[i][0]);
    if (!v) continue;
    cJSON_DeleteItemFromObjectCaseSensitive(o, keys[i][1]);
    if (cJSON_IsNumber(v))
      cJSON_AddStringToObject(o, keys[i][1],
                              pgd_format_time_us((int64_t)v->valuedouble, buf, sizeof buf));
    else
      cJSON_AddNullToObject(o, keys[i][1]);
  }
}

cJSON *api_exec_view(const cJSON *rec) {
  cJSON *v = cJSON_Duplicate(rec, 1);
  static const char *const always[] = {"worker_id", "exit_code", "signal", "error",
                                       "submitted_us", "dispatched_us", "started_us",
                                       "finished_us"};
  for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
    if (!cJSON_GetObjectItemCaseSensitive(v, always[i])) cJSON_AddNullToObject(v, always[i]);
  api_add_time_strings(v);
  cJSON *attempts = cJSON_GetObjectItemCaseSensitive(v, "attempts");
  cJSON *a;
  cJSON_ArrayForEach(a, attempts) api_add_time_strings(a);
  return v;
}

cJSON *api_exec_view_refs(const cJSON *rec, const char *skip) {
  cJSON *v = cJSON_CreateObject();
  if (!v) return NULL;
  for (const cJSON *c = rec ? rec->child : NULL; c; c = c->next) {
    if (!c->string || (skip && strcmp(c->string, skip) == 0)) continue;
    /* api_exec_view writes time strings into each attempt: those get a copy. */
    bool ok = strcmp(c->string, "attempts") == 0
                  ? cJSON_AddItemToObject(v, c->string, cJSON_Duplicate(c, 1))
                  : cJSON_AddItemReferenceToObject(v, c->string, (cJSON *)c);
    if (!ok) {
      cJSON_Delete(v);
      return NULL;
    }
  }
  static const char *const always[] = {"worker_id", "exit_code", "signal", "error",
                                       "submitted_us", "dispatched_us", "started_us",
                                       "finished_us"};
  for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
    if (!cJSON_GetObjectItemCaseSensitive(v, always[i])) cJSON_AddNullToObject(v, always[i]);
  api_add_time_strings(v); /* on the view's own members: `rec` is not touched */
  cJSON *attempts = cJSON_GetObjectItemCaseSensitive(v, "attempts");
  cJSON *a;
  cJSON_ArrayForEach(a, attempts) api_add_time_strings(a);
  return v;
}

cJSON *api_job_view(const cJSON *stored) {
  cJSON *v = cJSON_Duplicate(stored, 1);
  api_add_time_strings(v);
  return v;
}

/* ---- body schemas ---- */

bool api_check_body(api_req_t *r) {
  const pgd_jschema_t *schema = r->route->body_schema;
  if (!schema) return true;
  size_t len = 0;
  const char *body = pgd_http_req_body(r->req, &len);
  if (!body || len == 0 || !pgd_utf8_valid(body, len)) return true; /* the handler answers */
  cJSON *j = cJSON_ParseWithLength(body, len);
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return true; /* the handler's api_parse_body answers it */
  }
  pgd_jschema_err_t e;
  bool ok = pgd_jschema_check(schema, j, &e);
  cJSON_Delete(j);
  if (ok) return true;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "error", e.message);
  cJSON_AddStringToObject(o, "field", e.field);
  cJSON_AddStringToObject(o, "expected", e.expected);
  api_respond_take(r->req, 400, o);
  return false;
}
