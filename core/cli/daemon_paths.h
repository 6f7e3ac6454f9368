/* Pagoda — where a daemon finds its files: plugins, the web console,
 * balancer and hook scripts, the configuration file and the state
 * directories (docs/operations.md, "Install layout").
 *
 * One lookup for all of them, first existing directory wins:
 *   1. what the configuration or a flag names (the caller checks that);
 *   2. NAME beside the executable: a build tree (build/plugins,
 *      build/console);
 *   3. the install location relative to the executable's directory, the
 *      relative path computed by CMake from the install layout
 *      (bin -> ../lib/pagoda/plugins, ../etc/pagoda, ...), so that
 *      `cmake --install build --prefix ANY` gives a working tree;
 *   4. the absolute install location compiled in (for a package installed
 *      under /usr, /etc/pagoda and /var/lib/pagoda are outside the prefix).
 *
 * Every function returns a string the caller frees (free()), or NULL where
 * said. Thread rules: start-up only, any single thread (reads
 * /proc/self/exe and stats files; no shared state).
 */
#ifndef PAGODA_CLI_DAEMON_PATHS_H
#define PAGODA_CLI_DAEMON_PATHS_H

/* The kinds of installed directories. */
typedef enum {
  PGD_PATH_PLUGINS, /* <libdir>/pagoda/plugins */
  PGD_PATH_CONSOLE, /* <datadir>/pagoda/console */
  PGD_PATH_CONF,    /* <sysconfdir>/pagoda: pagoda.conf, balancers/, hooks/ */
  PGD_PATH_STATE    /* <localstatedir>/lib/pagoda: master/ and worker/ below */
} pgd_path_kind_t;

/* The directory of `kind` by steps 2-4 above. `beside` (step 2) is the
 * directory name looked for next to the executable, or NULL to skip that
 * step. Returns the first that exists; when none exists, the compiled-in
 * absolute location if `or_default` is non-zero, else NULL. */
char *pgd_daemon_install_dir(pgd_path_kind_t kind, const char *beside, int or_default);

/* The configuration file read when neither --config nor PAGODA_CONFIG names
 * one: pagoda.conf in the configuration directory found relative to the
 * executable (step 3 only, and not from a build tree, recognised by its
 * plugins/ beside the executable: a build tree or an unrelated /etc never
 * configures a daemon by surprise). NULL when there is none or it cannot
 * be read by this user. */
char *pgd_daemon_default_config(void);

#endif
