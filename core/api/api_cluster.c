/* Pagoda API — health and cluster (docs/api.md "Health", docs/ha.md). */
#include "api/api_int.h"

void api_health(api_req_t *r) { api_respond_take(r->req, 200, pgd_master_health(r->m)); }

void api_cluster(api_req_t *r) { api_respond_take(r->req, 200, pgd_master_cluster(r->m)); }
