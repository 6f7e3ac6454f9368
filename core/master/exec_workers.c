/* Pagoda master — the executions' side of workers coming and going: lost
 * and left workers (their attempts end as lost and run again as the job
 * allows), a returning worker's reconciliation and claims after a master
 * restart, and the periodic recovery deadlines (m_exec_tick). The state
 * machine itself is exec.c. Loop thread only. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "master/exec_int.h"
#include "master/logs_int.h"
#include "master/workers_int.h"

#define MOD "exec"

/* ---- lost workers and reconciliation ---- */

/* Ends every attempt on `w` as lost with the error "worker W <verb>: why"
 * (relaunched as the job allows); with `kill`, tells the worker to kill
 * them first (it is still connected). */
static void release_worker_tasks(pgd_master_t *m, m_worker_t *w, const char *verb,
                                 const char *why, bool kill) {
  m_exec_t *e, *tmp;
  bool changed = false;
  HASH_ITER(hh, m->execs, e, tmp) {
    bool mine = false;
    for (int i = 0; i < e->n_tasks; i++) {
      m_task_t *t = e->tasks[i];
      if (t->worker != w) continue;
      char msg[256];
      snprintf(msg, sizeof msg, "worker %s %s: %s", w->id, verb, why);
      if (kill) m_rpc_send_kill(m, w, e->id, t->attempt);
      pgd_json_set_str(t->attempt_rec, "error", msg);
      m_log_note(m, t, "%s", msg);
      t->launch_pending = false;
      m_task_attempt_ended(m, t, PGD_STATE_LOST);
      mine = true;
    }
    if (mine) {
      m_exec_commit(m, e, NULL, NULL);
      changed = true;
    }
  }
  if (changed) m_dispatch_pending(m);
}

void m_worker_gone(pgd_master_t *m, m_worker_t *w, const char *why) {
  m_worker_record(m, w, false); /* a next leader will not wait for it */
  release_worker_tasks(m, w, w->state == M_WORKER_LEFT ? "left" : "lost", why, false);
}

void m_worker_hand_back(pgd_master_t *m, m_worker_t *w) {
  if (w->running > 0)
    PGD_INFO(MOD, "worker %s is leaving and its stop grace is over: handing back %d attempt(s) "
                  "to run elsewhere", w->id, w->running);
  release_worker_tasks(m, w, "left", "handed back after its stop grace", true);
}

void m_worker_reconcile(pgd_master_t *m, m_worker_t *w, const cJSON *running, bool hello) {
  const cJSON *r;
  cJSON_ArrayForEach(r, running) {
    int64_t id = pgd_json_int(r, "execution_id", 0);
    int attempt = (int)pgd_json_int(r, "attempt", 0);
    m_exec_t *e = m_exec_find(m, id);
    m_task_t *t = e ? m_task_of_attempt(e, attempt) : NULL;
    if (t && t->worker == w) continue;
    int claimed = t ? m_task_claim(m, e, t, w) : -1;
    if (claimed >= 0) {
      if (claimed == 1) { /* it was queued: record where it runs */
        pgd_json_set_str(t->attempt_rec, "worker_id", w->id);
        m_exec_commit(m, e, NULL, NULL);
      }
      PGD_INFO(MOD, "worker %s claimed execution %lld attempt %d", w->id, (long long)id, attempt);
      continue;
    }
    /* Replaced, finished, or unknown: the worker must stop it. */
    PGD_WARN(MOD, "worker %s runs execution %lld attempt %d, which the master %s; killing it",
             w->id, (long long)id, attempt, e ? "replaced" : "does not run any more");
    m_rpc_send_kill(m, w, id, attempt);
  }
  if (!hello) return;
  /* Attempts the store says ran on this worker but that it did not list:
   * their final reports are resent right after welcome, so claim them too
   * (the recovery deadline still applies). */
  m_exec_t *e, *tmp;
  HASH_ITER(hh, m->execs, e, tmp) {
    for (int i = 0; i < e->n_tasks; i++) {
      m_task_t *t = e->tasks[i];
      if (t->worker || (t->state != PGD_STATE_DISPATCHED && t->state != PGD_STATE_RUNNING)) continue;
      const char *owner = t->attempt_rec ? pgd_json_str(t->attempt_rec, "worker_id") : NULL;
      if (!owner || strcmp(owner, w->id) != 0) continue;
      t->worker = w;
      w->used += e->slots;
      w->running++;
    }
  }
}

void m_worker_settled(pgd_master_t *m, m_worker_t *w) {
  m_exec_t *e, *tmp;
  bool any = false;
  HASH_ITER(hh, m->execs, e, tmp) {
    bool changed = false;
    for (int i = 0; i < e->n_tasks; i++) {
      m_task_t *t = e->tasks[i];
      if (t->worker != w || !t->claim_deadline_us || pgd_exec_state_final(t->state)) continue;
      t->claim_deadline_us = 0;
      const char *msg = "its worker came back without it after the master restarted";
      pgd_json_set_str(t->attempt_rec, "error", msg);
      m_log_note(m, t, "lost: %s", msg);
      m_task_attempt_ended(m, t, PGD_STATE_LOST);
      changed = true;
    }
    if (changed) {
      m_exec_commit(m, e, NULL, NULL);
      any = true;
    }
  }
  if (any) m_dispatch_pending(m);
  m_recovery_worker_settled(m, w->id);
}

void m_exec_tick(pgd_master_t *m) {
  int64_t now = pgd_now_us();
  m_exec_t *e, *tmp;
  HASH_ITER(hh, m->execs, e, tmp) {
    bool changed = false;
    for (int i = 0; i < e->n_tasks; i++) {
      m_task_t *t = e->tasks[i];
      if (t->hold_until_us && now > t->hold_until_us) {
        t->hold_until_us = 0;
        if (t->state == PGD_STATE_PENDING && !t->in_queue) m_queue_insert(m, t);
      }
      if (t->claim_deadline_us && now > t->claim_deadline_us && !pgd_exec_state_final(t->state)) {
        t->claim_deadline_us = 0;
        const char *msg = "no worker claimed this attempt after the master restarted";
        pgd_json_set_str(t->attempt_rec, "error", msg);
        m_log_note(m, t, "lost: %s", msg);
        m_task_attempt_ended(m, t, PGD_STATE_LOST);
        changed = true;
      }
    }
    if (changed) m_exec_commit(m, e, NULL, NULL);
  }
  m_dispatch_pending(m);
}
