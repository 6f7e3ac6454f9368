/* Pagoda — the daemons' settings (`pagoda dev`, `pagoda master`, `pagoda
 * worker`): defaults, conf/pagoda.conf, flags, the cluster secret's sources,
 * the installed directories and the listen rule checked before anything binds.
 * The running daemon (start and stop per mode, signals) is daemon.c.
 *
 * Ownership: a settings_t owns every string and cJSON it points to (except
 * config_path, which points into argv or at default_config); free it with
 * daemon_settings_free(). Thread rules: start-up and SIGHUP on the loop
 * thread only; nothing here is shared between threads.
 */
#ifndef PAGODA_CLI_DAEMON_SETTINGS_H
#define PAGODA_CLI_DAEMON_SETTINGS_H

#include <stdbool.h>

#include "cli/daemon_obs.h"
#include "common/json.h"

typedef enum { MODE_DEV, MODE_MASTER, MODE_WORKER } mode_t_;

typedef struct settings {
  mode_t_ mode;
  const char *config_path;
  char *default_config; /* the installed pagoda.conf found by daemon_paths.h, or NULL */
  bool log_level_flag;  /* --log-level given: SIGHUP keeps it */
  char *log_level;
  char *plugins_dir;
  char *secret;
  /* the cluster secret's other sources and RPC TLS (daemon_secret.h) */
  char *secret_file, *cfg_secret_file, *cfg_secret;
  bool secret_flag;
  char *rpc_tls_cert, *rpc_tls_key, *rpc_tls_client_ca;
  char *tls_ca, *tls_cert, *tls_key;
  /* master */
  char *master_data;
  char *store_postgres;
  int store_group_window_us; /* store.group_window_us; -1 = the store's default */
  char *ha_zookeeper;
  char *ha_cluster;
  int ha_session_ms;
  char *balancer_dir;
  char *balancer_default;
  long long max_resource_bytes;
  int balancer_instructions;
  int balancer_call_memory;
  int balancer_script_thread; /* master.balancer.script_thread, default true */
  char *http_host;
  int http_port;
  char *rpc_host;
  int rpc_port;
  long max_body;
  int http_idle_timeout_s;        /* 0 = the HTTP layer's default */
  int http_max_conns_per_address; /* 0 = default, -1 = no limit */
  int events_ring, events_client_buffer, events_keepalive_ms; /* 0 = defaults */
  int heartbeat_ms;
  int lost_after_missed;
  int kill_grace_ms;
  int recovery_grace_ms;
  int rpc_hello_timeout_ms;
  int upload_max_concurrent;
  long long upload_max_inflight_bytes;
  int retention_days, retention_keep_last, retention_interval_ms, retention_batch,
      retention_resource_versions; /* master.retention.* (0 = the master's default) */
  long long log_max_pending_bytes;  /* master.logs.max_pending_bytes (0 = default) */
  /* worker */
  char *worker_master; /* host:port */
  char *worker_data;
  char *worker_id;
  int worker_slots;
  char *worker_labels; /* comma-separated from the flag */
  cJSON *labels;
  cJSON *allowed_users;
  int worker_heartbeat_ms;
  int worker_kill_grace_ms;
  int worker_stop_grace_ms; /* worker.stop_grace_ms: SIGTERM's drain (pgd_worker_leave) */
  int worker_inproc_isolation; /* PGD_INPROC_*: worker.inproc_isolation */
  int plugin_load_timeout_ms; /* hard deadline of one plugin file's load */
  char *cors_origins;  /* master.http.cors_origins: "a,b" */
  char *allowed_hosts; /* master.http.allowed_hosts: "a,b" */
  char *console_dir;   /* master.http.console_dir / --console: the web console's files */
  int worker_cgroups;       /* worker.cgroups (bool): 0 = containment without cgroups */
  char *worker_cgroup_root; /* worker.cgroup_root, "" = the worker's own cgroup */
  /* dev */
  char *dev_data;
  int dev_slots;
  int example;
  /* security (docs/security.md) */
  char *http_tls_cert;  /* HTTPS on the REST port: PEM certificate file */
  char *http_tls_key;   /* ... and its private key file */
  char *http_ca;        /* CA a worker trusts for the master's HTTPS port (resource fetch) */
  int insecure;         /* 1 = allow plain listeners on non-loopback addresses */
  cJSON *alarms_config; /* master.alarms as JSON (docs/alarms.md); NULL = none */
  daemon_obs_t obs;     /* logs and metrics (daemon_obs.h) */
} settings_t;

/* *dst = a copy of v (NULL clears), freeing the old value. */
void daemon_set_str(char **dst, const char *v);

/* Every setting's default (installed state directories when found);
 * `s` is overwritten, not freed: call on uninitialised memory. */
void daemon_settings_defaults(settings_t *s);

/* Frees what `s` owns (the secrets wiped first). */
void daemon_settings_free(settings_t *s);

/* Reads the libconfig file `path` over `s`. Returns 0, or -1 after saying
 * why on stderr (the settings may be partly updated). */
int daemon_settings_load_file(settings_t *s, const char *path);

/* "host:port" -> *host (replaced, owned by the caller) and *port; a bare
 * port keeps *host. Returns 0, or -1 when the port is not 0-65535. */
int daemon_parse_addr(const char *v, char **host, int *port);

/* The configuration file (--config, PAGODA_CONFIG or the installed one)
 * then argv[2..] over it; sets the log level, observability and the cluster
 * secret (may scrub --secret's value from argv). Returns 0, or -1 after
 * saying why on stderr. s->mode must be set before. */
int daemon_settings_parse_flags(settings_t *s, int argc, char **argv);

/* Where the plugins, the web console (NULL = none) and the balancer scripts
 * are (daemon_paths.h); each returns a string the caller frees. */
char *daemon_resolve_plugins_dir(const settings_t *s);
char *daemon_resolve_console_dir(const settings_t *s);
char *daemon_resolve_balancer_dir(const settings_t *s);

/* True for a non-NULL, non-empty string. */
bool daemon_has_str(const char *v);

/* The listen rule (docs/security.md, "Model"). Returns 0, or -1 after
 * saying why on stderr; warns about --insecure and passwords in conninfo. */
int daemon_check_exposure(const settings_t *s);

#endif
