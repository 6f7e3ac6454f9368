/* Pagoda — HTTP server: lws context on the caller's libuv loop, the lws
 * protocol callback, and the server's start/stop. */
#include "http/httpd_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "common/err.h"
#include "common/log.h"

#define PGD_HTTP_DEFAULT_MAX_BODY (1024u * 1024u)

static void http_lws_log(int level, const char *line) {
  size_t n = strlen(line);
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) n--;
  pgd_log(level == LLL_ERR ? PGD_LOG_WARN : PGD_LOG_DEBUG, PGD_HTTP_MOD,
          "lws: %.*s", (int)n, line);
}

static const struct {
  enum lws_token_indexes tok;
  const char *name;
  int head;
} http_methods[] = {
    {WSI_TOKEN_GET_URI, "GET", 0},       {WSI_TOKEN_POST_URI, "POST", 0},
    {WSI_TOKEN_PUT_URI, "PUT", 0},       {WSI_TOKEN_DELETE_URI, "DELETE", 0},
    {WSI_TOKEN_PATCH_URI, "PATCH", 0},   {WSI_TOKEN_OPTIONS_URI, "OPTIONS", 0},
    {WSI_TOKEN_HEAD_URI, "HEAD", 1},
};

/* True for an "HTTP/1.0" request line (lws keeps the version in
 * WSI_TOKEN_HTTP). */
static int http_is_10(struct lws *wsi) {
  char v[16];
  if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP) <= 0) return 0;
  if (lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_HTTP) < 0) return 0;
  return !strcmp(v, "HTTP/1.0");
}

/* lws 4.1 treats end-of-stream from an h1 client as a half-close: it stops
 * reading and waits for the response, so a client that went away while the
 * handler holds its request is only noticed when the response is written.
 * While requests are held, this timer peeks at their sockets (MSG_PEEK, so
 * lws's data is left alone) and closes the connections whose peer has gone;
 * the close path then runs the abort callbacks. A client that half-closes
 * on purpose is treated as gone too. */
static void http_watch_tick(uv_timer_t *t) {
  pgd_httpd_t *h = t->data;
  int held = 0;
  for (pgd_http_req_t *r = h->reqs; r; r = r->next) {
    if (!r->wsi || (r->state != PGD_REQ_HANDLER && r->state != PGD_REQ_STREAMING)) continue;
    held++;
    int fd = (int)lws_get_socket_fd(r->wsi);
    if (fd < 0) continue;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      PGD_DEBUG(PGD_HTTP_MOD, "client of %s %s went away", r->method, r->path);
      lws_set_timeout(r->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    }
  }
  if (!held) uv_timer_stop(t);
}

static void http_dispatch(pgd_httpd_t *h, pgd_http_req_t *r) {
  r->state = PGD_REQ_HANDLER;
  if (!uv_is_active((uv_handle_t *)&h->watch_timer))
    uv_timer_start(&h->watch_timer, http_watch_tick, PGD_HTTP_WATCH_MS, PGD_HTTP_WATCH_MS);
  /* The handler may answer much later (after a store commit): no lws timeout
   * may kill the connection meanwhile. */
  lws_set_timeout(r->wsi, NO_PENDING_TIMEOUT, 0);
  if (pgd_http__req_body_append(r, "", 0) != 0) { /* ensure a NUL-terminated body */
    pgd_http__queue_error(r, 500, "out of memory");
    return;
  }
  h->handler(r, h->ud);
}

/* Parses content-length; returns 0, or -1 when the header is malformed. */
static int http_content_length(struct lws *wsi, unsigned long long *out) {
  char buf[32];
  int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
  *out = 0;
  if (n <= 0) return 0;
  if (n >= (int)sizeof(buf)) return -1;
  if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_CONTENT_LENGTH) < 0) return -1;
  if (buf[0] < '0' || buf[0] > '9') return -1;
  char *end = NULL;
  errno = 0;
  unsigned long long v = strtoull(buf, &end, 10);
  if (errno || !end || *end) return -1;
  *out = v;
  return 0;
}

static int http_on_request(pgd_httpd_t *h, struct lws *wsi, pgd_http_pss_t *pss,
                           const char *uri, size_t urilen) {
  if (!pss || h->stopping) return -1;
  if (pss->req) { /* lws does not pipeline; never expected */
    PGD_WARN(PGD_HTTP_MOD, "request while one is pending on the connection; closing");
    return -1;
  }
  const char *method = NULL;
  int head = 0;
  for (size_t i = 0; i < sizeof(http_methods) / sizeof(http_methods[0]); i++) {
    if (lws_hdr_total_length(wsi, http_methods[i].tok) > 0) {
      method = http_methods[i].name;
      head = http_methods[i].head;
      break;
    }
  }
  if (!uri) { uri = "/"; urilen = 1; }
  pgd_http__guard_idle(h, wsi, 0);

  bool handler_path = false;
  for (const char *const *p = h->handler_paths; p && *p && !handler_path; p++)
    handler_path = strlen(*p) == (size_t)urilen && strncmp(uri, *p, (size_t)urilen) == 0;
  if (method && h->static_dir && (!strcmp(method, "GET") || head) && !handler_path &&
      strncmp(uri, "/api/", 5) != 0 && strcmp(uri, "/api") != 0) {
    int rc = 0;
    if (pgd_http__try_static(h, wsi, uri, &rc)) return rc;
  }

  pgd_http_req_t *r = pgd_http__req_new(h, wsi, uri, urilen);
  if (!r) return -1;
  pss->req = r;
  r->method = method ? method : "UNKNOWN";
  r->head_only = head;
  r->http10 = http_is_10(wsi);

  if (!method) {
    r->close_after = 1;
    return pgd_http__queue_error(r, 405, "method not allowed") ? -1 : 0;
  }
  unsigned long long cl = 0;
  if (http_content_length(wsi, &cl) != 0) {
    r->close_after = 1;
    return pgd_http__queue_error(r, 400, "malformed content-length") ? -1 : 0;
  }
  r->content_length = cl;
  r->max_body = h->max_body;
  if (h->max_body_for) {
    size_t lim = h->max_body_for(r->method, r->path, h->ud);
    if (lim) r->max_body = lim;
  }
  if (cl > r->max_body) {
    if (cl > PGD_HTTPD_DRAIN_MAX) {
      r->close_after = 1;
      char msg[96];
      snprintf(msg, sizeof(msg), "request body larger than %zu bytes", r->max_body);
      return pgd_http__queue_error(r, 413, msg) ? -1 : 0;
    }
    r->state = PGD_REQ_REJECTED; /* drain, then 413 at completion */
    return 0;
  }
  if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
    /* lws 4.1 never delivers a chunked request body: refuse it */
    r->close_after = 1;
    return pgd_http__queue_error(r, 411, "request body needs a content-length") ? -1 : 0;
  }
  if (cl > 0 && h->sink_for) {
    int retry_after = 1;
    int s = h->sink_for(r->method, r->path, cl, h->ud, &r->sink, &retry_after);
    if (s < 0) { /* over a cap: refuse before reading the body */
      memset(&r->sink, 0, sizeof r->sink);
      r->close_after = 1;
      char ra[24];
      snprintf(ra, sizeof ra, "%d", retry_after > 0 ? retry_after : 1);
      pgd_http__add_header(r, "retry-after", ra);
      return pgd_http__queue_error(r, 503, "too many uploads in progress; retry later") ? -1 : 0;
    }
    if (s == 0) memset(&r->sink, 0, sizeof r->sink);
  }
  if (cl > 0) {
    r->state = PGD_REQ_READING; /* the body arrives in LWS_CALLBACK_HTTP_BODY */
    return 0;
  }
  http_dispatch(h, r);
  return 0;
}

static int http_on_body(pgd_httpd_t *h, pgd_http_pss_t *pss, const void *in, size_t len) {
  (void)h;
  pgd_http_req_t *r = pss ? pss->req : NULL;
  if (!r) return 0;
  if (r->state == PGD_REQ_READING && (r->sink.write || r->sink_failed)) {
    if (r->sink_failed) return 0; /* drop the rest */
    if (r->sink.write(r->sink.ud, in, len) < 0) {
      if (r->sink.discard) r->sink.discard(r->sink.ud);
      memset(&r->sink, 0, sizeof r->sink);
      r->sink_failed = 1;
    }
    return 0;
  }
  if (r->state == PGD_REQ_READING) {
    if (r->body_len + len > r->max_body) { /* never expected: lws counts */
      free(r->body);
      r->body = NULL;
      r->body_len = r->body_cap = 0;
      r->state = PGD_REQ_REJECTED;
      return 0;
    }
    return pgd_http__req_body_append(r, in, len) ? -1 : 0;
  }
  return 0; /* REJECTED: discard */
}

static int http_on_body_done(pgd_httpd_t *h, pgd_http_pss_t *pss) {
  pgd_http_req_t *r = pss ? pss->req : NULL;
  if (!r) return 0;
  if (r->state == PGD_REQ_READING && r->sink_failed) {
    return pgd_http__queue_error(r, 500, "the upload could not be written") ? -1 : 0;
  } else if (r->state == PGD_REQ_READING) {
    http_dispatch(h, r);
  } else if (r->state == PGD_REQ_REJECTED) {
    char msg[96];
    snprintf(msg, sizeof(msg), "request body larger than %zu bytes", r->max_body);
    return pgd_http__queue_error(r, 413, msg) ? -1 : 0;
  }
  return 0;
}

static void http_on_closed(pgd_http_pss_t *pss) {
  pgd_http_req_t *r = pss ? pss->req : NULL;
  if (!r) return;
  pss->req = NULL;
  r->wsi = NULL;
  if ((r->state == PGD_REQ_HANDLER || r->state == PGD_REQ_STREAMING) && r->abort_cb)
    r->abort_cb(r, r->abort_ud);
  pgd_http__req_free(r);
}

static int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len) {
  pgd_http_pss_t *pss = user;
  struct lws_context *ctx = lws_get_context(wsi);
  pgd_httpd_t *h = ctx ? lws_context_user(ctx) : NULL;

  switch (reason) {
  case LWS_CALLBACK_HTTP:
    return h ? http_on_request(h, wsi, pss, in, in ? len : 0) : -1;
  case LWS_CALLBACK_HTTP_BODY:
    return h ? http_on_body(h, pss, in, len) : -1;
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    return h ? http_on_body_done(h, pss) : -1;
  case LWS_CALLBACK_HTTP_WRITEABLE:
    return h ? pgd_http__on_writable(h, wsi, pss) : -1;
  case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
    if (h && pgd_http__guard_accept(h, wsi) < 0) return -1;
    break;
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    /* No websocket protocol is served: lws would close silently. (h2c is
     * left to lws, as before.) */
    if (in && strcasecmp((const char *)in, "websocket") == 0) {
      pgd_http__send_simple((int)lws_get_socket_fd(wsi), 400,
                            "websocket upgrades are not served (plain HTTP only)", NULL);
      return -1;
    }
    break;
  case LWS_CALLBACK_RAW_ADOPT:
    /* A CONNECT request: lws turned the connection into a raw socket that
     * nothing would ever close. */
    pgd_http__send_simple((int)lws_get_socket_fd(wsi), 405, "CONNECT is not served", NULL);
    return -1;
  case LWS_CALLBACK_WSI_DESTROY:
    if (h) pgd_http__guard_release(h, wsi);
    http_on_closed(pss);
    break;
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    /* lws also drops and rebinds the protocol when it dispatches each
     * request; only its close path (which names itself in `in`) may be a
     * request whose headers overflowed. */
    if (h && in && strcmp((const char *)in, "__lws_close_free_wsi") == 0)
      pgd_http__guard_header_overflow(h, wsi, pss);
    http_on_closed(pss);
    break;
  case LWS_CALLBACK_CLOSED_HTTP:
    http_on_closed(pss);
    break;
  default:
    break;
  }
  return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols http_protocols[] = {
    {"pgd-http", http_callback, sizeof(pgd_http_pss_t), 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0}};

static int http_seterr(char *err, size_t errlen, int rc, const char *fmt, const char *arg) {
  if (err && errlen) snprintf(err, errlen, fmt, arg ? arg : "");
  return rc;
}

static void http_teardown(pgd_httpd_t *h);

static void http_free(pgd_httpd_t *h) {
  pgd_http__guard_free(h);
  free(h->host);
  free(h->static_dir);
  free(h->scratch);
  free(h);
}

/* Binds a throw-away socket the way lws will (SO_REUSEADDR) to report a
 * taken or invalid address. Returns 0 or -errno. Skipped for port 0 and for
 * a host that is not a numeric address (lws also takes interface names). */
static int http_precheck_bind(const char *host, int port) {
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof(ss));
  if (port == 0) return 0;
  struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
  if (host && inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    sl = sizeof(*s4);
  } else if (!host || inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
    if (!host) s6->sin6_addr = in6addr_any;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    sl = sizeof(*s6);
  } else {
    return 0;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0; /* e.g. no IPv6: let lws decide */
  int one = 1, rc = 0;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0) rc = -errno;
  close(fd);
  return rc;
}

/* The last OpenSSL error as text ("" when there is none); clears the queue. */
static const char *http_ssl_error(char *buf, size_t len) {
  unsigned long e = ERR_get_error();
  buf[0] = '\0';
  if (e) ERR_error_string_n(e, buf, len);
  ERR_clear_error();
  return buf;
}

int pgd_httpd_check_tls_files(const char *cert, const char *key, char *err, size_t errlen) {
  if (!cert || !*cert || !key || !*key)
    return pgd_set_err(err, errlen, -EINVAL, "HTTPS needs both a certificate and a key file");
  char ossl[256];
  int rc = 0;
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return pgd_set_err(err, errlen, -ENOMEM, "cannot create a TLS context");
  if (access(cert, R_OK) != 0)
    rc = pgd_set_err(err, errlen, -errno, "cannot read TLS certificate %s: %s", cert, strerror(errno));
  else if (access(key, R_OK) != 0)
    rc = pgd_set_err(err, errlen, -errno, "cannot read TLS key %s: %s", key, strerror(errno));
  else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
    rc = pgd_set_err(err, errlen, -EINVAL, "TLS certificate %s is not a PEM certificate: %s", cert,
                     http_ssl_error(ossl, sizeof ossl));
  else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
    rc = pgd_set_err(err, errlen, -EINVAL, "TLS key %s is not a PEM private key: %s", key,
                     http_ssl_error(ossl, sizeof ossl));
  else if (SSL_CTX_check_private_key(ctx) != 1)
    rc = pgd_set_err(err, errlen, -EINVAL, "TLS key %s does not match certificate %s", key, cert);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return rc;
}

int pgd_httpd_start(uv_loop_t *loop, const pgd_httpd_opts_t *opts, pgd_httpd_t **out,
                    char *err, size_t errlen) {
  if (out) *out = NULL;
  if (!loop || !opts || !out || !opts->handler)
    return http_seterr(err, errlen, -EINVAL, "%sloop, opts, handler and out are required", NULL);
  if (opts->port < 0 || opts->port > 65535)
    return http_seterr(err, errlen, -EINVAL, "%sport out of range", NULL);

  bool tls = (opts->tls_cert && *opts->tls_cert) || (opts->tls_key && *opts->tls_key);
  if (tls) {
    int trc = pgd_httpd_check_tls_files(opts->tls_cert, opts->tls_key, err, errlen);
    if (trc < 0) return trc;
  }

  pgd_httpd_t *h = calloc(1, sizeof(*h));
  if (!h) return http_seterr(err, errlen, -ENOMEM, "%sout of memory", NULL);
  h->loop = loop;
  h->loops[0] = loop;
  h->handler = opts->handler;
  h->ud = opts->ud;
  h->max_body = opts->max_body ? opts->max_body : PGD_HTTP_DEFAULT_MAX_BODY;
  h->max_body_for = opts->max_body_for;
  h->sink_for = opts->sink_for;
  h->on_answer = opts->on_answer;
  h->handler_paths = opts->handler_paths;
  h->max_conns_per_addr = opts->max_conns_per_addr == 0   ? PGD_HTTPD_DEFAULT_MAX_CONNS_PER_ADDR
                          : opts->max_conns_per_addr < 0 ? 0
                                                         : opts->max_conns_per_addr;
  h->scratch = malloc(LWS_PRE + PGD_HTTP_WRITE_CHUNK);
  h->host = opts->host ? strdup(opts->host) : NULL;
  if (!h->scratch || (opts->host && !h->host)) {
    http_free(h);
    return http_seterr(err, errlen, -ENOMEM, "%sout of memory", NULL);
  }
  h->page_fallback = opts->page_fallback;
  if (opts->static_dir) {
    h->static_dir = realpath(opts->static_dir, NULL);
    if (!h->static_dir) {
      int e = errno;
      http_free(h);
      return http_seterr(err, errlen, -e, "static_dir %s not found", opts->static_dir);
    }
  }

  lws_set_log_level(LLL_ERR | LLL_WARN, http_lws_log);

  struct lws_context_creation_info info;
  memset(&info, 0, sizeof(info));
  info.port = opts->port;
  info.iface = h->host;
  info.protocols = http_protocols;
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
  if (h->host && strchr(h->host, '.') && !strchr(h->host, ':'))
    info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  info.foreign_loops = h->loops;
  info.user = h;
  info.pcontext = &h->ctx;
  info.count_threads = 1;
  /* An idle keep-alive connection, and a request whose headers or body
   * stop arriving, are closed after idle_timeout_s. */
  int idle = opts->idle_timeout_s > 0 ? opts->idle_timeout_s : PGD_HTTPD_DEFAULT_IDLE_TIMEOUT_S;
  info.keepalive_timeout = idle;
  info.timeout_secs = (unsigned)idle;
  info.max_http_header_data = PGD_HTTP_MAX_HEADER_BYTES;
  info.max_http_header_pool = 1024;
  info.pt_serv_buf_size = 16384;
  if (tls) {
    /* lws reads the files itself; they were checked above so that a bad
     * file cannot leave a half-built context behind. */
    info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    info.ssl_cert_filepath = opts->tls_cert;
    info.ssl_private_key_filepath = opts->tls_key;
    info.ssl_cipher_list = NULL; /* OpenSSL's defaults (Debian: TLS 1.2 and up) */
    /* HTTP/1.1 only: this layer speaks h1 (keep-alive, the socket peek,
     * HTTP/1.0 handling); Debian's lws would otherwise offer h2 by ALPN. */
    info.alpn = "http/1.1";
    h->tls = 1;
  }

  char where[300];
  snprintf(where, sizeof(where), "%s:%d", opts->host ? opts->host : "*", opts->port);
  /* lws 4.1 returns a half-built context when the bind fails, and crashes
   * destroying it: find a taken port before lws tries. */
  int prc = http_precheck_bind(h->host, opts->port);
  if (prc != 0) {
    http_free(h);
    if (err && errlen) snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(-prc));
    return prc;
  }
  h->ctx = lws_create_context(&info);
  if (!h->ctx) {
    http_free(h);
    return http_seterr(err, errlen, -EADDRINUSE, "cannot listen on %s (lws refused)", where);
  }
  uv_timer_init(loop, &h->watch_timer);
  h->watch_timer.data = h;
  h->vh = lws_get_vhost_by_name(h->ctx, "default");
  h->port = h->vh ? lws_get_vhost_listen_port(h->vh) : 0;
  if (h->port <= 0) { /* lost a bind race after the pre-check */
    http_teardown(h); /* frees h once the loop runs */
    return http_seterr(err, errlen, -EADDRINUSE, "cannot listen on %s", where);
  }
  PGD_DEBUG(PGD_HTTP_MOD, "listening on %s:%d%s", h->host ? h->host : "*", h->port,
            h->tls ? " (HTTPS)" : "");
  *out = h;
  return 0;
}

int pgd_httpd_port(const pgd_httpd_t *h) { return h ? h->port : -1; }

size_t pgd_httpd_live_requests(const pgd_httpd_t *h) { return h ? h->nreqs : 0; }

static void http_stop_closed(uv_handle_t *handle) {
  pgd_httpd_t *h = handle->data;
  http_free(h);
}

static void http_count_closing(uv_handle_t *handle, void *arg) {
  if (uv_is_closing(handle)) (*(int *)arg)++;
}

/* Teardown of an lws 4.1 context on a foreign libuv loop, one idle tick at a
 * time, always outside lws callbacks:
 *  1. lws_context_destroy() closes every connection (abort callbacks run)
 *     and starts uv_close() on lws's handles; lws closes its static handles
 *     from those close callbacks, so this takes a couple of iterations;
 *  2. once no handle of the loop is closing any more, lws has run its own
 *     second stage, and a second lws_context_destroy() frees the context
 *     (lws then writes NULL through info.pcontext, i.e. h->ctx);
 *  3. the idle handle closes and `h` is freed. */
static void http_stop_tick(uv_idle_t *idle) {
  pgd_httpd_t *h = idle->data;
  if (h->stopping == 1) {
    h->stopping = 2;
    if (h->watch_timer.data) uv_close((uv_handle_t *)&h->watch_timer, NULL);
    if (h->ctx) lws_context_destroy(h->ctx);
    return;
  }
  if (h->ctx) {
    int closing = 0;
    uv_walk(h->loop, http_count_closing, &closing);
    if (closing) return;
    lws_context_destroy(h->ctx);
    if (h->ctx) {
      PGD_WARN(PGD_HTTP_MOD, "lws context not released at stop");
      h->ctx = NULL;
    }
  }
  uv_idle_stop(idle);
  uv_close((uv_handle_t *)idle, http_stop_closed);
}

/* Starts the asynchronous teardown (see http_stop_tick). */
static void http_teardown(pgd_httpd_t *h) {
  h->stopping = 1;
  uv_idle_init(h->loop, &h->stop_idle);
  h->stop_idle.data = h;
  uv_idle_start(&h->stop_idle, http_stop_tick);
}

void pgd_httpd_stop(pgd_httpd_t *h) {
  if (!h || h->stopping) return;
  http_teardown(h);
}

