/* Pagoda master — flows: the entry point other parts of the master (the
 * scheduler) use to start a flow execution. The flow engine itself is
 * core/flow (flow/flow.h); how the master stores and drives flows is in
 * flows.c and docs/flows.md. Added in 0.3 (issue 6).
 *
 * Thread: the master's loop thread only.
 */
#ifndef PAGODA_MASTER_FLOWS_H
#define PAGODA_MASTER_FLOWS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "master/master.h"

/* Starts a new execution of the stored flow `flow_name` (borrowed).
 * `params` (borrowed, nullable object) replaces keys of the flow's default
 * params; `trigger` (borrowed, nullable = "api") is recorded in the flow
 * execution ("schedule", "api", ...); `logical_time_us` (µs since the epoch,
 * 0 = now) is what ${date} and friends derive from (a schedule's fire time).
 * The flow execution's first record is queued to the store before its first
 * node executions; its first nodes are submitted before this returns.
 * Returns 0 with *flow_exec_id set (may be NULL), or -ENOENT (no such flow),
 * -EINVAL (bad params), -ESHUTDOWN (the master is stopping), with `err`
 * filled. */
int m_flow_start(pgd_master_t *m, const char *flow_name, const cJSON *params, const char *trigger,
                 int64_t logical_time_us, int64_t *flow_exec_id, char *err, size_t errlen);

#endif
