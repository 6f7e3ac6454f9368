/* Pagoda API — balancers: the list and a rescan of the balancer scripts
 * (docs/api.md "Balancers", docs/balancers.md). */
#include "api/api_int.h"

void api_balancers_list(api_req_t *r) {
  api_respond_wrapped(r->req, "balancers", pgd_master_balancers(r->m));
}

void api_balancers_reload(api_req_t *r) {
  pgd_master_reload_balancers(r->m);
  api_balancers_list(r);
}
