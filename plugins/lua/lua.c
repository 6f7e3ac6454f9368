/* Pagoda — the `lua` job type: runs a Lua 5.4 script in-process, on the
 * worker thread the host gives each run, inside the project's one Lua
 * sandbox (core/script/sandbox.c, compiled into this plugin: see
 * CMakeLists.txt).
 *
 * params (types enforced by the host from lua_params, ABI 1.2):
 *   script            string  the Lua source (text only)            required
 *   args              any     handed to the script as the global `params`
 *                             (without args: the whole params object)
 *   max_instructions  number  VM instruction budget, default 100000000,
 *                             at most 10000000000
 *   max_memory_mb     number  memory cap in MiB, default 64, at most 1024
 *
 * The script sees `params`, `log(...)` (and `print`, the same: tab-separated
 * values plus a line break, into the execution's log) and the safe
 * libraries. Its first return value (table, string, number, boolean) is
 * converted to JSON and becomes the execution's result; an error fails the
 * execution with the error's message (the traceback goes to the log). A
 * kill or timeout stops the script within PGD_SANDBOX_POLL_EVERY
 * instructions.
 */
#include <lauxlib.h>
#include <math.h>
#include <pagoda/plugin.h>
#include <pagoda/plugin_util.h>
#include <stdio.h>
#include <string.h>

#include "script/sandbox.h"

#define DEF_INSTRUCTIONS 100000000.0
#define MAX_INSTRUCTIONS 10000000000.0
#define DEF_MEMORY_MB 64.0
#define MAX_MEMORY_MB 1024.0
#define MAX_DEPTH 64
#define MAX_RESULT (16u << 20) /* bytes of JSON result text */

static const pagoda_param_spec_t lua_params[] = {
    {"script", PAGODA_PARAM_TEXT, 1, NULL, "Lua 5.4 source run in the sandbox", NULL},
    {"args", PAGODA_JSON_MISSING, 0, NULL, "value given to the script as the global `params` (default: all params)", NULL},
    {"max_instructions", PAGODA_PARAM_INTEGER, 0, "100000000", "instruction budget (at most 10000000000)",
     "an integer from 1 to 10000000000"},
    {"max_memory_mb", PAGODA_PARAM_INTEGER, 0, "64", "memory cap in MiB (at most 1024)",
     "an integer from 1 to 1024"},
    {NULL, PAGODA_JSON_MISSING, 0, NULL, NULL, NULL},
};

static int lua_plugin_init(const pagoda_host_t *host, void **state, pagoda_error_t *err) {
  (void)err;
  *state = (void *)host;
  return PAGODA_OK;
}

/* Checks what the schema cannot say (the host has checked the types):
 * shared by validate (master) and run (worker). */
static int check(const pagoda_host_t *h, const pagoda_json_t *params, pagoda_error_t *err) {
  const char *s;
  long long limit;
  int rc;
  if (!h->json_get(params, "script"))
    return pagoda_fail(h, err, PAGODA_EINVAL, "lua: params.script is required");
  if ((rc = pagoda_param_string(h, "lua", params, "script", PAGODA_PU_NONEMPTY, NULL, &s, err)) < 0)
    return rc;
  if (s[0] == LUA_SIGNATURE[0])
    return pagoda_fail(h, err, PAGODA_EINVAL, "lua: params.script must be Lua source, not bytecode");
  if ((rc = pagoda_param_int(h, "lua", params, "max_instructions", 1, (long long)MAX_INSTRUCTIONS,
                             0, NULL, &limit, err)) < 0 ||
      (rc = pagoda_param_int(h, "lua", params, "max_memory_mb", 1, (long long)MAX_MEMORY_MB, 0, NULL,
                             &limit, err)) < 0)
    return rc;
  return PAGODA_OK;
}

static int lua_validate(void *state, const pagoda_json_t *params, pagoda_error_t *err) {
  return check((const pagoda_host_t *)state, params, err);
}

/* ---- JSON -> Lua ----------------------------------------------------------- */

/* Pushes `v`; JSON null and missing become nil. Depth-limited by the
 * caller's checks (host JSON is finite; MAX_DEPTH keeps the C stack small). */
static void push_json(const pagoda_host_t *h, lua_State *L, const pagoda_json_t *v, int depth) {
  luaL_checkstack(L, 3, "params too deep");
  switch (h->json_type(v)) {
    case PAGODA_JSON_BOOL: lua_pushboolean(L, h->json_bool(v, 0)); break;
    case PAGODA_JSON_NUMBER: {
      double d = h->json_number(v, 0);
      if (d == floor(d) && fabs(d) < 9007199254740992.0) lua_pushinteger(L, (lua_Integer)d);
      else lua_pushnumber(L, d);
      break;
    }
    case PAGODA_JSON_STRING: lua_pushstring(L, h->json_string(v)); break;
    case PAGODA_JSON_ARRAY: {
      size_t n = h->json_array_size(v);
      lua_createtable(L, (int)(n < 1u << 20 ? n : 0), 0);
      if (depth >= MAX_DEPTH) break;
      for (size_t i = 0; i < n; i++) {
        push_json(h, L, h->json_array_item(v, i), depth + 1);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    }
    case PAGODA_JSON_OBJECT: {
      size_t n = h->json_object_size(v);
      lua_createtable(L, 0, (int)(n < 1u << 20 ? n : 0));
      if (depth >= MAX_DEPTH) break;
      for (size_t i = 0; i < n; i++) {
        push_json(h, L, h->json_object_value_at(v, i), depth + 1);
        lua_setfield(L, -2, h->json_object_key_at(v, i));
      }
      break;
    }
    default: lua_pushnil(L); break;
  }
}

/* The state of one run, shared by the sandbox callbacks below. */
typedef struct {
  const pagoda_host_t *h;
  pagoda_run_t *run;
  const pagoda_json_t *params;
  int converting; /* the script returned: errors now are the result's */
} run_ctx_t;

/* env_setup (protected, the script's _ENV on top): `params` (a huge params
 * object may hit the memory cap), and `log`, the same function as print. */
static int setup_env(lua_State *L, void *ud) {
  run_ctx_t *c = ud;
  const pagoda_json_t *args = c->h->json_get(c->params, "args");
  push_json(c->h, L, args ? args : c->params, 0);
  lua_setfield(L, -2, "params");
  lua_getfield(L, -1, "print");
  lua_setfield(L, -2, "log");
  return 0;
}

/* print / log: one line (tab-separated values and a line break) into the
 * execution's log. */
static void print_to_run_log(void *ud, const char *name, const char *line, size_t len) {
  (void)name;
  const run_ctx_t *c = ud;
  c->h->run_log(c->run, line, len);
}

/* ---- Lua -> JSON ------------------------------------------------------------ */

static void put_string(luaL_Buffer *b, const char *s, size_t len) {
  luaL_addchar(b, '"');
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') {
      luaL_addchar(b, '\\');
      luaL_addchar(b, (char)c);
    } else if (c < 0x20) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\u%04x", c);
      luaL_addstring(b, esc);
    } else {
      luaL_addchar(b, (char)c);
    }
  }
  luaL_addchar(b, '"');
}

/* 1 when the table at idx is a sequence 1..n with n > 0 and no other key. */
static int is_array(lua_State *L, int idx, lua_Integer *len) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    if (!lua_isinteger(L, -1)) {
      lua_pop(L, 1);
      return 0;
    }
    lua_Integer k = lua_tointeger(L, -1);
    if (k < 1 || k > n) {
      lua_pop(L, 1);
      return 0;
    }
    count++;
  }
  *len = n;
  return n > 0 && count == n;
}

/* Appends the value at idx (absolute) as JSON; raises a Lua error naming
 * the path of a value that cannot be converted. */
static void put_value(lua_State *L, luaL_Buffer *b, int idx, int depth, const char *path) {
  if (depth > MAX_DEPTH) luaL_error(L, "result nested deeper than %d at %s", MAX_DEPTH, path);
  luaL_checkstack(L, 6, "result too deep");
  switch (lua_type(L, idx)) {
    case LUA_TNIL: luaL_addstring(b, "null"); return;
    case LUA_TBOOLEAN: luaL_addstring(b, lua_toboolean(L, idx) ? "true" : "false"); return;
    case LUA_TNUMBER: {
      char num[64];
      if (lua_isinteger(L, idx)) {
        snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
      } else {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d)) luaL_error(L, "result has a non-finite number at %s", path);
        snprintf(num, sizeof num, "%.17g", d);
      }
      luaL_addstring(b, num);
      return;
    }
    case LUA_TSTRING: {
      size_t len;
      const char *s = lua_tolstring(L, idx, &len);
      put_string(b, s, len);
      return;
    }
    case LUA_TTABLE: break;
    default:
      luaL_error(L, "result has a %s at %s (only tables, strings, numbers, booleans)",
                 luaL_typename(L, idx), path);
  }
  lua_Integer n;
  char sub[256];
  if (is_array(L, idx, &n)) {
    luaL_addchar(b, '[');
    for (lua_Integer i = 1; i <= n; i++) {
      if (i > 1) luaL_addchar(b, ',');
      lua_rawgeti(L, idx, i);
      snprintf(sub, sizeof sub, "%s[%lld]", path, (long long)i);
      put_value(L, b, lua_gettop(L), depth + 1, sub);
      lua_pop(L, 1);
    }
    luaL_addchar(b, ']');
    return;
  }
  luaL_addchar(b, '{');
  int first = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING && !lua_isinteger(L, -2))
      luaL_error(L, "result has a %s key at %s (keys must be strings)", luaL_typename(L, -2),
                 path);
    lua_pushvalue(L, -2);
    size_t klen;
    const char *k = lua_tolstring(L, -1, &klen); /* copy: never tolstring the key itself */
    if (!first) luaL_addchar(b, ',');
    first = 0;
    put_string(b, k, klen);
    luaL_addchar(b, ':');
    snprintf(sub, sizeof sub, "%s.%s", path, k);
    lua_pop(L, 1);
    put_value(L, b, lua_gettop(L), depth + 1, sub);
    lua_pop(L, 1);
  }
  luaL_addchar(b, '}');
}

/* on_result (protected, the script's first result on top): a non-nil
 * result becomes the execution's result as JSON text. The buffer lives on
 * the Lua stack, so the memory cap applies to it. */
static int store_result(lua_State *L, void *ud) {
  run_ctx_t *c = ud;
  if (lua_isnil(L, -1)) return 0;
  c->converting = 1;
  int idx = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  put_value(L, &b, idx, 0, "result");
  luaL_pushresult(&b);
  size_t len;
  const char *json = lua_tolstring(L, -1, &len);
  if (len > MAX_RESULT) return luaL_error(L, "result is %zu bytes of JSON, more than %u", len, MAX_RESULT);
  if (c->h->run_set_result(c->run, json) < 0) return luaL_error(L, "result could not be stored");
  lua_pop(L, 1);
  return 0;
}

/* ---- run ----------------------------------------------------------------- */

static int is_cancelled_cb(void *ud) {
  const run_ctx_t *c = ud;
  return c->h->run_is_cancelled(c->run);
}

static int lua_run(void *state, const pagoda_json_t *params, pagoda_run_t *run) {
  const pagoda_host_t *h = state;
  pagoda_error_t *err = h->run_error(run);
  int rc = check(h, params, err);
  if (rc < 0) return rc;
  double ins = h->json_number(h->json_get(params, "max_instructions"), DEF_INSTRUCTIONS);
  double mb = h->json_number(h->json_get(params, "max_memory_mb"), DEF_MEMORY_MB);
  run_ctx_t ctx = {.h = h, .run = run, .params = params};
  /* The whole run is one call: the memory cap is the state's and the call's. */
  pgd_sandbox_config_t cfg = {.name = "lua",
                              .instructions = (long)ins,
                              .call_mem_cap = (size_t)mb << 20,
                              .state_mem_cap = (size_t)mb << 20,
                              .libs = PGD_SANDBOX_LIB_COROUTINE,
                              .print = print_to_run_log,
                              .print_ud = &ctx,
                              .cancelled = is_cancelled_cb,
                              .cancel_ud = &ctx,
                              .plain_error_objects = 1};
  char msg[768], trace[2048] = "";
  pgd_sandbox_t *sb = NULL;
  if (pgd_sandbox_open(&cfg, &sb, msg, sizeof msg) != 0) {
    h->error_set(err, "lua: cannot create the Lua state (out of memory)");
    return PAGODA_ENOMEM;
  }
  const char *script = h->json_string(h->json_get(params, "script"));
  pgd_sandbox_chunk_t chunk = {.chunkname = "=script",
                               .text = script,
                               .len = strlen(script),
                               .env_setup = setup_env,
                               .setup_ud = &ctx,
                               .on_result = store_result,
                               .result_ud = &ctx,
                               .trace = trace,
                               .tracelen = sizeof trace};
  rc = pgd_sandbox_run(sb, &chunk, msg, sizeof msg);
  int out;
  switch (rc) {
    case 0: out = PAGODA_OK; break;
    case PGD_SANDBOX_ECANCELED:
      h->error_set(err, "lua: script stopped (cancelled)");
      out = PAGODA_ECANCELED;
      break;
    case PGD_SANDBOX_EBUDGET:
      h->error_set(err, "lua: instruction budget of %.0f exceeded (params.max_instructions)", ins);
      out = PAGODA_EFAIL;
      break;
    case PGD_SANDBOX_EMEM:
      h->error_set(err, "lua: memory limit of %.0f MiB exceeded (params.max_memory_mb)", mb);
      out = PAGODA_ENOMEM;
      break;
    case PGD_SANDBOX_ESYNTAX:
      h->error_set(err, "lua: syntax error: %s", msg);
      out = PAGODA_EINVAL;
      break;
    default:
      /* the script's own error: its traceback goes to the log */
      if (trace[0] && !ctx.converting) {
        char line[2200];
        int n = snprintf(line, sizeof line, "lua: error: %s\n%s\n", msg, trace);
        if (n > 0) h->run_log(run, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
      }
      h->error_set(err, "lua: %s%s", ctx.converting ? "bad result: " : "", msg);
      out = PAGODA_EFAIL;
      break;
  }
  pgd_sandbox_free(sb);
  return out;
}

static const pagoda_generator_t lua_generator = {.validate = lua_validate};
static const pagoda_executor_t lua_executor = {.run = lua_run};

static const pagoda_plugin_descriptor_t lua_descriptor = {
    PAGODA_PLUGIN_DESCRIPTOR_HEADER,
    .type = "lua",
    .version = "1.0.0",
    .description = "Runs a Lua 5.4 script in-process, in a sandbox",
    .params = lua_params,
    .init = lua_plugin_init,
    .generator = &lua_generator,
    .executor = &lua_executor,
};

PAGODA_PLUGIN_DECLARE(lua_descriptor)
