/* Pagoda — worker: the resource cache (resources.h). */
#include "worker/resources.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <uthash.h>

#include "common/names.h"
#include "common/err.h"
#include "common/log.h"
#include "net/msg.h"

#define MOD "resources"
#define NAME_MAX_LEN 128

/* One hash being verified or downloaded; fetches waiting for it share it. */
typedef struct hjob hjob_t;
typedef struct waiter {
  struct waiter *next;
  pgd_resfetch_t *f;
} waiter_t;

struct hjob {
  UT_hash_handle hh;
  pgd_rescache_t *c;
  uv_work_t work;
  char hash[65];
  char name[NAME_MAX_LEN + 1]; /* of the first fetch that asked (for messages) */
  uint64_t size;
  char *url;                   /* copied at creation: the master may move */
  const char *ca_file;         /* borrowed from the cache (set before any fetch) */
  char *auth;                  /* "Authorization: Bearer ..." copied at creation, or NULL */
  int wanted;                  /* fetches still interested (atomic) */
  bool in_hash;                /* in c->jobs (joinable) */
  waiter_t *waiters;
  /* results (written by the thread, read after) */
  int status;
  char err[512];
  bool hit, downloaded, corrupt;
};

typedef struct item {
  char name[NAME_MAX_LEN + 1];
  char hash[65];
  uint64_t size;
} item_t;

struct pgd_resfetch {
  pgd_rescache_t *c;
  item_t *items;
  int n;
  int pending;     /* hjobs not finished */
  int status;
  char err[1024];
  bool cancelled;
  hjob_t **mine;   /* the hjobs this fetch waits for (cancel) */
  int nmine;
  char *workdir;
  uv_work_t place;
  pgd_resfetch_cb cb;
  void *ud;
};

struct pgd_rescache {
  uv_loop_t *loop;
  char *cache_dir, *work_dir;
  char *base_url;
  char *ca_file;  /* PEM CA for an https master; set before any fetch, read by the pool */
  char *auth; /* "Authorization: Bearer ..." for downloads (pgd_rescache_set_token) */
  hjob_t *jobs;   /* in flight, by hash */
  int in_flight;  /* thread-pool work items not finished */
  int stopping;   /* atomic: abort downloads */
  bool closed;
  pgd_rescache_stats_t st;
};

/* ---- helpers ------------------------------------------------------------- */

static int mkdir_p(const char *path) {
  char tmp[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof tmp) return -ENAMETOOLONG;
  memcpy(tmp, path, n + 1);
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -errno;
    *p = '/';
  }
  if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -errno;
  return 0;
}

static void hex(const unsigned char *md, char out[65]) {
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int pgd_rescache_hash_file(const char *path, char out[65], uint64_t *size) {
  out[0] = '\0';
  if (size) *size = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
    EVP_MD_CTX_free(ctx);
    close(fd);
    return -ENOMEM;
  }
  static __thread unsigned char buf[1 << 16];
  uint64_t total = 0;
  int rc = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      rc = -errno;
      break;
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx, buf, (size_t)n);
    total += (uint64_t)n;
  }
  close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (rc == 0 && (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32)) rc = -EIO;
  EVP_MD_CTX_free(ctx);
  if (rc == 0) {
    hex(md, out);
    if (size) *size = total;
  }
  return rc;
}

static bool valid_hash(const char *h) {
  if (!h || strlen(h) != 64) return false;
  for (int i = 0; i < 64; i++)
    if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return false;
  return true;
}

/* A name placed in the working directory: no path separators, not . or .. */
static bool valid_name(const char *s) { return s && pgd_path_name_ok(s, strlen(s), NAME_MAX_LEN); }

/* ---- the download (thread pool) ------------------------------------------ */

typedef struct dl {
  FILE *fp;
  EVP_MD_CTX *md;
  uint64_t bytes;
  hjob_t *j;
} dl_t;

static size_t on_data(char *p, size_t sz, size_t nm, void *ud) {
  dl_t *d = ud;
  size_t n = sz * nm;
  if (fwrite(p, 1, n, d->fp) != n) return 0;
  EVP_DigestUpdate(d->md, p, n);
  d->bytes += n;
  return n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
  (void)a, (void)b, (void)c, (void)d;
  hjob_t *j = ((dl_t *)ud)->j;
  return __atomic_load_n(&j->c->stopping, __ATOMIC_RELAXED) ||
         __atomic_load_n(&j->wanted, __ATOMIC_RELAXED) <= 0;
}

/* Downloads into a temporary file, verifies, renames to `path`. */
static void download(hjob_t *j, const char *dir, const char *path) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s/.dl-%.16s-XXXXXX", dir, j->hash);
  int fd = mkstemp(tmp);
  if (fd < 0) {
    j->status = pgd_set_err(j->err, sizeof j->err, -errno, "cannot create a file in %s: %s", dir,
                            strerror(errno));
    return;
  }
  dl_t d = {.fp = fdopen(fd, "w+"), .md = EVP_MD_CTX_new(), .j = j};
  CURL *h = curl_easy_init();
  if (!d.fp || !d.md || !h || !EVP_DigestInit_ex(d.md, EVP_sha256(), NULL)) {
    j->status = pgd_set_err(j->err, sizeof j->err, -ENOMEM, "out of memory");
    goto out;
  }
  char cerr[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(h, CURLOPT_URL, j->url);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, &d);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(h, CURLOPT_PROXY, ""); /* the master, never through a proxy */
  if (j->ca_file) curl_easy_setopt(h, CURLOPT_CAINFO, j->ca_file); /* https: verify the master */
  struct curl_slist *hdrs = j->auth ? curl_slist_append(NULL, j->auth) : NULL;
  if (hdrs) curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  CURLcode cc = curl_easy_perform(h);
  curl_slist_free_all(hdrs);
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  if (cc != CURLE_OK) {
    if (cc == CURLE_ABORTED_BY_CALLBACK)
      j->status = pgd_set_err(j->err, sizeof j->err, -ECANCELED, "download abandoned");
    else
      j->status = pgd_set_err(j->err, sizeof j->err, -EIO, "download from %s failed: %s", j->url,
                              cerr[0] ? cerr : curl_easy_strerror(cc));
    goto out;
  }
  if (code != 200) {
    char body[400] = "";
    fflush(d.fp);
    size_t n = pread(fd, body, sizeof body - 1, 0) > 0 ? strlen(body) : 0;
    (void)n;
    cJSON *o = cJSON_Parse(body);
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "error"));
    j->status = pgd_set_err(j->err, sizeof j->err, code == 404 ? -ENOENT : -EIO,
                            "the master answered HTTP %ld: %s", code, msg ? msg : body);
    cJSON_Delete(o);
    goto out;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  char got[65] = "";
  if (EVP_DigestFinal_ex(d.md, md, &mdlen) && mdlen == 32) hex(md, got);
  if (strcmp(got, j->hash) != 0 || d.bytes != j->size) {
    j->status = pgd_set_err(j->err, sizeof j->err, -EBADMSG,
                            "downloaded content does not match: sha256 %.64s, %" PRIu64
                            " bytes (expected %" PRIu64 " bytes)",
                            got, d.bytes, j->size);
    goto out;
  }
  if (fflush(d.fp) != 0 || fchmod(fd, 0444) != 0 || rename(tmp, path) != 0) {
    j->status =
        pgd_set_err(j->err, sizeof j->err, -errno, "cannot store %s: %s", path, strerror(errno));
    goto out;
  }
  j->downloaded = true;
  tmp[0] = '\0'; /* renamed: nothing to remove */
out:
  if (h) curl_easy_cleanup(h);
  EVP_MD_CTX_free(d.md);
  if (d.fp) fclose(d.fp);
  else close(fd);
  if (tmp[0]) unlink(tmp);
}

static void hjob_work(uv_work_t *w) {
  hjob_t *j = w->data;
  pgd_rescache_t *c = j->c;
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", c->cache_dir, j->hash);
  int rc = mkdir_p(c->cache_dir);
  if (rc < 0) {
    j->status =
        pgd_set_err(j->err, sizeof j->err, rc, "cannot create %s: %s", c->cache_dir, strerror(-rc));
    return;
  }
  char got[65];
  uint64_t size = 0;
  rc = pgd_rescache_hash_file(path, got, &size);
  if (rc == 0 && size == j->size && strcmp(got, j->hash) == 0) {
    j->hit = true;
    return;
  }
  if (rc == 0) { /* there, but damaged */
    j->corrupt = true;
    unlink(path);
  }
  if (!j->url) {
    j->status =
        pgd_set_err(j->err, sizeof j->err, -ENOTCONN, "the master's HTTP address is unknown");
    return;
  }
  download(j, c->cache_dir, path);
}

/* ---- placing (thread pool) ----------------------------------------------- */

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  remove(p);
  return 0;
}

static int copy_file(const char *from, const char *to) {
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return -errno;
  int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    int e = errno;
    close(in);
    return -e;
  }
  char buf[1 << 16];
  int rc = 0;
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0) rc = -errno;
      break;
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t k = write(out, buf + off, (size_t)(n - off));
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) {
        rc = -errno;
        break;
      }
      off += k;
    }
    if (rc) break;
  }
  close(in);
  if (close(out) != 0 && rc == 0) rc = -errno;
  return rc;
}

static void place_work(uv_work_t *w) {
  pgd_resfetch_t *f = w->data;
  struct stat st;
  if (lstat(f->workdir, &st) == 0) nftw(f->workdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
  int rc = mkdir_p(f->workdir);
  if (rc < 0) {
    f->status = pgd_set_err(f->err, sizeof f->err, rc, "cannot create working directory %s: %s",
                            f->workdir, strerror(-rc));
    return;
  }
  for (int i = 0; i < f->n; i++) {
    char from[4200], to[4200];
    snprintf(from, sizeof from, "%s/%s", f->c->cache_dir, f->items[i].hash);
    snprintf(to, sizeof to, "%s/%s", f->workdir, f->items[i].name);
    rc = link(from, to) == 0 ? 0 : -errno;
    if (rc == -EXDEV || rc == -EPERM || rc == -EMLINK) rc = copy_file(from, to);
    if (rc < 0) {
      f->status = pgd_set_err(f->err, sizeof f->err, rc,
                              "resource '%s' (sha256 %.12s…): cannot place it in %s: %s",
                              f->items[i].name, f->items[i].hash, f->workdir, strerror(-rc));
      return;
    }
  }
}

/* ---- completions (loop thread) ------------------------------------------- */

static void cache_maybe_free(pgd_rescache_t *c) {
  if (!c->closed || c->in_flight > 0) return;
  free(c->cache_dir);
  free(c->work_dir);
  free(c->base_url);
  free(c->ca_file);
  free(c->auth);
  free(c);
}

static void fetch_finish(pgd_resfetch_t *f) {
  pgd_rescache_t *c = f->c;
  if (f->cancelled && f->status == 0)
    f->status = pgd_set_err(f->err, sizeof f->err, -ECANCELED, "resource fetch cancelled");
  if (f->status < 0 && f->status != -ECANCELED) c->st.failures++;
  f->cb(f, f->status, f->status < 0 ? f->err : NULL, f->workdir, f->ud);
  free(f->items);
  free(f->mine);
  free(f->workdir);
  free(f);
}

static void place_after(uv_work_t *w, int status) {
  pgd_resfetch_t *f = w->data;
  pgd_rescache_t *c = f->c;
  if (status < 0 && f->status == 0)
    f->status =
        pgd_set_err(f->err, sizeof f->err, status, "placing resources: %s", uv_strerror(status));
  fetch_finish(f);
  c->in_flight--; /* after the callback: it may close the cache */
  cache_maybe_free(c);
}

/* Every hash of `f` is ready (or one failed): place the files, or end. */
static void fetch_hashes_done(pgd_resfetch_t *f) {
  pgd_rescache_t *c = f->c;
  if (f->status < 0 || f->cancelled || c->closed) {
    fetch_finish(f);
    return;
  }
  f->place.data = f;
  int rc = uv_queue_work(c->loop, &f->place, place_work, place_after);
  if (rc < 0) {
    f->status = pgd_set_err(f->err, sizeof f->err, rc, "cannot queue work: %s", uv_strerror(rc));
    fetch_finish(f);
    return;
  }
  c->in_flight++;
}

static void hjob_after(uv_work_t *w, int status) {
  hjob_t *j = w->data;
  pgd_rescache_t *c = j->c;
  if (j->in_hash) HASH_DEL(c->jobs, j);
  if (status < 0 && j->status == 0)
    j->status = pgd_set_err(j->err, sizeof j->err, status, "%s", uv_strerror(status));
  if (j->corrupt) {
    c->st.corrupt++;
    PGD_WARN(MOD, "resource %s (sha256 %.12s…): the cached copy was damaged; fetched again", j->name,
             j->hash);
  }
  if (j->hit) {
    c->st.hits++;
    PGD_INFO(MOD, "resource %s (sha256 %.12s…): cache hit", j->name, j->hash);
  } else if (j->downloaded) {
    c->st.downloads++;
    c->st.download_bytes += j->size;
    PGD_INFO(MOD, "resource %s (sha256 %.12s…): downloaded %" PRIu64 " bytes", j->name, j->hash,
             j->size);
  }
  for (waiter_t *x = j->waiters, *nx; x; x = nx) {
    nx = x->next;
    pgd_resfetch_t *f = x->f;
    if (j->status < 0 && f->status == 0) {
      const item_t *it = NULL;
      for (int i = 0; i < f->n; i++)
        if (!strcmp(f->items[i].hash, j->hash)) it = &f->items[i];
      f->status = j->status;
      snprintf(f->err, sizeof f->err, "resource '%s' (sha256 %.12s…): %s", it ? it->name : j->name,
               j->hash, j->err);
    }
    for (int i = 0; i < f->nmine; i++)
      if (f->mine[i] == j) f->mine[i] = NULL;
    if (--f->pending == 0) fetch_hashes_done(f);
    free(x);
  }
  free(j->url);
  free(j->auth);
  free(j);
  c->in_flight--; /* after the callbacks: they may close the cache */
  cache_maybe_free(c);
}

/* ---- public -------------------------------------------------------------- */

int pgd_rescache_new(uv_loop_t *loop, const char *data_dir, pgd_rescache_t **out, char *err,
                     size_t errlen) {
  if (out) *out = NULL;
  if (!loop || !data_dir || !*data_dir || !out)
    return pgd_set_err(err, errlen, -EINVAL, "resource cache: a data directory is required");
  pgd_rescache_t *c = calloc(1, sizeof *c);
  if (!c) return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  c->loop = loop;
  if (asprintf(&c->cache_dir, "%s/cache", data_dir) < 0) c->cache_dir = NULL;
  if (asprintf(&c->work_dir, "%s/work", data_dir) < 0) c->work_dir = NULL;
  if (!c->cache_dir || !c->work_dir) {
    free(c->cache_dir);
    free(c->work_dir);
    free(c);
    return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  *out = c;
  return 0;
}

void pgd_rescache_set_ca(pgd_rescache_t *c, const char *ca_file) {
  if (!c) return;
  free(c->ca_file);
  c->ca_file = ca_file && *ca_file ? strdup(ca_file) : NULL;
}

void pgd_rescache_set_master(pgd_rescache_t *c, const char *addr, const char *fallback_host) {
  if (!c) return;
  free(c->base_url);
  c->base_url = NULL;
  if (!addr || !*addr) return;
  /* An HTTPS master announces "https://host:port"; plain "host:port" is HTTP. */
  const char *scheme = "http";
  if (strncmp(addr, "https://", 8) == 0) {
    scheme = "https";
    addr += 8;
  } else if (strncmp(addr, "http://", 7) == 0) {
    addr += 7;
  }
  const char *colon = strrchr(addr, ':');
  if (!colon || !colon[1]) return;
  char host[256];
  size_t hl = (size_t)(colon - addr);
  if (hl >= sizeof host) return;
  memcpy(host, addr, hl);
  host[hl] = '\0';
  if (!host[0] || !strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !strcmp(host, "[::]"))
    snprintf(host, sizeof host, "%s", fallback_host && *fallback_host ? fallback_host : "127.0.0.1");
  bool v6 = strchr(host, ':') && host[0] != '[';
  if (asprintf(&c->base_url, "%s://%s%s%s:%s", scheme, v6 ? "[" : "", host, v6 ? "]" : "",
               colon + 1) < 0)
    c->base_url = NULL;
}

const char *pgd_rescache_master_url(const pgd_rescache_t *c) { return c ? c->base_url : NULL; }

void pgd_rescache_set_token(pgd_rescache_t *c, const char *token) {
  if (!c) return;
  free(c->auth);
  c->auth = NULL;
  if (token && *token && asprintf(&c->auth, "Authorization: Bearer %s", token) < 0) c->auth = NULL;
}

static int fetch_parse(pgd_resfetch_t *f, const cJSON *resources, char *err, size_t errlen) {
  if (!cJSON_IsArray(resources))
    return pgd_set_err(err, errlen, -EINVAL, "launch.resources must be an array");
  f->n = pgd_msg_count(resources);
  f->items = calloc((size_t)f->n + 1, sizeof *f->items);
  f->mine = calloc((size_t)f->n + 1, sizeof *f->mine);
  if (!f->items || !f->mine) return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  for (int i = 0; i < f->n; i++) {
    pgd_msg_resource_t r;
    if (pgd_msg_resource_at(resources, i, &r) < 0)
      return pgd_set_err(err, errlen, -EINVAL, "launch.resources[%d] is not a resource record", i);
    if (r.error) return pgd_set_err(err, errlen, -EINVAL, "%s", r.error);
    if (!valid_name(r.name))
      return pgd_set_err(err, errlen, -EINVAL, "launch.resources[%d]: invalid name", i);
    if (!valid_hash(r.hash) || !r.size.set || r.size.v < 0)
      return pgd_set_err(err, errlen, -EINVAL,
                         "resource '%s': the launch has no valid hash and size", r.name);
    for (int k = 0; k < i; k++)
      if (!strcmp(f->items[k].name, r.name))
        return pgd_set_err(err, errlen, -EINVAL, "resource '%s' is listed twice", r.name);
    snprintf(f->items[i].name, sizeof f->items[i].name, "%s", r.name);
    memcpy(f->items[i].hash, r.hash, 65);
    f->items[i].size = (uint64_t)r.size.v;
  }
  return 0;
}

int pgd_resfetch_start(pgd_rescache_t *c, const cJSON *resources, const char *workdir_name,
                       pgd_resfetch_cb cb, void *ud, pgd_resfetch_t **out, char *err,
                       size_t errlen) {
  if (out) *out = NULL;
  if (!c || !cb || !out || !workdir_name || !*workdir_name || strchr(workdir_name, '/') ||
      c->closed)
    return pgd_set_err(err, errlen, -EINVAL, "invalid arguments");
  pgd_resfetch_t *f = calloc(1, sizeof *f);
  if (!f) return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  f->c = c;
  f->cb = cb;
  f->ud = ud;
  int rc = fetch_parse(f, resources, err, errlen);
  if (rc == 0 && asprintf(&f->workdir, "%s/%s", c->work_dir, workdir_name) < 0) {
    f->workdir = NULL;
    rc = pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  }
  if (rc < 0) {
    free(f->items);
    free(f->mine);
    free(f->workdir);
    free(f);
    return rc;
  }
  f->pending = 1; /* held until every hash is queued */
  for (int i = 0; i < f->n; i++) {
    const item_t *it = &f->items[i];
    bool dup = false; /* the same content twice under two names */
    for (int k = 0; k < i; k++)
      if (!strcmp(f->items[k].hash, it->hash)) dup = true;
    if (dup) continue;
    hjob_t *j = NULL;
    HASH_FIND_STR(c->jobs, it->hash, j);
    if (j && (j->size != it->size || __atomic_load_n(&j->wanted, __ATOMIC_RELAXED) <= 0)) {
      /* abandoned (its download may be aborting) or inconsistent: a new one */
      HASH_DEL(c->jobs, j);
      j->in_hash = false;
      j = NULL;
    }
    if (!j) {
      j = calloc(1, sizeof *j);
      if (!j) abort();
      j->c = c;
      j->wanted = 1; /* before the thread can look */
      memcpy(j->hash, it->hash, 65);
      snprintf(j->name, sizeof j->name, "%s", it->name);
      j->size = it->size;
      if (c->base_url &&
          asprintf(&j->url, "%s/api/v1/resources/%s?version=%s", c->base_url, it->name, it->hash) < 0)
        j->url = NULL;
      j->ca_file = c->ca_file;
      j->auth = c->auth ? strdup(c->auth) : NULL;
      j->work.data = j;
      rc = uv_queue_work(c->loop, &j->work, hjob_work, hjob_after);
      if (rc < 0) {
        free(j->url);
        free(j->auth);
        free(j);
        if (f->status == 0)
          f->status =
              pgd_set_err(f->err, sizeof f->err, rc, "cannot queue work: %s", uv_strerror(rc));
        continue;
      }
      c->in_flight++;
      HASH_ADD_STR(c->jobs, hash, j);
      j->in_hash = true;
    } else {
      __atomic_add_fetch(&j->wanted, 1, __ATOMIC_RELAXED);
    }
    waiter_t *x = calloc(1, sizeof *x);
    if (!x) abort();
    x->f = f;
    x->next = j->waiters;
    j->waiters = x;
    f->mine[f->nmine++] = j;
    f->pending++;
  }
  if (--f->pending == 0) { /* nothing was queued: only possible when queueing failed */
    rc = f->status < 0 ? f->status : -EIO;
    pgd_set_err(err, errlen, rc, "%s", f->status < 0 ? f->err : "nothing to fetch");
    free(f->items);
    free(f->mine);
    free(f->workdir);
    free(f);
    return rc;
  }
  *out = f; /* the callback always comes later, from the thread pool */
  return 0;
}

void pgd_resfetch_cancel(pgd_resfetch_t *f) {
  if (!f || f->cancelled) return;
  f->cancelled = true;
  for (int i = 0; i < f->nmine; i++)
    if (f->mine[i]) __atomic_sub_fetch(&f->mine[i]->wanted, 1, __ATOMIC_RELAXED);
}

typedef struct rmjob {
  uv_work_t work;
  pgd_rescache_t *c;
  char path[];
} rmjob_t;

static void rm_work(uv_work_t *w) {
  rmjob_t *r = w->data;
  nftw(r->path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void rm_after(uv_work_t *w, int status) {
  (void)status;
  rmjob_t *r = w->data;
  pgd_rescache_t *c = r->c;
  c->in_flight--;
  free(r);
  cache_maybe_free(c);
}

void pgd_rescache_remove_workdir(pgd_rescache_t *c, const char *workdir) {
  if (!c || !workdir || !*workdir || c->closed) return;
  size_t n = strlen(workdir);
  rmjob_t *r = malloc(sizeof *r + n + 1);
  if (!r) return;
  r->c = c;
  memcpy(r->path, workdir, n + 1);
  r->work.data = r;
  if (uv_queue_work(c->loop, &r->work, rm_work, rm_after) < 0) {
    free(r);
    return;
  }
  c->in_flight++;
}

void pgd_rescache_stats(const pgd_rescache_t *c, pgd_rescache_stats_t *out) {
  if (!out) return;
  if (!c) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = c->st;
}

void pgd_rescache_close(pgd_rescache_t *c) {
  if (!c || c->closed) return;
  c->closed = true;
  __atomic_store_n(&c->stopping, 1, __ATOMIC_RELAXED);
  cache_maybe_free(c);
}
