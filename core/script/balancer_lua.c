/* Pagoda — the Lua side of a balancer: the `job`, `workers` and worker
 * objects a script sees, the `pagoda` helper table, and one pick call.
 *
 * Cost: nothing is rebuilt per call. `workers` is one userdata whose
 * __index hands out per-position worker proxies kept in a pool; a proxy reads
 * its fields from the C candidate array of the current call, so only what the
 * script touches is pushed. Label tables are converted once per candidate
 * generation; the id → index map that resolves the returned id is rebuilt
 * only when the generation changes. A cached id or labels table is also
 * keyed by the candidate's pointer, so that a caller keeping the generation
 * while the list shifts (a worker filled up and dropped out) still shows
 * each position's own values.
 *
 * A pick may run on the balancers' script thread (script_thread.h) while
 * the loop thread waits with a deadline. Every C function a script can
 * reach that reads the bal_t (its current call: job, candidates) runs
 * through the code's gate (gate_call): under a recursive mutex, and only
 * while the code is not abandoned. The loop thread sets `abandoned` under
 * the same mutex when it gives the call up, so from then on the script
 * thread never touches the caller's memory again. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "script/balancer_int.h"

#define MT_WORKER "pagoda.bal.worker"
#define MT_WORKERS "pagoda.bal.workers"
#define MT_JOB "pagoda.bal.job"

typedef struct {
  bal_t *b;
  int index;            /* 0-based position in the candidate array */
  uint64_t labels_gen;  /* generation of the cached labels table */
  const cJSON *labels_src; /* ... and the candidate's labels it was made from */
  int labels_cached;
  uint64_t id_gen;      /* generation of the cached id string */
  const char *id_src;   /* ... and the candidate's id pointer */
  int id_cached;
} worker_ud_t;

typedef struct {
  bal_t *b;
} list_ud_t;

#define JOB_LAZY 4 /* params, labels, balancer_args, previous_workers */
typedef struct {
  bal_t *b;
  uint64_t serial[JOB_LAZY];
} job_ud_t;

/* ---- the gate ------------------------------------------------------------ */

/* Calls the function below the `nargs` arguments on the stack top in a
 * protected call while holding code's gate, so that an error cannot leave
 * the gate held; re-raises such an error once the gate is released. Raises
 * at once when the code was abandoned. Returns the number of results. */
static int gate_call(lua_State *L, bal_code_t *code, int nargs) {
  int base = lua_gettop(L) - nargs - 1;
  pthread_mutex_lock(&code->gate);
  if (code->abandoned) {
    pthread_mutex_unlock(&code->gate);
    return luaL_error(L, "this balancer call was abandoned");
  }
  int rc = lua_pcall(L, nargs, LUA_MULTRET, 0);
  pthread_mutex_unlock(&code->gate);
  if (rc != LUA_OK) return lua_error(L);
  return lua_gettop(L) - base;
}

/* The C closure in upvalue 1, called through the gate of the code in
 * upvalue 2 with this call's arguments. */
static int guarded(lua_State *L) {
  bal_code_t *code = lua_touserdata(L, lua_upvalueindex(2));
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  return gate_call(L, code, lua_gettop(L) - 1);
}

/* Pushes `fn` (a closure over the `nup` values on the stack top) wrapped in
 * code's gate. */
static void push_guarded(lua_State *L, bal_code_t *code, lua_CFunction fn, int nup) {
  lua_pushcclosure(L, fn, nup);
  lua_pushlightuserdata(L, code);
  lua_pushcclosure(L, guarded, 2);
}

/* ---- worker proxies ------------------------------------------------------ */

static const pgd_bal_worker_t *worker_of(lua_State *L, worker_ud_t *w) {
  bal_call_t *c = &w->b->call;
  if (!c->active) luaL_error(L, "a worker object is only valid during its pick call");
  if ((size_t)w->index >= c->n) return NULL;
  return &c->cands[w->index];
}

static int worker_index(lua_State *L) {
  worker_ud_t *w = luaL_checkudata(L, 1, MT_WORKER);
  const char *k = lua_tostring(L, 2);
  const pgd_bal_worker_t *x = worker_of(L, w);
  if (!x || !k || lua_type(L, 2) != LUA_TSTRING) {
    lua_pushnil(L);
    return 1;
  }
  switch (k[0]) {
  case 'i':
    if (!strcmp(k, "id")) {
      bal_call_t *c = &w->b->call;
      if (w->id_cached && w->id_gen == c->gen && w->id_src == x->id) {
        lua_getiuservalue(L, 1, 2);
        return 1;
      }
      lua_pushstring(L, x->id);
      lua_pushvalue(L, -1);
      lua_setiuservalue(L, 1, 2);
      w->id_cached = 1;
      w->id_gen = c->gen;
      w->id_src = x->id;
      return 1;
    }
    if (!strcmp(k, "index")) { lua_pushinteger(L, w->index + 1); return 1; }
    break;
  case 'h':
    if (!strcmp(k, "host")) { lua_pushstring(L, x->host); return 1; }
    break;
  case 's':
    if (!strcmp(k, "slots_free")) { lua_pushinteger(L, x->slots_free); return 1; }
    if (!strcmp(k, "slots")) { lua_pushinteger(L, x->slots); return 1; }
    break;
  case 'r':
    if (!strcmp(k, "running")) { lua_pushinteger(L, x->running); return 1; }
    break;
  case 'l':
    if (!strcmp(k, "load") || !strcmp(k, "load1")) { lua_pushnumber(L, x->load1); return 1; }
    if (!strcmp(k, "labels")) {
      bal_call_t *c = &w->b->call;
      if (w->labels_cached && w->labels_gen == c->gen && w->labels_src == x->labels) {
        lua_getiuservalue(L, 1, 1);
        return 1;
      }
      pgd_sandbox_push_json(L, x->labels);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
      }
      lua_pushvalue(L, -1);
      lua_setiuservalue(L, 1, 1);
      w->labels_cached = 1;
      w->labels_gen = c->gen;
      w->labels_src = x->labels;
      return 1;
    }
    break;
  case 'm':
    if (!strcmp(k, "mem_free_mb")) { lua_pushinteger(L, x->mem_free_mb); return 1; }
    break;
  default: break;
  }
  lua_pushnil(L);
  return 1;
}

static int worker_tostring(lua_State *L) {
  worker_ud_t *w = luaL_checkudata(L, 1, MT_WORKER);
  bal_call_t *c = &w->b->call;
  if (c->active && (size_t)w->index < c->n)
    lua_pushfstring(L, "worker(%s)", c->cands[w->index].id);
  else
    lua_pushliteral(L, "worker(stale)");
  return 1;
}

/* Pushes the proxy for 0-based position i (creating it once). */
static void push_worker(lua_State *L, bal_t *b, int i) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, b->code->pool_ref);
  if (lua_rawgeti(L, -1, i + 1) == LUA_TNIL) {
    lua_pop(L, 1);
    worker_ud_t *w = lua_newuserdatauv(L, sizeof *w, 2);
    memset(w, 0, sizeof *w);
    w->b = b;
    w->index = i;
    luaL_setmetatable(L, MT_WORKER);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, i + 1);
  }
  lua_remove(L, -2);
}

/* ---- the workers list ---------------------------------------------------- */

static bal_t *list_bal(lua_State *L, int idx) {
  list_ud_t *l = luaL_checkudata(L, idx, MT_WORKERS);
  if (!l->b->call.active) luaL_error(L, "the workers list is only valid during its pick call");
  return l->b;
}

static int list_index(lua_State *L) {
  bal_t *b = list_bal(L, 1);
  int isnum = 0;
  lua_Integer i = lua_tointegerx(L, 2, &isnum);
  if (!isnum || i < 1 || (size_t)i > b->call.n) {
    lua_pushnil(L);
    return 1;
  }
  push_worker(L, b, (int)i - 1);
  return 1;
}

static int list_len(lua_State *L) {
  bal_t *b = list_bal(L, 1);
  lua_pushinteger(L, (lua_Integer)b->call.n);
  return 1;
}

static int list_next(lua_State *L) {
  bal_t *b = list_bal(L, 1);
  lua_Integer i = luaL_optinteger(L, 2, 0) + 1;
  if (i < 1 || (size_t)i > b->call.n) return 0;
  lua_pushinteger(L, i);
  push_worker(L, b, (int)i - 1);
  return 2;
}

/* Upvalue 1: list_next behind the gate. */
static int list_pairs(lua_State *L) {
  list_bal(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_pushinteger(L, 0);
  return 3;
}

static int readonly(lua_State *L) { return luaL_error(L, "this object is read-only"); }

/* ---- the job ------------------------------------------------------------- */

static int job_index(lua_State *L) {
  job_ud_t *j = luaL_checkudata(L, 1, MT_JOB);
  bal_call_t *c = &j->b->call;
  if (!c->active) return luaL_error(L, "the job object is only valid during its pick call");
  const pgd_bal_job_t *job = c->job;
  const char *k = lua_tostring(L, 2);
  if (!k || lua_type(L, 2) != LUA_TSTRING) {
    lua_pushnil(L);
    return 1;
  }
  if (!strcmp(k, "name")) lua_pushstring(L, job->name);
  else if (!strcmp(k, "type")) lua_pushstring(L, job->type);
  else if (!strcmp(k, "slots")) lua_pushinteger(L, job->slots);
  else if (!strcmp(k, "priority")) lua_pushinteger(L, job->priority);
  else if (!strcmp(k, "attempt")) lua_pushinteger(L, job->attempt);
  else {
    static const char *const lazy[JOB_LAZY] = {"params", "labels", "balancer_args",
                                               "previous_workers"};
    const cJSON *src[JOB_LAZY] = {job->params, job->labels, job->balancer_args,
                                  job->previous_workers};
    for (int i = 0; i < JOB_LAZY; i++) {
      if (strcmp(k, lazy[i]) != 0) continue;
      if (j->serial[i] == c->serial) {
        lua_getiuservalue(L, 1, i + 1);
        return 1;
      }
      pgd_sandbox_push_json(L, src[i]);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L); /* absent = empty: scripts can index without checks */
      }
      lua_pushvalue(L, -1);
      lua_setiuservalue(L, 1, i + 1);
      j->serial[i] = c->serial;
      return 1;
    }
    lua_pushnil(L);
  }
  return 1;
}

/* ---- pagoda.* helpers ---------------------------------------------------- */

/* The id → index map of the current generation, on the stack top. */
static void push_idmap(lua_State *L, bal_t *b) {
  bal_code_t *code = b->code;
  bal_call_t *c = &b->call;
  if (code->idmap_valid && code->idmap_gen == c->gen) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, code->idmap_ref);
    return;
  }
  lua_createtable(L, 0, (int)c->n);
  for (size_t i = 0; i < c->n; i++) {
    if (!c->cands[i].id) continue;
    lua_pushinteger(L, (lua_Integer)i);
    lua_setfield(L, -2, c->cands[i].id);
  }
  lua_pushvalue(L, -1);
  lua_rawseti(L, LUA_REGISTRYINDEX, code->idmap_ref);
  code->idmap_gen = c->gen;
  code->idmap_valid = 1;
}

/* Index of candidate `id`, or -1. Verifies the map (a caller may have kept
 * a generation while changing ids) and falls back to a scan. */
static int find_index(lua_State *L, bal_t *b, const char *id) {
  bal_call_t *c = &b->call;
  bal_code_t *code = b->code;
  if (!(code->idmap_valid && code->idmap_gen == c->gen) && code->scan_gen != c->gen) {
    /* First lookup in this generation: a scan is cheaper than a map when
     * the worker set changes between every two decisions. */
    code->scan_gen = c->gen;
    for (size_t k = 0; k < c->n; k++)
      if (c->cands[k].id && !strcmp(c->cands[k].id, id)) return (int)k;
    return -1;
  }
  push_idmap(L, b);
  lua_getfield(L, -1, id);
  int isnum = 0;
  lua_Integer i = lua_tointegerx(L, -1, &isnum);
  lua_pop(L, 2);
  if (isnum && i >= 0 && (size_t)i < c->n && c->cands[i].id && !strcmp(c->cands[i].id, id))
    return (int)i;
  for (size_t k = 0; k < c->n; k++)
    if (c->cands[k].id && !strcmp(c->cands[k].id, id)) return (int)k;
  return -1;
}

static bal_t *helper_bal(lua_State *L) {
  bal_t *b = lua_touserdata(L, lua_upvalueindex(1));
  if (!b->call.active) luaL_error(L, "pagoda helpers are only usable during a pick call");
  return b;
}

/* pagoda.find(workers, id) -> worker or nil */
static int h_find(lua_State *L) {
  bal_t *b = helper_bal(L);
  const char *id = luaL_checkstring(L, 2);
  int i = find_index(L, b, id);
  if (i < 0) return 0;
  push_worker(L, b, i);
  return 1;
}

/* Whether candidate id is in the exclusion table at `ex` (a set {id=true}
 * or an array of ids; 0 = none). */
static int excluded(lua_State *L, int ex, const char *id, int ex_is_array, lua_Integer ex_len) {
  if (!ex) return 0;
  if (ex_is_array) {
    for (lua_Integer k = 1; k <= ex_len; k++) {
      lua_rawgeti(L, ex, k);
      const char *s = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
      int hit = s && !strcmp(s, id);
      lua_pop(L, 1);
      if (hit) return 1;
    }
    return 0;
  }
  int t = lua_getfield(L, ex, id);
  int hit = t != LUA_TNIL && !(t == LUA_TBOOLEAN && !lua_toboolean(L, -1));
  lua_pop(L, 1);
  return hit;
}

/* Number of the labels in the Lua array at `pref` that `labels` carries. */
static int label_score(lua_State *L, int pref, lua_Integer npref, const cJSON *labels) {
  if (!pref || !labels) return 0;
  int score = 0;
  for (lua_Integer k = 1; k <= npref; k++) {
    lua_rawgeti(L, pref, k);
    const char *want = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    if (want) {
      const cJSON *e;
      cJSON_ArrayForEach(e, labels) {
        if (cJSON_IsString(e) && !strcmp(e->valuestring, want)) {
          score++;
          break;
        }
      }
    }
    lua_pop(L, 1);
  }
  return score;
}

/* pagoda.least_loaded(workers [, exclude [, prefer_labels]]) -> worker or
 * nil: in C, the candidate not in `exclude` that carries the most of
 * `prefer_labels` (an array of strings), then the built-in order (most free
 * slots, lowest load, fewest running). */
static int h_least_loaded(lua_State *L) {
  bal_t *b = helper_bal(L);
  list_bal(L, 1);
  int ex = 0, ex_arr = 0, pref = 0;
  lua_Integer ex_len = 0, npref = 0;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    ex = 2;
    ex_len = (lua_Integer)lua_rawlen(L, 2);
    ex_arr = ex_len > 0;
  }
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    npref = (lua_Integer)lua_rawlen(L, 3);
    pref = npref > 0 ? 3 : 0;
  }
  bal_call_t *c = &b->call;
  int best = -1, best_score = 0;
  for (size_t i = 0; i < c->n; i++) {
    const pgd_bal_worker_t *x = &c->cands[i];
    if (!x->id || excluded(L, ex, x->id, ex_arr, ex_len)) continue;
    int score = label_score(L, pref, npref, x->labels);
    if (best < 0 || score > best_score) {
      best = (int)i;
      best_score = score;
      continue;
    }
    if (score < best_score) continue;
    const pgd_bal_worker_t *y = &c->cands[best];
    if (x->slots_free > y->slots_free ||
        (x->slots_free == y->slots_free &&
         (x->load1 < y->load1 || (x->load1 == y->load1 && x->running < y->running))))
      best = (int)i;
  }
  if (best < 0) return 0;
  push_worker(L, b, best);
  return 1;
}

/* Adds `pagoda` = {find, least_loaded} to the new _ENV (stack top). */
static int env_setup(lua_State *L, void *ud) {
  bal_t *b = ud; /* b->code is the code being compiled */
  lua_newtable(L);
  lua_pushlightuserdata(L, b);
  push_guarded(L, b->code, h_find, 1);
  lua_setfield(L, -2, "find");
  lua_pushlightuserdata(L, b);
  push_guarded(L, b->code, h_least_loaded, 1);
  lua_setfield(L, -2, "least_loaded");
  lua_setfield(L, -2, "pagoda");
  return 0;
}

/* ---- compile ------------------------------------------------------------- */

static void new_mt(lua_State *L, bal_code_t *code, const char *name, lua_CFunction index) {
  luaL_newmetatable(L, name);
  push_guarded(L, code, index, 0);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, readonly);
  lua_setfield(L, -2, "__newindex");
  lua_pushliteral(L, "locked");
  lua_setfield(L, -2, "__metatable");
}

typedef struct {
  bal_t *b;
  bal_code_t *code;
  int env_ref;
  char msg[256];
} setup_ctx_t;

/* After the chunk ran: checks `pick`, creates the objects. */
static int objects_fn(lua_State *L, void *ud) {
  setup_ctx_t *s = ud;
  bal_code_t *code = s->code;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->env_ref);
  if (lua_getfield(L, -1, "pick") != LUA_TFUNCTION) {
    snprintf(s->msg, sizeof s->msg, "the script defines no function pick(job, workers, state)");
    lua_pop(L, 2);
    return 0;
  }
  code->pick_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  new_mt(L, code, MT_WORKER, worker_index);
  push_guarded(L, code, worker_tostring, 0);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  new_mt(L, code, MT_WORKERS, list_index);
  push_guarded(L, code, list_len, 0);
  lua_setfield(L, -2, "__len");
  push_guarded(L, code, list_next, 0);
  push_guarded(L, code, list_pairs, 1);
  lua_setfield(L, -2, "__pairs");
  lua_pop(L, 1);
  new_mt(L, code, MT_JOB, job_index);
  lua_pop(L, 1);
  lua_newtable(L);
  code->state_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_newtable(L);
  code->pool_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushboolean(L, 0);
  code->idmap_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  list_ud_t *l = lua_newuserdatauv(L, sizeof *l, 0);
  l->b = s->b;
  luaL_setmetatable(L, MT_WORKERS);
  code->workers_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  job_ud_t *j = lua_newuserdatauv(L, sizeof *j, JOB_LAZY);
  memset(j, 0, sizeof *j);
  j->b = s->b;
  luaL_setmetatable(L, MT_JOB);
  code->job_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

bal_code_t *pgd_bal_code_compile(bal_t *b, const char *text, size_t len, long instructions,
                                 size_t call_mem_cap, char *err, size_t errlen) {
  bal_code_t *code = calloc(1, sizeof *code);
  if (!code) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  code->pick_ref = code->state_ref = code->workers_ref = LUA_NOREF;
  code->owner = b;
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&code->gate, &ma);
  pthread_mutexattr_destroy(&ma);
  code->pool_ref = code->job_ref = code->idmap_ref = LUA_NOREF;
  char sbname[BAL_NAME_MAX + 16];
  snprintf(sbname, sizeof sbname, "balancer %s", b->name);
  if (pgd_sandbox_new(sbname, instructions, call_mem_cap, 0, &code->sb, err, errlen) != 0) {
    pgd_bal_code_free(code);
    return NULL;
  }
  char chunk[600];
  snprintf(chunk, sizeof chunk, "@%s", b->file ? b->file : b->name);
  setup_ctx_t s = {.b = b, .code = code, .env_ref = LUA_NOREF};
  /* The objects read b->code during calls: point it at the new code only
   * while compiling (no call happens here), then restore. */
  bal_code_t *saved = b->code;
  b->code = code;
  int rc = pgd_sandbox_load(code->sb, chunk, text, len, env_setup, b, &s.env_ref, err, errlen);
  if (rc == 0) rc = pgd_sandbox_call(code->sb, objects_fn, &s, err, errlen);
  b->code = saved;
  if (rc == 0 && s.msg[0]) {
    snprintf(err, errlen, "%s", s.msg);
    rc = -1;
  }
  if (rc != 0) {
    pgd_bal_code_free(code);
    return NULL;
  }
  return code;
}

void pgd_bal_code_free(bal_code_t *c) {
  if (!c) return;
  pgd_sandbox_free(c->sb);
  pthread_mutex_destroy(&c->gate);
  free(c);
}

/* ---- one pick ------------------------------------------------------------ */

/* Through the gate: (code, first result, second result) -> b->call. */
static int take_results(lua_State *L) {
  bal_code_t *code = lua_touserdata(L, 1);
  bal_t *b = code->owner;
  bal_call_t *c = &b->call;
  int t = lua_type(L, 2);
  if (t == LUA_TNIL) {
    c->index = -1;
    const char *r = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : NULL;
    snprintf(c->reason, sizeof c->reason, "%s", r ? r : "the balancer keeps the job pending");
  } else if (t == LUA_TSTRING) {
    const char *id = lua_tostring(L, 2);
    c->index = find_index(L, b, id);
    if (c->index < 0) snprintf(c->bad, sizeof c->bad, "returned '%.200s', which is not a candidate", id);
  } else if (t == LUA_TUSERDATA && luaL_testudata(L, 2, MT_WORKER)) {
    worker_ud_t *w = lua_touserdata(L, 2);
    if (w->b == b && (size_t)w->index < c->n)
      c->index = w->index;
    else
      snprintf(c->bad, sizeof c->bad, "returned a worker object that is not a candidate");
  } else {
    snprintf(c->bad, sizeof c->bad, "returned a %s, expected a worker id (string) or nil",
             luaL_typename(L, 2));
  }
  return 0;
}

static int pick_fn(lua_State *L, void *ud) {
  bal_code_t *code = ud;
  lua_rawgeti(L, LUA_REGISTRYINDEX, code->pick_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, code->job_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, code->workers_ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, code->state_ref);
  lua_call(L, 3, 2);
  lua_pushcfunction(L, take_results);
  lua_pushlightuserdata(L, code);
  lua_rotate(L, -4, 2); /* take_results, code, result 1, result 2 */
  gate_call(L, code, 3);
  return 0;
}

/* On the script thread (or the caller's): one protected pick call. */
static void run_pick(void *ud) {
  bal_code_t *code = ud;
  code->err[0] = '\0';
  code->rc = pgd_sandbox_call(code->sb, pick_fn, code, code->err, sizeof code->err);
}

static void free_code(void *ud) { pgd_bal_code_free(ud); }

int pgd_bal_code_pick(bal_t *b, pgd_script_thread_t *thread, long timeout_ms, char *err,
                      size_t errlen) {
  bal_call_t *c = &b->call;
  bal_code_t *code = b->code;
  c->index = -1;
  c->reason[0] = '\0';
  c->bad[0] = '\0';
  c->serial++;
  c->active = 1;
  if (!thread) {
    run_pick(code);
  } else if (pgd_script_thread_run(thread, run_pick, code, timeout_ms) != 0) {
    /* Stuck where no limit is checked: give the state up. Once `abandoned`
     * is set (under the gate, which the script thread holds only for short
     * reads), the thread never reads b again; it frees the code when (if)
     * its call returns. */
    pthread_mutex_lock(&code->gate);
    code->abandoned = 1;
    pthread_mutex_unlock(&code->gate);
    c->active = 0;
    b->code = NULL;
    pgd_script_thread_orphan(thread, free_code, code);
    snprintf(err, errlen, "the pick did not return within %ld ms: its Lua state was abandoned", timeout_ms);
    return PGD_SCRIPT_THREAD_ETIMEDOUT;
  }
  c->active = 0;
  if (code->rc != 0) snprintf(err, errlen, "%s", code->err);
  return code->rc;
}
