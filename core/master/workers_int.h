/* Pagoda master — workers: what the master knows of each worker (rpc.c
 * keeps it up to date) and what a worker's coming and going does to
 * executions (exec.c).
 * Not public; loop thread only. */
#ifndef PAGODA_MASTER_WORKERS_INT_H
#define PAGODA_MASTER_WORKERS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uthash.h>

#include "master/master_int.h"

/* ALIVE, LOST and LEFT are the connection's; DRAINING and LEAVING are
 * only shown (an ALIVE worker with `draining` / `leaving` set). LEFT: the
 * worker said `leave` (it is stopping) and then closed. */
typedef enum {
  M_WORKER_ALIVE,
  M_WORKER_DRAINING,
  M_WORKER_LOST,
  M_WORKER_LEFT,
  M_WORKER_LEAVING
} m_worker_state_t;

/* A worker the master has seen since it started. Entries stay after the
 * worker is lost so that the API can show it. */
struct m_worker {
  char *id;
  char *host;
  char *addr;                /* peer address of the RPC connection */
  pgd_conn_t *conn;          /* NULL when disconnected */
  m_worker_state_t state;    /* ALIVE or LOST (connection); see draining */
  bool draining;             /* takes no new work (survives reconnects) */
  bool leaving;              /* said `leave`: no new work, until its next hello */
  int64_t leave_deadline_us; /* hand back what still runs then; 0 = done or none */
  bool heard_since_hello;    /* a heartbeat arrived after the last hello */
  int slots;
  int used;                  /* slots taken by executions dispatched here */
  int running;               /* attempts dispatched here and not final */
  cJSON *types;              /* array of job type names it may be given: the
                              * reported ones less pushed types it does not
                              * hold at the active version (plugins_push.c) */
  cJSON *reported_types;     /* array: the types as the worker reported them */
  cJSON *plugins;            /* heartbeat.plugins as last reported, nullable */
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
};

/* True when the worker may be given new work: connected, alive, neither
 * draining nor leaving (dispatch.c's hard filter). */
static inline bool m_worker_takes_work(const struct m_worker *w) {
  return w->state == M_WORKER_ALIVE && w->conn && !w->draining && !w->leaving;
}

/* ---- exec.c: workers and executions ---- */
/* The worker is gone: its tasks' attempts become lost (and may be relaunched). */
void m_worker_gone(pgd_master_t *m, m_worker_t *w, const char *why);
/* A leaving worker's stop grace is over: each attempt still on it is
 * killed there (reason "handed back") and ends `lost` here, so that it is
 * relaunched elsewhere as its job allows (docs/protocol.md, `leave`). */
void m_worker_hand_back(pgd_master_t *m, m_worker_t *w);

/* A worker (re)connected or sent a heartbeat listing the attempts it runs
 * (`running`: [{execution_id, attempt}]): claim recovered ones, and kill the
 * ones the master has replaced or finished. */
void m_worker_reconcile(pgd_master_t *m, m_worker_t *w, const cJSON *running, bool hello);

/* The first heartbeat after a hello: the worker has resent every report it
 * had, so recovered attempts it owns but neither runs nor reported on are
 * lost now rather than at the end of the recovery grace. */
void m_worker_settled(pgd_master_t *m, m_worker_t *w);

/* ---- recovery.c: the end of the recovery grace ---- */
/* Writes `w`'s store record with `connected` (true at a welcome, false when
 * the leader loses it); nothing unless leading and not stopping. */
void m_worker_record(pgd_master_t *m, const m_worker_t *w, bool connected);
/* After the recovered executions are in memory: the workers to wait for are
 * those the store says were connected, plus the owners of unclaimed
 * attempts (m->recovery_waiting). */
void m_recovery_begin(pgd_master_t *m);
/* Once leading: ends the grace at once when nobody is waited for. */
void m_recovery_release_if_done(pgd_master_t *m);
/* Worker `id` settled (m_worker_settled): the grace ends when it was the
 * last one waited for (held tasks queue, unclaimed attempts are lost). */
void m_recovery_worker_settled(pgd_master_t *m, const char *id);
/* Stepping down or stopping: nothing is waited for any more. */
void m_recovery_forget(pgd_master_t *m);

/* ---- plugins_push.c: pushed plugin versions ---- */
/* Loads the recorded pushed versions (master start). */
int m_push_start(pgd_master_t *m);
/* Frees what m_push_start made (after the loop ended). */
void m_push_free(pgd_master_t *m);
/* Sends the `plugins` message to a worker just welcomed. */
void m_push_offer(pgd_master_t *m, m_worker_t *w);
/* Keeps heartbeat.plugins (borrowed; nullable) and recomputes w->types
 * from w->reported_types. true when w->types changed. */
bool m_push_adopt(pgd_master_t *m, m_worker_t *w, const cJSON *plugins);

/* ---- rpc.c ---- */
int m_rpc_start(pgd_master_t *m, char *err, size_t errlen);
void m_rpc_send_launch(pgd_master_t *m, m_task_t *t);
void m_rpc_send_kill(pgd_master_t *m, m_worker_t *w, int64_t exec_id, int attempt);
void m_rpc_check_heartbeats(pgd_master_t *m);
void m_rpc_queue_ack(pgd_master_t *m, m_worker_t *w, int64_t seq);
void m_rpc_flush_acks(pgd_master_t *m);
void m_rpc_close_all(pgd_master_t *m);
void m_rpc_close_workers(pgd_master_t *m); /* connections only; the listener stays */
cJSON *m_worker_to_json(const pgd_master_t *m, const m_worker_t *w);

/* ---- dispatch.c ---- */
/* Free slots and the job type: could this worker take such a task now? */
bool m_worker_fits(const m_worker_t *w, const char *type, int slots);

#endif
