/* Pagoda alarms — what the master tells the service (observer callbacks)
 * turned into events for a_raise, and the SLA watches of scheduled runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarm/alarm_int.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"

#define MOD "alarm"

/* ---- executions ---- */

static void exec_event(pgd_alarms_t *a, const cJSON *rec, pgd_alarm_event_t event,
                       int64_t exec_id) {
  const cJSON *def = pgd_json_get(rec, "definition");
  const char *job = pgd_json_str(rec, "job");
  const char *schedule = pgd_json_str(def, "schedule");
  const char *worker = pgd_json_str(rec, "worker_id");
  const char *error = pgd_json_str(rec, "error");
  const char *state = pgd_json_str(rec, "state");
  char subject[512], text[1536], owner[300], code[40] = "";
  if (event == PGD_ALARM_EV_RETRIES_EXHAUSTED)
    snprintf(subject, sizeof subject, "Pagoda: job %s execution %lld %s after %lld retries",
             job ? job : "?", (long long)exec_id, state ? state : "?",
             (long long)pgd_json_int(def, "retries", 0));
  else
    snprintf(subject, sizeof subject, "Pagoda: job %s execution %lld %s", job ? job : "?",
             (long long)exec_id, pgd_alarm_event_name(event));
  if (!error && cJSON_IsNumber(pgd_json_get(rec, "exit_code")))
    snprintf(code, sizeof code, ", exit code %lld", (long long)pgd_json_int(rec, "exit_code", 0));
  snprintf(text, sizeof text, "Execution %lld of job %s ended %s%s%s%s (attempt %lld%s%s)%s.",
           (long long)exec_id, job ? job : "?", state ? state : "?", error ? ": " : "",
           error ? error : "", code, (long long)pgd_json_int(rec, "attempt", 0),
           worker ? ", worker " : "", worker ? worker : "",
           schedule ? ", fired by its schedule" : "");
  snprintf(owner, sizeof owner, "job:%s", job ? job : "");
  a_event_t ev = {.cause = {.event = event, .job = job, .schedule = schedule, .worker = worker},
                  .execution_id = exec_id,
                  .flow_execution_id = pgd_json_int(rec, "flow_execution_id",
                                                    pgd_json_int(def, "flow_execution_id", 0)),
                  .subject = subject,
                  .text = text,
                  .def_rules = pgd_json_get(def, "alarms"),
                  .def_rules_owner = owner};
  a_raise(a, &ev);
  /* The schedule's own rules (its definition's "alarms"); the
   * configuration's rules were matched above. */
  if (schedule) {
    cJSON *sv = pgd_master_schedule_get(a->m, schedule, 0, -1);
    if (pgd_json_get(sv, "alarms")) {
      snprintf(owner, sizeof owner, "schedule:%s", schedule);
      ev.def_rules = pgd_json_get(sv, "alarms");
      ev.skip_config = true;
      a_raise(a, &ev);
    }
    cJSON_Delete(sv);
  }
}

static void sla_exec_progress(pgd_alarms_t *a, const cJSON *rec, bool final);

static void on_state_change(void *ud, pgd_master_t *m, const pgd_master_exec_t *e) {
  pgd_alarms_t *a = ud;
  (void)m;
  if (a->n_slas == 0) return;
  pgd_exec_state_t st = pgd_master_exec_state(e);
  if (st == PGD_STATE_RUNNING) sla_exec_progress(a, pgd_master_exec_record(e), false);
}

static void on_exec_final(void *ud, pgd_master_t *m, const pgd_master_exec_t *e) {
  pgd_alarms_t *a = ud;
  (void)m;
  const cJSON *rec = pgd_master_exec_record(e);
  if (a->n_slas > 0) sla_exec_progress(a, rec, true);
  pgd_exec_state_t st = pgd_master_exec_state(e);
  int ev = st == PGD_STATE_FAILED      ? PGD_ALARM_EV_FAILED
           : st == PGD_STATE_TIMED_OUT ? PGD_ALARM_EV_TIMED_OUT
           : st == PGD_STATE_LOST      ? PGD_ALARM_EV_LOST
                                       : -1;
  if (ev < 0) return;
  int64_t id = pgd_master_exec_id(e);
  exec_event(a, rec, (pgd_alarm_event_t)ev, id);
  if (pgd_json_int(pgd_json_get(rec, "definition"), "retries", 0) > 0)
    exec_event(a, rec, PGD_ALARM_EV_RETRIES_EXHAUSTED, id);
}

/* ---- workers, flows, schedules ---- */

static void worker_lost(pgd_alarms_t *a, const cJSON *data) {
  const cJSON *w = pgd_json_get(data, "worker");
  const char *id = pgd_json_str(w, "id");
  char subject[300], text[600];
  snprintf(subject, sizeof subject, "Pagoda: worker %s lost", id ? id : "?");
  snprintf(text, sizeof text,
           "Worker %s (%s) stopped answering heartbeats; its running executions are lost or "
           "relaunched as their jobs say.",
           id ? id : "?", pgd_json_str(w, "host") ? pgd_json_str(w, "host") : "unknown host");
  a_event_t ev = {.cause = {.event = PGD_ALARM_EV_WORKER_LOST, .worker = id},
                  .subject = subject,
                  .text = text};
  a_raise(a, &ev);
}

static void flow_final(pgd_alarms_t *a, const cJSON *data) {
  const cJSON *fx = pgd_json_get(data, "flow_execution");
  const char *state = pgd_json_str(fx, "state");
  if (!state || (strcmp(state, "failed") != 0 && strcmp(state, "timed_out") != 0)) return;
  const char *flow = pgd_json_str(fx, "flow");
  int64_t id = pgd_json_int(fx, "id", 0);
  char subject[400], text[800], owner[300];
  snprintf(subject, sizeof subject, "Pagoda: flow %s execution %lld %s", flow ? flow : "?",
           (long long)id, state);
  snprintf(text, sizeof text, "Flow execution %lld of flow %s ended %s.", (long long)id,
           flow ? flow : "?", state);
  snprintf(owner, sizeof owner, "flow:%s", flow ? flow : "");
  cJSON *fdef = flow ? pgd_master_flow_get(a->m, flow) : NULL;
  a_event_t ev = {
      .cause = {.event = strcmp(state, "failed") == 0 ? PGD_ALARM_EV_FAILED
                                                      : PGD_ALARM_EV_TIMED_OUT,
                .flow = flow},
      .flow_execution_id = id,
      .subject = subject,
      .text = text,
      .def_rules = pgd_json_get(fdef, "alarms")
                       ? pgd_json_get(fdef, "alarms")
                       : pgd_json_get(pgd_json_get(fdef, "definition"), "alarms"),
      .def_rules_owner = owner};
  a_raise(a, &ev);
  cJSON_Delete(fdef);
}

static void schedule_misfired(pgd_alarms_t *a, const cJSON *data) {
  const char *name = pgd_json_str(data, "schedule");
  int64_t missed = pgd_json_int(data, "missed", 1), first = pgd_json_int(data, "first_missed_us", 0);
  char subject[400], text[800], at[40], owner[300];
  snprintf(subject, sizeof subject, "Pagoda: schedule %s misfired", name ? name : "?");
  snprintf(text, sizeof text,
           "Schedule %s missed %lld fire time(s), the first at %s (misfire policy %s, %lld run "
           "late).",
           name ? name : "?", (long long)missed, pgd_format_time_us(first, at, sizeof at),
           pgd_json_str(data, "policy") ? pgd_json_str(data, "policy") : "?",
           (long long)pgd_json_int(data, "run_late", 0));
  snprintf(owner, sizeof owner, "schedule:%s", name ? name : "");
  cJSON *sv = name ? pgd_master_schedule_get(a->m, name, 0, -1) : NULL;
  a_event_t ev = {.cause = {.event = PGD_ALARM_EV_MISFIRE, .schedule = name,
                            .job = pgd_json_str(sv, "job"), .flow = pgd_json_str(sv, "flow")},
                  .subject = subject,
                  .text = text,
                  .def_rules = pgd_json_get(sv, "alarms"),
                  .def_rules_owner = owner};
  a_raise(a, &ev);
  cJSON_Delete(sv);
}

/* ---- SLA watches ---- */

static a_sla_t *sla_add(pgd_alarms_t *a) {
  if (a->n_slas == a->cap_slas) {
    int cap = a->cap_slas ? 2 * a->cap_slas : 8;
    a_sla_t *v = realloc(a->slas, (size_t)cap * sizeof *v);
    if (!v) return NULL;
    a->slas = v;
    a->cap_slas = cap;
  }
  a_sla_t *s = &a->slas[a->n_slas++];
  memset(s, 0, sizeof *s);
  return s;
}

static void sla_remove(pgd_alarms_t *a, int i) {
  free(a->slas[i].schedule);
  free(a->slas[i].rule.id);
  a->slas[i] = a->slas[--a->n_slas];
}

void a_sla_free_all(pgd_alarms_t *a) {
  while (a->n_slas > 0) sla_remove(a, a->n_slas - 1);
}

static void watch_rule(pgd_alarms_t *a, const pgd_alarm_rule_t *r, const char *schedule,
                       const char *zone, int64_t fire_us) {
  if (r->sla_start_within_us < 0 && r->sla_finish_within_us < 0 && r->sla_finish_by_s < 0) return;
  a_sla_t *s = sla_add(a);
  if (!s) return;
  s->schedule = strdup(schedule);
  s->rule = *r;
  s->rule.id = strdup(r->id);
  s->rule.job = s->rule.flow = s->rule.schedule = s->rule.worker = NULL;
  s->rule.channels = NULL;
  s->rule.n_channels = 0;
  s->fire_us = fire_us;
  s->start_deadline_us = r->sla_start_within_us >= 0 ? fire_us + r->sla_start_within_us : -1;
  s->finish_deadline_us = r->sla_finish_within_us >= 0 ? fire_us + r->sla_finish_within_us : -1;
  if (r->sla_finish_by_s >= 0) {
    int64_t by = pgd_alarm_next_time_of_day(zone, fire_us, r->sla_finish_by_s);
    if (by >= 0 && (s->finish_deadline_us < 0 || by < s->finish_deadline_us))
      s->finish_deadline_us = by;
  }
}

/* Watches the run of schedule `name` (view `sv`, borrowed) due at `fire`
 * for every SLA rule that applies to it. */
static void watch_run(pgd_alarms_t *a, const char *name, const cJSON *sv, int64_t fire) {
  pgd_alarm_cause_t cause = {.event = PGD_ALARM_EV_SLA_MISSED, .schedule = name};
  const char *zone = pgd_json_str(sv, "timezone");
  for (int i = 0; i < a->cfg.n_rules; i++)
    if (pgd_alarm_rule_matches(&a->cfg.rules[i], &cause))
      watch_rule(a, &a->cfg.rules[i], name, zone, fire);
  int n = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, pgd_json_get(sv, "alarms")) {
    char id[300], err[512];
    snprintf(id, sizeof id, "schedule:%s.%d", name, n++);
    pgd_alarm_rule_t r;
    if (pgd_alarm_rule_parse(it, id, false, a->cfg.group_window_us, &a->cfg, &r, err,
                             sizeof err) < 0)
      continue; /* logged when an event reaches it */
    watch_rule(a, &r, name, zone, fire);
    pgd_alarm_rule_free(&r);
  }
}

static void schedule_fired(pgd_alarms_t *a, const cJSON *data) {
  const char *name = pgd_json_str(data, "schedule");
  int64_t fire = pgd_json_int(data, "fire_us", 0);
  if (!name || fire <= 0 || !a_leading(a)) return;
  cJSON *sv = pgd_master_schedule_get(a->m, name, 0, -1);
  watch_run(a, name, sv, fire);
  cJSON_Delete(sv);
}

/* Runs per schedule looked at when a master takes over. */
#define SLA_RESTORE_RUNS 5

void a_sla_restore(pgd_alarms_t *a, int64_t now_us) {
  cJSON *list = pgd_master_schedules_list(a->m);
  const cJSON *s;
  cJSON_ArrayForEach(s, list) {
    const char *name = pgd_json_str(s, "name");
    if (!name) continue;
    cJSON *sv = pgd_master_schedule_get(a->m, name, 0, SLA_RESTORE_RUNS);
    const cJSON *run;
    cJSON_ArrayForEach(run, pgd_json_get(sv, "runs")) {
      int64_t fire = pgd_json_int(run, "fire_us", 0);
      const char *st = pgd_json_str(run, "execution_state");
      if (fire <= 0 || !pgd_json_get(run, "execution_id")) continue;
      int first = a->n_slas;
      watch_run(a, name, sv, fire);
      /* what the run did meanwhile; deadlines that passed long ago (more
       * than the rule's window: their alarm was raised and has expired)
       * are not raised again */
      int ps = st ? pgd_exec_state_parse(st) : -1;
      for (int i = first; i < a->n_slas; i++) {
        a_sla_t *w = &a->slas[i];
        w->started = ps >= PGD_STATE_RUNNING;
        w->finished = ps >= 0 && pgd_exec_state_final((pgd_exec_state_t)ps);
        int64_t win = w->rule.group_window_us;
        if (w->start_deadline_us >= 0 && now_us - w->start_deadline_us > win)
          w->start_raised = true;
        if (w->finish_deadline_us >= 0 && now_us - w->finish_deadline_us > win)
          w->finish_raised = true;
      }
    }
    cJSON_Delete(sv);
  }
  cJSON_Delete(list);
}

static void sla_exec_progress(pgd_alarms_t *a, const cJSON *rec, bool final) {
  const cJSON *def = pgd_json_get(rec, "definition");
  const char *schedule = pgd_json_str(def, "schedule");
  int64_t fire = pgd_json_int(def, "scheduled_for_us", -1);
  if (!schedule) return;
  for (int i = 0; i < a->n_slas; i++) {
    a_sla_t *s = &a->slas[i];
    if (s->fire_us != fire || strcmp(s->schedule, schedule) != 0) continue;
    s->started = true;
    if (final) s->finished = true;
  }
}

static void sla_raise(pgd_alarms_t *a, a_sla_t *s, bool start) {
  char subject[400], text[800], due[40], dl[40], owner[300];
  pgd_format_time_us(s->fire_us, due, sizeof due);
  pgd_format_time_us(start ? s->start_deadline_us : s->finish_deadline_us, dl, sizeof dl);
  snprintf(subject, sizeof subject, "Pagoda: schedule %s missed its SLA (%s)", s->schedule,
           start ? "not started" : "not finished");
  snprintf(text, sizeof text, "The run of schedule %s due at %s had not %s by %s.", s->schedule,
           due, start ? "started" : "finished", dl);
  snprintf(owner, sizeof owner, "schedule:%s", s->schedule);
  cJSON *sv = pgd_master_schedule_get(a->m, s->schedule, 0, -1);
  a_event_t ev = {.cause = {.event = PGD_ALARM_EV_SLA_MISSED, .schedule = s->schedule,
                            .job = pgd_json_str(sv, "job"), .flow = pgd_json_str(sv, "flow")},
                  .subject = subject,
                  .text = text,
                  .def_rules = pgd_json_get(sv, "alarms"),
                  .def_rules_owner = owner,
                  .only_rule = s->rule.id};
  a_raise(a, &ev);
  cJSON_Delete(sv);
}

void a_sla_tick(pgd_alarms_t *a, int64_t now_us) {
  for (int i = 0; i < a->n_slas;) {
    a_sla_t *s = &a->slas[i];
    if (!s->started && !s->start_raised && s->start_deadline_us >= 0 &&
        now_us > s->start_deadline_us) {
      s->start_raised = true;
      sla_raise(a, s, true);
      s = &a->slas[i]; /* a_raise may not add watches, but stay safe */
    }
    if (!s->finished && !s->finish_raised && s->finish_deadline_us >= 0 &&
        now_us > s->finish_deadline_us) {
      s->finish_raised = true;
      sla_raise(a, s, false);
      s = &a->slas[i];
    }
    bool start_done = s->started || s->start_raised || s->start_deadline_us < 0;
    bool finish_done = s->finished || s->finish_raised || s->finish_deadline_us < 0;
    if (start_done && finish_done)
      sla_remove(a, i);
    else
      i++;
  }
}

static void on_event(void *ud, pgd_master_t *m, const char *kind, const cJSON *data) {
  pgd_alarms_t *a = ud;
  (void)m;
  const char *change = pgd_json_str(data, "change");
  if (!change) return;
  if (strcmp(kind, PGD_MASTER_EVENT_WORKER) == 0 && strcmp(change, "lost") == 0)
    worker_lost(a, data);
  else if (strcmp(kind, PGD_MASTER_EVENT_FLOW) == 0 && strcmp(change, "final") == 0)
    flow_final(a, data);
  else if (strcmp(kind, PGD_MASTER_EVENT_SCHEDULE) == 0 && strcmp(change, "misfired") == 0)
    schedule_misfired(a, data);
  else if (strcmp(kind, PGD_MASTER_EVENT_SCHEDULE) == 0 && strcmp(change, "fired") == 0)
    schedule_fired(a, data);
}

const pgd_master_observer_t a_observer_template = {
    .on_state_change = on_state_change,
    .on_exec_final = on_exec_final,
    .on_event = on_event,
};
