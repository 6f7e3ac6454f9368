/* Pagoda API — plugins: the list (loaded and refused) and a rescan of the
 * plugin directory (docs/api.md "Plugins"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

void api_plugins_list(api_req_t *r) {
  cJSON *list = pgd_master_plugins(r->m);
  api_plugins_add_console(list);
  api_respond_wrapped(r->req, "plugins", list);
}

/* The request, held while the rescan runs off the loop. */
typedef struct reload_req {
  pgd_http_req_t *req; /* NULL once the client went away */
  pgd_master_t *m;
} reload_req_t;

static void reload_abort(pgd_http_req_t *req, void *ud) {
  (void)req;
  ((reload_req_t *)ud)->req = NULL;
}

static void reload_done(void *ud, int n) {
  reload_req_t *rr = ud;
  pgd_http_req_t *req = rr->req;
  pgd_master_t *m = rr->m;
  free(rr);
  if (!req) return;
  pgd_http_req_on_abort(req, NULL, NULL);
  if (n < 0) {
    pgd_http_respond_error(req, 500, "cannot read the plugins directory (%s)", strerror(-n));
    return;
  }
  cJSON *out = cJSON_CreateObject();
  cJSON_AddNumberToObject(out, "loaded", n);
  cJSON *list = pgd_master_plugins(m);
  api_plugins_add_console(list);
  int refused = 0;
  const cJSON *p;
  cJSON_ArrayForEach(p, list) {
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "status"));
    if (st && strcmp(st, "refused") == 0) refused++;
  }
  cJSON_AddNumberToObject(out, "refused", refused);
  cJSON_AddItemToObject(out, "plugins", list ? list : cJSON_CreateArray());
  api_respond_take(req, 200, out);
}

/* The same rescan as SIGHUP and the periodic hot-load timer (the daemon's
 * callback): new .so files load, refused files that changed are retried.
 * The files load off the loop; the answer waits for them. */
void api_plugins_reload(api_req_t *r) {
  if (!r->api->rescan_plugins) {
    pgd_http_respond_error(r->req, 503, "this daemon does not load plugins");
    return;
  }
  reload_req_t *rr = calloc(1, sizeof *rr);
  if (!rr) {
    pgd_http_respond_error(r->req, 500, "out of memory");
    return;
  }
  rr->req = r->req;
  rr->m = r->m;
  pgd_http_req_on_abort(r->req, reload_abort, rr);
  r->api->rescan_plugins(r->api->rescan_ud, reload_done, rr);
}

/* ---- pushed plugins (docs/plugins.md "Pushing a plugin") ---- */

typedef struct push_req {
  pgd_http_req_t *req; /* NULL once the client went away */
} push_req_t;

static void push_abort(pgd_http_req_t *req, void *ud) {
  (void)req;
  ((push_req_t *)ud)->req = NULL;
}

static void push_done(void *ud, int status, cJSON *answer, const char *err) {
  push_req_t *pr = ud;
  if (pr->req) {
    pgd_http_req_on_abort(pr->req, NULL, NULL);
    if (answer) api_respond_take(pr->req, status, answer);
    else pgd_http_respond_error(pr->req, status, "%s", err ? err : "failed");
    answer = NULL;
  }
  cJSON_Delete(answer);
  free(pr);
}

static push_req_t *push_req(api_req_t *r) {
  push_req_t *pr = calloc(1, sizeof *pr);
  if (!pr) {
    pgd_http_respond_error(r->req, 500, "out of memory");
    return NULL;
  }
  pr->req = r->req;
  pgd_http_req_on_abort(r->req, push_abort, pr);
  return pr;
}

static void push_failed(api_req_t *r, push_req_t *pr, int rc, const char *err) {
  pgd_http_req_on_abort(r->req, NULL, NULL);
  free(pr);
  pgd_http_respond_error(r->req, rc == -EFBIG ? 413 : rc == -EINVAL ? 400 : api_status_of(rc),
                         "%s", err);
}

void api_plugin_push(api_req_t *r) {
  push_req_t *pr = push_req(r);
  if (!pr) return;
  size_t len = 0;
  char *body = pgd_http_req_take_body(r->req, &len);
  char err[512];
  int rc = pgd_master_plugin_push(r->m, body, len, push_done, pr, err, sizeof err);
  if (rc < 0) push_failed(r, pr, rc, err);
}

void api_plugin_rollback(api_req_t *r) {
  push_req_t *pr = push_req(r);
  if (!pr) return;
  char err[512];
  int rc = pgd_master_plugin_rollback(r->m, r->params[0], push_done, pr, err, sizeof err);
  if (rc < 0) push_failed(r, pr, rc, err);
}

void api_plugins_pushed(api_req_t *r) {
  api_respond_wrapped(r->req, "pushed", pgd_master_plugins_pushed(r->m));
}
