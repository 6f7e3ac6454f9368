/* The registry: committing loaded files under the type rules, refusals,
 * directory scans, listings (loader.c loads one file, scan.c rescans off
 * the loop). */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/log.h"
#include "plugin/host.h"
#include "plugin/plugin_priv.h"
#include "plugin/schema.h"

#define MOD "plugin"

pgd_registry_t *pgd_registry_new(void) {
  pgd_registry_t *r = calloc(1, sizeof(pgd_registry_t));
  if (r) r->load_timeout_ms = PGD_PLUGIN_LOAD_TIMEOUT_MS;
  return r;
}

void pgd_registry_set_load_timeout(pgd_registry_t *r, int ms) {
  if (r) r->load_timeout_ms = ms > 0 ? ms : PGD_PLUGIN_LOAD_TIMEOUT_MS;
}

static void refusal_clear(pgd_refusal_t *f) {
  free(f->file);
  free(f->realpath);
  free(f->reason);
  free(f->type);
  free(f->version);
}

static void plugin_unload(pgd_plugin_t *p) {
  if (p->desc && p->desc->destroy) p->desc->destroy(p->state);
  if (p->dl) dlclose(p->dl);
  free(p->file);
  free(p->realpath);
  free(p);
}

void pgd_registry_free(pgd_registry_t *r) {
  if (!r) return;
  for (size_t i = r->n; i-- > 0;) plugin_unload(r->plugins[i]);
  free(r->plugins);
  for (size_t i = 0; i < r->nref; i++) refusal_clear(&r->refused[i]);
  free(r->refused);
  free(r);
}

/* Canonical path of `path`, or a copy of `path` when it cannot be resolved;
 * NULL when out of memory. */
static char *canon(const char *path) {
  char *rp = realpath(path, NULL);
  return rp ? rp : strdup(path);
}

static pgd_plugin_t *find_by_realpath(const pgd_registry_t *r, const char *rp) {
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->plugins[i]->realpath, rp) == 0) return r->plugins[i];
  return NULL;
}

static pgd_refusal_t *find_refusal(const pgd_registry_t *r, const char *rp) {
  for (size_t i = 0; i < r->nref; i++)
    if (strcmp(r->refused[i].realpath, rp) == 0) return &r->refused[i];
  return NULL;
}

static void drop_refusal(pgd_registry_t *r, const char *rp) {
  pgd_refusal_t *f = find_refusal(r, rp);
  if (!f) return;
  size_t at = (size_t)(f - r->refused);
  refusal_clear(f);
  memmove(&r->refused[at], &r->refused[at + 1], (r->nref - at - 1) * sizeof *f);
  r->nref--;
}

/* Records a refusal (replacing an earlier one for the same file). Out of
 * memory only loses the record, never the refusal itself. */
/* Records a refusal of candidate `c` (replacing an earlier one for the same
 * file). Out of memory only loses the record, never the refusal itself. */
static void record_refusal(pgd_registry_t *r, const pgd_cand_t *c, int conflict) {
  drop_refusal(r, c->realpath);
  if (r->nref == r->refcap) {
    size_t ncap = r->refcap ? r->refcap * 2 : 4;
    pgd_refusal_t *nf = realloc(r->refused, ncap * sizeof *nf);
    if (!nf) return;
    r->refused = nf;
    r->refcap = ncap;
  }
  pgd_refusal_t f;
  memset(&f, 0, sizeof f);
  f.file = strdup(c->path);
  f.realpath = strdup(c->realpath);
  f.reason = strdup(c->msg);
  if (c->has_type) f.type = strdup(c->type);
  if (c->has_version) f.version = strdup(c->version);
  snprintf(f.abi, sizeof f.abi, "%s", c->abi);
  f.conflict = conflict;
  struct stat st;
  if (stat(c->path, &st) == 0) {
    f.has_stat = 1;
    f.dev = st.st_dev;
    f.ino = st.st_ino;
    f.size = st.st_size;
    f.mtime = st.st_mtim;
  }
  if (!f.file || !f.realpath || !f.reason) {
    refusal_clear(&f);
    return;
  }
  r->refused[r->nref++] = f;
}

/* ---- the type rules ------------------------------------------------------ */

/* The job types Pagoda ships (plugins/ of its source tree). A built-in type
 * is provided only by the file named after it (shell.so for "shell"): a
 * file of another name declaring it is an impostor and refused, whatever
 * the load order, so that dropping a file into the plugins directory can
 * never take over "shell" (docs/plugins.md). */
static const char *const builtin_types[] = {"shell", "java", "spark", "lua"};

int pgd_registry_is_builtin_type(const char *type) {
  for (size_t i = 0; i < sizeof builtin_types / sizeof builtin_types[0]; i++)
    if (strcmp(type, builtin_types[i]) == 0) return 1;
  return 0;
}

/* 1 when `path`'s file name is "<type>.so". */
static int named_after(const char *path, const char *type) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t n = strlen(type);
  return strncmp(base, type, n) == 0 && strcmp(base + n, ".so") == 0;
}

/* Moves a ready candidate into the registry; 0, or -ENOMEM (then refused). */
int pgd_registry_keep(pgd_registry_t *r, pgd_cand_t *c) {
  if (r->n == r->cap) {
    size_t ncap = r->cap ? r->cap * 2 : 8;
    pgd_plugin_t **np = realloc(r->plugins, ncap * sizeof *np);
    if (!np) return -ENOMEM;
    r->plugins = np;
    r->cap = ncap;
  }
  pgd_plugin_t *p = calloc(1, sizeof *p);
  if (!p) return -ENOMEM;
  p->file = c->path;
  p->realpath = c->realpath;
  p->dl = c->dl;
  p->desc = c->desc;
  p->state = c->state;
  snprintf(p->abi, sizeof p->abi, "%s", c->abi);
  r->plugins[r->n++] = p;
  drop_refusal(r, c->realpath);
  PGD_INFO(MOD, "loaded plugin \"%s\" %s (ABI %s) from %s", p->desc->type,
           p->desc->version ? p->desc->version : "", p->abi, p->file);
  c->path = c->realpath = NULL;
  c->dl = c->state = NULL;
  c->inited = 0;
  return 0;
}

int pgd_registry_commit(pgd_registry_t *r, pgd_cand_t *cands, size_t n, int *rcs) {
  /* 1. built-in types: only the file named after the type provides it */
  for (size_t i = 0; i < n; i++) {
    pgd_cand_t *c = &cands[i];
    if (c->rc < 0 || !pgd_registry_is_builtin_type(c->desc->type) || named_after(c->path, c->desc->type)) continue;
    snprintf(c->msg, sizeof c->msg,
             "type \"%s\" is built in (only %s.so provides it): a file in the plugins directory "
             "cannot take it over",
             c->desc->type, c->desc->type);
    c->rc = -EEXIST;
  }
  /* 2. a type loaded already stays with its file (plugins are never
   *    unloaded): the newcomer is refused */
  for (size_t i = 0; i < n; i++) {
    pgd_cand_t *c = &cands[i];
    if (c->rc < 0) continue;
    const pgd_plugin_t *other = pgd_registry_find(r, c->desc->type);
    if (!other) continue;
    snprintf(c->msg, sizeof c->msg, "type \"%s\" is already provided by %s", c->desc->type,
             other->file);
    c->rc = -EEXIST;
  }
  /* 3. a new type offered by two (or more) files of the same scan: no file
   *    wins by its name's sort order; all of them are refused */
  unsigned char *conflict = calloc(n ? n : 1, 1);
  for (size_t i = 0; i < n && conflict; i++) {
    pgd_cand_t *c = &cands[i];
    if (c->rc < 0 || conflict[i]) continue;
    size_t others = 0;
    for (size_t j = i + 1; j < n; j++)
      if (cands[j].rc == 0 && strcmp(cands[j].desc->type, c->desc->type) == 0) conflict[j] = 1, others++;
    if (others) conflict[i] = 1;
  }
  for (size_t i = 0; i < n && conflict; i++) {
    if (!conflict[i]) continue;
    pgd_cand_t *c = &cands[i];
    int len = snprintf(c->msg, sizeof c->msg, "type \"%s\" is offered by more than one file (",
                       c->desc->type);
    const char *sep = "";
    for (size_t j = 0; j < n; j++) {
      if (!conflict[j] || strcmp(cands[j].desc->type, c->desc->type) != 0) continue;
      if (len > 0 && (size_t)len < sizeof c->msg)
        len += snprintf(c->msg + len, sizeof c->msg - (size_t)len, "%s%s", sep, cands[j].path);
      sep = ", ";
    }
    if (len > 0 && (size_t)len < sizeof c->msg)
      snprintf(c->msg + len, sizeof c->msg - (size_t)len,
               "): all of them are refused; remove all but one");
  }
  for (size_t i = 0; i < n && conflict; i++)
    if (conflict[i]) cands[i].rc = -EEXIST;
  /* 4. the rest load, in name order; every refusal is recorded once */
  int loaded = 0;
  for (size_t i = 0; i < n; i++) {
    pgd_cand_t *c = &cands[i];
    if (c->rc == 0 && pgd_registry_keep(r, c) < 0) {
      snprintf(c->msg, sizeof c->msg, "out of memory");
      c->rc = -ENOMEM;
    }
    if (c->rc == 0) {
      loaded++;
    } else {
      PGD_WARN(MOD, "refused plugin %s: %s", c->path, c->msg);
      record_refusal(r, c, conflict && conflict[i]);
    }
    if (rcs) rcs[i] = c->rc;
    pgd_cand_discard(c);
  }
  free(conflict);
  return loaded;
}

/* ---- loading: one file, a directory ---------------------------------------- */

int pgd_registry_load_file(pgd_registry_t *r, const char *path, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!r || !path || !*path) return pgd_set_err(err, errlen, -EINVAL, "plugin: no file given");
  pgd_cand_t c;
  if (pgd_cand_init(&c, path) < 0) return pgd_set_err(err, errlen, -ENOMEM, "%s: out of memory", path);
  const pgd_plugin_t *same = find_by_realpath(r, c.realpath);
  if (same) {
    pgd_cand_discard(&c);
    return pgd_set_err(err, errlen, -EEXIST, "%s: already loaded (type \"%s\")", path,
                       same->desc->type);
  }
  pgd_cand_prepare(&c, r->load_timeout_ms);
  int rc = 0;
  pgd_registry_commit(r, &c, 1, &rc); /* c.msg outlives the commit (an array) */
  if (rc < 0) pgd_set_err(err, errlen, rc, "%s: %s", path, c.msg);
  return rc;
}

static int is_so_name(const char *name) {
  size_t n = strlen(name);
  return n > 3 && name[0] != '.' && strcmp(name + n - 3, ".so") == 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 1 when `path` was refused before and has not changed since. */
static int refused_unchanged(const pgd_refusal_t *f, const struct stat *st) {
  return f && f->has_stat && f->dev == st->st_dev && f->ino == st->st_ino &&
         f->size == st->st_size && f->mtime.tv_sec == st->st_mtim.tv_sec &&
         f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* A file refused for a type conflict is tried again once no other file of
 * the listing (`rps`, canonical paths) is known to offer that type. */
static int conflict_still_there(const pgd_registry_t *r, const pgd_refusal_t *f, char **rps,
                                size_t n) {
  if (!f->type) return 0;
  for (size_t i = 0; i < n; i++) {
    if (!rps[i] || strcmp(rps[i], f->realpath) == 0) continue;
    const pgd_plugin_t *p = find_by_realpath(r, rps[i]);
    if (p && strcmp(p->desc->type, f->type) == 0) return 1;
    const pgd_refusal_t *o = find_refusal(r, rps[i]);
    if (o && o->type && strcmp(o->type, f->type) == 0) return 1;
  }
  return 0;
}

int pgd_registry_plan_dir(pgd_registry_t *r, const char *dir, pgd_cand_t **out) {
  *out = NULL;
  if (!r || !dir) return -EINVAL;
  DIR *dh = opendir(dir);
  if (!dh) {
    int e = errno;
    PGD_WARN(MOD, "cannot read plugin directory %s: %s", dir, strerror(e));
    return -e;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  struct dirent *de;
  while ((de = readdir(dh)) != NULL) {
    if (!is_so_name(de->d_name)) continue;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 16;
      char **nn = realloc(names, ncap * sizeof *nn);
      if (!nn) {
        rc = -ENOMEM;
        break;
      }
      names = nn;
      cap = ncap;
    }
    if (!(names[n] = strdup(de->d_name))) {
      rc = -ENOMEM;
      break;
    }
    n++;
  }
  closedir(dh);
  if (n > 1) qsort(names, n, sizeof *names, cmp_str);

  /* canonical paths of the regular files (NULL for others) */
  char **rps = calloc(n ? n : 1, sizeof *rps);
  struct stat *sts = calloc(n ? n : 1, sizeof *sts);
  pgd_cand_t *cands = calloc(n ? n : 1, sizeof *cands);
  if (!rps || !sts || !cands) rc = -ENOMEM;
  for (size_t i = 0; i < n && rc == 0; i++) {
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
      rc = -ENOMEM;
      break;
    }
    if (stat(path, &sts[i]) == 0 && S_ISREG(sts[i].st_mode)) {
      rps[i] = canon(path);
      if (!rps[i]) rc = -ENOMEM;
    }
    free(path);
  }
  size_t k = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (!rps[i] || find_by_realpath(r, rps[i])) continue;
    const pgd_refusal_t *f = find_refusal(r, rps[i]);
    if (refused_unchanged(f, &sts[i]) && !(f->conflict && !conflict_still_there(r, f, rps, n)))
      continue;
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, names[i]) < 0 || pgd_cand_init(&cands[k], path) < 0) {
      free(path);
      rc = -ENOMEM;
      break;
    }
    free(path);
    k++;
  }
  for (size_t i = 0; i < n; i++) {
    free(names[i]);
    if (rps) free(rps[i]);
  }
  free(names);
  free(rps);
  free(sts);
  if (rc < 0) {
    PGD_WARN(MOD, "scanning plugin directory %s: %s", dir, strerror(-rc));
    for (size_t i = 0; i < k; i++) pgd_cand_discard(&cands[i]);
    free(cands);
    return rc;
  }
  *out = cands;
  return (int)k;
}

int pgd_registry_load_dir(pgd_registry_t *r, const char *dir) {
  pgd_cand_t *cands = NULL;
  int n = pgd_registry_plan_dir(r, dir, &cands);
  if (n < 0) return n;
  for (int i = 0; i < n; i++) pgd_cand_prepare(&cands[i], r->load_timeout_ms);
  int loaded = pgd_registry_commit(r, cands, (size_t)n, NULL);
  free(cands);
  return loaded;
}

const pgd_plugin_t *pgd_registry_find(const pgd_registry_t *r, const char *type) {
  if (!r || !type) return NULL;
  for (size_t i = 0; i < r->n; i++)
    if (!r->plugins[i]->retired && strcmp(r->plugins[i]->desc->type, type) == 0)
      return r->plugins[i];
  return NULL;
}

size_t pgd_registry_count(const pgd_registry_t *r) { return r ? r->n : 0; }

static cJSON *str_or_null(const char *s) { return s ? cJSON_CreateString(s) : cJSON_CreateNull(); }

static int add(cJSON *obj, const char *key, cJSON *v) {
  if (!v) return -1;
  if (!cJSON_AddItemToObject(obj, key, v)) {
    cJSON_Delete(v);
    return -1;
  }
  return 0;
}

static cJSON *params_json(const pagoda_plugin_descriptor_t *d) {
  cJSON *arr = cJSON_CreateArray();
  pagoda_param_spec_t ps;
  for (size_t i = 0; arr && pgd_param_spec_at(d, i, &ps); i++) {
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddItemToArray(arr, o)) {
      cJSON_Delete(o);
      cJSON_Delete(arr);
      return NULL;
    }
    if (add(o, "key", cJSON_CreateString(ps.key)) ||
        add(o, "type", cJSON_CreateString(pgd_param_type_name(ps.type))) ||
        add(o, "required", cJSON_CreateBool(ps.required != 0)) ||
        add(o, "default", str_or_null(ps.default_text)) ||
        add(o, "description", str_or_null(ps.description))) {
      cJSON_Delete(arr);
      return NULL;
    }
  }
  return arr;
}

static const char *exec_name(int kind) {
  return kind == PGD_EXEC_PROCESS ? "process" : kind == PGD_EXEC_IN_PROCESS ? "in_process" : NULL;
}

static cJSON *loaded_json(const pgd_plugin_t *p) {
  const pagoda_plugin_descriptor_t *d = p->desc;
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  if (add(o, "type", cJSON_CreateString(d->type)) ||
      add(o, "version", str_or_null(d->version)) ||
      add(o, "description", str_or_null(d->description)) ||
      add(o, "file", cJSON_CreateString(p->file)) || add(o, "abi", cJSON_CreateString(p->abi)) ||
      add(o, "generator", cJSON_CreateBool(pgd_plugin_has_generator(p))) ||
      add(o, "executor", str_or_null(exec_name(pgd_plugin_executor_kind(p)))) ||
      add(o, "status", cJSON_CreateString("loaded")) || add(o, "reason", cJSON_CreateNull()) ||
      add(o, "params", params_json(d)) || add(o, "sha256", str_or_null(p->sha[0] ? p->sha : NULL)) ||
      add(o, "active", cJSON_CreateBool(!p->retired))) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

static cJSON *refused_json(const pgd_refusal_t *f) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  if (add(o, "type", str_or_null(f->type)) || add(o, "version", str_or_null(f->version)) ||
      add(o, "description", cJSON_CreateNull()) || add(o, "file", cJSON_CreateString(f->file)) ||
      add(o, "abi", str_or_null(f->abi[0] ? f->abi : NULL)) ||
      add(o, "generator", cJSON_CreateBool(0)) || add(o, "executor", cJSON_CreateNull()) ||
      add(o, "status", cJSON_CreateString("refused")) ||
      add(o, "reason", cJSON_CreateString(f->reason)) || add(o, "sha256", cJSON_CreateNull()) ||
      add(o, "active", cJSON_CreateBool(0))) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

cJSON *pgd_registry_to_json(const pgd_registry_t *r) {
  cJSON *arr = cJSON_CreateArray();
  if (!arr || !r) return arr;
  for (size_t i = 0; i < r->n + r->nref; i++) {
    cJSON *o = i < r->n ? loaded_json(r->plugins[i]) : refused_json(&r->refused[i - r->n]);
    if (!o || !cJSON_AddItemToArray(arr, o)) {
      cJSON_Delete(o);
      cJSON_Delete(arr);
      return NULL;
    }
  }
  return arr;
}

cJSON *pgd_registry_types_json(const pgd_registry_t *r) {
  cJSON *arr = cJSON_CreateArray();
  if (!arr || !r) return arr;
  for (size_t i = 0; i < r->n; i++) {
    if (r->plugins[i]->retired || pgd_plugin_executor_kind(r->plugins[i]) == PGD_EXEC_NONE) continue;
    cJSON *s = cJSON_CreateString(r->plugins[i]->desc->type);
    if (!s || !cJSON_AddItemToArray(arr, s)) {
      cJSON_Delete(s);
      cJSON_Delete(arr);
      return NULL;
    }
  }
  return arr;
}
