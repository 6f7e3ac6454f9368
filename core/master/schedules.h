/* Pagoda master — schedules: shared state of schedules.c (timer queue,
 * firing, recovery) and schedules_svc.c (the service calls of master.h,
 * views). Not public.
 *
 * A schedule is a stored document (kind "schedule", id = its name) holding
 * the definition as posted (docs/schedules.md) plus its progress:
 *   checkpoint_us      fire times <= this are handled (fired, skipped, or
 *                      before the schedule was created or replaced)
 *   last_fired_us      the fire time of the last run started (-1 none)
 *   last_execution_id  that run's execution (0 none)
 * Each fire writes a document of kind "schedule_run", id "<name>:<fire µs>"
 * (16 digits), parent <name>, state "started" or "skipped".
 * The exactly-once rule is in docs/schedules.md ("Exactly once").
 *
 * Everything runs on the master's loop thread.
 */
#ifndef PAGODA_MASTER_SCHEDULES_H
#define PAGODA_MASTER_SCHEDULES_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>

#include "master/exec_int.h"
#include "master/jobs_int.h"
#include "master/leader_int.h"
#include "sched/timerq.h"
#include "sched/trigger.h"

#define M_SCHED_DOC "schedule"
#define M_SCHED_RUN_DOC "schedule_run"
#define M_SCHED_MAX_FIRES 1000 /* fire times handled in one wake-up (run_all) */

typedef enum { M_CONC_ALLOW = 0, M_CONC_FORBID = 1, M_CONC_REPLACE = 2 } m_conc_t;

typedef struct m_sched_item {
  char *name;
  uint64_t key;           /* timer queue key */
  cJSON *def;             /* the definition as stored (without progress fields) */
  pgd_trigger_t *trig;
  char *job;              /* target job, or NULL */
  char *flow;             /* target flow, or NULL (no concurrency, no delay) */
  m_conc_t conc;
  bool enabled;
  bool queued;            /* in the timer queue */
  int64_t checkpoint_us;
  int64_t last_fired_us;  /* -1 none */
  int64_t last_end_us;    /* end of the last run (-1 unknown / none) */
  int64_t last_exec_id;
  int64_t created_us;
  int64_t *active;        /* executions of this schedule not final yet */
  int n_active, cap_active;
  UT_hash_handle hh;
} m_sched_item_t;

struct m_sched {
  pgd_timerq_t *q;
  m_sched_item_t *items; /* hash by name */
  uint64_t next_key;
  bool closing;
  void (*closed)(pgd_master_t *m);
};

/* ---- schedules.c ---- */

/* Parses and checks a posted definition (borrowed) against the jobs and the
 * present: returns a new normalised definition (caller owns) and its trigger
 * in *trig (caller owns), or NULL with *status (400 or 404) and a message. */
cJSON *m_sched_validate(pgd_master_t *m, const cJSON *in, pgd_trigger_t **trig, int *status,
                        char *err, size_t errlen);
m_sched_item_t *m_sched_find(pgd_master_t *m, const char *name);
/* Creates or replaces the item `name` of def (taken) and trig (taken);
 * writes the document; cb(status, ud) once durable. Returns the item. */
m_sched_item_t *m_sched_put(pgd_master_t *m, cJSON *def, pgd_trigger_t *trig,
                            pgd_store_done_cb cb, void *ud, int *rc);
/* Pause (enabled=false) or resume; writes the document. */
/* Drops `s` from memory (disarmed, freed) without touching the store: the
 * undo of a new schedule whose first write the store refused. */
void m_sched_forget(pgd_master_t *m, m_sched_item_t *s);
int m_sched_set_enabled(pgd_master_t *m, m_sched_item_t *s, bool enabled, pgd_store_done_cb cb,
                        void *ud);
/* Removes the schedule and its run documents. */
int m_sched_delete(pgd_master_t *m, m_sched_item_t *s, pgd_store_done_cb cb, void *ud);
/* Starts an execution of the target now (trigger "manual"): a job target
 * returns the execution (done(ud, status) once durable), a flow target NULL
 * with *flow_exec_id set (done is not called); NULL and *flow_exec_id 0 with
 * err on failure. */
m_exec_t *m_sched_run_now(pgd_master_t *m, m_sched_item_t *s, m_durable_cb done, void *ud,
                          int64_t *flow_exec_id, char *err, size_t errlen);
/* The next fire time as the timer holds it, or -1. */
int64_t m_sched_next_fire(pgd_master_t *m, const m_sched_item_t *s);

/* The wall clock every schedule decision reads (microseconds since the
 * epoch): the master's cfg.clock, else the system clock. The timer queue is
 * handed the same clock, so a test that moves a manual clock moves both. */
int64_t m_sched_now_us(const pgd_master_t *m);
/* Up to n future fire times (n <= 100) into out; returns the count. */
int m_sched_preview(const m_sched_item_t *s, int64_t now_us, int64_t *out, int n);

/* ---- schedules_svc.c ---- */
cJSON *m_sched_view(pgd_master_t *m, const m_sched_item_t *s);

#endif
