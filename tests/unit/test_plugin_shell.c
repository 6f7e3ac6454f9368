/* The built-in `shell` plugin, loaded from $PAGODA_BUILD_DIR/plugins/shell.so
 * through the production loader. */
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
static const pgd_plugin_t *g_shell;
static char g_path[1024];

static int suite_init(void) { return pgd_test_plugin_load(g_path, "shell", &g_reg, &g_shell); }

static int suite_clean(void) {
  pgd_registry_free(g_reg);
  return 0;
}

/* Validates `json` and checks the message ("" = valid). */
static void expect_validate(const char *json, const char *want) {
  cJSON *params = json ? cJSON_Parse(json) : NULL;
  if (json) CU_ASSERT_PTR_NOT_NULL_FATAL(params);
  char err[512] = "?";
  int rc = pgd_plugin_validate(g_shell, params, err, sizeof err);
  if (*want) {
    CU_ASSERT_EQUAL(rc, PAGODA_EINVAL);
  } else {
    CU_ASSERT_EQUAL(rc, 0);
  }
  CU_ASSERT_STRING_EQUAL(err, want);
  if (strcmp(err, want) != 0) fprintf(stderr, "params %s: got \"%s\", want \"%s\"\n", json, err, want);
  cJSON_Delete(params);
}

static void test_descriptor(void) {
  CU_ASSERT_STRING_EQUAL(pgd_plugin_type(g_shell), "shell");
  CU_ASSERT_EQUAL(pgd_plugin_executor_kind(g_shell), PGD_EXEC_PROCESS);
  CU_ASSERT_EQUAL(pgd_plugin_has_generator(g_shell), 1);
  cJSON *all = pgd_registry_to_json(g_reg);
  cJSON *e = cJSON_GetArrayItem(all, 0);
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(e, "abi")), "1.2");
  cJSON *params = cJSON_GetObjectItem(e, "params");
  CU_ASSERT_EQUAL(cJSON_GetArraySize(params), 5);
  cJSON *shell = cJSON_GetArrayItem(params, 2);
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(shell, "key")), "shell");
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(shell, "default")), "bash");
  cJSON_Delete(all);
  cJSON *types = pgd_registry_types_json(g_reg);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(types), 1);
  CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(types, 0)->valuestring, "shell");
  cJSON_Delete(types);
}

static void test_validate_messages(void) {
  expect_validate("{\"script\":\"echo hi\"}", "");
  expect_validate("{\"argv\":[\"/bin/echo\",\"a b\"]}", "");
  expect_validate("{\"script\":\"x\",\"shell\":\"sh\",\"env\":{\"A\":\"1\",\"B\":\"\"},"
                  "\"cwd\":\"/tmp\",\"unknown\":1}", "");
  expect_validate(NULL, "shell: params.script or params.argv is required");
  expect_validate("{}", "shell: params.script or params.argv is required");
  expect_validate("{\"script\":\"x\",\"argv\":[\"y\"]}",
                  "shell: params.script and params.argv are exclusive");
  expect_validate("{\"argv\":[]}", "shell: params.argv must be a non-empty array of strings");
  expect_validate("{\"argv\":\"ls\"}", "shell: params.argv must be a non-empty array of strings");
  expect_validate("{\"argv\":[\"ls\",1]}", "shell: params.argv must be a non-empty array of strings");
  expect_validate("{\"argv\":[\"\"]}", "shell: params.argv must be a non-empty array of strings");
  expect_validate("{\"script\":12}", "shell: params.script must be a non-empty string");
  expect_validate("{\"script\":\"\"}", "shell: params.script must be a non-empty string");
  expect_validate("{\"script\":\"x\",\"env\":{\"A\":\"1\",\"KEY\":3}}",
                  "shell: params.env.KEY must be a string");
  expect_validate("{\"script\":\"x\",\"env\":[\"A=1\"]}", "shell: params.env must be an object");
  expect_validate("{\"script\":\"x\",\"env\":{\"A=B\":\"1\"}}",
                  "shell: params.env key \"A=B\" is not a valid variable name");
  expect_validate("{\"script\":\"x\",\"env\":{\"\":\"1\"}}",
                  "shell: params.env key \"\" is not a valid variable name");
  expect_validate("{\"script\":\"x\",\"cwd\":5}", "shell: params.cwd must be a string");
  expect_validate("{\"script\":\"x\",\"cwd\":\"\"}", "shell: params.cwd must be a string");
  expect_validate("{\"script\":\"x\",\"shell\":false}", "shell: params.shell must be a string");
  /* ABI 1.2: the host's schema check (env keys are variable names, null is
   * a wrong type, the argv items are strings) */
  expect_validate("{\"script\":\"x\",\"env\":{\"1A\":\"x\"}}",
                  "shell: params.env key \"1A\" is not a valid variable name");
  expect_validate("{\"script\":\"x\",\"env\":{\"A B\":\"x\"}}",
                  "shell: params.env key \"A B\" is not a valid variable name");
  expect_validate("{\"script\":\"x\",\"env\":{\"_a.B-9\":\"x\"}}", "");
  expect_validate("{\"script\":\"x\",\"env\":{\"A\":null}}", "shell: params.env.A must be a string");
  expect_validate("{\"script\":null}", "shell: params.script must be a non-empty string");
  expect_validate("{\"argv\":[\"ls\",\"\"]}", "");

  /* the host's own check comes first */
  char err[256];
  cJSON *arr = cJSON_Parse("[\"echo\"]");
  CU_ASSERT_EQUAL(pgd_plugin_validate(g_shell, arr, err, sizeof err), -22);
  CU_ASSERT_STRING_EQUAL(err, "shell: params must be an object");
  cJSON_Delete(arr);
}

static void test_expand_default_shell(void) {
  char err[256];
  cJSON *job = cJSON_Parse("{\"name\":\"j\",\"type\":\"shell\",\"params\":{\"script\":\"true\"}}");
  cJSON *out = NULL;
  CU_ASSERT_EQUAL(pgd_plugin_expand(g_shell, job, &out, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(out, "shell")), "bash");
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(out, "script")), "true");
  cJSON_Delete(out);
  cJSON_Delete(job);

  job = cJSON_Parse("{\"params\":{\"script\":\"true\",\"shell\":\"sh\"}}");
  CU_ASSERT_EQUAL(pgd_plugin_expand(g_shell, job, &out, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(out, "shell")), "sh");
  cJSON_Delete(out);
  cJSON_Delete(job);

  job = cJSON_Parse("{\"params\":{\"argv\":[\"true\"]}}");
  CU_ASSERT_EQUAL(pgd_plugin_expand(g_shell, job, &out, err, sizeof err), 0);
  CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(out, "shell"));
  CU_ASSERT_EQUAL(cJSON_GetArraySize(out), 1);
  cJSON_Delete(out);
  cJSON_Delete(job);
}

static int describe(const char *json, pgd_procspec_t *spec, char *err, size_t errlen) {
  cJSON *params = cJSON_Parse(json);
  CU_ASSERT_PTR_NOT_NULL(params);
  pgd_procspec_init(spec);
  int rc = pgd_plugin_describe_process(g_shell, params, spec, err, errlen);
  cJSON_Delete(params);
  return rc;
}

static void test_procspec_script(void) {
  pgd_procspec_t s;
  char err[256];
  CU_ASSERT_EQUAL(describe("{\"script\":\"echo $A; exit 3\"}", &s, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(s.argc, 3);
  CU_ASSERT_STRING_EQUAL(s.argv[0], "bash");
  CU_ASSERT_STRING_EQUAL(s.argv[1], "-c");
  CU_ASSERT_STRING_EQUAL(s.argv[2], "echo $A; exit 3");
  CU_ASSERT_PTR_NULL(s.argv[3]);
  CU_ASSERT_EQUAL(s.envc, 0);
  CU_ASSERT_PTR_NULL(s.cwd);
  CU_ASSERT_PTR_NULL(s.user);
  pgd_procspec_free(&s);

  CU_ASSERT_EQUAL(describe("{\"script\":\"ls\",\"shell\":\"/bin/sh\",\"cwd\":\"/var/tmp\","
                           "\"env\":{\"A\":\"1\",\"PATH\":\"/opt/bin:/usr/bin\",\"E\":\"\"}}",
                           &s, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(s.argc, 3);
  CU_ASSERT_STRING_EQUAL(s.argv[0], "/bin/sh");
  CU_ASSERT_STRING_EQUAL(s.cwd, "/var/tmp");
  CU_ASSERT_EQUAL_FATAL(s.envc, 3);
  CU_ASSERT_STRING_EQUAL(s.env[0], "A=1");
  CU_ASSERT_STRING_EQUAL(s.env[1], "PATH=/opt/bin:/usr/bin");
  CU_ASSERT_STRING_EQUAL(s.env[2], "E=");
  CU_ASSERT_PTR_NULL(s.env[3]);
  CU_ASSERT_STRING_EQUAL(pgd_procspec_get_env(&s, "PATH"), "/opt/bin:/usr/bin");
  pgd_procspec_free(&s);
}

static void test_procspec_argv(void) {
  pgd_procspec_t s;
  char err[256];
  CU_ASSERT_EQUAL(describe("{\"argv\":[\"/usr/bin/printf\",\"%s\\n\",\"a b\"],\"shell\":\"zsh\"}",
                           &s, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(s.argc, 3);
  CU_ASSERT_STRING_EQUAL(s.argv[0], "/usr/bin/printf");
  CU_ASSERT_STRING_EQUAL(s.argv[1], "%s\n");
  CU_ASSERT_STRING_EQUAL(s.argv[2], "a b");
  CU_ASSERT_PTR_NULL(s.argv[3]);
  pgd_procspec_free(&s);

  /* the worker re-checks what it receives */
  CU_ASSERT_EQUAL(describe("{\"argv\":[]}", &s, err, sizeof err), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "shell: params.argv must be a non-empty array of strings");
  pgd_procspec_free(&s);
  CU_ASSERT_EQUAL(describe("{}", &s, err, sizeof err), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "shell: params.script or params.argv is required");
  pgd_procspec_free(&s);
}

static void test_exit_default(void) {
  char err[256];
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit(g_shell, NULL, 0, 0, err, sizeof err), 0);
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit(g_shell, NULL, 3, 0, err, sizeof err), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "shell: exit code 3");
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit(g_shell, NULL, 0, 15, err, sizeof err), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "shell: killed by signal 15 (SIGTERM)");
}

int main(void) {
  if (pgd_test_build_path(g_path, sizeof g_path, "plugins/shell.so") != 0) return 1;
  pgd_log_set_level(PGD_LOG_WARN);
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("plugin_shell", suite_init, suite_clean);
  CU_add_test(s, "descriptor and schema", test_descriptor);
  CU_add_test(s, "validation messages", test_validate_messages);
  CU_add_test(s, "expand adds the default shell", test_expand_default_shell);
  CU_add_test(s, "procspec for script, shell, env, cwd", test_procspec_script);
  CU_add_test(s, "procspec for argv", test_procspec_argv);
  CU_add_test(s, "default exit rule", test_exit_default);
  return pgd_test_run();
}
