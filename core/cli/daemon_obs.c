/* Pagoda — the daemons' observability settings and the worker's metrics
 * endpoint (daemon_obs.h; docs/observability.md). */
#include "cli/daemon_obs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/metrics_process.h"
#include "common/netaddr.h"
#include "http/httpd.h"

#define MOD "metrics"

static void set(char **dst, const char *v) {
  free(*dst);
  *dst = v ? strdup(v) : NULL;
}

void daemon_obs_defaults(daemon_obs_t *o) {
  memset(o, 0, sizeof *o);
  set(&o->log_format, "text");
  o->metrics_enabled = 1;
  o->access_log = 1;
}

void daemon_obs_free(daemon_obs_t *o) {
  set(&o->log_format, NULL);
  set(&o->metrics_addr, NULL);
}

void daemon_obs_config(daemon_obs_t *o, config_t *c) {
  const char *v;
  if (config_lookup_string(c, "log_format", &v)) set(&o->log_format, v);
  if (config_lookup_string(c, "worker.metrics_addr", &v)) set(&o->metrics_addr, *v ? v : NULL);
  int b;
  if (config_lookup_bool(c, "master.metrics.enabled", &b)) o->metrics_enabled = b;
  if (config_lookup_bool(c, "master.metrics.public", &b)) o->metrics_public = b;
  if (config_lookup_bool(c, "master.http.access_log", &b)) o->access_log = b;
}

int daemon_obs_flag(daemon_obs_t *o, const char *f, const char *v, bool worker) {
  if (strcmp(f, "--log-format") == 0 && v) {
    set(&o->log_format, v);
    return 1;
  }
  if (strcmp(f, "--metrics-addr") == 0 && v && worker) {
    set(&o->metrics_addr, *v ? v : NULL);
    return 1;
  }
  return 0;
}

/* "PORT" or "HOST:PORT" (a bare port listens on 127.0.0.1). */
static int split_addr(const char *v, char *host, size_t hostcap, int *port) {
  const char *colon = strrchr(v, ':');
  const char *p = colon ? colon + 1 : v;
  char *end;
  long n = strtol(p, &end, 10);
  if (!*p || *end || n < 0 || n > 65535) return -1;
  if (colon && colon > v) snprintf(host, hostcap, "%.*s", (int)(colon - v), v);
  else snprintf(host, hostcap, "127.0.0.1");
  *port = (int)n;
  return 0;
}

int daemon_obs_apply(daemon_obs_t *o, bool insecure) {
  int fmt = pgd_log_format_parse(o->log_format);
  if (fmt < 0) {
    fprintf(stderr, "pagoda: log format must be text or json, not '%s'\n", o->log_format);
    return -1;
  }
  pgd_log_set_format((pgd_log_format_t)fmt);
  pgd_metrics_set_enabled(o->metrics_enabled != 0);
  if (o->metrics_addr) {
    char host[256];
    int port;
    if (split_addr(o->metrics_addr, host, sizeof host, &port) < 0) {
      fprintf(stderr, "pagoda worker: --metrics-addr needs PORT or HOST:PORT, got '%s'\n",
              o->metrics_addr);
      return -1;
    }
    if (!pgd_addr_is_loopback(host) && !insecure) {
      fprintf(stderr,
              "pagoda worker: refusing to serve metrics in plain HTTP without a token on %s, "
              "which is not a loopback address: listen on 127.0.0.1 (and let a local agent or "
              "a tunnel reach it), or start with --insecure (see docs/observability.md)\n",
              host);
      return -1;
    }
  }
  if (o->metrics_enabled) pgd_metrics_process_register(pgd_metrics_default());
  return 0;
}

static void endpoint_handler(pgd_http_req_t *req, void *ud) {
  (void)ud;
  const char *path = pgd_http_req_path(req);
  const char *method = pgd_http_req_method(req);
  if (strcmp(path, "/metrics") != 0) {
    pgd_http_respond_error(req, 404, "not found: %s (this port serves /metrics only)", path);
    return;
  }
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    pgd_http_req_add_header(req, "Allow", "GET");
    pgd_http_respond_error(req, 405, "use GET on /metrics");
    return;
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

int daemon_obs_start_endpoint(daemon_obs_t *o, uv_loop_t *loop, char *err, size_t errlen) {
  if (!o->metrics_addr || o->endpoint) return 0;
  if (!o->metrics_enabled) {
    PGD_WARN(MOD, "--metrics-addr is ignored: metrics are off (master.metrics.enabled = false)");
    return 0;
  }
  char host[256];
  int port = 0;
  split_addr(o->metrics_addr, host, sizeof host, &port); /* checked by daemon_obs_apply */
  pgd_httpd_opts_t hopts = {.host = host,
                            .port = port,
                            .max_body = 4096,
                            .handler = endpoint_handler,
                            .max_conns_per_addr = 16};
  int rc = pgd_httpd_start(loop, &hopts, &o->endpoint, err, errlen);
  if (rc < 0) return rc;
  /* Tests and scripts read the bound port from this line (port 0 = any). */
  PGD_INFO(MOD, "worker metrics at http://%s:%d/metrics", host, pgd_httpd_port(o->endpoint));
  return 0;
}

void daemon_obs_stop_endpoint(daemon_obs_t *o) {
  if (!o->endpoint) return;
  pgd_httpd_stop(o->endpoint);
  o->endpoint = NULL;
}
