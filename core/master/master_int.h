/* Pagoda master — the master's own state (struct pgd_master) and the
 * adapter from store callbacks to service callbacks. Each part of the master
 * has its own header; a file includes the ones it uses:
 *
 *   master_int.h    struct pgd_master, done adapter          master.c, svc.c
 *   exec_int.h      executions and tasks, the pending queue  exec.c, exec_workers.c, dispatch.c
 *   workers_int.h   workers and their RPC connections        rpc.c
 *   leader_int.h    leadership, HA, what a leader starts     master.c, ha.c
 *   jobs_int.h      the job cache and validation             jobs.c
 *   logs_int.h      execution logs and their followers       logs.c, logs_shared.c
 *   retention_int.h retention, execution delete, sizes       retention.c, storage.c
 *   observers_int.h the execution observer list              observers.c
 *   flows_int.h     flows and flow executions                flows.c, flows_svc.c
 *   schedules.h     schedules                                schedules.c, schedules_svc.c
 *   resources.h     resources                                resources.c, resources_fetch.c
 *   idem_int.h      idempotency keys of job and flow runs    idem.c, flow_idem.c
 *
 * The service interface the API calls is master.h (svc.c, flows_svc.c,
 * schedules_svc.c, resources.c, logs.c implement it); the master includes
 * nothing from core/http.
 * Not public; loop thread only. */
#ifndef PAGODA_MASTER_MASTER_INT_H
#define PAGODA_MASTER_MASTER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "master/master.h"
#include "store/store.h"

/* Types of the other parts, for the pointers below (C11 allows repeating a
 * typedef; the full definitions are in their headers). */
typedef struct m_worker m_worker_t;   /* workers_int.h */
typedef struct m_task m_task_t;       /* exec_int.h */
typedef struct m_exec m_exec_t;       /* exec_int.h */
typedef struct m_job m_job_t;         /* jobs_int.h */
typedef struct m_follower m_follower_t; /* logs.c */
typedef struct pgd_balancers pgd_balancers_t; /* script/balancer.h */
typedef struct pgd_listener pgd_listener_t;   /* net/conn.h */
typedef struct pgd_conn pgd_conn_t;           /* net/conn.h */
typedef struct pgd_zk pgd_zk_t;               /* ha/zk.h */

/* One subscriber of the observer list (observers.c). */
typedef struct m_observer_slot {
  pgd_master_observer_t obs;
  int handle;
  bool active; /* false once unsubscribed (kept so a walk never moves) */
} m_observer_slot_t;

struct pgd_master {
  uv_loop_t *loop;
  pgd_master_config_t cfg;
  char *data_dir;
  char *log_dir;
  char *secret;
  char *resource_token; /* cfg.resource_token's copy */
  pgd_registry_t *plugins;
  struct m_pushed *pushed; /* plugins_push.c: pushed plugin versions */
  pgd_store_t *store;
  pgd_balancers_t *balancers;
  int broadcast_waiting;  /* broadcast executions whose tasks are not made yet */
  uint64_t workers_generation; /* bumped when the set of workers or their labels change */
  m_worker_t **by_id;     /* every worker sorted by id, rebuilt when the generation moves */
  size_t by_id_n;
  uint64_t by_id_gen;
  bool by_id_built;
  struct m_place_cache *place_cache; /* dispatch.c: candidate lists by job type and labels */
  pgd_listener_t *listener;
  struct pgd_tls_ctx *rpc_tls; /* net/tls.h; NULL = plain TCP (rpc.c) */
  struct conn_ctx *unauthenticated; /* rpc.c: connections still in the handshake */
  uv_timer_t tick;        /* heartbeat checks, recovery deadlines */
  uv_prepare_t ack_flush; /* sends batched acks once per loop iteration */
  m_worker_t *ack_list;
  m_worker_t *workers;    /* hash by id */
  m_exec_t *execs;        /* hash by id: unfinished executions */
  m_exec_t *execs_by_key; /* hash by idempotency key: those of execs that have one */
  cJSON *resource_docs;   /* resources.c: stored resource documents by name (an
                             object), read by submits and launches instead of the
                             store; dropped on each change and on leadership */
  uint64_t run_batches;   /* POST /api/v1/runs batches accepted (runs.c) */
  uint64_t run_batch_runs;/* runs submitted through them */
  m_task_t *queue_head, *queue_tail;
  m_job_t *jobs;          /* hash by name */
  int64_t next_exec_id;
  int64_t epoch;
  int64_t started_us;
  int64_t idem_expired_us; /* idem.c: last expiry of idempotency keys */
  bool stopping;
  bool leader;            /* dispatches, fires, accepts workers and writes */
  int64_t leader_since_us;
  cJSON *recovery_waiting; /* recovery.c: ids of workers the grace waits for; NULL = none */
  pgd_zk_t *zk;           /* high availability: the election; NULL without */
  bool zk_closing;
  cJSON *ha_leader;       /* the current leader's znode ({"info": {...}}), nullable */
  bool store_closed;
  int open_conns;         /* worker connections not yet closed */
  int uploads_active;     /* streamed uploads begun and not yet ended (resources.c) */
  uint64_t upload_bytes_inflight; /* their announced sizes */
  int closing_handles;
  void (*on_stopped)(void *ud);
  void *on_stopped_ud;
  struct m_flows *flows;  /* flows.c */
  struct m_sched *sched;  /* schedules.c */
  m_observer_slot_t *observers; /* observers.c: subscribers to execution changes */
  int n_observers, cap_observers, last_observer_handle;
  struct m_metrics *metrics; /* master_metrics.c: NULL while metrics are off */
  struct m_log_shared *log_shared; /* logs_shared.c: logs in the store; NULL = local files */
  struct m_retention *retention;   /* retention.c: the incremental cleanup */
  struct m_flow_idem *flow_idem;   /* flow_idem.c: flow run keys not yet durable */
  int blob_fetches;                /* resources_fetch.c: store reads on the thread pool */
  void (*blob_fetches_drained)(int status, void *ud); /* the store's close, waiting for them */
  void *blob_fetches_drained_ud;
  int log_polls;                   /* logs_poll.c: a standby's log reads on the thread pool */
  void (*log_polls_drained)(int status, void *ud); /* the store's close, waiting for them */
  void *log_polls_drained_ud;
};

/* Adapts a store callback to a service callback: m_done_store_cb(status,
 * ctx) calls done(ud, status) once and frees ctx (svc.c). */
typedef struct m_done_ctx {
  pgd_master_done_cb done;
  void *ud;
} m_done_ctx_t;
m_done_ctx_t *m_done_ctx(pgd_master_done_cb done, void *ud);
void m_done_store_cb(int status, void *ud);

#endif
