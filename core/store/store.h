/* Pagoda — the store: durable records of jobs, executions, attempts and
 * workers, behind one interface with pluggable backends (SQLite now,
 * PostgreSQL later; callers never see which).
 *
 * Records are cJSON objects. The store maps the known fields of each record
 * to columns (so that filters and indexes work) and keeps every other field
 * in a JSON `data` column, so an object read back equals the object written.
 *
 * WRITES are asynchronous and batched (group commit). A write call, made on
 * the libuv loop thread, copies what it needs from its arguments and queues
 * the write; the store's writer thread takes everything queued, applies it in
 * one transaction, commits durably (SQLite: WAL, synchronous=FULL), and hands
 * the completions back to the loop with uv_async_send. Each write's callback
 * then runs ON THE LOOP THREAD with status 0 (durable) or a negative error.
 * While one batch commits, new writes queue up for the next.
 *  - Callbacks run in the order the writes were enqueued, except that a
 *    write retried after a resource error (see "write failures" below)
 *    completes after the writes that did not wait.
 *  - Shape errors are found before enqueueing: the call returns -EINVAL and
 *    the callback is NEVER called (the libuv rule: a call that returns an
 *    error never calls its callback). Errors found while applying (e.g. an
 *    attempt whose execution does not exist) reach that write's callback as a
 *    negative status; the other writes of the same batch are not affected.
 *    If the commit itself fails, every write of the batch gets the error
 *    (a resource error: the write is retried instead, unless fail-fast).
 *  - Error codes are -errno values: -EINVAL (bad record, constraint),
 *    -ENOMEM, -EIO (I/O or corrupt database, lost database connection),
 *    -ENOSPC (disk full), -EBUSY (locked by another process beyond the busy
 *    timeout), -EROFS, -EACCES, -ESHUTDOWN (write attempted while the store
 *    is closing), -ESTALE (epoch fencing: the whole batch was refused
 *    because a newer leader took over; see pgd_store_set_epoch).
 *  - While writes are pending the store keeps the loop alive; when none are
 *    pending its uv_async handle is unreferenced, so uv_run(UV_RUN_DEFAULT)
 *    returns once every callback has run.
 *
 * READS are synchronous on the caller's thread and use a separate read
 * connection (WAL lets it read while the writer commits). They see only
 * committed data: a write is visible to reads from the moment its callback is
 * called (possibly a little earlier), never before it is committed. Reads are
 * safe from any thread (serialised by a mutex inside the store).
 *
 * Record shapes (fields other than the listed ones are kept too):
 *  job:       name (string, required), type (string); the whole object is
 *             stored; created_us and updated_us (int64 µs) are managed by the
 *             store and appear in objects read back.
 *  execution: id (integer >= 1, required, assigned by the caller), job, type,
 *             state, trigger, worker_id, error (strings), attempt, exit_code,
 *             signal (ints), params, definition (any JSON), submitted_us,
 *             dispatched_us, started_us, finished_us (int64 µs). Any field may
 *             be null or absent and reads back the same way. A member named
 *             "attempts" is ignored on write (attempts have their own
 *             records) and is filled from them by the reads that say so.
 *  attempt:   execution_id (integer >= 1) and attempt (integer >= 0), both
 *             required; worker_id, state, error (strings), exit_code, signal
 *             (ints), started_us, finished_us (int64 µs). The execution must
 *             already be stored (or be earlier in the queue), otherwise the
 *             write fails with -EINVAL in its callback.
 *  worker:    id (non-empty string, required), host, addr (strings),
 *             first_seen_us, last_seen_us (int64 µs); first_seen_us of an
 *             existing row is kept.
 * A known field holding a value of another type (e.g. "state": 3) is kept
 * as an extra field, so it still reads back as written.
 *
 * Numbers are JSON numbers (doubles): integers are exact up to 2^53, which
 * covers microsecond timestamps for the next 200 years.
 */
#ifndef PAGODA_STORE_STORE_H
#define PAGODA_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

typedef struct pgd_store pgd_store_t;

/* Completion of a write. Runs on the loop thread. status 0 = durable, else a
 * negative -errno value (see above). `ud` is the caller's pointer. */
typedef void (*pgd_store_done_cb)(int status, void *ud);

/* Opens (creating if needed) the SQLite database at `path` (a file path;
 * ":memory:" is refused because reads use a second connection), runs the
 * schema migrations it lacks (each in its own transaction; the applied
 * versions are kept in the table `pagoda_schema`), and starts the writer
 * thread. A database whose schema version is newer than this build knows is
 * refused with -ENOTSUP and a message naming both versions.
 * Call on the loop thread of `loop`. `path` is copied. On success returns 0
 * and stores the handle in *out; on failure returns a negative -errno value,
 * writes a message into err (if err != NULL, NUL-terminated, truncated to
 * errlen) and leaves *out NULL. */
int pgd_store_open_sqlite(uv_loop_t *loop, const char *path, pgd_store_t **out, char *err,
                          size_t errlen);

/* Opens the PostgreSQL database named by `conninfo` (a libpq connection
 * string or URI, e.g. "host=/run/postgresql dbname=pagoda" or
 * "postgresql://pagoda@db1:5432/pagoda"), runs the schema migrations it lacks
 * (the SAME version numbers as SQLite; each in its own transaction under a
 * PostgreSQL advisory lock, so masters opening the same database at once
 * migrate it exactly once), and starts the writer thread. Two connections
 * are made: one for the writer thread (batches are pipelined in one
 * transaction; COMMIT returns when the WAL is flushed with the server's
 * synchronous_commit), one for reads and pgd_store_acquire_epoch (under a
 * mutex). A lost connection is re-established at the next batch or read.
 * A database whose schema is newer than this build is refused (-ENOTSUP).
 * Call on the loop thread of `loop`. `conninfo` is copied. Returns 0 and
 * *out, or a negative -errno value (-ECONNREFUSED when the server cannot be
 * reached or refuses the login) with a message in err; *out stays NULL.
 * Added in 0.2. */
int pgd_store_open_postgres(uv_loop_t *loop, const char *conninfo, pgd_store_t **out, char *err,
                            size_t errlen);

/* Closes the store. Call on the loop thread, not from another thread.
 *  1. Stops accepting writes (later write calls return -ESHUTDOWN).
 *  2. Waits until the writer thread has applied and committed every write
 *     already queued, and joins it.
 *  3. Runs every callback not run yet, in order, inside this call (they may
 *     still use the read functions; they must not write).
 *  4. Closes both database connections and starts uv_close() of the store's
 *     uv_async handle.
 * The handle `s` must not be used after this returns. Its memory is freed by
 * the uv_close callback, so THE LOOP MUST RUN AT LEAST ONCE AFTERWARDS (e.g.
 * uv_run(loop, UV_RUN_NOWAIT) or UV_RUN_DEFAULT) before uv_loop_close();
 * otherwise the handle stays open and the memory leaks. May be called from
 * inside a store callback. NULL is a no-op. */
void pgd_store_close(pgd_store_t *s);

/* The backend's name: "sqlite" or "postgresql". Static string. */
const char *pgd_store_backend(const pgd_store_t *s);

/* ---- writes: loop thread only. Arguments are borrowed for the call (what is
 * needed is copied before returning). cb may be NULL. Return 0 when queued
 * (cb will be called exactly once), or a negative -errno value (cb will
 * never be called): -EINVAL for a bad argument or record shape, -ENOMEM,
 * -ESHUTDOWN while closing. */

/* Upsert by job["name"] (a non-empty string). The whole object is stored;
 * members "created_us" and "updated_us" are ignored: created_us is set to the
 * time of the call when the job is new and kept for an existing job,
 * updated_us is set to the time of the call. */
int pgd_store_put_job(pgd_store_t *s, const cJSON *job, pgd_store_done_cb cb, void *ud);

/* Deletes the job `name` (its executions stay). Deleting a job that does not
 * exist is not an error (status 0). */
int pgd_store_delete_job(pgd_store_t *s, const char *name, pgd_store_done_cb cb, void *ud);

/* Upsert by exec["id"]; the stored object is replaced as a whole. */
int pgd_store_put_execution(pgd_store_t *s, const cJSON *exec, pgd_store_done_cb cb, void *ud);

/* Upsert by (attempt["execution_id"], attempt["attempt"]); replaced whole. */
int pgd_store_put_attempt(pgd_store_t *s, const cJSON *attempt, pgd_store_done_cb cb, void *ud);

/* Upsert by worker["id"]; replaced whole except a stored first_seen_us. */
int pgd_store_put_worker(pgd_store_t *s, const cJSON *worker, pgd_store_done_cb cb, void *ud);

/* Clears the idempotency key of every execution submitted before
 * `before_us` (keys expire; docs/api.md). A write like the others. */
int pgd_store_expire_keys(pgd_store_t *s, int64_t before_us, pgd_store_done_cb cb, void *ud);

/* Calls cb once everything enqueued before it is durable (or has failed and
 * had its callback called: callbacks run in order, so every earlier
 * callback has run). status is the commit status of the batch it rode in. */
int pgd_store_flush(pgd_store_t *s, pgd_store_done_cb cb, void *ud);

/* Writes queued for the writer thread and not yet taken into a batch (the
 * metric pagoda_store_queue_depth). Any thread (takes the queue's lock:
 * for scrapes, not for hot paths). Added in 0.7. */
size_t pgd_store_queue_depth(pgd_store_t *s);

/* ---- documents (added in 0.3; schema version 3; both backends) ----------
 * A generic record for the definitions and state of later features (flows,
 * flow executions, schedules, schedule runs, resources): (kind, id) -> one
 * JSON object, stored whole (as JSON text) and read back equal.
 *  kind:   [a-z_]{1,32}, e.g. "flow", "flow_execution", "schedule".
 *  id:     a non-empty string of at most 256 bytes (any bytes but NUL).
 *  parent: NULL or a non-empty string of at most 256 bytes; groups documents
 *          for listing and for pgd_store_delete_docs (a schedule run's
 *          schedule id, a flow execution's flow name). Indexed.
 *  state:  NULL or a non-empty string of at most 256 bytes; for filtering
 *          (e.g. unfinished ones). Indexed.
 * parent and state are columns beside the object: the store never reads
 * them from the object nor adds them to it (put them in the object too if
 * readers want them there). Members "created_us" and "updated_us" of the
 * object are ignored on write; like jobs, created_us is the time of the
 * first put of (kind, id) and kept by later puts, updated_us the time of the
 * latest put; both are added to objects read back.
 * ORDER of lists: by id, DESCENDING, with this sort key: an id made of 1 to
 * 18 ASCII digits (leading zeros allowed) is "numeric" and sorts by its
 * value (ids of equal value, e.g. "7" and "007", by bytes); all numeric ids
 * come before every other id; the other ids sort by their bytes (memcmp,
 * UTF-8 byte order, not locale). So "10" > "9" > "2" > "b" > "a" > "B". The
 * numeric value is kept in the column sort_num. Writes follow the rules of
 * the other writes (loop thread; asynchronous, batched in order with them;
 * -EINVAL synchronously for a bad shape; epoch fencing applies). */

/* Upsert of (kind, id): replaces the stored object, parent and state
 * (a NULL parent or state clears it). `doc` must be a JSON object. */
int pgd_store_put_doc(pgd_store_t *s, const char *kind, const char *id, const char *parent,
                      const char *state, const cJSON *doc, pgd_store_done_cb cb, void *ud);

/* Deletes (kind, id); status 0 also when it does not exist. */
int pgd_store_delete_doc(pgd_store_t *s, const char *kind, const char *id, pgd_store_done_cb cb,
                         void *ud);

/* Deletes every document of `kind` whose parent equals `parent` (required,
 * same shape as in put); status 0 also when there is none. */
int pgd_store_delete_docs(pgd_store_t *s, const char *kind, const char *parent,
                          pgd_store_done_cb cb, void *ud);

/* ---- write failures, retries and health (added in 0.4; both backends) ----
 * A write that fails for a reason outside the record itself (a RESOURCE
 * error, pgd_store_error_is_resource: no space left, I/O error, read-only,
 * locked or unreachable database) makes the store DEGRADED and is RETRIED
 * by the writer thread, with a backoff of 0.1 s doubling up to 5 s, until
 * it is durable: its callback runs then, with status 0. So a state change
 * or a final record that hit a full disk lands once space is back, without
 * a restart. Retried writes keep their order among themselves: when one
 * write of a batch must be retried, every later write of that batch that is
 * not fail-fast is applied again after it (upserts and deletes are
 * idempotent), so two writes of one record never land out of order. Their
 * callbacks run after those of later writes that did not wait.
 * While degraded and idle, the writer probes every backoff period with a
 * small real write (the document ("store_probe", "writer")); the first
 * batch or probe that commits makes the store healthy again.
 * pgd_store_close() stops retrying: writes still failing get their error.
 * A flush (pgd_store_flush) is not retried either: it completes with the
 * resource error of its batch while earlier writes wait for their retry.
 * A write queued inside a FAIL-FAST scope (pgd_store_fail_fast) is not
 * retried: its callback gets the resource error, at once if the store is
 * already degraded (the writer skips its backoff for it). Use it for writes
 * whose caller must answer success or failure (a new execution, a new
 * definition) and must undo its in-memory change on failure. */

/* 1 when `status` (a negative -errno value) is a resource error: -ENOSPC,
 * -EIO, -EROFS, -EBUSY, -EACCES, -ENOMEM, -EAGAIN, -ECONNREFUSED,
 * -ECONNRESET, -ETIMEDOUT; else 0 (-EINVAL, -ESTALE, -ESHUTDOWN: reported,
 * never retried). Pure. */
int pgd_store_error_is_resource(int status);

/* Loop thread: sets whether the writes queued from now on are fail-fast
 * (see above) and returns the previous setting, so that a scope is
 * `bool was = pgd_store_fail_fast(s, true); ...; pgd_store_fail_fast(s, was);`.
 * NULL: no-op, false. */
bool pgd_store_fail_fast(pgd_store_t *s, bool on);

/* Loop thread: the writes queued between pgd_store_group_begin and the
 * matching pgd_store_group_end (scopes nest; the outermost end counts) are
 * handed to the writer thread together at the end, with one wake-up, and
 * applied in ONE transaction (a group is never split across batches, even
 * past the writer's batch limit), so they become durable together: a batch
 * of runs (POST /api/v1/runs) is one commit. Their callbacks run as usual,
 * one per write, in order. Do not wait for a callback inside a group (none
 * can run before its end). NULL: no-op. */
void pgd_store_group_begin(pgd_store_t *s);
void pgd_store_group_end(pgd_store_t *s);

/* ---- urgent and background writes, coalescing (added in 0.8) -------------
 * Every write is URGENT by default: the writer starts a commit as soon as
 * it is free. A write queued inside a BACKGROUND scope (pgd_store_background)
 * is one nobody waits for but an acknowledgement that may come a little
 * later (a worker's state report, the attempt row written at a dispatch):
 * the writer holds such writes for up to the GROUP WINDOW after the first
 * of them was queued, or until `max_writes` are queued, so that one commit
 * (one fsync) carries many of them. An urgent write ends the wait at once
 * and takes the held ones along, in order (the queue stays one FIFO: order,
 * callbacks and groups are unchanged). A fail-fast write and a flush are
 * always urgent; closing the store commits what is held at once.
 * Durability is unchanged: a callback still runs only once its write is
 * durable; a crash loses only writes whose callbacks have not run.
 *
 * COALESCING: within one commit, several puts of the same execution (same
 * id) or of the same attempt (same execution id and attempt number) are
 * applied as ONE statement carrying the newest version, at the place of
 * the first of them (so an attempt row still follows its execution row).
 * Every write still gets its callback, in order, with the status of that
 * one statement. A write that may touch those rows otherwise (expiring keys,
 * deleting an execution) ends the run: puts before and after it are not
 * merged. Other kinds (jobs, workers, documents: their upserts keep a
 * stored created_us / first_seen_us) are never merged. Both backends. */

/* Loop thread: sets whether the writes queued from now on are background
 * writes and returns the previous setting (a scope, like
 * pgd_store_fail_fast). NULL: no-op, false. */
bool pgd_store_background(pgd_store_t *s, bool on);

/* The default group window (µs) and batch size that end a wait early. */
#define PGD_STORE_GROUP_WINDOW_DEFAULT_US 5000
#define PGD_STORE_GROUP_MAX_WRITES_DEFAULT 512

/* Any thread: sets the group window. window_us <= 0: background writes are
 * committed like urgent ones (no waiting; the behaviour before 0.8);
 * max_writes == 0 keeps the current limit. Takes effect for the next wait.
 * NULL: no-op. */
void pgd_store_set_group_window(pgd_store_t *s, int64_t window_us, size_t max_writes);

/* What the writer thread did since the store was opened (for /metrics and
 * tests; the coordinator wires it). */
typedef struct {
  uint64_t commits;      /* batches applied, each one transaction */
  uint64_t writes;       /* writes in them (flushes and health probes included) */
  uint64_t rows;         /* statements applied after coalescing */
  uint64_t coalesced;    /* writes merged into a later write of the same row */
  uint64_t held;         /* batches committed when a group window ended */
  uint64_t urgent;       /* batches that carried an urgent write */
} pgd_store_writer_stats_t;

/* Any thread (takes the queue's lock): copies the counters into *out.
 * NULL store: zeros. */
void pgd_store_writer_stats(pgd_store_t *s, pgd_store_writer_stats_t *out);

/* Any thread: 0 when the last write batch committed (or none failed yet),
 * else the resource error (negative -errno) of the last failing one, with a
 * one-line reason copied into `reason` (NUL-terminated, truncated to
 * reasonlen; NULL allowed). -EINVAL for NULL. */
int pgd_store_health(pgd_store_t *s, char *reason, size_t reasonlen);

/* ---- reads: any thread. Return new objects owned by the caller (free with
 * cJSON_Delete); NULL when not found or on error (errors are logged).
 * String arguments are borrowed for the call. */

/* The job object as put, plus "created_us" and "updated_us". */
cJSON *pgd_store_get_job(pgd_store_t *s, const char *name);

/* Array of all jobs ordered by name (empty array when none). */
cJSON *pgd_store_list_jobs(pgd_store_t *s);

/* The execution with "attempts": an array (possibly empty) of its attempt
 * objects ordered by attempt number. */
cJSON *pgd_store_get_execution(pgd_store_t *s, int64_t id);

/* Array of executions, newest (highest id) first, without "attempts".
 * job / state: only those equal to it (NULL = any); limit <= 0: no limit;
 * before_id > 0: only ids below it (paging). */
cJSON *pgd_store_list_executions(pgd_store_t *s, const char *job, const char *state, int limit,
                                 int64_t before_id);

/* Idempotency keys (added in 0.4; schema version 4): an execution's member
 * "idempotency_key" (a string) is a column of its row, indexed, written in
 * the same statement as the rest of the record. This returns the newest
 * execution (without "attempts") whose key equals `key` and whose submitted_us
 * is at or after `since_us`; NULL when there is none or on error. */
cJSON *pgd_store_find_execution_by_key(pgd_store_t *s, const char *key, int64_t since_us);

/* Array of executions whose state is pending, dispatched or running, oldest
 * id first, each with "attempts" (for recovery after a restart). */
cJSON *pgd_store_list_unfinished_executions(pgd_store_t *s);

/* Array of all workers ordered by id. */
cJSON *pgd_store_list_workers(pgd_store_t *s);

/* The document (kind, id): the object as put plus "created_us" and
 * "updated_us"; NULL when there is none, on error, or for a bad kind / id. */
cJSON *pgd_store_get_doc(pgd_store_t *s, const char *kind, const char *id);

/* Array of the documents of `kind` (objects as in get_doc), in the order
 * described above (id descending by its sort key). parent / state: only
 * those equal to it (NULL = any); limit <= 0: no limit; before_id (NULL or
 * "" = none): only documents that come AFTER the document with this id in
 * that order (i.e. below it: pass the last id of a page to get the next
 * page; the id need not exist). NULL for a bad kind or on error. */
cJSON *pgd_store_list_docs(pgd_store_t *s, const char *kind, const char *parent,
                           const char *state, int limit, const char *before_id);

/* Highest stored execution id; 0 when there is none; negative -errno value
 * on error. */
int64_t pgd_store_max_execution_id(pgd_store_t *s);

/* The highest id of an execution submitted before `before_us` (µs since the
 * epoch, by its submitted_us); 0 when there is none; negative -errno value on
 * error. Executions are numbered in the order they are submitted, so this
 * turns a time bound into an id bound for pgd_store_list_executions; it
 * walks the id index down from the newest (cheap for recent times). */
int64_t pgd_store_last_execution_before(pgd_store_t *s, int64_t before_us);

/* Latest schema version of the open database (for diagnostics). */
int pgd_store_schema_version(pgd_store_t *s);

/* ---- epoch fencing (added in 0.2; both backends) -------------------------
 * The database holds one cluster epoch (table `cluster`, migration 2,
 * starting at 0). A newly elected leader calls pgd_store_acquire_epoch(),
 * which increments it atomically and returns the new value, then
 * pgd_store_set_epoch() with that value. From then on every write batch of
 * this store checks, inside its own transaction, that the stored epoch still
 * equals this store's epoch; if not (a newer leader acquired a higher one),
 * nothing of the batch is stored and every write of it completes with
 * -ESTALE (logged as an error). The check holds a lock on the epoch row
 * until the batch commits (SQLite: the database write lock of BEGIN
 * IMMEDIATE; PostgreSQL: SELECT ... FOR SHARE), so an acquire waits for a
 * batch in progress: every batch of epoch e that commits is ordered before
 * the acquisition of e+1 returns. See docs/store.md. */

/* Increments the cluster epoch in the database and stores the new value in
 * *epoch_out. Synchronous (one transaction, waits for a batch in progress
 * as said above); any thread; does NOT change this store's epoch (call
 * pgd_store_set_epoch). Returns 0, or a negative -errno value with a message
 * in err (NULL allowed). */
int pgd_store_acquire_epoch(pgd_store_t *s, int64_t *epoch_out, char *err, size_t errlen);

/* Sets the epoch that later write batches must match (0 = no fencing, the
 * default: a single master). Batches that start after this call use it,
 * including ones holding writes enqueued before it. Any thread. NULL is a
 * no-op. */
void pgd_store_set_epoch(pgd_store_t *s, int64_t epoch);

/* This store's epoch as set by pgd_store_set_epoch (0 when never set);
 * -EINVAL for NULL. Any thread. */
int64_t pgd_store_epoch(const pgd_store_t *s);

#endif
