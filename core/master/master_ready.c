/* Pagoda master — readiness (GET /api/v1/ready; docs/observability.md
 * "Readiness"), apart from liveness (GET /api/v1/health): liveness says the
 * process answers; readiness says it can do its job now, so that a load
 * balancer or an orchestrator sends it traffic. Loop thread only. */
#include <stdio.h>

#include "master/flows_int.h"
#include "master/leader_int.h"
#include "plugin/registry.h"

cJSON *pgd_master_readiness(const pgd_master_t *m) {
  cJSON *o = cJSON_CreateObject();
  cJSON *reasons = cJSON_CreateArray();
  char text[400];
  if (m->stopping) cJSON_AddItemToArray(reasons, cJSON_CreateString("the master is stopping"));
  if (!m->leader && !m_ha_leader_http(m))
    cJSON_AddItemToArray(reasons, cJSON_CreateString(
                                      "no leader is elected yet (this master is a standby)"));
  char why[256];
  if (pgd_store_health(m->store, why, sizeof why) < 0) {
    snprintf(text, sizeof text, "the store cannot write: %s", why);
    cJSON_AddItemToArray(reasons, cJSON_CreateString(text));
  }
  if (pgd_registry_count(m->plugins) == 0)
    cJSON_AddItemToArray(reasons, cJSON_CreateString(
                                      "no plugin is loaded: no job type can be validated"));
  if (m->leader && !m->flows)
    cJSON_AddItemToArray(reasons, cJSON_CreateString(
                                      "the leader is still loading its flows and schedules"));
  cJSON_AddBoolToObject(o, "ready", cJSON_GetArraySize(reasons) == 0);
  cJSON_AddStringToObject(o, "role", m->leader ? "leader" : "standby");
  if (!m->leader && m_ha_leader_http(m)) cJSON_AddStringToObject(o, "leader", m_ha_leader_http(m));
  cJSON_AddItemToObject(o, "reasons", reasons);
  return o;
}
