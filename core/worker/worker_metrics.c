/* Pagoda worker — its metrics (docs/observability.md): attempts that ended
 * by state (counted as their final report is queued) and, at scrape time,
 * slots, running attempts, the connection to the master and the reports
 * waiting for the master's acknowledgement. Served by the daemon on
 * --metrics-addr (and, in `pagoda dev`, with the master's /metrics).
 * Loop thread only. */
#include "worker/worker_priv.h"

#include "common/metrics.h"

static pgd_metric_family_t *attempts_family(void) {
  static pgd_metric_family_t *fam;
  if (!fam)
    fam = pgd_metrics_family(
        pgd_metrics_default(),
        &(pgd_metric_desc_t){.name = "pagoda_worker_attempts_total",
                             .help = "Attempts this worker ran to their end, by final state.",
                             .kind = PGD_METRIC_COUNTER,
                             .labels = {"state", NULL}});
  return fam;
}

void pgd_worker__count_report(pgd_worker_t *w, pgd_exec_state_t state) {
  if (!w->metrics_collector || !pgd_exec_state_final(state)) return;
  PGD_METRIC_INC(attempts_family(), pgd_exec_state_name(state));
}

static void collect(pgd_metrics_out_t *out, void *ud) {
  pgd_worker_t *w = ud;
  pgd_metrics_out_single(out, "pagoda_worker_slots_capacity", PGD_METRIC_GAUGE,
                         "Slots this worker offers.", w->slots);
  pgd_metrics_out_single(out, "pagoda_worker_slots_used", PGD_METRIC_GAUGE,
                         "Slots taken by this worker's running attempts.", w->used_slots);
  pgd_metrics_out_single(out, "pagoda_worker_attempts_running", PGD_METRIC_GAUGE,
                         "Attempts running on this worker.", w->running);
  pgd_metrics_out_single(out, "pagoda_worker_connected", PGD_METRIC_GAUGE,
                         "1 while this worker is connected to a master and welcomed.",
                         w->conn && w->welcomed ? 1 : 0);
  pgd_metrics_out_single(out, "pagoda_worker_reports_unacked", PGD_METRIC_GAUGE,
                         "State and log reports the master has not acknowledged yet.",
                         (double)pgd_reports_pending(&w->reports));
}

int pgd_worker_metrics_start(pgd_worker_t *w) {
  if (w->metrics_collector > 0 || !pgd_metrics_enabled()) return 0;
  attempts_family();
  int h = pgd_metrics_add_collector(pgd_metrics_default(), collect, w);
  if (h < 0) return h;
  w->metrics_collector = h;
  return 0;
}

void pgd_worker__metrics_stop(pgd_worker_t *w) {
  if (w->metrics_collector <= 0) return;
  pgd_metrics_remove_collector(pgd_metrics_default(), w->metrics_collector);
  w->metrics_collector = 0;
}
