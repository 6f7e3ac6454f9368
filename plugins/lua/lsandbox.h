/* Pagoda — a Lua 5.4 sandbox: one lua_State with a memory cap, an
 * instruction budget, a cancellation check, text chunks only and a chosen
 * set of libraries (no io, no os beyond time, no loading of code or files).
 *
 * Self-contained (only Lua and libc), because the `lua` plugin must not link
 * host code: the same file can be compiled into core/script as well.
 *
 * Thread rules: a sandbox is used by one thread at a time.
 * Ownership: every pointer argument is borrowed for the call.
 */
#ifndef PAGODA_LSANDBOX_H
#define PAGODA_LSANDBOX_H

#include <lua.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lsb lsb_t;

/* Outcome codes of lsb_load / lsb_pcall. */
#define LSB_OK 0
#define LSB_ERR_SYNTAX (-1)    /* the chunk does not compile (or is bytecode) */
#define LSB_ERR_RUNTIME (-2)   /* the script raised an error */
#define LSB_ERR_BUDGET (-3)    /* the instruction budget was exhausted */
#define LSB_ERR_MEMORY (-4)    /* the memory cap was reached */
#define LSB_ERR_CANCELLED (-5) /* the cancel callback reported 1 */

typedef struct lsb_limits {
  size_t max_memory;         /* bytes the state may hold (> 0) */
  uint64_t max_instructions; /* VM instructions per lsb_pcall (> 0) */
  /* Optional: polled every LSB_HOOK_EVERY instructions; 1 stops the run. */
  int (*cancelled)(void *ud);
  void *ud;
} lsb_limits_t;

#define LSB_HOOK_EVERY 1000

/* A new sandbox (owned by the caller, lsb_free), or NULL when out of memory.
 * Opens base (without dofile, loadfile, load, require, collectgarbage),
 * string (without dump), table, math, utf8, coroutine, and os with time,
 * clock, date and difftime only. */
lsb_t *lsb_new(const lsb_limits_t *limits);
void lsb_free(lsb_t *sb);

/* The state, to push values and set globals (valid until lsb_free). */
lua_State *lsb_state(lsb_t *sb);

/* Compiles `code` (`len` bytes, text only) as chunk `name` and pushes it.
 * LSB_OK, or LSB_ERR_SYNTAX / LSB_ERR_MEMORY with a message in err. */
int lsb_load(lsb_t *sb, const char *code, size_t len, const char *name, char *err, size_t errlen);

/* Calls the function below `nargs` arguments on the stack, keeping
 * `nresults` results (LUA_MULTRET allowed), under the instruction budget
 * (fresh for each call), the memory cap and the cancel check. On error the
 * stack holds nothing of the call, err holds the message and, when
 * `trace` is non-NULL, the traceback goes into trace (may be empty). */
int lsb_pcall(lsb_t *sb, int nargs, int nresults, char *err, size_t errlen, char *trace,
              size_t tracelen);

/* Bytes currently held by the state. */
size_t lsb_memory(const lsb_t *sb);

#endif
