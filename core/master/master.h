/* Pagoda — the master: stores jobs and executions, dispatches executions to
 * workers over the framed RPC and records their state changes and logs.
 *
 * This header is the master's service interface. The REST layer (core/api)
 * and the daemon (core/cli) call only what is declared here; the master
 * knows nothing of HTTP. Results are plain data (cJSON documents owned by
 * the caller) and negative errno-style codes:
 *   -ENOENT     the named thing does not exist
 *   -EINVAL     the input is invalid (message in err)
 *   -EALREADY   already finished (kill of a final execution)
 *   -EBUSY      still running / in a state that forbids the change
 *   -ESHUTDOWN  the master is stopping (or not leading flows yet)
 *   -EIO        a stored file is missing or damaged
 * Writes are asynchronous: a function taking a pgd_master_done_cb returns 0
 * when it accepted the change and then calls done(ud, status) exactly once
 * (status 0 once durable in the store, negative when the store refused it;
 * possibly before it returns when the store refuses at once). When it
 * returns a negative code, done is never called.
 *
 * Thread rules: every function here runs on the loop thread that started the
 * master, and every callback is called there. The store's writer thread is
 * the only other thread involved, and it hands its completions back to this
 * loop. Nothing here is thread-safe.
 */
#ifndef PAGODA_MASTER_MASTER_H
#define PAGODA_MASTER_MASTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include <cjson/cJSON.h>

#include "common/exec_state.h"
#include "plugin/registry.h"

typedef struct pgd_master_config {
  const char *data_dir;   /* holds pagoda.db and logs/; created if missing */
  const char *store_postgres; /* libpq conninfo: use PostgreSQL instead of SQLite; nullable */
  const char *http_host;  /* where the REST API is served (the API layer binds it); told
                             to workers (resource downloads) and to ZooKeeper */
  int http_port;          /* the REST API's bound port (0 = none announced) */
  int http_tls;           /* 1 = the REST API is HTTPS: announced as "https://host:port" */
  const char *resource_token; /* told to workers in welcome: the bearer token the API
                                 accepts for resource downloads (nullable; copied) */
  const char *rpc_host;   /* worker RPC address */
  int rpc_port;           /* 0 = any free port */
  const char *secret;     /* cluster secret both sides prove in the handshake ("" = none,
                             refused unless rpc_host is a loopback address) */
  const char *rpc_tls_cert;      /* PEM certificate chain: RPC over TLS; nullable = plain TCP */
  const char *rpc_tls_key;       /* its PEM private key (required with rpc_tls_cert) */
  const char *rpc_tls_client_ca; /* nullable: require worker certificates signed by it (mTLS) */
  int heartbeat_ms;       /* interval announced to workers */
  int lost_after_missed;  /* a worker is lost after this many missed heartbeats */
  int kill_grace_ms;      /* SIGTERM → SIGKILL grace announced with a kill */
  int recovery_grace_ms;  /* after a start, how long workers have to claim running executions */
  int rpc_hello_timeout_ms; /* an RPC connection that has not said hello by then is closed */
  int upload_max_concurrent;          /* streamed resource uploads at once (default 4) */
  long long upload_max_inflight_bytes; /* their announced sizes together (default 1 GiB) */
  const char *ha_zookeeper;     /* "host:port,..." = high availability with ZooKeeper; nullable */
  const char *ha_cluster;       /* cluster name: /pagoda/<cluster>/... (default "default") */
  int ha_session_ms;            /* ZooKeeper session timeout (default 10000) */
  const char *balancer_dir;     /* balancer scripts (NAME.lua); nullable = none but the built-in */
  const char *balancer_default; /* balancer of jobs that name none (default "least_loaded") */
  long balancer_instructions;   /* per call; 0 = the sandbox default */
  long balancer_call_memory;    /* bytes per call; 0 = the sandbox default */
  int balancer_inline;          /* 1 = picks on the loop thread, no script thread (docs/balancers.md) */
  /* retention (docs/operations.md "Retention"; master/storage.h) */
  int retention_days;           /* executions older than this are deleted (0 = kept) */
  int retention_keep_last;      /* only the newest N final ones per job are kept (0 = all) */
  int retention_interval_ms;    /* one cleanup batch per interval (default 1000) */
  int retention_batch;          /* executions looked at per batch (default 500) */
  int retention_resource_versions; /* versions kept per resource beside the ones jobs name (0 = all) */
  long long log_max_pending_bytes; /* shared-store logs: bytes waiting for the store (default 64 MiB) */
  const struct pgd_clock *clock; /* the wall clock schedules decide by (common/clock.h; borrowed,
                                    outlives the master; NULL = the system clock): tests only */
  int store_group_window_us;    /* how long the store may hold background writes (store.h,
                                   pgd_store_set_group_window); 0 = none, -1 = its default */
} pgd_master_config_t;

typedef struct pgd_master pgd_master_t;

/* ---- lifecycle ----------------------------------------------------------- */

/* Fills `cfg` with the defaults (every pointer field NULL or a static string). */
void pgd_master_config_defaults(pgd_master_config_t *cfg);

/* Opens the store in cfg->data_dir, recovers unfinished executions and starts
 * the RPC listener. `plugins` is borrowed and must outlive the master.
 * Returns 0 and sets *out, or a negative code with a message in err. */
int pgd_master_start(uv_loop_t *loop, const pgd_master_config_t *cfg, pgd_registry_t *plugins,
                     pgd_master_t **out, char *err, size_t errlen);

/* The RPC port actually bound (useful when 0 was asked for). */
int pgd_master_rpc_port(const pgd_master_t *m);

struct pgd_conn;
struct pgd_conn_cbs;
/* A worker of this same process (`pagoda dev`) connects here instead of to
 * the RPC port: a Unix-domain socketpair accepted like a TCP connection
 * (net/conn.h pgd_listener_connect_local: same frames, handshake, secret
 * proofs, deadlines and heartbeats; never TLS). The contract of
 * pgd_conn_connect (it fits pgd_worker_config_t.dial_local). Loop thread
 * only. 0, or UV_ECONNREFUSED when the master is stopping, or another
 * negative uv error. */
int pgd_master_connect_local(pgd_master_t *m, const struct pgd_conn_cbs *cbs, void *ud,
                             struct pgd_conn **out);

/* Rescans the balancer scripts (SIGHUP, POST /api/v1/balancers/reload);
 * returns the number refused. */
int pgd_master_reload_balancers(pgd_master_t *m);

/* Stops accepting work, flushes the store, closes every connection and
 * handle, frees the master, then calls on_stopped(ud) from the loop. */
void pgd_master_stop(pgd_master_t *m, void (*on_stopped)(void *ud), void *ud);

/* ---- state --------------------------------------------------------------- */

/* A change was accepted: status 0 once durable, negative when the store
 * refused it. Called exactly once (see the top of this file). */
typedef void (*pgd_master_done_cb)(void *ud, int status);

bool pgd_master_is_leader(const pgd_master_t *m);
bool pgd_master_is_stopping(const pgd_master_t *m);
/* The leader's REST address ("http://host:port", borrowed until the next
 * leader change), or NULL when unknown. Meaningful on a standby. */
const char *pgd_master_leader_http(const pgd_master_t *m);
/* {status: "ok" or "degraded" (the store cannot write), reason (only when
 * degraded: why), version, role, store, epoch, rpc_port, uptime_s}; caller owns. */
cJSON *pgd_master_health(const pgd_master_t *m);

/* True when `status` (a done callback's negative -errno) says the store
 * could not write for a reason outside the request (disk full, I/O error,
 * lost database: store.h pgd_store_error_is_resource), which the API
 * answers 503 (retry later) rather than 500. Pure. */
bool pgd_master_error_is_unavailable(int status);

/* The master's store (borrowed; open from pgd_master_start until the master
 * has stopped). For the API's token and audit records (docs/security.md),
 * which live beside the master's records. Loop thread for writes. */
struct pgd_store *pgd_master_store(pgd_master_t *m);
/* The HA view (docs/ha.md); caller owns. */
cJSON *pgd_master_cluster(const pgd_master_t *m);
/* The plugins the master validates jobs with (pgd_registry_to_json). */
cJSON *pgd_master_plugins(const pgd_master_t *m);
/* The balancers (name, file, status...), caller owns. */
cJSON *pgd_master_balancers(const pgd_master_t *m);

/* ---- pushed plugins (docs/plugins.md "Pushing a plugin") --------------- */

/* The answer of a push or rollback: an HTTP-like status (200, 201, 400,
 * 404, 409, 422, 500, 503) and either `answer` (taken by the callback) or
 * `err` (borrowed for the call). Loop thread. */
typedef void (*pgd_master_push_cb)(void *ud, int status, cJSON *answer, const char *err);

/* Pushes a plugin file: `body` (taken, freed by the master), `len` bytes.
 * Its SHA-256 names the version; the file is written under the master's
 * data directory (plugins-pushed/<sha256>.so), checked (ELF, at most
 * PGD_PLUGIN_PUSH_MAX_BYTES), probed and loaded off the loop with the load
 * deadline (registry.h pgd_registry_load_pushed); a refused file answers
 * 422 with the reason. A loaded one is stored as the resource
 * "_plugin.<type>" (so that workers fetch it by hash), recorded (store
 * document "plugin_push"), made the type's active version on the master,
 * and offered to every connected worker (`plugins` message). cb runs
 * exactly once, later, unless this returns < 0 (body freed, err set). */
int pgd_master_plugin_push(pgd_master_t *m, char *body, size_t len, pgd_master_push_cb cb,
                           void *ud, char *err, size_t errlen);

/* Makes the version that was active before the current one active again
 * (404: no pushed type of that name; 409: no earlier version). cb as above;
 * returns < 0 only for a bad argument. */
int pgd_master_plugin_rollback(pgd_master_t *m, const char *type, pgd_master_push_cb cb,
                               void *ud, char *err, size_t errlen);

/* Every pushed type, by name: {type, active, previous, versions: [{sha256,
 * version, abi, size, pushed_us, pushed_at}], workers: [{worker, sha256,
 * status, version, abi, reason}]} (what each worker reported in its last
 * heartbeat). Caller owns. */
cJSON *pgd_master_plugins_pushed(pgd_master_t *m);

/* ---- jobs ---------------------------------------------------------------- */

/* Stored job definitions, by name; caller owns. */
cJSON *pgd_master_jobs_list(pgd_master_t *m);
/* One stored job (with its store timestamps) or NULL; caller owns. */
cJSON *pgd_master_job_get(pgd_master_t *m, const char *name);
bool pgd_master_job_exists(pgd_master_t *m, const char *name);
/* Validates, normalises and stores `in` (borrowed), creating or replacing a
 * job. On 0: *normalised (caller owns) is the definition as it will be
 * stored, *created tells whether the name was new; done follows. -EINVAL
 * with err otherwise. */
int pgd_master_job_define(pgd_master_t *m, const cJSON *in, cJSON **normalised, bool *created,
                          pgd_master_done_cb done, void *ud, char *err, size_t errlen);
/* Deletes a job: 0 (done follows) or -ENOENT. */
int pgd_master_job_delete(pgd_master_t *m, const char *name, pgd_master_done_cb done, void *ud);
/* Submits an execution of job `name` with `params` (borrowed, nullable
 * object) merged over its params; `trigger` names who asked ("api").
 * On 0 *exec_id and *state describe the new execution and done follows once
 * its first record is durable. -ENOENT (no such job) or -EINVAL (err). */
int pgd_master_job_run(pgd_master_t *m, const char *name, const cJSON *params,
                       const char *trigger, int64_t *exec_id, pgd_exec_state_t *state,
                       pgd_master_done_cb done, void *ud, char *err, size_t errlen);
/* pgd_master_job_run with an idempotency key (docs/api.md
 * "Idempotency-Key"; `key` borrowed, NULL = none). When a run of the last
 * 24 hours carried `key` for the same job and params, nothing is submitted:
 * *replayed is set, *exec_id and *state are that run's, and done(ud, 0) is
 * called before this returns. Otherwise as pgd_master_job_run, *replayed
 * false, and the key is stored with the new execution's first record.
 * More errors: -EINVAL (a malformed key), -EEXIST (the key belongs to
 * another job or other params), -EINPROGRESS (the first run with the key
 * is not durable yet), each with err. */
int pgd_master_job_run_keyed(pgd_master_t *m, const char *name, const cJSON *params,
                             const char *trigger, const char *key, int64_t *exec_id,
                             pgd_exec_state_t *state, bool *replayed, pgd_master_done_cb done,
                             void *ud, char *err, size_t errlen);

/* One run of a batch (pgd_master_runs_submit); every pointer borrowed. */
typedef struct pgd_master_run_req {
  const char *job;     /* the job's name */
  const cJSON *params; /* nullable object merged over the job's params */
  const char *key;     /* nullable idempotency key (as pgd_master_job_run_keyed) */
  int64_t run_index;   /* >= 0: the run's PAGODA_RUN_INDEX (an array run); -1 = none */
} pgd_master_run_req_t;

/* What became of one run of a batch. */
typedef struct pgd_master_run_out {
  int64_t exec_id;
  pgd_exec_state_t state;
  bool replayed; /* its key named an earlier run: nothing was submitted */
} pgd_master_run_out_t;

/* The most runs one batch may hold (docs/api.md "Batch runs"). */
#define PGD_MASTER_RUNS_MAX 10000

/* Submits n runs (1..PGD_MASTER_RUNS_MAX) as one request: every run is
 * checked first (job, params, key, resources, the job type's validation),
 * and when any fails nothing is submitted: a negative code (-ENOENT,
 * -EINVAL, -EEXIST, -EINPROGRESS as pgd_master_job_run_keyed) with err and
 * *bad = the index of the first bad run. Otherwise 0, out[i] (caller's
 * array of n) describes run i, and done(ud, status) follows once: after
 * the first records of all the runs became durable, which they do in one
 * store commit (pgd_store_group_begin); it may run before this returns
 * (every run replayed). `trigger` names who asked ("api"). */
int pgd_master_runs_submit(pgd_master_t *m, const pgd_master_run_req_t *runs, size_t n,
                           const char *trigger, pgd_master_run_out_t *out,
                           pgd_master_done_cb done, void *ud, size_t *bad, char *err,
                           size_t errlen);

/* Figures of the execution path (issue 17), for /metrics and benchmarks. */
typedef struct pgd_master_exec_stats {
  uint64_t in_memory;      /* executions the master holds: unfinished ones and
                              those whose final record is not durable yet
                              (finished ones leave memory once it is) */
  uint64_t batches;        /* POST /api/v1/runs batches submitted */
  uint64_t batch_runs;     /* runs submitted through them (replays excluded) */
} pgd_master_exec_stats_t;
/* Fills *out. Loop thread. */
void pgd_master_exec_stats(const pgd_master_t *m, pgd_master_exec_stats_t *out);

/* ---- executions and their logs ------------------------------------------ */

/* Execution records (newest first) filtered by job and state (nullable),
 * at most `limit`, ids below `before_id` (0 = no bound); unfinished ones as
 * the master holds them now; without their definition. Caller owns. */
cJSON *pgd_master_execs_list(pgd_master_t *m, const char *job, const char *state, int limit,
                             int64_t before_id);
/* The current record of one execution with its attempts, or NULL. */
cJSON *pgd_master_exec_get(pgd_master_t *m, int64_t id);
/* Asks for a kill: 0 (done follows once the request is durable), -ENOENT
 * or -EALREADY, with a message in err. */
int pgd_master_exec_kill(pgd_master_t *m, int64_t id, pgd_master_done_cb done, void *ud,
                         char *err, size_t errlen);

/* Reads execution `id`'s log from byte `offset` (its attempts' files
 * concatenated): *buf (caller frees, NUL-terminated) and *len. *live tells
 * whether the execution is still in memory (a follow can attach).
 * 0 or -ENOENT. */
int pgd_master_log_read(pgd_master_t *m, int64_t id, int64_t offset, char **buf, size_t *len,
                        bool *live);

/* A log follower: receives each new log byte of one execution until the
 * execution's final state is durable (or it leaves memory: stop, step-down),
 * then end(ud) once; after end the follower is gone. */
typedef struct pgd_master_log_sink {
  void (*write)(void *ud, const char *data, size_t len);
  void (*end)(void *ud);
} pgd_master_log_sink_t;
typedef struct m_follower pgd_master_follower_t;
/* Attaches a follower (`sink` copied, `ud` borrowed) to a live execution.
 * Returns the follower, or NULL when the execution is not in memory. */
pgd_master_follower_t *pgd_master_log_follow(pgd_master_t *m, int64_t id,
                                             const pgd_master_log_sink_t *sink, void *ud);
/* Detaches before the end (the reader went away): no callback runs for it
 * any more. Only before end() was called. */
void pgd_master_log_unfollow(pgd_master_follower_t *f);

/* ---- observers ----------------------------------------------------------- */

/* A borrowed view of an execution for observers (valid during the call). */
typedef struct m_exec pgd_master_exec_t;
int64_t pgd_master_exec_id(const pgd_master_exec_t *e);
pgd_exec_state_t pgd_master_exec_state(const pgd_master_exec_t *e);
/* The record as the master holds it (borrowed, read-only). */
const cJSON *pgd_master_exec_record(const pgd_master_exec_t *e);

/* Callbacks for execution changes, each nullable, called on the loop thread
 * in registration order (flows, then schedules, then later subscribers):
 *   on_state_change  the execution's record was committed (queued to the
 *                    store): created (its first record, since 0.6), a new
 *                    state, a new attempt, a kill request; also for the
 *                    final state
 *   on_exec_final    the execution just became final (its final record is
 *                    queued); called after on_state_change
 *   on_exec_output   `len` new log bytes (stdout and stderr merged)
 *   on_event         (added in 0.6, for the event stream) a change of
 *                    something other than an execution; `kind` is one of
 *                    the PGD_MASTER_EVENT_* names below and `data` (borrowed
 *                    for the call) describes it:
 *     "worker"    {"change": "connected"|"lost"|"drained"|"undrained",
 *                  "worker": <the worker's view, as GET /api/v1/workers/{id}>}
 *     "flow"      {"change": "started"|"progress"|"final",
 *                  "flow_execution": <the flow execution's document, as
 *                  GET /api/v1/flow-executions/{id}, without definition>}
 *                 after each step of the flow engine (nodes started or
 *                 finished, flow done)
 *     "schedule"  {"change": "fired"|"paused"|"resumed", "schedule": name,
 *                  "fire_us": the fire time (fired only)}
 *                 "misfired" (added for alarms, issue 15): due times older
 *                 than the schedule's misfire_grace were found, told before
 *                 the fires of that evaluation: {"change", "schedule",
 *                 "first_missed_us", "missed" (skipped by the policy, at
 *                 most 1000 counted), "run_late", "policy"}
 *                  Building `data` costs something: the master builds it
 *                  only while some subscriber has on_event.
 * An observer must not stop the master from inside a callback. */
typedef struct pgd_master_observer {
  void (*on_state_change)(void *ud, pgd_master_t *m, const pgd_master_exec_t *e);
  void (*on_exec_final)(void *ud, pgd_master_t *m, const pgd_master_exec_t *e);
  void (*on_exec_output)(void *ud, pgd_master_t *m, const pgd_master_exec_t *e, const char *data,
                         size_t len);
  void *ud;
  void (*on_event)(void *ud, pgd_master_t *m, const char *kind, const cJSON *data);
} pgd_master_observer_t;

#define PGD_MASTER_EVENT_WORKER "worker"
#define PGD_MASTER_EVENT_FLOW "flow"
#define PGD_MASTER_EVENT_SCHEDULE "schedule"

/* Subscribes `obs` (copied) to execution changes; returns a handle >= 1 for
 * pgd_master_unsubscribe, or -ENOMEM. */
int pgd_master_subscribe(pgd_master_t *m, const pgd_master_observer_t *obs);
void pgd_master_unsubscribe(pgd_master_t *m, int handle);

/* ---- workers ------------------------------------------------------------- */

/* Workers: the leader's live view, or (standby) the ones the store has
 * seen. Caller owns the array. */
cJSON *pgd_master_workers_list(pgd_master_t *m);
/* One worker's view, or NULL when unknown. */
cJSON *pgd_master_worker_get(pgd_master_t *m, const char *id);
/* Drains (no new work) or undrains a worker: 0 or -ENOENT. */
int pgd_master_worker_drain(pgd_master_t *m, const char *id, bool drain);

/* ---- flows (docs/flows.md) ---------------------------------------------- */

/* false while flows are not running (stopping): every flow call answers
 * -ESHUTDOWN or NULL then. */
bool pgd_master_flows_ready(const pgd_master_t *m);
cJSON *pgd_master_flows_list(pgd_master_t *m);            /* by name; caller owns */
cJSON *pgd_master_flow_get(pgd_master_t *m, const char *name); /* NULL when unknown */
/* Parses and stores a flow; *stored (caller owns) is its document; done
 * follows. -EINVAL with err. */
int pgd_master_flow_define(pgd_master_t *m, const cJSON *in, cJSON **stored, bool *created,
                           pgd_master_done_cb done, void *ud, char *err, size_t errlen);
int pgd_master_flow_delete(pgd_master_t *m, const char *name, pgd_master_done_cb done, void *ud);
/* Starts flow `name` with `params` (borrowed, nullable) at logical time
 * `logical_time_us` (0 = now): 0 with *fexec_id (done follows), -ENOENT or
 * -EINVAL (err). */
int pgd_master_flow_run(pgd_master_t *m, const char *name, const cJSON *params,
                        int64_t logical_time_us, int64_t *fexec_id, pgd_master_done_cb done,
                        void *ud, char *err, size_t errlen);
/* Flow executions, newest first, filtered (nullable), ids below before. */
cJSON *pgd_master_fexecs_list(pgd_master_t *m, const char *flow, const char *state, int limit,
                              const char *before);
/* One flow execution's document (with its definition snapshot when asked). */
cJSON *pgd_master_fexec_get(pgd_master_t *m, int64_t id, bool with_def);
/* Kills a running flow execution: 0 (done follows), -ENOENT or -EALREADY
 * (err). */
int pgd_master_fexec_kill(pgd_master_t *m, int64_t id, pgd_master_done_cb done, void *ud,
                          char *err, size_t errlen);
/* Re-runs a finished flow execution (`body` borrowed: which nodes, see
 * docs/flows.md): 0 with *new_id (done follows), -EBUSY (still running, or
 * not re-runnable), -ENOENT or -EINVAL, with err. */
int pgd_master_fexec_rerun(pgd_master_t *m, int64_t id, const cJSON *body, int64_t *new_id,
                           pgd_master_done_cb done, void *ud, char *err, size_t errlen);

/* ---- schedules (docs/schedules.md) -------------------------------------- */

cJSON *pgd_master_schedules_list(pgd_master_t *m); /* views by name; caller owns */
bool pgd_master_schedule_exists(pgd_master_t *m, const char *name);
/* The view of one schedule, or NULL. `next` (0..100) future fire times are
 * added as next/next_us; `runs` >= 0 adds the last runs (with their
 * execution state). */
cJSON *pgd_master_schedule_get(pgd_master_t *m, const char *name, int next, int runs);
/* Validates and stores a schedule: 0 with *name_out (caller frees) and
 * *created (done follows), -EINVAL or -ENOENT (a target job/flow is
 * missing), with err. */
int pgd_master_schedule_define(pgd_master_t *m, const cJSON *in, char **name_out, bool *created,
                               pgd_master_done_cb done, void *ud, char *err, size_t errlen);
int pgd_master_schedule_set_enabled(pgd_master_t *m, const char *name, bool enabled,
                                    pgd_master_done_cb done, void *ud);
int pgd_master_schedule_delete(pgd_master_t *m, const char *name, pgd_master_done_cb done,
                               void *ud);
/* Runs the schedule's target now (trigger "manual"). A job target: 0 with
 * *exec_id > 0 and done follows. A flow target: 0 with *fexec_id > 0 and
 * done is NOT called (the flow execution is already under way). -ENOENT or
 * -EINVAL with err. */
int pgd_master_schedule_run(pgd_master_t *m, const char *name, int64_t *exec_id,
                            int64_t *fexec_id, pgd_master_done_cb done, void *ud, char *err,
                            size_t errlen);

/* ---- resources (docs/resources.md) -------------------------------------- */

/* Default resource upload limit when the API configures none. */
#define PGD_MASTER_RESOURCE_DEFAULT_MAX_BYTES (256u * 1024u * 1024u)

/* A resource name: 1 to 128 characters of A-Z a-z 0-9 _ - . */
bool pgd_master_resource_name_ok(const char *s, size_t n);
/* Every resource's summary, by name; NULL when the store cannot be read. */
cJSON *pgd_master_resources_list(pgd_master_t *m);
/* One resource with all its versions, or NULL. */
cJSON *pgd_master_resource_versions(pgd_master_t *m, const char *name);
/* Opens the content of `name` at `version` (nullable = latest): *fd (caller
 * closes) and *size. -ENOENT or -EIO with err. */
int pgd_master_resource_open(pgd_master_t *m, const char *name, const char *version, int *fd,
                             uint64_t *size, char *err, size_t errlen);
/* Upload result: rc 1 (a new version) or 0 (same content as an earlier
 * one) with `view` (borrowed for the call); rc < 0 with `err`: -ESHUTDOWN
 * (stopping) or another code (could not store it). */
typedef void (*pgd_master_upload_cb)(void *ud, int rc, const cJSON *view, const char *err);
/* Stores `body` (taken; freed by the master; NULL for empty) as the newest
 * version of `name`: hashed and written on the thread pool, then recorded.
 * cb runs exactly once, later, unless this returns < 0 (body freed). */
int pgd_master_resource_put(pgd_master_t *m, const char *name, char *body, size_t len,
                            pgd_master_upload_cb cb, void *ud, char *err, size_t errlen);

/* Streamed upload (added in 0.4): the body goes to a temporary file in the
 * blob directory and is hashed as it arrives, so an upload costs no memory
 * for its content. At most cfg.upload_max_concurrent uploads and
 * cfg.upload_max_inflight_bytes announced bytes are in progress at once.
 * Loop thread; writes are plain write() calls on it (page cache); the
 * fsync happens on the thread pool at finish. */
typedef struct pgd_master_upload pgd_master_upload_t;
/* Starts an upload of `size` bytes: 0 and *out; -EBUSY when over a cap
 * (*retry_after_s says when to try again), other codes with err. */
int pgd_master_upload_begin(pgd_master_t *m, uint64_t size, pgd_master_upload_t **out,
                            int *retry_after_s, char *err, size_t errlen);
/* Appends a piece of the content: 0 or -errno (then discard it). */
int pgd_master_upload_write(pgd_master_upload_t *u, const void *data, size_t len);
/* Drops an unfinished upload (its temporary file is removed). */
void pgd_master_upload_discard(pgd_master_upload_t *u);
/* Stores the content as the newest version of `name`, like
 * pgd_master_resource_put (cb exactly once, unless this returns < 0); `u`
 * is taken in both cases. */
int pgd_master_upload_finish(pgd_master_upload_t *u, const char *name, pgd_master_upload_cb cb,
                             void *ud, char *err, size_t errlen);
/* Deletes a resource, or one version of it (`version` nullable): 0 with
 * *answer (caller owns: {"deleted", "version"?}) and done follows; -ENOENT
 * with err. */
int pgd_master_resource_delete(pgd_master_t *m, const char *name, const char *version,
                               cJSON **answer, pgd_master_done_cb done, void *ud, char *err,
                               size_t errlen);

/* ---- observability (added in 0.7; docs/observability.md) ------------------ */

/* Starts the master's metrics in the process registry
 * (common/metrics.h): an observer for executions and a scrape-time
 * collector for the queue, workers, slots, flows, store and balancers.
 * Nothing when metrics are off (pgd_metrics_set_enabled(false)); stopped by
 * pgd_master_stop. 0 or -ENOMEM. Loop thread. */
int pgd_master_metrics_start(pgd_master_t *m);

/* Readiness (GET /api/v1/ready): {"ready": bool, "role": "leader"|"standby",
 * "reasons": [text...]} (caller owns). Ready = leading, or a standby that
 * knows an elected leader; the store writes; at least one plugin (job type)
 * is loaded; the flows and schedules are running. Loop thread. */
cJSON *pgd_master_readiness(const pgd_master_t *m);

#endif
