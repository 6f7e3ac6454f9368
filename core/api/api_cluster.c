/* Pagoda API — health and cluster (docs/api.md "Health", docs/ha.md). */
#include <string.h>

#include "api/api_int.h"

/* 503 while degraded (the store cannot write), so that a load balancer or a
 * probe that only reads the status code sees it too. */
void api_health(api_req_t *r) {
  cJSON *h = pgd_master_health(r->m);
  const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "status"));
  api_respond_take(r->req, status && strcmp(status, "ok") != 0 ? 503 : 200, h);
}

void api_cluster(api_req_t *r) { api_respond_take(r->req, 200, pgd_master_cluster(r->m)); }
