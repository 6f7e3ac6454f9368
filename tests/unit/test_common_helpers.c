/* Unit tests of core/common: error buffers, typed JSON getters and setters,
 * the growable string buffer and the shared execution state table. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "common/err.h"
#include "common/exec_state.h"
#include "common/json.h"
#include "common/strbuf.h"

static void test_set_err(void) {
  char buf[8];
  CU_ASSERT_EQUAL(pgd_set_err(buf, sizeof buf, -EINVAL, "bad %s", "field-name"), -EINVAL);
  CU_ASSERT_STRING_EQUAL(buf, "bad fie"); /* truncated, terminated */
  CU_ASSERT_EQUAL(pgd_set_err(NULL, 0, -ENOENT, "x"), -ENOENT);
}

static void test_json_getters(void) {
  cJSON *o = cJSON_Parse("{\"i\":42,\"f\":1.5,\"s\":\"v\",\"b\":true,\"n\":null,"
                         "\"big\":9007199254740993}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  CU_ASSERT_EQUAL(pgd_json_int(o, "i", -1), 42);
  CU_ASSERT_EQUAL(pgd_json_int(o, "s", -1), -1);
  CU_ASSERT_EQUAL(pgd_json_int(o, "missing", 7), 7);
  CU_ASSERT_STRING_EQUAL(pgd_json_str(o, "s"), "v");
  CU_ASSERT_PTR_NULL(pgd_json_str(o, "i"));
  CU_ASSERT_PTR_NULL(pgd_json_str(o, "n"));
  CU_ASSERT_TRUE(pgd_json_bool(o, "b", false));
  CU_ASSERT_FALSE(pgd_json_bool(o, "i", false));
  int64_t v = 0;
  CU_ASSERT_EQUAL(pgd_json_int_strict(o, "i", &v), 0);
  CU_ASSERT_EQUAL(v, 42);
  CU_ASSERT_EQUAL(pgd_json_int_strict(o, "f", &v), -EINVAL);
  CU_ASSERT_EQUAL(pgd_json_int_strict(o, "s", &v), -EINVAL);
  CU_ASSERT_EQUAL(pgd_json_int_strict(o, "big", &v), -EINVAL);
  CU_ASSERT_EQUAL(pgd_json_int_strict(o, "missing", &v), -ENOENT);
  /* not an object: getters answer the default */
  cJSON *arr = cJSON_CreateArray();
  CU_ASSERT_EQUAL(pgd_json_int(arr, "i", 3), 3);
  CU_ASSERT_PTR_NULL(pgd_json_get(NULL, "i"));
  cJSON_Delete(arr);
  cJSON_Delete(o);
}

static void test_json_setters(void) {
  cJSON *o = cJSON_CreateObject();
  pgd_json_set_int(o, "a", 1);
  pgd_json_set_int(o, "a", 2); /* replaces, not duplicates */
  pgd_json_set_str(o, "s", NULL);
  pgd_json_set_bool(o, "b", true);
  pgd_json_set(o, "ts", pgd_json_int_item(1764000000123456LL));
  char *text = cJSON_PrintUnformatted(o);
  CU_ASSERT_STRING_EQUAL(text, "{\"a\":2,\"s\":null,\"b\":true,\"ts\":1764000000123456}");
  free(text);
  cJSON_Delete(o);
}

static void test_json_ambiguous(void) {
  const char *why = NULL;
  cJSON *o = cJSON_Parse("{\"a\":1,\"b\":{\"a\":2},\"c\":[{\"a\":3}]}");
  CU_ASSERT_FALSE(pgd_json_ambiguous(o, &why)); /* one name in different objects */
  cJSON_Delete(o);
  o = cJSON_Parse("{\"a\":1,\"a\":2}");
  CU_ASSERT_TRUE(pgd_json_ambiguous(o, &why));
  CU_ASSERT_STRING_EQUAL(why, "an object that names a key twice");
  cJSON_Delete(o);
  o = cJSON_Parse("{\"x\":[{\"k\":1,\"j\":0,\"k\":2}]}"); /* nested, not adjacent */
  CU_ASSERT_TRUE(pgd_json_ambiguous(o, NULL));
  cJSON_Delete(o);
  o = cJSON_Parse("{\"n\":1e999}");
  CU_ASSERT_TRUE(pgd_json_ambiguous(o, &why));
  CU_ASSERT_STRING_EQUAL(why, "a number beyond the range of a double");
  cJSON_Delete(o);
  o = cJSON_Parse("[1, 2.5, \"s\", null]");
  CU_ASSERT_FALSE(pgd_json_ambiguous(o, NULL));
  cJSON_Delete(o);
}

static void test_strbuf(void) {
  pgd_strbuf_t b = PGD_STRBUF_INIT;
  for (int i = 0; i < 1000; i++) CU_ASSERT_EQUAL(pgd_strbuf_printf(&b, "%d,", i % 10), 0);
  CU_ASSERT_EQUAL(b.len, 2000);
  CU_ASSERT_EQUAL(strlen(b.data), 2000);
  CU_ASSERT_EQUAL(memcmp(b.data, "0,1,2,", 6), 0);
  pgd_strbuf_reset(&b);
  CU_ASSERT_EQUAL(b.len, 0);
  CU_ASSERT_EQUAL(pgd_strbuf_append(&b, "a\0b", 3), 0);
  CU_ASSERT_EQUAL(b.len, 3);
  char *taken = pgd_strbuf_take(&b);
  CU_ASSERT_EQUAL(memcmp(taken, "a\0b", 4), 0);
  CU_ASSERT_PTR_NULL(b.data);
  free(taken);
  taken = pgd_strbuf_take(&b); /* empty buffer gives "" */
  CU_ASSERT_STRING_EQUAL(taken, "");
  free(taken);
  pgd_strbuf_free(&b);
}

static void test_exec_state(void) {
  for (int i = 0; i < PGD_STATE__COUNT; i++)
    CU_ASSERT_EQUAL(pgd_exec_state_parse(pgd_exec_state_name((pgd_exec_state_t)i)), i);
  CU_ASSERT_EQUAL(pgd_exec_state_parse("timed_out"), PGD_STATE_TIMED_OUT);
  CU_ASSERT_EQUAL(pgd_exec_state_parse("Succeeded"), -1);
  CU_ASSERT_EQUAL(pgd_exec_state_parse(NULL), -1);
  CU_ASSERT_STRING_EQUAL(pgd_exec_state_name((pgd_exec_state_t)99), "unknown");
  CU_ASSERT_FALSE(pgd_exec_state_final(PGD_STATE_RUNNING));
  CU_ASSERT_TRUE(pgd_exec_state_final(PGD_STATE_SUCCEEDED));
  CU_ASSERT_TRUE(pgd_exec_state_final(PGD_STATE_LOST));
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("common_helpers", NULL, NULL);
  CU_add_test(s, "pgd_set_err formats, truncates and returns rc", test_set_err);
  CU_add_test(s, "typed JSON getters check types", test_json_getters);
  CU_add_test(s, "JSON setters replace and print integers exactly", test_json_setters);
  CU_add_test(s, "ambiguous JSON: repeated keys, infinite numbers", test_json_ambiguous);
  CU_add_test(s, "strbuf grows, resets and hands over", test_strbuf);
  CU_add_test(s, "execution states round-trip", test_exec_state);
  return pgd_test_run();
}
