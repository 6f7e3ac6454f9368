/* Pagoda — what every command of the `pagoda` CLI shares (client.c,
 * client_jobs.c, client_admin.c): the command's session (the masters'
 * address list, --wait's progress), the request helpers with the standby
 * redirect, the Idempotency-Key retries, error messages and exit codes,
 * and the small printers and readers the commands share.
 *
 * Every function returning int returns a PGD_CLI_EXIT_* code (0 = OK)
 * unless said otherwise, after printing why on ctx->err. Responses filled
 * in *resp are the caller's (pgd_http_response_free).
 *
 * Thread rules: main thread only, between pgd_http_global_init() and
 * pgd_http_global_cleanup() (see http_client.h).
 */
#ifndef PAGODA_CLI_CLIENT_SESSION_H
#define PAGODA_CLI_CLIENT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/client.h"
#include "cli/client_addrs.h"
#include "cli/client_args.h"
#include "cli/http_client.h"
#include "common/json.h"

/* The timeout of one request that is not a stream. */
#define REQUEST_TIMEOUT_MS 30000L

/* What one command keeps across its requests (owned by pgd_client_run). */
typedef struct {
  pgd_cli_addrs_t addrs; /* a->addr as a list of masters (client_addrs.h) */
  char shown_state[32];  /* --wait: the last state shown on err */
  cJSON *shown_nodes;    /* flow run --wait: node -> the last state shown, or NULL */
} session_t;

/* One command's context: its arguments, outputs and session (borrowed). */
typedef struct {
  const pgd_cli_args_t *a;
  FILE *out;
  FILE *err;
  session_t *s;
} ctx_t;

/* One attempt (the standby's leader followed once, the next address of the
 * list when nothing answers): returns 0 with *resp filled whatever the
 * status, or a negative errno with errbuf saying why. Prints nothing. */
int client_send_once(ctx_t *c, const char *method, const char *path, const char *const *headers,
                     const char *body, size_t body_len, pgd_http_chunk_cb on_chunk, void *ud,
                     long timeout_ms, pgd_http_response_t *resp, char *errbuf, size_t errlen);

/* A request: 0 with *resp filled for a 2xx answer, else prints the problem,
 * frees *resp and returns PGD_CLI_EXIT_FAIL. `idem_key` (NULL = none) is
 * sent as Idempotency-Key, and then transient failures are retried with it.
 * timeout_ms 0 = none (streams). */
int client_call_keyed(ctx_t *c, const char *method, const char *path, const char *idem_key,
                      const char *body, size_t body_len, pgd_http_chunk_cb on_chunk, void *ud,
                      long timeout_ms, pgd_http_response_t *resp);

/* client_call_keyed without a key. */
int client_call(ctx_t *c, const char *method, const char *path, const char *body, size_t body_len,
                pgd_http_chunk_cb on_chunk, void *ud, long timeout_ms, pgd_http_response_t *resp);

/* GET path with the default timeout. */
int client_get(ctx_t *c, const char *path, pgd_http_response_t *resp);

/* GET (or `method`) a list at `path` (borrowed; NULL = out of memory) and
 * print it as a table with `printer`, or raw with --json. */
int client_list(ctx_t *c, const char *path, int (*printer)(const cJSON *, FILE *));
int client_list_with(ctx_t *c, const char *method, const char *path,
                     int (*printer)(const cJSON *, FILE *));

/* The body as JSON (the caller's), or NULL after saying it is not JSON. */
cJSON *client_parse_body(ctx_t *c, const pgd_http_response_t *resp);

/* `fmt` with one escaped path segment and a suffix (NULL = ""), e.g.
 * "/api/v1/jobs/%s%s". Returns a string the caller frees, NULL when out of
 * memory. */
char *client_path_with(const char *fmt, const char *segment, const char *suffix);

/* The body as it came, with a final newline. */
int client_print_raw(ctx_t *c, const pgd_http_response_t *resp);

/* GET path (borrowed; NULL = out of memory); print pretty JSON. */
int client_show(ctx_t *c, const char *path);

/* POST (or DELETE) path (owned; NULL = out of memory) with no body; prints
 * `done` (a format with one %s, the argument) on success. */
int client_action(ctx_t *c, const char *method, char *path, const char *done);

/* `job create FILE` and the like: POSTs the JSON object in the file named
 * by c->a->arg ("-" = stdin) to api_path; prints "NOUN NAME created". */
int client_create_from_file(ctx_t *c, const char *api_path, const char *noun);

/* An id in a JSON answer (number or decimal string) into *out: 0 or -EINVAL. */
int client_json_id(const cJSON *v, long long *out);

/* Where client_log_chunk writes a streamed body (both borrowed). */
typedef struct {
  FILE *out;
  FILE *err;
  long long received; /* bytes written to out so far: the offset a follow resumes from */
} log_sink_t;

/* A pgd_http_chunk_cb writing to the log_sink_t `ud` (flushed each chunk);
 * -1 after saying why when writing fails. */
int client_log_chunk(const char *data, size_t len, void *ud);

/* Sleeps `ns` nanoseconds, resuming after signals. */
void client_sleep_ns(long ns);

#endif
