/* Pagoda master — lifecycle, recovery, the execution state machine and
 * dispatch. See internal.h for the map of the master's files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/log.h"
#include "master/internal.h"

#define MOD "master"

static const char *const state_names[] = {
#define X(name, str) str,
    PGD_EXEC_STATE_MAP(X)
#undef X
};

const char *m_state_name(m_state_t s) {
  return (s >= 0 && s < M_STATE__COUNT) ? state_names[s] : "unknown";
}

int m_state_parse(const char *name) {
  if (!name) return -1;
  for (int i = 0; i < M_STATE__COUNT; i++)
    if (strcmp(name, state_names[i]) == 0) return i;
  return -1;
}

void pgd_master_config_defaults(pgd_master_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->data_dir = "pagoda-data";
  cfg->http_host = "127.0.0.1";
  cfg->http_port = 7080;
  cfg->rpc_host = "127.0.0.1";
  cfg->rpc_port = 7081;
  cfg->secret = "";
  cfg->max_body = 1 << 20;
  cfg->heartbeat_ms = 1000;
  cfg->lost_after_missed = 3;
  cfg->kill_grace_ms = 5000;
  cfg->recovery_grace_ms = 5000;
}

m_exec_t *m_exec_find(pgd_master_t *m, int64_t id) {
  m_exec_t *e = NULL;
  HASH_FIND(hh, m->execs, &id, sizeof id, e);
  return e;
}

/* ---- small record helpers ---- */

static void rec_set_int(cJSON *rec, const char *key, int64_t v) {
  cJSON *n = cJSON_CreateNumber((double)v);
  if (cJSON_GetObjectItemCaseSensitive(rec, key))
    cJSON_ReplaceItemInObjectCaseSensitive(rec, key, n);
  else
    cJSON_AddItemToObject(rec, key, n);
}

static void rec_set_str(cJSON *rec, const char *key, const char *v) {
  cJSON *n = v ? cJSON_CreateString(v) : cJSON_CreateNull();
  if (cJSON_GetObjectItemCaseSensitive(rec, key))
    cJSON_ReplaceItemInObjectCaseSensitive(rec, key, n);
  else
    cJSON_AddItemToObject(rec, key, n);
}

static int64_t json_int(const cJSON *obj, const char *key, int64_t dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

static void set_state(m_exec_t *e, m_state_t s) {
  e->state = s;
  rec_set_str(e->rec, "state", m_state_name(s));
}

/* The attempt row mirrors the execution's current attempt. */
static cJSON *attempt_record(const m_exec_t *e) {
  cJSON *a = cJSON_CreateObject();
  cJSON_AddNumberToObject(a, "execution_id", (double)e->id);
  cJSON_AddNumberToObject(a, "attempt", e->attempt);
  static const char *const copied[] = {"worker_id", "state", "exit_code", "signal", "error",
                                       "dispatched_us", "started_us", "finished_us"};
  for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e->rec, copied[i]);
    if (v) cJSON_AddItemToObject(a, copied[i], cJSON_Duplicate(v, 1));
  }
  return a;
}

/* ---- durability callbacks ---- */

typedef struct commit_ctx {
  pgd_master_t *m;
  int64_t id;
  m_durable_cb done;
  void *ud;
  m_follower_t *followers; /* log streams to end once a final state is durable */
} commit_ctx_t;

static commit_ctx_t *commit_ctx(pgd_master_t *m, int64_t id, m_durable_cb done, void *ud) {
  commit_ctx_t *c = malloc(sizeof *c);
  if (!c) abort();
  *c = (commit_ctx_t){m, id, done, ud, NULL};
  return c;
}

static void finish_exec(pgd_master_t *m, m_exec_t *e, m_state_t st, m_durable_cb done, void *ud);
static bool claim_held(pgd_master_t *m, m_exec_t *e, m_worker_t *w, int attempt);

/* Saves the execution, then its current attempt (the attempt row refers to
 * the execution row); cb runs once both are durable: the store runs
 * callbacks in write order, so it hangs on the last write. */
static void save_exec(pgd_master_t *m, m_exec_t *e, bool with_attempt, pgd_store_done_cb cb,
                      void *ud) {
  const cJSON *wid = cJSON_GetObjectItemCaseSensitive(e->rec, "worker_id");
  bool attempt = with_attempt && e->attempt > 0 && cJSON_IsString(wid);
  int rc = pgd_store_put_execution(m->store, e->rec, attempt ? NULL : cb, attempt ? NULL : ud);
  if (rc == 0 && attempt) {
    cJSON *a = attempt_record(e);
    rc = pgd_store_put_attempt(m->store, a, cb, ud);
    cJSON_Delete(a);
  }
  if (rc < 0) {
    PGD_ERROR(MOD, "cannot queue the store write of execution %lld: %s", (long long)e->id,
              strerror(-rc));
    if (cb) cb(rc, ud);
  }
}

static void on_dispatch_durable(int status, void *ud) {
  commit_ctx_t *c = ud;
  pgd_master_t *m = c->m;
  m_exec_t *e = m_exec_find(m, c->id);
  if (status < 0) PGD_ERROR(MOD, "execution %lld: store write failed (%d)", (long long)c->id, status);
  if (e) {
    e->committed = true;
    if (e->launch_pending && e->state == M_STATE_DISPATCHED) {
      e->launch_pending = false;
      if (e->kill_requested)
        finish_exec(m, e, M_STATE_KILLED, NULL, NULL);
      else if (e->worker && e->worker->conn)
        m_rpc_send_launch(m, e);
      else
        finish_exec(m, e, M_STATE_LOST, NULL, NULL);
    }
  }
  if (c->done) c->done(c->ud, status);
  free(c);
}

static void on_durable_simple(int status, void *ud) {
  commit_ctx_t *c = ud;
  if (status < 0) PGD_ERROR(MOD, "execution %lld: store write failed (%d)", (long long)c->id, status);
  if (c->followers) m_log_end_followers(c->followers);
  if (c->done) c->done(c->ud, status);
  free(c);
}

/* ---- queue ---- */

static void queue_remove(pgd_master_t *m, m_exec_t *e) {
  if (!e->in_queue) return;
  if (e->pend_prev) e->pend_prev->pend_next = e->pend_next; else m->queue_head = e->pend_next;
  if (e->pend_next) e->pend_next->pend_prev = e->pend_prev; else m->queue_tail = e->pend_prev;
  e->pend_prev = e->pend_next = NULL;
  e->in_queue = false;
}

/* Keeps the queue ordered by priority (higher first), then id. */
static void queue_insert(pgd_master_t *m, m_exec_t *e) {
  m_exec_t *after = m->queue_tail;
  while (after && (after->priority < e->priority ||
                   (after->priority == e->priority && after->id > e->id)))
    after = after->pend_prev;
  e->pend_prev = after;
  e->pend_next = after ? after->pend_next : m->queue_head;
  if (e->pend_next) e->pend_next->pend_prev = e; else m->queue_tail = e;
  if (after) after->pend_next = e; else m->queue_head = e;
  e->in_queue = true;
}

/* ---- placement: the built-in default picks the fitting worker with the
 * most free slots, then the fewest running executions. ---- */

static m_worker_t *pick_worker(pgd_master_t *m, const char *type, int slots) {
  m_worker_t *best = NULL, *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
    if (!m_worker_fits(w, type, slots)) continue;
    if (!best || (w->slots - w->used) > (best->slots - best->used) ||
        ((w->slots - w->used) == (best->slots - best->used) && w->running < best->running))
      best = w;
  }
  return best;
}

static const char *pending_reason(pgd_master_t *m, const char *type, int slots) {
  bool any = false, typed = false;
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
    if (w->state != M_WORKER_ALIVE || !w->conn) continue;
    any = true;
    const cJSON *t;
    cJSON_ArrayForEach(t, w->types) if (cJSON_IsString(t) && strcmp(t->valuestring, type) == 0) typed = true;
  }
  if (!any) return "no worker is connected";
  if (!typed) return "no connected worker provides this job type";
  (void)slots;
  return "every fitting worker is busy (no free slot)";
}

static void assign(pgd_master_t *m, m_exec_t *e, m_worker_t *w) {
  (void)m;
  e->worker = w;
  w->used += e->slots;
  w->running++;
  set_state(e, M_STATE_DISPATCHED);
  rec_set_str(e->rec, "worker_id", w->id);
  rec_set_int(e->rec, "dispatched_us", pgd_now_us());
  cJSON_DeleteItemFromObjectCaseSensitive(e->rec, "pending_reason");
  e->launch_pending = true;
}

static void release_worker(m_exec_t *e) {
  if (!e->worker) return;
  e->worker->used -= e->slots;
  e->worker->running--;
  if (e->worker->used < 0) e->worker->used = 0;
  if (e->worker->running < 0) e->worker->running = 0;
  e->worker = NULL;
}

static int free_slots(pgd_master_t *m) {
  int free = 0;
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
    if (w->state == M_WORKER_ALIVE && w->conn && w->slots > w->used) free += w->slots - w->used;
  }
  return free;
}

void m_dispatch_pending(pgd_master_t *m) {
  if (m->stopping || !m->queue_head) return;
  /* Stop scanning once no slot is free anywhere: a long queue costs nothing
   * while the cluster is full. */
  int free = free_slots(m);
  m_exec_t *e = m->queue_head;
  while (e && free > 0) {
    m_exec_t *next = e->pend_next;
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e->rec, "type"));
    m_worker_t *w = type ? pick_worker(m, type, e->slots) : NULL;
    if (w) {
      queue_remove(m, e);
      assign(m, e, w);
      free -= e->slots;
      if (e->committed) {
        /* The execution is durably pending: launch now and record the
         * dispatch in the background. Should the master die before that
         * record lands, the store says "pending" and recovery holds such
         * executions back until their worker has had time to claim them
         * (see recover()), so nothing runs twice. */
        e->launch_pending = false;
        m_rpc_send_launch(m, e);
        save_exec(m, e, true, on_durable_simple, commit_ctx(m, e->id, NULL, NULL));
      } else {
        save_exec(m, e, true, on_dispatch_durable, commit_ctx(m, e->id, NULL, NULL));
      }
    } else if (type) {
      rec_set_str(e->rec, "pending_reason", pending_reason(m, type, e->slots));
    }
    e = next;
  }
}

static m_exec_t *exec_new(pgd_master_t *m, int64_t id, cJSON *rec) {
  m_exec_t *e = calloc(1, sizeof *e);
  if (!e) abort();
  e->id = id;
  e->rec = rec;
  e->log_fd = -1;
  const cJSON *def = cJSON_GetObjectItemCaseSensitive(rec, "definition");
  e->slots = (int)json_int(def, "slots", 1);
  if (e->slots < 1) e->slots = 1;
  e->priority = (int)json_int(def, "priority", 0);
  e->attempt = (int)json_int(rec, "attempt", 1);
  int st = m_state_parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "state")));
  e->state = st < 0 ? M_STATE_PENDING : (m_state_t)st;
  HASH_ADD(hh, m->execs, id, sizeof e->id, e);
  return e;
}

static void exec_free(pgd_master_t *m, m_exec_t *e) {
  queue_remove(m, e);
  HASH_DELETE(hh, m->execs, e);
  m_log_close(m, e);
  cJSON_Delete(e->rec);
  free(e);
}

/* Merges override params over the job's params into a new object. */
static cJSON *merge_params(const cJSON *job, const cJSON *override) {
  const cJSON *base = cJSON_GetObjectItemCaseSensitive(job, "params");
  cJSON *out = cJSON_IsObject(base) ? cJSON_Duplicate(base, 1) : cJSON_CreateObject();
  if (cJSON_IsObject(override)) {
    const cJSON *kv;
    cJSON_ArrayForEach(kv, override) {
      cJSON_DeleteItemFromObjectCaseSensitive(out, kv->string);
      cJSON_AddItemToObject(out, kv->string, cJSON_Duplicate(kv, 1));
    }
  }
  return out;
}

m_exec_t *m_exec_submit(pgd_master_t *m, const cJSON *job, const cJSON *params_override,
                        const char *trigger, m_durable_cb done, void *ud, char *err,
                        size_t errlen) {
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job, "type"));
  const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(job, "name"));
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
  cJSON *merged_job = cJSON_Duplicate(job, 1);
  cJSON_ReplaceItemInObjectCaseSensitive(merged_job, "params", params);
  cJSON *expanded = NULL;
  int rc = pgd_plugin_expand(plugin, merged_job, &expanded, err, errlen);
  if (rc < 0) {
    cJSON_Delete(merged_job);
    return NULL;
  }
  int64_t id = ++m->next_exec_id;
  cJSON *rec = cJSON_CreateObject();
  cJSON_AddNumberToObject(rec, "id", (double)id);
  cJSON_AddStringToObject(rec, "job", name ? name : "");
  cJSON_AddStringToObject(rec, "type", type);
  cJSON_AddStringToObject(rec, "state", "pending");
  cJSON_AddNumberToObject(rec, "attempt", 1);
  cJSON_AddNullToObject(rec, "worker_id");
  cJSON_AddItemToObject(rec, "params", expanded ? expanded : cJSON_CreateObject());
  cJSON_AddItemToObject(rec, "definition", merged_job);
  cJSON_AddStringToObject(rec, "trigger", trigger ? trigger : "api");
  cJSON_AddNumberToObject(rec, "submitted_us", (double)pgd_now_us());
  m_exec_t *e = exec_new(m, id, rec);

  /* Queued work goes first: a new execution only skips the queue when it is empty. */
  m_worker_t *w = m->queue_head ? NULL : pick_worker(m, type, e->slots);
  if (w) {
    assign(m, e, w);
  } else {
    rec_set_str(rec, "pending_reason", pending_reason(m, type, e->slots));
    queue_insert(m, e);
  }
  save_exec(m, e, e->state == M_STATE_DISPATCHED, on_dispatch_durable,
            commit_ctx(m, id, done, ud));
  return e;
}

/* Final state: records it, frees the worker's slots, forgets the execution
 * once stored, and lets queued work take the freed slots. */
static void finish_exec(pgd_master_t *m, m_exec_t *e, m_state_t st, m_durable_cb done, void *ud) {
  set_state(e, st);
  if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e->rec, "finished_us")))
    rec_set_int(e->rec, "finished_us", pgd_now_us());
  release_worker(e);
  commit_ctx_t *c = commit_ctx(m, e->id, done, ud);
  /* Followers of the log see its end only when the final state is stored,
   * so a client that reads the execution next finds it final. */
  c->followers = m_log_detach_followers(e);
  save_exec(m, e, true, on_durable_simple, c);
  exec_free(m, e);
  m_dispatch_pending(m);
}

void m_exec_report_state(pgd_master_t *m, m_worker_t *w, const cJSON *report, m_durable_cb done,
                         void *ud) {
  int64_t id = json_int(report, "execution_id", 0);
  int attempt = (int)json_int(report, "attempt", 0);
  const char *sname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(report, "state"));
  int st = m_state_parse(sname);
  m_exec_t *e = m_exec_find(m, id);
  if (!e || attempt != e->attempt || st < 0 || st == M_STATE_PENDING ||
      st == M_STATE_DISPATCHED || (e->state == M_STATE_PENDING && !e->hold_until_us)) {
    PGD_DEBUG(MOD, "worker %s: ignoring %s report for execution %lld attempt %d", w->id,
              sname ? sname : "(no state)", (long long)id, attempt);
    done(ud, 0);
    return;
  }
  if (e->worker != w && claim_held(m, e, w, attempt)) {
    /* claimed: a held pending execution this worker ran */
  } else if (e->worker != w) {
    /* A recovered execution is claimed by the worker that reports on it. */
    const char *owner = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e->rec, "worker_id"));
    if (e->worker || !owner || strcmp(owner, w->id) != 0) {
      PGD_WARN(MOD, "worker %s reported on execution %lld which belongs to %s; ignored", w->id,
               (long long)id, owner ? owner : "nobody");
      done(ud, 0);
      return;
    }
    e->worker = w;
    w->used += e->slots;
    w->running++;
    e->claim_deadline_us = 0;
  }
  int64_t at = json_int(report, "at_us", pgd_now_us());
  if (st == M_STATE_RUNNING) {
    if (e->state != M_STATE_DISPATCHED) {
      done(ud, 0);
      return;
    }
    set_state(e, M_STATE_RUNNING);
    rec_set_int(e->rec, "started_us", at);
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(report, "pid");
    if (cJSON_IsNumber(pid)) rec_set_int(e->rec, "pid", (int64_t)pid->valuedouble);
    save_exec(m, e, true, on_durable_simple, commit_ctx(m, id, done, ud));
    return;
  }
  /* A final state. */
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(report, "exit_code")) && cJSON_IsNumber(v))
    rec_set_int(e->rec, "exit_code", (int64_t)v->valuedouble);
  if ((v = cJSON_GetObjectItemCaseSensitive(report, "signal")) && cJSON_IsNumber(v))
    rec_set_int(e->rec, "signal", (int64_t)v->valuedouble);
  if ((v = cJSON_GetObjectItemCaseSensitive(report, "error")) && cJSON_IsString(v))
    rec_set_str(e->rec, "error", v->valuestring);
  if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e->rec, "started_us")))
    rec_set_int(e->rec, "started_us", at);
  rec_set_int(e->rec, "finished_us", at);
  finish_exec(m, e, (m_state_t)st, done, ud);
}

int m_exec_kill(pgd_master_t *m, int64_t id, m_durable_cb done, void *ud, char *err,
                size_t errlen) {
  m_exec_t *e = m_exec_find(m, id);
  if (!e) {
    cJSON *rec = pgd_store_get_execution(m->store, id);
    if (!rec) {
      snprintf(err, errlen, "execution %lld not found", (long long)id);
      return -ENOENT;
    }
    snprintf(err, errlen, "execution %lld already finished (%s)", (long long)id,
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "state")));
    cJSON_Delete(rec);
    return -EALREADY;
  }
  e->kill_requested = true;
  if (e->state == M_STATE_PENDING) {
    rec_set_str(e->rec, "error", "killed before it was dispatched");
    finish_exec(m, e, M_STATE_KILLED, done, ud);
    return 0;
  }
  rec_set_int(e->rec, "kill_requested_us", pgd_now_us());
  if (!e->launch_pending) {
    if (e->worker && e->worker->conn) m_rpc_send_kill(m, e);
  }
  done(ud, 0);
  return 0;
}

void m_worker_gone(pgd_master_t *m, m_worker_t *w, const char *why) {
  m_exec_t *e, *tmp;
  HASH_ITER(hh, m->execs, e, tmp) {
    if (e->worker != w) continue;
    char msg[256];
    snprintf(msg, sizeof msg, "worker %s lost: %s", w->id, why);
    rec_set_str(e->rec, "error", msg);
    m_log_note(m, e, "%s", msg);
    if (e->launch_pending) e->launch_pending = false;
    finish_exec(m, e, M_STATE_LOST, NULL, NULL);
  }
}

/* A recovered pending execution that a worker says it runs was launched just
 * before the master stopped, without its dispatch record: it is that
 * worker's. */
static bool claim_held(pgd_master_t *m, m_exec_t *e, m_worker_t *w, int attempt) {
  (void)m;
  if (e->state != M_STATE_PENDING || !e->hold_until_us || e->worker || attempt != e->attempt)
    return false;
  e->hold_until_us = 0;
  e->worker = w;
  w->used += e->slots;
  w->running++;
  set_state(e, M_STATE_DISPATCHED);
  rec_set_str(e->rec, "worker_id", w->id);
  rec_set_int(e->rec, "dispatched_us", pgd_now_us());
  PGD_INFO(MOD, "worker %s claimed pending execution %lld", w->id, (long long)e->id);
  return true;
}

void m_worker_claim_running(pgd_master_t *m, m_worker_t *w, const cJSON *running) {
  m_exec_t *e, *tmp;
  const cJSON *r;
  cJSON_ArrayForEach(r, running) {
    e = m_exec_find(m, json_int(r, "execution_id", 0));
    if (e) claim_held(m, e, w, (int)json_int(r, "attempt", 0));
  }
  HASH_ITER(hh, m->execs, e, tmp) {
    if (e->worker || (e->state != M_STATE_DISPATCHED && e->state != M_STATE_RUNNING)) continue;
    const char *owner = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e->rec, "worker_id"));
    if (!owner || strcmp(owner, w->id) != 0) continue;
    e->worker = w;
    w->used += e->slots;
    w->running++;
    cJSON_ArrayForEach(r, running) {
      if (json_int(r, "execution_id", 0) == e->id && json_int(r, "attempt", 0) == e->attempt)
        e->claim_deadline_us = 0; /* still running there: no deadline */
    }
    PGD_INFO(MOD, "worker %s claimed execution %lld", w->id, (long long)e->id);
  }
}

/* ---- periodic checks ---- */

static void on_tick(uv_timer_t *t) {
  pgd_master_t *m = t->data;
  m_rpc_check_heartbeats(m);
  int64_t now = pgd_now_us();
  m_exec_t *e, *tmp;
  HASH_ITER(hh, m->execs, e, tmp) {
    if (e->hold_until_us && now > e->hold_until_us) {
      e->hold_until_us = 0;
      if (e->state == M_STATE_PENDING && !e->in_queue) queue_insert(m, e);
    }
    if (e->claim_deadline_us && now > e->claim_deadline_us) {
      rec_set_str(e->rec, "error", "no worker claimed this execution after the master restarted");
      m_log_note(m, e, "lost: no worker claimed this execution after the master restarted");
      finish_exec(m, e, M_STATE_LOST, NULL, NULL);
    }
  }
  m_dispatch_pending(m);
}

/* ---- start / stop ---- */

static int mkdir_p(const char *path) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -errno;
    *p = '/';
  }
  if (mkdir(tmp, 0755) < 0 && errno != EEXIST) return -errno;
  return 0;
}

static void recover(pgd_master_t *m) {
  m->next_exec_id = pgd_store_max_execution_id(m->store);
  cJSON *jobs = pgd_store_list_jobs(m->store);
  cJSON *j;
  cJSON_ArrayForEach(j, jobs) m_job_put_cache(m, cJSON_Duplicate(j, 1));
  cJSON_Delete(jobs);

  cJSON *open = pgd_store_list_unfinished_executions(m->store);
  int n = 0;
  int64_t deadline = pgd_now_us() + (int64_t)m->cfg.recovery_grace_ms * 1000;
  cJSON *r;
  cJSON_ArrayForEach(r, open) {
    cJSON *rec = cJSON_Duplicate(r, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(rec, "attempts");
    m_exec_t *e = exec_new(m, json_int(rec, "id", 0), rec);
    e->committed = true;
    if (e->state == M_STATE_PENDING)
      e->hold_until_us = deadline; /* queued after the grace unless a worker claims it */
    else
      e->claim_deadline_us = deadline;
    n++;
  }
  cJSON_Delete(open);
  if (n) PGD_INFO(MOD, "recovered %d unfinished executions from the store", n);
}

int pgd_master_start(uv_loop_t *loop, const pgd_master_config_t *cfg, pgd_registry_t *plugins,
                     pgd_master_t **out, char *err, size_t errlen) {
  pgd_master_t *m = calloc(1, sizeof *m);
  if (!m) return -ENOMEM;
  m->loop = loop;
  m->cfg = *cfg;
  m->plugins = plugins;
  m->epoch = 1;
  m->started_us = pgd_now_us();
  m->data_dir = strdup(cfg->data_dir);
  m->secret = strdup(cfg->secret ? cfg->secret : "");
  m->cfg.data_dir = m->data_dir;
  m->cfg.secret = m->secret;
  size_t ln = strlen(m->data_dir) + 8;
  m->log_dir = malloc(ln);
  snprintf(m->log_dir, ln, "%s/logs", m->data_dir);
  int rc = mkdir_p(m->log_dir);
  if (rc < 0) {
    snprintf(err, errlen, "cannot create data directory %s: %s", m->log_dir, strerror(-rc));
    goto fail;
  }
  char dbpath[4096];
  snprintf(dbpath, sizeof dbpath, "%s/pagoda.db", m->data_dir);
  rc = pgd_store_open_sqlite(loop, dbpath, &m->store, err, errlen);
  if (rc < 0) goto fail;
  recover(m);

  rc = m_rpc_start(m, err, errlen);
  if (rc < 0) goto fail;
  pgd_httpd_opts_t hopts = {.host = cfg->http_host,
                            .port = cfg->http_port,
                            .max_body = cfg->max_body,
                            .static_dir = cfg->static_dir,
                            .handler = m_api_handle,
                            .ud = m};
  rc = pgd_httpd_start(loop, &hopts, &m->httpd, err, errlen);
  if (rc < 0) goto fail;

  uv_timer_init(loop, &m->tick);
  m->tick.data = m;
  int period = cfg->heartbeat_ms / 4;
  if (period < 50) period = 50;
  uv_timer_start(&m->tick, on_tick, (uint64_t)period, (uint64_t)period);
  uv_prepare_init(loop, &m->ack_flush);
  m->ack_flush.data = m;
  *out = m;
  return 0;
fail:
  /* Partial start: handles already started are closed by the caller exiting. */
  PGD_ERROR(MOD, "%s", err);
  return rc < 0 ? rc : -EINVAL;
}

int pgd_master_http_port(const pgd_master_t *m) { return pgd_httpd_port(m->httpd); }
int pgd_master_rpc_port(const pgd_master_t *m) { return pgd_listener_port(m->listener); }

static void free_master(pgd_master_t *m) {
  m_exec_t *e, *etmp;
  HASH_ITER(hh, m->execs, e, etmp) exec_free(m, e);
  m_worker_t *w, *wtmp;
  HASH_ITER(hh, m->workers, w, wtmp) {
    HASH_DEL(m->workers, w);
    cJSON_Delete(w->types);
    cJSON_Delete(w->labels);
    cJSON_Delete(w->load);
    cJSON_Delete(w->pending_acks);
    free(w->id);
    free(w->host);
    free(w->addr);
    free(w);
  }
  m_job_t *j, *jtmp;
  HASH_ITER(hh, m->jobs, j, jtmp) {
    HASH_DEL(m->jobs, j);
    cJSON_Delete(j->def);
    free(j->name);
    free(j);
  }
  void (*cb)(void *) = m->on_stopped;
  void *ud = m->on_stopped_ud;
  free(m->data_dir);
  free(m->secret);
  free(m->log_dir);
  free(m);
  if (cb) cb(ud);
}

static void on_handle_closed(uv_handle_t *h) {
  pgd_master_t *m = h->data;
  if (--m->closing_handles == 0) free_master(m);
}

void m_stop_progress(pgd_master_t *m) {
  if (!m->stopping || !m->store_closed || m->open_conns > 0 || m->closing_handles) return;
  m->closing_handles = 2;
  uv_close((uv_handle_t *)&m->tick, on_handle_closed);
  uv_close((uv_handle_t *)&m->ack_flush, on_handle_closed);
}

static void on_store_flushed(int status, void *ud) {
  pgd_master_t *m = ud;
  (void)status;
  pgd_store_close(m->store);
  m->store = NULL;
  m->store_closed = true;
  m_stop_progress(m);
}

void pgd_master_stop(pgd_master_t *m, void (*on_stopped)(void *ud), void *ud) {
  if (m->stopping) return;
  m->stopping = true;
  m->on_stopped = on_stopped;
  m->on_stopped_ud = ud;
  uv_timer_stop(&m->tick);
  m_rpc_flush_acks(m);
  if (m->httpd) pgd_httpd_stop(m->httpd);
  m->httpd = NULL;
  m_rpc_close_all(m);
  pgd_store_flush(m->store, on_store_flushed, m);
}
