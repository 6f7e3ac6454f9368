/* Pagoda — HTTP layer internals shared by httpd.c, http_req.c, http_static.c.
 * Not part of the public API. Loop thread only. */
#ifndef PAGODA_HTTP_HTTPD_INTERNAL_H
#define PAGODA_HTTP_HTTPD_INTERNAL_H

#include <arpa/inet.h>
#include <libwebsockets.h>
#include <uthash.h>

#include "http/httpd.h"

#define PGD_HTTP_MOD "http"
/* Bytes handed to lws_write per writable callback. */
#define PGD_HTTP_WRITE_CHUNK (64u * 1024u)
/* How often sockets of requests held by the handler are checked for a
 * client that went away (see http_watch_tick). */
#define PGD_HTTP_WATCH_MS 200

typedef enum {
  PGD_REQ_READING = 0, /* headers in, body arriving */
  PGD_REQ_REJECTED,    /* body too large: draining, 413 queued at completion */
  PGD_REQ_HANDLER,     /* handed to the handler, no response yet */
  PGD_REQ_STREAMING,   /* stream_start called, not ended */
  PGD_REQ_ENDED        /* response complete in `out`; flushing */
} pgd_req_state_t;

typedef struct pgd_http_hdr {
  struct pgd_http_hdr *next;
  char *name;  /* lower-case */
  char *value;
} pgd_http_hdr_t;

struct pgd_http_req {
  pgd_httpd_t *h;
  struct lws *wsi;          /* NULL once the connection is gone */
  pgd_http_req_t *prev, *next; /* h->reqs */
  pgd_req_state_t state;
  const char *method;       /* static string */
  char *path;
  char *qbuf;               /* query "k\0v\0k\0v\0" */
  size_t nq;
  pgd_http_hdr_t *hdrs;     /* cache of looked-up headers */
  pgd_http_hdr_t *resp_hdrs; /* extra response headers (pgd_http_req_add_header) */
  char *body;
  size_t body_len, body_cap;
  unsigned long long content_length;
  size_t max_body;          /* this request's body limit */
  int file_fd;              /* respond_fd: file still to send, else -1 */
  unsigned long long file_off, file_left;
  char *out;                /* bytes still to write, from out_off */
  size_t out_len, out_off, out_cap;
  unsigned head_only : 1;   /* HEAD: suppress body bytes */
  unsigned http10 : 1;
  unsigned chunked : 1;
  unsigned close_after : 1; /* close the connection once `out` is flushed */
  pgd_http_sink_t sink;     /* streamed body (sink.write != NULL), until taken */
  unsigned sink_failed : 1; /* a sink write failed: answer 500 at completion */
  void (*abort_cb)(pgd_http_req_t *r, void *ud);
  void *abort_ud;
  void *data;
  /* pgd_http_req_on_status: called once, with the status or 0 */
  void (*status_cb)(int status, void *ud);
  void *status_ud;
  /* on_answer (added in 0.7) */
  uint64_t start_ns;        /* uv_hrtime at arrival */
  const char *route;        /* static label, or NULL */
  char who[65];
  unsigned answered : 1;    /* on_answer ran */
};

/* Connections per peer address (http_guard.c). */
typedef struct pgd_http_peer {
  char addr[INET6_ADDRSTRLEN];
  int conns;
  UT_hash_handle hh;
} pgd_http_peer_t;

/* One counted connection: its wsi (the key) and its peer. */
typedef struct pgd_http_conn {
  struct lws *wsi;
  pgd_http_peer_t *peer;
  unsigned long long rx_mark; /* TCP bytes received before the last answer's last bytes */
  int idle;                   /* keep-alive between requests (plain HTTP): see http_guard.c */
  UT_hash_handle hh;
} pgd_http_conn_t;

struct pgd_httpd {
  uv_loop_t *loop;
  void *loops[1];
  struct lws_context *ctx;
  struct lws_vhost *vh;
  pgd_http_handler_cb handler;
  void *ud;
  size_t max_body;
  size_t (*max_body_for)(const char *method, const char *path, void *ud);
  int (*sink_for)(const char *method, const char *path, unsigned long long content_length,
                  void *ud, pgd_http_sink_t *sink, int *retry_after_s);
  char *host;
  char *static_dir;         /* realpath, or NULL */
  bool page_fallback;       /* opts.page_fallback */
  int port;
  int stopping;
  int tls;                  /* 1 = HTTPS only */
  pgd_http_req_t *reqs;     /* live requests */
  size_t nreqs;
  unsigned char *scratch;   /* LWS_PRE + PGD_HTTP_WRITE_CHUNK */
  uv_timer_t watch_timer;   /* peeks at held requests' sockets */
  uv_idle_t stop_idle;      /* drives pgd_httpd_stop's teardown */
  int max_conns_per_addr;   /* 0 = no limit */
  pgd_http_peer_t *peers;   /* http_guard.c */
  pgd_http_conn_t *conns;
  unsigned long long refused_conns;
  void (*on_answer)(const pgd_http_answer_t *a, void *ud);
  const char *const *handler_paths; /* opts.handler_paths (borrowed) */
};

/* Per-connection lws user data. */
typedef struct pgd_http_pss {
  pgd_http_req_t *req;
} pgd_http_pss_t;

/* lws's header table per request (info.max_http_header_data): a request
 * whose headers need more is refused (431, http_guard.c). */
#define PGD_HTTP_MAX_HEADER_BYTES 8192

/* http_req.c */
pgd_http_req_t *pgd_http__req_new(pgd_httpd_t *h, struct lws *wsi,
                                  const char *path, size_t pathlen);
void pgd_http__req_free(pgd_http_req_t *r);
int pgd_http__req_body_append(pgd_http_req_t *r, const void *data, size_t len);
/* Queues a complete response (shared by respond and the layer's own 413). */
int pgd_http__queue_response(pgd_http_req_t *r, int status, const char *ctype,
                             const char *body, size_t len);
int pgd_http__queue_error(pgd_http_req_t *r, int status, const char *msg);
/* Adds a response header in any state before the answer is queued. */
int pgd_http__add_header(pgd_http_req_t *r, const char *name, const char *value);
/* Writes the next piece; returns -1 to close the connection, 0 otherwise. */
int pgd_http__on_writable(pgd_httpd_t *h, struct lws *wsi, pgd_http_pss_t *pss);

/* http_guard.c: a new connection (LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED):
 * 0 = counted, -1 = its address is at the limit (answered 429; lws closes). */
int pgd_http__guard_accept(pgd_httpd_t *h, struct lws *wsi);
/* A connection ends (LWS_CALLBACK_WSI_DESTROY); unknown wsi ok. */
void pgd_http__guard_release(pgd_httpd_t *h, struct lws *wsi);
/* Notes the bytes received so far: called before writing what may be the
 * last bytes of an answer, when the client cannot have sent its next
 * request yet. */
void pgd_http__guard_mark(pgd_httpd_t *h, struct lws *wsi);
/* idle 1: an answer was written and the connection waits for the next
 * request (keep-alive), whose bytes count from the last mark. idle 0: a
 * request's headers are complete. */
void pgd_http__guard_idle(pgd_httpd_t *h, struct lws *wsi, int idle);
/* lws closes a connection whose request headers overflow its header table
 * without a word (lws 4.1 has no hook there). Called as lws's close path
 * drops the connection's protocol (the socket is still open; only on a
 * connection that has served a request, see http_guard.c): when no
 * connection is idle and PGD_HTTP_MAX_HEADER_BYTES or more arrived
 * since it became idle, answers 431 in JSON. Plain HTTP only (over TLS lws
 * owns the stream: closed without an answer). */
void pgd_http__guard_header_overflow(pgd_httpd_t *h, struct lws *wsi, const pgd_http_pss_t *pss);
/* Frees the counts (server teardown). */
void pgd_http__guard_free(pgd_httpd_t *h);
/* Writes a complete JSON error answer {"error": msg} with "connection:
 * close" (and `extra_header`, "name: value\r\n" or NULL) straight to a
 * socket lws is not writing to; 0 when all of it was sent. */
int pgd_http__send_simple(int fd, unsigned code, const char *msg, const char *extra_header);

/* http_static.c: 1 = lws is serving a file (return value in *rc), 0 = no
 * file for this path. */
int pgd_http__try_static(pgd_httpd_t *h, struct lws *wsi, const char *path,
                         int *rc);

#endif
