/* Pagoda — the metrics registry and its text exposition (metrics.h).
 * Families are kept in registration order; each family's children in an
 * open-addressing hash keyed by the joined label values. Values are doubles
 * stored as atomic 64-bit patterns (a CAS loop adds), so updates need no
 * lock; lookups and rendering run on the owner thread. */
#include "common/metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double PGD_METRICS_LATENCY_BUCKETS[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1,     2.5,  5,     10,   30, 60};
const int PGD_METRICS_LATENCY_NBUCKETS =
    (int)(sizeof PGD_METRICS_LATENCY_BUCKETS / sizeof PGD_METRICS_LATENCY_BUCKETS[0]);

atomic_bool pgd_metrics_on = true;

void pgd_metrics_set_enabled(bool on) { atomic_store(&pgd_metrics_on, on); }

/* A double kept as its bit pattern, for lock-free adds. */
typedef _Atomic uint64_t atomic_f64;

static double f64_load(const atomic_f64 *a) {
  uint64_t bits = atomic_load_explicit(a, memory_order_relaxed);
  double d;
  memcpy(&d, &bits, sizeof d);
  return d;
}
static void f64_store(atomic_f64 *a, double d) {
  uint64_t bits;
  memcpy(&bits, &d, sizeof bits);
  atomic_store_explicit(a, bits, memory_order_relaxed);
}
static void f64_add(atomic_f64 *a, double d) {
  uint64_t old = atomic_load_explicit(a, memory_order_relaxed), nw;
  do {
    double cur;
    memcpy(&cur, &old, sizeof cur);
    cur += d;
    memcpy(&nw, &cur, sizeof nw);
  } while (!atomic_compare_exchange_weak_explicit(a, &old, nw, memory_order_relaxed,
                                                  memory_order_relaxed));
}

struct pgd_metric {
  pgd_metric_family_t *fam;
  char *key;                          /* label values joined by \x1f */
  char *values[PGD_METRICS_MAX_LABELS];
  atomic_f64 value;                   /* counter/gauge value; histogram sum */
  _Atomic uint64_t count;             /* histogram count */
  _Atomic uint64_t buckets[PGD_METRICS_MAX_BUCKETS]; /* per bound, not cumulative */
};

struct pgd_metric_family {
  pgd_metric_desc_t d;
  int nlabels;
  double bounds[PGD_METRICS_MAX_BUCKETS];
  pgd_metric_t **slots; /* hash, capacity `cap_slots` (power of 2) */
  size_t cap_slots;
  pgd_metric_t **order; /* children in creation order, for rendering */
  size_t n, cap_order;
  char **capped_seen;   /* distinct values of the capped label */
  size_t ncapped;
  pgd_metric_t *overflow;
  pgd_metric_family_t *next;
};

typedef struct collector {
  int handle;
  pgd_metrics_collect_cb cb;
  void *ud;
  struct collector *next;
} collector_t;

struct pgd_metrics {
  pgd_metric_family_t *head, *tail;
  collector_t *collectors;
  int last_handle;
};

struct pgd_metrics_out {
  pgd_strbuf_t *buf;
};

pgd_metrics_t *pgd_metrics_new(void) { return calloc(1, sizeof(pgd_metrics_t)); }

static void child_free(pgd_metric_t *c) {
  if (!c) return;
  free(c->key);
  for (int i = 0; i < PGD_METRICS_MAX_LABELS; i++) free(c->values[i]);
  free(c);
}

void pgd_metrics_free(pgd_metrics_t *reg) {
  if (!reg) return;
  for (pgd_metric_family_t *f = reg->head, *nx; f; f = nx) {
    nx = f->next;
    for (size_t i = 0; i < f->n; i++) child_free(f->order[i]);
    child_free(f->overflow);
    for (size_t i = 0; i < f->ncapped; i++) free(f->capped_seen[i]);
    free(f->capped_seen);
    free(f->order);
    free(f->slots);
    free(f);
  }
  for (collector_t *c = reg->collectors, *nx; c; c = nx) {
    nx = c->next;
    free(c);
  }
  free(reg);
}

pgd_metrics_t *pgd_metrics_default(void) {
  static _Atomic(pgd_metrics_t *) reg;
  pgd_metrics_t *r = atomic_load(&reg);
  if (r) return r;
  pgd_metrics_t *fresh = pgd_metrics_new();
  if (!fresh) abort();
  pgd_metrics_t *expected = NULL;
  if (!atomic_compare_exchange_strong(&reg, &expected, fresh)) {
    pgd_metrics_free(fresh);
    return expected;
  }
  return fresh;
}

static bool valid_name(const char *s) {
  if (!s || !*s) return false;
  for (const char *p = s; *p; p++) {
    bool alpha = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_';
    if (!alpha && !(p > s && *p >= '0' && *p <= '9')) return false;
  }
  return true;
}

pgd_metric_family_t *pgd_metrics_family(pgd_metrics_t *reg, const pgd_metric_desc_t *desc) {
  if (!reg || !desc || !valid_name(desc->name)) return NULL;
  for (pgd_metric_family_t *f = reg->head; f; f = f->next)
    if (strcmp(f->d.name, desc->name) == 0) return f->d.kind == desc->kind ? f : NULL;
  pgd_metric_family_t *f = calloc(1, sizeof *f);
  if (!f) return NULL;
  f->d = *desc;
  while (f->nlabels < PGD_METRICS_MAX_LABELS && desc->labels[f->nlabels]) {
    if (!valid_name(desc->labels[f->nlabels]) || strcmp(desc->labels[f->nlabels], "le") == 0) {
      free(f);
      return NULL;
    }
    f->nlabels++;
  }
  if (desc->kind == PGD_METRIC_HISTOGRAM) {
    const double *b = desc->nbuckets > 0 ? desc->buckets : PGD_METRICS_LATENCY_BUCKETS;
    int nb = desc->nbuckets > 0 ? desc->nbuckets : PGD_METRICS_LATENCY_NBUCKETS;
    if (!b || nb > PGD_METRICS_MAX_BUCKETS) {
      free(f);
      return NULL;
    }
    for (int i = 0; i < nb; i++) {
      if (i > 0 && !(b[i] > b[i - 1])) {
        free(f);
        return NULL;
      }
      f->bounds[i] = b[i];
    }
    f->d.nbuckets = nb;
  }
  if (f->d.cap <= 0 || f->d.capped_label < 0 || f->d.capped_label >= f->nlabels) f->d.cap = 0;
  if (reg->tail) reg->tail->next = f;
  else reg->head = f;
  reg->tail = f;
  return f;
}

/* FNV-1a */
static uint64_t hash_str(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

static pgd_metric_t *child_new(pgd_metric_family_t *f, const char *const *values,
                               const char *key) {
  pgd_metric_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->fam = f;
  c->key = strdup(key);
  bool oom = !c->key;
  for (int i = 0; i < f->nlabels; i++) {
    c->values[i] = strdup(values && values[i] ? values[i] : "");
    oom |= !c->values[i];
  }
  if (oom) {
    child_free(c);
    return NULL;
  }
  return c;
}

static int slots_grow(pgd_metric_family_t *f) {
  size_t ncap = f->cap_slots ? f->cap_slots * 2 : 16;
  pgd_metric_t **ns = calloc(ncap, sizeof *ns);
  if (!ns) return -ENOMEM;
  for (size_t i = 0; i < f->n; i++) {
    size_t j = hash_str(f->order[i]->key) & (ncap - 1);
    while (ns[j]) j = (j + 1) & (ncap - 1);
    ns[j] = f->order[i];
  }
  free(f->slots);
  f->slots = ns;
  f->cap_slots = ncap;
  return 0;
}

/* Is `v` a known value of the capped label, or is there room for it? */
static bool capped_admits(pgd_metric_family_t *f, const char *v) {
  for (size_t i = 0; i < f->ncapped; i++)
    if (strcmp(f->capped_seen[i], v) == 0) return true;
  if ((int)f->ncapped >= f->d.cap) return false;
  char **ns = realloc(f->capped_seen, (f->ncapped + 1) * sizeof *ns);
  if (!ns) return false;
  f->capped_seen = ns;
  if (!(ns[f->ncapped] = strdup(v))) return false;
  f->ncapped++;
  return true;
}

static pgd_metric_t *overflow_child(pgd_metric_family_t *f) {
  if (!f->overflow) {
    const char *others[PGD_METRICS_MAX_LABELS];
    for (int i = 0; i < PGD_METRICS_MAX_LABELS; i++) others[i] = PGD_METRICS_OTHER;
    f->overflow = child_new(f, others, "\x1e");
  }
  return f->overflow;
}

pgd_metric_t *pgd_metric_child(pgd_metric_family_t *f, const char *const *values) {
  if (!f) return NULL;
  /* The key: values joined by \x1f (label values are text; a \x1f inside
   * one only merges two odd series, never corrupts anything). */
  char key[512];
  const char *vals[PGD_METRICS_MAX_LABELS];
  size_t o = 0;
  for (int i = 0; i < f->nlabels; i++) {
    vals[i] = values && values[i] ? values[i] : "";
    size_t n = strlen(vals[i]);
    size_t room = sizeof key - 2 - o; /* o <= sizeof key - 2 - (labels left) */
    if (n > room / 2) n = room / 2;   /* over-long values share a prefix key */
    memcpy(key + o, vals[i], n);
    o += n;
    key[o++] = '\x1f';
  }
  key[o] = 0;
  uint64_t h = hash_str(key);
  if (f->cap_slots) {
    for (size_t j = h & (f->cap_slots - 1); f->slots[j]; j = (j + 1) & (f->cap_slots - 1))
      if (strcmp(f->slots[j]->key, key) == 0) return f->slots[j];
  }
  /* A new tuple. */
  if (f->d.cap > 0 && !capped_admits(f, vals[f->d.capped_label])) {
    const char *subst[PGD_METRICS_MAX_LABELS];
    memcpy(subst, vals, sizeof subst);
    subst[f->d.capped_label] = PGD_METRICS_OTHER;
    if (strcmp(vals[f->d.capped_label], PGD_METRICS_OTHER) != 0) return pgd_metric_child(f, subst);
  }
  if (f->n >= PGD_METRICS_MAX_CHILDREN) return overflow_child(f);
  if ((f->n + 1) * 2 > f->cap_slots && slots_grow(f) < 0) return NULL;
  if (f->n == f->cap_order) {
    size_t ncap = f->cap_order ? f->cap_order * 2 : 8;
    pgd_metric_t **no = realloc(f->order, ncap * sizeof *no);
    if (!no) return NULL;
    f->order = no;
    f->cap_order = ncap;
  }
  pgd_metric_t *c = child_new(f, vals, key);
  if (!c) return NULL;
  size_t j = h & (f->cap_slots - 1);
  while (f->slots[j]) j = (j + 1) & (f->cap_slots - 1);
  f->slots[j] = c;
  f->order[f->n++] = c;
  return c;
}

pgd_metric_t *pgd_metric_of(pgd_metric_family_t *fam) { return pgd_metric_child(fam, NULL); }

size_t pgd_metric_family_children(const pgd_metric_family_t *fam) {
  return fam ? fam->n + (fam->overflow ? 1 : 0) : 0;
}

void pgd_metric_add(pgd_metric_t *m, double v) {
  if (m) f64_add(&m->value, v);
}

void pgd_metric_set(pgd_metric_t *m, double v) {
  if (m) f64_store(&m->value, v);
}

void pgd_metric_observe(pgd_metric_t *m, double v) {
  if (!m) return;
  const pgd_metric_family_t *f = m->fam;
  for (int i = 0; i < f->d.nbuckets; i++) {
    if (v <= f->bounds[i]) {
      atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
      break;
    }
  }
  f64_add(&m->value, v);
  atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
}

double pgd_metric_value(const pgd_metric_t *m) {
  if (!m) return 0;
  if (m->fam->d.kind == PGD_METRIC_HISTOGRAM)
    return (double)atomic_load_explicit(&m->count, memory_order_relaxed);
  return f64_load(&m->value);
}

double pgd_metric_sum(const pgd_metric_t *m) { return m ? f64_load(&m->value) : 0; }

uint64_t pgd_metric_bucket(const pgd_metric_t *m, int i) {
  if (!m || i < 0 || i >= m->fam->d.nbuckets) return 0;
  uint64_t sum = 0;
  for (int k = 0; k <= i; k++) sum += atomic_load_explicit(&m->buckets[k], memory_order_relaxed);
  return sum;
}

/* ---- collectors ---- */

int pgd_metrics_add_collector(pgd_metrics_t *reg, pgd_metrics_collect_cb cb, void *ud) {
  collector_t *c = calloc(1, sizeof *c);
  if (!c) return -ENOMEM;
  *c = (collector_t){++reg->last_handle, cb, ud, NULL};
  collector_t **tail = &reg->collectors;
  while (*tail) tail = &(*tail)->next;
  *tail = c;
  return c->handle;
}

void pgd_metrics_remove_collector(pgd_metrics_t *reg, int handle) {
  for (collector_t **p = &reg->collectors; *p; p = &(*p)->next) {
    if ((*p)->handle == handle) {
      collector_t *c = *p;
      *p = c->next;
      free(c);
      return;
    }
  }
}

/* ---- exposition ---- */

void pgd_metrics_escape(pgd_strbuf_t *out, const char *s, bool help) {
  const char *run = s;
  for (const char *p = s; *p; p++) {
    const char *rep = *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : (*p == '"' && !help) ? "\\\"" : NULL;
    if (!rep) continue;
    pgd_strbuf_append(out, run, (size_t)(p - run));
    pgd_strbuf_puts(out, rep);
    run = p + 1;
  }
  pgd_strbuf_puts(out, run);
}

void pgd_metrics_format_value(pgd_strbuf_t *out, double v) {
  if (isnan(v)) pgd_strbuf_puts(out, "NaN");
  else if (isinf(v)) pgd_strbuf_puts(out, v > 0 ? "+Inf" : "-Inf");
  else if (v == floor(v) && fabs(v) < 9.007199254740992e15) pgd_strbuf_printf(out, "%.0f", v);
  else {
    /* the shortest of 15..17 digits that reads back as the same double */
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
      snprintf(tmp, sizeof tmp, "%.*g", prec, v);
      if (strtod(tmp, NULL) == v) break;
    }
    pgd_strbuf_puts(out, tmp);
  }
}

static const char *kind_name(pgd_metric_kind_t k) {
  return k == PGD_METRIC_COUNTER ? "counter" : k == PGD_METRIC_GAUGE ? "gauge" : "histogram";
}

static void header(pgd_strbuf_t *b, const char *name, pgd_metric_kind_t kind, const char *help) {
  pgd_strbuf_printf(b, "# HELP %s ", name);
  pgd_metrics_escape(b, help ? help : "", true);
  pgd_strbuf_printf(b, "\n# TYPE %s %s\n", name, kind_name(kind));
}

/* name{k="v",...,extra_key="extra"} value\n; extra_key nullable. */
static void sample(pgd_strbuf_t *b, const char *name, const char *suffix, int n,
                   const char *const *keys, const char *const *values, const char *extra_key,
                   const char *extra_val, double value) {
  pgd_strbuf_puts(b, name);
  if (suffix) pgd_strbuf_puts(b, suffix);
  if (n > 0 || extra_key) {
    pgd_strbuf_puts(b, "{");
    for (int i = 0; i < n; i++) {
      pgd_strbuf_printf(b, "%s%s=\"", i ? "," : "", keys[i]);
      pgd_metrics_escape(b, values[i] ? values[i] : "", false);
      pgd_strbuf_puts(b, "\"");
    }
    if (extra_key) pgd_strbuf_printf(b, "%s%s=\"%s\"", n ? "," : "", extra_key, extra_val);
    pgd_strbuf_puts(b, "}");
  }
  pgd_strbuf_puts(b, " ");
  pgd_metrics_format_value(b, value);
  pgd_strbuf_puts(b, "\n");
}

static void render_child(pgd_strbuf_t *b, const pgd_metric_family_t *f, const pgd_metric_t *c) {
  const char *const *keys = f->d.labels;
  const char *const *vals = (const char *const *)c->values;
  if (f->d.kind != PGD_METRIC_HISTOGRAM) {
    sample(b, f->d.name, NULL, f->nlabels, keys, vals, NULL, NULL, f64_load(&c->value));
    return;
  }
  uint64_t cum = 0;
  for (int i = 0; i < f->d.nbuckets; i++) {
    cum += atomic_load_explicit(&c->buckets[i], memory_order_relaxed);
    pgd_strbuf_t le = PGD_STRBUF_INIT;
    pgd_metrics_format_value(&le, f->bounds[i]);
    sample(b, f->d.name, "_bucket", f->nlabels, keys, vals, "le", le.data ? le.data : "0",
           (double)cum);
    pgd_strbuf_free(&le);
  }
  /* The count is read after the buckets, so +Inf >= every bucket even when
   * observations land during the render. */
  uint64_t count = atomic_load_explicit(&c->count, memory_order_relaxed);
  if (count < cum) count = cum;
  sample(b, f->d.name, "_bucket", f->nlabels, keys, vals, "le", "+Inf", (double)count);
  sample(b, f->d.name, "_sum", f->nlabels, keys, vals, NULL, NULL, f64_load(&c->value));
  sample(b, f->d.name, "_count", f->nlabels, keys, vals, NULL, NULL, (double)count);
}

int pgd_metrics_render(pgd_metrics_t *reg, pgd_strbuf_t *b) {
  for (const pgd_metric_family_t *f = reg->head; f; f = f->next) {
    /* A family without children prints nothing; an unlabelled one always
     * has its sample (0 until something happens). */
    if (f->nlabels == 0 && f->n == 0) pgd_metric_of((pgd_metric_family_t *)f);
    if (f->n == 0 && !f->overflow) continue;
    header(b, f->d.name, f->d.kind, f->d.help);
    for (size_t i = 0; i < f->n; i++) render_child(b, f, f->order[i]);
    if (f->overflow) render_child(b, f, f->overflow);
  }
  pgd_metrics_out_t out = {b};
  for (collector_t *c = reg->collectors; c; c = c->next) c->cb(&out, c->ud);
  return b->oom ? -ENOMEM : 0;
}

void pgd_metrics_out_family(pgd_metrics_out_t *out, const char *name, pgd_metric_kind_t kind,
                            const char *help) {
  header(out->buf, name, kind == PGD_METRIC_HISTOGRAM ? PGD_METRIC_GAUGE : kind, help);
}

void pgd_metrics_out_sample(pgd_metrics_out_t *out, const char *name, int n,
                            const char *const *keys, const char *const *values, double value) {
  sample(out->buf, name, NULL, n, keys, values, NULL, NULL, value);
}

void pgd_metrics_out_single(pgd_metrics_out_t *out, const char *name, pgd_metric_kind_t kind,
                            const char *help, double value) {
  pgd_metrics_out_family(out, name, kind, help);
  pgd_metrics_out_sample(out, name, 0, NULL, NULL, value);
}
