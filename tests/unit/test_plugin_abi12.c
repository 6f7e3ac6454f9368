/* ABI 1.2 on the host side, against real .so files: the host-enforced param
 * schema (a 1.2 plugin's schema is checked before validate, a 1.1 plugin's
 * is not), validate always receiving an object, the per-execution state of
 * on_output_line_ex / interpret_exit_ex / exec_state_free, and a plugin built
 * against the 1.1 header (tests/unit/plugins/abi_1_1) loading and running
 * unchanged. */
#include <CUnit/Basic.h>

#include "pgd_test.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pagoda/plugin.h>

#include "common/log.h"
#include "plugin/registry.h"
#include "plugin/schema.h"

typedef struct {
  int init_calls, destroy_calls, live_states, exec_states_live;
} counters_t;

static char g_good[1200], g_abi11[1200];
static pgd_registry_t *g_reg;
static const pgd_plugin_t *g_p12, *g_p11;
static void *g_dl12; /* our own handle on a_good.so, to read its counters */

static void expect_validate(const pgd_plugin_t *p, const char *json, int want_rc,
                            const char *want) {
  cJSON *params = json ? cJSON_Parse(json) : NULL;
  char err[512] = "?";
  int rc = pgd_plugin_validate(p, params, err, sizeof err);
  CU_ASSERT_EQUAL(rc, want_rc);
  CU_ASSERT_STRING_EQUAL(err, want);
  if (rc != want_rc || strcmp(err, want) != 0)
    fprintf(stderr, "params %s: got %d \"%s\", want %d \"%s\"\n", json, rc, err, want_rc, want);
  cJSON_Delete(params);
}

static void test_abi_versions(void) {
  CU_ASSERT_EQUAL(PAGODA_PLUGIN_ABI_MAJOR, 1);
  CU_ASSERT_EQUAL(PAGODA_PLUGIN_ABI_MINOR, 2);
  CU_ASSERT_EQUAL(pgd_plugin_abi_minor(g_p12), 2);
  CU_ASSERT_EQUAL(pgd_plugin_abi_minor(g_p11), 1);
  cJSON *all = pgd_registry_to_json(g_reg);
  const cJSON *e;
  int seen = 0;
  cJSON_ArrayForEach(e, all) {
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(e, "file"));
    const char *abi = cJSON_GetStringValue(cJSON_GetObjectItem(e, "abi"));
    if (file && strcmp(file, g_abi11) == 0) {
      CU_ASSERT_STRING_EQUAL(abi, "1.1");
      /* the 1.1 schema array is read with the 1.1 element size */
      cJSON *params = cJSON_GetObjectItem(e, "params");
      CU_ASSERT_EQUAL(cJSON_GetArraySize(params), 2);
      const char *k1 = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(params, 1), "key"));
      CU_ASSERT_STRING_EQUAL(k1 ? k1 : "", "fail");
      seen++;
    }
  }
  CU_ASSERT_EQUAL(seen, 1);
  cJSON_Delete(all);
}

/* A 1.2 plugin: the declared types are checked by the host first. */
static void test_schema_enforced(void) {
  expect_validate(g_p12, "{\"word\":\"x\"}", 0, "");
  expect_validate(g_p12, "{\"word\":5}", PAGODA_EINVAL, "test_good: params.word must be a string");
  expect_validate(g_p12, "{\"word\":null}", PAGODA_EINVAL, "test_good: params.word must be a string");
  /* the schema check runs before validate: validate would say otherwise */
  expect_validate(g_p12, "{\"fail\":7}", PAGODA_EINVAL, "test_good: params.fail must be a string");
  /* keys the schema does not declare are left to validate */
  expect_validate(g_p12, "{\"unknown\":[1]}", 0, "");
  /* validate always gets an object, also for a job without params */
  expect_validate(g_p12, NULL, 0, "");
  expect_validate(g_p12, "[]", -22, "test_good: params must be an object");
}

/* A 1.1 plugin: its schema is listed, not enforced; validate decides. */
static void test_schema_not_enforced_for_1_1(void) {
  expect_validate(g_p11, "{\"word\":5}", 0, "");
  expect_validate(g_p11, "{\"fail\":\"params.word is odd\"}", PAGODA_EINVAL,
                  "test_abi11: params.word is odd");
  expect_validate(g_p11, NULL, 0, "");
  expect_validate(g_p11, "\"text\"", -22, "test_abi11: params must be an object");
}

/* The worker side checks the request against the schema too. */
static void test_schema_on_worker(void) {
  cJSON *params = cJSON_Parse("{\"word\":[\"x\"]}");
  pgd_procspec_t spec;
  pgd_procspec_init(&spec);
  char err[256];
  CU_ASSERT_EQUAL(pgd_plugin_describe_process(g_p12, params, &spec, err, sizeof err), -22);
  CU_ASSERT_STRING_EQUAL(err, "test_good: params.word must be a string");
  CU_ASSERT_EQUAL(spec.argc, 0);
  pgd_procspec_free(&spec);
  /* the 1.1 plugin describes its process as before */
  CU_ASSERT_EQUAL(pgd_plugin_describe_process(g_p11, params, &spec, err, sizeof err), 0);
  CU_ASSERT_EQUAL(spec.argc, 2);
  pgd_procspec_free(&spec);
  cJSON_Delete(params);
}

static void test_env_key_rule(void) {
  CU_ASSERT_EQUAL(pgd_env_key_ok("PATH"), 1);
  CU_ASSERT_EQUAL(pgd_env_key_ok("_x.y-z9"), 1);
  CU_ASSERT_EQUAL(pgd_env_key_ok(""), 0);
  CU_ASSERT_EQUAL(pgd_env_key_ok(NULL), 0);
  CU_ASSERT_EQUAL(pgd_env_key_ok("9LIVES"), 0);
  CU_ASSERT_EQUAL(pgd_env_key_ok("A=B"), 0);
  CU_ASSERT_EQUAL(pgd_env_key_ok("A B"), 0);
  CU_ASSERT_EQUAL(pgd_env_key_ok("A\nB"), 0);
  char long_key[300];
  memset(long_key, 'K', sizeof long_key);
  long_key[255] = '\0';
  CU_ASSERT_EQUAL(pgd_env_key_ok(long_key), 1);
  long_key[255] = 'K';
  long_key[256] = '\0';
  CU_ASSERT_EQUAL(pgd_env_key_ok(long_key), 0);
  CU_ASSERT_STRING_EQUAL(pgd_param_type_name(PAGODA_PARAM_ENV), "env");
  CU_ASSERT_STRING_EQUAL(pgd_param_type_name(PAGODA_PARAM_TEXT), "text");
  CU_ASSERT_STRING_EQUAL(pgd_param_type_name(PAGODA_PARAM_STRINGS), "strings");
  CU_ASSERT_STRING_EQUAL(pgd_param_type_name(PAGODA_PARAM_INTEGER), "integer");
  CU_ASSERT_STRING_EQUAL(pgd_param_type_name(PAGODA_JSON_MISSING), "any");
}

static const char *attr(const cJSON *attrs, const char *key) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(attrs, key));
}

/* One execution of the 1.2 plugin: its state lives from the first output
 * line to pgd_outscan_release, and interpret_exit_ex sees it and the
 * attributes gathered so far. */
static void test_exec_state(void) {
  counters_t *c = dlsym(g_dl12, "test_plugin_counters");
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  int live = c->exec_states_live;
  CU_ASSERT_EQUAL(pgd_plugin_has_output_scan(g_p12), 1);
  cJSON *attrs = cJSON_CreateObject();
  pgd_outscan_t *s = malloc(sizeof *s);
  pgd_outscan_init(s, g_p12, NULL, attrs);
  const char *out = "starting\nattr stage load\nattr rows 12\nlast words";
  CU_ASSERT_EQUAL(pgd_outscan_feed(s, out, strlen(out)), 2);
  CU_ASSERT_EQUAL(pgd_outscan_flush(s), 0);
  CU_ASSERT_EQUAL(c->exec_states_live, live + 1);
  CU_ASSERT_STRING_EQUAL(attr(attrs, "rows"), "12");
  char err[512];
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit_ex(g_p12, NULL, attrs, &s->exec_state, 0, 0, err,
                                               sizeof err), 0);
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit_ex(g_p12, NULL, attrs, &s->exec_state, 1, 0, err,
                                               sizeof err), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "test_good: exit 1 signal 0 after 4 lines, last \"last words\", "
                              "attrs {\"stage\":\"load\",\"rows\":\"12\"}");
  CU_ASSERT_EQUAL(c->exec_states_live, live + 1); /* still the attempt's */
  pgd_outscan_release(s);
  CU_ASSERT_EQUAL(c->exec_states_live, live); /* released through exec_state_free */
  CU_ASSERT_PTR_NULL(s->exec_state);
  pgd_outscan_release(s); /* twice is harmless */
  free(s);

  /* without a slot (a direct call) the state lives for that call only */
  CU_ASSERT_EQUAL(pgd_plugin_scan_output(g_p12, NULL, "attr k v", 8, attrs), 1);
  CU_ASSERT_EQUAL(c->exec_states_live, live);
  /* no slot and no attributes: a slot for the call only, and {} */
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit(g_p12, NULL, 2, 0, err, sizeof err), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "test_good: exit 2 signal 0");
  cJSON_Delete(attrs);
}

/* The 1.1 plugin's output scan and exit rule are its 1.1 slots. */
static void test_abi11_runs_unchanged(void) {
  CU_ASSERT_EQUAL(pgd_plugin_has_output_scan(g_p11), 1);
  cJSON *attrs = cJSON_CreateObject();
  pgd_outscan_t s;
  pgd_outscan_init(&s, g_p11, NULL, attrs);
  const char *out = "attr app application_1\nnoise\n";
  CU_ASSERT_EQUAL(pgd_outscan_feed(&s, out, strlen(out)), 1);
  CU_ASSERT_PTR_NULL(s.exec_state); /* a 1.1 plugin has no state slot */
  CU_ASSERT_STRING_EQUAL(attr(attrs, "app"), "application_1");
  char err[256];
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit_ex(g_p11, NULL, attrs, &s.exec_state, 3, 0, err,
                                               sizeof err), 0);
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit_ex(g_p11, NULL, attrs, &s.exec_state, 1, 0, err,
                                               sizeof err), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "test_abi11: exit 1 signal 0");
  pgd_outscan_release(&s);
  cJSON *job = cJSON_Parse("{\"name\":\"j\",\"params\":{\"word\":\"w\"}}");
  cJSON *req = NULL;
  CU_ASSERT_EQUAL(pgd_plugin_expand(g_p11, job, &req, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(req, "greeting")), "hello");
  cJSON_Delete(req);
  cJSON_Delete(job);
  cJSON_Delete(attrs);
}

static int suite_init(void) {
  g_reg = pgd_registry_new();
  char err[512];
  if (!g_reg || pgd_registry_load_file(g_reg, g_good, err, sizeof err) != 0 ||
      pgd_registry_load_file(g_reg, g_abi11, err, sizeof err) != 0) {
    fprintf(stderr, "cannot load the test plugins: %s\n", err);
    return -1;
  }
  g_p12 = pgd_registry_find(g_reg, "test_good");
  g_p11 = pgd_registry_find(g_reg, "test_abi11");
  g_dl12 = dlopen(g_good, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
  return (g_p12 && g_p11 && g_dl12) ? 0 : -1;
}

static int suite_clean(void) {
  if (g_dl12) dlclose(g_dl12);
  pgd_registry_free(g_reg);
  return 0;
}

int main(void) {
  const char *build = getenv("PAGODA_BUILD_DIR");
  if (!build) {
    fprintf(stderr, "PAGODA_BUILD_DIR is not set (run through ctest)\n");
    return 1;
  }
  snprintf(g_good, sizeof g_good, "%s/tests/plugins-mixed/a_good.so", build);
  snprintf(g_abi11, sizeof g_abi11, "%s/tests/plugins-abi11/abi11.so", build);
  pgd_log_set_level(PGD_LOG_ERROR);
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("plugin_abi12", suite_init, suite_clean);
  CU_add_test(s, "ABI versions, 1.1 schema read with the 1.1 size", test_abi_versions);
  CU_add_test(s, "schema enforced before validate (1.2)", test_schema_enforced);
  CU_add_test(s, "schema listed, not enforced (1.1)", test_schema_not_enforced_for_1_1);
  CU_add_test(s, "schema checked on the worker side", test_schema_on_worker);
  CU_add_test(s, "env key rule and type names", test_env_key_rule);
  CU_add_test(s, "per-execution state and attributes (1.2)", test_exec_state);
  CU_add_test(s, "a 1.1 plugin runs unchanged", test_abi11_runs_unchanged);
  return pgd_test_run();
}
