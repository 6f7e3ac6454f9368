/* Pagoda — proofs of the cluster secret for the worker handshake
 * (docs/protocol.md "Handshake", docs/security.md).
 *
 * The secret never crosses the wire. Each connection gets two fresh random
 * nonces, one from each side; each side proves the secret with
 *   proof = HMAC-SHA256(secret, role || 0x00 || mnonce || wnonce || worker id)
 * where role is "pagoda-worker" or "pagoda-master" (so neither proof can be
 * reflected as the other) and the nonces are the raw bytes. On the wire
 * nonces and proofs are lowercase hex (64 characters). Proofs are compared
 * with CRYPTO_memcmp (constant time). Because the master's nonce is new for
 * every connection, a recorded worker proof is worthless on a new one.
 *
 * Thread rules: pure functions (RAND_bytes is thread-safe); any thread.
 * Secrets passed in are borrowed, never logged or kept.
 */
#ifndef PAGODA_NET_AUTH_H
#define PAGODA_NET_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes of a nonce and of a proof, and their hex length (without the NUL). */
#define PGD_AUTH_NONCE_BYTES 32
#define PGD_AUTH_HEX_LEN 64

typedef enum { PGD_AUTH_WORKER, PGD_AUTH_MASTER } pgd_auth_role_t;

/* Writes a fresh random nonce as 64 hex characters + NUL into out (at least
 * PGD_AUTH_HEX_LEN + 1 bytes). Returns 0, or -EIO when the random generator
 * fails (then out is an empty string). */
int pgd_auth_nonce(char *out);

/* Computes the proof of `role` for this connection into out (64 hex + NUL).
 * `secret` ("" allowed: an open cluster still binds both nonces), `mnonce`,
 * `wnonce` (64 hex each) and `worker_id` are borrowed. Returns 0, or -EINVAL
 * when a nonce is not 64 hex characters, -EIO when HMAC fails. */
int pgd_auth_proof(const char *secret, pgd_auth_role_t role, const char *mnonce, const char *wnonce,
                   const char *worker_id, char *out);

/* True when `proof` (untrusted, may be NULL) is the proof `role` must give
 * for this connection; compared in constant time. False for any malformed
 * input. */
bool pgd_auth_verify(const char *secret, pgd_auth_role_t role, const char *mnonce,
                     const char *wnonce, const char *worker_id, const char *proof);

/* True when `id` is a valid worker id: 1 to 64 characters of A-Z a-z 0-9 . _ - */
bool pgd_auth_valid_worker_id(const char *id);

#endif
