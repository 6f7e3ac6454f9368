/* Pagoda alarms — Lua alarm hooks (alarm_hook.h). */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "alarm/alarm_hook.h"
#include "common/json.h"
#include "common/log.h"
#include "script/sandbox.h"
#include "script/sandbox_json.h"
#include "script/script_thread.h"

#define MOD "alarm"
#define HOOK_GRACE_MS 250
#define HOOK_MAX_FILES 64

typedef struct {
  char *name;  /* file name */
  char *chunk; /* "@dir/name" */
  char *text;
  size_t len;
  pgd_sandbox_t *sb;
  int env_ref;
} hook_t;

struct pgd_alarm_hooks {
  hook_t *v;
  int n;
  long instructions;
  pgd_script_thread_t *thread;
};

/* One call; heap-allocated because an abandoned call keeps using it. */
typedef struct {
  pgd_sandbox_t *sb;
  int env_ref;
  cJSON *in;      /* the alarm given to Lua */
  int verdict;    /* 0 keep, 1 drop, 2 replace */
  cJSON *out;     /* the table returned (verdict 2) */
  int rc;
  char err[512];
} call_t;

static void call_free(call_t *c) {
  if (!c) return;
  cJSON_Delete(c->in);
  cJSON_Delete(c->out);
  free(c);
}

static int lua_call_fn(lua_State *L, void *ud) {
  call_t *c = ud;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->env_ref);
  lua_getfield(L, -1, "on_alarm");
  pgd_sandbox_push_json(L, c->in);
  lua_call(L, 1, 1);
  if (lua_isnil(L, -1)) {
    c->verdict = 0;
  } else if (lua_isboolean(L, -1)) {
    c->verdict = lua_toboolean(L, -1) ? 0 : 1;
  } else if (lua_istable(L, -1)) {
    char e[256];
    c->out = pgd_sandbox_to_json(L, -1, e, sizeof e);
    if (!c->out || !cJSON_IsObject(c->out))
      return luaL_error(L, "on_alarm returned a table that is not an object: %s", e);
    c->verdict = 2;
  } else {
    return luaL_error(L, "on_alarm must return nil, false or a table (got %s)",
                      luaL_typename(L, -1));
  }
  lua_pop(L, 2);
  return 0;
}

static void thread_fn(void *ud) {
  call_t *c = ud;
  c->rc = pgd_sandbox_call(c->sb, lua_call_fn, c, c->err, sizeof c->err);
}

static void orphan_done(void *ud) {
  call_t *c = ud;
  pgd_sandbox_free(c->sb);
  call_free(c);
}

static int compile(pgd_alarm_hooks_t *h, hook_t *k) {
  char e[512] = "";
  int rc = pgd_sandbox_new(k->name, h->instructions, 0, 0, &k->sb, e, sizeof e);
  if (rc == 0)
    rc = pgd_sandbox_load(k->sb, k->chunk, k->text, k->len, NULL, NULL, &k->env_ref, e, sizeof e);
  if (rc == 0) {
    lua_State *L = pgd_sandbox_state(k->sb);
    lua_rawgeti(L, LUA_REGISTRYINDEX, k->env_ref);
    int t = lua_getfield(L, -1, "on_alarm");
    lua_pop(L, 2);
    if (t != LUA_TFUNCTION) {
      snprintf(e, sizeof e, "defines no function on_alarm(alarm)");
      rc = -EINVAL;
    }
  }
  if (rc < 0) {
    PGD_ERROR(MOD, "alarm hook %s: %s (skipped)", k->chunk + 1, e);
    pgd_sandbox_free(k->sb);
    k->sb = NULL;
  }
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *read_text(const char *path, size_t *len) {
  FILE *f = fopen(path, "re");
  if (!f) return NULL;
  char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n + 4096 + 1 > cap) {
      cap = cap ? 2 * cap : 8192;
      char *nb = realloc(buf, cap);
      if (!nb || cap > (1u << 20)) {
        free(nb ? nb : buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
    }
    size_t r = fread(buf + n, 1, 4096, f);
    n += r;
    if (r == 0) break;
  }
  fclose(f);
  buf[n] = 0;
  *len = n;
  return buf;
}

int pgd_alarm_hooks_load(const char *dir, long instructions, pgd_alarm_hooks_t **out) {
  pgd_alarm_hooks_t *h = calloc(1, sizeof *h);
  if (!h) return -ENOMEM;
  h->instructions = instructions;
  *out = h;
  DIR *d = dir ? opendir(dir) : NULL;
  if (!d) return 0;
  char *names[HOOK_MAX_FILES];
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) && n < HOOK_MAX_FILES) {
    size_t l = strlen(de->d_name);
    if (l > 4 && strcmp(de->d_name + l - 4, ".lua") == 0 && de->d_name[0] != '.')
      names[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(names, (size_t)n, sizeof names[0], cmp_str);
  h->v = calloc((size_t)n + 1, sizeof *h->v);
  for (int i = 0; i < n; i++) {
    hook_t *k = h->v ? &h->v[h->n] : NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (k && (k->text = read_text(path, &k->len))) {
      k->name = names[i];
      names[i] = NULL;
      size_t cl = strlen(path) + 2;
      k->chunk = malloc(cl);
      if (k->chunk) snprintf(k->chunk, cl, "@%s", path);
      if (k->chunk && compile(h, k) == 0) {
        PGD_INFO(MOD, "alarm hook %s loaded", path);
        h->n++;
        continue;
      }
      free(k->name);
      free(k->chunk);
      free(k->text);
      memset(k, 0, sizeof *k);
    } else {
      PGD_ERROR(MOD, "alarm hook %s: cannot read it (skipped)", path);
    }
    free(names[i]);
  }
  return 0;
}

int pgd_alarm_hooks_count(const pgd_alarm_hooks_t *h) { return h ? h->n : 0; }

/* Takes subject / text / channels of the script's table, type-checked. */
static void apply(hook_t *k, cJSON *alarm, const cJSON *out) {
  static const char *const keys[] = {"subject", "text"};
  for (int i = 0; i < 2; i++) {
    const cJSON *v = pgd_json_get(out, keys[i]);
    if (cJSON_IsString(v))
      pgd_json_set_str(alarm, keys[i], v->valuestring);
    else if (v)
      PGD_WARN(MOD, "alarm hook %s: %s must be a string (ignored)", k->name, keys[i]);
  }
  const cJSON *ch = pgd_json_get(out, "channels");
  if (ch) {
    bool ok = cJSON_IsArray(ch);
    const cJSON *it;
    cJSON_ArrayForEach(it, ch) if (!cJSON_IsString(it)) ok = false;
    if (ok)
      pgd_json_set(alarm, "channels", cJSON_Duplicate(ch, 1));
    else
      PGD_WARN(MOD, "alarm hook %s: channels must be a list of names (ignored)", k->name);
  }
}

pgd_alarm_hook_verdict_t pgd_alarm_hooks_run(pgd_alarm_hooks_t *h, cJSON *alarm,
                                             const char **dropped_by) {
  for (int i = 0; h && i < h->n; i++) {
    hook_t *k = &h->v[i];
    if (!k->sb && compile(h, k) < 0) continue;
    if (!h->thread && pgd_script_thread_new(&h->thread) < 0) {
      PGD_ERROR(MOD, "alarm hooks: cannot start the script thread");
      return PGD_ALARM_HOOK_KEEP;
    }
    call_t *c = calloc(1, sizeof *c);
    if (!c || !(c->in = cJSON_Duplicate(alarm, 1))) {
      call_free(c);
      return PGD_ALARM_HOOK_KEEP;
    }
    c->sb = k->sb;
    c->env_ref = k->env_ref;
    int rc = pgd_script_thread_run(h->thread, thread_fn, c,
                                   PGD_SANDBOX_DEFAULT_TIME_MS + HOOK_GRACE_MS);
    if (rc == PGD_SCRIPT_THREAD_ETIMEDOUT) {
      PGD_ERROR(MOD, "alarm hook %s: on_alarm did not return in time; abandoned (alarm kept)",
                k->name);
      pgd_script_thread_orphan(h->thread, orphan_done, c);
      h->thread = NULL;
      k->sb = NULL; /* the orphan frees it; compiled again at the next alarm */
      continue;
    }
    if (c->rc < 0) {
      PGD_WARN(MOD, "alarm hook %s: %s (alarm kept)", k->name, c->err);
    } else if (c->verdict == 1) {
      *dropped_by = k->name;
      call_free(c);
      return PGD_ALARM_HOOK_DROP;
    } else if (c->verdict == 2) {
      apply(k, alarm, c->out);
    }
    call_free(c);
  }
  return PGD_ALARM_HOOK_KEEP;
}

void pgd_alarm_hooks_free(pgd_alarm_hooks_t *h) {
  if (!h) return;
  pgd_script_thread_free(h->thread);
  for (int i = 0; i < h->n; i++) {
    pgd_sandbox_free(h->v[i].sb);
    free(h->v[i].name);
    free(h->v[i].chunk);
    free(h->v[i].text);
  }
  free(h->v);
  free(h);
}
