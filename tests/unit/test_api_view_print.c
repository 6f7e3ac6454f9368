/* api_exec_view_print (core/api/api_view_print.c) writes the execution view
 * of the event stream straight from the record: its text must be exactly
 * what printing the view tree (api_exec_view_refs, and api_exec_view for
 * the REST answers) gives, for records of every shape the master holds,
 * and the record must be left as it was. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "api/api_int.h"
#include "common/json.h"
#include "common/strbuf.h"
#include "pgd_test.h"

/* The view's text both ways for `rec_text` without `skip`; true when equal. */
static bool same_view(const char *rec_text, const char *skip) {
  cJSON *rec = cJSON_Parse(rec_text);
  CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
  char *before = pgd_json_print(rec);
  cJSON *tree = api_exec_view_refs(rec, skip);
  char *want = pgd_json_print(tree);
  cJSON_Delete(tree);
  pgd_strbuf_t b = PGD_STRBUF_INIT;
  pgd_strbuf_puts(&b, "prefix:"); /* appended after what the buffer holds */
  bool ok = api_exec_view_print(&b, rec, skip);
  bool same = ok && want && strncmp(b.data, "prefix:", 7) == 0 && strcmp(b.data + 7, want) == 0;
  if (!same) fprintf(stderr, "\n  tree:  %s\n  print: %s\n", want ? want : "(null)", b.data + 7);
  /* Without `skip`, the REST view (a deep copy) is the same text too. */
  if (!skip) {
    cJSON *full = api_exec_view(rec);
    char *rest = pgd_json_print(full);
    same = same && rest && strcmp(rest, b.data + 7) == 0;
    free(rest);
    cJSON_Delete(full);
  }
  /* The record is untouched. */
  char *after = pgd_json_print(rec);
  CU_ASSERT_STRING_EQUAL(before, after);
  free(before);
  free(after);
  free(want);
  pgd_strbuf_free(&b);
  cJSON_Delete(rec);
  return same;
}

static void test_records(void) {
  const char *recs[] = {
      /* a fresh execution, as submitted */
      "{\"id\":17,\"job\":\"true\",\"state\":\"pending\",\"trigger\":\"api\",\"params\":{},"
      "\"definition\":{\"name\":\"true\",\"secret_env\":{\"K\":\"v\"}},"
      "\"submitted_us\":1795000000123456,\"attempt\":0,\"tasks\":[]}",
      /* running, with an attempt */
      "{\"id\":18,\"job\":\"true\",\"state\":\"running\",\"submitted_us\":1795000000123456,"
      "\"dispatched_us\":1795000000124000,\"started_us\":1795000000125999,\"attempt\":1,"
      "\"tasks\":[{\"attempt\":1,\"state\":\"running\",\"worker_id\":\"w1\",\"retries_used\":0}],"
      "\"attempts\":[{\"execution_id\":18,\"attempt\":1,\"worker_id\":\"w1\",\"state\":\"running\","
      "\"started_us\":1795000000125999,\"pid\":4242}],\"worker_id\":\"w1\",\"exit_code\":null}",
      /* final, with result, attributes, an error with escapes and UTF-8 */
      "{\"id\":19,\"job\":\"j\",\"state\":\"failed\",\"submitted_us\":1,\"started_us\":2,"
      "\"finished_us\":3000000,\"exit_code\":2,\"signal\":null,\"error\":\"bad \\\"x\\\"\\n\xc3\xa9\","
      "\"result\":{\"n\":1.5,\"l\":[1,2,{\"a\":null}]},\"attributes\":{\"app\":\"x\"},"
      "\"attempts\":[{\"attempt\":1,\"finished_us\":3000000,\"late\":true},"
      "{\"attempt\":2,\"started_us\":\"not a number\"},7,\"s\",[1]],"
      "\"definition\":{\"env\":{}}}",
      /* time strings already present, times that are not numbers, created/updated */
      "{\"id\":20,\"submitted_us\":null,\"submitted_at\":\"stale\",\"started_at\":\"kept\","
      "\"finished_us\":\"later\",\"created_us\":1795000000000000,\"updated_us\":-5,"
      "\"updated_at\":\"old\",\"updated_at\":\"second\"}",
      /* attempts as an object, not an array; a second attempts member */
      "{\"id\":21,\"attempts\":{\"one\":{\"started_us\":5},\"two\":1},"
      "\"attempts\":[{\"started_us\":6}]}",
      /* nothing but an id; an empty record */
      "{\"id\":22}",
      "{}",
  };
  for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
    CU_ASSERT(same_view(recs[i], "definition"));
    CU_ASSERT(same_view(recs[i], NULL));
    CU_ASSERT(same_view(recs[i], "submitted_us")); /* a skipped always-member */
  }
}

static void test_refusals(void) {
  pgd_strbuf_t b = PGD_STRBUF_INIT;
  CU_ASSERT_FALSE(api_exec_view_print(&b, NULL, NULL));
  cJSON *arr = cJSON_CreateArray();
  CU_ASSERT_FALSE(api_exec_view_print(&b, arr, NULL));
  cJSON_Delete(arr);
  pgd_strbuf_free(&b);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("api_view_print", NULL, NULL);
  CU_add_test(s, "the same text as the view tree, for every record shape", test_records);
  CU_add_test(s, "what is not an execution record", test_refusals);
  return pgd_test_run();
}
