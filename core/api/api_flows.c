/* Pagoda API — flows and flow executions (docs/api.md "Flows",
 * docs/flows.md). Writes answer once the change is durable. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "common/json.h"
#include "master/flow_idem.h"

#define FLOW_NAME_MAX 160

/* Flows run on the leader only while the master is not stopping. */
static bool flows_ready(api_req_t *r) {
  if (pgd_master_flows_ready(r->m)) return true;
  pgd_http_respond_error(r->req, 503, "the master is shutting down");
  return false;
}

static bool flow_name(api_req_t *r, const char **name) {
  *name = r->params[0];
  if (strlen(*name) >= FLOW_NAME_MAX) {
    pgd_http_respond_error(r->req, 404, "flow not found");
    return false;
  }
  return flows_ready(r);
}

static bool fexec_id(api_req_t *r, int64_t *id) {
  if (!flows_ready(r)) return false;
  const char *s = r->params[0];
  if (api_parse_id(s, id)) return true;
  size_t n = strlen(s);
  pgd_http_respond_error(r->req, 404, "flow execution '%.*s' not found", (int)(n > 40 ? 40 : n), s);
  return false;
}

/* ---- /flows ---- */

void api_flows_list(api_req_t *r) {
  if (!flows_ready(r)) return;
  api_respond_paged(r->req, "flows", pgd_master_flows_list(r->m), "name"); /* ?limit&after */
}

void api_flow_define(api_req_t *r) {
  if (!flows_ready(r)) return;
  cJSON *in = api_parse_body(r->req, true);
  if (!in) return;
  if (!api_alarm_rules_ok(r, in)) {
    cJSON_Delete(in);
    return;
  }
  char err[1024] = "";
  cJSON *stored = NULL;
  bool created = false;
  api_reply_t *rp = api_reply_new(r, 201, NULL);
  int rc = pgd_master_flow_define(r->m, in, &stored, &created, api_reply_done, rp, err, sizeof err);
  cJSON_Delete(in);
  if (rc < 0) {
    api_reply_cancel(rp);
    pgd_http_respond_error(r->req, api_status_of(rc), "%s", err);
    return;
  }
  rp->status = created ? 201 : 200;
  rp->body = stored;
  api_reply_release(rp);
}

void api_flow_get(api_req_t *r) {
  const char *name;
  if (!flow_name(r, &name)) return;
  cJSON *doc = pgd_master_flow_get(r->m, name);
  if (!doc) {
    pgd_http_respond_error(r->req, 404, "flow '%s' not found", name);
    return;
  }
  api_respond_take(r->req, 200, doc);
}

void api_flow_delete(api_req_t *r) {
  const char *name;
  if (!flow_name(r, &name)) return;
  api_delete_named(r, "flow", name, pgd_master_flow_delete);
}

void api_flow_run(api_req_t *r) {
  const char *name;
  if (!flow_name(r, &name)) return;
  cJSON *body = api_parse_body(r->req, false);
  if (!body) return;
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(body, "params");
  const cJSON *lt = cJSON_GetObjectItemCaseSensitive(body, "logical_time_us");
  if ((params && !cJSON_IsNull(params) && !cJSON_IsObject(params)) ||
      (lt && !cJSON_IsNumber(lt))) {
    cJSON_Delete(body);
    pgd_http_respond_error(r->req, 400,
                           "the body is {\"params\": {...}} (optionally \"logical_time_us\": N)");
    return;
  }
  char err[1024] = "";
  cJSON *out = cJSON_CreateObject();
  api_reply_t *rp = api_reply_new(r, 201, out);
  int64_t id = 0;
  bool replayed = false;
  /* Idempotency-Key (docs/api.md): a retried request gets the first run. */
  const char *key = pgd_http_req_header(r->req, "Idempotency-Key");
  int rc = pgd_master_flow_run_keyed(r->m, name, cJSON_IsObject(params) ? params : NULL,
                                     lt ? (int64_t)lt->valuedouble : 0, key, &id, &replayed,
                                     api_reply_done, rp, err, sizeof err);
  cJSON_Delete(body);
  if (rc < 0) {
    api_reply_cancel(rp);
    int status = rc == -EEXIST ? 422 : rc == -EINPROGRESS ? 409 : api_status_of(rc);
    pgd_http_respond_error(r->req, status, "%s", err);
    return;
  }
  cJSON_AddNumberToObject(out, "flow_execution_id", (double)id);
  const char *st = "running";
  cJSON *fe = replayed ? pgd_master_fexec_get(r->m, id, false) : NULL;
  if (pgd_json_str(fe, "state")) st = pgd_json_str(fe, "state");
  cJSON_AddStringToObject(out, "state", st);
  cJSON_Delete(fe);
  if (key) cJSON_AddBoolToObject(out, "replayed", replayed);
  if (replayed) {
    rp->status = 200;
    pgd_http_req_add_header(r->req, "Idempotent-Replayed", "true");
  }
  api_reply_release(rp);
}

/* ---- /flow-executions ---- */

void api_fexecs_list(api_req_t *r) {
  if (!flows_ready(r)) return;
  const char *flow = pgd_http_req_query(r->req, "flow");
  const char *state = pgd_http_req_query(r->req, "state");
  const char *lim = pgd_http_req_query(r->req, "limit");
  const char *before = pgd_http_req_query(r->req, "before");
  static const char *const states[] = {"running", "succeeded", "failed", "killed"};
  bool ok = !state;
  for (size_t i = 0; state && i < sizeof states / sizeof states[0]; i++) ok |= !strcmp(state, states[i]);
  if (!ok) {
    pgd_http_respond_error(r->req, 400, "unknown state '%s' (running, succeeded, failed, killed)",
                           state);
    return;
  }
  int limit = 100;
  if (!api_parse_limit(r->req, lim, &limit)) return;
  int64_t bid = 0;
  if (before && !api_parse_id(before, &bid)) {
    pgd_http_respond_error(r->req, 400, "before must be a flow execution id");
    return;
  }
  api_respond_wrapped(r->req, "flow_executions",
                      pgd_master_fexecs_list(r->m, flow, state, limit, before));
}

void api_fexec_get(api_req_t *r) {
  int64_t id;
  if (!fexec_id(r, &id)) return;
  cJSON *v = pgd_master_fexec_get(r->m, id, api_query_flag(r->req, "definition"));
  if (!v) {
    pgd_http_respond_error(r->req, 404, "flow execution %lld not found", (long long)id);
    return;
  }
  api_respond_take(r->req, 200, v);
}

/* At answer time: the flow execution as it is then. */
static cJSON *fexec_now(pgd_master_t *m, const char *key, int64_t id) {
  (void)key;
  return pgd_master_flows_ready(m) ? pgd_master_fexec_get(m, id, false) : NULL;
}

void api_fexec_kill(api_req_t *r) {
  int64_t id;
  if (!fexec_id(r, &id)) return;
  char err[512];
  api_reply_t *rp = api_reply_new(r, 200, cJSON_CreateObject());
  api_reply_refresh(rp, fexec_now, NULL, id);
  int rc = pgd_master_fexec_kill(r->m, id, api_reply_done, rp, err, sizeof err);
  if (rc < 0) {
    api_reply_cancel(rp);
    pgd_http_respond_error(r->req, api_status_of(rc), "%s", err);
    return;
  }
  api_reply_release(rp);
}

void api_fexec_rerun(api_req_t *r) {
  int64_t id;
  if (!fexec_id(r, &id)) return;
  cJSON *body = api_parse_body(r->req, true);
  if (!body) return;
  char err[1024] = "";
  cJSON *out = cJSON_CreateObject();
  api_reply_t *rp = api_reply_new(r, 201, out);
  int64_t new_id = 0;
  int rc = pgd_master_fexec_rerun(r->m, id, body, &new_id, api_reply_done, rp, err, sizeof err);
  cJSON_Delete(body);
  if (rc < 0) {
    api_reply_cancel(rp);
    pgd_http_respond_error(r->req, api_status_of(rc), "%s", err);
    return;
  }
  cJSON_AddNumberToObject(out, "flow_execution_id", (double)new_id);
  cJSON_AddNumberToObject(out, "rerun_of", (double)id);
  api_reply_release(rp);
}
