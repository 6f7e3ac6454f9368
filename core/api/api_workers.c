/* Pagoda API — workers: list, show, drain and undrain (docs/api.md
 * "Workers"). */
#include <string.h>

#include "api/api_int.h"

/* Worker ids longer than this cannot exist (the RPC handshake refuses them). */
#define WORKER_ID_MAX 160

void api_workers_list(api_req_t *r) {
  api_respond_wrapped(r->req, "workers", pgd_master_workers_list(r->m));
}

/* Answers the worker's view, or 404. */
static void answer_worker(api_req_t *r, const char *id) {
  cJSON *v = strlen(id) < WORKER_ID_MAX ? pgd_master_worker_get(r->m, id) : NULL;
  if (!v) {
    pgd_http_respond_error(r->req, 404, "worker '%s' not found (GET /api/v1/workers lists them)", id);
    return;
  }
  api_respond_take(r->req, 200, v);
}

void api_worker_get(api_req_t *r) { answer_worker(r, r->params[0]); }

static void set_drain(api_req_t *r, bool drain) {
  const char *id = r->params[0];
  if (strlen(id) >= WORKER_ID_MAX || pgd_master_worker_drain(r->m, id, drain) < 0) {
    pgd_http_respond_error(r->req, 404, "worker '%s' not found (GET /api/v1/workers lists them)", id);
    return;
  }
  answer_worker(r, id);
}

void api_worker_drain(api_req_t *r) { set_drain(r, true); }
void api_worker_undrain(api_req_t *r) { set_drain(r, false); }
