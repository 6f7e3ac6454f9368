/* Unit tests of core/cli/daemon_secret: reading the cluster secret from a
 * file (first line, newline and CRLF dropped; empty, unreadable, NUL and
 * oversized files refused naming the file, never the content) and
 * scrubbing --secret values from argv in place. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "cli/daemon_secret.h"
#include "common/log.h"

static char dir[256];

static const char *write_file(const char *name, const void *data, size_t n, mode_t mode) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fwrite(data, 1, n, f);
  fclose(f);
  chmod(path, mode);
  return path;
}

static void expect_secret(const char *name, const char *content, const char *want) {
  char err[512], *s = NULL;
  const char *p = write_file(name, content, strlen(content), 0600);
  CU_ASSERT_EQUAL(pgd_secret_read_file(p, &s, err, sizeof err), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  CU_ASSERT_STRING_EQUAL(s, want);
  pgd_secret_free(s);
}

static void test_read_file(void) {
  expect_secret("plain", "s3cret", "s3cret");
  expect_secret("newline", "s3cret\n", "s3cret");
  expect_secret("crlf", "s3cret\r\n", "s3cret");
  expect_secret("two-lines", "first\nsecond\n", "first");
  expect_secret("spaces", "  with spaces  \n", "  with spaces  ");
  /* readable by others: used (with a WARN) */
  char err[512], *s = NULL;
  const char *p = write_file("open", "abc\n", 4, 0644);
  CU_ASSERT_EQUAL(pgd_secret_read_file(p, &s, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(s, "abc");
  pgd_secret_free(s);
}

static void expect_refused(const char *path, const char *word, const char *content) {
  char err[512], *s = (char *)1;
  int rc = pgd_secret_read_file(path, &s, err, sizeof err);
  CU_ASSERT(rc < 0);
  CU_ASSERT_PTR_NULL(s);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, word));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
  if (content && *content) CU_ASSERT_PTR_NULL(strstr(err, content)); /* never the secret */
}

static void test_refusals(void) {
  expect_refused(write_file("empty", "", 0, 0600), "empty", NULL);
  expect_refused(write_file("only-newline", "\n", 1, 0600), "empty", NULL);
  expect_refused(write_file("nul", "ab\0cd", 5, 0600), "NUL", NULL);
  static char big[5000];
  memset(big, 'k', sizeof big);
  expect_refused(write_file("big", big, sizeof big, 0600), "larger", NULL);
  char missing[600];
  snprintf(missing, sizeof missing, "%s/no-such-file", dir);
  expect_refused(missing, "cannot read", NULL);
}

static void test_scrub_argv(void) {
  char a0[] = "pagoda", a1[] = "worker", a2[] = "--secret", a3[] = "hunter2", a4[] = "--id",
       a5[] = "w-1", a6[] = "--secret";
  char *argv[] = {a0, a1, a2, a3, a4, a5, a6, NULL};
  CU_ASSERT_EQUAL(pgd_secret_scrub_argv(7, argv), 1); /* a trailing --secret has no value */
  CU_ASSERT_STRING_EQUAL(argv[3], "*******");
  CU_ASSERT_STRING_EQUAL(argv[5], "w-1");
  CU_ASSERT_STRING_EQUAL(argv[2], "--secret");
  CU_ASSERT_EQUAL(pgd_secret_scrub_argv(2, argv), 0);
}

static int suite_init(void) {
  pgd_log_set_level(PGD_LOG_ERROR);
  snprintf(dir, sizeof dir, "%s/pgd-secret-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  return mkdtemp(dir) ? 0 : 1;
}

static int suite_clean(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : 1;
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("cli_secret", suite_init, suite_clean);
  CU_add_test(s, "secret file", test_read_file);
  CU_add_test(s, "bad secret files", test_refusals);
  CU_add_test(s, "--secret scrubbed from argv", test_scrub_argv);
  return pgd_test_run();
}
