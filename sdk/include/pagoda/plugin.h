/* Pagoda plugin ABI — version 1.2.
 *
 * This header is the whole contract between the Pagoda daemons (the host) and
 * a job-type plugin (a shared object, `<name>.so`, in the plugins directory).
 * A plugin includes this header only: it never links against the host, and
 * every host service arrives through the `pagoda_host_t` table handed to
 * `init`. Only opaque handles cross the boundary; no type of the host's
 * libraries (JSON, event loop, Lua) appears here.
 * <pagoda/plugin_util.h> (since 1.2) adds header-only helpers over the host
 * table (typed param getters, the env object, errors); it links nothing.
 *
 * ---------------------------------------------------------------------------
 * LIFECYCLE (which half runs in which process, on which thread)
 *
 *   MASTER process                           WORKER process
 *   ==============                           ==============
 *   loop thread: dlopen(RTLD_NOW|LOCAL)      loop thread: dlopen(RTLD_NOW|LOCAL)
 *     pagoda_plugin_entry() -> descriptor      pagoda_plugin_entry() -> descriptor
 *     check abi_major/abi_minor/struct_size    check abi_major/abi_minor/struct_size
 *     init(host, &state, err)     [once]       init(host, &state, err)     [once]
 *          |                                        |
 *   per job submitted / fired:               per LAUNCH received:
 *     host checks params against the           host checks the request params
 *       declared schema (1.2)                    against the schema (1.2)
 *     generator->validate(params)  (loop)      EITHER process executor:
 *     generator->expand(job, req)  (loop)        executor->describe_process  (loop)
 *          |   execution request (JSON)          core spawns argv in its own
 *          +------- LAUNCH over RPC ------->     process group, supervises it
 *                                                executor->on_output_line    (loop,
 *                                                  each line of output; 1.1;
 *                                                  on_output_line_ex in 1.2)
 *                                                executor->interpret_exit    (loop;
 *                                                  interpret_exit_ex in 1.2)
 *                                                on kill: executor->describe_kill
 *                                                  (loop; 1.1) -> a second process
 *                                                executor->exec_state_free (loop;
 *                                                  1.2, when a state was kept)
 *                                              OR in-process executor:
 *                                                executor->run(params, run)
 *                                                   (dedicated worker thread,
 *                                                    polls run_is_cancelled)
 *   daemon exit:                             daemon exit:
 *     destroy(state)              [once]       destroy(state)              [once]
 *     dlclose                                  dlclose
 *
 * The same .so is loaded by both daemons (and twice in one process by
 * `pagoda dev`, which runs a master and a worker together): keep per-load data
 * in `state`, not in globals. Callbacks that run on the loop thread must not
 * block (no sleep, no network, no waiting on a child). `run` may block, but
 * must return soon after `run_is_cancelled` reports 1.
 *
 * ---------------------------------------------------------------------------
 * VERSION RULE
 *
 * The ABI version is MAJOR.MINOR. MINOR goes up when something is added at
 * the END of a struct or a new optional slot is defined (old plugins keep
 * working); MAJOR goes up when anything is removed, reordered or changes
 * meaning. The host loads a plugin when plugin.abi_major == host major and
 * plugin.abi_minor <= host minor; otherwise it refuses it with a message that
 * names both versions ("plugin ABI 2.0, host ABI 1.0"), and keeps running.
 * A plugin that uses a host slot added in minor N checks
 * `host->abi_minor >= N` (and the slot for NULL) before calling it.
 * The host reads only the descriptor fields that exist in the plugin's
 * declared minor version (struct_size must cover them). The generator and
 * executor tables carry no size of their own: the host calls a slot of
 * theirs only when the descriptor's abi_minor is at least the minor that
 * added the slot (a 1.0 plugin's executor is read as the 1.0 struct).
 *
 * CHANGELOG
 *   1.0 (2026-11-22)  first version: descriptor, parameter schema, host table
 *                     (log, memory, errors, JSON read, request and process
 *                     builders, in-process run services), generator
 *                     (validate, expand), executor (describe_process | run,
 *                     interpret_exit).
 *   1.1 (2026-11-23)  execution attributes: opaque pagoda_attrs_t, host
 *                     services attr_set and attr_get (end of pagoda_host_t);
 *                     optional executor slots on_output_line (attributes
 *                     from each output line, e.g. a Spark application id)
 *                     and describe_kill (a second process run when a job is
 *                     killed, e.g. `yarn application -kill`), at the end of
 *                     pagoda_executor_t. 1.0 plugins load unchanged.
 *   1.2 (2026-12-06)  host-enforced parameter schema: the host checks every
 *                     params object against the declared schema (types,
 *                     required keys) before validate and describe_process/
 *                     run; schema-only types PAGODA_PARAM_TEXT, _STRINGS,
 *                     _INTEGER and _ENV; pagoda_param_spec_t.must_be (a
 *                     1.1 plugin's schema array keeps the 1.1 element size
 *                     and is checked as before: not at all). Per-execution
 *                     state and attributes for process executors: optional
 *                     executor slots on_output_line_ex, interpret_exit_ex
 *                     and exec_state_free at the end of pagoda_executor_t.
 *                     validate always receives an object (as it always did;
 *                     the 1.1 text said NULL). Header-only helpers in
 *                     <pagoda/plugin_util.h>. 1.0 and 1.1 plugins load and
 *                     run unchanged.
 *
 * ---------------------------------------------------------------------------
 * OWNERSHIP WORDS used beside every function:
 *   borrowed for the call  the pointer is valid only until the function
 *                          returns; copy what you need to keep.
 *   copied by the host     the host keeps its own copy; the argument may be
 *                          freed or reused as soon as the call returns.
 *   owned by the caller    the receiver must free it (with host->free when
 *                          the host allocated it).
 *   static                 must stay valid until the plugin is unloaded
 *                          (string literals and `static const` data).
 *
 * ERRORS: functions return PAGODA_OK (0) or a negative PAGODA_E* code. A
 * callback that fails also writes a human message into its `pagoda_error_t`
 * with host->error_set, prefixed with the job type ("shell: ..."). If it
 * does not, the host writes a generic message naming the plugin and the code.
 */
#ifndef PAGODA_PLUGIN_H
#define PAGODA_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- versions (since 1.0) ------------------------------------------------ */

#define PAGODA_PLUGIN_ABI_MAJOR 1
#define PAGODA_PLUGIN_ABI_MINOR 2

/* Name of the one symbol the host looks up with dlsym. */
#define PAGODA_PLUGIN_ENTRY_SYMBOL "pagoda_plugin_entry"

/* Plugins build with hidden visibility; this macro exports the entry point:
 *
 *   PAGODA_PLUGIN_EXPORT const pagoda_plugin_descriptor_t *pagoda_plugin_entry(void) {
 *     return &my_descriptor;
 *   }
 */
#if defined(__GNUC__) || defined(__clang__)
#define PAGODA_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define PAGODA_PLUGIN_EXPORT
#endif

/* Declares and defines the entry point returning `desc` (an lvalue of type
 * pagoda_plugin_descriptor_t with static storage):
 *   PAGODA_PLUGIN_DECLARE(shell_descriptor)
 */
#ifdef __cplusplus
#define PAGODA_PLUGIN_EXTERN_C extern "C"
#else
#define PAGODA_PLUGIN_EXTERN_C
#endif
#define PAGODA_PLUGIN_DECLARE(desc)                                                   \
  PAGODA_PLUGIN_EXTERN_C PAGODA_PLUGIN_EXPORT const pagoda_plugin_descriptor_t *      \
  pagoda_plugin_entry(void);                                                          \
  PAGODA_PLUGIN_EXTERN_C PAGODA_PLUGIN_EXPORT const pagoda_plugin_descriptor_t *      \
  pagoda_plugin_entry(void) {                                                         \
    return &(desc);                                                                   \
  }

/* printf format checking for the variadic host services. */
#if defined(__GNUC__) || defined(__clang__)
#define PAGODA_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define PAGODA_PRINTF(fmt_idx, arg_idx)
#endif

/* ---- error codes (since 1.0; the values equal Linux -errno) --------------- */

#define PAGODA_OK 0
#define PAGODA_EFAIL (-1)       /* generic failure */
#define PAGODA_ENOMEM (-12)     /* out of memory */
#define PAGODA_EINVAL (-22)     /* invalid argument / params */
#define PAGODA_ENOTSUP (-95)    /* operation not supported */
#define PAGODA_ECANCELED (-125) /* the run was cancelled */

/* ---- opaque handles (since 1.0) ------------------------------------------ */

/* A read-only JSON value owned by the host. Borrowed for the call in which it
 * is handed to the plugin, together with every value reached from it. */
typedef struct pagoda_json pagoda_json_t;
/* An error sink: write into it with host->error_set. Borrowed for the call. */
typedef struct pagoda_error pagoda_error_t;
/* The JSON object of an execution request being built (expand). */
typedef struct pagoda_request pagoda_request_t;
/* A process specification being built (describe_process). */
typedef struct pagoda_process pagoda_process_t;
/* The context of one in-process run (run). */
typedef struct pagoda_run pagoda_run_t;
/* The attributes of one execution (since 1.1): a small map of string keys
 * to string values the host stores in the execution record (for example
 * "spark_app_id"). Written with host->attr_set in on_output_line. */
typedef struct pagoda_attrs pagoda_attrs_t;

/* JSON value types as reported by host->json_type. */
typedef enum {
  PAGODA_JSON_MISSING = 0, /* NULL pointer: key absent, index out of range */
  PAGODA_JSON_NULL = 1,
  PAGODA_JSON_BOOL = 2,
  PAGODA_JSON_NUMBER = 3,
  PAGODA_JSON_STRING = 4,
  PAGODA_JSON_ARRAY = 5,
  PAGODA_JSON_OBJECT = 6,
  /* Schema-only types (since 1.2): used in pagoda_param_spec_t.type by a
   * plugin that declares ABI >= 1.2, never returned by host->json_type. */
  PAGODA_PARAM_TEXT = 16,    /* a non-empty string */
  PAGODA_PARAM_STRINGS = 17, /* an array (maybe empty) of strings */
  PAGODA_PARAM_INTEGER = 18, /* a number without fraction, |n| < 2^53 */
  PAGODA_PARAM_ENV = 19      /* environment variables: an object whose keys
                              * are 1-255 characters of [A-Za-z0-9_.-], not
                              * starting with a digit, and whose values are
                              * strings */
} pagoda_json_type_t;

/* Log levels for host->log. */
typedef enum {
  PAGODA_LOG_DEBUG = 0,
  PAGODA_LOG_INFO = 1,
  PAGODA_LOG_WARN = 2,
  PAGODA_LOG_ERROR = 3
} pagoda_log_level_t;

/* ---- host services (since 1.0) -------------------------------------------
 *
 * One table, filled by the host, handed to init and valid until destroy
 * returns. Every slot listed for 1.0 is non-NULL in a 1.0 host. Unless said
 * otherwise a service may be called from any thread. Functions that return
 * int return PAGODA_OK or a negative PAGODA_E* code (PAGODA_EINVAL for a NULL
 * handle or key, PAGODA_ENOMEM when a copy could not be made).
 */
typedef struct pagoda_host {
  uint16_t abi_major; /* the host's PAGODA_PLUGIN_ABI_MAJOR */
  uint16_t abi_minor; /* the host's PAGODA_PLUGIN_ABI_MINOR */
  uint32_t struct_size; /* sizeof(pagoda_host_t) in the host */

  /* Writes one line to the daemon's log, tagged with "plugin". `fmt` and the
   * arguments are borrowed for the call. Any thread. */
  void (*log)(pagoda_log_level_t level, const char *fmt, ...) PAGODA_PRINTF(2, 3);

  /* Memory. alloc returns NULL on failure; the block is owned by the caller
   * and released with free. strdup copies `s` (borrowed for the call) into a
   * block owned by the caller; NULL for s == NULL or out of memory. free(NULL)
   * does nothing. Any thread. */
  void *(*alloc)(size_t size);
  void (*free)(void *ptr);
  char *(*strdup)(const char *s);

  /* Sets the message of `err` (printf-style); the text is copied by the host
   * (truncated if very long). The last call wins. err == NULL is ignored. */
  void (*error_set)(pagoda_error_t *err, const char *fmt, ...) PAGODA_PRINTF(2, 3);

  /* JSON read access. Every pointer returned is borrowed: valid as long as
   * the value it came from (that is, for the current call). Every function
   * accepts NULL and answers "missing": NULL, 0 or the fallback. */
  const pagoda_json_t *(*json_get)(const pagoda_json_t *obj, const char *key);
  pagoda_json_type_t (*json_type)(const pagoda_json_t *v);
  const char *(*json_string)(const pagoda_json_t *v); /* NULL unless a string */
  double (*json_number)(const pagoda_json_t *v, double fallback);
  int (*json_bool)(const pagoda_json_t *v, int fallback); /* 1, 0 or fallback */
  size_t (*json_array_size)(const pagoda_json_t *v);     /* 0 unless an array */
  const pagoda_json_t *(*json_array_item)(const pagoda_json_t *v, size_t index);
  size_t (*json_object_size)(const pagoda_json_t *v);    /* 0 unless an object */
  const char *(*json_object_key_at)(const pagoda_json_t *v, size_t index);
  const pagoda_json_t *(*json_object_value_at)(const pagoda_json_t *v, size_t index);
  /* Compact JSON text of `v`, owned by the caller (release with host->free);
   * NULL for NULL or out of memory. */
  char *(*json_print)(const pagoda_json_t *v);

  /* Request builders (expand, loop thread). Set `key` of the request's params
   * object, replacing any previous value. `key` and `value` are copied by the
   * host; request_set_json makes a deep copy of `value`. request_remove
   * deletes `key` (PAGODA_OK even if absent). */
  int (*request_set_string)(pagoda_request_t *req, const char *key, const char *value);
  int (*request_set_number)(pagoda_request_t *req, const char *key, double value);
  int (*request_set_bool)(pagoda_request_t *req, const char *key, int value);
  int (*request_set_json)(pagoda_request_t *req, const char *key, const pagoda_json_t *value);
  int (*request_remove)(pagoda_request_t *req, const char *key);

  /* Process builders (describe_process, loop thread). All strings are copied
   * by the host. process_add_arg appends to argv (argv[0] is the program; one
   * without a '/' is searched in the worker's PATH). process_set_env adds or
   * replaces one variable on top of the worker's environment (key non-empty,
   * without '='). process_set_cwd and process_set_user replace the previous
   * value; the job's run_as policy, if any, overrides process_set_user. */
  int (*process_add_arg)(pagoda_process_t *proc, const char *arg);
  int (*process_set_env)(pagoda_process_t *proc, const char *key, const char *value);
  int (*process_set_cwd)(pagoda_process_t *proc, const char *dir);
  int (*process_set_user)(pagoda_process_t *proc, const char *user);

  /* In-process run services (run, on the run's thread unless noted).
   * run_is_cancelled: 1 once the execution is killed or timed out, else 0;
   *   thread-safe, cheap, call it often.
   * run_log: appends `len` bytes of `data` (copied by the host) to the
   *   execution's log; thread-safe.
   * run_set_result: sets the execution's result to `json_text` (copied by the
   *   host); PAGODA_EINVAL if it is not valid JSON. The last call wins.
   * run_error: the error sink of this run, to fill with host->error_set
   *   before returning a negative code. Borrowed for the run. */
  int (*run_is_cancelled)(pagoda_run_t *run);
  void (*run_log)(pagoda_run_t *run, const char *data, size_t len);
  int (*run_set_result)(pagoda_run_t *run, const char *json_text);
  pagoda_error_t *(*run_error)(pagoda_run_t *run);

  /* ---- since 1.1: check host->abi_minor >= 1 before calling ----
   * Execution attributes (on_output_line, worker loop thread).
   * attr_set: sets `key` to `value` (both copied by the host), replacing an
   *   earlier value. key: 1-63 characters of [a-z0-9_]; value: a string of
   *   at most 1023 bytes. PAGODA_EINVAL for a bad key or value or a NULL
   *   handle, PAGODA_ENOMEM when the copy failed.
   * attr_get: the current value of `key` (borrowed: valid until the next
   *   attr_set on the same key or the end of the call), or NULL. */
  int (*attr_set)(pagoda_attrs_t *attrs, const char *key, const char *value);
  const char *(*attr_get)(const pagoda_attrs_t *attrs, const char *key);
} pagoda_host_t;

/* ---- parameter schema (since 1.0; enforced since 1.2) ---------------------
 *
 * Describes a plugin's params as data: listed by `pagoda plugin list` and
 * `GET /api/v1/plugins`, and, for a plugin that declares ABI >= 1.2,
 * ENFORCED by the host. An array of these ends with an entry whose key is
 * NULL. All strings static.
 *
 * Enforcement (1.2 plugins): before generator->validate (master), and again
 * before executor->describe_process / executor->run (worker, whose request
 * may come from a master of another version), the host checks each declared
 * key of the params object, in array order, and refuses the first problem
 * with PAGODA_EINVAL and a message naming the field:
 *   - a `required` key that is absent:
 *       "<type>: params.<key> is required"            (+ " (<must_be>)")
 *   - a present key (JSON null included) whose value does not match `type`:
 *       "<type>: params.<key> must be <must_be>", or without must_be
 *       "... must be a string" / "a non-empty string" / "a number" /
 *       "an integer" / "a boolean" / "an array" / "an object" /
 *       "an array of strings" (an item: "params.<key>[<i>] must be a string")
 *   - PAGODA_PARAM_ENV: "params.<key> must be an object",
 *       "params.<key> key \"K\" is not a valid variable name",
 *       "params.<key>.K must be a string"
 * PAGODA_JSON_MISSING as `type` accepts any value. Keys the schema does not
 * declare are accepted and left to validate: a job may carry keys for a newer
 * version of the plugin than the one loaded. So validate (and describe_process)
 * only check what the schema cannot say: exclusive keys, ranges, formats.
 * A 1.0/1.1 plugin's schema is listed but not enforced (its array has the
 * 1.1 element size, without must_be). The host reads the array with the
 * element size of the minor the descriptor declares: declare the version
 * of the header you compile with (PAGODA_PLUGIN_DESCRIPTOR_HEADER). */
typedef struct pagoda_param_spec {
  const char *key;          /* "script" */
  pagoda_json_type_t type;  /* expected JSON type, or a PAGODA_PARAM_* (1.2) */
  int required;             /* 1 when the job must set it */
  const char *default_text; /* default as text ("bash"), or NULL */
  const char *description;  /* one line */
  /* ---- since 1.2 (read only when the descriptor's abi_minor >= 2) ---- */
  const char *must_be;      /* what a wrong value is told to be, completing
                             * "params.<key> must be ...", e.g. "a size such
                             * as \"512m\""; NULL: the type's own phrase */
} pagoda_param_spec_t;

/* ---- generator: the master half (since 1.0) ------------------------------
 *
 * Both callbacks run on the master's loop thread and must not block. A NULL
 * slot means "not needed": no validate = every params object is accepted; no
 * expand = the request's params are a copy of the job's params. */
typedef struct pagoda_generator {
  /* Checks a job's params: always a JSON object ({} when the job has none;
   * never NULL), which for a 1.2 plugin has already passed the declared
   * schema. Returns PAGODA_OK, or a negative code with a message in `err`
   * such as "shell: params.script or params.argv is required". `state` is
   * the value init stored; `params` and `err` are borrowed for the call. */
  int (*validate)(void *state, const pagoda_json_t *params, pagoda_error_t *err);

  /* Turns a job into an execution request. `job` is the whole job definition
   * (name, type, params, ...), borrowed for the call. `req` already holds a
   * copy of job.params; the plugin adds defaults or resolved values with the
   * request_* services. Returns PAGODA_OK or a negative code with `err` set.
   * On failure the request is discarded. */
  int (*expand)(void *state, const pagoda_json_t *job, pagoda_request_t *req,
                pagoda_error_t *err);
} pagoda_generator_t;

/* ---- executor: the worker half (since 1.0) -------------------------------
 *
 * Exactly one of describe_process and run is set. `request_params` is the
 * params object of the execution request built by the generator, borrowed for
 * the call. */
typedef struct pagoda_executor {
  /* Process executor. Fills `proc` (borrowed for the call) with argv, env,
   * cwd and user through the process_* services; the worker then spawns it in
   * its own process group, captures stdout/stderr and supervises it (timeout,
   * kill). Worker loop thread; must not block. Returns PAGODA_OK or a negative
   * code with `err` set; at least one argv entry is required on success. */
  int (*describe_process)(void *state, const pagoda_json_t *request_params,
                          pagoda_process_t *proc, pagoda_error_t *err);

  /* In-process executor. Runs the job on a dedicated worker thread; may
   * block, must poll host->run_is_cancelled(run) and return soon after it
   * reports 1 (with PAGODA_ECANCELED). `run` is borrowed for the call and
   * must not be used after return. Returns PAGODA_OK on success or a negative
   * code on failure, with host->error_set(host->run_error(run), ...). */
  int (*run)(void *state, const pagoda_json_t *request_params, pagoda_run_t *run);

  /* Optional, process executors only. Decides whether the finished process
   * succeeded: `exit_code` (valid when term_signal == 0) and `term_signal`
   * (non-zero when killed by a signal). Returns PAGODA_OK for success or a
   * negative code with `err` set. Worker loop thread. Without it: success
   * means exit code 0 and no signal. */
  int (*interpret_exit)(void *state, const pagoda_json_t *request_params, int exit_code,
                        int term_signal, pagoda_error_t *err);

  /* ---- since 1.1 (called only when the descriptor's abi_minor >= 1) ---- */

  /* Optional, process executors only. Called for each line the process
   * writes (stdout and stderr merged, in order), without its line break;
   * `line` holds `len` bytes, is NUL-terminated at line[len], is borrowed
   * for the call and may contain invalid UTF-8. Lines longer than 4095
   * bytes are cut to their first 4095 bytes. The plugin records what it
   * finds with host->attr_set(attrs, key, value); the host stores the
   * attributes in the execution record and hands them to describe_kill.
   * `attrs` is borrowed for the call. Worker loop thread: must be fast (it
   * runs for every line) and must not block. */
  void (*on_output_line)(void *state, const pagoda_json_t *request_params, const char *line,
                         size_t len, pagoda_attrs_t *attrs);

  /* Optional, process executors only. Called once when a running job is
   * killed (by a user or its timeout); the host signals the job's process
   * group as usual and, in addition, runs the process described here. `attrs` is a JSON object of the attributes recorded so
   * far (string values), borrowed for the call. The plugin may fill `proc`
   * (borrowed for the call) with a second process, which the host runs to
   * completion with the job's environment and user and whose output goes to
   * the execution's log (e.g. `yarn application -kill <id>` for a Spark job
   * whose driver runs in the cluster). Leave argv empty when nothing needs
   * to run. Returns PAGODA_OK, or a negative code with `err` set (logged;
   * the kill itself goes on). Worker loop thread; must not block. */
  int (*describe_kill)(void *state, const pagoda_json_t *request_params,
                       const pagoda_json_t *attrs, pagoda_process_t *proc, pagoda_error_t *err);

  /* ---- since 1.2 (called only when the descriptor's abi_minor >= 2) ----
   *
   * Per-execution state. Each execution (one attempt of a process executor)
   * has one `void *` slot of its own, NULL when the process starts. The
   * plugin may store a block there from on_output_line_ex (allocated with
   * host->alloc or its own allocator) and read it back in later calls for
   * the same execution; the host never looks inside. `exec_state` points to
   * the slot and is borrowed for the call. All calls for one execution are
   * made one after the other on the worker's loop thread; calls for
   * different executions may interleave (never share the block between
   * executions). The slot is released once, after the last callback of the
   * execution (interpret_exit_ex, or describe_kill after a kill): by
   * exec_state_free when set, else by host->free. */

  /* Optional, process executors only; replaces on_output_line when set.
   * Same contract as on_output_line (line rules, attrs, thread), plus the
   * execution's state slot. */
  void (*on_output_line_ex)(void *state, void **exec_state, const pagoda_json_t *request_params,
                            const char *line, size_t len, pagoda_attrs_t *attrs);

  /* Optional, process executors only; replaces interpret_exit when set.
   * Same contract as interpret_exit, plus the execution's state slot and
   * `attrs`, a JSON object of the attributes recorded so far (string values;
   * {} when none), borrowed for the call. Not called for a killed or timed
   * out execution (those fail without asking the plugin). */
  int (*interpret_exit_ex)(void *state, void **exec_state, const pagoda_json_t *request_params,
                           const pagoda_json_t *attrs, int exit_code, int term_signal,
                           pagoda_error_t *err);

  /* Optional. Releases a non-NULL per-execution state (see above); called
   * exactly once per execution that left one, on the worker's loop thread,
   * after every other callback of that execution. Without it the host calls
   * host->free(exec_state), which suits a flat block from host->alloc. */
  void (*exec_state_free)(void *state, void *exec_state);
} pagoda_executor_t;

/* ---- the descriptor (since 1.0) ------------------------------------------
 *
 * Returned by pagoda_plugin_entry(); static (must live as long as the .so is
 * loaded). The first three fields are fixed forever. */
typedef struct pagoda_plugin_descriptor {
  uint16_t abi_major;   /* PAGODA_PLUGIN_ABI_MAJOR the plugin was built with */
  uint16_t abi_minor;   /* PAGODA_PLUGIN_ABI_MINOR the plugin was built with */
  uint32_t struct_size; /* sizeof(pagoda_plugin_descriptor_t) */

  const char *type;        /* job type name, [a-z0-9_]+, at most 63 chars; static */
  const char *version;     /* plugin version, e.g. "1.0.0"; static, may be NULL */
  const char *description; /* one line; static, may be NULL */
  const pagoda_param_spec_t *params; /* static, NULL-key terminated, or NULL */

  /* Optional. Called once after loading, on the loading thread, before any
   * other callback. `host` is static for the plugin (valid until destroy
   * returns): keep the pointer. Stores the plugin's state in *state (NULL
   * before the call). Returns PAGODA_OK, or a negative code with `err` set,
   * in which case the plugin is refused, destroy is NOT called and the .so is
   * unloaded. */
  int (*init)(const pagoda_host_t *host, void **state, pagoda_error_t *err);

  /* Optional. Called exactly once when the plugin is unloaded (daemon exit),
   * after every other callback has returned, with the state init stored (or
   * NULL without init). Not called when init failed. */
  void (*destroy)(void *state);

  const pagoda_generator_t *generator; /* static, or NULL: no master half */
  const pagoda_executor_t *executor;   /* static, or NULL: no worker half */
} pagoda_plugin_descriptor_t;

/* The entry point every plugin exports (see PAGODA_PLUGIN_DECLARE). Returns a
 * static descriptor; called once per load, on the loading thread. */
typedef const pagoda_plugin_descriptor_t *(*pagoda_plugin_entry_fn)(void);

/* Initialiser for the first three descriptor fields:
 *   static const pagoda_plugin_descriptor_t d = { PAGODA_PLUGIN_DESCRIPTOR_HEADER, .type = ... };
 */
#define PAGODA_PLUGIN_DESCRIPTOR_HEADER                                         \
  .abi_major = PAGODA_PLUGIN_ABI_MAJOR, .abi_minor = PAGODA_PLUGIN_ABI_MINOR,   \
  .struct_size = (uint32_t)sizeof(pagoda_plugin_descriptor_t)

#ifdef __cplusplus
}
#endif

#endif /* PAGODA_PLUGIN_H */
