/* The runs of `pagoda job run NAME --count N | --params-file FILE`
 * (core/cli/client_runs.c) and the parsing of those options. */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "cli/client_args.h"
#include "cli/client_runs.h"
#include "pgd_test.h"

static const char *str(const cJSON *o, const char *k) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}
static double num(const cJSON *o, const char *k) {
  return cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static void test_count(void) {
  char err[256] = "";
  cJSON *params = cJSON_Parse("{\"a\":1}");
  cJSON *runs = pgd_cli_runs_build("render", params, 3, NULL, "", "cli-k", err, sizeof err);
  CU_ASSERT_FATAL(runs != NULL);
  CU_ASSERT(cJSON_GetArraySize(runs) == 3);
  for (int i = 0; i < 3; i++) {
    const cJSON *r = cJSON_GetArrayItem(runs, i);
    CU_ASSERT_STRING_EQUAL(str(r, "job"), "render");
    CU_ASSERT(num(r, "run_index") == i);
    char key[32];
    snprintf(key, sizeof key, "cli-k-%d", i);
    CU_ASSERT_STRING_EQUAL(str(r, "idempotency_key"), key);
    CU_ASSERT(num(cJSON_GetObjectItemCaseSensitive(r, "params"), "a") == 1);
  }
  cJSON_Delete(runs);
  CU_ASSERT(pgd_cli_runs_build("render", params, 0, NULL, "", "cli-k", err, sizeof err) == NULL);
  CU_ASSERT(strstr(err, "--count") != NULL);
  cJSON_Delete(params);
}

static FILE *text_file(const char *text) {
  return fmemopen((void *)text, strlen(text), "r");
}

static void test_params_file(void) {
  char err[256] = "";
  cJSON *params = cJSON_Parse("{\"a\":1,\"b\":\"keep\"}");
  FILE *f = text_file("{\"a\":2}\n\n  \n{\"c\":[1,2]}\n");
  cJSON *runs = pgd_cli_runs_build("etl", params, -1, f, "p.jsonl", "k", err, sizeof err);
  fclose(f);
  CU_ASSERT_FATAL(runs != NULL);
  CU_ASSERT(cJSON_GetArraySize(runs) == 2);
  const cJSON *r0 = cJSON_GetArrayItem(runs, 0), *r1 = cJSON_GetArrayItem(runs, 1);
  const cJSON *p0 = cJSON_GetObjectItemCaseSensitive(r0, "params");
  const cJSON *p1 = cJSON_GetObjectItemCaseSensitive(r1, "params");
  CU_ASSERT(num(p0, "a") == 2 && strcmp(str(p0, "b"), "keep") == 0);
  CU_ASSERT(num(p1, "a") == 1 && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(p1, "c")) == 2);
  CU_ASSERT(num(r0, "run_index") == 0 && num(r1, "run_index") == 1);
  CU_ASSERT_STRING_EQUAL(str(r1, "idempotency_key"), "k-1");
  cJSON_Delete(runs);

  f = text_file("{\"a\":2}\n[1]\n");
  CU_ASSERT(pgd_cli_runs_build("etl", params, -1, f, "p.jsonl", "k", err, sizeof err) == NULL);
  fclose(f);
  CU_ASSERT(strstr(err, "p.jsonl, line 2") != NULL);
  f = text_file("\n\n");
  CU_ASSERT(pgd_cli_runs_build("etl", params, -1, f, "p.jsonl", "k", err, sizeof err) == NULL);
  fclose(f);
  CU_ASSERT(strstr(err, "no runs") != NULL);
  cJSON_Delete(params);
}

static int parse(const char *const *argv, int argc, pgd_cli_args_t *a, char *err, size_t errlen) {
  return pgd_cli_args_parse(argc, (char **)argv, NULL, a, err, errlen);
}

static void test_args(void) {
  pgd_cli_args_t a;
  char err[256];
  const char *count[] = {"pagoda", "job", "run", "x", "--count", "1000000", "--param", "k=v"};
  CU_ASSERT_FATAL(parse(count, 8, &a, err, sizeof err) == 0);
  CU_ASSERT(a.count == 1000000 && a.params_file == NULL);
  pgd_cli_args_free(&a);
  const char *file[] = {"pagoda", "job", "run", "x", "--params-file", "runs.jsonl", "--wait"};
  CU_ASSERT_FATAL(parse(file, 7, &a, err, sizeof err) == 0);
  CU_ASSERT(a.count == -1 && strcmp(a.params_file, "runs.jsonl") == 0 && a.wait);
  pgd_cli_args_free(&a);
  const char *both[] = {"pagoda", "job", "run", "x", "--params-file", "f", "--count", "2"};
  CU_ASSERT(parse(both, 8, &a, err, sizeof err) < 0);
  CU_ASSERT(strstr(err, "not both") != NULL);
  const char *big[] = {"pagoda", "job", "run", "x", "--count", "1000001"};
  CU_ASSERT(parse(big, 6, &a, err, sizeof err) < 0);
  /* schedule next keeps its own bound */
  const char *next[] = {"pagoda", "schedule", "next", "s", "--count", "101"};
  CU_ASSERT(parse(next, 6, &a, err, sizeof err) < 0);
  CU_ASSERT(strstr(err, "1 to 100") != NULL);
  const char *other[] = {"pagoda", "flow", "run", "f", "--params-file", "x"};
  CU_ASSERT(parse(other, 6, &a, err, sizeof err) < 0);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("cli_runs", NULL, NULL);
  CU_add_test(s, "--count runs", test_count);
  CU_add_test(s, "--params-file runs", test_params_file);
  CU_add_test(s, "options", test_args);
  return pgd_test_run();
}
