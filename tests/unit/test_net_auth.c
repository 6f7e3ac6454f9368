/* Unit tests of core/net/auth: the HMAC proofs of the worker handshake
 * (docs/protocol.md "Handshake"): known answers (computed independently
 * with Python's hmac module), both roles, replay and reflection refused,
 * malformed input refused, the comparison done by CRYPTO_memcmp, nonces
 * fresh, worker ids validated. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "net/auth.h"

#define MN "0000000000000000000000000000000000000000000000000000000000000000"
#define WN "1111111111111111111111111111111111111111111111111111111111111111"

/* CRYPTO_memcmp, interposed: this executable's definition wins over
 * libcrypto's, counts the calls and forwards to the real one. */
static int memcmp_calls;
static size_t memcmp_last_len;
int CRYPTO_memcmp(const void *a, const void *b, size_t len) {
  static int (*real)(const void *, const void *, size_t);
  if (!real) real = (int (*)(const void *, const void *, size_t))dlsym(RTLD_NEXT, "CRYPTO_memcmp");
  memcmp_calls++;
  memcmp_last_len = len;
  return real(a, b, len);
}

static void test_known_answers(void) {
  char out[PGD_AUTH_HEX_LEN + 1];
  CU_ASSERT_EQUAL(pgd_auth_proof("s3cret", PGD_AUTH_WORKER, MN, WN, "w-1", out), 0);
  CU_ASSERT_STRING_EQUAL(out, "13b7c848624eef647382d2133af295802a14499d4c142314f89c9ffb75825d9b");
  CU_ASSERT_EQUAL(pgd_auth_proof("s3cret", PGD_AUTH_MASTER, MN, WN, "w-1", out), 0);
  CU_ASSERT_STRING_EQUAL(out, "72bf0a800d03e750001368c7ae70210a4feb704970746e3500b959a4f692199a");
  CU_ASSERT_EQUAL(pgd_auth_proof("", PGD_AUTH_WORKER, MN, WN, "w-1", out), 0);
  CU_ASSERT_STRING_EQUAL(out, "26f13e63660be0629f2e96a1e1302434577a6ace8ec5de8bc08aece56441df7c");
  /* upper-case hex nonces are the same bytes */
  char lo[PGD_AUTH_HEX_LEN + 1], up[PGD_AUTH_HEX_LEN + 1], hexl[65], hexu[65];
  for (int i = 0; i < 64; i++) hexl[i] = "0123456789abcdef"[i % 16], hexu[i] = "0123456789ABCDEF"[i % 16];
  hexl[64] = hexu[64] = 0;
  CU_ASSERT_EQUAL(pgd_auth_proof("s3cret", PGD_AUTH_WORKER, hexl, WN, "w-1", lo), 0);
  CU_ASSERT_EQUAL(pgd_auth_proof("s3cret", PGD_AUTH_WORKER, hexu, WN, "w-1", up), 0);
  CU_ASSERT_STRING_EQUAL(lo, up);
}

static void test_verify_and_constant_time(void) {
  char p[PGD_AUTH_HEX_LEN + 1];
  CU_ASSERT_EQUAL_FATAL(pgd_auth_proof("s3cret", PGD_AUTH_WORKER, MN, WN, "w-1", p), 0);
  memcmp_calls = 0;
  CU_ASSERT_TRUE(pgd_auth_verify("s3cret", PGD_AUTH_WORKER, MN, WN, "w-1", p));
  CU_ASSERT_EQUAL(memcmp_calls, 1); /* the comparison is CRYPTO_memcmp's */
  CU_ASSERT_EQUAL(memcmp_last_len, 32);
  memcmp_calls = 0;
  CU_ASSERT_FALSE(pgd_auth_verify("wrong", PGD_AUTH_WORKER, MN, WN, "w-1", p));
  CU_ASSERT_EQUAL(memcmp_calls, 1);
  /* a different worker id, or the proof reflected as the other role */
  CU_ASSERT_FALSE(pgd_auth_verify("s3cret", PGD_AUTH_WORKER, MN, WN, "w-2", p));
  CU_ASSERT_FALSE(pgd_auth_verify("s3cret", PGD_AUTH_MASTER, MN, WN, "w-1", p));
  /* one flipped digit */
  char q[PGD_AUTH_HEX_LEN + 1];
  memcpy(q, p, sizeof q);
  q[10] = q[10] == '0' ? '1' : '0';
  CU_ASSERT_FALSE(pgd_auth_verify("s3cret", PGD_AUTH_WORKER, MN, WN, "w-1", q));
  /* malformed proofs and nonces */
  CU_ASSERT_FALSE(pgd_auth_verify("s3cret", PGD_AUTH_WORKER, MN, WN, "w-1", NULL));
  CU_ASSERT_FALSE(pgd_auth_verify("s3cret", PGD_AUTH_WORKER, MN, WN, "w-1", ""));
  CU_ASSERT_FALSE(pgd_auth_verify("s3cret", PGD_AUTH_WORKER, MN, WN, "w-1", "abcd"));
  q[0] = 'g';
  CU_ASSERT_FALSE(pgd_auth_verify("s3cret", PGD_AUTH_WORKER, MN, WN, "w-1", q));
  char longer[PGD_AUTH_HEX_LEN + 3];
  snprintf(longer, sizeof longer, "%s00", p);
  CU_ASSERT_FALSE(pgd_auth_verify("s3cret", PGD_AUTH_WORKER, MN, WN, "w-1", longer));
  char out[PGD_AUTH_HEX_LEN + 1];
  CU_ASSERT_EQUAL(pgd_auth_proof("s3cret", PGD_AUTH_WORKER, "00", WN, "w-1", out), -EINVAL);
  CU_ASSERT_EQUAL(pgd_auth_proof("s3cret", PGD_AUTH_WORKER, MN, NULL, "w-1", out), -EINVAL);
  CU_ASSERT_FALSE(pgd_auth_verify("s3cret", PGD_AUTH_WORKER, "zz", WN, "w-1", p));
}

/* A recorded hello + auth replayed on a new connection: the master's nonce
 * is fresh, so the old proof does not verify. */
static void test_replay_fails(void) {
  char m1[PGD_AUTH_HEX_LEN + 1], m2[PGD_AUTH_HEX_LEN + 1], w1[PGD_AUTH_HEX_LEN + 1];
  CU_ASSERT_EQUAL(pgd_auth_nonce(m1), 0);
  CU_ASSERT_EQUAL(pgd_auth_nonce(m2), 0);
  CU_ASSERT_EQUAL(pgd_auth_nonce(w1), 0);
  CU_ASSERT_EQUAL(strlen(m1), PGD_AUTH_HEX_LEN);
  CU_ASSERT_STRING_NOT_EQUAL(m1, m2);
  char proof[PGD_AUTH_HEX_LEN + 1];
  CU_ASSERT_EQUAL(pgd_auth_proof("s3cret", PGD_AUTH_WORKER, m1, w1, "w-1", proof), 0);
  CU_ASSERT_TRUE(pgd_auth_verify("s3cret", PGD_AUTH_WORKER, m1, w1, "w-1", proof));
  CU_ASSERT_FALSE(pgd_auth_verify("s3cret", PGD_AUTH_WORKER, m2, w1, "w-1", proof));
  /* many nonces, none repeated */
  char seen[64][PGD_AUTH_HEX_LEN + 1];
  for (int i = 0; i < 64; i++) {
    CU_ASSERT_EQUAL(pgd_auth_nonce(seen[i]), 0);
    for (int j = 0; j < i; j++) CU_ASSERT_STRING_NOT_EQUAL(seen[i], seen[j]);
  }
}

static void test_worker_ids(void) {
  CU_ASSERT_TRUE(pgd_auth_valid_worker_id("w-1"));
  CU_ASSERT_TRUE(pgd_auth_valid_worker_id("A.b_c-9"));
  char max[65];
  memset(max, 'x', 64);
  max[64] = 0;
  CU_ASSERT_TRUE(pgd_auth_valid_worker_id(max));
  char over[66];
  memset(over, 'x', 65);
  over[65] = 0;
  CU_ASSERT_FALSE(pgd_auth_valid_worker_id(over));
  CU_ASSERT_FALSE(pgd_auth_valid_worker_id(""));
  CU_ASSERT_FALSE(pgd_auth_valid_worker_id(NULL));
  CU_ASSERT_FALSE(pgd_auth_valid_worker_id("a b"));
  CU_ASSERT_FALSE(pgd_auth_valid_worker_id("a/b"));
  CU_ASSERT_FALSE(pgd_auth_valid_worker_id("w\n1"));
  CU_ASSERT_FALSE(pgd_auth_valid_worker_id("\xc3\xa9t\xc3\xa9"));
  CU_ASSERT_FALSE(pgd_auth_valid_worker_id("<script>"));
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("net_auth", NULL, NULL);
  CU_add_test(s, "known answers", test_known_answers);
  CU_add_test(s, "verify, in constant time", test_verify_and_constant_time);
  CU_add_test(s, "a replayed proof fails", test_replay_fails);
  CU_add_test(s, "worker ids", test_worker_ids);
  return pgd_test_run();
}
