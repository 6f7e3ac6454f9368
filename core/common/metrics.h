/* Pagoda — a small metrics registry rendered in the Prometheus text
 * exposition format (version 0.0.4; docs/observability.md lists every
 * metric the daemons export).
 *
 * Kinds: counters (monotonic), gauges, histograms with fixed buckets. A
 * metric is a *family* (name, help, label names); each distinct tuple of
 * label values is a *child* holding the values. A family without labels
 * has exactly one child (pgd_metric_of; rendered as 0 until updated).
 *
 * Cost and thread rules (why it is cheap enough for the job path):
 *  - Values are C11 atomics with relaxed ordering: pgd_metric_inc/add/set/
 *    observe on a child pointer are safe from ANY thread, without a lock.
 *    A histogram's buckets, sum and count are updated one by one, so a
 *    scrape may see them a few events apart (Prometheus tolerates that).
 *  - Finding or making a child by label values (pgd_metric_child) and
 *    rendering (pgd_metrics_render) belong to the registry's OWNER THREAD:
 *    the daemon's loop thread. Every labelled update in Pagoda happens on
 *    that thread (observers, RPC, HTTP all run on the loop); code on another
 *    thread (the store's writer) updates unlabelled children only, or
 *    resolves its children once on the owner thread beforehand.
 *  - The whole layer switches off with pgd_metrics_set_enabled(false): the
 *    PGD_METRIC_* macros then test one atomic flag and return, and the
 *    daemons do not subscribe their observers (master.metrics.enabled).
 *
 * Bounded label sets: a family takes at most PGD_METRICS_MAX_CHILDREN
 * children. A family may name one *capped* label (e.g. "job") with a limit
 * on its distinct values: beyond it a value is replaced by "_other", so a
 * cluster with 10,000 job names still exports a bounded number of series.
 * When the family itself is full, further new tuples all land in one
 * overflow child whose label values are all "_other".
 *
 * Collectors: a module whose figures already live in its own state (queue
 * lengths, workers by state, process figures) registers a callback with
 * pgd_metrics_add_collector; it runs at scrape time on the owner thread and
 * writes its families with pgd_metrics_out_* (it costs nothing between
 * scrapes). This is how other modules are meant to add metrics: expose a
 * stats function in the module, then register a collector that formats it.
 *
 * Names follow Prometheus conventions: the "pagoda_" prefix, base units
 * (seconds, bytes), "_total" for counters (the caller gives the full name).
 *
 * Added in 0.7.
 */
#ifndef PAGODA_COMMON_METRICS_H
#define PAGODA_COMMON_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strbuf.h"

#define PGD_METRICS_MAX_LABELS 4
#define PGD_METRICS_MAX_BUCKETS 20
#define PGD_METRICS_MAX_CHILDREN 4096
#define PGD_METRICS_OTHER "_other"

typedef enum {
  PGD_METRIC_COUNTER = 0,
  PGD_METRIC_GAUGE = 1,
  PGD_METRIC_HISTOGRAM = 2
} pgd_metric_kind_t;

typedef struct pgd_metrics pgd_metrics_t;
typedef struct pgd_metric_family pgd_metric_family_t;
typedef struct pgd_metric pgd_metric_t; /* a child: one tuple of label values */

/* What a family is: all strings are borrowed and must live as long as the
 * family (string literals in practice). */
typedef struct pgd_metric_desc {
  const char *name; /* "pagoda_executions_total" */
  const char *help; /* one line */
  pgd_metric_kind_t kind;
  const char *labels[PGD_METRICS_MAX_LABELS]; /* names, NULL-terminated */
  /* histograms: upper bounds, increasing, without +Inf; 0 count = the
   * default latency buckets (PGD_METRICS_LATENCY_BUCKETS) */
  const double *buckets;
  int nbuckets;
  /* optional: the index in `labels` of the capped label, and its limit of
   * distinct values (0 = no cap) */
  int capped_label;
  int cap;
} pgd_metric_desc_t;

/* Default histogram bounds in seconds: 1 ms .. 60 s. */
extern const double PGD_METRICS_LATENCY_BUCKETS[];
extern const int PGD_METRICS_LATENCY_NBUCKETS;

/* ---- the process-wide registry ---- */

/* The daemon's registry (made on first use, never freed before exit; both
 * the master and the worker of `pagoda dev` write to it). Any thread may
 * call this; see the thread rules above for what to do with it. */
pgd_metrics_t *pgd_metrics_default(void);

/* A separate registry (tests). Caller owns: pgd_metrics_free. NULL on OOM. */
pgd_metrics_t *pgd_metrics_new(void);
void pgd_metrics_free(pgd_metrics_t *reg);

/* The global switch (default on). Off: the PGD_METRIC_* macros do nothing.
 * Any thread. */
extern atomic_bool pgd_metrics_on;
void pgd_metrics_set_enabled(bool on);
static inline bool pgd_metrics_enabled(void) {
  return atomic_load_explicit(&pgd_metrics_on, memory_order_relaxed);
}

/* Registers (or finds, when a family of that name exists with the same kind)
 * a family. Owner thread. Returns it (owned by the registry), or NULL when
 * the name is taken by another kind, the description is invalid (name or
 * label not [a-zA-Z_][a-zA-Z0-9_]*, too many buckets) or memory runs out. */
pgd_metric_family_t *pgd_metrics_family(pgd_metrics_t *reg, const pgd_metric_desc_t *desc);

/* The child of `fam` for these label values (as many as the family has
 * labels, in order; NULL or no array for a family without labels).
 * Values are copied. Owner thread. Never NULL for a valid family (a full
 * family gives its overflow child); NULL only when fam is NULL or memory
 * runs out. */
pgd_metric_t *pgd_metric_child(pgd_metric_family_t *fam, const char *const *values);

/* The only child of a family without labels (the same as child(fam, NULL)). */
pgd_metric_t *pgd_metric_of(pgd_metric_family_t *fam);

/* Updates: any thread, lock-free; NULL `m` is a no-op. */
void pgd_metric_add(pgd_metric_t *m, double v); /* counter: v >= 0; gauge: any */
void pgd_metric_set(pgd_metric_t *m, double v); /* gauge */
void pgd_metric_observe(pgd_metric_t *m, double v); /* histogram */
static inline void pgd_metric_inc(pgd_metric_t *m) { pgd_metric_add(m, 1.0); }
/* Reads (tests, collectors): the value; for a histogram its count. */
double pgd_metric_value(const pgd_metric_t *m);
/* A histogram's sum of observations. */
double pgd_metric_sum(const pgd_metric_t *m);
/* A histogram's cumulative count of observations <= bound number i. */
uint64_t pgd_metric_bucket(const pgd_metric_t *m, int i);
/* Number of children of a family (tests). */
size_t pgd_metric_family_children(const pgd_metric_family_t *fam);

/* One-line hooks for hot paths: nothing but a flag test when metrics are
 * off. `fam` is a pgd_metric_family_t * (NULL until registered: no-op). */
#define PGD_METRIC_INC(fam, ...)                                                         \
  do {                                                                                   \
    if (pgd_metrics_enabled() && (fam))                                                  \
      pgd_metric_inc(pgd_metric_child((fam), (const char *const[]){__VA_ARGS__, NULL})); \
  } while (0)
#define PGD_METRIC_OBSERVE(fam, value, ...)                                    \
  do {                                                                         \
    if (pgd_metrics_enabled() && (fam))                                        \
      pgd_metric_observe(pgd_metric_child((fam), (const char *const[]){__VA_ARGS__, NULL}), \
                         (value));                                             \
  } while (0)

/* ---- scrape-time collectors ---- */

typedef struct pgd_metrics_out pgd_metrics_out_t;
/* Writes the collector's families with pgd_metrics_out_*; owner thread,
 * during pgd_metrics_render. Must not register families or collectors. */
typedef void (*pgd_metrics_collect_cb)(pgd_metrics_out_t *out, void *ud);

/* Adds a collector (ud borrowed: it must stay valid until removed).
 * Returns a handle > 0, or -ENOMEM. Owner thread. */
int pgd_metrics_add_collector(pgd_metrics_t *reg, pgd_metrics_collect_cb cb, void *ud);
/* Removes it (unknown handles are ignored). Owner thread. */
void pgd_metrics_remove_collector(pgd_metrics_t *reg, int handle);

/* Starts a family in the output: "# HELP" and "# TYPE" lines. `kind`
 * counter or gauge (collectors export no histograms). */
void pgd_metrics_out_family(pgd_metrics_out_t *out, const char *name, pgd_metric_kind_t kind,
                            const char *help);
/* One sample of the family just started: `n` label names and values
 * (escaped here), and the value. */
void pgd_metrics_out_sample(pgd_metrics_out_t *out, const char *name, int n,
                            const char *const *keys, const char *const *values, double value);
/* A family of one unlabelled sample. */
void pgd_metrics_out_single(pgd_metrics_out_t *out, const char *name, pgd_metric_kind_t kind,
                            const char *help, double value);

/* ---- exposition ---- */

/* The content type of the text format. */
#define PGD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends the whole registry (families in registration order, then each
 * collector's output) to `out`. Owner thread. 0, or -ENOMEM. */
int pgd_metrics_render(pgd_metrics_t *reg, pgd_strbuf_t *out);

/* Appends `s` escaped for a label value (\\, \" and \n) or, with
 * help = true, for a HELP text (\\ and \n). */
void pgd_metrics_escape(pgd_strbuf_t *out, const char *s, bool help);

/* Appends a sample value: integers without a fraction, +Inf/-Inf/NaN by
 * their exposition names, else the shortest of %.15g..%.17g that
 * reads back as the same double. */
void pgd_metrics_format_value(pgd_strbuf_t *out, double v);

#endif
