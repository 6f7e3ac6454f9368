/* Pagoda — the master: stores jobs and executions, dispatches executions to
 * workers over the framed RPC, records their state changes and logs, and
 * serves the REST API.
 *
 * Thread rules: every function here runs on the loop thread that started the
 * master. The store's writer thread is the only other thread involved, and it
 * hands its completions back to this loop.
 */
#ifndef PAGODA_MASTER_MASTER_H
#define PAGODA_MASTER_MASTER_H

#include <stddef.h>
#include <uv.h>

#include "plugin/registry.h"

typedef struct pgd_master_config {
  const char *data_dir;   /* holds pagoda.db and logs/; created if missing */
  const char *store_postgres; /* libpq conninfo: use PostgreSQL instead of SQLite; nullable */
  const char *http_host;  /* REST API address, e.g. "127.0.0.1" */
  int http_port;          /* 0 = any free port */
  const char *rpc_host;   /* worker RPC address */
  int rpc_port;           /* 0 = any free port */
  const char *secret;     /* cluster secret a worker must present ("" = none) */
  const char *static_dir; /* web UI files, nullable */
  size_t max_body;        /* REST request body limit in bytes */
  size_t max_resource_bytes; /* PUT /api/v1/resources/NAME body limit; 0 = 256 MiB */
  int heartbeat_ms;       /* interval announced to workers */
  int lost_after_missed;  /* a worker is lost after this many missed heartbeats */
  int kill_grace_ms;      /* SIGTERM → SIGKILL grace announced with a kill */
  int recovery_grace_ms;  /* after a start, how long workers have to claim running executions */
  const char *ha_zookeeper;     /* "host:port,..." = high availability with ZooKeeper; nullable */
  const char *ha_cluster;       /* cluster name: /pagoda/<cluster>/... (default "default") */
  int ha_session_ms;            /* ZooKeeper session timeout (default 10000) */
  const char *balancer_dir;     /* balancer scripts (NAME.lua); nullable = none but the built-in */
  const char *balancer_default; /* balancer of jobs that name none (default "least_loaded") */
  long balancer_instructions;   /* per call; 0 = the sandbox default */
  long balancer_call_memory;    /* bytes per call; 0 = the sandbox default */
} pgd_master_config_t;

typedef struct pgd_master pgd_master_t;

/* Fills `cfg` with the defaults (every pointer field NULL or a static string). */
void pgd_master_config_defaults(pgd_master_config_t *cfg);

/* Opens the store in cfg->data_dir, recovers unfinished executions, starts the
 * RPC listener and the HTTP server. `plugins` is borrowed and must outlive the
 * master. Returns 0 and sets *out, or a negative code with a message in err. */
int pgd_master_start(uv_loop_t *loop, const pgd_master_config_t *cfg, pgd_registry_t *plugins,
                     pgd_master_t **out, char *err, size_t errlen);

/* The ports actually bound (useful when 0 was asked for). */
int pgd_master_http_port(const pgd_master_t *m);
int pgd_master_rpc_port(const pgd_master_t *m);

/* Rescans the balancer scripts (SIGHUP); returns the number refused. */
int pgd_master_reload_balancers(pgd_master_t *m);

/* Stops accepting work, flushes the store, closes every connection and
 * handle, frees the master, then calls on_stopped(ud) from the loop. */
void pgd_master_stop(pgd_master_t *m, void (*on_stopped)(void *ud), void *ud);

#endif
