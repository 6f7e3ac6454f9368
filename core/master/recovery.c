/* Pagoda master — the end of the recovery grace.
 *
 * After a start or a take-over, recovered tasks wait: pending ones are held
 * (a worker may run an attempt whose record did not land) and dispatched or
 * running ones wait for their worker to claim them, at most
 * recovery_grace_ms. The grace ends earlier, as soon as every worker that
 * was connected to the previous leader has reconnected and settled (sent
 * its first heartbeat after hello, so its resent reports are in): nobody
 * else can claim anything, and waiting longer only delays queued runs.
 *
 * "Connected to the previous leader" is read from the store: each worker's
 * record says `connected` true when a leader welcomed it and false when a
 * leader lost it (rpc.c and exec.c write it through m_worker_record). A
 * record without the field (written by an older master) counts as
 * connected. Owners of unclaimed attempts are waited for too. */
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "master/exec_int.h"
#include "master/workers_int.h"
#include "store/store.h"

#define MOD "master"

void m_worker_record(pgd_master_t *m, const m_worker_t *w, bool connected) {
  if (!m->leader || m->stopping || !m->store) return;
  cJSON *rec = cJSON_CreateObject();
  if (!rec) return;
  cJSON_AddStringToObject(rec, "id", w->id);
  cJSON_AddStringToObject(rec, "host", w->host ? w->host : "");
  cJSON_AddStringToObject(rec, "addr", w->addr ? w->addr : "");
  cJSON_AddNumberToObject(rec, "slots", w->slots);
  if (w->types) cJSON_AddItemToObject(rec, "types", cJSON_Duplicate(w->types, 1));
  if (w->labels) cJSON_AddItemToObject(rec, "labels", cJSON_Duplicate(w->labels, 1));
  cJSON_AddNumberToObject(rec, "last_seen_us",
                          (double)(connected ? w->connected_us : w->last_heartbeat_us));
  cJSON_AddBoolToObject(rec, "connected", connected);
  /* The state as this leader last saw it, for standbys (their `worker
   * list` reads the store): alive, draining, leaving, left or lost. */
  cJSON *shown = m_worker_to_json(m, w);
  const char *state = pgd_json_str(shown, "state");
  if (state) cJSON_AddStringToObject(rec, "state", state);
  cJSON_Delete(shown);
  pgd_store_put_worker(m->store, rec, NULL, NULL);
  cJSON_Delete(rec);
}

static bool listed(const cJSON *ids, const char *id) {
  const cJSON *v;
  cJSON_ArrayForEach(v, ids) if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0) return true;
  return false;
}

static void expect(cJSON *ids, const char *id) {
  if (id && *id && !listed(ids, id)) cJSON_AddItemToArray(ids, cJSON_CreateString(id));
}

/* Ends the grace now: held tasks go back to the queue, unclaimed attempts
 * are lost (and relaunched as their job allows) by the next tick, run here. */
static void end_grace(pgd_master_t *m, const char *why) {
  cJSON_Delete(m->recovery_waiting);
  m->recovery_waiting = NULL;
  bool any = false;
  m_exec_t *e, *tmp;
  HASH_ITER(hh, m->execs, e, tmp) {
    for (int i = 0; i < e->n_tasks; i++) {
      m_task_t *t = e->tasks[i];
      if (t->hold_until_us) t->hold_until_us = 1, any = true;
      if (t->claim_deadline_us) t->claim_deadline_us = 1, any = true;
    }
  }
  if (!any) return;
  PGD_INFO(MOD, "recovery grace over after %lld ms: %s",
           (long long)((pgd_now_us() - m->leader_since_us) / 1000), why);
  m_exec_tick(m);
}

void m_recovery_begin(pgd_master_t *m) {
  cJSON_Delete(m->recovery_waiting);
  m->recovery_waiting = cJSON_CreateArray();
  if (!m->recovery_waiting) return; /* out of memory: the full grace applies */
  cJSON *workers = pgd_store_list_workers(m->store);
  const cJSON *w;
  cJSON_ArrayForEach(w, workers) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(w, "connected");
    if (!cJSON_IsFalse(c))
      expect(m->recovery_waiting, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "id")));
  }
  cJSON_Delete(workers);
  m_exec_t *e, *tmp;
  HASH_ITER(hh, m->execs, e, tmp) {
    for (int i = 0; i < e->n_tasks; i++) {
      const m_task_t *t = e->tasks[i];
      if (!t->claim_deadline_us || !t->attempt_rec) continue;
      expect(m->recovery_waiting,
             cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->attempt_rec, "worker_id")));
    }
  }
  int n = cJSON_GetArraySize(m->recovery_waiting);
  if (n == 0) {
    cJSON_Delete(m->recovery_waiting);
    m->recovery_waiting = NULL; /* nobody to wait for: tasks are released at leader start */
    return;
  }
  PGD_INFO(MOD, "recovery: waiting for %d worker(s) to reconnect (at most %d ms)", n,
           m->cfg.recovery_grace_ms);
}

void m_recovery_release_if_done(pgd_master_t *m) {
  if (!m->recovery_waiting) end_grace(m, "no worker was connected before");
}

void m_recovery_worker_settled(pgd_master_t *m, const char *id) {
  if (!m->recovery_waiting) return;
  int n = cJSON_GetArraySize(m->recovery_waiting);
  for (int i = 0; i < n; i++) {
    const cJSON *v = cJSON_GetArrayItem(m->recovery_waiting, i);
    if (cJSON_IsString(v) && strcmp(v->valuestring, id) == 0) {
      cJSON_DeleteItemFromArray(m->recovery_waiting, i);
      break;
    }
  }
  if (cJSON_GetArraySize(m->recovery_waiting) == 0)
    end_grace(m, "every worker connected before has reconnected and reported");
}

void m_recovery_forget(pgd_master_t *m) {
  cJSON_Delete(m->recovery_waiting);
  m->recovery_waiting = NULL;
}
