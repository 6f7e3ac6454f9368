/* Pagoda — the flow engine (core/flow): DAG definitions, their validation,
 * and the state machine of one flow execution.
 *
 * The engine does no I/O and keeps no clock of its own beyond stamping
 * times: the master drives it.
 *
 *     def = parse(json)                          once per stored flow
 *     run = pgd_flow_run_new(def, id, ...)       POST /flows/{name}/run
 *     loop:
 *       n = pgd_flow_run_next(run, actions, N)   what to do now
 *         START_NODE  -> create an execution of actions[i].job (owned by you)
 *                        then pgd_flow_run_node_started(run, node, exec_id)
 *         KILL_NODE   -> kill that node's execution (it will report killed)
 *         FLOW_DONE   -> the flow execution is finished (state in run)
 *       store pgd_flow_run_state(run)
 *       on log chunks of a node's stdout: pgd_flow_run_node_output
 *       on a node's end:                  pgd_flow_run_node_finished, loop
 *
 * Everything else (definition format, trigger rules, variables, hooks,
 * re-runs): docs/flows.md.
 *
 * Threads: a definition and the runs that use it are used by one thread at a
 * time (the master's loop thread): the hooks of all runs of a definition
 * share that definition's Lua sandbox. Different definitions are independent.
 * Added in 0.3 (issue 6).
 */
#ifndef PAGODA_FLOW_FLOW_H
#define PAGODA_FLOW_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Error codes (negative). */
#define PGD_FLOW_EINVAL (-22)  /* bad definition, state or request (message filled) */
#define PGD_FLOW_ENOMEM (-12)
#define PGD_FLOW_ENOENT (-2)   /* unknown node id */
#define PGD_FLOW_ESTATE (-16)  /* the node or run is not in a state that allows this */

/* Limits. */
#define PGD_FLOW_MAX_NODES 10000
#define PGD_FLOW_ID_MAX 64          /* node id: 1-64 chars of A-Z a-z 0-9 _ - */
#define PGD_FLOW_NAME_MAX 128       /* flow name: 1-128 chars of A-Z a-z 0-9 _ - . */
#define PGD_FLOW_HOOKS_MAX (1u << 20)  /* a hooks script: 1 MiB */
#define PGD_FLOW_OUTPUT_LINE_MAX 4096  /* longer ::output lines are dropped */
#define PGD_FLOW_OUTPUT_KEY_MAX 64
#define PGD_FLOW_OUTPUTS_MAX 64        /* distinct keys per node */
#define PGD_FLOW_OUTPUTS_BYTES 65536   /* keys + values per node */
#define PGD_FLOW_HOOK_ERRORS_MAX 50    /* hook errors kept per flow execution */

/* ---- definitions --------------------------------------------------------- */

typedef struct pgd_flow_def pgd_flow_def_t;

/* What the master provides. Every member is optional (NULL / 0). The struct
 * is copied by pgd_flow_def_parse; `ud` must outlive the definition and
 * every run of it. The callbacks run on the calling thread. */
typedef struct pgd_flow_checks {
  void *ud;
  /* Validates one node's job at parse time: `job_or_name` is a JSON string
   * (a stored job's name) or an inline job object; `overrides` is an object
   * with the node's "params", "timeout", "retries", "labels", "balancer"
   * when given (params may still contain ${...} placeholders). Returns 0, or
   * non-zero with `err` filled (shown as "node 'ID': <err>"). Borrowed args. */
  int (*check_job)(void *ud, const cJSON *job_or_name, const cJSON *overrides, char *err,
                   size_t errlen);
  /* Returns the stored job named `name` (borrowed; the engine copies it at
   * once), or NULL when there is none. Called when a node is dispatched, so
   * the node runs the job as stored at that moment. */
  const cJSON *(*lookup_job)(void *ud, const char *name);
  /* Directory of hooks files for `"hooks": {"file": "x.lua"}` (copied;
   * NULL = "conf/hooks"). The file is read at parse time. */
  const char *hooks_dir;
  /* Limits of each hook call (0 = sandbox defaults: 1,000,000 instructions,
   * 8 MiB per call, 64 MiB per state). */
  long hook_instructions;
  size_t hook_call_mem;
  size_t hook_state_mem;
} pgd_flow_checks_t;

/* Parses and validates a flow definition `json` (borrowed). On success
 * returns 0 and *out (owned by caller: pgd_flow_def_free; one reference).
 * On failure returns PGD_FLOW_EINVAL (or ENOMEM) with `err` filled, e.g.
 * "cycle: a -> b -> c -> a", and *out untouched. `checks` may be NULL. */
int pgd_flow_def_parse(const cJSON *json, const pgd_flow_checks_t *checks, pgd_flow_def_t **out,
                       char *err, size_t errlen);

/* The normalised definition (defaults filled in) as new JSON, owned by the
 * caller: what to store and show. Parsing it again gives the same flow. */
cJSON *pgd_flow_def_json(const pgd_flow_def_t *def);

/* The flow's name (borrowed, valid while the definition lives). */
const char *pgd_flow_def_name(const pgd_flow_def_t *def);

/* Number of nodes. */
int pgd_flow_def_node_count(const pgd_flow_def_t *def);

/* Takes another reference (runs do this). Returns def. */
pgd_flow_def_t *pgd_flow_def_ref(pgd_flow_def_t *def);

/* Drops a reference; the last one frees. NULL is ignored. */
void pgd_flow_def_free(pgd_flow_def_t *def);

/* ---- one flow execution -------------------------------------------------- */

typedef struct pgd_flow_run pgd_flow_run_t;

typedef enum {
  PGD_FLOW_START_NODE = 1, /* node_id, job (owned by the caller) */
  PGD_FLOW_KILL_NODE = 2,  /* node_id, execution_id */
  PGD_FLOW_FLOW_DONE = 3,  /* state: "succeeded" | "failed" | "killed" */
} pgd_flow_action_kind_t;

typedef struct pgd_flow_action {
  int kind;
  const char *node_id;  /* borrowed from the definition; NULL for FLOW_DONE */
  int64_t execution_id; /* KILL_NODE: the node's execution (0 if not yet known) */
  cJSON *job;           /* START_NODE: resolved job, params substituted; owned by caller */
  const char *state;    /* FLOW_DONE: final state (static string) */
} pgd_flow_action_t;

/* Creates flow execution `id` of `def` (a reference is taken). Params are the
 * definition's defaults with `param_overrides` (borrowed, object or NULL)
 * replacing keys. `logical_time_us` (µs since the epoch; 0 = now) is the
 * time ${date} and friends derive from. No hook runs here: on_flow_start runs
 * in the first pgd_flow_run_next. Returns 0 and *out (owned by caller:
 * pgd_flow_run_free) or a negative code with `err` filled. */
int pgd_flow_run_new(pgd_flow_def_t *def, int64_t id, const cJSON *param_overrides,
                     int64_t logical_time_us, pgd_flow_run_t **out, char *err, size_t errlen);

/* Rebuilds a run from `state` (borrowed; a pgd_flow_run_state document) of
 * the same definition (node ids must match). Finished nodes stay finished
 * and keep their outputs; running nodes with an execution id stay running
 * (the master reports their end as usual); a node that was handed out by
 * START_NODE but has no execution id yet is made ready again. Returns 0 and
 * *out (owned by caller) or PGD_FLOW_EINVAL with `err` filled. */
int pgd_flow_run_restore(pgd_flow_def_t *def, const cJSON *state, pgd_flow_run_t **out, char *err,
                         size_t errlen);

/* Frees the run (drops its definition reference). NULL is ignored. */
void pgd_flow_run_free(pgd_flow_run_t *run);

/* The run's state as new JSON (owned by caller): to store after each step and
 * to show. Shape in docs/flows.md. */
cJSON *pgd_flow_run_state(const pgd_flow_run_t *run);

/* One node's entry of the state (owned by caller), or NULL for an unknown id:
 * for storing per-node deltas. */
cJSON *pgd_flow_run_node_state(const pgd_flow_run_t *run, const char *node_id);

/* The flow execution's id, its state ("running", "succeeded", "failed",
 * "killed"; static string) and whether FLOW_DONE was handed out. */
int64_t pgd_flow_run_id(const pgd_flow_run_t *run);
const char *pgd_flow_run_state_name(const pgd_flow_run_t *run);
int pgd_flow_run_done(const pgd_flow_run_t *run);

/* The state name of one node ("waiting", "ready", "running", "succeeded",
 * "failed", "killed", "skipped", "upstream_failed"; static), or NULL. */
const char *pgd_flow_run_node_state_name(const pgd_flow_run_t *run, const char *node_id);

/* The driver: fills up to `max` actions and returns how many. Call it after
 * creating or restoring a run and after every event (node_finished, kill);
 * when it returns `max`, call it again (more may be due). It runs hooks
 * (on_flow_start once, on_node_ready before each start, on_flow_done once),
 * resolves and substitutes each started node's job, and respects
 * max_parallel. A node whose job cannot be resolved (unknown job, unknown
 * variable) fails at once without an action. Each START_NODE's `job` must be
 * freed by the caller (cJSON_Delete). Nodes are started in definition order
 * among those ready, so a restored run hands out the same actions. */
int pgd_flow_run_next(pgd_flow_run_t *run, pgd_flow_action_t *actions, int max);

/* Records the execution created for a started node. Returns 0, or ENOENT /
 * ESTATE (the node is not running). */
int pgd_flow_run_node_started(pgd_flow_run_t *run, const char *node_id, int64_t execution_id);

/* Feeds `len` bytes of the node's stdout (borrowed; chunks may split lines
 * anywhere). `::output KEY=VALUE` lines set outputs. Ignored when the node is
 * not running. */
void pgd_flow_run_node_output(pgd_flow_run_t *run, const char *node_id, const char *chunk,
                              size_t len);

/* Reports the end of a node's execution. `state` is the execution's final
 * state: "succeeded"; "killed"; anything else ("failed", "timed_out", "lost")
 * makes the node failed. `result` (borrowed, nullable) is a lua job's result:
 * its outputs are taken (see pgd_flow_outputs_from_result). Runs the
 * on_node_done hook. Returns 0, or ENOENT / ESTATE (not running: ignored). */
int pgd_flow_run_node_finished(pgd_flow_run_t *run, const char *node_id, const char *state,
                               const cJSON *result);

/* Kills the flow execution: nodes not started are skipped ("flow killed"),
 * running nodes get KILL_NODE actions from the next pgd_flow_run_next, and
 * the flow ends "killed" once they reported. Returns the number of running
 * nodes, or ESTATE when the flow is already finished. */
int pgd_flow_run_kill(pgd_flow_run_t *run);

/* A new flow execution `new_id` re-running part of the finished run
 * `finished` (borrowed; same definition). `request` (borrowed):
 *   {"from_failed": true}  the failed, killed, upstream_failed nodes and those
 *                          skipped by fail_fast or a kill, plus everything
 *                          downstream of them;
 *   {"nodes": ["a", ...]}  these nodes and everything downstream of them;
 *   optional "params": {...} replacing keys of the original params.
 * Other nodes keep their state, execution id and outputs ("reused": true).
 * Vars and the logical time are carried over; "rerun_of" names the original.
 * Returns 0 and *out (owned by caller) or EINVAL/ESTATE with `err` filled. */
int pgd_flow_run_rerun(const pgd_flow_run_t *finished, int64_t new_id, const cJSON *request,
                       pgd_flow_run_t **out, char *err, size_t errlen);

/* ---- outputs -------------------------------------------------------------- */

/* A streaming parser of `::output KEY=VALUE` lines (one per node). */
typedef struct pgd_flow_outparse pgd_flow_outparse_t;

/* New parser (owned by caller: pgd_flow_outparse_free), or NULL (no memory). */
pgd_flow_outparse_t *pgd_flow_outparse_new(void);
void pgd_flow_outparse_free(pgd_flow_outparse_t *p);

/* Feeds bytes (borrowed). Lines: "::output KEY=VALUE" at the start of a line,
 * KEY of 1-64 chars A-Z a-z 0-9 _ - ., VALUE the rest of the line (a trailing
 * \r is dropped). Other lines are ignored. Lines longer than
 * PGD_FLOW_OUTPUT_LINE_MAX are dropped whole; beyond PGD_FLOW_OUTPUTS_MAX
 * keys or PGD_FLOW_OUTPUTS_BYTES bytes further new keys are dropped. A later
 * line replaces an earlier value of the same key. */
void pgd_flow_outparse_feed(pgd_flow_outparse_t *p, const char *data, size_t len);

/* Parses a last line left without a newline. */
void pgd_flow_outparse_finish(pgd_flow_outparse_t *p);

/* The outputs so far: an object of strings (borrowed, valid until the next
 * feed/finish/free). */
const cJSON *pgd_flow_outparse_outputs(const pgd_flow_outparse_t *p);

/* Outputs of a lua job's result (borrowed): its "outputs" object when it has
 * one, else the result object itself. Values become strings (numbers and
 * booleans as text, objects and arrays as compact JSON); the same key and
 * size limits apply. Returns a new object (owned by caller), empty when the
 * result is not an object. */
cJSON *pgd_flow_outputs_from_result(const cJSON *result);

/* ---- dates ---------------------------------------------------------------- */

/* Expands a date variable body — "date", "datetime", "date:-1d",
 * "date:-1m:%Y%m%d", ... (syntax in docs/flows.md) — for `logical_time_us`
 * (UTC). Returns 0 with `buf` filled, or EINVAL with `err` filled; returns
 * PGD_FLOW_ENOENT when `body` is not a date variable at all. */
int pgd_flow_date_expand(int64_t logical_time_us, const char *body, char *buf, size_t buflen,
                         char *err, size_t errlen);

#endif
