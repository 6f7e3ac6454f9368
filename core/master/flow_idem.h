/* Pagoda master — Idempotency-Key for flow runs (docs/api.md
 * "Idempotency-Key"): POST /api/v1/flows/{name}/run with a key that an
 * earlier flow run of the last 24 hours carried returns that flow execution
 * instead of starting another. Added in 0.6.
 *
 * Where the key lives: a store document of kind "flow_idem", id = the key,
 * {"flow", "flow_execution_id", "fingerprint", "submitted_us"}, queued right
 * after the flow execution's first write (the answer waits for both), and
 * grouped by submission day (parent "d<days since 1970>") so that the
 * hourly expiry deletes whole days. Until that document is durable the key
 * is also held in memory (a concurrent duplicate gets -EINPROGRESS).
 *
 * Thread rules: loop thread only, like master.h. */
#ifndef PAGODA_MASTER_FLOW_IDEM_H
#define PAGODA_MASTER_FLOW_IDEM_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "master/master.h"

/* pgd_master_flow_run with an Idempotency-Key (`key` NULL = none: a plain
 * run). 0 with *fexec_id and *replayed: false = a new run (done follows
 * once both its first write and the key are durable), true = the earlier
 * run with this key (done(ud, 0) has been called before the return). Negative errors, with a
 * message in err: those of pgd_master_flow_run, -EINVAL (a malformed key),
 * -EEXIST (the key was used for another flow, params or logical time),
 * -EINPROGRESS (the first run with the key is being stored: retry). */
int pgd_master_flow_run_keyed(pgd_master_t *m, const char *name, const cJSON *params,
                              int64_t logical_time_us, const char *key, int64_t *fexec_id,
                              bool *replayed, pgd_master_done_cb done, void *ud, char *err,
                              size_t errlen);

#endif
