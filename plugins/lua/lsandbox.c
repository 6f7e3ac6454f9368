/* The Lua sandbox (see lsandbox.h). */
#include "lsandbox.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lsb {
  lua_State *L;
  size_t used, max_memory;
  uint64_t max_instructions, executed;
  int (*cancelled)(void *ud);
  void *ud;
  int memory_hit; /* the allocator refused a block */
  int stop;       /* LSB_ERR_BUDGET / LSB_ERR_CANCELLED raised by the hook */
};

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  lsb_t *sb = ud;
  if (!ptr) osize = 0; /* osize is a type tag then */
  if (nsize == 0) {
    free(ptr);
    sb->used -= osize;
    return NULL;
  }
  if (nsize > osize && nsize - osize > sb->max_memory - sb->used) {
    sb->memory_hit = 1;
    return NULL;
  }
  void *n = realloc(ptr, nsize);
  if (!n) {
    sb->memory_hit = 1;
    return NULL;
  }
  sb->used = sb->used - osize + nsize;
  return n;
}

static void sb_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lsb_t *sb = *(lsb_t **)lua_getextraspace(L);
  if (!sb->stop) {
    sb->executed += LSB_HOOK_EVERY;
    if (sb->cancelled && sb->cancelled(sb->ud)) sb->stop = LSB_ERR_CANCELLED;
    else if (sb->executed > sb->max_instructions) sb->stop = LSB_ERR_BUDGET;
    if (!sb->stop) return;
    /* From now on every instruction raises the error again, so a script
     * that catches it with pcall is unwound to the top anyway. */
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
  }
  if (sb->stop == LSB_ERR_CANCELLED) luaL_error(L, "cancelled");
  luaL_error(L, "instruction budget of %I exceeded", (lua_Integer)sb->max_instructions);
}

/* Removes `names` from the table on top of the stack. */
static void drop_fields(lua_State *L, const char *const *names) {
  for (; *names; names++) {
    lua_pushnil(L);
    lua_setfield(L, -2, *names);
  }
}

static int open_libs(lua_State *L) {
  static const luaL_Reg libs[] = {
      {LUA_GNAME, luaopen_base},        {LUA_TABLIBNAME, luaopen_table},
      {LUA_STRLIBNAME, luaopen_string}, {LUA_MATHLIBNAME, luaopen_math},
      {LUA_UTF8LIBNAME, luaopen_utf8},  {LUA_COLIBNAME, luaopen_coroutine},
      {NULL, NULL}};
  for (const luaL_Reg *l = libs; l->func; l++) {
    luaL_requiref(L, l->name, l->func, 1);
    lua_pop(L, 1);
  }
  lua_pushglobaltable(L);
  static const char *const base_drop[] = {"dofile", "loadfile", "load", "require",
                                          "collectgarbage", NULL};
  drop_fields(L, base_drop);
  lua_pop(L, 1);
  lua_getglobal(L, LUA_STRLIBNAME);
  static const char *const str_drop[] = {"dump", NULL};
  drop_fields(L, str_drop);
  lua_pop(L, 1);
  /* os: time only. Open it aside and copy four functions. */
  luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
  lua_newtable(L);
  static const char *const keep[] = {"time", "clock", "date", "difftime", NULL};
  for (const char *const *k = keep; *k; k++) {
    lua_getfield(L, -2, *k);
    lua_setfield(L, -2, *k);
  }
  lua_setglobal(L, LUA_OSLIBNAME);
  lua_pop(L, 1);
  /* package.loaded must not hand the full libraries back: there is no
   * require, but clear it anyway. */
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  return 0;
}

lsb_t *lsb_new(const lsb_limits_t *limits) {
  if (!limits || !limits->max_memory || !limits->max_instructions) return NULL;
  lsb_t *sb = calloc(1, sizeof *sb);
  if (!sb) return NULL;
  sb->max_memory = limits->max_memory;
  sb->max_instructions = limits->max_instructions;
  sb->cancelled = limits->cancelled;
  sb->ud = limits->ud;
  sb->L = lua_newstate(sb_alloc, sb);
  if (!sb->L) {
    free(sb);
    return NULL;
  }
  *(lsb_t **)lua_getextraspace(sb->L) = sb;
  lua_pushcfunction(sb->L, open_libs);
  if (lua_pcall(sb->L, 0, 0, 0) != LUA_OK) {
    lua_close(sb->L);
    free(sb);
    return NULL;
  }
  return sb;
}

void lsb_free(lsb_t *sb) {
  if (!sb) return;
  lua_close(sb->L);
  free(sb);
}

lua_State *lsb_state(lsb_t *sb) { return sb ? sb->L : NULL; }
size_t lsb_memory(const lsb_t *sb) { return sb ? sb->used : 0; }

static void copy_msg(lua_State *L, int idx, char *err, size_t errlen) {
  if (!err || !errlen) return;
  const char *m = lua_tostring(L, idx);
  snprintf(err, errlen, "%s", m ? m : "(error object is not a string)");
}

int lsb_load(lsb_t *sb, const char *code, size_t len, const char *name, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  sb->memory_hit = 0;
  int rc = luaL_loadbufferx(sb->L, code, len, name, "t");
  if (rc == LUA_OK) return LSB_OK;
  copy_msg(sb->L, -1, err, errlen);
  lua_pop(sb->L, 1);
  return rc == LUA_ERRMEM || sb->memory_hit ? LSB_ERR_MEMORY : LSB_ERR_SYNTAX;
}

/* Message handler: keeps the message, stores a traceback in the registry. */
static int msgh(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (!msg) msg = luaL_typename(L, 1);
  luaL_traceback(L, L, NULL, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, "lsb.traceback");
  lua_pushstring(L, msg);
  return 1;
}

int lsb_pcall(lsb_t *sb, int nargs, int nresults, char *err, size_t errlen, char *trace,
              size_t tracelen) {
  lua_State *L = sb->L;
  if (err && errlen) err[0] = '\0';
  if (trace && tracelen) trace[0] = '\0';
  sb->executed = 0;
  sb->stop = 0;
  sb->memory_hit = 0;
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, msgh);
  lua_insert(L, base);
  lua_sethook(L, sb_hook, LUA_MASKCOUNT, LSB_HOOK_EVERY);
  int rc = lua_pcall(L, nargs, nresults, base);
  lua_sethook(L, NULL, 0, 0);
  lua_remove(L, base);
  if (rc == LUA_OK) return LSB_OK;
  copy_msg(L, -1, err, errlen);
  lua_pop(L, 1);
  if (trace && tracelen && rc == LUA_ERRRUN) {
    lua_getfield(L, LUA_REGISTRYINDEX, "lsb.traceback");
    const char *t = lua_tostring(L, -1);
    if (t) snprintf(trace, tracelen, "%s", t);
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "lsb.traceback");
  if (sb->stop) return sb->stop;
  if (rc == LUA_ERRMEM || sb->memory_hit) return LSB_ERR_MEMORY;
  return LSB_ERR_RUNTIME;
}
