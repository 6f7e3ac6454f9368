/* Pagoda — worker: the resource cache. Fetches the resources a launch lists
 * from the master (GET /api/v1/resources/NAME?version=HASH), verifies their
 * SHA-256, keeps them in <data_dir>/cache/<hash>, and places them in a fresh
 * per-attempt working directory <data_dir>/work/<name>/ (docs/resources.md).
 *
 *   - A cache file is verified (size and SHA-256) every time it is used; a
 *     damaged one is counted (`corrupt`), removed and fetched again.
 *   - Concurrent fetches of the same hash share one download.
 *   - Files are placed by hard link from the cache (copied when the cache
 *     and the working directory are on different file systems). Cache files
 *     are read-only (0444), so a job cannot change them by accident through
 *     the link; if it does anyway, the next use detects it.
 *   - Downloads, verification and placing run on the libuv thread pool;
 *     nothing slow runs on the loop.
 *   - The cache is never evicted (remove files from cache/ by hand; a
 *     missing file is simply fetched again).
 *
 * Thread rules: every function on the loop thread of `loop`; callbacks run
 * there too.
 *
 * Added in 0.3.
 */
#ifndef PAGODA_WORKER_RESOURCES_H
#define PAGODA_WORKER_RESOURCES_H

#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

typedef struct pgd_rescache pgd_rescache_t;
typedef struct pgd_resfetch pgd_resfetch_t;

typedef struct pgd_rescache_stats {
  uint64_t downloads;      /* files downloaded and verified */
  uint64_t download_bytes; /* their bytes */
  uint64_t hits;           /* uses served from a verified cache file */
  uint64_t corrupt;        /* cache files found damaged (re-fetched) */
  uint64_t failures;       /* fetches that failed */
} pgd_rescache_stats_t;

/* Creates a cache whose files live under `data_dir` (copied; cache/ and
 * work/ are created on first use). Returns 0 and *out (owned by the
 * caller: pgd_rescache_close), or -EINVAL / -ENOMEM with a message. */
int pgd_rescache_new(uv_loop_t *loop, const char *data_dir, pgd_rescache_t **out, char *err,
                     size_t errlen);

/* Sets the master's HTTP address, "host:port" or "https://host:port" (copied). A wildcard or empty
 * host ("0.0.0.0", "::", "") is replaced by `fallback_host` (the host the
 * worker reaches the master's RPC on). NULL addr forgets it (fetches then
 * fail with "the master's HTTP address is unknown"). Later fetches use it. */
void pgd_rescache_set_master(pgd_rescache_t *c, const char *addr, const char *fallback_host);
/* The bearer token downloads send (the master's welcome.http_token; copied,
 * NULL = none). Loop thread; downloads already queued keep theirs. */
void pgd_rescache_set_token(pgd_rescache_t *c, const char *token);

/* The PEM CA file trusted when the master's API is HTTPS (copied; NULL or ""
 * = the system's CAs). Call before the first fetch (the worker does, at
 * start): downloads on the thread pool read it without a lock. */
void pgd_rescache_set_ca(pgd_rescache_t *c, const char *ca_file);

/* Base URL in use ("http://host:port"), or NULL. Borrowed. */
const char *pgd_rescache_master_url(const pgd_rescache_t *c);

/* Called once when a fetch ends. status 0: every resource is in `workdir`
 * (borrowed, valid during the call). Otherwise a negative code and `err`, a
 * message such as "resource 'etl.jar' (sha256 ab12cd34ef56…): HTTP 404:
 * resource 'etl.jar' not found"; -ECANCELED after pgd_resfetch_cancel. The
 * fetch is freed after the callback returns; the working directory stays
 * (on failure too) until pgd_rescache_remove_workdir. */
typedef void (*pgd_resfetch_cb)(pgd_resfetch_t *f, int status, const char *err,
                                const char *workdir, void *ud);

/* Starts fetching `resources` (borrowed; the launch message's array of
 * {"name","hash","size"} or {"name","error"}) into the working directory
 * work/<workdir_name> (made afresh: an existing one is removed first).
 * Returns 0 and *out (the handle is valid until the callback returns), or a
 * negative code with a message in err (the callback is then never called):
 * -EINVAL for a malformed entry or an entry carrying "error" (err says
 * "resource 'x': <error>"). */
int pgd_resfetch_start(pgd_rescache_t *c, const cJSON *resources, const char *workdir_name,
                       pgd_resfetch_cb cb, void *ud, pgd_resfetch_t **out, char *err,
                       size_t errlen);

/* Abandons a fetch: downloads nobody else waits for are aborted; the
 * callback still runs once, soon, with -ECANCELED. */
void pgd_resfetch_cancel(pgd_resfetch_t *f);

/* Removes a working directory (a full path as given to the callback;
 * copied) and everything in it, on the thread pool. */
void pgd_rescache_remove_workdir(pgd_rescache_t *c, const char *workdir);

/* Counters since the cache was created. */
void pgd_rescache_stats(const pgd_rescache_t *c, pgd_rescache_stats_t *out);

/* Closes the cache: aborts downloads in flight; fetches still running end
 * with -ECANCELED (their callbacks still run). Memory is freed once the
 * last piece of work on the thread pool has finished (keep running the
 * loop). NULL is a no-op. */
void pgd_rescache_close(pgd_rescache_t *c);

/* SHA-256 of the file at `path` as 64 lower-case hex digits in out (any
 * thread); *size receives its size. 0, or a negative errno. */
int pgd_rescache_hash_file(const char *path, char out[65], uint64_t *size);

#endif
