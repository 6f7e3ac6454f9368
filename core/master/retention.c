/* Pagoda master — retention: the incremental cleanup of old executions
 * (docs/operations.md "Retention").
 *
 * Policy: an execution is deleted (with its attempts, log and idempotency
 * key) when it is final and either older than `days` or beyond the newest
 * `keep_last` final executions of its job. A job's `retention` object
 * ({"days": N, "keep_last": N}) overrides each of the cluster's settings
 * (master.retention.days / keep_last) it names; 0 means "keep".
 *
 * Never stalling the master: at most one BATCH per interval (default 1 s),
 * started by the leader's tick: the reads (at most `batch` rows by id, and
 * one job's rows beyond its last N) run on the libuv thread pool (store
 * reads are thread-safe), then, back on the loop, the rows are checked
 * against the policies and the deletions are queued to the store's writer
 * (the loop does not wait for them); no new batch starts before the
 * previous one is durable. Executions are scanned by id from a
 * cursor; ids grow with submission time, so a pass stops at the first row
 * younger than every policy and starts again from the oldest next time.
 * Loop thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "common/clock.h"
#include "common/exec_state.h"
#include "common/log.h"
#include "master/exec_int.h"
#include "master/jobs_int.h"
#include "master/logs_int.h"
#include "master/resources.h"
#include "master/retention_int.h"
#include "master/schedules.h"
#include "master/storage.h"
#include "store/store_logs.h"

#define MOD "retention"
#define DAY_US (86400LL * 1000000LL)

struct m_retention {
  uv_work_t work;    /* the batch's reads, on the thread pool */
  bool working;      /* work queued, its after-callback not run yet */
  pgd_store_t *store; /* the store the work reads (open while working) */
  int64_t scan_after; /* work input: the cursor */
  int scan_limit;     /* work input: 0 = no scan this batch */
  char *job;          /* work input: the job for keep_last (owned), NULL = none */
  int keep, limit;
  char *sched;        /* work input: the schedule whose run records are looked at (owned) */
  char runs_before[320]; /* work input: run record ids below this are older than `days` */
  cJSON *scanned, *beyond; /* work output (owned) */
  cJSON *old_runs, *newest_run; /* work output: that schedule's old records, its newest (owned) */
  int64_t work_started_us;
  void (*after_close)(int, void *); /* pgd_master_stop waits for the work */
  void *after_close_ud;
  pgd_master_t *m;
  int64_t next_us;   /* the next batch not before this */
  int64_t cursor;    /* scan position: the last id looked at */
  int64_t pass_start_us;
  size_t job_turn;   /* keep_last: round robin over the jobs */
  size_t resource_turn; /* resource versions: round robin over the resources */
  size_t sched_turn;    /* schedule run records: round robin over the schedules */
  int inflight;      /* deletions queued, not yet durable */
  m_retention_stats_t stats;
};

typedef struct {
  pgd_master_t *m;
  int64_t id;
  int attempts;
  pgd_master_done_cb done;
  void *ud;
  bool by_retention;
} del_ctx_t;

static m_retention_t *state(pgd_master_t *m) {
  if (!m->retention) {
    m->retention = calloc(1, sizeof *m->retention);
    if (!m->retention) abort();
  }
  return m->retention;
}

void m_retention_free(pgd_master_t *m) {
  if (m->retention) {
    free(m->retention->job);
    free(m->retention->sched);
  }
  free(m->retention);
  m->retention = NULL;
}

void m_retention_stats(pgd_master_t *m, m_retention_stats_t *out) { *out = state(m)->stats; }

static void deleted(int status, void *ud) {
  del_ctx_t *d = ud;
  m_retention_t *r = state(d->m);
  if (d->by_retention) r->inflight--;
  if (status == 0) {
    if (!m_log_shared_enabled(d->m)) m_log_remove_files(d->m, d->id, d->attempts);
    if (d->by_retention) r->stats.deleted++;
    else r->stats.api_deleted++;
  } else {
    PGD_WARN(MOD, "execution %lld not deleted: %s", (long long)d->id, strerror(-status));
  }
  if (d->done) d->done(d->ud, status);
  free(d);
}

static int delete_one(pgd_master_t *m, int64_t id, int attempts, bool by_retention,
                      pgd_master_done_cb done, void *ud) {
  del_ctx_t *d = calloc(1, sizeof *d);
  if (!d) abort();
  *d = (del_ctx_t){m, id, attempts, done, ud, by_retention};
  int rc = pgd_store_delete_execution(m->store, id, deleted, d);
  if (rc < 0) {
    free(d);
    return rc;
  }
  if (by_retention) state(m)->inflight++;
  return 0;
}

int pgd_master_exec_delete(pgd_master_t *m, int64_t id, pgd_master_done_cb done, void *ud,
                           char *err, size_t errlen) {
  if (m_exec_find(m, id)) {
    snprintf(err, errlen, "execution %lld is not final yet: kill it first", (long long)id);
    return -EBUSY;
  }
  cJSON *rec = pgd_store_get_execution(m->store, id);
  if (!rec) {
    snprintf(err, errlen, "execution %lld not found", (long long)id);
    return -ENOENT;
  }
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "state"));
  int st = pgd_exec_state_parse(s);
  int attempts = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rec, "attempt"));
  if (st < 0 || !pgd_exec_state_final((pgd_exec_state_t)st)) {
    snprintf(err, errlen, "execution %lld is %s, not final: kill it first", (long long)id,
             s ? s : "in an unknown state");
    cJSON_Delete(rec);
    return -EBUSY;
  }
  cJSON_Delete(rec);
  int rc = delete_one(m, id, attempts, false, done, ud);
  if (rc < 0) snprintf(err, errlen, "the store refused the deletion: %s", strerror(-rc));
  return rc;
}

/* The job's own setting `key` of its `retention` object, else `fallback`. */
static int policy(pgd_master_t *m, const char *job, const char *key, int fallback) {
  m_job_t *j = NULL;
  if (job) HASH_FIND_STR(m->jobs, job, j);
  if (!j) return fallback;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(j->def, "retention"), key);
  return cJSON_IsNumber(v) ? (int)v->valuedouble : fallback;
}

static bool row_final(const cJSON *row) {
  int st = pgd_exec_state_parse(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "state")));
  return st >= 0 && pgd_exec_state_final((pgd_exec_state_t)st);
}

static double num(const cJSON *o, const char *k) {
  return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* The smallest `days` of any policy (cluster or job), 0 when none. */
static int min_days(pgd_master_t *m) {
  int best = m->cfg.retention_days;
  m_job_t *j, *tmp;
  HASH_ITER(hh, m->jobs, j, tmp) {
    int d = policy(m, j->name, "days", m->cfg.retention_days);
    if (d > 0 && (best <= 0 || d < best)) best = d;
  }
  return best;
}

/* Days: the rows read from the cursor on. */
static void days_apply(pgd_master_t *m, m_retention_t *r, const cJSON *rows, int64_t now) {
  int shortest = min_days(m);
  if (shortest <= 0 || !rows) return;
  bool pass_done = cJSON_GetArraySize(rows) < r->scan_limit;
  const cJSON *row;
  cJSON_ArrayForEach(row, rows) {
    int64_t id = (int64_t)num(row, "id");
    int64_t sub = (int64_t)num(row, "submitted_us");
    if (sub >= now - (int64_t)shortest * DAY_US) { /* younger than every policy */
      pass_done = true;
      break;
    }
    r->cursor = id;
    const char *job = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "job"));
    int days = policy(m, job, "days", m->cfg.retention_days);
    if (days <= 0 || sub >= now - (int64_t)days * DAY_US) continue;
    if (!row_final(row) || m_exec_find(m, id)) continue;
    delete_one(m, id, (int)num(row, "attempt"), true, NULL, NULL);
  }
  if (pass_done) {
    r->cursor = 0;
    r->stats.passes++;
  }
}

/* keep_last: the job whose turn it is (round robin), or NULL. */
static const char *keep_last_job(pgd_master_t *m, m_retention_t *r, int *keep) {
  unsigned n = HASH_COUNT(m->jobs);
  for (unsigned tries = 0; tries < n; tries++) {
    size_t k = r->job_turn++ % n;
    m_job_t *j = m->jobs;
    for (size_t i = 0; i < k && j; i++) j = j->hh.next;
    if (!j) continue;
    *keep = policy(m, j->name, "keep_last", m->cfg.retention_keep_last);
    if (*keep > 0) return j->name;
  }
  return NULL;
}

/* Thread pool: the reads of the batch. */
static void batch_work(uv_work_t *w) {
  m_retention_t *r = w->data;
  if (r->scan_limit > 0) r->scanned = pgd_store_scan_executions(r->store, r->scan_after, r->scan_limit);
  if (r->job) r->beyond = pgd_store_executions_beyond(r->store, r->job, r->keep, r->limit);
  if (r->sched) {
    /* ids are "<name>:<16-digit fire µs>", listed newest first: below
     * runs_before are the records older than the window */
    r->newest_run = pgd_store_list_docs(r->store, M_SCHED_RUN_DOC, r->sched, NULL, 1, NULL);
    r->old_runs = pgd_store_list_docs(r->store, M_SCHED_RUN_DOC, r->sched, NULL, r->limit,
                                      r->runs_before);
  }
}

static void run_deleted(int status, void *ud) {
  pgd_master_t *m = ud;
  m_retention_t *r = state(m);
  r->inflight--;
  if (status == 0) r->stats.runs_deleted++;
  else PGD_WARN(MOD, "a schedule run record was not deleted: %s", strerror(-status));
}

/* A run record's id, "<schedule>:<16-digit fire µs>" (schedules.h), into buf. */
static bool run_id(const cJSON *doc, char *buf, size_t len) {
  const char *sched = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "schedule"));
  const cJSON *fire = cJSON_GetObjectItemCaseSensitive(doc, "fire_us");
  if (!sched || !cJSON_IsNumber(fire)) return false;
  snprintf(buf, len, "%s:%016lld", sched, (long long)fire->valuedouble);
  return true;
}

/* Schedule run records: those the work found older than `days`, except the
 * schedule's newest one (its catch-up after a restart starts from it). */
static void runs_apply(pgd_master_t *m, m_retention_t *r) {
  char newest[320], id[320];
  if (!run_id(cJSON_GetArrayItem(r->newest_run, 0), newest, sizeof newest)) return;
  const cJSON *doc;
  cJSON_ArrayForEach(doc, r->old_runs) {
    if (!run_id(doc, id, sizeof id) || strcmp(id, newest) == 0) continue;
    if (pgd_store_delete_doc(m->store, M_SCHED_RUN_DOC, id, run_deleted, m) == 0) r->inflight++;
  }
}

/* The schedule whose run records this batch looks at (round robin), or
 * NULL (no schedule, or the cluster keeps everything). */
static const char *runs_schedule(pgd_master_t *m, m_retention_t *r) {
  if (m->cfg.retention_days <= 0 || !m->sched) return NULL;
  unsigned n = HASH_COUNT(m->sched->items);
  if (n == 0) return NULL;
  size_t k = r->sched_turn++ % n;
  m_sched_item_t *s = m->sched->items;
  for (size_t i = 0; i < k && s; i++) s = s->hh.next;
  return s ? s->name : NULL;
}

static void batch_after(uv_work_t *w, int status) {
  (void)status;
  m_retention_t *r = w->data;
  pgd_master_t *m = r->m;
  r->working = false;
  if (m->leader && !m->stopping && m->store) {
    int64_t t0 = pgd_now_us();
    days_apply(m, r, r->scanned, t0);
    const cJSON *row;
    cJSON_ArrayForEach(row, r->beyond) {
      int64_t id = (int64_t)num(row, "id");
      if (!m_exec_find(m, id)) delete_one(m, id, (int)num(row, "attempt"), true, NULL, NULL);
    }
    runs_apply(m, r);
    m_retention_resources(m);
    int64_t held = pgd_now_us() - t0;
    if (held > r->stats.batch_us_max) r->stats.batch_us_max = held;
  }
  cJSON_Delete(r->scanned);
  cJSON_Delete(r->beyond);
  cJSON_Delete(r->old_runs);
  cJSON_Delete(r->newest_run);
  r->scanned = r->beyond = r->old_runs = r->newest_run = NULL;
  free(r->job);
  free(r->sched);
  r->job = r->sched = NULL;
  if (r->after_close) {
    void (*cb)(int, void *) = r->after_close;
    r->after_close = NULL;
    cb(0, r->after_close_ud);
  }
}

bool m_retention_defer_close(pgd_master_t *m, void (*cb)(int status, void *ud), void *ud) {
  if (!m->retention || !m->retention->working) return false;
  m->retention->after_close = cb;
  m->retention->after_close_ud = ud;
  return true;
}

void m_retention_tick(pgd_master_t *m) {
  if (!m->leader || m->stopping || !m->store) return;
  m_retention_t *r = state(m);
  int64_t now = pgd_now_us();
  if (now < r->next_us || r->inflight > 0) return;
  if (r->working) return;
  int interval = m->cfg.retention_interval_ms > 0 ? m->cfg.retention_interval_ms : 1000;
  r->next_us = now + (int64_t)interval * 1000;
  int batch = m->cfg.retention_batch > 0 ? m->cfg.retention_batch : 500;
  r->m = m;
  r->store = m->store;
  r->scan_after = r->cursor;
  r->scan_limit = min_days(m) > 0 ? batch : 0;
  int keep = 0;
  const char *job = keep_last_job(m, r, &keep);
  r->job = job ? strdup(job) : NULL;
  r->keep = keep;
  r->limit = batch;
  const char *sched = runs_schedule(m, r);
  r->sched = sched ? strdup(sched) : NULL;
  if (sched)
    snprintf(r->runs_before, sizeof r->runs_before, "%s:%016lld", sched,
             (long long)(now - (int64_t)m->cfg.retention_days * DAY_US));
  if (r->scan_limit == 0 && !r->job && !r->sched) {
    m_retention_resources(m);
    return;
  }
  r->work.data = r;
  if (uv_queue_work(m->loop, &r->work, batch_work, batch_after) == 0) {
    r->working = true;
  } else {
    free(r->job);
    free(r->sched);
    r->job = r->sched = NULL;
  }
}

/* ---- retention of versions ------------------------------------------------ */

static void version_removed(void *ud, int status) {
  (void)ud;
  if (status < 0) PGD_WARN(MOD, "retention: a resource version was not removed: %s", strerror(-status));
}

/* True when some job names `name@hash` exactly. */
static bool version_pinned(pgd_master_t *m, const char *name, const char *hash) {
  cJSON *jobs = pgd_store_list_jobs(m->store);
  bool pinned = jobs == NULL; /* on a read error keep it */
  const cJSON *j;
  cJSON_ArrayForEach(j, jobs) {
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(j, "resources")) {
      char n[136], h[65];
      if (cJSON_IsString(r) && m_resources_parse_spec(r->valuestring, n, sizeof n, h) &&
          strcmp(n, name) == 0 && strcmp(h, hash) == 0)
        pinned = true;
    }
  }
  cJSON_Delete(jobs);
  return pinned;
}

void m_retention_resources(pgd_master_t *m) {
  int keep = m->cfg.retention_resource_versions;
  if (keep <= 0) return;
  size_t turn = state(m)->resource_turn++; /* round robin over the resources */
  cJSON *all = pgd_store_list_docs(m->store, "resource", NULL, NULL, 0, NULL);
  int n = cJSON_GetArraySize(all);
  if (n > 0) {
    const cJSON *doc = cJSON_GetArrayItem(all, (int)(turn % (size_t)n));
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "name"));
    const cJSON *versions = cJSON_GetObjectItemCaseSensitive(doc, "versions");
    int nv = cJSON_GetArraySize(versions);
    /* versions are in upload order: the newest `keep` are the last ones */
    for (int i = 0; name && i < nv - keep; i++) {
      const char *h = cJSON_GetStringValue(
          cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(versions, i), "hash"));
      if (!h || version_pinned(m, name, h)) continue;
      cJSON *answer = NULL;
      char err[256];
      if (pgd_master_resource_delete(m, name, h, &answer, version_removed, NULL, err, sizeof err) == 0)
        PGD_INFO(MOD, "retention: resource %s version %.12s removed", name, h);
      cJSON_Delete(answer);
      break; /* one per batch: the document changed */
    }
  }
  cJSON_Delete(all);
}
