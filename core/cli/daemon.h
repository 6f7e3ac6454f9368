/* Pagoda — the daemons behind `pagoda dev`, `pagoda master` and `pagoda worker`.
 *
 * The command line entry point (core/cli/main.c) hands every daemon command
 * to this function; the API client commands never reach it.
 */
#ifndef PAGODA_CLI_DAEMON_H
#define PAGODA_CLI_DAEMON_H

/* Runs a daemon until it is asked to stop and returns the process exit code
 * (0 on a clean stop, 1 on a runtime failure, 2 on a usage error).
 *
 * `argc`/`argv` are main()'s own, unchanged: argv[0] is the program name and
 * argv[1] is "dev", "master" or "worker"; the daemon's flags follow. Both are
 * borrowed for the call (argv may be kept, it lives as long as the process).
 * `pagoda CMD --help` / `-h` right after the command is answered by main()
 * and does not reach this function.
 * Thread rules: call once, from the main thread. */
int pgd_daemon_main(int argc, char **argv);

#endif
