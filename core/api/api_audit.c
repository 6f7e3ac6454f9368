/* Pagoda API — the audit log (docs/security.md "Audit log", docs/api.md
 * "Audit"): every request that may change something (any method but
 * GET/HEAD), accepted or refused, is stored once its status is known, as
 * an "audit" document: id = the time in µs, made unique and increasing on
 * this master (so ids are numeric, exact in JSON, and list newest first), parent = the token's name (NULL when no
 * valid token came), state = the route pattern; the object holds
 * {id, time_us, token, method, route, target, name, peer, status}. Rows
 * are queued to the store in batches (AUDIT_BATCH_MS), and on stop.
 * Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "store/store.h"

#define MOD "api"
#define AUDIT_KIND "audit"
#define AUDIT_MAX_LIMIT 1000
#define AUDIT_BATCH_MS 50   /* rows wait at most this long for their batch */
#define AUDIT_BATCH_MAX 256 /* or until this many are waiting */

typedef struct {
  pgd_api_t *api;
  char method[8];
  char route[128];
  char target[512];
  char name[129];
  char peer[64];
  char token[65];
} audit_rec_t;

static void audit_stored(int status, void *ud) {
  (void)ud;
  if (status < 0) PGD_WARN(MOD, "could not store an audit record: status %d", status);
}

void api_audit_flush(pgd_api_t *api) {
  cJSON *rows = api->audit_pending;
  api->audit_pending = NULL;
  if (api->audit_timer) uv_timer_stop(api->audit_timer);
  if (!rows) return;
  cJSON *doc;
  cJSON_ArrayForEach(doc, rows) {
    char ids[32];
    snprintf(ids, sizeof ids, "%lld", (long long)pgd_json_int(doc, "id", 0));
    if (!api->m || pgd_store_put_doc(pgd_master_store(api->m), AUDIT_KIND, ids,
                                     pgd_json_str(doc, "token"), pgd_json_str(doc, "route"), doc,
                                     audit_stored, NULL) < 0)
      PGD_WARN(MOD, "could not queue an audit record of %s %s", pgd_json_str(doc, "method"),
               pgd_json_str(doc, "target"));
  }
  cJSON_Delete(rows);
}

static void on_audit_timer(uv_timer_t *t) { api_audit_flush(t->data); }

static void timer_closed(uv_handle_t *h) { free(h); }

void api_audit_close(pgd_api_t *api) {
  api_audit_flush(api);
  if (api->audit_timer) uv_close((uv_handle_t *)api->audit_timer, timer_closed);
  api->audit_timer = NULL;
}

/* The response's status is known (0: the client went away unanswered):
 * the row joins the batch written within AUDIT_BATCH_MS (so a client
 * making one change at a time does not pay a second commit per change). */
static void audit_on_status(int status, void *ud) {
  audit_rec_t *a = ud;
  pgd_api_t *api = a->api;
  if (api->m && !pgd_master_is_stopping(api->m)) {
    int64_t now = pgd_now_us();
    int64_t id = now > (int64_t)api->audit_seq ? now : (int64_t)api->audit_seq + 1;
    api->audit_seq = (uint64_t)id;
    cJSON *doc = cJSON_CreateObject();
    char text[40];
    pgd_json_set_int(doc, "id", id);
    pgd_json_set_int(doc, "time_us", now);
    pgd_json_set_str(doc, "time_at", pgd_format_time_us(now, text, sizeof text));
    pgd_json_set_str(doc, "token", a->token[0] ? a->token : NULL);
    pgd_json_set_str(doc, "method", a->method);
    pgd_json_set_str(doc, "route", a->route);
    pgd_json_set_str(doc, "target", a->target);
    pgd_json_set_str(doc, "name", a->name[0] ? a->name : NULL);
    pgd_json_set_str(doc, "peer", a->peer);
    pgd_json_set_int(doc, "status", status);
    if (!api->audit_pending) api->audit_pending = cJSON_CreateArray();
    cJSON_AddItemToArray(api->audit_pending, doc);
    if (!api->audit_timer && (api->audit_timer = calloc(1, sizeof *api->audit_timer))) {
      uv_timer_init(api->loop, api->audit_timer);
      api->audit_timer->data = api;
    }
    if (cJSON_GetArraySize(api->audit_pending) >= AUDIT_BATCH_MAX || !api->audit_timer)
      api_audit_flush(api);
    else if (!uv_is_active((uv_handle_t *)api->audit_timer))
      uv_timer_start(api->audit_timer, on_audit_timer, AUDIT_BATCH_MS, 0);
  }
  free(a);
}

void api_audit_begin(api_req_t *r) {
  audit_rec_t *a = calloc(1, sizeof *a);
  if (!a) abort();
  a->api = r->api;
  snprintf(a->method, sizeof a->method, "%s", pgd_http_req_method(r->req));
  snprintf(a->route, sizeof a->route, "%s", r->route->pattern);
  snprintf(a->target, sizeof a->target, "%s", pgd_http_req_path(r->req));
  /* The name a definition body gives ("name"), when it is JSON. */
  size_t len = 0;
  const char *body = pgd_http_req_body(r->req, &len);
  /* A body without the text "name" (nor a \u escape that could spell it)
   * has no such member: not parsed, which spares a JSON parse per run. */
  if (len > 0 && len < 65536 && r->route->handler != api_resource_put &&
      (memmem(body, len, "\"name\"", 6) || memmem(body, len, "\\u", 2))) {
    cJSON *j = cJSON_ParseWithLength(body, len);
    const char *n = pgd_json_str(j, "name");
    if (n) snprintf(a->name, sizeof a->name, "%s", n);
    cJSON_Delete(j);
  }
  pgd_http_req_peer(r->req, a->peer, sizeof a->peer);
  r->audit = a;
  pgd_http_req_on_status(r->req, audit_on_status, a);
}

void api_audit_set_token(api_req_t *r) {
  audit_rec_t *a = r->audit;
  if (a) snprintf(a->token, sizeof a->token, "%s", r->token_name);
}

/* GET /api/v1/audit?since=US&token=NAME&route=PATTERN&method=M&limit=N&before=ID */
void api_audit_list(api_req_t *r) {
  int limit = 100;
  if (!api_parse_limit(r->req, pgd_http_req_query(r->req, "limit"), &limit)) return;
  if (limit > AUDIT_MAX_LIMIT) limit = AUDIT_MAX_LIMIT;
  const char *since_s = pgd_http_req_query(r->req, "since");
  const char *before = pgd_http_req_query(r->req, "before");
  const char *method = pgd_http_req_query(r->req, "method");
  int64_t since = 0, before_id = 0;
  if ((since_s && !api_parse_id(since_s, &since)) || (before && !api_parse_id(before, &before_id))) {
    pgd_http_respond_error(r->req, 400, "since (µs since the epoch) and before (an audit id) "
                                        "must be positive integers");
    return;
  }
  cJSON *docs = pgd_store_list_docs(pgd_master_store(r->m), AUDIT_KIND,
                                    pgd_http_req_query(r->req, "token"),
                                    pgd_http_req_query(r->req, "route"), limit, before);
  if (!docs) {
    pgd_http_respond_error(r->req, 500, "cannot read the audit log from the store");
    return;
  }
  /* Newest first: rows older than `since` end the page. */
  cJSON *out = cJSON_CreateArray();
  int64_t last = 0;
  int n = 0;
  bool reached_since = false;
  cJSON *d;
  cJSON_ArrayForEach(d, docs) {
    n++;
    last = pgd_json_int(d, "id", 0);
    if (since && pgd_json_int(d, "time_us", 0) < since) {
      reached_since = true;
      break;
    }
    if (method && strcmp(method, pgd_json_str(d, "method") ? pgd_json_str(d, "method") : "") != 0)
      continue;
    cJSON *row = cJSON_Duplicate(d, true);
    cJSON_DeleteItemFromObject(row, "created_us");
    cJSON_DeleteItemFromObject(row, "updated_us");
    cJSON_AddItemToArray(out, row);
  }
  bool more = n == limit && !reached_since; /* a full page: there may be more */
  cJSON_Delete(docs);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "audit", out);
  pgd_json_set(o, "next_before", more ? cJSON_CreateNumber((double)last) : NULL);
  api_respond_take(r->req, 200, o);
}
