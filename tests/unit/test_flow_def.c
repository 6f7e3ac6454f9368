/* Unit tests of core/flow: definition validation, normalised JSON, date
 * variables, the ::output line parser. */
#include "pgd_test.h"
#include "flow_fixture.h"

static void expect_err(const char *json, const char *want) {
  const char *e = parse_err(json);
  if (!strstr(e, want)) fprintf(stderr, "\ngot error '%s', want '%s'\n", e, want);
  CU_ASSERT_PTR_NOT_NULL(strstr(e, want));
}

static void test_validation(void) {
  expect_err("{'name':'x','nodes':[{'id':'a','job':'echo','depends_on':['c']},"
             "{'id':'b','job':'echo','depends_on':['a']},{'id':'c','job':'echo','depends_on':['b']}]}",
             "cycle: a -> b -> c -> a");
  expect_err("{'name':'x','nodes':[{'id':'a','job':'echo','depends_on':['a']}]}", "cycle: a -> a");
  expect_err("{'name':'x','nodes':[{'id':'r','job':'echo'},{'id':'a','job':'echo','depends_on':['r','b']},"
             "{'id':'b','job':'echo','depends_on':['a']}]}", "cycle: a -> b -> a");
  expect_err("{'name':'x','nodes':[{'id':'a','job':'echo','depends_on':['nope']}]}",
             "node 'a': depends_on names unknown node 'nope'");
  expect_err("{'name':'x','nodes':[{'id':'a','job':'echo'},{'id':'a','job':'echo'}]}", "duplicate node id 'a'");
  expect_err("{'name':'x','nodes':[{'id':'a','job':'echo','trigger_rule':'sometimes'}]}",
             "node 'a': trigger_rule 'sometimes' is not one of all_success");
  expect_err("{'name':'x','nodes':[{'id':'a','job':'missing'}]}", "node 'a': job 'missing' not found");
  expect_err("{'name':'x','nodes':[{'id':'a','job':{'type':'cobol'}}]}", "node 'a': unknown job type");
  expect_err("{'name':'x','nodes':[{'id':'a b','job':'echo'}]}", "node #1: id must be");
  expect_err("{'name':'x','nodes':[]}", "nodes must be a non-empty array");
  expect_err("{'nodes':[{'id':'a','job':'echo'}]}", "name is required");
  expect_err("{'name':'x','failure_strategy':'panic','nodes':[{'id':'a','job':'echo'}]}", "failure_strategy");
  expect_err("{'name':'x','max_parallel':-1,'nodes':[{'id':'a','job':'echo'}]}", "max_parallel");
  expect_err("{'name':'x','nodes':[{'id':'a','job':'echo','retries':'x'}]}", "node 'a': bad retries");
  expect_err("{'name':'x','nodes':[{'id':'a','job':7}]}", "job must be a job name or a job definition");
  expect_err("{'name':'x','hooks':{'script':'function f( end'},'nodes':[{'id':'a','job':'echo'}]}", "hooks: ");
  expect_err("{'name':'x','hooks':{'file':'../etc/passwd'},'nodes':[{'id':'a','job':'echo'}]}", "hooks.file must be");
  expect_err("{'name':'x','hooks':{'file':'absent.lua'},'nodes':[{'id':'a','job':'echo'}]}", "absent.lua");
  expect_err("{'name':'x','hooks_error':'explode','nodes':[{'id':'a','job':'echo'}]}", "hooks_error");
  /* not an object at all */
  pgd_flow_def_t *d = NULL;
  CU_ASSERT_EQUAL(pgd_flow_def_parse(NULL, NULL, &d, perr, sizeof perr), PGD_FLOW_EINVAL);
}

static void test_def_json_roundtrip(void) {
  pgd_flow_def_t *d = parse_ok("{'name':'n.1','owner':'me','nodes':[{'id':'a','job':'echo'},"
                               "{'id':'b','job':{'type':'shell','params':{'script':'x'}},'depends_on':['a'],"
                               "'trigger_rule':'all_done','labels':['etl']}]}");
  cJSON *j = pgd_flow_def_json(d);
  EXPECT_STR(cJSON_GetObjectItem(j, "failure_strategy")->valuestring, "fail_fast");
  EXPECT_STR(cJSON_GetObjectItem(j, "owner")->valuestring, "me");
  cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "nodes"), 0);
  EXPECT_STR(cJSON_GetObjectItem(a, "trigger_rule")->valuestring, "all_success");
  CU_ASSERT_TRUE(cJSON_IsArray(cJSON_GetObjectItem(a, "depends_on")));
  pgd_flow_def_t *d2 = NULL;
  CU_ASSERT_EQUAL(pgd_flow_def_parse(j, &test_checks, &d2, perr, sizeof perr), 0);
  cJSON *j2 = pgd_flow_def_json(d2);
  CU_ASSERT_TRUE(cJSON_Compare(j, j2, 1));
  CU_ASSERT_EQUAL(pgd_flow_def_node_count(d2), 2);
  EXPECT_STR(pgd_flow_def_name(d2), "n.1");
  /* an inline job gets the name FLOW.NODE and the node's labels */
  pgd_flow_run_t *r = run_ok(d2, 1, NULL, 0);
  step(r);
  fin(r, "a", "succeeded");
  cJSON *job = cJSON_GetObjectItem(started_jobs, "b");
  EXPECT_STR(cJSON_GetObjectItem(job, "name")->valuestring, "n.1.b");
  EXPECT_STR(cJSON_GetArrayItem(cJSON_GetObjectItem(job, "labels"), 0)->valuestring, "etl");
  pgd_flow_run_free(r);
  cJSON_Delete(j);
  cJSON_Delete(j2);
  pgd_flow_def_free(d);
  pgd_flow_def_free(d2);
}

static const char *date(int64_t t_s, const char *body) {
  static char buf[300]; /* "error: " + err */
  char err[256] = "";
  int rc = pgd_flow_date_expand(t_s * 1000000, body, buf, sizeof buf, err, sizeof err);
  if (rc == PGD_FLOW_ENOENT) return "(not a date)";
  if (rc) snprintf(buf, sizeof buf, "error: %s", err);
  return buf;
}

static void test_dates(void) {
  int64_t t = 1774956645; /* 2026-03-31T11:30:45Z */
  EXPECT_STR(date(t, "date"), "2026-03-31");
  EXPECT_STR(date(t, "datetime"), "2026-03-31T11:30:45Z");
  EXPECT_STR(date(t, "date:-1d"), "2026-03-30");
  EXPECT_STR(date(t, "date:+2d"), "2026-04-02");
  EXPECT_STR(date(t, "date:-1m"), "2026-02-28"); /* clamped */
  EXPECT_STR(date(t, "date:+11m"), "2027-02-28");
  EXPECT_STR(date(t, "date:-1y:%Y"), "2025");
  EXPECT_STR(date(t, "date:-1w"), "2026-03-24");
  EXPECT_STR(date(t, "date:%Y%m%d"), "20260331");
  EXPECT_STR(date(t, "date:-1d:%Y/%m/%d"), "2026/03/30");
  EXPECT_STR(date(t, "datetime:+1h:-30min:%H:%M"), "12:00");
  EXPECT_STR(date(t, "datetime:-45s"), "2026-03-31T11:30:00Z");
  EXPECT_STR(date(1709164800 /* 2024-02-29 */, "date:+1y"), "2025-02-28");
  EXPECT_STR(date(t, "dates"), "(not a date)");
  CU_ASSERT_PTR_NOT_NULL(strstr(date(t, "date:-1q"), "bad date offset"));
  CU_ASSERT_PTR_NOT_NULL(strstr(date(t, "date:yesterday"), "bad date part"));
  CU_ASSERT_PTR_NOT_NULL(strstr(date(t, "date:-d"), "bad date offset"));

  /* in params, from the run's logical time */
  pgd_flow_def_t *d = parse_ok("{'name':'dt','nodes':[{'id':'a','job':'echo',"
                               "'params':{'day':'${date}','prev':'${date:-1d:%Y%m%d}','bad':'x'}}]}");
  pgd_flow_run_t *r = run_ok(d, 1, NULL, t * 1000000);
  step(r);
  EXPECT_STR(job_param("a", "day"), "2026-03-31");
  EXPECT_STR(job_param("a", "prev"), "20260330");
  pgd_flow_run_free(r);
  pgd_flow_def_free(d);
}

static void test_output_parser(void) {
  pgd_flow_outparse_t *p = pgd_flow_outparse_new();
  const char *text = "x\n::output a=1\n::output b=two words=and=more\r\n::output =novalue\n::outputc=3\n";
  /* fed one byte at a time: every split point */
  for (size_t i = 0; text[i]; i++) pgd_flow_outparse_feed(p, text + i, 1);
  const cJSON *o = pgd_flow_outparse_outputs(p);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(o), 2);
  EXPECT_STR(cJSON_GetObjectItem(o, "a")->valuestring, "1");
  EXPECT_STR(cJSON_GetObjectItem(o, "b")->valuestring, "two words=and=more");
  /* an over-long line is dropped whole, the next line still counts */
  char *big = malloc(PGD_FLOW_OUTPUT_LINE_MAX + 100);
  memset(big, 'z', PGD_FLOW_OUTPUT_LINE_MAX + 99);
  memcpy(big, "::output big=", 13);
  big[PGD_FLOW_OUTPUT_LINE_MAX + 99] = '\n';
  pgd_flow_outparse_feed(p, big, 2000);
  pgd_flow_outparse_feed(p, big + 2000, PGD_FLOW_OUTPUT_LINE_MAX + 100 - 2000);
  pgd_flow_outparse_feed(p, "::output a=replaced\n::output tail=t", 35);
  o = pgd_flow_outparse_outputs(p);
  CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(o, "big"));
  EXPECT_STR(cJSON_GetObjectItem(o, "a")->valuestring, "replaced");
  CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(o, "tail"));
  pgd_flow_outparse_finish(p);
  EXPECT_STR(cJSON_GetObjectItem(pgd_flow_outparse_outputs(p), "tail")->valuestring, "t");
  /* key count cap */
  char line[64];
  for (int i = 0; i < PGD_FLOW_OUTPUTS_MAX + 10; i++) {
    snprintf(line, sizeof line, "::output k%d=v\n", i);
    pgd_flow_outparse_feed(p, line, strlen(line));
  }
  CU_ASSERT_EQUAL(cJSON_GetArraySize(pgd_flow_outparse_outputs(p)), PGD_FLOW_OUTPUTS_MAX);
  free(big);
  pgd_flow_outparse_free(p);

  cJSON *res = J("{'a':1.5,'b':[1,2],'c':null}");
  cJSON *out = pgd_flow_outputs_from_result(res);
  EXPECT_STR(cJSON_GetObjectItem(out, "a")->valuestring, "1.5");
  EXPECT_STR(cJSON_GetObjectItem(out, "b")->valuestring, "[1,2]");
  EXPECT_STR(cJSON_GetObjectItem(out, "c")->valuestring, "");
  cJSON_Delete(out);
  cJSON_Delete(res);
  out = pgd_flow_outputs_from_result(NULL);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(out), 0);
  cJSON_Delete(out);
}

static int cleanup(void) {
  support_cleanup();
  return 0;
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("flow_def", NULL, cleanup);
  CU_add_test(s, "validation messages", test_validation);
  CU_add_test(s, "normalised JSON round trip, inline jobs", test_def_json_roundtrip);
  CU_add_test(s, "date variables", test_dates);
  CU_add_test(s, "::output line parser", test_output_parser);
  return pgd_test_run();
}
