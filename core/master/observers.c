/* Pagoda master — the observer list: whoever wants to know about execution
 * changes (flows, schedules, and later alarms, metrics, an event stream)
 * subscribes here instead of exec.c calling it. Worker, flow and schedule
 * changes (on_event) are told from rpc.c, svc.c, flows.c and schedules.c. Callbacks run in
 * subscription order; flows subscribe before schedules (master start), as
 * exec.c used to call them. Loop thread only. */
#include <errno.h>
#include <stdlib.h>

#include "master/exec_int.h"
#include "master/observers_int.h"

int pgd_master_subscribe(pgd_master_t *m, const pgd_master_observer_t *obs) {
  if (!obs) return -EINVAL;
  if (m->n_observers == m->cap_observers) {
    int cap = m->cap_observers ? 2 * m->cap_observers : 4;
    m_observer_slot_t *v = realloc(m->observers, (size_t)cap * sizeof *v);
    if (!v) return -ENOMEM;
    m->observers = v;
    m->cap_observers = cap;
  }
  m_observer_slot_t *slot = &m->observers[m->n_observers++];
  slot->obs = *obs;
  slot->handle = ++m->last_observer_handle;
  slot->active = true;
  return slot->handle;
}

void pgd_master_unsubscribe(pgd_master_t *m, int handle) {
  /* Marked, not removed: an unsubscribe from inside a callback must not
   * move the entries the caller is walking. */
  for (int i = 0; i < m->n_observers; i++)
    if (m->observers[i].handle == handle) m->observers[i].active = false;
}

void m_observers_free(pgd_master_t *m) {
  free(m->observers);
  m->observers = NULL;
  m->n_observers = m->cap_observers = 0;
}

void m_observers_state(pgd_master_t *m, const m_exec_t *e) {
  for (int i = 0; i < m->n_observers; i++) {
    const m_observer_slot_t *s = &m->observers[i];
    if (s->active && s->obs.on_state_change) s->obs.on_state_change(s->obs.ud, m, e);
  }
}

void m_observers_final(pgd_master_t *m, const m_exec_t *e) {
  for (int i = 0; i < m->n_observers; i++) {
    const m_observer_slot_t *s = &m->observers[i];
    if (s->active && s->obs.on_exec_final) s->obs.on_exec_final(s->obs.ud, m, e);
  }
}

void m_observers_output(pgd_master_t *m, const m_exec_t *e, const char *data, size_t len) {
  for (int i = 0; i < m->n_observers; i++) {
    const m_observer_slot_t *s = &m->observers[i];
    if (s->active && s->obs.on_exec_output) s->obs.on_exec_output(s->obs.ud, m, e, data, len);
  }
}

bool m_observers_want_events(const pgd_master_t *m) {
  for (int i = 0; i < m->n_observers; i++)
    if (m->observers[i].active && m->observers[i].obs.on_event) return true;
  return false;
}

void m_observers_event(pgd_master_t *m, const char *kind, cJSON *data) {
  for (int i = 0; data && i < m->n_observers; i++) {
    const m_observer_slot_t *s = &m->observers[i];
    if (s->active && s->obs.on_event) s->obs.on_event(s->obs.ud, m, kind, data);
  }
  cJSON_Delete(data);
}

void m_observers_event_item(pgd_master_t *m, const char *kind, const char *change,
                            const char *key, cJSON *item) {
  cJSON *o = cJSON_CreateObject();
  if (!o || !item) {
    cJSON_Delete(o);
    cJSON_Delete(item);
    return;
  }
  cJSON_AddStringToObject(o, "change", change);
  cJSON_AddItemToObject(o, key, item);
  m_observers_event(m, kind, o);
}

int64_t pgd_master_exec_id(const pgd_master_exec_t *e) { return e->id; }
pgd_exec_state_t pgd_master_exec_state(const pgd_master_exec_t *e) { return e->state; }
const cJSON *pgd_master_exec_record(const pgd_master_exec_t *e) { return e->rec; }
