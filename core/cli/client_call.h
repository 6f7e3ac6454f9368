/* Pagoda — the CLI's request helpers for commands kept in their own files
 * (client_apply.c, client_plugin.c): the same standby redirect, error
 * messages and exit codes as the commands of client.c (client_session.c).
 *
 * Thread rules: main thread only, between pgd_http_global_init() and
 * pgd_http_global_cleanup() (see http_client.h).
 */
#ifndef PAGODA_CLI_CLIENT_CALL_H
#define PAGODA_CLI_CLIENT_CALL_H

#include <stddef.h>
#include <stdio.h>

#include "cli/client_args.h"
#include "cli/http_client.h"

/* Sends one request to the API at args->addr (a standby's 503 naming the
 * leader is followed once). path: "/api/v1/..." (borrowed); body may be NULL.
 * on_chunk/ud as in pgd_http_request. Returns 0 when a 2xx answer is in
 * *resp (free it with pgd_http_response_free); otherwise prints why on
 * `err` ("pagoda: MESSAGE (HTTP 400)", "cannot reach ..."), leaves *resp
 * empty and returns PGD_CLI_EXIT_FAIL. */
int pgd_client_call(const pgd_cli_args_t *args, FILE *err, const char *method, const char *path,
                    const char *body, size_t body_len, pgd_http_chunk_cb on_chunk, void *ud,
                    pgd_http_response_t *resp);

/* pgd_client_call without the messages for an answer that is not 2xx: a
 * 404 (or any status) comes back as 0 with resp->status set, for the caller
 * to decide. Transport failures still print and return PGD_CLI_EXIT_FAIL. */
int pgd_client_call_any(const pgd_cli_args_t *args, FILE *err, const char *method,
                        const char *path, const char *body, size_t body_len,
                        pgd_http_response_t *resp);

/* Reads a whole file (at most `max` bytes) into a NUL-terminated buffer
 * owned by the caller. Returns NULL with errno set (EFBIG over max). */
char *pgd_client_read_file(const char *path, size_t max, size_t *len_out);

#endif
