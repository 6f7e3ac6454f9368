/* Unit tests of core/common's JSON body checker (json_schema.h) and UTF-8
 * repair (utf8.h). */
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "common/json_schema.h"
#include "common/utf8.h"

static const char *const colours[] = {"red", "green", NULL};
static const pgd_jschema_t str8 = {.types = PGD_JT_STRING, .max_len = 8};
static const pgd_jschema_t colour = {.types = PGD_JT_STRING | PGD_JT_NULL, .enum_values = colours};
static const pgd_jschema_t small_int = {.types = PGD_JT_INT, .ranged = true, .min = 1, .max = 10};
static const pgd_jschema_t strs = {.types = PGD_JT_ARRAY, .each = &str8, .max_items = 3};
static const pgd_jfield_t item_fields[] = {{"id", &str8, true}, {NULL, NULL, false}};
static const pgd_jschema_t item = {.types = PGD_JT_OBJECT, .fields = item_fields, .closed = true};
static const pgd_jschema_t items = {.types = PGD_JT_ARRAY, .each = &item};
static const pgd_jschema_t env = {.types = PGD_JT_OBJECT, .each = &str8};
static const pgd_jfield_t top_fields[] = {{"name", &str8, true},  {"colour", &colour, false},
                                          {"n", &small_int, false}, {"tags", &strs, false},
                                          {"items", &items, false}, {"env", &env, false},
                                          {NULL, NULL, false}};
static const pgd_jschema_t top = {.types = PGD_JT_OBJECT, .fields = top_fields};

/* Checks `json` (single quotes for double) against `top`: expect the field
 * and a word of the message when it must fail, NULL field when it passes. */
static void expect(const char *json, const char *field, const char *word) {
  char *txt = strdup(json);
  for (char *p = txt; *p; p++)
    if (*p == '\'') *p = '"';
  cJSON *v = cJSON_Parse(txt);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  pgd_jschema_err_t e;
  bool ok = pgd_jschema_check(&top, v, &e);
  if (!field) {
    CU_ASSERT_TRUE(ok);
    if (!ok) fprintf(stderr, "\n%s: unexpected '%s'\n", json, e.message);
  } else {
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_STRING_EQUAL(e.field, field);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, word));
    if (!ok && (strcmp(e.field, field) || !strstr(e.message, word)))
      fprintf(stderr, "\n%s: got field '%s' message '%s'\n", json, e.field, e.message);
  }
  cJSON_Delete(v);
  free(txt);
}

static void test_types_and_paths(void) {
  expect("{'name':'a'}", NULL, NULL);
  expect("{'name':'a','extra':[1,{}],'colour':null,'n':3,'tags':['x'],'env':{'A':'b'}}", NULL, NULL);
  expect("{}", "name", "is required (string)");
  expect("{'name':null}", "name", "must be string (got null)");
  expect("{'name':5}", "name", "got number");
  expect("{'name':'123456789'}", "name", "longer than 8 bytes");
  expect("{'name':'a','colour':'blue'}", "colour", "one of red, green");
  expect("{'name':'a','colour':[]}", "colour", "string or null (got array)");
  expect("{'name':'a','n':1.5}", "n", "must be integer");
  expect("{'name':'a','n':11}", "n", "from 1 to 10");
  expect("{'name':'a','tags':['x',7]}", "tags[1]", "got number");
  expect("{'name':'a','tags':['a','b','c','d']}", "tags", "more than 3 items");
  expect("{'name':'a','items':[{'id':'x'},{'id':[]}]}", "items[1].id", "got array");
  expect("{'name':'a','items':[{'id':'x','other':1}]}", "items[0].other", "not a known field");
  expect("{'name':'a','items':[{}]}", "items[0].id", "is required");
  expect("{'name':'a','env':{'A':true}}", "env.A", "got boolean");
}

static void test_body_type_and_depth(void) {
  cJSON *arr = cJSON_Parse("[1]");
  pgd_jschema_err_t e;
  CU_ASSERT_FALSE(pgd_jschema_check(&top, arr, &e));
  CU_ASSERT_STRING_EQUAL(e.field, "");
  CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "the body must be object"));
  cJSON_Delete(arr);
  CU_ASSERT_TRUE(pgd_jschema_check(NULL, NULL, NULL)); /* no schema: anything */
  /* A self-nested schema cannot recurse without bound. */
  static pgd_jschema_t deep;
  deep.types = PGD_JT_ARRAY;
  deep.each = &deep;
  char txt[200] = "";
  for (int i = 0; i < 40; i++) strcat(txt, "[");
  for (int i = 0; i < 40; i++) strcat(txt, "]");
  cJSON *d = cJSON_Parse(txt);
  CU_ASSERT_FALSE(pgd_jschema_check(&deep, d, &e));
  CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "nested too deeply"));
  cJSON_Delete(d);
}

static void test_utf8(void) {
  CU_ASSERT_TRUE(pgd_utf8_valid("plain \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80", 16));
  CU_ASSERT_FALSE(pgd_utf8_valid("\xff", 1));
  CU_ASSERT_FALSE(pgd_utf8_valid("\xc0\xaf", 2));         /* overlong */
  CU_ASSERT_FALSE(pgd_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
  CU_ASSERT_FALSE(pgd_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
  CU_ASSERT_FALSE(pgd_utf8_valid("\xe2\x82", 2));         /* cut short */
  size_t n = 0;
  char *c = pgd_utf8_clean_copy("a\xff" "b\xc3", 4, &n);
  CU_ASSERT_STRING_EQUAL(c, "a\xef\xbf\xbd" "b\xef\xbf\xbd");
  CU_ASSERT_EQUAL(n, strlen(c));
  free(c);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "ok", "fine");
  cJSON_AddStringToObject(o, "k\xfe", "v\xff");
  cJSON *arr = cJSON_AddArrayToObject(o, "list");
  cJSON_AddItemToArray(arr, cJSON_CreateString("\x80x"));
  CU_ASSERT_EQUAL(pgd_utf8_fix_json(o), 3);
  char *txt = cJSON_PrintUnformatted(o);
  CU_ASSERT_TRUE(pgd_utf8_valid(txt, strlen(txt)));
  CU_ASSERT_PTR_NOT_NULL(strstr(txt, "\"k\xef\xbf\xbd\":\"v\xef\xbf\xbd\""));
  CU_ASSERT_PTR_NOT_NULL(strstr(txt, "\"fine\""));
  free(txt);
  CU_ASSERT_EQUAL(pgd_utf8_fix_json(o), 0); /* already valid */
  cJSON_Delete(o);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("common_schema_utf8", NULL, NULL);
  CU_add_test(s, "schema: types, null, required, enums, ranges, paths", test_types_and_paths);
  CU_add_test(s, "schema: the body's own type, no schema, bounded depth", test_body_type_and_depth);
  CU_add_test(s, "utf8: validity, clean copies, JSON repair", test_utf8);
  return pgd_test_run();
}
