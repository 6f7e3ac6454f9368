/* Pagoda — `pagoda plugin check FILE.so`: loads one plugin file through the
 * production loader (dlopen, descriptor checks, init) in a registry of its
 * own and reports what it is and what it implements, or why it is refused.
 * Thread rules: any thread; the plugin's init and destroy run on it. */
#ifndef PAGODA_PLUGIN_CHECK_H
#define PAGODA_PLUGIN_CHECK_H

#include <stdio.h>

/* Checks the plugin at `path` (borrowed) and prints a report to `out`
 * (borrowed; stdout for the CLI):
 *   file:        ./hello.so
 *   type:        hello
 *   version:     1.0.0
 *   abi:         1.1 (host 1.1)
 *   description: Prints a greeting
 *   generator:   validate, expand
 *   executor:    process (describe_process, interpret_exit)
 *   1.1 slots:   on_output_line, describe_kill
 *   params:      name (string, default "world"): who to greet
 *   result:      ok: the plugin loads
 * or, for a refused file, "result: refused: <reason>" after the lines known.
 * Returns 0 when the plugin loads, 1 when it is refused (the CLI's exit
 * code), 2 when out of memory or path/out is NULL. The plugin is unloaded
 * (destroy, dlclose) before returning. */
int pgd_plugin_check(const char *path, FILE *out);

#endif
