/* Pagoda worker — pushed plugin versions (docs/plugins.md "Pushing a
 * plugin", docs/protocol.md `plugins`).
 *
 * The master's `plugins` message lists, per pushed type, the version to make
 * active. A version the registry holds is activated at once; another is
 * fetched as the resource "_plugin.<type>" at that hash through the resource
 * cache (which verifies the SHA-256 and keeps the file read-only) into the
 * working directory work/plugin-<sha256>/, then loaded off the loop by the
 * registry (ELF and size check, probe child with the load deadline, dlopen,
 * init) and activated if it is still the one offered. What the worker holds
 * and why a version was refused go to the master in every heartbeat.
 * Attempts already running keep the version they started with (the
 * registry never unloads one).
 *
 * Loop thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "worker/pushed.h"
#include "worker/worker_priv.h"

#define MOD "worker"

typedef struct entry {
  char type[72];
  char sha[65];
  int64_t size;
  int fetching; /* a fetch or load is in flight */
  char *reason; /* refused: why (owned), else NULL */
  struct entry *next;
} entry_t;

struct pgd_wpushed {
  pgd_worker_t *w;
  entry_t *entries;
  cJSON *offered; /* the last `plugins` list (owned copy of the offers) */
  int inflight;   /* callbacks owed */
  int orphan;     /* the worker is gone: callbacks only clean up */
};

typedef struct job {
  pgd_wpushed_t *wp;
  char type[72];
  char sha[65];
} job_t;

static entry_t *find(pgd_wpushed_t *wp, const char *type, const char *sha) {
  for (entry_t *e = wp->entries; e; e = e->next)
    if (strcmp(e->type, type) == 0 && strcmp(e->sha, sha) == 0) return e;
  return NULL;
}

static void wp_free(pgd_wpushed_t *wp) {
  entry_t *e = wp->entries;
  while (e) {
    entry_t *next = e->next;
    free(e->reason);
    free(e);
    e = next;
  }
  cJSON_Delete(wp->offered);
  free(wp);
}

/* true when the worker is gone (the job is then freed here). */
static bool orphaned(job_t *j) {
  pgd_wpushed_t *wp = j->wp;
  wp->inflight--;
  if (!wp->orphan) return false;
  free(j);
  if (wp->inflight == 0) wp_free(wp);
  return true;
}

/* Still the version the master offers for its type. */
static bool wanted(pgd_wpushed_t *wp, const char *type, const char *sha) {
  pgd_msg_plugin_offer_t o;
  for (int i = 0; i < pgd_msg_count(wp->offered); i++)
    if (pgd_msg_plugin_offer_at(wp->offered, i, &o) == 0 && strcmp(o.type, type) == 0)
      return strcmp(o.sha256, sha) == 0;
  return false;
}

static void refuse(entry_t *e, const char *why) {
  free(e->reason);
  e->reason = strdup(why);
  e->fetching = 0;
  PGD_WARN(MOD, "pushed plugin \"%s\" version %.12s refused: %s", e->type, e->sha, why);
}

static void loaded(void *ud, int rc, const char *msg, const pgd_plugin_t *p) {
  (void)p;
  job_t *j = ud;
  if (orphaned(j)) return;
  pgd_wpushed_t *wp = j->wp;
  entry_t *e = find(wp, j->type, j->sha);
  if (e) {
    e->fetching = 0;
    if (rc < 0) refuse(e, msg);
    else if (wanted(wp, j->type, j->sha)) pgd_registry_activate(wp->w->plugins, j->type, j->sha);
  }
  free(j);
}

static void fetched(pgd_resfetch_t *f, int status, const char *err, const char *workdir,
                    void *ud) {
  (void)f;
  job_t *j = ud;
  if (orphaned(j)) return;
  pgd_wpushed_t *wp = j->wp;
  entry_t *e = find(wp, j->type, j->sha);
  if (!e) {
    free(j);
    return;
  }
  if (status < 0) {
    char why[600];
    snprintf(why, sizeof why, "cannot fetch it: %s", err ? err : strerror(-status));
    refuse(e, why);
    free(j);
    return;
  }
  char path[4200];
  snprintf(path, sizeof path, "%s/_plugin.%s", workdir, j->type);
  wp->inflight++;
  int rc = pgd_registry_load_pushed(wp->w->plugins, wp->w->loop, path, j->sha, j->type, loaded, j);
  if (rc < 0) {
    wp->inflight--;
    refuse(e, "out of memory");
    free(j);
  }
}

static void start_fetch(pgd_wpushed_t *wp, entry_t *e) {
  cJSON *res = cJSON_CreateArray();
  char name[96], dir[96];
  snprintf(name, sizeof name, "_plugin.%s", e->type);
  snprintf(dir, sizeof dir, "plugin-%s", e->sha);
  pgd_msg_resource_t r = {.name = name, .hash = e->sha, .size = pgd_msg_int(e->size)};
  job_t *j = calloc(1, sizeof *j);
  char err[512] = "out of memory";
  int rc = -ENOMEM;
  if (res && j && pgd_msg_resource_add(res, &r) == 0) {
    j->wp = wp;
    snprintf(j->type, sizeof j->type, "%s", e->type);
    snprintf(j->sha, sizeof j->sha, "%s", e->sha);
    wp->inflight++;
    pgd_resfetch_t *f = NULL;
    rc = pgd_resfetch_start(wp->w->rescache, res, dir, fetched, j, &f, err, sizeof err);
    if (rc < 0) wp->inflight--;
  }
  cJSON_Delete(res);
  if (rc < 0) {
    free(j);
    refuse(e, err);
    return;
  }
  free(e->reason);
  e->reason = NULL;
  e->fetching = 1;
}

int pgd_wpushed_new(pgd_worker_t *w, pgd_wpushed_t **out) {
  pgd_wpushed_t *wp = calloc(1, sizeof *wp);
  if (!wp) return -ENOMEM;
  wp->w = w;
  *out = wp;
  return 0;
}

void pgd_wpushed_free(pgd_wpushed_t *wp) {
  if (!wp) return;
  wp->orphan = 1;
  if (wp->inflight == 0) wp_free(wp);
}

void pgd_wpushed_offer(pgd_wpushed_t *wp, const cJSON *msg) {
  pgd_msg_plugins_t m;
  char err[256];
  if (pgd_msg_plugins_decode(msg, &m, err, sizeof err) < 0) {
    PGD_WARN(MOD, "bad plugins message: %s; ignored", err);
    pgd_worker__send_error(wp->w, err);
    return;
  }
  cJSON *copy = cJSON_Duplicate(m.plugins, 1);
  if (!copy) return;
  cJSON_Delete(wp->offered);
  wp->offered = copy;
  pgd_msg_plugin_offer_t o;
  for (int i = 0; i < pgd_msg_count(copy); i++) {
    if (pgd_msg_plugin_offer_at(copy, i, &o) != 0 || strlen(o.sha256) != 64 ||
        strlen(o.type) >= sizeof wp->entries->type)
      continue;
    entry_t *e = find(wp, o.type, o.sha256);
    if (!e) {
      e = calloc(1, sizeof *e);
      if (!e) continue;
      snprintf(e->type, sizeof e->type, "%s", o.type);
      snprintf(e->sha, sizeof e->sha, "%s", o.sha256);
      e->next = wp->entries;
      wp->entries = e;
    }
    e->size = o.size.set ? o.size.v : 0;
    if (pgd_registry_find_version(wp->w->plugins, o.type, o.sha256)) {
      pgd_registry_activate(wp->w->plugins, o.type, o.sha256);
      free(e->reason);
      e->reason = NULL;
    } else if (!e->fetching) {
      start_fetch(wp, e); /* new, or refused before: tried again on each offer */
    }
  }
}

cJSON *pgd_wpushed_states(const pgd_wpushed_t *wp) {
  cJSON *arr = cJSON_CreateArray();
  for (const entry_t *e = wp ? wp->entries : NULL; arr && e; e = e->next) {
    const pgd_plugin_t *p = pgd_registry_find_version(wp->w->plugins, e->type, e->sha);
    char abi[16] = "";
    pgd_msg_plugin_state_t st = {.type = e->type, .sha256 = e->sha};
    if (p) {
      st.status = pgd_plugin_is_active(p) ? "active" : "loaded";
      st.version = pgd_plugin_version(p);
      snprintf(abi, sizeof abi, "1.%d", pgd_plugin_abi_minor(p));
      st.abi = abi;
    } else if (e->fetching) {
      st.status = "fetching";
    } else {
      st.status = "refused";
      st.reason = e->reason ? e->reason : "not loaded";
    }
    pgd_msg_plugin_state_add(arr, &st);
  }
  return arr;
}
