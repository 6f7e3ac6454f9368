/* Unit tests of core/net/tls and its use by net/conn: two engines joined by
 * copying bytes (memory BIOs) complete a handshake and carry data both
 * ways; an untrusted certificate, a wrong host name, a missing client
 * certificate under mutual TLS and a plain-text peer fail cleanly with a
 * reason; bad files are refused naming the file; and over real sockets a
 * TLS listener serves a TLS client, refuses an untrusted one and keeps
 * serving. Certificates are made at test time with the `openssl` command
 * in a temporary directory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <uv.h>

#include "pgd_test.h"
#include "common/clock.h"
#include "common/log.h"
#include "net/conn.h"
#include "net/tls.h"

static char dir[256];

static const char *path(const char *name) {
  static char buf[4][512];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
  return buf[i];
}

/* CA, a server certificate for IP 127.0.0.1 and localhost, a client
 * certificate, and a second CA ("evil") with its own server certificate. */
static int make_certs(void) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd,
           "set -e; cd %s; k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';"
           "for ca in ca evil; do"
           "  openssl req -x509 $k -keyout $ca.key -out $ca.crt -days 2 -subj \"/CN=test $ca\";"
           "  openssl req $k -keyout $ca-server.key -out $ca-server.csr -subj /CN=pagoda-master;"
           "  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext;"
           "  openssl x509 -req -in $ca-server.csr -CA $ca.crt -CAkey $ca.key -CAcreateserial"
           "    -out $ca-server.crt -days 2 -extfile server.ext;"
           "done;"
           "openssl req $k -keyout client.key -out client.csr -subj /CN=w-1;"
           "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
           "  -out client.crt -days 2 >/dev/null 2>&1",
           dir);
  char full[4200];
  snprintf(full, sizeof full, "(%s) >/dev/null 2>&1", cmd);
  return system(full) == 0 ? 0 : -1;
}

static int suite_init(void) {
  pgd_log_set_level(PGD_LOG_ERROR);
  snprintf(dir, sizeof dir, "%s/pgd-tls-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(dir)) return 1;
  if (make_certs() < 0) {
    fprintf(stderr, "the openssl command could not make the test certificates in %s\n", dir);
    return 1;
  }
  return 0;
}

static int suite_clean(void) {
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : 1;
}

/* ---- engines joined in memory ---- */

/* Moves the output of a into b's input; returns the bytes moved. */
static size_t shuttle(pgd_tls_t *a, pgd_tls_t *b) {
  char *buf;
  size_t n = pgd_tls_take(a, &buf);
  if (n) CU_ASSERT_EQUAL(pgd_tls_feed(b, buf, n), 0);
  free(buf);
  return n;
}

/* Runs both handshakes to the end; returns 1 when both completed, 0 when
 * one failed (its rc in *rc_client / *rc_server). */
static int handshake(pgd_tls_t *cl, pgd_tls_t *sv, int *rc_client, int *rc_server) {
  int rc = 0, rs = 0;
  for (int round = 0; round < 20; round++) {
    rc = pgd_tls_handshake(cl);
    size_t moved = shuttle(cl, sv);
    rs = pgd_tls_handshake(sv);
    moved += shuttle(sv, cl);
    if (rc < 0 || rs < 0) break;
    if (rc == 1 && rs == 1 && moved == 0) break;
  }
  if (rc >= 0) rc = pgd_tls_handshake(cl);
  *rc_client = rc;
  *rc_server = rs;
  return rc == 1 && rs == 1;
}

static pgd_tls_ctx_t *server_ctx(const char *prefix, const char *client_ca) {
  char cert[64], key[64], err[512];
  snprintf(cert, sizeof cert, "%s-server.crt", prefix);
  snprintf(key, sizeof key, "%s-server.key", prefix);
  pgd_tls_ctx_t *c = NULL;
  int rc = pgd_tls_server_ctx_new(path(cert), path(key), client_ca ? path(client_ca) : NULL, &c,
                                  err, sizeof err);
  if (rc < 0) fprintf(stderr, "server ctx: %s\n", err);
  CU_ASSERT_EQUAL(rc, 0);
  return c;
}

static pgd_tls_ctx_t *client_ctx(const char *ca, int with_cert) {
  char err[512];
  pgd_tls_ctx_t *c = NULL;
  int rc = pgd_tls_client_ctx_new(path(ca), with_cert ? path("client.crt") : NULL,
                                  with_cert ? path("client.key") : NULL, &c, err, sizeof err);
  if (rc < 0) fprintf(stderr, "client ctx: %s\n", err);
  CU_ASSERT_EQUAL(rc, 0);
  return c;
}

static void test_memory_round_trip(void) {
  pgd_tls_ctx_t *sc = server_ctx("ca", NULL), *cc = client_ctx("ca.crt", 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cc);
  pgd_tls_t *sv = pgd_tls_new(sc, true, NULL), *cl = pgd_tls_new(cc, false, "127.0.0.1");
  pgd_tls_ctx_free(sc); /* the engines keep their own references */
  pgd_tls_ctx_free(cc);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sv);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
  CU_ASSERT_EQUAL(pgd_tls_write(cl, "x", 1), -EAGAIN); /* not before the handshake */
  int rc, rs;
  CU_ASSERT_TRUE(handshake(cl, sv, &rc, &rs));
  /* both ways, a small message and one larger than a TLS record */
  CU_ASSERT_EQUAL(pgd_tls_write(cl, "ping", 4), 0);
  shuttle(cl, sv);
  char buf[100000];
  CU_ASSERT_EQUAL(pgd_tls_read(sv, buf, sizeof buf), 4);
  CU_ASSERT_EQUAL(memcmp(buf, "ping", 4), 0);
  CU_ASSERT_EQUAL(pgd_tls_read(sv, buf, sizeof buf), 0); /* nothing more now */
  static char big[70000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 7);
  CU_ASSERT_EQUAL(pgd_tls_write(sv, big, sizeof big), 0);
  char *wire;
  size_t n = pgd_tls_take(sv, &wire);
  CU_ASSERT(n > sizeof big);
  CU_ASSERT_PTR_NULL(memmem(wire, n, big + 1000, 64)); /* encrypted on the wire */
  CU_ASSERT_EQUAL(pgd_tls_feed(cl, wire, n), 0);
  free(wire);
  size_t got = 0;
  long r;
  while ((r = pgd_tls_read(cl, buf + got, sizeof buf - got)) > 0) got += (size_t)r;
  CU_ASSERT_EQUAL(got, sizeof big);
  CU_ASSERT_EQUAL(memcmp(buf, big, sizeof big), 0);
  /* close_notify reads as the end of the session */
  pgd_tls_shutdown(cl);
  shuttle(cl, sv);
  CU_ASSERT_EQUAL(pgd_tls_read(sv, buf, sizeof buf), -ECONNRESET);
  pgd_tls_free(sv);
  pgd_tls_free(cl);
}

static void expect_failure(pgd_tls_ctx_t *sc, pgd_tls_ctx_t *cc, const char *host,
                           int client_fails, const char *word) {
  pgd_tls_t *sv = pgd_tls_new(sc, true, NULL), *cl = pgd_tls_new(cc, false, host);
  CU_ASSERT_PTR_NOT_NULL_FATAL(sv);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cl);
  int rc, rs;
  CU_ASSERT_FALSE(handshake(cl, sv, &rc, &rs));
  pgd_tls_t *failed = client_fails ? cl : sv;
  CU_ASSERT_EQUAL(client_fails ? rc : rs, -EPROTO);
  if (!strstr(pgd_tls_error(failed), word))
    fprintf(stderr, "expected '%s' in '%s'\n", word, pgd_tls_error(failed));
  CU_ASSERT_PTR_NOT_NULL(strstr(pgd_tls_error(failed), word));
  char buf[64];
  CU_ASSERT(pgd_tls_read(cl, buf, sizeof buf) <= 0);
  pgd_tls_free(sv);
  pgd_tls_free(cl);
}

static void test_refusals(void) {
  pgd_tls_ctx_t *sc = server_ctx("ca", NULL), *evil = server_ctx("evil", NULL);
  pgd_tls_ctx_t *cc = client_ctx("ca.crt", 0);
  /* a server whose certificate our CA did not sign */
  expect_failure(evil, cc, "127.0.0.1", 1, "certificate verify failed");
  /* the right CA, but the certificate does not name the host we dialled */
  expect_failure(sc, cc, "10.1.2.3", 1, "certificate verify failed");
  expect_failure(sc, cc, "master.example.com", 1, "certificate verify failed");
  /* ...a name it does carry passes */
  pgd_tls_t *sv = pgd_tls_new(sc, true, NULL), *cl = pgd_tls_new(cc, false, "localhost");
  int rc, rs;
  CU_ASSERT_TRUE(handshake(cl, sv, &rc, &rs));
  pgd_tls_free(sv);
  pgd_tls_free(cl);
  /* mutual TLS: no client certificate -> the server refuses; with one -> ok */
  pgd_tls_ctx_t *msc = server_ctx("ca", "ca.crt"), *mcc = client_ctx("ca.crt", 1);
  expect_failure(msc, cc, "127.0.0.1", 0, "certificate");
  sv = pgd_tls_new(msc, true, NULL);
  cl = pgd_tls_new(mcc, false, "127.0.0.1");
  CU_ASSERT_TRUE(handshake(cl, sv, &rc, &rs));
  pgd_tls_free(sv);
  pgd_tls_free(cl);
  /* a plain-text peer */
  sv = pgd_tls_new(sc, true, NULL);
  static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  CU_ASSERT_EQUAL(pgd_tls_feed(sv, http, sizeof http - 1), 0);
  CU_ASSERT_EQUAL(pgd_tls_handshake(sv), -EPROTO);
  CU_ASSERT(pgd_tls_error(sv)[0] != '\0');
  pgd_tls_free(sv);
  /* a client needs the host to check */
  CU_ASSERT_PTR_NULL(pgd_tls_new(cc, false, NULL));
  pgd_tls_ctx_free(sc);
  pgd_tls_ctx_free(evil);
  pgd_tls_ctx_free(cc);
  pgd_tls_ctx_free(msc);
  pgd_tls_ctx_free(mcc);
}

static void test_bad_files(void) {
  char err[512];
  pgd_tls_ctx_t *c = (pgd_tls_ctx_t *)1;
  CU_ASSERT_EQUAL(pgd_tls_server_ctx_new(path("nope.crt"), path("ca-server.key"), NULL, &c, err,
                                         sizeof err),
                  -EINVAL);
  CU_ASSERT_PTR_NULL(c);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "nope.crt"));
  /* a key that is not the certificate's */
  CU_ASSERT_EQUAL(pgd_tls_server_ctx_new(path("ca-server.crt"), path("evil-server.key"), NULL, &c,
                                         err, sizeof err),
                  -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "evil-server.key"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "mismatch")); /* OpenSSL: "key values mismatch" */
  CU_ASSERT_EQUAL(pgd_tls_server_ctx_new(path("ca-server.crt"), NULL, NULL, &c, err, sizeof err),
                  -EINVAL);
  CU_ASSERT_EQUAL(pgd_tls_client_ctx_new(NULL, NULL, NULL, &c, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "CA"));
  CU_ASSERT_EQUAL(pgd_tls_client_ctx_new(path("ca.crt"), path("client.crt"), NULL, &c, err,
                                         sizeof err),
                  -EINVAL);
  CU_ASSERT_EQUAL(pgd_tls_client_ctx_new(path("missing-ca.crt"), NULL, NULL, &c, err, sizeof err),
                  -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "missing-ca.crt"));
}

/* ---- over sockets: net/conn with a TLS listener ---- */

static uv_loop_t loop;
static int accepted, server_msgs, client_msgs, client_closed, client_reason;

static void sv_on_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  server_msgs++;
  if (t == PGD_MSG_HEARTBEAT) pgd_conn_send(c, PGD_MSG_ACK, NULL); /* echo */
}
static void sv_on_close(pgd_conn_t *c, int reason, void *ud) {}
static void on_accept(pgd_listener_t *l, pgd_conn_t *c, void *ud) {
  static const pgd_conn_cbs_t cbs = {.on_message = sv_on_message, .on_close = sv_on_close};
  accepted++;
  pgd_conn_set_callbacks(c, &cbs, NULL);
}
static void cl_on_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  if (t == PGD_MSG_ACK) client_msgs++;
}
static void cl_on_close(pgd_conn_t *c, int reason, void *ud) {
  client_closed++;
  client_reason = reason;
}

static void tick(uv_timer_t *t) {}
static int run_until(int *counter, int want, int ms) {
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  uv_timer_start(&t, tick, 5, 5);
  uint64_t deadline = pgd_mono_ns() + (uint64_t)ms * 1000000u;
  while (*counter < want && pgd_mono_ns() < deadline) uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  return *counter >= want;
}

static pgd_conn_t *dial(int port, pgd_tls_ctx_t *cc) {
  static const pgd_conn_cbs_t cbs = {.on_message = cl_on_message, .on_close = cl_on_close};
  pgd_conn_t *c = NULL;
  CU_ASSERT_EQUAL_FATAL(pgd_conn_connect(&loop, "127.0.0.1", port, 0, &cbs, NULL, &c), 0);
  CU_ASSERT_EQUAL(pgd_conn_set_tls(c, cc, "127.0.0.1"), 0);
  CU_ASSERT_EQUAL(pgd_conn_is_tls(c), 1);
  cJSON *hb = cJSON_CreateObject();
  cJSON_AddNumberToObject(hb, "n", 1);
  CU_ASSERT_EQUAL(pgd_conn_send(c, PGD_MSG_HEARTBEAT, hb), 0); /* queued until TLS is up */
  cJSON_Delete(hb);
  return c;
}

static void test_conn_over_tls(void) {
  CU_ASSERT_EQUAL_FATAL(uv_loop_init(&loop), 0);
  pgd_tls_ctx_t *sc = server_ctx("ca", NULL), *good = client_ctx("ca.crt", 0),
                *bad = client_ctx("evil.crt", 0);
  pgd_listener_t *l = NULL;
  CU_ASSERT_EQUAL_FATAL(pgd_listener_start(&loop, "127.0.0.1", 0, 0, on_accept, NULL, &l), 0);
  pgd_listener_set_tls(l, sc);
  int port = pgd_listener_port(l);

  /* a client that trusts the master's CA: frames flow both ways */
  pgd_conn_t *c = dial(port, good);
  CU_ASSERT(run_until(&client_msgs, 1, 10000));
  CU_ASSERT_EQUAL(server_msgs, 1);
  pgd_conn_close(c);
  CU_ASSERT(run_until(&client_closed, 1, 10000));

  /* one that does not: refused during the handshake, nothing delivered */
  server_msgs = 0;
  (void)dial(port, bad);
  CU_ASSERT(run_until(&client_closed, 2, 10000));
  CU_ASSERT_EQUAL(client_reason, PGD_FRAME_ETLS);
  CU_ASSERT_EQUAL(server_msgs, 0);

  /* a plain-text client gets nothing either, and the listener still serves */
  static const pgd_conn_cbs_t plain_cbs = {.on_message = cl_on_message, .on_close = cl_on_close};
  pgd_conn_t *p = NULL;
  CU_ASSERT_EQUAL_FATAL(pgd_conn_connect(&loop, "127.0.0.1", port, 0, &plain_cbs, NULL, &p), 0);
  cJSON *hb = cJSON_CreateObject();
  pgd_conn_send(p, PGD_MSG_HEARTBEAT, hb);
  cJSON_Delete(hb);
  CU_ASSERT(run_until(&client_closed, 3, 10000));
  CU_ASSERT_EQUAL(server_msgs, 0);
  client_msgs = 0;
  c = dial(port, good);
  CU_ASSERT(run_until(&client_msgs, 1, 10000));
  pgd_conn_close(c);
  CU_ASSERT(run_until(&client_closed, 4, 10000));
  CU_ASSERT_EQUAL(accepted, 4);

  pgd_listener_close(l);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
  pgd_tls_ctx_free(sc);
  pgd_tls_ctx_free(good);
  pgd_tls_ctx_free(bad);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("net_tls", suite_init, suite_clean);
  CU_add_test(s, "memory BIO round trip", test_memory_round_trip);
  CU_add_test(s, "untrusted, wrong host, mTLS, plain text", test_refusals);
  CU_add_test(s, "bad certificate and key files", test_bad_files);
  CU_add_test(s, "net/conn over TLS", test_conn_over_tls);
  return pgd_test_run();
}
