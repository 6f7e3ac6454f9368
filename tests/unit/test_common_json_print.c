/* pgd_json_print (common/json.h): the text of cJSON_PrintUnformatted, with
 * integral numbers below 2^53 written as integer digits. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "common/json.h"
#include "common/strbuf.h"
#include "pgd_test.h"

/* Prints `v` both ways; true when the texts are equal. */
static bool same_as_cjson(const cJSON *v) {
  char *a = cJSON_PrintUnformatted(v), *b = pgd_json_print(v);
  bool same = a && b && strcmp(a, b) == 0;
  if (!same) fprintf(stderr, "\n  cJSON: %s\n  pgd:   %s\n", a ? a : "(null)", b ? b : "(null)");
  cJSON_free(a);
  free(b);
  return same;
}

static void expect(const cJSON *v, const char *text) {
  char *s = pgd_json_print(v);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  if (strcmp(s, text) != 0) fprintf(stderr, "\n  got %s\n  want %s\n", s, text);
  CU_ASSERT_STRING_EQUAL(s, text);
  /* and it reads back to the same tree */
  cJSON *back = cJSON_Parse(s);
  CU_ASSERT(back && cJSON_Compare(back, v, 1));
  cJSON_Delete(back);
  free(s);
}

static void test_numbers(void) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "us", 1795000000000000.0); /* cJSON: 1.795e+15 */
  cJSON_AddNumberToObject(o, "odd", 1795000000123457.0);
  cJSON_AddNumberToObject(o, "neg", -42.0);
  cJSON_AddNumberToObject(o, "zero", -0.0);
  cJSON_AddNumberToObject(o, "max", 9007199254740991.0);
  expect(o, "{\"us\":1795000000000000,\"odd\":1795000000123457,\"neg\":-42,\"zero\":0,"
            "\"max\":9007199254740991}");
  cJSON_Delete(o);
  /* Not integral, or beyond 2^53, or not finite: as cJSON prints them. */
  const double others[] = {1.5, 0.1, -2.25, 1e300, 9007199254740992.0 * 4, 3.14159265358979, 1e-7};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
    cJSON *n = cJSON_CreateNumber(others[i]);
    CU_ASSERT(same_as_cjson(n));
    cJSON_Delete(n);
  }
  cJSON *nan = cJSON_CreateNumber(NAN), *inf = cJSON_CreateNumber(INFINITY);
  char *s = pgd_json_print(nan);
  CU_ASSERT_STRING_EQUAL(s, "null");
  free(s);
  s = pgd_json_print(inf);
  CU_ASSERT_STRING_EQUAL(s, "null");
  free(s);
  cJSON_Delete(nan);
  cJSON_Delete(inf);
}

static void test_same_text_otherwise(void) {
  const char *texts[] = {
      "{}", "[]", "null", "true", "false", "\"\"", "[1,2,[3,{}],{\"a\":[]}]",
      "{\"s\":\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f\"}",
      "{\"ctl\":\"\\u0001\\u001f\",\"utf8\":\"h\xc3\xa9llo \xe2\x82\xac\",\"k\\\"ey\":1}",
      "{\"nested\":{\"a\":{\"b\":{\"c\":[true,false,null,\"x\"]}}}}"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    cJSON *v = cJSON_Parse(texts[i]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT(same_as_cjson(v));
    cJSON_Delete(v);
  }
  /* Raw items, references and constant keys print like cJSON's. */
  cJSON *o = cJSON_CreateObject(), *inner = cJSON_Parse("{\"x\":[1,2]}");
  cJSON_AddRawToObject(o, "raw", "12345678901234567");
  cJSON_AddItemReferenceToObject(o, "ref", inner);
  cJSON_AddItemToObjectCS(o, "cs", cJSON_CreateString("v"));
  CU_ASSERT(same_as_cjson(o));
  cJSON_Delete(o);
  cJSON_Delete(inner);
}

static void test_refusals(void) {
  CU_ASSERT_PTR_NULL(pgd_json_print(NULL));
  cJSON invalid = {0}; /* type cJSON_Invalid */
  CU_ASSERT_PTR_NULL(pgd_json_print(&invalid));
  cJSON *raw = cJSON_CreateRaw("1");
  free(raw->valuestring);
  raw->valuestring = NULL;
  CU_ASSERT_PTR_NULL(pgd_json_print(raw));
  cJSON_Delete(raw);
  /* Deeper than 1000 levels: refused, like a parse of it. */
  cJSON *root = cJSON_CreateArray(), *cur = root;
  for (int i = 0; i < 1100; i++) {
    cJSON *next = cJSON_CreateArray();
    cJSON_AddItemToArray(cur, next);
    cur = next;
  }
  CU_ASSERT_PTR_NULL(pgd_json_print(root));
  cJSON_Delete(root);
}

/* pgd_json_print reuses a scratch buffer per thread: a print after a longer
 * one, a failed one, or one on another thread gives exactly its own text. */
typedef struct print_job {
  const cJSON *v;
  const char *want;
  int rounds;
  bool ok;
} print_job_t;

static void *print_many(void *arg) {
  print_job_t *j = arg;
  j->ok = true;
  for (int i = 0; i < j->rounds; i++) {
    char *s = pgd_json_print(j->v);
    if (!s || strcmp(s, j->want) != 0) j->ok = false;
    free(s);
  }
  return NULL;
}

static void test_scratch_reuse(void) {
  size_t big_len = 300 * 1024; /* beyond what the scratch keeps */
  char *big = malloc(big_len + 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(big);
  memset(big, 'x', big_len);
  big[big_len] = '\0';
  cJSON *long_v = cJSON_CreateString(big), *short_v = cJSON_Parse("{\"a\":[1,2]}");
  char *s = pgd_json_print(long_v);
  CU_ASSERT(s && strlen(s) == big_len + 2 && s[0] == '"' && s[big_len + 1] == '"');
  free(s);
  expect(short_v, "{\"a\":[1,2]}");
  cJSON *deep = cJSON_CreateArray(), *cur = deep;
  for (int i = 0; i < 1100; i++) {
    cJSON *next = cJSON_CreateArray();
    cJSON_AddItemToArray(cur, next);
    cur = next;
  }
  CU_ASSERT_PTR_NULL(pgd_json_print(deep)); /* leaves part of a text behind */
  expect(short_v, "{\"a\":[1,2]}");
  /* Two threads at once, each its own value. */
  cJSON *other = cJSON_Parse("[\"b\",{\"c\":null}]");
  print_job_t a = {short_v, "{\"a\":[1,2]}", 2000, false};
  print_job_t b = {other, "[\"b\",{\"c\":null}]", 2000, false};
  pthread_t ta, tb;
  CU_ASSERT_FATAL(pthread_create(&ta, NULL, print_many, &a) == 0);
  CU_ASSERT_FATAL(pthread_create(&tb, NULL, print_many, &b) == 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  CU_ASSERT(a.ok);
  CU_ASSERT(b.ok);
  /* The append form adds to what the buffer holds. */
  pgd_strbuf_t buf = PGD_STRBUF_INIT;
  pgd_strbuf_puts(&buf, "data: ");
  CU_ASSERT(pgd_json_print_append(&buf, other));
  pgd_json_print_string(&buf, "q\"");
  pgd_json_print_int(&buf, -1795000000000000);
  CU_ASSERT_STRING_EQUAL(buf.data, "data: [\"b\",{\"c\":null}]\"q\\\"\"-1795000000000000");
  CU_ASSERT_FALSE(pgd_json_print_append(&buf, deep));
  pgd_strbuf_free(&buf);
  cJSON_Delete(deep);
  cJSON_Delete(other);
  cJSON_Delete(long_v);
  cJSON_Delete(short_v);
  free(big);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("common_json_print", NULL, NULL);
  CU_add_test(s, "integers as integers", test_numbers);
  CU_add_test(s, "everything else as cJSON prints it", test_same_text_otherwise);
  CU_add_test(s, "what is not printed", test_refusals);
  CU_add_test(s, "the scratch buffer: reused, per thread; the append form", test_scratch_reuse);
  return pgd_test_run();
}
