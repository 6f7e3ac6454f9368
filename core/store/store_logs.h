/* Pagoda — the store's shared storage for execution logs and resource
 * blobs, execution deletion and the retention scans (added in 0.5; schema
 * version 6; both backends). See docs/store.md "Logs and resources in the
 * store".
 *
 * Log chunks: table log_chunks (execution_id, attempt, seq, bytes, data).
 * `seq` is the chunk's byte offset in its attempt's log, so writing a chunk
 * again (a worker re-sending a report to a new leader) is an idempotent
 * insert that keeps the first copy; an attempt's log is its chunks in seq
 * order and its size is max(seq + bytes). Chunks reference their execution
 * (ON DELETE CASCADE): put the execution first (earlier in the queue is
 * enough); deleting an execution deletes its attempts and log chunks.
 * Log data is UTF-8 text without NUL bytes (what workers ship).
 *
 * Blobs: table blobs (hash, seq, bytes, data): the content whose SHA-256 is
 * `hash`, cut into chunks numbered from 0. PostgreSQL stores bytea; SQLite
 * keeps the chunks as hex text (a master on SQLite keeps resources on local
 * disk and never calls these; the SQLite side exists for the unit tests and
 * for one interface).
 *
 * Writes follow the rules of store.h (loop thread, queued, batched with the
 * other writes in order, callback on the loop thread, -EINVAL at once for a
 * bad argument, epoch fencing, retries of resource errors). Reads follow
 * store.h too (any thread, synchronous, committed data only). */
#ifndef PAGODA_STORE_STORE_LOGS_H
#define PAGODA_STORE_STORE_LOGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* Largest chunk accepted by pgd_store_put_log_chunk, and the chunk size of
 * pgd_store_put_blob. */
#define PGD_STORE_LOG_CHUNK_MAX (1024 * 1024)
#define PGD_STORE_BLOB_CHUNK (256 * 1024)

/* Queues the log bytes data[0..len) (copied) of attempt `attempt` (>= 1) of
 * execution `exec_id` (>= 1) at byte offset `offset` (>= 0) of that
 * attempt's log. len 1..PGD_STORE_LOG_CHUNK_MAX, no NUL inside. */
int pgd_store_put_log_chunk(pgd_store_t *s, int64_t exec_id, int attempt, int64_t offset,
                            const char *data, size_t len, pgd_store_done_cb cb, void *ud);

/* Array of {"attempt": n, "size": bytes} for each attempt of the execution
 * that has log chunks, by attempt. NULL on error. */
cJSON *pgd_store_log_sizes(pgd_store_t *s, int64_t exec_id);

/* The stored log of the execution from (attempt `attempt`, byte `offset`
 * in it) on, attempts concatenated in order (only that attempt when
 * `one_attempt`): appended to *buf (grown with
 * realloc; *buf may be NULL, *len its current length; the result is
 * NUL-terminated). Chunks of each attempt are taken while contiguous (a gap
 * ends that attempt). 0, or a negative -errno value (*buf keeps what it had). */
int pgd_store_read_log(pgd_store_t *s, int64_t exec_id, int attempt, int64_t offset,
                       bool one_attempt, char **buf, size_t *len);

/* Queues the blob `hash` (64 lowercase hex: the SHA-256 of data; not
 * checked here) as chunks of PGD_STORE_BLOB_CHUNK bytes, one write each; cb
 * runs once, for the last chunk (an empty blob is one empty chunk). */
int pgd_store_put_blob(pgd_store_t *s, const char *hash, const void *data, size_t len,
                       pgd_store_done_cb cb, void *ud);

/* The blob `hash` whole: a new buffer (free()) in *data and its length.
 * 0, -ENOENT when the store has no chunk of it, -EIO on a read error or
 * when its chunks are not numbered 0..n-1. */
int pgd_store_read_blob(pgd_store_t *s, const char *hash, char **data, size_t *len);

/* Deletes every chunk of blob `hash` (status 0 also when there is none). */
int pgd_store_delete_blob(pgd_store_t *s, const char *hash, pgd_store_done_cb cb, void *ud);

/* Deletes the execution `id` with its attempts and log chunks (status 0 also
 * when it does not exist). The caller checks that it is final. */
int pgd_store_delete_execution(pgd_store_t *s, int64_t id, pgd_store_done_cb cb, void *ud);

/* Retention scans: arrays of brief rows {"id", "job", "state", "attempt",
 * "submitted_us"} (members absent when NULL). NULL on error.
 *  scan:   the executions with id > after_id, by id ascending, at most
 *          `limit` (> 0) of them (any state: the caller decides);
 *  beyond: the final executions of `job` (succeeded, failed, killed,
 *          timed_out, lost) after the newest `keep` (>= 0) final ones, newest
 *          first, at most `limit`. */
cJSON *pgd_store_scan_executions(pgd_store_t *s, int64_t after_id, int limit);
cJSON *pgd_store_executions_beyond(pgd_store_t *s, const char *job, int keep, int limit);

/* Sizes in bytes: the whole database (SQLite: pages x page size;
 * PostgreSQL: pg_database_size), the log chunks and the blobs (PostgreSQL:
 * the tables with their indexes and TOAST; SQLite: the sum of the chunk
 * lengths). Negative -errno on error. */
int64_t pgd_store_size_bytes(pgd_store_t *s);
int64_t pgd_store_log_bytes(pgd_store_t *s);
int64_t pgd_store_blob_bytes(pgd_store_t *s);

#endif
