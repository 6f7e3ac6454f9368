/* Pagoda benchmark — the cost of one token check on the API's hot path
 * (core/api/auth.h): pgd_auth_check on a cache hit (one SHA-256 of the
 * token and a table probe), and on a miss with a store lookup stubbed out
 * (the SHA-256 and the bookkeeping; the store read itself is a keyed
 * SQLite/PostgreSQL read, measured by bench_store_backends). Prints ns per
 * check. docs/benchmarks.md "API tokens".
 *
 * Usage: build/bench/bench_auth_check [N]   (default 2,000,000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/auth.h"

static char g_hash[PGD_AUTH_HASH_LEN + 1];

static int lookup(void *ud, const char *hash, pgd_auth_entry_t *out) {
  (void)ud;
  memset(out, 0, sizeof *out);
  out->found = strcmp(hash, g_hash) == 0;
  snprintf(out->name, sizeof out->name, "bench");
  out->role = PGD_ROLE_ADMIN;
  return 0;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 2000000;
  if (n <= 0) n = 2000000;
  char token[PGD_AUTH_TOKEN_LEN + 1];
  if (pgd_auth_token_new(token) < 0) return 1;
  pgd_auth_hash(token, g_hash);
  pgd_auth_entry_t e;
  /* hits: a TTL that never ends within the run */
  pgd_auth_cache_t *c = pgd_auth_cache_new(INT64_MAX / 2, lookup, NULL);
  int64_t t = 1;
  int bad = 0;
  double t0 = now_s();
  for (long i = 0; i < n; i++) bad += pgd_auth_check(c, token, t, &e) != 0;
  double hit_ns = (now_s() - t0) * 1e9 / (double)n;
  /* misses: a TTL of 0 reads the (stub) store every time */
  pgd_auth_cache_t *m = pgd_auth_cache_new(0, lookup, NULL);
  t0 = now_s();
  for (long i = 0; i < n; i++) bad += pgd_auth_check(m, token, t + i, &e) != 0;
  double miss_ns = (now_s() - t0) * 1e9 / (double)n;
  printf("token checks: %ld each; cache hit %.0f ns/check, miss with a stub store %.0f ns/check "
         "(store lookups: %llu)%s\n",
         n, hit_ns, miss_ns, (unsigned long long)pgd_auth_cache_lookups(m),
         bad ? "  -- SOME CHECKS FAILED" : "");
  pgd_auth_cache_free(c);
  pgd_auth_cache_free(m);
  return bad ? 1 : 0;
}
