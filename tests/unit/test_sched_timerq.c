/* Unit tests of core/sched/timerq: heap order with 100,000 entries under
 * insert/update/remove/pop, and firing on a real uv loop (never early, in
 * order, re-arming from the callback, clean close). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <uv.h>

#include "pgd_test.h"
#include "common/clock.h"
#include "sched/timerq.h"

#define N 100000

static uint64_t rng = 88172645463325252ULL;
static uint64_t xr(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void never(void *item, int64_t due, void *q_ud) { CU_FAIL("on_due during a heap-only test"); }

static void closed_flag(void *arg) { *(int *)arg = 1; }

static void close_and_drain(uv_loop_t *loop, pgd_timerq_t *q) {
  int closed = 0;
  pgd_timerq_close(q, closed_flag, &closed);
  uv_run(loop, UV_RUN_DEFAULT);
  CU_ASSERT_EQUAL(closed, 1);
}

static void test_heap_100k(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_timerq_t *q;
  CU_ASSERT_EQUAL_FATAL(pgd_timerq_init(&loop, &q, never, NULL), 0);
  /* Far-future due times (year ~2100) so the loop's timer never fires here. */
  const int64_t base = (int64_t)4102444800 * 1000000;
  int64_t *due = malloc(N * sizeof *due); /* expected due per key, -1 = removed */
  for (uint64_t k = 0; k < N; k++) {
    due[k] = base + (int64_t)(xr() % 1000000); /* many ties: ~100k values in 1e6 */
    CU_ASSERT_EQUAL_FATAL(pgd_timerq_set(q, k * 7919 + 3, due[k], (void *)(uintptr_t)k), 0);
  }
  CU_ASSERT_EQUAL(pgd_timerq_size(q), N);
  for (uint64_t k = 0; k < N; k += 3) { /* update a third, up and down */
    due[k] = base + (int64_t)(xr() % 1000000);
    CU_ASSERT_EQUAL(pgd_timerq_set(q, k * 7919 + 3, due[k], (void *)(uintptr_t)k), 0);
  }
  size_t removed = 0;
  for (uint64_t k = 1; k < N; k += 5) {
    CU_ASSERT_EQUAL(pgd_timerq_remove(q, k * 7919 + 3), 0);
    due[k] = -1;
    removed++;
  }
  CU_ASSERT_EQUAL(pgd_timerq_remove(q, 1 * 7919 + 3), -ENOENT);
  CU_ASSERT_EQUAL(pgd_timerq_remove(q, 5), -ENOENT);
  CU_ASSERT_EQUAL(pgd_timerq_size(q), N - removed);
  int64_t d;
  void *ud;
  CU_ASSERT_EQUAL(pgd_timerq_get(q, 9 * 7919 + 3, &d, &ud), 1);
  CU_ASSERT_EQUAL(d, due[9]);
  CU_ASSERT_PTR_EQUAL(ud, (void *)9);
  CU_ASSERT_EQUAL(pgd_timerq_get(q, 6 * 7919 + 3, NULL, NULL), 0);
  CU_ASSERT_EQUAL(pgd_timerq_pop(q, base - 1, NULL, NULL, NULL), 0); /* nothing due */
  /* Pop everything: nondecreasing due times, each key once, matching due. */
  char *seen = calloc(N, 1);
  int64_t prev = INT64_MIN;
  size_t popped = 0, bad = 0;
  uint64_t key;
  while (pgd_timerq_pop(q, INT64_MAX, &key, &d, &ud)) {
    uint64_t k = (uint64_t)(uintptr_t)ud;
    if (d < prev || k >= N || key != k * 7919 + 3 || seen[k] || due[k] != d) bad++;
    if (k < N) seen[k] = 1;
    prev = d;
    popped++;
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(popped, N - removed);
  CU_ASSERT_EQUAL(pgd_timerq_size(q), 0);
  CU_ASSERT_EQUAL(pgd_timerq_peek(q), -1);
  CU_ASSERT_EQUAL(pgd_timerq_set(q, 1, -5, NULL), -EINVAL);
  free(seen);
  free(due);
  close_and_drain(&loop, q);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

static void test_ties_fifo(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_timerq_t *q;
  CU_ASSERT_EQUAL_FATAL(pgd_timerq_init(&loop, &q, never, NULL), 0);
  const int64_t t = (int64_t)4102444800 * 1000000;
  for (uint64_t k = 0; k < 100; k++) pgd_timerq_set(q, 1000 - k, t, (void *)(uintptr_t)k);
  pgd_timerq_set(q, 1000 - 5, t, (void *)5); /* re-set: goes to the back */
  void *ud;
  int ok = 1;
  for (uintptr_t i = 0; i < 100; i++) {
    pgd_timerq_pop(q, t, NULL, NULL, &ud);
    uintptr_t want = i < 5 ? i : (i < 99 ? i + 1 : 5);
    if ((uintptr_t)ud != want) ok = 0;
  }
  CU_ASSERT(ok);
  close_and_drain(&loop, q);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

/* ---- on a loop ------------------------------------------------------------ */

typedef struct {
  pgd_timerq_t *q;
  int fired;
  int order[64];
  int64_t lateness[64];
  int early;
  int rearm_left; /* item 0 re-inserts itself this many times */
  int close_after;
} run_t;

static void on_due(void *item, int64_t due, void *q_ud) {
  run_t *r = q_ud;
  int64_t now = pgd_now_us();
  int id = (int)(uintptr_t)item;
  if (now < due) r->early++;
  if (r->fired < 64) {
    r->order[r->fired] = id;
    r->lateness[r->fired] = now - due;
  }
  r->fired++;
  if (id == 0 && r->rearm_left > 0) {
    r->rearm_left--;
    pgd_timerq_set(r->q, 0, due + 5000, item);
  }
  if (r->close_after && r->fired == r->close_after) pgd_timerq_close(r->q, NULL, NULL);
}

static void test_loop_fires(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  run_t r = {0};
  r.rearm_left = 3;
  CU_ASSERT_EQUAL_FATAL(pgd_timerq_init(&loop, &r.q, on_due, &r), 0);
  int64_t now = pgd_now_us();
  /* ids 1..5 due at +50, +40, +30, +20, +10 ms; id 0 at +5 ms, re-armed 3x. */
  for (int i = 1; i <= 5; i++) pgd_timerq_set(r.q, (uint64_t)i, now + (6 - i) * 10000, (void *)(uintptr_t)i);
  pgd_timerq_set(r.q, 0, now + 5000, (void *)0);
  pgd_timerq_set(r.q, 9, now + 1000, (void *)9);
  pgd_timerq_remove(r.q, 9); /* removed before due: never fires */
  while (pgd_timerq_size(r.q) > 0) uv_run(&loop, UV_RUN_ONCE);
  CU_ASSERT_EQUAL(r.fired, 9);
  CU_ASSERT_EQUAL(r.early, 0);
  /* 0 at +5, +10, +15, +20 ms; at equal due times the entry set first fires
   * first: 5 (set at start) before 0's +10, 4 before 0's +20. */
  int want[9] = {0, 5, 0, 0, 4, 0, 3, 2, 1};
  int same = 1;
  for (int i = 0; i < 9; i++) same &= r.order[i] == want[i];
  if (!same) {
    fprintf(stderr, "\n  order:");
    for (int i = 0; i < 9; i++) fprintf(stderr, " %d", r.order[i]);
    fprintf(stderr, "\n");
  }
  CU_ASSERT(same);
  int64_t worst = 0;
  for (int i = 0; i < 9; i++) worst = r.lateness[i] > worst ? r.lateness[i] : worst;
  fprintf(stderr, "[worst lateness %lld us] ", (long long)worst);
  close_and_drain(&loop, r.q);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

/* ---- on a loop, with a manual clock ------------------------------------- */

/* The same entries as test_loop_fires, but time moves only when the test
 * advances the clock (1 ms steps): no sleeping, and every entry fires
 * exactly when the clock reaches its due time, never before. */
typedef struct {
  pgd_timerq_t *q;
  pgd_manual_clock_t mc;
  int fired;
  int order[64];
  int64_t lateness[64];
  int early;
  int rearm_left;
} manual_run_t;

static void on_due_manual(void *item, int64_t due, void *q_ud) {
  manual_run_t *r = q_ud;
  int64_t now = pgd_clock_now_us(&r->mc.clock);
  int id = (int)(uintptr_t)item;
  if (now < due) r->early++;
  if (r->fired < 64) {
    r->order[r->fired] = id;
    r->lateness[r->fired] = now - due;
  }
  r->fired++;
  if (id == 0 && r->rearm_left > 0) {
    r->rearm_left--;
    pgd_timerq_set(r->q, 0, due + 5000, item);
  }
}

static void test_manual_clock(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  manual_run_t r = {0};
  r.rearm_left = 3;
  const int64_t t0 = 1767225600000000; /* 2026-01-01T00:00:00Z, far from the wall clock */
  pgd_manual_clock_init(&r.mc, t0);
  CU_ASSERT_EQUAL_FATAL(pgd_timerq_init(&loop, &r.q, on_due_manual, &r), 0);
  pgd_timerq_set_clock(r.q, &r.mc.clock);
  for (int i = 1; i <= 5; i++) pgd_timerq_set(r.q, (uint64_t)i, t0 + (6 - i) * 10000, (void *)(uintptr_t)i);
  pgd_timerq_set(r.q, 0, t0 + 5000, (void *)0);
  pgd_timerq_set(r.q, 9, t0 + 1000, (void *)9);
  pgd_timerq_remove(r.q, 9);
  /* Time stands still: nothing fires however often the loop turns. */
  for (int i = 0; i < 5; i++) uv_run(&loop, UV_RUN_NOWAIT);
  CU_ASSERT_EQUAL(r.fired, 0);
  uint64_t wall0 = pgd_mono_ns();
  for (int ms = 1; ms <= 60 && pgd_timerq_size(r.q) > 0; ms++) {
    pgd_manual_clock_advance(&r.mc, 1000);
    pgd_timerq_poke(r.q);
    /* an entry set during a dispatch fires on the next loop iteration */
    for (int i = 0; i < 3; i++) uv_run(&loop, UV_RUN_NOWAIT);
  }
  CU_ASSERT_EQUAL(pgd_timerq_size(r.q), 0);
  CU_ASSERT_EQUAL(r.fired, 9);
  CU_ASSERT_EQUAL(r.early, 0);
  int want[9] = {0, 5, 0, 0, 4, 0, 3, 2, 1};
  for (int i = 0; i < 9; i++) {
    CU_ASSERT_EQUAL(r.order[i], want[i]);
    CU_ASSERT_EQUAL(r.lateness[i], 0); /* fired in the step that reached its time */
  }
  /* 60 ms of schedule time took far less than 60 ms of wall time to test */
  CU_ASSERT(pgd_mono_ns() - wall0 < 1000000000ull);
  close_and_drain(&loop, r.q);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

/* Closing from inside on_due stops the dispatch; the loop ends with no handle. */
static void test_close_in_callback(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  run_t r = {0};
  r.close_after = 2;
  CU_ASSERT_EQUAL_FATAL(pgd_timerq_init(&loop, &r.q, on_due, &r), 0);
  int64_t past = pgd_now_us() - 1000;
  for (int i = 1; i <= 10; i++) pgd_timerq_set(r.q, (uint64_t)i, past, (void *)(uintptr_t)i);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT_EQUAL(r.fired, 2);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("sched_timerq", NULL, NULL);
  CU_add_test(s, "heap order with 100,000 entries", test_heap_100k);
  CU_add_test(s, "equal due times pop in set order", test_ties_fifo);
  CU_add_test(s, "fires on a loop, in order, never early", test_loop_fires);
  CU_add_test(s, "close from inside on_due", test_close_in_callback);
  CU_add_test(s, "manual clock: fires when time is advanced, never early", test_manual_clock);
  return pgd_test_run();
}
