/* Pagoda — a sandboxed Lua state (core/script).
 *
 * One pgd_sandbox_t owns one lua_State that runs untrusted text scripts: Lua
 * balancers today, DAG hooks and the `lua` job plugin later. What a script
 * can reach:
 *
 *   base     assert error ipairs next pairs pcall xpcall rawequal rawget
 *            rawlen rawset select tonumber tostring type print (to the log)
 *            getmetatable setmetatable (refuses a metatable with __gc)
 *            collectgarbage("count") only;  _VERSION
 *   string   everything but string.dump; the string metatable is hidden
 *   table math utf8   whole libraries (math.random is allowed)
 *   os       os.time, os.clock, os.date (pure functions of the clock)
 *
 * Not there: io, os.execute/getenv/remove/exit..., load, loadfile, dofile,
 * require, package, debug, coroutine, string.dump. Chunks are loaded as text
 * only (mode "t"): precompiled bytecode is refused.
 *
 * Limits, per call (pgd_sandbox_call) and for the top level of a chunk:
 *   - instruction budget: a LUA_MASKCOUNT hook raises "instruction budget
 *     exceeded"; once it fired, every further instruction of that call raises
 *     again, so a script cannot pcall its way past it;
 *   - memory: the call may grow the state by at most `call_mem_cap` bytes, and
 *     the whole state never exceeds `state_mem_cap`; a refused allocation is a
 *     Lua "not enough memory" error.
 * After a refused call the state stays usable for the next call.
 *
 * Each chunk gets its own _ENV table (a fresh copy of the whitelist), so two
 * scripts in one sandbox do not see each other's globals.
 *
 * Threads: a sandbox is used by one thread at a time (the master's loop
 * thread for balancers); different sandboxes are independent.
 * Added in 0.2 (issue 5).
 */
#ifndef PAGODA_SCRIPT_SANDBOX_H
#define PAGODA_SCRIPT_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <lua.h>

typedef struct pgd_sandbox pgd_sandbox_t;

/* Default limits. */
#define PGD_SANDBOX_DEFAULT_INSTRUCTIONS 1000000L
#define PGD_SANDBOX_DEFAULT_CALL_MEM (8u << 20)   /* 8 MiB per call */
#define PGD_SANDBOX_DEFAULT_STATE_MEM (64u << 20) /* 64 MiB per state */

/* Error codes (negative). */
#define PGD_SANDBOX_ENOMEM (-12)  /* the state could not be created */
#define PGD_SANDBOX_ESYNTAX (-1)  /* chunk failed to compile */
#define PGD_SANDBOX_ERUN (-2)     /* a Lua error (message filled) */
#define PGD_SANDBOX_EBUDGET (-3)  /* instruction budget exceeded */
#define PGD_SANDBOX_EMEM (-4)     /* memory cap reached */
#define PGD_SANDBOX_EINVAL (-22)

/* Creates a sandbox. `name` (copied) prefixes log lines of print().
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

/* Compiles `text` (borrowed, `len` bytes, text only) as chunk `chunkname`
 * (borrowed; shown in messages, e.g. "@conf/balancers/rr.lua"), gives it a
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

/* Changes the limits for the following calls (same defaults as _new). */
void pgd_sandbox_set_limits(pgd_sandbox_t *sb, long instructions, size_t call_mem_cap,
                            size_t state_mem_cap);

/* Releases a registry reference (LUA_NOREF and LUA_REFNIL are ignored). */
void pgd_sandbox_unref(pgd_sandbox_t *sb, int ref);

/* Runs fn(L, ud) in a protected call with a traceback message handler, under
 * a fresh instruction budget and per-call memory cap. Returns 0, or
 * PGD_SANDBOX_ERUN / EBUDGET / EMEM with `err` filled (message plus
 * traceback, cut to errlen). The Lua stack is left as it was. */
int pgd_sandbox_call(pgd_sandbox_t *sb, pgd_sandbox_fn fn, void *ud, char *err, size_t errlen);

/* Bytes the state uses now. */
size_t pgd_sandbox_mem_used(const pgd_sandbox_t *sb);

/* ---- JSON bridge (use inside a pgd_sandbox_fn: both may raise Lua errors) */

/* Maximum nesting followed by the two converters below. */
#define PGD_SANDBOX_JSON_DEPTH 32
/* Maximum number of values one Lua→JSON conversion produces. */
#define PGD_SANDBOX_JSON_NODES 100000

/* Pushes `json` (borrowed; NULL pushes nil) as a Lua value: objects and arrays
 * become tables (arrays 1-based), JSON null becomes nil (dropped from tables),
 * numbers become integers when they are whole and fit, else floats. Nesting
 * deeper than PGD_SANDBOX_JSON_DEPTH raises a Lua error. */
void pgd_sandbox_push_json(lua_State *L, const cJSON *json);

/* Converts the Lua value at `idx` to JSON. Returns a new cJSON (owned by the
 * caller) or NULL with `err` filled: functions, userdata, threads, tables
 * with keys that are neither all 1..n nor all strings, cycles, nesting deeper
 * than PGD_SANDBOX_JSON_DEPTH or more than PGD_SANDBOX_JSON_NODES values are
 * refused. A table whose keys are exactly 1..n is an array; an empty table is
 * an empty object; NaN and infinities are refused. Does not raise. */
cJSON *pgd_sandbox_to_json(lua_State *L, int idx, char *err, size_t errlen);

#endif
