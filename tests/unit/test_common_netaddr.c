/* Unit tests of core/common/netaddr: which listen addresses count as
 * loopback for the daemons' "no plain listener on a reachable address"
 * rule (docs/security.md, "Model"). */
#include <stdbool.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "common/netaddr.h"

static void test_loopback_addresses(void) {
  CU_ASSERT_TRUE(pgd_addr_is_loopback("127.0.0.1"));
  CU_ASSERT_TRUE(pgd_addr_is_loopback("127.0.0.2"));    /* all of 127.0.0.0/8 */
  CU_ASSERT_TRUE(pgd_addr_is_loopback("127.255.255.254"));
  CU_ASSERT_TRUE(pgd_addr_is_loopback("::1"));
  CU_ASSERT_TRUE(pgd_addr_is_loopback("::ffff:127.0.0.1"));
  CU_ASSERT_TRUE(pgd_addr_is_loopback("localhost"));    /* /etc/hosts: 127.0.0.1 and ::1 */
}

static void test_reachable_addresses(void) {
  CU_ASSERT_FALSE(pgd_addr_is_loopback(NULL));          /* all interfaces */
  CU_ASSERT_FALSE(pgd_addr_is_loopback(""));
  CU_ASSERT_FALSE(pgd_addr_is_loopback("0.0.0.0"));
  CU_ASSERT_FALSE(pgd_addr_is_loopback("::"));
  CU_ASSERT_FALSE(pgd_addr_is_loopback("10.0.0.5"));
  CU_ASSERT_FALSE(pgd_addr_is_loopback("128.0.0.1"));
  CU_ASSERT_FALSE(pgd_addr_is_loopback("::ffff:10.0.0.5"));
  CU_ASSERT_FALSE(pgd_addr_is_loopback("fe80::1"));
  /* a name that does not resolve counts as exposed */
  CU_ASSERT_FALSE(pgd_addr_is_loopback("no-such-host.invalid"));
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("common_netaddr", NULL, NULL);
  CU_add_test(s, "127.0.0.0/8, ::1 and localhost are loopback", test_loopback_addresses);
  CU_add_test(s, "wildcards, other addresses and unknown names are not", test_reachable_addresses);
  return pgd_test_run();
}
