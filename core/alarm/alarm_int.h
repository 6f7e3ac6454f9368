/* Pagoda alarms — the service's private state (alarm_svc.c: store,
 * grouping, delivery, leadership; alarm_events.c: observer events, SLA
 * watches). Not public; loop thread only. */
#ifndef PAGODA_ALARM_ALARM_INT_H
#define PAGODA_ALARM_ALARM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "alarm/alarm.h"
#include "alarm/alarm_deliver.h"
#include "alarm/alarm_hook.h"
#include "alarm/alarm_rules.h"

/* An alarm not yet delivered to every channel (leader's memory). */
typedef struct a_pending {
  int64_t id;
  cJSON *doc;     /* the stored document (deliveries included) */
  bool durable;   /* its first write committed: may be sent */
  unsigned in_flight; /* bit per channel index: a send submitted, not yet reported */
} a_pending_t;

/* A group: the alarm that repeats of one cause fold into. */
typedef struct a_group {
  char *key;
  int64_t id;
  int64_t first_us;
  int64_t window_us;
} a_group_t;

/* A scheduled run whose SLA is watched. */
typedef struct a_sla {
  char *schedule;
  pgd_alarm_rule_t rule; /* a copy of the rule's id and SLA fields (id owned) */
  int64_t fire_us;
  int64_t start_deadline_us;  /* -1 none */
  int64_t finish_deadline_us; /* -1 none */
  bool started, finished, start_raised, finish_raised;
} a_sla_t;

typedef struct a_channel_stats {
  uint64_t sent, failed, given_up;
} a_channel_stats_t;

struct pgd_alarms {
  uv_loop_t *loop;
  pgd_master_t *m;
  pgd_alarm_config_t cfg;
  pgd_alarm_hooks_t *hooks;
  char *hooks_dir; /* where they are loaded from (nullable) */
  pgd_alarm_sender_t *sender;
  uv_timer_t tick;
  int observer;
  bool leader;
  int64_t next_id;
  a_pending_t *pending;
  int n_pending, cap_pending;
  a_group_t *groups;
  int n_groups, cap_groups;
  a_sla_t *slas;
  int n_slas, cap_slas;
  pgd_alarm_stats_t stats;
  a_channel_stats_t *ch_stats; /* one per cfg.channels */
  int metrics_collector;       /* alarm_metrics.c: collector handle, 0 = none */
};

/* ---- alarm_metrics.c ---- */
/* Adds the alarms' counters to /metrics (a scrape-time collector over
 * pgd_alarms_stats) when metrics are on; 0 or -ENOMEM. Loop thread. */
int pgd_alarms_metrics_start(pgd_alarms_t *a);
/* Removes that collector (no-op if none). Loop thread, before a is freed. */
void pgd_alarms_metrics_stop(pgd_alarms_t *a);

/* What raise() is told about an event (strings borrowed). */
typedef struct a_event {
  pgd_alarm_cause_t cause;
  int64_t execution_id;       /* 0 = none */
  int64_t flow_execution_id;  /* 0 = none */
  const char *subject;
  const char *text;
  const cJSON *def_rules;     /* the definition's "alarms" list (nullable) */
  const char *def_rules_owner; /* "job:NAME" / "schedule:NAME" / "flow:NAME" */
  const char *only_rule;      /* raise for this rule id only (SLA), nullable */
  bool skip_config;           /* match def_rules only */
} a_event_t;

/* ---- alarm_svc.c ---- */
/* Raises alarms for `ev` (leader only): rules, grouping, hooks, store,
 * delivery. */
void a_raise(pgd_alarms_t *a, const a_event_t *ev);
/* True when this master leads (after taking over the alarms). */
bool a_leading(pgd_alarms_t *a);

/* ---- alarm_events.c ---- */
extern const pgd_master_observer_t a_observer_template;
/* Checks SLA deadlines (called by the tick). */
void a_sla_tick(pgd_alarms_t *a, int64_t now_us);
void a_sla_free_all(pgd_alarms_t *a);
/* A new leader: watches the SLA of each schedule's latest runs again (the
 * watches are memory only), so a deadline that passes, or passed while no
 * master led, is still raised. */
void a_sla_restore(pgd_alarms_t *a, int64_t now_us);

#endif
