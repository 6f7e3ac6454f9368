/* Pagoda master — pushed plugin versions (docs/plugins.md "Pushing a
 * plugin"; master.h "pushed plugins").
 *
 * A push: the file's SHA-256 names the version; the file is written to
 * <data_dir>/plugins-pushed/<sha256>.so and loaded off the loop by the
 * registry (ELF and size check, probe child with the load deadline, dlopen,
 * init); a loaded file is kept as the resource "_plugin.<type>" (content-
 * addressed, so workers fetch and verify it like any resource, and a master
 * that takes over finds it in the store), recorded in the store document
 * ("plugin_push", id = type):
 *   {"type": T, "active": SHA, "history": [SHA, ...],  activation order
 *    "versions": {SHA: {"version", "abi", "size", "pushed_us"}}}
 * and made active. Every connected worker gets the `plugins` message
 * (net/msg.h) listing each pushed type's active version; a worker's type
 * list (w->types, what dispatch matches) holds a pushed type only while the
 * worker reports that exact version active, so a job is placed only where
 * its type runs the version the master validates it with.
 *
 * Loop thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <pagoda/plugin.h>
#include <uthash.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "master/exec_int.h"
#include "master/master_int.h"
#include "master/workers_int.h"
#include "net/conn.h"
#include "net/msg.h"

#define MOD "plugins"
#define DOC_KIND "plugin_push"
#define RESOURCE_PREFIX "_plugin."

struct m_pushed {
  pgd_master_t *m;
  cJSON *docs;  /* object: type -> document */
  char *dir;    /* <data_dir>/plugins-pushed */
  int inflight; /* loads on the pool whose callbacks are owed */
  bool orphan;  /* the master is gone: callbacks only clean up */
};

typedef struct push_ctx {
  uv_work_t work; /* a push: hashing and writing the file, on the pool */
  int work_rc;
  char work_err[512];
  int answer_status; /* once recorded */
  struct m_pushed *pp;
  char *body;
  size_t len;
  char sha[65];
  char type[72];
  char *path;
  bool rollback;
  pgd_master_push_cb cb;
  void *ud;
} push_ctx_t;

/* ---- helpers ------------------------------------------------------------- */

static void sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  out[0] = '\0';
  if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) return;
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static char *file_of(struct m_pushed *pp, const char *sha) {
  char *p = NULL;
  if (asprintf(&p, "%s/%s.so", pp->dir, sha) < 0) p = NULL;
  return p;
}

/* Writes `len` bytes to `path` (temporary file, fsync, rename), 0500. */
static int write_file(const char *path, const void *data, size_t len, char *err, size_t errlen) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path);
  int fd = mkstemp(tmp);
  if (fd < 0) return pgd_set_err(err, errlen, -errno, "cannot write %s: %s", path, strerror(errno));
  const char *p = data;
  size_t left = len;
  int rc = 0;
  while (left > 0 && rc == 0) {
    ssize_t n = write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) rc = -errno;
    else p += n, left -= (size_t)n;
  }
  if (rc == 0 && fsync(fd) != 0) rc = -errno;
  if (rc == 0 && fchmod(fd, 0500) != 0) rc = -errno;
  close(fd);
  if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
  if (rc < 0) {
    unlink(tmp);
    return pgd_set_err(err, errlen, rc, "cannot write %s: %s", path, strerror(-rc));
  }
  return 0;
}

/* The version file, written from the store's copy (the resource) when this
 * master does not have it (a new leader, a wiped data directory). */
static char *ensure_file(struct m_pushed *pp, const char *type, const char *sha, char *err,
                         size_t errlen) {
  char *path = file_of(pp, sha);
  if (!path || access(path, R_OK) == 0) return path;
  char name[96];
  snprintf(name, sizeof name, RESOURCE_PREFIX "%s", type);
  int fd = -1;
  uint64_t size = 0;
  int rc = pgd_master_resource_open(pp->m, name, sha, &fd, &size, err, errlen);
  char *buf = rc == 0 && size <= PGD_PLUGIN_PUSH_MAX_BYTES ? malloc(size ? size : 1) : NULL;
  size_t got = 0;
  while (buf && got < size) {
    ssize_t n = read(fd, buf + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  if (fd >= 0) close(fd);
  if (rc == 0 && (!buf || got != size)) rc = pgd_set_err(err, errlen, -EIO, "cannot read %s", name);
  if (rc == 0) rc = write_file(path, buf, size, err, errlen);
  free(buf);
  if (rc < 0) {
    free(path);
    return NULL;
  }
  return path;
}

static cJSON *doc_of(struct m_pushed *pp, const char *type) {
  return cJSON_GetObjectItemCaseSensitive(pp->docs, type);
}

/* The `plugins` message: each pushed type's active version. */
static cJSON *offers(struct m_pushed *pp) {
  cJSON *arr = cJSON_CreateArray();
  const cJSON *doc;
  cJSON_ArrayForEach(doc, pp->docs) {
    const char *active = pgd_json_str(doc, "active");
    if (!active) continue;
    const cJSON *v = pgd_json_get(pgd_json_get(doc, "versions"), active);
    pgd_msg_plugin_offer_t o = {.type = doc->string, .sha256 = active};
    if (pgd_json_get(v, "size")) o.size = pgd_msg_int(pgd_json_int(v, "size", 0));
    if (arr) pgd_msg_plugin_offer_add(arr, &o);
  }
  pgd_msg_plugins_t msg = {.plugins = arr};
  cJSON *body = arr ? pgd_msg_plugins_encode(&msg) : NULL;
  cJSON_Delete(arr);
  return body;
}

void m_push_offer(pgd_master_t *m, m_worker_t *w) {
  if (!m->pushed || !w->conn || cJSON_GetArraySize(m->pushed->docs) == 0) return;
  cJSON *body = offers(m->pushed);
  if (body) pgd_conn_send(w->conn, PGD_MSG_PLUGINS, body);
  cJSON_Delete(body);
}

/* 1 when worker `w` reported version `sha` of `type` active. */
static bool holds_active(const m_worker_t *w, const char *type, const char *sha) {
  pgd_msg_plugin_state_t st;
  for (int i = 0; i < pgd_msg_count(w->plugins); i++)
    if (pgd_msg_plugin_state_at(w->plugins, i, &st) == 0 && strcmp(st.type, type) == 0 &&
        strcmp(st.sha256, sha) == 0 && strcmp(st.status, "active") == 0)
      return true;
  return false;
}

static bool refilter(pgd_master_t *m, m_worker_t *w) {
  cJSON *types = cJSON_CreateArray();
  const cJSON *t;
  cJSON_ArrayForEach(t, w->reported_types) {
    if (!cJSON_IsString(t)) continue;
    const char *active = m->pushed ? pgd_json_str(doc_of(m->pushed, t->valuestring), "active") : NULL;
    if (active && !holds_active(w, t->valuestring, active)) continue;
    if (types) cJSON_AddItemToArray(types, cJSON_CreateString(t->valuestring));
  }
  if (!types) return false;
  if (w->types && cJSON_Compare(types, w->types, 1)) {
    cJSON_Delete(types);
    return false;
  }
  cJSON_Delete(w->types);
  w->types = types;
  return true;
}

bool m_push_adopt(pgd_master_t *m, m_worker_t *w, const cJSON *plugins) {
  if (plugins && !cJSON_Compare(plugins, w->plugins, 1)) {
    cJSON *copy = cJSON_Duplicate(plugins, 1);
    if (copy) {
      cJSON_Delete(w->plugins);
      w->plugins = copy;
    }
  }
  return refilter(m, w);
}

/* After a version change: offer it to every worker, recompute their types. */
static void announce(pgd_master_t *m) {
  cJSON *body = offers(m->pushed);
  m_worker_t *w, *tmp;
  bool changed = false;
  HASH_ITER(hh, m->workers, w, tmp) {
    if (w->conn && body) pgd_conn_send(w->conn, PGD_MSG_PLUGINS, body);
    changed |= refilter(m, w);
  }
  cJSON_Delete(body);
  if (changed) {
    m->workers_generation++;
    m_dispatch_pending(m);
  }
}

static cJSON *answer_of(const cJSON *doc, const pgd_plugin_t *p, const char *previous) {
  cJSON *a = cJSON_CreateObject();
  if (!a) return NULL;
  cJSON_AddStringToObject(a, "type", pgd_json_str(doc, "type"));
  cJSON_AddStringToObject(a, "sha256", pgd_json_str(doc, "active"));
  cJSON_AddStringToObject(a, "version", p ? pgd_plugin_version(p) : "");
  if (previous) cJSON_AddStringToObject(a, "previous", previous);
  else cJSON_AddNullToObject(a, "previous");
  return a;
}

static void ctx_free(push_ctx_t *c) {
  free(c->body);
  free(c->path);
  free(c);
}

static void pp_free(struct m_pushed *pp) {
  cJSON_Delete(pp->docs);
  free(pp->dir);
  free(pp);
}

/* true when the master is gone (the context is then freed here). */
static bool orphaned(push_ctx_t *c) {
  struct m_pushed *pp = c->pp;
  pp->inflight--;
  if (!pp->orphan) return false;
  ctx_free(c);
  if (pp->inflight == 0) pp_free(pp);
  return true;
}

/* ---- push ------------------------------------------------------------------ */

/* The record is durable: the version becomes active here and on the
 * workers, and the caller gets its answer. */
static void saved(int st, void *ud) {
  push_ctx_t *c = ud;
  if (orphaned(c)) return;
  struct m_pushed *pp = c->pp;
  pgd_master_t *m = pp->m;
  if (st < 0) {
    char err[300];
    snprintf(err, sizeof err, "cannot record the pushed version: %s", strerror(-st));
    c->cb(c->ud, pgd_master_error_is_unavailable(st) ? 503 : 500, NULL, err);
    ctx_free(c);
    return;
  }
  cJSON *doc = doc_of(pp, c->type);
  const char *active = pgd_json_str(doc, "active");
  const pgd_plugin_t *p = pgd_registry_find_version(m->plugins, c->type, active);
  pgd_registry_activate(m->plugins, c->type, active);
  const cJSON *hist = pgd_json_get(doc, "history");
  int n = cJSON_GetArraySize(hist);
  const char *previous = n >= 2 ? cJSON_GetArrayItem(hist, n - 2)->valuestring : NULL;
  announce(m);
  PGD_INFO(MOD, "plugin \"%s\": version %.12s (%s) %s", c->type, active,
           p ? pgd_plugin_version(p) : "?", c->rollback ? "restored (rollback)" : "pushed");
  c->cb(c->ud, c->answer_status, answer_of(doc, p, previous), NULL);
  ctx_free(c);
}

/* Records the type's document (store document "plugin_push"); `saved`
 * follows once it is durable. */
static void activate_and_answer(push_ctx_t *c, int status) {
  struct m_pushed *pp = c->pp;
  c->answer_status = status;
  cJSON *copy = cJSON_Duplicate(doc_of(pp, c->type), 1);
  cJSON_DeleteItemFromObjectCaseSensitive(copy, "created_us");
  cJSON_DeleteItemFromObjectCaseSensitive(copy, "updated_us");
  pp->inflight++;
  int rc = copy ? pgd_store_put_doc(pp->m->store, DOC_KIND, c->type, NULL, NULL, copy, saved, c)
                : -ENOMEM;
  cJSON_Delete(copy);
  if (rc < 0) {
    pp->inflight--;
    c->cb(c->ud, 500, NULL, "cannot record the pushed version");
    ctx_free(c);
  }
}

static void push_stored(void *ud, int rc, const cJSON *view, const char *err) {
  (void)view;
  push_ctx_t *c = ud;
  c->body = NULL; /* taken by the resource store */
  if (orphaned(c)) return;
  struct m_pushed *pp = c->pp;
  if (rc < 0) {
    c->cb(c->ud, rc == -ESHUTDOWN ? 503 : 500, NULL, err);
    ctx_free(c);
    return;
  }
  const pgd_plugin_t *p = pgd_registry_find_version(pp->m->plugins, c->type, c->sha);
  cJSON *doc = doc_of(pp, c->type);
  if (!doc) {
    doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "type", c->type);
    cJSON_AddItemToObject(doc, "history", cJSON_CreateArray());
    cJSON_AddItemToObject(doc, "versions", cJSON_CreateObject());
    cJSON_AddItemToObject(pp->docs, c->type, doc);
  }
  const char *active = pgd_json_str(doc, "active");
  int status = 201;
  if (active && strcmp(active, c->sha) == 0) {
    status = 200; /* the active version again: nothing changes */
  } else {
    cJSON *v = cJSON_CreateObject();
    cJSON_AddStringToObject(v, "version", p ? pgd_plugin_version(p) : "");
    char abi[16]; /* a loaded plugin's ABI major is the host's (others are refused) */
    snprintf(abi, sizeof abi, "%d.%d", PAGODA_PLUGIN_ABI_MAJOR, p ? pgd_plugin_abi_minor(p) : 0);
    cJSON_AddStringToObject(v, "abi", abi);
    pgd_json_set_int(v, "size", (int64_t)c->len);
    pgd_json_set_int(v, "pushed_us", pgd_now_us());
    cJSON *versions = cJSON_GetObjectItemCaseSensitive(doc, "versions");
    cJSON_DeleteItemFromObjectCaseSensitive(versions, c->sha);
    cJSON_AddItemToObject(versions, c->sha, v);
    cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(doc, "history"),
                         cJSON_CreateString(c->sha));
    pgd_json_set_str(doc, "active", c->sha);
  }
  activate_and_answer(c, status);
}

static void push_loaded(void *ud, int rc, const char *msg, const pgd_plugin_t *p) {
  push_ctx_t *c = ud;
  if (orphaned(c)) return;
  struct m_pushed *pp = c->pp;
  if (rc < 0) {
    if (!c->rollback) unlink(c->path);
    char err[1200];
    snprintf(err, sizeof err, "plugin refused: %s", msg);
    c->cb(c->ud, rc == -ENOMEM ? 500 : 422, NULL, err);
    ctx_free(c);
    return;
  }
  snprintf(c->type, sizeof c->type, "%s", pgd_plugin_type(p));
  if (c->rollback) { /* the version before the current one is loaded: go back */
    cJSON *doc = doc_of(pp, c->type);
    cJSON *hist = cJSON_GetObjectItemCaseSensitive(doc, "history");
    int n = cJSON_GetArraySize(hist);
    if (n >= 2 && strcmp(cJSON_GetArrayItem(hist, n - 2)->valuestring, c->sha) == 0) {
      cJSON_DeleteItemFromArray(hist, n - 1);
      pgd_json_set_str(doc, "active", c->sha);
    }
    activate_and_answer(c, 200);
    return;
  }
  char name[96], err[512];
  snprintf(name, sizeof name, RESOURCE_PREFIX "%s", c->type);
  pp->inflight++;
  char *body = c->body;
  c->body = NULL;
  if (pgd_master_resource_put(pp->m, name, body, c->len, push_stored, c, err, sizeof err) < 0) {
    pp->inflight--;
    c->cb(c->ud, 500, NULL, err);
    ctx_free(c);
  }
}

/* Pool thread: the version's name and its file (nothing of the master but
 * the directory name, which never changes, is read). */
static void write_work(uv_work_t *req) {
  push_ctx_t *c = req->data;
  sha256_hex(c->body, c->len, c->sha);
  c->path = c->sha[0] ? file_of(c->pp, c->sha) : NULL;
  if (!c->path) {
    c->work_rc = pgd_set_err(c->work_err, sizeof c->work_err, -ENOMEM, "cannot hash the file");
  } else if (mkdir(c->pp->dir, 0700) != 0 && errno != EEXIST) {
    c->work_rc = pgd_set_err(c->work_err, sizeof c->work_err, -EIO, "cannot create %s: %s",
                             c->pp->dir, strerror(errno));
  } else if (access(c->path, R_OK) != 0) {
    c->work_rc = write_file(c->path, c->body, c->len, c->work_err, sizeof c->work_err);
  }
}

static void write_done(uv_work_t *req, int status) {
  push_ctx_t *c = req->data;
  if (orphaned(c)) return;
  struct m_pushed *pp = c->pp;
  if (status < 0 && c->work_rc == 0)
    c->work_rc = pgd_set_err(c->work_err, sizeof c->work_err, -ECANCELED, "cancelled");
  int rc = c->work_rc;
  if (rc == 0) {
    pp->inflight++;
    rc = pgd_registry_load_pushed(pp->m->plugins, pp->m->loop, c->path, c->sha, NULL, push_loaded,
                                  c);
    if (rc < 0) {
      pp->inflight--;
      pgd_set_err(c->work_err, sizeof c->work_err, rc, "cannot load the plugin: %s", strerror(-rc));
    }
  }
  if (rc < 0) {
    c->cb(c->ud, 500, NULL, c->work_err);
    ctx_free(c);
  }
}

int pgd_master_plugin_push(pgd_master_t *m, char *body, size_t len, pgd_master_push_cb cb,
                           void *ud, char *err, size_t errlen) {
  struct m_pushed *pp = m->pushed;
  int rc = 0;
  if (!pp) rc = pgd_set_err(err, errlen, -EAGAIN, "the master is not leading");
  else if (len == 0) rc = pgd_set_err(err, errlen, -EINVAL, "the body must be the plugin's .so file");
  else if (len > PGD_PLUGIN_PUSH_MAX_BYTES)
    rc = pgd_set_err(err, errlen, -EFBIG, "a plugin file holds at most %u bytes",
                     PGD_PLUGIN_PUSH_MAX_BYTES);
  push_ctx_t *c = rc == 0 ? calloc(1, sizeof *c) : NULL;
  if (rc == 0 && !c) rc = pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  if (rc < 0) {
    free(body);
    return rc;
  }
  c->pp = pp;
  c->body = body;
  c->len = len;
  c->cb = cb;
  c->ud = ud;
  c->work.data = c;
  pp->inflight++;
  rc = uv_queue_work(m->loop, &c->work, write_work, write_done);
  if (rc < 0) { /* no pool: do it here rather than never */
    write_work(&c->work);
    write_done(&c->work, 0);
  }
  return 0;
}

/* ---- rollback ----------------------------------------------------------- */

int pgd_master_plugin_rollback(pgd_master_t *m, const char *type, pgd_master_push_cb cb,
                               void *ud, char *err, size_t errlen) {
  struct m_pushed *pp = m->pushed;
  if (!pp) return pgd_set_err(err, errlen, -EAGAIN, "the master is not leading");
  cJSON *doc = doc_of(pp, type);
  if (!doc) {
    cb(ud, 404, NULL, "no plugin of that type was pushed");
    return 0;
  }
  cJSON *hist = cJSON_GetObjectItemCaseSensitive(doc, "history");
  int n = cJSON_GetArraySize(hist);
  if (n < 2) {
    cb(ud, 409, NULL, "no earlier pushed version to return to");
    return 0;
  }
  const char *back = cJSON_GetArrayItem(hist, n - 2)->valuestring;
  push_ctx_t *c = calloc(1, sizeof *c);
  if (!c) return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  c->pp = pp;
  c->rollback = true;
  c->cb = cb;
  c->ud = ud;
  snprintf(c->sha, sizeof c->sha, "%s", back);
  snprintf(c->type, sizeof c->type, "%s", type);
  char msg[512];
  c->path = ensure_file(pp, type, back, msg, sizeof msg);
  if (!c->path) {
    cb(ud, 500, NULL, msg);
    ctx_free(c);
    return 0;
  }
  pp->inflight++;
  int rc = pgd_registry_load_pushed(m->plugins, m->loop, c->path, back, type, push_loaded, c);
  if (rc < 0) {
    pp->inflight--;
    ctx_free(c);
    return pgd_set_err(err, errlen, rc, "cannot load the plugin: %s", strerror(-rc));
  }
  return 0;
}

/* ---- start, list ----------------------------------------------------------------- */

static void start_loaded(void *ud, int rc, const char *msg, const pgd_plugin_t *p) {
  (void)p;
  push_ctx_t *c = ud;
  if (orphaned(c)) return;
  if (rc < 0)
    PGD_WARN(MOD, "cannot load pushed plugin \"%s\" version %.12s: %s", c->type, c->sha, msg);
  else
    pgd_registry_activate(c->pp->m->plugins, c->type, c->sha);
  announce(c->pp->m);
  ctx_free(c);
}

int m_push_start(pgd_master_t *m) {
  if (!m->pushed) {
    struct m_pushed *pp = calloc(1, sizeof *pp);
    if (!pp || asprintf(&pp->dir, "%s/plugins-pushed", m->data_dir) < 0) {
      free(pp);
      return -ENOMEM;
    }
    pp->m = m;
    m->pushed = pp;
  }
  struct m_pushed *pp = m->pushed;
  cJSON_Delete(pp->docs);
  pp->docs = cJSON_CreateObject();
  cJSON *list = pgd_store_list_docs(m->store, DOC_KIND, NULL, NULL, 0, NULL);
  mkdir(pp->dir, 0700);
  cJSON *doc;
  cJSON_ArrayForEach(doc, list) {
    const char *type = pgd_json_str(doc, "type"), *active = pgd_json_str(doc, "active");
    if (!type || !active || doc_of(pp, type)) continue;
    cJSON_AddItemToObject(pp->docs, type, cJSON_Duplicate(doc, 1));
    char msg[512];
    push_ctx_t *c = calloc(1, sizeof *c);
    if (!c) break;
    c->pp = pp;
    snprintf(c->sha, sizeof c->sha, "%s", active);
    snprintf(c->type, sizeof c->type, "%s", type);
    c->path = ensure_file(pp, type, active, msg, sizeof msg);
    if (!c->path) {
      PGD_WARN(MOD, "pushed plugin \"%s\" version %.12s: %s", type, active, msg);
      ctx_free(c);
      continue;
    }
    pp->inflight++;
    if (pgd_registry_load_pushed(m->plugins, m->loop, c->path, active, type, start_loaded, c) < 0) {
      pp->inflight--;
      ctx_free(c);
    }
  }
  cJSON_Delete(list);
  return 0;
}

void m_push_free(pgd_master_t *m) {
  struct m_pushed *pp = m->pushed;
  m->pushed = NULL;
  if (!pp) return;
  pp->orphan = true;
  if (pp->inflight == 0) pp_free(pp);
}

cJSON *pgd_master_plugins_pushed(pgd_master_t *m) {
  cJSON *out = cJSON_CreateArray();
  if (!out || !m->pushed) return out;
  const cJSON *doc;
  cJSON_ArrayForEach(doc, m->pushed->docs) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToArray(out, o);
    cJSON_AddStringToObject(o, "type", doc->string);
    const char *active = pgd_json_str(doc, "active");
    cJSON_AddStringToObject(o, "active", active ? active : "");
    const cJSON *hist = pgd_json_get(doc, "history");
    int n = cJSON_GetArraySize(hist);
    if (n >= 2) cJSON_AddStringToObject(o, "previous", cJSON_GetArrayItem(hist, n - 2)->valuestring);
    else cJSON_AddNullToObject(o, "previous");
    cJSON *versions = cJSON_AddArrayToObject(o, "versions");
    const cJSON *v;
    cJSON_ArrayForEach(v, pgd_json_get(doc, "versions")) {
      cJSON *e = cJSON_Duplicate(v, 1);
      cJSON_AddStringToObject(e, "sha256", v->string);
      char buf[40];
      cJSON_AddStringToObject(e, "pushed_at",
                              pgd_format_time_us(pgd_json_int(v, "pushed_us", 0), buf, sizeof buf));
      cJSON_AddItemToArray(versions, e);
    }
    cJSON *workers = cJSON_AddArrayToObject(o, "workers");
    m_worker_t *w, *tmp;
    HASH_ITER(hh, m->workers, w, tmp) {
      pgd_msg_plugin_state_t st;
      for (int i = 0; i < pgd_msg_count(w->plugins); i++) {
        if (pgd_msg_plugin_state_at(w->plugins, i, &st) != 0 || strcmp(st.type, doc->string) != 0)
          continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "worker", w->id);
        cJSON_AddStringToObject(e, "sha256", st.sha256);
        cJSON_AddStringToObject(e, "status", st.status);
        pgd_json_set_str(e, "version", st.version);
        pgd_json_set_str(e, "abi", st.abi);
        pgd_json_set_str(e, "reason", st.reason);
        cJSON_AddItemToArray(workers, e);
      }
    }
  }
  return out;
}
