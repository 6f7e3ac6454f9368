/* Pagoda — the process figures collector (docs/observability.md):
 * pagoda_process_resident_memory_bytes, _open_fds, _max_fds,
 * _cpu_seconds_total and _start_time_seconds, read from /proc and
 * getrusage at scrape time. Added in 0.7. Also pagoda_build_info{version,
 * allocator} (always 1; allocator "jemalloc" or "libc", asked of the
 * running process). */
#ifndef PAGODA_COMMON_METRICS_PROCESS_H
#define PAGODA_COMMON_METRICS_PROCESS_H

#include "common/metrics.h"

/* Registers the collector once per process (later calls return the same
 * handle); the start time is the time of the first call. Owner thread.
 * Returns the collector handle, or -ENOMEM. */
int pgd_metrics_process_register(pgd_metrics_t *reg);

#endif
