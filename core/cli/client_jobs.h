/* Pagoda — the `pagoda` CLI commands that start runs and follow them: job
 * create/run (with --wait, --count, --params-file), execution logs, flow
 * run/rerun/status (client_jobs.c). The waits follow the event stream, else
 * poll (docs/cli.md).
 *
 * Each takes the command's context (client_session.h) and returns a
 * PGD_CLI_EXIT_* code after printing the outcome on c->out and problems on
 * c->err. Thread rules: main thread only (client_session.h).
 */
#ifndef PAGODA_CLI_CLIENT_JOBS_H
#define PAGODA_CLI_CLIENT_JOBS_H

#include "cli/client_session.h"

int client_job_create(ctx_t *c);
int client_job_run(ctx_t *c);
int client_exec_logs(ctx_t *c);
int client_flow_run(ctx_t *c);
int client_flow_rerun(ctx_t *c);
int client_flow_status(ctx_t *c);

#endif
