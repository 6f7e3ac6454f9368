/* Pagoda — the generic part of the store: the write queue (mutex + condvar
 * linked list), the writer thread that applies batches through the backend
 * (group commit), and the hand-back of completions to the loop thread with
 * uv_async_send. Reads go straight to the backend. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/metrics.h"
#include "store/store_internal.h"

/* Largest batch in one transaction: bounds the latency of the first write
 * of a burst without costing throughput (a commit is one fsync). */
#define PGD_STORE_MAX_BATCH 8192

struct pgd_store {
  const pgd_store_backend_ops_t *ops;
  void *be;
  uv_loop_t *loop;
  uv_async_t async;

  pthread_t writer;
  int writer_started;
  int64_t epoch; /* fencing epoch, 0 = off; __atomic access */

  /* the queue (loop thread -> writer) */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  pgd_store_op_t *q_head, *q_tail;
  size_t q_len;
  int stop;
  int q_urgent;             /* an urgent write is queued: commit without waiting */
  int64_t q_first_us;       /* when the queue last became non-empty */
  int64_t window_us;        /* the group window; 0 = none (pgd_store_set_group_window) */
  size_t window_max;        /* queued writes that end a wait early */
  pgd_store_writer_stats_t stats; /* under mu */

  /* completions (writer -> loop thread) */
  pthread_mutex_t done_mu;
  pgd_store_op_t *done_head, *done_tail;

  /* health (writer thread writes, any thread reads; under mu) */
  int health_rc;            /* 0, or the -errno of the last resource failure */
  char health_reason[256];
  int urgent;               /* a fail-fast write waits: do not sleep the backoff */

  /* loop thread only */
  pgd_store_op_t *cur;  /* completions being delivered */
  size_t pending;       /* enqueued, callback not run yet */
  int fail_fast;        /* writes queued now are fail-fast (pgd_store_fail_fast) */
  int background;       /* writes queued now are background (pgd_store_background) */
  int group_depth;      /* pgd_store_group_begin nesting */
  pgd_store_op_t *g_head, *g_tail; /* the open group's writes, not queued yet */
  size_t g_len;
  int closing;
  int closed;

  /* metrics (store_metrics_init; NULL when metrics are off) */
  pgd_metric_t *m_commit, *m_writes, *m_errors;
};

/* The writer's metrics (docs/observability.md): children resolved on the
 * loop thread at open, updated here on the writer thread (atomics only). */
static void store_metrics_batch(pgd_store_t *s, int64_t start_us, size_t n, int status) {
  if (!pgd_metrics_enabled()) return;
  pgd_metric_observe(s->m_commit, (double)(pgd_now_us() - start_us) / 1e6);
  pgd_metric_add(s->m_writes, (double)n);
  if (status < 0) pgd_metric_inc(s->m_errors);
}

static void store_metrics_init(pgd_store_t *s) {
  if (!pgd_metrics_enabled()) return;
  pgd_metrics_t *reg = pgd_metrics_default();
  static const double batch_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  s->m_writes = pgd_metric_of(pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_store_writes_total",
                                .help = "Writes applied by the store's writer (in batches).",
                                .kind = PGD_METRIC_COUNTER}));
  s->m_errors = pgd_metric_of(pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_store_batch_errors_total",
                                .help = "Store write batches that failed (retried or reported).",
                                .kind = PGD_METRIC_COUNTER}));
  /* set last: the writer tests it first */
  s->m_commit = pgd_metric_of(pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_store_commit_seconds",
                                .help = "Time to apply and durably commit one batch of writes.",
                                .kind = PGD_METRIC_HISTOGRAM,
                                .buckets = batch_buckets,
                                .nbuckets = (int)(sizeof batch_buckets / sizeof batch_buckets[0])}));
}

size_t pgd_store_queue_depth(pgd_store_t *s) {
  if (!s) return 0;
  pthread_mutex_lock(&s->mu);
  size_t n = s->q_len;
  pthread_mutex_unlock(&s->mu);
  return n;
}

/* Backoff of the retries of a degraded store (and of its probes). */
#define RETRY_FIRST_MS 100
#define RETRY_MAX_MS 5000

int pgd_store_error_is_resource(int status) {
  switch (-status) {
  case ENOSPC:
  case EIO:
  case EROFS:
  case EBUSY:
  case EACCES:
  case ENOMEM:
  case EAGAIN:
  case ECONNREFUSED:
  case ECONNRESET:
  case ETIMEDOUT: return 1;
  default: return 0;
  }
}

/* ---- writer thread ------------------------------------------------------ */

/* Caller holds mu. */
static void set_health(pgd_store_t *s, int rc) {
  if (rc == s->health_rc) return;
  if (rc < 0) {
    snprintf(s->health_reason, sizeof s->health_reason,
             "the store (%s) cannot write: %s; writes are kept and retried", s->ops->name,
             strerror(-rc));
    PGD_ERROR("store", "%s", s->health_reason);
  } else {
    s->health_reason[0] = '\0';
    PGD_INFO("store", "the store (%s) writes again", s->ops->name);
  }
  s->health_rc = rc;
}

/* Caller holds mu. Waits until `deadline_us` (or a signal). */
static void wait_until(pgd_store_t *s, int64_t deadline_us) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t left = deadline_us - pgd_now_us();
  if (left <= 0) return;
  int64_t ns = ts.tv_nsec + (left % 1000000) * 1000;
  ts.tv_sec += (time_t)(left / 1000000) + (time_t)(ns / 1000000000);
  ts.tv_nsec = (long)(ns % 1000000000);
  pthread_cond_timedwait(&s->cond, &s->mu, &ts);
}

/* The health probe: a small real write (a document of kind "store_probe"),
 * because an empty transaction commits even on a full disk. NULL when out
 * of memory. */
static pgd_store_op_t *probe_op(void) {
  pgd_store_op_t *op = calloc(1, sizeof(*op));
  if (!op) return NULL;
  cJSON *doc = cJSON_CreateObject();
  int64_t now = pgd_now_us();
  cJSON_AddNumberToObject(doc, "at_us", (double)now);
  op->kind = PGD_OP_PUT_DOC;
  op->probe = 1;
  int rc = doc ? pgd_store_record_split_doc("store_probe", "writer", NULL, NULL, doc, now, &op->row)
               : -ENOMEM;
  cJSON_Delete(doc);
  if (rc < 0) {
    free(op);
    return NULL;
  }
  return op;
}

/* Splits an applied batch: the writes to apply again (a resource error on a
 * write that is not fail-fast, and every later write that is not fail-fast,
 * so that two writes of one record are never applied out of order) go to
 * *retry, in order; the rest are returned as completed. Returns the first
 * resource error seen (0 = none); *wrote is set when a write landed. */
static int sort_out(pgd_store_op_t *batch, int may_retry, pgd_store_op_t **done,
                    pgd_store_op_t **retry, int *wrote) {
  pgd_store_op_t **dt = done, **rt = retry;
  int resource = 0, retrying = 0;
  pgd_store_op_t *op = batch;
  while (op) {
    pgd_store_op_t *next = op->next;
    op->next = NULL;
    int res = pgd_store_error_is_resource(op->status);
    if (res && !resource) resource = op->status;
    if (op->kind != PGD_OP_FLUSH && op->status == 0) *wrote = 1; /* a write landed */
    /* a flush is never retried: it reports the batch's failure, so that
     * closing (which flushes) does not wait for space to come back */
    if (may_retry && !op->fail_fast && op->kind != PGD_OP_FLUSH &&
        (res || (retrying && !op->probe))) {
      retrying = 1;
      op->status = 0;
      *rt = op;
      rt = &op->next;
    } else {
      *dt = op;
      dt = &op->next;
    }
    op = next;
  }
  return resource;
}

static void *writer_main(void *arg) {
  pgd_store_t *s = arg;
  int backoff_ms = 0;      /* 0 = healthy */
  int64_t next_try_us = 0; /* degraded: the next retry or probe */
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->stop) {
      if (backoff_ms && !s->urgent && pgd_now_us() < next_try_us) {
        wait_until(s, next_try_us);
        continue;
      }
      if (s->q_head) {
        /* Background writes wait for the group window (or an urgent write,
         * or a full window) so that one commit carries many of them. A
         * degraded store does not wait: its pace is the backoff's. */
        if (backoff_ms || s->q_urgent || s->window_us <= 0 || s->q_len >= s->window_max) break;
        int64_t due = s->q_first_us + s->window_us;
        if (pgd_now_us() >= due) {
          s->stats.held++;
          break;
        }
        wait_until(s, due);
        continue;
      }
      if (!backoff_ms) {
        pthread_cond_wait(&s->cond, &s->mu);
        continue;
      }
      /* degraded and idle: probe */
      pgd_store_op_t *p = probe_op();
      if (!p) {
        next_try_us = pgd_now_us() + (int64_t)backoff_ms * 1000;
        continue;
      }
      s->q_head = s->q_tail = p;
      s->q_len = 1;
      break;
    }
    if (!s->q_head) break; /* stop and drained */
    s->urgent = 0;
    if (s->q_urgent) s->stats.urgent++;
    pgd_store_op_t *batch = s->q_head, *last = s->q_head;
    size_t n = 1;
    if (s->q_len <= PGD_STORE_MAX_BATCH) {
      n = s->q_len;
      last = s->q_tail;
    } else {
      /* a group (pgd_store_group_begin) is never split across batches */
      while (n < PGD_STORE_MAX_BATCH || (last->joined && last->next)) {
        last = last->next;
        n++;
      }
    }
    s->q_head = last->next;
    if (!s->q_head) {
      s->q_tail = NULL;
      s->q_urgent = 0; /* else an urgent write may be among the rest */
    }
    s->q_len -= n;
    last->next = NULL;
    pthread_mutex_unlock(&s->mu);

    int64_t epoch = __atomic_load_n(&s->epoch, __ATOMIC_ACQUIRE);
    int64_t batch_start_us = s->m_commit ? pgd_now_us() : 0;
    size_t rows = 0;
    size_t merged = pgd_store_coalesce(batch, n, &rows);
    s->ops->apply_batch(s->be, batch, n, epoch);
    pgd_store_coalesce_done(batch);
    if (s->m_commit) store_metrics_batch(s, batch_start_us, n, batch->status);
    if (epoch > 0 && batch->status == -ESTALE)
      PGD_ERROR("store",
                "FENCED: %zu writes refused: epoch %lld is no longer the cluster epoch "
                "(a newer leader took over); this master must stop acting as leader",
                n, (long long)epoch);

    pthread_mutex_lock(&s->mu);
    int stopping = s->stop;
    s->stats.commits++;
    s->stats.writes += n;
    s->stats.rows += rows;
    s->stats.coalesced += merged;
    pthread_mutex_unlock(&s->mu);
    pgd_store_op_t *done = NULL, *retry = NULL;
    int wrote = 0;
    int resource = sort_out(batch, !stopping, &done, &retry, &wrote);

    /* free what is finished; probes end here */
    pgd_store_op_t **pp = &done;
    while (*pp) {
      pgd_store_op_t *op = *pp;
      pgd_store_row_free(&op->row);
      if (op->probe) {
        *pp = op->next;
        free(op);
      } else {
        pp = &op->next;
      }
    }
    if (done) {
      pgd_store_op_t *tail = done;
      while (tail->next) tail = tail->next;
      pthread_mutex_lock(&s->done_mu);
      if (s->done_tail) s->done_tail->next = done;
      else s->done_head = done;
      s->done_tail = tail;
      pthread_mutex_unlock(&s->done_mu);
      uv_async_send(&s->async);
    }

    pthread_mutex_lock(&s->mu);
    if (resource) {
      set_health(s, resource);
      backoff_ms = backoff_ms ? backoff_ms * 2 : RETRY_FIRST_MS;
      if (backoff_ms > RETRY_MAX_MS) backoff_ms = RETRY_MAX_MS;
      next_try_us = pgd_now_us() + (int64_t)backoff_ms * 1000;
    } else if (wrote) {
      set_health(s, 0);
      backoff_ms = 0;
    } else if (backoff_ms) {
      /* nothing landed nor failed for lack of resources (e.g. a fenced
       * probe): still degraded, keep the pace instead of spinning */
      next_try_us = pgd_now_us() + (int64_t)backoff_ms * 1000;
    }
    if (retry) {
      /* back to the head of the queue, in order, before anything newer */
      pgd_store_op_t *rt = retry;
      size_t rn = 1;
      while (rt->next) rt = rt->next, rn++;
      rt->next = s->q_head;
      if (!s->q_head) {
        s->q_tail = rt;
        s->q_first_us = pgd_now_us();
      }
      s->q_head = retry;
      s->q_len += rn;
    }
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

/* ---- completions on the loop thread ------------------------------------- */

static void take_done(pgd_store_t *s) {
  pthread_mutex_lock(&s->done_mu);
  pgd_store_op_t *list = s->done_head;
  s->done_head = s->done_tail = NULL;
  pthread_mutex_unlock(&s->done_mu);
  if (!list) return;
  if (!s->cur) {
    s->cur = list;
    return;
  }
  pgd_store_op_t *t = s->cur;
  while (t->next) t = t->next;
  t->next = list;
}

/* Runs the callbacks of s->cur in order. Re-entrant: a callback may close
 * the store, which delivers the rest of s->cur itself. */
static void deliver(pgd_store_t *s) {
  pgd_store_op_t *op;
  while ((op = s->cur)) {
    s->cur = op->next;
    s->pending--;
    pgd_store_done_cb cb = op->cb;
    void *ud = op->ud;
    int status = op->status;
    free(op);
    if (cb) cb(status, ud);
  }
}

static void on_async(uv_async_t *h) {
  pgd_store_t *s = h->data;
  if (s->closed) return;
  take_done(s);
  deliver(s);
  if (!s->closing && s->pending == 0) uv_unref((uv_handle_t *)&s->async);
}

static void on_async_closed(uv_handle_t *h) {
  pgd_store_t *s = h->data;
  pthread_mutex_destroy(&s->mu);
  pthread_mutex_destroy(&s->done_mu);
  pthread_cond_destroy(&s->cond);
  free(s);
}

/* ---- open / close ------------------------------------------------------- */

int pgd_store_start(uv_loop_t *loop, const pgd_store_backend_ops_t *ops, void *be,
                    pgd_store_t **out, char *err, size_t errlen) {
  pgd_store_t *s = calloc(1, sizeof(*s));
  if (!s) {
    ops->destroy(be);
    pgd_set_err(err, errlen, 0, "%s", "out of memory");
    return -ENOMEM;
  }
  s->ops = ops;
  s->be = be;
  s->loop = loop;
  s->window_us = PGD_STORE_GROUP_WINDOW_DEFAULT_US;
  s->window_max = PGD_STORE_GROUP_MAX_WRITES_DEFAULT;
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->done_mu, NULL);
  pthread_cond_init(&s->cond, NULL);
  int rc = uv_async_init(loop, &s->async, on_async);
  if (rc < 0) {
    pgd_set_err(err, errlen, 0, "uv_async_init: %s", uv_strerror(rc));
    ops->destroy(be);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->done_mu);
    pthread_cond_destroy(&s->cond);
    free(s);
    return rc;
  }
  s->async.data = s;
  uv_unref((uv_handle_t *)&s->async);
  store_metrics_init(s);
  rc = pthread_create(&s->writer, NULL, writer_main, s);
  if (rc != 0) {
    pgd_set_err(err, errlen, 0, "cannot start the store writer thread: %s", strerror(rc));
    ops->destroy(be);
    s->closed = 1;
    uv_close((uv_handle_t *)&s->async, on_async_closed);
    return -rc;
  }
  s->writer_started = 1;
  *out = s;
  return 0;
}

void pgd_store_close(pgd_store_t *s) {
  if (!s || s->closing) return;
  s->closing = 1;
  pthread_mutex_lock(&s->mu);
  s->stop = 1;
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->mu);
  if (s->writer_started) pthread_join(s->writer, NULL);
  s->writer_started = 0;
  /* every queued write has been committed and is in the done list */
  take_done(s);
  deliver(s);
  s->ops->destroy(s->be);
  s->be = NULL;
  s->closed = 1;
  uv_close((uv_handle_t *)&s->async, on_async_closed);
}

const char *pgd_store_backend(const pgd_store_t *s) { return s ? s->ops->name : "none"; }

bool pgd_store_fail_fast(pgd_store_t *s, bool on) {
  if (!s) return false;
  bool was = s->fail_fast;
  s->fail_fast = on;
  return was;
}

bool pgd_store_background(pgd_store_t *s, bool on) {
  if (!s) return false;
  bool was = s->background;
  s->background = on;
  return was;
}

void pgd_store_set_group_window(pgd_store_t *s, int64_t window_us, size_t max_writes) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->window_us = window_us > 0 ? window_us : 0;
  if (max_writes > 0) s->window_max = max_writes;
  pthread_cond_signal(&s->cond); /* a writer waiting for the old window */
  pthread_mutex_unlock(&s->mu);
}

void pgd_store_writer_stats(pgd_store_t *s, pgd_store_writer_stats_t *out) {
  memset(out, 0, sizeof *out);
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  *out = s->stats;
  pthread_mutex_unlock(&s->mu);
}

int pgd_store_health(pgd_store_t *s, char *reason, size_t reasonlen) {
  if (reason && reasonlen) reason[0] = '\0';
  if (!s) return -EINVAL;
  pthread_mutex_lock(&s->mu);
  int rc = s->health_rc;
  if (rc < 0 && reason && reasonlen) snprintf(reason, reasonlen, "%s", s->health_reason);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

/* ---- writes ------------------------------------------------------------- */

static int enqueue(pgd_store_t *s, pgd_store_op_t *op);
static pgd_store_op_t *new_op(pgd_store_t *s, pgd_store_op_kind_t kind, pgd_store_done_cb cb,
                              void *ud, int *rc);
pgd_store_op_t *pgd_store__new_op(pgd_store_t *s, pgd_store_op_kind_t kind, pgd_store_done_cb cb,
                                  void *ud, int *rc) {
  return new_op(s, kind, cb, ud, rc);
}
int pgd_store__enqueue(pgd_store_t *s, pgd_store_op_t *op) { return enqueue(s, op); }
int pgd_store__backend(pgd_store_t *s, const pgd_store_backend_ops_t **ops, void **be) {
  if (!s || !s->be) return -EINVAL;
  *ops = s->ops;
  *be = s->be;
  return 0;
}

/* Caller holds mu: appends the list first..last (k writes) to the queue
 * and wakes the writer when it must act: an urgent write (commit now), the
 * first write of an empty queue (start the window), a full window. A
 * background write joining a waiting queue wakes nobody. */
static void queue_locked(pgd_store_t *s, pgd_store_op_t *first, pgd_store_op_t *last, size_t k,
                         int urgent) {
  int was_empty = !s->q_head;
  if (s->q_tail) s->q_tail->next = first;
  else s->q_head = first;
  s->q_tail = last;
  s->q_len += k;
  if (was_empty) s->q_first_us = pgd_now_us();
  if (urgent) s->q_urgent = 1;
  if (urgent || was_empty || s->window_us <= 0 || s->q_len >= s->window_max)
    pthread_cond_signal(&s->cond);
}

static int enqueue(pgd_store_t *s, pgd_store_op_t *op) {
  op->fail_fast = s->fail_fast;
  /* a caller that must answer, and a flush, never wait for the window */
  op->urgent = op->fail_fast || !s->background || op->kind == PGD_OP_FLUSH;
  if (s->group_depth > 0) { /* held until pgd_store_group_end */
    if (s->g_tail) {
      s->g_tail->joined = 1;
      s->g_tail->next = op;
    } else {
      s->g_head = op;
    }
    s->g_tail = op;
    s->g_len++;
    if (s->pending++ == 0) uv_ref((uv_handle_t *)&s->async);
    return 0;
  }
  pthread_mutex_lock(&s->mu);
  if (op->fail_fast) s->urgent = 1; /* answered now, not after the backoff */
  queue_locked(s, op, op, 1, op->urgent);
  pthread_mutex_unlock(&s->mu);
  if (s->pending++ == 0) uv_ref((uv_handle_t *)&s->async);
  return 0;
}

void pgd_store_group_begin(pgd_store_t *s) {
  if (s) s->group_depth++;
}

void pgd_store_group_end(pgd_store_t *s) {
  if (!s || s->group_depth <= 0 || --s->group_depth > 0 || !s->g_head) return;
  int urgent = 0;
  for (pgd_store_op_t *op = s->g_head; op; op = op->next) urgent |= op->urgent;
  pthread_mutex_lock(&s->mu);
  for (pgd_store_op_t *op = s->g_head; op; op = op->next)
    if (op->fail_fast) s->urgent = 1;
  queue_locked(s, s->g_head, s->g_tail, s->g_len, urgent); /* at most one wake per group */
  pthread_mutex_unlock(&s->mu);
  s->g_head = s->g_tail = NULL;
  s->g_len = 0;
}

static pgd_store_op_t *new_op(pgd_store_t *s, pgd_store_op_kind_t kind, pgd_store_done_cb cb,
                              void *ud, int *rc) {
  if (!s) {
    *rc = -EINVAL;
    return NULL;
  }
  if (s->closing) {
    *rc = -ESHUTDOWN;
    return NULL;
  }
  pgd_store_op_t *op = calloc(1, sizeof(*op));
  if (!op) {
    *rc = -ENOMEM;
    return NULL;
  }
  op->kind = kind;
  op->cb = cb;
  op->ud = ud;
  return op;
}

static int put_record(pgd_store_t *s, pgd_store_op_kind_t kind, const pgd_store_record_t *rec,
                      const cJSON *obj, pgd_store_done_cb cb, void *ud) {
  int rc = 0;
  pgd_store_op_t *op = new_op(s, kind, cb, ud, &rc);
  if (!op) return rc;
  rc = rec ? pgd_store_record_split(rec, obj, &op->row)
           : pgd_store_record_split_job(obj, pgd_now_us(), &op->row);
  if (rc < 0) {
    free(op);
    return rc;
  }
  return enqueue(s, op);
}

int pgd_store_put_job(pgd_store_t *s, const cJSON *job, pgd_store_done_cb cb, void *ud) {
  return put_record(s, PGD_OP_PUT_JOB, NULL, job, cb, ud);
}

int pgd_store_put_execution(pgd_store_t *s, const cJSON *exec, pgd_store_done_cb cb, void *ud) {
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(exec, "id");
  int64_t v;
  if (!pgd_store_json_int(id, &v) || v < 1) return -EINVAL;
  return put_record(s, PGD_OP_PUT_EXECUTION, &pgd_store_rec_execution, exec, cb, ud);
}

int pgd_store_put_attempt(pgd_store_t *s, const cJSON *attempt, pgd_store_done_cb cb, void *ud) {
  int64_t e, a;
  if (!pgd_store_json_int(cJSON_GetObjectItemCaseSensitive(attempt, "execution_id"), &e) ||
      e < 1 || !pgd_store_json_int(cJSON_GetObjectItemCaseSensitive(attempt, "attempt"), &a) ||
      a < 0)
    return -EINVAL;
  return put_record(s, PGD_OP_PUT_ATTEMPT, &pgd_store_rec_attempt, attempt, cb, ud);
}

int pgd_store_put_worker(pgd_store_t *s, const cJSON *worker, pgd_store_done_cb cb, void *ud) {
  return put_record(s, PGD_OP_PUT_WORKER, &pgd_store_rec_worker, worker, cb, ud);
}

int pgd_store_delete_job(pgd_store_t *s, const char *name, pgd_store_done_cb cb, void *ud) {
  if (!name || !name[0]) return -EINVAL;
  int rc = 0;
  pgd_store_op_t *op = new_op(s, PGD_OP_DELETE_JOB, cb, ud, &rc);
  if (!op) return rc;
  if (!(op->row.v[0].s = strdup(name))) {
    free(op);
    return -ENOMEM;
  }
  op->row.v[0].present = 1;
  return enqueue(s, op);
}

int pgd_store_put_doc(pgd_store_t *s, const char *kind, const char *id, const char *parent,
                      const char *state, const cJSON *doc, pgd_store_done_cb cb, void *ud) {
  int rc = 0;
  if (!s) return -EINVAL;
  pgd_store_row_t row;
  if ((rc = pgd_store_record_split_doc(kind, id, parent, state, doc, pgd_now_us(), &row)) < 0)
    return rc;
  pgd_store_op_t *op = new_op(s, PGD_OP_PUT_DOC, cb, ud, &rc);
  if (!op) {
    pgd_store_row_free(&row);
    return rc;
  }
  op->row = row;
  return enqueue(s, op);
}

/* DELETE_DOC / DELETE_DOCS: v[0] = kind, v[1] = key (id or parent) */
static int delete_doc_op(pgd_store_t *s, pgd_store_op_kind_t kind_op, const char *kind,
                         const char *key, pgd_store_done_cb cb, void *ud) {
  if (!pgd_store_doc_kind_ok(kind) || !key || !key[0] || strlen(key) > PGD_DOC_MAX_ID)
    return -EINVAL;
  int rc = 0;
  pgd_store_op_t *op = new_op(s, kind_op, cb, ud, &rc);
  if (!op) return rc;
  if (!(op->row.v[0].s = strdup(kind)) || !(op->row.v[1].s = strdup(key))) {
    pgd_store_row_free(&op->row);
    free(op);
    return -ENOMEM;
  }
  op->row.v[0].present = op->row.v[1].present = 1;
  return enqueue(s, op);
}

int pgd_store_delete_doc(pgd_store_t *s, const char *kind, const char *id, pgd_store_done_cb cb,
                         void *ud) {
  return delete_doc_op(s, PGD_OP_DELETE_DOC, kind, id, cb, ud);
}

int pgd_store_delete_docs(pgd_store_t *s, const char *kind, const char *parent,
                          pgd_store_done_cb cb, void *ud) {
  return delete_doc_op(s, PGD_OP_DELETE_DOCS, kind, parent, cb, ud);
}

int pgd_store_expire_keys(pgd_store_t *s, int64_t before_us, pgd_store_done_cb cb, void *ud) {
  int rc = 0;
  pgd_store_op_t *op = new_op(s, PGD_OP_EXPIRE_KEYS, cb, ud, &rc);
  if (!op) return rc;
  op->row.v[0].present = 1;
  op->row.v[0].i = before_us;
  return enqueue(s, op);
}

int pgd_store_flush(pgd_store_t *s, pgd_store_done_cb cb, void *ud) {
  int rc = 0;
  pgd_store_op_t *op = new_op(s, PGD_OP_FLUSH, cb, ud, &rc);
  if (!op) return rc;
  return enqueue(s, op);
}

/* ---- reads -------------------------------------------------------------- */

#define READ_GUARD(s, fail) \
  do {                      \
    if (!(s) || !(s)->be) return fail; \
  } while (0)

cJSON *pgd_store_get_job(pgd_store_t *s, const char *name) {
  READ_GUARD(s, NULL);
  if (!name) return NULL;
  return pgd_store_read_job(s->ops, s->be, name);
}

cJSON *pgd_store_list_jobs(pgd_store_t *s) {
  READ_GUARD(s, NULL);
  return pgd_store_read_jobs(s->ops, s->be);
}

cJSON *pgd_store_get_execution(pgd_store_t *s, int64_t id) {
  READ_GUARD(s, NULL);
  return pgd_store_read_execution(s->ops, s->be, id);
}

cJSON *pgd_store_list_executions(pgd_store_t *s, const char *job, const char *state, int limit,
                                 int64_t before_id) {
  READ_GUARD(s, NULL);
  return pgd_store_read_executions(s->ops, s->be, job, state, limit, before_id);
}

cJSON *pgd_store_find_execution_by_key(pgd_store_t *s, const char *key, int64_t since_us) {
  READ_GUARD(s, NULL);
  if (!key || !key[0]) return NULL;
  return pgd_store_read_execution_by_key(s->ops, s->be, key, since_us);
}

cJSON *pgd_store_list_unfinished_executions(pgd_store_t *s) {
  READ_GUARD(s, NULL);
  return pgd_store_read_unfinished(s->ops, s->be);
}

cJSON *pgd_store_list_workers(pgd_store_t *s) {
  READ_GUARD(s, NULL);
  return pgd_store_read_workers(s->ops, s->be);
}

int64_t pgd_store_max_execution_id(pgd_store_t *s) {
  READ_GUARD(s, -EINVAL);
  return pgd_store_read_max_execution_id(s->ops, s->be);
}

int64_t pgd_store_last_execution_before(pgd_store_t *s, int64_t before_us) {
  READ_GUARD(s, -EINVAL);
  return pgd_store_read_last_execution_before(s->ops, s->be, before_us);
}

cJSON *pgd_store_get_doc(pgd_store_t *s, const char *kind, const char *id) {
  READ_GUARD(s, NULL);
  if (!pgd_store_doc_kind_ok(kind) || !id || !id[0] || strlen(id) > PGD_DOC_MAX_ID) return NULL;
  return pgd_store_read_doc(s->ops, s->be, kind, id);
}

cJSON *pgd_store_list_docs(pgd_store_t *s, const char *kind, const char *parent,
                           const char *state, int limit, const char *before_id) {
  READ_GUARD(s, NULL);
  if (!pgd_store_doc_kind_ok(kind)) return NULL;
  if (before_id && !before_id[0]) before_id = NULL;
  return pgd_store_read_docs(s->ops, s->be, kind, parent, state, limit, before_id);
}

int pgd_store_schema_version(pgd_store_t *s) {
  READ_GUARD(s, -EINVAL);
  return pgd_store_read_schema_version(s->ops, s->be);
}

/* ---- epoch fencing ------------------------------------------------------ */

int pgd_store_acquire_epoch(pgd_store_t *s, int64_t *epoch_out, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!s || !epoch_out) {
    pgd_set_err(err, errlen, 0, "%s", "store: a store and an output are required");
    return -EINVAL;
  }
  if (!s->be) {
    pgd_set_err(err, errlen, 0, "%s", "store: closed");
    return -ESHUTDOWN;
  }
  int rc = s->ops->acquire_epoch(s->be, epoch_out, err, errlen);
  if (rc == 0) PGD_INFO("store", "acquired cluster epoch %lld", (long long)*epoch_out);
  return rc;
}

void pgd_store_set_epoch(pgd_store_t *s, int64_t epoch) {
  if (!s) return;
  __atomic_store_n(&s->epoch, epoch < 0 ? 0 : epoch, __ATOMIC_RELEASE);
}

int64_t pgd_store_epoch(const pgd_store_t *s) {
  if (!s) return -EINVAL;
  return __atomic_load_n(&s->epoch, __ATOMIC_ACQUIRE);
}
