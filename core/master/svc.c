/* Pagoda master — the service interface of master.h for status, jobs,
 * executions and workers: plain data in and out, no HTTP (the REST layer
 * is core/api). Flows are in flows_svc.c, schedules in schedules_svc.c,
 * resources in resources.c, logs in logs.c. Loop thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "master/observers_int.h"
#include "master/exec_int.h"
#include "master/idem_int.h"
#include "master/jobs_int.h"
#include "master/leader_int.h"
#include "master/workers_int.h"
#include "net/conn.h"
#include "script/balancer.h"
#include "master/resources.h"

#define MOD "master"

/* ---- store callback → service callback ---- */

m_done_ctx_t *m_done_ctx(pgd_master_done_cb done, void *ud) {
  m_done_ctx_t *c = malloc(sizeof *c);
  if (!c) abort();
  *c = (m_done_ctx_t){done, ud};
  return c;
}

void m_done_store_cb(int status, void *ud) {
  m_done_ctx_t *c = ud;
  c->done(c->ud, status);
  free(c);
}

/* ---- status ---- */

bool pgd_master_is_leader(const pgd_master_t *m) { return m->leader; }
bool pgd_master_is_stopping(const pgd_master_t *m) { return m->stopping; }
const char *pgd_master_leader_http(const pgd_master_t *m) { return m_ha_leader_http(m); }
cJSON *pgd_master_cluster(const pgd_master_t *m) { return m_ha_cluster_json(m); }
cJSON *pgd_master_plugins(const pgd_master_t *m) { return pgd_registry_to_json(m->plugins); }
cJSON *pgd_master_balancers(const pgd_master_t *m) { return pgd_balancers_to_json(m->balancers); }

struct pgd_store *pgd_master_store(pgd_master_t *m) { return m->store; }

cJSON *pgd_master_health(const pgd_master_t *m) {
  cJSON *o = cJSON_CreateObject();
  char reason[256];
  if (pgd_store_health(m->store, reason, sizeof reason) < 0) {
    /* Writes fail (disk full, lost database): they are retried, and new
     * executions and definitions are refused until the store writes again. */
    cJSON_AddStringToObject(o, "status", "degraded");
    cJSON_AddStringToObject(o, "reason", reason);
  } else {
    cJSON_AddStringToObject(o, "status", "ok");
  }
  cJSON_AddStringToObject(o, "version", PAGODA_VERSION);
  cJSON_AddStringToObject(o, "role", m->leader ? "leader" : "standby");
  cJSON_AddStringToObject(o, "store", pgd_store_backend(m->store));
  cJSON_AddNumberToObject(o, "epoch", (double)m->epoch);
  cJSON_AddNumberToObject(o, "rpc_port", pgd_listener_port(m->listener));
  cJSON_AddNumberToObject(o, "uptime_s", (double)(pgd_now_us() - m->started_us) / 1e6);
  return o;
}

bool pgd_master_error_is_unavailable(int status) {
  return status < 0 && pgd_store_error_is_resource(status);
}

/* ---- jobs ---- */

cJSON *pgd_master_jobs_list(pgd_master_t *m) {
  cJSON *list = pgd_store_list_jobs(m->store);
  m_job_mask_secrets(list);
  return list ? list : cJSON_CreateArray();
}

cJSON *pgd_master_job_get(pgd_master_t *m, const char *name) {
  cJSON *job = pgd_store_get_job(m->store, name);
  m_job_mask_secrets(job);
  return job;
}

bool pgd_master_job_exists(pgd_master_t *m, const char *name) {
  return m_job_find(m, name) != NULL;
}

/* A definition change reaches the in-memory cache only once it is durable,
 * so that a write the store refused leaves no trace (the run path reads the
 * cache). Fail-fast: a full disk is answered, not retried. */
typedef struct job_write {
  pgd_master_t *m;
  cJSON *job;  /* define: the normalised job (owned); delete: NULL */
  char *name;  /* delete: the job's name */
  pgd_master_done_cb done;
  void *ud;
} job_write_t;

static void job_write_done(int status, void *ud) {
  job_write_t *w = ud;
  if (status == 0 && w->job) {
    m_job_put_cache(w->m, w->job);
    w->job = NULL;
  } else if (status == 0) {
    m_job_remove_cache(w->m, w->name);
  }
  w->done(w->ud, status);
  cJSON_Delete(w->job);
  free(w->name);
  free(w);
}

static job_write_t *job_write(pgd_master_t *m, cJSON *job, const char *name,
                              pgd_master_done_cb done, void *ud) {
  job_write_t *w = calloc(1, sizeof *w);
  if (!w || (name && !(w->name = strdup(name)))) abort();
  w->m = m;
  w->job = job;
  w->done = done;
  w->ud = ud;
  return w;
}

int pgd_master_job_define(pgd_master_t *m, const cJSON *in, cJSON **normalised, bool *created,
                          pgd_master_done_cb done, void *ud, char *err, size_t errlen) {
  /* A replace may send back the "***" it read for a secret: keep the value. */
  const char *in_name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "name"));
  const m_job_t *old = in_name ? m_job_find(m, in_name) : NULL;
  cJSON *unmasked = m_job_unmask_secrets(in, old ? old->def : NULL, err, errlen);
  if (!unmasked) return -EINVAL;
  cJSON *job = m_job_normalise(m, unmasked, err, errlen);
  cJSON_Delete(unmasked);
  if (!job) return -EINVAL;
  const char *name = cJSON_GetObjectItemCaseSensitive(job, "name")->valuestring;
  *created = m_job_find(m, name) == NULL;
  *normalised = cJSON_Duplicate(job, 1);
  m_job_mask_secrets(*normalised);
  job_write_t *w = job_write(m, job, NULL, done, ud);
  bool was = pgd_store_fail_fast(m->store, true);
  int rc = pgd_store_put_job(m->store, job, job_write_done, w);
  pgd_store_fail_fast(m->store, was);
  if (rc < 0) job_write_done(rc, w); /* a refused write never calls back: done once, here */
  return 0;
}

int pgd_master_job_delete(pgd_master_t *m, const char *name, pgd_master_done_cb done, void *ud) {
  if (!m_job_find(m, name)) return -ENOENT;
  job_write_t *w = job_write(m, NULL, name, done, ud);
  bool was = pgd_store_fail_fast(m->store, true);
  int rc = pgd_store_delete_job(m->store, name, job_write_done, w);
  pgd_store_fail_fast(m->store, was);
  if (rc < 0) job_write_done(rc, w);
  return 0;
}

int pgd_master_job_run(pgd_master_t *m, const char *name, const cJSON *params,
                       const char *trigger, int64_t *exec_id, pgd_exec_state_t *state,
                       pgd_master_done_cb done, void *ud, char *err, size_t errlen) {
  bool replayed;
  return pgd_master_job_run_keyed(m, name, params, trigger, NULL, exec_id, state, &replayed, done,
                                  ud, err, errlen);
}

int pgd_master_job_run_keyed(pgd_master_t *m, const char *name, const cJSON *params,
                             const char *trigger, const char *key, int64_t *exec_id,
                             pgd_exec_state_t *state, bool *replayed, pgd_master_done_cb done,
                             void *ud, char *err, size_t errlen) {
  *replayed = false;
  m_job_t *j = m_job_find(m, name);
  if (!j) return pgd_set_err(err, errlen, -ENOENT, "job '%s' not found", name);
  cJSON *extra = NULL;
  if (key) {
    char fp[17];
    m_idem_fingerprint(name, params, fp);
    int rc = m_idem_lookup(m, key, fp, exec_id, state, err, errlen);
    if (rc < 0) return rc;
    if (rc == 1) {
      *replayed = true;
      done(ud, 0);
      return 0;
    }
    extra = cJSON_CreateObject();
    cJSON_AddStringToObject(extra, "idempotency_key", key);
    cJSON_AddStringToObject(extra, "idempotency_fingerprint", fp);
  }
  /* The job's resources may have been deleted since it was stored. */
  if (!m_resources_check(m, j->def, err, errlen)) {
    cJSON_Delete(extra);
    return -EINVAL;
  }
  m_exec_t *e = m_exec_submit(m, j->def, params, trigger, done, ud, err, errlen, extra);
  cJSON_Delete(extra);
  if (!e) return -EINVAL;
  *exec_id = e->id;
  *state = e->state;
  return 0;
}

/* ---- executions ---- */

static int cmp_id_desc(const void *a, const void *b) {
  int64_t x = pgd_json_int(*(const cJSON *const *)a, "id", 0);
  int64_t y = pgd_json_int(*(const cJSON *const *)b, "id", 0);
  return x < y ? 1 : x > y ? -1 : 0;
}

/* The store's rows, with the in-memory record of every execution the master
 * still holds (fresher: a final state may not be durable yet). A state filter
 * is applied to that fresher state, so an execution whose final record is
 * still in the writer's queue is listed under the state a single read shows,
 * not under the stale stored one. */
static int cmp_exec_id_desc(const void *a, const void *b) {
  int64_t x = (*(m_exec_t *const *)a)->id, y = (*(m_exec_t *const *)b)->id;
  return x < y ? 1 : x > y ? -1 : 0;
}

cJSON *pgd_master_execs_list(pgd_master_t *m, const char *job, const char *state, int limit,
                             int64_t before_id) {
  cJSON *list = pgd_store_list_executions(m->store, job, state, limit, before_id);
  int want = state ? pgd_exec_state_parse(state) : -1;
  /* In-memory executions whose fresh state matches but whose stored row
   * may not (yet): only the newest `limit` of them can be on this page,
   * so they are chosen before anything is copied. */
  m_exec_t **mem = NULL;
  size_t nmem = 0;
  if (want >= 0) {
    mem = calloc(HASH_COUNT(m->execs) + 1, sizeof *mem);
    if (!mem) abort();
    for (m_exec_t *e = m->execs; e; e = e->hh.next) {
      if ((int)e->state != want || (before_id > 0 && e->id >= before_id)) continue;
      const char *ejob = pgd_json_str(e->rec, "job");
      if (job && (!ejob || strcmp(job, ejob) != 0)) continue;
      mem[nmem++] = e;
    }
    qsort(mem, nmem, sizeof *mem, cmp_exec_id_desc);
    if (limit > 0 && nmem > (size_t)limit) nmem = (size_t)limit;
  }
  size_t cap = (size_t)cJSON_GetArraySize(list) + nmem + 1, n = 0;
  cJSON **rows = calloc(cap, sizeof *rows);
  if (!rows) abort();
  for (cJSON *r = list ? list->child : NULL, *next; r; r = next) {
    next = r->next;
    m_exec_t *e = m_exec_find(m, pgd_json_int(r, "id", 0));
    if (e && want >= 0 && (int)e->state != want) continue; /* stale stored state */
    /* The stored row itself unless the master holds a fresher record. */
    rows[n++] = e ? cJSON_Duplicate(e->rec, 1) : cJSON_DetachItemViaPointer(list, r);
  }
  size_t stored = n;
  for (size_t k = 0; k < nmem; k++) {
    bool listed = false;
    for (size_t i = 0; i < stored && !listed; i++) listed = pgd_json_int(rows[i], "id", 0) == mem[k]->id;
    if (!listed) rows[n++] = cJSON_Duplicate(mem[k]->rec, 1);
  }
  free(mem);
  qsort(rows, n, sizeof *rows, cmp_id_desc);
  cJSON *arr = cJSON_CreateArray();
  for (size_t i = 0; i < n; i++) {
    if (limit > 0 && (int)i >= limit) {
      cJSON_Delete(rows[i]);
      continue;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(rows[i], "definition");
    cJSON_AddItemToArray(arr, rows[i]);
  }
  free(rows);
  cJSON_Delete(list);
  return arr;
}

/* The current record of one execution: memory for unfinished ones (fresher),
 * the store for the rest and for attempt history. */
cJSON *pgd_master_exec_get(pgd_master_t *m, int64_t id) {
  cJSON *stored = pgd_store_get_execution(m->store, id);
  m_job_mask_secrets(stored);
  m_exec_t *e = m_exec_find(m, id);
  if (!e) return stored;
  cJSON *rec = cJSON_Duplicate(e->rec, 1);
  cJSON *attempts = stored ? cJSON_DetachItemFromObjectCaseSensitive(stored, "attempts") : NULL;
  cJSON_Delete(stored);
  if (!attempts) attempts = cJSON_CreateArray();
  /* The current attempts as the master knows them now: their rows may not
   * be durable yet (the final one of a finishing execution, say). */
  for (int i = 0; i < e->n_tasks; i++) {
    const cJSON *cur = e->tasks[i]->attempt_rec;
    if (!cur) continue;
    double no = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cur, "attempt"));
    int idx = 0, found = -1;
    const cJSON *a;
    cJSON_ArrayForEach(a, attempts) {
      if (cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "attempt")) == no) found = idx;
      idx++;
    }
    if (found >= 0)
      cJSON_ReplaceItemInArray(attempts, found, cJSON_Duplicate(cur, 1));
    else
      cJSON_AddItemToArray(attempts, cJSON_Duplicate(cur, 1));
  }
  cJSON_AddItemToObject(rec, "attempts", attempts);
  m_job_mask_secrets(rec); /* the definition snapshot */
  return rec;
}

int pgd_master_exec_kill(pgd_master_t *m, int64_t id, pgd_master_done_cb done, void *ud,
                         char *err, size_t errlen) {
  return m_exec_kill(m, id, done, ud, err, errlen);
}

/* ---- workers ---- */

cJSON *pgd_master_workers_list(pgd_master_t *m) {
  if (!m->leader) {
    /* A standby knows the workers the store has seen, not their state. */
    cJSON *list = pgd_store_list_workers(m->store);
    return list ? list : cJSON_CreateArray();
  }
  cJSON *arr = cJSON_CreateArray();
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) cJSON_AddItemToArray(arr, m_worker_to_json(m, w));
  return arr;
}

cJSON *pgd_master_worker_get(pgd_master_t *m, const char *id) {
  m_worker_t *w = NULL;
  HASH_FIND_STR(m->workers, id, w);
  return w ? m_worker_to_json(m, w) : NULL;
}

int pgd_master_worker_drain(pgd_master_t *m, const char *id, bool drain) {
  m_worker_t *w = NULL;
  HASH_FIND_STR(m->workers, id, w);
  if (!w) return -ENOENT;
  if (w->draining != drain)
    PGD_INFO("api", "worker %s %s", w->id, drain ? "draining: it takes no new work" : "undrained");
  bool changed = w->draining != drain;
  w->draining = drain;
  m->workers_generation++;
  if (changed) m_worker_record(m, w, w->conn != NULL); /* standbys show the state */
  if (changed && m_observers_want_events(m))
    m_observers_event_item(m, PGD_MASTER_EVENT_WORKER, drain ? "drained" : "undrained", "worker",
                           m_worker_to_json(m, w));
  if (!drain) m_dispatch_pending(m);
  return 0;
}
