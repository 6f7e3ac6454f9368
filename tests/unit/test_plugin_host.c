/* The host services table (core/plugin/host.c) and pgd_procspec_t, called
 * directly as a plugin would. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <pagoda/plugin.h>
#include <string.h>

#include "pgd_test.h"
#include "common/log.h"
#include "plugin/host.h"
#include "plugin/procspec.h"

static const pagoda_host_t *H;
#define PJ(c) ((const pagoda_json_t *)(const void *)(c))

static void test_table_header(void) {
  CU_ASSERT_EQUAL(H->abi_major, PAGODA_PLUGIN_ABI_MAJOR);
  CU_ASSERT_EQUAL(H->abi_minor, PAGODA_PLUGIN_ABI_MINOR);
  CU_ASSERT_EQUAL(H->struct_size, sizeof(pagoda_host_t));
  /* every 1.0 slot is filled */
  const char *first = (const char *)&H->log;
  const char *end = (const char *)H + sizeof *H;
  for (const char *p = first; p < end; p += sizeof(void (*)(void))) {
    void (*fn)(void);
    memcpy(&fn, p, sizeof fn);
    CU_ASSERT_PTR_NOT_NULL(fn);
  }
}

static void test_json_read(void) {
  cJSON *doc = cJSON_Parse("{\"s\":\"txt\",\"n\":2.5,\"t\":true,\"f\":false,\"z\":null,"
                           "\"a\":[1,\"two\"],\"o\":{\"k\":\"v\",\"k2\":3}}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  const pagoda_json_t *d = PJ(doc);
  CU_ASSERT_EQUAL(H->json_type(H->json_get(d, "s")), PAGODA_JSON_STRING);
  CU_ASSERT_EQUAL(H->json_type(H->json_get(d, "n")), PAGODA_JSON_NUMBER);
  CU_ASSERT_EQUAL(H->json_type(H->json_get(d, "t")), PAGODA_JSON_BOOL);
  CU_ASSERT_EQUAL(H->json_type(H->json_get(d, "z")), PAGODA_JSON_NULL);
  CU_ASSERT_EQUAL(H->json_type(H->json_get(d, "a")), PAGODA_JSON_ARRAY);
  CU_ASSERT_EQUAL(H->json_type(H->json_get(d, "o")), PAGODA_JSON_OBJECT);
  CU_ASSERT_EQUAL(H->json_type(H->json_get(d, "missing")), PAGODA_JSON_MISSING);
  CU_ASSERT_EQUAL(H->json_type(NULL), PAGODA_JSON_MISSING);
  CU_ASSERT_PTR_NULL(H->json_get(d, "S")); /* case-sensitive */
  CU_ASSERT_PTR_NULL(H->json_get(NULL, "s"));
  CU_ASSERT_PTR_NULL(H->json_get(d, NULL));
  CU_ASSERT_PTR_NULL(H->json_get(H->json_get(d, "a"), "s")); /* not an object */

  CU_ASSERT_STRING_EQUAL(H->json_string(H->json_get(d, "s")), "txt");
  CU_ASSERT_PTR_NULL(H->json_string(H->json_get(d, "n")));
  CU_ASSERT_DOUBLE_EQUAL(H->json_number(H->json_get(d, "n"), -1), 2.5, 1e-12);
  CU_ASSERT_DOUBLE_EQUAL(H->json_number(H->json_get(d, "s"), -1), -1, 1e-12);
  CU_ASSERT_EQUAL(H->json_bool(H->json_get(d, "t"), -1), 1);
  CU_ASSERT_EQUAL(H->json_bool(H->json_get(d, "f"), -1), 0);
  CU_ASSERT_EQUAL(H->json_bool(H->json_get(d, "n"), -1), -1);

  const pagoda_json_t *a = H->json_get(d, "a");
  CU_ASSERT_EQUAL(H->json_array_size(a), 2);
  CU_ASSERT_EQUAL(H->json_array_size(d), 0);
  CU_ASSERT_STRING_EQUAL(H->json_string(H->json_array_item(a, 1)), "two");
  CU_ASSERT_PTR_NULL(H->json_array_item(a, 2));
  CU_ASSERT_PTR_NULL(H->json_array_item(d, 0));

  const pagoda_json_t *o = H->json_get(d, "o");
  CU_ASSERT_EQUAL(H->json_object_size(o), 2);
  CU_ASSERT_EQUAL(H->json_object_size(a), 0);
  CU_ASSERT_STRING_EQUAL(H->json_object_key_at(o, 1), "k2");
  CU_ASSERT_DOUBLE_EQUAL(H->json_number(H->json_object_value_at(o, 1), 0), 3, 1e-12);
  CU_ASSERT_PTR_NULL(H->json_object_key_at(o, 2));
  CU_ASSERT_PTR_NULL(H->json_object_value_at(a, 0));

  char *text = H->json_print(o);
  CU_ASSERT_STRING_EQUAL(text, "{\"k\":\"v\",\"k2\":3}");
  H->free(text);
  CU_ASSERT_PTR_NULL(H->json_print(NULL));
  cJSON_Delete(doc);
}

static void test_request_builders(void) {
  cJSON *req = cJSON_CreateObject();
  pagoda_request_t *r = (pagoda_request_t *)(void *)req;
  cJSON *src = cJSON_Parse("{\"deep\":[1,{\"x\":true}]}");
  CU_ASSERT_EQUAL(H->request_set_string(r, "s", "v"), 0);
  CU_ASSERT_EQUAL(H->request_set_string(r, "s", "w"), 0); /* replaces */
  CU_ASSERT_EQUAL(H->request_set_number(r, "n", 7), 0);
  CU_ASSERT_EQUAL(H->request_set_bool(r, "b", 5), 0);
  CU_ASSERT_EQUAL(H->request_set_json(r, "j", PJ(src)), 0);
  cJSON_Delete(src); /* deep copy: the request keeps its own */
  CU_ASSERT_EQUAL(H->request_set_string(r, "s2", NULL), PAGODA_EINVAL);
  CU_ASSERT_EQUAL(H->request_set_string(r, NULL, "x"), PAGODA_EINVAL);
  CU_ASSERT_EQUAL(H->request_set_number(NULL, "x", 1), PAGODA_EINVAL);
  CU_ASSERT_EQUAL(H->request_set_json(r, "x", NULL), PAGODA_EINVAL);
  CU_ASSERT_EQUAL(H->request_set_number(r, "gone", 1), 0);
  CU_ASSERT_EQUAL(H->request_remove(r, "gone"), 0);
  CU_ASSERT_EQUAL(H->request_remove(r, "never"), 0);
  char *text = cJSON_PrintUnformatted(req);
  CU_ASSERT_STRING_EQUAL(text, "{\"s\":\"w\",\"n\":7,\"b\":true,\"j\":{\"deep\":[1,{\"x\":true}]}}");
  cJSON_free(text);
  cJSON_Delete(req);
}

static void test_errors(void) {
  char buf[16];
  struct pagoda_error e;
  pgd_plugin_error_init(&e, buf, sizeof buf);
  CU_ASSERT_EQUAL(e.set, 0);
  CU_ASSERT_STRING_EQUAL(buf, "");
  H->error_set((pagoda_error_t *)&e, "shell: %s %d", "a-long-message", 12345);
  CU_ASSERT_EQUAL(e.set, 1);
  CU_ASSERT_STRING_EQUAL(buf, "shell: a-long-m"); /* truncated, terminated */
  H->error_set((pagoda_error_t *)&e, "second");
  CU_ASSERT_STRING_EQUAL(buf, "second"); /* last call wins */
  H->error_set(NULL, "ignored %d", 1);
  pgd_plugin_error_init(&e, NULL, 0);
  H->error_set((pagoda_error_t *)&e, "nowhere");
  CU_ASSERT_EQUAL(e.set, 1);
  H->log(PAGODA_LOG_DEBUG, "debug line %d", 1);
  H->log((pagoda_log_level_t)99, "odd level");
  char *s = H->strdup("copy");
  CU_ASSERT_STRING_EQUAL(s, "copy");
  H->free(s);
  CU_ASSERT_PTR_NULL(H->strdup(NULL));
  H->free(NULL);
  void *z = H->alloc(0);
  CU_ASSERT_PTR_NOT_NULL(z);
  H->free(z);
}

static void test_procspec(void) {
  pgd_procspec_t s;
  pgd_procspec_init(&s);
  CU_ASSERT_PTR_NULL(s.argv);
  pagoda_process_t *p = (pagoda_process_t *)(void *)&s;
  for (int i = 0; i < 40; i++) { /* forces several reallocations */
    char a[16];
    snprintf(a, sizeof a, "arg%d", i);
    CU_ASSERT_EQUAL(H->process_add_arg(p, a), 0);
    CU_ASSERT_PTR_NULL(s.argv[s.argc]);
  }
  CU_ASSERT_EQUAL(s.argc, 40);
  CU_ASSERT_STRING_EQUAL(s.argv[39], "arg39");
  CU_ASSERT_EQUAL(H->process_add_arg(p, NULL), PAGODA_EINVAL);
  CU_ASSERT_EQUAL(H->process_add_arg(NULL, "x"), PAGODA_EINVAL);

  CU_ASSERT_EQUAL(H->process_set_env(p, "A", "1"), 0);
  CU_ASSERT_EQUAL(H->process_set_env(p, "AB", "2"), 0);
  CU_ASSERT_EQUAL(H->process_set_env(p, "A", "3"), 0); /* replaces, keeps AB */
  CU_ASSERT_EQUAL(s.envc, 2);
  CU_ASSERT_STRING_EQUAL(s.env[0], "A=3");
  CU_ASSERT_STRING_EQUAL(s.env[1], "AB=2");
  CU_ASSERT_PTR_NULL(s.env[2]);
  CU_ASSERT_STRING_EQUAL(pgd_procspec_get_env(&s, "AB"), "2");
  CU_ASSERT_PTR_NULL(pgd_procspec_get_env(&s, "B"));
  CU_ASSERT_EQUAL(H->process_set_env(p, "", "1"), PAGODA_EINVAL);
  CU_ASSERT_EQUAL(H->process_set_env(p, "X=Y", "1"), PAGODA_EINVAL);
  CU_ASSERT_EQUAL(H->process_set_env(p, "X", NULL), PAGODA_EINVAL);

  CU_ASSERT_EQUAL(H->process_set_cwd(p, "/a"), 0);
  CU_ASSERT_EQUAL(H->process_set_cwd(p, "/b"), 0);
  CU_ASSERT_STRING_EQUAL(s.cwd, "/b");
  CU_ASSERT_EQUAL(H->process_set_cwd(p, ""), PAGODA_EINVAL);
  CU_ASSERT_EQUAL(H->process_set_cwd(p, NULL), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(s.cwd, "/b");
  CU_ASSERT_EQUAL(H->process_set_user(p, "nobody"), 0);
  CU_ASSERT_STRING_EQUAL(s.user, "nobody");
  CU_ASSERT_EQUAL(pgd_procspec_set_user(&s, NULL), 0); /* internal API clears */
  CU_ASSERT_PTR_NULL(s.user);

  pgd_procspec_free(&s);
  CU_ASSERT_PTR_NULL(s.argv);
  CU_ASSERT_EQUAL(s.argc, 0);
  pgd_procspec_free(&s); /* twice is safe */
  pgd_procspec_free(NULL);
}

static void test_run_services_without_run(void) {
  CU_ASSERT_EQUAL(H->run_is_cancelled(NULL), 0);
  H->run_log(NULL, "x", 1);
  CU_ASSERT_EQUAL(H->run_set_result(NULL, "{}"), PAGODA_EINVAL);
  CU_ASSERT_PTR_NULL(H->run_error(NULL));
}

int main(void) {
  H = pgd_plugin_host();
  pgd_log_set_level(PGD_LOG_ERROR);
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("plugin_host", NULL, NULL);
  CU_add_test(s, "table header", test_table_header);
  CU_add_test(s, "JSON read access", test_json_read);
  CU_add_test(s, "request builders", test_request_builders);
  CU_add_test(s, "errors, log, memory", test_errors);
  CU_add_test(s, "process spec", test_procspec);
  CU_add_test(s, "run services on NULL", test_run_services_without_run);
  return pgd_test_run();
}
