/* Pagoda — the timer queue of schedules: a binary min-heap of (due time,
 * key) entries driven by ONE uv_timer, so 100,000 schedules cost no thread
 * and no timer each.
 *
 * Each entry has a caller-chosen 64-bit key (a schedule id), a due time in
 * microseconds since the Unix epoch (wall clock, UTC) and an opaque item
 * pointer. When entries fall due, the queue removes each one and calls
 * on_due(item_ud, due_us, q_ud) in (due time, insertion) order; the callback
 * may set or remove any entry, including re-inserting the one it was given.
 * An entry never fires before its due time. The uv_timer sleeps at most
 * PGD_TIMERQ_MAX_SLEEP_MS, so a step of the wall clock is noticed within that
 * time. Entries set during a dispatch with a due time already past fire on the
 * next loop iteration, so a callback cannot starve the loop.
 *
 * The wall clock is the system clock unless the queue is handed another one
 * (pgd_timerq_set_clock): a test drives it with a pgd_manual_clock_t and
 * pgd_timerq_poke instead of sleeping (tests/unit/test_sched_timerq.c).
 *
 * Ownership: item pointers are borrowed (the queue never frees or reads them).
 * Thread rules: loop-thread only (the thread running `loop`).
 * Added in Pagoda 0.1.0.
 */
#ifndef PAGODA_SCHED_TIMERQ_H
#define PAGODA_SCHED_TIMERQ_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/clock.h"

#define PGD_TIMERQ_MAX_SLEEP_MS 1000

typedef struct pgd_timerq pgd_timerq_t;

typedef void (*pgd_timerq_due_cb)(void *item_ud, int64_t due_us, void *q_ud);

/* Creates a queue on `loop` (borrowed; must outlive the queue). Returns 0
 * and *out (owned by the caller: release with pgd_timerq_close), or -ENOMEM /
 * a libuv error. */
int pgd_timerq_init(uv_loop_t *loop, pgd_timerq_t **out, pgd_timerq_due_cb on_due, void *q_ud);

/* Inserts `key` or moves it to a new due time and item. Returns 0, -ENOMEM, or
 * -EINVAL (due_us < 0). */
int pgd_timerq_set(pgd_timerq_t *q, uint64_t key, int64_t due_us, void *item_ud);

/* Removes `key`: 0, or -ENOENT if it is not queued. */
int pgd_timerq_remove(pgd_timerq_t *q, uint64_t key);

/* 1 and *due_us / *item_ud (each may be NULL) if `key` is queued, else 0. */
int pgd_timerq_get(const pgd_timerq_t *q, uint64_t key, int64_t *due_us, void **item_ud);

size_t pgd_timerq_size(const pgd_timerq_t *q);

/* The earliest due time, or -1 when empty. */
int64_t pgd_timerq_peek(const pgd_timerq_t *q);

/* Removes the earliest entry if it is due at or before `now_us`: returns 1
 * and fills the outputs (each may be NULL), else 0. The dispatcher uses it;
 * exposed for tests and for callers that drive the queue by hand. */
int pgd_timerq_pop(pgd_timerq_t *q, int64_t now_us, uint64_t *key, int64_t *due_us,
                   void **item_ud);

/* Makes the queue read time from `clock` (borrowed: it must outlive the
 * queue; NULL = the system clock, the default) and re-arms the timer. */
void pgd_timerq_set_clock(pgd_timerq_t *q, const pgd_clock_t *clock);

/* Re-reads the clock and re-arms the timer: call it after moving the clock
 * handed to pgd_timerq_set_clock, so that the entries now due fire on the
 * next loop iteration (uv_run) rather than after the sleep armed for the old
 * time. Not needed with the system clock. */
void pgd_timerq_poke(pgd_timerq_t *q);

/* Stops the timer, drops every entry (without calling on_due) and frees the
 * queue once libuv has closed its handle; then calls closed(arg) if not NULL.
 * q must not be used after this call. */
void pgd_timerq_close(pgd_timerq_t *q, void (*closed)(void *arg), void *arg);

#endif
