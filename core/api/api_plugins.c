/* Pagoda API — plugins: the list (loaded and refused) and a rescan of the
 * plugin directory (docs/api.md "Plugins"). */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"

void api_plugins_list(api_req_t *r) {
  api_respond_wrapped(r->req, "plugins", pgd_master_plugins(r->m));
}

/* The same rescan as SIGHUP and the periodic hot-load timer (the daemon's
 * callback): new .so files load, refused files that changed are retried. */
void api_plugins_reload(api_req_t *r) {
  if (!r->api->rescan_plugins) {
    pgd_http_respond_error(r->req, 503, "this daemon does not load plugins");
    return;
  }
  int n = r->api->rescan_plugins(r->api->rescan_ud);
  if (n < 0) {
    pgd_http_respond_error(r->req, 500, "cannot read the plugins directory (%s)", strerror(-n));
    return;
  }
  cJSON *out = cJSON_CreateObject();
  cJSON_AddNumberToObject(out, "loaded", n);
  cJSON *list = pgd_master_plugins(r->m);
  int refused = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, list) {
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "status"));
    if (st && strcmp(st, "refused") == 0) refused++;
  }
  cJSON_AddNumberToObject(out, "refused", refused);
  cJSON_AddItemToObject(out, "plugins", list ? list : cJSON_CreateArray());
  api_respond_take(r->req, 200, out);
}
