/* Unit tests of core/common/log: the json format writes one JSON object a
 * line (ts, level, module, msg, fields) that parses as JSON whatever the
 * message holds (quotes, backslashes, newlines, control characters, UTF-8,
 * a message too long for a line); the text format shows fields as
 * key=value; levels below the threshold write nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "pgd_test.h"
#include "common/log.h"

/* Runs fn with stderr sent to a temporary file; returns what was written
 * (caller frees). */
static char *capture(void (*fn)(void)) {
  char path[] = "/tmp/pgd-log-test-XXXXXX";
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  fn();
  dup2(saved, STDERR_FILENO);
  close(saved);
  off_t n = lseek(fd, 0, SEEK_END);
  char *buf = calloc(1, (size_t)n + 1);
  CU_ASSERT_FATAL(buf != NULL);
  CU_ASSERT_EQUAL(pread(fd, buf, (size_t)n, 0), n);
  close(fd);
  unlink(path);
  return buf;
}

static void write_json_lines(void) {
  pgd_log_set_format(PGD_LOG_FORMAT_JSON);
  PGD_INFO("api", "plain message");
  PGD_WARN("store", "quote \" backslash \\ newline \n tab \t ctrl \x01 end");
  PGD_ERROR("exec", "UTF-8: caf\xc3\xa9 \xe2\x9c\x93");
  pgd_log_field_t f[] = {{"route", "/api/v1/jobs/{name}/run", 0},
                         {"status", NULL, 201},
                         {"duration_ms", NULL, 1.25},
                         {"token", "ci \"x\"", 0}};
  pgd_log_fields(PGD_LOG_INFO, "access", f, 4, "POST %s", "/api/v1/jobs/a/run");
  char big[5000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  big[100] = '"';
  PGD_INFO("big", "%s", big);
  PGD_DEBUG("hidden", "below the level: not written");
  pgd_log_set_format(PGD_LOG_FORMAT_TEXT);
}

static void test_json_lines_parse(void) {
  char *out = capture(write_json_lines);
  int lines = 0;
  cJSON *objs[8] = {0};
  for (char *save = NULL, *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    cJSON *o = cJSON_Parse(line);
    CU_ASSERT_PTR_NOT_NULL(o);
    if (!o) {
      fprintf(stderr, "not JSON: %.200s\n", line);
      continue;
    }
    for (const char *k = "ts\0level\0module\0msg\0"; *k; k += strlen(k) + 1)
      CU_ASSERT_TRUE(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, k)));
    if (lines < 8) objs[lines] = o;
    else cJSON_Delete(o);
    lines++;
  }
  CU_ASSERT_EQUAL(lines, 5); /* the debug line is not written */
  if (lines == 5) {
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(objs[0], "level")->valuestring, "info");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(objs[0], "module")->valuestring, "api");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(objs[1], "msg")->valuestring,
                           "quote \" backslash \\ newline \n tab \t ctrl \x01 end");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(objs[1], "level")->valuestring, "warn");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(objs[2], "msg")->valuestring,
                           "UTF-8: caf\xc3\xa9 \xe2\x9c\x93");
    cJSON *a = objs[3];
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(a, "msg")->valuestring, "POST /api/v1/jobs/a/run");
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(a, "route")->valuestring, "/api/v1/jobs/{name}/run");
    CU_ASSERT_EQUAL(cJSON_GetObjectItem(a, "status")->valueint, 201);
    CU_ASSERT_DOUBLE_EQUAL(cJSON_GetObjectItem(a, "duration_ms")->valuedouble, 1.25, 1e-9);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(a, "token")->valuestring, "ci \"x\"");
    /* the long message is cut at 2,048 bytes, still a valid line */
    size_t len = strlen(cJSON_GetObjectItem(objs[4], "msg")->valuestring);
    CU_ASSERT_TRUE(len > 2000 && len < 2048);
  }
  for (int i = 0; i < 8; i++) cJSON_Delete(objs[i]);
  free(out);
}

static void write_text_line(void) {
  pgd_log_field_t f[] = {{"route", "/api/v1/jobs", 0},
                         {"status", NULL, 200},
                         {"token", "two words", 0}};
  pgd_log_fields(PGD_LOG_INFO, "access", f, 3, "GET %s", "/api/v1/jobs");
}

static void test_text_fields(void) {
  char *out = capture(write_text_line);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, " INFO  [access] GET /api/v1/jobs route=/api/v1/jobs "
                                     "status=200 token=\"two words\"\n"));
  free(out);
}

static void test_format_parse(void) {
  CU_ASSERT_EQUAL(pgd_log_format_parse("json"), PGD_LOG_FORMAT_JSON);
  CU_ASSERT_EQUAL(pgd_log_format_parse("TEXT"), PGD_LOG_FORMAT_TEXT);
  CU_ASSERT_EQUAL(pgd_log_format_parse("xml"), -1);
  CU_ASSERT_EQUAL(pgd_log_format_parse(NULL), -1);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("common_log", NULL, NULL);
  CU_add_test(s, "json lines parse as JSON, fields included", test_json_lines_parse);
  CU_add_test(s, "text lines show fields as key=value", test_text_fields);
  CU_add_test(s, "log formats parse", test_format_parse);
  return pgd_test_run();
}
