/* Pagoda API — API tokens (docs/security.md "Tokens and roles"): making a
 * token, its hash, role names, and the cache of token checks.
 *
 * A token is "pgd_" followed by 64 hex digits (256 random bits from
 * OpenSSL's RAND_bytes). It is shown once, at creation; the store keeps
 * only its SHA-256 (hex), as the id of a "token" document (store.h
 * documents): {name, role, expires_us, revoked_us, created_by}, parent =
 * the name, state = "active" or "revoked". Looking a token up is therefore
 * one hash and one keyed read.
 *
 * The cache maps a token's hash to what the store said about it (found or
 * not, name, role, expiry, revoked) for a short time (PGD_AUTH_CACHE_TTL_US),
 * so a request costs one SHA-256 and a table probe. A master that revokes
 * or creates a token forgets that hash at once; another master (a standby
 * reading the shared store) sees the change when its entry expires.
 *
 * Thread rules: the cache is not thread-safe (the API's loop thread only);
 * the other functions are pure or use only their arguments.
 */
#ifndef PAGODA_API_AUTH_H
#define PAGODA_API_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"

#define PGD_AUTH_TOKEN_PREFIX "pgd_"
#define PGD_AUTH_TOKEN_LEN (4 + 64) /* prefix + 32 random bytes in hex */
#define PGD_AUTH_HASH_LEN 64        /* SHA-256 in hex */
#define PGD_AUTH_NAME_MAX 64
/* How long a check is trusted without reading the store again: a token
 * revoked on another master stops working within this time (< 1 s). */
#define PGD_AUTH_CACHE_TTL_US 500000
#define PGD_AUTH_CACHE_SLOTS 1024

/* Writes a new random token (PGD_AUTH_TOKEN_LEN chars + NUL) into out.
 * 0, or -EIO when the random generator fails (out is then ""). */
int pgd_auth_token_new(char out[PGD_AUTH_TOKEN_LEN + 1]);

/* The SHA-256 of `token` (any bytes, NUL-terminated) as 64 lowercase hex
 * digits + NUL. */
void pgd_auth_hash(const char *token, char out[PGD_AUTH_HASH_LEN + 1]);

/* "viewer", "operator", "admin". */
const char *pgd_auth_role_name(pgd_role_t role);
/* The role named `s`: 0 with *out, or -EINVAL. */
int pgd_auth_role_parse(const char *s, pgd_role_t *out);

/* A token name: 1-64 of A-Z a-z 0-9 . _ - */
bool pgd_auth_name_valid(const char *name);

/* What the store says about one token hash (a copy). */
typedef struct pgd_auth_entry {
  bool found;                          /* a token with this hash exists */
  char name[PGD_AUTH_NAME_MAX + 1];
  pgd_role_t role;
  int64_t expires_us;                  /* 0 = never */
  bool revoked;
} pgd_auth_entry_t;

/* Reads the token whose hash is `hash` (from the store): fills *out
 * (found = false when there is none). Returns 0, or a negative code when
 * the store cannot be read (the check then fails closed). */
typedef int (*pgd_auth_lookup_fn)(void *ud, const char *hash, pgd_auth_entry_t *out);

typedef struct pgd_auth_cache pgd_auth_cache_t;

/* A cache in front of `lookup` (called with `ud`), entries trusted for
 * ttl_us. NULL when out of memory. */
pgd_auth_cache_t *pgd_auth_cache_new(int64_t ttl_us, pgd_auth_lookup_fn lookup, void *ud);
void pgd_auth_cache_free(pgd_auth_cache_t *c);

/* Checks `token` at time now_us: 0 with *out when it exists, is not
 * revoked and has not expired; -EACCES otherwise (*out still says what was
 * found, e.g. out->revoked), -EIO when the store could not be read.
 * Reads the store only on a miss or an entry older than the TTL. */
int pgd_auth_check(pgd_auth_cache_t *c, const char *token, int64_t now_us, pgd_auth_entry_t *out);

/* The same check for a token known by its hash (pgd_auth_hash), as a
 * console session keeps it (api_session.c): the token itself is not kept. */
int pgd_auth_check_hash(pgd_auth_cache_t *c, const char *hash, int64_t now_us,
                        pgd_auth_entry_t *out);

/* Forgets the entry of `hash` (a token created or revoked here). */
void pgd_auth_cache_forget(pgd_auth_cache_t *c, const char *hash);

/* Store reads since creation (for tests and the benchmark). */
uint64_t pgd_auth_cache_lookups(const pgd_auth_cache_t *c);

#endif
