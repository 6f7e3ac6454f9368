/* Pagoda — timer queue: a binary min-heap ordered by (due, seq), an
 * open-addressing index key -> heap position, and one uv_timer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "sched/timerq.h"

typedef struct {
  int64_t due;
  uint64_t seq; /* insertion order among equal due times */
  uint64_t key;
  void *ud;
  uint32_t slot; /* index slot of this entry */
} entry_t;

typedef struct {
  uint64_t key;
  uint32_t pos; /* heap position + 1; 0 = empty slot */
} slot_t;

struct pgd_timerq {
  uv_timer_t timer;
  uv_loop_t *loop;
  pgd_timerq_due_cb on_due;
  void *q_ud;
  entry_t *heap;
  size_t n, cap;
  slot_t *slots;
  size_t nslots; /* power of two, >= 2 * n */
  uint64_t seq;
  int64_t armed_due; /* due time the timer is armed for, -1 = stopped */
  const pgd_clock_t *clock; /* NULL = the system clock */
  int dispatching, closing;
  void (*closed)(void *);
  void *closed_arg;
};

static uint64_t mix(uint64_t x) { /* splitmix64 finaliser */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* ---- index ---------------------------------------------------------------- */

static size_t slot_find(const pgd_timerq_t *q, uint64_t key) {
  size_t mask = q->nslots - 1;
  for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
    if (q->slots[i].pos == 0) return SIZE_MAX;
    if (q->slots[i].key == key) return i;
  }
}

static size_t slot_put(pgd_timerq_t *q, uint64_t key, uint32_t pos1) {
  size_t mask = q->nslots - 1, i = mix(key) & mask;
  while (q->slots[i].pos != 0) i = (i + 1) & mask;
  q->slots[i].key = key;
  q->slots[i].pos = pos1;
  return i;
}

/* Backward-shift deletion: no tombstones, so lookups stay short. */
static void slot_del(pgd_timerq_t *q, size_t i) {
  size_t mask = q->nslots - 1;
  for (size_t j = (i + 1) & mask; q->slots[j].pos != 0; j = (j + 1) & mask) {
    size_t home = mix(q->slots[j].key) & mask;
    /* Move j back to i if home is not cyclically in (i, j]. */
    if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
      q->slots[i] = q->slots[j];
      q->heap[q->slots[i].pos - 1].slot = (uint32_t)i;
      i = j;
    }
  }
  q->slots[i].pos = 0;
}

static int grow(pgd_timerq_t *q) {
  if (q->n + 1 > q->cap) {
    size_t cap = q->cap ? q->cap * 2 : 64;
    entry_t *h = realloc(q->heap, cap * sizeof *h);
    if (!h) return -ENOMEM;
    q->heap = h;
    q->cap = cap;
  }
  if ((q->n + 1) * 2 > q->nslots) {
    size_t ns = q->nslots ? q->nslots * 2 : 128;
    slot_t *s = calloc(ns, sizeof *s);
    if (!s) return -ENOMEM;
    free(q->slots);
    q->slots = s;
    q->nslots = ns;
    for (size_t p = 0; p < q->n; p++) q->heap[p].slot = (uint32_t)slot_put(q, q->heap[p].key, (uint32_t)p + 1);
  }
  return 0;
}

/* ---- heap ----------------------------------------------------------------- */

static int less(const entry_t *a, const entry_t *b) {
  return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void place(pgd_timerq_t *q, size_t p, entry_t e) {
  q->heap[p] = e;
  q->slots[e.slot].pos = (uint32_t)p + 1;
}

static void sift_up(pgd_timerq_t *q, size_t p) {
  entry_t e = q->heap[p];
  while (p > 0) {
    size_t parent = (p - 1) / 2;
    if (!less(&e, &q->heap[parent])) break;
    place(q, p, q->heap[parent]);
    p = parent;
  }
  place(q, p, e);
}

static void sift_down(pgd_timerq_t *q, size_t p) {
  entry_t e = q->heap[p];
  for (;;) {
    size_t c = 2 * p + 1;
    if (c >= q->n) break;
    if (c + 1 < q->n && less(&q->heap[c + 1], &q->heap[c])) c++;
    if (!less(&q->heap[c], &e)) break;
    place(q, p, q->heap[c]);
    p = c;
  }
  place(q, p, e);
}

static void heap_remove_at(pgd_timerq_t *q, size_t p) {
  slot_del(q, q->heap[p].slot);
  q->n--;
  if (p == q->n) return;
  q->heap[p] = q->heap[q->n];
  q->slots[q->heap[p].slot].pos = (uint32_t)p + 1;
  if (p > 0 && less(&q->heap[p], &q->heap[(p - 1) / 2])) sift_up(q, p);
  else sift_down(q, p);
}

/* ---- timer ---------------------------------------------------------------- */

static void on_timer(uv_timer_t *t);

static void arm(pgd_timerq_t *q) {
  if (q->closing || q->dispatching) return;
  if (q->n == 0) {
    if (q->armed_due != -1) uv_timer_stop(&q->timer);
    q->armed_due = -1;
    return;
  }
  int64_t due = q->heap[0].due;
  if (due == q->armed_due) return;
  int64_t wait_us = due - pgd_clock_now_us(q->clock);
  uint64_t ms = wait_us <= 0 ? 0 : (uint64_t)((wait_us + 999) / 1000);
  if (ms > PGD_TIMERQ_MAX_SLEEP_MS) ms = PGD_TIMERQ_MAX_SLEEP_MS;
  uv_update_time(q->loop);
  uv_timer_start(&q->timer, on_timer, ms, 0);
  q->armed_due = due;
}

static void on_timer(uv_timer_t *t) {
  pgd_timerq_t *q = t->data;
  q->armed_due = -1;
  int64_t now = pgd_clock_now_us(q->clock);
  uint64_t seq_limit = q->seq; /* entries set from here on wait for the next round */
  q->dispatching = 1;
  while (!q->closing && q->n > 0 && q->heap[0].due <= now && q->heap[0].seq < seq_limit) {
    entry_t e = q->heap[0];
    heap_remove_at(q, 0);
    q->on_due(e.ud, e.due, q->q_ud);
  }
  q->dispatching = 0;
  arm(q);
}

/* ---- public --------------------------------------------------------------- */

int pgd_timerq_init(uv_loop_t *loop, pgd_timerq_t **out, pgd_timerq_due_cb on_due, void *q_ud) {
  *out = NULL;
  if (!loop || !on_due) return -EINVAL;
  pgd_timerq_t *q = calloc(1, sizeof *q);
  if (!q) return -ENOMEM;
  int rc = uv_timer_init(loop, &q->timer);
  if (rc < 0) {
    free(q);
    return rc;
  }
  q->timer.data = q;
  q->loop = loop;
  q->on_due = on_due;
  q->q_ud = q_ud;
  q->armed_due = -1;
  *out = q;
  return 0;
}

int pgd_timerq_set(pgd_timerq_t *q, uint64_t key, int64_t due_us, void *item_ud) {
  if (due_us < 0 || q->closing) return -EINVAL;
  size_t s = q->nslots ? slot_find(q, key) : SIZE_MAX;
  if (s != SIZE_MAX) {
    size_t p = q->slots[s].pos - 1;
    entry_t *e = &q->heap[p];
    int64_t old = e->due;
    e->due = due_us;
    e->seq = q->seq++;
    e->ud = item_ud;
    if (due_us < old) sift_up(q, p);
    else sift_down(q, p);
  } else {
    if (q->n >= UINT32_MAX - 1) return -ENOMEM;
    int rc = grow(q);
    if (rc < 0) return rc;
    entry_t e = {due_us, q->seq++, key, item_ud, 0};
    e.slot = (uint32_t)slot_put(q, key, (uint32_t)q->n + 1);
    q->heap[q->n++] = e;
    sift_up(q, q->n - 1);
  }
  arm(q);
  return 0;
}

int pgd_timerq_remove(pgd_timerq_t *q, uint64_t key) {
  size_t s = q->nslots ? slot_find(q, key) : SIZE_MAX;
  if (s == SIZE_MAX) return -ENOENT;
  heap_remove_at(q, q->slots[s].pos - 1);
  arm(q);
  return 0;
}

int pgd_timerq_get(const pgd_timerq_t *q, uint64_t key, int64_t *due_us, void **item_ud) {
  size_t s = q->nslots ? slot_find(q, key) : SIZE_MAX;
  if (s == SIZE_MAX) return 0;
  const entry_t *e = &q->heap[q->slots[s].pos - 1];
  if (due_us) *due_us = e->due;
  if (item_ud) *item_ud = e->ud;
  return 1;
}

size_t pgd_timerq_size(const pgd_timerq_t *q) { return q->n; }

int64_t pgd_timerq_peek(const pgd_timerq_t *q) { return q->n ? q->heap[0].due : -1; }

int pgd_timerq_pop(pgd_timerq_t *q, int64_t now_us, uint64_t *key, int64_t *due_us,
                   void **item_ud) {
  if (q->n == 0 || q->heap[0].due > now_us) return 0;
  entry_t e = q->heap[0];
  heap_remove_at(q, 0);
  if (key) *key = e.key;
  if (due_us) *due_us = e.due;
  if (item_ud) *item_ud = e.ud;
  arm(q);
  return 1;
}

void pgd_timerq_set_clock(pgd_timerq_t *q, const pgd_clock_t *clock) {
  q->clock = clock;
  pgd_timerq_poke(q);
}

void pgd_timerq_poke(pgd_timerq_t *q) {
  q->armed_due = -2; /* not a due time: arm() recomputes the wait */
  arm(q);
}

static void on_closed(uv_handle_t *h) {
  pgd_timerq_t *q = h->data;
  void (*cb)(void *) = q->closed;
  void *arg = q->closed_arg;
  free(q->heap);
  free(q->slots);
  free(q);
  if (cb) cb(arg);
}

void pgd_timerq_close(pgd_timerq_t *q, void (*closed)(void *arg), void *arg) {
  if (!q || q->closing) return;
  q->closing = 1;
  q->closed = closed;
  q->closed_arg = arg;
  q->n = 0;
  uv_timer_stop(&q->timer);
  uv_close((uv_handle_t *)&q->timer, on_closed);
}
