/* Pagoda master — flows: stored definitions (documents of kind "flow", id =
 * name) and flow executions (kind "flow_execution", id = the numeric id,
 * parent = the flow's name, state = running|succeeded|failed|killed), driven
 * by the engine of core/flow. The service calls of master.h are in flows_svc.c.
 *
 * A node is an ordinary execution (trigger "flow") whose record carries
 * flow_execution_id and flow_node; e->flow_run_ref links it to its run while
 * it is not final. Its end (exec.c commit → the observer list → on_exec_final here) is fed to
 * the engine at once and the downstream nodes are submitted in the same call,
 * so their first record is queued right behind the upstream's final one.
 * The flow execution's whole state is written at most once per loop
 * iteration (a uv_prepare flushes the runs marked dirty), and at once for a
 * change the API waits for.
 *
 * Restart: running flow executions are restored from their stored state;
 * nodes whose execution ended while the master was down get that end from the
 * store; executions created for a node after the last stored state are
 * adopted instead of submitted again. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "master/observers_int.h"
#include "master/flows_int.h"

#define MOD "flows"
#define ACTIONS 32
#define RESUME_LOG_MAX (16 << 20) /* bytes of a node's log re-read for outputs on resume */

static const char *get_str(const cJSON *o, const char *k) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}
static int64_t get_int(const cJSON *o, const char *k, int64_t dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

/* ---- definitions ---- */

m_flow_t *m_flows_find(struct m_flows *fl, const char *name) {
  m_flow_t *f = NULL;
  if (fl && name) HASH_FIND_STR(fl->flows, name, f);
  return f;
}

void m_flows_put(struct m_flows *fl, pgd_flow_def_t *def) {
  const char *name = pgd_flow_def_name(def);
  m_flow_t *f = m_flows_find(fl, name);
  if (f) {
    pgd_flow_def_free(f->def);
    f->def = def;
    return;
  }
  f = calloc(1, sizeof *f);
  if (!f) abort();
  f->name = strdup(name);
  f->def = def;
  HASH_ADD_KEYPTR(hh, fl->flows, f->name, strlen(f->name), f);
}

void m_flows_remove(struct m_flows *fl, const char *name) {
  m_flow_t *f = m_flows_find(fl, name);
  if (!f) return;
  HASH_DEL(fl->flows, f);
  pgd_flow_def_free(f->def);
  free(f->name);
  free(f);
}

/* check_job: a node's job exists (stored) or is a valid inline job, with the
 * node's overrides applied. */
static int check_job(void *ud, const cJSON *job_or_name, const cJSON *overrides, char *err,
                     size_t errlen) {
  pgd_master_t *m = ud;
  cJSON *job;
  if (cJSON_IsString(job_or_name)) {
    m_job_t *j = m_job_find(m, job_or_name->valuestring);
    if (!j) {
      snprintf(err, errlen, "job '%.128s' not found", job_or_name->valuestring);
      return -1;
    }
    job = cJSON_Duplicate(j->def, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(job, "created_us");
    cJSON_DeleteItemFromObjectCaseSensitive(job, "updated_us");
  } else if (cJSON_IsObject(job_or_name)) {
    job = cJSON_Duplicate(job_or_name, 1);
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(job, "name")))
      cJSON_AddStringToObject(job, "name", "flow-node");
  } else {
    snprintf(err, errlen, "job must be a stored job's name or a job definition object");
    return -1;
  }
  const cJSON *ov;
  cJSON_ArrayForEach(ov, overrides) {
    if (strcmp(ov->string, "params") == 0) {
      cJSON *p = cJSON_GetObjectItemCaseSensitive(job, "params");
      if (!cJSON_IsObject(p)) {
        cJSON_DeleteItemFromObjectCaseSensitive(job, "params");
        p = cJSON_AddObjectToObject(job, "params");
      }
      const cJSON *kv;
      cJSON_ArrayForEach(kv, ov) {
        cJSON_DeleteItemFromObjectCaseSensitive(p, kv->string);
        cJSON_AddItemToObject(p, kv->string, cJSON_Duplicate(kv, 1));
      }
    } else {
      cJSON_DeleteItemFromObjectCaseSensitive(job, ov->string);
      cJSON_AddItemToObject(job, ov->string, cJSON_Duplicate(ov, 1));
    }
  }
  cJSON *norm = m_job_normalise(m, job, err, errlen);
  cJSON_Delete(job);
  if (!norm) return -1;
  cJSON_Delete(norm);
  return 0;
}

static const cJSON *lookup_job(void *ud, const char *name) {
  m_job_t *j = m_job_find((pgd_master_t *)ud, name);
  return j ? j->def : NULL;
}

/* ---- runs: memory ---- */

m_frun_t *m_fruns_find(struct m_flows *fl, int64_t id) {
  m_frun_t *r = NULL;
  if (fl) HASH_FIND(hh, fl->runs, &id, sizeof id, r);
  return r;
}

int64_t m_flows_next_id(struct m_flows *fl) { return fl->last_id + 1; }

static m_frun_t *frun_new(struct m_flows *fl, pgd_flow_def_t *def, pgd_flow_run_t *run,
                          const char *trigger) {
  m_frun_t *r = calloc(1, sizeof *r);
  if (!r) abort();
  r->id = pgd_flow_run_id(run);
  r->def = pgd_flow_def_ref(def);
  r->def_json = pgd_flow_def_json(def);
  r->run = run;
  r->trigger = strdup(trigger ? trigger : "api");
  r->node_errors = cJSON_CreateObject();
  if (r->id > fl->last_id) fl->last_id = r->id;
  HASH_ADD(hh, fl->runs, id, sizeof r->id, r);
  return r;
}

static void frun_free(struct m_flows *fl, m_frun_t *r) {
  HASH_DEL(fl->runs, r);
  pgd_flow_run_free(r->run);
  pgd_flow_def_free(r->def);
  cJSON_Delete(r->def_json);
  cJSON_Delete(r->node_errors);
  cJSON_Delete(r->orphans);
  free(r->trigger);
  free(r);
}

/* A finished run leaves memory once its final state is durable and no
 * execution points at it any more. */
static void frun_maybe_free(struct m_flows *fl, m_frun_t *r) {
  if (pgd_flow_run_done(r->run) && !r->dirty && !r->in_dirty && r->saves_in_flight == 0 &&
      r->linked == 0 && !r->driving)
    frun_free(fl, r);
}

/* ---- runs: storing ---- */

cJSON *m_frun_doc(const m_frun_t *r, bool with_def) {
  cJSON *doc = pgd_flow_run_state(r->run);
  if (!doc) abort();
  cJSON_AddStringToObject(doc, "trigger", r->trigger);
  if (cJSON_GetArraySize(r->node_errors) > 0)
    cJSON_AddItemToObject(doc, "node_errors", cJSON_Duplicate(r->node_errors, 1));
  if (with_def) cJSON_AddItemToObject(doc, "definition", cJSON_Duplicate(r->def_json, 1));
  return doc;
}

typedef struct save_ctx {
  pgd_master_t *m;
  int64_t id;
  m_durable_cb done;
  void *ud;
} save_ctx_t;

static void on_saved(int status, void *ud) {
  save_ctx_t *c = ud;
  struct m_flows *fl = c->m->flows;
  if (status < 0)
    PGD_ERROR(MOD, "flow execution %lld: store write failed (%d)", (long long)c->id, status);
  m_frun_t *r = m_fruns_find(fl, c->id);
  if (r) {
    r->saves_in_flight--;
    frun_maybe_free(fl, r);
  }
  if (c->done) c->done(c->ud, status);
  free(c);
}

/* Writes the whole state now. The definition snapshot rides along as a
 * reference (not copied). */
static void frun_save(pgd_master_t *m, m_frun_t *r, m_durable_cb done, void *ud) {
  cJSON *doc = m_frun_doc(r, false);
  cJSON_AddItemReferenceToObject(doc, "definition", r->def_json);
  char id[24];
  snprintf(id, sizeof id, "%lld", (long long)r->id);
  save_ctx_t *c = calloc(1, sizeof *c);
  if (!c) abort();
  *c = (save_ctx_t){m, r->id, done, ud};
  r->dirty = false;
  r->saves_in_flight++;
  int rc = pgd_store_put_doc(m->store, "flow_execution", id, pgd_flow_def_name(r->def),
                             pgd_flow_run_state_name(r->run), doc, on_saved, c);
  cJSON_Delete(doc);
  if (rc < 0) {
    PGD_ERROR(MOD, "flow execution %lld: cannot queue its store write: %s", (long long)r->id,
              strerror(-rc));
    on_saved(rc, c); /* a refused write never calls back */
  }
}

/* The events drive() noted for `r` (observers on_event). */
static void tell_events(pgd_master_t *m, m_frun_t *r) {
  bool started = r->event_started;
  const char *change = r->event_change;
  r->event_started = false;
  r->event_change = NULL;
  if (!m_observers_want_events(m)) return;
  if (started)
    m_observers_event_item(m, PGD_MASTER_EVENT_FLOW, "started", "flow_execution", m_frun_doc(r, false));
  if (change)
    m_observers_event_item(m, PGD_MASTER_EVENT_FLOW, change, "flow_execution", m_frun_doc(r, false));
}

static void on_flush(uv_prepare_t *h) {
  pgd_master_t *m = h->data;
  struct m_flows *fl = m->flows;
  while (fl->dirty) {
    m_frun_t *r = fl->dirty;
    fl->dirty = r->dirty_next;
    r->in_dirty = false;
    r->dirty_next = NULL;
    tell_events(m, r);
    if (r->dirty) frun_save(m, r, NULL, NULL);
    else frun_maybe_free(fl, r);
  }
  uv_prepare_stop(h);
}

static void mark_dirty(struct m_flows *fl, m_frun_t *r) {
  r->dirty = true;
  if (r->in_dirty) return;
  r->in_dirty = true;
  r->dirty_next = fl->dirty;
  fl->dirty = r;
  if (!uv_is_active((uv_handle_t *)fl->flush)) uv_prepare_start(fl->flush, on_flush);
}

/* ---- driving ---- */

static void drive(pgd_master_t *m, m_frun_t *r);

static void link_exec(m_frun_t *r, m_exec_t *e) {
  e->flow_run_ref = r;
  r->linked++;
}

static void unlink_exec(m_frun_t *r, m_exec_t *e) {
  if (e->flow_run_ref != r) return;
  e->flow_run_ref = NULL;
  r->linked--;
}

/* Feeds the end of a node's execution (record `rec`, borrowed) to the engine. */
static void feed_final(m_frun_t *r, const char *node, const cJSON *rec) {
  const cJSON *result = cJSON_GetObjectItemCaseSensitive(rec, "result");
  const char *state = get_str(rec, "state");
  int rc = pgd_flow_run_node_finished(r->run, node, state ? state : "failed",
                                      cJSON_IsNull(result) ? NULL : result);
  if (rc < 0)
    PGD_DEBUG(MOD, "flow execution %lld: end of node '%s' ignored (%d)", (long long)r->id, node, rc);
}

static void start_node(pgd_master_t *m, m_frun_t *r, pgd_flow_action_t *a) {
  /* Resume: an execution made for this node before the restart. */
  const cJSON *orphan = r->orphans ? cJSON_GetObjectItemCaseSensitive(r->orphans, a->node_id) : NULL;
  if (orphan) {
    m_exec_t *e = m_exec_find(m, (int64_t)orphan->valuedouble);
    cJSON_DeleteItemFromObjectCaseSensitive(r->orphans, a->node_id);
    if (e && !e->finishing && !e->flow_run_ref) {
      PGD_INFO(MOD, "flow execution %lld: node '%s' adopts execution %lld", (long long)r->id,
               a->node_id, (long long)e->id);
      pgd_flow_run_node_started(r->run, a->node_id, e->id);
      link_exec(r, e);
      return;
    }
  }
  cJSON *extra = cJSON_CreateObject();
  cJSON_AddNumberToObject(extra, "flow_execution_id", (double)r->id);
  cJSON_AddStringToObject(extra, "flow_node", a->node_id);
  char err[512] = "";
  m_exec_t *e = m_exec_submit(m, a->job, NULL, "flow", NULL, NULL, err, sizeof err, extra);
  cJSON_Delete(extra);
  if (!e) {
    PGD_WARN(MOD, "flow execution %lld: node '%s' cannot start: %s", (long long)r->id, a->node_id,
             err);
    cJSON_DeleteItemFromObjectCaseSensitive(r->node_errors, a->node_id);
    cJSON_AddStringToObject(r->node_errors, a->node_id, err);
    pgd_flow_run_node_finished(r->run, a->node_id, "failed", NULL);
    return;
  }
  pgd_flow_run_node_started(r->run, a->node_id, e->id);
  link_exec(r, e);
}

static void kill_node(pgd_master_t *m, m_frun_t *r, const pgd_flow_action_t *a) {
  if (a->execution_id <= 0) return;
  char err[256];
  int rc = m_exec_kill(m, a->execution_id, NULL, NULL, err, sizeof err);
  m_exec_t *e = m_exec_find(m, a->execution_id);
  if (e && e->flow_run_ref == r && e->finishing) {
    /* Killed at once without passing through commit() (no task yet). */
    unlink_exec(r, e);
    feed_final(r, a->node_id, e->rec);
    return;
  }
  if (rc < 0 && (!e || e->flow_run_ref != r)) {
    /* Not in memory: its end is in the store. */
    cJSON *rec = pgd_store_get_execution(m->store, a->execution_id);
    if (rec) feed_final(r, a->node_id, rec);
    else pgd_flow_run_node_finished(r->run, a->node_id, "lost", NULL);
    cJSON_Delete(rec);
  }
}

static void drive(pgd_master_t *m, m_frun_t *r) {
  struct m_flows *fl = m->flows;
  if (r->driving) {
    r->again = true;
    return;
  }
  r->driving = true;
  pgd_flow_action_t acts[ACTIONS];
  do {
    r->again = false;
    int n;
    while ((n = pgd_flow_run_next(r->run, acts, ACTIONS)) > 0) {
      for (int i = 0; i < n; i++) {
        pgd_flow_action_t *a = &acts[i];
        if (a->kind == PGD_FLOW_START_NODE) {
          if (!m->stopping) start_node(m, r, a);
          cJSON_Delete(a->job);
        } else if (a->kind == PGD_FLOW_KILL_NODE) {
          kill_node(m, r, a);
        } else if (a->kind == PGD_FLOW_FLOW_DONE) {
          PGD_INFO(MOD, "flow execution %lld of %s: %s", (long long)r->id,
                   pgd_flow_def_name(r->def), a->state);
        }
      }
    }
  } while (r->again);
  r->driving = false;
  if (m_observers_want_events(m)) {
    /* Told at the flush (this loop iteration, once its store writes are
     * queued): building the document here held up the group commit that a
     * downstream node's start waits for (~70 µs per flow edge). */
    bool done = pgd_flow_run_done(r->run);
    if (!r->announced && !done) r->event_started = true;
    else r->event_change = done ? "final" : "progress"; /* several in one iteration: the last */
    r->announced = true;
  }
  mark_dirty(fl, r);
}

/* Observer: a node execution became final. */
static void on_exec_final(void *ud, pgd_master_t *m, const pgd_master_exec_t *ce) {
  (void)ud;
  m_exec_t *e = (m_exec_t *)ce; /* flows are part of the master: unlink needs the execution */
  m_frun_t *r = e->flow_run_ref;
  if (!r || !m->flows || m->stopping) return;
  unlink_exec(r, e);
  const char *node = get_str(e->rec, "flow_node");
  if (!node) return;
  feed_final(r, node, e->rec);
  drive(m, r);
}

/* Observer: new log bytes of an execution (only node executions matter). */
static void on_exec_output(void *ud, pgd_master_t *m, const pgd_master_exec_t *e, const char *data,
                           size_t len) {
  (void)ud;
  m_frun_t *r = e->flow_run_ref;
  if (!r || !m->flows) return;
  const char *node = get_str(e->rec, "flow_node");
  if (node) pgd_flow_run_node_output(r->run, node, data, len);
}

void m_flows_subscribe(pgd_master_t *m) {
  pgd_master_observer_t obs = {.on_exec_final = on_exec_final, .on_exec_output = on_exec_output};
  if (pgd_master_subscribe(m, &obs) < 0) abort(); /* out of memory at start */
}

m_frun_t *m_frun_launch(pgd_master_t *m, pgd_flow_def_t *def, pgd_flow_run_t *run,
                        const char *trigger, m_durable_cb done, void *ud) {
  m_frun_t *r = frun_new(m->flows, def, run, trigger);
  frun_save(m, r, done, ud); /* the flow execution's record before its nodes' */
  drive(m, r);
  return r;
}

int m_frun_kill(pgd_master_t *m, m_frun_t *r, m_durable_cb done, void *ud) {
  int rc = pgd_flow_run_kill(r->run);
  if (rc < 0) return rc;
  PGD_INFO(MOD, "flow execution %lld: kill requested (%d nodes running)", (long long)r->id, rc);
  drive(m, r);
  frun_save(m, r, done, ud);
  return 0;
}

int m_flow_start(pgd_master_t *m, const char *flow_name, const cJSON *params, const char *trigger,
                 int64_t logical_time_us, int64_t *flow_exec_id, char *err, size_t errlen) {
  if (!m->flows || m->stopping) {
    snprintf(err, errlen, "the master is shutting down");
    return -ESHUTDOWN;
  }
  m_flow_t *f = m_flows_find(m->flows, flow_name);
  if (!f) {
    snprintf(err, errlen, "flow '%s' not found", flow_name ? flow_name : "");
    return -ENOENT;
  }
  if (params && !cJSON_IsNull(params) && !cJSON_IsObject(params)) {
    snprintf(err, errlen, "params must be an object");
    return -EINVAL;
  }
  pgd_flow_run_t *run = NULL;
  int rc = pgd_flow_run_new(f->def, m_flows_next_id(m->flows), cJSON_IsObject(params) ? params : NULL,
                            logical_time_us, &run, err, errlen);
  if (rc < 0) return rc == PGD_FLOW_ENOMEM ? -ENOMEM : -EINVAL;
  m_frun_t *r = m_frun_launch(m, f->def, run, trigger, NULL, NULL);
  if (flow_exec_id) *flow_exec_id = r->id;
  return 0;
}

/* ---- start: load and resume ---- */

/* Feeds what the node's execution already logged (all attempts) to the
 * engine, for its ::output lines. */
static void feed_logs(pgd_master_t *m, m_frun_t *r, const char *node, int64_t exec_id, int attempts) {
  (void)attempts; /* the log read knows them (files or the shared store) */
  char *buf = NULL;
  size_t len = 0;
  bool live = false;
  if (pgd_master_log_read(m, exec_id, 0, &buf, &len, &live) == 0 && len > 0)
    pgd_flow_run_node_output(r->run, node, buf, len < RESUME_LOG_MAX ? len : RESUME_LOG_MAX);
  free(buf);
}

static void resume_one(pgd_master_t *m, const cJSON *doc) {
  struct m_flows *fl = m->flows;
  int64_t id = get_int(doc, "id", 0);
  char err[1024] = "";
  pgd_flow_def_t *def = NULL;
  pgd_flow_run_t *run = NULL;
  if (pgd_flow_def_parse(cJSON_GetObjectItemCaseSensitive(doc, "definition"), &fl->checks_restore,
                         &def, err, sizeof err) < 0 ||
      pgd_flow_run_restore(def, doc, &run, err, sizeof err) < 0) {
    PGD_ERROR(MOD, "flow execution %lld cannot be resumed: %s", (long long)id, err);
    if (id > fl->last_id) fl->last_id = id;
    cJSON *bad = cJSON_Duplicate(doc, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(bad, "state");
    cJSON_AddStringToObject(bad, "state", "failed");
    cJSON_DeleteItemFromObjectCaseSensitive(bad, "error");
    char msg[1100];
    snprintf(msg, sizeof msg, "cannot be resumed after a master restart: %s", err);
    cJSON_AddStringToObject(bad, "error", msg);
    char ids[24];
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    pgd_store_put_doc(m->store, "flow_execution", ids, get_str(doc, "flow"), "failed", bad, NULL,
                      NULL);
    cJSON_Delete(bad);
    pgd_flow_def_free(def);
    return;
  }
  m_frun_t *r = frun_new(fl, def, run, get_str(doc, "trigger"));
  pgd_flow_def_free(def); /* r holds its own reference */
  const cJSON *ne = cJSON_GetObjectItemCaseSensitive(doc, "node_errors");
  if (cJSON_IsObject(ne)) {
    cJSON_Delete(r->node_errors);
    r->node_errors = cJSON_Duplicate(ne, 1);
  }
  /* Executions of this flow execution still in memory (not final). */
  m_exec_t *e, *tmp;
  HASH_ITER(hh, m->execs, e, tmp) {
    if (get_int(e->rec, "flow_execution_id", 0) != id) continue;
    const char *node = get_str(e->rec, "flow_node");
    cJSON *ns = node ? pgd_flow_run_node_state(run, node) : NULL;
    const char *st = get_str(ns, "state");
    if (st && strcmp(st, "running") == 0 && get_int(ns, "execution_id", 0) == e->id) {
      link_exec(r, e);
      feed_logs(m, r, node, e->id, e->last_attempt);
    } else if (st && (strcmp(st, "waiting") == 0 || strcmp(st, "ready") == 0 ||
                      (strcmp(st, "running") == 0 && get_int(ns, "execution_id", 0) == 0))) {
      if (!r->orphans) r->orphans = cJSON_CreateObject();
      cJSON_DeleteItemFromObjectCaseSensitive(r->orphans, node);
      cJSON_AddNumberToObject(r->orphans, node, (double)e->id);
    }
    cJSON_Delete(ns);
  }
  /* Nodes whose execution ended while the master was down. */
  const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "nodes");
  const cJSON *n;
  int finished = 0;
  cJSON_ArrayForEach(n, nodes) {
    int64_t eid = get_int(n, "execution_id", 0);
    const char *st = get_str(n, "state");
    if (!st || strcmp(st, "running") != 0 || eid <= 0) continue;
    m_exec_t *live = m_exec_find(m, eid);
    if (live && live->flow_run_ref == r) continue;
    cJSON *rec = pgd_store_get_execution(m->store, eid);
    feed_logs(m, r, n->string, eid, (int)get_int(rec, "attempt", 0));
    if (rec) feed_final(r, n->string, rec);
    else pgd_flow_run_node_finished(r->run, n->string, "lost", NULL);
    cJSON_Delete(rec);
    finished++;
  }
  PGD_INFO(MOD, "flow execution %lld of %s resumed (%d running nodes, %d ended while the master was down)",
           (long long)id, pgd_flow_def_name(r->def), r->linked, finished);
  drive(m, r);
}

static char *hooks_dir_of(const pgd_master_config_t *cfg) {
  if (cfg->balancer_dir && *cfg->balancer_dir) {
    char *copy = strdup(cfg->balancer_dir);
    char *dir = dirname(copy);
    size_t len = strlen(dir) + 8;
    char *out = malloc(len);
    if (!out) abort();
    snprintf(out, len, "%s/hooks", dir);
    free(copy);
    return out;
  }
  return strdup("conf/hooks");
}

int m_flows_start(pgd_master_t *m, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  struct m_flows *fl = calloc(1, sizeof *fl);
  if (!fl) return -ENOMEM;
  fl->m = m;
  fl->hooks_dir = hooks_dir_of(&m->cfg);
  fl->checks_create = (pgd_flow_checks_t){.ud = m, .check_job = check_job, .lookup_job = lookup_job,
                                          .hooks_dir = fl->hooks_dir};
  fl->checks_restore = fl->checks_create;
  fl->checks_restore.check_job = NULL;
  fl->flush = calloc(1, sizeof *fl->flush);
  if (!fl->flush) abort();
  uv_prepare_init(m->loop, fl->flush);
  fl->flush->data = m;
  m->flows = fl;

  cJSON *defs = pgd_store_list_docs(m->store, "flow", NULL, NULL, 0, NULL);
  cJSON *d;
  cJSON_ArrayForEach(d, defs) {
    pgd_flow_def_t *def = NULL;
    char perr[1024];
    if (pgd_flow_def_parse(d, &fl->checks_restore, &def, perr, sizeof perr) < 0) {
      PGD_ERROR(MOD, "stored flow '%s' cannot be loaded: %s", get_str(d, "name") ? get_str(d, "name") : "?", perr);
      continue;
    }
    m_flows_put(fl, def);
  }
  cJSON_Delete(defs);
  cJSON *last = pgd_store_list_docs(m->store, "flow_execution", NULL, NULL, 1, NULL);
  if (cJSON_GetArraySize(last) > 0) fl->last_id = get_int(cJSON_GetArrayItem(last, 0), "id", 0);
  cJSON_Delete(last);
  cJSON *open = pgd_store_list_docs(m->store, "flow_execution", NULL, "running", 0, NULL);
  int n = cJSON_GetArraySize(open);
  /* Oldest first (the list is newest first). */
  for (int i = n - 1; i >= 0; i--) resume_one(m, cJSON_GetArrayItem(open, i));
  cJSON_Delete(open);
  if (n) PGD_INFO(MOD, "resumed %d running flow executions", n);
  return 0;
}

static void on_flush_closed(uv_handle_t *h) { free(h); }

void m_flows_stop(pgd_master_t *m) {
  struct m_flows *fl = m->flows;
  if (!fl) return;
  /* Pending states go out before the store's final flush. */
  while (fl->dirty) {
    m_frun_t *r = fl->dirty;
    fl->dirty = r->dirty_next;
    r->in_dirty = false;
    tell_events(m, r);
    if (r->dirty) frun_save(m, r, NULL, NULL);
  }
  uv_close((uv_handle_t *)fl->flush, on_flush_closed);
  m_exec_t *e, *etmp;
  HASH_ITER(hh, m->execs, e, etmp) e->flow_run_ref = NULL;
  m->flows = NULL; /* store callbacks still to come find no run */
  m_frun_t *r, *rtmp;
  HASH_ITER(hh, fl->runs, r, rtmp) frun_free(fl, r);
  m_flow_t *f, *ftmp;
  HASH_ITER(hh, fl->flows, f, ftmp) m_flows_remove(fl, f->name);
  free(fl->hooks_dir);
  free(fl);
}
