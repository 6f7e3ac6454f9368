/* Pagoda — HTTP/1.1 server layer (libwebsockets 4.1 on an existing libuv loop).
 *
 * A generic layer: it accepts connections, parses requests with lws (no
 * hand-written parser), buffers request bodies up to a limit, and hands each
 * complete request to one handler callback. The handler answers now or later
 * (for example after a durable store commit) with exactly one of
 * pgd_http_respond*() or pgd_http_stream_start() ... pgd_http_stream_end().
 *
 * Thread rules: every function here runs on the thread that runs `loop`
 * (the "loop thread"), including the handler and abort callbacks. Nothing is
 * thread-safe; hand work back to the loop with uv_async_send.
 *
 * Wire behaviour
 *  - HTTP/1.1 keep-alive; a response carries content-length (normal) or
 *    transfer-encoding: chunked (streams). An HTTP/1.0 client gets a
 *    close-delimited stream instead of chunked.
 *  - A body larger than max_body (content-length) is answered 413
 *    {"error":"request body larger than N bytes"} without calling the
 *    handler. The body is read and discarded (never stored) when it is at
 *    most PGD_HTTPD_DRAIN_MAX bytes, so the connection stays usable;
 *    larger announced bodies get the 413 at once and the connection closes.
 *  - A request body must come with content-length: lws 4.1 cannot read a
 *    chunked request body, so transfer-encoding gets 411 JSON and a close.
 *  - A malformed request is answered by lws itself (its own 403/400 HTML
 *    page, not JSON) or dropped after lws's timeout; the handler never sees
 *    it and the server keeps serving.
 *  - HEAD requests reach the handler with method "HEAD"; the layer sends the
 *    headers of whatever the handler answers without the body.
 *  - A client that closes its connection while the handler holds its
 *    request is noticed within ~200 ms (lws 4.1 sees end-of-stream as a
 *    half-close, so the layer peeks at held sockets); the request's on_abort
 *    callback then runs. A client that half-closes on purpose counts as gone.
 *  - There is no request timeout while the handler holds a request; idle
 *    keep-alive connections close after 60 s.
 *
 * Logging: lws's own log lines go to the "http" module: lws errors at WARN,
 * lws warnings and notices at DEBUG. Nothing is logged per request at INFO.
 *
 * Added in 0.1.0.
 */
#ifndef PAGODA_HTTP_HTTPD_H
#define PAGODA_HTTP_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include <cjson/cJSON.h>

typedef struct pgd_httpd pgd_httpd_t;
typedef struct pgd_http_req pgd_http_req_t;
struct pgd_http_answer; /* below */

/* Largest announced body that is read and discarded after a 413 so that the
 * keep-alive connection survives; above it the connection is closed. */
#define PGD_HTTPD_DRAIN_MAX (64u * 1024u * 1024u)

/* Called on the loop thread once the whole request (with its body) is in.
 * The handler must eventually call exactly one of pgd_http_respond*() or
 * pgd_http_stream_start() on `req`, now or later, from the loop thread.
 * If it keeps `req` past its return it must register pgd_http_req_on_abort():
 * the client (or pgd_httpd_stop) may end the request first. */
typedef void (*pgd_http_handler_cb)(pgd_http_req_t *req, void *ud);

/* Where a streamed request body goes (see sink_for). write returns 0, or
 * a negative code: the request is then answered 500 and the sink discarded.
 * discard runs when the request ends and the handler never took the sink
 * (client gone, error, the server stopping); after pgd_http_req_take_sink
 * the handler owns `ud`. Loop thread. */
typedef struct pgd_http_sink {
  int (*write)(void *ud, const void *data, size_t len);
  void (*discard)(void *ud);
  void *ud;
} pgd_http_sink_t;

typedef struct pgd_httpd_opts {
  const char *host;        /* address to bind, e.g. "127.0.0.1"; NULL = all */
  int port;                /* 0 = any free port (see pgd_httpd_port) */
  size_t max_body;         /* 0 = default 1 MiB */
  const char *static_dir;  /* NULL, or a directory whose files are served for
                              GET/HEAD paths not under /api/; a path with no
                              file goes to the handler */
  /* With static_dir (added in 0.5): a GET of a page route — a path whose
   * last segment does not end in an asset extension (.html .js .mjs .css
   * .json .svg .png .ico .txt .map), e.g. /jobs/nightly — that names no file
   * is answered with static_dir/index.html, so a single-page application's
   * addresses can be reloaded and bookmarked. A missing asset still goes to
   * the handler (a 404, not a page). */
  bool page_fallback;
  pgd_http_handler_cb handler; /* required */
  void *ud;                /* passed to handler, borrowed */
  /* Optional per-request body limit (added in 0.3): called on the loop
   * thread once the request line is in, with the method ("PUT", ...) and the
   * URL-decoded path (both borrowed for the call) and `ud`. Returns the
   * limit for this request, or 0 for max_body. A body over the limit is
   * refused with 413 as described above (drained when it is at most
   * PGD_HTTPD_DRAIN_MAX bytes, else the connection closes). */
  size_t (*max_body_for)(const char *method, const char *path, void *ud);
  /* HTTPS (added in 0.4): PEM files of the server certificate (chain) and
   * its private key. Both NULL = plain HTTP; one without the other is
   * -EINVAL. The files are read and checked (readable, parseable, the key
   * matches the certificate) before anything binds, so a bad file is an
   * error message, not a half-started server. Only TLS is served on the
   * port: a plain-HTTP client gets its connection closed. */
  const char *tls_cert;
  const char *tls_key;
  /* Seconds a connection may stay idle (no request, or a request that does
   * not progress) before it is closed (added in 0.4); 0 = default 30. */
  int idle_timeout_s;
  /* Connections one peer address may hold at once (added in 0.4); the next
   * is answered 429 with Retry-After and closed. 0 = default 128, -1 = no
   * limit. */
  int max_conns_per_addr;
  /* Optional body streaming (added in 0.4), for large uploads: called on the
   * loop thread once the headers of a request with a body are in (method,
   * URL-decoded path, content-length; borrowed). Return 0 to buffer the body
   * in memory as usual; 1 after filling *sink: each piece of the body is
   * handed to sink->write as it arrives (never buffered) and the handler
   * takes the sink with pgd_http_req_take_sink; or -EBUSY to refuse the
   * request with 503, "retry-after: *retry_after_s" and connection: close
   * (the body is not read). */
  int (*sink_for)(const char *method, const char *path, unsigned long long content_length,
                  void *ud, struct pgd_http_sink *sink, int *retry_after_s);
  /* Optional (added in 0.7): called once per request on the loop thread,
   * when its status is known (its headers are queued) or with status 0 when
   * it ends unanswered, for access logs and metrics. `a` and its strings are
   * borrowed for the call; the request itself must not be touched. */
  void (*on_answer)(const struct pgd_http_answer *a, void *ud);
  /* Optional (added in 0.7): exact paths (NULL-terminated array of static
   * strings, borrowed for the server's life) that always go to the handler,
   * never to static_dir or its page fallback (e.g. "/metrics"). */
  const char *const *handler_paths;
} pgd_httpd_opts_t;

/* What on_answer is told about one request. */
typedef struct pgd_http_answer {
  const char *method;  /* "GET", ... */
  const char *path;    /* the URL-decoded path (NOT for metric labels: unbounded) */
  const char *route;   /* pgd_http_req_set_route's label, or NULL when none was set */
  const char *who;     /* pgd_http_req_set_who's name, or "" */
  int status;          /* the status sent, or 0: ended without an answer */
  double seconds;      /* from the request's arrival to its status */
} pgd_http_answer_t;

/* Checks a certificate/key pair the way pgd_httpd_start will load it (PEM,
 * key matches certificate). 0, or a negative code with a message in err.
 * Any thread. */
int pgd_httpd_check_tls_files(const char *cert, const char *key, char *err, size_t errlen);

#define PGD_HTTPD_DEFAULT_IDLE_TIMEOUT_S 30
#define PGD_HTTPD_DEFAULT_MAX_CONNS_PER_ADDR 128

/* Starts listening on `loop`. `opts` and its strings are copied. On success
 * returns 0 and *out (owned by the caller; end it with pgd_httpd_stop). On
 * failure returns a negative errno-style code (-EINVAL, -ENOMEM, -ENOENT for
 * static_dir, -EADDRINUSE / -EACCES / -EADDRNOTAVAIL for the listen address)
 * and writes a message to err; *out is NULL. In the rare case where lws
 * itself fails to bind after the layer's own check, the half-made lws context
 * is released asynchronously: keep running the loop as after a stop.
 * The server's libuv handles are on `loop` and keep it alive while they
 * exist. */
int pgd_httpd_start(uv_loop_t *loop, const pgd_httpd_opts_t *opts,
                    pgd_httpd_t **out, char *err, size_t errlen);

/* The port actually listened on (useful with port 0). */
int pgd_httpd_port(const pgd_httpd_t *h);

/* Number of requests currently alive (read, in the handler's hands, or being
 * written). For tests and metrics. */
size_t pgd_httpd_live_requests(const pgd_httpd_t *h);

/* Stops the server: closes the listener and every connection, dropping
 * responses not yet written. Requests the handler still holds get their
 * on_abort callback (during the next loop iteration, never inside this
 * call), after which they are gone. `h` is freed
 * by the layer; the caller must not use it afterwards. lws closes its libuv
 * handles asynchronously: the caller must keep running the loop (e.g.
 * uv_run(loop, UV_RUN_DEFAULT) after closing its own handles) until it has no
 * handles left; only then may it uv_loop_close(). Safe to call from inside a
 * handler or abort callback. */
void pgd_httpd_stop(pgd_httpd_t *h);

/* --- request accessors: all returned strings are borrowed from `r` and stay
 * valid until the response is complete (respond/stream_end) or aborted. --- */

/* "GET", "POST", "PUT", "DELETE", "HEAD", "PATCH" or "OPTIONS". */
const char *pgd_http_req_method(const pgd_http_req_t *r);

/* URL-decoded path without the query, e.g. "/api/v1/jobs/a b". lws has
 * already removed "." and ".." segments. */
const char *pgd_http_req_path(const pgd_http_req_t *r);

/* Decoded value of query parameter `key` ("" for "?flag"), first occurrence,
 * or NULL when absent. lws decodes %XX and '+'. */
const char *pgd_http_req_query(const pgd_http_req_t *r, const char *key);

/* Value of request header `name` (case-insensitive, without ':'), or NULL. */
const char *pgd_http_req_header(const pgd_http_req_t *r, const char *name);

/* The request body as a NUL-terminated copy ("" when there is none); *len
 * (if non-NULL) receives its length without the NUL. */
const char *pgd_http_req_body(const pgd_http_req_t *r, size_t *len);

/* Takes the body out of the request (added in 0.3): returns the buffer
 * (NUL-terminated, owned by the caller from now on: free() it; NULL when
 * there is no body) and its length in *len (if non-NULL). Afterwards
 * pgd_http_req_body() returns "". Lets a handler hand a large body to
 * another thread without a copy, safe even if the request is aborted. */
char *pgd_http_req_take_body(pgd_http_req_t *r, size_t *len);

/* The sink of a streamed body (opts.sink_for), taken by the handler: its
 * `ud`, now owned by the caller (the layer will not discard it), or NULL
 * when the body was buffered (then use pgd_http_req_body). Added in 0.4. */
void *pgd_http_req_take_sink(pgd_http_req_t *r);

/* --- responses: exactly one per request. Each returns 0 or a negative code
 * (-EINVAL: called twice / wrong state, -ENOMEM). Even on error `r` is gone
 * afterwards if the function says so. --- */

/* Adds a response header (e.g. "Allow", "GET, POST"; both copied) sent with
 * whatever response the handler gives next. Only while the handler holds
 * the request (before any respond or stream_start call). Returns 0, -EINVAL (bad
 * arguments or wrong state) or -ENOMEM. Added in 0.4. */
int pgd_http_req_add_header(pgd_http_req_t *r, const char *name, const char *value);

/* Sends a complete response with content-length. `content_type` and `body`
 * are copied (body may be NULL when len is 0). Afterwards r is gone. */
int pgd_http_respond(pgd_http_req_t *r, int status, const char *content_type,
                     const char *body, size_t len);

/* Prints `obj` (borrowed) as the JSON body. Afterwards r is gone. */
int pgd_http_respond_json(pgd_http_req_t *r, int status, const cJSON *obj);

/* Sends {"error": "<formatted message>"}. Afterwards r is gone. */
int pgd_http_respond_error(pgd_http_req_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sends the `size` bytes of the open file `fd` from offset 0 as the body
 * (content-length: size), read in PGD_HTTP_WRITE_CHUNK pieces with pread as
 * the socket becomes writable, so a large file is never held in memory.
 * `fd` is owned by the layer from this call on (closed when the response
 * ends or the connection goes, also on error). A file shorter than `size`
 * when read closes the connection (the client sees a truncated body).
 * Reads happen on the loop thread: use it for local files. Afterwards r is
 * gone. Added in 0.3. */
int pgd_http_respond_fd(pgd_http_req_t *r, int status, const char *content_type, int fd,
                        unsigned long long size);

/* Starts a streamed response: transfer-encoding: chunked on HTTP/1.1 (the
 * connection stays usable afterwards), close-delimited on HTTP/1.0. r stays
 * valid until pgd_http_stream_end() or an abort. */
int pgd_http_stream_start(pgd_http_req_t *r, int status, const char *content_type);

/* Appends `data` (copied; len 0 is a no-op). Bytes are buffered and sent as
 * the socket becomes writable. */
int pgd_http_stream_write(pgd_http_req_t *r, const char *data, size_t len);

/* Bytes written by stream_write (or respond) not yet handed to the kernel;
 * lets a producer apply back-pressure. */
size_t pgd_http_stream_pending(const pgd_http_req_t *r);

/* Ends the stream; the rest of the buffer is still sent. Afterwards r is gone. */
int pgd_http_stream_end(pgd_http_req_t *r);

/* Ends the stream like pgd_http_stream_end, then closes the connection:
 * what is buffered is still sent, but a client that has not taken it within
 * `grace_s` seconds (>= 1) is disconnected. For producers that drop a slow
 * reader (the event stream). Afterwards r is gone. Added in 0.6. */
int pgd_http_stream_close(pgd_http_req_t *r, int grace_s);

/* Registers `cb`, called on the loop thread when the request ends before the
 * handler ended its response (client went away, or pgd_httpd_stop). After
 * cb returns r is gone; the handler must drop its pointer. Not called once
 * respond*()/stream_end() has been called. A later call replaces cb. */
void pgd_http_req_on_abort(pgd_http_req_t *r,
                           void (*cb)(pgd_http_req_t *r, void *ud), void *ud);

/* Registers `cb`, called exactly once on the loop thread with the status
 * of the response when its headers are queued (any respond*() or
 * stream_start()), or with 0 when the request ends without one (client
 * gone, server stopped). `r` must not be used inside cb. A later call
 * replaces cb. For audit logs. Added in 0.5. */
void pgd_http_req_on_status(pgd_http_req_t *r, void (*cb)(int status, void *ud), void *ud);

/* The client's address (numeric, no port) into buf; 0, or -ENOTCONN when
 * the connection is gone ("" in buf). Added in 0.5. */
int pgd_http_req_peer(const pgd_http_req_t *r, char *buf, size_t cap);

/* Labels the request for on_answer (added in 0.7): `route` is a route
 * pattern of static storage (borrowed for the request's life, e.g. the
 * route table's "/api/v1/jobs/{name}"); `who` (copied, at most 64 bytes) is
 * the name of whoever sent it (a token's name, never a secret). Either
 * may be NULL to leave it as it is. */
void pgd_http_req_set_route(pgd_http_req_t *r, const char *route);
void pgd_http_req_set_who(pgd_http_req_t *r, const char *who);

/* One pointer of handler data per request (not freed by the layer). */
void pgd_http_req_set_data(pgd_http_req_t *r, void *p);
void *pgd_http_req_get_data(const pgd_http_req_t *r);

#endif
