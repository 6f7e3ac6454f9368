/* The built-in `java` plugin, loaded from $PAGODA_BUILD_DIR/plugins/java.so
 * through the production loader: validation messages and the exact argv. */
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
static const pgd_plugin_t *g_java;
static char g_path[1024];

static int suite_init(void) { return pgd_test_plugin_load(g_path, "java", &g_reg, &g_java); }

static int suite_clean(void) {
  pgd_registry_free(g_reg);
  return 0;
}

static void expect_validate(const char *json, const char *want) {
  cJSON *params = json ? cJSON_Parse(json) : NULL;
  if (json) CU_ASSERT_PTR_NOT_NULL_FATAL(params);
  char err[512] = "?";
  int rc = pgd_plugin_validate(g_java, params, err, sizeof err);
  CU_ASSERT_EQUAL(rc, *want ? PAGODA_EINVAL : 0);
  CU_ASSERT_STRING_EQUAL(err, want);
  if (strcmp(err, want) != 0) fprintf(stderr, "params %s: got \"%s\", want \"%s\"\n", json, err, want);
  cJSON_Delete(params);
}

/* Builds the process for `json` and compares argv with the '|'-joined
 * `want`. Returns the spec's JAVA_HOME (copied into home) for checks. */
static void expect_argv(const char *json, const char *want, char *home, size_t homelen) {
  cJSON *params = cJSON_Parse(json);
  CU_ASSERT_PTR_NOT_NULL_FATAL(params);
  pgd_procspec_t spec;
  pgd_procspec_init(&spec);
  char err[512];
  int rc = pgd_plugin_describe_process(g_java, params, &spec, err, sizeof err);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc) fprintf(stderr, "describe_process %s: %s\n", json, err);
  char got[2048] = "";
  for (size_t i = 0; i < spec.argc; i++) {
    if (i) strncat(got, "|", sizeof got - strlen(got) - 1);
    strncat(got, spec.argv[i], sizeof got - strlen(got) - 1);
  }
  CU_ASSERT_STRING_EQUAL(got, want);
  if (strcmp(got, want) != 0) fprintf(stderr, "argv: got \"%s\", want \"%s\"\n", got, want);
  if (home) {
    const char *h = pgd_procspec_get_env(&spec, "JAVA_HOME");
    snprintf(home, homelen, "%s", h ? h : "");
  }
  pgd_procspec_free(&spec);
  cJSON_Delete(params);
}

static void test_descriptor(void) {
  CU_ASSERT_STRING_EQUAL(pgd_plugin_type(g_java), "java");
  CU_ASSERT_EQUAL(pgd_plugin_executor_kind(g_java), PGD_EXEC_PROCESS);
  CU_ASSERT_EQUAL(pgd_plugin_has_generator(g_java), 1);
  CU_ASSERT_EQUAL(pgd_plugin_has_output_scan(g_java), 0);
  CU_ASSERT_EQUAL(pgd_plugin_has_kill(g_java), 0);
}

static void test_validate_messages(void) {
  expect_validate("{\"main_class\":\"com.example.Main\",\"classpath\":[\"lib/a.jar\",\"/opt/b\"]}", "");
  expect_validate("{\"jar\":\"app.jar\",\"args\":[\"x\"],\"jvm_opts\":[\"-Xmx64m\"]}", "");
  expect_validate("{\"main_class\":\"Hello\"}", "");
  expect_validate(NULL, "java: params.main_class or params.jar is required");
  expect_validate("{\"args\":[\"a\"]}", "java: params.main_class or params.jar is required");
  expect_validate("{\"main_class\":\"A\",\"jar\":\"a.jar\"}",
                  "java: params.main_class and params.jar are exclusive "
                  "(put the jar in params.classpath to run another class)");
  expect_validate("{\"main_class\":\"com..Main\"}",
                  "java: params.main_class must be a class name such as com.example.Main");
  expect_validate("{\"main_class\":\"-version\"}",
                  "java: params.main_class must be a class name such as com.example.Main");
  expect_validate("{\"main_class\":7}",
                  "java: params.main_class must be a class name such as com.example.Main");
  expect_validate("{\"jar\":\"\"}", "java: params.jar must be a non-empty path");
  expect_validate("{\"jar\":\"-jar\"}", "java: params.jar must be a non-empty path");
  expect_validate("{\"jar\":\"a.jar\",\"classpath\":[\"b\"]}",
                  "java: params.classpath is used with params.main_class only "
                  "(a jar run with -jar takes its classpath from its manifest)");
  expect_validate("{\"main_class\":\"A\",\"classpath\":\"a.jar\"}",
                  "java: params.classpath must be an array of strings");
  expect_validate("{\"main_class\":\"A\",\"classpath\":[\"a:b\"]}",
                  "java: params.classpath[0] must be a non-empty path without ':'");
  expect_validate("{\"main_class\":\"A\",\"classpath\":[\"a\",\"\"]}",
                  "java: params.classpath[1] must be a non-empty path without ':'");
  expect_validate("{\"main_class\":\"A\",\"args\":[\"a\",2]}", "java: params.args[1] must be a string");
  expect_validate("{\"main_class\":\"A\",\"jvm_opts\":[\"Xmx1g\"]}",
                  "java: params.jvm_opts[0] must start with '-' (got \"Xmx1g\")");
  expect_validate("{\"main_class\":\"A\",\"jvm_opts\":{}}",
                  "java: params.jvm_opts must be an array of strings");
  expect_validate("{\"main_class\":\"A\",\"java_home\":\"jdk\"}",
                  "java: params.java_home must be an absolute path");
  expect_validate("{\"main_class\":\"A\",\"env\":[]}", "java: params.env must be an object");
  expect_validate("{\"main_class\":\"A\",\"env\":{\"A=B\":\"x\"}}",
                  "java: params.env key \"A=B\" is not a valid variable name");
  expect_validate("{\"main_class\":\"A\",\"env\":{\"N\":1}}", "java: params.env.N must be a string");
}

static void test_argv_jar(void) {
  unsetenv("JAVA_HOME");
  char home[256];
  expect_argv("{\"jar\":\"app.jar\",\"args\":[\"in put\",\"-v\"],\"jvm_opts\":[\"-Xmx256m\",\"-Dk=v\"]}",
              "java|-Xmx256m|-Dk=v|-jar|app.jar|in put|-v", home, sizeof home);
  CU_ASSERT_STRING_EQUAL(home, "");
}

static void test_argv_main_class(void) {
  unsetenv("JAVA_HOME");
  char home[256];
  expect_argv("{\"main_class\":\"com.example.Main\",\"classpath\":[\"lib/a.jar\",\"/opt/b/classes\",\"c.jar\"],"
              "\"jvm_opts\":[\"-Xss1m\"],\"args\":[\"1\",\"two\"],\"java_home\":\"/opt/jdk17/\","
              "\"env\":{\"K\":\"V\"}}",
              "/opt/jdk17/bin/java|-Xss1m|-cp|lib/a.jar:/opt/b/classes:c.jar|com.example.Main|1|two",
              home, sizeof home);
  CU_ASSERT_STRING_EQUAL(home, "/opt/jdk17/");
  /* no classpath: java's default (the working directory) */
  expect_argv("{\"main_class\":\"Hello\"}", "java|Hello", NULL, 0);
}

static void test_java_home_from_environment(void) {
  setenv("JAVA_HOME", "/usr/lib/jvm/x", 1);
  char home[256];
  expect_argv("{\"main_class\":\"Hello\"}", "/usr/lib/jvm/x/bin/java|Hello", home, sizeof home);
  CU_ASSERT_STRING_EQUAL(home, "/usr/lib/jvm/x");
  /* params win over the environment */
  expect_argv("{\"main_class\":\"Hello\",\"java_home\":\"/j\"}", "/j/bin/java|Hello", NULL, 0);
  setenv("JAVA_HOME", "relative/jdk", 1); /* ignored: not absolute */
  expect_argv("{\"main_class\":\"Hello\"}", "java|Hello", NULL, 0);
  unsetenv("JAVA_HOME");
}

static void test_env_in_spec(void) {
  cJSON *params = cJSON_Parse("{\"jar\":\"a.jar\",\"env\":{\"A\":\"1\",\"B\":\"two\"}}");
  pgd_procspec_t spec;
  pgd_procspec_init(&spec);
  char err[256];
  CU_ASSERT_EQUAL(pgd_plugin_describe_process(g_java, params, &spec, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(pgd_procspec_get_env(&spec, "A"), "1");
  CU_ASSERT_STRING_EQUAL(pgd_procspec_get_env(&spec, "B"), "two");
  CU_ASSERT_PTR_NULL(spec.cwd);
  pgd_procspec_free(&spec);
  /* the worker re-checks: bad params never reach a process */
  cJSON_Delete(params);
  params = cJSON_Parse("{\"jar\":\"a.jar\",\"main_class\":\"A\"}");
  pgd_procspec_init(&spec);
  CU_ASSERT_EQUAL(pgd_plugin_describe_process(g_java, params, &spec, err, sizeof err), PAGODA_EINVAL);
  CU_ASSERT_EQUAL(spec.argc, 0);
  pgd_procspec_free(&spec);
  cJSON_Delete(params);
}

int main(void) {
  if (pgd_test_build_path(g_path, sizeof g_path, "plugins/java.so") != 0) return 1;
  pgd_log_set_level(PGD_LOG_ERROR);
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("plugin_java", suite_init, suite_clean);
  CU_add_test(s, "descriptor", test_descriptor);
  CU_add_test(s, "validation messages", test_validate_messages);
  CU_add_test(s, "argv for jar with jvm_opts and args", test_argv_jar);
  CU_add_test(s, "argv for main_class, classpath, jvm_opts, args, java_home", test_argv_main_class);
  CU_add_test(s, "JAVA_HOME from the worker's environment", test_java_home_from_environment);
  CU_add_test(s, "env in the spec; worker re-validates", test_env_in_spec);
  return pgd_test_run();
}
