/* Pagoda — Lua DAG hooks: on_flow_start(flow), on_node_ready(node, flow),
 * on_node_done(node, result, flow), on_flow_done(flow, result), and the host
 * function set_var(k, v). Contract in docs/flows.md.
 *
 * One sandbox per definition (script/sandbox.h: same whitelist, instruction
 * budget and memory caps as balancers); each run loads the script into its
 * own _ENV, so runs do not share globals. Hooks persist state in flow.vars,
 * which is stored with the run (globals are lost on a master restart). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "common/clock.h"
#include "common/log.h"
#include "flow/flow_int.h"
#include "script/sandbox_json.h"

static const char *const hook_names[] = {"on_flow_start", "on_node_ready", "on_node_done",
                                         "on_flow_done"};
static const int hook_nargs[] = {1, 2, 3, 2};
static char flow_key; /* registry key: the flow table of the current call */

/* set_var(k, v): flow.vars[k] = v of the current call. */
static int l_set_var(lua_State *L) {
  luaL_checkstring(L, 1);
  luaL_checkany(L, 2);
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &flow_key) != LUA_TTABLE)
    return luaL_error(L, "set_var is only available inside a hook call");
  if (lua_getfield(L, -1, "vars") != LUA_TTABLE) return luaL_error(L, "flow.vars is not a table");
  lua_pushvalue(L, 1);
  lua_pushvalue(L, 2);
  lua_settable(L, -3);
  return 0;
}

static int env_setup(lua_State *L, void *ud) {
  (void)ud;
  lua_pushcfunction(L, l_set_var);
  lua_setfield(L, -2, "set_var");
  return 0;
}

static int mask_fn(lua_State *L, void *ud) {
  pgd_flow_run_t *r = ud;
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->env_ref);
  r->hook_mask = 0;
  for (int h = 0; h < 4; h++) {
    if (lua_getfield(L, -1, hook_names[h]) == LUA_TFUNCTION) r->hook_mask |= 1 << h;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 0;
}

int flow_hooks_compile(pgd_flow_def_t *d, char *err, size_t errlen) {
  char e[1024] = "";
  int rc = pgd_sandbox_new(d->name, d->checks.hook_instructions, d->checks.hook_call_mem,
                           d->checks.hook_state_mem, &d->sb, e, sizeof e);
  if (rc == 0) {
    int ref;
    rc = pgd_sandbox_load(d->sb, d->hooks_chunk, d->hooks_text, d->hooks_len, env_setup, NULL, &ref,
                          e, sizeof e);
    if (rc == 0) pgd_sandbox_unref(d->sb, ref);
  }
  if (rc) snprintf(err, errlen, "hooks: %s", e);
  return rc ? -1 : 0;
}

static void record_error(pgd_flow_run_t *r, const char *hook, int node, const char *msg) {
  pgd_log(PGD_LOG_WARN, "flow", "flow %s execution %lld: hook %s%s%s failed: %s", r->def->name,
          (long long)r->id, hook, node >= 0 ? " of node " : "", node >= 0 ? r->def->nodes[node].id : "", msg);
  cJSON *e = cJSON_CreateObject();
  if (!e) return;
  cJSON_AddStringToObject(e, "hook", hook);
  if (node >= 0) cJSON_AddStringToObject(e, "node", r->def->nodes[node].id);
  else cJSON_AddNullToObject(e, "node");
  char cut[1024];
  snprintf(cut, sizeof cut, "%s", msg);
  cJSON_AddStringToObject(e, "error", cut);
  cJSON_AddNumberToObject(e, "at", (double)pgd_now_us());
  while (cJSON_GetArraySize(r->hook_errors) >= PGD_FLOW_HOOK_ERRORS_MAX) cJSON_DeleteItemFromArray(r->hook_errors, 0);
  cJSON_AddItemToArray(r->hook_errors, e);
}

int flow_hooks_load(pgd_flow_run_t *r) {
  r->env_ref = FLOW_ENV_NONE;
  r->hook_mask = 0;
  if (!r->def->sb) return 0;
  char e[1024] = "";
  int ref;
  int rc = pgd_sandbox_load(r->def->sb, r->def->hooks_chunk, r->def->hooks_text, r->def->hooks_len,
                            env_setup, NULL, &ref, e, sizeof e);
  if (rc == 0) {
    r->env_ref = ref;
    rc = pgd_sandbox_call(r->def->sb, mask_fn, r, e, sizeof e);
  }
  if (rc) {
    flow_hooks_unload(r);
    r->env_ref = FLOW_ENV_FAILED;
    record_error(r, "load", -1, e);
    return -1;
  }
  return 0;
}

void flow_hooks_unload(pgd_flow_run_t *r) {
  if (r->env_ref >= 0 && r->def->sb) pgd_sandbox_unref(r->def->sb, r->env_ref);
  r->env_ref = FLOW_ENV_NONE;
}

/* ---- one call ------------------------------------------------------------------ */

typedef struct {
  pgd_flow_run_t *r;
  int hook, node;
  const cJSON *params, *result;
  int decision;
  char reason[256];
  cJSON *params_out, *vars_out; /* owned by the caller of the protected call */
} hcall_t;

static void push_str_or_nil(lua_State *L, const char *s) {
  if (s) lua_pushstring(L, s);
  else lua_pushnil(L);
}

static void push_node(lua_State *L, const pgd_flow_run_t *r, int i) {
  const flow_node_run_t *nr = &r->nodes[i];
  const flow_node_def_t *nd = &r->def->nodes[i];
  lua_createtable(L, 0, 8);
  lua_pushstring(L, nd->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, flow_node_state_names[nr->state]);
  lua_setfield(L, -2, "state");
  if (nr->outputs) pgd_sandbox_push_json(L, nr->outputs);
  else lua_newtable(L);
  lua_setfield(L, -2, "outputs");
  lua_pushinteger(L, (lua_Integer)nr->execution_id);
  lua_setfield(L, -2, "execution_id");
  lua_pushinteger(L, nr->attempts);
  lua_setfield(L, -2, "attempts");
  push_str_or_nil(L, nr->reason);
  lua_setfield(L, -2, "reason");
  push_str_or_nil(L, cJSON_IsString(nd->job) ? nd->job->valuestring : NULL);
  lua_setfield(L, -2, "job");
  lua_pushstring(L, flow_rule_names[nd->rule]);
  lua_setfield(L, -2, "trigger_rule");
}

static void push_flow(lua_State *L, const pgd_flow_run_t *r) {
  lua_createtable(L, 0, 10);
  lua_pushstring(L, r->def->name);
  lua_setfield(L, -2, "name");
  lua_pushinteger(L, (lua_Integer)r->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, flow_state_names[r->state]);
  lua_setfield(L, -2, "state");
  if (r->rerun_of) lua_pushinteger(L, (lua_Integer)r->rerun_of);
  else lua_pushnil(L);
  lua_setfield(L, -2, "rerun_of");
  lua_pushinteger(L, (lua_Integer)(r->logical_time / 1000000));
  lua_setfield(L, -2, "logical_time");
  char date[32] = "", e[64];
  pgd_flow_date_expand(r->logical_time, "date", date, sizeof date, e, sizeof e);
  lua_pushstring(L, date);
  lua_setfield(L, -2, "date");
  pgd_sandbox_push_json(L, r->params);
  lua_setfield(L, -2, "params");
  pgd_sandbox_push_json(L, r->vars);
  lua_setfield(L, -2, "vars");
  lua_createtable(L, 0, r->def->n);
  for (int i = 0; i < r->def->n; i++) {
    push_node(L, r, i);
    lua_setfield(L, -2, r->def->nodes[i].id);
  }
  lua_setfield(L, -2, "nodes");
}

/* Merges the object at the top of the stack (a table, converted) into *dst. */
static void take_table(lua_State *L, int idx, cJSON **dst, const char *what) {
  char e[256];
  cJSON *t = pgd_sandbox_to_json(L, idx, e, sizeof e);
  if (!t) luaL_error(L, "%s: %s", what, e);
  if (!cJSON_IsObject(t)) {
    cJSON_Delete(t);
    luaL_error(L, "%s must be a table with string keys", what);
  }
  if (!*dst) {
    *dst = t;
    return;
  }
  cJSON *it = t->child;
  while (it) {
    cJSON *next = it->next;
    cJSON *c = cJSON_DetachItemViaPointer(t, it);
    /* Not cJSON_ReplaceItemInObject: it frees the replacement's key before
     * copying it when that key is the one passed in (use after free). */
    cJSON_DeleteItemFromObjectCaseSensitive(*dst, c->string);
    cJSON_AddItemToObject(*dst, c->string, c);
    it = next;
  }
  cJSON_Delete(t);
}

static int call_fn(lua_State *L, void *ud) {
  hcall_t *c = ud;
  pgd_flow_run_t *r = c->r;
  int base = lua_gettop(L);
  push_flow(L, r);
  int flow = lua_gettop(L);
  lua_pushvalue(L, flow);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &flow_key);
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->env_ref);
  lua_getfield(L, -1, hook_names[c->hook]);
  lua_remove(L, -2); /* the function, then its arguments */
  switch (c->hook) {
  case HOOK_FLOW_START: lua_pushvalue(L, flow); break;
  case HOOK_NODE_READY:
    lua_getfield(L, flow, "nodes");
    lua_getfield(L, -1, r->def->nodes[c->node].id);
    lua_remove(L, -2);
    pgd_sandbox_push_json(L, c->params);
    lua_setfield(L, -2, "params");
    lua_pushvalue(L, flow);
    break;
  case HOOK_NODE_DONE: {
    const flow_node_run_t *nr = &r->nodes[c->node];
    lua_getfield(L, flow, "nodes");
    lua_getfield(L, -1, r->def->nodes[c->node].id);
    lua_remove(L, -2);
    lua_createtable(L, 0, 4);
    push_str_or_nil(L, nr->exec_state);
    lua_setfield(L, -2, "state");
    if (nr->outputs) pgd_sandbox_push_json(L, nr->outputs);
    else lua_newtable(L);
    lua_setfield(L, -2, "outputs");
    lua_pushinteger(L, (lua_Integer)nr->execution_id);
    lua_setfield(L, -2, "execution_id");
    pgd_sandbox_push_json(L, c->result);
    lua_setfield(L, -2, "value");
    lua_pushvalue(L, flow);
    break;
  }
  case HOOK_FLOW_DONE:
    lua_pushvalue(L, flow);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, flow_state_names[r->state]);
    lua_setfield(L, -2, "state");
    push_str_or_nil(L, r->error);
    lua_setfield(L, -2, "error");
    break;
  }
  lua_call(L, hook_nargs[c->hook], 2);
  int ret = lua_gettop(L) - 1;
  /* flow.vars as the hook left it, then a returned table on top (node_done,
   * flow_start, flow_done) */
  lua_getfield(L, flow, "vars");
  if (!lua_istable(L, -1)) luaL_error(L, "flow.vars must stay a table");
  take_table(L, -1, &c->vars_out, "flow.vars");
  lua_pop(L, 1);
  if (c->hook == HOOK_NODE_READY) {
    if (lua_isnil(L, ret)) c->decision = 0;
    else if (lua_type(L, ret) == LUA_TSTRING && !strcmp(lua_tostring(L, ret), "run")) c->decision = 0;
    else if (lua_type(L, ret) == LUA_TSTRING && !strcmp(lua_tostring(L, ret), "skip")) {
      c->decision = 1;
      if (lua_type(L, ret + 1) == LUA_TSTRING) snprintf(c->reason, sizeof c->reason, "%s", lua_tostring(L, ret + 1));
    } else if (lua_istable(L, ret)) {
      take_table(L, ret, &c->params_out, "on_node_ready's params");
    } else {
      luaL_error(L, "on_node_ready must return nil, \"run\", \"skip\" or a table of params (got %s)",
                 luaL_typename(L, ret));
    }
  } else if (lua_istable(L, ret)) {
    take_table(L, ret, &c->vars_out, "the returned vars");
  } else if (!lua_isnil(L, ret)) {
    luaL_error(L, "%s must return nil or a table of vars (got %s)", hook_names[c->hook], luaL_typename(L, ret));
  }
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &flow_key);
  lua_settop(L, base);
  return 0;
}

static int clear_fn(lua_State *L, void *ud) {
  (void)ud;
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &flow_key);
  return 0;
}

int flow_hooks_call(pgd_flow_run_t *r, int hook, int node, const cJSON *params, const cJSON *result,
                    int *decision, cJSON **params_out, char *reason, size_t reasonlen, char *err,
                    size_t errlen) {
  if (decision) *decision = 0;
  if (params_out) *params_out = NULL;
  if (r->env_ref < 0 || !(r->hook_mask & (1 << hook))) return 0;
  hcall_t c = {.r = r, .hook = hook, .node = node, .params = params, .result = result};
  char e[2048] = "";
  int rc = pgd_sandbox_call(r->def->sb, call_fn, &c, e, sizeof e);
  if (rc == 0) {
    if (c.vars_out) {
      cJSON_Delete(r->vars);
      r->vars = c.vars_out;
    }
    if (decision) *decision = c.decision;
    if (reason && reasonlen) snprintf(reason, reasonlen, "%s", c.reason);
    if (params_out) *params_out = c.params_out;
    else cJSON_Delete(c.params_out);
    return 0;
  }
  cJSON_Delete(c.vars_out);
  cJSON_Delete(c.params_out);
  char e2[64];
  pgd_sandbox_call(r->def->sb, clear_fn, NULL, e2, sizeof e2); /* drop the failed call's flow table */
  snprintf(err, errlen, "%s: %s", hook_names[hook], e);
  record_error(r, hook_names[hook], node, e);
  return -1;
}
