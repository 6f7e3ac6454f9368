/* Pagoda API — health and cluster (docs/api.md "Health", docs/ha.md). */
#include <string.h>

#include "api/api_int.h"
#include "master/storage.h"

/* Without a token (a liveness probe) it says only that the daemon is up,
 * its role, and why it is degraded if it is; with a valid token, everything
 * pgd_master_health gives. 503 while degraded (the store cannot write), so
 * that a load balancer or a probe that only reads the status code sees it. */
void api_health(api_req_t *r) {
  cJSON *h = pgd_master_health(r->m);
  const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "status"));
  int code = status && strcmp(status, "ok") != 0 ? 503 : 200;
  if (!r->authed) {
    cJSON *brief = cJSON_CreateObject();
    cJSON_AddItemToObject(brief, "status", cJSON_DetachItemFromObject(h, "status"));
    cJSON_AddItemToObject(brief, "role", cJSON_DetachItemFromObject(h, "role"));
    cJSON *reason = cJSON_DetachItemFromObject(h, "reason");
    if (reason) cJSON_AddItemToObject(brief, "reason", reason);
    cJSON_Delete(h);
    h = brief;
  }
  api_respond_take(r->req, code, h);
}

void api_cluster(api_req_t *r) {
  cJSON *c = pgd_master_cluster(r->m);
  /* where logs are kept and how big the store and the logs are (master/storage.h) */
  if (c) cJSON_AddItemToObject(c, "storage", pgd_master_storage_json(r->m));
  api_respond_take(r->req, 200, c);
}

/* Readiness (docs/observability.md "Readiness"): 200 {"ready": true, ...}
 * or 503 {"ready": false, "reasons": [...]}, from pgd_master_readiness.
 * A viewer's route like any other: the reasons describe the cluster's
 * state; only liveness (health) answers without a token. */
void api_ready(api_req_t *r) {
  cJSON *o = pgd_master_readiness(r->m);
  int code = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "ready")) ? 200 : 503;
  api_respond_take(r->req, code, o);
}
