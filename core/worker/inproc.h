/* Pagoda — worker: running an in-process executor plugin, in a child
 * process (PGD_INPROC_PROCESS, the daemon's default: inproc_child.h; kill
 * and timeout always work, SIGKILL after the grace) or on its own thread
 * (PGD_INPROC_THREAD, described below).
 *
 * pgd_plugin_run blocks for the whole job, so each in-process attempt gets a
 * dedicated thread (not the libuv thread pool: its 4 threads would be held
 * by long jobs and starve DNS lookups and file work). The plugin's log and
 * set_result calls are queued under a mutex and handed to the loop with a
 * uv_async; a kill or the timeout sets a cancellation flag the plugin polls
 * through is_cancelled. A plugin that never polls it cannot be stopped: the
 * attempt ends only when run returns.
 *
 * Thread rules: functions and callbacks on the loop's thread.
 */
#ifndef PAGODA_WORKER_INPROC_H
#define PAGODA_WORKER_INPROC_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "plugin/registry.h"

typedef struct pgd_inproc pgd_inproc_t;

/* Where a run happens (pgd_inproc_opts_t.isolation, worker.inproc_isolation). */
#define PGD_INPROC_THREAD 0  /* a thread of the worker: cheapest, cannot be
                                stopped if the plugin ignores cancellation */
#define PGD_INPROC_PROCESS 1 /* a child process (inproc_child.h) */

typedef struct pgd_inproc_opts {
  int64_t timeout_ms;    /* > 0: cancel (thread) or kill (process) after that */
  int64_t kill_grace_ms; /* process: SIGTERM..SIGKILL grace of the timeout; <= 0: 5000 */
  int isolation;         /* PGD_INPROC_* */
  const char *helper;    /* process: the pagoda executable (NULL: /proc/self/exe);
                            borrowed for the call */
} pgd_inproc_opts_t;

typedef struct pgd_inproc_result {
  int rc;                  /* pgd_plugin_run's return value (0 = success) */
  const char *error;       /* its message ("" when none); borrowed */
  const char *result_json; /* last set_result text, or NULL; borrowed */
  int timed_out, killed;   /* as in pgd_spawn_result_t */
  uint64_t duration_us;
} pgd_inproc_result_t;

typedef struct pgd_inproc_cbs {
  /* Text the plugin logged, in order, possibly several log calls merged;
   * borrowed for the call. May be NULL. */
  void (*on_output)(pgd_inproc_t *ip, const char *data, size_t len, void *ud);
  /* Once, after the thread was joined and every handle closed; `ip` is freed
   * when it returns. Required. */
  void (*on_exit)(pgd_inproc_t *ip, const pgd_inproc_result_t *r, void *ud);
} pgd_inproc_cbs_t;

/* Starts `plugin` (borrowed; must stay loaded until on_exit) with a copy of
 * `params` (borrowed for the call; NULL = {}) on a new thread. timeout_ms > 0
 * cancels the run after that long and marks it timed_out. `cbs` copied.
 * Returns 0 and *out, or a negative errno with a message in err (no callback
 * then). Same as pgd_inproc_start_ex with isolation PGD_INPROC_THREAD. */
int pgd_inproc_start(uv_loop_t *loop, const pgd_plugin_t *plugin, const cJSON *params,
                     int64_t timeout_ms, const pgd_inproc_cbs_t *cbs, void *ud,
                     pgd_inproc_t **out, char *err, size_t errlen);

/* The same with `opts` (borrowed for the call; NULL = thread, no timeout):
 * with PGD_INPROC_PROCESS the run happens in a child process
 * (inproc_child.h) and the callbacks keep the contract above (on_output gets
 * the child's output; on_exit the result it reported). */
int pgd_inproc_start_ex(uv_loop_t *loop, const pgd_plugin_t *plugin, const cJSON *params,
                        const pgd_inproc_opts_t *opts, const pgd_inproc_cbs_t *cbs, void *ud,
                        pgd_inproc_t **out, char *err, size_t errlen);

/* Asks the run to stop and marks it killed unless the timeout did first:
 * thread: the cancellation flag (grace_ms unused; the run ends when the
 * plugin returns); process: SIGTERM (the child raises the flag), SIGKILL
 * after grace_ms (<= 0: at once). 0, or -ESRCH when it already finished. */
int pgd_inproc_kill(pgd_inproc_t *ip, int64_t grace_ms);

#endif
