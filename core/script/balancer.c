/* Pagoda — balancers: the set of scripts, reload and file watch, pick with
 * fallback to the built-in least-loaded, and the JSON listing. */
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/log.h"
#include "script/balancer_int.h"

#define MOD "balancer"
#define MAX_SCRIPT_BYTES (1u << 20)
#define WATCH_DELAY_MS 100
#define LOG_REPEAT_US (60LL * 1000000LL)
/* How much longer than the sandbox's own time limit the loop waits for the
 * script thread before it abandons the call (the limit is checked every
 * 1,000 instructions or 16,384 matcher steps: well under this). */
#define THREAD_GRACE_MS 250

struct pgd_balancers {
  char *dir;
  char default_name[BAL_NAME_MAX];
  long instructions;
  size_t call_mem_cap;
  pgd_script_thread_t *thread; /* runs the picks; NULL until the first one */
  int inline_picks;            /* 1: picks on the caller's thread */
  uint64_t abandoned;          /* calls given up at the deadline */
  bal_t **bals;
  size_t nbals, cap;
  uint64_t builtin_calls;
  /* missing-balancer errors, logged at most once a minute per name */
  char last_missing[BAL_NAME_MAX];
  int64_t last_missing_at;
  /* watch */
  uv_loop_t *loop;
  uv_fs_event_t watch;
  uv_timer_t timer;
  int watching;
  int open_handles;
};

/* ---- built-in ------------------------------------------------------------ */

int pgd_bal_least_loaded(const pgd_bal_worker_t *cands, size_t n) {
  int best = -1;
  for (size_t i = 0; i < n; i++) {
    const pgd_bal_worker_t *x = &cands[i];
    if (best < 0) {
      best = (int)i;
      continue;
    }
    const pgd_bal_worker_t *y = &cands[best];
    if (x->slots_free > y->slots_free ||
        (x->slots_free == y->slots_free &&
         (x->load1 < y->load1 || (x->load1 == y->load1 && x->running < y->running))))
      best = (int)i;
  }
  return best;
}

/* ---- helpers ------------------------------------------------------------- */

static void copy_str(char *dst, size_t len, const char *src) {
  if (!dst || !len) return;
  size_t l = src ? strlen(src) : 0;
  if (l >= len) l = len - 1; /* cut, on purpose */
  if (l) memcpy(dst, src, l);
  dst[l] = '\0';
}

static int valid_name(const char *s, size_t len) {
  if (len == 0 || len >= BAL_NAME_MAX) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-'))
      return 0;
  }
  return 1;
}

static uint64_t fnv1a(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static bal_t *find_bal(const pgd_balancers_t *b, const char *name) {
  for (size_t i = 0; i < b->nbals; i++)
    if (!strcmp(b->bals[i]->name, name)) return b->bals[i];
  return NULL;
}

static void record_error(bal_t *x, const char *msg) {
  int64_t now = pgd_now_us();
  int same = !strcmp(x->last_error, msg);
  x->errors++;
  copy_str(x->last_error, sizeof x->last_error, msg);
  x->last_error_at = now;
  if (!same || now - x->last_logged_at > LOG_REPEAT_US) {
    PGD_WARN(MOD, "balancer %s: %s", x->name, msg);
    x->last_logged_at = now;
  }
}

static void bal_free(bal_t *x) {
  if (!x) return;
  pgd_bal_code_free(x->code);
  free(x->file);
  free(x);
}

/* Reads a whole file (at most MAX_SCRIPT_BYTES). Returns malloc'ed text. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  char *buf = malloc(MAX_SCRIPT_BYTES + 1);
  size_t n = buf ? fread(buf, 1, MAX_SCRIPT_BYTES + 1, f) : 0;
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    snprintf(err, errlen, "cannot read %s", path);
    free(buf);
    return NULL;
  }
  if (n > MAX_SCRIPT_BYTES) {
    snprintf(err, errlen, "%s is larger than %u bytes", path, MAX_SCRIPT_BYTES);
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

/* (Re)loads one file into entry x. Returns 1 when the file was refused. */
static int load_one(pgd_balancers_t *b, bal_t *x) {
  char err[BAL_ERR_MAX] = "";
  size_t len = 0;
  char *text = read_file(x->file, &len, err, sizeof err);
  if (!text) {
    record_error(x, err);
    return 1;
  }
  uint64_t h = fnv1a(text, len);
  if (x->tried && x->hash == h && x->size == len) {
    free(text);
    return 0; /* unchanged: keep the code (or the error) as is */
  }
  x->tried = 1;
  x->hash = h;
  x->size = len;
  bal_code_t *code = pgd_bal_code_compile(x, text, len, b->instructions, b->call_mem_cap, err,
                                          sizeof err);
  free(text);
  if (!code) {
    char msg[BAL_ERR_MAX + 64];
    snprintf(msg, sizeof msg, "refused: %.470s%s", err,
             x->code ? " (the previous version stays in use)" : "");
    record_error(x, msg);
    return 1;
  }
  pgd_bal_code_free(x->code);
  x->code = code;
  x->last_error[0] = '\0';
  PGD_INFO(MOD, "balancer %s loaded from %s", x->name, x->file);
  return 0;
}

static int cmp_bal(const void *a, const void *c) {
  return strcmp((*(bal_t *const *)a)->name, (*(bal_t *const *)c)->name);
}

int pgd_balancers_reload(pgd_balancers_t *b) {
  if (!b) return -EINVAL;
  DIR *d = opendir(b->dir);
  if (!d) {
    int e = errno;
    if (e == ENOENT && b->nbals == 0) return 0;
    PGD_WARN(MOD, "cannot read balancer directory %s: %s", b->dir, strerror(e));
    return -e;
  }
  for (size_t i = 0; i < b->nbals; i++) b->bals[i]->seen = 0;
  int refused = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t len = strlen(de->d_name);
    if (len <= 4 || strcmp(de->d_name + len - 4, ".lua") != 0) continue;
    if (de->d_name[0] == '.') continue; /* editor temp files */
    char name[BAL_NAME_MAX];
    if (!valid_name(de->d_name, len - 4)) {
      PGD_WARN(MOD, "ignoring %s/%s: a balancer name is letters, digits, '_' and '-'", b->dir,
               de->d_name);
      continue;
    }
    memcpy(name, de->d_name, len - 4);
    name[len - 4] = '\0';
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", b->dir, de->d_name);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
    bal_t *x = find_bal(b, name);
    if (!x) {
      if (b->nbals == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 8;
        bal_t **nb = realloc(b->bals, nc * sizeof *nb);
        if (!nb) break;
        b->bals = nb;
        b->cap = nc;
      }
      x = calloc(1, sizeof *x);
      if (!x || !(x->file = strdup(path))) {
        free(x);
        break;
      }
      memcpy(x->name, name, sizeof name);
      b->bals[b->nbals++] = x;
    }
    x->seen = 1;
    refused += load_one(b, x);
  }
  closedir(d);
  /* Drop the balancers whose file is gone. */
  size_t k = 0;
  for (size_t i = 0; i < b->nbals; i++) {
    if (b->bals[i]->seen) {
      b->bals[k++] = b->bals[i];
    } else {
      PGD_INFO(MOD, "balancer %s removed (its file is gone)", b->bals[i]->name);
      bal_free(b->bals[i]);
    }
  }
  b->nbals = k;
  qsort(b->bals, b->nbals, sizeof *b->bals, cmp_bal);
  return refused;
}

/* ---- watch --------------------------------------------------------------- */

static void on_timer(uv_timer_t *t) {
  pgd_balancers_t *b = t->data;
  int r = pgd_balancers_reload(b);
  if (r > 0) PGD_WARN(MOD, "reload after a change in %s: %d script(s) refused", b->dir, r);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status) {
  (void)events;
  pgd_balancers_t *b = h->data;
  if (status < 0) {
    PGD_WARN(MOD, "watch of %s: %s", b->dir, uv_strerror(status));
    return;
  }
  if (filename) {
    size_t len = strlen(filename);
    if (len <= 4 || strcmp(filename + len - 4, ".lua") != 0) return;
  }
  /* Editors write in several steps: rescan once things settle. */
  uv_timer_start(&b->timer, on_timer, WATCH_DELAY_MS, 0);
}

static void free_all(pgd_balancers_t *b) {
  pgd_script_thread_free(b->thread); /* idle: picks are synchronous */
  for (size_t i = 0; i < b->nbals; i++) bal_free(b->bals[i]);
  free(b->bals);
  free(b->dir);
  free(b);
}

static void on_closed(uv_handle_t *h) {
  pgd_balancers_t *b = h->data;
  if (--b->open_handles == 0) free_all(b);
}

/* ---- open / close -------------------------------------------------------- */

int pgd_balancers_open(uv_loop_t *loop, const char *dir, const char *default_name,
                       pgd_balancers_t **out, char *err, size_t errlen) {
  if (!out || !dir) {
    copy_str(err, errlen, "no balancer directory");
    return -EINVAL;
  }
  *out = NULL;
  pgd_balancers_t *b = calloc(1, sizeof *b);
  if (!b || !(b->dir = strdup(dir))) {
    free(b);
    copy_str(err, errlen, "out of memory");
    return -ENOMEM;
  }
  const char *def = default_name && *default_name ? default_name : PGD_BAL_BUILTIN;
  if (!valid_name(def, strlen(def))) {
    copy_str(err, errlen, "invalid default balancer name");
    free_all(b);
    return -EINVAL;
  }
  copy_str(b->default_name, sizeof b->default_name, def);
  int r = pgd_balancers_reload(b);
  if (r > 0) PGD_WARN(MOD, "%d balancer script(s) in %s did not compile", r, dir);
  if (!find_bal(b, def) && strcmp(def, PGD_BAL_BUILTIN) != 0)
    PGD_WARN(MOD, "default balancer %s has no script in %s: the built-in %s decides", def, dir,
             PGD_BAL_BUILTIN);
  if (loop) {
    b->loop = loop;
    uv_timer_init(loop, &b->timer);
    b->timer.data = b;
    uv_fs_event_init(loop, &b->watch);
    b->watch.data = b;
    b->open_handles = 2;
    int w = uv_fs_event_start(&b->watch, on_fs_event, dir, 0);
    if (w == 0) {
      b->watching = 1;
    } else {
      PGD_WARN(MOD, "cannot watch %s (%s): reload on SIGHUP or POST /api/v1/balancers/reload", dir,
               uv_strerror(w));
    }
  }
  *out = b;
  return 0;
}

void pgd_balancers_set_limits(pgd_balancers_t *b, long instructions, size_t call_mem_cap) {
  if (!b) return;
  b->instructions = instructions;
  b->call_mem_cap = call_mem_cap;
  for (size_t i = 0; i < b->nbals; i++)
    if (b->bals[i]->code) pgd_sandbox_set_limits(b->bals[i]->code->sb, instructions, call_mem_cap, 0);
}

void pgd_balancers_set_script_thread(pgd_balancers_t *b, int on) {
  if (!b) return;
  b->inline_picks = !on;
  if (!on) {
    pgd_script_thread_free(b->thread); /* idle between picks */
    b->thread = NULL;
  }
}

void pgd_balancers_close(pgd_balancers_t *b) {
  if (!b) return;
  if (!b->loop) {
    free_all(b);
    return;
  }
  uv_close((uv_handle_t *)&b->timer, on_closed);
  uv_close((uv_handle_t *)&b->watch, on_closed);
}

int pgd_balancers_exists(const pgd_balancers_t *b, const char *name) {
  if (!b || !name) return 0;
  bal_t *x = find_bal(b, name);
  return x ? x->code != NULL : !strcmp(name, PGD_BAL_BUILTIN);
}

/* ---- pick ---------------------------------------------------------------- */

static bool in_list(const cJSON *ids, const char *id) {
  const cJSON *v;
  cJSON_ArrayForEach(v, ids) if (cJSON_IsString(v) && id && strcmp(v->valuestring, id) == 0) return true;
  return false;
}

int pgd_bal_builtin_pick(const pgd_bal_job_t *job, const pgd_bal_worker_t *cands, size_t n) {
  const cJSON *prev = job ? job->previous_workers : NULL;
  int best = -1;
  if (cJSON_GetArraySize(prev) > 0) {
    for (size_t i = 0; i < n; i++) {
      if (in_list(prev, cands[i].id)) continue;
      if (best < 0) {
        best = (int)i;
        continue;
      }
      const pgd_bal_worker_t pair[2] = {cands[best], cands[i]};
      if (pgd_bal_least_loaded(pair, 2) == 1) best = (int)i;
    }
  }
  return best >= 0 ? best : pgd_bal_least_loaded(cands, n);
}

static int fallback(const pgd_bal_job_t *job, const pgd_bal_worker_t *cands, size_t n,
                    char *reason, size_t reasonlen) {
  int i = pgd_bal_builtin_pick(job, cands, n);
  if (i < 0) copy_str(reason, reasonlen, "no candidate worker");
  return i;
}

int pgd_balancers_pick(pgd_balancers_t *b, const char *name, const pgd_bal_job_t *job,
                       const pgd_bal_worker_t *cands, size_t n, uint64_t cands_generation,
                       char *reason, size_t reasonlen, char *error, size_t errorlen) {
  copy_str(reason, reasonlen, "");
  copy_str(error, errorlen, "");
  if (!cands) n = 0;
  if (n == 0) {
    copy_str(reason, reasonlen, "no candidate worker");
    return -1;
  }
  if (!b) return fallback(job, cands, n, reason, reasonlen);
  if (!name || !*name) name = b->default_name;
  bal_t *x = find_bal(b, name);
  if (!x) {
    if (strcmp(name, PGD_BAL_BUILTIN) != 0) {
      char msg[BAL_ERR_MAX];
      snprintf(msg, sizeof msg, "no balancer named '%.64s': the built-in %s decided", name,
               PGD_BAL_BUILTIN);
      copy_str(error, errorlen, msg);
      int64_t now = pgd_now_us();
      if (strcmp(b->last_missing, name) != 0 || now - b->last_missing_at > LOG_REPEAT_US) {
        PGD_WARN(MOD, "%s", msg);
        copy_str(b->last_missing, sizeof b->last_missing, name);
        b->last_missing_at = now;
      }
    }
    b->builtin_calls++;
    return fallback(job, cands, n, reason, reasonlen);
  }
  x->calls++;
  if (!x->code) {
    char msg[BAL_ERR_MAX + 64];
    snprintf(msg, sizeof msg, "balancer %s is not loaded (%.400s): the built-in %s decided", x->name,
             x->last_error, PGD_BAL_BUILTIN);
    copy_str(error, errorlen, msg);
    return fallback(job, cands, n, reason, reasonlen);
  }
  static const pgd_bal_job_t empty_job = {0};
  x->call.job = job ? job : &empty_job;
  x->call.cands = cands;
  x->call.n = n;
  x->call.gen = cands_generation;
  char err[BAL_ERR_MAX] = "";
  if (!b->inline_picks && !b->thread && pgd_script_thread_new(&b->thread) != 0) {
    b->thread = NULL; /* cannot start one: run on this thread */
    PGD_WARN(MOD, "cannot start the balancers' script thread: picks run on the loop thread");
  }
  long deadline_ms = PGD_SANDBOX_DEFAULT_TIME_MS + THREAD_GRACE_MS;
  int rc = pgd_bal_code_pick(x, b->thread, deadline_ms, err, sizeof err);
  if (rc == PGD_SCRIPT_THREAD_ETIMEDOUT) {
    /* The thread and the state are gone: a new thread next time, and the
     * script compiled afresh from its file now (a fresh state table). */
    b->thread = NULL;
    b->abandoned++;
    x->tried = 0;
    load_one(b, x);
  }
  x->call.job = NULL;
  x->call.cands = NULL;
  x->call.n = 0;
  if (rc == 0 && !x->call.bad[0]) {
    if (x->call.index < 0) copy_str(reason, reasonlen, x->call.reason);
    return x->call.index;
  }
  const char *what = rc != 0 ? err : x->call.bad;
  char msg[BAL_ERR_MAX + 64];
  snprintf(msg, sizeof msg, "%.480s (the built-in %s decided)", what, PGD_BAL_BUILTIN);
  record_error(x, what);
  copy_str(error, errorlen, msg);
  return fallback(job, cands, n, reason, reasonlen);
}

/* ---- listing ------------------------------------------------------------- */

static cJSON *entry(const char *name, const char *file, int loaded, int builtin, int is_default,
                    const char *last_error, int64_t at, uint64_t calls, uint64_t errors) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  if (file)
    cJSON_AddStringToObject(o, "file", file);
  else
    cJSON_AddNullToObject(o, "file");
  cJSON_AddBoolToObject(o, "loaded", loaded);
  cJSON_AddBoolToObject(o, "builtin", builtin);
  cJSON_AddBoolToObject(o, "default", is_default);
  if (last_error && *last_error)
    cJSON_AddStringToObject(o, "last_error", last_error);
  else
    cJSON_AddNullToObject(o, "last_error");
  cJSON_AddNumberToObject(o, "last_error_at", (double)at);
  cJSON_AddNumberToObject(o, "calls", (double)calls);
  cJSON_AddNumberToObject(o, "errors", (double)errors);
  return o;
}

cJSON *pgd_balancers_to_json(const pgd_balancers_t *b) {
  cJSON *arr = cJSON_CreateArray();
  if (!b || !arr) return arr;
  int builtin_listed = 0;
  for (size_t i = 0; i < b->nbals; i++) {
    const bal_t *x = b->bals[i];
    if (!builtin_listed && strcmp(PGD_BAL_BUILTIN, x->name) < 0 && !find_bal(b, PGD_BAL_BUILTIN)) {
      cJSON_AddItemToArray(arr, entry(PGD_BAL_BUILTIN, NULL, 1, 1,
                                      !strcmp(b->default_name, PGD_BAL_BUILTIN), NULL, 0,
                                      b->builtin_calls, 0));
      builtin_listed = 1;
    }
    cJSON_AddItemToArray(arr, entry(x->name, x->file, x->code != NULL, 0,
                                    !strcmp(b->default_name, x->name), x->last_error,
                                    x->last_error_at, x->calls, x->errors));
  }
  if (!builtin_listed && !find_bal(b, PGD_BAL_BUILTIN))
    cJSON_AddItemToArray(arr, entry(PGD_BAL_BUILTIN, NULL, 1, 1,
                                    !strcmp(b->default_name, PGD_BAL_BUILTIN), NULL, 0,
                                    b->builtin_calls, 0));
  return arr;
}
