/* Pagoda — unit tests of the CLI's address lists (cli/client_addrs.h), the
 * ZooKeeper candidates' order (ha/zk_lookup.h) and the daemon's install
 * lookup (cli/daemon_paths.h). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "cli/client_addrs.h"
#include "cli/daemon_paths.h"
#include "common/log.h"
#include "ha/zk_lookup.h"
#include "pgd_test.h"

static void test_list(void) {
  pgd_cli_addrs_t a;
  char err[256];
  CU_ASSERT_EQUAL(pgd_cli_addrs_parse("http://m1:7080, http://m2:7080,,http://m3:7080/", &a, err,
                                      sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(a.n, 3);
  CU_ASSERT_STRING_EQUAL(a.urls[0], "http://m1:7080");
  CU_ASSERT_STRING_EQUAL(a.urls[1], "http://m2:7080");
  CU_ASSERT_STRING_EQUAL(a.urls[2], "http://m3:7080/");
  CU_ASSERT_STRING_EQUAL(pgd_cli_addrs_current(&a), "http://m1:7080");
  /* Round the list once from where a request started. */
  a.cur = 1;
  CU_ASSERT_EQUAL(pgd_cli_addrs_advance(&a, 1), 1);
  CU_ASSERT_STRING_EQUAL(pgd_cli_addrs_current(&a), "http://m3:7080/");
  CU_ASSERT_EQUAL(pgd_cli_addrs_advance(&a, 1), 1);
  CU_ASSERT_STRING_EQUAL(pgd_cli_addrs_current(&a), "http://m1:7080");
  CU_ASSERT_EQUAL(pgd_cli_addrs_advance(&a, 1), 0); /* back where it started */
  pgd_cli_addrs_free(&a);
  CU_ASSERT_EQUAL(a.n, 0);

  CU_ASSERT_EQUAL(pgd_cli_addrs_parse("http://only:1", &a, err, sizeof err), 0);
  CU_ASSERT_EQUAL(a.n, 1);
  CU_ASSERT_EQUAL(pgd_cli_addrs_advance(&a, 0), 0);
  pgd_cli_addrs_free(&a);

  CU_ASSERT_EQUAL(pgd_cli_addrs_parse(" , ,", &a, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "no API address"));
  CU_ASSERT_EQUAL(a.n, 0);
  pgd_cli_addrs_free(&a);
}

static void test_zk_malformed(void) {
  pgd_cli_addrs_t a;
  char err[256];
  const char *bad[] = {"zk://h:2181", "zk:///c", "zk://h:2181/", "zk://h:2181/a/b"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CU_ASSERT_EQUAL(pgd_cli_addrs_parse(bad[i], &a, err, sizeof err), -EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "zk://HOST:PORT"));
    pgd_cli_addrs_free(&a);
  }
}

/* No ZooKeeper on a closed port: a timeout within its limit, one sentence. */
static void test_zk_unreachable(void) {
  cJSON *out = (cJSON *)1;
  char err[256];
  int rc = pgd_zk_lookup_masters("127.0.0.1:1", "c", 300, &out, err, sizeof err);
  CU_ASSERT_EQUAL(rc, -ETIMEDOUT);
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "no answer from ZooKeeper at 127.0.0.1:1"));
}

static void test_candidate_order(void) {
  const char *names[] = {"m-00000000000000aa-0000000010", "not-a-candidate",
                         "m-00000000000000bb-0000000002", "m-00000000000000cc-0000000003"};
  qsort(names, 4, sizeof names[0], pgd_zk_candidate_cmp);
  CU_ASSERT_STRING_EQUAL(names[0], "m-00000000000000bb-0000000002");
  CU_ASSERT_STRING_EQUAL(names[1], "m-00000000000000cc-0000000003");
  CU_ASSERT_STRING_EQUAL(names[2], "m-00000000000000aa-0000000010");
  CU_ASSERT_STRING_EQUAL(names[3], "not-a-candidate");
}

/* The lookup beside the executable (this test binary in build/tests). */
static void test_install_dir(void) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  CU_ASSERT_FATAL(n > 0);
  exe[n] = 0;
  *strrchr(exe, '/') = 0;
  char *parent = realpath(exe, NULL);
  *strrchr(parent, '/') = 0; /* the build directory */
  char *found = pgd_daemon_install_dir(PGD_PATH_PLUGINS, "..", 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(found);
  CU_ASSERT_STRING_EQUAL(found, parent);
  free(found);
  /* nothing beside, nothing installed relative to it: the compiled-in
   * absolute place only when asked for */
  found = pgd_daemon_install_dir(PGD_PATH_STATE, "no-such-dir-here", 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(found);
  CU_ASSERT_EQUAL(found[0], '/');
  free(found);
  free(parent);
}

int main(void) {
  pgd_log_set_level(PGD_LOG_ERROR);
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("cli_addrs", NULL, NULL);
  CU_add_test(s, "address lists", test_list);
  CU_add_test(s, "malformed zk:// addresses", test_zk_malformed);
  CU_add_test(s, "unreachable ZooKeeper", test_zk_unreachable);
  CU_add_test(s, "candidates in election order", test_candidate_order);
  CU_add_test(s, "install lookup beside the executable", test_install_dir);
  return pgd_test_run();
}
