/* Pagoda API — tokens: random generation, SHA-256, roles, names, and the
 * direct-mapped cache of checks (auth.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "api/auth.h"

static const char HEX[] = "0123456789abcdef";

static void to_hex(const unsigned char *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = HEX[b[i] >> 4];
    out[2 * i + 1] = HEX[b[i] & 15];
  }
  out[2 * n] = 0;
}

int pgd_auth_token_new(char out[PGD_AUTH_TOKEN_LEN + 1]) {
  unsigned char raw[32];
  out[0] = 0;
  if (RAND_bytes(raw, sizeof raw) != 1) return -EIO;
  memcpy(out, PGD_AUTH_TOKEN_PREFIX, 4);
  to_hex(raw, sizeof raw, out + 4);
  OPENSSL_cleanse(raw, sizeof raw);
  return 0;
}

/* SHA-256 fetched once (kept for the process's life): EVP_sha256() makes
 * OpenSSL 3 look the algorithm up on every digest, most of a check's cost. */
static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;
static void fetch_sha256(void) { g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL); }

static bool sha256(const char *data, size_t len, unsigned char md[32]) {
  pthread_once(&g_sha256_once, fetch_sha256);
  EVP_MD_CTX *ctx = g_sha256 ? EVP_MD_CTX_new() : NULL;
  unsigned int n = 0;
  bool ok = ctx && EVP_DigestInit_ex(ctx, g_sha256, NULL) == 1 &&
            EVP_DigestUpdate(ctx, data, len) == 1 && EVP_DigestFinal_ex(ctx, md, &n) == 1 && n == 32;
  EVP_MD_CTX_free(ctx);
  return ok;
}

void pgd_auth_hash(const char *token, char out[PGD_AUTH_HASH_LEN + 1]) {
  unsigned char md[32];
  if (!sha256(token, strlen(token), md)) {
    /* Cannot happen with a working libcrypto; a hash no token has. */
    memset(out, '-', PGD_AUTH_HASH_LEN);
    out[PGD_AUTH_HASH_LEN] = 0;
    return;
  }
  to_hex(md, 32, out);
}

static const char *const ROLE_NAMES[] = {"viewer", "operator", "admin"};

const char *pgd_auth_role_name(pgd_role_t role) {
  return (unsigned)role < 3 ? ROLE_NAMES[role] : "unknown";
}

int pgd_auth_role_parse(const char *s, pgd_role_t *out) {
  for (int i = 0; s && i < 3; i++)
    if (strcmp(s, ROLE_NAMES[i]) == 0) {
      *out = (pgd_role_t)i;
      return 0;
    }
  return -EINVAL;
}

bool pgd_auth_name_valid(const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > PGD_AUTH_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

/* ---- the cache: PGD_AUTH_CACHE_SLOTS slots indexed by the hash's first
 * hex digits; a collision just replaces the older entry. ---- */

typedef struct {
  char hash[PGD_AUTH_HASH_LEN + 1]; /* "" = empty slot */
  int64_t fetched_us;
  pgd_auth_entry_t entry;
} cache_slot_t;

struct pgd_auth_cache {
  int64_t ttl_us;
  pgd_auth_lookup_fn lookup;
  void *ud;
  uint64_t lookups;
  cache_slot_t slots[PGD_AUTH_CACHE_SLOTS];
};

pgd_auth_cache_t *pgd_auth_cache_new(int64_t ttl_us, pgd_auth_lookup_fn lookup, void *ud) {
  pgd_auth_cache_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->ttl_us = ttl_us;
  c->lookup = lookup;
  c->ud = ud;
  return c;
}

void pgd_auth_cache_free(pgd_auth_cache_t *c) { free(c); }

static cache_slot_t *slot_of(pgd_auth_cache_t *c, const char *hash) {
  unsigned v = (unsigned)strtoul((char[]){hash[0], hash[1], hash[2], hash[3], 0}, NULL, 16);
  return &c->slots[v % PGD_AUTH_CACHE_SLOTS];
}

int pgd_auth_check(pgd_auth_cache_t *c, const char *token, int64_t now_us, pgd_auth_entry_t *out) {
  char hash[PGD_AUTH_HASH_LEN + 1];
  pgd_auth_hash(token ? token : "", hash);
  return pgd_auth_check_hash(c, hash, now_us, out);
}

int pgd_auth_check_hash(pgd_auth_cache_t *c, const char *hash, int64_t now_us,
                        pgd_auth_entry_t *out) {
  memset(out, 0, sizeof *out);
  cache_slot_t *s = slot_of(c, hash);
  bool fresh = s->hash[0] && CRYPTO_memcmp(s->hash, hash, PGD_AUTH_HASH_LEN) == 0 &&
               now_us - s->fetched_us < c->ttl_us && now_us >= s->fetched_us;
  if (!fresh) {
    pgd_auth_entry_t e = {0};
    c->lookups++;
    if (c->lookup(c->ud, hash, &e) < 0) {
      s->hash[0] = 0; /* fail closed, and ask again next time */
      return -EIO;
    }
    memcpy(s->hash, hash, sizeof s->hash);
    s->fetched_us = now_us;
    s->entry = e;
  }
  *out = s->entry;
  if (!out->found || out->revoked || (out->expires_us > 0 && now_us >= out->expires_us))
    return -EACCES;
  return 0;
}

void pgd_auth_cache_forget(pgd_auth_cache_t *c, const char *hash) {
  if (!c || !hash || strlen(hash) < 4) return;
  cache_slot_t *s = slot_of(c, hash);
  if (strcmp(s->hash, hash) == 0) s->hash[0] = 0;
}

uint64_t pgd_auth_cache_lookups(const pgd_auth_cache_t *c) { return c->lookups; }
