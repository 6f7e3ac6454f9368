/* Rescans of the plugins directory off the loop thread: the listing on the
 * loop, the loading (probe with its deadline, dlopen, init) on a libuv pool
 * thread, the commit back on the loop. A plugin whose constructor sleeps
 * costs the loader thread at most the load deadline; the loop keeps
 * serving meanwhile. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "plugin/plugin_priv.h"

#define MOD "plugin"

typedef struct waiter {
  pgd_registry_scan_cb done;
  void *ud;
  struct waiter *next;
} waiter_t;

struct pgd_scan {
  uv_work_t work;
  pgd_registry_t *r;
  uv_loop_t *loop;
  pgd_cand_t *cands;
  size_t n;
  int timeout_ms;
  waiter_t *waiters;      /* served by this rescan */
  waiter_t *next_waiters; /* asked while it ran: served by one more */
  char *next_dir;         /* the directory of that one more (NULL: none) */
};

static void notify(waiter_t *w, int loaded) {
  while (w) {
    waiter_t *next = w->next;
    if (w->done) w->done(w->ud, loaded);
    free(w);
    w = next;
  }
}

static void on_work(uv_work_t *req) {
  struct pgd_scan *sc = req->data;
  for (size_t i = 0; i < sc->n; i++) pgd_cand_prepare(&sc->cands[i], sc->timeout_ms);
}

static int start(pgd_registry_t *r, uv_loop_t *loop, const char *dir, waiter_t *waiters);

static void after_work(uv_work_t *req, int status) {
  struct pgd_scan *sc = req->data;
  pgd_registry_t *r = sc->r;
  int loaded = 0;
  if (status < 0) { /* cancelled before loading: nothing to commit, nothing refused */
    for (size_t i = 0; i < sc->n; i++) pgd_cand_discard(&sc->cands[i]);
  } else {
    loaded = pgd_registry_commit(r, sc->cands, sc->n, NULL);
  }
  free(sc->cands);
  r->scan = NULL;
  waiter_t *next = sc->next_waiters;
  char *next_dir = sc->next_dir;
  uv_loop_t *loop = sc->loop;
  waiter_t *mine = sc->waiters;
  free(sc);
  if (loaded > 0) PGD_INFO(MOD, "hot-loaded %d new plugin(s)", loaded);
  notify(mine, loaded);
  if (next_dir) {
    if (r->scan) { /* a waiter's callback started one: ride along */
      waiter_t **tail = &r->scan->next_waiters;
      while (*tail) tail = &(*tail)->next;
      *tail = next;
      if (!r->scan->next_dir) r->scan->next_dir = next_dir;
      else free(next_dir);
    } else {
      start(r, loop, next_dir, next);
      free(next_dir);
    }
  }
}

/* Starts a rescan serving `waiters` (taken). */
static int start(pgd_registry_t *r, uv_loop_t *loop, const char *dir, waiter_t *waiters) {
  pgd_cand_t *cands = NULL;
  int n = pgd_registry_plan_dir(r, dir, &cands);
  if (n <= 0) { /* nothing new, or the directory cannot be read */
    free(cands);
    notify(waiters, n);
    return 0;
  }
  struct pgd_scan *sc = calloc(1, sizeof *sc);
  if (!sc) {
    for (int i = 0; i < n; i++) pgd_cand_discard(&cands[i]);
    free(cands);
    notify(waiters, -ENOMEM);
    return 0;
  }
  sc->r = r;
  sc->loop = loop;
  sc->cands = cands;
  sc->n = (size_t)n;
  sc->timeout_ms = r->load_timeout_ms;
  sc->waiters = waiters;
  sc->work.data = sc;
  r->scan = sc;
  int rc = uv_queue_work(loop, &sc->work, on_work, after_work);
  if (rc < 0) { /* no pool: load here rather than never */
    PGD_WARN(MOD, "cannot load plugins off the loop (%s): loading on it", uv_strerror(rc));
    on_work(&sc->work);
    after_work(&sc->work, 0);
  }
  return 0;
}

int pgd_registry_rescan(pgd_registry_t *r, uv_loop_t *loop, const char *dir,
                        pgd_registry_scan_cb done, void *ud) {
  if (!r || !loop || !dir) return -EINVAL;
  waiter_t *w = calloc(1, sizeof *w);
  if (!w) return -ENOMEM;
  w->done = done;
  w->ud = ud;
  if (r->scan) {
    w->next = r->scan->next_waiters;
    r->scan->next_waiters = w;
    if (!r->scan->next_dir && !(r->scan->next_dir = strdup(dir))) {
      r->scan->next_waiters = w->next;
      free(w);
      return -ENOMEM;
    }
    return 0;
  }
  return start(r, loop, dir, w);
}
