/* Pagoda API — health and cluster (docs/api.md "Health", docs/ha.md). */
#include "api/api_int.h"

/* Without a token (a liveness probe) it says only that the daemon is up
 * and its role; with a valid token, everything pgd_master_health gives. */
void api_health(api_req_t *r) {
  cJSON *h = pgd_master_health(r->m);
  if (!r->authed) {
    cJSON *brief = cJSON_CreateObject();
    cJSON_AddItemToObject(brief, "status", cJSON_DetachItemFromObject(h, "status"));
    cJSON_AddItemToObject(brief, "role", cJSON_DetachItemFromObject(h, "role"));
    cJSON_Delete(h);
    h = brief;
  }
  api_respond_take(r->req, 200, h);
}

void api_cluster(api_req_t *r) { api_respond_take(r->req, 200, pgd_master_cluster(r->m)); }
