/* Pagoda — a sandboxed Lua state: ONE source for every Lua the project runs
 * (core/script/sandbox.c): balancers and flow hooks in the master, and the
 * `lua` job type, whose plugin compiles this same file (a plugin must not
 * link host code, so sandbox.c depends on Lua and libc only; the host's
 * defaults — print to the daemon log — are in sandbox_log.c, the cJSON
 * bridge in sandbox_json.h).
 *
 * What a script can reach (every sandbox):
 *
 *   base     assert error ipairs next pairs pcall xpcall rawequal rawget
 *            rawlen rawset select tonumber tostring type print
 *            getmetatable setmetatable (refuses a metatable with __gc); _VERSION
 *   string   everything but string.dump; the string metatable is hidden
 *   table math utf8   whole libraries (math.random is allowed)
 *   os       os.time, os.clock, os.date, os.difftime (pure functions of the clock)
 * and, when its configuration asks for them (pgd_sandbox_config_t.libs):
 *   coroutine                 the whole library    (PGD_SANDBOX_LIB_COROUTINE)
 *   collectgarbage("count")   and no other option  (PGD_SANDBOX_LIB_GC_COUNT)
 *
 * Not there: io, os.execute/getenv/remove/exit..., load, loadfile, dofile,
 * require, package, debug, warn, string.dump. Chunks are loaded as text only
 * (mode "t"): precompiled bytecode is refused.
 *
 * Limits, per call (pgd_sandbox_call, pgd_sandbox_run) and for the top level
 * of a chunk:
 *   - instruction budget: a LUA_MASKCOUNT hook raises "instruction budget
 *     exceeded"; once it fired, every further instruction of that call raises
 *     again, so a script cannot pcall its way past it;
 *   - wall-clock time limit (optional; the host's sandboxes have one): the
 *     clock is read every PGD_SANDBOX_POLL_EVERY instructions and the call
 *     raises "time limit exceeded" (code PGD_SANDBOX_EBUDGET) once it ran
 *     longer, with the same no-pcall-escape rule;
 *   - cancellation (optional): a callback polled every
 *     PGD_SANDBOX_POLL_EVERY instructions stops the call the same way;
 *   - C library functions whose loops run no Lua instruction cannot hide
 *     from these limits: string.find / match / gmatch / gsub (patterns and
 *     plain finds) and table.move are bounded copies that charge their steps
 *     to the budget and look at the clock and the cancel callback while they
 *     run (sandbox_lib.c); string.rep, .., table.concat and the like are
 *     bounded by the memory cap; everything else is linear in memory the
 *     call could allocate, or calls back into Lua where the hook fires;
 *   - memory: the call may grow the state by at most `call_mem_cap` bytes, and
 *     the whole state never exceeds `state_mem_cap`; a refused allocation is a
 *     Lua "not enough memory" error.
 * After a refused call the state stays usable for the next call.
 *
 * Each chunk gets its own _ENV table (a fresh copy of the whitelist), so two
 * scripts in one sandbox do not see each other's globals.
 *
 * Threads: a sandbox is used by one thread at a time (for balancers and
 * hooks, the master's script threads while its loop thread waits, or the
 * loop thread itself when it compiles or loads; the run's own thread for a
 * lua job); different sandboxes are independent.
 * Added in 0.2 (issue 5); one source for the host and the lua plugin since
 * issue 11.
 */
#ifndef PAGODA_SCRIPT_SANDBOX_H
#define PAGODA_SCRIPT_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include <lua.h>

typedef struct pgd_sandbox pgd_sandbox_t;

/* Default limits. */
#define PGD_SANDBOX_DEFAULT_INSTRUCTIONS 1000000L
#define PGD_SANDBOX_DEFAULT_CALL_MEM (8u << 20)   /* 8 MiB per call */
#define PGD_SANDBOX_DEFAULT_STATE_MEM (64u << 20) /* 64 MiB per state */
#define PGD_SANDBOX_DEFAULT_TIME_MS 1000L         /* host sandboxes, per call */

/* Error codes (negative). */
#define PGD_SANDBOX_ENOMEM (-12)  /* the state could not be created */
#define PGD_SANDBOX_ESYNTAX (-1)  /* chunk failed to compile */
#define PGD_SANDBOX_ERUN (-2)     /* a Lua error (message filled) */
#define PGD_SANDBOX_EBUDGET (-3)  /* instruction budget exceeded */
#define PGD_SANDBOX_EMEM (-4)     /* memory cap reached */
#define PGD_SANDBOX_ECANCELED (-5) /* the cancel callback stopped the call */
#define PGD_SANDBOX_EINVAL (-22)

/* Instructions between two polls of the cancel callback. */
#define PGD_SANDBOX_POLL_EVERY 1000

/* Optional libraries (pgd_sandbox_config_t.libs). */
#define PGD_SANDBOX_LIB_COROUTINE 0x1u /* the coroutine library */
#define PGD_SANDBOX_LIB_GC_COUNT 0x2u  /* collectgarbage("count"), nothing else */

/* Where print() goes: `line` is the arguments as tostring() gives them,
 * separated by tabs and ended by one '\n' (`len` bytes, borrowed for the
 * call). Runs on the sandbox's thread, inside the protected call. */
typedef void (*pgd_sandbox_print_cb)(void *ud, const char *name, const char *line, size_t len);
/* Returns 1 to stop the running call (PGD_SANDBOX_ECANCELED). */
typedef int (*pgd_sandbox_cancel_cb)(void *ud);

/* What differs between the users of the sandbox. Zeroed fields take the
 * defaults. */
typedef struct {
  const char *name;     /* copied (63 bytes kept); passed to `print` */
  long instructions;    /* budget per call, <= 0: PGD_SANDBOX_DEFAULT_INSTRUCTIONS */
  size_t call_mem_cap;  /* growth per call, 0: PGD_SANDBOX_DEFAULT_CALL_MEM */
  size_t state_mem_cap; /* whole state, 0: PGD_SANDBOX_DEFAULT_STATE_MEM */
  long time_limit_ms;   /* wall clock per call, <= 0: none */
  unsigned libs;        /* PGD_SANDBOX_LIB_* */
  pgd_sandbox_print_cb print; /* NULL: print() discards its arguments */
  void *print_ud;
  size_t print_arg_max; /* bytes kept of each print() argument, 0: all */
  pgd_sandbox_cancel_cb cancelled; /* NULL: no polling */
  void *cancel_ud;
  /* How an error value that is not a string is reported: 0 as Lua's own
   * interpreter does ("(error object is a table value)", or its
   * __tostring), 1 by its type name alone ("table"). */
  int plain_error_objects;
} pgd_sandbox_config_t;

/* Creates a sandbox from `cfg` (borrowed for the call). Returns 0 and *out
 * (owned by caller: pgd_sandbox_free), or a negative code with `err`
 * filled. */
int pgd_sandbox_open(const pgd_sandbox_config_t *cfg, pgd_sandbox_t **out, char *err,
                     size_t errlen);

/* The host's sandbox (sandbox_log.c, not in the lua plugin): print() goes
 * to the daemon log at INFO as "<name>: <line>", each argument cut to
 * 1024 bytes; collectgarbage("count") is allowed; no coroutines; a call
 * may run PGD_SANDBOX_DEFAULT_TIME_MS of wall-clock time
 * (pgd_sandbox_set_time_limit changes it).
 * `name` (copied) prefixes log lines of print().
 * `instructions` <= 0, `call_mem_cap` == 0 or `state_mem_cap` == 0 take the
 * defaults. Returns 0 and *out (owned by caller: pgd_sandbox_free), or a
 * negative code with `err` filled. */
int pgd_sandbox_new(const char *name, long instructions, size_t call_mem_cap,
                    size_t state_mem_cap, pgd_sandbox_t **out, char *err, size_t errlen);

/* Closes the state and frees everything. NULL is ignored. */
void pgd_sandbox_free(pgd_sandbox_t *sb);

/* The underlying state, for pushing arguments inside a protected function
 * (see pgd_sandbox_call). Borrowed; valid until pgd_sandbox_free. */
lua_State *pgd_sandbox_state(pgd_sandbox_t *sb);

/* The C function run by pgd_sandbox_call inside a protected call. It pushes
 * the arguments it needs, calls Lua with lua_call (errors propagate to the
 * protected call, which is the point), reads the results and returns 0.
 * Every Lua API use that may allocate must happen in here. */
typedef int (*pgd_sandbox_fn)(lua_State *L, void *ud);

/* pgd_sandbox_run that keeps the chunk's _ENV: compiles `text` (borrowed,
 * `len` bytes, text only) as chunk `chunkname` (borrowed; shown in
 * messages, e.g. "@conf/balancers/rr.lua"), gives it a
 * fresh whitelisted _ENV and runs its top level under the limits. When
 * `env_setup` is not NULL it is called first, inside the protected call, with
 * the new _ENV on top of the stack (it must leave the stack as it found it)
 * and `setup_ud`: the place to add host functions. On success
 * returns 0 and *env_ref, a registry reference to that _ENV table (release it
 * with pgd_sandbox_unref). On failure returns PGD_SANDBOX_ESYNTAX or a call
 * error code, with `err` filled, and the state is unchanged for other chunks. */
int pgd_sandbox_load(pgd_sandbox_t *sb, const char *chunkname, const char *text, size_t len,
                     pgd_sandbox_fn env_setup, void *setup_ud, int *env_ref, char *err,
                     size_t errlen);

/* One chunk run by pgd_sandbox_run. All pointers are borrowed for the call. */
typedef struct {
  const char *chunkname; /* shown in messages, e.g. "@conf/balancers/rr.lua"; NULL: "=script" */
  const char *text;      /* `len` bytes of Lua source (text only) */
  size_t len;
  /* Optional, inside the protected call before the top level runs, with
   * the chunk's new _ENV on top of the stack (leave the stack as found):
   * the place to add host functions and values. */
  pgd_sandbox_fn env_setup;
  void *setup_ud;
  /* Optional, inside the protected call after the top level returned, with
   * its first result (nil when none) on top of the stack (leave it there). */
  pgd_sandbox_fn on_result;
  void *result_ud;
  /* Optional: when not NULL, a run-time error puts the message alone in
   * err and the traceback ("stack traceback:\n...") here; when NULL, err
   * holds the message followed by the traceback. */
  char *trace;
  size_t tracelen;
  /* Optional: when not NULL, receives a registry reference to the chunk's
   * _ENV (release with pgd_sandbox_unref), LUA_NOREF on failure. */
  int *env_ref;
} pgd_sandbox_chunk_t;

/* Compiles and runs one chunk as described by `chunk`, in one protected
 * call under the limits. Returns 0, PGD_SANDBOX_ESYNTAX (err: the compiler's
 * message) or a call error code (ERUN / EBUDGET / EMEM / ECANCELED) with
 * `err` filled; the state stays usable. */
int pgd_sandbox_run(pgd_sandbox_t *sb, const pgd_sandbox_chunk_t *chunk, char *err, size_t errlen);

/* Changes the limits for the following calls (same defaults as _new). */
void pgd_sandbox_set_limits(pgd_sandbox_t *sb, long instructions, size_t call_mem_cap,
                            size_t state_mem_cap);

/* Changes the wall-clock limit of the following calls (<= 0: none). */
void pgd_sandbox_set_time_limit(pgd_sandbox_t *sb, long ms);

/* Releases a registry reference (LUA_NOREF and LUA_REFNIL are ignored). */
void pgd_sandbox_unref(pgd_sandbox_t *sb, int ref);

/* Runs fn(L, ud) in a protected call with a traceback message handler, under
 * a fresh instruction budget and per-call memory cap. Returns 0, or
 * PGD_SANDBOX_ERUN / EBUDGET / EMEM / ECANCELED with `err` filled (message
 * plus traceback, cut to errlen). The Lua stack is left as it was. */
int pgd_sandbox_call(pgd_sandbox_t *sb, pgd_sandbox_fn fn, void *ud, char *err, size_t errlen);

/* Bytes the state uses now. */
size_t pgd_sandbox_mem_used(const pgd_sandbox_t *sb);

#endif
