/* Pagoda — usage text of the `pagoda` executable.
 * Thread rules: reentrant (writes only to the FILE * given). */
#ifndef PAGODA_CLI_CLIENT_USAGE_H
#define PAGODA_CLI_CLIENT_USAGE_H

#include <stdio.h>

/* Writes the usage of `topic` ("dev", "master", "worker", "job", "exec",
 * "plugin"; NULL for the whole program) to out (borrowed). Returns 0, or
 * -ENOENT (after writing the whole program's usage) when the topic is
 * unknown. */
int pgd_cli_usage(FILE *out, const char *topic);

/* Returns 1 when pgd_cli_usage() has a page for `topic`, 0 otherwise. */
int pgd_cli_usage_has_topic(const char *topic);

#endif
