/* Pagoda — a small blocking HTTP/1.1 client for the `pagoda` CLI (libcurl
 * easy API).
 *
 * Thread rules: pgd_http_global_init()/cleanup() once per process from the
 * main thread, around every other call; a request runs on the calling thread
 * and blocks it.
 */
#ifndef PAGODA_CLI_HTTP_CLIENT_H
#define PAGODA_CLI_HTTP_CLIENT_H

#include <stddef.h>

/* Initialises / releases libcurl's global state. init returns 0 or -EIO. */
int pgd_http_global_init(void);
void pgd_http_global_cleanup(void);

/* The PEM CA file that verifies an https:// API (borrowed: it must live
 * until the last request; NULL or "" = the system's CA store). Main thread,
 * between global_init and the first request. */
void pgd_http_set_cacert(const char *path);
/* Sets the bearer token every later request sends ("Authorization: Bearer
 * TOKEN"; copied; NULL = none). Process-wide: call from the main thread
 * before requests, like pgd_http_global_init. */
void pgd_http_set_token(const char *token);

/* Called with each chunk of a 2xx response body as it arrives; `data` is
 * borrowed for the call. Return 0 to continue, non-zero to abort the
 * transfer (the request then fails with -ECANCELED). */
typedef int (*pgd_http_chunk_cb)(const char *data, size_t len, void *ud);

/* A response. `body` is NUL-terminated (len excludes the NUL), owned by the
 * structure, freed by pgd_http_response_free(); it is NULL when the body was
 * streamed to a chunk callback. */
typedef struct {
  long status;
  char *body;
  size_t len;
} pgd_http_response_t;

/* One request.
 *   method:    "GET", "POST", "PUT", "DELETE" (borrowed)
 *   url:       full URL (borrowed)
 *   body:      request body or NULL (borrowed, body_len bytes), sent as
 *              application/json (PUT, the resource upload: as
 *              application/octet-stream)
 *   on_chunk:  NULL to collect the body in resp->body; else a 2xx body is
 *              handed to on_chunk as it arrives (error bodies are still
 *              collected in resp->body so that their message can be shown)
 *   timeout_ms: whole-request limit, 0 for none (connecting is always
 *              limited to 10 s)
 * Returns 0 when an HTTP response was received (any status, in resp->status),
 * or a negative code when none was: -ECONNREFUSED (cannot connect or resolve),
 * -ETIMEDOUT, -ECANCELED (on_chunk asked to stop), -EMSGSIZE (a collected
 * body passed 64 MiB), -ENOMEM, -EIO (other transport errors). On failure a
 * message (libcurl's) is written to err. *resp is always initialised and must
 * be freed with pgd_http_response_free(). */
int pgd_http_request(const char *method, const char *url, const char *body, size_t body_len,
                     pgd_http_chunk_cb on_chunk, void *ud, long timeout_ms,
                     pgd_http_response_t *resp, char *err, size_t errlen);

/* pgd_http_request with extra request headers: `headers` is NULL or a
 * NULL-terminated array of "Name: value" lines (borrowed). Added in 0.4.
 * An "Accept:" line among them replaces the default "Accept:
 * application/json" (0.6, for the event stream). */
int pgd_http_request_with(const char *method, const char *url, const char *const *headers,
                          const char *body, size_t body_len, pgd_http_chunk_cb on_chunk, void *ud,
                          long timeout_ms, pgd_http_response_t *resp, char *err, size_t errlen);

/* Frees resp->body and empties *resp. NULL and an empty response are fine. */
void pgd_http_response_free(pgd_http_response_t *resp);

#endif
