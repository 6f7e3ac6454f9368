/* Pagoda — HMAC proofs of the cluster secret (see net/auth.h). */
#include "net/auth.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

static const char hexdigits[] = "0123456789abcdef";

static void to_hex(const unsigned char *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hexdigits[b[i] >> 4];
    out[2 * i + 1] = hexdigits[b[i] & 15];
  }
  out[2 * n] = 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* 64 hex characters → 32 bytes; -EINVAL otherwise. */
static int from_hex(const char *hex, unsigned char *out) {
  if (!hex || strlen(hex) != PGD_AUTH_HEX_LEN) return -EINVAL;
  for (size_t i = 0; i < PGD_AUTH_NONCE_BYTES; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return -EINVAL;
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  return 0;
}

int pgd_auth_nonce(char *out) {
  unsigned char b[PGD_AUTH_NONCE_BYTES];
  out[0] = 0;
  if (RAND_bytes(b, sizeof b) != 1) return -EIO;
  to_hex(b, sizeof b, out);
  return 0;
}

static int proof_bytes(const char *secret, pgd_auth_role_t role, const char *mnonce,
                       const char *wnonce, const char *worker_id, unsigned char *mac) {
  unsigned char mn[PGD_AUTH_NONCE_BYTES], wn[PGD_AUTH_NONCE_BYTES];
  if (from_hex(mnonce, mn) < 0 || from_hex(wnonce, wn) < 0 || !worker_id) return -EINVAL;
  const char *label = role == PGD_AUTH_MASTER ? "pagoda-master" : "pagoda-worker";
  if (!secret) secret = "";
  /* label NUL mnonce wnonce id; ids longer than valid ones are refused. */
  unsigned char msg[16 + 2 * PGD_AUTH_NONCE_BYTES + 256];
  size_t ll = strlen(label) + 1, il = strlen(worker_id);
  if (il > 256) return -EINVAL;
  size_t n = 0;
  memcpy(msg + n, label, ll), n += ll;
  memcpy(msg + n, mn, sizeof mn), n += sizeof mn;
  memcpy(msg + n, wn, sizeof wn), n += sizeof wn;
  memcpy(msg + n, worker_id, il), n += il;
  unsigned int len = 0;
  int ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, n, mac, &len) != NULL &&
           len == PGD_AUTH_NONCE_BYTES;
  return ok ? 0 : -EIO;
}

int pgd_auth_proof(const char *secret, pgd_auth_role_t role, const char *mnonce, const char *wnonce,
                   const char *worker_id, char *out) {
  unsigned char mac[PGD_AUTH_NONCE_BYTES];
  out[0] = 0;
  int rc = proof_bytes(secret, role, mnonce, wnonce, worker_id, mac);
  if (rc == 0) to_hex(mac, sizeof mac, out);
  OPENSSL_cleanse(mac, sizeof mac);
  return rc;
}

bool pgd_auth_verify(const char *secret, pgd_auth_role_t role, const char *mnonce,
                     const char *wnonce, const char *worker_id, const char *proof) {
  unsigned char want[PGD_AUTH_NONCE_BYTES], got[PGD_AUTH_NONCE_BYTES];
  if (from_hex(proof, got) < 0) return false;
  if (proof_bytes(secret, role, mnonce, wnonce, worker_id, want) < 0) return false;
  bool ok = CRYPTO_memcmp(want, got, sizeof want) == 0;
  OPENSSL_cleanse(want, sizeof want);
  return ok;
}

bool pgd_auth_valid_worker_id(const char *id) {
  if (!id) return false;
  size_t n = strlen(id);
  if (n < 1 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}
