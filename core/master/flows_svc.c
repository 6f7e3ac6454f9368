/* Pagoda master — the flow calls of the service interface (master.h
 * "flows"): list, define, delete, run; list, show, kill and re-run flow
 * executions (docs/flows.md). The REST layer is core/api/api_flows.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "master/flows_int.h"
#include "master/jobs_int.h"

#define MOD "flows"

bool pgd_master_flows_ready(const pgd_master_t *m) { return m->flows != NULL; }

cJSON *pgd_master_flows_list(pgd_master_t *m) {
  cJSON *list = pgd_store_list_docs(m->store, "flow", NULL, NULL, 0, NULL);
  cJSON *arr = cJSON_CreateArray();
  /* The store lists ids descending: answer by name ascending. */
  for (int i = cJSON_GetArraySize(list) - 1; i >= 0; i--)
    cJSON_AddItemToArray(arr, cJSON_Duplicate(cJSON_GetArrayItem(list, i), 1));
  cJSON_Delete(list);
  m_job_mask_secrets(arr); /* inline jobs */
  return arr;
}

cJSON *pgd_master_flow_get(pgd_master_t *m, const char *name) {
  cJSON *doc = pgd_store_get_doc(m->store, "flow", name);
  m_job_mask_secrets(doc);
  return doc;
}

/* A definition change reaches the in-memory flows only once it is durable,
 * so that a write the store refused leaves no trace; fail-fast: a full disk
 * is answered (503), not retried. */
typedef struct flow_write {
  pgd_master_t *m;
  pgd_flow_def_t *def; /* define: the parsed flow (owned); delete: NULL */
  char *name;          /* delete: the flow's name */
  pgd_master_done_cb done;
  void *ud;
} flow_write_t;

static void flow_write_done(int status, void *ud) {
  flow_write_t *w = ud;
  if (status == 0 && w->m->flows) {
    if (w->def) {
      m_flows_put(w->m->flows, w->def);
      w->def = NULL;
    } else {
      m_flows_remove(w->m->flows, w->name);
    }
  }
  w->done(w->ud, status);
  if (w->def) pgd_flow_def_free(w->def);
  free(w->name);
  free(w);
}

static int flow_write(pgd_master_t *m, pgd_flow_def_t *def, const char *name, const cJSON *json,
                      pgd_master_done_cb done, void *ud) {
  flow_write_t *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->m = m;
  w->def = def;
  w->done = done;
  w->ud = ud;
  if (!def && !(w->name = strdup(name))) abort();
  bool was = pgd_store_fail_fast(m->store, true);
  int rc = def ? pgd_store_put_doc(m->store, "flow", name, NULL, NULL, json, flow_write_done, w)
               : pgd_store_delete_doc(m->store, "flow", name, flow_write_done, w);
  pgd_store_fail_fast(m->store, was);
  if (rc < 0) flow_write_done(rc, w); /* a refused write never calls back: done once, here */
  return 0;
}

int pgd_master_flow_define(pgd_master_t *m, const cJSON *in, cJSON **stored, bool *created,
                           pgd_master_done_cb done, void *ud, char *err, size_t errlen) {
  if (!m->flows) return pgd_set_err(err, errlen, -ESHUTDOWN, "the master is shutting down");
  pgd_flow_def_t *def = NULL;
  if (errlen) err[0] = 0;
  int rc = pgd_flow_def_parse(in, &m->flows->checks_create, &def, err, errlen);
  if (rc < 0) {
    if (errlen && !err[0]) snprintf(err, errlen, "invalid flow definition");
    return -EINVAL;
  }
  cJSON *json = pgd_flow_def_json(def);
  const char *name = pgd_flow_def_name(def);
  bool existed = m_flows_find(m->flows, name) != NULL;
  *created = !existed;
  *stored = cJSON_Duplicate(json, 1);
  m_job_mask_secrets(*stored);
  PGD_INFO(MOD, "flow %s %s (%d nodes)", name, existed ? "replaced" : "created",
           pgd_flow_def_node_count(def));
  char *owned_name = strdup(name); /* def may be freed inside flow_write */
  if (!owned_name) abort();
  flow_write(m, def, owned_name, json, done, ud);
  free(owned_name);
  cJSON_Delete(json);
  return 0;
}

int pgd_master_flow_delete(pgd_master_t *m, const char *name, pgd_master_done_cb done, void *ud) {
  if (!m->flows) return -ESHUTDOWN;
  if (!m_flows_find(m->flows, name)) return -ENOENT;
  return flow_write(m, NULL, name, NULL, done, ud);
}

int pgd_master_flow_run(pgd_master_t *m, const char *name, const cJSON *params,
                        int64_t logical_time_us, int64_t *fexec_id, pgd_master_done_cb done,
                        void *ud, char *err, size_t errlen) {
  if (!m->flows) return pgd_set_err(err, errlen, -ESHUTDOWN, "the master is shutting down");
  m_flow_t *f = m_flows_find(m->flows, name);
  if (!f) return pgd_set_err(err, errlen, -ENOENT, "flow '%s' not found", name);
  pgd_flow_run_t *run = NULL;
  int rc = pgd_flow_run_new(f->def, m_flows_next_id(m->flows), params, logical_time_us, &run, err,
                            errlen);
  if (rc < 0) return -EINVAL;
  m_frun_t *fr = m_frun_launch(m, f->def, run, "api", done, ud);
  *fexec_id = fr->id;
  return 0;
}

/* The view of a flow execution: memory for those in memory, else the store. */
cJSON *pgd_master_fexec_get(pgd_master_t *m, int64_t id, bool with_def) {
  m_frun_t *r = m->flows ? m_fruns_find(m->flows, id) : NULL;
  cJSON *doc;
  if (r) {
    doc = m_frun_doc(r, with_def);
  } else {
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    doc = pgd_store_get_doc(m->store, "flow_execution", ids);
    if (doc && !with_def) cJSON_DeleteItemFromObjectCaseSensitive(doc, "definition");
  }
  m_job_mask_secrets(doc);
  return doc;
}

cJSON *pgd_master_fexecs_list(pgd_master_t *m, const char *flow, const char *state, int limit,
                              const char *before) {
  cJSON *list = pgd_store_list_docs(m->store, "flow_execution", flow, state, limit, before);
  cJSON *arr = cJSON_CreateArray();
  cJSON *d;
  cJSON_ArrayForEach(d, list) {
    int64_t id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(d, "id"));
    m_frun_t *r = m->flows ? m_fruns_find(m->flows, id) : NULL;
    cJSON *v = r ? m_frun_doc(r, false) : cJSON_Duplicate(d, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(v, "definition");
    cJSON_AddItemToArray(arr, v);
  }
  cJSON_Delete(list);
  return arr;
}

int pgd_master_fexec_kill(pgd_master_t *m, int64_t id, pgd_master_done_cb done, void *ud,
                          char *err, size_t errlen) {
  if (!m->flows) return pgd_set_err(err, errlen, -ESHUTDOWN, "the master is shutting down");
  m_frun_t *r = m_fruns_find(m->flows, id);
  if (!r || pgd_flow_run_done(r->run)) {
    cJSON *doc = r ? NULL : pgd_master_fexec_get(m, id, false);
    if (!r && !doc)
      return pgd_set_err(err, errlen, -ENOENT, "flow execution %lld not found", (long long)id);
    const char *st = r ? pgd_flow_run_state_name(r->run)
                       : cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "state"));
    pgd_set_err(err, errlen, 0, "flow execution %lld already finished (%s)", (long long)id,
                st ? st : "?");
    cJSON_Delete(doc);
    return -EALREADY;
  }
  if (m_frun_kill(m, r, done, ud) < 0)
    return pgd_set_err(err, errlen, -EALREADY, "flow execution %lld already finished",
                       (long long)id);
  return 0;
}

int pgd_master_fexec_rerun(pgd_master_t *m, int64_t id, const cJSON *body, int64_t *new_id,
                           pgd_master_done_cb done, void *ud, char *err, size_t errlen) {
  if (!m->flows) return pgd_set_err(err, errlen, -ESHUTDOWN, "the master is shutting down");
  m_frun_t *live = m_fruns_find(m->flows, id);
  if (live && !pgd_flow_run_done(live->run))
    return pgd_set_err(err, errlen, -EBUSY, "flow execution %lld is still running", (long long)id);
  cJSON *doc = pgd_master_fexec_get(m, id, true);
  if (!doc) return pgd_set_err(err, errlen, -ENOENT, "flow execution %lld not found", (long long)id);
  if (errlen) err[0] = 0;
  pgd_flow_def_t *def = NULL;
  pgd_flow_run_t *fin = NULL, *run = NULL;
  int rc = pgd_flow_def_parse(cJSON_GetObjectItemCaseSensitive(doc, "definition"),
                              &m->flows->checks_restore, &def, err, errlen);
  if (rc == 0) rc = pgd_flow_run_restore(def, doc, &fin, err, errlen);
  if (rc == 0) rc = pgd_flow_run_rerun(fin, m_flows_next_id(m->flows), body, &run, err, errlen);
  const char *trigger = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "trigger"));
  char trig[64];
  snprintf(trig, sizeof trig, "%s", trigger ? trigger : "api");
  pgd_flow_run_free(fin);
  cJSON_Delete(doc);
  if (rc < 0) {
    pgd_flow_def_free(def);
    return rc == PGD_FLOW_ESTATE ? -EBUSY : -EINVAL;
  }
  m_frun_t *r = m_frun_launch(m, def, run, trig, done, ud);
  pgd_flow_def_free(def);
  *new_id = r->id;
  PGD_INFO(MOD, "flow execution %lld re-runs %lld", (long long)r->id, (long long)id);
  return 0;
}
