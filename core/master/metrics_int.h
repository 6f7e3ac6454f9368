/* Pagoda master — its metrics (master_metrics.c; docs/observability.md):
 * the families the hot paths update, and one-line hooks for them. Every
 * hook is a no-op while m->metrics is NULL (metrics off, or never
 * started), so the job path pays one pointer test. Not public; loop thread
 * only (the registry's owner thread). */
#ifndef PAGODA_MASTER_METRICS_INT_H
#define PAGODA_MASTER_METRICS_INT_H

#include <stdint.h>

#include "common/metrics.h"
#include "master/master_int.h"

typedef struct pgd_trigger pgd_trigger_t; /* sched/trigger.h */

struct m_metrics {
  pgd_metric_family_t *executions;     /* pagoda_executions_total{pagoda_job,state,reason} */
  pgd_metric_t *start_delay;           /* pagoda_execution_start_delay_seconds */
  pgd_metric_t *dispatch_delay;        /* pagoda_execution_dispatch_delay_seconds */
  pgd_metric_t *queue_wait;            /* pagoda_execution_queue_wait_seconds */
  pgd_metric_t *balancer_pick;         /* pagoda_balancer_pick_seconds */
  pgd_metric_t *sched_lateness;        /* pagoda_schedule_fire_lateness_seconds */
  pgd_metric_family_t *sched_misfires; /* pagoda_schedule_misfires_total{policy} */
  int observer;                        /* pgd_master_subscribe handle */
  int collector;                       /* pgd_metrics_add_collector handle */
  struct m_started *started;           /* executions whose start was observed (uthash) */
};

/* A balancer pick that began at t0_us (pgd_now_us) just returned. */
void m_metrics_balancer_pick(pgd_master_t *m, int64_t t0_us);
/* A schedule fire for fire_us is being submitted now. */
void m_metrics_schedule_fired(pgd_master_t *m, int64_t fire_us);
/* A schedule evaluation at now_us: counts a misfire when the first due time
 * after checkpoint_us is older than the trigger's misfire grace. */
void m_metrics_schedule_evaluated(pgd_master_t *m, const pgd_trigger_t *trig,
                                  int64_t checkpoint_us, int64_t last_end_us, int64_t now_us);
/* pgd_master_stop: unsubscribes, removes the collector, frees m->metrics. */
void m_metrics_stop(pgd_master_t *m);

#endif
