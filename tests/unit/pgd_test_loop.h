/* Pagoda unit tests — a uv loop that fails a test instead of hanging it.
 * Shared by the connection tests (test_net_conn.c, test_net_conn_local.c):
 * a guard timer (unref'd, so the loop still ends when the test's own handles
 * do) stops the loop and marks the test timed out; the finish runs the loop
 * to its end, tears down what a timed-out test left, and asserts that the
 * loop closes with no handle left. Header-only, for tests; loop thread. */
#ifndef PAGODA_TEST_LOOP_H
#define PAGODA_TEST_LOOP_H

#include <stdint.h>

#include <CUnit/Basic.h>
#include <uv.h>

static void pgd_test_loop_on_guard(uv_timer_t *t) {
  *(int *)t->data = 1;
  uv_stop(t->loop);
}

static void pgd_test_loop_walk_close(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Initialises `loop` and starts `guard`: after `ms` it sets *timed_out = 1
 * and stops the loop. `timed_out` must outlive the loop. */
static inline void pgd_test_loop_init(uv_loop_t *loop, uv_timer_t *guard, int *timed_out,
                                      uint64_t ms) {
  CU_ASSERT_FATAL(uv_loop_init(loop) == 0);
  uv_timer_init(loop, guard);
  guard->data = timed_out;
  uv_timer_start(guard, pgd_test_loop_on_guard, ms, 0);
  uv_unref((uv_handle_t *)guard); /* the loop ends when the test's handles do */
}

/* Runs the loop to the end, then asserts that it did not time out and that
 * it closes cleanly: only the guard may be left, and it is closed here.
 * After a time-out, what is left is torn down so that later tests run. */
static inline void pgd_test_loop_finish(uv_loop_t *loop, uv_timer_t *guard, const int *timed_out) {
  uv_run(loop, UV_RUN_DEFAULT);
  CU_ASSERT_FALSE(*timed_out);
  if (*timed_out) uv_walk(loop, pgd_test_loop_walk_close, NULL);
  else uv_close((uv_handle_t *)guard, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  CU_ASSERT_EQUAL(uv_loop_close(loop), 0);
}

#endif
