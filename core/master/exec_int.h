/* Pagoda master — executions and their tasks: the execution state machine
 * (exec.c) and the pending queue and placement (dispatch.c).
 * Not public; loop thread only. */
#ifndef PAGODA_MASTER_EXEC_INT_H
#define PAGODA_MASTER_EXEC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uthash.h>

#include "common/exec_state.h"
#include "master/master_int.h"
#include "net/msg.h"

typedef pgd_master_done_cb m_durable_cb;

/* One unit of work of an execution: the single task of a `single` job, one
 * shard of a `sharded` job, one worker's share of a `broadcast` job. A task
 * runs as a sequence of attempts (retries and relaunches); `attempt` is the
 * current one, numbered per execution. */
struct m_task {
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
};

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
  int64_t run_index;      /* the run's index in an array run (PAGODA_RUN_INDEX), -1 = none */
  const char *idem_key;   /* borrowed from rec: its idempotency key, or NULL */
  UT_hash_handle hh;
  UT_hash_handle hh_key;  /* in m->execs_by_key when idem_key is set */
};

enum { M_MODE_SINGLE, M_MODE_BROADCAST, M_MODE_SHARDED };

/* ---- exec.c: the execution state machine ---- */

/* Creates an execution of `job` (borrowed) with `params_override` (borrowed,
 * nullable) merged over the job's params. On success returns the new
 * execution (owned by the master) and calls done(ud, 0) once it is durable;
 * on a validation error returns NULL with a message in err. `extra_fields`
 * (borrowed, nullable object): members copied into the execution record
 * before its first save (flows: flow_execution_id, flow_node). */
m_exec_t *m_exec_submit(pgd_master_t *m, const cJSON *job, const cJSON *params_override,
                        const char *trigger, m_durable_cb done, void *ud, char *err,
                        size_t errlen, const cJSON *extra_fields);

/* A run checked and expanded but not submitted yet (m_exec_prepare): the
 * job definition snapshot with its merged params, and the params as the
 * job type expanded them. Owned by whoever holds it until
 * m_exec_submit_prepared consumes it or m_exec_prep_free frees it. */
typedef struct m_exec_prep {
  cJSON *def;
  cJSON *expanded; /* NULL: the type expanded nothing */
} m_exec_prep_t;

/* The checks of m_exec_submit without any effect (no id, no store write),
 * so that a batch of runs (runs.c) is checked whole before any of it is
 * submitted. Returns the prepared run (caller owns) or NULL with err. */
m_exec_prep_t *m_exec_prepare(pgd_master_t *m, const cJSON *job, const cJSON *params_override,
                              char *err, size_t errlen);
void m_exec_prep_free(m_exec_prep_t *p);
/* m_exec_submit of a prepared run; consumes `p` whatever the outcome. */
m_exec_t *m_exec_submit_prepared(pgd_master_t *m, m_exec_prep_t *p, const char *trigger,
                                 m_durable_cb done, void *ud, char *err, size_t errlen,
                                 const cJSON *extra_fields);

/* Applies a worker's state report, as pgd_msg_state_decode left it
 * (borrowed, with the frame it points into: used only during the call).
 * done(ud, status) runs once the change is durable (or at once if nothing
 * changed). */
void m_exec_report_state(pgd_master_t *m, m_worker_t *w, const pgd_msg_state_t *report,
                         m_durable_cb done, void *ud);

/* Kill request from the API. Returns 0 (accepted), -ENOENT or -EALREADY. */
int m_exec_kill(pgd_master_t *m, int64_t id, m_durable_cb done, void *ud, char *err,
                size_t errlen);

/* Periodic: recovery deadlines and holds. */
void m_exec_tick(pgd_master_t *m);

m_exec_t *m_exec_find(pgd_master_t *m, int64_t id);
void m_exec_free(pgd_master_t *m, m_exec_t *e);

/* Saves the execution record and the attempt rows that changed; cb after all
 * are durable. Once the execution's first record is durable, these are
 * background writes (the store may hold them for its group window): for a
 * save somebody waits on, see commit_as in exec.c. */
void m_exec_save(pgd_master_t *m, m_exec_t *e, pgd_store_done_cb cb, void *ud);
void m_exec_save_quiet(pgd_master_t *m, m_exec_t *e);

/* Broadcast: a new task bound to one worker. */
m_task_t *m_task_new_pinned(m_exec_t *e, const char *worker_id);

/* The state machine's steps that exec_workers.c (lost workers and
 * reconciliation) shares with exec.c: the task of an attempt (or NULL);
 * ends a task's current attempt in state `s` (retry, relaunch or final, as
 * the job allows); recomputes the execution's record and saves it (done,
 * nullable, once durable), forgetting it when final. Loop thread only. */
m_task_t *m_task_of_attempt(m_exec_t *e, int attempt);
void m_task_attempt_ended(pgd_master_t *m, m_task_t *t, pgd_exec_state_t s);
/* A recovered attempt (no worker in memory, not final) is claimed by worker
 * `w` when the store names `w` as its worker or it is held for a claim:
 * the task takes w's slots and stops waiting. Returns 1 when it was queued
 * (now `dispatched`; the caller records that), 0 when claimed otherwise,
 * -1 when `w` may not claim it. Loop thread only. */
int m_task_claim(pgd_master_t *m, m_exec_t *e, m_task_t *t, m_worker_t *w);
/* (Its save is a background write, see m_exec_save: the callers are worker
 * reports and lost workers, whose acknowledgement can wait.) */
void m_exec_commit(pgd_master_t *m, m_exec_t *e, m_durable_cb done, void *ud);
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
/* Placement index figures (loop thread): candidate-list lookups (one per
 * placement attempt) and rebuilds (after the workers changed). For
 * /metrics, once wired. */
typedef struct m_place_stats {
  uint64_t lookups;
  uint64_t rebuilds;
} m_place_stats_t;
m_place_stats_t m_dispatch_stats(const pgd_master_t *m);
/* Frees the placement index (master teardown; it is rebuilt on demand). */
void m_dispatch_free(pgd_master_t *m);

#endif
