/* Unit tests: tables, cells and messages of the CLI (core/cli/client_table.c,
 * client_usage.c). Output goes to memory streams. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "cli/client_table.h"
#include "cli/client_usage.h"

typedef struct {
  char *buf;
  size_t len;
  FILE *f;
} mem_t;

static FILE *mem_open(mem_t *m) {
  memset(m, 0, sizeof(*m));
  m->f = open_memstream(&m->buf, &m->len);
  return m->f;
}

/* Closes the stream; m->buf is then the NUL-terminated text (free it). */
static char *mem_close(mem_t *m) {
  fclose(m->f);
  return m->buf;
}

static void test_table_basic(void) {
  const char *h[] = {"ID", "NAME", "X"};
  pgd_cli_table_t *t = pgd_cli_table_new(3, h);
  CU_ASSERT_PTR_NOT_NULL_FATAL(t);
  const char *r1[] = {"1", "alpha", "x"};
  const char *r2[] = {"1234", NULL, ""};
  const char *r3[] = {"7", "new\nline\ttab", "ü"};
  CU_ASSERT_EQUAL(pgd_cli_table_add_row(t, r1), 0);
  CU_ASSERT_EQUAL(pgd_cli_table_add_row(t, r2), 0);
  CU_ASSERT_EQUAL(pgd_cli_table_add_row(t, r3), 0);
  CU_ASSERT_EQUAL(pgd_cli_table_rows(t), 3);
  mem_t m;
  CU_ASSERT_EQUAL(pgd_cli_table_print(t, mem_open(&m)), 0);
  char *s = mem_close(&m);
  CU_ASSERT_STRING_EQUAL(s,
                         "ID    NAME          X\n"
                         "1     alpha         x\n"
                         "1234  -             -\n"
                         "7     new line tab  ü\n");
  free(s);
  pgd_cli_table_free(t);
  pgd_cli_table_free(NULL);
  CU_ASSERT_PTR_NULL(pgd_cli_table_new(0, h));
  CU_ASSERT_PTR_NULL(pgd_cli_table_new(2, NULL));
  CU_ASSERT_EQUAL(pgd_cli_table_add_row(NULL, r1), -EINVAL);
  CU_ASSERT_EQUAL(pgd_cli_table_print(NULL, stdout), -EINVAL);
}

static void test_table_many_rows(void) {
  const char *h[] = {"N"};
  pgd_cli_table_t *t = pgd_cli_table_new(1, h);
  char num[16];
  const char *row[] = {num};
  for (int i = 0; i < 1000; i++) {
    snprintf(num, sizeof(num), "%d", i);
    CU_ASSERT_EQUAL(pgd_cli_table_add_row(t, row), 0);
  }
  CU_ASSERT_EQUAL(pgd_cli_table_rows(t), 1000);
  mem_t m;
  CU_ASSERT_EQUAL(pgd_cli_table_print(t, mem_open(&m)), 0);
  char *s = mem_close(&m);
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "\n999\n"));
  CU_ASSERT_EQUAL(strncmp(s, "N\n0\n1\n", 6), 0);
  free(s);
  pgd_cli_table_free(t);
}

static void test_cells(void) {
  cJSON *o = cJSON_Parse(
      "{\"s\":\"text\",\"i\":42,\"neg\":-3,\"f\":1.5,\"b\":true,\"n\":null,\"e\":\"\","
      "\"arr\":[\"a\",1,false,{\"name\":\"nm\"},{\"zz\":1},null],\"ea\":[],"
      "\"obj\":{\"k\":[1]},\"named\":{\"type\":\"shell\"},\"long\":\"0123456789abcdef\","
      "\"utf\":\"ééééé\"}");
  CU_ASSERT_PTR_NOT_NULL_FATAL(o);
  char b[64];
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "s", b, sizeof(b)), "text");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "i", b, sizeof(b)), "42");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "neg", b, sizeof(b)), "-3");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "f", b, sizeof(b)), "1.5");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "b", b, sizeof(b)), "true");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "n", b, sizeof(b)), "-");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "e", b, sizeof(b)), "-");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "missing", b, sizeof(b)), "-");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "arr", b, sizeof(b)), "a,1,false,nm");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "ea", b, sizeof(b)), "-");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "obj", b, sizeof(b)), "{\"k\":[1]}");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "named", b, sizeof(b)), "shell");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(NULL, "s", b, sizeof(b)), "-");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, NULL, b, sizeof(b)), "-");
  /* Truncation keeps the buffer bounded and marks the cut. */
  char small[10];
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "long", small, sizeof(small)), "012345...");
  /* "é" is two bytes: the cut never splits one. */
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "utf", small, sizeof(small)), "ééé...");
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "utf", small, 9), "éé...");
  char tiny[2];
  CU_ASSERT_STRING_EQUAL(pgd_cli_cell(o, "long", tiny, sizeof(tiny)), "-");
  cJSON_Delete(o);
}

static void test_time_cells(void) {
  cJSON *o = cJSON_Parse(
      "{\"us\":1795305600123456,\"ms\":1795305600123,\"s\":1795305600,\"str\":\"2026-11-22\","
      "\"zero\":0,\"neg\":-5,\"huge\":1e300,\"bool\":true}");
  char b[64];
  CU_ASSERT_STRING_EQUAL(pgd_cli_time_cell(o, "us", b, sizeof(b)), "2026-11-22T00:00:00Z");
  CU_ASSERT_STRING_EQUAL(pgd_cli_time_cell(o, "ms", b, sizeof(b)), "2026-11-22T00:00:00Z");
  CU_ASSERT_STRING_EQUAL(pgd_cli_time_cell(o, "s", b, sizeof(b)), "2026-11-22T00:00:00Z");
  CU_ASSERT_STRING_EQUAL(pgd_cli_time_cell(o, "str", b, sizeof(b)), "2026-11-22");
  CU_ASSERT_STRING_EQUAL(pgd_cli_time_cell(o, "zero", b, sizeof(b)), "-");
  CU_ASSERT_STRING_EQUAL(pgd_cli_time_cell(o, "neg", b, sizeof(b)), "-");
  CU_ASSERT_STRING_EQUAL(pgd_cli_time_cell(o, "huge", b, sizeof(b)), "-");
  CU_ASSERT_STRING_EQUAL(pgd_cli_time_cell(o, "bool", b, sizeof(b)), "-");
  CU_ASSERT_STRING_EQUAL(pgd_cli_time_cell(o, "missing", b, sizeof(b)), "-");
  cJSON_Delete(o);
}

/* Parses json, runs printer into memory, returns the text (owned) and rc. */
static char *render(int (*printer)(const cJSON *, FILE *), const char *json, int *rc) {
  cJSON *j = cJSON_Parse(json);
  mem_t m;
  *rc = printer(j, mem_open(&m));
  cJSON_Delete(j);
  return mem_close(&m);
}

static void test_jobs_table(void) {
  int rc;
  char *s = render(pgd_cli_print_jobs,
                   "{\"jobs\":[{\"name\":\"hello\",\"type\":\"shell\",\"timeout\":60,"
                   "\"updated_at\":1795305600000000},{\"name\":\"bare\"},42,null,"
                   "{\"name\":\"odd\",\"type\":7,\"timeout\":null,\"updated\":\"now\"}]}",
                   &rc);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_STRING_EQUAL(s,
                         "NAME   TYPE   TIMEOUT  UPDATED\n"
                         "hello  shell  60       2026-11-22T00:00:00Z\n"
                         "bare   -      -        -\n"
                         "-      -      -        -\n"
                         "-      -      -        -\n"
                         "odd    7      -        now\n");
  free(s);
  s = render(pgd_cli_print_jobs, "{\"jobs\":[]}", &rc);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_STRING_EQUAL(s, "NAME  TYPE  TIMEOUT  UPDATED\n");
  free(s);
  s = render(pgd_cli_print_jobs, "{\"jobs\":{}}", &rc);
  CU_ASSERT_EQUAL(rc, -EPROTO);
  CU_ASSERT_STRING_EQUAL(s, "");
  free(s);
  s = render(pgd_cli_print_jobs, "[1]", &rc);
  CU_ASSERT_EQUAL(rc, -EPROTO);
  free(s);
  s = render(pgd_cli_print_jobs, "not json", &rc);
  CU_ASSERT_EQUAL(rc, -EPROTO);
  free(s);
}

static void test_executions_table(void) {
  int rc;
  char *s = render(pgd_cli_print_executions,
                   "{\"executions\":[{\"id\":12,\"job\":\"etl\",\"state\":\"failed\",\"attempt\":2,"
                   "\"worker_id\":\"w1\",\"exit_code\":3,\"submitted_at\":1795305600},"
                   "{\"id\":13,\"job\":\"etl\",\"state\":\"pending\",\"worker_id\":null}]}",
                   &rc);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_STRING_EQUAL(s,
                         "ID  JOB  STATE    ATTEMPT  WORKER  EXIT  SUBMITTED\n"
                         "12  etl  failed   2        w1      3     2026-11-22T00:00:00Z\n"
                         "13  etl  pending  -        -       -     -\n");
  free(s);
}

static void test_workers_table(void) {
  int rc;
  char *s = render(pgd_cli_print_workers,
                   "{\"workers\":[{\"id\":\"w1\",\"host\":\"h1\",\"state\":\"alive\",\"slots\":4,"
                   "\"running\":1,\"slots_used\":3,\"labels\":[\"etl\"],\"load\":{\"load1\":0.5},"
                   "\"types\":[\"shell\",\"lua\"],\"last_heartbeat\":1795305600000},"
                   "{\"id\":\"w2\",\"slots\":2,\"running\":[{\"id\":1},{\"id\":2}]},"
                   "{\"id\":\"w3\",\"running\":0},{}]}",
                   &rc);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_STRING_EQUAL(s,
                         "ID  HOST  STATE  SLOTS  LABELS  LOAD  TYPES      LAST-HEARTBEAT\n"
                         "w1  h1    alive  3/4    etl     0.50  shell,lua  2026-11-22T00:00:00Z\n"
                         "w2  -     -      2/2    -       -     -          -\n"
                         "w3  -     -      0/-    -       -     -          -\n"
                         "-   -     -      -      -       -     -          -\n");
  free(s);
}

static void test_plugins_table(void) {
  int rc;
  char *s = render(pgd_cli_print_plugins,
                   "{\"plugins\":[{\"type\":\"shell\",\"version\":\"1.2\",\"file\":\"/p/shell.so\","
                   "\"status\":\"loaded\",\"reason\":null},"
                   "{\"file\":\"/p/bad.so\",\"status\":\"refused\",\"reason\":\"ABI 2.0, host 1.0\"}]}",
                   &rc);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_STRING_EQUAL(s,
                         "TYPE   VERSION  STATUS   FILE/REASON\n"
                         "shell  1.2      loaded   /p/shell.so\n"
                         "-      -        refused  ABI 2.0, host 1.0\n");
  free(s);
}

static void test_error_message(void) {
  char b[64];
  const char *j = "{\"error\":\"no job named x\"}";
  CU_ASSERT_STRING_EQUAL(pgd_cli_error_message(j, strlen(j), b, sizeof(b)), "no job named x");
  j = "{\"error\":{\"message\":\"nested\"}}";
  CU_ASSERT_STRING_EQUAL(pgd_cli_error_message(j, strlen(j), b, sizeof(b)), "nested");
  j = "{\"message\":\"plain\"}";
  CU_ASSERT_STRING_EQUAL(pgd_cli_error_message(j, strlen(j), b, sizeof(b)), "plain");
  j = "{\"error\":\"two\\nlines\"}";
  CU_ASSERT_STRING_EQUAL(pgd_cli_error_message(j, strlen(j), b, sizeof(b)), "two lines");
  j = "\n  Bad Gateway  \r\n<html>";
  CU_ASSERT_STRING_EQUAL(pgd_cli_error_message(j, strlen(j), b, sizeof(b)), "Bad Gateway");
  j = "{\"other\":1}";
  CU_ASSERT_STRING_EQUAL(pgd_cli_error_message(j, strlen(j), b, sizeof(b)), "request failed");
  CU_ASSERT_STRING_EQUAL(pgd_cli_error_message(NULL, 0, b, sizeof(b)), "request failed");
  /* Not NUL-terminated: only body_len bytes are read. */
  char raw[4] = {'a', 'b', 'c', 'd'};
  CU_ASSERT_STRING_EQUAL(pgd_cli_error_message(raw, 3, b, sizeof(b)), "abc");
  char small[5];
  j = "{\"error\":\"a long message\"}";
  CU_ASSERT_STRING_EQUAL(pgd_cli_error_message(j, strlen(j), small, sizeof(small)), "a lo");
}

static void test_final_states(void) {
  CU_ASSERT_TRUE(pgd_cli_state_is_final("succeeded"));
  CU_ASSERT_TRUE(pgd_cli_state_is_final("failed"));
  CU_ASSERT_TRUE(pgd_cli_state_is_final("killed"));
  CU_ASSERT_TRUE(pgd_cli_state_is_final("timed_out"));
  CU_ASSERT_TRUE(pgd_cli_state_is_final("lost"));
  CU_ASSERT_FALSE(pgd_cli_state_is_final("running"));
  CU_ASSERT_FALSE(pgd_cli_state_is_final("pending"));
  CU_ASSERT_FALSE(pgd_cli_state_is_final("dispatched"));
  CU_ASSERT_FALSE(pgd_cli_state_is_final(NULL));
}

static void test_usage(void) {
  mem_t m;
  CU_ASSERT_EQUAL(pgd_cli_usage(mem_open(&m), NULL), 0);
  char *s = mem_close(&m);
  static const char *must[] = {"job create", "job run", "--wait", "exec logs", "--follow",
                               "worker drain", "plugin list", "--addr", "PAGODA_ADDR", "--version"};
  for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
    CU_ASSERT_PTR_NOT_NULL(strstr(s, must[i]));
  free(s);
  CU_ASSERT_EQUAL(pgd_cli_usage(mem_open(&m), "exec"), 0);
  s = mem_close(&m);
  CU_ASSERT_PTR_NOT_NULL(strstr(s, "exec kill"));
  CU_ASSERT_PTR_NULL(strstr(s, "job create"));
  free(s);
  CU_ASSERT_EQUAL(pgd_cli_usage(mem_open(&m), "bogus"), -ENOENT);
  free(mem_close(&m));
  CU_ASSERT_TRUE(pgd_cli_usage_has_topic("worker"));
  CU_ASSERT_FALSE(pgd_cli_usage_has_topic("bogus"));
  CU_ASSERT_FALSE(pgd_cli_usage_has_topic(NULL));
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("cli_table", NULL, NULL);
  CU_add_test(s, "table basic", test_table_basic);
  CU_add_test(s, "table many rows", test_table_many_rows);
  CU_add_test(s, "cells", test_cells);
  CU_add_test(s, "time cells", test_time_cells);
  CU_add_test(s, "jobs table", test_jobs_table);
  CU_add_test(s, "executions table", test_executions_table);
  CU_add_test(s, "workers table", test_workers_table);
  CU_add_test(s, "plugins table", test_plugins_table);
  CU_add_test(s, "error message", test_error_message);
  CU_add_test(s, "final states", test_final_states);
  CU_add_test(s, "usage", test_usage);
  return pgd_test_run();
}
