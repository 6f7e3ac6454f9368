/* The cost of one metrics hook (core/common/metrics.h), in ns, on this
 * machine: what the job path pays per event with metrics on, and with
 * metrics off (the flag test); and the cost of rendering a registry the
 * size of a busy cluster's (500 jobs x 3 final states, the histograms, 40
 * routes). CPU-bound and single-threaded: far steadier on a loaded machine
 * than end-to-end throughput. Prints figures; asserts nothing.
 *
 *   build/bench/bench_metrics_hooks [iterations]
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/metrics.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 2000000;
  pgd_metrics_t *reg = pgd_metrics_new();
  pgd_metric_family_t *execs = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_executions_total", .kind = PGD_METRIC_COUNTER,
                                .labels = {"pagoda_job", "state", "reason", NULL},
                                .capped_label = 0, .cap = 500});
  pgd_metric_family_t *http = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_http_requests_total", .kind = PGD_METRIC_COUNTER,
                                .labels = {"route", "method", "code", NULL}});
  pgd_metric_family_t *dur = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_http_request_duration_seconds",
                                .kind = PGD_METRIC_HISTOGRAM, .labels = {"route", NULL}});
  pgd_metric_t *hist = pgd_metric_of(pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_execution_start_delay_seconds",
                                .kind = PGD_METRIC_HISTOGRAM}));
  char job[32];
  static const char *const states[] = {"succeeded", "failed", "killed"};
  for (int j = 0; j < 500; j++) {
    snprintf(job, sizeof job, "job-%03d", j);
    for (int s = 0; s < 3; s++) PGD_METRIC_INC(execs, job, states[s], "ok");
  }
  char route[64];
  for (int r = 0; r < 40; r++) {
    snprintf(route, sizeof route, "/api/v1/route%d/{name}", r);
    PGD_METRIC_INC(http, route, "GET", "200");
    PGD_METRIC_OBSERVE(dur, 0.001, route);
  }

  double t = now_s();
  for (long i = 0; i < n; i++) PGD_METRIC_INC(execs, "job-123", "failed", "ok");
  double labelled = (now_s() - t) / (double)n * 1e9;

  t = now_s();
  for (long i = 0; i < n; i++) PGD_METRIC_OBSERVE(dur, 0.0042, "/api/v1/route7/{name}");
  double labelled_hist = (now_s() - t) / (double)n * 1e9;

  t = now_s();
  for (long i = 0; i < n; i++) pgd_metric_observe(hist, (double)(i & 1023) / 1000.0);
  double unlabelled_hist = (now_s() - t) / (double)n * 1e9;

  pgd_metrics_set_enabled(false);
  t = now_s();
  for (long i = 0; i < n; i++) PGD_METRIC_INC(execs, "job-123", "failed", "ok");
  double off = (now_s() - t) / (double)n * 1e9;
  pgd_metrics_set_enabled(true);

  int renders = 200;
  size_t bytes = 0;
  t = now_s();
  for (int i = 0; i < renders; i++) {
    pgd_strbuf_t b = PGD_STRBUF_INIT;
    pgd_metrics_render(reg, &b);
    bytes = b.len;
    pgd_strbuf_free(&b);
  }
  double render_ms = (now_s() - t) / renders * 1e3;

  printf("metrics hooks, %ld iterations each (ns per call):\n", n);
  printf("  counter, 3 labels (find the series + atomic add)   %7.1f ns\n", labelled);
  printf("  histogram, 1 label (find + bucket + sum + count)   %7.1f ns\n", labelled_hist);
  printf("  histogram, no label (child pointer kept)           %7.1f ns\n", unlabelled_hist);
  printf("  any hook with master.metrics.enabled = false       %7.1f ns\n", off);
  printf("render: %zu bytes of text (1,500 execution series, 41 histograms): %.2f ms per scrape\n",
         bytes, render_ms);
  pgd_metrics_free(reg);
  return 0;
}
