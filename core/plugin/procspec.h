/* Pagoda — process specification built by a process executor plugin.
 *
 * A plain struct the worker's spawner consumes: argv, extra environment,
 * working directory and user. Plugins fill it through the host services
 * process_add_arg/_set_env/_set_cwd/_set_user (core/plugin/host.c), which
 * call the functions below.
 *
 * Invariants: argv is NULL while argc == 0, otherwise argv[argc] == NULL;
 * env likewise (env[envc] == NULL), entries "KEY=VALUE" with unique keys.
 * Ownership: every string is owned by the spec and released by
 * pgd_procspec_free; every argument is copied.
 * Thread rules: a spec is used by one thread at a time.
 */
#ifndef PAGODA_PLUGIN_PROCSPEC_H
#define PAGODA_PLUGIN_PROCSPEC_H

#include <stddef.h>

typedef struct pgd_procspec {
  char **argv;  /* program and arguments; argv[argc] == NULL */
  size_t argc, argv_cap;
  char **env;   /* extra "K=V" entries on top of the worker's environment */
  size_t envc, env_cap;
  char *cwd;    /* working directory, or NULL for the worker's default */
  char *user;   /* user to run as, or NULL */
} pgd_procspec_t;

/* Makes `spec` empty. Cannot fail. */
void pgd_procspec_init(pgd_procspec_t *spec);

/* Frees every string and array of `spec` and leaves it empty (initialised
 * again, so calling it twice is safe). NULL is ignored. */
void pgd_procspec_free(pgd_procspec_t *spec);

/* Appends `arg` (copied). 0, -EINVAL (NULL spec or arg), -ENOMEM. */
int pgd_procspec_add_arg(pgd_procspec_t *spec, const char *arg);

/* Adds KEY=VALUE, replacing an existing entry for `key` (both copied).
 * 0, -EINVAL (NULL, empty key or key containing '='), -ENOMEM. */
int pgd_procspec_set_env(pgd_procspec_t *spec, const char *key, const char *value);

/* Value of `key` in spec->env (borrowed, valid until the spec changes), or
 * NULL when absent. */
const char *pgd_procspec_get_env(const pgd_procspec_t *spec, const char *key);

/* Replace cwd / user with a copy of `value`; NULL clears it.
 * 0, -EINVAL (NULL spec or empty string), -ENOMEM. */
int pgd_procspec_set_cwd(pgd_procspec_t *spec, const char *value);
int pgd_procspec_set_user(pgd_procspec_t *spec, const char *value);

#endif
