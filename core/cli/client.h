/* Pagoda — the API client commands of the `pagoda` CLI (job, exec, worker
 * list/show/drain/undrain, plugin), over the REST API with libcurl.
 *
 * Thread rules: call from the main thread only (libcurl global state).
 */
#ifndef PAGODA_CLI_CLIENT_H
#define PAGODA_CLI_CLIENT_H

#include <stdio.h>

#include "cli/client_args.h"

/* Exit codes of the client commands. */
#define PGD_CLI_EXIT_OK 0
#define PGD_CLI_EXIT_FAIL 1  /* API error, unreachable API, run did not succeed */
#define PGD_CLI_EXIT_USAGE 2 /* bad command line */

/* Runs one client command line (main()'s argc/argv, borrowed). The address
 * comes from --addr, else $PAGODA_ADDR, else PGD_CLI_DEFAULT_ADDR. Results go
 * to stdout, messages to stderr. Returns the process exit code. */
int pgd_client_main(int argc, char **argv);

/* Runs an already parsed command (borrowed), writing results to `out` and
 * messages to `errout` (both borrowed). Performs the HTTP requests; the
 * caller must have called pgd_http_global_init(). Returns the exit code. */
int pgd_client_run(const pgd_cli_args_t *args, FILE *out, FILE *errout);

#endif
