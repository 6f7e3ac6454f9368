/* Pagoda API — executions: list, show, kill (docs/api.md "Executions");
 * the log is api_logs.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "master/storage.h"
#include "common/clock.h"
#include "common/json.h"
#include "sched/timefmt.h"
#include "store/store.h"

/* The time query parameter `key` (µs since the epoch, or RFC 3339 — UTC when
 * it has no offset) into *us; true when absent (*us untouched) or valid,
 * false after answering 400. */
static bool parse_time_param(api_req_t *r, const char *key, int64_t *us) {
  const char *s = pgd_http_req_query(r->req, key);
  if (!s) return true;
  char err[160];
  if (api_parse_id(s, us) || pgd_sched_parse_time(s, NULL, key, us, err, sizeof err) == 0) return true;
  pgd_http_respond_error(r->req, 400,
                         "%s must be a time: microseconds since the epoch or RFC 3339 "
                         "(2026-11-22T10:00:00Z)", key);
  return false;
}

/* Turns the submitted-time bounds since (inclusive) and until (exclusive)
 * into id bounds: ids are given in submit order, so the executions
 * submitted in [since, until) are those with since_after < id < *before_id.
 * False after answering (500 when the store cannot be read). */
static bool time_to_id_bounds(api_req_t *r, int64_t since, int64_t until, int64_t *before_id,
                              int64_t *since_after) {
  pgd_store_t *st = pgd_master_store(r->m);
  if (since > 0) {
    *since_after = pgd_store_last_execution_before(st, since);
    if (*since_after < 0) goto fail;
  }
  /* A bound in the future excludes nothing, not even an execution the
   * store has not written yet. */
  if (until > 0 && until <= pgd_now_us()) {
    int64_t last = pgd_store_last_execution_before(st, until);
    if (last < 0) goto fail;
    if (*before_id <= 0 || last + 1 < *before_id) *before_id = last + 1;
  }
  return true;
fail:
  pgd_http_respond_error(r->req, 500, "cannot read the executions");
  return false;
}

void api_execs_list(api_req_t *r) {
  const char *job = pgd_http_req_query(r->req, "job");
  const char *state = pgd_http_req_query(r->req, "state");
  const char *lim = pgd_http_req_query(r->req, "limit");
  const char *before = pgd_http_req_query(r->req, "before");
  int64_t since = 0, until = 0, since_after = 0;
  if (!parse_time_param(r, "since", &since) || !parse_time_param(r, "until", &until)) return;
  if (state && pgd_exec_state_parse(state) < 0) {
    pgd_http_respond_error(r->req, 400, "unknown state '%s'", state);
    return;
  }
  int limit = 100;
  if (!api_parse_limit(r->req, lim, &limit)) return;
  int64_t before_id = 0;
  if (before && !api_parse_id(before, &before_id)) {
    pgd_http_respond_error(r->req, 400, "before must be an execution id");
    return;
  }
  if (!time_to_id_bounds(r, since, until, &before_id, &since_after)) return;
  cJSON *arr = cJSON_CreateArray();
  cJSON *list = pgd_master_execs_list(r->m, job, state, limit, before_id);
  cJSON *rec;
  int n = 0;
  int64_t last = 0;
  cJSON_ArrayForEach(rec, list) {
    /* newest first: the rows submitted before `since` are the tail */
    if (pgd_json_int(rec, "id", 0) <= since_after) break;
    cJSON_AddItemToArray(arr, api_exec_view(rec));
    last = pgd_json_int(rec, "id", 0);
    n++;
  }
  cJSON_Delete(list);
  /* The cursor of the next page (docs/api.md "Executions"): null when this
   * page was not full, so there is none. */
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "executions", arr);
  if (n == limit && last > 0) pgd_json_set_int(o, "next_before", last);
  else cJSON_AddNullToObject(o, "next_before");
  api_respond_take(r->req, 200, o);
}

/* The {id} of the path, or false after answering 404. */
bool api_exec_id(api_req_t *r, int64_t *id) {
  const char *s = r->params[0];
  if (api_parse_id(s, id)) return true;
  size_t n = strlen(s);
  pgd_http_respond_error(r->req, 404, "execution '%.*s' not found", (int)(n > 40 ? 40 : n), s);
  return false;
}

void api_exec_get(api_req_t *r) {
  int64_t id;
  if (!api_exec_id(r, &id)) return;
  cJSON *rec = pgd_master_exec_get(r->m, id);
  if (!rec) {
    pgd_http_respond_error(r->req, 404, "execution %lld not found", (long long)id);
    return;
  }
  api_respond_take(r->req, 200, api_exec_view(rec));
  cJSON_Delete(rec);
}

/* DELETE /api/v1/executions/{id}: a final execution with its attempts,
 * log and idempotency key (docs/api.md); 409 while it is not final. */
void api_exec_delete(api_req_t *r) {
  int64_t id;
  if (!api_exec_id(r, &id)) return;
  char err[256];
  cJSON *out = cJSON_CreateObject();
  cJSON_AddNumberToObject(out, "deleted", (double)id);
  api_reply_t *rp = api_reply_new(r, 200, out);
  int rc = pgd_master_exec_delete(r->m, id, api_reply_done, rp, err, sizeof err);
  if (rc < 0) {
    api_reply_cancel(rp);
    pgd_http_respond_error(r->req, rc == -ENOENT ? 404 : rc == -EBUSY ? 409 : 500, "%s", err);
    return;
  }
  api_reply_release(rp);
}

void api_exec_kill(api_req_t *r) {
  int64_t id;
  if (!api_exec_id(r, &id)) return;
  char err[256];
  cJSON *out = cJSON_CreateObject();
  cJSON_AddNumberToObject(out, "id", (double)id);
  cJSON_AddBoolToObject(out, "kill_requested", 1);
  api_reply_t *rp = api_reply_new(r, 202, out);
  int rc = pgd_master_exec_kill(r->m, id, api_reply_done, rp, err, sizeof err);
  if (rc < 0) {
    api_reply_cancel(rp);
    pgd_http_respond_error(r->req, rc == -ENOENT ? 404 : 409, "%s", err);
    return;
  }
  api_reply_release(rp);
}
