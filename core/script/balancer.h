/* Pagoda — Lua balancers: scripts that choose the worker of each job.
 *
 * A balancer is conf/balancers/NAME.lua defining
 *
 *     function pick(job, workers, state) ... return worker_id_or_nil, reason end
 *
 * (contract, sandbox limits and the shipped balancers: docs/balancers.md).
 * Each script runs in its own sandbox (script/sandbox.h), so one broken script
 * cannot disturb another. The built-in C least-loaded (pgd_bal_least_loaded)
 * is both the fallback on any script problem and the balancer used for the
 * name "least_loaded" when no least_loaded.lua exists.
 *
 * Threads: every function here runs on one thread, the master's loop thread
 * (the loop passed to pgd_balancers_open when there is one); the scripts
 * themselves run on a script thread while that thread waits (see
 * pgd_balancers_set_script_thread).
 * Added in 0.2 (issue 5).
 */
#ifndef PAGODA_SCRIPT_BALANCER_H
#define PAGODA_SCRIPT_BALANCER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

typedef struct pgd_balancers pgd_balancers_t;

/* A candidate worker: it already passed the hard filters (alive, not
 * draining, job type, labels, free slots). All pointers borrowed for the
 * pick call. `labels` is the worker's label array (e.g. ["etl","ssd"]), NULL
 * = none. */
typedef struct pgd_bal_worker {
  const char *id;
  const char *host;
  const cJSON *labels;
  int slots;       /* total */
  int slots_free;
  int running;     /* executions running now */
  double load1;    /* 1-minute load average */
  long mem_free_mb;
} pgd_bal_worker_t;

/* The job being placed. All pointers borrowed for the pick call; NULL fields
 * reach the script as nil. `previous_workers` is an array of worker ids its
 * earlier attempts ran on (oldest first). */
typedef struct pgd_bal_job {
  const char *name;
  const char *type;
  const cJSON *params;
  const cJSON *labels;
  const cJSON *balancer_args;
  int slots;
  int priority;
  int attempt;     /* 1 for the first attempt */
  const cJSON *previous_workers;
} pgd_bal_job_t;

/* Name of the built-in C balancer (and of the usual cluster default). */
#define PGD_BAL_BUILTIN "least_loaded"

/* Opens the balancers of `dir` (borrowed; copied): compiles every NAME.lua
 * (NAME of letters, digits, '_' and '-'). A script that fails to compile is
 * listed with its error and not used; that is not a failure of open. With a
 * `loop` (borrowed; must outlive the handle, see close) the directory is
 * watched with uv_fs_event and rescanned 100 ms after a change; NULL = no
 * watch (reload by pgd_balancers_reload, e.g. on SIGHUP or the REST call).
 * `default_name` (copied; NULL or "" = "least_loaded") is the balancer of
 * jobs that name none. A missing `dir` is not an error (only the built-in).
 * Returns 0 and *out (owned by caller: pgd_balancers_close), or a negative
 * errno with `err` filled (out of memory, watch failure). */
int pgd_balancers_open(uv_loop_t *loop, const char *dir, const char *default_name,
                       pgd_balancers_t **out, char *err, size_t errlen);

/* Sets the limits of each call of every balancer, loaded or loaded later
 * (0 or less = the sandbox defaults: 1,000,000 instructions, 8 MiB). */
void pgd_balancers_set_limits(pgd_balancers_t *b, long instructions, size_t call_mem_cap);

/* Whether picks run on the balancers' script thread (on = 1, the default:
 * the caller waits at most the sandbox's time limit + 250 ms, then abandons
 * the call and falls back) or on the calling thread (0: two thread
 * hand-offs cheaper per pick, but a pick stuck in a C function would hold
 * the caller). docs/balancers.md. */
void pgd_balancers_set_script_thread(pgd_balancers_t *b, int on);

/* Stops the watch and frees everything. With a loop, the memory is released
 * from the close callbacks of the watch handles: run the loop once more
 * (uv_run(loop, UV_RUN_NOWAIT) is enough) before uv_loop_close. Without a
 * loop it frees at once. NULL is ignored. */
void pgd_balancers_close(pgd_balancers_t *b);

/* Rescans the directory: new and changed files (by content) are compiled; a
 * changed file that fails to compile is refused: its error is recorded and
 * logged and the previous version stays in use, state table included. A
 * successfully recompiled script starts with a fresh state table. Unchanged
 * files are kept with their state; removed files are dropped. Returns the
 * number of scripts refused by this scan (0 = all good), or a negative errno
 * when the directory cannot be read (nothing changed then). */
int pgd_balancers_reload(pgd_balancers_t *b);

/* Picks among the `n` candidates `cands` (borrowed). `name` NULL or "" = the
 * default balancer. `cands_generation` must change whenever a worker's
 * id/host/labels change or a worker joins or leaves (it lets the script side
 * keep its per-candidate objects and label tables). The same generation may
 * be passed for a list that is a filtered subset of the same workers (e.g. a
 * worker without a free slot left out): cached ids and label tables are also
 * keyed by the candidate's `id` and `labels` pointers, which must then stay
 * the same pointers for a given worker. The dynamic fields (slots_free,
 * running, load1, mem_free_mb) are read fresh on every call.
 *
 * Returns the index (0..n-1) of the chosen candidate, or -1 to keep the job
 * pending with `reason` filled (the script returned nil; also when n == 0).
 * It never fails otherwise: when the balancer is missing, fails to compile,
 * raises, exceeds its budget or memory cap, or returns something that is not
 * a candidate's id, the built-in least-loaded decides and `error` is filled
 * with what went wrong (empty when all went well); the error is also logged
 * and recorded for pgd_balancers_to_json. `reason` and `error` may be NULL. */
int pgd_balancers_pick(pgd_balancers_t *b, const char *name, const pgd_bal_job_t *job,
                       const pgd_bal_worker_t *cands, size_t n, uint64_t cands_generation,
                       char *reason, size_t reasonlen, char *error, size_t errorlen);

/* The built-in balancer: the candidate with the most free slots, then the
 * lowest load1, then the fewest running, then the first. Returns its index,
 * or -1 when n == 0. Pure function, any thread. */
int pgd_bal_least_loaded(const pgd_bal_worker_t *cands, size_t n);

/* The built-in rule (what decides when no script does): a retry or a
 * relaunch goes to a candidate not in job->previous_workers when there is
 * one; among those (or among all when every candidate was tried) the
 * pgd_bal_least_loaded order. `job` may be NULL. -1 when n == 0. Pure
 * function, any thread. */
int pgd_bal_builtin_pick(const pgd_bal_job_t *job, const pgd_bal_worker_t *cands, size_t n);

/* Whether `name` names a usable balancer (a loaded script or the built-in). */
int pgd_balancers_exists(const pgd_balancers_t *b, const char *name);

/* The balancers as a JSON array (owned by caller), sorted by name:
 * [{"name","file","loaded","builtin","default","last_error","last_error_at",
 *   "calls","errors"}]. last_error is null when there is none; last_error_at is
 * microseconds since the epoch (0 = never). `loaded` is false for a script
 * that never compiled (it falls back to the built-in). */
cJSON *pgd_balancers_to_json(const pgd_balancers_t *b);

#endif
