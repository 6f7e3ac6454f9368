/* Pagoda master — schedules: the timer queue, firing, concurrency policies,
 * misfires and recovery at start (see schedules.h and docs/schedules.md).
 *
 * One pgd_timerq holds every enabled schedule under its next due time. When
 * an entry falls due, evaluate() asks the trigger which fire times are due
 * since the schedule's checkpoint (pgd_trigger_due applies the misfire
 * policy), fires them in order, moves the checkpoint, writes the schedule
 * document, and re-arms the entry.
 *
 * Exactly once: for each fire, in this order and in the same loop callback,
 *   1. the execution record (m_exec_submit; its definition snapshot carries
 *      "schedule" and "scheduled_for_us"),
 *   2. the run document "<name>:<fire µs>",
 *   3. the schedule document with the new checkpoint.
 * The store applies writes in the order they were queued, in batches that
 * commit one after the other, so what survives a crash is a prefix of that
 * sequence. At start, the checkpoint is the largest of the stored one, the
 * latest run document's fire time, and the fire time of any unfinished
 * execution of the schedule (an execution whose run document was lost is
 * still in its first, unfinished state, since its later writes come after
 * 2 and 3). A fire time at or below the checkpoint never fires again; one
 * above it never had an execution stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/names.h"
#include "common/clock.h"
#include "common/log.h"
#include "master/observers_int.h"
#include "master/flows_int.h"
#include "master/resources.h"
#include "master/schedules.h"
#include "master/metrics_int.h"

#define MOD "sched"

/* Members of a stored schedule that are progress or views, not definition. */
static const char *const k_not_def[] = {
    "checkpoint_us", "last_fired_us", "last_fired_at", "last_execution_id", "created_us",
    "created_at",    "updated_us",    "updated_at",    "next_fire_us",      "next_fire_at",
    "running",       "runs",          "next",          "next_us",           "last_end_us"};

static void set_item(cJSON *o, const char *key, cJSON *v) {
  if (cJSON_GetObjectItemCaseSensitive(o, key))
    cJSON_ReplaceItemInObjectCaseSensitive(o, key, v);
  else
    cJSON_AddItemToObject(o, key, v);
}
static int64_t get_int(const cJSON *o, const char *key, int64_t dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}
static const char *get_str(const cJSON *o, const char *key) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static bool valid_name(const char *s) { return pgd_name_chars_ok(s, strlen(s), 128); }

static m_conc_t parse_conc(const cJSON *def) {
  const char *c = get_str(def, "concurrency");
  if (c && strcmp(c, "forbid") == 0) return M_CONC_FORBID;
  if (c && strcmp(c, "replace") == 0) return M_CONC_REPLACE;
  return M_CONC_ALLOW;
}

/* ---- validation ---- */

cJSON *m_sched_validate(pgd_master_t *m, const cJSON *in, pgd_trigger_t **trig, int *status,
                        char *err, size_t errlen) {
  *status = 400;
  *trig = NULL;
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
  if (!cJSON_IsString(name) || !valid_name(name->valuestring)) {
    snprintf(err, errlen, "name is required: 1 to 128 characters of A-Z a-z 0-9 _ - .");
    return NULL;
  }
  const cJSON *job = cJSON_GetObjectItemCaseSensitive(in, "job");
  const cJSON *flow = cJSON_GetObjectItemCaseSensitive(in, "flow");
  if (job && flow) {
    snprintf(err, errlen, "a schedule targets one of \"job\" or \"flow\", not both");
    return NULL;
  }
  if (flow) {
    if (!cJSON_IsString(flow) || !*flow->valuestring) {
      snprintf(err, errlen, "flow must be the name of a flow");
      return NULL;
    }
    if (!m->flows || !m_flows_find(m->flows, flow->valuestring)) {
      *status = 404;
      snprintf(err, errlen, "flow '%s' not found", flow->valuestring);
      return NULL;
    }
    if (cJSON_GetObjectItemCaseSensitive(in, "delay")) {
      snprintf(err, errlen, "delay needs a job target (the end of a flow execution is not tracked)");
      return NULL;
    }
    const char *c = get_str(in, "concurrency");
    if (c && strcmp(c, "allow") != 0) {
      snprintf(err, errlen, "concurrency \"%.40s\" needs a job target (flows: allow only)", c);
      return NULL;
    }
  } else if (!cJSON_IsString(job) || !*job->valuestring) {
    snprintf(err, errlen, "a schedule needs a target: \"job\" (a job name) or \"flow\" (a flow name)");
    return NULL;
  } else if (!m_job_find(m, job->valuestring)) {
    *status = 404;
    snprintf(err, errlen, "job '%s' not found", job->valuestring);
    return NULL;
  }
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(in, "params");
  if (params && !cJSON_IsNull(params) && !cJSON_IsObject(params)) {
    snprintf(err, errlen, "params must be an object");
    return NULL;
  }
  const cJSON *conc = cJSON_GetObjectItemCaseSensitive(in, "concurrency");
  if (conc && !cJSON_IsNull(conc)) {
    const char *c = cJSON_GetStringValue(conc);
    if (!c || (strcmp(c, "allow") != 0 && strcmp(c, "forbid") != 0 && strcmp(c, "replace") != 0)) {
      snprintf(err, errlen, "concurrency \"%.40s\" is not one of allow, forbid, replace",
               c ? c : "(not a string)");
      return NULL;
    }
  }
  if (pgd_trigger_parse(in, m_sched_now_us(m), trig, err, errlen) < 0) return NULL;
  cJSON *def = cJSON_Duplicate(in, 1);
  for (size_t i = 0; i < sizeof k_not_def / sizeof k_not_def[0]; i++)
    cJSON_DeleteItemFromObjectCaseSensitive(def, k_not_def[i]);
  return def;
}

/* ---- items ---- */

m_sched_item_t *m_sched_find(pgd_master_t *m, const char *name) {
  m_sched_item_t *s = NULL;
  if (m->sched) HASH_FIND_STR(m->sched->items, name, s);
  return s;
}

static void disarm(pgd_master_t *m, m_sched_item_t *s) {
  if (s->queued) pgd_timerq_remove(m->sched->q, s->key);
  s->queued = false;
}

static void arm(pgd_master_t *m, m_sched_item_t *s, int64_t due_us) {
  if (due_us < 0 || !s->enabled) {
    disarm(m, s);
    return;
  }
  if (pgd_timerq_set(m->sched->q, s->key, due_us, s) == 0) s->queued = true;
}

static void item_set_def(m_sched_item_t *s, cJSON *def, pgd_trigger_t *trig) {
  cJSON_Delete(s->def);
  pgd_trigger_free(s->trig);
  free(s->job);
  free(s->flow);
  s->def = def;
  s->trig = trig;
  s->job = get_str(def, "job") ? strdup(get_str(def, "job")) : NULL;
  s->flow = get_str(def, "flow") ? strdup(get_str(def, "flow")) : NULL;
  s->conc = parse_conc(def);
  s->enabled = pgd_trigger_enabled(trig) != 0;
}

static m_sched_item_t *item_new(pgd_master_t *m, cJSON *def, pgd_trigger_t *trig) {
  m_sched_item_t *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->name = strdup(get_str(def, "name"));
  s->key = ++m->sched->next_key;
  s->last_fired_us = -1;
  s->last_end_us = -1;
  item_set_def(s, def, trig);
  HASH_ADD_KEYPTR(hh, m->sched->items, s->name, strlen(s->name), s);
  return s;
}

static void item_free(pgd_master_t *m, m_sched_item_t *s) {
  disarm(m, s);
  HASH_DEL(m->sched->items, s);
  cJSON_Delete(s->def);
  pgd_trigger_free(s->trig);
  free(s->job);
  free(s->flow);
  free(s->name);
  free(s->active);
  free(s);
}

static void active_add(m_sched_item_t *s, int64_t id) {
  for (int i = 0; i < s->n_active; i++)
    if (s->active[i] == id) return;
  if (s->n_active == s->cap_active) {
    s->cap_active = s->cap_active ? s->cap_active * 2 : 4;
    s->active = realloc(s->active, sizeof *s->active * (size_t)s->cap_active);
    if (!s->active) abort();
  }
  s->active[s->n_active++] = id;
}

static bool active_remove(m_sched_item_t *s, int64_t id) {
  for (int i = 0; i < s->n_active; i++) {
    if (s->active[i] != id) continue;
    s->active[i] = s->active[--s->n_active];
    return true;
  }
  return false;
}

/* The stored document: the definition plus progress. */
static int write_doc(pgd_master_t *m, m_sched_item_t *s, pgd_store_done_cb cb, void *ud) {
  cJSON *d = cJSON_Duplicate(s->def, 1);
  set_item(d, "enabled", cJSON_CreateBool(s->enabled));
  set_item(d, "checkpoint_us", cJSON_CreateNumber((double)s->checkpoint_us));
  set_item(d, "last_fired_us", cJSON_CreateNumber((double)s->last_fired_us));
  set_item(d, "last_execution_id", cJSON_CreateNumber((double)s->last_exec_id));
  int rc = pgd_store_put_doc(m->store, M_SCHED_DOC, s->name, NULL,
                             s->enabled ? "enabled" : "paused", d, cb, ud);
  cJSON_Delete(d);
  if (rc < 0) PGD_ERROR(MOD, "schedule %s: cannot queue its store write: %s", s->name, strerror(-rc));
  return rc;
}

static void write_run(pgd_master_t *m, m_sched_item_t *s, cJSON *run, int64_t fire_us,
                      const char *state) {
  char id[300], at[40];
  snprintf(id, sizeof id, "%s:%016lld", s->name, (long long)fire_us);
  cJSON_AddStringToObject(run, "schedule", s->name);
  cJSON_AddNumberToObject(run, "fire_us", (double)fire_us);
  cJSON_AddStringToObject(run, "fire_at", pgd_format_time_us(fire_us, at, sizeof at));
  cJSON_AddStringToObject(run, "state", state);
  int rc = pgd_store_put_doc(m->store, M_SCHED_RUN_DOC, id, s->name, state, run, NULL, NULL);
  if (rc < 0) PGD_ERROR(MOD, "schedule %s: cannot queue the run record %s: %s", s->name, id, strerror(-rc));
}

/* ---- firing ---- */

/* The job definition snapshot of one fire: the job plus the schedule's name
 * and fire time, also exported to the job's environment. Caller owns. */
static cJSON *job_for_fire(const cJSON *job, const m_sched_item_t *s, int64_t fire_us) {
  cJSON *d = cJSON_Duplicate(job, 1);
  cJSON *env = cJSON_GetObjectItemCaseSensitive(d, "env");
  if (!cJSON_IsObject(env)) {
    env = cJSON_CreateObject();
    set_item(d, "env", env);
  }
  char at[40], us[24];
  snprintf(us, sizeof us, "%lld", (long long)fire_us);
  set_item(env, "PAGODA_SCHEDULE", cJSON_CreateString(s->name));
  set_item(env, "PAGODA_SCHEDULED_TIME", cJSON_CreateString(pgd_format_time_us(fire_us, at, sizeof at)));
  set_item(env, "PAGODA_SCHEDULED_TIME_US", cJSON_CreateString(us));
  set_item(d, "schedule", cJSON_CreateString(s->name));
  set_item(d, "scheduled_for_us", cJSON_CreateNumber((double)fire_us));
  return d;
}

/* Submits an execution of the target for fire_us; NULL with err. */
static m_exec_t *submit(pgd_master_t *m, m_sched_item_t *s, int64_t fire_us, const char *trigger,
                        m_durable_cb done, void *ud, char *err, size_t errlen) {
  m_job_t *j = s->job ? m_job_find(m, s->job) : NULL;
  if (!j) {
    snprintf(err, errlen, "job '%s' not found", s->job ? s->job : "");
    return NULL;
  }
  if (!m_resources_check(m, j->def, err, errlen)) return NULL;
  cJSON *def = job_for_fire(j->def, s, fire_us);
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(s->def, "params");
  char at[40];
  cJSON *extra = cJSON_CreateObject();
  cJSON_AddStringToObject(extra, "schedule", s->name);
  cJSON_AddNumberToObject(extra, "scheduled_for_us", (double)fire_us);
  cJSON_AddStringToObject(extra, "scheduled_for", pgd_format_time_us(fire_us, at, sizeof at));
  m_exec_t *e = m_exec_submit(m, def, cJSON_IsObject(params) ? params : NULL, trigger, done, ud,
                              err, errlen, extra);
  cJSON_Delete(extra);
  cJSON_Delete(def);
  if (!e) return NULL;
  active_add(s, e->id);
  return e;
}

/* A flow target: the run document is written BEFORE the flow execution
 * (at most once: a crash in between loses that fire, never doubles it),
 * then again with the flow execution's id. */
static void fire_flow(pgd_master_t *m, m_sched_item_t *s, int64_t fire_us, cJSON *run) {
  char err[512], at[40];
  cJSON_AddStringToObject(run, "flow", s->flow);
  cJSON *first = cJSON_Duplicate(run, 1);
  write_run(m, s, first, fire_us, "started");
  cJSON_Delete(first);
  int64_t fid = 0;
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(s->def, "params");
  int rc = m_flow_start(m, s->flow, cJSON_IsObject(params) ? params : NULL, "schedule", fire_us,
                        &fid, err, sizeof err);
  if (rc < 0) {
    PGD_WARN(MOD, "schedule %s: fire %s failed: %s", s->name,
             pgd_format_time_us(fire_us, at, sizeof at), err);
    cJSON_AddStringToObject(run, "error", err);
    write_run(m, s, run, fire_us, "failed");
    return;
  }
  cJSON_AddNumberToObject(run, "flow_execution_id", (double)fid);
  write_run(m, s, run, fire_us, "started");
}

static void fire_one(pgd_master_t *m, m_sched_item_t *s, int64_t fire_us) {
  cJSON *run = cJSON_CreateObject();
  char err[512], at[40];
  pgd_format_time_us(fire_us, at, sizeof at);
  s->last_fired_us = fire_us;
  m_metrics_schedule_fired(m, fire_us);
  if (m_observers_want_events(m)) {
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "change", "fired");
    cJSON_AddStringToObject(ev, "schedule", s->name);
    cJSON_AddNumberToObject(ev, "fire_us", (double)fire_us);
    m_observers_event(m, PGD_MASTER_EVENT_SCHEDULE, ev);
  }
  if (s->n_active > 0 && s->conc == M_CONC_FORBID) {
    snprintf(err, sizeof err, "execution %lld is still running (concurrency: forbid)",
             (long long)s->active[0]);
    cJSON_AddStringToObject(run, "reason", err);
    PGD_INFO(MOD, "schedule %s: fire %s skipped: %s", s->name, at, err);
    write_run(m, s, run, fire_us, "skipped");
    cJSON_Delete(run);
    return;
  }
  if (s->n_active > 0 && s->conc == M_CONC_REPLACE) {
    int n = s->n_active;
    int64_t ids[n];
    memcpy(ids, s->active, sizeof ids);
    cJSON *killed = cJSON_AddArrayToObject(run, "replaced");
    for (int i = 0; i < n; i++) {
      char kerr[256];
      if (m_exec_kill(m, ids[i], NULL, NULL, kerr, sizeof kerr) == 0) {
        cJSON_AddItemToArray(killed, cJSON_CreateNumber((double)ids[i]));
        PGD_INFO(MOD, "schedule %s: killing execution %lld (concurrency: replace)", s->name,
                 (long long)ids[i]);
      }
      active_remove(s, ids[i]); /* it no longer counts as this schedule's run */
    }
  }
  if (s->flow) {
    fire_flow(m, s, fire_us, run);
    cJSON_Delete(run);
    return;
  }
  m_exec_t *e = submit(m, s, fire_us, "schedule", NULL, NULL, err, sizeof err);
  if (!e) {
    PGD_WARN(MOD, "schedule %s: fire %s failed: %s", s->name, at, err);
    cJSON_AddStringToObject(run, "error", err);
    write_run(m, s, run, fire_us, "failed");
  } else {
    s->last_exec_id = e->id;
    cJSON_AddNumberToObject(run, "execution_id", (double)e->id);
    PGD_DEBUG(MOD, "schedule %s: fire %s -> execution %lld", s->name, at, (long long)e->id);
    write_run(m, s, run, fire_us, "started");
  }
  cJSON_Delete(run);
}

/* Tells on_event subscribers when due times older than the misfire grace
 * were found (change "misfired"): how many were skipped by the policy and
 * how many run late. Only while someone subscribes (alarms, the event
 * stream). Not for `delay` triggers (no due times to compare). */
static void tell_misfire(pgd_master_t *m, const m_sched_item_t *s, int64_t now,
                         const int64_t *fires, int n) {
  if (!m_observers_want_events(m)) return;
  int64_t late_before = now - pgd_trigger_misfire_grace_us(s->trig);
  int64_t t = pgd_trigger_next(s->trig, s->checkpoint_us, s->last_end_us);
  if (t < 0 || t >= late_before) return;
  int64_t first = t, missed = 0, run_late = 0;
  for (int k = 0; t >= 0 && t < late_before && k < 1000; k++) {
    bool ran = false;
    for (int i = 0; i < n; i++) ran = ran || fires[i] == t;
    if (ran)
      run_late++;
    else
      missed++;
    t = pgd_trigger_next(s->trig, t, s->last_end_us);
  }
  static const char *const policies[] = {"skip", "run_once", "run_all"};
  pgd_misfire_t p = pgd_trigger_misfire(s->trig);
  cJSON *ev = cJSON_CreateObject();
  cJSON_AddStringToObject(ev, "change", "misfired");
  cJSON_AddStringToObject(ev, "schedule", s->name);
  cJSON_AddNumberToObject(ev, "first_missed_us", (double)first);
  cJSON_AddNumberToObject(ev, "missed", (double)missed);
  cJSON_AddNumberToObject(ev, "run_late", (double)run_late);
  cJSON_AddStringToObject(ev, "policy", (unsigned)p < 3 ? policies[p] : "?");
  PGD_WARN(MOD, "schedule %s: misfire: %lld fire time(s) skipped, %lld run late", s->name,
           (long long)missed, (long long)run_late);
  m_observers_event(m, PGD_MASTER_EVENT_SCHEDULE, ev);
}

static void evaluate(pgd_master_t *m, m_sched_item_t *s) {
  bool delay = pgd_trigger_kind(s->trig) == PGD_TRIGGER_DELAY;
  if (!s->enabled || (delay && s->n_active > 0)) return; /* delay: re-armed when the run ends */
  int64_t now = m_sched_now_us(m);
  int64_t fires[M_SCHED_MAX_FIRES], next = -1;
  m_metrics_schedule_evaluated(m, s->trig, s->checkpoint_us, s->last_end_us, now);
  int n = pgd_trigger_due(s->trig, s->checkpoint_us, s->last_end_us, now, fires,
                          M_SCHED_MAX_FIRES, &next);
  if (n < 0) {
    PGD_ERROR(MOD, "schedule %s: cannot compute its fire times (%d)", s->name, n);
    return;
  }
  if (delay && n == 0) {
    /* A missed run skipped (policy skip): the next one is a delay from now. */
    int64_t c = pgd_trigger_next(s->trig, s->last_end_us >= 0 ? s->last_end_us : s->checkpoint_us - 1,
                                 s->last_end_us);
    if (c >= 0 && c <= now) s->last_end_us = now;
  }
  if (!delay) tell_misfire(m, s, now, fires, n);
  for (int i = 0; i < n; i++) fire_one(m, s, fires[i]);
  if (!delay) {
    if (now > s->checkpoint_us) s->checkpoint_us = now;
  } else if (n > 0) {
    s->checkpoint_us = fires[n - 1];
    if (s->n_active == 0) { /* the fire failed: count it as a run that ended now */
      s->last_end_us = now;
      next = pgd_trigger_next(s->trig, now, now);
    }
  }
  if (n > 0) write_doc(m, s, NULL, NULL);
  arm(m, s, next);
}

static void on_due(void *item_ud, int64_t due_us, void *q_ud) {
  pgd_master_t *m = q_ud;
  m_sched_item_t *s = item_ud;
  (void)due_us;
  s->queued = false;
  if (m->stopping || !m->sched || m->sched->closing) return;
  evaluate(m, s);
}

/* Observer: an execution became final (concurrency, delay triggers). */
static void on_exec_final(void *ud, pgd_master_t *m, const pgd_master_exec_t *e) {
  (void)ud;
  if (!m->sched || m->sched->closing) return;
  const char *name = get_str(e->def, "schedule");
  m_sched_item_t *s = name ? m_sched_find(m, name) : NULL;
  if (!s || !active_remove(s, e->id)) return;
  int64_t end = get_int(e->rec, "finished_us", m_sched_now_us(m));
  if (end > s->last_end_us) s->last_end_us = end;
  if (pgd_trigger_kind(s->trig) == PGD_TRIGGER_DELAY && s->n_active == 0 && !m->stopping)
    arm(m, s, m_sched_now_us(m)); /* evaluate() computes end + delay */
}

void m_sched_subscribe(pgd_master_t *m) {
  pgd_master_observer_t obs = {.on_exec_final = on_exec_final};
  if (pgd_master_subscribe(m, &obs) < 0) abort(); /* out of memory at start */
}

/* ---- API operations ---- */

m_sched_item_t *m_sched_put(pgd_master_t *m, cJSON *def, pgd_trigger_t *trig,
                            pgd_store_done_cb cb, void *ud, int *rc) {
  int64_t now = m_sched_now_us(m);
  m_sched_item_t *s = m_sched_find(m, get_str(def, "name"));
  if (s) {
    /* Replaced: the new definition counts from now. */
    item_set_def(s, def, trig);
    if (now > s->checkpoint_us) s->checkpoint_us = now;
  } else {
    s = item_new(m, def, trig);
    s->checkpoint_us = now;
    s->created_us = now;
  }
  *rc = write_doc(m, s, cb, ud);
  if (s->enabled) arm(m, s, now);
  else disarm(m, s);
  return s;
}

int m_sched_set_enabled(pgd_master_t *m, m_sched_item_t *s, bool enabled, pgd_store_done_cb cb,
                        void *ud) {
  bool was = s->enabled;
  s->enabled = enabled;
  if (!enabled) disarm(m, s);
  else if (!was) arm(m, s, m_sched_now_us(m)); /* missed times since the pause: misfire policy */
  PGD_INFO(MOD, "schedule %s %s", s->name, enabled ? "resumed" : "paused");
  if (m_observers_want_events(m))
    m_observers_event_item(m, PGD_MASTER_EVENT_SCHEDULE, enabled ? "resumed" : "paused",
                           "schedule", cJSON_CreateString(s->name));
  return write_doc(m, s, cb, ud);
}

void m_sched_forget(pgd_master_t *m, m_sched_item_t *s) { item_free(m, s); }

int m_sched_delete(pgd_master_t *m, m_sched_item_t *s, pgd_store_done_cb cb, void *ud) {
  char name[160];
  snprintf(name, sizeof name, "%s", s->name);
  item_free(m, s);
  int rc = pgd_store_delete_doc(m->store, M_SCHED_DOC, name, NULL, NULL);
  if (rc == 0) rc = pgd_store_delete_docs(m->store, M_SCHED_RUN_DOC, name, cb, ud);
  return rc;
}

m_exec_t *m_sched_run_now(pgd_master_t *m, m_sched_item_t *s, m_durable_cb done, void *ud,
                          int64_t *flow_exec_id, char *err, size_t errlen) {
  *flow_exec_id = 0;
  if (s->flow) {
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(s->def, "params");
    m_flow_start(m, s->flow, cJSON_IsObject(params) ? params : NULL, "manual", 0, flow_exec_id,
                 err, errlen);
    return NULL;
  }
  return submit(m, s, m_sched_now_us(m), "manual", done, ud, err, errlen);
}

int m_sched_preview(const m_sched_item_t *s, int64_t now_us, int64_t *out, int n) {
  bool delay = pgd_trigger_kind(s->trig) == PGD_TRIGGER_DELAY;
  if (delay && s->n_active > 0) return 0; /* unknown until the run ends */
  int64_t after = now_us > s->checkpoint_us ? now_us : s->checkpoint_us;
  int count = 0;
  while (count < n) {
    int64_t t = pgd_trigger_next(s->trig, after, s->last_end_us);
    if (t < 0) break;
    out[count++] = t;
    after = t;
    if (delay) break; /* later ones depend on when each run ends */
  }
  return count;
}

int64_t m_sched_next_fire(pgd_master_t *m, const m_sched_item_t *s) {
  if (!s->enabled) return -1;
  int64_t t;
  return m_sched_preview(s, m_sched_now_us(m), &t, 1) == 1 ? t : -1;
}

/* ---- start and stop ---- */

/* The checkpoint after a restart (see the top of this file). */
static bool recover_progress(pgd_master_t *m, m_sched_item_t *s, const cJSON *doc) {
  bool dirty = false;
  s->checkpoint_us = get_int(doc, "checkpoint_us", get_int(doc, "created_us", m_sched_now_us(m)));
  s->last_fired_us = get_int(doc, "last_fired_us", -1);
  s->last_exec_id = get_int(doc, "last_execution_id", 0);
  s->created_us = get_int(doc, "created_us", 0);
  cJSON *runs = pgd_store_list_docs(m->store, M_SCHED_RUN_DOC, s->name, NULL, 1, NULL);
  const cJSON *last = cJSON_GetArrayItem(runs, 0);
  int64_t f = last ? get_int(last, "fire_us", -1) : -1;
  if (f > s->checkpoint_us) {
    s->checkpoint_us = f;
    dirty = true;
  }
  if (f > s->last_fired_us) {
    s->last_fired_us = f;
    int64_t id = get_int(last, "execution_id", 0);
    if (id > 0) s->last_exec_id = id;
  }
  cJSON_Delete(runs);
  return dirty;
}

static void recover_execs(pgd_master_t *m) {
  m_exec_t *e, *tmp;
  HASH_ITER(hh, m->execs, e, tmp) {
    const char *name = get_str(e->def, "schedule");
    m_sched_item_t *s = name ? m_sched_find(m, name) : NULL;
    if (!s) continue;
    int64_t fire = get_int(e->def, "scheduled_for_us", -1);
    if (!cJSON_GetObjectItemCaseSensitive(e->rec, "scheduled_for_us")) {
      char at[40];
      set_item(e->rec, "schedule", cJSON_CreateString(s->name));
      set_item(e->rec, "scheduled_for_us", cJSON_CreateNumber((double)fire));
      set_item(e->rec, "scheduled_for", cJSON_CreateString(pgd_format_time_us(fire, at, sizeof at)));
    }
    active_add(s, e->id);
    const char *trig = get_str(e->rec, "trigger");
    if (!trig || strcmp(trig, "schedule") != 0 || fire <= s->checkpoint_us) continue;
    /* Its run document was not stored before the master stopped. */
    PGD_INFO(MOD, "schedule %s: execution %lld of fire %lld had no run record; recorded",
             s->name, (long long)e->id, (long long)fire);
    s->checkpoint_us = s->last_fired_us = fire;
    s->last_exec_id = e->id;
    cJSON *run = cJSON_CreateObject();
    cJSON_AddNumberToObject(run, "execution_id", (double)e->id);
    cJSON_AddBoolToObject(run, "recovered", 1);
    write_run(m, s, run, fire, "started");
    cJSON_Delete(run);
    write_doc(m, s, NULL, NULL);
  }
}

int64_t m_sched_now_us(const pgd_master_t *m) { return pgd_clock_now_us(m->cfg.clock); }

int m_sched_start(pgd_master_t *m, char *err, size_t errlen) {
  struct m_sched *sc = calloc(1, sizeof *sc);
  if (!sc) return -ENOMEM;
  int rc = pgd_timerq_init(m->loop, &sc->q, on_due, m);
  if (rc < 0) {
    free(sc);
    snprintf(err, errlen, "cannot create the schedule timer queue: %s", strerror(-rc));
    return rc;
  }
  pgd_timerq_set_clock(sc->q, m->cfg.clock); /* one clock for the queue and the decisions */
  m->sched = sc;
  cJSON *docs = pgd_store_list_docs(m->store, M_SCHED_DOC, NULL, NULL, 0, NULL);
  const cJSON *d;
  int n = 0;
  cJSON_ArrayForEach(d, docs) {
    char terr[512];
    pgd_trigger_t *trig = NULL;
    const char *name = get_str(d, "name");
    if (!name || !valid_name(name) || pgd_trigger_parse(d, 0, &trig, terr, sizeof terr) < 0) {
      PGD_ERROR(MOD, "stored schedule %s is not valid any more (%s); ignored", name ? name : "?",
                trig ? "" : terr);
      pgd_trigger_free(trig);
      continue;
    }
    cJSON *def = cJSON_Duplicate(d, 1);
    for (size_t i = 0; i < sizeof k_not_def / sizeof k_not_def[0]; i++)
      cJSON_DeleteItemFromObjectCaseSensitive(def, k_not_def[i]);
    m_sched_item_t *s = item_new(m, def, trig);
    if (recover_progress(m, s, d)) write_doc(m, s, NULL, NULL);
    n++;
  }
  cJSON_Delete(docs);
  recover_execs(m);
  int64_t now = m_sched_now_us(m);
  m_sched_item_t *s, *tmp;
  HASH_ITER(hh, sc->items, s, tmp) {
    if (s->last_exec_id > 0 && s->n_active == 0) {
      /* The last run ended while the master was away (or before). */
      cJSON *rec = pgd_store_get_execution(m->store, s->last_exec_id);
      s->last_end_us = rec ? get_int(rec, "finished_us", now) : now;
      cJSON_Delete(rec);
    }
    arm(m, s, now); /* evaluate() applies the misfire policy */
  }
  if (n) PGD_INFO(MOD, "loaded %d schedules", n);
  return 0;
}

static void on_queue_closed(void *arg) {
  pgd_master_t *m = arg;
  void (*cb)(pgd_master_t *) = m->sched->closed;
  free(m->sched);
  m->sched = NULL;
  if (cb) cb(m);
}

void m_sched_close(pgd_master_t *m, void (*closed)(pgd_master_t *m)) {
  struct m_sched *sc = m->sched;
  if (!sc) {
    if (closed) closed(m);
    return;
  }
  sc->closing = true;
  sc->closed = closed;
  m_sched_item_t *s, *tmp;
  HASH_ITER(hh, sc->items, s, tmp) item_free(m, s);
  pgd_timerq_close(sc->q, on_queue_closed, m);
}
