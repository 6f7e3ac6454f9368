/* Pagoda — `pagoda dev --example`: once the daemon runs, creates the example
 * job "hello" through the REST API, runs it, and prints its log and final
 * state, exactly as a user would with curl. Runs on its own thread (it only
 * talks HTTP to the daemon's own loop). */
#ifndef PAGODA_CLI_DAEMON_EXAMPLE_H
#define PAGODA_CLI_DAEMON_EXAMPLE_H

#include <uv.h>

typedef struct pgd_example pgd_example_t;

/* Starts the example thread against `base_url` (copied), authenticating
 * with the token read from `token_file` (the dev admin token; copied path).
 * Loop thread. */
pgd_example_t *pgd_example_start(uv_loop_t *loop, const char *base_url, const char *token_file);
/* Asks the thread to stop early (safe to call more than once). */
void pgd_example_cancel(pgd_example_t *ex);
/* Joins the thread and frees it; call after the loop stopped. */
void pgd_example_free(pgd_example_t *ex);

#endif
