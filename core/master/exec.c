/* Pagoda master — the execution state machine: submission, reports from
 * workers, retries and relaunches, kill, recovery (lost workers and
 * reconciliation: exec_workers.c).
 *
 * An execution owns tasks (one for `single`, N for `sharded`, one per
 * eligible worker for `broadcast`); a task runs as attempts. The execution is
 * final when every task is; its record (rec) is what the store holds. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/utf8.h"
#include "common/log.h"
#include "master/exec_int.h"
#include "master/logs_int.h"
#include "master/observers_int.h"
#include "master/workers_int.h"

#define MOD "exec"

m_exec_t *m_exec_find(pgd_master_t *m, int64_t id) {
  m_exec_t *e = NULL;
  HASH_FIND(hh, m->execs, &id, sizeof id, e);
  return e;
}

static void refresh_rec(m_exec_t *e);

m_task_t *m_task_of_attempt(m_exec_t *e, int attempt) {
  for (int i = 0; i < e->n_tasks; i++)
    if (e->tasks[i]->attempt == attempt && attempt > 0) return e->tasks[i];
  return NULL;
}

/* ---- durability ---- */

typedef struct commit_ctx {
  pgd_master_t *m;
  int64_t id;
  m_durable_cb done;
  void *ud;
  m_follower_t *followers; /* log streams to end once a final state is durable */
  bool free_exec;          /* the execution is final: forget it once durable */
} commit_ctx_t;

static commit_ctx_t *commit_ctx(pgd_master_t *m, int64_t id, m_durable_cb done, void *ud) {
  commit_ctx_t *c = calloc(1, sizeof *c);
  if (!c) abort();
  *c = (commit_ctx_t){m, id, done, ud, NULL, false};
  return c;
}

static void release(m_task_t *t);

/* The first record of `e` could not be stored: the execution must leave no
 * trace. Nothing was launched (LAUNCH waits for that record), so its tasks
 * give back their workers' slots and it is forgotten. notify: tell the
 * observers (a flow node, a schedule) that it ended as failed; false when
 * the submitter learns it from m_exec_submit's NULL. */
static void exec_rollback(pgd_master_t *m, m_exec_t *e, int status, bool notify) {
  PGD_ERROR(MOD, "execution %lld: its first record could not be stored (%s); it is dropped "
            "and never runs", (long long)e->id, strerror(-status));
  for (int i = 0; i < e->n_tasks; i++) {
    m_task_t *t = e->tasks[i];
    t->launch_pending = false;
    release(t);
    m_queue_remove(m, t);
    t->state = PGD_STATE_FAILED;
  }
  char msg[160];
  snprintf(msg, sizeof msg, "the store could not save this execution (%s)", strerror(-status));
  e->state = PGD_STATE_FAILED;
  pgd_json_set_str(e->rec, "state", "failed");
  pgd_json_set_str(e->rec, "error", msg);
  /* A kill before the first write was durable already told the observers. */
  if (notify && !e->finishing) m_observers_final(m, e);
  e->finishing = true;
  m_exec_free(m, e);
  m_dispatch_pending(m); /* the slots it held are free again */
}

static void on_durable(int status, void *ud) {
  commit_ctx_t *c = ud;
  if (status < 0) PGD_ERROR(MOD, "execution %lld: store write failed (%d)", (long long)c->id, status);
  m_exec_t *e = m_exec_find(c->m, c->id);
  if (e && !e->committed && status < 0) {
    if (c->followers) m_log_end_followers(c->followers);
    exec_rollback(c->m, e, status, true);
    if (c->done) c->done(c->ud, status);
    free(c);
    return;
  }
  if (e && !e->committed) {
    /* The first record is durable: LAUNCH what was placed before it. */
    e->committed = true;
    for (int i = 0; i < e->n_tasks; i++) {
      m_task_t *t = e->tasks[i];
      if (!t->launch_pending) continue;
      t->launch_pending = false;
      if (t->worker && t->worker->conn) m_rpc_send_launch(c->m, t);
    }
  }
  if (c->followers) m_log_end_followers(c->followers);
  if (c->free_exec && e) m_exec_free(c->m, e);
  if (c->done) c->done(c->ud, status);
  free(c);
}

static cJSON *tasks_json(const m_exec_t *e) {
  cJSON *arr = cJSON_CreateArray();
  for (int i = 0; i < e->n_tasks; i++) {
    const m_task_t *t = e->tasks[i];
    cJSON *o = cJSON_CreateObject();
    if (t->shard >= 0) cJSON_AddNumberToObject(o, "shard", t->shard);
    if (t->pinned) cJSON_AddStringToObject(o, "pinned", t->pinned);
    cJSON_AddNumberToObject(o, "attempt", t->attempt);
    cJSON_AddStringToObject(o, "state", pgd_exec_state_name(t->state));
    const char *wid = t->attempt_rec ? pgd_json_str(t->attempt_rec, "worker_id") : NULL;
    if (wid) cJSON_AddStringToObject(o, "worker_id", wid); else cJSON_AddNullToObject(o, "worker_id");
    cJSON_AddNumberToObject(o, "retries_used", t->retries_used);
    cJSON_AddNumberToObject(o, "relaunches_used", t->relaunches_used);
    if (t->prev_workers) cJSON_AddItemToObject(o, "previous_workers", cJSON_Duplicate(t->prev_workers, 1));
    cJSON_AddItemToArray(arr, o);
  }
  return arr;
}

/* The writes of one save (the execution row, then its changed attempt
 * rows) complete as one: cb gets the first failure among them (in write
 * order), so that a refused execution row is not reported as the foreign
 * key error of its attempt. */
typedef struct save_agg {
  int left;
  int status;
  pgd_store_done_cb cb;
  void *ud;
} save_agg_t;

static void save_part_done(int status, void *ud) {
  save_agg_t *a = ud;
  if (status < 0 && a->status == 0) a->status = status;
  if (--a->left > 0) return;
  if (a->cb) a->cb(a->status, a->ud);
  free(a);
}

/* Queues the writes; returns 0 (cb will run) or the error of a refused
 * write (cb will not run). Until the first record is durable every write
 * of the execution is fail-fast: a resource error is answered, not
 * retried, and undoes the execution (on_durable). Later writes are retried
 * by the store until they land.
 * Urgency (store.h, "urgent and background writes"): the first record is
 * urgent (a REST client and the LAUNCH wait for it), and so is a save the
 * caller marks `urgent` (an API action waiting for it). Every other save of
 * an execution already durable is a background write: only a worker's
 * acknowledgement (or nobody) waits for it, so the writer may hold it for
 * the group window and commit it with others. Whatever an observer does
 * about the change (a flow's next node, a schedule's record) queues its
 * own urgent writes behind it, which take it along. */
static int save_records(pgd_master_t *m, m_exec_t *e, pgd_store_done_cb cb, void *ud,
                        bool urgent) {
  pgd_json_set(e->rec, "tasks", tasks_json(e));
  pgd_json_set_int(e->rec, "attempt", e->last_attempt);
  /* Attempt rows refer to the execution row: write it first. */
  m_task_t *dirty[e->n_tasks > 0 ? e->n_tasks : 1];
  int nd = 0;
  for (int i = 0; i < e->n_tasks; i++)
    if (e->tasks[i]->attempt_dirty && e->tasks[i]->attempt_rec) dirty[nd++] = e->tasks[i];
  save_agg_t *agg = calloc(1, sizeof *agg);
  if (!agg) abort();
  *agg = (save_agg_t){nd + 1, 0, cb, ud};
  bool was = pgd_store_fail_fast(m->store, true);
  if (e->committed) pgd_store_fail_fast(m->store, was);
  bool was_bg = pgd_store_background(m->store, e->committed && !urgent);
  /* One hand-off and one transaction for the rows of a save: queued one by
   * one, the first woke the writer, which often committed it alone before
   * the attempt row arrived (two commits, two fsyncs per state change). */
  pgd_store_group_begin(m->store);
  int rc = pgd_store_put_execution(m->store, e->rec, save_part_done, agg);
  int queued = rc == 0;
  for (int i = 0; rc == 0 && i < nd; i++) {
    dirty[i]->attempt_dirty = false;
    rc = pgd_store_put_attempt(m->store, dirty[i]->attempt_rec, save_part_done, agg);
    if (rc == 0) queued++;
  }
  pgd_store_group_end(m->store);
  pgd_store_fail_fast(m->store, was);
  pgd_store_background(m->store, was_bg);
  if (rc < 0) {
    if (queued == 0) {
      free(agg);
      return rc;
    }
    /* Some rows are queued: they complete the save, with this error. */
    agg->status = rc;
    agg->left = queued;
  }
  return 0;
}

static void save_as(pgd_master_t *m, m_exec_t *e, pgd_store_done_cb cb, void *ud, bool urgent) {
  int rc = save_records(m, e, cb, ud, urgent);
  if (rc < 0) {
    PGD_ERROR(MOD, "cannot queue the store write of execution %lld: %s", (long long)e->id,
              strerror(-rc));
    if (cb) cb(rc, ud);
  }
}

void m_exec_save(pgd_master_t *m, m_exec_t *e, pgd_store_done_cb cb, void *ud) {
  save_as(m, e, cb, ud, false);
}

void m_exec_save_quiet(pgd_master_t *m, m_exec_t *e) {
  m_exec_save(m, e, on_durable, commit_ctx(m, e->id, NULL, NULL));
}

/* ---- construction ---- */

static m_task_t *task_new(m_exec_t *e, int shard, const char *pinned) {
  m_task_t *t = calloc(1, sizeof *t);
  if (!t) abort();
  t->exec = e;
  t->shard = shard;
  t->pinned = pinned ? strdup(pinned) : NULL;
  t->state = PGD_STATE_PENDING;
  t->log_fd = -1;
  e->tasks = realloc(e->tasks, sizeof *e->tasks * (size_t)(e->n_tasks + 1));
  if (!e->tasks) abort();
  t->index = e->n_tasks;
  e->tasks[e->n_tasks++] = t;
  return t;
}

m_task_t *m_task_new_pinned(m_exec_t *e, const char *worker_id) {
  return task_new(e, -1, worker_id);
}

static void task_free(pgd_master_t *m, m_task_t *t) {
  m_queue_remove(m, t);
  m_log_close_task(t);
  cJSON_Delete(t->attempt_rec);
  cJSON_Delete(t->prev_workers);
  free(t->pinned);
  free(t);
}

static int parse_mode(const cJSON *def) {
  const char *mode = pgd_json_str(def, "mode");
  if (mode && strcmp(mode, "broadcast") == 0) return M_MODE_BROADCAST;
  if (mode && strcmp(mode, "sharded") == 0) return M_MODE_SHARDED;
  return M_MODE_SINGLE;
}

static m_exec_t *exec_new(pgd_master_t *m, int64_t id, cJSON *rec) {
  m_exec_t *e = calloc(1, sizeof *e);
  if (!e) abort();
  e->id = id;
  e->rec = rec;
  e->def = cJSON_GetObjectItemCaseSensitive(rec, "definition");
  e->slots = (int)pgd_json_int(e->def, "slots", 1);
  if (e->slots < 1) e->slots = 1;
  e->priority = (int)pgd_json_int(e->def, "priority", 0);
  e->mode = parse_mode(e->def);
  if (e->mode == M_MODE_BROADCAST) m->broadcast_waiting++; /* until its tasks exist */
  e->last_attempt = (int)pgd_json_int(rec, "attempt", 0);
  e->run_index = pgd_json_int(rec, "run_index", -1);
  int st = pgd_exec_state_parse(pgd_json_str(rec, "state"));
  e->state = st < 0 ? PGD_STATE_PENDING : (pgd_exec_state_t)st;
  HASH_ADD(hh, m->execs, id, sizeof e->id, e);
  e->idem_key = pgd_json_str(rec, "idempotency_key");
  if (e->idem_key) HASH_ADD_KEYPTR(hh_key, m->execs_by_key, e->idem_key, strlen(e->idem_key), e);
  return e;
}

void m_exec_free(pgd_master_t *m, m_exec_t *e) {
  HASH_DELETE(hh, m->execs, e);
  if (e->idem_key) HASH_DELETE(hh_key, m->execs_by_key, e);
  if (e->mode == M_MODE_BROADCAST && !e->broadcast_expanded) m->broadcast_waiting--;
  for (int i = 0; i < e->n_tasks; i++) task_free(m, e->tasks[i]);
  free(e->tasks);
  m_log_end_followers(m_log_detach_followers(e));
  cJSON_Delete(e->rec);
  free(e);
}

static cJSON *merge_params(const cJSON *job, const cJSON *override) {
  const cJSON *base = cJSON_GetObjectItemCaseSensitive(job, "params");
  cJSON *out = cJSON_IsObject(base) ? cJSON_Duplicate(base, 1) : cJSON_CreateObject();
  const cJSON *kv;
  cJSON_ArrayForEach(kv, override) {
    cJSON_DeleteItemFromObjectCaseSensitive(out, kv->string);
    cJSON_AddItemToObject(out, kv->string, cJSON_Duplicate(kv, 1));
  }
  return out;
}

m_exec_prep_t *m_exec_prepare(pgd_master_t *m, const cJSON *job, const cJSON *params_override,
                              char *err, size_t errlen) {
  const char *type = pgd_json_str(job, "type");
  const pgd_plugin_t *plugin = type ? pgd_registry_find(m->plugins, type) : NULL;
  if (!plugin) {
    snprintf(err, errlen, "no loaded plugin provides job type '%s'", type ? type : "(none)");
    return NULL;
  }
  if (params_override && !cJSON_IsObject(params_override)) {
    snprintf(err, errlen, "params must be an object");
    return NULL;
  }
  cJSON *params = merge_params(job, params_override);
  if (pgd_plugin_validate(plugin, params, err, errlen) < 0) {
    cJSON_Delete(params);
    return NULL;
  }
  cJSON *def = cJSON_Duplicate(job, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(def, "created_us");
  cJSON_DeleteItemFromObjectCaseSensitive(def, "updated_us");
  pgd_json_set(def, "params", params);
  cJSON *expanded = NULL;
  if (pgd_plugin_expand(plugin, def, &expanded, err, errlen) < 0) {
    cJSON_Delete(def);
    return NULL;
  }
  m_exec_prep_t *p = calloc(1, sizeof *p);
  if (!p) abort();
  p->def = def;
  p->expanded = expanded;
  return p;
}

void m_exec_prep_free(m_exec_prep_t *p) {
  if (!p) return;
  cJSON_Delete(p->def);
  cJSON_Delete(p->expanded);
  free(p);
}

m_exec_t *m_exec_submit(pgd_master_t *m, const cJSON *job, const cJSON *params_override,
                        const char *trigger, m_durable_cb done, void *ud, char *err,
                        size_t errlen, const cJSON *extra_fields) {
  m_exec_prep_t *p = m_exec_prepare(m, job, params_override, err, errlen);
  if (!p) return NULL;
  return m_exec_submit_prepared(m, p, trigger, done, ud, err, errlen, extra_fields);
}

m_exec_t *m_exec_submit_prepared(pgd_master_t *m, m_exec_prep_t *p, const char *trigger,
                                 m_durable_cb done, void *ud, char *err, size_t errlen,
                                 const cJSON *extra_fields) {
  cJSON *def = p->def, *expanded = p->expanded;
  free(p);
  const char *type = pgd_json_str(def, "type");
  const char *name = pgd_json_str(def, "name");
  int64_t id = ++m->next_exec_id;
  cJSON *rec = cJSON_CreateObject();
  cJSON_AddNumberToObject(rec, "id", (double)id);
  cJSON_AddStringToObject(rec, "job", name ? name : "");
  cJSON_AddStringToObject(rec, "type", type);
  cJSON_AddStringToObject(rec, "state", "pending");
  cJSON_AddNumberToObject(rec, "attempt", 0);
  cJSON_AddNullToObject(rec, "worker_id");
  cJSON_AddItemToObject(rec, "params", expanded ? expanded : cJSON_CreateObject());
  cJSON_AddItemToObject(rec, "definition", def);
  cJSON_AddStringToObject(rec, "trigger", trigger ? trigger : "api");
  cJSON_AddNumberToObject(rec, "submitted_us", (double)pgd_now_us());
  const cJSON *xf;
  cJSON_ArrayForEach(xf, extra_fields) if (xf->string) pgd_json_set(rec, xf->string, cJSON_Duplicate(xf, 1));
  m_exec_t *e = exec_new(m, id, rec);
  pgd_json_set_str(rec, "mode", e->mode == M_MODE_SHARDED ? "sharded"
                       : e->mode == M_MODE_BROADCAST ? "broadcast" : "single");
  if (e->mode == M_MODE_SHARDED) {
    int shards = (int)pgd_json_int(def, "shards", 1);
    for (int i = 0; i < shards; i++) m_queue_insert(m, task_new(e, i, NULL));
  } else if (e->mode == M_MODE_SINGLE) {
    m_queue_insert(m, task_new(e, -1, NULL));
  } /* broadcast: tasks are made at the first dispatch, one per eligible worker */
  m_dispatch_pending(m);
  for (int i = 0; i < e->n_tasks && !cJSON_GetObjectItemCaseSensitive(rec, "pending_reason"); i++) {
    if (!e->tasks[i]->in_queue) continue;
    const char *why = m_pending_reason(m, e->tasks[i]);
    if (why) pgd_json_set_str(rec, "pending_reason", why);
    break;
  }
  if (e->n_tasks == 0) pgd_json_set_str(rec, "pending_reason", "no connected worker can run it (broadcast)");
  refresh_rec(e); /* the state its tasks give it (dispatched when placed at once) */
  commit_ctx_t *c = commit_ctx(m, id, done, ud);
  int rc = save_records(m, e, on_durable, c, true);
  if (rc < 0) {
    free(c);
    snprintf(err, errlen, "the store refused the execution (%s)", strerror(-rc));
    exec_rollback(m, e, rc, false);
    return NULL;
  }
  m_observers_state(m, e); /* created: the event stream shows it at once */
  return e;
}

/* ---- aggregation ---- */

/* The execution's state from its tasks'. */
static pgd_exec_state_t aggregate(const m_exec_t *e) {
  if (e->n_tasks == 0) return e->kill_requested ? PGD_STATE_KILLED : PGD_STATE_PENDING;
  bool all_final = true, any_running = false, any_dispatched = false;
  pgd_exec_state_t worst = PGD_STATE_SUCCEEDED;
  for (int i = 0; i < e->n_tasks; i++) {
    pgd_exec_state_t s = e->tasks[i]->state;
    if (!pgd_exec_state_final(s)) all_final = false;
    if (s == PGD_STATE_RUNNING) any_running = true;
    if (s == PGD_STATE_DISPATCHED) any_dispatched = true;
    if (pgd_exec_state_final(s) && s != PGD_STATE_SUCCEEDED && worst == PGD_STATE_SUCCEEDED) worst = s;
  }
  if (all_final) return (e->kill_requested && worst != PGD_STATE_SUCCEEDED) ? PGD_STATE_KILLED : worst;
  if (any_running) return PGD_STATE_RUNNING;
  if (any_dispatched) return PGD_STATE_DISPATCHED;
  return PGD_STATE_PENDING;
}

/* Whether a and b are the same null, boolean, number (exactly) or string;
 * false for objects and arrays (those are copied again). */
static bool same_scalar(const cJSON *a, const cJSON *b) {
  int t = a->type & 0xFF;
  if (t != (b->type & 0xFF)) return false;
  switch (t) {
  case cJSON_NULL: case cJSON_True: case cJSON_False: return true;
  case cJSON_Number: return a->valuedouble == b->valuedouble;
  case cJSON_String: return a->valuestring && b->valuestring && strcmp(a->valuestring, b->valuestring) == 0;
  default: return false;
  }
}

/* Copies the outcome fields of a single-task execution, or summarises. */
static void refresh_rec(m_exec_t *e) {
  pgd_exec_state_t s = aggregate(e);
  e->state = s;
  pgd_json_set_str(e->rec, "state", pgd_exec_state_name(s));
  if (e->n_tasks == 1) {
    const cJSON *a = e->tasks[0]->attempt_rec;
    static const char *const copied[] = {"worker_id", "exit_code", "signal", "error",
                                         "attributes", "result"};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
      const cJSON *v = a ? cJSON_GetObjectItemCaseSensitive(a, copied[i]) : NULL;
      /* Most commits change none of these: a member that already holds the
       * same value is left as it is (no copy, no replace, no free). */
      const cJSON *cur = cJSON_GetObjectItemCaseSensitive(e->rec, copied[i]);
      if (cur && (v ? same_scalar(v, cur) : cJSON_IsNull(cur))) continue;
      pgd_json_set(e->rec, copied[i], v ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
    }
  } else if (pgd_exec_state_final(s) && s != PGD_STATE_SUCCEEDED) {
    int bad = 0;
    for (int i = 0; i < e->n_tasks; i++) bad += e->tasks[i]->state != PGD_STATE_SUCCEEDED;
    char msg[160];
    snprintf(msg, sizeof msg, "%d of %d %s did not succeed", bad, e->n_tasks,
             e->mode == M_MODE_SHARDED ? "shards" : "workers");
    pgd_json_set_str(e->rec, "error", msg);
  }
  if (pgd_exec_state_final(s)) {
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e->rec, "finished_us")))
      pgd_json_set_int(e->rec, "finished_us", pgd_now_us());
    cJSON_DeleteItemFromObjectCaseSensitive(e->rec, "pending_reason");
  }
}

/* Saves; when the execution is final, forgets it (the store has it).
 * urgent: someone waits for this save beyond a worker's acknowledgement
 * (save_records). */
static void commit_as(pgd_master_t *m, m_exec_t *e, m_durable_cb done, void *ud, bool urgent) {
  refresh_rec(e);
  commit_ctx_t *c = commit_ctx(m, e->id, done, ud);
  bool final = pgd_exec_state_final(e->state);
  /* Followers see the log end only once the final state is stored, and the
   * execution stays in memory until then, so that a read in between sees
   * the final state with its final attempt rows. */
  if (final) {
    c->followers = m_log_detach_followers(e);
    c->free_exec = true;
    e->finishing = true;
  }
  save_as(m, e, on_durable, c, urgent);
  m_observers_state(m, e);
  if (final) m_observers_final(m, e); /* flows, then schedules: subscription order */
}

void m_exec_commit(pgd_master_t *m, m_exec_t *e, m_durable_cb done, void *ud) {
  commit_as(m, e, done, ud, false);
}

/* ---- attempts ---- */

static void release(m_task_t *t) {
  m_worker_t *w = t->worker;
  if (!w) return;
  w->used -= t->exec->slots;
  w->running--;
  if (w->used < 0) w->used = 0;
  if (w->running < 0) w->running = 0;
  t->worker = NULL;
}

int m_task_claim(pgd_master_t *m, m_exec_t *e, m_task_t *t, m_worker_t *w) {
  if (t->worker || pgd_exec_state_final(t->state)) return -1;
  const char *owner = t->attempt_rec ? pgd_json_str(t->attempt_rec, "worker_id") : NULL;
  bool held = t->state == PGD_STATE_PENDING && t->hold_until_us;
  if (!((owner && strcmp(owner, w->id) == 0) || held)) return -1;
  t->worker = w;
  w->used += e->slots;
  w->running++;
  t->claim_deadline_us = t->hold_until_us = 0;
  if (t->state != PGD_STATE_PENDING) return 0;
  m_queue_remove(m, t);
  t->state = PGD_STATE_DISPATCHED;
  return 1;
}

static double retry_delay_s(const cJSON *def, int retry_no) {
  const cJSON *bo = cJSON_GetObjectItemCaseSensitive(def, "retry_backoff");
  const char *kind = cJSON_IsString(bo) ? bo->valuestring : pgd_json_str(bo, "type");
  double initial = cJSON_IsObject(bo) ? (double)pgd_json_int(bo, "initial", -1) : -1;
  const cJSON *d = cJSON_GetObjectItemCaseSensitive(def, "retry_delay");
  if (cJSON_IsNumber(d)) initial = d->valuedouble;
  if (initial < 0) initial = 1.0;
  double max = 300.0;
  const cJSON *mx = cJSON_GetObjectItemCaseSensitive(def, "retry_max_delay");
  if (cJSON_IsNumber(mx)) max = mx->valuedouble;
  double delay = initial;
  if (kind && strcmp(kind, "exponential") == 0) delay = initial * pow(2.0, retry_no - 1);
  return delay > max ? max : delay;
}

static bool retry_allows(const cJSON *def, pgd_exec_state_t s) {
  const cJSON *on = cJSON_GetObjectItemCaseSensitive(def, "retry_on");
  if (!cJSON_IsArray(on)) return s == PGD_STATE_FAILED || s == PGD_STATE_TIMED_OUT;
  const cJSON *v;
  cJSON_ArrayForEach(v, on) if (cJSON_IsString(v) && strcmp(v->valuestring, pgd_exec_state_name(s)) == 0) return true;
  return false;
}

/* An attempt of `t` ended in `s`: run it again when the job allows it,
 * else the task is final. */
void m_task_attempt_ended(pgd_master_t *m, m_task_t *t, pgd_exec_state_t s) {
  m_exec_t *e = t->exec;
  release(t);
  m_log_close_task(t);
  pgd_json_set_str(t->attempt_rec, "state", pgd_exec_state_name(s));
  if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t->attempt_rec, "finished_us")))
    pgd_json_set_int(t->attempt_rec, "finished_us", pgd_now_us());
  t->attempt_dirty = true;
  if (s == PGD_STATE_SUCCEEDED || e->kill_requested || m->stopping) {
    t->state = s;
    return;
  }
  const cJSON *rol = cJSON_GetObjectItemCaseSensitive(e->def, "relaunch_on_lost");
  /* A broadcast task belongs to its worker: it is never moved elsewhere
   * (but retried there, once the worker is back, like any task). */
  bool relaunch = !cJSON_IsFalse(rol) && !t->pinned;
  int max_relaunch = (int)pgd_json_int(e->def, "max_relaunches", 3);
  if (s == PGD_STATE_LOST && relaunch && t->relaunches_used < max_relaunch) {
    t->relaunches_used++;
    t->state = PGD_STATE_PENDING;
    t->not_before_us = 0;
    m_queue_insert(m, t);
    return;
  }
  int retries = (int)pgd_json_int(e->def, "retries", 0);
  if (retry_allows(e->def, s) && t->retries_used < retries) {
    t->retries_used++;
    double delay = retry_delay_s(e->def, t->retries_used);
    t->state = PGD_STATE_PENDING;
    t->not_before_us = pgd_now_us() + (int64_t)(delay * 1e6);
    char reason[96];
    snprintf(reason, sizeof reason, "retry %d of %d after %.3g s", t->retries_used, retries, delay);
    pgd_json_set_str(e->rec, "pending_reason", reason);
    m_queue_insert(m, t);
    return;
  }
  t->state = s;
}

/* A copy of worker-reported JSON whose text is valid UTF-8: a lua result or
 * an error is stored and served as JSON, so invalid bytes become U+FFFD
 * here (common/utf8.h). */
static cJSON *utf8_copy(const cJSON *v) {
  cJSON *copy = cJSON_Duplicate(v, 1);
  pgd_utf8_fix_json(copy);
  return copy;
}

/* The outcome fields the report carries, copied onto an attempt row. */
static void copy_outcome(cJSON *attempt, const pgd_msg_state_t *report) {
  if (report->exit_code.set)
    pgd_json_set(attempt, "exit_code", cJSON_CreateNumber((double)report->exit_code.v));
  if (report->signal.set)
    pgd_json_set(attempt, "signal", cJSON_CreateNumber((double)report->signal.v));
  if (report->error) {
    cJSON *e = cJSON_CreateString(report->error);
    pgd_utf8_fix_json(e);
    pgd_json_set(attempt, "error", e);
  }
  if (report->result && !cJSON_IsNull(report->result))
    pgd_json_set(attempt, "result", utf8_copy(report->result));
  if (report->attributes) pgd_json_set(attempt, "attributes", utf8_copy(report->attributes));
}

static int64_t report_at(const pgd_msg_state_t *report) {
  return report->at_us.set ? report->at_us.v : pgd_now_us();
}

/* A report on an attempt that is no longer current (replaced after its
 * worker was lost, or of a finished execution): recorded as a late result
 * on its own attempt row, never taken as the execution's result. */
static void record_late(pgd_master_t *m, m_worker_t *w, const pgd_msg_state_t *report,
                        pgd_exec_state_t st, m_durable_cb done, void *ud) {
  int64_t id = report->execution_id;
  int attempt = report->attempt;
  if (st == PGD_STATE_RUNNING) {
    PGD_WARN(MOD, "worker %s still runs attempt %d of execution %lld, which was replaced; killing it",
             w->id, attempt, (long long)id);
    m_rpc_send_kill(m, w, id, attempt);
    done(ud, 0);
    return;
  }
  /* Only the worker the attempt was assigned to may report on it: a
   * foreign report must not rewrite the attempt row (worker_id, state). */
  cJSON *stored = pgd_store_get_execution(m->store, id);
  const cJSON *sa, *mine = NULL;
  cJSON_ArrayForEach(sa, cJSON_GetObjectItemCaseSensitive(stored, "attempts")) {
    if (pgd_json_int(sa, "attempt", -1) == attempt) mine = sa;
  }
  const char *owner = mine ? pgd_json_str(mine, "worker_id") : NULL;
  if (stored && (!owner || strcmp(owner, w->id) != 0)) {
    PGD_WARN(MOD, "worker %s reported %s on attempt %d of execution %lld, assigned to %s; refused",
             w->id, pgd_exec_state_name(st), attempt, (long long)id,
             owner ? owner : "no worker");
    cJSON_Delete(stored);
    done(ud, 0);
    return;
  }
  cJSON *a = cJSON_CreateObject();
  cJSON_AddNumberToObject(a, "execution_id", (double)id);
  cJSON_AddNumberToObject(a, "attempt", attempt);
  cJSON_AddStringToObject(a, "worker_id", w->id);
  cJSON_AddStringToObject(a, "state", pgd_exec_state_name(st));
  cJSON_AddBoolToObject(a, "late", 1);
  copy_outcome(a, report);
  pgd_json_set_int(a, "finished_us", report_at(report));
  /* Keep what the store already knows of this attempt (shard, start). */
  const cJSON *kv;
  if (mine)
    cJSON_ArrayForEach(kv, mine) if (!cJSON_GetObjectItemCaseSensitive(a, kv->string))
        cJSON_AddItemToObject(a, kv->string, cJSON_Duplicate(kv, 1));
  if (stored && pgd_store_put_attempt(m->store, a, NULL, NULL) == 0)
    PGD_INFO(MOD, "late result of execution %lld attempt %d from worker %s: %s (recorded, not taken)",
             (long long)id, attempt, w->id, pgd_exec_state_name(st));
  else
    PGD_DEBUG(MOD, "worker %s reported on unknown execution %lld attempt %d; ignored", w->id,
              (long long)id, attempt);
  cJSON_Delete(stored);
  cJSON_Delete(a);
  done(ud, 0);
}

void m_exec_report_state(pgd_master_t *m, m_worker_t *w, const pgd_msg_state_t *report,
                         m_durable_cb done, void *ud) {
  int64_t id = report->execution_id;
  int attempt = report->attempt;
  int st = (int)report->state;
  if (st == PGD_STATE_PENDING || st == PGD_STATE_DISPATCHED) {
    PGD_WARN(MOD, "worker %s sent a report with state '%s'; ignored", w->id,
             pgd_exec_state_name(report->state));
    done(ud, 0);
    return;
  }
  m_exec_t *e = m_exec_find(m, id);
  m_task_t *t = e ? m_task_of_attempt(e, attempt) : NULL;
  /* A recovered attempt is claimed by the worker that reports on it. */
  if (t && t->worker != w && m_task_claim(m, e, t, w) < 0) t = NULL;
  if (!t || pgd_exec_state_final(t->state)) {
    if (e || id > 0) {
      record_late(m, w, report, (pgd_exec_state_t)st, done, ud);
      return;
    }
    done(ud, 0);
    return;
  }
  int64_t at = report_at(report);
  const cJSON *attrs = report->attributes;
  if (st == PGD_STATE_RUNNING && t->state == PGD_STATE_RUNNING && cJSON_IsObject(attrs)) {
    /* Attributes the job type found in the output (e.g. spark_app_id). */
    pgd_json_set(t->attempt_rec, "attributes", utf8_copy(attrs));
    t->attempt_dirty = true;
    m_exec_commit(m, e, done, ud);
    return;
  }
  if (st == PGD_STATE_RUNNING) {
    if (t->state != PGD_STATE_DISPATCHED) {
      done(ud, 0);
      return;
    }
    if (cJSON_IsObject(attrs)) pgd_json_set(t->attempt_rec, "attributes", utf8_copy(attrs));
    t->state = PGD_STATE_RUNNING;
    pgd_json_set_str(t->attempt_rec, "state", "running");
    pgd_json_set_int(t->attempt_rec, "started_us", at);
    if (report->pid.set) pgd_json_set_int(t->attempt_rec, "pid", report->pid.v);
    t->attempt_dirty = true;
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e->rec, "started_us")))
      pgd_json_set_int(e->rec, "started_us", at);
    m_exec_commit(m, e, done, ud);
    return;
  }
  copy_outcome(t->attempt_rec, report);
  if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t->attempt_rec, "started_us")))
    pgd_json_set_int(t->attempt_rec, "started_us", at);
  pgd_json_set_int(t->attempt_rec, "finished_us", at);
  if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e->rec, "started_us")))
    pgd_json_set_int(e->rec, "started_us", at);
  if (st == PGD_STATE_SUCCEEDED) pgd_json_set(t->attempt_rec, "error", cJSON_CreateNull());
  m_task_attempt_ended(m, t, (pgd_exec_state_t)st);
  m_exec_commit(m, e, done, ud);
  m_dispatch_pending(m);
}

/* ---- kill ---- */

int m_exec_kill(pgd_master_t *m, int64_t id, m_durable_cb done, void *ud, char *err,
                size_t errlen) {
  m_exec_t *e = m_exec_find(m, id);
  if (e && e->finishing) {
    snprintf(err, errlen, "execution %lld already finished (%s)", (long long)id,
             pgd_exec_state_name(e->state));
    return -EALREADY;
  }
  if (!e) {
    cJSON *rec = pgd_store_get_execution(m->store, id);
    if (!rec) {
      snprintf(err, errlen, "execution %lld not found", (long long)id);
      return -ENOENT;
    }
    snprintf(err, errlen, "execution %lld already finished (%s)", (long long)id,
             pgd_json_str(rec, "state") ? pgd_json_str(rec, "state") : "?");
    cJSON_Delete(rec);
    return -EALREADY;
  }
  e->kill_requested = true;
  pgd_json_set_int(e->rec, "kill_requested_us", pgd_now_us());
  bool waiting_on_workers = false;
  for (int i = 0; i < e->n_tasks; i++) {
    m_task_t *t = e->tasks[i];
    if (pgd_exec_state_final(t->state)) continue;
    if (t->state == PGD_STATE_PENDING) {
      m_queue_remove(m, t);
      t->state = PGD_STATE_KILLED;
      if (t->attempt_rec) {
        pgd_json_set_str(t->attempt_rec, "state", "killed");
        t->attempt_dirty = true;
      }
    } else {
      waiting_on_workers = true;
      if (!t->launch_pending && t->worker && t->worker->conn)
        m_rpc_send_kill(m, t->worker, e->id, t->attempt);
      /* launch_pending: the LAUNCH goes out, then the worker gets the kill
       * right behind it (see on_durable → rpc, and below). */
      if (t->launch_pending) t->launch_pending = false, t->state = PGD_STATE_KILLED, release(t);
    }
  }
  if (!waiting_on_workers && e->n_tasks == 0) pgd_json_set_str(e->rec, "error", "killed before it was dispatched");
  if (e->n_tasks == 1 && e->tasks[0]->state == PGD_STATE_KILLED && !e->tasks[0]->attempt_rec)
    pgd_json_set_str(e->rec, "error", "killed before it was dispatched");
  /* urgent: the API (or a flow, a schedule) answers once it is durable */
  commit_as(m, e, done, ud, true); /* with no task left to wait for, this is the final state */
  return 0;
}

/* ---- recovery ---- */

void m_exec_recover(pgd_master_t *m, const cJSON *stored, int64_t deadline_us) {
  cJSON *rec = cJSON_Duplicate(stored, 1);
  cJSON *attempts = cJSON_DetachItemFromObjectCaseSensitive(rec, "attempts");
  m_exec_t *e = exec_new(m, pgd_json_int(rec, "id", 0), rec);
  e->committed = true;
  const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(rec, "tasks");
  const cJSON *tj;
  cJSON_ArrayForEach(tj, tasks) {
    m_task_t *t = task_new(e, (int)pgd_json_int(tj, "shard", -1), pgd_json_str(tj, "pinned"));
    t->attempt = (int)pgd_json_int(tj, "attempt", 0);
    int st = pgd_exec_state_parse(pgd_json_str(tj, "state"));
    t->state = st < 0 ? PGD_STATE_PENDING : (pgd_exec_state_t)st;
    t->retries_used = (int)pgd_json_int(tj, "retries_used", 0);
    t->relaunches_used = (int)pgd_json_int(tj, "relaunches_used", 0);
    const cJSON *pw = cJSON_GetObjectItemCaseSensitive(tj, "previous_workers");
    if (cJSON_IsArray(pw)) t->prev_workers = cJSON_Duplicate(pw, 1);
    const cJSON *a;
    cJSON_ArrayForEach(a, attempts) if (pgd_json_int(a, "attempt", -1) == t->attempt) t->attempt_rec = cJSON_Duplicate(a, 1);
    if (t->state == PGD_STATE_PENDING)
      t->hold_until_us = deadline_us;
    else if (!pgd_exec_state_final(t->state))
      t->claim_deadline_us = deadline_us;
  }
  if (e->mode == M_MODE_BROADCAST && e->n_tasks > 0) {
    /* Its tasks were made before the restart: making them again would run
     * the job twice on every worker. */
    e->broadcast_expanded = true;
    m->broadcast_waiting--;
  }
  if (e->n_tasks == 0 && e->mode != M_MODE_BROADCAST) {
    /* A record from before tasks existed: one task, as stored. */
    m_task_t *t = task_new(e, -1, NULL);
    t->attempt = e->last_attempt;
    t->state = e->state;
    const cJSON *a;
    cJSON_ArrayForEach(a, attempts) if (pgd_json_int(a, "attempt", -1) == t->attempt) t->attempt_rec = cJSON_Duplicate(a, 1);
    if (t->state == PGD_STATE_PENDING) t->hold_until_us = deadline_us;
    else t->claim_deadline_us = deadline_us;
  }
  cJSON_Delete(attempts);
}
