/* Pagoda master — resources: upload, list, download and delete of named,
 * versioned files stored by content hash (resources.h, docs/resources.md). */
#include "master/resources.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/names.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "master/logs_int.h"
#include "master/master_int.h"
#include "store/store_logs.h"

#define MOD "resources"
#define DOC_KIND "resource"
#define MAX_JOB_RESOURCES 256

/* ---- names, hashes, paths ------------------------------------------------ */

bool pgd_master_resource_name_ok(const char *s, size_t n) { return pgd_path_name_ok(s, n, 128); }

static bool valid_hash(const char *h) {
  if (strlen(h) != 64) return false;
  for (int i = 0; i < 64; i++)
    if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return false;
  return true;
}

bool m_resources_parse_spec(const char *spec, char *name, size_t namecap, char hash[65]) {
  hash[0] = '\0';
  const char *at = strchr(spec, '@');
  size_t n = at ? (size_t)(at - spec) : strlen(spec);
  if (!pgd_master_resource_name_ok(spec, n) || n >= namecap) return false;
  memcpy(name, spec, n);
  name[n] = '\0';
  if (at) {
    if (!valid_hash(at + 1)) return false;
    memcpy(hash, at + 1, 65);
  }
  return true;
}

static void sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
    out[0] = '\0';
    return;
  }
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void blob_dir(const pgd_master_t *m, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/resources/blobs", m->data_dir);
}

static void blob_path(const pgd_master_t *m, const char *hash, char *buf, size_t cap) {
  snprintf(buf, cap, "%s/resources/blobs/%s", m->data_dir, hash);
}

static int mkdir_p(const char *path) {
  char tmp[4096];
  size_t n = strlen(path);
  if (n >= sizeof tmp) return -ENAMETOOLONG;
  memcpy(tmp, path, n + 1);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -errno; /* under the data dir */
    *p = '/';
  }
  if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -errno;
  return 0;
}

static int write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Makes blobs/<hash> hold `data` (any thread). Nothing is written when a
 * blob of that size is there already. */
static int blob_write(const char *dir, const char *path, const char *data, size_t len,
                      char *err, size_t errlen) {
  struct stat st;
  if (stat(path, &st) == 0 && (size_t)st.st_size == len) return 0;
  int rc = mkdir_p(dir);
  if (rc < 0) {
    snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
    return rc;
  }
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s/.upload-XXXXXX", dir);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    rc = -errno;
    snprintf(err, errlen, "cannot create a file in %s: %s", dir, strerror(-rc));
    return rc;
  }
  rc = write_all(fd, data, len);
  if (rc == 0 && fsync(fd) != 0) rc = -errno;
  if (close(fd) != 0 && rc == 0) rc = -errno;
  if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
  if (rc < 0) {
    unlink(tmp);
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(-rc));
    return rc;
  }
  int dfd = open(dir, O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return 0;
}

/* ---- metadata ------------------------------------------------------------ */

static const cJSON *find_version(const cJSON *doc, const char *hash) {
  const cJSON *v;
  cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "versions")) {
    const char *h = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "hash"));
    if (h && strcmp(h, hash) == 0) return v;
  }
  return NULL;
}

static double num(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* The version a request means: ?version=H, else the latest. */
static const cJSON *pick_version(const cJSON *doc, const char *hash) {
  if (!hash || !*hash)
    hash = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "latest"));
  return hash ? find_version(doc, hash) : NULL;
}

static cJSON *version_view(const char *name, const cJSON *v, bool latest) {
  char buf[40];
  cJSON *o = cJSON_CreateObject();
  const char *hash = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "hash"));
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddStringToObject(o, "version", hash ? hash : "");
  cJSON_AddStringToObject(o, "hash", hash ? hash : "");
  cJSON_AddNumberToObject(o, "size", num(v, "size"));
  cJSON_AddNumberToObject(o, "uploaded_us", num(v, "uploaded_us"));
  cJSON_AddStringToObject(o, "uploaded_at", pgd_format_time_us((int64_t)num(v, "uploaded_us"), buf, sizeof buf));
  cJSON_AddBoolToObject(o, "latest", latest);
  return o;
}

/* The API view of one resource: its latest version and how many there are;
 * with `all`, every version (newest first). */
static cJSON *resource_view(const cJSON *doc, bool all) {
  const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "name"));
  const char *latest = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "latest"));
  const cJSON *versions = cJSON_GetObjectItemCaseSensitive(doc, "versions");
  const cJSON *lv = pick_version(doc, NULL);
  char buf[40];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name ? name : "");
  cJSON_AddStringToObject(o, "latest", latest ? latest : "");
  cJSON_AddNumberToObject(o, "size", num(lv, "size"));
  cJSON_AddNumberToObject(o, "versions_count", cJSON_GetArraySize(versions));
  cJSON_AddStringToObject(o, "updated_at", pgd_format_time_us((int64_t)num(lv, "uploaded_us"), buf, sizeof buf));
  if (all) {
    cJSON *arr = cJSON_AddArrayToObject(o, "versions");
    for (int i = cJSON_GetArraySize(versions) - 1; i >= 0; i--) {
      const cJSON *v = cJSON_GetArrayItem(versions, i);
      const char *h = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "hash"));
      cJSON_AddItemToArray(arr, version_view(name ? name : "", v, h && latest && !strcmp(h, latest)));
    }
  }
  return o;
}

/* 1 when some resource still has a version with this hash. */
static bool hash_in_use(pgd_master_t *m, const char *hash) {
  cJSON *all = pgd_store_list_docs(m->store, DOC_KIND, NULL, NULL, 0, NULL);
  bool used = all == NULL; /* on a read error keep the blob */
  const cJSON *d;
  cJSON_ArrayForEach(d, all) if (find_version(d, hash)) used = true;
  cJSON_Delete(all);
  return used;
}

/* ---- upload -------------------------------------------------------------- */

struct pgd_master_upload {
  uv_work_t work;
  pgd_master_t *m;
  pgd_master_upload_cb cb;
  void *ud;
  char name[136];
  char *body;          /* owned (taken from the caller) */
  size_t len;
  char hash[65];
  char dir[4096], path[4200];
  int rc;
  char err[512];
  bool created;        /* a new version rather than a known one */
  int64_t uploaded_us;
  /* streamed (pgd_master_upload_begin): */
  bool streamed;
  int fd;              /* the temporary file, -1 once closed */
  char tmp[4200];      /* its path; removed when the upload ends */
  EVP_MD_CTX *md;
  uint64_t announced;  /* counted in m->upload_bytes_inflight */
  /* shared storage (PostgreSQL): the content, read on the thread pool, is
   * queued to the store before the metadata that names it */
  bool shared;
  char *copy;
  size_t copy_len;
};
typedef struct pgd_master_upload upload_t;

static void upload_free(upload_t *u) {
  free(u->body);
  free(u->copy);
  if (u->streamed) {
    if (u->fd >= 0) close(u->fd);
    if (u->tmp[0]) unlink(u->tmp);
    EVP_MD_CTX_free(u->md);
    u->m->uploads_active--;
    u->m->upload_bytes_inflight -= u->announced;
  }
  free(u);
}

/* Streamed: the temporary file becomes blobs/<hash> by a hard link (the
 * temporary name stays until the upload ends, so the blob can be linked
 * again if a concurrent delete removes it before the metadata commit). */
static int link_blob(upload_t *u, char *err, size_t errlen) {
  if (link(u->tmp, u->path) == 0 || errno == EEXIST) return 0;
  int rc = -errno;
  snprintf(err, errlen, "cannot create blob %.64s: %s", u->hash, strerror(-rc));
  return rc;
}

/* Thread pool: the blob's content for the store (shared storage). */
static void read_copy(upload_t *u) {
  if (!u->shared || u->rc < 0) return;
  int fd = open(u->path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    u->rc = -EIO;
    snprintf(u->err, sizeof u->err, "cannot read the blob back for the store");
    if (fd >= 0) close(fd);
    return;
  }
  u->copy = malloc((size_t)st.st_size + 1);
  if (!u->copy) abort();
  ssize_t n = 0;
  while ((size_t)n < (size_t)st.st_size) {
    ssize_t r = pread(fd, u->copy + n, (size_t)st.st_size - (size_t)n, n);
    if (r <= 0) break;
    n += r;
  }
  close(fd);
  if ((size_t)n != (size_t)st.st_size) {
    u->rc = -EIO;
    snprintf(u->err, sizeof u->err, "cannot read the blob back for the store");
    return;
  }
  u->copy_len = (size_t)n;
}

static void stream_work(uv_work_t *w) {
  upload_t *u = w->data;

  if (fsync(u->fd) != 0) {
    u->rc = -errno;
    snprintf(u->err, sizeof u->err, "cannot write the upload: %s", strerror(-u->rc));
    return;
  }
  struct stat st;
  if (stat(u->path, &st) == 0 && (uint64_t)st.st_size == u->len) { /* known content */
    read_copy(u);
    return;
  }
  unlink(u->path); /* a partial file of another size: replace it */
  u->rc = link_blob(u, u->err, sizeof u->err);
  if (u->rc == 0) {
    int dfd = open(u->dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
      fsync(dfd);
      close(dfd);
    }
  }
  read_copy(u);
}

static void upload_work(uv_work_t *w) {
  upload_t *u = w->data;
  sha256_hex(u->body ? u->body : "", u->len, u->hash);
  if (!u->hash[0]) {
    u->rc = -EIO;
    snprintf(u->err, sizeof u->err, "SHA-256 failed (libcrypto)");
    return;
  }
  snprintf(u->path, sizeof u->path, "%s/%s", u->dir, u->hash);
  u->rc = blob_write(u->dir, u->path, u->body ? u->body : "", u->len, u->err, sizeof u->err);
  read_copy(u);
}

static void upload_durable(int status, void *ud) {
  upload_t *u = ud;
  m_resources_forget(u->m, u->name);
  if (status == 0) {
    /* A concurrent DELETE of another name with the same content may have
     * removed the blob between our write and this commit: write it again. */
    char err[512];
    struct stat st;
    if (stat(u->path, &st) != 0 &&
        (u->streamed ? link_blob(u, err, sizeof err)
                     : blob_write(u->dir, u->path, u->body ? u->body : "", u->len, err, sizeof err)) < 0) {
      PGD_ERROR(MOD, "resource %s: %s", u->name, err);
      status = -EIO;
    }
  }
  if (status < 0) {
    char err[600];
    snprintf(err, sizeof err, "the store could not save resource '%s' (%s)", u->name,
             strerror(-status));
    u->cb(u->ud, status, NULL, err);
  } else {
    cJSON *ver = cJSON_CreateObject();
    cJSON_AddStringToObject(ver, "hash", u->hash);
    cJSON_AddNumberToObject(ver, "size", (double)u->len);
    cJSON_AddNumberToObject(ver, "uploaded_us", (double)u->uploaded_us);
    cJSON *out = version_view(u->name, ver, true);
    cJSON_Delete(ver);
    u->cb(u->ud, u->created ? 1 : 0, out, NULL);
    cJSON_Delete(out);
    PGD_INFO(MOD, "resource %s: version %.12s (%zu bytes)%s", u->name, u->hash, u->len,
             u->created ? "" : " (same content as an earlier version)");
  }
  upload_free(u);
}

static void upload_after(uv_work_t *w, int status) {
  upload_t *u = w->data;
  pgd_master_t *m = u->m;
  if (status < 0 && u->rc == 0) {
    u->rc = status;
    snprintf(u->err, sizeof u->err, "%s", uv_strerror(status));
  }
  if (u->rc < 0 || m->stopping) {
    char err[700];
    if (u->rc < 0) {
      PGD_ERROR(MOD, "resource %s: %s", u->name, u->err);
      snprintf(err, sizeof err, "cannot store resource '%s': %s", u->name, u->err);
    } else {
      snprintf(err, sizeof err, "the master is shutting down");
    }
    u->cb(u->ud, u->rc < 0 ? u->rc : -ESHUTDOWN, NULL, err);
    upload_free(u);
    return;
  }
  /* Metadata: read, add (or move to the end) the version, write. Loop
   * thread, so two uploads of one name cannot interleave here. */
  cJSON *doc = pgd_store_get_doc(m->store, DOC_KIND, u->name);
  if (!doc) {
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "name", u->name);
  }
  cJSON_DeleteItemFromObjectCaseSensitive(doc, "created_us");
  cJSON_DeleteItemFromObjectCaseSensitive(doc, "updated_us");
  cJSON *versions = cJSON_GetObjectItemCaseSensitive(doc, "versions");
  if (!cJSON_IsArray(versions)) {
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "versions");
    versions = cJSON_AddArrayToObject(doc, "versions");
  }
  u->created = true;
  for (int i = 0; i < cJSON_GetArraySize(versions); i++) {
    const char *h = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(versions, i), "hash"));
    if (h && strcmp(h, u->hash) == 0) {
      cJSON_DeleteItemFromArray(versions, i);
      u->created = false;
      break;
    }
  }
  u->uploaded_us = pgd_now_us();
  cJSON *ver = cJSON_CreateObject();
  cJSON_AddStringToObject(ver, "hash", u->hash);
  cJSON_AddNumberToObject(ver, "size", (double)u->len);
  cJSON_AddNumberToObject(ver, "uploaded_us", (double)u->uploaded_us);
  cJSON_AddItemToArray(versions, ver);
  cJSON_DeleteItemFromObjectCaseSensitive(doc, "latest");
  cJSON_AddStringToObject(doc, "latest", u->hash);
  m_resources_forget(m, u->name);
  int rc = 0;
  if (u->shared) { /* the content first: same queue, so it is durable no later than the name */
    rc = pgd_store_put_blob(m->store, u->hash, u->copy, u->copy_len, NULL, NULL);
    free(u->copy);
    u->copy = NULL;
  }
  if (rc == 0) rc = pgd_store_put_doc(m->store, DOC_KIND, u->name, NULL, NULL, doc, upload_durable, u);
  cJSON_Delete(doc);
  if (rc < 0) upload_durable(rc, u); /* a refused write never calls back */
}

int pgd_master_resource_put(pgd_master_t *m, const char *name, char *body, size_t len,
                            pgd_master_upload_cb cb, void *ud, char *err, size_t errlen) {
  upload_t *u = calloc(1, sizeof *u);
  if (!u) {
    free(body);
    return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  }
  u->m = m;
  u->cb = cb;
  u->ud = ud;
  snprintf(u->name, sizeof u->name, "%s", name);
  u->body = body;
  u->len = len;
  u->shared = m_log_shared_enabled(m);
  blob_dir(m, u->dir, sizeof u->dir);
  u->work.data = u;
  int rc = uv_queue_work(m->loop, &u->work, upload_work, upload_after);
  if (rc < 0) {
    upload_free(u);
    return pgd_set_err(err, errlen, rc, "cannot queue the upload: %s", uv_strerror(rc));
  }
  return 0;
}

/* ---- streamed upload ------------------------------------------------------ */

int pgd_master_upload_begin(pgd_master_t *m, uint64_t size, pgd_master_upload_t **out,
                            int *retry_after_s, char *err, size_t errlen) {
  *out = NULL;
  if (retry_after_s) *retry_after_s = 1;
  if (m->stopping) return pgd_set_err(err, errlen, -ESHUTDOWN, "the master is shutting down");
  uint64_t cap = m->cfg.upload_max_inflight_bytes > 0 ? (uint64_t)m->cfg.upload_max_inflight_bytes : 0;
  if ((m->cfg.upload_max_concurrent > 0 && m->uploads_active >= m->cfg.upload_max_concurrent) ||
      (cap && m->upload_bytes_inflight > 0 && m->upload_bytes_inflight + size > cap)) {
    if (retry_after_s) *retry_after_s = 2;
    return pgd_set_err(err, errlen, -EBUSY,
                       "%d uploads (%llu bytes) in progress: over the limits "
                       "(master.http.max_concurrent_uploads, max_upload_bytes_in_flight)",
                       m->uploads_active, (unsigned long long)m->upload_bytes_inflight);
  }
  upload_t *u = calloc(1, sizeof *u);
  if (!u) return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  u->m = m;
  u->fd = -1;
  u->shared = m_log_shared_enabled(m);
  blob_dir(m, u->dir, sizeof u->dir);
  int rc = mkdir_p(u->dir);
  if (rc < 0) {
    pgd_set_err(err, errlen, rc, "cannot create %s: %s", u->dir, strerror(-rc));
    free(u); /* after the message, which names u->dir */
    return rc;
  }
  snprintf(u->tmp, sizeof u->tmp, "%s/.upload-XXXXXX", u->dir);
  u->fd = mkstemp(u->tmp);
  u->md = EVP_MD_CTX_new();
  if (u->fd < 0 || !u->md || !EVP_DigestInit_ex(u->md, EVP_sha256(), NULL)) {
    rc = u->fd < 0 ? -errno : -EIO;
    if (u->fd >= 0) {
      close(u->fd);
      unlink(u->tmp);
    }
    EVP_MD_CTX_free(u->md);
    free(u);
    return pgd_set_err(err, errlen, rc, "cannot start the upload in %s: %s", "the blob directory",
                       strerror(-rc));
  }
  u->streamed = true;
  u->announced = size;
  m->uploads_active++;
  m->upload_bytes_inflight += size;
  *out = u;
  return 0;
}

int pgd_master_upload_write(pgd_master_upload_t *u, const void *data, size_t len) {
  int rc = write_all(u->fd, data, len);
  if (rc < 0) return rc;
  if (!EVP_DigestUpdate(u->md, data, len)) return -EIO;
  u->len += len;
  return 0;
}

void pgd_master_upload_discard(pgd_master_upload_t *u) {
  if (u) upload_free(u);
}

int pgd_master_upload_finish(pgd_master_upload_t *u, const char *name, pgd_master_upload_cb cb,
                             void *ud, char *err, size_t errlen) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!EVP_DigestFinal_ex(u->md, md, &mdlen) || mdlen != 32) {
    upload_free(u);
    return pgd_set_err(err, errlen, -EIO, "SHA-256 failed (libcrypto)");
  }
  for (int i = 0; i < 32; i++) snprintf(u->hash + 2 * i, 3, "%02x", md[i]);
  snprintf(u->path, sizeof u->path, "%s/%s", u->dir, u->hash);
  snprintf(u->name, sizeof u->name, "%s", name);
  u->cb = cb;
  u->ud = ud;
  u->work.data = u;
  int rc = uv_queue_work(u->m->loop, &u->work, stream_work, upload_after);
  if (rc < 0) {
    upload_free(u);
    return pgd_set_err(err, errlen, rc, "cannot queue the upload: %s", uv_strerror(rc));
  }
  return 0;
}

/* ---- download, list, delete ---------------------------------------------- */

int m_resources_locate(pgd_master_t *m, const char *name, const char *want, char hash[65],
                       uint64_t *size, char *dir, size_t dirlen, char *path, size_t pathlen,
                       bool *fetch, char *err, size_t errlen) {
  cJSON *doc = pgd_store_get_doc(m->store, DOC_KIND, name);
  if (!doc) return pgd_set_err(err, errlen, -ENOENT, "resource '%s' not found", name);
  const cJSON *v = pick_version(doc, want);
  if (!v) {
    cJSON_Delete(doc);
    return pgd_set_err(err, errlen, -ENOENT, "resource '%s' has no version '%s'", name,
                       want ? want : "");
  }
  const char *h = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "hash"));
  snprintf(hash, 65, "%s", h ? h : "");
  *size = (uint64_t)num(v, "size");
  cJSON_Delete(doc);
  blob_path(m, hash, path, pathlen);
  blob_dir(m, dir, dirlen);
  struct stat cached;
  /* uploaded through another master: this master's disk is a cache of the
   * store */
  *fetch = m_log_shared_enabled(m) && hash[0] &&
           (stat(path, &cached) != 0 || (uint64_t)cached.st_size != *size);
  return 0;
}

int m_resources_cache_blob(pgd_store_t *store, const char *dir, const char *path,
                           const char *hash, uint64_t size, char *err, size_t errlen) {
  char *data = NULL;
  size_t dlen = 0;
  int rc = pgd_store_read_blob(store, hash, &data, &dlen);
  if (rc == 0 && dlen == size) {
    rc = blob_write(dir, path, data, dlen, err, errlen);
  } else {
    snprintf(err, errlen, "the store has no copy of %.12s (%s)", hash,
             rc < 0 ? strerror(-rc) : "wrong size");
    if (rc == 0) rc = -EIO;
  }
  free(data);
  return rc;
}

cJSON *pgd_master_resources_list(pgd_master_t *m) {
  cJSON *all = pgd_store_list_docs(m->store, DOC_KIND, NULL, NULL, 0, NULL);
  if (!all) return NULL;
  cJSON *arr = cJSON_CreateArray();
  /* the store lists ids descending: reverse for name order */
  for (int i = cJSON_GetArraySize(all) - 1; i >= 0; i--)
    cJSON_AddItemToArray(arr, resource_view(cJSON_GetArrayItem(all, i), false));
  cJSON_Delete(all);
  return arr;
}

cJSON *pgd_master_resource_versions(pgd_master_t *m, const char *name) {
  cJSON *doc = pgd_store_get_doc(m->store, DOC_KIND, name);
  if (!doc) return NULL;
  cJSON *v = resource_view(doc, true);
  cJSON_Delete(doc);
  return v;
}

typedef struct del {
  pgd_master_t *m;
  pgd_master_done_cb done;
  void *ud;
  cJSON *hashes; /* array of hashes no longer listed by this name */
} del_t;

static void del_durable(int status, void *ud) {
  del_t *d = ud;
  m_resources_forget(d->m, NULL); /* (the name is not kept: forget them all) */
  if (status == 0) {
    /* Blobs nobody lists any more go (the store read sees this commit). */
    const cJSON *h;
    cJSON_ArrayForEach(h, d->hashes) {
      if (!cJSON_IsString(h) || hash_in_use(d->m, h->valuestring)) continue;
      char path[4200];
      blob_path(d->m, h->valuestring, path, sizeof path);
      if (unlink(path) != 0 && errno != ENOENT)
        PGD_WARN(MOD, "cannot remove %s: %s", path, strerror(errno));
      if (m_log_shared_enabled(d->m)) pgd_store_delete_blob(d->m->store, h->valuestring, NULL, NULL);
    }
  }
  d->done(d->ud, status);
  cJSON_Delete(d->hashes);
  free(d);
}

int pgd_master_resource_delete(pgd_master_t *m, const char *name, const char *want,
                               cJSON **answer, pgd_master_done_cb done, void *ud, char *err,
                               size_t errlen) {
  cJSON *doc = pgd_store_get_doc(m->store, DOC_KIND, name);
  if (!doc) return pgd_set_err(err, errlen, -ENOENT, "resource '%s' not found", name);
  cJSON *versions = cJSON_GetObjectItemCaseSensitive(doc, "versions");
  int idx = -1;
  if (want && *want) {
    for (int i = 0; i < cJSON_GetArraySize(versions); i++) {
      const char *h = cJSON_GetStringValue(
          cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(versions, i), "hash"));
      if (h && strcmp(h, want) == 0) idx = i;
    }
    if (idx < 0) {
      cJSON_Delete(doc);
      return pgd_set_err(err, errlen, -ENOENT, "resource '%s' has no version '%s'", name, want);
    }
  }
  m_resources_forget(m, name);
  del_t *d = calloc(1, sizeof *d);
  if (!d) abort();
  *d = (del_t){m, done, ud, cJSON_CreateArray()};
  *answer = cJSON_CreateObject();
  cJSON_AddStringToObject(*answer, "deleted", name);
  int rc;
  if (want && *want) {
    cJSON_AddStringToObject(*answer, "version", want);
    cJSON_AddItemToArray(d->hashes, cJSON_CreateString(want));
    cJSON_DeleteItemFromArray(versions, idx);
    if (cJSON_GetArraySize(versions) == 0) {
      rc = pgd_store_delete_doc(m->store, DOC_KIND, name, del_durable, d);
    } else {
      const cJSON *last = cJSON_GetArrayItem(versions, cJSON_GetArraySize(versions) - 1);
      const char *lh = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(last, "hash"));
      cJSON_DeleteItemFromObjectCaseSensitive(doc, "latest");
      cJSON_AddStringToObject(doc, "latest", lh ? lh : "");
      rc = pgd_store_put_doc(m->store, DOC_KIND, name, NULL, NULL, doc, del_durable, d);
    }
  } else {
    const cJSON *v;
    cJSON_ArrayForEach(v, versions) {
      const cJSON *h = cJSON_GetObjectItemCaseSensitive(v, "hash");
      if (cJSON_IsString(h)) cJSON_AddItemToArray(d->hashes, cJSON_CreateString(h->valuestring));
    }
    rc = pgd_store_delete_doc(m->store, DOC_KIND, name, del_durable, d);
  }
  cJSON_Delete(doc);
  if (rc < 0) del_durable(rc, d); /* a refused write never calls back */
  return 0;
}

/* ---- jobs ---------------------------------------------------------------- */

/* Cached documents beyond this many are dropped all at once (a lookup is
 * linear in the cache's size). */
#define RESOURCE_CACHE_MAX 256

void m_resources_forget(pgd_master_t *m, const char *name) {
  if (!m->resource_docs) return;
  if (name) {
    cJSON_DeleteItemFromObjectCaseSensitive(m->resource_docs, name);
    return;
  }
  cJSON_Delete(m->resource_docs);
  m->resource_docs = NULL;
}

/* The stored document of resource `name` for a submit or a launch
 * (borrowed until the next change of resources), or NULL: from the cache,
 * else read once from the store. A change forgets the name when it is
 * queued and again when it is durable, so a read in between cannot keep
 * the old document. Loop thread. */
static const cJSON *cached_doc(pgd_master_t *m, const char *name) {
  cJSON *d = m->resource_docs ? cJSON_GetObjectItemCaseSensitive(m->resource_docs, name) : NULL;
  if (d) return d;
  d = pgd_store_get_doc(m->store, DOC_KIND, name);
  if (!d) return NULL;
  if (m->resource_docs && cJSON_GetArraySize(m->resource_docs) >= RESOURCE_CACHE_MAX)
    m_resources_forget(m, NULL);
  if (!m->resource_docs) m->resource_docs = cJSON_CreateObject();
  cJSON_AddItemToObject(m->resource_docs, name, d);
  return d;
}

bool m_resources_check(pgd_master_t *m, const cJSON *job, char *err, size_t errlen) {
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(job, "resources");
  if (!list || cJSON_IsNull(list)) return true;
  if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > MAX_JOB_RESOURCES) {
    snprintf(err, errlen, "resources must be an array of at most %d strings \"name\" or \"name@hash\"",
             MAX_JOB_RESOURCES);
    return false;
  }
  const cJSON *x;
  cJSON_ArrayForEach(x, list) {
    char name[136], hash[65];
    if (!cJSON_IsString(x) || !m_resources_parse_spec(x->valuestring, name, sizeof name, hash)) {
      char *txt = cJSON_PrintUnformatted(x);
      snprintf(err, errlen,
               "resources: %.200s is not \"name\" or \"name@hash\" (a name of A-Z a-z 0-9 _ - ., "
               "a hash of 64 lower-case hex digits)",
               txt ? txt : "?");
      free(txt);
      return false;
    }
    const cJSON *y;
    cJSON_ArrayForEach(y, list) {
      if (y == x) break;
      char n2[136], h2[65];
      if (m_resources_parse_spec(y->valuestring, n2, sizeof n2, h2) && strcmp(n2, name) == 0) {
        snprintf(err, errlen, "resources: '%s' is listed twice (both would be placed as %s)", name,
                 name);
        return false;
      }
    }
    const cJSON *doc = cached_doc(m, name);
    if (!doc) {
      snprintf(err, errlen, "unknown resource '%s' (upload it first: pagoda resource put %s FILE)",
               name, name);
      return false;
    }
    bool ok = !hash[0] || find_version(doc, hash);
    if (!ok) {
      snprintf(err, errlen, "resource '%s' has no version %s (pagoda resource get %s lists them)",
               name, hash, name);
      return false;
    }
  }
  return true;
}

cJSON *m_resources_for_launch(pgd_master_t *m, const cJSON *def) {
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(def, "resources");
  if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0) return NULL;
  cJSON *out = cJSON_CreateArray();
  const cJSON *x;
  cJSON_ArrayForEach(x, list) {
    char name[136], hash[65];
    if (!cJSON_IsString(x) || !m_resources_parse_spec(x->valuestring, name, sizeof name, hash))
      continue; /* checked when the job was stored */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    const cJSON *doc = cached_doc(m, name); /* no store read per launch */
    const cJSON *v = doc ? pick_version(doc, hash) : NULL;
    if (!v) {
      char msg[400];
      if (!doc)
        snprintf(msg, sizeof msg, "resource '%s' does not exist on the master (deleted?)", name);
      else
        snprintf(msg, sizeof msg, "resource '%s' has no version %s on the master (deleted?)", name,
                 hash);
      cJSON_AddStringToObject(o, "error", msg);
    } else {
      cJSON_AddStringToObject(o, "hash",
                              cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "hash")));
      cJSON_AddNumberToObject(o, "size", num(v, "size"));
    }
    cJSON_AddItemToArray(out, o);
  }
  return out;
}
