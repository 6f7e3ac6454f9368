/* Pagoda master — lifecycle: start, recovery from the store, the periodic
 * tick, stop. See master_int.h for the map of the master's files. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/log.h"
#include "master/exec_int.h"
#include "master/idem_int.h"
#include "master/jobs_int.h"
#include "master/leader_int.h"
#include "master/logs_int.h"
#include "master/retention_int.h"
#include "master/observers_int.h"
#include "master/workers_int.h"
#include "net/conn.h"
#include "script/balancer.h"
#include "master/metrics_int.h"
#include "master/resources.h"

#define MOD "master"

void pgd_master_config_defaults(pgd_master_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->data_dir = "pagoda-data";
  cfg->http_host = "127.0.0.1";
  cfg->http_port = 0; /* set by whoever serves the API (core/api) */
  cfg->rpc_host = "127.0.0.1";
  cfg->rpc_port = 7081;
  cfg->secret = "";
  cfg->heartbeat_ms = 1000;
  cfg->lost_after_missed = 3;
  cfg->kill_grace_ms = 5000;
  cfg->recovery_grace_ms = 5000;
  cfg->rpc_hello_timeout_ms = 10000;
  cfg->upload_max_concurrent = 4;
  cfg->upload_max_inflight_bytes = 1LL << 30;
  cfg->balancer_default = "least_loaded";
  cfg->ha_cluster = "default";
  cfg->ha_session_ms = 10000;
  cfg->retention_interval_ms = 1000;
  cfg->retention_batch = 500;
  cfg->store_group_window_us = -1;
}

/* ---- periodic checks ---- */

static void on_tick(uv_timer_t *t) {
  pgd_master_t *m = t->data;
  m_rpc_check_heartbeats(m);
  m_exec_tick(m);
  m_idem_expire(m);
  m_log_tick(m);         /* log bytes waiting for the shared store */
  m_retention_tick(m);   /* one cleanup batch per interval, leader only */
}

/* ---- start / stop ---- */

/* Creates `path` and its missing parents. Parents get 0755 (they may be
 * shared, e.g. /var/lib/pagoda); the directories from `private_from` on
 * (the data directory and what is under it) get 0700: the store, the logs
 * and the resources are nobody else's business (docs/security.md). */
static int mkdir_p(const char *path, size_t private_from) {
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s", path);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, (size_t)(p - tmp) >= private_from ? 0700 : 0755) < 0 && errno != EEXIST)
      return -errno;
    *p = '/';
  }
  if (mkdir(tmp, 0700) < 0 && errno != EEXIST) return -errno;
  return 0;
}

/* An existing data directory that others may read or enter is said once at
 * start; its mode is the operator's to change. */
static void warn_if_open(const char *dir) {
  struct stat st;
  if (stat(dir, &st) == 0 && (st.st_mode & 077))
    PGD_WARN(MOD, "data directory %s has mode %04o: other users may read the store and logs; "
                  "chmod 700 it (docs/security.md, \"Files and permissions\")",
             dir, (unsigned)(st.st_mode & 07777));
}

/* Jobs into the cache; unfinished executions back into memory: pending
 * tasks are held, and dispatched/running ones wait for their worker, for
 * recovery_grace_ms (a worker reconnecting claims them; see exec.c). */
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
    m_exec_recover(m, r, deadline);
    n++;
  }
  cJSON_Delete(open);
  if (n) PGD_INFO(MOD, "recovered %d unfinished executions from the store", n);
  m_recovery_begin(m); /* the grace ends once the workers it waits for are back */
}

static void free_master(pgd_master_t *m);

int pgd_master_start(uv_loop_t *loop, const pgd_master_config_t *cfg, pgd_registry_t *plugins,
                     pgd_master_t **out, char *err, size_t errlen) {
  pgd_master_t *m = calloc(1, sizeof *m);
  if (!m) return -ENOMEM;
  m->loop = loop;
  m->cfg = *cfg;
  m->plugins = plugins;
  m->epoch = 1;
  m->started_us = pgd_now_us();
  /* Execution observers, in the order they must hear of a change: a node's
   * end drives its flow before its schedule re-arms (as before the list). */
  m_flows_subscribe(m);
  m_sched_subscribe(m);
  m->data_dir = strdup(cfg->data_dir);
  m->secret = strdup(cfg->secret ? cfg->secret : "");
  m->resource_token = cfg->resource_token ? strdup(cfg->resource_token) : NULL;
  m->cfg.resource_token = m->resource_token;
  m->cfg.data_dir = m->data_dir;
  m->cfg.secret = m->secret;
  size_t ln = strlen(m->data_dir) + 8;
  m->log_dir = malloc(ln);
  snprintf(m->log_dir, ln, "%s/logs", m->data_dir);
  size_t dl = strlen(m->data_dir);
  while (dl > 1 && m->data_dir[dl - 1] == '/') dl--;
  int rc = mkdir_p(m->log_dir, dl);
  if (rc < 0) {
    snprintf(err, errlen, "cannot create data directory %s: %s", m->log_dir, strerror(-rc));
    goto fail_early;
  }
  warn_if_open(m->data_dir);
  if (cfg->store_postgres && *cfg->store_postgres) {
    rc = pgd_store_open_postgres(loop, cfg->store_postgres, &m->store, err, errlen);
  } else {
    char dbpath[4096];
    snprintf(dbpath, sizeof dbpath, "%s/pagoda.db", m->data_dir);
    rc = pgd_store_open_sqlite(loop, dbpath, &m->store, err, errlen);
  }
  if (rc < 0) goto fail_early;
  if (cfg->store_group_window_us >= 0)
    pgd_store_set_group_window(m->store, cfg->store_group_window_us, 0);
  /* Logs and resource contents go where every master reads them: the
   * store when it is shared (PostgreSQL), local files with SQLite. */
  if (strcmp(pgd_store_backend(m->store), "postgresql") == 0 &&
      m_log_shared_init(m, cfg->log_max_pending_bytes) < 0) {
    snprintf(err, errlen, "out of memory");
    rc = -ENOMEM;
    goto fail_early;
  }
  bool ha = cfg->ha_zookeeper && *cfg->ha_zookeeper;
  if (ha && strcmp(pgd_store_backend(m->store), "sqlite") == 0) {
    snprintf(err, errlen,
             "high availability needs a store the masters share: set store.postgres "
             "(--store-postgres), not the embedded SQLite database");
    rc = -EINVAL;
    goto fail_early;
  }

  rc = pgd_balancers_open(loop, cfg->balancer_dir ? cfg->balancer_dir : "",
                          cfg->balancer_default, &m->balancers, err, errlen);
  if (rc < 0) goto fail_early;
  if (cfg->balancer_instructions > 0 || cfg->balancer_call_memory > 0)
    pgd_balancers_set_limits(m->balancers, cfg->balancer_instructions,
                             (size_t)(cfg->balancer_call_memory > 0 ? cfg->balancer_call_memory : 0));
  if (cfg->balancer_inline) pgd_balancers_set_script_thread(m->balancers, 0);

  rc = m_rpc_start(m, err, errlen);
  if (rc < 0) goto fail_early;

  uv_timer_init(loop, &m->tick);
  m->tick.data = m;
  int period = cfg->heartbeat_ms / 4;
  if (period < 50) period = 50;
  uv_timer_start(&m->tick, on_tick, (uint64_t)period, (uint64_t)period);
  uv_prepare_init(loop, &m->ack_flush);
  m->ack_flush.data = m;
  /* Without ZooKeeper this master leads at once; with it, when elected. */
  rc = ha ? m_ha_start(m, err, errlen) : m_leader_begin(m);
  if (rc < 0) goto fail;
  *out = m;
  return 0;
fail:
  /* Partial start: handles already started are closed by the caller exiting. */
  PGD_ERROR(MOD, "%s", err);
  return rc < 0 ? rc : -EINVAL;
fail_early:
  /* Nothing runs yet (no timer, no listener, not leading): close what was
   * opened and free the master; the store's and the balancers' handles
   * finish closing when the caller runs its loop, so that it can close
   * the loop cleanly (docs/operations.md "Clean starts and stops"). */
  PGD_ERROR(MOD, "%s", err);
  if (m->balancers) pgd_balancers_close(m->balancers);
  if (m->store) pgd_store_close(m->store);
  free_master(m);
  return rc < 0 ? rc : -EINVAL;
}

/* Every new leader takes a new epoch: a previous leader (or a previous
 * instance of this master) that is somehow still running can no longer
 * write, and workers refuse its commands once they have seen the new one. */
int m_leader_begin(pgd_master_t *m) {
  char err[512] = "";
  int rc = pgd_store_acquire_epoch(m->store, &m->epoch, err, sizeof err);
  if (rc < 0) {
    PGD_ERROR(MOD, "cannot take a new epoch: %s", err);
    return rc;
  }
  pgd_store_set_epoch(m->store, m->epoch);
  PGD_INFO(MOD, "leading: store %s, epoch %lld", pgd_store_backend(m->store), (long long)m->epoch);
  m_resources_forget(m, NULL); /* another leader may have changed them */
  recover(m);
  if ((rc = m_flows_start(m, err, sizeof err)) < 0 || (rc = m_sched_start(m, err, sizeof err)) < 0) {
    PGD_ERROR(MOD, "cannot resume flows and schedules: %s", err);
    return rc;
  }
  m_push_start(m); /* pushed plugin versions: loaded off the loop */
  m->leader = true;
  m->leader_since_us = pgd_now_us();
  m_recovery_release_if_done(m);
  m_dispatch_pending(m);
  return 0;
}

void m_leader_end(pgd_master_t *m, const char *why) {
  if (!m->leader) return;
  PGD_WARN(MOD, "stepping down (%s): no dispatching or firing until elected again", why);
  m->leader = false;
  m_resources_forget(m, NULL);
  m_recovery_forget(m);
  m_rpc_flush_acks(m);
  m_rpc_close_workers(m);
  m_flows_stop(m);
  m_sched_close(m, NULL);
  m->queue_head = m->queue_tail = NULL;
  m_exec_t *e, *etmp;
  HASH_ITER(hh, m->execs, e, etmp) m_exec_free(m, e);
  m_job_t *j, *jtmp;
  HASH_ITER(hh, m->jobs, j, jtmp) {
    HASH_DEL(m->jobs, j);
    cJSON_Delete(j->def);
    free(j->name);
    free(j);
  }
}

int pgd_master_reload_balancers(pgd_master_t *m) {
  int refused = pgd_balancers_reload(m->balancers);
  PGD_INFO(MOD, "balancers reloaded (%d refused)", refused < 0 ? 0 : refused);
  return refused;
}
int pgd_master_rpc_port(const pgd_master_t *m) { return pgd_listener_port(m->listener); }

static void free_master(pgd_master_t *m) {
  m_exec_t *e, *etmp;
  HASH_ITER(hh, m->execs, e, etmp) m_exec_free(m, e);
  m_worker_t *w, *wtmp;
  HASH_ITER(hh, m->workers, w, wtmp) {
    HASH_DEL(m->workers, w);
    cJSON_Delete(w->types);
    cJSON_Delete(w->reported_types);
    cJSON_Delete(w->plugins);
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
  free(m->by_id);
  m_dispatch_free(m);
  m_push_free(m);
  m_observers_free(m);
  m_resources_forget(m, NULL);
  cJSON_Delete(m->ha_leader);
  m_recovery_forget(m);
  void (*cb)(void *) = m->on_stopped;
  void *ud = m->on_stopped_ud;
  free(m->data_dir);
  free(m->secret);
  free(m->resource_token);
  free(m->log_dir);
  m_log_shared_free(m);
  m_retention_free(m);
  m_flow_idem_free(m);
  free(m);
  if (cb) cb(ud);
}

static void on_handle_closed(uv_handle_t *h) {
  pgd_master_t *m = h->data;
  if (--m->closing_handles == 0) free_master(m);
}

static void on_sched_closed(pgd_master_t *m) {
  if (--m->closing_handles == 0) free_master(m);
}

void m_stop_progress(pgd_master_t *m) {
  if (!m->stopping || !m->store_closed || m->open_conns > 0 || m->closing_handles || m->zk) return;
  m->closing_handles = 3; /* tick, ack_flush, the schedules' timer queue */
  uv_close((uv_handle_t *)&m->tick, on_handle_closed);
  uv_close((uv_handle_t *)&m->ack_flush, on_handle_closed);
  m_sched_close(m, on_sched_closed);
}

static void on_store_flushed(int status, void *ud) {
  pgd_master_t *m = ud;
  (void)status;
  if (m_retention_defer_close(m, on_store_flushed, m)) return; /* its reads use the store */
  if (m_resources_defer_close(m, on_store_flushed, m)) return; /* downloads read blobs */
  if (m_log_polls_defer_close(m, on_store_flushed, m)) return; /* standby log follows */
  pgd_store_close(m->store);
  m->store = NULL;
  if (m->balancers) pgd_balancers_close(m->balancers);
  m->balancers = NULL;
  m->store_closed = true;
  m_stop_progress(m);
}

void pgd_master_stop(pgd_master_t *m, void (*on_stopped)(void *ud), void *ud) {
  if (m->stopping) return;
  m->stopping = true;
  m->on_stopped = on_stopped;
  m->on_stopped_ud = ud;
  uv_timer_stop(&m->tick);
  m_metrics_stop(m);
  m_log_tick(m); /* the log bytes still waiting go before the final flush */
  m_rpc_flush_acks(m);
  m_rpc_close_all(m);
  m_flows_stop(m);
  m_ha_close(m); /* a clean close hands leadership over at once */
  pgd_store_flush(m->store, on_store_flushed, m);
}
