/* Pagoda benchmarks — a minimal blocking HTTP/1.1 client for the REST API
 * on 127.0.0.1 (keep-alive, Content-Length and chunked answers).
 *
 * Ownership: a bench_http_t is the caller's (stack or heap); bench_http_open
 * fills it and bench_http_close releases what it holds. Thread rules: one
 * bench_http_t per thread; different connections may be used from different
 * threads at once. */
#ifndef PAGODA_BENCH_HTTP_H
#define PAGODA_BENCH_HTTP_H

#include <stddef.h>

typedef struct bench_http {
  int fd;
  int port;
  char *buf; /* bytes read and not consumed */
  size_t len, cap;
} bench_http_t;

/* Sets the bearer token sent with every later request (copied; NULL =
 * none), process-wide: call before any thread makes requests (bench_master
 * does, with the master's DATA/admin.token). Returns 0 or -ENOMEM. */
int bench_http_set_token(const char *token);

/* Reads the token of a token file (its first line): 0, or a negative errno. */
int bench_http_token_from_file(const char *path);

/* Connects to 127.0.0.1:port (TCP_NODELAY). 0, or a negative errno (then
 * there is nothing to close). */
int bench_http_open(bench_http_t *h, int port);

/* Closes the connection and frees the buffer; h may be opened again. */
void bench_http_close(bench_http_t *h);

/* Sends one request (`json` as the body, or none when NULL) and reads the
 * answer. Returns the HTTP status, or a negative errno when the connection
 * broke (reopen it). When `body` is not NULL, *body is the answer's body,
 * malloc'ed and NUL-terminated, owned by the caller. */
int bench_http_req(bench_http_t *h, const char *method, const char *path, const char *json,
                   char **body);

#endif
