/* Unit tests: API tokens (core/api/auth.c) — the token format, SHA-256,
 * role and name rules, and the cache of checks in front of the store
 * (hits within the TTL, a store read after it, forget, revoked, expired,
 * unknown, and a failing store read that is not cached). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"

#include "api/auth.h"

/* ---- a fake store: one row per hash ---- */

typedef struct {
  char hash[PGD_AUTH_HASH_LEN + 1];
  pgd_auth_entry_t e;
} fake_row_t;

static fake_row_t rows[4];
static int nrows;
static int lookups;
static int fail_next;

static int fake_lookup(void *ud, const char *hash, pgd_auth_entry_t *out) {
  (void)ud;
  lookups++;
  memset(out, 0, sizeof *out);
  if (fail_next) {
    fail_next = 0;
    return -EIO;
  }
  for (int i = 0; i < nrows; i++)
    if (strcmp(rows[i].hash, hash) == 0) *out = rows[i].e;
  return 0;
}

static void add_row(const char *token, const char *name, pgd_role_t role, int64_t expires_us) {
  fake_row_t *r = &rows[nrows++];
  pgd_auth_hash(token, r->hash);
  memset(&r->e, 0, sizeof r->e);
  r->e.found = true;
  snprintf(r->e.name, sizeof r->e.name, "%s", name);
  r->e.role = role;
  r->e.expires_us = expires_us;
}

static void test_hash_is_sha256_hex(void) {
  char h[PGD_AUTH_HASH_LEN + 1];
  pgd_auth_hash("abc", h);
  CU_ASSERT_STRING_EQUAL(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  pgd_auth_hash("", h);
  CU_ASSERT_STRING_EQUAL(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_new_tokens_are_random_256_bits(void) {
  char a[PGD_AUTH_TOKEN_LEN + 1], b[PGD_AUTH_TOKEN_LEN + 1];
  CU_ASSERT_EQUAL(pgd_auth_token_new(a), 0);
  CU_ASSERT_EQUAL(pgd_auth_token_new(b), 0);
  CU_ASSERT_EQUAL(strlen(a), PGD_AUTH_TOKEN_LEN);
  CU_ASSERT_EQUAL(strncmp(a, "pgd_", 4), 0);
  CU_ASSERT_EQUAL(strspn(a + 4, "0123456789abcdef"), 64u);
  CU_ASSERT_STRING_NOT_EQUAL(a, b);
}

static void test_roles_and_names(void) {
  pgd_role_t r;
  CU_ASSERT_EQUAL(pgd_auth_role_parse("viewer", &r), 0);
  CU_ASSERT_EQUAL(r, PGD_ROLE_VIEWER);
  CU_ASSERT_EQUAL(pgd_auth_role_parse("admin", &r), 0);
  CU_ASSERT_EQUAL(r, PGD_ROLE_ADMIN);
  CU_ASSERT_EQUAL(pgd_auth_role_parse("Admin", &r), -EINVAL);
  CU_ASSERT_EQUAL(pgd_auth_role_parse(NULL, &r), -EINVAL);
  CU_ASSERT_STRING_EQUAL(pgd_auth_role_name(PGD_ROLE_OPERATOR), "operator");
  CU_ASSERT_TRUE(pgd_auth_name_valid("ci-deploy_1.prod"));
  CU_ASSERT_FALSE(pgd_auth_name_valid(""));
  CU_ASSERT_FALSE(pgd_auth_name_valid("a b"));
  CU_ASSERT_FALSE(pgd_auth_name_valid("a/b"));
  char long_name[66];
  memset(long_name, 'x', 65);
  long_name[65] = 0;
  CU_ASSERT_FALSE(pgd_auth_name_valid(long_name));
  long_name[64] = 0;
  CU_ASSERT_TRUE(pgd_auth_name_valid(long_name));
}

static void test_cache(void) {
  nrows = lookups = fail_next = 0;
  add_row("tok-admin", "root", PGD_ROLE_ADMIN, 0);
  add_row("tok-old", "old", PGD_ROLE_VIEWER, 5000000);
  pgd_auth_cache_t *c = pgd_auth_cache_new(500000, fake_lookup, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  pgd_auth_entry_t e;
  int64_t t = 1000000;
  /* a miss reads the store; a hit within the TTL does not */
  CU_ASSERT_EQUAL(pgd_auth_check(c, "tok-admin", t, &e), 0);
  CU_ASSERT_STRING_EQUAL(e.name, "root");
  CU_ASSERT_EQUAL(e.role, PGD_ROLE_ADMIN);
  CU_ASSERT_EQUAL(lookups, 1);
  CU_ASSERT_EQUAL(pgd_auth_check(c, "tok-admin", t + 499999, &e), 0);
  CU_ASSERT_EQUAL(lookups, 1);
  CU_ASSERT_EQUAL(pgd_auth_cache_lookups(c), 1u);
  /* revoked in the store: seen once the entry is older than the TTL */
  rows[0].e.revoked = true;
  CU_ASSERT_EQUAL(pgd_auth_check(c, "tok-admin", t + 499999, &e), 0);
  CU_ASSERT_EQUAL(pgd_auth_check(c, "tok-admin", t + 500000, &e), -EACCES);
  CU_ASSERT_TRUE(e.found && e.revoked);
  CU_ASSERT_EQUAL(lookups, 2);
  /* forget: the next check reads the store at once */
  rows[0].e.revoked = false;
  pgd_auth_cache_forget(c, rows[0].hash);
  CU_ASSERT_EQUAL(pgd_auth_check(c, "tok-admin", t + 500001, &e), 0);
  CU_ASSERT_EQUAL(lookups, 3);
  /* unknown tokens are cached too (a flood of wrong tokens is one read per TTL) */
  CU_ASSERT_EQUAL(pgd_auth_check(c, "nope", t, &e), -EACCES);
  CU_ASSERT_FALSE(e.found);
  CU_ASSERT_EQUAL(pgd_auth_check(c, "nope", t + 1, &e), -EACCES);
  CU_ASSERT_EQUAL(lookups, 4);
  /* expiry is checked on every request, not only on reads */
  CU_ASSERT_EQUAL(pgd_auth_check(c, "tok-old", 4999999, &e), 0);
  CU_ASSERT_EQUAL(pgd_auth_check(c, "tok-old", 5000000, &e), -EACCES);
  CU_ASSERT_TRUE(e.found && !e.revoked);
  /* a failing store read fails closed and is not cached */
  pgd_auth_cache_forget(c, rows[0].hash);
  fail_next = 1;
  CU_ASSERT_EQUAL(pgd_auth_check(c, "tok-admin", t + 600000, &e), -EIO);
  CU_ASSERT_EQUAL(pgd_auth_check(c, "tok-admin", t + 600001, &e), 0);
  /* a clock that went backwards does not trust an entry from the future */
  int before = lookups;
  CU_ASSERT_EQUAL(pgd_auth_check(c, "tok-admin", t, &e), 0);
  CU_ASSERT_EQUAL(lookups, before + 1);
  pgd_auth_cache_free(c);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("api_auth", NULL, NULL);
  CU_add_test(s, "hash is SHA-256 hex", test_hash_is_sha256_hex);
  CU_add_test(s, "new tokens are random 256 bits", test_new_tokens_are_random_256_bits);
  CU_add_test(s, "roles and names", test_roles_and_names);
  CU_add_test(s, "cache", test_cache);
  return pgd_test_run();
}
