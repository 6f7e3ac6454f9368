/* Pagoda alarms — their counters in /metrics (docs/observability.md
 * "Alarms"). A scrape-time collector over pgd_alarms_stats: nothing is
 * counted twice and the alarm code keeps no metric handles. Loop thread. */
#include "alarm/alarm_int.h"

#include "common/metrics.h"

#define MAX_CHANNELS 64

static void collect(pgd_metrics_out_t *out, void *ud) {
  const pgd_alarms_t *a = ud;
  pgd_alarm_stats_t t;
  pgd_alarm_channel_stats_t ch[MAX_CHANNELS];
  int n = pgd_alarms_stats(a, &t, ch, MAX_CHANNELS);
  if (n > MAX_CHANNELS) n = MAX_CHANNELS;
  pgd_metrics_out_single(out, "pagoda_alarms_raised_total", PGD_METRIC_COUNTER,
                         "Alarms stored (a new cause; dropped ones included).", (double)t.raised);
  pgd_metrics_out_single(out, "pagoda_alarms_grouped_total", PGD_METRIC_COUNTER,
                         "Repeats folded into an alarm already raised for the same cause.",
                         (double)t.grouped);
  pgd_metrics_out_single(out, "pagoda_alarms_dropped_total", PGD_METRIC_COUNTER,
                         "Alarms a Lua alarm hook dropped.", (double)t.dropped);
  static const char *const keys[] = {"channel"};
  struct {
    const char *name, *help;
    pgd_metric_kind_t kind;
  } fams[] = {
      {"pagoda_alarm_deliveries_total", "Alarms delivered, by channel.", PGD_METRIC_COUNTER},
      {"pagoda_alarm_delivery_failures_total",
       "Delivery attempts that failed, by channel (each retry counts).", PGD_METRIC_COUNTER},
      {"pagoda_alarm_given_up_total", "Alarms that reached max_attempts on a channel.",
       PGD_METRIC_COUNTER},
      {"pagoda_alarms_pending", "Alarms waiting to be delivered on a channel now (leader).",
       PGD_METRIC_GAUGE},
  };
  for (size_t f = 0; f < sizeof fams / sizeof fams[0]; f++) {
    pgd_metrics_out_family(out, fams[f].name, fams[f].kind, fams[f].help);
    for (int i = 0; i < n; i++) {
      const char *values[] = {ch[i].channel ? ch[i].channel : ""};
      double v = f == 0   ? (double)ch[i].sent
                 : f == 1 ? (double)ch[i].failed
                 : f == 2 ? (double)ch[i].given_up
                          : (double)ch[i].pending;
      pgd_metrics_out_sample(out, fams[f].name, 1, keys, values, v);
    }
  }
}

int pgd_alarms_metrics_start(pgd_alarms_t *a) {
  if (!a || !pgd_metrics_enabled()) return 0;
  int h = pgd_metrics_add_collector(pgd_metrics_default(), collect, a);
  if (h < 0) return h;
  a->metrics_collector = h;
  return 0;
}

void pgd_alarms_metrics_stop(pgd_alarms_t *a) {
  if (!a || a->metrics_collector <= 0) return;
  pgd_metrics_remove_collector(pgd_metrics_default(), a->metrics_collector);
  a->metrics_collector = 0;
}
