/* Pagoda master — where logs and resources are kept, execution deletion and
 * retention (docs/store.md, docs/operations.md "Retention"). Service calls
 * for the API and the metrics; loop thread only.
 *
 * Log backend: the shared store when the store is PostgreSQL (any master
 * serves any log, also after a failover), local files under
 * <data_dir>/logs with SQLite. Added in 0.5. */
#ifndef PAGODA_MASTER_STORAGE_H
#define PAGODA_MASTER_STORAGE_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "master/master.h"

/* Like pgd_master_log_follow, for a reader that already has the first
 * `offset` bytes of the log: bytes landing below `offset` are not sent to
 * it (a client resuming with ?offset= after a failover, before the worker
 * re-sent its last reports to the new leader; docs/api.md "Logs"). */
pgd_master_follower_t *pgd_master_log_follow_from(pgd_master_t *m, int64_t id, int64_t offset,
                                                  const pgd_master_log_sink_t *sink, void *ud);

/* True when logs are kept in the shared store (PostgreSQL): any master,
 * a standby too, can read every log (docs/ha.md "Logs on a standby"). */
bool pgd_master_log_in_store(const pgd_master_t *m);

/* A log read on the thread pool (pgd_master_log_poll_start). */
typedef struct pgd_master_log_poll pgd_master_log_poll_t;
/* Its result, on the loop thread: rc 0 with the bytes from the offset asked
 * for (buf/len, borrowed for the call; len 0 = nothing new) and `final`
 * (the stored state, read before the bytes, is final); -ENOENT (no such
 * execution: final is true), -ESHUTDOWN (the master is stopping), or
 * another negative error of the store (try again later). */
typedef void (*pgd_master_log_polled_cb)(void *ud, int rc, const char *buf, size_t len,
                                         bool final);
/* Reads execution `id`'s log from `offset` as the shared store holds it
 * (without this master's unstored bytes) and its stored state, on the libuv
 * thread pool (a standby's follow: docs/ha.md "Logs on a standby"). Returns
 * 0 with *out (cb(ud, ...) follows exactly once on the loop thread, unless
 * cancelled), -ESHUTDOWN (stopping), -ENOTSUP (logs are local files) or a
 * libuv error. The master's stop waits for running reads before it closes
 * the store. Loop thread. */
int pgd_master_log_poll_start(pgd_master_t *m, int64_t id, int64_t offset,
                              pgd_master_log_polled_cb cb, void *ud,
                              pgd_master_log_poll_t **out);
/* The reader goes away: cb is never called for `p` (which is freed when its
 * read ends; do not use it after this). NULL is ignored. Loop thread. */
void pgd_master_log_poll_cancel(pgd_master_log_poll_t *p);

/* A resource download's content is ready: rc 0 with fd (the receiver
 * closes it) and size, or a negative errno with err (borrowed for the
 * call): -EIO (the content is missing), -ESHUTDOWN (stopping). */
typedef void (*pgd_master_resource_opened_cb)(void *ud, int rc, int fd, uint64_t size,
                                              const char *err);
/* pgd_master_resource_open without blocking the loop: when this master's
 * disk lacks the content (uploaded through another master, PostgreSQL), it
 * is read from the store and cached on disk on the libuv thread pool.
 * Returns 0 with *fd and *size (opened now: cb is not called), 1 (cb(ud,
 * ...) follows on the loop thread), or -ENOENT / -EIO / -ESHUTDOWN with err. */
int pgd_master_resource_open_async(pgd_master_t *m, const char *name, const char *version,
                                   int *fd, uint64_t *size, pgd_master_resource_opened_cb cb,
                                   void *ud, char *err, size_t errlen);

/* Deletes a final execution with its attempts, log and idempotency key
 * (DELETE /api/v1/executions/{id}). Returns 0 and calls done(ud, status)
 * once the deletion is durable; -ENOENT (no such execution) or -EBUSY (not
 * final yet: kill it first) with a message in err, done never called. */
int pgd_master_exec_delete(pgd_master_t *m, int64_t id, pgd_master_done_cb done, void *ud,
                           char *err, size_t errlen);

/* Figures for GET /api/v1/cluster and the metrics (a plain struct: the
 * metrics registry reads it). Sizes are negative when unknown. */
typedef struct {
  const char *log_backend;     /* "store" or "files" (static string) */
  int64_t store_bytes;         /* the database (SQLite file pages / pg_database_size) */
  int64_t log_bytes;           /* logs: the store's log_chunks table, or the local log files */
  int64_t blob_bytes;          /* resource contents in the store (0 with local files) */
  int64_t log_pending_bytes;   /* log bytes received, not yet durable in the store */
  int64_t log_chunks_written;  /* since start */
  int64_t log_bytes_written;
  int64_t log_reports_refused; /* memory limit reached: left on the workers */
  int64_t retention_deleted;   /* executions deleted by retention since start */
  int64_t retention_passes;    /* completed scans of the executions */
  int64_t retention_batch_us_max; /* longest time one cleanup batch held the loop */
  int64_t exec_deleted;        /* executions deleted through the API */
  int64_t retention_runs_deleted; /* schedule run records deleted by retention since start */
} pgd_master_storage_stats_t;

/* Fills *out. Sizes are read from the store (a few queries) and the local
 * log directory size is recomputed at most once a minute. */
void pgd_master_storage_stats(pgd_master_t *m, pgd_master_storage_stats_t *out);
/* The same as {"log_backend", "store_bytes", "log_bytes", "blob_bytes",
 * "log_pending_bytes", "retention": {...}}; caller owns. */
cJSON *pgd_master_storage_json(pgd_master_t *m);

#endif
