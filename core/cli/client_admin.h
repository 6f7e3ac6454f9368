/* Pagoda — the `pagoda` CLI commands on resources, schedules, tokens and
 * the audit log that need more than a list, a show or an action
 * (client_admin.c; the rest is client.c's dispatch).
 *
 * Each takes the command's context (client_session.h) and returns a
 * PGD_CLI_EXIT_* code after printing the outcome on c->out and problems on
 * c->err. Thread rules: main thread only (client_session.h).
 */
#ifndef PAGODA_CLI_CLIENT_ADMIN_H
#define PAGODA_CLI_CLIENT_ADMIN_H

#include "cli/client_session.h"

int client_token_create(ctx_t *c);
int client_audit_list(ctx_t *c);
int client_res_put(ctx_t *c);
int client_res_get(ctx_t *c);
int client_res_delete(ctx_t *c);
int client_sched_next(ctx_t *c);
int client_sched_run(ctx_t *c);

#endif
