/* Loading plugins: dlopen, descriptor checks, init, refusals, listings. */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/stat.h>

#include "common/err.h"
#include "common/log.h"
#include "plugin/host.h"
#include "plugin/plugin_priv.h"
#include "plugin/schema.h"

#define MOD "plugin"
#define TYPE_MAX 63

pgd_registry_t *pgd_registry_new(void) { return calloc(1, sizeof(pgd_registry_t)); }

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
static void record_refusal(pgd_registry_t *r, const char *path, const char *rp, const char *reason,
                           const pagoda_plugin_descriptor_t *d, const char *abi) {
  drop_refusal(r, rp);
  if (r->nref == r->refcap) {
    size_t ncap = r->refcap ? r->refcap * 2 : 4;
    pgd_refusal_t *nf = realloc(r->refused, ncap * sizeof *nf);
    if (!nf) return;
    r->refused = nf;
    r->refcap = ncap;
  }
  pgd_refusal_t f;
  memset(&f, 0, sizeof f);
  f.file = strdup(path);
  f.realpath = strdup(rp);
  f.reason = strdup(reason);
  if (d && d->type) f.type = strndup(d->type, TYPE_MAX + 1);
  if (d && d->version) f.version = strndup(d->version, 256);
  snprintf(f.abi, sizeof f.abi, "%s", abi ? abi : "");
  struct stat st;
  if (stat(path, &st) == 0) {
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

static int type_name_ok(const char *t) {
  size_t n = 0;
  for (; t[n]; n++) {
    char c = t[n];
    if (n >= TYPE_MAX) return 0;
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
  }
  return n > 0;
}

/* Checks the descriptor; 0 or a negative code with the reason (without the
 * file name) in msg. */
static int check_descriptor(const pgd_registry_t *r, const pagoda_plugin_descriptor_t *d,
                            char *msg, size_t len) {
  if (d->abi_major != PAGODA_PLUGIN_ABI_MAJOR) {
    snprintf(msg, len, "plugin ABI %u.%u, host ABI %u.%u: major version differs",
             (unsigned)d->abi_major, (unsigned)d->abi_minor, (unsigned)PAGODA_PLUGIN_ABI_MAJOR,
             (unsigned)PAGODA_PLUGIN_ABI_MINOR);
    return -EPROTO;
  }
  if (d->abi_minor > PAGODA_PLUGIN_ABI_MINOR) {
    snprintf(msg, len, "plugin ABI %u.%u, host ABI %u.%u: plugin needs a newer host",
             (unsigned)d->abi_major, (unsigned)d->abi_minor, (unsigned)PAGODA_PLUGIN_ABI_MAJOR,
             (unsigned)PAGODA_PLUGIN_ABI_MINOR);
    return -EPROTO;
  }
  if (d->struct_size < PGD_DESC_SIZE_1_0) {
    snprintf(msg, len, "bad descriptor: struct_size %u is smaller than %zu (ABI 1.0)",
             (unsigned)d->struct_size, (size_t)PGD_DESC_SIZE_1_0);
    return -EINVAL;
  }
  if (!d->type) {
    snprintf(msg, len, "bad descriptor: type is NULL");
    return -EINVAL;
  }
  if (!type_name_ok(d->type)) {
    snprintf(msg, len, "bad descriptor: type \"%.64s\" is not 1-%d characters of [a-z0-9_]",
             d->type, TYPE_MAX);
    return -EINVAL;
  }
  const pagoda_executor_t *x = d->executor;
  if (x && !x->describe_process == !x->run) {
    snprintf(msg, len, "bad descriptor: executor must set exactly one of describe_process and run");
    return -EINVAL;
  }
  const pgd_plugin_t *other = pgd_registry_find(r, d->type);
  if (other) {
    snprintf(msg, len, "type \"%s\" is already provided by %s", d->type, other->file);
    return -EEXIST;
  }
  return 0;
}

/* Loads the plugin once in a short-lived child process first: a plugin that
 * crashes while loading (a constructor, its entry point or its init) takes
 * only that child down and is refused, instead of taking the daemon with it.
 * The cost is one fork per new file (at start and on hot loading), and a
 * plugin's init runs twice (once here, once for real): sdk/docs/plugin-abi.md
 * says init must tolerate that. Returns -1 with `msg` when the child died by
 * a signal; 0 otherwise (load errors are reported by the real load). */
static int probe_in_child(const char *dlpath, char *msg, size_t msglen) {
  if (getenv("PAGODA_PLUGIN_PROBE") && strcmp(getenv("PAGODA_PLUGIN_PROBE"), "0") == 0) return 0;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return 0; /* cannot probe: load as before */
  if (pid == 0) {
    alarm(30); /* an init that hangs is not a crash, but must not stay */
    void *dl = dlopen(dlpath, RTLD_NOW | RTLD_LOCAL);
    if (!dl) _exit(0);
    void *sym = dlsym(dl, PAGODA_PLUGIN_ENTRY_SYMBOL);
    if (!sym) _exit(0);
    pagoda_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    const pagoda_plugin_descriptor_t *d = entry();
    if (d && d->abi_major == PAGODA_PLUGIN_ABI_MAJOR && d->struct_size >= PGD_DESC_SIZE_1_0 &&
        d->init) {
      char imsg[256];
      struct pagoda_error e;
      pgd_plugin_error_init(&e, imsg, sizeof imsg);
      void *state = NULL;
      if (d->init(pgd_plugin_host(), &state, &e) == 0 && d->destroy) d->destroy(state);
    }
    _exit(0);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    snprintf(msg, msglen, "crashed while loading (signal %d, %s) in a probe process; not loaded",
             sig, strsignal(sig));
    return -1;
  }
  if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
    /* The probe only ever exits 0: anything else is a crash handler (a
     * sanitizer's, say) or the plugin calling exit() while loading. */
    snprintf(msg, msglen, "crashed while loading (exit status %d) in a probe process; not loaded",
             WEXITSTATUS(st));
    return -1;
  }
  return 0;
}

int pgd_registry_load_file(pgd_registry_t *r, const char *path, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!r || !path || !*path) return pgd_set_err(err, errlen, -EINVAL, "plugin: no file given");
  char *rp = canon(path);
  if (!rp) return pgd_set_err(err, errlen, -ENOMEM, "%s: out of memory", path);
  const pgd_plugin_t *same = find_by_realpath(r, rp);
  if (same) {
    free(rp);
    return pgd_set_err(err, errlen, -EEXIST, "%s: already loaded (type \"%s\")", path,
                       same->desc->type);
  }

  char msg[1024] = "";
  char abi[16] = "";
  int rc = 0;
  const pagoda_plugin_descriptor_t *d = NULL;
  pgd_plugin_t *p = NULL;
  /* A name without '/' would make dlopen search the library path. */
  char dlpath[PATH_MAX + 3];
  snprintf(dlpath, sizeof dlpath, "%s%s", strchr(path, '/') ? "" : "./", path);
  void *dl = NULL;
  if (probe_in_child(dlpath, msg, sizeof msg) < 0) {
    rc = -ELIBBAD;
    goto refuse;
  }
  dl = dlopen(dlpath, RTLD_NOW | RTLD_LOCAL);
  if (!dl) {
    const char *e = dlerror();
    snprintf(msg, sizeof msg, "dlopen failed: %s", e ? e : "unknown error");
    rc = -ELIBBAD;
    goto refuse;
  }
  dlerror();
  void *sym = dlsym(dl, PAGODA_PLUGIN_ENTRY_SYMBOL);
  if (!sym) {
    snprintf(msg, sizeof msg, "no entry symbol %s (not a Pagoda plugin, or not exported)",
             PAGODA_PLUGIN_ENTRY_SYMBOL);
    rc = -ENOENT;
    goto refuse;
  }
  pagoda_plugin_entry_fn entry;
  memcpy(&entry, &sym, sizeof entry); /* object pointer -> function pointer */
  d = entry();
  if (!d) {
    snprintf(msg, sizeof msg, "%s returned NULL", PAGODA_PLUGIN_ENTRY_SYMBOL);
    rc = -ENOENT;
    goto refuse;
  }
  snprintf(abi, sizeof abi, "%u.%u", (unsigned)d->abi_major, (unsigned)d->abi_minor);
  rc = check_descriptor(r, d, msg, sizeof msg);
  if (rc < 0) {
    if (d->abi_major != PAGODA_PLUGIN_ABI_MAJOR || d->struct_size < PGD_DESC_SIZE_1_0)
      d = NULL; /* do not read fields of an unknown layout */
    goto refuse;
  }

  p = calloc(1, sizeof *p);
  if (!p || !(p->file = strdup(path))) {
    snprintf(msg, sizeof msg, "out of memory");
    rc = -ENOMEM;
    goto refuse;
  }
  p->realpath = rp;
  p->dl = dl;
  p->desc = d;
  snprintf(p->abi, sizeof p->abi, "%s", abi);
  if (r->n == r->cap) {
    size_t ncap = r->cap ? r->cap * 2 : 8;
    pgd_plugin_t **np = realloc(r->plugins, ncap * sizeof *np);
    if (!np) {
      snprintf(msg, sizeof msg, "out of memory");
      rc = -ENOMEM;
      p->realpath = NULL;
      goto refuse;
    }
    r->plugins = np;
    r->cap = ncap;
  }
  if (d->init) {
    char imsg[512];
    struct pagoda_error e;
    pgd_plugin_error_init(&e, imsg, sizeof imsg);
    int irc = d->init(pgd_plugin_host(), &p->state, &e);
    if (irc != 0) {
      rc = irc < 0 ? irc : -EINVAL;
      if (e.set && imsg[0])
        snprintf(msg, sizeof msg, "init failed: %s", imsg);
      else
        snprintf(msg, sizeof msg, "init failed (code %d)", irc);
      p->realpath = NULL;
      goto refuse;
    }
  }
  r->plugins[r->n++] = p;
  drop_refusal(r, rp);
  PGD_INFO(MOD, "loaded plugin \"%s\" %s (ABI %s) from %s", d->type,
           d->version ? d->version : "", abi, path);
  return 0;

refuse:
  pgd_set_err(err, errlen, rc, "%s: %s", path, msg);
  PGD_WARN(MOD, "refused plugin %s: %s", path, msg);
  record_refusal(r, path, rp, msg, d, abi[0] ? abi : NULL);
  if (p) {
    free(p->file);
    free(p);
  }
  if (dl) dlclose(dl);
  free(rp);
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
static int refused_unchanged(const pgd_registry_t *r, const char *rp, const struct stat *st) {
  const pgd_refusal_t *f = find_refusal(r, rp);
  return f && f->has_stat && f->dev == st->st_dev && f->ino == st->st_ino &&
         f->size == st->st_size && f->mtime.tv_sec == st->st_mtim.tv_sec &&
         f->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

int pgd_registry_load_dir(pgd_registry_t *r, const char *dir) {
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

  int loaded = 0;
  for (size_t i = 0; i < n && rc == 0; i++) {
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
      rc = -ENOMEM;
      break;
    }
    struct stat st;
    char *rp = NULL;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (rp = canon(path)) != NULL &&
        !find_by_realpath(r, rp) && !refused_unchanged(r, rp, &st)) {
      if (pgd_registry_load_file(r, path, NULL, 0) == 0) loaded++;
    }
    free(rp);
    free(path);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  if (rc < 0) PGD_WARN(MOD, "scanning plugin directory %s: %s", dir, strerror(-rc));
  return loaded;
}

const pgd_plugin_t *pgd_registry_find(const pgd_registry_t *r, const char *type) {
  if (!r || !type) return NULL;
  for (size_t i = 0; i < r->n; i++)
    if (strcmp(r->plugins[i]->desc->type, type) == 0) return r->plugins[i];
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
      add(o, "params", params_json(d))) {
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
      add(o, "reason", cJSON_CreateString(f->reason))) {
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
    if (pgd_plugin_executor_kind(r->plugins[i]) == PGD_EXEC_NONE) continue;
    cJSON *s = cJSON_CreateString(r->plugins[i]->desc->type);
    if (!s || !cJSON_AddItemToArray(arr, s)) {
      cJSON_Delete(s);
      cJSON_Delete(arr);
      return NULL;
    }
  }
  return arr;
}
