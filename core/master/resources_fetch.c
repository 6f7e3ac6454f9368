/* Pagoda master — resource downloads. When this master's disk lacks the
 * content (uploaded through another master; shared PostgreSQL store), the
 * API's download reads the blob from the store and caches it on disk on the
 * libuv thread pool, so the loop never waits for it (master/storage.h,
 * pgd_master_resource_open_async). Loop thread, except fetch_work. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "master/master_int.h"
#include "master/resources.h"
#include "master/storage.h"

#define MOD "resources"

int m_resources_open_file(const char *name, const char *path, uint64_t size, int *fdp,
                          char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size != size) {
    int e = fd < 0 ? errno : 0;
    if (fd >= 0) close(fd);
    PGD_ERROR(MOD, "resource %s: blob %s is %s", name, path, e ? strerror(e) : "of the wrong size");
    return pgd_set_err(err, errlen, -EIO,
                       "resource '%s': its stored file is missing or damaged (%s); upload it again",
                       name, e ? strerror(e) : "wrong size");
  }
  *fdp = fd;
  return 0;
}

int pgd_master_resource_open(pgd_master_t *m, const char *name, const char *want, int *fdp,
                             uint64_t *sizep, char *err, size_t errlen) {
  char hash[65], dir[4096], path[4200], werr[512];
  bool fetch = false;
  int rc = m_resources_locate(m, name, want, hash, sizep, dir, sizeof dir, path, sizeof path,
                              &fetch, err, errlen);
  if (rc < 0) return rc;
  /* a synchronous read of the store (plugin files: rare and small); the
   * API's downloads read it on the thread pool (resources_fetch.c) */
  if (fetch && m_resources_cache_blob(m->store, dir, path, hash, *sizep, werr,
                                      sizeof werr) < 0)
    PGD_WARN(MOD, "resource %s: %s", name, werr);
  return m_resources_open_file(name, path, *sizep, fdp, err, errlen);
}

typedef struct fetch {
  uv_work_t work;
  pgd_master_t *m;
  pgd_store_t *store; /* open while fetches run (m_resources_defer_close) */
  char name[136], hash[65], dir[4096], path[4200];
  uint64_t size;
  int rc;          /* the cache write's result (work output) */
  char err[512];   /* its message */
  pgd_master_resource_opened_cb cb;
  void *ud;
} fetch_t;

static void fetch_work(uv_work_t *w) {
  fetch_t *f = w->data;
  f->rc = m_resources_cache_blob(f->store, f->dir, f->path, f->hash, f->size, f->err,
                                 sizeof f->err);
}

static void fetch_after(uv_work_t *w, int status) {
  fetch_t *f = w->data;
  pgd_master_t *m = f->m;
  m->blob_fetches--;
  char err[600];
  int fd = -1;
  int rc;
  if (status < 0 || m->stopping) {
    rc = pgd_set_err(err, sizeof err, -ESHUTDOWN, "the master is stopping");
  } else {
    if (f->rc < 0) PGD_WARN(MOD, "resource %s: %s", f->name, f->err);
    else PGD_INFO(MOD, "resource %s: content %.12s read from the store", f->name, f->hash);
    rc = m_resources_open_file(f->name, f->path, f->size, &fd, err, sizeof err);
  }
  f->cb(f->ud, rc, fd, f->size, rc < 0 ? err : NULL);
  free(f);
  if (m->blob_fetches == 0 && m->blob_fetches_drained) {
    void (*cb)(int, void *) = m->blob_fetches_drained;
    m->blob_fetches_drained = NULL;
    cb(0, m->blob_fetches_drained_ud);
  }
}

bool m_resources_defer_close(pgd_master_t *m, void (*cb)(int status, void *ud), void *ud) {
  if (m->blob_fetches == 0) return false;
  m->blob_fetches_drained = cb;
  m->blob_fetches_drained_ud = ud;
  return true;
}

int pgd_master_resource_open_async(pgd_master_t *m, const char *name, const char *version,
                                   int *fd, uint64_t *size, pgd_master_resource_opened_cb cb,
                                   void *ud, char *err, size_t errlen) {
  fetch_t *f = calloc(1, sizeof *f);
  if (!f) abort();
  bool fetch = false;
  int rc = m_resources_locate(m, name, version, f->hash, &f->size, f->dir, sizeof f->dir,
                              f->path, sizeof f->path, &fetch, err, errlen);
  *size = f->size;
  if (rc == 0 && !fetch) rc = m_resources_open_file(name, f->path, f->size, fd, err, errlen);
  if (rc < 0 || !fetch) {
    free(f);
    return rc;
  }
  if (m->stopping) {
    free(f);
    return pgd_set_err(err, errlen, -ESHUTDOWN, "the master is stopping");
  }
  snprintf(f->name, sizeof f->name, "%s", name);
  f->m = m;
  f->store = m->store;
  f->cb = cb;
  f->ud = ud;
  f->work.data = f;
  rc = uv_queue_work(m->loop, &f->work, fetch_work, fetch_after);
  if (rc < 0) {
    free(f);
    return pgd_set_err(err, errlen, -EIO, "cannot queue the read of the resource: %s",
                       uv_strerror(rc));
  }
  m->blob_fetches++;
  return 1;
}
