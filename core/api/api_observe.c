/* Pagoda API — observability of the HTTP side (docs/observability.md):
 * requests by route pattern and status with their duration, the access log
 * (module "access", one line per answered request: method, route pattern,
 * path, status, time taken and the token's NAME, never the token), and
 * GET /metrics, the Prometheus text of the daemon's registry.
 *
 * Labels are route PATTERNS of the route table ("/api/v1/jobs/{name}"), never
 * raw paths, so the number of series stays bounded; requests that match no
 * route count as "unmatched" (under /api/) or "static" (the console).
 * Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "common/log.h"
#include "common/metrics.h"

struct api_http_metrics {
  pgd_metric_family_t *requests; /* pagoda_http_requests_total{route,method,code} */
  pgd_metric_family_t *duration; /* pagoda_http_request_duration_seconds{route} */
};

void api_observe_init(pgd_api_t *api) {
  if (api->metrics_disabled || !pgd_metrics_enabled()) return;
  struct api_http_metrics *hm = calloc(1, sizeof *hm);
  if (!hm) return; /* no HTTP metrics; everything else works */
  pgd_metrics_t *reg = pgd_metrics_default();
  hm->requests = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_http_requests_total",
                                .help = "REST API requests answered, by route pattern, method and "
                                        "status code (0: ended before an answer).",
                                .kind = PGD_METRIC_COUNTER,
                                .labels = {"route", "method", "code", NULL}});
  hm->duration = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_http_request_duration_seconds",
                                .help = "Time from a request's arrival to its answer's status, by "
                                        "route pattern.",
                                .kind = PGD_METRIC_HISTOGRAM,
                                .labels = {"route", NULL}});
  api->http_metrics = hm;
}

void api_observe_free(pgd_api_t *api) {
  free(api->http_metrics); /* the families belong to the registry */
  api->http_metrics = NULL;
}

static const char *route_label(const pgd_http_answer_t *a) {
  if (a->route) return a->route;
  if (strcmp(a->path, "/metrics") == 0) return "/metrics";
  return strncmp(a->path, "/api/", 5) == 0 ? "unmatched" : "static";
}

void api_on_answer(const pgd_http_answer_t *a, void *ud) {
  pgd_api_t *api = ud;
  const char *route = route_label(a);
  struct api_http_metrics *hm = api->http_metrics;
  if (hm && pgd_metrics_enabled()) {
    char code[8];
    snprintf(code, sizeof code, "%d", a->status);
    PGD_METRIC_INC(hm->requests, route, a->method, code);
    PGD_METRIC_OBSERVE(hm->duration, a->seconds, route);
  }
  if (api->access_log_off || !pgd_log_enabled(PGD_LOG_INFO)) return;
  pgd_log_field_t f[] = {{"method", a->method, 0},
                         {"route", route, 0},
                         {"status", NULL, a->status},
                         {"duration_ms", NULL, a->seconds * 1e3},
                         {"token", a->who && *a->who ? a->who : "-", 0}};
  pgd_log_fields(PGD_LOG_INFO, "access", f, (int)(sizeof f / sizeof f[0]), "%s %s", a->method,
                 a->path);
}

/* The row the gate checks /metrics against: a viewer's GET (it is not in
 * the route table, whose rows all live under /api/v1/). */
static void metrics_unused_handler(api_req_t *r) { (void)r; }
static const pgd_api_route_t metrics_route = {"GET", "/metrics", metrics_unused_handler,
                                              PGD_ROLE_VIEWER, NULL, true};

void api_metrics(pgd_api_t *api, pgd_http_req_t *req) {
  pgd_http_req_set_route(req, "/metrics");
  const char *method = pgd_http_req_method(req);
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    pgd_http_req_add_header(req, "Allow", "GET");
    pgd_http_respond_error(req, 405, "use GET on /metrics");
    return;
  }
  if (api->metrics_disabled || !pgd_metrics_enabled()) {
    pgd_http_respond_error(req, 404, "metrics are off on this master (master.metrics.enabled)");
    return;
  }
  if (!api->metrics_public) {
    /* Host, Origin, a viewer's bearer token (or a console session): the
     * same gate as every API route. */
    api_req_t r = {.api = api, .m = api->m, .req = req, .route = &metrics_route};
    if (!api_gate(&r)) return; /* answered 401/403 */
  }
  pgd_strbuf_t b = PGD_STRBUF_INIT;
  if (pgd_metrics_render(pgd_metrics_default(), &b) < 0) {
    pgd_strbuf_free(&b);
    pgd_http_respond_error(req, 500, "out of memory rendering the metrics");
    return;
  }
  pgd_http_respond(req, 200, PGD_METRICS_CONTENT_TYPE, b.data ? b.data : "", b.len);
  pgd_strbuf_free(&b);
}
