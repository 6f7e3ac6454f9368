/* Pagoda — watched directory views (masters/ -> the leader, workers/ -> the
 * worker set) and the worker's own registration.
 *
 * A refresh lists the directory with a child watch, then reads every
 * child's data (a child deleted and re-created between two listings must not
 * keep its old data), then publishes: on_leader_change when the lowest
 * masters/ znode or its data changed, on_workers when the set of workers or
 * their data changed. Refreshes are serialised per directory (busy/again).
 * Loop thread only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ha/zk_internal.h"

static void ents_free(zentry_t *ents, int n) {
  for (int i = 0; i < n; i++) {
    free(ents[i].name);
    free(ents[i].data);
  }
  free(ents);
}

static void drop_next(zdir_t *dir) {
  ents_free(dir->next, dir->nnext);
  dir->next = NULL;
  dir->nnext = 0;
}

void zk_dirs_reset(pgd_zk_t *zk) {
  for (int d = 0; d < ZDIR_COUNT; d++) {
    zdir_t *dir = &zk->dirs[d];
    dir->busy = dir->again = dir->pending = dir->failed = dir->nonode_tries = 0;
    drop_next(dir);
  }
}

void zk_dirs_free(pgd_zk_t *zk) {
  for (int d = 0; d < ZDIR_COUNT; d++) {
    zdir_t *dir = &zk->dirs[d];
    ents_free(dir->ents, dir->nents);
    dir->ents = NULL;
    dir->nents = 0;
    drop_next(dir);
    free(dir->published);
    dir->published = NULL;
  }
}

static void dir_fail(pgd_zk_t *zk, zdir_t *dir) {
  drop_next(dir);
  dir->busy = 0;
  dir->pending = 0;
  zk_retry_later(zk);
}

static void dir_list(pgd_zk_t *zk, int d) {
  zdir_t *dir = &zk->dirs[d];
  zreq_t *r = zk_req(zk, ZOP_DIR_LIST);
  if (!r) return dir_fail(zk, dir);
  r->dir = d;
  if (zoo_awget_children(zk->sess->zh, dir->path, zk_watcher, zk->sess, zk_strings_done, r) !=
      ZOK) {
    zk_req_free(r);
    dir_fail(zk, dir);
  }
}

void zk_dir_refresh(pgd_zk_t *zk, int d) {
  zdir_t *dir = &zk->dirs[d];
  if (!dir->enabled || !zk->connected || !zk->sess || zk->closing) return;
  if (dir->busy) {
    dir->again = 1;
    return;
  }
  dir->busy = 1;
  dir->again = 0;
  dir->failed = 0;
  dir_list(zk, d);
}

void zk_dir_watch(pgd_zk_t *zk, zev_t *ev) {
  for (int d = 0; d < ZDIR_COUNT; d++)
    if (zk->dirs[d].enabled && ev->path && !strcmp(ev->path, zk->dirs[d].path))
      zk_dir_refresh(zk, d);
}

static int cmp_seq(const void *a, const void *b) {
  const zentry_t *x = a, *y = b;
  /* entries without a sequence go last */
  int64_t sx = x->seq < 0 ? INT64_MAX : x->seq, sy = y->seq < 0 ? INT64_MAX : y->seq;
  if (sx != sy) return sx < sy ? -1 : 1;
  return strcmp(x->name, y->name);
}

static int cmp_name(const void *a, const void *b) {
  return strcmp(((const zentry_t *)a)->name, ((const zentry_t *)b)->name);
}

/* The parsed data of a znode, or NULL if it is not JSON. Owned by caller. */
static cJSON *parse_data(const zentry_t *e) { return e->data ? cJSON_Parse(e->data) : NULL; }

static const zentry_t *leader_entry(const zdir_t *dir) {
  for (int i = 0; i < dir->nents; i++)
    if (!dir->ents[i].gone && dir->ents[i].seq >= 0) return &dir->ents[i];
  return NULL;
}

static void publish_leader(pgd_zk_t *zk) {
  const zentry_t *e = leader_entry(&zk->dirs[ZDIR_MASTERS]);
  cJSON *obj = NULL;
  if (e) {
    obj = parse_data(e);
    if (!cJSON_IsObject(obj)) {
      cJSON_Delete(obj);
      obj = cJSON_CreateObject();
    }
    if (!obj) return;
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "node");
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "epoch");
    cJSON_AddStringToObject(obj, "node", e->name);
    cJSON_AddNumberToObject(obj, "epoch", (double)e->seq);
  }
  if ((!obj && !zk->leader) || (obj && zk->leader && cJSON_Compare(obj, zk->leader, 1))) {
    cJSON_Delete(obj);
    return;
  }
  cJSON_Delete(zk->leader);
  zk->leader = obj;
  if (obj)
    PGD_INFO(ZKLOG, "cluster %s: leader is %s (epoch %" PRId64 ")", zk->cluster, e->name, e->seq);
  else
    PGD_WARN(ZKLOG, "cluster %s: no master is running for leader", zk->cluster);
  if (zk->cbs.on_leader_change) zk->cbs.on_leader_change(zk, obj, zk->ud);
}

static void publish_workers(pgd_zk_t *zk) {
  zdir_t *dir = &zk->dirs[ZDIR_WORKERS];
  size_t len = 1;
  for (int i = 0; i < dir->nents; i++)
    if (!dir->ents[i].gone)
      len += strlen(dir->ents[i].name) + (dir->ents[i].data ? strlen(dir->ents[i].data) : 0) + 2;
  char *digest = malloc(len);
  if (!digest) return;
  char *p = digest;
  for (int i = 0; i < dir->nents; i++) {
    const zentry_t *e = &dir->ents[i];
    if (e->gone) continue;
    p += sprintf(p, "%s\x01%s\x02", e->name, e->data ? e->data : "");
  }
  *p = '\0';
  if (dir->published && !strcmp(dir->published, digest)) {
    free(digest);
    return;
  }
  cJSON *arr = cJSON_CreateArray();
  if (!arr) {
    free(digest);
    return;
  }
  for (int i = 0; i < dir->nents; i++) {
    const zentry_t *e = &dir->ents[i];
    if (e->gone) continue;
    cJSON *o = cJSON_CreateObject();
    if (!o) continue;
    cJSON_AddStringToObject(o, "id", e->name);
    cJSON *info = parse_data(e);
    cJSON_AddItemToObject(o, "info", info ? info : cJSON_CreateNull());
    cJSON_AddItemToArray(arr, o);
  }
  free(dir->published);
  dir->published = digest;
  PGD_INFO(ZKLOG, "cluster %s: %d worker(s) registered", zk->cluster, cJSON_GetArraySize(arr));
  if (zk->cbs.on_workers) zk->cbs.on_workers(zk, arr, zk->ud);
  cJSON_Delete(arr);
}

static void dir_publish(pgd_zk_t *zk, int d) {
  zdir_t *dir = &zk->dirs[d];
  dir->busy = 0;
  ents_free(dir->ents, dir->nents);
  dir->ents = dir->next;
  dir->nents = dir->nnext;
  dir->next = NULL;
  dir->nnext = 0;
  if (d == ZDIR_MASTERS)
    publish_leader(zk);
  else
    publish_workers(zk);
  if (!zk->closing && dir->again) zk_dir_refresh(zk, d);
}

static void on_list(pgd_zk_t *zk, zev_t *ev, int d) {
  zdir_t *dir = &zk->dirs[d];
  if (ev->rc == ZNONODE && dir->nonode_tries++ < 3) {
    zk_ensure_paths(zk); /* nobody created the cluster's paths yet */
    return dir_list(zk, d);
  }
  if (ev->rc != ZOK) return dir_fail(zk, dir);
  dir->nonode_tries = 0;
  zentry_t *ents = calloc((size_t)ev->nnames + 1, sizeof(*ents));
  if (!ents) return dir_fail(zk, dir);
  for (int i = 0; i < ev->nnames; i++) {
    ents[i].name = ev->names[i]; /* taken over from the event */
    ev->names[i] = NULL;
    ents[i].seq = d == ZDIR_MASTERS ? zk_seq_of(ents[i].name) : 0;
  }
  qsort(ents, (size_t)ev->nnames, sizeof(*ents), d == ZDIR_MASTERS ? cmp_seq : cmp_name);
  drop_next(dir);
  dir->next = ents;
  dir->nnext = ev->nnames;
  dir->pending = 0;
  dir->failed = 0;
  for (int i = 0; i < dir->nnext; i++) {
    char path[sizeof(dir->path) + PGD_ZK_NAME_MAX + 64];
    if (snprintf(path, sizeof(path), "%s/%s", dir->path, ents[i].name) >= (int)sizeof(path)) {
      ents[i].gone = 1;
      continue;
    }
    zreq_t *r = zk_req(zk, ZOP_DIR_DATA);
    if (r) r->name = strdup(ents[i].name);
    if (!r || !r->name) {
      zk_req_free(r);
      dir->failed = 1;
      break;
    }
    r->dir = d;
    if (zoo_aget(zk->sess->zh, path, 0, zk_data_done, r) != ZOK) {
      zk_req_free(r);
      dir->failed = 1;
      break;
    }
    dir->pending++;
  }
  if (dir->pending == 0) {
    if (dir->failed) return dir_fail(zk, dir);
    dir_publish(zk, d);
  }
}

static void on_data(pgd_zk_t *zk, zev_t *ev, int d) {
  zdir_t *dir = &zk->dirs[d];
  if (dir->pending <= 0) return;
  for (int i = 0; i < dir->nnext; i++) {
    zentry_t *e = &dir->next[i];
    if (strcmp(e->name, ev->req->name) != 0) continue;
    if (ev->rc == ZOK) {
      free(e->data);
      e->data = ev->value; /* taken over (NULL for an empty znode) */
      ev->value = NULL;
      e->fetched = 1;
    } else if (ev->rc == ZNONODE) {
      e->gone = 1; /* left between listing and reading: the watch refreshes */
    } else {
      dir->failed = 1;
    }
    break;
  }
  if (--dir->pending > 0) return;
  if (dir->failed) return dir_fail(zk, dir);
  dir_publish(zk, d);
}

void zk_dir_done(pgd_zk_t *zk, zev_t *ev) {
  int d = ev->req->dir;
  if (d < 0 || d >= ZDIR_COUNT) return;
  if (ev->req->op == ZOP_DIR_LIST)
    on_list(zk, ev, d);
  else
    on_data(zk, ev, d);
}

cJSON *pgd_zk_masters(pgd_zk_t *zk) {
  if (!zk) return NULL;
  cJSON *arr = cJSON_CreateArray();
  if (!arr) return NULL;
  const zdir_t *dir = &zk->dirs[ZDIR_MASTERS];
  const zentry_t *lead = leader_entry(dir);
  for (int i = 0; i < dir->nents; i++) {
    const zentry_t *e = &dir->ents[i];
    if (e->gone) continue;
    cJSON *o = cJSON_CreateObject();
    if (!o) break;
    cJSON_AddStringToObject(o, "node", e->name);
    cJSON_AddNumberToObject(o, "epoch", (double)e->seq);
    cJSON_AddBoolToObject(o, "leader", e == lead);
    cJSON_AddBoolToObject(o, "self", zk->my_node && !strcmp(zk->my_node, e->name));
    cJSON *info = parse_data(e);
    cJSON_AddItemToObject(o, "info", info ? info : cJSON_CreateNull());
    cJSON_AddItemToArray(arr, o);
  }
  return arr;
}

/* ---- worker registration ---------------------------------------------- */

static void reg_fail(pgd_zk_t *zk) {
  zk->reg_busy = 0;
  zk_retry_later(zk);
}

static void worker_path(const pgd_zk_t *zk, char *buf, size_t len) {
  snprintf(buf, len, "%s/%s", zk->dirs[ZDIR_WORKERS].path, zk->worker_id);
}

void zk_reg_step(pgd_zk_t *zk) {
  if (!zk->worker_id || zk->registered || zk->reg_busy || !zk->connected || !zk->sess ||
      zk->closing)
    return;
  char path[sizeof(zk->dirs[0].path) + PGD_ZK_NAME_MAX + 2];
  worker_path(zk, path, sizeof(path));
  zk->reg_busy = 1;
  zk_ensure_paths(zk);
  zreq_t *r = zk_req(zk, ZOP_REG_CREATE);
  if (!r) return reg_fail(zk);
  if (zoo_acreate(zk->sess->zh, path, zk->worker_info, (int)strlen(zk->worker_info),
                  &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, zk_string_done, r) != ZOK) {
    zk_req_free(r);
    reg_fail(zk);
  }
}

void zk_reg_done(pgd_zk_t *zk, zev_t *ev) {
  char path[sizeof(zk->dirs[0].path) + PGD_ZK_NAME_MAX + 2];
  worker_path(zk, path, sizeof(path));
  if (ev->req->op == ZOP_REG_CREATE) {
    if (ev->rc == ZOK) {
      zk->registered = 1;
      zk->reg_busy = 0;
      zk->reg_conflict = 0;
      PGD_INFO(ZKLOG, "cluster %s: registered worker %s", zk->cluster, zk->worker_id);
      return;
    }
    if (ev->rc != ZNODEEXISTS) return reg_fail(zk);
    zreq_t *r = zk_req(zk, ZOP_REG_CHECK); /* ours (an answer lost), or another's? */
    if (!r) return reg_fail(zk);
    if (zoo_aget(zk->sess->zh, path, 0, zk_data_done, r) != ZOK) {
      zk_req_free(r);
      reg_fail(zk);
    }
    return;
  }
  /* ZOP_REG_CHECK */
  if (ev->rc == ZNONODE) {
    zk->reg_busy = 0;
    return zk_reg_step(zk);
  }
  if (ev->rc == ZOK && ev->has_stat && ev->owner == zk->sid && zk->sid != 0) {
    zk->registered = 1;
    zk->reg_busy = 0;
    PGD_INFO(ZKLOG, "cluster %s: worker %s was registered by this session", zk->cluster,
             zk->worker_id);
    return;
  }
  if (ev->rc == ZOK && ev->owner != zk->reg_conflict) {
    zk->reg_conflict = ev->owner;
    PGD_WARN(ZKLOG, "cluster %s: worker id %s is held by session 0x%" PRIx64
             " (another worker, or this one before a lost session); retrying until it goes",
             zk->cluster, zk->worker_id, (uint64_t)ev->owner);
  }
  reg_fail(zk);
}
