/* Unit tests of core/common/metrics: the registry (counters, gauges,
 * histograms, bounded label sets, collectors, the off switch) and the
 * Prometheus text exposition (escaping, histogram buckets, value format).
 * The output is also fed to `promtool check metrics` by
 * tests/integration/test_metrics.py. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "common/metrics.h"

static char *render(pgd_metrics_t *reg) {
  pgd_strbuf_t b = PGD_STRBUF_INIT;
  CU_ASSERT_EQUAL(pgd_metrics_render(reg, &b), 0);
  return pgd_strbuf_take(&b);
}

static void test_counter_and_gauge(void) {
  pgd_metrics_t *reg = pgd_metrics_new();
  pgd_metric_family_t *c = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_things_total", .help = "Things done.",
                                .kind = PGD_METRIC_COUNTER, .labels = {"kind", NULL}});
  pgd_metric_family_t *g = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_level", .help = "A level.", .kind = PGD_METRIC_GAUGE});
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  CU_ASSERT_PTR_NOT_NULL_FATAL(g);
  pgd_metric_inc(pgd_metric_child(c, (const char *const[]){"a"}));
  pgd_metric_inc(pgd_metric_child(c, (const char *const[]){"a"}));
  pgd_metric_add(pgd_metric_child(c, (const char *const[]){"b"}), 3);
  pgd_metric_set(pgd_metric_of(g), 2.5);
  CU_ASSERT_EQUAL(pgd_metric_family_children(c), 2);
  CU_ASSERT_DOUBLE_EQUAL(pgd_metric_value(pgd_metric_child(c, (const char *const[]){"a"})), 2, 1e-9);
  char *text = render(reg);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "# HELP pagoda_things_total Things done.\n"
                                      "# TYPE pagoda_things_total counter\n"
                                      "pagoda_things_total{kind=\"a\"} 2\n"
                                      "pagoda_things_total{kind=\"b\"} 3\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE pagoda_level gauge\npagoda_level 2.5\n"));
  free(text);
  /* Same name, same kind: the same family; another kind: refused. */
  CU_ASSERT_PTR_EQUAL(pgd_metrics_family(reg, &(pgd_metric_desc_t){.name = "pagoda_level",
                                                                    .kind = PGD_METRIC_GAUGE}),
                      g);
  CU_ASSERT_PTR_NULL(pgd_metrics_family(reg, &(pgd_metric_desc_t){.name = "pagoda_level",
                                                                   .kind = PGD_METRIC_COUNTER}));
  /* Invalid names */
  CU_ASSERT_PTR_NULL(pgd_metrics_family(reg, &(pgd_metric_desc_t){.name = "9lives"}));
  CU_ASSERT_PTR_NULL(pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_x", .labels = {"bad-label", NULL}}));
  pgd_metrics_free(reg);
}

static void test_escaping(void) {
  pgd_metrics_t *reg = pgd_metrics_new();
  pgd_metric_family_t *c = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_esc_total", .help = "Back\\slash and\nnewline \"q\".",
                                .kind = PGD_METRIC_COUNTER, .labels = {"job", NULL}});
  pgd_metric_inc(pgd_metric_child(c, (const char *const[]){"a\"b\\c\nd"}));
  char *text = render(reg);
  /* HELP: \\ and \n escaped, quotes kept; label value: all three escaped */
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "# HELP pagoda_esc_total Back\\\\slash and\\nnewline \"q\".\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "pagoda_esc_total{job=\"a\\\"b\\\\c\\nd\"} 1\n"));
  free(text);
  pgd_metrics_free(reg);
}

static void test_histogram_buckets(void) {
  pgd_metrics_t *reg = pgd_metrics_new();
  static const double bounds[] = {0.1, 1, 10};
  pgd_metric_family_t *h = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_wait_seconds", .help = "Wait.",
                                .kind = PGD_METRIC_HISTOGRAM, .buckets = bounds, .nbuckets = 3});
  CU_ASSERT_PTR_NOT_NULL_FATAL(h);
  pgd_metric_t *m = pgd_metric_of(h);
  double obs[] = {0.05, 0.1, 0.5, 5, 50, 0.2};
  double sum = 0;
  for (size_t i = 0; i < sizeof obs / sizeof obs[0]; i++) {
    pgd_metric_observe(m, obs[i]);
    sum += obs[i];
  }
  CU_ASSERT_EQUAL(pgd_metric_bucket(m, 0), 2); /* 0.05, 0.1 (le is inclusive) */
  CU_ASSERT_EQUAL(pgd_metric_bucket(m, 1), 4); /* + 0.5, 0.2 */
  CU_ASSERT_EQUAL(pgd_metric_bucket(m, 2), 5); /* + 5 */
  CU_ASSERT_DOUBLE_EQUAL(pgd_metric_value(m), 6, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(pgd_metric_sum(m), sum, 1e-9);
  char *text = render(reg);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE pagoda_wait_seconds histogram\n"
                                      "pagoda_wait_seconds_bucket{le=\"0.1\"} 2\n"
                                      "pagoda_wait_seconds_bucket{le=\"1\"} 4\n"
                                      "pagoda_wait_seconds_bucket{le=\"10\"} 5\n"
                                      "pagoda_wait_seconds_bucket{le=\"+Inf\"} 6\n"
                                      "pagoda_wait_seconds_sum 55.85"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "\npagoda_wait_seconds_count 6\n"));
  free(text);
  /* Bounds must increase */
  static const double bad[] = {1, 1};
  CU_ASSERT_PTR_NULL(pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_bad_seconds", .kind = PGD_METRIC_HISTOGRAM,
                                .buckets = bad, .nbuckets = 2}));
  /* The default buckets */
  pgd_metric_family_t *d = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_d_seconds", .kind = PGD_METRIC_HISTOGRAM,
                                .labels = {"type", NULL}});
  pgd_metric_observe(pgd_metric_child(d, (const char *const[]){"x"}), 0.003);
  text = render(reg);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "pagoda_d_seconds_bucket{type=\"x\",le=\"0.0025\"} 0\n"
                                      "pagoda_d_seconds_bucket{type=\"x\",le=\"0.005\"} 1\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "pagoda_d_seconds_bucket{type=\"x\",le=\"60\"} 1\n"
                                      "pagoda_d_seconds_bucket{type=\"x\",le=\"+Inf\"} 1\n"));
  free(text);
  pgd_metrics_free(reg);
}

static void test_capped_label(void) {
  pgd_metrics_t *reg = pgd_metrics_new();
  pgd_metric_family_t *c = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_runs_total", .kind = PGD_METRIC_COUNTER,
                                .labels = {"job", "state", NULL}, .capped_label = 0, .cap = 3});
  char job[32];
  for (int i = 0; i < 10; i++) {
    snprintf(job, sizeof job, "job%d", i);
    pgd_metric_inc(pgd_metric_child(c, (const char *const[]){job, i % 2 ? "failed" : "succeeded"}));
  }
  /* job0..job2 keep their names; job3..job9 fall into job="_other" per state */
  CU_ASSERT_EQUAL(pgd_metric_family_children(c), 5);
  CU_ASSERT_DOUBLE_EQUAL(
      pgd_metric_value(pgd_metric_child(c, (const char *const[]){"_other", "failed"})), 4, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(
      pgd_metric_value(pgd_metric_child(c, (const char *const[]){"_other", "succeeded"})), 3, 1e-9);
  /* A known job still has its own series */
  pgd_metric_inc(pgd_metric_child(c, (const char *const[]){"job1", "succeeded"}));
  CU_ASSERT_EQUAL(pgd_metric_family_children(c), 6);
  char *text = render(reg);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "pagoda_runs_total{job=\"job1\",state=\"failed\"} 1\n"));
  CU_ASSERT_PTR_NULL(strstr(text, "job9"));
  free(text);
  pgd_metrics_free(reg);
}

static void test_family_limit(void) {
  pgd_metrics_t *reg = pgd_metrics_new();
  pgd_metric_family_t *c = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_many_total", .kind = PGD_METRIC_COUNTER,
                                .labels = {"k", NULL}});
  char v[32];
  for (int i = 0; i < PGD_METRICS_MAX_CHILDREN + 10; i++) {
    snprintf(v, sizeof v, "v%d", i);
    pgd_metric_inc(pgd_metric_child(c, (const char *const[]){v}));
  }
  CU_ASSERT_EQUAL(pgd_metric_family_children(c), PGD_METRICS_MAX_CHILDREN + 1);
  char *text = render(reg);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "pagoda_many_total{k=\"_other\"} 10\n"));
  free(text);
  pgd_metrics_free(reg);
}

static void collect(pgd_metrics_out_t *out, void *ud) {
  int *calls = ud;
  (*calls)++;
  pgd_metrics_out_family(out, "pagoda_workers", PGD_METRIC_GAUGE, "Workers by state.");
  pgd_metrics_out_sample(out, "pagoda_workers", 1, (const char *const[]){"state"},
                         (const char *const[]){"connected"}, 3);
  pgd_metrics_out_single(out, "pagoda_up_seconds", PGD_METRIC_GAUGE, "Up.", INFINITY);
}

static void test_collectors(void) {
  pgd_metrics_t *reg = pgd_metrics_new();
  int calls = 0;
  int hd = pgd_metrics_add_collector(reg, collect, &calls);
  CU_ASSERT_TRUE(hd > 0);
  char *text = render(reg);
  CU_ASSERT_EQUAL(calls, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE pagoda_workers gauge\npagoda_workers{state=\"connected\"} 3\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "pagoda_up_seconds +Inf\n"));
  free(text);
  pgd_metrics_remove_collector(reg, hd);
  text = render(reg);
  CU_ASSERT_EQUAL(calls, 1);
  CU_ASSERT_EQUAL(strlen(text), 0);
  free(text);
  pgd_metrics_free(reg);
}

static void test_switch_off(void) {
  pgd_metrics_t *reg = pgd_metrics_new();
  pgd_metric_family_t *c = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_sw_total", .kind = PGD_METRIC_COUNTER,
                                .labels = {"k", NULL}});
  PGD_METRIC_INC(c, "x");
  pgd_metrics_set_enabled(false);
  PGD_METRIC_INC(c, "x");
  PGD_METRIC_INC(c, "y"); /* not even a child is made */
  pgd_metrics_set_enabled(true);
  CU_ASSERT_EQUAL(pgd_metric_family_children(c), 1);
  CU_ASSERT_DOUBLE_EQUAL(pgd_metric_value(pgd_metric_child(c, (const char *const[]){"x"})), 1, 1e-9);
  pgd_metric_family_t *none = NULL;
  PGD_METRIC_INC(none, "x"); /* an unregistered family is a no-op */
  pgd_metrics_free(reg);
}

/* Unlabelled children are updated from other threads without a lock. */
static pgd_metric_t *shared;
static void *hammer(void *arg) {
  (void)arg;
  for (int i = 0; i < 100000; i++) pgd_metric_observe(shared, 0.5);
  return NULL;
}

static void test_threads(void) {
  pgd_metrics_t *reg = pgd_metrics_new();
  shared = pgd_metric_of(pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_t_seconds", .kind = PGD_METRIC_HISTOGRAM}));
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, hammer, NULL);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  CU_ASSERT_DOUBLE_EQUAL(pgd_metric_value(shared), 400000, 1e-9);
  CU_ASSERT_DOUBLE_EQUAL(pgd_metric_sum(shared), 200000, 1e-6);
  pgd_metrics_free(reg);
}

static void test_value_format(void) {
  pgd_strbuf_t b = PGD_STRBUF_INIT;
  pgd_metrics_format_value(&b, 42);
  pgd_strbuf_puts(&b, " ");
  pgd_metrics_format_value(&b, -1.5);
  pgd_strbuf_puts(&b, " ");
  pgd_metrics_format_value(&b, NAN);
  pgd_strbuf_puts(&b, " ");
  pgd_metrics_format_value(&b, -INFINITY);
  pgd_strbuf_puts(&b, " ");
  pgd_metrics_format_value(&b, 1e300);
  CU_ASSERT_STRING_EQUAL(b.data, "42 -1.5 NaN -Inf 1e+300");
  pgd_strbuf_free(&b);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("common_metrics", NULL, NULL);
  CU_add_test(s, "counters and gauges render with HELP and TYPE", test_counter_and_gauge);
  CU_add_test(s, "label values and HELP texts are escaped", test_escaping);
  CU_add_test(s, "histograms: cumulative buckets, +Inf, sum, count", test_histogram_buckets);
  CU_add_test(s, "a capped label overflows into _other", test_capped_label);
  CU_add_test(s, "a full family overflows into one _other child", test_family_limit);
  CU_add_test(s, "collectors run at render time", test_collectors);
  CU_add_test(s, "the off switch makes the macros no-ops", test_switch_off);
  CU_add_test(s, "unlabelled children take updates from many threads", test_threads);
  CU_add_test(s, "sample values: integers, fractions, NaN, infinities", test_value_format);
  return pgd_test_run();
}
