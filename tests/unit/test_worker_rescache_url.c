/* Unit tests of the worker's resource cache address (core/worker/resources.h):
 * the master announces "host:port" for HTTP and "https://host:port" for
 * HTTPS; a wildcard host is replaced by the host the worker reaches the
 * master's RPC on. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <uv.h>

#include "pgd_test.h"
#include "worker/resources.h"

static void test_master_url(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  char tmpl[] = "/tmp/pgd-rescache-url-XXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpl));
  pgd_rescache_t *c = NULL;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(pgd_rescache_new(&loop, tmpl, &c, err, sizeof err), 0);

  pgd_rescache_set_master(c, "10.0.0.5:7080", "master-host");
  CU_ASSERT_STRING_EQUAL(pgd_rescache_master_url(c), "http://10.0.0.5:7080");
  pgd_rescache_set_master(c, "https://master-host:7443", "ignored");
  CU_ASSERT_STRING_EQUAL(pgd_rescache_master_url(c), "https://master-host:7443");
  pgd_rescache_set_master(c, "https://0.0.0.0:7443", "master-host");
  CU_ASSERT_STRING_EQUAL(pgd_rescache_master_url(c), "https://master-host:7443");
  pgd_rescache_set_master(c, "http://[::1]:7080", NULL);
  CU_ASSERT_STRING_EQUAL(pgd_rescache_master_url(c), "http://[::1]:7080");
  pgd_rescache_set_master(c, "https://::1:7080", NULL);
  CU_ASSERT_STRING_EQUAL(pgd_rescache_master_url(c), "https://[::1]:7080");
  pgd_rescache_set_master(c, "https://", NULL); /* no port: forgotten */
  CU_ASSERT_PTR_NULL(pgd_rescache_master_url(c));
  pgd_rescache_set_ca(c, "/etc/pagoda/ca.crt");
  pgd_rescache_set_ca(c, NULL);

  pgd_rescache_close(c);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
  rmdir(tmpl);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("worker_rescache_url", NULL, NULL);
  CU_add_test(s, "http and https master addresses", test_master_url);
  return pgd_test_run();
}
