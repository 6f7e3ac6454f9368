/* <pagoda/plugin_util.h>, the SDK's header-only helpers, against the real
 * host table (core/plugin/host.c): each helper's results and messages. */
#include <CUnit/Basic.h>

#include "pgd_test.h"
#include <cjson/cJSON.h>
#include <string.h>

#include <pagoda/plugin.h>
#include <pagoda/plugin_util.h>

#include "plugin/host.h"
#include "plugin/procspec.h"

#define PJ(v) ((const pagoda_json_t *)(const void *)(v))

static const pagoda_host_t *h;
static char g_msg[512];
static struct pagoda_error g_err;

static pagoda_error_t *fresh_err(void) {
  pgd_plugin_error_init(&g_err, g_msg, sizeof g_msg);
  return &g_err;
}

static void test_fail(void) {
  CU_ASSERT_EQUAL(pagoda_fail(h, fresh_err(), PAGODA_EINVAL, "t: params.%s is %d", "x", 7),
                  PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(g_msg, "t: params.x is 7");
}

static void test_param_string(void) {
  cJSON *p = cJSON_Parse("{\"s\":\"abc\",\"e\":\"\",\"n\":1,\"d\":\"-x\",\"rel\":\"a/b\"}");
  const char *out = "?";
  CU_ASSERT_EQUAL(pagoda_param_string(h, "t", PJ(p), "s", PAGODA_PU_NONEMPTY, NULL, &out, fresh_err()), 0);
  CU_ASSERT_STRING_EQUAL(out, "abc");
  CU_ASSERT_EQUAL(pagoda_param_string(h, "t", PJ(p), "absent", 0, NULL, &out, fresh_err()), 0);
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_EQUAL(pagoda_param_string(h, "t", PJ(p), "e", PAGODA_PU_NONEMPTY, NULL, &out, fresh_err()),
                  PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(g_msg, "t: params.e must be a non-empty string");
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_EQUAL(pagoda_param_string(h, "t", PJ(p), "n", 0, NULL, NULL, fresh_err()), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(g_msg, "t: params.n must be a string");
  CU_ASSERT_EQUAL(pagoda_param_string(h, "t", PJ(p), "d", PAGODA_PU_NO_DASH | PAGODA_PU_QUOTE,
                                      "a word", NULL, fresh_err()), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(g_msg, "t: params.d must be a word (got \"-x\")");
  CU_ASSERT_EQUAL(pagoda_param_string(h, "t", PJ(p), "rel", PAGODA_PU_ABSOLUTE, "an absolute path",
                                      NULL, fresh_err()), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(g_msg, "t: params.rel must be an absolute path");
  /* NULL params reads as {} */
  CU_ASSERT_EQUAL(pagoda_param_string(h, "t", NULL, "s", 0, NULL, &out, fresh_err()), 0);
  CU_ASSERT_PTR_NULL(out);
  cJSON_Delete(p);
}

static void test_param_int_and_bool(void) {
  cJSON *p = cJSON_Parse("{\"i\":12,\"f\":1.5,\"big\":99,\"s\":\"3\",\"b\":true,\"nb\":1}");
  long long n = -1;
  CU_ASSERT_EQUAL(pagoda_param_int(h, "t", PJ(p), "i", 1, 50, 7, NULL, &n, fresh_err()), 0);
  CU_ASSERT_EQUAL(n, 12);
  CU_ASSERT_EQUAL(pagoda_param_int(h, "t", PJ(p), "absent", 1, 50, 7, NULL, &n, fresh_err()), 0);
  CU_ASSERT_EQUAL(n, 7);
  CU_ASSERT_EQUAL(pagoda_param_int(h, "t", PJ(p), "f", 1, 50, 7, NULL, &n, fresh_err()), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(g_msg, "t: params.f must be an integer from 1 to 50");
  CU_ASSERT_EQUAL(pagoda_param_int(h, "t", PJ(p), "big", 1, 50, 7, NULL, &n, fresh_err()), PAGODA_EINVAL);
  CU_ASSERT_EQUAL(pagoda_param_int(h, "t", PJ(p), "s", 1, 50, 7, "a small count", &n, fresh_err()),
                  PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(g_msg, "t: params.s must be a small count");
  int b = -1;
  CU_ASSERT_EQUAL(pagoda_param_bool(h, "t", PJ(p), "b", 0, &b, fresh_err()), 0);
  CU_ASSERT_EQUAL(b, 1);
  CU_ASSERT_EQUAL(pagoda_param_bool(h, "t", PJ(p), "absent", 1, &b, fresh_err()), 0);
  CU_ASSERT_EQUAL(b, 1);
  CU_ASSERT_EQUAL(pagoda_param_bool(h, "t", PJ(p), "nb", 0, &b, fresh_err()), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(g_msg, "t: params.nb must be a boolean");
  cJSON_Delete(p);
}

static void test_param_strings_and_join(void) {
  cJSON *p = cJSON_Parse("{\"a\":[\"x\",\"\",\"y:z\"],\"o\":{},\"m\":[\"k\",3],\"opts\":[\"-a\",\"b\"]}");
  CU_ASSERT_EQUAL(pagoda_param_strings(h, "t", PJ(p), "a", 0, NULL, NULL, fresh_err()), 0);
  CU_ASSERT_EQUAL(pagoda_param_strings(h, "t", PJ(p), "a", PAGODA_PU_NONEMPTY, ":",
                                       "be a non-empty path without ':'", fresh_err()), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(g_msg, "t: params.a[1] must be a non-empty path without ':'");
  CU_ASSERT_EQUAL(pagoda_param_strings(h, "t", PJ(p), "o", 0, NULL, NULL, fresh_err()), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(g_msg, "t: params.o must be an array of strings");
  CU_ASSERT_EQUAL(pagoda_param_strings(h, "t", PJ(p), "m", 0, NULL, NULL, fresh_err()), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(g_msg, "t: params.m[1] must be a string");
  CU_ASSERT_EQUAL(pagoda_param_strings(h, "t", PJ(p), "opts", PAGODA_PU_DASH | PAGODA_PU_QUOTE, NULL,
                                       "start with '-'", fresh_err()), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(g_msg, "t: params.opts[1] must start with '-' (got \"b\")");
  char *j = pagoda_strings_join(h, h->json_get(PJ(p), "a"), ',');
  CU_ASSERT_STRING_EQUAL(j, "x,,y:z");
  h->free(j);
  j = pagoda_strings_join(h, h->json_get(PJ(p), "m"), ':'); /* non-strings skipped */
  CU_ASSERT_STRING_EQUAL(j, "k");
  h->free(j);
  j = pagoda_strings_join(h, NULL, ':');
  CU_ASSERT_STRING_EQUAL(j, "");
  h->free(j);
  cJSON_Delete(p);
}

typedef struct {
  char seen[128];
  int stop_at;
  int calls;
} env_acc_t;

static int collect(void *ud, const char *name, const char *value) {
  env_acc_t *a = ud;
  if (++a->calls == a->stop_at) return PAGODA_EFAIL;
  size_t n = strlen(a->seen);
  snprintf(a->seen + n, sizeof a->seen - n, "%s=%s;", name, value);
  return PAGODA_OK;
}

static void test_env_and_process(void) {
  cJSON *p = cJSON_Parse("{\"env\":{\"A\":\"1\",\"B\":\"two\"},\"argv\":[\"ls\",\"-l\"]}");
  env_acc_t acc = {"", 0, 0};
  CU_ASSERT_EQUAL(pagoda_env_each(h, PJ(p), "env", collect, &acc), 0);
  CU_ASSERT_STRING_EQUAL(acc.seen, "A=1;B=two;");
  env_acc_t stop = {"", 2, 0};
  CU_ASSERT_EQUAL(pagoda_env_each(h, PJ(p), "env", collect, &stop), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(stop.seen, "A=1;");
  pgd_procspec_t spec;
  pgd_procspec_init(&spec);
  pagoda_process_t *proc = (pagoda_process_t *)(void *)&spec;
  CU_ASSERT_EQUAL(pagoda_process_add_args(h, proc, h->json_get(PJ(p), "argv")), 0);
  CU_ASSERT_EQUAL(pagoda_process_add_env(h, proc, PJ(p), "env"), 0);
  CU_ASSERT_EQUAL(spec.argc, 2);
  CU_ASSERT_STRING_EQUAL(spec.argv[1], "-l");
  CU_ASSERT_STRING_EQUAL(pgd_procspec_get_env(&spec, "B"), "two");
  CU_ASSERT_EQUAL(pagoda_process_add_args(h, proc, h->json_get(PJ(p), "env")), 0); /* not an array: nothing */
  CU_ASSERT_EQUAL(spec.argc, 2);
  pgd_procspec_free(&spec);
  cJSON_Delete(p);
}

int main(void) {
  h = pgd_plugin_host();
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("plugin_util", NULL, NULL);
  CU_add_test(s, "pagoda_fail", test_fail);
  CU_add_test(s, "pagoda_param_string", test_param_string);
  CU_add_test(s, "pagoda_param_int and _bool", test_param_int_and_bool);
  CU_add_test(s, "pagoda_param_strings and pagoda_strings_join", test_param_strings_and_join);
  CU_add_test(s, "env and process helpers", test_env_and_process);
  return pgd_test_run();
}
