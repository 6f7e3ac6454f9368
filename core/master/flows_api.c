/* Pagoda master — REST routes of flows and flow executions (docs/api.md,
 * docs/flows.md). Writes answer once the change is durable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "master/flows_int.h"

#define MOD "flows"

/* ---- answering once durable ---- */

typedef struct reply {
  pgd_http_req_t *req; /* NULL once the client went away */
  pgd_master_t *m;
  int status;
  cJSON *body;
  int64_t view_id; /* > 0: answer with this flow execution's view at that time */
} reply_t;

static void reply_abort(pgd_http_req_t *req, void *ud) {
  (void)req;
  ((reply_t *)ud)->req = NULL;
}

static reply_t *reply_new(pgd_master_t *m, pgd_http_req_t *req, int status, cJSON *body) {
  reply_t *r = calloc(1, sizeof *r);
  if (!r) abort();
  *r = (reply_t){req, m, status, body, 0};
  pgd_http_req_on_abort(req, reply_abort, r);
  return r;
}

static cJSON *fexec_view(pgd_master_t *m, int64_t id, bool with_def);

static void reply_done(void *ud, int status) {
  reply_t *r = ud;
  if (r->req) {
    pgd_http_req_on_abort(r->req, NULL, NULL);
    if (status < 0) {
      pgd_http_respond_error(r->req, 500, "the store could not save the change (%s)",
                             strerror(-status));
    } else {
      if (r->view_id > 0 && r->m->flows) {
        cJSON *v = fexec_view(r->m, r->view_id, false);
        if (v) {
          cJSON_Delete(r->body);
          r->body = v;
        }
      }
      m_api_respond_json(r->req, r->status, r->body);
    }
  }
  cJSON_Delete(r->body);
  free(r);
}

static void reply_store_cb(int status, void *ud) { reply_done(ud, status); }

/* ---- helpers ---- */

static bool method_is(pgd_http_req_t *req, const char *m) {
  return strcmp(pgd_http_req_method(req), m) == 0;
}

/* The view of a flow execution: memory for those in memory, else the store. */
static cJSON *fexec_view(pgd_master_t *m, int64_t id, bool with_def) {
  m_frun_t *r = m_fruns_find(m->flows, id);
  if (r) return m_frun_doc(r, with_def);
  char ids[24];
  snprintf(ids, sizeof ids, "%lld", (long long)id);
  cJSON *doc = pgd_store_get_doc(m->store, "flow_execution", ids);
  if (doc && !with_def) cJSON_DeleteItemFromObjectCaseSensitive(doc, "definition");
  return doc;
}

/* ---- /flows ---- */

static void flow_create(pgd_master_t *m, pgd_http_req_t *req) {
  cJSON *in = m_api_parse_body(req, true);
  if (!in) return;
  char err[1024] = "";
  pgd_flow_def_t *def = NULL;
  int rc = pgd_flow_def_parse(in, &m->flows->checks_create, &def, err, sizeof err);
  cJSON_Delete(in);
  if (rc < 0) {
    pgd_http_respond_error(req, 400, "%s", err[0] ? err : "invalid flow definition");
    return;
  }
  cJSON *json = pgd_flow_def_json(def);
  const char *name = pgd_flow_def_name(def);
  bool existed = m_flows_find(m->flows, name) != NULL;
  reply_t *r = reply_new(m, req, existed ? 200 : 201, cJSON_Duplicate(json, 1));
  rc = pgd_store_put_doc(m->store, "flow", name, NULL, NULL, json, reply_store_cb, r);
  cJSON_Delete(json);
  if (rc < 0) {
    pgd_flow_def_free(def);
    reply_done(r, rc);
    return;
  }
  PGD_INFO(MOD, "flow %s %s (%d nodes)", name, existed ? "replaced" : "created",
           pgd_flow_def_node_count(def));
  m_flows_put(m->flows, def);
}

static void flow_run(pgd_master_t *m, pgd_http_req_t *req, const char *name) {
  m_flow_t *f = m_flows_find(m->flows, name);
  if (!f) {
    pgd_http_respond_error(req, 404, "flow '%s' not found", name);
    return;
  }
  cJSON *body = m_api_parse_body(req, false);
  if (!body) return;
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(body, "params");
  const cJSON *lt = cJSON_GetObjectItemCaseSensitive(body, "logical_time_us");
  if ((params && !cJSON_IsNull(params) && !cJSON_IsObject(params)) ||
      (lt && !cJSON_IsNumber(lt))) {
    cJSON_Delete(body);
    pgd_http_respond_error(req, 400, "the body is {\"params\": {...}} (optionally \"logical_time_us\": N)");
    return;
  }
  char err[1024] = "";
  pgd_flow_run_t *run = NULL;
  int rc = pgd_flow_run_new(f->def, m_flows_next_id(m->flows), cJSON_IsObject(params) ? params : NULL,
                            lt ? (int64_t)lt->valuedouble : 0, &run, err, sizeof err);
  cJSON_Delete(body);
  if (rc < 0) {
    pgd_http_respond_error(req, 400, "%s", err);
    return;
  }
  cJSON *out = cJSON_CreateObject();
  reply_t *r = reply_new(m, req, 201, out);
  m_frun_t *fr = m_frun_launch(m, f->def, run, "api", reply_done, r);
  cJSON_AddNumberToObject(out, "flow_execution_id", (double)fr->id);
  cJSON_AddStringToObject(out, "state", "running");
}

static void route_flows(pgd_master_t *m, pgd_http_req_t *req, const char *rest) {
  if (!*rest) {
    if (method_is(req, "GET")) {
      cJSON *list = pgd_store_list_docs(m->store, "flow", NULL, NULL, 0, NULL);
      cJSON *out = cJSON_CreateObject();
      cJSON *arr = cJSON_AddArrayToObject(out, "flows");
      /* The store lists ids descending: answer by name ascending. */
      for (int i = cJSON_GetArraySize(list) - 1; i >= 0; i--)
        cJSON_AddItemToArray(arr, cJSON_Duplicate(cJSON_GetArrayItem(list, i), 1));
      cJSON_Delete(list);
      m_api_respond_json(req, 200, out);
      cJSON_Delete(out);
    } else if (method_is(req, "POST")) {
      flow_create(m, req);
    } else {
      pgd_http_respond_error(req, 405, "use GET or POST on /api/v1/flows");
    }
    return;
  }
  char name[160];
  const char *slash = strchr(rest, '/');
  size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
  if (n == 0 || n >= sizeof name) {
    pgd_http_respond_error(req, 404, "flow not found");
    return;
  }
  memcpy(name, rest, n);
  name[n] = 0;
  if (slash) {
    if (strcmp(slash, "/run") == 0 && method_is(req, "POST"))
      flow_run(m, req, name);
    else if (strcmp(slash, "/run") == 0)
      pgd_http_respond_error(req, 405, "use POST on /api/v1/flows/NAME/run");
    else
      pgd_http_respond_error(req, 404, "no route %s %s", pgd_http_req_method(req),
                             pgd_http_req_path(req));
    return;
  }
  if (method_is(req, "GET")) {
    cJSON *doc = pgd_store_get_doc(m->store, "flow", name);
    if (!doc) {
      pgd_http_respond_error(req, 404, "flow '%s' not found", name);
      return;
    }
    m_api_respond_json(req, 200, doc);
    cJSON_Delete(doc);
  } else if (method_is(req, "DELETE")) {
    if (!m_flows_find(m->flows, name)) {
      pgd_http_respond_error(req, 404, "flow '%s' not found", name);
      return;
    }
    m_flows_remove(m->flows, name);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "deleted", name);
    reply_t *r = reply_new(m, req, 200, out);
    int rc = pgd_store_delete_doc(m->store, "flow", name, reply_store_cb, r);
    if (rc < 0) reply_done(r, rc);
  } else {
    pgd_http_respond_error(req, 405, "use GET or DELETE on /api/v1/flows/NAME");
  }
}

/* ---- /flow-executions ---- */

static void fexec_list(pgd_master_t *m, pgd_http_req_t *req) {
  const char *flow = pgd_http_req_query(req, "flow");
  const char *state = pgd_http_req_query(req, "state");
  const char *lim = pgd_http_req_query(req, "limit");
  const char *before = pgd_http_req_query(req, "before");
  static const char *const states[] = {"running", "succeeded", "failed", "killed"};
  bool ok = !state;
  for (size_t i = 0; state && i < sizeof states / sizeof states[0]; i++) ok |= !strcmp(state, states[i]);
  if (!ok) {
    pgd_http_respond_error(req, 400, "unknown state '%s' (running, succeeded, failed, killed)", state);
    return;
  }
  int limit = 100;
  if (!m_api_parse_limit(req, lim, &limit)) return;
  int64_t bid = 0;
  if (before && !m_api_parse_id(before, strlen(before), &bid)) {
    pgd_http_respond_error(req, 400, "before must be a flow execution id");
    return;
  }
  cJSON *list = pgd_store_list_docs(m->store, "flow_execution", flow, state, limit, before);
  cJSON *out = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(out, "flow_executions");
  cJSON *d;
  cJSON_ArrayForEach(d, list) {
    m_frun_t *r = m_fruns_find(m->flows, (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "id")));
    cJSON *v = r ? m_frun_doc(r, false) : cJSON_Duplicate(d, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(v, "definition");
    cJSON_AddItemToArray(arr, v);
  }
  cJSON_Delete(list);
  m_api_respond_json(req, 200, out);
  cJSON_Delete(out);
}

static void fexec_kill(pgd_master_t *m, pgd_http_req_t *req, int64_t id) {
  m_frun_t *r = m_fruns_find(m->flows, id);
  if (!r || pgd_flow_run_done(r->run)) {
    cJSON *doc = r ? NULL : fexec_view(m, id, false);
    if (!r && !doc) {
      pgd_http_respond_error(req, 404, "flow execution %lld not found", (long long)id);
      return;
    }
    pgd_http_respond_error(req, 409, "flow execution %lld already finished (%s)", (long long)id,
                           r ? pgd_flow_run_state_name(r->run)
                             : (cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "state")) ?: "?"));
    cJSON_Delete(doc);
    return;
  }
  reply_t *rp = reply_new(m, req, 200, cJSON_CreateObject());
  rp->view_id = id;
  if (m_frun_kill(m, r, reply_done, rp) < 0) {
    pgd_http_req_on_abort(req, NULL, NULL);
    cJSON_Delete(rp->body);
    free(rp);
    pgd_http_respond_error(req, 409, "flow execution %lld already finished", (long long)id);
  }
}

static void fexec_rerun(pgd_master_t *m, pgd_http_req_t *req, int64_t id) {
  m_frun_t *live = m_fruns_find(m->flows, id);
  if (live && !pgd_flow_run_done(live->run)) {
    pgd_http_respond_error(req, 409, "flow execution %lld is still running", (long long)id);
    return;
  }
  cJSON *body = m_api_parse_body(req, true);
  if (!body) return;
  cJSON *doc = fexec_view(m, id, true);
  if (!doc) {
    cJSON_Delete(body);
    pgd_http_respond_error(req, 404, "flow execution %lld not found", (long long)id);
    return;
  }
  char err[1024] = "";
  pgd_flow_def_t *def = NULL;
  pgd_flow_run_t *fin = NULL, *run = NULL;
  int rc = pgd_flow_def_parse(cJSON_GetObjectItemCaseSensitive(doc, "definition"),
                              &m->flows->checks_restore, &def, err, sizeof err);
  if (rc == 0) rc = pgd_flow_run_restore(def, doc, &fin, err, sizeof err);
  if (rc == 0) rc = pgd_flow_run_rerun(fin, m_flows_next_id(m->flows), body, &run, err, sizeof err);
  const char *trigger = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "trigger"));
  char trig[64];
  snprintf(trig, sizeof trig, "%s", trigger ? trigger : "api");
  pgd_flow_run_free(fin);
  cJSON_Delete(doc);
  cJSON_Delete(body);
  if (rc < 0) {
    pgd_flow_def_free(def);
    pgd_http_respond_error(req, rc == PGD_FLOW_ESTATE ? 409 : 400, "%s", err);
    return;
  }
  cJSON *out = cJSON_CreateObject();
  reply_t *rp = reply_new(m, req, 201, out);
  m_frun_t *r = m_frun_launch(m, def, run, trig, reply_done, rp);
  pgd_flow_def_free(def);
  cJSON_AddNumberToObject(out, "flow_execution_id", (double)r->id);
  cJSON_AddNumberToObject(out, "rerun_of", (double)id);
  PGD_INFO(MOD, "flow execution %lld re-runs %lld", (long long)r->id, (long long)id);
}

static void route_fexecs(pgd_master_t *m, pgd_http_req_t *req, const char *rest) {
  if (!*rest) {
    if (method_is(req, "GET")) fexec_list(m, req);
    else pgd_http_respond_error(req, 405, "use GET on /api/v1/flow-executions");
    return;
  }
  const char *slash = strchr(rest, '/');
  size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
  int64_t id;
  if (!m_api_parse_id(rest, n, &id)) {
    pgd_http_respond_error(req, 404, "flow execution '%.*s' not found", (int)(n > 40 ? 40 : n), rest);
    return;
  }
  if (!slash) {
    if (!method_is(req, "GET")) {
      pgd_http_respond_error(req, 405, "use GET on /api/v1/flow-executions/ID");
      return;
    }
    const char *dq = pgd_http_req_query(req, "definition");
    cJSON *v = fexec_view(m, id, dq && (!strcmp(dq, "1") || !strcmp(dq, "true")));
    if (!v) {
      pgd_http_respond_error(req, 404, "flow execution %lld not found", (long long)id);
      return;
    }
    m_api_respond_json(req, 200, v);
    cJSON_Delete(v);
  } else if ((strcmp(slash, "/kill") == 0 || strcmp(slash, "/rerun") == 0) && !method_is(req, "POST")) {
    pgd_http_respond_error(req, 405, "use POST on /api/v1/flow-executions/ID%s", slash);
  } else if (strcmp(slash, "/kill") == 0) {
    fexec_kill(m, req, id);
  } else if (strcmp(slash, "/rerun") == 0) {
    fexec_rerun(m, req, id);
  } else {
    pgd_http_respond_error(req, 404, "no route %s %s", pgd_http_req_method(req), pgd_http_req_path(req));
  }
}

void m_flows_route(pgd_master_t *m, pgd_http_req_t *req, const char *p) {
  if (!m->flows) {
    pgd_http_respond_error(req, 503, "the master is shutting down");
  } else if (strcmp(p, "flows") == 0 || strncmp(p, "flows/", 6) == 0) {
    route_flows(m, req, p[5] ? p + 6 : "");
  } else if (strcmp(p, "flow-executions") == 0 || strncmp(p, "flow-executions/", 16) == 0) {
    route_fexecs(m, req, p[15] ? p + 16 : "");
  } else {
    pgd_http_respond_error(req, 404, "no route %s %s", pgd_http_req_method(req), pgd_http_req_path(req));
  }
}
