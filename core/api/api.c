/* Pagoda API — lifecycle (the HTTP server) and dispatch: a request is
 * matched against the route table (api_routes.c) by method and path
 * pattern. A path that matches with another method answers 405 with an
 * Allow header; no match answers 404. A standby master answers 503 (with
 * the leader's address) for routes it does not serve. Before a handler
 * runs, the gate (api_gate.c) checks Host, Origin, the token, the route's
 * role and the content type. Loop thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_int.h"

#define RESOURCES_PREFIX "/api/v1/resources/"

/* The resource size limit for PUT /api/v1/resources/..., else 0 (the
 * server's max_body). */
static size_t max_body_for(const char *method, const char *path, void *ud) {
  const pgd_api_t *api = ud;
  /* a pushed plugin: buffered, up to the plugin size limit */
  if (method && path && strcmp(method, "PUT") == 0 && strcmp(path, "/api/v1/plugins") == 0)
    return PGD_PLUGIN_PUSH_MAX_BYTES;
  if (!method || !path || strcmp(method, "PUT") != 0 ||
      strncmp(path, RESOURCES_PREFIX, strlen(RESOURCES_PREFIX)) != 0)
    return 0;
  return api->max_resource_bytes ? api->max_resource_bytes : PGD_MASTER_RESOURCE_DEFAULT_MAX_BYTES;
}

/* Frees `api` and what it owns (not the server). */
static void api_free_fields(pgd_api_t *api) {
  cJSON_Delete(api->audit_pending); /* only if never stopped */
  api_sessions_free(api);
  api_events_free(api->events);
  pgd_auth_cache_free(api->auth_cache);
  free(api->cors_origins);
  free(api->allowed_hosts);
  free(api->resource_token);
  api_observe_free(api);
  free(api);
}

/* PUT /api/v1/resources/NAME streams its body to a temporary file of the
 * master (hashed as it arrives) instead of memory; over the upload caps it
 * is refused with 503 + Retry-After before the body is read. */
static int sink_write(void *ud, const void *data, size_t len) {
  return pgd_master_upload_write(ud, data, len);
}
static void sink_discard(void *ud) { pgd_master_upload_discard(ud); }

static int sink_for(const char *method, const char *path, unsigned long long content_length,
                    void *ud, pgd_http_sink_t *sink, int *retry_after_s) {
  pgd_api_t *api = ud;
  if (!method || !path || strcmp(method, "PUT") != 0 ||
      strncmp(path, RESOURCES_PREFIX, strlen(RESOURCES_PREFIX)) != 0 || !api->m ||
      !pgd_master_is_leader(api->m) || pgd_master_is_stopping(api->m))
    return 0; /* buffered; the handler answers (503 on a standby, ...) */
  pgd_master_upload_t *u = NULL;
  char err[300];
  int rc = pgd_master_upload_begin(api->m, content_length, &u, retry_after_s, err, sizeof err);
  if (rc == -EBUSY) return -EBUSY;
  if (rc < 0) return 0; /* cannot spool: buffered, and the handler reports the store's error */
  sink->write = sink_write;
  sink->discard = sink_discard;
  sink->ud = u;
  return 1;
}

/* Paths outside /api/ that the console's files must not shadow. */
static const char *const api_handler_paths[] = {"/metrics", NULL};

int pgd_api_start(uv_loop_t *loop, const pgd_api_config_t *cfg, pgd_api_t **out, char *err,
                  size_t errlen) {
  *out = NULL;
  pgd_api_t *api = calloc(1, sizeof *api);
  if (!api) return -ENOMEM;
  api->loop = loop;
  api->max_resource_bytes = cfg->max_resource_bytes;
  api->rescan_plugins = cfg->rescan_plugins;
  api->rescan_ud = cfg->rescan_ud;
  api->tls = cfg->tls_cert != NULL;
  api->events_cfg = (pgd_api_config_t){.events_ring = cfg->events_ring,
                                       .events_client_buffer = cfg->events_client_buffer,
                                       .events_keepalive_ms = cfg->events_keepalive_ms};
  api->auth_cache = pgd_auth_cache_new(PGD_AUTH_CACHE_TTL_US, api_token_lookup, api);
  api->cors_origins = cfg->cors_origins && *cfg->cors_origins ? strdup(cfg->cors_origins) : NULL;
  api->allowed_hosts = cfg->allowed_hosts && *cfg->allowed_hosts ? strdup(cfg->allowed_hosts) : NULL;
  api->resource_token =
      cfg->resource_token && *cfg->resource_token ? strdup(cfg->resource_token) : NULL;
  if (gethostname(api->hostname, sizeof api->hostname - 1) != 0) api->hostname[0] = 0;
  api->metrics_disabled = cfg->metrics_disabled;
  api->metrics_public = cfg->metrics_public;
  api->access_log_off = cfg->access_log_off;
  api_observe_init(api);
  if (!api->auth_cache) {
    api_free_fields(api);
    return -ENOMEM;
  }
  pgd_httpd_opts_t hopts = {.host = cfg->host,
                            .port = cfg->port,
                            .max_body = cfg->max_body,
                            .static_dir = cfg->static_dir,
                            .page_fallback = cfg->static_dir != NULL,
                            .handler = api_dispatch,
                            .max_body_for = max_body_for,
                            .tls_cert = cfg->tls_cert,
                            .tls_key = cfg->tls_key,
                            .sink_for = sink_for,
                            .idle_timeout_s = cfg->idle_timeout_s,
                            .max_conns_per_addr = cfg->max_conns_per_addr,
                            .on_answer = api_on_answer,
                            .handler_paths = api_handler_paths,
                            .ud = api};
  int rc = pgd_httpd_start(loop, &hopts, &api->httpd, err, errlen);
  if (rc < 0) {
    api_free_fields(api);
    return rc;
  }
  *out = api;
  return 0;
}

int pgd_api_port(const pgd_api_t *api) { return pgd_httpd_port(api->httpd); }

void pgd_api_attach(pgd_api_t *api, pgd_master_t *m) {
  api->m = m;
  if (!api->events) api->events = api_events_new(api, m); /* NULL: the route answers 503 */
}

void pgd_api_attach_alarms(pgd_api_t *api, struct pgd_alarms *alarms) {
  if (api) api->alarms = alarms;
}

void pgd_api_stop(pgd_api_t *api) {
  if (!api || !api->httpd) return;
  api->alarms = NULL;
  api_events_stop(api->events);
  pgd_httpd_stop(api->httpd);
  api->httpd = NULL;
  api_audit_close(api); /* the store is still open */
  api->m = NULL;
}

void pgd_api_free(pgd_api_t *api) {
  if (!api) return;
  if (api->httpd) pgd_httpd_stop(api->httpd);
  api_free_fields(api);
}

/* ---- matching ---- */

/* Does `pattern` match the path segments? {x} binds one non-empty segment. */
static bool match(const char *pattern, char **segs, int nsegs, const char **params, int *nparams) {
  const char *p = pattern;
  int i = 0, np = 0;
  while (*p) {
    if (*p == '/') p++;
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (i >= nsegs) return false;
    if (n >= 2 && p[0] == '{' && p[n - 1] == '}') {
      if (!segs[i][0] || np >= API_MAX_PARAMS) return false;
      params[np++] = segs[i];
    } else if (strlen(segs[i]) != n || strncmp(segs[i], p, n) != 0) {
      return false;
    }
    i++;
    p += n;
  }
  *nparams = np;
  return i == nsegs;
}

static bool method_matches(const char *row, const char *method) {
  return strcmp(row, method) == 0 || (strcmp(method, "HEAD") == 0 && strcmp(row, "GET") == 0);
}

/* "/api/v1/jobs/{name}/run" → "/api/v1/jobs/NAME/run" for messages. */
static void shown_pattern(const char *pattern, char *buf, size_t cap) {
  size_t o = 0;
  for (const char *p = pattern; *p && o + 1 < cap; p++) {
    if (*p == '{') {
      const char *close = strchr(p, '}');
      if (!close) break;
      for (const char *q = p + 1; q < close && o + 1 < cap; q++)
        buf[o++] = (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q);
      p = close;
    } else {
      buf[o++] = *p;
    }
  }
  buf[o] = 0;
}

static void answer_standby(api_req_t *r) {
  const char *leader = pgd_master_leader_http(r->m);
  cJSON *o = cJSON_CreateObject();
  char msg[400];
  snprintf(msg, sizeof msg, "this master is a standby; the leader is %s",
           leader ? leader : "being elected (try again shortly)");
  cJSON_AddStringToObject(o, "error", msg);
  if (leader) cJSON_AddStringToObject(o, "leader", leader);
  api_respond_take(r->req, 503, o);
}

/* Answers 405 listing the methods the path takes (Allow header). */
static void answer_405(pgd_http_req_t *req, const pgd_api_route_t *const *rows, int n) {
  char allow[64] = "", words[96] = "";
  for (int i = 0; i < n; i++) {
    bool dup = false;
    for (int j = 0; j < i; j++) dup |= strcmp(rows[j]->method, rows[i]->method) == 0;
    if (dup) continue;
    size_t a = strlen(allow), w = strlen(words);
    snprintf(allow + a, sizeof allow - a, "%s%s", a ? ", " : "", rows[i]->method);
    snprintf(words + w, sizeof words - w, "%s%s", w ? (i == n - 1 ? " or " : ", ") : "",
             rows[i]->method);
  }
  char shown[256];
  shown_pattern(rows[0]->pattern, shown, sizeof shown);
  pgd_http_req_add_header(req, "Allow", allow);
  pgd_http_respond_error(req, 405, "use %s on %s", words, shown);
}

int api_route_match(const char *method, const char *path, api_match_t *out) {
  memset(out, 0, sizeof *out);
  if (strncmp(path, API_PREFIX, strlen(API_PREFIX)) != 0) return 0;
  /* Split a copy of the path into segments; one trailing '/' is ignored. */
  char copy[API_MAX_PATH];
  size_t len = strlen(path);
  if (len >= sizeof copy) return 0;
  memcpy(copy, path, len + 1);
  if (len > 1 && copy[len - 1] == '/') copy[len - 1] = 0;
  char *segs[32];
  int nsegs = 0;
  for (char *p = copy + 1; p; nsegs++) {
    if (nsegs == 32) return 0;
    segs[nsegs] = p;
    char *slash = strchr(p, '/');
    if (slash) *slash++ = 0;
    p = slash;
  }
  size_t nroutes;
  const pgd_api_route_t *routes = pgd_api_routes(&nroutes);
  for (size_t i = 0; i < nroutes; i++) {
    const char *params[API_MAX_PARAMS];
    int np = 0;
    if (!match(routes[i].pattern, segs, nsegs, params, &np)) continue;
    if (out->npath < API_MAX_PATH_ROWS) out->path_rows[out->npath++] = &routes[i];
    if (!out->route && method_matches(routes[i].method, method)) {
      out->route = &routes[i];
      out->nparams = np;
      /* The params point into `copy`: keep them as offsets into `path`. */
      for (int k = 0; k < np; k++) out->param_off[k] = (size_t)(params[k] - copy);
    }
  }
  return out->route ? 1 : 0;
}

void api_dispatch(pgd_http_req_t *req, void *ud) {
  pgd_api_t *api = ud;
  const char *path = pgd_http_req_path(req);
  const char *method = pgd_http_req_method(req);
  if (!api->m || pgd_master_is_stopping(api->m)) {
    pgd_http_respond_error(req, 503, api->m ? "the master is shutting down" : "the master is starting");
    return;
  }
  if (strcmp(path, "/metrics") == 0) {
    api_metrics(api, req);
    return;
  }
  if (strncmp(path, API_PREFIX, strlen(API_PREFIX)) != 0) {
    pgd_http_respond_error(req, 404, "not found: %s (the API lives under /api/v1/)", path);
    return;
  }
  if (strcmp(method, "OPTIONS") == 0) {
    api_preflight(api, req);
    return;
  }
  api_match_t mt;
  api_route_match(method, path, &mt);
  pgd_http_req_set_route(req, mt.route ? mt.route->pattern : NULL);
  /* The {x} segments, cut out of a copy of the path. */
  char *copy = strdup(path);
  if (!copy) abort();
  api_req_t r = {.api = api, .m = api->m, .req = req, .route = mt.route, .nparams = mt.nparams};
  for (int k = 0; k < mt.nparams; k++) {
    r.params[k] = copy + mt.param_off[k];
    char *slash = strchr(copy + mt.param_off[k], '/');
    if (slash) *slash = 0;
  }
  if (!r.route && mt.npath > 0) {
    answer_405(req, mt.path_rows, mt.npath);
  } else if (!r.route) {
    pgd_http_respond_error(req, 404, "no route %s %s", method, path);
  } else if (!api_gate(&r)) {
    /* answered: 401, 403 or 415 (api_gate.c) */
  } else if (!pgd_master_is_leader(api->m) &&
             !(r.route->standby_ok && strcmp(method, "GET") == 0) &&
             !(r.route->standby_ok && strcmp(r.route->method, "GET") != 0)) {
    answer_standby(&r);
  } else if (api_check_body(&r)) {
    r.route->handler(&r);
  }
  free(copy);
}
