/* Pushed plugin versions (see registry.h "pushed versions"): a file checked
 * (ELF, size), loaded off the loop like a directory rescan (probe child
 * with the load deadline, dlopen, init on a libuv pool thread), committed
 * on the loop as an inactive version of its type, and switched on with
 * pgd_registry_activate. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "plugin/plugin_priv.h"

#define MOD "plugin"

int pgd_plugin_file_check(const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return pgd_set_err(err, errlen, -errno, "cannot open it: %s", strerror(errno));
  struct stat st;
  int rc = 0;
  unsigned char ident[EI_NIDENT] = {0};
  if (fstat(fd, &st) != 0) {
    rc = pgd_set_err(err, errlen, -errno, "cannot stat it: %s", strerror(errno));
  } else if (!S_ISREG(st.st_mode)) {
    rc = pgd_set_err(err, errlen, -EINVAL, "not a regular file");
  } else if (st.st_size <= 0 || (unsigned long long)st.st_size > PGD_PLUGIN_PUSH_MAX_BYTES) {
    rc = pgd_set_err(err, errlen, -EFBIG, "%lld bytes: a plugin must hold 1 to %u bytes",
                     (long long)st.st_size, PGD_PLUGIN_PUSH_MAX_BYTES);
  } else if (read(fd, ident, sizeof ident) != (ssize_t)sizeof ident ||
             memcmp(ident, ELFMAG, SELFMAG) != 0) {
    rc = pgd_set_err(err, errlen, -ENOEXEC, "not an ELF shared object");
  } else if (ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32)) {
    rc = pgd_set_err(err, errlen, -ENOEXEC, "an ELF file of another class (%s-bit) than this host",
                     ident[EI_CLASS] == ELFCLASS64 ? "64" : "32");
  }
  close(fd);
  return rc;
}

typedef struct push_load {
  uv_work_t work;
  pgd_registry_t *r;
  pgd_cand_t cand;
  char sha[65];
  char *type; /* expected, or NULL */
  int timeout_ms;
  pgd_registry_push_cb done;
  void *ud;
} push_load_t;

static void on_work(uv_work_t *req) {
  push_load_t *pl = req->data;
  pgd_cand_t *c = &pl->cand;
  char msg[512];
  c->rc = pgd_plugin_file_check(c->path, msg, sizeof msg);
  if (c->rc < 0) {
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    return;
  }
  pgd_cand_prepare(c, pl->timeout_ms);
}

const pgd_plugin_t *pgd_registry_find_version(const pgd_registry_t *r, const char *type,
                                              const char *sha) {
  for (size_t i = 0; r && type && sha && i < r->n; i++)
    if (strcmp(r->plugins[i]->sha, sha) == 0 && strcmp(r->plugins[i]->desc->type, type) == 0)
      return r->plugins[i];
  return NULL;
}

static void after_work(uv_work_t *req, int status) {
  push_load_t *pl = req->data;
  pgd_cand_t *c = &pl->cand;
  if (status < 0) {
    c->rc = -ECANCELED;
    snprintf(c->msg, sizeof c->msg, "the load was cancelled");
  }
  if (c->rc == 0 && pgd_registry_is_builtin_type(c->desc->type)) {
    c->rc = -EEXIST;
    snprintf(c->msg, sizeof c->msg,
             "type \"%s\" is built in (only %s.so of the plugins directory provides it): it "
             "cannot be pushed",
             c->desc->type, c->desc->type);
  }
  if (c->rc == 0 && pl->type && strcmp(c->desc->type, pl->type) != 0) {
    c->rc = -EINVAL;
    snprintf(c->msg, sizeof c->msg, "the file provides type \"%s\", not \"%s\"", c->desc->type,
             pl->type);
  }
  const pgd_plugin_t *p = NULL;
  if (c->rc == 0) {
    p = pgd_registry_find_version(pl->r, c->desc->type, pl->sha);
    if (p) { /* loaded meanwhile by another push of the same file */
      c->rc = 0;
    } else if (pgd_registry_keep(pl->r, c) < 0) {
      c->rc = -ENOMEM;
      snprintf(c->msg, sizeof c->msg, "out of memory");
    } else {
      pgd_plugin_t *kept = pl->r->plugins[pl->r->n - 1];
      snprintf(kept->sha, sizeof kept->sha, "%s", pl->sha);
      /* inactive until activated, unless its type has no other provider */
      kept->retired = 0;
      for (size_t i = 0; i + 1 < pl->r->n; i++)
        if (!pl->r->plugins[i]->retired &&
            strcmp(pl->r->plugins[i]->desc->type, kept->desc->type) == 0)
          kept->retired = 1;
      p = kept;
    }
  }
  if (c->rc < 0) PGD_WARN(MOD, "refused pushed plugin %s: %s", c->path, c->msg);
  char msg[sizeof c->msg];
  snprintf(msg, sizeof msg, "%s", c->msg);
  int rc = c->rc;
  pgd_cand_discard(c);
  pgd_registry_push_cb done = pl->done;
  void *ud = pl->ud;
  free(pl->type);
  free(pl);
  if (done) done(ud, rc, rc < 0 ? msg : "", rc < 0 ? NULL : p);
}

int pgd_registry_load_pushed(pgd_registry_t *r, uv_loop_t *loop, const char *path,
                             const char *sha, const char *type, pgd_registry_push_cb done,
                             void *ud) {
  if (!r || !loop || !path || !sha || strlen(sha) != 64) return -EINVAL;
  const pgd_plugin_t *p = type ? pgd_registry_find_version(r, type, sha) : NULL;
  if (p) {
    if (done) done(ud, 0, "", p);
    return 0;
  }
  push_load_t *pl = calloc(1, sizeof *pl);
  if (!pl) return -ENOMEM;
  if (pgd_cand_init(&pl->cand, path) < 0 || (type && !(pl->type = strdup(type)))) {
    pgd_cand_discard(&pl->cand);
    free(pl);
    return -ENOMEM;
  }
  snprintf(pl->sha, sizeof pl->sha, "%s", sha);
  pl->r = r;
  pl->timeout_ms = r->load_timeout_ms;
  pl->done = done;
  pl->ud = ud;
  pl->work.data = pl;
  int rc = uv_queue_work(loop, &pl->work, on_work, after_work);
  if (rc < 0) { /* no pool: load here rather than never */
    on_work(&pl->work);
    after_work(&pl->work, 0);
  }
  return 0;
}

int pgd_registry_activate(pgd_registry_t *r, const char *type, const char *sha) {
  const pgd_plugin_t *p = pgd_registry_find_version(r, type, sha);
  if (!p) return -ENOENT;
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->plugins[i]->desc->type, type) == 0) r->plugins[i]->retired = r->plugins[i] != p;
  PGD_INFO(MOD, "plugin type \"%s\": version %.12s (%s) is active", type, sha,
           p->desc->version ? p->desc->version : "");
  return 0;
}

const char *pgd_plugin_sha(const pgd_plugin_t *p) { return p->sha; }
int pgd_plugin_is_active(const pgd_plugin_t *p) { return !p->retired; }
