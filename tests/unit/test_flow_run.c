/* Unit tests of core/flow: the state machine (diamond, failure strategies,
 * trigger rules, max_parallel, outputs, kill, restore, re-runs). */
#include "pgd_test.h"
#include "flow_fixture.h"

#define DIAMOND(extra)                                                                        \
  "{'name':'d'," extra "'nodes':["                                                            \
  "{'id':'a','job':'echo'},"                                                                  \
  "{'id':'b','job':'echo','depends_on':['a']},"                                               \
  "{'id':'c','job':'echo','depends_on':['a']},"                                               \
  "{'id':'d','job':'echo','depends_on':['b','c']}]}"

static void test_diamond(void) {
  pgd_flow_def_t *d = parse_ok(DIAMOND(""));
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  next_exec_id = 100;
  EXPECT_STR(step(r), "start:a");
  EXPECT_STR(step(r), ""); /* nothing new until an event */
  EXPECT_STR(nstate(r, "b"), "waiting");
  EXPECT_STR(fin(r, "a", "succeeded"), "start:b start:c");
  EXPECT_STR(fin(r, "c", "succeeded"), "");
  EXPECT_STR(nstate(r, "d"), "waiting");
  EXPECT_STR(fin(r, "b", "succeeded"), "start:d");
  EXPECT_STR(fin(r, "d", "succeeded"), "done:succeeded");
  EXPECT_STR(pgd_flow_run_state_name(r), "succeeded");
  CU_ASSERT_TRUE(pgd_flow_run_done(r));
  EXPECT_STR(step(r), "");
  /* reporting a finished node again is refused */
  CU_ASSERT_EQUAL(pgd_flow_run_node_finished(r, "a", "failed", NULL), PGD_FLOW_ESTATE);
  CU_ASSERT_EQUAL(pgd_flow_run_node_finished(r, "zz", "failed", NULL), PGD_FLOW_ENOENT);
  cJSON *st = pgd_flow_run_state(r);
  cJSON *b = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "nodes"), "b");
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(b, "execution_id")->valuedouble, 101);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(b, "attempts")->valueint, 1);
  cJSON_Delete(st);
  /* the started job is the stored one */
  EXPECT_STR(job_param("a", "script"), "echo hi");
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

static void test_fail_fast(void) {
  pgd_flow_def_t *d = parse_ok(DIAMOND(""));
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  step(r);
  fin(r, "a", "succeeded");
  /* b fails while c runs: c is killed, d skipped */
  EXPECT_STR(fin(r, "b", "timed_out"), "kill:c");
  EXPECT_STR(nstate(r, "b"), "failed");
  EXPECT_STR(nstate(r, "d"), "skipped");
  EXPECT_STR(pgd_flow_run_state_name(r), "running");
  EXPECT_STR(fin(r, "c", "killed"), "done:failed");
  EXPECT_STR(nstate(r, "c"), "killed");
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

static void test_continue(void) {
  pgd_flow_def_t *d = parse_ok(
      "{'name':'c','failure_strategy':'continue','nodes':["
      "{'id':'a','job':'echo'},{'id':'b','job':'echo'},"
      "{'id':'a2','job':'echo','depends_on':['a']},{'id':'b2','job':'echo','depends_on':['b']},"
      "{'id':'a3','job':'echo','depends_on':['a2']}]}");
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  EXPECT_STR(step(r), "start:a start:b");
  EXPECT_STR(fin(r, "a", "failed"), "");
  EXPECT_STR(nstate(r, "a2"), "upstream_failed");
  EXPECT_STR(nstate(r, "a3"), "upstream_failed");
  EXPECT_STR(fin(r, "b", "succeeded"), "start:b2");
  EXPECT_STR(fin(r, "b2", "succeeded"), "done:failed");
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

/* Node t with rule `rule` after u1, u2 ending as s1, s2 (continue). */
static const char *rule_case(const char *rule, const char *s1, const char *s2) {
  static char out[64];
  char json[512];
  snprintf(json, sizeof json,
           "{'name':'r','failure_strategy':'continue','nodes':[{'id':'u1','job':'echo'},"
           "{'id':'u2','job':'echo'},{'id':'t','job':'echo','depends_on':['u1','u2'],'trigger_rule':'%s'}]}",
           rule);
  pgd_flow_def_t *d = parse_ok(json);
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  step(r);
  const char *t1 = fin(r, "u1", s1);
  int early = strstr(t1, "start:t") != NULL;
  if (strcmp(nstate(r, "t"), "waiting") != 0 && strcmp(nstate(r, "t"), "running") != 0) early = 2;
  fin(r, "u2", s2);
  snprintf(out, sizeof out, "%s%s", early == 1 ? "early:" : early == 2 ? "decided:" : "", nstate(r, "t"));
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
  return out;
}

static void test_trigger_rules(void) {
  EXPECT_STR(rule_case("all_success", "succeeded", "succeeded"), "running");
  EXPECT_STR(rule_case("all_success", "failed", "succeeded"), "decided:upstream_failed");
  EXPECT_STR(rule_case("all_done", "failed", "killed"), "running");
  EXPECT_STR(rule_case("all_done", "succeeded", "failed"), "running");
  EXPECT_STR(rule_case("one_success", "succeeded", "failed"), "early:running");
  EXPECT_STR(rule_case("one_success", "failed", "succeeded"), "running");
  EXPECT_STR(rule_case("one_success", "failed", "failed"), "upstream_failed");
  EXPECT_STR(rule_case("one_failed", "failed", "succeeded"), "early:running");
  EXPECT_STR(rule_case("one_failed", "succeeded", "succeeded"), "skipped");
  EXPECT_STR(rule_case("one_failed", "succeeded", "lost"), "running");
}

static void test_max_parallel(void) {
  pgd_flow_def_t *d = parse_ok(
      "{'name':'m','max_parallel':2,'nodes':[{'id':'a','job':'echo'},{'id':'b','job':'echo'},"
      "{'id':'c','job':'echo'},{'id':'d','job':'echo'},{'id':'e','job':'echo','depends_on':['a']}]}");
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  EXPECT_STR(step(r), "start:a start:b");
  EXPECT_STR(fin(r, "b", "succeeded"), "start:c");
  /* e becomes ready after a, but lower-index d goes first */
  EXPECT_STR(fin(r, "a", "succeeded"), "start:d");
  EXPECT_STR(fin(r, "c", "succeeded"), "start:e");
  EXPECT_STR(fin(r, "d", "succeeded"), "");
  EXPECT_STR(fin(r, "e", "succeeded"), "done:succeeded");
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

static void test_outputs_passing(void) {
  pgd_flow_def_t *d = parse_ok(
      "{'name':'o','params':{'region':'eu'},'nodes':[{'id':'extract','job':'echo'},"
      "{'id':'load','job':'echo','depends_on':['extract'],'timeout':30,"
      "'params':{'file':'${node.extract.outputs.path}','rows':'${node.extract.outputs.rows}',"
      "'r':'${flow.params.region}/${execution.id}','lit':'$${x}','n':{'deep':['${flow.name}']}}}]}");
  pgd_flow_run_t *r = run_ok(d, 77, NULL, 0);
  step(r);
  const char *log = "starting\n::output path=/data/x.csv\n::out";
  pgd_flow_run_node_output(r, "extract", log, strlen(log));
  const char *log2 = "put rows=12\r\n::output bad key=1\nnoise ::output a=b\n::output last=1";
  pgd_flow_run_node_output(r, "extract", log2, strlen(log2));
  EXPECT_STR(fin(r, "extract", "succeeded"), "start:load");
  EXPECT_STR(job_param("load", "file"), "/data/x.csv");
  EXPECT_STR(job_param("load", "rows"), "12");
  EXPECT_STR(job_param("load", "r"), "eu/77");
  EXPECT_STR(job_param("load", "lit"), "${x}");
  EXPECT_STR(job_param("load", "script"), "echo hi"); /* stored params kept */
  cJSON *job = cJSON_GetObjectItem(started_jobs, "load");
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(job, "timeout")->valueint, 30);
  cJSON *deep = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(job, "params"), "n"), "deep"), 0);
  EXPECT_STR(deep->valuestring, "o");
  cJSON *st = pgd_flow_run_node_state(r, "extract");
  cJSON *outs = cJSON_GetObjectItem(st, "outputs");
  CU_ASSERT_EQUAL(cJSON_GetArraySize(outs), 3); /* path, rows, last */
  EXPECT_STR(cJSON_GetObjectItem(outs, "last")->valuestring, "1");
  cJSON_Delete(st);
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

static void test_unknown_variable_fails_node(void) {
  pgd_flow_def_t *d = parse_ok(
      "{'name':'u','nodes':[{'id':'a','job':'echo'},"
      "{'id':'b','job':'echo','depends_on':['a'],'params':{'x':'${node.a.outputs.nope}'}},"
      "{'id':'c','job':'echo','depends_on':['b']}]}");
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  step(r);
  EXPECT_STR(fin(r, "a", "succeeded"), "done:failed");
  EXPECT_STR(nstate(r, "b"), "failed");
  cJSON *st = pgd_flow_run_node_state(r, "b");
  const char *reason = cJSON_GetObjectItem(st, "reason")->valuestring;
  CU_ASSERT_PTR_NOT_NULL(strstr(reason, "unknown variable ${node.a.outputs.nope} in params.x"));
  cJSON_Delete(st);
  EXPECT_STR(nstate(r, "c"), "skipped");
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

static void test_lua_result_outputs(void) {
  pgd_flow_def_t *d = parse_ok(
      "{'name':'l','nodes':[{'id':'a','job':'lua1'},"
      "{'id':'b','job':'echo','depends_on':['a'],'params':{'x':'${node.a.outputs.n}-${node.a.outputs.ok}'}}]}");
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  step(r);
  cJSON *res = J("{'outputs':{'n':3,'ok':true,'t':{'k':1}}}");
  CU_ASSERT_EQUAL(pgd_flow_run_node_finished(r, "a", "succeeded", res), 0);
  cJSON_Delete(res);
  EXPECT_STR(step(r), "start:b");
  EXPECT_STR(job_param("b", "x"), "3-true");
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

static void test_kill(void) {
  pgd_flow_def_t *d = parse_ok(DIAMOND("'failure_strategy':'continue',"));
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  step(r);
  fin(r, "a", "succeeded");
  CU_ASSERT_EQUAL(pgd_flow_run_kill(r), 2);
  EXPECT_STR(step(r), "kill:b kill:c");
  EXPECT_STR(step(r), ""); /* kills are handed out once */
  EXPECT_STR(nstate(r, "d"), "skipped");
  EXPECT_STR(fin(r, "b", "killed"), "");
  EXPECT_STR(fin(r, "c", "succeeded"), "done:killed");
  CU_ASSERT_EQUAL(pgd_flow_run_kill(r), PGD_FLOW_ESTATE);
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

/* Restoring mid-flow: same next actions, finished nodes never re-run. */
static void test_restore(void) {
  pgd_flow_def_t *d = parse_ok(
      "{'name':'rs','max_parallel':2,'nodes':[{'id':'a','job':'echo'},{'id':'b','job':'echo'},"
      "{'id':'c','job':'echo'},{'id':'d','job':'echo','depends_on':['a','b']},"
      "{'id':'e','job':'echo','depends_on':['d'],'params':{'v':'${node.a.outputs.k}'}}]}");
  pgd_flow_run_t *r = run_ok(d, 5, NULL, 0);
  EXPECT_STR(step(r), "start:a start:b");
  pgd_flow_run_node_output(r, "a", "::output k=v1\n", 14);
  fin(r, "a", "succeeded"); /* starts c */
  cJSON *st = pgd_flow_run_state(r);
  char *text = cJSON_PrintUnformatted(st);
  cJSON_Delete(st);
  cJSON *st2 = cJSON_Parse(text); /* as stored */
  free(text);
  pgd_flow_run_t *r2 = NULL;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(pgd_flow_run_restore(d, st2, &r2, err, sizeof err), 0);
  cJSON_Delete(st2);
  EXPECT_STR(nstate(r2, "a"), "succeeded");
  EXPECT_STR(nstate(r2, "c"), "running");
  EXPECT_STR(step(r2), ""); /* a, b, c not handed out again */
  const char *seq[][2] = {{"b", "succeeded"}, {"c", "succeeded"}, {"d", "succeeded"}, {"e", "succeeded"}};
  for (size_t i = 0; i < 4; i++) {
    char t1[256];
    snprintf(t1, sizeof t1, "%s", fin(r, seq[i][0], seq[i][1]));
    EXPECT_STR(fin(r2, seq[i][0], seq[i][1]), t1);
  }
  EXPECT_STR(pgd_flow_run_state_name(r2), "succeeded");
  EXPECT_STR(job_param("e", "v"), "v1"); /* outputs survived the restore */
  pgd_flow_run_free(r);
  pgd_flow_run_free(r2);

  /* a node handed out but never given an execution id starts again */
  r = run_ok(d, 6, NULL, 0);
  pgd_flow_action_t a[4];
  CU_ASSERT_EQUAL(pgd_flow_run_next(r, a, 4), 2);
  for (int i = 0; i < 2; i++) cJSON_Delete(a[i].job);
  pgd_flow_run_node_started(r, "a", 9);
  st = pgd_flow_run_state(r);
  CU_ASSERT_EQUAL_FATAL(pgd_flow_run_restore(d, st, &r2, err, sizeof err), 0);
  cJSON_Delete(st);
  EXPECT_STR(step(r2), "start:b");
  st = pgd_flow_run_node_state(r2, "b");
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(st, "attempts")->valueint, 1);
  cJSON_Delete(st);
  pgd_flow_run_free(r);
  pgd_flow_run_free(r2);

  /* a state of another flow or shape is refused */
  st = J("{'flow':'other','state':'running','nodes':{}}");
  CU_ASSERT_EQUAL(pgd_flow_run_restore(d, st, &r2, err, sizeof err), PGD_FLOW_EINVAL);
  cJSON_Delete(st);
  st = J("{'flow':'rs','state':'running','nodes':{'a':{'state':'bogus'},'b':{},'c':{},'d':{},'e':{}}}");
  CU_ASSERT_EQUAL(pgd_flow_run_restore(d, st, &r2, err, sizeof err), PGD_FLOW_EINVAL);
  cJSON_Delete(st);
  pgd_flow_def_free(d);
}

static pgd_flow_run_t *rerun(pgd_flow_run_t *r, const char *req, int64_t id) {
  cJSON *q = J(req);
  pgd_flow_run_t *out = NULL;
  char err[256];
  int rc = pgd_flow_run_rerun(r, id, q, &out, err, sizeof err);
  if (rc) fprintf(stderr, "\nrerun: %s\n", err);
  CU_ASSERT_EQUAL(rc, 0);
  cJSON_Delete(q);
  return out;
}

static void test_rerun(void) {
  pgd_flow_def_t *d = parse_ok(
      "{'name':'rr','nodes':[{'id':'a','job':'echo'},{'id':'b','job':'echo'},"
      "{'id':'c','job':'echo','depends_on':['a'],'params':{'v':'${node.a.outputs.k}'}},"
      "{'id':'d','job':'echo','depends_on':['c']},{'id':'e','job':'echo','depends_on':['b']}]}");
  pgd_flow_run_t *r = run_ok(d, 1, NULL, 0);
  EXPECT_STR(step(r), "start:a start:b");
  pgd_flow_run_node_output(r, "a", "::output k=A\n", 13);
  EXPECT_STR(fin(r, "a", "succeeded"), "start:c");
  EXPECT_STR(fin(r, "c", "failed"), "kill:b");
  EXPECT_STR(fin(r, "b", "killed"), "done:failed");
  char err[256];
  pgd_flow_run_t *bad = NULL;
  cJSON *q = J("{'nodes':['zz']}");
  CU_ASSERT_EQUAL(pgd_flow_run_rerun(r, 2, q, &bad, err, sizeof err), PGD_FLOW_EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown node 'zz'"));
  cJSON_Delete(q);

  pgd_flow_run_t *r2 = rerun(r, "{'from_failed':true}", 2);
  cJSON *st = pgd_flow_run_state(r2);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(st, "rerun_of")->valueint, 1);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(st, "id")->valueint, 2);
  cJSON_Delete(st);
  EXPECT_STR(nstate(r2, "a"), "succeeded");
  /* c failed, b killed, d and e skipped by fail_fast: all re-run, a reused */
  EXPECT_STR(step(r2), "start:b start:c");
  EXPECT_STR(job_param("c", "v"), "A"); /* a's outputs reused */
  EXPECT_STR(fin(r2, "b", "succeeded"), "start:e");
  EXPECT_STR(fin(r2, "c", "succeeded"), "start:d");
  fin(r2, "d", "succeeded");
  EXPECT_STR(fin(r2, "e", "succeeded"), "done:succeeded");
  st = pgd_flow_run_node_state(r2, "a");
  CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(st, "reused")));
  cJSON *orig = pgd_flow_run_node_state(r, "a");
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(st, "execution_id")->valueint,
                  cJSON_GetObjectItem(orig, "execution_id")->valueint);
  cJSON_Delete(orig);
  cJSON_Delete(st);
  CU_ASSERT_EQUAL(pgd_flow_run_rerun(r2, 3, q = J("{'from_failed':true}"), &bad, err, sizeof err), PGD_FLOW_EINVAL);
  cJSON_Delete(q);

  /* chosen nodes and their downstream */
  pgd_flow_run_t *r3 = rerun(r2, "{'nodes':['c'],'params':{'x':1}}", 3);
  EXPECT_STR(nstate(r3, "b"), "succeeded");
  EXPECT_STR(nstate(r3, "e"), "succeeded");
  EXPECT_STR(step(r3), "start:c");
  EXPECT_STR(fin(r3, "c", "succeeded"), "start:d");
  EXPECT_STR(fin(r3, "d", "succeeded"), "done:succeeded");
  /* a running flow cannot be re-run */
  pgd_flow_run_t *r4 = run_ok(d, 4, NULL, 0);
  CU_ASSERT_EQUAL(pgd_flow_run_rerun(r4, 5, q = J("{'nodes':['a']}"), &bad, err, sizeof err), PGD_FLOW_ESTATE);
  cJSON_Delete(q);
  pgd_flow_run_free(r);
  pgd_flow_run_free(r2);
  pgd_flow_run_free(r3);
  pgd_flow_run_free(r4);
  pgd_flow_def_free(d);
}

static int cleanup(void) {
  support_cleanup();
  return 0;
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("flow_run", NULL, cleanup);
  CU_add_test(s, "diamond", test_diamond);
  CU_add_test(s, "fail_fast kills running and skips the rest", test_fail_fast);
  CU_add_test(s, "continue runs what still can", test_continue);
  CU_add_test(s, "trigger rules", test_trigger_rules);
  CU_add_test(s, "max_parallel", test_max_parallel);
  CU_add_test(s, "outputs pass between nodes (split chunks)", test_outputs_passing);
  CU_add_test(s, "unknown variable fails the node", test_unknown_variable_fails_node);
  CU_add_test(s, "lua result outputs", test_lua_result_outputs);
  CU_add_test(s, "kill", test_kill);
  CU_add_test(s, "restore mid-flow", test_restore);
  CU_add_test(s, "re-run from failed and of chosen nodes", test_rerun);
  return pgd_test_run();
}
