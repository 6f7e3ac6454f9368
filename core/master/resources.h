/* Pagoda master — resources: named, versioned files stored by content hash
 * (docs/resources.md). The upload/list/download/delete calls are in
 * master.h; this header is what the rest of the master uses. Master-internal; every function runs on the loop
 * thread (hashing and writing an upload happen on the libuv thread pool).
 *
 * On disk: <data_dir>/resources/blobs/<sha256-hex>, one file per distinct
 * content, written to a temporary file, fsynced, then renamed (and the
 * directory fsynced). Metadata: one store document per name (kind
 * "resource", id = name):
 *   {"name":"etl.jar","latest":"<hash>",
 *    "versions":[{"hash":"<hash>","size":123,"uploaded_us":...}, ...]}
 * versions in upload order; `latest` is the last one uploaded. Uploading
 * content equal to an existing version makes that version the latest again.
 *
 * A job's `resources` is an array of "name" (the latest version, resolved
 * each time an attempt is launched, so a new upload takes effect for the
 * next run) or "name@<hash>" (that version exactly).
 *
 * Added in 0.3.
 */
#ifndef PAGODA_MASTER_RESOURCES_H
#define PAGODA_MASTER_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

typedef struct pgd_master pgd_master_t;
typedef struct pgd_store pgd_store_t;

/* Validates job["resources"] (absent is fine): an array of at most 256
 * strings "name" or "name@<64 hex>", each naming an existing resource (and
 * an existing version when pinned). false with a message naming the first
 * bad entry in err. `job` borrowed. */
bool m_resources_check(pgd_master_t *m, const cJSON *job, char *err, size_t errlen);
/* Forgets the cached documents of resources (all of them when `name` is
 * NULL): done by every change of a resource and when leadership begins or
 * ends (another master may have changed them meanwhile). */
void m_resources_forget(pgd_master_t *m, const char *name);

/* The launch message's `resources` for the job definition `def` (borrowed):
 * a new array (caller owns) of {"name","hash","size"}, or NULL when the job
 * lists none. An entry that cannot be resolved any more (deleted since the
 * job was created) is {"name", "error": "..."}; the worker fails the attempt
 * with that message. */
cJSON *m_resources_for_launch(pgd_master_t *m, const cJSON *def);

/* Parses "name" or "name@hash" (spec borrowed) into name (NUL-terminated,
 * at most namecap-1 bytes) and hash (64 hex + NUL, "" when unpinned).
 * Returns false for a malformed spec. */
bool m_resources_parse_spec(const char *spec, char *name, size_t namecap, char hash[65]);

/* ---- downloads: the pieces of pgd_master_resource_open (resources.c) and
 * its asynchronous form (resources_fetch.c, master/storage.h) ---- */

/* Finds `name` at `want` (NULL = latest): hash[65], *size, the blob
 * directory and file of this master, and *fetch = true when this master's
 * disk lacks the content and the shared store holds it (PostgreSQL). Loop
 * thread. 0 or -ENOENT with err. */
int m_resources_locate(pgd_master_t *m, const char *name, const char *want, char hash[65],
                       uint64_t *size, char *dir, size_t dirlen, char *path, size_t pathlen,
                       bool *fetch, char *err, size_t errlen);
/* Reads blob `hash` from the store and writes it to `path` in `dir` (a
 * local cache copy). Any thread (store reads are thread-safe). 0 or a
 * negative errno with err. */
int m_resources_cache_blob(pgd_store_t *store, const char *dir, const char *path,
                           const char *hash, uint64_t size, char *err, size_t errlen);
/* Opens the local blob file `path` and checks its size: *fd (caller
 * closes), or -EIO with err (logged). Any thread. */
int m_resources_open_file(const char *name, const char *path, uint64_t size, int *fd,
                          char *err, size_t errlen);
/* pgd_master_stop: when downloads still read the store on the thread pool,
 * keeps cb(0, ud) (the store's close) for when the last one is done and
 * returns true; false when none runs (call cb yourself). */
bool m_resources_defer_close(pgd_master_t *m, void (*cb)(int status, void *ud), void *ud);

#endif
