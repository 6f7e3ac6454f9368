/* Unit tests of the local transport of core/net/conn (pgd_listener_connect_local):
 * the two ends of a Unix-domain socketpair carrying the framed protocol, on
 * one uv loop, next to a real TCP listener whose on_accept receives the
 * server end. White-box where it must be (net/conn_int.h: the client's
 * descriptor, to check what kind of socket it is and to write raw bytes into
 * the stream). Every test ends with uv_loop_close() == 0 (no handle left). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <uv.h>

#include "pgd_test.h"
#include "pgd_test_loop.h"
#include "net/conn.h"
#include "net/conn_int.h"

#define N_ECHO 5000

typedef struct {
  uv_loop_t loop;
  uv_timer_t guard; /* fails the test instead of hanging */
  int timed_out;
  pgd_listener_t *listener;
  /* server side */
  int accepted;
  int server_msgs;
  int server_closed;
  int server_reason;
  int server_echo;       /* echo every message back */
  int server_push;       /* on accept, send this many messages unasked */
  int server_close_after; /* close the server end after this many messages */
  char server_peer[64];
  pgd_conn_t *server_conn;
  /* client side */
  pgd_conn_t *client;
  int connect_calls;
  int connect_status;
  int connect_before_close; /* on_connect came before on_close */
  int client_msgs;
  int client_closed;
  int client_reason;
  int order_errors;
  int last_type;
  int last_code;
  int close_at; /* the client closes itself after this many messages */
  char client_peer[64];
} ctx_t;

static void ctx_init(ctx_t *x) {
  memset(x, 0, sizeof *x);
  pgd_test_loop_init(&x->loop, &x->guard, &x->timed_out, 30000);
  x->connect_status = 1;
  x->last_type = -1;
}

static void ctx_finish(ctx_t *x) { pgd_test_loop_finish(&x->loop, &x->guard, &x->timed_out); }

static int send_seq(pgd_conn_t *c, int i) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "seq", i);
  cJSON_AddStringToObject(b, "state", "running");
  int rc = pgd_conn_send(c, PGD_MSG_STATE, b);
  cJSON_Delete(b);
  return rc;
}

/* ---- server ------------------------------------------------------------- */

static void srv_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  ctx_t *x = ud;
  x->server_msgs++;
  if (x->server_echo) CU_ASSERT_EQUAL(pgd_conn_send(c, t, msg), 0);
  if (x->server_close_after && x->server_msgs == x->server_close_after) pgd_conn_close(c);
}

static void srv_close(pgd_conn_t *c, int reason, void *ud) {
  ctx_t *x = ud;
  (void)c;
  x->server_closed++;
  x->server_reason = reason;
  x->server_conn = NULL;
}

static void on_accept(pgd_listener_t *l, pgd_conn_t *c, void *ud) {
  ctx_t *x = ud;
  (void)l;
  x->accepted++;
  x->server_conn = c;
  snprintf(x->server_peer, sizeof x->server_peer, "%s", pgd_conn_peer(c));
  pgd_conn_cbs_t cbs = {.on_message = srv_message, .on_close = srv_close};
  pgd_conn_set_callbacks(c, &cbs, x);
  for (int i = 0; i < x->server_push; i++) CU_ASSERT_EQUAL(send_seq(c, i), 0);
}

static void start_listener(ctx_t *x, size_t max_frame) {
  CU_ASSERT_EQUAL_FATAL(
      pgd_listener_start(&x->loop, "127.0.0.1", 0, max_frame, on_accept, x, &x->listener), 0);
}

/* ---- client ------------------------------------------------------------- */

static void cli_connect(pgd_conn_t *c, int status, void *ud) {
  ctx_t *x = ud;
  x->connect_calls++;
  x->connect_status = status;
  if (x->client_closed == 0) x->connect_before_close = 1;
  snprintf(x->client_peer, sizeof x->client_peer, "%s", pgd_conn_peer(c));
  /* the pointer was stored before the callback could run */
  CU_ASSERT_PTR_EQUAL(c, x->client);
}

static void cli_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  ctx_t *x = ud;
  cJSON *seq = cJSON_GetObjectItem(msg, "seq");
  if (cJSON_IsNumber(seq) && seq->valueint != x->client_msgs) x->order_errors++;
  x->client_msgs++;
  x->last_type = (int)t;
  cJSON *code = cJSON_GetObjectItem(msg, "code");
  if (cJSON_IsNumber(code)) x->last_code = code->valueint;
  if (x->close_at && x->client_msgs == x->close_at) pgd_conn_close(c);
}

static void cli_close(pgd_conn_t *c, int reason, void *ud) {
  ctx_t *x = ud;
  (void)c;
  x->client_closed++;
  x->client_reason = reason;
}

static const pgd_conn_cbs_t client_cbs = {
    .on_message = cli_message, .on_close = cli_close, .on_connect = cli_connect};

/* ---- tests -------------------------------------------------------------- */

/* Frames both ways, in order; sent before the connect completes they wait.
 * The stream is a close-on-exec Unix-domain socket, both peers read
 * "local", and the client's close reaches the server as EOF. */
static void test_frames_both_ways(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 0);
  x.server_echo = 1;
  x.close_at = N_ECHO;
  CU_ASSERT_EQUAL_FATAL(pgd_listener_connect_local(x.listener, &client_cbs, &x, &x.client), 0);
  CU_ASSERT_EQUAL(x.accepted, 1);   /* on_accept ran before the call returned */
  CU_ASSERT_EQUAL(x.connect_calls, 0); /* on_connect comes from the loop */
  int fd = -1;
  CU_ASSERT_EQUAL_FATAL(uv_fileno(&x.client->io.handle, &fd), 0);
  struct sockaddr_storage ss;
  socklen_t n = sizeof ss;
  CU_ASSERT_EQUAL(getsockname(fd, (struct sockaddr *)&ss, &n), 0);
  CU_ASSERT_EQUAL(ss.ss_family, AF_UNIX);
  int type = 0;
  n = sizeof type;
  CU_ASSERT_EQUAL(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n), 0);
  CU_ASSERT_EQUAL(type, SOCK_STREAM);
  CU_ASSERT_TRUE(fcntl(fd, F_GETFD) & FD_CLOEXEC); /* no job inherits it */
  int bad = 0;
  for (int i = 0; i < N_ECHO; i++) bad += send_seq(x.client, i) != 0;
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_TRUE(pgd_conn_write_queue_size(x.client) > 0); /* queued until connected */
  pgd_listener_close(x.listener); /* the pair does not need it any more */
  ctx_finish(&x);
  CU_ASSERT_EQUAL(x.connect_calls, 1);
  CU_ASSERT_EQUAL(x.connect_status, 0);
  CU_ASSERT_STRING_EQUAL(x.client_peer, "local");
  CU_ASSERT_STRING_EQUAL(x.server_peer, "local");
  CU_ASSERT_EQUAL(x.server_msgs, N_ECHO);
  CU_ASSERT_EQUAL(x.client_msgs, N_ECHO);
  CU_ASSERT_EQUAL(x.order_errors, 0);
  CU_ASSERT_EQUAL(x.client_closed, 1);
  CU_ASSERT_EQUAL(x.client_reason, 0);
  CU_ASSERT_EQUAL(x.server_closed, 1);
  CU_ASSERT_EQUAL(x.server_reason, UV_EOF);
}

/* The server speaks first (frames queued in on_accept) and then closes:
 * the client reads every frame, then its on_close reports UV_EOF. */
static void test_server_sends_then_closes(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 0);
  x.server_push = 100;
  CU_ASSERT_EQUAL_FATAL(pgd_listener_connect_local(x.listener, &client_cbs, &x, &x.client), 0);
  CU_ASSERT_FATAL(x.server_conn != NULL);
  pgd_conn_close(x.server_conn); /* graceful: what is queued goes first */
  pgd_listener_close(x.listener);
  ctx_finish(&x);
  CU_ASSERT_EQUAL(x.connect_status, 0);
  CU_ASSERT_EQUAL(x.client_msgs, 100);
  CU_ASSERT_EQUAL(x.order_errors, 0);
  CU_ASSERT_EQUAL(x.server_closed, 1);
  CU_ASSERT_EQUAL(x.server_reason, 0);
  CU_ASSERT_EQUAL(x.client_closed, 1);
  CU_ASSERT_EQUAL(x.client_reason, UV_EOF);
}

/* Raw bytes that are no frame (a JSON payload without "type") reach the
 * server end: it answers with an error message naming the code and closes
 * with that code as its reason; the client reads the error, then EOF. */
static void test_malformed_frame_closes(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 0);
  CU_ASSERT_EQUAL_FATAL(pgd_listener_connect_local(x.listener, &client_cbs, &x, &x.client), 0);
  while (x.connect_calls == 0 && !x.timed_out) uv_run(&x.loop, UV_RUN_ONCE);
  int fd = -1;
  CU_ASSERT_EQUAL_FATAL(uv_fileno(&x.client->io.handle, &fd), 0);
  static const char no_type[] = "\x00\x00\x00\x0a{\"a\":\"b\"} ";
  CU_ASSERT_EQUAL(write(fd, no_type, sizeof no_type - 1), (ssize_t)(sizeof no_type - 1));
  while (x.client_closed == 0 && !x.timed_out) uv_run(&x.loop, UV_RUN_ONCE);
  pgd_listener_close(x.listener);
  ctx_finish(&x);
  CU_ASSERT_EQUAL(x.server_msgs, 0);
  CU_ASSERT_EQUAL(x.server_closed, 1);
  CU_ASSERT_EQUAL(x.server_reason, PGD_FRAME_ETYPE);
  CU_ASSERT_EQUAL(x.client_msgs, 1);
  CU_ASSERT_EQUAL(x.last_type, PGD_MSG_ERROR);
  CU_ASSERT_EQUAL(x.last_code, PGD_FRAME_ETYPE);
  CU_ASSERT_EQUAL(x.client_closed, 1);
  CU_ASSERT_EQUAL(x.client_reason, UV_EOF);
}

/* The listener's maximum frame size holds on both ends: a frame above the
 * server's maximum is refused by the sender itself (the pair shares it). */
static void test_max_frame_shared(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 64);
  x.server_close_after = 1;
  CU_ASSERT_EQUAL_FATAL(pgd_listener_connect_local(x.listener, &client_cbs, &x, &x.client), 0);
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "data", "0123456789012345678901234567890123456789012345678901234567890123");
  CU_ASSERT_EQUAL(pgd_conn_send(x.client, PGD_MSG_LOG, b), PGD_FRAME_ETOOBIG);
  cJSON_Delete(b);
  CU_ASSERT_EQUAL(pgd_conn_send(x.client, PGD_MSG_ACK, NULL), 0); /* still usable */
  pgd_listener_close(x.listener);
  ctx_finish(&x);
  CU_ASSERT_EQUAL(x.server_msgs, 1);
  CU_ASSERT_EQUAL(x.server_reason, 0);
  CU_ASSERT_EQUAL(x.client_reason, UV_EOF);
}

/* Closed before its connect completed: on_connect(UV_ECANCELED), then
 * on_close(0); the server end sees EOF. */
static void test_close_before_connect(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 0);
  CU_ASSERT_EQUAL_FATAL(pgd_listener_connect_local(x.listener, &client_cbs, &x, &x.client), 0);
  CU_ASSERT_EQUAL(send_seq(x.client, 0), 0); /* queued, never sent */
  pgd_conn_close(x.client);
  pgd_conn_close(x.client); /* idempotent */
  pgd_listener_close(x.listener);
  ctx_finish(&x);
  CU_ASSERT_EQUAL(x.connect_calls, 1);
  CU_ASSERT_EQUAL(x.connect_status, UV_ECANCELED);
  CU_ASSERT_EQUAL(x.connect_before_close, 1);
  CU_ASSERT_EQUAL(x.client_closed, 1);
  CU_ASSERT_EQUAL(x.client_reason, 0);
  CU_ASSERT_EQUAL(x.server_msgs, 0);
  CU_ASSERT_EQUAL(x.server_closed, 1);
  CU_ASSERT_EQUAL(x.server_reason, UV_EOF);
}

/* A closing listener refuses, with no callback and nothing left open. */
static void test_refused(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 0);
  pgd_listener_close(x.listener);
  pgd_conn_t *c = (pgd_conn_t *)&x; /* must be reset */
  CU_ASSERT_EQUAL(pgd_listener_connect_local(x.listener, &client_cbs, &x, &c), UV_ECONNREFUSED);
  CU_ASSERT_PTR_NULL(c);
  CU_ASSERT_EQUAL(pgd_listener_connect_local(NULL, &client_cbs, &x, &c), UV_EINVAL);
  ctx_finish(&x);
  CU_ASSERT_EQUAL(x.accepted, 0);
  CU_ASSERT_EQUAL(x.connect_calls, 0);
  CU_ASSERT_EQUAL(x.client_closed, 0);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("net_conn_local", NULL, NULL);
  CU_add_test(s, "frames both ways over a socketpair", test_frames_both_ways);
  CU_add_test(s, "server sends then closes: EOF", test_server_sends_then_closes);
  CU_add_test(s, "malformed frame closes with the error", test_malformed_frame_closes);
  CU_add_test(s, "max frame shared by both ends", test_max_frame_shared);
  CU_add_test(s, "close before connect", test_close_before_connect);
  CU_add_test(s, "refused by a closing listener", test_refused);
  return pgd_test_run();
}
