/* Unit tests of core/flow: Lua DAG hooks (skip, params, branching on
 * outputs, variables, errors with both hooks_error policies, budget). */
#include "pgd_test.h"
#include "flow_fixture.h"

/* A three-node chain check -> big -> report with `hooks` (Lua text, single
 * quotes allowed: written into JSON through cJSON) and extra top-level JSON. */
static pgd_flow_def_t *chain(const char *lua, const char *extra) {
  char json[4096];
  snprintf(json, sizeof json,
           "{'name':'h',%s'nodes':[{'id':'check','job':'echo'},"
           "{'id':'big','job':'echo','depends_on':['check'],'params':{'who':'${flow.vars.who}'}},"
           "{'id':'report','job':'echo','depends_on':['big'],'trigger_rule':'all_done'}]}", extra);
  cJSON *j = J(json);
  cJSON_AddItemToObject(j, "hooks", cJSON_CreateObject());
  cJSON_AddStringToObject(cJSON_GetObjectItem(j, "hooks"), "script", lua);
  pgd_flow_def_t *d = NULL;
  int rc = pgd_flow_def_parse(j, &test_checks, &d, perr, sizeof perr);
  if (rc) fprintf(stderr, "\nparse: %s\n", perr);
  CU_ASSERT_EQUAL(rc, 0);
  cJSON_Delete(j);
  return d;
}

static int hook_error_count(pgd_flow_run_t *r, const char *needle) {
  cJSON *st = pgd_flow_run_state(r);
  cJSON *e, *errs = cJSON_GetObjectItem(st, "hook_errors");
  int n = 0;
  cJSON_ArrayForEach(e, errs) {
    const char *msg = cJSON_GetObjectItem(e, "error")->valuestring;
    if (!needle || strstr(msg, needle)) n++;
  }
  cJSON_Delete(st);
  return n;
}

static const char *var(pgd_flow_run_t *r, const char *k) {
  static char buf[256];
  cJSON *st = pgd_flow_run_state(r);
  cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "vars"), k);
  char *s = v ? cJSON_PrintUnformatted(v) : NULL;
  snprintf(buf, sizeof buf, "%s", s ? s : "(none)");
  free(s);
  cJSON_Delete(st);
  return buf;
}

static const char *BRANCH =
    "function on_flow_start(flow) flow.vars.who = 'start' end\n"
    "function on_node_ready(node, flow)\n"
    "  if node.id == 'big' then\n"
    "    local rows = tonumber(flow.nodes.check.outputs.rows or '0')\n"
    "    if rows < 100 then return 'skip', 'only ' .. rows .. ' rows' end\n"
    "    return { mode = 'bulk', who = node.params.who .. '!' }\n"
    "  end\n"
    "end\n"
    "function on_node_done(node, result, flow)\n"
    "  set_var('last', node.id)\n"
    "  flow.vars.n = (flow.vars.n or 0) + 1\n"
    "  return { [node.id] = result.state }\n"
    "end\n"
    "function on_flow_done(flow, result) return { final = result.state } end\n";

static void test_branch_skip(void) {
  pgd_flow_def_t *d = chain(BRANCH, "");
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  EXPECT_STR(step(r), "start:check");
  EXPECT_STR(var(r, "who"), "\"start\"");
  pgd_flow_run_node_output(r, "check", "::output rows=5\n", 16);
  /* big skipped by the hook; report (all_done) still runs */
  EXPECT_STR(fin(r, "check", "succeeded"), "start:report");
  EXPECT_STR(nstate(r, "big"), "skipped");
  cJSON *st = pgd_flow_run_node_state(r, "big");
  EXPECT_STR(cJSON_GetObjectItem(st, "reason")->valuestring, "on_node_ready: only 5 rows");
  EXPECT_STR(cJSON_GetObjectItem(st, "skip_cause")->valuestring, "hook");
  cJSON_Delete(st);
  EXPECT_STR(fin(r, "report", "succeeded"), "done:succeeded");
  EXPECT_STR(var(r, "last"), "\"report\"");
  EXPECT_STR(var(r, "n"), "2");
  EXPECT_STR(var(r, "check"), "\"succeeded\"");
  EXPECT_STR(var(r, "final"), "\"succeeded\"");
  CU_ASSERT_EQUAL(hook_error_count(r, NULL), 0);
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

static void test_branch_params(void) {
  pgd_flow_def_t *d = chain(BRANCH, "");
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  step(r);
  pgd_flow_run_node_output(r, "check", "::output rows=500\n", 18);
  EXPECT_STR(fin(r, "check", "succeeded"), "start:big");
  EXPECT_STR(job_param("big", "mode"), "bulk");
  EXPECT_STR(job_param("big", "who"), "start!"); /* ${flow.vars.who} then the hook */
  /* vars survive a restore (globals would not) */
  cJSON *st = pgd_flow_run_state(r);
  pgd_flow_run_t *r2 = NULL;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(pgd_flow_run_restore(d, st, &r2, err, sizeof err), 0);
  cJSON_Delete(st);
  EXPECT_STR(var(r2, "n"), "1");
  EXPECT_STR(step(r2), "");
  EXPECT_STR(fin(r2, "big", "succeeded"), "start:report");
  EXPECT_STR(var(r2, "n"), "2");
  pgd_flow_run_free(r2);
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

static const char *ERRS =
    "function on_flow_start(flow) set_var('who', 'x') end\n"
    "function on_node_ready(node, flow)\n"
    "  if node.id == 'big' then error('boom') end\n"
    "  if node.id == 'report' then while true do end end\n"
    "end\n"
    "function on_node_done(node, result, flow) if node.id == 'check' then return 42 end end\n";

static void test_errors_default_run(void) {
  pgd_flow_def_t *d = chain(ERRS, "");
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  step(r);
  /* on_node_done returned a number: recorded, node still succeeded; big's
   * hook raised: recorded, big runs anyway */
  EXPECT_STR(fin(r, "check", "succeeded"), "start:big");
  EXPECT_STR(nstate(r, "check"), "succeeded");
  CU_ASSERT_EQUAL(hook_error_count(r, "must return nil or a table"), 1);
  CU_ASSERT_EQUAL(hook_error_count(r, "boom"), 1);
  /* the endless loop hits the instruction budget; report runs */
  EXPECT_STR(fin(r, "big", "succeeded"), "start:report");
  CU_ASSERT_EQUAL(hook_error_count(r, "instruction budget exceeded"), 1);
  EXPECT_STR(fin(r, "report", "succeeded"), "done:succeeded");
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

static void test_errors_fail(void) {
  pgd_flow_def_t *d = chain(ERRS, "'hooks_error':'fail','failure_strategy':'continue',");
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  step(r);
  /* check's on_node_done fails: check becomes failed; big upstream_failed;
   * report (all_done) reaches its looping hook and fails too */
  EXPECT_STR(fin(r, "check", "succeeded"), "done:failed");
  EXPECT_STR(nstate(r, "check"), "failed");
  EXPECT_STR(nstate(r, "big"), "upstream_failed");
  EXPECT_STR(nstate(r, "report"), "failed");
  cJSON *st = pgd_flow_run_node_state(r, "report");
  CU_ASSERT_PTR_NOT_NULL(strstr(cJSON_GetObjectItem(st, "reason")->valuestring, "instruction budget"));
  cJSON_Delete(st);
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);

  /* on_flow_start raising with hooks_error fail: nothing runs */
  d = chain("function on_flow_start(flow) error('no') end", "'hooks_error':'fail',");
  r = run_ok(d, 1, NULL, 0);
  EXPECT_STR(step(r), "done:failed");
  EXPECT_STR(nstate(r, "check"), "skipped");
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);

  /* a hook that skips everything: skipped nodes do not fail the flow */
  d = chain("local n = 0 function on_node_ready() n = n + 1 return 'skip', 'no ' .. n end", "");
  r = run_ok(d, 1, NULL, 0);
  EXPECT_STR(step(r), "done:succeeded"); /* check by hook, big upstream, report by hook */
  EXPECT_STR(nstate(r, "big"), "skipped");
  st = pgd_flow_run_node_state(r, "report");
  EXPECT_STR(cJSON_GetObjectItem(st, "reason")->valuestring, "on_node_ready: no 2");
  cJSON_Delete(st);
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

static void test_hooks_file_and_sandbox(void) {
  const char *src = getenv("PAGODA_SOURCE_DIR");
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/conf/hooks", src ? src : "../..");
  pgd_flow_checks_t c = test_checks;
  c.hooks_dir = dir;
  cJSON *j = J("{'name':'f','hooks':{'file':'example.lua'},'nodes':[{'id':'extract','job':'echo'},"
               "{'id':'load','job':'echo','depends_on':['extract']}]}");
  pgd_flow_def_t *d = NULL;
  int rc = pgd_flow_def_parse(j, &c, &d, perr, sizeof perr);
  if (rc) fprintf(stderr, "\nparse: %s\n", perr);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  cJSON_Delete(j);
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 1774956645LL * 1000000);
  step(r);
  EXPECT_STR(fin(r, "extract", "succeeded"), "done:succeeded"); /* rows = 0: load skipped */
  EXPECT_STR(nstate(r, "load"), "skipped");
  EXPECT_STR(var(r, "started_on"), "\"2026-03-31\"");
  EXPECT_STR(var(r, "nodes_done"), "1");
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);

  /* the sandbox is the balancers' one: no io, no os.execute */
  d = chain("function on_node_ready(node, flow) return io.open('/etc/passwd') end", "'hooks_error':'fail',");
  r = run_ok(d, 1, NULL, 0);
  EXPECT_STR(step(r), "done:failed");
  CU_ASSERT_EQUAL(hook_error_count(r, "io"), 1);
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

static int cleanup(void) {
  support_cleanup();
  return 0;
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("flow_hooks", NULL, cleanup);
  CU_add_test(s, "branch on an output: skip", test_branch_skip);
  CU_add_test(s, "params from a hook, vars across restore", test_branch_params);
  CU_add_test(s, "hook errors and budget: default run", test_errors_default_run);
  CU_add_test(s, "hook errors: hooks_error fail", test_errors_fail);
  CU_add_test(s, "hooks file, sandbox", test_hooks_file_and_sandbox);
  return pgd_test_run();
}
