/* Pagoda — sandboxed Lua state: limits, whitelist, protected calls.
 *
 * The one sandbox of the project (sandbox.h): compiled into pgd_script for
 * balancers and flow hooks and into the lua plugin for the `lua` job type.
 * So this file uses Lua, libc and common/err.c (pure, compiled into the
 * plugin as well) only: what differs between its users comes in
 * pgd_sandbox_config_t. */
#include "script/sandbox.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>
#include <lualib.h>

#include "common/err.h" /* pure; the plugin compiles common/err.c too */
#include "script/sandbox_int.h"

#define BUDGET_MSG "instruction budget exceeded"
#define CANCEL_MSG "cancelled"
#define TIME_MSG "time limit exceeded"

struct pgd_sandbox {
  lua_State *L;
  char name[64];
  pgd_sandbox_config_t cfg; /* name points to `name` */
  long instructions;
  size_t call_mem_cap;
  size_t state_mem_cap;
  size_t used;       /* bytes allocated now */
  size_t limit;      /* enforced while `enforcing` */
  int enforcing;     /* 1 inside a protected call: refusals raise there */
  int mem_hit;       /* an allocation was refused during this call */
  int stop;          /* 0, or PGD_SANDBOX_EBUDGET / ECANCELED raised by the hook */
  int time_hit;      /* the stop was the wall-clock limit */
  long executed;     /* instructions counted by the hook during this call */
  long time_limit_ms; /* per call, 0 = none */
  int64_t deadline_ns; /* CLOCK_MONOTONIC end of this call, 0 = none */
  int period;        /* instructions until the hook fires next */
  char *trace;       /* split traceback of this call (see pgd_sandbox_chunk_t) */
  size_t tracelen;
};

/* ---- allocator with a cap ------------------------------------------------ */

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  pgd_sandbox_t *sb = ud;
  size_t old = ptr ? osize : 0; /* without ptr, osize is a type tag */
  if (nsize == 0) {
    free(ptr);
    sb->used -= old;
    return NULL;
  }
  if (nsize > old && sb->enforcing && sb->used - old + nsize > sb->limit) {
    sb->mem_hit = 1;
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (!p) {
    sb->mem_hit = 1;
    return NULL;
  }
  sb->used = sb->used - old + nsize;
  return p;
}

/* An error outside any protected call: a bug of the caller, not of the
 * script. Nothing can be unwound, so say what happened and stop. */
static int sb_panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "pagoda: Lua panic (unprotected error): %s\n", msg ? msg : "?");
  abort();
}

static pgd_sandbox_t *sb_of(lua_State *L) {
  void *ud = NULL;
  lua_getallocf(L, &ud);
  return ud;
}

/* ---- instruction budget, time limit and cancellation --------------------- */

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Which limit, if any, stops the call now (sets sb->stop / time_hit). */
static int check_limits(pgd_sandbox_t *sb) {
  if (sb->cfg.cancelled && sb->cfg.cancelled(sb->cfg.cancel_ud)) sb->stop = PGD_SANDBOX_ECANCELED;
  else if (sb->executed >= sb->instructions) sb->stop = PGD_SANDBOX_EBUDGET;
  else if (sb->deadline_ns && now_ns() >= sb->deadline_ns) {
    sb->stop = PGD_SANDBOX_EBUDGET;
    sb->time_hit = 1;
  }
  return sb->stop;
}

static const char *stop_msg(const pgd_sandbox_t *sb) {
  if (sb->stop == PGD_SANDBOX_ECANCELED) return CANCEL_MSG;
  return sb->time_hit ? TIME_MSG : BUDGET_MSG;
}

/* The hook fires after `period` instructions: the rest of the budget, or
 * the poll interval when a cancel callback must be polled. */
static void arm_hook(lua_State *L, pgd_sandbox_t *sb);

static void sb_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  pgd_sandbox_t *sb = sb_of(L);
  if (!sb->stop) {
    sb->executed += sb->period;
    if (!check_limits(sb)) {
      arm_hook(L, sb);
      return;
    }
    /* From now on fire on every instruction, so that a pcall in the script
     * cannot swallow the error and carry on. */
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
  }
  luaL_error(L, "%s", stop_msg(sb));
}

void pgd_sandbox_charge(lua_State *L, long instructions) {
  pgd_sandbox_t *sb = sb_of(L);
  if (!sb->enforcing) return;
  if (instructions > 0) sb->executed += instructions;
  if (!sb->stop && !check_limits(sb)) return;
  lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1); /* as in sb_hook: no pcall gets past it */
  luaL_error(L, "%s", stop_msg(sb));
}

static void arm_hook(lua_State *L, pgd_sandbox_t *sb) {
  long left = sb->instructions - sb->executed;
  if (left > INT_MAX) left = INT_MAX;
  if ((sb->cfg.cancelled || sb->deadline_ns) && left > PGD_SANDBOX_POLL_EVERY)
    left = PGD_SANDBOX_POLL_EVERY;
  sb->period = left > 0 ? (int)left : 1;
  lua_sethook(L, sb_hook, LUA_MASKCOUNT, sb->period);
}

/* ---- whitelisted functions ----------------------------------------------- */

/* print(...): the arguments through tostring, tab-separated, one line to
 * the configured target. While a luaL_Buffer grows, its box must sit right
 * below the value being added: so each piece is pushed and added with
 * luaL_addvalue, and the separator is added before the piece is pushed. */
static int sb_print(lua_State *L) {
  pgd_sandbox_t *sb = sb_of(L);
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    size_t len;
    const char *s = luaL_tolstring(L, i, &len);
    if (sb->cfg.print_arg_max && len > sb->cfg.print_arg_max) {
      lua_pushlstring(L, s, sb->cfg.print_arg_max);
      lua_remove(L, -2);
    }
    luaL_addvalue(&b);
  }
  luaL_addchar(&b, '\n');
  luaL_pushresult(&b);
  size_t len;
  const char *line = lua_tolstring(L, -1, &len);
  if (sb->cfg.print) sb->cfg.print(sb->cfg.print_ud, sb->name, line, len);
  return 0;
}

static int sb_setmetatable(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (lua_type(L, 2) == LUA_TTABLE) {
    if (lua_getfield(L, 2, "__gc") != LUA_TNIL) return luaL_error(L, "__gc metamethods are not allowed in the sandbox");
    lua_pop(L, 1);
  } else {
    luaL_argexpected(L, lua_isnoneornil(L, 2), 2, "nil or table");
  }
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL) return luaL_error(L, "cannot change a protected metatable");
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

static int sb_collectgarbage(lua_State *L) {
  const char *opt = luaL_optstring(L, 1, "count");
  if (strcmp(opt, "count") != 0) return luaL_error(L, "collectgarbage('%s') is not allowed in the sandbox", opt);
  pgd_sandbox_t *sb = sb_of(L);
  lua_pushnumber(L, (lua_Number)sb->used / 1024.0);
  return 1;
}

static const char *const BASE_OK[] = {"assert", "error", "ipairs", "next", "pairs", "pcall",
                                      "rawequal", "rawget", "rawlen", "rawset", "select",
                                      "tonumber", "tostring", "type", "xpcall", "getmetatable",
                                      "_VERSION", NULL};
static const char *const OS_OK[] = {"time", "clock", "date", "difftime", NULL};

/* Copies the named fields (or all when names is NULL) of the table at `src`
 * into a new table left on the stack. */
static void copy_fields(lua_State *L, int src, const char *const *names) {
  src = lua_absindex(L, src);
  lua_newtable(L);
  if (names) {
    for (const char *const *n = names; *n; n++) {
      lua_getfield(L, src, *n);
      lua_setfield(L, -2, *n);
    }
    return;
  }
  lua_pushnil(L);
  while (lua_next(L, src)) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_settable(L, -4);
  }
}

/* Registry key of the pristine library tables (kept out of reach). */
static const char LIBS_KEY[] = "pagoda.sandbox.libs";

/* Opens the libraries once, stores them under LIBS_KEY and removes them
 * from the real globals. Runs inside a protected call. */
static int sb_setup(lua_State *L, void *ud) {
  pgd_sandbox_t *sb = ud;
  luaL_requiref(L, "_G", luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
  lua_pop(L, 6);
  /* Pattern matching and table.move by bounded copies (sandbox_lib.c). */
  pgd_sandbox_bound_libs(L);
  /* No string.dump, even through ("").dump; hide the string metatable. */
  lua_getglobal(L, "string");
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);
  lua_pushliteral(L, "");
  if (lua_getmetatable(L, -1)) {
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  /* libs = {base=..., string=..., ...} in the registry. */
  lua_newtable(L);
  lua_pushglobaltable(L);
  copy_fields(L, -1, BASE_OK);
  lua_setfield(L, -3, "base");
  lua_pop(L, 1);
  const char *libs[] = {"string", "table", "math", "utf8", NULL};
  for (int i = 0; libs[i]; i++) {
    lua_getglobal(L, libs[i]);
    lua_setfield(L, -2, libs[i]);
  }
  if (sb->cfg.libs & PGD_SANDBOX_LIB_COROUTINE) {
    luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 0);
    lua_setfield(L, -2, LUA_COLIBNAME);
  }
  lua_getglobal(L, "os");
  copy_fields(L, -1, OS_OK);
  lua_setfield(L, -3, "os");
  lua_pop(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, LIBS_KEY);
  /* Empty the real globals and package.loaded: only per-chunk _ENVs are
   * used, and nothing hands the full libraries back. */
  lua_pushglobaltable(L);
  lua_pushnil(L);
  while (lua_next(L, -2)) {
    lua_pop(L, 1);
    lua_pushvalue(L, -1);
    lua_pushnil(L);
    lua_rawset(L, -4);
  }
  lua_pop(L, 1);
  return 0;
}

/* Builds a fresh _ENV for one chunk and leaves it on the stack. */
static void push_env(lua_State *L, const pgd_sandbox_t *sb) {
  lua_getfield(L, LUA_REGISTRYINDEX, LIBS_KEY);
  int libs = lua_gettop(L);
  lua_getfield(L, libs, "base");
  copy_fields(L, -1, NULL);
  lua_remove(L, -2);
  int env = lua_gettop(L);
  lua_pushcfunction(L, sb_print);
  lua_setfield(L, env, "print");
  lua_pushcfunction(L, sb_setmetatable);
  lua_setfield(L, env, "setmetatable");
  if (sb->cfg.libs & PGD_SANDBOX_LIB_GC_COUNT) {
    lua_pushcfunction(L, sb_collectgarbage);
    lua_setfield(L, env, "collectgarbage");
  }
  const char *libs_copy[] = {"string", "table", "math", "utf8", "os", LUA_COLIBNAME, NULL};
  for (int i = 0; libs_copy[i]; i++) {
    if (lua_getfield(L, libs, libs_copy[i]) == LUA_TTABLE) {
      copy_fields(L, -1, NULL);
      lua_setfield(L, env, libs_copy[i]);
    }
    lua_pop(L, 1);
  }
  lua_pushvalue(L, env);
  lua_setfield(L, env, "_G");
  lua_remove(L, libs);
}

/* ---- protected calls ----------------------------------------------------- */

/* Message handler: the message (per cfg.plain_error_objects for a value
 * that is not a string) plus the traceback, appended to it or kept aside
 * in sb->trace. No traceback after a limit fired: building it would trip
 * the limit again. */
static int sb_traceback(lua_State *L) {
  pgd_sandbox_t *sb = sb_of(L);
  const char *msg = lua_tostring(L, 1);
  if (!msg && sb->cfg.plain_error_objects) {
    msg = luaL_typename(L, 1);
  } else if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  if (sb->stop || sb->mem_hit) {
    lua_pushstring(L, msg);
    return 1;
  }
  if (sb->trace) {
    luaL_traceback(L, L, NULL, 1);
    snprintf(sb->trace, sb->tracelen, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushstring(L, msg);
    return 1;
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

typedef struct {
  pgd_sandbox_fn fn;
  void *ud;
} trampoline_t;

static int sb_trampoline(lua_State *L) {
  trampoline_t *t = lua_touserdata(L, 1);
  lua_settop(L, 0);
  return t->fn(L, t->ud) == 0 ? 0 : luaL_error(L, "protected function failed");
}

/* pgd_sandbox_call, with the traceback kept aside when trace != NULL. */
static int sb_call(pgd_sandbox_t *sb, pgd_sandbox_fn fn, void *ud, char *err, size_t errlen,
                   char *trace, size_t tracelen) {
  if (!sb || !fn) return PGD_SANDBOX_EINVAL;
  lua_State *L = sb->L;
  int top = lua_gettop(L);
  if (trace && tracelen) trace[0] = '\0';
  if (!lua_checkstack(L, 4)) {
    pgd_set_err(err, errlen, 0, "Lua stack exhausted");
    return PGD_SANDBOX_EMEM;
  }
  trampoline_t t = {fn, ud};
  lua_pushcfunction(L, sb_traceback);
  lua_pushcfunction(L, sb_trampoline);
  lua_pushlightuserdata(L, &t);
  sb->stop = 0;
  sb->time_hit = 0;
  sb->mem_hit = 0;
  sb->executed = 0;
  sb->deadline_ns = sb->time_limit_ms > 0 ? now_ns() + (int64_t)sb->time_limit_ms * 1000000 : 0;
  sb->trace = trace && tracelen ? trace : NULL;
  sb->tracelen = tracelen;
  size_t lim = sb->used + sb->call_mem_cap;
  sb->limit = lim < sb->state_mem_cap ? lim : sb->state_mem_cap;
  sb->enforcing = 1;
  arm_hook(L, sb);
  int rc = lua_pcall(L, 1, 0, top + 1);
  lua_sethook(L, NULL, 0, 0);
  sb->enforcing = 0;
  int out = 0;
  if (rc != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (sb->stop == PGD_SANDBOX_ECANCELED) {
      out = PGD_SANDBOX_ECANCELED;
      pgd_set_err(err, errlen, 0, CANCEL_MSG);
    } else if (sb->stop && sb->time_hit) {
      out = PGD_SANDBOX_EBUDGET;
      pgd_set_err(err, errlen, 0, TIME_MSG " (%ld ms)", sb->time_limit_ms);
    } else if (sb->stop) {
      out = PGD_SANDBOX_EBUDGET;
      pgd_set_err(err, errlen, 0, BUDGET_MSG);
    } else if (sb->mem_hit || rc == LUA_ERRMEM) {
      out = PGD_SANDBOX_EMEM;
      pgd_set_err(err, errlen, 0, "memory cap reached (%s)", msg ? msg : "?");
    } else {
      out = PGD_SANDBOX_ERUN;
      pgd_set_err(err, errlen, 0, "%s", msg ? msg : "?");
    }
  }
  lua_settop(L, top);
  if (sb->mem_hit) lua_gc(L, LUA_GCCOLLECT);
  sb->stop = 0;
  sb->time_hit = 0;
  sb->deadline_ns = 0;
  sb->mem_hit = 0;
  sb->trace = NULL;
  return out;
}

int pgd_sandbox_call(pgd_sandbox_t *sb, pgd_sandbox_fn fn, void *ud, char *err, size_t errlen) {
  return sb_call(sb, fn, ud, err, errlen, NULL, 0);
}

/* ---- lifecycle ----------------------------------------------------------- */

static void apply_limits(pgd_sandbox_t *sb, long instructions, size_t call_mem_cap,
                         size_t state_mem_cap) {
  sb->instructions = instructions > 0 ? instructions : PGD_SANDBOX_DEFAULT_INSTRUCTIONS;
  sb->call_mem_cap = call_mem_cap ? call_mem_cap : PGD_SANDBOX_DEFAULT_CALL_MEM;
  sb->state_mem_cap = state_mem_cap ? state_mem_cap : PGD_SANDBOX_DEFAULT_STATE_MEM;
}

int pgd_sandbox_open(const pgd_sandbox_config_t *cfg, pgd_sandbox_t **out, char *err,
                     size_t errlen) {
  if (!out || !cfg) return PGD_SANDBOX_EINVAL;
  *out = NULL;
  pgd_sandbox_t *sb = calloc(1, sizeof *sb);
  if (!sb) {
    pgd_set_err(err, errlen, 0, "out of memory");
    return PGD_SANDBOX_ENOMEM;
  }
  sb->cfg = *cfg;
  snprintf(sb->name, sizeof sb->name, "%s", cfg->name ? cfg->name : "sandbox");
  sb->cfg.name = sb->name;
  apply_limits(sb, cfg->instructions, cfg->call_mem_cap, cfg->state_mem_cap);
  sb->time_limit_ms = cfg->time_limit_ms > 0 ? cfg->time_limit_ms : 0;
  sb->L = lua_newstate(sb_alloc, sb);
  if (!sb->L) {
    free(sb);
    pgd_set_err(err, errlen, 0, "cannot create a Lua state");
    return PGD_SANDBOX_ENOMEM;
  }
  lua_atpanic(sb->L, sb_panic);
  /* Opening the libraries executes no Lua code, but it allocates: it runs
   * under the memory cap like everything else. */
  int rc = pgd_sandbox_call(sb, sb_setup, sb, err, errlen);
  if (rc != 0) {
    pgd_sandbox_free(sb);
    return rc;
  }
  lua_gc(sb->L, LUA_GCGEN, 0, 0);
  *out = sb;
  return 0;
}

void pgd_sandbox_set_limits(pgd_sandbox_t *sb, long instructions, size_t call_mem_cap,
                            size_t state_mem_cap) {
  if (sb) apply_limits(sb, instructions, call_mem_cap, state_mem_cap);
}

void pgd_sandbox_set_time_limit(pgd_sandbox_t *sb, long ms) {
  if (sb) sb->time_limit_ms = ms > 0 ? ms : 0;
}

void pgd_sandbox_free(pgd_sandbox_t *sb) {
  if (!sb) return;
  if (sb->L) lua_close(sb->L);
  free(sb);
}

lua_State *pgd_sandbox_state(pgd_sandbox_t *sb) { return sb ? sb->L : NULL; }

size_t pgd_sandbox_mem_used(const pgd_sandbox_t *sb) { return sb ? sb->used : 0; }

void pgd_sandbox_unref(pgd_sandbox_t *sb, int ref) {
  if (!sb || ref == LUA_NOREF || ref == LUA_REFNIL) return;
  luaL_unref(sb->L, LUA_REGISTRYINDEX, ref);
}

/* ---- loading and running chunks ------------------------------------------ */

typedef struct {
  pgd_sandbox_t *sb;
  const pgd_sandbox_chunk_t *chunk;
  int env_ref;
  int syntax; /* 1 when compilation failed */
  char msg[512];
} run_ctx_t;

static int sb_run_fn(lua_State *L, void *ud) {
  run_ctx_t *c = ud;
  const pgd_sandbox_chunk_t *ch = c->chunk;
  int rc = luaL_loadbufferx(L, ch->text, ch->len, ch->chunkname ? ch->chunkname : "=script", "t");
  if (rc == LUA_ERRMEM) return lua_error(L); /* the memory cap, not the script's syntax */
  if (rc != LUA_OK) {
    c->syntax = 1;
    snprintf(c->msg, sizeof c->msg, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    return 0;
  }
  push_env(L, c->sb);
  if (ch->env_setup && ch->env_setup(L, ch->setup_ud) != 0)
    return luaL_error(L, "environment setup failed");
  lua_pushvalue(L, -1);
  if (!lua_setupvalue(L, -3, 1)) lua_pop(L, 1); /* the chunk's first upvalue is _ENV */
  lua_insert(L, -2);                            /* env, chunk */
  lua_call(L, 0, 1);                            /* env, first result */
  if (ch->on_result && ch->on_result(L, ch->result_ud) != 0)
    return luaL_error(L, "result handler failed");
  lua_pop(L, 1);
  if (ch->env_ref) c->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

int pgd_sandbox_run(pgd_sandbox_t *sb, const pgd_sandbox_chunk_t *chunk, char *err, size_t errlen) {
  if (!sb || !chunk || !chunk->text) return PGD_SANDBOX_EINVAL;
  if (chunk->env_ref) *chunk->env_ref = LUA_NOREF;
  run_ctx_t c = {.sb = sb, .chunk = chunk, .env_ref = LUA_NOREF};
  int rc = sb_call(sb, sb_run_fn, &c, err, errlen, chunk->trace, chunk->tracelen);
  if (rc != 0) return rc;
  if (c.syntax) {
    pgd_set_err(err, errlen, 0, "%s", c.msg);
    return PGD_SANDBOX_ESYNTAX;
  }
  if (chunk->env_ref) *chunk->env_ref = c.env_ref;
  return 0;
}

int pgd_sandbox_load(pgd_sandbox_t *sb, const char *chunkname, const char *text, size_t len,
                     pgd_sandbox_fn env_setup, void *setup_ud, int *env_ref, char *err,
                     size_t errlen) {
  if (!env_ref) return PGD_SANDBOX_EINVAL;
  *env_ref = LUA_NOREF;
  pgd_sandbox_chunk_t ch = {.chunkname = chunkname, .text = text, .len = len,
                            .env_setup = env_setup, .setup_ud = setup_ud, .env_ref = env_ref};
  return pgd_sandbox_run(sb, &ch, err, errlen);
}
