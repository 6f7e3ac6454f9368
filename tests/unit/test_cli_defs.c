/* Unit tests: definitions as files (core/cli/client_defs.c) and the command
 * lines of `apply` and `export` (client_args.c). Files go to a temporary
 * directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "cli/client_args.h"
#include "cli/client_defs.h"

static char g_dir[64];

static void write_file(const char *rel, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", g_dir, rel);
  char *slash = strrchr(path, '/');
  *slash = '\0';
  mkdir(path, 0700); /* one level is enough here */
  *slash = '/';
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
}

static void fresh_dir(void) {
  char cmd[128];
  if (g_dir[0]) {
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    CU_ASSERT_EQUAL(system(cmd), 0);
  }
  strcpy(g_dir, "/tmp/pgd-defs-XXXXXX");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(g_dir));
}

static void test_load_dir_sorted_by_kind(void) {
  fresh_dir();
  write_file("schedules/s.json", "{\"kind\":\"schedule\",\"name\":\"s\",\"job\":\"b\",\"every\":\"1h\"}");
  write_file("flows/f.json", "{\"kind\":\"flow\",\"name\":\"f\",\"nodes\":[{\"id\":\"x\",\"job\":\"a\"}]}");
  write_file("jobs/b.json", "{\"kind\":\"job\",\"name\":\"b\",\"type\":\"shell\"}");
  write_file("jobs/a.json", "{\"kind\":\"job\",\"name\":\"a\",\"type\":\"shell\"}");
  write_file("resources/r.txt.json", "{\"kind\":\"resource\",\"name\":\"r.txt\"}");
  write_file("resources/r.txt", "content");
  write_file(".git/ignored.json", "not json at all");
  write_file("jobs/notes.md", "not a definition");
  pgd_def_set_t set = {0};
  char err[256];
  CU_ASSERT_EQUAL_FATAL(pgd_def_load(g_dir, &set, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(set.n, 5);
  const char *want[][2] = {{"resource", "r.txt"}, {"job", "a"}, {"job", "b"}, {"flow", "f"},
                           {"schedule", "s"}};
  for (size_t i = 0; i < 5; i++) {
    CU_ASSERT_STRING_EQUAL(pgd_def_kind_name(set.items[i].kind), want[i][0]);
    CU_ASSERT_STRING_EQUAL(set.items[i].name, want[i][1]);
  }
  /* "kind" is the file's, not the definition's */
  CU_ASSERT_PTR_NULL(cJSON_GetObjectItemCaseSensitive(set.items[1].body, "kind"));
  /* a resource's content: "file", default its name, beside the .json */
  CU_ASSERT_PTR_NOT_NULL(strstr(set.items[0].content_path, "/resources/r.txt"));
  CU_ASSERT_TRUE(pgd_def_set_has(&set, PGD_DEF_JOB, "b"));
  CU_ASSERT_FALSE(pgd_def_set_has(&set, PGD_DEF_FLOW, "b"));
  pgd_def_set_free(&set);
}

static void test_load_empty_dir(void) {
  fresh_dir();
  write_file("jobs/.keep", "");
  pgd_def_set_t set = {0};
  char err[256];
  CU_ASSERT_EQUAL(pgd_def_load(g_dir, &set, err, sizeof err), 0); /* jobs/ has no entry */
  CU_ASSERT_EQUAL(set.n, 0);
  pgd_def_set_free(&set);
}

static void expect_refused(const char *text, const char *why) {
  fresh_dir();
  write_file("jobs/x.json", text);
  pgd_def_set_t set = {0};
  char err[256] = "";
  CU_ASSERT_NOT_EQUAL(pgd_def_load(g_dir, &set, err, sizeof err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, why));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "jobs/x.json"));
  pgd_def_set_free(&set);
}

static void test_load_refusals(void) {
  expect_refused("{\"name\":\"a\",\"type\":\"shell\"}", "\"kind\" must be");
  expect_refused("{\"kind\":\"cron\",\"name\":\"a\"}", "\"kind\" must be");
  expect_refused("{\"kind\":\"job\",\"type\":\"shell\"}", "\"name\" must be");
  expect_refused("[1, 2]", "not one JSON object");
  expect_refused("{\"kind\":\"job\", // comment\n\"name\":\"a\"}", "not one JSON object");
  expect_refused("{\"kind\":\"resource\",\"name\":\"a\",\"size\":3}", "not \"size\"");
  /* the same job twice */
  fresh_dir();
  write_file("jobs/a.json", "{\"kind\":\"job\",\"name\":\"a\"}");
  write_file("more/a2.json", "{\"kind\":\"job\",\"name\":\"a\"}");
  pgd_def_set_t set = {0};
  char err[256] = "";
  CU_ASSERT_EQUAL(pgd_def_load(g_dir, &set, err, sizeof err), -EEXIST);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "both define job 'a'"));
  pgd_def_set_free(&set);
}

static void test_canonical_drops_server_members_and_defaults(void) {
  cJSON *stored = cJSON_Parse(
      "{\"name\":\"f\",\"params\":{},\"failure_strategy\":\"fail_fast\",\"max_parallel\":0,"
      "\"hooks_error\":\"run\",\"created_us\":5,\"updated_us\":6,\"nodes\":[{\"id\":\"a\","
      "\"job\":\"j\",\"trigger_rule\":\"all_success\",\"depends_on\":[]},{\"id\":\"b\","
      "\"job\":\"j\",\"depends_on\":[\"a\"],\"trigger_rule\":\"one_failed\"}]}");
  cJSON *file = cJSON_Parse(
      "{\"kind\":\"flow\",\"name\":\"f\",\"nodes\":[{\"id\":\"a\",\"job\":\"j\"},{\"id\":\"b\","
      "\"job\":\"j\",\"depends_on\":[\"a\"],\"trigger_rule\":\"one_failed\"}]}");
  cJSON *x = pgd_def_canonical(PGD_DEF_FLOW, stored), *y = pgd_def_canonical(PGD_DEF_FLOW, file);
  CU_ASSERT_TRUE(cJSON_Compare(x, y, 1));
  cJSON *keys = pgd_def_changed_keys(x, y);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(keys), 0);
  cJSON_Delete(keys);
  /* a non-default value is kept and seen */
  cJSON_AddItemToObject(file, "failure_strategy", cJSON_CreateString("continue"));
  cJSON *z = pgd_def_canonical(PGD_DEF_FLOW, file);
  keys = pgd_def_changed_keys(x, z);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(keys), 1);
  CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(keys, 0)->valuestring, "failure_strategy");
  cJSON_Delete(keys);
  cJSON_Delete(x);
  cJSON_Delete(y);
  cJSON_Delete(z);
  cJSON_Delete(stored);
  cJSON_Delete(file);

  /* a schedule's progress and previews are not definition; a paused one is */
  stored = cJSON_Parse("{\"name\":\"s\",\"job\":\"j\",\"every\":\"1h\",\"enabled\":false,"
                       "\"timezone\":\"UTC\",\"concurrency\":\"allow\",\"next\":[],\"runs\":[],"
                       "\"checkpoint_us\":1,\"next_fire_us\":2,\"created_at\":\"x\"}");
  file = cJSON_Parse("{\"name\":\"s\",\"job\":\"j\",\"every\":\"1h\"}");
  x = pgd_def_canonical(PGD_DEF_SCHEDULE, stored);
  y = pgd_def_canonical(PGD_DEF_SCHEDULE, file);
  keys = pgd_def_changed_keys(x, y);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(keys), 1);
  CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(keys, 0)->valuestring, "enabled");
  cJSON_Delete(keys);
  cJSON_Delete(x);
  cJSON_Delete(y);
  cJSON_Delete(stored);
  cJSON_Delete(file);

  /* a job keeps any member of its own, even one named like schedule progress */
  stored = cJSON_Parse("{\"name\":\"j\",\"type\":\"shell\",\"runs\":3,\"updated_at\":\"x\"}");
  x = pgd_def_canonical(PGD_DEF_JOB, stored);
  CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItemCaseSensitive(x, "runs"));
  CU_ASSERT_PTR_NULL(cJSON_GetObjectItemCaseSensitive(x, "updated_at"));
  cJSON_Delete(x);
  cJSON_Delete(stored);
}

static void test_print_is_canonical(void) {
  cJSON *a = cJSON_Parse("{\"z\":1,\"a\":{\"y\":[1,\"b\"],\"b\":[{\"k\":true}],\"e\":{},\"f\":[]},"
                         "\"m\":\"t\\u00e9\\n\"}");
  cJSON *b = cJSON_Parse("{\"m\":\"t\\u00e9\\n\",\"a\":{\"f\":[],\"e\":{},\"b\":[{\"k\":true}],"
                         "\"y\":[1,\"b\"]},\"z\":1}");
  char *sa = pgd_def_print(a), *sb = pgd_def_print(b);
  CU_ASSERT_STRING_EQUAL(sa, sb);
  CU_ASSERT_STRING_EQUAL(sa, "{\n"
                             "  \"a\": {\n"
                             "    \"b\": [\n"
                             "      {\n"
                             "        \"k\": true\n"
                             "      }\n"
                             "    ],\n"
                             "    \"e\": {},\n"
                             "    \"f\": [],\n"
                             "    \"y\": [1, \"b\"]\n"
                             "  },\n"
                             "  \"m\": \"t\xc3\xa9\\n\",\n"
                             "  \"z\": 1\n"
                             "}\n");
  /* it reads back as the same value */
  cJSON *c = cJSON_Parse(sa);
  CU_ASSERT_TRUE(cJSON_Compare(a, c, 1));
  cJSON_Delete(c);
  free(sa);
  free(sb);
  cJSON_Delete(a);
  cJSON_Delete(b);
}

#define ARGC(...) ((int)(sizeof((char *[]){"pagoda", __VA_ARGS__}) / sizeof(char *)))
#define ARGV(...) ((char *[]){"pagoda", __VA_ARGS__})

static void test_args(void) {
  pgd_cli_args_t a;
  char err[256];
  CU_ASSERT_EQUAL(pgd_cli_args_parse(ARGC("apply", "-f", "defs", "--dry-run", "--prune"),
                                     ARGV("apply", "-f", "defs", "--dry-run", "--prune"), NULL,
                                     &a, err, sizeof err), 0);
  CU_ASSERT_EQUAL(a.cmd, PGD_CLI_APPLY);
  CU_ASSERT_STRING_EQUAL(a.arg, "defs");
  CU_ASSERT_TRUE(a.dry_run);
  CU_ASSERT_TRUE(a.prune);
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(pgd_cli_args_parse(ARGC("--addr", "http://h:1", "export", "out"),
                                     ARGV("--addr", "http://h:1", "export", "out"), NULL, &a, err,
                                     sizeof err), 0);
  CU_ASSERT_EQUAL(a.cmd, PGD_CLI_EXPORT);
  CU_ASSERT_STRING_EQUAL(a.arg, "out");
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(pgd_cli_args_parse(ARGC("apply"), ARGV("apply"), NULL, &a, err, sizeof err),
                  -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "'apply' needs FILE|DIR");
  CU_ASSERT_EQUAL(pgd_cli_args_parse(ARGC("export", "d", "--prune"), ARGV("export", "d", "--prune"),
                                     NULL, &a, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "option --prune does not apply to 'export'");
  CU_ASSERT_EQUAL(pgd_cli_args_parse(ARGC("job", "list", "--dry-run"),
                                     ARGV("job", "list", "--dry-run"), NULL, &a, err, sizeof err),
                  -EINVAL);
  CU_ASSERT_EQUAL(pgd_cli_route(ARGC("apply", "-f", "x"), ARGV("apply", "-f", "x"), NULL),
                  PGD_CLI_ROUTE_CLIENT);
}

static int cleanup(void) {
  if (g_dir[0]) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) return 1;
  }
  return 0;
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("cli_defs", NULL, cleanup);
  CU_add_test(s, "load a directory", test_load_dir_sorted_by_kind);
  CU_add_test(s, "load refusals", test_load_refusals);
  CU_add_test(s, "load an empty directory", test_load_empty_dir);
  CU_add_test(s, "canonical form", test_canonical_drops_server_members_and_defaults);
  CU_add_test(s, "canonical text", test_print_is_canonical);
  CU_add_test(s, "apply/export command lines", test_args);
  return pgd_test_run();
}
