/* Pagoda — the daemons' observability settings and the worker's metrics
 * endpoint (docs/observability.md): --log-format / log_format,
 * master.metrics.enabled, master.metrics.public, master.http.access_log,
 * --metrics-addr / worker.metrics_addr. Kept out of daemon.c so that its
 * wiring stays a few lines. Loop thread (the daemon's main thread). */
#ifndef PAGODA_CLI_DAEMON_OBS_H
#define PAGODA_CLI_DAEMON_OBS_H

#include <libconfig.h>
#include <stdbool.h>
#include <uv.h>

typedef struct daemon_obs {
  char *log_format;     /* "text" | "json" (owned) */
  int metrics_enabled;  /* master.metrics.enabled, default 1 */
  int metrics_public;   /* master.metrics.public, default 0 */
  int access_log;       /* master.http.access_log, default 1 */
  char *metrics_addr;   /* worker: HOST:PORT or PORT of /metrics; NULL = off (owned) */
  struct pgd_httpd *endpoint; /* the worker's metrics server, once started */
} daemon_obs_t;

void daemon_obs_defaults(daemon_obs_t *o);
void daemon_obs_free(daemon_obs_t *o);
/* Reads the keys above from a loaded config. */
void daemon_obs_config(daemon_obs_t *o, config_t *c);
/* A command-line flag: 1 = taken with its value `v`, 0 = not ours, -1 =
 * bad value (message printed). `worker` = the mode runs a lone worker. */
int daemon_obs_flag(daemon_obs_t *o, const char *f, const char *v, bool worker);
/* After all flags: applies the log format and the metrics switch. 0, or -1
 * with a message printed (bad format or address). `insecure`: a
 * non-loopback --metrics-addr is allowed (plain HTTP, no token). */
int daemon_obs_apply(daemon_obs_t *o, bool insecure);
/* Worker mode: serves GET /metrics on metrics_addr (when set). 0, or a
 * negative code with a message in err. */
int daemon_obs_start_endpoint(daemon_obs_t *o, uv_loop_t *loop, char *err, size_t errlen);
/* Closes the endpoint (keep running the loop afterwards, as for any httpd). */
void daemon_obs_stop_endpoint(daemon_obs_t *o);

#endif
