/* Pagoda master — execution logs in the shared store (PostgreSQL), the
 * second backend of logs.c (docs/store.md "Logs and resources in the
 * store", docs/ha.md "Logs across a failover").
 *
 * Each attempt being written on this master has a TAIL: the bytes it
 * received that are not durable in the store yet, [base, base + len) of the
 * attempt's log. Bytes are queued to the store's writer as log chunks (one
 * chunk when 64 KiB are waiting, else at the next tick), so the loop thread
 * never waits for the database. A worker's log report is ACKNOWLEDGED only
 * once the chunk holding its last byte is durable: a report the leader had
 * not stored when it died is still on the worker, which re-sends it to the
 * next leader; that leader starts each attempt at its stored size and skips
 * the bytes it already has (the chunk key is the byte offset, so a chunk
 * written twice is one row). Memory is bounded: beyond max_pending bytes
 * waiting for the store (all attempts together) a report is left
 * unacknowledged and its bytes are not taken; the worker keeps it and sends
 * it again when it reconnects (the log of that attempt pauses meanwhile;
 * logged once). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "common/log.h"
#include "master/exec_int.h"
#include "master/logs_int.h"
#include "master/workers_int.h"
#include "store/store_logs.h"

#define MOD "logs"
#define FLUSH_BYTES (64 * 1024)
#define DEFAULT_MAX_PENDING (64LL * 1024 * 1024)

typedef struct {
  m_worker_t *w; /* workers are freed only with the master */
  int64_t seq;
  int64_t end;   /* the report's end offset in the attempt */
} ack_t;

typedef struct {
  int64_t exec_id;
  int attempt;
} tail_key_t;

typedef struct m_log_tail {
  tail_key_t key;
  char *buf;
  size_t len, cap;
  int64_t base;    /* attempt offset of buf[0]: what is durable */
  int64_t queued;  /* end of what has been queued to the store */
  int inflight;    /* chunks queued whose callback has not run */
  bool closed;     /* the attempt ended on this master: freed once drained */
  ack_t *acks;
  size_t nacks, capacks;
  UT_hash_handle hh;
} m_log_tail_t;

struct m_log_shared {
  m_log_tail_t *tails;
  int64_t pending;     /* bytes in every tail */
  int64_t max_pending;
  bool warned_full;
  m_log_shared_stats_t stats;
};

typedef struct {
  pgd_master_t *m;
  tail_key_t key;
  int64_t end;
  size_t bytes;
  ack_t *acks;
  size_t nacks;
} chunk_ctx_t;

bool m_log_shared_enabled(const pgd_master_t *m) { return m->log_shared != NULL; }

int m_log_shared_init(pgd_master_t *m, int64_t max_pending) {
  m->log_shared = calloc(1, sizeof *m->log_shared);
  if (!m->log_shared) return -ENOMEM;
  m->log_shared->max_pending = max_pending > 0 ? max_pending : DEFAULT_MAX_PENDING;
  return 0;
}

static void tail_free(struct m_log_shared *ls, m_log_tail_t *t) {
  HASH_DEL(ls->tails, t);
  ls->pending -= (int64_t)t->len;
  free(t->buf);
  free(t->acks);
  free(t);
}

void m_log_shared_free(pgd_master_t *m) {
  struct m_log_shared *ls = m->log_shared;
  if (!ls) return;
  m_log_tail_t *t, *tmp;
  HASH_ITER(hh, ls->tails, t, tmp) tail_free(ls, t);
  free(ls);
  m->log_shared = NULL;
}

static m_log_tail_t *tail_find(struct m_log_shared *ls, int64_t id, int attempt) {
  tail_key_t k;
  memset(&k, 0, sizeof k);
  k.exec_id = id;
  k.attempt = attempt;
  m_log_tail_t *t = NULL;
  HASH_FIND(hh, ls->tails, &k, sizeof k, t);
  return t;
}

/* The stored size of each attempt: what a new leader continues from. */
static int64_t stored_size(pgd_master_t *m, int64_t id, int attempt) {
  cJSON *sizes = pgd_store_log_sizes(m->store, id);
  int64_t size = 0;
  const cJSON *s;
  cJSON_ArrayForEach(s, sizes) {
    if ((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "attempt")) == attempt)
      size = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "size"));
  }
  cJSON_Delete(sizes);
  return size;
}

static m_log_tail_t *tail_get(pgd_master_t *m, int64_t id, int attempt) {
  struct m_log_shared *ls = m->log_shared;
  m_log_tail_t *t = tail_find(ls, id, attempt);
  if (t) return t;
  t = calloc(1, sizeof *t);
  if (!t) abort();
  t->key.exec_id = id;
  t->key.attempt = attempt;
  t->base = t->queued = stored_size(m, id, attempt);
  HASH_ADD(hh, ls->tails, key, sizeof t->key, t);
  return t;
}

static void ack_now(pgd_master_t *m, const ack_t *a) {
  if (a->w) m_rpc_queue_ack(m, a->w, a->seq);
}

static void chunk_done(int status, void *ud) {
  chunk_ctx_t *c = ud;
  pgd_master_t *m = c->m;
  struct m_log_shared *ls = m->log_shared;
  if (status == 0) {
    for (size_t i = 0; i < c->nacks; i++) ack_now(m, &c->acks[i]);
    ls->stats.chunks_written++;
    ls->stats.bytes_written += (int64_t)c->bytes;
  } else {
    ls->stats.chunks_failed++;
    PGD_WARN(MOD, "execution %lld attempt %d: log chunk not stored (%s); its reports stay unacknowledged",
             (long long)c->key.exec_id, c->key.attempt, strerror(-status));
  }
  m_log_tail_t *t = tail_find(ls, c->key.exec_id, c->key.attempt);
  if (t) {
    t->inflight--;
    if (status == 0 && c->end > t->base) {
      size_t drop = (size_t)(c->end - t->base);
      if (drop > t->len) drop = t->len;
      memmove(t->buf, t->buf + drop, t->len - drop);
      t->len -= drop;
      t->base += (int64_t)drop;
      ls->pending -= (int64_t)drop;
    } else if (status < 0) {
      /* the bytes are still here: queue them again from what is durable,
       * and keep their reports unacknowledged until then */
      if (t->queued > t->base) t->queued = t->base;
      for (size_t i = 0; i < c->nacks; i++) {
        if (t->nacks == t->capacks) {
          t->capacks = t->capacks ? 2 * t->capacks : 8;
          t->acks = realloc(t->acks, t->capacks * sizeof *t->acks);
          if (!t->acks) abort();
        }
        t->acks[t->nacks++] = c->acks[i];
      }
      c->nacks = 0;
    }
    if (t->closed && t->inflight == 0) tail_free(ls, t);
  }
  free(c->acks);
  free(c);
}

/* Acknowledges the reports whose bytes are all durable now. */
static void ack_durable(pgd_master_t *m, m_log_tail_t *t) {
  size_t keep = 0;
  for (size_t i = 0; i < t->nacks; i++) {
    if (t->acks[i].end <= t->base) ack_now(m, &t->acks[i]);
    else t->acks[keep++] = t->acks[i];
  }
  t->nacks = keep;
}

/* Queues what the tail has beyond `queued`, with the acks waiting so far
 * (acknowledged once that chunk is durable). */
static void tail_flush(pgd_master_t *m, m_log_tail_t *t) {
  ack_durable(m, t); /* re-sent reports of bytes already durable */
  int64_t end = t->base + (int64_t)t->len;
  if (end <= t->queued) return; /* acks still waiting ride with the chunk in flight */
  chunk_ctx_t *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->m = m;
  c->key = t->key;
  c->end = end;
  c->bytes = (size_t)(end - t->queued);
  c->acks = t->acks;
  c->nacks = t->nacks;
  t->acks = NULL;
  t->nacks = t->capacks = 0;
  const char *from = t->buf + (t->queued - t->base);
  /* a chunk is at most PGD_STORE_LOG_CHUNK_MAX: FLUSH_BYTES is far below
   * it and reports are capped by the protocol's frame size */
  int rc = pgd_store_put_log_chunk(m->store, t->key.exec_id, t->key.attempt, t->queued, from,
                                   c->bytes, chunk_done, c);
  if (rc < 0) {
    PGD_WARN(MOD, "execution %lld: cannot queue a log chunk: %s", (long long)t->key.exec_id,
             strerror(-rc));
    t->acks = c->acks; /* kept for the next try */
    t->nacks = t->capacks = c->nacks;
    free(c);
    return;
  }
  t->queued = end;
  t->inflight++;
}

int64_t m_log_shared_append(pgd_master_t *m, m_task_t *task, int64_t offset, const char *data,
                            size_t len, m_worker_t *w, int64_t seq, bool *deferred) {
  struct m_log_shared *ls = m->log_shared;
  *deferred = false;
  m_log_tail_t *t = tail_get(m, task->exec->id, task->attempt);
  int64_t size = t->base + (int64_t)t->len;
  task->log_size = size;
  if (offset < 0) offset = size; /* the master's own note: at the end */
  if (offset > size) { /* a gap: wait for the re-send of what is missing */
    *deferred = true;
    return -1;
  }
  int64_t end = offset + (int64_t)len;
  int64_t fresh = end > size ? end - size : 0;
  if (fresh > 0 && ls->pending + fresh > ls->max_pending) {
    if (!ls->warned_full)
      PGD_WARN(MOD, "%lld log bytes wait for the store (limit %lld): reports are left on their "
               "workers until they reconnect", (long long)ls->pending, (long long)ls->max_pending);
    ls->warned_full = true;
    ls->stats.reports_refused++;
    *deferred = true; /* not acknowledged, not taken */
    return -1;
  }
  ls->warned_full = false;
  if (fresh > 0) {
    if (t->len + (size_t)fresh > t->cap) {
      size_t cap = t->cap ? t->cap : 4096;
      while (cap < t->len + (size_t)fresh) cap *= 2;
      t->buf = realloc(t->buf, cap);
      if (!t->buf) abort();
      t->cap = cap;
    }
    memcpy(t->buf + t->len, data + (len - (size_t)fresh), (size_t)fresh);
    t->len += (size_t)fresh;
    ls->pending += fresh;
    task->log_size = end;
  }
  if (w) {
    if (t->nacks == t->capacks) {
      t->capacks = t->capacks ? 2 * t->capacks : 8;
      t->acks = realloc(t->acks, t->capacks * sizeof *t->acks);
      if (!t->acks) abort();
    }
    t->acks[t->nacks++] = (ack_t){w, seq, end};
    *deferred = true;
  }
  if (t->base + (int64_t)t->len - t->queued >= FLUSH_BYTES) tail_flush(m, t);
  return fresh;
}

void m_log_shared_tick(pgd_master_t *m) {
  struct m_log_shared *ls = m->log_shared;
  if (!ls || !m->store) return;
  m_log_tail_t *t, *tmp;
  HASH_ITER(hh, ls->tails, t, tmp) {
    if (m->leader) tail_flush(m, t); /* a deposed leader's writes would be fenced */
    /* an attempt no task of this master writes any more: free once drained */
    m_exec_t *e = m_exec_find(m, t->key.exec_id);
    bool live = false;
    for (int i = 0; e && i < e->n_tasks; i++)
      if (e->tasks[i]->attempt == t->key.attempt && e->tasks[i]->worker) live = true;
    if (!live) {
      t->closed = true;
      if (t->inflight == 0) tail_free(ls, t);
    }
  }
}

/* An attempt's size: the larger of `stored` and the end of its tail t (nullable). */
static int64_t attempt_size(const m_log_tail_t *t, int64_t stored) {
  int64_t mem = t ? t->base + (int64_t)t->len : 0;
  return mem > stored ? mem : stored;
}

int64_t m_log_shared_size(pgd_master_t *m, int64_t id, int attempt, int64_t stored) {
  return attempt_size(tail_find(m->log_shared, id, attempt), stored);
}

/* The log from `offset` as the store holds it, completed by the tails of
 * `ls` (NULL: the store alone — any thread, as the store's reads are). */
static int shared_read(pgd_store_t *store, struct m_log_shared *ls, int64_t id, int attempts,
                       int64_t offset, char **buf, size_t *len) {
  cJSON *sizes = pgd_store_log_sizes(store, id);
  if (!sizes) return -EIO;
  int rc = 0;
  int64_t pos = 0; /* concatenated offset of the start of attempt a */
  for (int a = 1; a <= attempts && rc == 0; a++) {
    int64_t stored = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, sizes) {
      if ((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "attempt")) == a)
        stored = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "size"));
    }
    m_log_tail_t *t = ls ? tail_find(ls, id, a) : NULL;
    int64_t size = attempt_size(t, stored);
    if (pos + size <= offset) {
      pos += size;
      continue;
    }
    int64_t from = offset > pos ? offset - pos : 0;
    size_t before = *len;
    if (from < stored) rc = pgd_store_read_log(store, id, a, from, true, buf, len);
    if (rc < 0) break;
    int64_t have = from + (int64_t)(*len - before); /* attempt offset reached */
    if (t && have >= t->base && have < t->base + (int64_t)t->len) {
      size_t skip = (size_t)(have - t->base), n = t->len - skip;
      char *nb = realloc(*buf, *len + n + 1);
      if (!nb) abort();
      *buf = nb;
      memcpy(*buf + *len, t->buf + skip, n);
      *len += n;
      (*buf)[*len] = '\0';
    }
    pos += size;
  }
  cJSON_Delete(sizes);
  return rc;
}

int m_log_shared_read(pgd_master_t *m, int64_t id, int attempts, int64_t offset, char **buf,
                      size_t *len) {
  return shared_read(m->store, m->log_shared, id, attempts, offset, buf, len);
}

int m_log_shared_read_stored(pgd_store_t *store, int64_t id, int attempts, int64_t offset,
                             char **buf, size_t *len) {
  return shared_read(store, NULL, id, attempts, offset, buf, len);
}

int64_t m_log_shared_total(pgd_master_t *m, int64_t id, int attempts) {
  cJSON *sizes = pgd_store_log_sizes(m->store, id);
  int64_t total = 0;
  for (int a = 1; a <= attempts; a++) {
    int64_t stored = 0;
    const cJSON *s;
    cJSON_ArrayForEach(s, sizes) {
      if ((int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "attempt")) == a)
        stored = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(s, "size"));
    }
    total += m_log_shared_size(m, id, a, stored);
  }
  cJSON_Delete(sizes);
  return total;
}

void m_log_shared_stats(const pgd_master_t *m, m_log_shared_stats_t *out) {
  memset(out, 0, sizeof *out);
  if (!m->log_shared) return;
  *out = m->log_shared->stats;
  out->pending_bytes = m->log_shared->pending;
  out->tails = (int64_t)HASH_COUNT(m->log_shared->tails);
}
