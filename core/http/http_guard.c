/* Pagoda HTTP — answers for what libwebsockets would otherwise answer in
 * HTML or not at all, and the per-address connection limit.
 *
 *  - lws_return_http_status() is replaced (see below) so lws's own error
 *    answers to requests it cannot parse are JSON;
 *  - a CONNECT request (lws turns the connection into a raw socket and
 *    would hold it forever) and a websocket upgrade (no websocket protocol
 *    is served: lws would close silently) get a JSON 405 / 400 (httpd.c);
 *  - each peer address may hold at most `max_conns_per_addr` connections:
 *    the next one is answered 429 (with Retry-After) and closed before lws
 *    gives it a header table, so one client cannot take the pool (1,024
 *    header tables) from the others;
 *  - request headers over lws's header table (PGD_HTTP_MAX_HEADER_BYTES):
 *    lws closes the connection without an answer; this answers 431 first
 *    (pgd_http__guard_header_overflow).
 * Answers written straight to a socket here are small (< 300 bytes) and
 * go to a freshly accepted, empty socket buffer: one non-blocking send.
 * Loop thread only (inside lws callbacks). */
#include "http/httpd_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/netaddr.h"

/* ---- JSON answers ---- */

static const char *status_reason(unsigned code) {
  switch (code) {
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return code >= 500 ? "Server Error" : "Client Error";
  }
}

int pgd_http__send_simple(int fd, unsigned code, const char *msg, const char *extra_header) {
  char buf[512];
  char body[300];
  int blen = snprintf(body, sizeof body, "{\"error\":\"%s\"}", msg);
  if (blen < 0 || (size_t)blen >= sizeof body) return -1;
  int n = snprintf(buf, sizeof buf,
                   "HTTP/1.1 %u %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                   "%sconnection: close\r\n\r\n%s",
                   code, status_reason(code), blen, extra_header ? extra_header : "", body);
  if (n < 0 || (size_t)n >= sizeof buf) return -1;
  ssize_t w = send(fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
  return w == n ? 0 : -1;
}

/* What lws's answer means, for the body (its own html_body is not echoed:
 * it may quote the request). lws uses 403 for requests it cannot parse
 * (a bad request line, an unknown method, a path it refuses): that is a
 * 400 here. */
static const char *lws_status_text(unsigned *code) {
  switch (*code) {
    case 403:
      *code = 400;
      return "malformed request: the request line, method or path could not be parsed";
    case 400: return "bad request: the request could not be parsed";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 408: return "request timeout";
    case 411: return "request body needs a content-length";
    case 413: return "request too large";
    case 414: return "request path too long";
    case 431: return "request headers too large";
    case 501: return "not implemented";
    case 505: return "HTTP version not supported";
    default: return *code >= 500 ? "server error" : "request refused";
  }
}

/* Replaces libwebsockets' function of the same name. lws.so exports it and
 * calls it through the PLT, so this definition, linked into the executable
 * and exported from it (core/CMakeLists.txt: --export-dynamic-symbol), is
 * the one lws reaches (ELF symbol interposition). Same contract: writes a
 * complete answer on an HTTP/1 connection; 0 when written, else non-zero.
 * lws closes the connection after most of its uses: the answer says
 * "connection: close". */
int lws_return_http_status(struct lws *wsi, unsigned int code, const char *html_body) {
  (void)html_body;
  const char *text = lws_status_text(&code);
  unsigned char buf[LWS_PRE + 1024];
  unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
  char body[256], slen[24];
  int blen = snprintf(body, sizeof body, "{\"error\":\"%s\"}", text);
  int n = snprintf(slen, sizeof slen, "%d", blen);
  if (lws_add_http_header_status(wsi, code, &p, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                   (const unsigned char *)"application/json", 16, &p, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, (const unsigned char *)slen,
                                   n, &p, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                   &p, end) ||
      lws_finalize_http_header(wsi, &p, end))
    return 1;
  if ((size_t)(end - p) < (size_t)blen) return 1;
  memcpy(p, body, (size_t)blen);
  p += blen;
  int total = (int)(p - start);
  return lws_write(wsi, start, (size_t)total, LWS_WRITE_HTTP) != total;
}

/* ---- per-address connection limit ---- */

/* The peer address of `fd` as text ("127.0.0.1", "::1"), or "" when unknown. */
static void peer_of(int fd, char *out, size_t cap) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  out[0] = 0;
  if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) return;
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)cap);
  else if (ss.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)cap);
}

int pgd_http__guard_accept(pgd_httpd_t *h, struct lws *wsi) {
  int fd = (int)lws_get_socket_fd(wsi);
  char addr[INET6_ADDRSTRLEN];
  peer_of(fd, addr, sizeof addr);
  if (!addr[0]) return 0; /* not an IP socket: not counted */
  pgd_http_peer_t *p = NULL;
  HASH_FIND_STR(h->peers, addr, p);
  if (p && h->max_conns_per_addr && p->conns >= h->max_conns_per_addr) {
    h->refused_conns++;
    if (h->refused_conns == 1 || h->refused_conns % 1000 == 0)
      PGD_WARN(PGD_HTTP_MOD, "%s holds %d connections (the limit, http.max_connections_per_address): "
               "refusing more (%llu refused so far)", addr, p->conns, h->refused_conns);
    char msg[160];
    snprintf(msg, sizeof msg, "too many connections from this address (limit %d)", h->max_conns_per_addr);
    pgd_http__send_simple(fd, 429, msg, "retry-after: 1\r\n");
    return -1;
  }
  if (!p) {
    p = calloc(1, sizeof *p);
    if (!p) return -1;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    HASH_ADD_STR(h->peers, addr, p);
  }
  pgd_http_conn_t *c = calloc(1, sizeof *c);
  if (!c) return -1;
  c->wsi = wsi;
  c->peer = p;
  HASH_ADD_PTR(h->conns, wsi, c);
  p->conns++;
  return 0;
}

void pgd_http__guard_release(pgd_httpd_t *h, struct lws *wsi) {
  pgd_http_conn_t *c = NULL;
  HASH_FIND_PTR(h->conns, &wsi, c);
  if (!c) return;
  HASH_DEL(h->conns, c);
  pgd_http_peer_t *p = c->peer;
  free(c);
  if (--p->conns <= 0) {
    HASH_DEL(h->peers, p);
    free(p);
  }
}

void pgd_http__guard_free(pgd_httpd_t *h) {
  pgd_http_conn_t *c, *ct;
  HASH_ITER(hh, h->conns, c, ct) {
    HASH_DEL(h->conns, c);
    free(c);
  }
  pgd_http_peer_t *p, *pt;
  HASH_ITER(hh, h->peers, p, pt) {
    HASH_DEL(h->peers, p);
    free(p);
  }
}

/* ---- request headers over the header table ---- */

void pgd_http__guard_mark(pgd_httpd_t *h, struct lws *wsi) {
  pgd_http_conn_t *c = NULL;
  HASH_FIND_PTR(h->conns, &wsi, c);
  if (c && !lws_is_ssl(wsi)) c->rx_mark = pgd_tcp_bytes_received((int)lws_get_socket_fd(wsi));
}

void pgd_http__guard_idle(pgd_httpd_t *h, struct lws *wsi, int idle) {
  pgd_http_conn_t *c = NULL;
  HASH_FIND_PTR(h->conns, &wsi, c);
  if (c) c->idle = idle && !lws_is_ssl(wsi);
}

/* Why the byte count: once lws gives up on a request's headers it has
 * already detached their table, so what they held cannot be asked. What
 * is known is that no request is in progress and that, since the last
 * one, the client sent at least as much as the table holds: headers that
 * did not fit (the table stores a little less than what crossed the wire,
 * never more). A client that closes or times out after fewer bytes gets
 * nothing, as before. After an answer that closes the connection (a 413
 * while the body still arrives) the connection is not idle: not counted.
 *
 * Why only some connections: lws 4.1 tells the protocol about a closing
 * connection before shutting its socket down only when a protocol is bound
 * to it, and it binds one when a request is dispatched. On a connection
 * that has served a request (keep-alive) the close is seen in time; on a
 * connection's first request lws has shut the socket for writing before any
 * callback, and nothing can be answered (docs/api.md). */
void pgd_http__guard_header_overflow(pgd_httpd_t *h, struct lws *wsi, const pgd_http_pss_t *pss) {
  pgd_http_conn_t *c = NULL;
  HASH_FIND_PTR(h->conns, &wsi, c);
  if (!c || !c->idle || (pss && pss->req) || lws_is_ssl(wsi)) return;
  int fd = (int)lws_get_socket_fd(wsi);
  unsigned long long rx = pgd_tcp_bytes_received(fd);
  if (rx < c->rx_mark || rx - c->rx_mark < PGD_HTTP_MAX_HEADER_BYTES) return;
  c->idle = 0;
  /* Unread input at close() makes the kernel reset the connection, which
   * can discard the answer before the client reads it: drop what is
   * already here (bounded; the headers were refused anyway). */
  char sink[4096];
  for (int i = 0; i < 64 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++) {
  }
  char msg[96];
  snprintf(msg, sizeof msg, "request headers too large (at most %d bytes)",
           PGD_HTTP_MAX_HEADER_BYTES);
  if (pgd_http__send_simple(fd, 431, msg, NULL) == 0)
    PGD_INFO(PGD_HTTP_MOD, "request headers over %d bytes: answered 431",
             PGD_HTTP_MAX_HEADER_BYTES);
}
