/* Pagoda — where the cluster secret comes from, and keeping it out of sight
 * (docs/security.md, "The worker connection: handshake and TLS").
 *
 * Sources, first found wins: `--secret-file FILE`, the deprecated
 * `--secret S`, the environment variable PAGODA_SECRET, the config keys
 * `cluster.secret_file`, then `cluster.secret`. A secret file holds the
 * secret on its first line (a trailing newline is dropped); a file others
 * may read (mode & 077) is still used, with a WARN. A secret given with
 * --secret is visible in `ps`: it works but WARNs, and the argument is
 * overwritten in place so that /proc/PID/cmdline no longer shows it (there
 * is a window between exec and the overwrite in which it is visible).
 *
 * Nothing here logs a secret. Thread rules: start-up only, main thread.
 */
#ifndef PAGODA_CLI_DAEMON_SECRET_H
#define PAGODA_CLI_DAEMON_SECRET_H

#include <stddef.h>

/* Reads the secret in `path` into *out (malloc'd, owned by the caller;
 * wipe it with pgd_secret_free). Returns 0, or a negative errno with a
 * sentence in err (the file name, never the content): unreadable, empty, or
 * holding a NUL byte. */
int pgd_secret_read_file(const char *path, char **out, char *err, size_t errlen);

/* Overwrites every argument following a `--secret` flag in argv with '*'
 * (same length), so that ps and /proc/self/cmdline stop showing it.
 * Returns how many were scrubbed. */
int pgd_secret_scrub_argv(int argc, char **argv);

/* Wipes and frees a secret (NULL is ignored). */
void pgd_secret_free(char *secret);

#endif
