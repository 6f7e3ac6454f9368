/* Pagoda — `pagoda apply -f FILE|DIR [--dry-run] [--prune]` and
 * `pagoda export DIR`: definitions kept as files (client_defs.h has the
 * layout; docs/cli.md "Definitions as files").
 *
 * Thread rules: main thread only, between pgd_http_global_init() and
 * pgd_http_global_cleanup() (see http_client.h).
 */
#ifndef PAGODA_CLI_CLIENT_APPLY_H
#define PAGODA_CLI_CLIENT_APPLY_H

#include <stdio.h>

#include "cli/client_args.h"

/* Reads args->arg (a file or a directory), compares each definition with
 * the server's and prints one line per definition (created, changed with
 * the changed members, unchanged; with args->prune also deleted), then,
 * unless args->dry_run, makes those changes: resources, jobs, flows,
 * schedules in that order, deletions in the reverse order. Stops at the
 * first refused change (what was done before stays). Returns the exit code
 * (PGD_CLI_EXIT_*). args, out and err are borrowed. */
int pgd_client_apply(const pgd_cli_args_t *args, FILE *out, FILE *err);

/* Writes every job, flow, schedule and resource (its latest version) of
 * the server under args->arg (created if missing) in the layout `apply`
 * reads, in canonical form (pgd_def_canonical, pgd_def_print); files of
 * the same names are replaced, others left. Returns the exit code. */
int pgd_client_export(const pgd_cli_args_t *args, FILE *out, FILE *err);

#endif
