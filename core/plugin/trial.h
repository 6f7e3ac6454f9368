/* Pagoda — `pagoda plugin test FILE.so --params JSON`: runs one plugin's
 * master and worker halves on a params object outside any daemon, through
 * the same host code the daemons use (loader, schema check, validate,
 * expand, describe_process), and reports the result as JSON.
 * Thread rules: any thread; the plugin's init and destroy run on it. */
#ifndef PAGODA_PLUGIN_TRIAL_H
#define PAGODA_PLUGIN_TRIAL_H

#include <stdio.h>

/* Exit codes of pgd_plugin_trial (the CLI's exit codes). */
#define PGD_TRIAL_OK 0     /* every step succeeded */
#define PGD_TRIAL_FAIL 1   /* the plugin was refused, or a step failed */
#define PGD_TRIAL_USAGE 2  /* bad input: params_json not a JSON object */

/* Loads the plugin at `path` (borrowed) in a registry of its own and, with
 * `params_json` (borrowed; NULL means "{}"), runs in order:
 *   schema    the host's check of the declared schema (ABI >= 1.2)
 *   validate  the plugin's validate
 *   expand    the plugin's expand of the job {"name":"plugin-test",
 *             "type":<type>,"params":<params>}
 *   describe_process  on the expanded params (process executors only; an
 *             in-process executor's run is not started)
 * `want_type` (borrowed, may be NULL) is the job type the file must provide.
 * Prints to `out` one JSON object (pretty-printed), on success:
 *   {"ok":true, "file", "type", "version", "abi", "schema_enforced",
 *    "executor":"process"|"in_process"|null, "request":{...expanded params},
 *    "process":{"argv":[...], "env":{...}, "cwd", "user"} (process only)}
 * and on failure {"ok":false, "file", "stage":"load"|"type"|"schema"|
 * "validate"|"expand"|"describe_process", "error":"<message>"}, with the
 * same message on `errout` ("pagoda plugin test: <stage>: <message>").
 * Returns PGD_TRIAL_*. The plugin is unloaded before returning. */
int pgd_plugin_trial(const char *path, const char *params_json, const char *want_type, FILE *out,
                     FILE *errout);

#endif
