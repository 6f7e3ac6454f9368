/* Pagoda — leader election among masters (ZooKeeper recipe "leader
 * election" with predecessor watches, so a departure wakes one candidate).
 *
 * One step (serialised by el_busy; a request for another step meanwhile sets
 * el_again):
 *   1. list masters/ (no watch);
 *   2. find my candidate znode: by name if known, else by the prefix
 *      "m-<session id>-" (a create whose answer was lost with the connection
 *      may have succeeded); none: create it (EPHEMERAL_SEQUENTIAL) and go
 *      to 1;
 *   3. lowest sequence => LEADER; else set an exists-watch on the next
 *      lower znode => FOLLOWER (if it is already gone, go to 1). The watch
 *      firing starts a new step.
 * Loop thread only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "ha/zk_internal.h"

void zk_election_reset(pgd_zk_t *zk) {
  free(zk->my_node);
  free(zk->pred);
  zk->my_node = NULL;
  zk->pred = NULL;
  zk->my_seq = -1;
  zk->el_busy = 0;
  zk->el_again = 0;
}

static void el_fail(pgd_zk_t *zk) {
  zk->el_busy = 0;
  zk_retry_later(zk);
}

static void el_finish(pgd_zk_t *zk) {
  zk->el_busy = 0;
  if (zk->el_again) zk_election_step(zk);
}

static void el_list(pgd_zk_t *zk) {
  zreq_t *r = zk_req(zk, ZOP_EL_LIST);
  if (!r) return el_fail(zk);
  if (zoo_aget_children(zk->sess->zh, zk->dirs[ZDIR_MASTERS].path, 0, zk_strings_done, r) != ZOK) {
    zk_req_free(r);
    el_fail(zk);
  }
}

static void el_create(pgd_zk_t *zk) {
  char path[sizeof(zk->base) + 48];
  snprintf(path, sizeof(path), "%s/masters/m-%016" PRIx64 "-", zk->base, (uint64_t)zk->sid);
  zk_ensure_paths(zk);
  zreq_t *r = zk_req(zk, ZOP_EL_CREATE);
  if (!r) return el_fail(zk);
  if (zoo_acreate(zk->sess->zh, path, zk->my_info, (int)strlen(zk->my_info), &ZOO_OPEN_ACL_UNSAFE,
                  ZOO_EPHEMERAL_SEQUENTIAL, zk_string_done, r) != ZOK) {
    zk_req_free(r);
    el_fail(zk);
  }
}

void zk_election_step(pgd_zk_t *zk) {
  if (!zk->candidate || !zk->connected || !zk->sess || zk->closing) return;
  if (zk->el_busy) {
    zk->el_again = 1;
    return;
  }
  zk->el_busy = 1;
  zk->el_again = 0;
  el_list(zk);
}

static void on_list(pgd_zk_t *zk, zev_t *ev) {
  if (ev->rc == ZNONODE) return el_create(zk); /* creates the parents too */
  if (ev->rc != ZOK) return el_fail(zk);
  char prefix[40];
  snprintf(prefix, sizeof(prefix), "m-%016" PRIx64 "-", (uint64_t)zk->sid);
  int mine = -1;
  for (int i = 0; i < ev->nnames && mine < 0; i++)
    if (zk->my_node ? !strcmp(ev->names[i], zk->my_node)
                    : !strncmp(ev->names[i], prefix, strlen(prefix)))
      mine = i;
  if (mine < 0) {
    if (zk->my_node) {
      PGD_WARN(ZKLOG, "cluster %s: my candidate znode %s vanished; running again", zk->cluster,
               zk->my_node);
      free(zk->my_node);
      zk->my_node = NULL;
      zk->my_seq = -1;
      if (zk->role == PGD_ZK_LEADER) zk_set_role(zk, PGD_ZK_FOLLOWER);
    }
    return el_create(zk);
  }
  if (!zk->my_node) {
    zk->my_node = strdup(ev->names[mine]);
    if (!zk->my_node) return el_fail(zk);
    zk->my_seq = zk_seq_of(zk->my_node);
    PGD_INFO(ZKLOG, "cluster %s: found my candidate znode %s", zk->cluster, zk->my_node);
  }
  /* The predecessor: the highest sequence below mine. Names without a
   * sequence are not candidates. */
  int pred = -1;
  int64_t pred_seq = -1;
  for (int i = 0; i < ev->nnames; i++) {
    int64_t s = zk_seq_of(ev->names[i]);
    if (i == mine || s < 0 || s >= zk->my_seq) continue;
    if (s > pred_seq) {
      pred_seq = s;
      pred = i;
    }
  }
  if (!zk->connected) {
    zk->el_busy = 0; /* the reconnection starts a new step */
    return;
  }
  if (pred < 0) {
    free(zk->pred);
    zk->pred = NULL;
    if (zk->role != PGD_ZK_LEADER)
      PGD_INFO(ZKLOG, "cluster %s: elected leader (znode %s, epoch %" PRId64 ")", zk->cluster,
               zk->my_node, zk->my_seq);
    zk_set_role(zk, PGD_ZK_LEADER);
    if (!zk->closing) el_finish(zk);
    return;
  }
  if (zk->role == PGD_ZK_LEADER) zk_set_role(zk, PGD_ZK_FOLLOWER);
  if (zk->closing) return;
  if (!zk->pred || strcmp(zk->pred, ev->names[pred]) != 0) {
    free(zk->pred);
    zk->pred = strdup(ev->names[pred]);
    if (!zk->pred) return el_fail(zk);
  }
  char path[sizeof(zk->base) + 16 + PGD_ZK_NAME_MAX + 64];
  snprintf(path, sizeof(path), "%s/%s", zk->dirs[ZDIR_MASTERS].path, zk->pred);
  zreq_t *r = zk_req(zk, ZOP_EL_EXISTS);
  if (!r) return el_fail(zk);
  if (zoo_awexists(zk->sess->zh, path, zk_watcher, zk->sess, zk_stat_done, r) != ZOK) {
    zk_req_free(r);
    el_fail(zk);
  }
}

void zk_election_done(pgd_zk_t *zk, zev_t *ev) {
  switch (ev->req->op) {
    case ZOP_EL_LIST: on_list(zk, ev); break;
    case ZOP_EL_CREATE:
      if (ev->rc != ZOK || !ev->value) {
        PGD_WARN(ZKLOG, "cluster %s: cannot create my candidate znode: %s", zk->cluster,
                 zerror(ev->rc));
        return el_fail(zk);
      }
      free(zk->my_node);
      const char *slash = strrchr(ev->value, '/');
      zk->my_node = strdup(slash ? slash + 1 : ev->value);
      if (!zk->my_node) return el_fail(zk);
      zk->my_seq = zk_seq_of(zk->my_node);
      PGD_INFO(ZKLOG, "cluster %s: running for leader as %s", zk->cluster, zk->my_node);
      el_list(zk);
      break;
    case ZOP_EL_EXISTS:
      if (ev->rc == ZNONODE) return el_list(zk); /* gone meanwhile: look again */
      if (ev->rc != ZOK) return el_fail(zk);
      if (!zk->connected) {
        zk->el_busy = 0;
        return;
      }
      zk_set_role(zk, PGD_ZK_FOLLOWER);
      if (!zk->closing) el_finish(zk);
      break;
    default: break;
  }
}

void zk_election_watch(pgd_zk_t *zk, zev_t *ev) {
  if (!zk->candidate || !zk->pred || !ev->path) return;
  const char *mp = zk->dirs[ZDIR_MASTERS].path;
  size_t n = strlen(mp);
  if (strncmp(ev->path, mp, n) != 0 || ev->path[n] != '/' || strcmp(ev->path + n + 1, zk->pred))
    return;
  if (ev->type == ZOO_DELETED_EVENT)
    PGD_INFO(ZKLOG, "cluster %s: predecessor %s is gone", zk->cluster, zk->pred);
  zk_election_step(zk);
}
