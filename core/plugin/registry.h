/* Pagoda — the plugin registry: loads job-type plugins (.so files speaking
 * the ABI of sdk/include/pagoda/plugin.h) and calls into them.
 *
 * Thread rules: a registry is owned by one thread (the daemon's loop
 * thread): pgd_registry_new, _free, _load_dir, _load_file, _rescan and
 * every call marked "loop thread" run there. Only pgd_registry_rescan uses
 * another thread (a libuv pool thread loads the files; it never touches
 * the registry). A pgd_plugin_t pointer stays valid, at the same address, until
 * pgd_registry_free (plugins are never unloaded earlier, loading more does
 * not move them), so it may be handed to another thread for pgd_plugin_run.
 * Errors: functions return 0 or a negative errno-style code; those taking
 * (err, errlen) write a one-line message there (always NUL-terminated when
 * errlen > 0; err may be NULL when errlen == 0).
 */
#ifndef PAGODA_PLUGIN_REGISTRY_H
#define PAGODA_PLUGIN_REGISTRY_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <uv.h>

#include "plugin/procspec.h"

typedef struct pgd_plugin pgd_plugin_t;     /* one loaded plugin */
typedef struct pgd_registry pgd_registry_t; /* every plugin of a daemon */

/* Executor kinds (pgd_plugin_executor_kind). */
#define PGD_EXEC_NONE 0
#define PGD_EXEC_PROCESS 1
#define PGD_EXEC_IN_PROCESS 2

/* ---- registry ------------------------------------------------------------ */

/* A new empty registry, owned by the caller (pgd_registry_free); NULL when
 * out of memory. */
pgd_registry_t *pgd_registry_new(void);

/* Calls destroy() once for each loaded plugin (in reverse load order),
 * dlcloses them and frees the registry. Every pgd_plugin_t of it becomes
 * invalid: no call into a plugin may still be running. NULL is ignored. */
void pgd_registry_free(pgd_registry_t *r);

/* Hard deadline for loading one file: the probe child that loads it first
 * (constructors, entry point, init) is SIGKILLed after this long and the
 * file refused ("did not finish loading within N ms ..."). */
#define PGD_PLUGIN_LOAD_TIMEOUT_MS 5000

/* Sets that deadline (ms; <= 0 restores the default). Loop thread, before
 * a scan. */
void pgd_registry_set_load_timeout(pgd_registry_t *r, int ms);

/* The type rules, applied whenever files are committed (a directory scan,
 * pgd_registry_load_file, pgd_registry_rescan):
 *  - a built-in type (shell, java, spark, lua: the plugins Pagoda ships) is
 *    provided only by the file named after it (shell.so); another file
 *    declaring it is refused (-EEXIST) and the built-in stays;
 *  - a type already loaded stays with its file: a newcomer offering it is
 *    refused (-EEXIST, "type \"T\" is already provided by FILE");
 *  - a new type offered by two or more files of the same scan is refused
 *    in all of them (-EEXIST, the message names every file); they are
 *    tried again once only one of them is left in the directory. */

/* Loads every regular file named *.so in `dir` (borrowed), in name order,
 * that is not loaded yet, blocking the calling thread (at most the load
 * deadline per file, plus the time constructors and init take in the real
 * load). Daemons use it at start, before serving; later rescans use
 * pgd_registry_rescan. A file refused before is tried again only when it
 * changed (size, mtime or inode), so calling this periodically picks up new
 * plugins (hot loading) without repeating warnings. Each refusal is logged
 * with PGD_WARN and recorded with its reason (see pgd_registry_to_json).
 * Returns the number of plugins newly loaded (>= 0), or -errno when `dir`
 * cannot be read (logged too). */
int pgd_registry_load_dir(pgd_registry_t *r, const char *dir);

/* Rescans `dir` (borrowed; copied) without blocking the loop: the listing
 * runs here, the probes, dlopens and inits on a libuv pool thread, and the
 * commit (the registry changes) back on the loop thread, after which
 * done(ud, loaded) runs there (loaded: plugins newly loaded, or -errno
 * when `dir` cannot be read). done may run before this returns (nothing
 * new to load, or the directory cannot be read). A call
 * while a rescan is in flight is served by one more rescan after it (so a
 * file copied in meanwhile is seen). Returns 0. Loop thread (`loop` is the
 * registry owner's). pgd_registry_free must wait until no rescan is in
 * flight (uv_run returning guarantees it: a rescan holds the loop). done
 * may be NULL. */
typedef void (*pgd_registry_scan_cb)(void *ud, int loaded);
int pgd_registry_rescan(pgd_registry_t *r, uv_loop_t *loop, const char *dir,
                        pgd_registry_scan_cb done, void *ud);

/* Loads one plugin file (`path` borrowed; recorded as given), blocking like
 * pgd_registry_load_dir. Returns 0, or a negative code with a message in
 * err that names the file and the reason:
 *   -EEXIST   the file is already loaded, or its type is provided by another
 *             loaded file (the message names that file), or it is a
 *             built-in type and the file is not named after it
 *   -ETIMEDOUT the probe did not finish within the load deadline
 *   -ELIBBAD  dlopen failed (dlerror text)
 *   -ENOENT   no pagoda_plugin_entry symbol, or it returned NULL
 *   -EPROTO   ABI major differs, or minor newer than the host (names both
 *             versions: "plugin ABI 2.0, host ABI 1.0")
 *   -EINVAL   bad descriptor (NULL or malformed type, struct_size too small,
 *             executor with neither or both of describe_process and run)
 *   other <0  init failed: the code init returned (message included)
 * A refused plugin is dlclosed, recorded as refused (replacing an earlier
 * record for the same path) and logged with PGD_WARN; the registry stays
 * usable. */
int pgd_registry_load_file(pgd_registry_t *r, const char *path, char *err, size_t errlen);

/* The loaded plugin providing `type`, or NULL. Borrowed (see thread rules). */
const pgd_plugin_t *pgd_registry_find(const pgd_registry_t *r, const char *type);

/* Number of loaded (not refused) plugins. */
size_t pgd_registry_count(const pgd_registry_t *r);

/* Everything known, loaded and refused, as a JSON array owned by the caller:
 *   {type, version, description, file, abi:"1.0", generator:bool,
 *    executor:"process"|"in_process"|null, status:"loaded"|"refused",
 *    reason (null when loaded), params:[{key,type,required,default,
 *    description}] (loaded only; type as pgd_param_type_name names it),
 *    sha256 (a pushed version's, else null), active:bool (false for a
 *    version set aside by another, and for refused files)}
 * Fields unknown for a refused file (type, version, abi, ...) are null.
 * NULL when out of memory. */
cJSON *pgd_registry_to_json(const pgd_registry_t *r);

/* Array of the type names of loaded plugins with an executor (what a worker
 * advertises), owned by the caller; NULL when out of memory. */
cJSON *pgd_registry_types_json(const pgd_registry_t *r);

/* ---- pushed versions (plugin push, docs/plugins.md "Pushing a plugin") -----
 * A pushed plugin is one version of a type, named by the SHA-256 of its
 * file. Several versions of a type may be loaded at once; one of them (or
 * the plugins directory's file) is active: pgd_registry_find and
 * pgd_registry_types_json see only the active one. A version that is not
 * active stays loaded (plugins are never unloaded before pgd_registry_free),
 * so an attempt started with it finishes with it. */

/* Largest pushed file accepted (bytes). */
#define PGD_PLUGIN_PUSH_MAX_BYTES (64u << 20)

/* Checks that `path` is a plausible plugin before anything loads it: a
 * regular file of 1 byte to PGD_PLUGIN_PUSH_MAX_BYTES starting with the ELF
 * magic, of this host's class (64/32-bit). Returns 0 or a negative code
 * with a message (-EFBIG, -ENOEXEC, or the open/stat error). Any thread. */
int pgd_plugin_file_check(const char *path, char *err, size_t errlen);

/* Called on the loop thread when a pushed version is loaded (rc 0, p the
 * plugin, loaded but not active until pgd_registry_activate) or refused (rc
 * < 0, msg says why, p NULL). msg is borrowed for the call. */
typedef void (*pgd_registry_push_cb)(void *ud, int rc, const char *msg, const pgd_plugin_t *p);

/* Loads the file `path` (copied; it must stay where it is while loaded) as
 * version `sha` (64 hex, copied) of `type` (copied; NULL = whatever type it
 * declares) without blocking the loop: pgd_plugin_file_check, then the
 * same probe child with the load deadline, dlopen, checks and init as a
 * directory scan, on a libuv pool thread. Refused: a built-in type (only
 * the shipped files provide shell, java, spark, lua), another type than
 * `type`, and every reason a directory file is refused for. A version
 * already loaded (same sha and type) is answered at once (done may run
 * before this returns). Unlike a directory file, a pushed version may offer
 * a type that is already provided. Returns 0 (done will be called) or
 * -EINVAL/-ENOMEM (it will not). Loop thread of `loop`. */
int pgd_registry_load_pushed(pgd_registry_t *r, uv_loop_t *loop, const char *path,
                             const char *sha, const char *type, pgd_registry_push_cb done,
                             void *ud);

/* Makes version `sha` of `type` the active one (every other file of the
 * type, pushed or from the plugins directory, is set aside). Returns 0, or
 * -ENOENT when that version is not loaded. Loop thread. */
int pgd_registry_activate(pgd_registry_t *r, const char *type, const char *sha);

/* The loaded version `sha` of `type` (active or not), or NULL. Borrowed. */
const pgd_plugin_t *pgd_registry_find_version(const pgd_registry_t *r, const char *type,
                                              const char *sha);

/* ---- one plugin (p must be non-NULL) -------------------------------------- */

/* The SHA-256 of a pushed version (64 hex), or "" for a file of the
 * plugins directory. Borrowed. */
const char *pgd_plugin_sha(const pgd_plugin_t *p);
/* 1 unless another version of its type is active. */
int pgd_plugin_is_active(const pgd_plugin_t *p);

const char *pgd_plugin_type(const pgd_plugin_t *p);    /* borrowed, static */
const char *pgd_plugin_version(const pgd_plugin_t *p); /* borrowed, never NULL */
const char *pgd_plugin_file(const pgd_plugin_t *p);    /* borrowed */
int pgd_plugin_has_generator(const pgd_plugin_t *p);   /* 1 or 0 */
int pgd_plugin_executor_kind(const pgd_plugin_t *p);   /* PGD_EXEC_* */

/* Master, loop thread. Validates a job's params (borrowed; NULL = none,
 * handed to the plugin as {}). First the host's schema check
 * (pgd_plugin_schema_check, plugin/schema.h: -EINVAL when params is not an
 * object or, for an ABI >= 1.2 plugin, does not match the declared schema),
 * then the plugin's validate. 0 when valid (also when the plugin has no
 * validate); otherwise a negative code and the message. */
int pgd_plugin_validate(const pgd_plugin_t *p, const cJSON *params, char *err, size_t errlen);

/* Master, loop thread. Builds the execution request's params from `job`
 * (borrowed; the whole job object): *params_out receives a copy of
 * job.params ({} when absent) amended by the plugin's expand, owned by the
 * caller. On error *params_out is NULL and err says why (-EINVAL when
 * job.params is not an object). */
int pgd_plugin_expand(const pgd_plugin_t *p, const cJSON *job, cJSON **params_out, char *err,
                      size_t errlen);

/* Worker, loop thread. Fills `spec` (initialised by the caller, who always
 * frees it with pgd_procspec_free, even on error) from the request params
 * (borrowed), after the host's schema check (as in pgd_plugin_validate: a
 * request may come from a master of another version). -ENOTSUP when the
 * plugin is not a process executor; -EINVAL when it succeeded without any
 * argv. */
int pgd_plugin_describe_process(const pgd_plugin_t *p, const cJSON *params, pgd_procspec_t *spec,
                                char *err, size_t errlen);

/* Worker, loop thread. 0 when the finished process succeeded, else a
 * negative code and a message. `params` is borrowed. Without the plugin's
 * interpret_exit(_ex): 0 iff exit_code == 0 and term_signal == 0, else -1
 * with "<type>: exit code N" or "<type>: killed by signal N (SIGNAME)".
 * Same as pgd_plugin_interpret_exit_ex without attributes nor state slot. */
int pgd_plugin_interpret_exit(const pgd_plugin_t *p, const cJSON *params, int exit_code,
                              int term_signal, char *err, size_t errlen);

/* Worker, loop thread (ABI 1.2). Like pgd_plugin_interpret_exit, and hands
 * a 1.2 plugin's interpret_exit_ex the attributes gathered so far (`attrs`,
 * borrowed, an object of strings; NULL = none) and the execution's state
 * slot (`exec_state`, borrowed; the slot of the attempt's pgd_outscan_t, or
 * NULL when there is none: the plugin then gets a slot for this call only,
 * released before returning). The slot keeps whatever the plugin leaves in
 * it: release it with pgd_outscan_release / pgd_plugin_exec_state_free. */
int pgd_plugin_interpret_exit_ex(const pgd_plugin_t *p, const cJSON *params, const cJSON *attrs,
                                 void **exec_state, int exit_code, int term_signal, char *err,
                                 size_t errlen);

/* In-process execution services, provided by the worker for one run. log and
 * is_cancelled may be called from the run's thread while the loop thread
 * changes the state they read: they must be thread-safe. Each receives `ud`.
 * `data` and `json` are borrowed for the call (copy them). Any may be NULL. */
typedef struct pgd_run_ops {
  void (*log)(void *ud, const char *data, size_t len);
  int (*is_cancelled)(void *ud);
  void (*set_result)(void *ud, const char *json);
  void *ud;
} pgd_run_ops_t;

/* Any thread except the loop thread (it blocks for the whole run). Runs an
 * in-process plugin on the calling thread with `params` (borrowed; not
 * modified, may be read concurrently) and `ops` (borrowed for the call),
 * after the host's schema check (-EINVAL, as in pgd_plugin_describe_process).
 * 0 on success; -ENOTSUP when the plugin is not an in-process executor;
 * otherwise the plugin's negative code with its message. */
int pgd_plugin_run(const pgd_plugin_t *p, const cJSON *params, const pgd_run_ops_t *ops,
                   char *err, size_t errlen);

/* ---- ABI 1.1: execution attributes, output scan, kill command ----------- */

/* The minor ABI version the plugin declared (0 for a 1.0 plugin). */
int pgd_plugin_abi_minor(const pgd_plugin_t *p);

/* 1 when the plugin implements on_output_line (or on_output_line_ex, ABI
 * >= 1.2) / describe_kill and declared ABI >= 1.1 (a 1.0 plugin's executor
 * table is never read past 1.0), else 0. */
int pgd_plugin_has_output_scan(const pgd_plugin_t *p);
int pgd_plugin_has_kill(const pgd_plugin_t *p);

/* Worker, loop thread. Hands one output line (`line`, `len` bytes, borrowed;
 * need not be NUL-terminated; cut to 4095 bytes) to the plugin's
 * on_output_line, which may add or change string values of `attrs` (a cJSON
 * object owned by the caller; non-objects are refused with -EINVAL).
 * Returns the number of values added or changed (0 when none, or when the
 * plugin has no output scan), or a negative code. */
int pgd_plugin_scan_output(const pgd_plugin_t *p, const cJSON *params, const char *line,
                           size_t len, cJSON *attrs);

/* The same with the execution's state slot (ABI 1.2, see
 * pgd_plugin_interpret_exit_ex for `exec_state`): a 1.2 plugin's
 * on_output_line_ex is called instead of on_output_line. */
int pgd_plugin_scan_output_ex(const pgd_plugin_t *p, const cJSON *params, const char *line,
                              size_t len, cJSON *attrs, void **exec_state);

/* Releases a per-execution state (ABI 1.2): calls the plugin's
 * exec_state_free, else frees it as host->free would, and sets *exec_state
 * to NULL. Nothing when exec_state or *exec_state is NULL. Loop thread. */
void pgd_plugin_exec_state_free(const pgd_plugin_t *p, void **exec_state);

/* Worker, loop thread. Asks the plugin for the process to run when the job
 * is killed. `params` and `attrs` (the execution's attributes, an object of
 * strings, may be NULL) are borrowed; `spec` is initialised by the caller,
 * who always frees it with pgd_procspec_free. Returns 1 when `spec` holds a
 * process to run (argc > 0), 0 when there is nothing to run (no
 * describe_kill, a 1.0 plugin, or an empty argv), or a negative code with a
 * message in err. */
int pgd_plugin_describe_kill(const pgd_plugin_t *p, const cJSON *params, const cJSON *attrs,
                             pgd_procspec_t *spec, char *err, size_t errlen);

/* Splits a process's output (chunks as they come) into lines for
 * pgd_plugin_scan_output. A plain struct owned by the caller; one per
 * attempt; loop thread. Lines end at '\n' (a '\r' before it is dropped);
 * longer than PGD_OUTSCAN_LINE_MAX - 1 bytes are cut. */
#define PGD_OUTSCAN_LINE_MAX 4096
typedef struct pgd_outscan {
  const pgd_plugin_t *plugin; /* borrowed */
  const cJSON *params;        /* borrowed */
  cJSON *attrs;               /* borrowed; receives the attributes */
  size_t len;                 /* bytes in buf */
  int overflow;               /* the current line was cut */
  void *exec_state;           /* the plugin's per-execution state (ABI 1.2),
                               * released by pgd_outscan_release */
  char buf[PGD_OUTSCAN_LINE_MAX];
} pgd_outscan_t;

/* Prepares `s` for one attempt; all three pointers must outlive its use. */
void pgd_outscan_init(pgd_outscan_t *s, const pgd_plugin_t *p, const cJSON *params, cJSON *attrs);

/* Releases the plugin's per-execution state kept in `s` (ABI 1.2); call it
 * once the attempt's last plugin callback has returned, before freeing `s`.
 * Safe to call twice; NULL is ignored. */
void pgd_outscan_release(pgd_outscan_t *s);

/* Feeds `len` bytes of output (borrowed). Calls the plugin for every
 * complete line. Returns the number of attribute values added or changed
 * (so the caller knows when to report them), >= 0. Does nothing when the
 * plugin has no output scan. */
int pgd_outscan_feed(pgd_outscan_t *s, const char *data, size_t len);

/* Scans a last line without a line break, if any (call at process exit).
 * Returns like pgd_outscan_feed. */
int pgd_outscan_flush(pgd_outscan_t *s);

#endif
