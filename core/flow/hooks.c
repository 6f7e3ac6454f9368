/* Pagoda — Lua DAG hooks: on_flow_start(flow), on_node_ready(node, flow),
 * on_node_done(node, result, flow), on_flow_done(flow, result), and the host
 * function set_var(k, v). Contract in docs/flows.md.
 *
 * One sandbox per definition (script/sandbox.h: same whitelist, instruction
 * budget and memory caps as balancers); each run loads the script into its
 * own _ENV, so runs do not share globals. Hooks persist state in flow.vars,
 * which is stored with the run (globals are lost on a master restart).
 *
 * Hook calls run on a script thread (script/script_thread.h) that the loop
 * waits for at most the sandbox's time limit plus HOOK_GRACE_MS. A call
 * still running then is abandoned: the ticket's gate keeps the orphaned
 * thread off the run's memory (the run is read while the arguments are
 * pushed and written when the results are taken, both behind the gate), the
 * orphan frees the old Lua state when its call returns, the definition gets
 * a freshly compiled state (def->sb_gen bumped) and runs reload their
 * environment into it at their next hook call (globals are lost; flow.vars
 * are not). Loading (the script's top level) stays on the loop thread,
 * under the sandbox's limits. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "common/clock.h"
#include "common/log.h"
#include "flow/flow_int.h"
#include "script/sandbox_json.h"
#include "script/script_thread.h"

/* Extra wait past the sandbox's own time limit before a call is abandoned. */
#define HOOK_GRACE_MS 250

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
  r->env_gen = r->def->sb_gen;
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
  /* a reference into a state since abandoned is not the current state's */
  if (r->env_ref >= 0 && r->def->sb && r->env_gen == r->def->sb_gen)
    pgd_sandbox_unref(r->def->sb, r->env_ref);
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

/* One call as the script thread sees it. Owned by flow_hooks_call, or by
 * the orphaned thread once abandoned (then freed with its state). */
typedef struct {
  pthread_mutex_t gate; /* recursive; held while the run is read or written */
  int abandoned;        /* under gate: never touch `c` (nor the run) again */
  hcall_t *c;
  pgd_sandbox_t *sb;
  int nargs;
  int rc;
  char err[2048];
} ticket_t;

/* Calls the function below the `nargs` arguments on the stack top in a
 * protected call while holding the ticket's gate (an error cannot leave it
 * held), then re-raises such an error. Raises at once when abandoned. */
static int gate_call(lua_State *L, ticket_t *t, int nargs) {
  int base = lua_gettop(L) - nargs - 1;
  pthread_mutex_lock(&t->gate);
  if (t->abandoned) {
    pthread_mutex_unlock(&t->gate);
    return luaL_error(L, "this hook call was abandoned");
  }
  int rc = lua_pcall(L, nargs, LUA_MULTRET, 0);
  pthread_mutex_unlock(&t->gate);
  if (rc != LUA_OK) return lua_error(L);
  return lua_gettop(L) - base;
}

/* Behind the gate, (ticket) -> flow, hook function, its arguments. */
static int push_phase(lua_State *L) {
  ticket_t *t = lua_touserdata(L, 1);
  hcall_t *c = t->c;
  pgd_flow_run_t *r = c->r;
  lua_settop(L, 0);
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
  t->nargs = hook_nargs[c->hook];
  return lua_gettop(L);
}

/* Behind the gate, (ticket, flow, first result, second result) -> c. */
static int take_phase(lua_State *L) {
  ticket_t *t = lua_touserdata(L, 1);
  hcall_t *c = t->c;
  const int flow = 2, ret = 3;
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
  return 0;
}

static int call_fn(lua_State *L, void *ud) {
  ticket_t *t = ud;
  int base = lua_gettop(L);
  lua_pushcfunction(L, push_phase);
  lua_pushlightuserdata(L, t);
  gate_call(L, t, 1); /* flow, function, arguments */
  int flow = base + 1;
  lua_call(L, t->nargs, 2);
  lua_pushcfunction(L, take_phase);
  lua_pushlightuserdata(L, t);
  lua_pushvalue(L, flow);
  lua_pushvalue(L, -5);
  lua_pushvalue(L, -5);
  gate_call(L, t, 4);
  lua_pushnil(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &flow_key);
  lua_settop(L, base);
  return 0;
}

/* On the script thread: the protected call. */
static void run_ticket(void *ud) {
  ticket_t *t = ud;
  t->rc = pgd_sandbox_call(t->sb, call_fn, t, t->err, sizeof t->err);
}

static void ticket_free(ticket_t *t) {
  pthread_mutex_destroy(&t->gate);
  free(t);
}

/* Run by the orphaned thread when its call returns: the old state goes. */
static void orphan_done(void *ud) {
  ticket_t *t = ud;
  pgd_sandbox_free(t->sb);
  ticket_free(t);
}

/* The hooks' script thread of the calling (loop) thread: started at its
 * first call, replaced after an abandoned call. Thread-local, so that two
 * engines on two loop threads of one process never share one. */
static _Thread_local pgd_script_thread_t *hook_thread;

/* The loop gave call `t` up: the definition gets a new state. */
static void abandon(pgd_flow_run_t *r, ticket_t *t, pgd_script_thread_t *thread) {
  pthread_mutex_lock(&t->gate);
  t->abandoned = 1;
  pthread_mutex_unlock(&t->gate);
  pgd_flow_def_t *d = r->def;
  d->sb = NULL; /* the orphan frees it */
  d->sb_gen++;
  pgd_script_thread_orphan(thread, orphan_done, t);
  char e[1024];
  if (flow_hooks_compile(d, e, sizeof e) != 0) {
    pgd_sandbox_free(d->sb);
    d->sb = NULL;
    pgd_log(PGD_LOG_WARN, "flow", "flow %s: hooks could not be rebuilt after an abandoned call: %s",
            d->name, e);
  }
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
  if (r->env_ref >= 0 && r->env_gen != r->def->sb_gen) {
    /* the state this run's environment lived in was abandoned: reload */
    r->env_ref = FLOW_ENV_NONE;
    if (flow_hooks_load(r) != 0) return 0; /* recorded; hooks off for this run */
  }
  if (r->env_ref < 0 || !(r->hook_mask & (1 << hook)) || !r->def->sb) return 0;
  hcall_t c = {.r = r, .hook = hook, .node = node, .params = params, .result = result};
  char e[2048] = "";
  ticket_t *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "%s: out of memory", hook_names[hook]);
    record_error(r, hook_names[hook], node, "out of memory");
    return -1;
  }
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&t->gate, &ma);
  pthread_mutexattr_destroy(&ma);
  t->c = &c;
  t->sb = r->def->sb;
  if (!hook_thread && pgd_script_thread_new(&hook_thread) != 0) hook_thread = NULL;
  int rc;
  long deadline_ms = PGD_SANDBOX_DEFAULT_TIME_MS + HOOK_GRACE_MS;
  if (!hook_thread) { /* no thread could be started: run here */
    run_ticket(t);
    rc = t->rc;
  } else if (pgd_script_thread_run(hook_thread, run_ticket, t, deadline_ms) != 0) {
    pgd_script_thread_t *th = hook_thread;
    hook_thread = NULL;
    abandon(r, t, th);
    t = NULL;
    snprintf(e, sizeof e, "the call did not return within %ld ms: its Lua state was abandoned", deadline_ms);
    rc = -1;
  } else {
    rc = t->rc;
  }
  if (t) {
    if (rc != 0) snprintf(e, sizeof e, "%s", t->err);
    ticket_free(t);
  }
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
  if (r->def->sb && r->env_gen == r->def->sb_gen) /* drop the failed call's flow table */
    pgd_sandbox_call(r->def->sb, clear_fn, NULL, e2, sizeof e2);
  snprintf(err, errlen, "%s: %s", hook_names[hook], e);
  record_error(r, hook_names[hook], node, e);
  return -1;
}
