/* Pagoda — TLS engines on memory BIOs (see net/tls.h). */
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/err.h"

struct pgd_tls_ctx {
  SSL_CTX *ssl_ctx;
};

struct pgd_tls {
  SSL *ssl;
  BIO *in, *out; /* owned by ssl */
  bool done;
  char error[256];
};

/* OpenSSL's reason for the newest error in this thread's queue. */
static const char *ossl_reason(char *buf, size_t len) {
  unsigned long e = ERR_peek_last_error();
  if (!e) {
    snprintf(buf, len, "unknown OpenSSL error");
    return buf;
  }
  const char *r = ERR_reason_error_string(e);
  snprintf(buf, len, "%s", r ? r : "unknown OpenSSL error");
  return buf;
}

static SSL_CTX *ctx_base(const SSL_METHOD *method) {
  SSL_CTX *c = SSL_CTX_new(method);
  if (!c) return NULL;
  SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
  /* Memory BIOs: one SSL_write takes all its bytes. */
  SSL_CTX_clear_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE);
  return c;
}

static int ctx_fail(SSL_CTX *c, char *err, size_t errlen, const char *what, const char *path) {
  char r[200];
  ossl_reason(r, sizeof r);
  SSL_CTX_free(c);
  ERR_clear_error();
  return pgd_set_err(err, errlen, -EINVAL, "%s %s: %s", what, path ? path : "", r);
}

static int ctx_wrap(SSL_CTX *c, pgd_tls_ctx_t **out, char *err, size_t errlen) {
  pgd_tls_ctx_t *t = calloc(1, sizeof *t);
  if (!t) {
    SSL_CTX_free(c);
    return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  }
  t->ssl_ctx = c;
  *out = t;
  return 0;
}

static int load_pair(SSL_CTX *c, const char *cert, const char *key, char *err, size_t errlen) {
  if (SSL_CTX_use_certificate_chain_file(c, cert) != 1)
    return ctx_fail(c, err, errlen, "cannot load the TLS certificate", cert);
  if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1)
    return ctx_fail(c, err, errlen, "cannot load the TLS private key", key);
  if (SSL_CTX_check_private_key(c) != 1)
    return ctx_fail(c, err, errlen, "the TLS private key does not match the certificate", key);
  return 0;
}

int pgd_tls_server_ctx_new(const char *cert, const char *key, const char *client_ca,
                           pgd_tls_ctx_t **out, char *err, size_t errlen) {
  *out = NULL;
  ERR_clear_error();
  if (!cert || !*cert || !key || !*key)
    return pgd_set_err(err, errlen, -EINVAL, "TLS needs both a certificate and a private key");
  SSL_CTX *c = ctx_base(TLS_server_method());
  if (!c) return pgd_set_err(err, errlen, -ENOMEM, "cannot create a TLS context");
  int rc = load_pair(c, cert, key, err, errlen);
  if (rc < 0) return rc;
  if (client_ca && *client_ca) {
    if (SSL_CTX_load_verify_locations(c, client_ca, NULL) != 1)
      return ctx_fail(c, err, errlen, "cannot load the client CA", client_ca);
    STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca);
    if (names) SSL_CTX_set_client_CA_list(c, names);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
  }
  return ctx_wrap(c, out, err, errlen);
}

int pgd_tls_client_ctx_new(const char *ca, const char *cert, const char *key, pgd_tls_ctx_t **out,
                           char *err, size_t errlen) {
  *out = NULL;
  ERR_clear_error();
  if (!ca || !*ca)
    return pgd_set_err(err, errlen, -EINVAL,
                       "TLS to the master needs a CA file to verify its certificate (tls.ca)");
  bool has_cert = cert && *cert, has_key = key && *key;
  if (has_cert != has_key)
    return pgd_set_err(err, errlen, -EINVAL,
                       "a TLS client certificate needs both tls.cert and tls.key");
  SSL_CTX *c = ctx_base(TLS_client_method());
  if (!c) return pgd_set_err(err, errlen, -ENOMEM, "cannot create a TLS context");
  if (SSL_CTX_load_verify_locations(c, ca, NULL) != 1)
    return ctx_fail(c, err, errlen, "cannot load the CA", ca);
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
  if (has_cert) {
    int rc = load_pair(c, cert, key, err, errlen);
    if (rc < 0) return rc;
  }
  return ctx_wrap(c, out, err, errlen);
}

void pgd_tls_ctx_free(pgd_tls_ctx_t *ctx) {
  if (!ctx) return;
  SSL_CTX_free(ctx->ssl_ctx);
  free(ctx);
}

static bool is_ip(const char *host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

pgd_tls_t *pgd_tls_new(pgd_tls_ctx_t *ctx, bool server, const char *peer_host) {
  if (!ctx || (!server && (!peer_host || !*peer_host))) return NULL;
  ERR_clear_error();
  pgd_tls_t *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->ssl = SSL_new(ctx->ssl_ctx);
  t->in = BIO_new(BIO_s_mem());
  t->out = BIO_new(BIO_s_mem());
  if (!t->ssl || !t->in || !t->out) goto fail;
  SSL_set_bio(t->ssl, t->in, t->out); /* the SSL owns both now */
  if (server) {
    SSL_set_accept_state(t->ssl);
  } else {
    X509_VERIFY_PARAM *vp = SSL_get0_param(t->ssl);
    X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = is_ip(peer_host) ? X509_VERIFY_PARAM_set1_ip_asc(vp, peer_host)
                              : X509_VERIFY_PARAM_set1_host(vp, peer_host, 0) &&
                                    SSL_set_tlsext_host_name(t->ssl, peer_host);
    if (ok != 1) {
      pgd_tls_free(t);
      return NULL;
    }
    SSL_set_connect_state(t->ssl);
  }
  return t;
fail: /* the BIOs are not the SSL's yet */
  BIO_free(t->in);
  BIO_free(t->out);
  SSL_free(t->ssl);
  free(t);
  return NULL;
}

void pgd_tls_free(pgd_tls_t *t) {
  if (!t) return;
  SSL_free(t->ssl);
  free(t);
}

int pgd_tls_feed(pgd_tls_t *t, const void *data, size_t n) {
  while (n > 0) {
    int chunk = n > INT_MAX ? INT_MAX : (int)n;
    int w = BIO_write(t->in, data, chunk);
    if (w <= 0) return -ENOMEM;
    data = (const char *)data + w;
    n -= (size_t)w;
  }
  return 0;
}

/* Records why the engine failed: the certificate check when it failed,
 * else OpenSSL's reason. */
static void set_failure(pgd_tls_t *t) {
  char r[200];
  long v = SSL_get_verify_result(t->ssl);
  if (v != X509_V_OK)
    snprintf(t->error, sizeof t->error, "certificate verify failed: %s",
             X509_verify_cert_error_string(v));
  else
    snprintf(t->error, sizeof t->error, "%s", ossl_reason(r, sizeof r));
  ERR_clear_error();
}

int pgd_tls_handshake(pgd_tls_t *t) {
  if (t->done) return 1;
  ERR_clear_error();
  int r = SSL_do_handshake(t->ssl);
  if (r == 1) {
    t->done = true;
    return 1;
  }
  int e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  set_failure(t);
  return -EPROTO;
}

long pgd_tls_read(pgd_tls_t *t, void *buf, size_t cap) {
  if (!t->done) return 0;
  ERR_clear_error();
  int r = SSL_read(t->ssl, buf, cap > INT_MAX ? INT_MAX : (int)cap);
  if (r > 0) return r;
  int e = SSL_get_error(t->ssl, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return 0;
  if (e == SSL_ERROR_ZERO_RETURN) return -ECONNRESET;
  set_failure(t);
  return -EPROTO;
}

int pgd_tls_write(pgd_tls_t *t, const void *data, size_t n) {
  if (!t->done) return -EAGAIN;
  ERR_clear_error();
  while (n > 0) {
    int chunk = n > INT_MAX ? INT_MAX : (int)n;
    int r = SSL_write(t->ssl, data, chunk);
    if (r <= 0) {
      set_failure(t);
      return -EPROTO;
    }
    data = (const char *)data + r;
    n -= (size_t)r;
  }
  return 0;
}

void pgd_tls_shutdown(pgd_tls_t *t) {
  ERR_clear_error();
  if (t->done) (void)SSL_shutdown(t->ssl);
  ERR_clear_error();
}

size_t pgd_tls_take(pgd_tls_t *t, char **out) {
  *out = NULL;
  size_t n = BIO_ctrl_pending(t->out);
  if (n == 0) return 0;
  char *buf = malloc(n);
  if (!buf) return 0;
  int r = BIO_read(t->out, buf, n > INT_MAX ? INT_MAX : (int)n);
  if (r <= 0) {
    free(buf);
    return 0;
  }
  *out = buf;
  return (size_t)r;
}

const char *pgd_tls_error(const pgd_tls_t *t) { return t->error; }
