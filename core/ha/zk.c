/* Pagoda — ZooKeeper client: handle, sessions, event queue, close.
 *
 * The ZooKeeper client calls zk_watcher and the zk_*_done completions on its
 * own threads. They copy their arguments into a zev_t, append it to the
 * queue under zk->mu and wake the loop with uv_async_send; on_async drains
 * the queue on the loop thread and dispatches. Each session generation has
 * a number (zk->gen) carried by every request and watcher context, so
 * events of a session that was given up are dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/names.h"
#include "common/err.h"
#include "common/log.h"
#include "ha/zk_internal.h"

#define ZK_RETRY_MS 500

static void open_session_or_retry(pgd_zk_t *zk);

/* ---- helpers ---------------------------------------------------------- */

int zk_name_ok(const char *s) { return s && pgd_path_name_ok(s, strlen(s), PGD_ZK_NAME_MAX); }

int64_t zk_seq_of(const char *name) {
  const char *dash = name ? strrchr(name, '-') : NULL;
  if (!dash || !dash[1]) return -1;
  int64_t v = 0;
  for (const char *p = dash + 1; *p; p++) {
    if (*p < '0' || *p > '9' || v > (INT64_MAX - 9) / 10) return -1;
    v = v * 10 + (*p - '0');
  }
  return v;
}

const char *pgd_zk_role_name(int role) {
  switch (role) {
    case PGD_ZK_CONNECTING: return "connecting";
    case PGD_ZK_CONNECTED: return "connected";
    case PGD_ZK_FOLLOWER: return "follower";
    case PGD_ZK_LEADER: return "leader";
    case PGD_ZK_SUSPENDED: return "suspended";
    case PGD_ZK_LOST: return "lost";
    default: return "unknown";
  }
}

int pgd_zk_is_registered(const pgd_zk_t *zk) { return zk && zk->registered && zk->connected; }

int pgd_zk_role(const pgd_zk_t *zk) { return zk ? zk->role : PGD_ZK_CONNECTING; }

int64_t pgd_zk_epoch(const pgd_zk_t *zk) {
  return (zk && zk->role == PGD_ZK_LEADER && zk->my_node) ? zk->my_seq : -1;
}

void zk_set_role(pgd_zk_t *zk, int role) {
  if (zk->role == role) return;
  PGD_INFO(ZKLOG, "cluster %s: %s -> %s", zk->cluster, pgd_zk_role_name(zk->role),
           pgd_zk_role_name(role));
  zk->role = role;
  if (zk->cbs.on_role && !zk->closing) zk->cbs.on_role(zk, role, zk->ud);
}

zreq_t *zk_req(pgd_zk_t *zk, int op) {
  zreq_t *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  r->zk = zk;
  r->op = op;
  r->gen = zk->gen;
  r->next = zk->reqs;
  if (zk->reqs) zk->reqs->prev = r;
  zk->reqs = r;
  return r;
}

/* Loop thread. */
void zk_req_free(zreq_t *r) {
  if (!r) return;
  if (r->prev)
    r->prev->next = r->next;
  else
    r->zk->reqs = r->next;
  if (r->next) r->next->prev = r->prev;
  free(r->name);
  free(r);
}

static void ev_free(zev_t *ev) {
  zk_req_free(ev->req);
  free(ev->path);
  free(ev->value);
  for (int i = 0; i < ev->nnames; i++) free(ev->names[i]);
  free(ev->names);
  free(ev);
}

/* ---- ZooKeeper threads -> loop ------------------------------------------ */

static void push(pgd_zk_t *zk, zev_t *ev) {
  uv_mutex_lock(&zk->mu);
  if (zk->tail)
    zk->tail->next = ev;
  else
    zk->head = ev;
  zk->tail = ev;
  int ready = zk->ready;
  uv_mutex_unlock(&zk->mu);
  if (ready) uv_async_send(&zk->async);
}

/* Client thread. */
void zk_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
  (void)zh;
  zsess_t *s = ctx;
  if (!s) return;
  zev_t *ev = calloc(1, sizeof(*ev));
  if (!ev) return;
  ev->kind = ZEV_WATCH;
  ev->gen = s->gen;
  ev->type = type;
  ev->state = state;
  ev->path = strdup(path ? path : "");
  push(s->zk, ev);
}

static zev_t *done_ev(int rc, const void *data) {
  zreq_t *r = (zreq_t *)data;
  zev_t *ev = calloc(1, sizeof(*ev));
  if (!ev) {
    /* Out of memory on a client thread: the request stays in zk->reqs (freed
     * with the module); the operation's busy flag is cleared when the
     * session is renewed. */
    (void)r;
    return NULL;
  }
  ev->kind = ZEV_DONE;
  ev->gen = r->gen;
  ev->req = r;
  ev->rc = rc;
  ev->value_len = -1;
  return ev;
}

void zk_string_done(int rc, const char *value, const void *data) {
  zev_t *ev = done_ev(rc, data);
  if (!ev) return;
  if (rc == ZOK && value) ev->value = strdup(value);
  push(ev->req->zk, ev);
}

void zk_strings_done(int rc, const struct String_vector *strings, const void *data) {
  zev_t *ev = done_ev(rc, data);
  if (!ev) return;
  if (rc == ZOK && strings && strings->count > 0) {
    ev->names = calloc((size_t)strings->count, sizeof(char *));
    if (ev->names) {
      for (int i = 0; i < strings->count; i++) {
        ev->names[i] = strdup(strings->data[i]);
        if (!ev->names[i]) break;
        ev->nnames++;
      }
      if (ev->nnames != strings->count) ev->rc = ZSYSTEMERROR;
    } else {
      ev->rc = ZSYSTEMERROR;
    }
  }
  push(ev->req->zk, ev);
}

void zk_data_done(int rc, const char *value, int value_len, const struct Stat *stat,
                  const void *data) {
  zev_t *ev = done_ev(rc, data);
  if (!ev) return;
  if (rc == ZOK) {
    if (value && value_len >= 0) {
      ev->value = malloc((size_t)value_len + 1);
      if (ev->value) {
        memcpy(ev->value, value, (size_t)value_len);
        ev->value[value_len] = '\0';
        ev->value_len = value_len;
      } else {
        ev->rc = ZSYSTEMERROR;
      }
    }
    if (stat) {
      ev->has_stat = 1;
      ev->owner = stat->ephemeralOwner;
    }
  }
  push(ev->req->zk, ev);
}

void zk_stat_done(int rc, const struct Stat *stat, const void *data) {
  zev_t *ev = done_ev(rc, data);
  if (!ev) return;
  if (rc == ZOK && stat) {
    ev->has_stat = 1;
    ev->owner = stat->ephemeralOwner;
  }
  push(ev->req->zk, ev);
}

static void zk_log_cb(const char *msg) {
  /* Client thread; pgd_log is thread-safe. The client's own lines are noisy
   * (every failed connect attempt): the module logs what matters itself. */
  char buf[512];
  snprintf(buf, sizeof(buf), "%s", msg ? msg : "");
  size_t n = strlen(buf);
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
  PGD_DEBUG(ZKLOG, "zookeeper: %s", buf);
}

/* ---- sessions ------------------------------------------------------------ */

static void after_retire(uv_work_t *w, int status);

static void work_retire(uv_work_t *w) {
  zsess_t *s = w->data;
  zookeeper_close(s->zh); /* joins the client's threads */
}

static void maybe_finish(pgd_zk_t *zk);

/* Closes a session's handle on the thread pool (zookeeper_close waits for
 * the server's answer). Loop thread. */
static void retire(pgd_zk_t *zk, zsess_t *s) {
  if (!s) return;
  uv_work_t *w = calloc(1, sizeof(*w));
  zk->retiring++;
  if (w) {
    w->data = s;
    if (uv_queue_work(zk->loop, w, work_retire, after_retire) == 0) return;
    free(w);
  }
  zookeeper_close(s->zh);
  free(s);
  zk->retiring--;
}

static void after_retire(uv_work_t *w, int status) {
  (void)status;
  zsess_t *s = w->data;
  pgd_zk_t *zk = s->zk;
  free(s);
  free(w);
  zk->retiring--;
  maybe_finish(zk);
}

static int open_session(pgd_zk_t *zk) {
  zsess_t *s = calloc(1, sizeof(*s));
  if (!s) return -ENOMEM;
  s->zk = zk;
  s->gen = ++zk->gen;
  errno = 0;
  s->zh = zookeeper_init2(zk->hosts, zk_watcher, zk->session_ms, NULL, s, 0, zk_log_cb);
  if (!s->zh) {
    int e = errno ? errno : EINVAL;
    free(s);
    return -e;
  }
  zk->sess = s;
  zk->connected = 0;
  zk->ever_connected = 0;
  zk->sid = 0;
  return 0;
}

static void open_session_or_retry(pgd_zk_t *zk) {
  int rc = open_session(zk);
  if (rc < 0) {
    PGD_ERROR(ZKLOG, "cluster %s: cannot create a ZooKeeper handle for %s: %s", zk->cluster,
              zk->hosts, strerror(-rc));
    zk_retry_later(zk);
  }
}

static void kick(pgd_zk_t *zk) {
  if (!zk->connected || zk->closing) return;
  if (zk->candidate) zk_election_step(zk);
  if (zk->worker_id) zk_reg_step(zk);
  for (int d = 0; d < ZDIR_COUNT; d++)
    if (zk->dirs[d].enabled) zk_dir_refresh(zk, d);
}

/* The session is gone (expired, or disconnected for too long): report LOST
 * and start a new one. */
static void lose_session(pgd_zk_t *zk, const char *why) {
  PGD_WARN(ZKLOG, "cluster %s: ZooKeeper session 0x%" PRIx64 " lost: %s", zk->cluster,
           (uint64_t)zk->sid, why);
  uv_timer_stop(&zk->suspend_timer);
  zsess_t *old = zk->sess;
  zk->sess = NULL;
  zk->gen++; /* drop whatever the old session still delivers */
  zk->connected = 0;
  zk->sid = 0;
  zk->registered = 0;
  zk->reg_busy = 0;
  zk_election_reset(zk);
  zk_dirs_reset(zk);
  retire(zk, old);
  zk_set_role(zk, PGD_ZK_LOST);
  if (!zk->closing) open_session_or_retry(zk);
}

static void on_suspend_timeout(uv_timer_t *t) {
  pgd_zk_t *zk = t->data;
  if (zk->closing || zk->connected) return;
  lose_session(zk, "disconnected for longer than the session timeout");
}

static void on_retry(uv_timer_t *t) {
  pgd_zk_t *zk = t->data;
  if (zk->closing) return;
  if (!zk->sess)
    open_session_or_retry(zk);
  else
    kick(zk);
}

void zk_retry_later(pgd_zk_t *zk) {
  if (zk->closing || uv_is_active((uv_handle_t *)&zk->retry_timer)) return;
  uv_timer_start(&zk->retry_timer, on_retry, ZK_RETRY_MS, 0);
}

static void session_event(pgd_zk_t *zk, int state) {
  if (state == ZOO_CONNECTED_STATE) {
    if (zk->connected) return;
    zk->connected = 1;
    uv_timer_stop(&zk->suspend_timer);
    const clientid_t *cid = zoo_client_id(zk->sess->zh);
    int64_t sid = cid ? cid->client_id : 0;
    if (!zk->ever_connected || sid != zk->sid)
      PGD_INFO(ZKLOG, "cluster %s: ZooKeeper session 0x%" PRIx64 " established (timeout %d ms)",
               zk->cluster, (uint64_t)sid, zoo_recv_timeout(zk->sess->zh));
    else
      PGD_INFO(ZKLOG, "cluster %s: reconnected to ZooKeeper, session 0x%" PRIx64 " kept",
               zk->cluster, (uint64_t)sid);
    zk->sid = sid;
    zk->ever_connected = 1;
    if (!zk->candidate) zk_set_role(zk, PGD_ZK_CONNECTED);
    kick(zk);
  } else if (state == ZOO_CONNECTING_STATE || state == ZOO_ASSOCIATING_STATE ||
             state == ZOO_NOTCONNECTED_STATE) {
    if (!zk->connected) return;
    zk->connected = 0;
    PGD_WARN(ZKLOG, "cluster %s: disconnected from ZooKeeper; session 0x%" PRIx64
             " lost unless back within %d ms", zk->cluster, (uint64_t)zk->sid, zk->session_ms);
    uv_timer_start(&zk->suspend_timer, on_suspend_timeout, (uint64_t)zk->session_ms, 0);
    if (zk->role == PGD_ZK_CONNECTED || zk->role == PGD_ZK_FOLLOWER || zk->role == PGD_ZK_LEADER)
      zk_set_role(zk, PGD_ZK_SUSPENDED);
  } else if (state == ZOO_EXPIRED_SESSION_STATE) {
    lose_session(zk, "expired");
  } else if (state == ZOO_AUTH_FAILED_STATE) {
    lose_session(zk, "authentication failed");
  }
}

static void dispatch(pgd_zk_t *zk, zev_t *ev) {
  if (ev->gen != zk->gen || !zk->sess) return; /* a session given up */
  if (ev->kind == ZEV_WATCH) {
    if (ev->type == ZOO_SESSION_EVENT) {
      session_event(zk, ev->state);
    } else if (ev->type != ZOO_NOTWATCHING_EVENT) {
      zk_election_watch(zk, ev);
      if (!zk->closing) zk_dir_watch(zk, ev);
    }
    return;
  }
  switch (ev->req->op) {
    case ZOP_IGNORE:
      if (ev->rc != ZOK && ev->rc != ZNODEEXISTS)
        PGD_DEBUG(ZKLOG, "cluster %s: create of a parent znode: %s", zk->cluster, zerror(ev->rc));
      break;
    case ZOP_EL_LIST:
    case ZOP_EL_CREATE:
    case ZOP_EL_EXISTS: zk_election_done(zk, ev); break;
    case ZOP_DIR_LIST:
    case ZOP_DIR_DATA: zk_dir_done(zk, ev); break;
    case ZOP_REG_CREATE:
    case ZOP_REG_CHECK: zk_reg_done(zk, ev); break;
    default: break;
  }
}

static void on_async(uv_async_t *a) {
  pgd_zk_t *zk = a->data;
  uv_mutex_lock(&zk->mu);
  zev_t *ev = zk->head;
  zk->head = zk->tail = NULL;
  uv_mutex_unlock(&zk->mu);
  while (ev) {
    zev_t *next = ev->next;
    if (!zk->closing) dispatch(zk, ev);
    ev_free(ev);
    ev = next;
  }
}

/* Creates /pagoda, /pagoda/<cluster>, masters/ and workers/ (existing ones
 * answer ZNODEEXISTS). Requests of a session run in order, so a request sent
 * after these sees them. */
void zk_ensure_paths(pgd_zk_t *zk) {
  if (!zk->sess) return;
  char path[sizeof(zk->base) + 16];
  const char *paths[4] = {"/pagoda", zk->base, NULL, NULL};
  char m[sizeof(path)], w[sizeof(path)];
  snprintf(m, sizeof(m), "%s/masters", zk->base);
  snprintf(w, sizeof(w), "%s/workers", zk->base);
  paths[2] = m;
  paths[3] = w;
  for (int i = 0; i < 4; i++) {
    zreq_t *r = zk_req(zk, ZOP_IGNORE);
    if (!r) return;
    if (zoo_acreate(zk->sess->zh, paths[i], "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, zk_string_done, r) !=
        ZOK)
      zk_req_free(r);
  }
}

/* ---- open / close -------------------------------------------------------- */

static uv_once_t log_once = UV_ONCE_INIT;
static void set_log_level(void) { zoo_set_debug_level(ZOO_LOG_LEVEL_WARN); }

int pgd_zk_open(uv_loop_t *loop, const char *hosts, const char *cluster, int session_ms,
                const pgd_zk_cbs_t *cbs, void *ud, pgd_zk_t **out, char *err, size_t errlen) {
  if (out) *out = NULL;
  if (!loop || !out) {
    return pgd_set_err(err, errlen, -EINVAL, "pgd_zk_open: loop and out are required");
  }
  if (!hosts || !*hosts || strlen(hosts) > 4096 || strpbrk(hosts, " \t\r\n")) {
    return pgd_set_err(err, errlen, -EINVAL,
                       "ha.zookeeper: expected \"host:port[,host:port...][/chroot]\"");
  }
  if (!zk_name_ok(cluster)) {
    return pgd_set_err(err, errlen, -EINVAL,
                       "cluster name: 1 to 128 characters of [A-Za-z0-9_.-], not \".\" or \"..\"");
  }
  if (session_ms < PGD_ZK_SESSION_MIN_MS || session_ms > PGD_ZK_SESSION_MAX_MS) {
    return pgd_set_err(err, errlen, -EINVAL, "ha session timeout: expected 200 to 600000 ms");
  }
  uv_once(&log_once, set_log_level);
  pgd_zk_t *zk = calloc(1, sizeof(*zk));
  if (!zk || !(zk->hosts = strdup(hosts))) {
    free(zk);
    return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  }
  zk->loop = loop;
  snprintf(zk->cluster, sizeof(zk->cluster), "%s", cluster);
  snprintf(zk->base, sizeof(zk->base), "/pagoda/%s", cluster);
  snprintf(zk->dirs[ZDIR_MASTERS].path, sizeof(zk->dirs[0].path), "%s/masters", zk->base);
  snprintf(zk->dirs[ZDIR_WORKERS].path, sizeof(zk->dirs[0].path), "%s/workers", zk->base);
  zk->session_ms = session_ms;
  if (cbs) zk->cbs = *cbs;
  zk->ud = ud;
  zk->role = PGD_ZK_CONNECTING;
  zk->my_seq = -1;
  if (uv_mutex_init(&zk->mu) != 0) {
    free(zk->hosts);
    free(zk);
    return pgd_set_err(err, errlen, -ENOMEM, "cannot create a mutex");
  }
  /* The handle first: the async handle is only made once nothing can fail,
   * so a failure here needs no loop iteration to clean up. Events that the
   * client delivers before `ready` wait in the queue. */
  int rc = open_session(zk);
  if (rc < 0) {
    pgd_set_err(err, errlen, rc, "ZooKeeper client refused hosts \"%s\": %s", hosts, strerror(-rc));
    uv_mutex_destroy(&zk->mu);
    free(zk->hosts);
    free(zk);
    return rc;
  }
  uv_async_init(loop, &zk->async, on_async);
  zk->async.data = zk;
  uv_timer_init(loop, &zk->suspend_timer);
  zk->suspend_timer.data = zk;
  uv_timer_init(loop, &zk->retry_timer);
  zk->retry_timer.data = zk;
  zk->uv_open = 3;
  uv_mutex_lock(&zk->mu);
  zk->ready = 1;
  int pending = zk->head != NULL;
  uv_mutex_unlock(&zk->mu);
  if (pending) uv_async_send(&zk->async);
  PGD_INFO(ZKLOG, "cluster %s: connecting to ZooKeeper %s (session timeout %d ms)", cluster,
           hosts, session_ms);
  *out = zk;
  return 0;
}

static void free_all(pgd_zk_t *zk) {
  zev_t *ev = zk->head;
  while (ev) {
    zev_t *next = ev->next;
    ev_free(ev);
    ev = next;
  }
  zk->head = zk->tail = NULL;
  while (zk->reqs) zk_req_free(zk->reqs); /* completions the client dropped */
  zk_election_reset(zk);
  zk_dirs_free(zk);
  cJSON_Delete(zk->leader);
  free(zk->my_info);
  free(zk->worker_id);
  free(zk->worker_info);
  free(zk->hosts);
  uv_mutex_destroy(&zk->mu);
  free(zk);
}

static void on_handle_closed(uv_handle_t *h) {
  pgd_zk_t *zk = h->data;
  if (--zk->uv_open > 0) return;
  void (*cb)(void *) = zk->closed_cb;
  void *cud = zk->closed_ud;
  free_all(zk);
  if (cb) cb(cud);
}

static void maybe_finish(pgd_zk_t *zk) {
  if (!zk->closing || zk->retiring > 0 || zk->uv_open != 3) return;
  /* Every client thread is joined: nothing pushes any more. */
  uv_close((uv_handle_t *)&zk->async, on_handle_closed);
  uv_close((uv_handle_t *)&zk->suspend_timer, on_handle_closed);
  uv_close((uv_handle_t *)&zk->retry_timer, on_handle_closed);
}

void pgd_zk_close(pgd_zk_t *zk, void (*closed)(void *ud), void *closed_ud) {
  if (!zk || zk->closing) return;
  zk->closing = 1;
  zk->closed_cb = closed;
  zk->closed_ud = closed_ud;
  uv_timer_stop(&zk->suspend_timer);
  uv_timer_stop(&zk->retry_timer);
  zsess_t *s = zk->sess;
  zk->sess = NULL;
  zk->gen++;
  zk->connected = 0;
  PGD_INFO(ZKLOG, "cluster %s: closing the ZooKeeper session", zk->cluster);
  retire(zk, s);
  maybe_finish(zk);
}

/* ---- requests from the lead ---------------------------------------------- */

static char *json_text(const cJSON *j) {
  return j ? cJSON_PrintUnformatted(j) : NULL;
}

int pgd_zk_run_for_leader(pgd_zk_t *zk, const cJSON *my_info) {
  if (!zk || !cJSON_IsObject(my_info)) return -EINVAL;
  if (zk->closing) return -ESHUTDOWN;
  if (zk->candidate) return -EALREADY;
  char *txt = json_text(my_info);
  if (!txt) return -ENOMEM;
  if (strlen(txt) > 512 * 1024) {
    free(txt);
    return -EINVAL; /* far below ZooKeeper's 1 MB znode limit */
  }
  zk->my_info = txt;
  zk->candidate = 1;
  zk->dirs[ZDIR_MASTERS].enabled = 1;
  if (zk->connected) {
    zk_set_role(zk, PGD_ZK_FOLLOWER); /* until the election says otherwise */
    kick(zk);
  }
  return 0;
}

int pgd_zk_register_worker(pgd_zk_t *zk, const char *id, const cJSON *info) {
  if (!zk || !zk_name_ok(id) || !cJSON_IsObject(info)) return -EINVAL;
  if (zk->closing) return -ESHUTDOWN;
  if (zk->worker_id) return -EALREADY;
  char *txt = json_text(info);
  char *wid = strdup(id);
  if (!txt || !wid) {
    free(txt);
    free(wid);
    return -ENOMEM;
  }
  if (strlen(txt) > 512 * 1024) {
    free(txt);
    free(wid);
    return -EINVAL;
  }
  zk->worker_id = wid;
  zk->worker_info = txt;
  kick(zk);
  return 0;
}

static int watch_dir(pgd_zk_t *zk, int d) {
  if (!zk) return -EINVAL;
  if (zk->closing) return -ESHUTDOWN;
  if (zk->dirs[d].enabled) return 0;
  zk->dirs[d].enabled = 1;
  kick(zk);
  return 0;
}

int pgd_zk_watch_leader(pgd_zk_t *zk) { return watch_dir(zk, ZDIR_MASTERS); }
int pgd_zk_watch_workers(pgd_zk_t *zk) { return watch_dir(zk, ZDIR_WORKERS); }
