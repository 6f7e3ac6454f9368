/* Pagoda — JSON ⇄ Lua conversion for sandboxed scripts. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lauxlib.h>

#include "script/sandbox_json.h"

static void push_json_depth(lua_State *L, const cJSON *j, int depth) {
  if (!j) {
    lua_pushnil(L);
    return;
  }
  if (depth > PGD_SANDBOX_JSON_DEPTH) luaL_error(L, "JSON nested deeper than %d", PGD_SANDBOX_JSON_DEPTH);
  luaL_checkstack(L, 3, "JSON conversion");
  if (cJSON_IsObject(j) || cJSON_IsArray(j)) {
    int arr = cJSON_IsArray(j);
    int n = cJSON_GetArraySize(j);
    lua_createtable(L, arr ? n : 0, arr ? 0 : n);
    lua_Integer i = 1;
    for (const cJSON *c = j->child; c; c = c->next) {
      if (cJSON_IsNull(c)) {
        if (arr) i++;
        continue;
      }
      if (!arr && !c->string) continue;
      push_json_depth(L, c, depth + 1);
      if (arr)
        lua_rawseti(L, -2, i++);
      else
        lua_setfield(L, -2, c->string);
    }
  } else if (cJSON_IsString(j)) {
    lua_pushstring(L, j->valuestring ? j->valuestring : "");
  } else if (cJSON_IsNumber(j)) {
    double d = j->valuedouble;
    if (d == floor(d) && d >= -9007199254740992.0 && d <= 9007199254740992.0)
      lua_pushinteger(L, (lua_Integer)d);
    else
      lua_pushnumber(L, d);
  } else if (cJSON_IsBool(j)) {
    lua_pushboolean(L, cJSON_IsTrue(j));
  } else {
    lua_pushnil(L);
  }
}

void pgd_sandbox_push_json(lua_State *L, const cJSON *json) { push_json_depth(L, json, 0); }

/* ---- Lua → JSON ---------------------------------------------------------- */

typedef struct {
  const void *path[PGD_SANDBOX_JSON_DEPTH + 2]; /* tables being converted */
  int depth;
  long nodes;
  char *err;
  size_t errlen;
} tojson_t;

static cJSON *fail(tojson_t *t, const char *msg) {
  if (t->err && t->errlen && !t->err[0]) snprintf(t->err, t->errlen, "%s", msg);
  return NULL;
}

static cJSON *conv(lua_State *L, int idx, tojson_t *t);

static cJSON *conv_table(lua_State *L, int idx, tojson_t *t) {
  const void *p = lua_topointer(L, idx);
  for (int i = 0; i < t->depth; i++)
    if (t->path[i] == p) return fail(t, "table contains a cycle");
  if (t->depth >= PGD_SANDBOX_JSON_DEPTH) return fail(t, "table nested too deeply");
  if (!lua_checkstack(L, 4)) return fail(t, "Lua stack exhausted");
  /* Classify the keys: all integers 1..n (array) or all strings (object). */
  lua_Integer count = 0, maxk = 0;
  int strings = 0, others = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      strings++;
    } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
      count++;
      if (lua_tointeger(L, -1) > maxk) maxk = lua_tointeger(L, -1);
    } else {
      others++;
    }
  }
  if (others || (strings && count) || (count && maxk != count)) {
    return fail(t, "table keys must be all strings (object) or exactly 1..n (array)");
  }
  t->path[t->depth++] = p;
  cJSON *out = NULL;
  if (count) {
    out = cJSON_CreateArray();
    for (lua_Integer i = 1; out && i <= count; i++) {
      lua_rawgeti(L, idx, i);
      cJSON *v = conv(L, lua_gettop(L), t);
      lua_pop(L, 1);
      if (!v) {
        cJSON_Delete(out);
        out = NULL;
        break;
      }
      cJSON_AddItemToArray(out, v);
    }
  } else {
    out = cJSON_CreateObject();
    lua_pushnil(L);
    while (out && lua_next(L, idx)) {
      cJSON *v = conv(L, lua_gettop(L), t);
      if (!v) {
        lua_pop(L, 2);
        cJSON_Delete(out);
        out = NULL;
        break;
      }
      cJSON_AddItemToObject(out, lua_tostring(L, -2), v);
      lua_pop(L, 1);
    }
  }
  t->depth--;
  if (!out) return fail(t, "out of memory");
  return out;
}

static cJSON *conv(lua_State *L, int idx, tojson_t *t) {
  if (++t->nodes > PGD_SANDBOX_JSON_NODES) return fail(t, "too many values");
  switch (lua_type(L, idx)) {
  case LUA_TNIL: return cJSON_CreateNull();
  case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
  case LUA_TNUMBER: {
    double d = lua_isinteger(L, idx) ? (double)lua_tointeger(L, idx) : lua_tonumber(L, idx);
    if (!isfinite(d)) return fail(t, "NaN and infinity have no JSON form");
    return cJSON_CreateNumber(d);
  }
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (strlen(s) != len) return fail(t, "string contains a NUL byte");
    return cJSON_CreateString(s);
  }
  case LUA_TTABLE: return conv_table(L, idx, t);
  default: {
    char msg[64];
    snprintf(msg, sizeof msg, "a %s value has no JSON form", lua_typename(L, lua_type(L, idx)));
    return fail(t, msg);
  }
  }
}

cJSON *pgd_sandbox_to_json(lua_State *L, int idx, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  tojson_t t = {.err = err, .errlen = errlen};
  return conv(L, lua_absindex(L, idx), &t);
}
