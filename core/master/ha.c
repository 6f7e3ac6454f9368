/* Pagoda master — high availability: the ZooKeeper election (core/ha/zk.h)
 * decides which master leads. The leader takes a new epoch in the shared
 * store, recovers and serves; a standby answers reads from the store and
 * points writes at the leader; a leader that loses its session steps down at
 * once (docs/ha.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "ha/zk.h"
#include "master/leader_int.h"
#include "net/conn.h"

#define MOD "ha"

static void on_role(pgd_zk_t *zk, int role, void *ud) {
  pgd_master_t *m = ud;
  (void)zk;
  PGD_INFO(MOD, "role: %s", pgd_zk_role_name(role));
  if (m->stopping) return;
  if (role == PGD_ZK_LEADER) {
    if (!m->leader) m_leader_begin(m);
  } else if (role == PGD_ZK_SUSPENDED || role == PGD_ZK_LOST || role == PGD_ZK_FOLLOWER) {
    /* Suspended: the session may already be expired on the server while the
     * client cannot tell yet; dispatching now could run work twice. */
    if (m->leader) m_leader_end(m, pgd_zk_role_name(role));
  }
}

static void on_leader_change(pgd_zk_t *zk, const cJSON *leader, void *ud) {
  pgd_master_t *m = ud;
  (void)zk;
  cJSON_Delete(m->ha_leader);
  m->ha_leader = leader ? cJSON_Duplicate(leader, 1) : NULL;
  const char *http = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(leader, "http"));
  PGD_INFO(MOD, "leader: %s", http ? http : "(none)");
}

int m_ha_start(pgd_master_t *m, char *err, size_t errlen) {
  static const pgd_zk_cbs_t cbs = {.on_leader_change = on_leader_change, .on_role = on_role};
  int rc = pgd_zk_open(m->loop, m->cfg.ha_zookeeper, m->cfg.ha_cluster, m->cfg.ha_session_ms, &cbs,
                       m, &m->zk, err, errlen);
  if (rc < 0) return rc;
  char http[300], rpc[300], id[340];
  snprintf(http, sizeof http, "%s://%s:%d", m->cfg.http_tls ? "https" : "http", m->cfg.http_host, m->cfg.http_port);
  snprintf(rpc, sizeof rpc, "%s:%d", m->cfg.rpc_host, pgd_listener_port(m->listener));
  snprintf(id, sizeof id, "%s-%d", rpc, (int)getpid());
  cJSON *info = cJSON_CreateObject();
  cJSON_AddStringToObject(info, "id", id);
  cJSON_AddStringToObject(info, "http", http);
  cJSON_AddStringToObject(info, "rpc", rpc);
  cJSON_AddNumberToObject(info, "pid", (double)getpid());
  rc = pgd_zk_run_for_leader(m->zk, info);
  cJSON_Delete(info);
  if (rc < 0) snprintf(err, errlen, "cannot join the election: %s", strerror(-rc));
  return rc;
}

const char *m_ha_leader_http(const pgd_master_t *m) {
  /* The leader object is the leader's info plus "node" and "epoch". */
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m->ha_leader, "http"));
}

cJSON *m_ha_cluster_json(const pgd_master_t *m) {
  cJSON *o = cJSON_CreateObject();
  char buf[40];
  cJSON_AddStringToObject(o, "cluster", m->zk ? m->cfg.ha_cluster : "");
  cJSON_AddBoolToObject(o, "ha", m->zk != NULL);
  cJSON_AddStringToObject(o, "role", m->leader ? "leader" : "standby");
  cJSON_AddNumberToObject(o, "epoch", (double)m->epoch);
  if (m->leader) {
    cJSON_AddStringToObject(o, "leader_since", pgd_format_time_us(m->leader_since_us, buf, sizeof buf));
  }
  cJSON_AddItemToObject(o, "leader", m->ha_leader ? cJSON_Duplicate(m->ha_leader, 1) : cJSON_CreateNull());
  cJSON *masters = m->zk ? pgd_zk_masters(m->zk) : NULL;
  cJSON *list = cJSON_AddArrayToObject(o, "masters");
  const cJSON *x;
  cJSON_ArrayForEach(x, masters) {
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(x, "info");
    cJSON *e = mi ? cJSON_Duplicate(mi, 1) : cJSON_CreateObject();
    cJSON_AddBoolToObject(e, "leader", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "leader")));
    cJSON_AddBoolToObject(e, "self", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "self")));
    cJSON_AddItemToArray(list, e);
  }
  cJSON_Delete(masters);
  return o;
}

static void on_zk_closed(void *ud) {
  pgd_master_t *m = ud;
  m->zk = NULL;
  m_stop_progress(m);
}

bool m_ha_close(pgd_master_t *m) {
  if (!m->zk || m->zk_closing) return m->zk_closing;
  m->zk_closing = true;
  pgd_zk_close(m->zk, on_zk_closed, m);
  return true;
}
