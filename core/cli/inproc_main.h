/* Pagoda — the hidden `pagoda __inproc-run` mode: one in-process executor
 * run in a child of the worker (the protocol is in worker/inproc_child.h).
 *
 * Not a user command (not in the usage text): the worker starts it with
 * argv = pagoda __inproc-run PLUGIN_FILE TYPE PARAMS_FILE RESULT_FILE.
 * It loads only PLUGIN_FILE, checks that it provides TYPE, reads the params
 * JSON, calls run() with host services whose log goes to stdout, whose
 * is_cancelled turns true at SIGTERM and whose set_result is kept, then
 * writes {"rc","error","result"} to RESULT_FILE.
 */
#ifndef PAGODA_CLI_INPROC_MAIN_H
#define PAGODA_CLI_INPROC_MAIN_H

/* Runs the mode (argv[1] is PGD_INPROC_CHILD_ARG). Returns the process exit
 * code: 0 when run() returned 0, 1 when it failed or could not be started
 * (the reason is in the result file when it could be written), 2 for a
 * usage error. */
int pgd_inproc_main(int argc, char **argv);

#endif
