/* The built-in `lua` plugin through the production loader and
 * pgd_plugin_run: results, errors, the instruction budget, the memory cap,
 * the sandbox (no io, os beyond time, load, bytecode) and cancellation. */
#include <CUnit/Basic.h>
#include <pagoda/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgd_test.h"
#include "common/log.h"
#include "plugin/registry.h"
#include "plugin_fixture.h"

static pgd_registry_t *g_reg;
static const pgd_plugin_t *g_lua;
static char g_path[1024];

static int suite_init(void) { return pgd_test_plugin_load(g_path, "lua", &g_reg, &g_lua); }

static int suite_clean(void) {
  pgd_registry_free(g_reg);
  return 0;
}

/* What a run produced, collected by the ops below. */
typedef struct {
  char log[8192];
  size_t log_len;
  char *result;
  int polls;       /* is_cancelled calls */
  int cancel_after; /* report cancelled from this poll on (0 = never) */
} run_out_t;

static void op_log(void *ud, const char *data, size_t len) {
  run_out_t *o = ud;
  size_t room = sizeof o->log - 1 - o->log_len;
  if (len > room) len = room;
  memcpy(o->log + o->log_len, data, len);
  o->log_len += len;
  o->log[o->log_len] = '\0';
}

static int op_cancelled(void *ud) {
  run_out_t *o = ud;
  o->polls++;
  return o->cancel_after && o->polls >= o->cancel_after;
}

static void op_result(void *ud, const char *json) {
  run_out_t *o = ud;
  free(o->result);
  o->result = strdup(json);
}

/* Runs params (JSON text) and returns the plugin's code; err receives the
 * failure message. */
static int run(const char *params_json, run_out_t *o, char *err, size_t errlen) {
  cJSON *params = cJSON_Parse(params_json);
  CU_ASSERT_PTR_NOT_NULL_FATAL(params);
  pgd_run_ops_t ops = {.log = op_log, .is_cancelled = op_cancelled, .set_result = op_result, .ud = o};
  int rc = pgd_plugin_run(g_lua, params, &ops, err, errlen);
  cJSON_Delete(params);
  return rc;
}

/* A params object with `script` set to `code` (escaped by cJSON). */
static char *script_params(const char *code, const char *extra_json) {
  cJSON *p = extra_json ? cJSON_Parse(extra_json) : cJSON_CreateObject();
  cJSON_AddStringToObject(p, "script", code);
  char *text = cJSON_PrintUnformatted(p);
  cJSON_Delete(p);
  return text;
}

static int run_script(const char *code, const char *extra, run_out_t *o, char *err, size_t errlen) {
  memset(o, 0, sizeof *o);
  char *p = script_params(code, extra);
  int rc = run(p, o, err, errlen);
  free(p);
  return rc;
}

static void expect_validate(const char *json, const char *want) {
  cJSON *params = json ? cJSON_Parse(json) : NULL;
  char err[512] = "?";
  int rc = pgd_plugin_validate(g_lua, params, err, sizeof err);
  CU_ASSERT_EQUAL(rc, *want ? PAGODA_EINVAL : 0);
  CU_ASSERT_STRING_EQUAL(err, want);
  if (strcmp(err, want) != 0) fprintf(stderr, "params %s: got \"%s\", want \"%s\"\n", json, err, want);
  cJSON_Delete(params);
}

static void test_descriptor_and_validation(void) {
  CU_ASSERT_EQUAL(pgd_plugin_executor_kind(g_lua), PGD_EXEC_IN_PROCESS);
  expect_validate("{\"script\":\"return 1\",\"max_instructions\":1000,\"max_memory_mb\":8}", "");
  expect_validate(NULL, "lua: params.script is required");
  expect_validate("{\"script\":\"\"}", "lua: params.script must be a non-empty string");
  expect_validate("{\"script\":[1]}", "lua: params.script must be a non-empty string");
  expect_validate("{\"script\":\"\\u001bLua\"}", "lua: params.script must be Lua source, not bytecode");
  expect_validate("{\"script\":\"x\",\"max_instructions\":0}",
                  "lua: params.max_instructions must be an integer from 1 to 10000000000");
  expect_validate("{\"script\":\"x\",\"max_instructions\":1e11}",
                  "lua: params.max_instructions must be an integer from 1 to 10000000000");
  expect_validate("{\"script\":\"x\",\"max_memory_mb\":2048}",
                  "lua: params.max_memory_mb must be an integer from 1 to 1024");
  expect_validate("{\"script\":\"x\",\"max_memory_mb\":\"8\"}",
                  "lua: params.max_memory_mb must be an integer from 1 to 1024");
}

static void test_success_with_result(void) {
  run_out_t o;
  char err[512];
  int rc = run_script("log('hello', 42, true, nil)\n"
                      "print('sum', params.a + params.b)\n"
                      "local t = {}\n"
                      "for i, v in ipairs(params.list) do t[i] = v * 2 end\n"
                      "return {ok = true, doubled = t, name = params.name .. '\"\\n', n = 1.5,"
                      " when = type(os.time()), nested = {x = {}}}",
                      "{\"args\":{\"a\":2,\"b\":3,\"list\":[1,2,3],\"name\":\"n\"}}", &o, err, sizeof err);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc) fprintf(stderr, "err: %s\n", err);
  CU_ASSERT_STRING_EQUAL(o.log, "hello\t42\ttrue\tnil\nsum\t5\n");
  CU_ASSERT_PTR_NOT_NULL_FATAL(o.result);
  cJSON *res = cJSON_Parse(o.result);
  CU_ASSERT_PTR_NOT_NULL_FATAL(res);
  CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(res, "ok")));
  cJSON *d = cJSON_GetObjectItem(res, "doubled");
  CU_ASSERT_EQUAL(cJSON_GetArraySize(d), 3);
  CU_ASSERT_EQUAL(cJSON_GetArrayItem(d, 2)->valueint, 6);
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(res, "name")), "n\"\n");
  CU_ASSERT_DOUBLE_EQUAL(cJSON_GetObjectItem(res, "n")->valuedouble, 1.5, 1e-12);
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(res, "when")), "number");
  CU_ASSERT(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetObjectItem(res, "nested"), "x")));
  cJSON_Delete(res);
  free(o.result);

  /* without args, params is the whole params object; scalar results */
  rc = run_script("return params.extra", "{\"extra\":\"all\"}", &o, err, sizeof err);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_STRING_EQUAL(o.result, "\"all\"");
  free(o.result);
  rc = run_script("return 7", NULL, &o, err, sizeof err);
  CU_ASSERT_STRING_EQUAL(o.result, "7");
  free(o.result);
  rc = run_script("local x = 1", NULL, &o, err, sizeof err); /* no return: no result */
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_PTR_NULL(o.result);
}

static void test_errors(void) {
  run_out_t o;
  char err[512];
  int rc = run_script("local t = nil\nreturn t.x", NULL, &o, err, sizeof err);
  CU_ASSERT_EQUAL(rc, PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "lua: script:2: attempt to index a nil value (local 't')");
  CU_ASSERT_PTR_NOT_NULL(strstr(o.log, "stack traceback:"));
  CU_ASSERT_PTR_NULL(o.result);
  rc = run_script("error('boom')", NULL, &o, err, sizeof err);
  CU_ASSERT_STRING_EQUAL(err, "lua: script:1: boom");
  rc = run_script("error({})", NULL, &o, err, sizeof err);
  CU_ASSERT_EQUAL(rc, PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "lua: table");
  rc = run_script("return (", NULL, &o, err, sizeof err);
  CU_ASSERT_EQUAL(rc, PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "lua: syntax error: script:1: unexpected symbol near <eof>");
  rc = run_script("return {f = print}", NULL, &o, err, sizeof err);
  CU_ASSERT_EQUAL(rc, PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "lua: bad result: result has a function at result.f "
                              "(only tables, strings, numbers, booleans)");
  rc = run_script("return {1, 0/0}", NULL, &o, err, sizeof err);
  CU_ASSERT_STRING_EQUAL(err, "lua: bad result: result has a non-finite number at result[2]");
  rc = run_script("local t = {} t.self = t return t", NULL, &o, err, sizeof err);
  CU_ASSERT_EQUAL(rc, PAGODA_EFAIL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "nested deeper than 64"));
}

static void test_budget_stops_infinite_loop(void) {
  run_out_t o;
  char err[512];
  int rc = run_script("while true do end", "{\"max_instructions\":200000}", &o, err, sizeof err);
  CU_ASSERT_EQUAL(rc, PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "lua: instruction budget of 200000 exceeded (params.max_instructions)");
  /* catching the error with pcall does not escape the budget */
  rc = run_script("while true do pcall(function() while true do end end) end",
                  "{\"max_instructions\":100000}", &o, err, sizeof err);
  CU_ASSERT_EQUAL(rc, PAGODA_EFAIL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "instruction budget of 100000 exceeded"));
}

static void test_memory_cap(void) {
  run_out_t o;
  char err[512];
  int rc = run_script("local s = string.rep('x', 64 * 1024 * 1024) return #s", "{\"max_memory_mb\":8}",
                      &o, err, sizeof err);
  CU_ASSERT_EQUAL(rc, PAGODA_ENOMEM);
  CU_ASSERT_STRING_EQUAL(err, "lua: memory limit of 8 MiB exceeded (params.max_memory_mb)");
  rc = run_script("local t = {} for i = 1, 1e9 do t[i] = {i} end", "{\"max_memory_mb\":4}", &o, err,
                  sizeof err);
  CU_ASSERT_EQUAL(rc, PAGODA_ENOMEM);
  CU_ASSERT_STRING_EQUAL(err, "lua: memory limit of 4 MiB exceeded (params.max_memory_mb)");
  /* below the cap works */
  rc = run_script("return #string.rep('x', 1024 * 1024)", "{\"max_memory_mb\":8}", &o, err, sizeof err);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_STRING_EQUAL(o.result, "1048576");
  free(o.result);
}

static void test_sandbox_refuses(void) {
  static const char *const scripts[] = {
      "return io.open('/etc/passwd')",
      "return os.execute('true')",
      "return os.getenv('HOME')",
      "return os.remove('/tmp/x')",
      "return load('return 1')()",
      "return loadfile('/etc/passwd')",
      "return dofile('/etc/passwd')",
      "return require('os')",
      "return string.dump(print)",
      "return debug.getinfo(1)",
      "return package.loaded",
      "return collectgarbage('count')",
  };
  for (size_t i = 0; i < sizeof scripts / sizeof *scripts; i++) {
    run_out_t o;
    char err[512];
    int rc = run_script(scripts[i], NULL, &o, err, sizeof err);
    CU_ASSERT_EQUAL(rc, PAGODA_EFAIL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "attempt to call a nil value") ||
                           strstr(err, "attempt to index a nil value"));
    if (rc != PAGODA_EFAIL) fprintf(stderr, "%s: not refused (%d, %s)\n", scripts[i], rc, err);
    free(o.result);
  }
  /* what is allowed of os */
  run_out_t o;
  char err[512];
  int rc = run_script("return {os.time() > 0, os.clock() >= 0, type(os.date('%Y')), os.difftime(2, 1)}",
                      NULL, &o, err, sizeof err);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_STRING_EQUAL(o.result, "[true,true,\"string\",1]");
  free(o.result);
}

static void test_cancellation_stops_script(void) {
  run_out_t o;
  memset(&o, 0, sizeof o);
  o.cancel_after = 5; /* the 5th poll reports cancelled: ~5000 instructions */
  char *p = script_params("local n = 0 while true do n = n + 1 end", NULL);
  char err[512];
  int rc = run(p, &o, err, sizeof err);
  free(p);
  CU_ASSERT_EQUAL(rc, PAGODA_ECANCELED);
  CU_ASSERT_STRING_EQUAL(err, "lua: script stopped (cancelled)");
  CU_ASSERT_EQUAL(o.polls, 5);
}

int main(void) {
  if (pgd_test_build_path(g_path, sizeof g_path, "plugins/lua.so") != 0) return 1;
  pgd_log_set_level(PGD_LOG_ERROR);
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("plugin_lua", suite_init, suite_clean);
  CU_add_test(s, "descriptor and validation", test_descriptor_and_validation);
  CU_add_test(s, "success: log, params, result", test_success_with_result);
  CU_add_test(s, "errors become the failure message", test_errors);
  CU_add_test(s, "instruction budget stops an infinite loop", test_budget_stops_infinite_loop);
  CU_add_test(s, "memory cap stops huge allocations", test_memory_cap);
  CU_add_test(s, "sandbox refuses io, os, load, dump, debug", test_sandbox_refuses);
  CU_add_test(s, "cancellation stops a running script", test_cancellation_stops_script);
  return pgd_test_run();
}
