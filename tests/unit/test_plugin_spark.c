/* The built-in `spark` plugin through the production loader: validation,
 * the exact spark-submit argv, application id capture from sample outputs
 * (ABI 1.1 on_output_line via pgd_plugin_scan_output and pgd_outscan), the
 * kill commands (describe_kill), and that a plugin declaring ABI 1.0 never
 * has its 1.1 slots called. */
#include <CUnit/Basic.h>
#include <pagoda/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgd_test.h"
#include "common/log.h"
#include "plugin/check.h"
#include "plugin/registry.h"
#include "plugin_fixture.h"

static pgd_registry_t *g_reg;
static const pgd_plugin_t *g_spark;
static char g_path[1024], g_path10[1024];

static int suite_init(void) { return pgd_test_plugin_load(g_path, "spark", &g_reg, &g_spark); }

static int suite_clean(void) {
  pgd_registry_free(g_reg);
  return 0;
}

static void expect_validate(const char *json, const char *want) {
  cJSON *params = json ? cJSON_Parse(json) : NULL;
  if (json) CU_ASSERT_PTR_NOT_NULL_FATAL(params);
  char err[512] = "?";
  int rc = pgd_plugin_validate(g_spark, params, err, sizeof err);
  CU_ASSERT_EQUAL(rc, *want ? PAGODA_EINVAL : 0);
  CU_ASSERT_STRING_EQUAL(err, want);
  if (strcmp(err, want) != 0) fprintf(stderr, "params %s: got \"%s\", want \"%s\"\n", json, err, want);
  cJSON_Delete(params);
}

static void join_argv(const pgd_procspec_t *spec, char *got, size_t len) {
  got[0] = '\0';
  for (size_t i = 0; i < spec->argc; i++) {
    if (i) strncat(got, "|", len - strlen(got) - 1);
    strncat(got, spec->argv[i], len - strlen(got) - 1);
  }
}

static void expect_argv(const char *json, const char *want) {
  cJSON *params = cJSON_Parse(json);
  CU_ASSERT_PTR_NOT_NULL_FATAL(params);
  pgd_procspec_t spec;
  pgd_procspec_init(&spec);
  char err[512], got[4096];
  int rc = pgd_plugin_describe_process(g_spark, params, &spec, err, sizeof err);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc) fprintf(stderr, "describe_process %s: %s\n", json, err);
  join_argv(&spec, got, sizeof got);
  CU_ASSERT_STRING_EQUAL(got, want);
  if (strcmp(got, want) != 0) fprintf(stderr, "argv: got \"%s\"\n     want \"%s\"\n", got, want);
  pgd_procspec_free(&spec);
  cJSON_Delete(params);
}

static void test_descriptor(void) {
  CU_ASSERT_STRING_EQUAL(pgd_plugin_type(g_spark), "spark");
  CU_ASSERT_EQUAL(pgd_plugin_executor_kind(g_spark), PGD_EXEC_PROCESS);
  CU_ASSERT_EQUAL(pgd_plugin_abi_minor(g_spark), PAGODA_PLUGIN_ABI_MINOR);
  CU_ASSERT_EQUAL(pgd_plugin_has_output_scan(g_spark), 1);
  CU_ASSERT_EQUAL(pgd_plugin_has_kill(g_spark), 1);
}

static void test_validate_messages(void) {
  expect_validate("{\"application\":\"app.jar\",\"class\":\"a.B\",\"master\":\"yarn\","
                  "\"deploy_mode\":\"cluster\",\"conf\":{\"spark.x\":1,\"spark.y\":true},"
                  "\"driver_memory\":\"2g\",\"executor_memory\":\"512M\",\"num_executors\":3}", "");
  expect_validate("{\"application\":\"job.py\",\"master\":\"local[4]\"}", "");
  expect_validate("{\"application\":\"job.py\",\"master\":\"local[*,2]\"}", "");
  expect_validate("{\"application\":\"a.jar\",\"master\":\"spark://h:7077\",\"deploy_mode\":\"client\"}", "");
  expect_validate(NULL, "spark: params.application is required (a jar or a .py file)");
  expect_validate("{\"application\":\"\"}",
                  "spark: params.application must be a non-empty string not starting with '-'");
  expect_validate("{\"application\":\"--help\"}",
                  "spark: params.application must be a non-empty string not starting with '-'");
  expect_validate("{\"application\":\"j.py\",\"class\":\"A\"}",
                  "spark: params.class is for JVM applications, not a .py application");
  const char *bad_master = "spark: params.master must be yarn, local, local[N], local[*], "
                           "spark://..., mesos://... or k8s://...";
  expect_validate("{\"application\":\"a.jar\",\"master\":\"yarn-cluster\"}", bad_master);
  expect_validate("{\"application\":\"a.jar\",\"master\":\"local[x]\"}", bad_master);
  expect_validate("{\"application\":\"a.jar\",\"master\":\"spark://\"}", bad_master);
  expect_validate("{\"application\":\"a.jar\",\"master\":5}", bad_master);
  expect_validate("{\"application\":\"a.jar\",\"deploy_mode\":\"server\"}",
                  "spark: params.deploy_mode must be \"client\" or \"cluster\"");
  expect_validate("{\"application\":\"a.jar\",\"deploy_mode\":\"cluster\"}",
                  "spark: params.deploy_mode \"cluster\" needs a cluster master "
                  "(yarn, spark://, mesos://, k8s://), not local[*]");
  expect_validate("{\"application\":\"a.jar\",\"conf\":[]}",
                  "spark: params.conf must be an object of Spark properties");
  expect_validate("{\"application\":\"a.jar\",\"conf\":{\"a=b\":\"1\"}}",
                  "spark: params.conf key \"a=b\" is not a property name");
  expect_validate("{\"application\":\"a.jar\",\"conf\":{\"spark.x\":{}}}",
                  "spark: params.conf.spark.x must be a string, number or boolean");
  expect_validate("{\"application\":\"a.jar\",\"jars\":\"a.jar\"}",
                  "spark: params.jars must be an array of strings");
  expect_validate("{\"application\":\"a.jar\",\"py_files\":[\"a,b\"]}",
                  "spark: params.py_files[0] must be a non-empty path without ','");
  expect_validate("{\"application\":\"a.jar\",\"args\":[1]}", "spark: params.args[0] must be a string");
  expect_validate("{\"application\":\"a.jar\",\"driver_memory\":\"lots\"}",
                  "spark: params.driver_memory must be a size such as \"512m\" or \"2g\"");
  expect_validate("{\"application\":\"a.jar\",\"executor_memory\":2}",
                  "spark: params.executor_memory must be a size such as \"512m\" or \"2g\"");
  expect_validate("{\"application\":\"a.jar\",\"num_executors\":0}",
                  "spark: params.num_executors must be a positive integer");
  expect_validate("{\"application\":\"a.jar\",\"num_executors\":2.5}",
                  "spark: params.num_executors must be a positive integer");
  expect_validate("{\"application\":\"a.jar\",\"spark_home\":\"opt/spark\"}",
                  "spark: params.spark_home must be an absolute path");
  expect_validate("{\"application\":\"a.jar\",\"name\":\"-x\"}",
                  "spark: params.name must be a non-empty string not starting with '-'");
  expect_validate("{\"application\":\"a.jar\",\"env\":{\"K\":1}}", "spark: params.env.K must be a string");
}

static void test_argv_full(void) {
  unsetenv("SPARK_HOME");
  expect_argv("{\"application\":\"hdfs:///apps/etl.jar\",\"class\":\"com.example.Etl\","
              "\"master\":\"yarn\",\"deploy_mode\":\"cluster\",\"name\":\"nightly etl\","
              "\"conf\":{\"spark.sql.shuffle.partitions\":200,\"spark.dynamicAllocation.enabled\":false,"
              "\"spark.app.tag\":\"x=y\",\"spark.executor.cores\":\"2\"},"
              "\"jars\":[\"a.jar\",\"/opt/b.jar\"],\"files\":[\"conf.yml\"],"
              "\"driver_memory\":\"2g\",\"executor_memory\":\"4g\",\"num_executors\":10,"
              "\"args\":[\"--date\",\"2026-01-01\"],\"spark_home\":\"/opt/spark\"}",
              "/opt/spark/bin/spark-submit|--master|yarn|--deploy-mode|cluster|--name|nightly etl|"
              "--class|com.example.Etl|"
              "--conf|spark.app.tag=x=y|--conf|spark.dynamicAllocation.enabled=false|"
              "--conf|spark.executor.cores=2|--conf|spark.sql.shuffle.partitions=200|"
              "--jars|a.jar,/opt/b.jar|--files|conf.yml|--driver-memory|2g|--executor-memory|4g|"
              "--num-executors|10|hdfs:///apps/etl.jar|--date|2026-01-01");
  expect_argv("{\"application\":\"job.py\",\"py_files\":[\"deps.zip\",\"util.py\"],\"args\":[\"x\"]}",
              "spark-submit|--master|local[*]|--py-files|deps.zip,util.py|job.py|x");
  setenv("SPARK_HOME", "/srv/spark/", 1);
  expect_argv("{\"application\":\"a.jar\",\"master\":\"local[2]\"}",
              "/srv/spark/bin/spark-submit|--master|local[2]|a.jar");
  unsetenv("SPARK_HOME");
}

static void test_expand_default_master(void) {
  cJSON *job = cJSON_Parse("{\"name\":\"j\",\"type\":\"spark\",\"params\":{\"application\":\"a.jar\"}}");
  cJSON *out = NULL;
  char err[256];
  CU_ASSERT_EQUAL(pgd_plugin_expand(g_spark, job, &out, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(out, "master")), "local[*]");
  cJSON_Delete(out);
  cJSON_Delete(job);
}

/* Feeds `output` through pgd_outscan in chunks of `chunk` bytes. */
static cJSON *scan(const pgd_plugin_t *p, const char *params_json, const char *output, size_t chunk,
                   int *changes) {
  cJSON *params = cJSON_Parse(params_json);
  cJSON *attrs = cJSON_CreateObject();
  pgd_outscan_t *s = malloc(sizeof *s);
  pgd_outscan_init(s, p, params, attrs);
  int n = 0;
  for (size_t at = 0, len = strlen(output); at < len; at += chunk)
    n += pgd_outscan_feed(s, output + at, len - at < chunk ? len - at : chunk);
  n += pgd_outscan_flush(s);
  pgd_outscan_release(s); /* the plugin's per-execution state (ABI 1.2) */
  free(s);
  cJSON_Delete(params);
  if (changes) *changes = n;
  return attrs;
}

static const char *attr(const cJSON *attrs, const char *key) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(attrs, key));
}

static void test_capture_ids(void) {
  const char *yarn =
      "26/01/01 00:00:00 INFO Client: Requesting a new application from cluster with 4 NodeManagers\r\n"
      "26/01/01 00:00:01 INFO Client: Submitting application application_1700000000000_0001 to ResourceManager\n"
      "26/01/01 00:00:01 INFO YarnClientImpl: Submitted application application_1700000000000_0001\n"
      "26/01/01 00:00:02 INFO Client: Application report for application_1700000000000_0001 (state: ACCEPTED)\n"
      "26/01/01 00:00:09 INFO Client: Application report for application_1700000000000_0002 (state: RUNNING)";
  for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
    int changes = -1;
    cJSON *a = scan(g_spark, "{\"master\":\"yarn\"}", yarn, chunk, &changes);
    CU_ASSERT_STRING_EQUAL(attr(a, "spark_app_id"), "application_1700000000000_0001");
    CU_ASSERT_EQUAL(changes, 1); /* the first id wins, repeats change nothing */
    CU_ASSERT_EQUAL(cJSON_GetArraySize(a), 1);
    cJSON_Delete(a);
  }
  cJSON *a = scan(g_spark, "{}",
                  "INFO StandaloneSchedulerBackend: Connected to Spark cluster with app ID "
                  "app-20260101000000-0000\n", 7, NULL);
  CU_ASSERT_STRING_EQUAL(attr(a, "spark_app_id"), "app-20260101000000-0000");
  cJSON_Delete(a);
  a = scan(g_spark, "{}", "INFO SparkContext: Submitted application: Pi\n"
                          "INFO Utils: spark.app.id local-1700000000000 set\n", 3, NULL);
  CU_ASSERT_STRING_EQUAL(attr(a, "spark_app_id"), "local-1700000000000");
  cJSON_Delete(a);
  a = scan(g_spark, "{}", "INFO ClientEndpoint: Driver successfully submitted as driver-20260101000000-0003\n",
           100, NULL);
  CU_ASSERT_STRING_EQUAL(attr(a, "spark_driver_id"), "driver-20260101000000-0003");
  CU_ASSERT_PTR_NULL(attr(a, "spark_app_id"));
  cJSON_Delete(a);
  /* near misses: no boundary, too few digits, other words */
  a = scan(g_spark, "{}", "xapplication_1700000000000_0001\napplication_17_1\nmyapp-20260101000000-0000\n"
                          "local-17\napplication_1700000000000_\nthe local-mode app\n", 5, NULL);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(a), 0);
  cJSON_Delete(a);
  /* a last line without a line break is scanned at flush */
  a = scan(g_spark, "{}", "Submitted application application_1700000000000_0042", 1000, NULL);
  CU_ASSERT_STRING_EQUAL(attr(a, "spark_app_id"), "application_1700000000000_0042");
  cJSON_Delete(a);
}

/* ABI 1.2: the per-execution state keeps the application id and the last
 * error line; a failure's message names both, success is still exit 0. */
static void test_exit_message_from_state(void) {
  cJSON *attrs = cJSON_CreateObject();
  pgd_outscan_t s;
  pgd_outscan_init(&s, g_spark, NULL, attrs);
  const char *out =
      "INFO Client: Submitting application application_1700000000000_0009 to ResourceManager\n"
      "26/01/01 00:00:03 ERROR Client: Application diagnostics message: User class threw exception\n"
      "Exception in thread \"main\" java.io.FileNotFoundException: /data/in.csv\n"
      "INFO ShutdownHookManager: Shutdown hook called\n";
  CU_ASSERT_EQUAL(pgd_outscan_feed(&s, out, strlen(out)), 1);
  CU_ASSERT_PTR_NOT_NULL(s.exec_state);
  char err[1024];
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit_ex(g_spark, NULL, attrs, &s.exec_state, 0, 0, err,
                                               sizeof err), 0);
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit_ex(g_spark, NULL, attrs, &s.exec_state, 1, 0, err,
                                               sizeof err), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "spark: exit code 1 (application application_1700000000000_0009; "
                              "last error: Exception in thread \"main\" "
                              "java.io.FileNotFoundException: /data/in.csv)");
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit_ex(g_spark, NULL, attrs, &s.exec_state, 0, 9, err,
                                               sizeof err), PAGODA_EFAIL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "spark: killed by signal 9 (application "));
  pgd_outscan_release(&s);
  CU_ASSERT_PTR_NULL(s.exec_state);
  /* without output: the plain message, the application from the attributes */
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit(g_spark, NULL, 2, 0, err, sizeof err), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "spark: exit code 2");
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit_ex(g_spark, NULL, attrs, NULL, 2, 0, err, sizeof err),
                  PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "spark: exit code 2 (application application_1700000000000_0009)");
  cJSON_Delete(attrs);
}

static void test_scan_output_direct(void) {
  cJSON *attrs = cJSON_CreateObject();
  const char *line = "Submitted application application_1700000000000_0007 tail";
  /* not NUL-terminated at len: the host copies and terminates */
  CU_ASSERT_EQUAL(pgd_plugin_scan_output(g_spark, NULL, line, 52, attrs), 1);
  CU_ASSERT_STRING_EQUAL(attr(attrs, "spark_app_id"), "application_1700000000000_0007");
  CU_ASSERT_EQUAL(pgd_plugin_scan_output(g_spark, NULL, line, strlen(line), attrs), 0);
  cJSON *arr = cJSON_CreateArray();
  CU_ASSERT_EQUAL(pgd_plugin_scan_output(g_spark, NULL, line, 4, arr), -22);
  cJSON_Delete(arr);
  /* a line longer than the limit is cut, not overflowed */
  size_t big = 3 * PGD_OUTSCAN_LINE_MAX;
  char *long_line = malloc(big + 1);
  memset(long_line, 'x', big);
  long_line[big] = '\0';
  CU_ASSERT_EQUAL(pgd_plugin_scan_output(g_spark, NULL, long_line, big, attrs), 0);
  free(long_line);
  cJSON_Delete(attrs);
}

static void expect_kill(const char *params_json, const char *attrs_json, int want_rc,
                        const char *want_argv) {
  cJSON *params = cJSON_Parse(params_json);
  cJSON *attrs = attrs_json ? cJSON_Parse(attrs_json) : NULL;
  pgd_procspec_t spec;
  pgd_procspec_init(&spec);
  char err[256], got[1024];
  int rc = pgd_plugin_describe_kill(g_spark, params, attrs, &spec, err, sizeof err);
  CU_ASSERT_EQUAL(rc, want_rc);
  join_argv(&spec, got, sizeof got);
  CU_ASSERT_STRING_EQUAL(got, want_argv);
  if (rc != want_rc || strcmp(got, want_argv) != 0)
    fprintf(stderr, "kill %s %s: rc %d argv \"%s\" err \"%s\"\n", params_json, attrs_json, rc, got, err);
  pgd_procspec_free(&spec);
  cJSON_Delete(params);
  cJSON_Delete(attrs);
}

static void test_kill_commands(void) {
  unsetenv("SPARK_HOME");
  expect_kill("{\"application\":\"a.jar\",\"master\":\"yarn\",\"deploy_mode\":\"cluster\"}",
              "{\"spark_app_id\":\"application_1700000000000_0001\"}", 1,
              "yarn|application|-kill|application_1700000000000_0001");
  expect_kill("{\"application\":\"a.jar\",\"master\":\"spark://m:7077\",\"deploy_mode\":\"cluster\","
              "\"spark_home\":\"/opt/spark\"}",
              "{\"spark_driver_id\":\"driver-20260101000000-0003\",\"spark_app_id\":\"app-20260101000000-0000\"}",
              1, "/opt/spark/bin/spark-submit|--kill|driver-20260101000000-0003|--master|spark://m:7077");
  expect_kill("{\"application\":\"a.jar\",\"master\":\"mesos://m:5050\",\"deploy_mode\":\"cluster\"}",
              "{\"spark_app_id\":\"app-20260101000000-0000\"}", 1,
              "spark-submit|--kill|app-20260101000000-0000|--master|mesos://m:5050");
  /* nothing to run: client mode, no id yet, local, k8s */
  expect_kill("{\"application\":\"a.jar\",\"master\":\"yarn\",\"deploy_mode\":\"client\"}",
              "{\"spark_app_id\":\"application_1700000000000_0001\"}", 0, "");
  expect_kill("{\"application\":\"a.jar\",\"master\":\"yarn\",\"deploy_mode\":\"cluster\"}", NULL, 0, "");
  expect_kill("{\"application\":\"a.jar\",\"master\":\"local[*]\"}",
              "{\"spark_app_id\":\"local-1700000000000\"}", 0, "");
  expect_kill("{\"application\":\"a.jar\",\"master\":\"k8s://https://k:6443\",\"deploy_mode\":\"cluster\"}",
              "{\"spark_app_id\":\"spark-abc\"}", 0, "");
}

/* spark.c built declaring ABI 1.0: its executor table has the slots, but
 * the host must not read them. */
static void test_abi_1_0_plugin_slots_not_called(void) {
  pgd_registry_t *r = pgd_registry_new();
  char err[512];
  int rc = pgd_registry_load_file(r, g_path10, err, sizeof err);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  if (rc) fprintf(stderr, "%s\n", err);
  const pgd_plugin_t *p = pgd_registry_find(r, "spark");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_EQUAL(pgd_plugin_abi_minor(p), 0);
  CU_ASSERT_EQUAL(pgd_plugin_has_output_scan(p), 0);
  CU_ASSERT_EQUAL(pgd_plugin_has_kill(p), 0);
  cJSON *attrs = scan(p, "{}", "Submitted application application_1700000000000_0001\n", 8, NULL);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(attrs), 0);
  CU_ASSERT_EQUAL(pgd_plugin_scan_output(p, NULL, "application_1700000000000_0001", 30, attrs), 0);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(attrs), 0);
  cJSON *params = cJSON_Parse("{\"application\":\"a.jar\",\"master\":\"yarn\",\"deploy_mode\":\"cluster\"}");
  cJSON_AddStringToObject(attrs, "spark_app_id", "application_1700000000000_0001");
  pgd_procspec_t spec;
  pgd_procspec_init(&spec);
  CU_ASSERT_EQUAL(pgd_plugin_describe_kill(p, params, attrs, &spec, err, sizeof err), 0);
  CU_ASSERT_EQUAL(spec.argc, 0);
  pgd_procspec_free(&spec);
  /* the 1.0 parts work as usual */
  pgd_procspec_init(&spec);
  CU_ASSERT_EQUAL(pgd_plugin_describe_process(p, params, &spec, err, sizeof err), 0);
  CU_ASSERT(spec.argc > 0);
  pgd_procspec_free(&spec);
  cJSON *all = pgd_registry_to_json(r);
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(all, 0), "abi")), "1.0");
  cJSON_Delete(all);
  cJSON_Delete(params);
  cJSON_Delete(attrs);
  pgd_registry_free(r);
}

/* pgd_plugin_check: what `pagoda plugin check FILE.so` prints. */
static char *check_output(const char *path, int *rc) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  *rc = pgd_plugin_check(path, f);
  fclose(f);
  return text;
}

static void test_plugin_check(void) {
  int rc;
  char *out = check_output(g_path, &rc);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "type:        spark\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "version:     1.0.0\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "abi:         1.2 (host 1.2)\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "generator:   validate, expand\n"));
  /* 1.2: the per-execution state slots replace on_output_line and the exit rule */
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "executor:    process (describe_process, interpret_exit_ex, "
                                     "on_output_line_ex, describe_kill)\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "schema:      enforced by the host (ABI >= 1.2)\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "params:      application (string, required): "));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "master (string, default \"local[*]\")"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "result:      ok: the plugin loads\n"));
  free(out);
  /* the ABI 1.0 build: its 1.1 slots are not reported (never called) */
  out = check_output(g_path10, &rc);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "abi:         1.0 (host 1.2)\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "executor:    process (describe_process, default exit rule)\n"));
  free(out);
  /* refused: not a plugin at all */
  out = check_output("/etc/hostname", &rc);
  CU_ASSERT_EQUAL(rc, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "file:        /etc/hostname\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "result:      refused: dlopen failed: "));
  free(out);
  out = check_output("/nonexistent/x.so", &rc);
  CU_ASSERT_EQUAL(rc, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "result:      refused: "));
  free(out);
  CU_ASSERT_EQUAL(pgd_plugin_check(NULL, stdout), 2);
}

int main(void) {
  if (pgd_test_build_path(g_path, sizeof g_path, "plugins/spark.so") != 0 ||
      pgd_test_build_path(g_path10, sizeof g_path10, "tests/plugins-abi10/spark.so") != 0)
    return 1;
  pgd_log_set_level(PGD_LOG_ERROR);
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("plugin_spark", suite_init, suite_clean);
  CU_add_test(s, "descriptor (ABI 1.1 slots)", test_descriptor);
  CU_add_test(s, "validation messages", test_validate_messages);
  CU_add_test(s, "spark-submit argv, conf sorted by key", test_argv_full);
  CU_add_test(s, "expand writes the default master", test_expand_default_master);
  CU_add_test(s, "application id capture from sample outputs", test_capture_ids);
  CU_add_test(s, "pgd_plugin_scan_output bounds", test_scan_output_direct);
  CU_add_test(s, "exit message from the per-execution state (1.2)", test_exit_message_from_state);
  CU_add_test(s, "kill commands", test_kill_commands);
  CU_add_test(s, "ABI 1.0 plugin: 1.1 slots never called", test_abi_1_0_plugin_slots_not_called);
  CU_add_test(s, "pgd_plugin_check report", test_plugin_check);
  return pgd_test_run();
}
