/* Pagoda — TLS for master <-> worker connections (OpenSSL, memory BIOs).
 *
 * A pgd_tls_ctx_t holds the configuration of one side (certificates, the CA
 * to verify the peer against); a pgd_tls_t is one connection's TLS engine.
 * The engine never touches a socket: ciphertext read from the socket is
 * given to pgd_tls_feed, and the ciphertext it produces (handshake records,
 * encrypted frames, alerts) is taken with pgd_tls_take and written by the
 * caller. net/conn.c puts it between the libuv stream and the frame
 * reader/writer, so the protocol above is the same with or without TLS; the
 * unit tests connect two engines by copying bytes.
 *
 * Policy: TLS 1.2 or later. A client always verifies the server's
 * certificate against its CA and checks that the certificate names the host
 * it connects to (an IP address is matched against IP SANs, a name against
 * DNS SANs). A server with a client CA requires and verifies a client
 * certificate (mutual TLS).
 *
 * Ownership: contexts are reference-counted by OpenSSL: an engine keeps its
 * context alive, so pgd_tls_ctx_free may be called while engines made from
 * it live. Thread rules: a context may be shared by engines on one thread;
 * an engine is used by one thread at a time (the loop's). OpenSSL's error
 * queue is per thread; every call here clears it first.
 */
#ifndef PAGODA_NET_TLS_H
#define PAGODA_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pgd_tls_ctx pgd_tls_ctx_t;
typedef struct pgd_tls pgd_tls_t;

/* Server side: the certificate chain `cert` (PEM, leaf first) and its
 * private key `key` (PEM); `client_ca` (PEM bundle, nullable) turns on
 * mutual TLS. Paths are borrowed. Returns 0 and *out, or -EINVAL with a
 * sentence naming the file and OpenSSL's reason in err. */
int pgd_tls_server_ctx_new(const char *cert, const char *key, const char *client_ca,
                           pgd_tls_ctx_t **out, char *err, size_t errlen);

/* Client side: `ca` (PEM bundle, required) verifies the server; `cert` and
 * `key` (both or neither) are presented when the server asks (mutual TLS).
 * Returns 0 and *out, or -EINVAL with a message in err. */
int pgd_tls_client_ctx_new(const char *ca, const char *cert, const char *key, pgd_tls_ctx_t **out,
                           char *err, size_t errlen);

/* Drops the caller's reference; NULL is ignored. */
void pgd_tls_ctx_free(pgd_tls_ctx_t *ctx);

/* A new engine. `server` selects the side; a client checks that the
 * server's certificate names `peer_host` (numeric IPv4/IPv6 or a DNS name;
 * borrowed for the call; required for a client). NULL when out of memory or
 * for a client without peer_host. Free with pgd_tls_free. */
pgd_tls_t *pgd_tls_new(pgd_tls_ctx_t *ctx, bool server, const char *peer_host);
void pgd_tls_free(pgd_tls_t *t);

/* Ciphertext received from the peer. 0 or -ENOMEM. */
int pgd_tls_feed(pgd_tls_t *t, const void *data, size_t n);

/* Advances the handshake with what was fed: 1 when it is complete, 0 when
 * it needs more input (take the output first), -EPROTO when it failed
 * (pgd_tls_error says why: the certificate check, a plain-text peer...). */
int pgd_tls_handshake(pgd_tls_t *t);

/* Plaintext received, after the handshake: > 0 bytes written to buf,
 * 0 when nothing more is available now, -ECONNRESET when the peer sent
 * close_notify, -EPROTO on a TLS error. */
long pgd_tls_read(pgd_tls_t *t, void *buf, size_t cap);

/* Encrypts `n` bytes of plaintext (all of them; the output waits for
 * pgd_tls_take). 0, or -EPROTO / -EAGAIN (handshake not complete). */
int pgd_tls_write(pgd_tls_t *t, const void *data, size_t n);

/* Queues a close_notify alert. */
void pgd_tls_shutdown(pgd_tls_t *t);

/* Moves the ciphertext waiting to be sent into a new buffer (*out, owned by
 * the caller, free()) and returns its length; 0 and *out = NULL when there
 * is none (or out of memory). */
size_t pgd_tls_take(pgd_tls_t *t, char **out);

/* The reason of the last failure, e.g. "certificate verify failed: unable
 * to get local issuer certificate"; "" when none. Borrowed from t. */
const char *pgd_tls_error(const pgd_tls_t *t);

#endif
