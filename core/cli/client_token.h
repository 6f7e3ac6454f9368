/* Pagoda — where the `pagoda` CLI finds its API token (docs/cli.md "Token
 * sources"), first match wins:
 *   1. --token TOKEN
 *   2. $PAGODA_TOKEN
 *   3. the file named by $PAGODA_TOKEN_FILE
 *   4. ~/.config/pagoda/token  ($XDG_CONFIG_HOME/pagoda/token when set)
 *   5. ./pagoda-dev-data/admin.token — only when the API address is a
 *      loopback one (127.0.0.1, localhost, [::1]): `pagoda dev` run in the
 *      same directory writes its admin token there, so the CLI works with no
 *      token copied by hand.
 * A token file holds the token on its first line (surrounding blanks and the
 * newline are ignored).
 *
 * Thread rules: reads the environment and files; no global state.
 */
#ifndef PAGODA_CLI_CLIENT_TOKEN_H
#define PAGODA_CLI_CLIENT_TOKEN_H

#include <stddef.h>

#include "cli/client_args.h"

/* The dev data directory's token file, relative to the working directory. */
#define PGD_CLI_DEV_TOKEN_FILE "pagoda-dev-data/admin.token"

/* The token to send to `addr` (flag_token: the --token value or NULL): a
 * new string (caller frees) and, in *source (may be NULL), a static text
 * naming where it came from; NULL when no source has one — or when a named
 * file ($PAGODA_TOKEN_FILE) cannot be read: then err says why. */
char *pgd_cli_token_resolve(const char *flag_token, const char *addr, const char **source,
                            char *err, size_t errlen);

/* The first line of the file `path`, trimmed: a new string, or NULL (errno
 * set; ENODATA for an empty file). */
char *pgd_cli_token_read_file(const char *path);

/* A time option's value `v` (--since/--until) as µs since the epoch in *us:
 * a positive integer is taken as µs, a duration ("90s", "15m", "12h", "7d",
 * "2w") as that long before now_us, anything else as RFC 3339
 * ("2026-11-22T10:00:00Z"; UTC without an offset). Returns 0, or -EINVAL
 * (nothing written) when `v` is none of these. Pure; any thread. */
int pgd_cli_time_arg(const char *v, long long now_us, long long *us);

/* "/api/v1/audit?..." from the audit options (--since DURATION|µs|RFC 3339, --by,
 * --route, --limit, --before), values percent-encoded; *since_bad is set
 * when --since is neither. A new string (caller frees), NULL when out of
 * memory. now_us: the current time, for a duration. */
char *pgd_cli_audit_path(const pgd_cli_args_t *a, long long now_us, int *since_bad);

#endif
