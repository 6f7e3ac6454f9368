/* Unit tests: the CLI's Server-Sent Events reader (core/cli/client_events.c):
 * events split across arbitrary chunk boundaries, comments, multi-line
 * data, stopping from the callback. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "cli/client_events.h"

typedef struct {
  char seen[1024]; /* "kind=data;" per event, "#;" per comment block */
  int stop_after;  /* > 0: stop at that event */
  int n;
} rec_t;

static int rec_cb(void *ud, const char *kind, const char *data) {
  rec_t *r = ud;
  size_t o = strlen(r->seen);
  if (!kind) snprintf(r->seen + o, sizeof r->seen - o, "#;");
  else snprintf(r->seen + o, sizeof r->seen - o, "%s=%s;", kind, data);
  r->n++;
  return r->stop_after > 0 && r->n >= r->stop_after ? 7 : 0;
}

static const char STREAM[] =
    ": pagoda events, position 3\n\n"
    "id: 4\nevent: execution\ndata: {\"id\":1}\n\n"
    ": keep-alive\n\n"
    "id: 5\nevent: worker\ndata: a\ndata: b\n\n"
    "id: 6\ndata: plain\n\n";
static const char EXPECTED[] = "#;execution={\"id\":1};#;worker=a\nb;message=plain;";

static void test_whole_and_split(void) {
  size_t len = strlen(STREAM);
  /* Every chunk size from 1 byte to the whole stream gives the same events. */
  for (size_t step = 1; step <= len; step++) {
    rec_t r = {0};
    pgd_cli_sse_t sse;
    pgd_cli_sse_init(&sse, rec_cb, &r);
    for (size_t off = 0; off < len; off += step) {
      size_t n = len - off < step ? len - off : step;
      CU_ASSERT_EQUAL_FATAL(pgd_cli_sse_feed(&sse, STREAM + off, n), 0);
    }
    CU_ASSERT_STRING_EQUAL(r.seen, EXPECTED);
    CU_ASSERT_EQUAL(sse.len, 0);
    pgd_cli_sse_free(&sse);
  }
}

static void test_partial_block_waits(void) {
  rec_t r = {0};
  pgd_cli_sse_t sse;
  pgd_cli_sse_init(&sse, rec_cb, &r);
  CU_ASSERT_EQUAL(pgd_cli_sse_feed(&sse, "event: x\ndata: 1\n", 17), 0);
  CU_ASSERT_EQUAL(r.n, 0); /* no blank line yet */
  CU_ASSERT_EQUAL(pgd_cli_sse_feed(&sse, "\n", 1), 0);
  CU_ASSERT_STRING_EQUAL(r.seen, "x=1;");
  pgd_cli_sse_free(&sse);
}

static void test_callback_stops(void) {
  rec_t r = {.stop_after = 2};
  pgd_cli_sse_t sse;
  pgd_cli_sse_init(&sse, rec_cb, &r);
  CU_ASSERT_EQUAL(pgd_cli_sse_feed(&sse, STREAM, strlen(STREAM)), 7);
  CU_ASSERT_EQUAL(r.n, 2); /* nothing after the stop */
  pgd_cli_sse_free(&sse);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("cli_sse", NULL, NULL);
  CU_add_test(s, "whole and split at every size", test_whole_and_split);
  CU_add_test(s, "a partial block waits for its end", test_partial_block_waits);
  CU_add_test(s, "the callback stops the reader", test_callback_stops);
  return pgd_test_run();
}
