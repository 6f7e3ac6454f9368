/* Pagoda — `pagoda plugin push FILE.so`, `pagoda plugin rollback TYPE` and
 * the pushed part of `pagoda plugin list` (docs/cli.md "Plugins",
 * docs/plugins.md "Pushing a plugin").
 *
 * Thread rules: main thread only, between pgd_http_global_init() and
 * pgd_http_global_cleanup() (see http_client.h).
 */
#ifndef PAGODA_CLI_CLIENT_PLUGIN_H
#define PAGODA_CLI_CLIENT_PLUGIN_H

#include <stdio.h>

#include "cli/client_args.h"

/* Uploads args->arg (a .so; checked here first: ELF, size) with
 * PUT /api/v1/plugins and prints the version the master made active.
 * Returns the exit code. */
int pgd_client_plugin_push(const pgd_cli_args_t *args, FILE *out, FILE *err);

/* POST /api/v1/plugins/TYPE/rollback; prints the version active again. */
int pgd_client_plugin_rollback(const pgd_cli_args_t *args, FILE *out, FILE *err);

/* `plugin list`: the plugins table, then, when types were pushed, which
 * version is active and what each worker holds (or why it refused it).
 * With --json: the API's two answers, {"plugins": ..., "pushed": ...}. */
int pgd_client_plugin_list(const pgd_cli_args_t *args, FILE *out, FILE *err);

#endif
