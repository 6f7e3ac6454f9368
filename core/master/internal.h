/* Pagoda master — internal state shared by the master's files (not public).
 *
 *   master.c     lifecycle, recovery, the execution state machine, dispatch
 *   rpc.c        worker connections: handshake, heartbeats, reports, acks
 *   api.c        REST routes
 *   api_util.c   JSON views and request helpers for the routes
 *   logs.c       execution log files and `follow` streams
 *   jobs.c       job definition validation
 *
 * Everything runs on the master's loop thread.
 */
#ifndef PAGODA_MASTER_INTERNAL_H
#define PAGODA_MASTER_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>
#include <uv.h>

#include "common/exec_state.h"
#include "master/master.h"
#include "ha/zk.h"
#include "net/conn.h"
#include "script/balancer.h"
#include "store/store.h"

/* Execution states: one enum shared with the worker (common/exec_state.h). */
typedef enum { M_WORKER_ALIVE, M_WORKER_DRAINING, M_WORKER_LOST } m_worker_state_t;
typedef struct m_task m_task_t;

typedef struct m_follower m_follower_t;
typedef struct m_exec m_exec_t;

/* A worker the master has seen since it started. Entries stay after the
 * worker is lost so that the API can show it. */
typedef struct m_worker {
  char *id;
  char *host;
  char *addr;                /* peer address of the RPC connection */
  pgd_conn_t *conn;          /* NULL when disconnected */
  m_worker_state_t state;    /* ALIVE or LOST (connection); see draining */
  bool draining;             /* takes no new work (survives reconnects) */
  bool heard_since_hello;    /* a heartbeat arrived after the last hello */
  int slots;
  int used;                  /* slots taken by executions dispatched here */
  int running;               /* attempts dispatched here and not final */
  cJSON *types;              /* array of job type names */
  cJSON *labels;             /* array of strings */
  cJSON *load;               /* last reported load object, nullable */
  double load1;              /* from `load`, kept as numbers for the balancers */
  long mem_free_mb;
  int64_t connected_us;
  int64_t last_heartbeat_us;
  cJSON *pending_acks;       /* array of seqs to acknowledge at the next flush */
  bool ack_scheduled;
  struct m_worker *ack_next; /* in the master's ack flush list */
  UT_hash_handle hh;
} m_worker_t;

/* One unit of work of an execution: the single task of a `single` job, one
 * shard of a `sharded` job, one worker's share of a `broadcast` job. A task
 * runs as a sequence of attempts (retries and relaunches); `attempt` is the
 * current one, numbered per execution. */
typedef struct m_task {
  m_exec_t *exec;
  int index;                 /* position in exec->tasks */
  int shard;                 /* shard index (sharded), else -1 */
  char *pinned;              /* broadcast: the worker this task belongs to */
  int attempt;               /* current attempt number, 0 before the first */
  pgd_exec_state_t state;
  m_worker_t *worker;        /* weak; set while dispatched/running */
  bool launch_pending;       /* assigned, LAUNCH waits for the first durable write */
  bool attempt_dirty;        /* the attempt row needs writing */
  int retries_used;
  int relaunches_used;
  int64_t not_before_us;     /* retry backoff: not dispatched before */
  int64_t claim_deadline_us; /* recovered dispatched/running: lost if unclaimed */
  int64_t hold_until_us;     /* recovered pending: queued after this unless claimed */
  cJSON *attempt_rec;        /* the current attempt's row */
  cJSON *prev_workers;       /* ids of workers of earlier attempts */
  int log_fd;                /* current attempt's log file, -1 when closed */
  int64_t log_size;
  struct m_task *q_prev, *q_next; /* pending queue (priority, exec id, index) */
  bool in_queue;
} m_task_t;

/* An execution that is not final yet (finished ones live in the store only). */
struct m_exec {
  int64_t id;
  cJSON *rec;             /* the execution record as stored (authoritative) */
  const cJSON *def;       /* borrowed from rec: the job definition snapshot */
  pgd_exec_state_t state;
  int slots;
  int priority;
  int mode;               /* M_MODE_* */
  int last_attempt;       /* highest attempt number handed out */
  m_task_t **tasks;
  int n_tasks;
  bool committed;         /* the first record is durable */
  bool kill_requested;
  bool broadcast_expanded;/* broadcast: tasks created for the eligible workers */
  bool finishing;         /* final, kept in memory until its final record is durable */
  m_follower_t *followers;
  void *flow_run_ref;     /* flows.c: the flow execution this node execution belongs to */
  UT_hash_handle hh;
};

enum { M_MODE_SINGLE, M_MODE_BROADCAST, M_MODE_SHARDED };

/* Stored definition of a job, kept in memory for a cheap run path. */
typedef struct m_job {
  char *name;
  cJSON *def;
  UT_hash_handle hh;
} m_job_t;

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
  pgd_registry_t *plugins;
  pgd_store_t *store;
  pgd_balancers_t *balancers;
  int broadcast_waiting;  /* broadcast executions whose tasks are not made yet */
  uint64_t workers_generation; /* bumped when the set of workers or their labels change */
  m_worker_t **by_id;     /* every worker sorted by id, rebuilt when the generation moves */
  size_t by_id_n;
  uint64_t by_id_gen;
  bool by_id_built;
  pgd_listener_t *listener;
  uv_timer_t tick;        /* heartbeat checks, recovery deadlines */
  uv_prepare_t ack_flush; /* sends batched acks once per loop iteration */
  m_worker_t *ack_list;
  m_worker_t *workers;    /* hash by id */
  m_exec_t *execs;        /* hash by id: unfinished executions */
  m_task_t *queue_head, *queue_tail;
  m_job_t *jobs;          /* hash by name */
  int64_t next_exec_id;
  int64_t epoch;
  int64_t started_us;
  bool stopping;
  bool leader;            /* dispatches, fires, accepts workers and writes */
  int64_t leader_since_us;
  pgd_zk_t *zk;           /* high availability: the election; NULL without */
  bool zk_closing;
  cJSON *ha_leader;       /* the current leader's znode ({"info": {...}}), nullable */
  bool store_closed;
  int open_conns;         /* worker connections not yet closed */
  int closing_handles;
  void (*on_stopped)(void *ud);
  void *on_stopped_ud;
  struct m_flows *flows;  /* flows.c */
  struct m_sched *sched;  /* schedules.c */
  m_observer_slot_t *observers; /* observers.c: subscribers to execution changes */
  int n_observers, cap_observers, last_observer_handle;
};

/* ---- exec.c: the execution state machine ---- */

typedef pgd_master_done_cb m_durable_cb;

/* Adapts a store callback to a service callback: m_done_store_cb(status,
 * ctx) calls done(ud, status) once and frees ctx (svc.c). */
typedef struct m_done_ctx {
  pgd_master_done_cb done;
  void *ud;
} m_done_ctx_t;
m_done_ctx_t *m_done_ctx(pgd_master_done_cb done, void *ud);
void m_done_store_cb(int status, void *ud);

/* Creates an execution of `job` (borrowed) with `params_override` (borrowed,
 * nullable) merged over the job's params. On success returns the new
 * execution (owned by the master) and calls done(ud, 0) once it is durable;
 * on a validation error returns NULL with a message in err. `extra_fields`
 * (borrowed, nullable object): members copied into the execution record
 * before its first save (flows: flow_execution_id, flow_node). */
m_exec_t *m_exec_submit(pgd_master_t *m, const cJSON *job, const cJSON *params_override,
                        const char *trigger, m_durable_cb done, void *ud, char *err,
                        size_t errlen, const cJSON *extra_fields);

/* Applies a worker's state report (borrowed). done(ud, status) runs once the
 * change is durable (or at once if nothing changed). */
void m_exec_report_state(pgd_master_t *m, m_worker_t *w, const cJSON *report, m_durable_cb done,
                         void *ud);

/* Kill request from the API. Returns 0 (accepted), -ENOENT or -EALREADY. */
int m_exec_kill(pgd_master_t *m, int64_t id, m_durable_cb done, void *ud, char *err,
                size_t errlen);

/* The worker is gone: its tasks' attempts become lost (and may be relaunched). */
void m_worker_gone(pgd_master_t *m, m_worker_t *w, const char *why);

/* A worker (re)connected or sent a heartbeat listing the attempts it runs
 * (`running`: [{execution_id, attempt}]): claim recovered ones, and kill the
 * ones the master has replaced or finished. */
void m_worker_reconcile(pgd_master_t *m, m_worker_t *w, const cJSON *running, bool hello);

/* The first heartbeat after a hello: the worker has resent every report it
 * had, so recovered attempts it owns but neither runs nor reported on are
 * lost now rather than at the end of the recovery grace. */
void m_worker_settled(pgd_master_t *m, m_worker_t *w);

/* Periodic: recovery deadlines and holds. */
void m_exec_tick(pgd_master_t *m);

m_exec_t *m_exec_find(pgd_master_t *m, int64_t id);
void m_exec_free(pgd_master_t *m, m_exec_t *e);

/* Saves the execution record and the attempt rows that changed; cb after all
 * are durable. */
void m_exec_save(pgd_master_t *m, m_exec_t *e, pgd_store_done_cb cb, void *ud);
void m_exec_save_quiet(pgd_master_t *m, m_exec_t *e);

/* Broadcast: a new task bound to one worker. */
m_task_t *m_task_new_pinned(m_exec_t *e, const char *worker_id);
/* Rebuilds an unfinished execution from its stored record (with attempts). */
void m_exec_recover(pgd_master_t *m, const cJSON *stored, int64_t deadline_us);

/* ---- dispatch.c: the pending queue and placement ---- */

void m_queue_insert(pgd_master_t *m, m_task_t *t);
void m_queue_remove(pgd_master_t *m, m_task_t *t);
/* Dispatches queued tasks while workers have room. */
void m_dispatch_pending(pgd_master_t *m);
/* Starts a new attempt of `t` on `w` (records it; LAUNCH now if the
 * execution is durable, else once it is). */
void m_task_assign(pgd_master_t *m, m_task_t *t, m_worker_t *w);
/* Why a task cannot be placed now (static string). */
const char *m_pending_reason(pgd_master_t *m, const m_task_t *t);
/* Hard filters: alive, not draining, connected, job type, labels, slots. */
bool m_worker_eligible(const m_worker_t *w, const m_exec_t *e);

/* ---- master.c: leadership ---- */
/* Becomes the leader: takes a new epoch in the store, recovers executions,
 * flows and schedules, and starts dispatching. Returns 0 or negative. */
int m_leader_begin(pgd_master_t *m);
/* Steps down at once (ZooKeeper session suspended or lost): stops
 * dispatching and firing, closes the worker connections and forgets all
 * in-memory execution state (the store and the next leader have it). */
void m_leader_end(pgd_master_t *m, const char *why);

/* ---- ha.c ---- */
int m_ha_start(pgd_master_t *m, char *err, size_t errlen);
const char *m_ha_leader_http(const pgd_master_t *m); /* NULL when unknown */
cJSON *m_ha_cluster_json(const pgd_master_t *m);
bool m_ha_close(pgd_master_t *m); /* true while the close is in progress */

/* ---- rpc.c ---- */
int m_rpc_start(pgd_master_t *m, char *err, size_t errlen);
void m_rpc_send_launch(pgd_master_t *m, m_task_t *t);
void m_rpc_send_kill(pgd_master_t *m, m_worker_t *w, int64_t exec_id, int attempt);
void m_rpc_check_heartbeats(pgd_master_t *m);
void m_rpc_queue_ack(pgd_master_t *m, m_worker_t *w, int64_t seq);
void m_rpc_flush_acks(pgd_master_t *m);
void m_rpc_close_all(pgd_master_t *m);
void m_rpc_close_workers(pgd_master_t *m); /* connections only; the listener stays */
/* Stop sequence: frees the master once the store is closed and every
 * connection has closed (a connection's on_close still uses the master). */
void m_stop_progress(pgd_master_t *m);
cJSON *m_worker_to_json(const pgd_master_t *m, const m_worker_t *w);
bool m_worker_fits(const m_worker_t *w, const char *type, int slots);

/* ---- logs.c ----
 * Each attempt has its own file, <data_dir>/logs/<id>-<attempt>.log; the
 * execution's log is their concatenation in attempt order. */

/* Appends `len` bytes at `offset` of the task's current attempt log (bytes
 * already written are skipped) and forwards new bytes to followers. */
void m_log_append(pgd_master_t *m, m_task_t *t, int64_t offset, const char *data, size_t len);
/* Appends a line written by the master itself ("[pagoda] ..."). */
void m_log_note(pgd_master_t *m, m_task_t *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void m_log_close_task(m_task_t *t); /* closes the attempt's file */
/* Takes the execution's followers away from it (to end them later). */
m_follower_t *m_log_detach_followers(m_exec_t *e);
/* Ends the streams of detached followers and frees them. */
void m_log_end_followers(m_follower_t *list);

/* ---- jobs.c ---- */
/* Validates and normalises a job definition (borrowed); returns a new object
 * the caller owns, or NULL with a message in err. */
cJSON *m_job_normalise(pgd_master_t *m, const cJSON *in, char *err, size_t errlen);
m_job_t *m_job_find(pgd_master_t *m, const char *name);
void m_job_put_cache(pgd_master_t *m, cJSON *def); /* takes ownership */
void m_job_remove_cache(pgd_master_t *m, const char *name);

/* ---- flows.c ----
 * Flows and flow executions (docs/flows.md); public entry points for other
 * parts of the master are in master/flows.h. */
struct m_flows;
/* After recover(): loads stored flows and resumes running flow executions.
 * Returns 0 or a negative code with err filled. */
int m_flows_start(pgd_master_t *m, char *err, size_t errlen);
/* Stop path: writes pending flow states, frees flow memory (m->flows = NULL). */
void m_flows_stop(pgd_master_t *m);
/* Subscribes the flows to execution changes (master start, before the
 * schedules: a node's end drives its flow first). */
void m_flows_subscribe(pgd_master_t *m);

/* ---- schedules.c ---- */
/* After recover(): loads the stored schedules, resolves fires whose run
 * record was lost, and arms the timer queue. 0 or a negative code + err. */
int m_sched_start(pgd_master_t *m, char *err, size_t errlen);
/* Stop path: frees the schedules and closes the timer queue; closed(m) runs
 * once it is closed (at once when schedules never started). */
void m_sched_close(pgd_master_t *m, void (*closed)(pgd_master_t *m));
/* Subscribes the schedules to execution changes (concurrency, delay). */
void m_sched_subscribe(pgd_master_t *m);

/* ---- observers.c ---- */
/* Tell every subscriber (pgd_master_subscribe), in subscription order. */
void m_observers_state(pgd_master_t *m, const m_exec_t *e);
void m_observers_final(pgd_master_t *m, const m_exec_t *e);
void m_observers_output(pgd_master_t *m, const m_exec_t *e, const char *data, size_t len);
void m_observers_free(pgd_master_t *m);

#endif
