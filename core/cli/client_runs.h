/* Pagoda — the runs of `pagoda job run NAME --count N | --params-file FILE`
 * (docs/cli.md), as the run objects of POST /api/v1/runs (docs/api.md
 * "Batch runs"). Pure functions apart from reading the given stream; no
 * network. Reentrant; no global state. */
#ifndef PAGODA_CLI_CLIENT_RUNS_H
#define PAGODA_CLI_CLIENT_RUNS_H

#include <stdio.h>

#include <cjson/cJSON.h>

/* Runs per POST /api/v1/runs request the CLI sends (a larger --count is
 * sent as several batches, each one durable commit). */
#define PGD_CLI_RUNS_PER_BATCH 1000

/* The run objects {job, params, run_index, idempotency_key} of one `job
 * run`: `count` runs (count > 0, run_index 0..count-1, each with `params`,
 * borrowed, nullable) or, when `params_file` is given (count ignored), one
 * run per non-blank line of it, each line a JSON object of params merged
 * over `params` (run_index = the run's position, from 0). Each run's
 * idempotency key is `key_prefix` (borrowed, 1-200 chars), "-" and its
 * run_index, so that a retried batch replays instead of running twice.
 * Returns a new array (caller owns), or NULL with err ("line 3: ...").
 * `file_name` only names the file in messages. */
cJSON *pgd_cli_runs_build(const char *job, const cJSON *params, long count, FILE *params_file,
                          const char *file_name, const char *key_prefix, char *err,
                          size_t errlen);

#endif
