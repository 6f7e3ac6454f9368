/* Pagoda — sandboxed Lua state: limits, whitelist, protected calls. */
#include "script/sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "common/log.h"

#define BUDGET_MSG "instruction budget exceeded"

struct pgd_sandbox {
  lua_State *L;
  char name[64];
  long instructions;
  size_t call_mem_cap;
  size_t state_mem_cap;
  size_t used;      /* bytes allocated now */
  size_t limit;     /* enforced while `enforcing` */
  int enforcing;    /* 1 inside a protected call: refusals raise there */
  int budget_hit;   /* the hook fired during this call */
  int mem_hit;      /* an allocation was refused during this call */
};

/* ---- allocator with a cap ------------------------------------------------ */

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  pgd_sandbox_t *sb = ud;
  size_t old = ptr ? osize : 0;
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
  if (!p) return NULL;
  sb->used = sb->used - old + nsize;
  return p;
}

static int sb_panic(lua_State *L) {
  const char *msg = lua_tostring(L, -1);
  PGD_ERROR("script", "Lua panic (unprotected error): %s", msg ? msg : "?");
  abort();
}

/* ---- instruction budget -------------------------------------------------- */

static pgd_sandbox_t *sb_of(lua_State *L) {
  void *ud = NULL;
  lua_getallocf(L, &ud);
  return ud;
}

static void sb_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  pgd_sandbox_t *sb = sb_of(L);
  if (!sb->budget_hit) {
    sb->budget_hit = 1;
    /* From now on fire on every instruction, so that a pcall in the script
     * cannot swallow the error and carry on. */
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
  }
  luaL_error(L, BUDGET_MSG);
}

/* ---- whitelisted functions ----------------------------------------------- */

static int sb_print(lua_State *L) {
  pgd_sandbox_t *sb = sb_of(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  int n = lua_gettop(L);
  for (int i = 1; i <= n; i++) {
    size_t len;
    const char *s = luaL_tolstring(L, i, &len);
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_addlstring(&b, s, len > 1024 ? 1024 : len);
    lua_pop(L, 1);
  }
  luaL_pushresult(&b);
  PGD_INFO("script", "%s: %s", sb->name, lua_tostring(L, -1));
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
static const char *const OS_OK[] = {"time", "clock", "date", NULL};

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
  (void)ud;
  luaL_requiref(L, "_G", luaopen_base, 1);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
  luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 1);
  lua_pop(L, 6);
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
  lua_getglobal(L, "os");
  copy_fields(L, -1, OS_OK);
  lua_setfield(L, -3, "os");
  lua_pop(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, LIBS_KEY);
  /* Empty the real globals: only per-chunk _ENVs are used. */
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
static void push_env(lua_State *L) {
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
  lua_pushcfunction(L, sb_collectgarbage);
  lua_setfield(L, env, "collectgarbage");
  const char *libs_copy[] = {"string", "table", "math", "utf8", "os", NULL};
  for (int i = 0; libs_copy[i]; i++) {
    lua_getfield(L, libs, libs_copy[i]);
    copy_fields(L, -1, NULL);
    lua_setfield(L, env, libs_copy[i]);
    lua_pop(L, 1);
  }
  lua_pushvalue(L, env);
  lua_setfield(L, env, "_G");
  lua_remove(L, libs);
}

/* ---- protected calls ----------------------------------------------------- */

static int sb_traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  pgd_sandbox_t *sb = sb_of(L);
  if (sb->budget_hit || sb->mem_hit) {
    /* The traceback itself would trip the limits again: keep the message. */
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

static void set_err(char *err, size_t errlen, const char *fmt, const char *s) {
  if (err && errlen) snprintf(err, errlen, fmt, s ? s : "?");
}

int pgd_sandbox_call(pgd_sandbox_t *sb, pgd_sandbox_fn fn, void *ud, char *err, size_t errlen) {
  if (!sb || !fn) return PGD_SANDBOX_EINVAL;
  lua_State *L = sb->L;
  int top = lua_gettop(L);
  if (!lua_checkstack(L, 4)) {
    set_err(err, errlen, "%s", "Lua stack exhausted");
    return PGD_SANDBOX_EMEM;
  }
  trampoline_t t = {fn, ud};
  lua_pushcfunction(L, sb_traceback);
  lua_pushcfunction(L, sb_trampoline);
  lua_pushlightuserdata(L, &t);
  sb->budget_hit = 0;
  sb->mem_hit = 0;
  size_t lim = sb->used + sb->call_mem_cap;
  sb->limit = lim < sb->state_mem_cap ? lim : sb->state_mem_cap;
  sb->enforcing = 1;
  lua_sethook(L, sb_hook, LUA_MASKCOUNT, (int)sb->instructions);
  int rc = lua_pcall(L, 1, 0, top + 1);
  lua_sethook(L, NULL, 0, 0);
  sb->enforcing = 0;
  int out = 0;
  if (rc != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (sb->budget_hit) {
      out = PGD_SANDBOX_EBUDGET;
      set_err(err, errlen, "%s", BUDGET_MSG);
    } else if (sb->mem_hit || rc == LUA_ERRMEM) {
      out = PGD_SANDBOX_EMEM;
      set_err(err, errlen, "memory cap reached (%s)", msg);
    } else {
      out = PGD_SANDBOX_ERUN;
      set_err(err, errlen, "%s", msg);
    }
  }
  lua_settop(L, top);
  if (sb->mem_hit) lua_gc(L, LUA_GCCOLLECT);
  sb->budget_hit = 0;
  sb->mem_hit = 0;
  return out;
}

/* ---- lifecycle ----------------------------------------------------------- */

static void apply_limits(pgd_sandbox_t *sb, long instructions, size_t call_mem_cap,
                         size_t state_mem_cap) {
  sb->instructions = instructions > 0 ? instructions : PGD_SANDBOX_DEFAULT_INSTRUCTIONS;
  if (sb->instructions > 2000000000L) sb->instructions = 2000000000L;
  sb->call_mem_cap = call_mem_cap ? call_mem_cap : PGD_SANDBOX_DEFAULT_CALL_MEM;
  sb->state_mem_cap = state_mem_cap ? state_mem_cap : PGD_SANDBOX_DEFAULT_STATE_MEM;
}

int pgd_sandbox_new(const char *name, long instructions, size_t call_mem_cap,
                    size_t state_mem_cap, pgd_sandbox_t **out, char *err, size_t errlen) {
  if (!out) return PGD_SANDBOX_EINVAL;
  *out = NULL;
  pgd_sandbox_t *sb = calloc(1, sizeof *sb);
  if (!sb) {
    set_err(err, errlen, "%s", "out of memory");
    return PGD_SANDBOX_ENOMEM;
  }
  snprintf(sb->name, sizeof sb->name, "%s", name ? name : "sandbox");
  apply_limits(sb, instructions, call_mem_cap, state_mem_cap);
  sb->L = lua_newstate(sb_alloc, sb);
  if (!sb->L) {
    free(sb);
    set_err(err, errlen, "%s", "cannot create a Lua state");
    return PGD_SANDBOX_ENOMEM;
  }
  lua_atpanic(sb->L, sb_panic);
  /* Opening the libraries is not limited by the instruction budget's
   * purpose but runs under it anyway (it executes no Lua code). */
  int rc = pgd_sandbox_call(sb, sb_setup, NULL, err, errlen);
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

/* ---- loading chunks ------------------------------------------------------ */

typedef struct {
  const char *chunkname;
  const char *text;
  size_t len;
  pgd_sandbox_fn setup;
  void *setup_ud;
  int env_ref;
  int syntax;           /* 1 when compilation failed */
  char msg[512];
} load_ctx_t;

static int sb_load_fn(lua_State *L, void *ud) {
  load_ctx_t *c = ud;
  int rc = luaL_loadbufferx(L, c->text, c->len, c->chunkname, "t");
  if (rc != LUA_OK) {
    c->syntax = 1;
    snprintf(c->msg, sizeof c->msg, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "?");
    return 0;
  }
  push_env(L);
  if (c->setup && c->setup(L, c->setup_ud) != 0) return luaL_error(L, "environment setup failed");
  lua_pushvalue(L, -1);
  if (!lua_setupvalue(L, -3, 1)) lua_pop(L, 1); /* the chunk's first upvalue is _ENV */
  lua_insert(L, -2);                            /* env, chunk */
  lua_call(L, 0, 0);
  c->env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

int pgd_sandbox_load(pgd_sandbox_t *sb, const char *chunkname, const char *text, size_t len,
                     pgd_sandbox_fn env_setup, void *setup_ud, int *env_ref, char *err,
                     size_t errlen) {
  if (!sb || !text || !env_ref) return PGD_SANDBOX_EINVAL;
  *env_ref = LUA_NOREF;
  load_ctx_t c = {.chunkname = chunkname ? chunkname : "=script", .text = text, .len = len,
                  .setup = env_setup, .setup_ud = setup_ud, .env_ref = LUA_NOREF};
  int rc = pgd_sandbox_call(sb, sb_load_fn, &c, err, errlen);
  if (rc != 0) return rc;
  if (c.syntax) {
    set_err(err, errlen, "%s", c.msg);
    return PGD_SANDBOX_ESYNTAX;
  }
  *env_ref = c.env_ref;
  return 0;
}
