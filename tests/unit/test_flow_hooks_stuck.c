/* Unit tests of core/flow hooks on the script thread (issue 13): a hook
 * stuck in a C function (injected here: no function a script can reach
 * blocks) is abandoned at the deadline (the sandbox's time limit + 250 ms):
 * the engine carries on with the hook's error under the flow's policy, the
 * definition gets a fresh Lua state that runs reload into, and the orphaned
 * thread frees the old state when its call returns. */
#include <lauxlib.h>
#include <stdatomic.h>
#include <time.h>

#include "pgd_test.h"
#include "flow_fixture.h"
#include "flow/flow_int.h"

static atomic_int release, in_stall, state_closed;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int l_stall(lua_State *L) {
  (void)L;
  atomic_store(&in_stall, 1);
  while (!atomic_load(&release)) {
    struct timespec ts = {0, 2 * 1000000L};
    nanosleep(&ts, NULL);
  }
  return 0;
}

static int l_closed(lua_State *L) {
  (void)L;
  atomic_store(&state_closed, 1);
  return 0;
}

/* stall() in the run's environment; a finalizer reporting lua_close. */
static void inject(pgd_flow_run_t *r) {
  lua_State *L = pgd_sandbox_state(r->def->sb);
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->env_ref);
  lua_pushcfunction(L, l_stall);
  lua_setfield(L, -2, "stall");
  lua_pop(L, 1);
  lua_newuserdatauv(L, 1, 0);
  lua_newtable(L);
  lua_pushcfunction(L, l_closed);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  luaL_ref(L, LUA_REGISTRYINDEX);
}

static pgd_flow_def_t *chain(const char *lua) {
  cJSON *j = J("{'name':'stuck','nodes':[{'id':'check','job':'echo'},"
               "{'id':'big','job':'echo','depends_on':['check']}]}");
  cJSON_AddItemToObject(j, "hooks", cJSON_CreateObject());
  cJSON_AddStringToObject(cJSON_GetObjectItem(j, "hooks"), "script", lua);
  pgd_flow_def_t *d = NULL;
  int rc = pgd_flow_def_parse(j, &test_checks, &d, perr, sizeof perr);
  if (rc) fprintf(stderr, "\nparse: %s\n", perr);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  cJSON_Delete(j);
  return d;
}

static int hook_errors(pgd_flow_run_t *r, const char *needle) {
  cJSON *st = pgd_flow_run_state(r);
  cJSON *e;
  int n = 0;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(st, "hook_errors")) {
    if (strstr(cJSON_GetObjectItem(e, "error")->valuestring, needle)) n++;
  }
  cJSON_Delete(st);
  return n;
}

static void test_stuck_hook_is_abandoned(void) {
  pgd_flow_def_t *d = chain("function on_node_ready(node, flow)\n"
                            "  if node.id == 'big' then stall() end\n"
                            "end\n"
                            "function on_node_done(node, result, flow) set_var('done_' .. node.id, 1) end\n");
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  pgd_flow_run_t *r2 = run_ok(d, 2, NULL, 0);
  EXPECT_STR(step(r), "start:check");
  EXPECT_STR(step(r2), "start:check");
  inject(r);
  pgd_sandbox_t *old = d->sb;
  atomic_store(&release, 0);
  double t0 = now_s();
  /* check done -> big ready -> the hook sticks; the default policy runs big */
  EXPECT_STR(fin(r, "check", "succeeded"), "start:big");
  double took = now_s() - t0;
  CU_ASSERT_EQUAL(atomic_load(&in_stall), 1);
  CU_ASSERT(took < 6.0); /* 1.25 s deadline; margin for a loaded machine */
  CU_ASSERT_EQUAL(hook_errors(r, "did not return within 1250 ms"), 1);
  CU_ASSERT_EQUAL(d->sb_gen, 1);
  CU_ASSERT_PTR_NOT_NULL(d->sb);
  CU_ASSERT_PTR_NOT_EQUAL(d->sb, old);
  /* both runs go on in the new state (stall() exists only in the old one) */
  EXPECT_STR(fin(r, "big", "succeeded"), "done:succeeded");
  EXPECT_STR(fin(r2, "check", "succeeded"), "start:big");
  CU_ASSERT_EQUAL(hook_errors(r2, "stall"), 1); /* a nil global now: a plain error */
  EXPECT_STR(fin(r2, "big", "succeeded"), "done:succeeded");
  cJSON *st = pgd_flow_run_state(r2);
  CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItem(cJSON_GetObjectItem(st, "vars"), "done_big"));
  cJSON_Delete(st);
  /* the caller's run goes away before the stuck thread resumes */
  pgd_flow_run_free(r);
  pgd_flow_run_free(r2);
  pgd_flow_def_free(d);
  atomic_store(&release, 1);
  double end = now_s() + 10;
  while (!atomic_load(&state_closed) && now_s() < end) {
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
  }
  CU_ASSERT_EQUAL(atomic_load(&state_closed), 1); /* the orphan freed the old state */
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("flow_hooks_stuck", NULL, NULL);
  CU_add_test(s, "a hook stuck in C is abandoned", test_stuck_hook_is_abandoned);
  return pgd_test_run();
}
