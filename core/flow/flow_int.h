/* Pagoda — flow engine internals shared by the files of core/flow. Not installed. */
#ifndef PAGODA_FLOW_FLOW_INT_H
#define PAGODA_FLOW_FLOW_INT_H

#include <uthash.h>

#include "flow/flow.h"
#include "script/sandbox.h"

/* Trigger rules. */
enum { RULE_ALL_SUCCESS, RULE_ALL_DONE, RULE_ONE_SUCCESS, RULE_ONE_FAILED, RULE_COUNT };
extern const char *const flow_rule_names[RULE_COUNT];

/* Node states (X-macro: enum and names never drift apart). */
#define FLOW_NODE_STATES(X)                                                                   \
  X(WAITING, "waiting")                                                                       \
  X(READY, "ready")                                                                           \
  X(RUNNING, "running")                                                                       \
  X(SUCCEEDED, "succeeded")                                                                   \
  X(FAILED, "failed")                                                                         \
  X(KILLED, "killed")                                                                         \
  X(SKIPPED, "skipped")                                                                       \
  X(UPSTREAM_FAILED, "upstream_failed")
#define X_ENUM(e, s) NS_##e,
enum { FLOW_NODE_STATES(X_ENUM) NS_COUNT };
#undef X_ENUM
extern const char *const flow_node_state_names[NS_COUNT];
#define NS_TERMINAL(s) ((s) >= NS_SUCCEEDED)
#define NS_IS_FAILURE(s) ((s) == NS_FAILED || (s) == NS_KILLED || (s) == NS_UPSTREAM_FAILED)

/* Why a node was skipped (persisted as "skip_cause"). */
#define FLOW_SKIP_CAUSES(X)                                                                   \
  X(NONE, "")                                                                                 \
  X(HOOK, "hook")                                                                             \
  X(UPSTREAM_SKIPPED, "upstream_skipped")                                                     \
  X(TRIGGER_RULE, "trigger_rule")                                                             \
  X(FAIL_FAST, "fail_fast")                                                                   \
  X(FLOW_KILLED, "flow_killed")                                                               \
  X(FLOW_FAILED, "flow_failed")
#define X_ENUM(e, s) SC_##e,
enum { FLOW_SKIP_CAUSES(X_ENUM) SC_COUNT };
#undef X_ENUM
extern const char *const flow_skip_cause_names[SC_COUNT];

/* Flow states. */
enum { FS_RUNNING, FS_SUCCEEDED, FS_FAILED, FS_KILLED };
extern const char *const flow_state_names[4];

typedef struct {
  char *id;
  cJSON *job;       /* string (stored job name) or inline object; owned */
  cJSON *params;    /* per-node param overrides (object) or NULL; owned */
  cJSON *overrides; /* {"timeout","retries","labels","balancer"} present ones; owned */
  int rule;
  int *deps, ndeps; /* upstream indices */
  int *down, ndown; /* downstream indices */
} flow_node_def_t;

typedef struct {
  const char *id; /* borrowed from the node */
  int idx;
  UT_hash_handle hh;
} flow_id_t;

struct pgd_flow_def {
  int refs;
  char *name;
  cJSON *json; /* normalised definition */
  cJSON *params; /* defaults, object, owned */
  int fail_fast;
  int max_parallel; /* 0 = unlimited */
  int hooks_error_fail;
  char *hooks_text; /* NULL = no hooks */
  size_t hooks_len;
  char *hooks_chunk;
  pgd_sandbox_t *sb;
  int sb_gen; /* bumped when an abandoned hook call made hooks.c replace sb */
  pgd_flow_checks_t checks;
  char *hooks_dir;
  flow_node_def_t *nodes;
  int n;
  flow_id_t *ids; /* uthash by id */
};

int flow_def_index(const pgd_flow_def_t *def, const char *id);

typedef struct {
  int state;
  int skip_cause;
  int64_t execution_id;
  int attempts;
  int kill_sent;
  int reused;
  char *reason;     /* owned; skip/failure reason */
  char *exec_state; /* owned; the execution's raw final state */
  cJSON *outputs;   /* owned object or NULL */
  int64_t started_at, finished_at;
  int up_done, up_ok, up_fail, up_skip; /* upstream counters */
  pgd_flow_outparse_t *op;
} flow_node_run_t;

struct pgd_flow_run {
  pgd_flow_def_t *def;
  int64_t id, rerun_of, logical_time, created_at, finished_at;
  int state; /* FS_* */
  int killing, failing, started, done;
  char *error; /* owned; why the flow failed beyond its nodes */
  cJSON *params, *vars, *hook_errors; /* owned */
  flow_node_run_t *nodes;
  int *heap, nheap; /* ready nodes, min-heap of indices */
  int *work;        /* propagation stack (n entries) */
  int running;      /* nodes in NS_RUNNING */
  int env_ref;      /* hooks _ENV; FLOW_ENV_NONE, FLOW_ENV_FAILED */
  int env_gen;      /* def->sb_gen env_ref belongs to */
  int hook_mask;    /* which hook functions the script defines */
};

/* run.c */
int flow_run_alloc(pgd_flow_def_t *def, pgd_flow_run_t **out);
void flow_run_set_reason(flow_node_run_t *nr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void flow_run_recount(pgd_flow_run_t *run);

/* subst.c: replaces ${...} in every string of `v` (recursively), in place.
 * Returns 0 or -1 with `err` filled. */
int flow_subst_json(const pgd_flow_run_t *run, cJSON *v, char *err, size_t errlen);
/* Expands one string (owned result via *out). */
int flow_subst_string(const pgd_flow_run_t *run, const char *in, char **out, char *err,
                      size_t errlen);

/* output.c */
int flow_output_add(cJSON *outputs, const char *key, size_t klen, const char *val, size_t vlen);

/* hooks.c */
enum { HOOK_FLOW_START, HOOK_NODE_READY, HOOK_NODE_DONE, HOOK_FLOW_DONE };
int flow_hooks_compile(pgd_flow_def_t *def, char *err, size_t errlen);
/* Loads the hooks for a run (sets run->env_ref). Returns 0 or -1 (recorded). */
int flow_hooks_load(pgd_flow_run_t *run);
void flow_hooks_unload(pgd_flow_run_t *run);
/* Calls a hook. For HOOK_NODE_READY: *decision = 0 run, 1 skip, and
 * *params_out an object to merge (owned by caller) or NULL; `params` is the
 * node's resolved params. For HOOK_NODE_DONE `result` is the result object.
 * Returns 0 (also when the hook is absent) or -1 when it failed (recorded in
 * run->hook_errors; `err` filled). */
int flow_hooks_call(pgd_flow_run_t *run, int hook, int node, const cJSON *params,
                    const cJSON *result, int *decision, cJSON **params_out, char *reason,
                    size_t reasonlen, char *err, size_t errlen);

#define FLOW_ENV_NONE (-2)   /* LUA_NOREF: no hooks */
#define FLOW_ENV_FAILED (-3) /* hooks failed to load for this run */

char *flow_strdup(const char *s);

#endif
