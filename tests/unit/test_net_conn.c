/* Unit tests of core/net/conn: a real listener and real clients on
 * 127.0.0.1, all on one uv loop; every test ends with uv_loop_close() == 0
 * (no handle left behind). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <uv.h>

#include "pgd_test.h"
#include "pgd_test_loop.h"
#include "net/conn.h"

#define N_ECHO 10000

/* ---- shared test context ------------------------------------------------ */

typedef struct {
  uv_loop_t loop;
  uv_timer_t guard; /* fails the test instead of hanging */
  int timed_out;
  pgd_listener_t *listener;
  int port;
  /* server side */
  int accepted;
  int server_msgs;
  int server_closed;
  int server_reasons[8];
  int server_close_after; /* close the server conn after this many msgs */
  int server_reply_welcome;
  /* client side */
  pgd_conn_t *client;
  int connect_status;
  int connect_calls;
  int client_msgs;
  int client_closed;
  int client_reason;
  int order_errors;
  int last_type;
  int last_code;
  int close_at; /* client closes itself after this many msgs */
  int close_listener_with_client;
  char client_peer[64];
  char server_peer[64];
  size_t max_queue_seen;
  int data_ok;
  pgd_conn_t *server_conn; /* the last accepted */
} ctx_t;

static void ctx_init(ctx_t *x) {
  memset(x, 0, sizeof *x);
  pgd_test_loop_init(&x->loop, &x->guard, &x->timed_out, 10000);
  x->connect_status = 1;
  x->last_type = -1;
}

static void ctx_finish(ctx_t *x) { pgd_test_loop_finish(&x->loop, &x->guard, &x->timed_out); }

/* ---- server callbacks --------------------------------------------------- */

static void srv_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  ctx_t *x = ud;
  x->server_msgs++;
  if (pgd_conn_get_data(c) != x) x->data_ok = 0;
  if (x->server_reply_welcome && t == PGD_MSG_HELLO) {
    cJSON *w = cJSON_CreateObject();
    cJSON_AddBoolToObject(w, "accepted", 1);
    cJSON_AddNumberToObject(w, "epoch", 1);
    CU_ASSERT_EQUAL(pgd_conn_send(c, PGD_MSG_WELCOME, w), 0);
    cJSON_Delete(w);
  } else if (x->server_close_after == 0) {
    /* echo, same type and body */
    CU_ASSERT_EQUAL(pgd_conn_send(c, t, msg), 0);
  }
  if (x->server_close_after && x->server_msgs == x->server_close_after) {
    pgd_conn_close(c);
    pgd_conn_close(c); /* idempotent */
    CU_ASSERT_EQUAL(pgd_conn_send(c, PGD_MSG_ACK, NULL), UV_EPIPE);
  }
}

static void srv_close(pgd_conn_t *c, int reason, void *ud) {
  ctx_t *x = ud;
  if (x->server_closed < 8) x->server_reasons[x->server_closed] = reason;
  x->server_closed++;
}

static void on_accept(pgd_listener_t *l, pgd_conn_t *c, void *ud) {
  ctx_t *x = ud;
  x->accepted++;
  pgd_conn_cbs_t cbs = {.on_message = srv_message, .on_close = srv_close};
  pgd_conn_set_callbacks(c, &cbs, x);
  pgd_conn_set_data(c, x);
  x->server_conn = c;
  snprintf(x->server_peer, sizeof x->server_peer, "%s", pgd_conn_peer(c));
}

static void start_listener(ctx_t *x, size_t max_frame) {
  int rc = pgd_listener_start(&x->loop, "127.0.0.1", 0, max_frame, on_accept, x, &x->listener);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  x->port = pgd_listener_port(x->listener);
  CU_ASSERT_FATAL(x->port > 0 && x->port < 65536);
}

/* ---- client callbacks --------------------------------------------------- */

static void cli_connect(pgd_conn_t *c, int status, void *ud) {
  ctx_t *x = ud;
  x->connect_calls++;
  x->connect_status = status;
  if (status == 0) snprintf(x->client_peer, sizeof x->client_peer, "%s", pgd_conn_peer(c));
}

static void cli_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  ctx_t *x = ud;
  cJSON *seq = cJSON_GetObjectItem(msg, "seq");
  if (cJSON_IsNumber(seq) && seq->valueint != x->client_msgs) x->order_errors++;
  x->client_msgs++;
  x->last_type = (int)t;
  cJSON *code = cJSON_GetObjectItem(msg, "code");
  if (cJSON_IsNumber(code)) x->last_code = code->valueint;
  size_t q = pgd_conn_write_queue_size(c);
  if (q > x->max_queue_seen) x->max_queue_seen = q;
  if (x->close_at && x->client_msgs == x->close_at) {
    pgd_conn_close(c);
    if (x->close_listener_with_client) pgd_listener_close(x->listener);
  }
}

static void cli_close(pgd_conn_t *c, int reason, void *ud) {
  ctx_t *x = ud;
  x->client_closed++;
  x->client_reason = reason;
}

static const pgd_conn_cbs_t client_cbs = {
    .on_message = cli_message, .on_close = cli_close, .on_connect = cli_connect};

static int send_seq(pgd_conn_t *c, int i) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "seq", i);
  cJSON_AddStringToObject(b, "state", "running");
  cJSON_AddNumberToObject(b, "execution_id", 1000 + i);
  int rc = pgd_conn_send(c, PGD_MSG_STATE, b);
  cJSON_Delete(b);
  return rc;
}

/* ---- tests -------------------------------------------------------------- */

static void echo_connected(pgd_conn_t *c, int status, void *ud) {
  ctx_t *x = ud;
  cli_connect(c, status, ud);
  if (status != 0) return;
  int bad = 0;
  for (int i = 100; i < N_ECHO; i++) bad += send_seq(c, i) != 0;
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_TRUE(pgd_conn_write_queue_size(c) > 0); /* batched behind the first write */
  (void)x;
}

static void test_echo_10000(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 0);
  x.data_ok = 1;
  x.close_at = N_ECHO;
  x.close_listener_with_client = 1;
  pgd_conn_cbs_t cbs = client_cbs;
  cbs.on_connect = echo_connected;
  CU_ASSERT_EQUAL_FATAL(pgd_conn_connect(&x.loop, "127.0.0.1", x.port, 0, &cbs, &x, &x.client), 0);
  /* Frames sent before the connection is up are queued, then flushed. */
  for (int i = 0; i < 100; i++) CU_ASSERT_EQUAL(send_seq(x.client, i), 0);
  CU_ASSERT_TRUE(pgd_conn_write_queue_size(x.client) > 0);
  ctx_finish(&x);

  CU_ASSERT_EQUAL(x.connect_calls, 1);
  CU_ASSERT_EQUAL(x.connect_status, 0);
  CU_ASSERT_EQUAL(x.accepted, 1);
  CU_ASSERT_EQUAL(x.server_msgs, N_ECHO);
  CU_ASSERT_EQUAL(x.client_msgs, N_ECHO);
  CU_ASSERT_EQUAL(x.order_errors, 0);
  CU_ASSERT_EQUAL(x.last_type, PGD_MSG_STATE);
  CU_ASSERT_EQUAL(x.client_closed, 1);
  CU_ASSERT_EQUAL(x.client_reason, 0);
  CU_ASSERT_EQUAL(x.server_closed, 1);
  CU_ASSERT_EQUAL(x.server_reasons[0], UV_EOF);
  CU_ASSERT_TRUE(x.data_ok);
  char want[64];
  snprintf(want, sizeof want, "127.0.0.1:%d", x.port);
  CU_ASSERT_STRING_EQUAL(x.client_peer, want);
  CU_ASSERT_EQUAL(strncmp(x.server_peer, "127.0.0.1:", 10), 0);
  CU_ASSERT_STRING_NOT_EQUAL(x.server_peer, want);
}

/* A raw TCP client that writes fixed bytes and records what comes back. */
typedef struct {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  const char *bytes;
  size_t nbytes;
  char got[4096];
  size_t ngot;
  int eof;
  int closed;
  int no_read; /* never read: the peer's writes pile up */
} raw_t;

static void raw_alloc(uv_handle_t *h, size_t s, uv_buf_t *b) {
  raw_t *r = h->data;
  b->base = r->got + r->ngot;
  b->len = sizeof r->got - r->ngot;
}

static void raw_closed(uv_handle_t *h) { ((raw_t *)h->data)->closed = 1; }

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  raw_t *r = s->data;
  if (n > 0) r->ngot += (size_t)n;
  if (n < 0) {
    r->eof = (n == UV_EOF || n == UV_ECONNRESET);
    uv_close((uv_handle_t *)s, raw_closed);
  }
}

static void raw_written(uv_write_t *w, int status) { (void)status; }

static void raw_connected(uv_connect_t *req, int status) {
  raw_t *r = req->handle->data;
  CU_ASSERT_EQUAL(status, 0);
  if (status) {
    uv_close((uv_handle_t *)&r->tcp, raw_closed);
    return;
  }
  uv_buf_t b = uv_buf_init((char *)r->bytes, (unsigned)r->nbytes);
  CU_ASSERT_EQUAL(uv_write(&r->wreq, (uv_stream_t *)&r->tcp, &b, 1, raw_written), 0);
  if (!r->no_read) uv_read_start((uv_stream_t *)&r->tcp, raw_alloc, raw_read);
}

static void raw_start(ctx_t *x, raw_t *r, const char *bytes, size_t n) {
  memset(r, 0, sizeof *r);
  r->bytes = bytes;
  r->nbytes = n;
  uv_tcp_init(&x->loop, &r->tcp);
  r->tcp.data = r;
  struct sockaddr_in sa;
  uv_ip4_addr("127.0.0.1", x->port, &sa);
  CU_ASSERT_EQUAL(uv_tcp_connect(&r->creq, &r->tcp, (struct sockaddr *)&sa, raw_connected), 0);
}

typedef struct {
  int n, type, code;
} err_seen_t;

static int err_cb(void *ud, pgd_msg_type_t t, cJSON *m) {
  err_seen_t *st = ud;
  st->n++;
  st->type = (int)t;
  cJSON *c = cJSON_GetObjectItem(m, "code");
  cJSON *why = cJSON_GetObjectItem(m, "reason");
  st->code = cJSON_IsNumber(c) && cJSON_IsString(why) ? c->valueint : 0;
  return 0;
}

/* True when the raw client received exactly one "error" message. */
static int find_error_frame(const raw_t *r, int *code) {
  pgd_frame_decoder_t d;
  pgd_frame_decoder_init(&d, 0);
  err_seen_t st = {0, -1, 0};
  int rc = pgd_frame_decoder_feed(&d, r->got, r->ngot, err_cb, &st);
  pgd_frame_decoder_free(&d);
  *code = st.code;
  return rc == 0 && st.n == 1 && st.type == PGD_MSG_ERROR;
}

/* Redirects stderr to a temp file for the duration of a test. */
static int stderr_save = -1;
static FILE *stderr_file;
static void capture_stderr(void) {
  fflush(stderr);
  stderr_file = tmpfile();
  stderr_save = dup(2);
  dup2(fileno(stderr_file), 2);
}
static char *release_stderr(void) {
  fflush(stderr);
  dup2(stderr_save, 2);
  close(stderr_save);
  long n = ftell(stderr_file);
  (void)n;
  fseek(stderr_file, 0, SEEK_END);
  long size = ftell(stderr_file);
  rewind(stderr_file);
  char *text = calloc(1, (size_t)size + 1);
  if (size > 0 && fread(text, 1, (size_t)size, stderr_file) != (size_t)size) text[0] = 0;
  fclose(stderr_file);
  return text;
}

static void test_garbage_then_good(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 0);
  x.server_reply_welcome = 1;

  static const char oversize[] = "\x7f\xff\xff\xff{\"type\":\"hello\"}";
  static const char garbage[] = "\x00\x00\x00\x08not json";
  static const char no_type[] = "\x00\x00\x00\x0a{\"a\":\"b\"} ";
  raw_t r1, r2, r3;
  capture_stderr();
  raw_start(&x, &r1, oversize, sizeof oversize - 1);
  raw_start(&x, &r2, garbage, sizeof garbage - 1);
  raw_start(&x, &r3, no_type, sizeof no_type - 1);
  /* until the server has closed the three */
  while (!(r1.closed && r2.closed && r3.closed && x.server_closed == 3) && !x.timed_out)
    uv_run(&x.loop, UV_RUN_ONCE);
  char *log = release_stderr();

  CU_ASSERT_FALSE(x.timed_out);
  CU_ASSERT_TRUE(r1.closed && r2.closed && r3.closed);
  CU_ASSERT_TRUE(r1.eof && r2.eof && r3.eof);
  CU_ASSERT_EQUAL(x.accepted, 3);
  CU_ASSERT_EQUAL(x.server_closed, 3);
  CU_ASSERT_EQUAL(x.server_msgs, 0);
  int code = 0;
  CU_ASSERT_TRUE(find_error_frame(&r1, &code));
  CU_ASSERT_EQUAL(code, PGD_FRAME_ETOOBIG);
  CU_ASSERT_TRUE(find_error_frame(&r2, &code));
  CU_ASSERT_EQUAL(code, PGD_FRAME_EJSON);
  CU_ASSERT_TRUE(find_error_frame(&r3, &code));
  CU_ASSERT_EQUAL(code, PGD_FRAME_ETYPE);
  int seen[3] = {0, 0, 0};
  for (int i = 0; i < 3; i++) {
    if (x.server_reasons[i] == PGD_FRAME_ETOOBIG) seen[0]++;
    if (x.server_reasons[i] == PGD_FRAME_EJSON) seen[1]++;
    if (x.server_reasons[i] == PGD_FRAME_ETYPE) seen[2]++;
  }
  CU_ASSERT_TRUE(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
  /* The warning names the peer. */
  CU_ASSERT_PTR_NOT_NULL(strstr(log, "malformed frame"));
  CU_ASSERT_PTR_NOT_NULL(strstr(log, "127.0.0.1:"));
  CU_ASSERT_PTR_NOT_NULL(strstr(log, "WARN"));
  free(log);

  /* The listener still accepts a well-behaved client. */
  x.close_at = 1;
  x.close_listener_with_client = 1;
  CU_ASSERT_EQUAL_FATAL(pgd_conn_connect(&x.loop, "127.0.0.1", x.port, 0, &client_cbs, &x, &x.client), 0);
  cJSON *hello = cJSON_CreateObject();
  cJSON_AddNumberToObject(hello, "version", PGD_PROTOCOL_VERSION);
  CU_ASSERT_EQUAL(pgd_conn_send(x.client, PGD_MSG_HELLO, hello), 0);
  cJSON_Delete(hello);
  ctx_finish(&x);
  CU_ASSERT_EQUAL(x.accepted, 4);
  CU_ASSERT_EQUAL(x.server_msgs, 1);
  CU_ASSERT_EQUAL(x.client_msgs, 1);
  CU_ASSERT_EQUAL(x.last_type, PGD_MSG_WELCOME);
  CU_ASSERT_EQUAL(x.client_closed, 1);
  CU_ASSERT_EQUAL(x.client_reason, 0);
  CU_ASSERT_EQUAL(x.server_closed, 4);
  CU_ASSERT_EQUAL(x.server_reasons[3], UV_EOF);
}

/* A pgd client sends a frame above the server's maximum: the server answers
 * with an error message and closes; the client sees both. */
static void test_peer_max_frame(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 64);
  x.close_listener_with_client = 0;
  CU_ASSERT_EQUAL_FATAL(pgd_conn_connect(&x.loop, "127.0.0.1", x.port, 0, &client_cbs, &x, &x.client), 0);
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "data", "0123456789012345678901234567890123456789012345678901234567890123");
  CU_ASSERT_EQUAL(pgd_conn_send(x.client, PGD_MSG_LOG, b), 0);
  cJSON_Delete(b);
  capture_stderr();
  while (x.client_closed == 0 && !x.timed_out) uv_run(&x.loop, UV_RUN_ONCE);
  free(release_stderr());
  pgd_listener_close(x.listener);
  ctx_finish(&x);
  CU_ASSERT_EQUAL(x.client_msgs, 1);
  CU_ASSERT_EQUAL(x.last_type, PGD_MSG_ERROR);
  CU_ASSERT_EQUAL(x.last_code, PGD_FRAME_ETOOBIG);
  CU_ASSERT_EQUAL(x.client_closed, 1);
  CU_ASSERT_EQUAL(x.client_reason, UV_EOF);
  CU_ASSERT_EQUAL(x.server_closed, 1);
  CU_ASSERT_EQUAL(x.server_reasons[0], PGD_FRAME_ETOOBIG);
}

/* The sender refuses a frame above its own maximum. */
static void test_send_too_big(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 0);
  x.close_at = 1;
  x.close_listener_with_client = 1;
  CU_ASSERT_EQUAL_FATAL(pgd_conn_connect(&x.loop, "127.0.0.1", x.port, 32, &client_cbs, &x, &x.client), 0);
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "data", "this body is longer than thirty-two bytes");
  CU_ASSERT_EQUAL(pgd_conn_send(x.client, PGD_MSG_LOG, b), PGD_FRAME_ETOOBIG);
  CU_ASSERT_EQUAL(pgd_conn_send(x.client, PGD_MSG__COUNT, NULL), -EINVAL);
  CU_ASSERT_EQUAL(pgd_conn_send(x.client, PGD_MSG_ACK, NULL), 0); /* still usable */
  cJSON_Delete(b);
  ctx_finish(&x);
  CU_ASSERT_EQUAL(x.server_msgs, 1);
  CU_ASSERT_EQUAL(x.client_msgs, 1);
  CU_ASSERT_EQUAL(x.last_type, PGD_MSG_ACK);
  CU_ASSERT_EQUAL(x.client_reason, 0);
  CU_ASSERT_EQUAL(x.server_reasons[0], UV_EOF);
}

/* Closing inside on_message stops delivery of messages already read. */
static void test_close_in_callback(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 0);
  x.server_close_after = 1;
  CU_ASSERT_EQUAL_FATAL(pgd_conn_connect(&x.loop, "127.0.0.1", x.port, 0, &client_cbs, &x, &x.client), 0);
  for (int i = 0; i < 5; i++) CU_ASSERT_EQUAL(send_seq(x.client, i), 0); /* one write */
  while (x.client_closed == 0 && !x.timed_out) uv_run(&x.loop, UV_RUN_ONCE);
  pgd_listener_close(x.listener);
  ctx_finish(&x);
  CU_ASSERT_EQUAL(x.server_msgs, 1);
  CU_ASSERT_EQUAL(x.server_closed, 1);
  CU_ASSERT_EQUAL(x.server_reasons[0], 0);
  CU_ASSERT_EQUAL(x.client_closed, 1);
  CU_ASSERT_EQUAL(x.client_reason, UV_EOF);
}

static void test_connect_refused_and_cancel(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 0);
  int port = x.port;
  pgd_listener_close(x.listener);
  uv_run(&x.loop, UV_RUN_DEFAULT); /* the port is free again */
  CU_ASSERT_EQUAL_FATAL(pgd_conn_connect(&x.loop, "127.0.0.1", port, 0, &client_cbs, &x, &x.client), 0);
  CU_ASSERT_EQUAL(send_seq(x.client, 0), 0); /* queued, dropped on failure */
  uv_run(&x.loop, UV_RUN_DEFAULT);
  CU_ASSERT_EQUAL(x.connect_calls, 1);
  CU_ASSERT_EQUAL(x.connect_status, UV_ECONNREFUSED);
  CU_ASSERT_EQUAL(x.client_closed, 1);
  CU_ASSERT_EQUAL(x.client_reason, UV_ECONNREFUSED);

  /* Closed before it connects: on_connect(ECANCELED), on_close(0). */
  memset(&x.connect_calls, 0, sizeof x.connect_calls);
  x.client_closed = 0;
  CU_ASSERT_EQUAL_FATAL(pgd_conn_connect(&x.loop, "127.0.0.1", port, 0, &client_cbs, &x, &x.client), 0);
  pgd_conn_close(x.client);
  uv_run(&x.loop, UV_RUN_DEFAULT);
  CU_ASSERT_EQUAL(x.connect_calls, 1);
  CU_ASSERT_EQUAL(x.connect_status, UV_ECANCELED);
  CU_ASSERT_EQUAL(x.client_closed, 1);
  CU_ASSERT_EQUAL(x.client_reason, 0);

  /* Bad arguments: an error and no callback. */
  pgd_conn_t *c = NULL;
  CU_ASSERT_EQUAL(pgd_conn_connect(&x.loop, "127.0.0.1", 0, 0, &client_cbs, &x, &c), UV_EINVAL);
  CU_ASSERT_EQUAL(pgd_conn_connect(&x.loop, "127.0.0.1", 70000, 0, &client_cbs, &x, &c), UV_EINVAL);
  CU_ASSERT_PTR_NULL(c);
  pgd_listener_t *l = NULL;
  CU_ASSERT_NOT_EQUAL(pgd_listener_start(&x.loop, "not an address!", 0, 0, on_accept, &x, &l), 0);
  CU_ASSERT_PTR_NULL(l);
  ctx_finish(&x);
  CU_ASSERT_EQUAL(x.client_closed, 1);
}

/* A host name goes through asynchronous resolution. */
static void test_connect_by_name(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 0);
  x.server_reply_welcome = 1;
  x.close_at = 1;
  x.close_listener_with_client = 1;
  CU_ASSERT_EQUAL_FATAL(pgd_conn_connect(&x.loop, "localhost", x.port, 0, &client_cbs, &x, &x.client), 0);
  CU_ASSERT_EQUAL(pgd_conn_send(x.client, PGD_MSG_HELLO, NULL), 0);
  ctx_finish(&x);
  /* localhost may resolve to ::1 first, where nobody listens: either way
   * the connection is reported once and closed once. */
  CU_ASSERT_EQUAL(x.connect_calls, 1);
  CU_ASSERT_EQUAL(x.client_closed, 1);
  if (x.connect_status == 0) {
    CU_ASSERT_EQUAL(x.last_type, PGD_MSG_WELCOME);
    CU_ASSERT_EQUAL(x.client_reason, 0);
  } else {
    pgd_listener_close(x.listener);
  }
}

/* Closed while the host name is being resolved. */
static void test_close_while_resolving(void) {
  ctx_t x;
  ctx_init(&x);
  CU_ASSERT_EQUAL_FATAL(pgd_conn_connect(&x.loop, "localhost", 9, 0, &client_cbs, &x, &x.client), 0);
  CU_ASSERT_EQUAL(send_seq(x.client, 0), 0);
  pgd_conn_close(x.client);
  CU_ASSERT_EQUAL(send_seq(x.client, 1), UV_EPIPE);
  ctx_finish(&x);
  CU_ASSERT_EQUAL(x.connect_calls, 1);
  CU_ASSERT_EQUAL(x.connect_status, UV_ECANCELED);
  CU_ASSERT_EQUAL(x.client_closed, 1);
  CU_ASSERT_EQUAL(x.client_reason, 0);
}

/* A peer that never reads: closing flushes for PGD_CONN_LINGER_MS at most,
 * then closes anyway. */
static void test_close_lingers_then_gives_up(void) {
  ctx_t x;
  ctx_init(&x);
  start_listener(&x, 0);
  raw_t r;
  static const char hello[] = "\x00\x00\x00\x10{\"type\":\"hello\"}";
  raw_start(&x, &r, hello, sizeof hello - 1);
  r.no_read = 1;
  while (x.server_msgs < 1 && !x.timed_out) uv_run(&x.loop, UV_RUN_ONCE);
  CU_ASSERT_FATAL(x.server_conn != NULL);
  x.server_msgs = -1000000; /* no echo of our own traffic expected */
  size_t big = 1024 * 1024;
  char *data = malloc(big + 1);
  memset(data, 'y', big);
  data[big] = 0;
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "data", data);
  int bad = 0;
  for (int i = 0; i < 64; i++) bad += pgd_conn_send(x.server_conn, PGD_MSG_LOG, b) != 0;
  CU_ASSERT_EQUAL(bad, 0);
  cJSON_Delete(b);
  free(data);
  for (int i = 0; i < 20; i++) uv_run(&x.loop, UV_RUN_NOWAIT);
  CU_ASSERT_TRUE(pgd_conn_write_queue_size(x.server_conn) > 0);
  uint64_t t0 = uv_hrtime();
  capture_stderr();
  pgd_conn_close(x.server_conn);
  while (x.server_closed == 0 && !x.timed_out) uv_run(&x.loop, UV_RUN_ONCE);
  char *log = release_stderr();
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  CU_ASSERT_EQUAL(x.server_closed, 1);
  CU_ASSERT_EQUAL(x.server_reasons[0], 0);
  CU_ASSERT_TRUE(ms >= PGD_CONN_LINGER_MS - 100 && ms < PGD_CONN_LINGER_MS + 3000);
  CU_ASSERT_PTR_NOT_NULL(strstr(log, "not flushed"));
  free(log);
  uv_close((uv_handle_t *)&r.tcp, raw_closed);
  pgd_listener_close(x.listener);
  ctx_finish(&x);
  CU_ASSERT_TRUE(r.closed);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("net_conn", NULL, NULL);
  CU_add_test(s, "echo 10000 messages", test_echo_10000);
  CU_add_test(s, "garbage and oversize, then a good client", test_garbage_then_good);
  CU_add_test(s, "peer's max frame", test_peer_max_frame);
  CU_add_test(s, "send above own max", test_send_too_big);
  CU_add_test(s, "close inside on_message", test_close_in_callback);
  CU_add_test(s, "connect refused and cancelled", test_connect_refused_and_cancel);
  CU_add_test(s, "connect by host name", test_connect_by_name);
  CU_add_test(s, "close while resolving", test_close_while_resolving);
  CU_add_test(s, "close lingers, then gives up", test_close_lingers_then_gives_up);
  return pgd_test_run();
}
