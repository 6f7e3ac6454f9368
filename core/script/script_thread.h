/* Pagoda — a script thread: runs one function at a time for the master's
 * loop thread, which waits for it at most a deadline and otherwise gives the
 * thread up (issue 13).
 *
 * Why: the sandbox's limits (sandbox.h) are checked by the count hook and
 * inside the bounded library copies; a C function that loops without
 * either (none is known; this is the guarantee for the ones not known) would
 * hold the loop thread for as long as it runs. On a script thread, the loop
 * waits `timeout_ms` and then carries on; the stuck thread is orphaned: it
 * finishes its function whenever that returns, then calls the `orphan_done`
 * callback (which frees what the call owned: its Lua state) and exits. A
 * new thread is started for the next call.
 *
 * What the function may touch after the deadline is the caller's problem:
 * it must not read memory the loop thread may free once it gave up (the
 * balancers guard such reads with a per-state gate, balancer_lua.c).
 *
 * Threads: every function here is called by one thread (the owner, e.g.
 * the master's loop thread); the function passed to pgd_script_thread_run
 * runs on the script thread. */
#ifndef PAGODA_SCRIPT_SCRIPT_THREAD_H
#define PAGODA_SCRIPT_SCRIPT_THREAD_H

typedef struct pgd_script_thread pgd_script_thread_t;

/* Returned by pgd_script_thread_run when the deadline passed. */
#define PGD_SCRIPT_THREAD_ETIMEDOUT (-110)

typedef void (*pgd_script_thread_fn)(void *ud);

/* Starts a thread that waits for work. Returns 0 and *out (owned by caller:
 * pgd_script_thread_free or pgd_script_thread_orphan), or a negative errno. */
int pgd_script_thread_new(pgd_script_thread_t **out);

/* Runs fn(ud) on the thread and waits until it returns or `timeout_ms`
 * passed (<= 0: no deadline). Returns 0 when fn returned, or
 * PGD_SCRIPT_THREAD_ETIMEDOUT: fn is still running; the caller must then
 * call pgd_script_thread_orphan (and never use `t` again). */
int pgd_script_thread_run(pgd_script_thread_t *t, pgd_script_thread_fn fn, void *ud, long timeout_ms);

/* Gives up a thread whose call timed out: when (if ever) the call returns,
 * the thread calls done(done_ud), frees itself and exits. If the call has
 * returned meanwhile, done(done_ud) is called here and the thread is freed
 * now. `t` is invalid afterwards. */
void pgd_script_thread_orphan(pgd_script_thread_t *t, pgd_script_thread_fn done, void *done_ud);

/* Stops and joins an idle thread (no call in progress) and frees it. NULL
 * is ignored. */
void pgd_script_thread_free(pgd_script_thread_t *t);

#endif
