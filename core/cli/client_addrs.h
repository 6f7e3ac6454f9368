/* Pagoda — the masters the `pagoda` CLI may talk to (docs/cli.md,
 * "Addresses"): `--addr` / PAGODA_ADDR is one API URL, a comma-separated
 * list of them ("http://m1:7080,http://m2:7080"), or
 * "zk://host:port,host:port/cluster", which is read from ZooKeeper once per
 * command (ha/zk_lookup.h): the masters' API URLs, the leader first.
 *
 * The client sends each request to the current address; when nothing
 * answers there (connection refused, host unknown; for a GET also a
 * timeout) or a standby answers 503 without naming a leader, it moves on to
 * the next address, round the list once. A standby's 503 that names the
 * leader is followed by the caller (cli/client_session.c).
 *
 * Thread rules: one list per command, used from one thread.
 */
#ifndef PAGODA_CLI_CLIENT_ADDRS_H
#define PAGODA_CLI_CLIENT_ADDRS_H

#include <stddef.h>

typedef struct pgd_cli_addrs {
  char **urls;   /* owned; n entries, each an API base URL */
  size_t n;
  size_t cur;    /* the one to try first: the last that answered */
} pgd_cli_addrs_t;

/* How long the CLI waits for ZooKeeper when resolving zk://. */
#define PGD_CLI_ZK_TIMEOUT_MS 5000

/* Fills *out from `spec` (borrowed). Empty items of a list are skipped.
 * Returns 0, or a negative errno with one sentence in err: -EINVAL (an
 * empty list, a zk:// address without "/cluster"), or the ZooKeeper
 * lookup's errors; then *out is empty (free it anyway). */
int pgd_cli_addrs_parse(const char *spec, pgd_cli_addrs_t *out, char *err, size_t errlen);

/* The address to use now (borrowed, valid until the next call here). */
const char *pgd_cli_addrs_current(const pgd_cli_addrs_t *a);

/* Moves to the next address; returns 0 when wrapped back to where this
 * request started (`start`), 1 otherwise. */
int pgd_cli_addrs_advance(pgd_cli_addrs_t *a, size_t start);

/* Frees the list (not `a` itself). NULL and an empty list are fine. */
void pgd_cli_addrs_free(pgd_cli_addrs_t *a);

#endif
