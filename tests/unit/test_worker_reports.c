/* Unit tests of the worker's small parts: UTF-8 sanitising of output, the
 * unacknowledged reports ring, the id file and load sampling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "worker/identity.h"
#include "worker/reports.h"
#include "worker/utf8.h"

static char out[1024];

static const char *san(const char *in, size_t len, int final, size_t *consumed) {
  pgd_utf8_sanitize(in, len, final, out, consumed);
  return out;
}

#define R "\xEF\xBF\xBD"

static void test_utf8(void) {
  size_t c;
  CU_ASSERT_STRING_EQUAL(san("plain text\n", 11, 0, &c), "plain text\n");
  CU_ASSERT_EQUAL(c, 11);
  CU_ASSERT_STRING_EQUAL(san("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 14, 0, &c),
                         "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  CU_ASSERT_EQUAL(c, 14);
  /* NUL, lone continuation, overlong, surrogate, > U+10FFFF, 0xFF */
  CU_ASSERT_STRING_EQUAL(san("a\0b", 3, 0, &c), "a" R "b");
  CU_ASSERT_STRING_EQUAL(san("\x80x", 2, 0, &c), R "x");
  CU_ASSERT_STRING_EQUAL(san("\xC0\xAF", 2, 0, &c), R R);
  CU_ASSERT_STRING_EQUAL(san("\xED\xA0\x80", 3, 0, &c), R R R);
  CU_ASSERT_STRING_EQUAL(san("\xF4\x90\x80\x80", 4, 0, &c), R R R R);
  CU_ASSERT_STRING_EQUAL(san("\xFFok", 3, 0, &c), R "ok");
  CU_ASSERT_STRING_EQUAL(san("\xE2\x82x", 3, 0, &c), R R "x"); /* broken in the middle */
  /* an incomplete sequence at the end is held back unless final */
  CU_ASSERT_STRING_EQUAL(san("ab\xE2\x82", 4, 0, &c), "ab");
  CU_ASSERT_EQUAL(c, 2);
  CU_ASSERT_STRING_EQUAL(san("ab\xE2\x82", 4, 1, &c), "ab" R R);
  CU_ASSERT_EQUAL(c, 4);
  CU_ASSERT_STRING_EQUAL(san("\xF0\x9F\x98", 3, 0, &c), "");
  CU_ASSERT_EQUAL(c, 0);
  CU_ASSERT_EQUAL(pgd_utf8_sanitize("", 0, 1, out, &c), 0);
}

static int seen[64], nseen;
static void collect(const pgd_report_t *r, void *ud) {
  seen[nseen++] = (int)cJSON_GetObjectItem(r->body, "seq")->valuedouble;
}

static void test_reports(void) {
  pgd_reports_t q;
  pgd_reports_init(&q);
  for (int i = 1; i <= 100; i++) {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "i", i);
    CU_ASSERT_EQUAL(pgd_reports_add(&q, PGD_MSG_LOG, b), i);
  }
  CU_ASSERT_EQUAL(pgd_reports_pending(&q), 100);
  /* ack out of order, twice, and unknown seqs */
  for (int i = 2; i <= 100; i += 2) CU_ASSERT_EQUAL(pgd_reports_ack(&q, (uint64_t)i), 1);
  CU_ASSERT_EQUAL(pgd_reports_ack(&q, 2), 0);
  CU_ASSERT_EQUAL(pgd_reports_ack(&q, 0), 0);
  CU_ASSERT_EQUAL(pgd_reports_ack(&q, 1000), 0);
  CU_ASSERT_EQUAL(pgd_reports_pending(&q), 50);
  for (int i = 1; i <= 89; i += 2) pgd_reports_ack(&q, (uint64_t)i);
  CU_ASSERT_EQUAL(pgd_reports_pending(&q), 5);
  nseen = 0;
  pgd_reports_foreach(&q, collect, NULL);
  CU_ASSERT_EQUAL(nseen, 5);
  int want[] = {91, 93, 95, 97, 99};
  for (int i = 0; i < 5 && i < nseen; i++) CU_ASSERT_EQUAL(seen[i], want[i]);
  /* wrap the ring after the head moved */
  for (int i = 0; i < 200; i++) {
    int64_t s = pgd_reports_add(&q, PGD_MSG_STATE, cJSON_CreateObject());
    CU_ASSERT_EQUAL(s, 101 + i);
    if (i % 3 == 0) pgd_reports_ack(&q, (uint64_t)s);
  }
  nseen = 0;
  for (int i = 91; i <= 99; i += 2) pgd_reports_ack(&q, (uint64_t)i);
  CU_ASSERT_EQUAL(pgd_reports_pending(&q), 133);
  pgd_reports_free(&q); /* frees what is left (checked by ASan) */
  CU_ASSERT_EQUAL(pgd_reports_pending(&q), 0);
}

static void test_identity(void) {
  char dir[] = "/tmp/pgd-ident-XXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  char id[PGD_WORKER_ID_MAX + 1], id2[PGD_WORKER_ID_MAX + 1], err[256];
  CU_ASSERT_EQUAL(pgd_worker_identity_load(dir, id, sizeof id, err, sizeof err), 0);
  CU_ASSERT(pgd_worker_id_valid(id));
  CU_ASSERT_EQUAL(pgd_worker_identity_load(dir, id2, sizeof id2, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(id, id2);
  char file[128];
  snprintf(file, sizeof file, "%s/worker.id", dir);
  FILE *f = fopen(file, "w");
  fputs("  node-7.a_b\n\n", f);
  fclose(f);
  CU_ASSERT_EQUAL(pgd_worker_identity_load(dir, id, sizeof id, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(id, "node-7.a_b");
  f = fopen(file, "w");
  fputs("bad id\n", f);
  fclose(f);
  CU_ASSERT_EQUAL(pgd_worker_identity_load(dir, id, sizeof id, err, sizeof err), -22);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "worker.id"));
  unlink(file);
  rmdir(dir);
  CU_ASSERT_FALSE(pgd_worker_id_valid(""));
  CU_ASSERT_FALSE(pgd_worker_id_valid(NULL));
  CU_ASSERT_FALSE(pgd_worker_id_valid("a/b"));

  double l1;
  long mem;
  pgd_worker_load_sample(&l1, &mem);
  CU_ASSERT(l1 >= 0);
  CU_ASSERT(mem > 0);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("worker_reports", NULL, NULL);
  CU_add_test(s, "utf8 sanitising", test_utf8);
  CU_add_test(s, "reports ring", test_reports);
  CU_add_test(s, "identity and load", test_identity);
  return pgd_test_run();
}
