/* Pagoda — worker: an in-process executor's run in a child process.
 *
 * A plugin's run() on a worker thread can only be asked to stop (the
 * cancellation flag); one stuck in C code, or one that never polls the flag,
 * cannot be stopped and pins the worker. Here the run happens in a child:
 * the pagoda executable itself (PGD_INPROC_CHILD_ARG mode, core/cli/
 * inproc_main.c), started through the worker's process spawner (spawn.h),
 * so the attempt is contained, killed and timed out exactly like a process
 * job: SIGTERM to its group (the child turns it into the cancellation flag,
 * so a cooperating run still ends cleanly), SIGKILL after the grace.
 *
 * Protocol with the child (argv: helper PGD_INPROC_CHILD_ARG PLUGIN_FILE
 * TYPE PARAMS_FILE RESULT_FILE): the params JSON is written to PARAMS_FILE
 * in a private temporary directory (mode 0700); the child's stdout and
 * stderr are the job's output (what the plugin logs, unchanged); when run()
 * returns, the child writes {"rc":N,"error":"...","result":"..."|null} to
 * RESULT_FILE and exits (0 when rc == 0). A child that ends without a
 * result (killed, crashed) is reported failed with its exit status. The
 * directory is removed when the attempt ends.
 *
 * Thread rules: loop thread only, like spawn.h; the callbacks run there.
 */
#ifndef PAGODA_WORKER_INPROC_CHILD_H
#define PAGODA_WORKER_INPROC_CHILD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "plugin/registry.h"

/* argv[1] of the helper process (a hidden command of the pagoda binary). */
#define PGD_INPROC_CHILD_ARG "__inproc-run"

typedef struct pgd_inproc_child pgd_inproc_child_t;

/* What the child run produced, handed to on_exit (borrowed for the call). */
typedef struct pgd_inproc_child_result {
  int rc;                  /* run()'s return value; -1 when the child ended
                              without writing a result */
  const char *error;       /* "" when none */
  const char *result_json; /* last set_result text, or NULL */
  int timed_out, killed;
  uint64_t duration_us;
} pgd_inproc_child_result_t;

typedef struct pgd_inproc_child_cbs {
  void (*on_output)(void *ud, const char *data, size_t len); /* nullable */
  void (*on_exit)(void *ud, const pgd_inproc_child_result_t *r); /* required; the
                             child object is freed when it returns */
} pgd_inproc_child_cbs_t;

/* Starts `plugin`'s run with `params` (borrowed for the call; NULL = {}) in
 * a child. `helper` is the pagoda executable (NULL: /proc/self/exe).
 * timeout_ms > 0: killed after that long and marked timed_out; the grace
 * between SIGTERM and SIGKILL is kill_grace_ms (<= 0: 5000). Returns 0 and
 * *out, or a negative errno with a message in err (no callback then). */
int pgd_inproc_child_start(uv_loop_t *loop, const pgd_plugin_t *plugin, const cJSON *params,
                           const char *helper, int64_t timeout_ms, int64_t kill_grace_ms,
                           const pgd_inproc_child_cbs_t *cbs, void *ud,
                           pgd_inproc_child_t **out, char *err, size_t errlen);

/* The helper to use when none is configured: `pagoda-inproc` in the
 * directory of the running executable when it is there and executable (the
 * same mode with fewer libraries to load), else the running executable
 * itself (/proc/self/exe, as `pagoda __inproc-run`). Written into buf
 * (NUL-terminated). 0, or -ENAMETOOLONG / -errno of readlink. */
int pgd_inproc_child_default_helper(char *buf, size_t len);

/* SIGTERM to the child's group, SIGKILL after grace_ms (<= 0: at once);
 * marks the run killed unless the timeout fired first. 0, or -ESRCH when
 * it already ended. */
int pgd_inproc_child_kill(pgd_inproc_child_t *c, int64_t grace_ms);

#endif
