/* Pagoda — `pagoda dev`, `pagoda master`, `pagoda worker`: configuration
 * (conf/pagoda.conf, then flags), plugin loading, the loop, clean shutdown. */
#include "cli/daemon.h"

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "alarm/alarm.h"
#include "api/api.h"
#include "api/auth.h"
#include "cli/client_token.h"
#include "cli/daemon_alarms.h"
#include "cli/daemon_example.h"
#include "cli/daemon_paths.h"
#include "cli/daemon_obs.h"
#include "cli/daemon_secret.h"
#include "common/json.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "ha/zk.h"
#include "master/master.h"
#include "plugin/registry.h"
#include "worker/identity.h"
#include "worker/worker.h"

#define MOD "daemon"

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

static void set_str(char **dst, const char *v) {
  free(*dst);
  *dst = v ? strdup(v) : NULL;
}

static void defaults(settings_t *s) {
  memset(s, 0, sizeof *s);
  set_str(&s->log_level, "info");
  set_str(&s->plugins_dir, "");
  set_str(&s->master_data, "/var/lib/pagoda/master");
  set_str(&s->http_host, "127.0.0.1");
  s->http_port = 7080;
  set_str(&s->rpc_host, "127.0.0.1");
  s->rpc_port = 7081;
  s->max_body = 1 << 20;
  s->max_resource_bytes = 256LL << 20;
  set_str(&s->ha_cluster, "default");
  s->ha_session_ms = 10000;
  s->heartbeat_ms = 1000;
  s->lost_after_missed = 3;
  s->kill_grace_ms = 5000;
  s->recovery_grace_ms = 5000;
  s->rpc_hello_timeout_ms = 10000;
  s->upload_max_concurrent = 4;
  s->upload_max_inflight_bytes = 1LL << 30;
  set_str(&s->worker_master, "127.0.0.1:7081");
  set_str(&s->worker_data, "/var/lib/pagoda/worker");
  set_str(&s->worker_id, "");
  s->worker_heartbeat_ms = 1000;
  s->worker_kill_grace_ms = 5000;
  s->worker_stop_grace_ms = 30000;
  s->worker_inproc_isolation = PGD_INPROC_PROCESS;
  s->plugin_load_timeout_ms = PGD_PLUGIN_LOAD_TIMEOUT_MS;
  s->worker_cgroups = 1;
  set_str(&s->worker_cgroup_root, "");
  set_str(&s->dev_data, "pagoda-dev-data");
  /* An installed tree's own state directory (daemon_paths.h) when it has
   * one, else /var/lib/pagoda. */
  char *state = pgd_daemon_install_dir(PGD_PATH_STATE, NULL, 0);
  if (state) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/master", state);
    set_str(&s->master_data, dir);
    snprintf(dir, sizeof dir, "%s/worker", state);
    set_str(&s->worker_data, dir);
    free(state);
  }
  s->labels = cJSON_CreateArray();
  s->allowed_users = cJSON_CreateArray();
  daemon_obs_defaults(&s->obs);
}

static void free_settings(settings_t *s) {
  pgd_secret_free(s->secret); /* wiped, not only freed */
  s->secret = NULL;
  char **strs[] = {&s->log_level,   &s->plugins_dir,   &s->secret,    &s->master_data,
                   &s->http_host,   &s->rpc_host,      &s->worker_master, &s->worker_data,
                   &s->worker_id,   &s->worker_labels, &s->dev_data, &s->store_postgres, &s->balancer_dir, &s->ha_zookeeper, &s->ha_cluster,
                   &s->balancer_default, &s->http_tls_cert, &s->http_tls_key, &s->http_ca,
                   &s->cors_origins, &s->allowed_hosts, &s->worker_cgroup_root, &s->console_dir};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) set_str(strs[i], NULL);
  char **more[] = {&s->secret_file,  &s->cfg_secret_file, &s->rpc_tls_cert, &s->rpc_tls_key,
                   &s->rpc_tls_client_ca, &s->tls_ca,    &s->tls_cert,     &s->tls_key,
                   &s->default_config};
  for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) set_str(more[i], NULL);
  cJSON_Delete(s->alarms_config);
  s->alarms_config = NULL;
  pgd_secret_free(s->cfg_secret);
  s->cfg_secret = NULL;
  cJSON_Delete(s->labels);
  cJSON_Delete(s->allowed_users);
  daemon_obs_free(&s->obs);
}

static void cfg_str(config_t *c, const char *path, char **dst) {
  const char *v;
  if (config_lookup_string(c, path, &v)) set_str(dst, v);
}

static void cfg_int(config_t *c, const char *path, int *dst) {
  int v;
  if (config_lookup_int(c, path, &v)) *dst = v;
}

/* A libconfig array or list of strings appended to a cJSON array. */
static void cfg_list(config_t *c, const char *path, cJSON *arr) {
  config_setting_t *set = config_lookup(c, path);
  if (!set || !(config_setting_is_array(set) || config_setting_is_list(set))) return;
  for (int i = 0; i < config_setting_length(set); i++) {
    const char *v = config_setting_get_string_elem(set, i);
    if (v) cJSON_AddItemToArray(arr, cJSON_CreateString(v));
  }
}

/* "a,b,c" → a new array of the non-empty items. */
static cJSON *comma_list(const char *v) {
  cJSON *arr = cJSON_CreateArray();
  char *copy = strdup(v), *save = NULL;
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
    if (*t) cJSON_AddItemToArray(arr, cJSON_CreateString(t));
  free(copy);
  return arr;
}

static int load_config(settings_t *s, const char *path) {
  config_t c;
  config_init(&c);
  if (!config_read_file(&c, path)) {
    if (config_error_type(&c) == CONFIG_ERR_FILE_IO)
      fprintf(stderr, "pagoda: cannot read config file %s\n", path);
    else
      fprintf(stderr, "pagoda: %s:%d: %s\n", config_error_file(&c) ? config_error_file(&c) : path,
              config_error_line(&c), config_error_text(&c));
    config_destroy(&c);
    return -1;
  }
  cfg_str(&c, "log_level", &s->log_level);
  cfg_str(&c, "cluster.secret", &s->cfg_secret);
  cfg_str(&c, "cluster.secret_file", &s->cfg_secret_file);
  cfg_str(&c, "master.rpc.tls.cert", &s->rpc_tls_cert);
  cfg_str(&c, "master.rpc.tls.key", &s->rpc_tls_key);
  cfg_str(&c, "master.rpc.tls.client_ca", &s->rpc_tls_client_ca);
  cfg_str(&c, "worker.tls.ca", &s->tls_ca);
  cfg_str(&c, "worker.tls.cert", &s->tls_cert);
  cfg_str(&c, "worker.tls.key", &s->tls_key);
  cfg_str(&c, "plugins.dir", &s->plugins_dir);
  cfg_str(&c, "master.data_dir", &s->master_data);
  cfg_str(&c, "master.http.host", &s->http_host);
  cfg_int(&c, "master.http.port", &s->http_port);
  cfg_str(&c, "master.http.cors_origins", &s->cors_origins);
  cfg_str(&c, "master.http.allowed_hosts", &s->allowed_hosts);
  cfg_str(&c, "master.http.console_dir", &s->console_dir);
  int mb = (int)s->max_body;
  cfg_int(&c, "master.http.max_body", &mb);
  s->max_body = mb;
  cfg_int(&c, "master.http.idle_timeout_s", &s->http_idle_timeout_s);
  cfg_int(&c, "master.http.max_connections_per_address", &s->http_max_conns_per_address);
  cfg_int(&c, "master.http.events.ring", &s->events_ring);
  cfg_int(&c, "master.http.events.client_buffer", &s->events_client_buffer);
  cfg_int(&c, "master.http.events.keepalive_ms", &s->events_keepalive_ms);
  long long mrb;
  if (config_lookup_int64(&c, "master.http.max_resource_bytes", &mrb)) s->max_resource_bytes = mrb;
  cJSON_Delete(s->alarms_config);
  s->alarms_config = pgd_daemon_config_json(&c, "master.alarms");
  cfg_str(&c, "master.rpc.host", &s->rpc_host);
  cfg_int(&c, "master.rpc.port", &s->rpc_port);
  cfg_int(&c, "master.heartbeat_ms", &s->heartbeat_ms);
  cfg_int(&c, "master.lost_after_missed", &s->lost_after_missed);
  cfg_int(&c, "master.kill_grace_ms", &s->kill_grace_ms);
  cfg_int(&c, "master.recovery_grace_ms", &s->recovery_grace_ms);
  cfg_int(&c, "master.rpc.hello_timeout_ms", &s->rpc_hello_timeout_ms);
  cfg_int(&c, "master.http.max_concurrent_uploads", &s->upload_max_concurrent);
  long long ubif;
  if (config_lookup_int64(&c, "master.http.max_upload_bytes_in_flight", &ubif))
    s->upload_max_inflight_bytes = ubif;
  cfg_int(&c, "master.retention.days", &s->retention_days);
  cfg_int(&c, "master.retention.keep_last", &s->retention_keep_last);
  cfg_int(&c, "master.retention.interval_ms", &s->retention_interval_ms);
  cfg_int(&c, "master.retention.batch", &s->retention_batch);
  cfg_int(&c, "master.retention.resource_versions", &s->retention_resource_versions);
  long long lmp;
  if (config_lookup_int64(&c, "master.logs.max_pending_bytes", &lmp)) s->log_max_pending_bytes = lmp;
  cfg_str(&c, "worker.master", &s->worker_master);
  cfg_str(&c, "worker.data_dir", &s->worker_data);
  cfg_str(&c, "worker.id", &s->worker_id);
  cfg_int(&c, "worker.slots", &s->worker_slots);
  cfg_int(&c, "worker.heartbeat_ms", &s->worker_heartbeat_ms);
  cfg_int(&c, "worker.kill_grace_ms", &s->worker_kill_grace_ms);
  cfg_int(&c, "worker.stop_grace_ms", &s->worker_stop_grace_ms);
  const char *iso;
  if (config_lookup_string(&c, "worker.inproc_isolation", &iso)) {
    if (strcmp(iso, "process") == 0) {
      s->worker_inproc_isolation = PGD_INPROC_PROCESS;
    } else if (strcmp(iso, "thread") == 0) {
      s->worker_inproc_isolation = PGD_INPROC_THREAD;
    } else {
      fprintf(stderr, "pagoda: %s: worker.inproc_isolation must be \"process\" or \"thread\", not \"%s\"\n",
              path, iso);
      config_destroy(&c);
      return -1;
    }
  }
  cfg_int(&c, "plugins.load_timeout_ms", &s->plugin_load_timeout_ms);
  cfg_list(&c, "worker.labels", s->labels);
  cfg_list(&c, "worker.allowed_users", s->allowed_users);
  config_lookup_bool(&c, "worker.cgroups", &s->worker_cgroups);
  cfg_str(&c, "worker.cgroup_root", &s->worker_cgroup_root);
  cfg_str(&c, "store.postgres", &s->store_postgres);
  cfg_str(&c, "ha.zookeeper", &s->ha_zookeeper);
  cfg_str(&c, "ha.cluster", &s->ha_cluster);
  cfg_int(&c, "ha.session_timeout_ms", &s->ha_session_ms);
  cfg_str(&c, "master.balancer.dir", &s->balancer_dir);
  cfg_str(&c, "master.balancer.default", &s->balancer_default);
  cfg_int(&c, "master.balancer.instructions", &s->balancer_instructions);
  if (!config_lookup_bool(&c, "master.balancer.script_thread", &s->balancer_script_thread))
    s->balancer_script_thread = 1;
  cfg_int(&c, "master.balancer.call_memory", &s->balancer_call_memory);
  cfg_str(&c, "dev.data_dir", &s->dev_data);
  cfg_int(&c, "dev.slots", &s->dev_slots);
  cfg_str(&c, "master.http.tls.cert", &s->http_tls_cert);
  cfg_str(&c, "master.http.tls.key", &s->http_tls_key);
  cfg_str(&c, "worker.http.ca", &s->http_ca);
  int insecure;
  if (config_lookup_bool(&c, "insecure", &insecure)) s->insecure = insecure;
  daemon_obs_config(&s->obs, &c);
  config_destroy(&c);
  return 0;
}

/* "host:port" → parts; a bare port keeps the host. */
static int parse_addr(const char *v, char **host, int *port) {
  const char *colon = strrchr(v, ':');
  const char *p = colon ? colon + 1 : v;
  char *end;
  long n = strtol(p, &end, 10);
  if (!*p || *end || n < 0 || n > 65535) return -1;
  if (colon) {
    char *h = strndup(v, (size_t)(colon - v));
    set_str(host, *h ? h : "127.0.0.1");
    free(h);
  }
  *port = (int)n;
  return 0;
}

static int parse_int_flag(const char *name, const char *v, int min, int *out) {
  char *end;
  long n = v ? strtol(v, &end, 10) : 0;
  if (!v || !*v || *end || n < min || n > INT_MAX) {
    fprintf(stderr, "pagoda: %s needs an integer >= %d\n", name, min);
    return -1;
  }
  *out = (int)n;
  return 0;
}

/* The cluster secret from the first source that has one (daemon_secret.h):
 * --secret-file, --secret (scrubbed from argv, with a warning),
 * PAGODA_SECRET, cluster.secret_file, cluster.secret. Never logged. */
static int resolve_secret(settings_t *s, int argc, char **argv) {
  if (s->secret_flag && s->secret_file) {
    fprintf(stderr, "pagoda: give the cluster secret once: --secret-file or --secret, not both\n");
    return -1;
  }
  if (s->secret_flag) {
    pgd_secret_scrub_argv(argc, argv);
    PGD_WARN(MOD, "--secret puts the cluster secret on the command line, where other users see "
                  "it (ps): use --secret-file FILE or PAGODA_SECRET instead");
    return 0;
  }
  const char *file = s->secret_file;
  const char *env = getenv("PAGODA_SECRET");
  if (!file && !(env && *env)) file = s->cfg_secret_file;
  if (file && *file) {
    char err[512], *secret = NULL;
    if (pgd_secret_read_file(file, &secret, err, sizeof err) < 0) {
      fprintf(stderr, "pagoda: %s\n", err);
      return -1;
    }
    pgd_secret_free(s->secret);
    s->secret = secret;
  } else if (env && *env) {
    set_str(&s->secret, env);
  } else {
    set_str(&s->secret, s->cfg_secret ? s->cfg_secret : "");
  }
  return 0;
}

/* Flags: first --config (so that flags override the file), then the rest. */
static int parse_flags(settings_t *s, int argc, char **argv) {
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) s->config_path = argv[i + 1];
  if (!s->config_path) s->config_path = getenv("PAGODA_CONFIG");
  /* An installed master or worker reads its installed pagoda.conf
   * (etc/pagoda beside the prefix); `pagoda dev` stays self-contained. */
  if (!s->config_path && s->mode != MODE_DEV) {
    s->default_config = pgd_daemon_default_config();
    s->config_path = s->default_config;
  }
  if (s->config_path && load_config(s, s->config_path) < 0) return -1;

  for (int i = 2; i < argc; i++) {
    const char *f = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool takes = true;
    if (strcmp(f, "--config") == 0) {
    } else if (strcmp(f, "--http") == 0 && v) {
      if (parse_addr(v, &s->http_host, &s->http_port) < 0) goto bad_addr;
    } else if (strcmp(f, "--rpc") == 0 && v) {
      if (parse_addr(v, &s->rpc_host, &s->rpc_port) < 0) goto bad_addr;
    } else if (strcmp(f, "--data") == 0 && v) {
      set_str(s->mode == MODE_DEV ? &s->dev_data
                                  : (s->mode == MODE_MASTER ? &s->master_data : &s->worker_data),
              v);
    } else if (strcmp(f, "--console") == 0 && v && s->mode != MODE_WORKER) {
      set_str(&s->console_dir, v);
    } else if (strcmp(f, "--plugins") == 0 && v) {
      set_str(&s->plugins_dir, v);
    } else if (strcmp(f, "--secret") == 0 && v) {
      set_str(&s->secret, v);
      s->secret_flag = true;
    } else if (strcmp(f, "--secret-file") == 0 && v) {
      set_str(&s->secret_file, v);
    } else if (strcmp(f, "--rpc-tls-cert") == 0 && v && s->mode != MODE_WORKER) {
      set_str(&s->rpc_tls_cert, v);
    } else if (strcmp(f, "--rpc-tls-key") == 0 && v && s->mode != MODE_WORKER) {
      set_str(&s->rpc_tls_key, v);
    } else if (strcmp(f, "--rpc-tls-client-ca") == 0 && v && s->mode != MODE_WORKER) {
      set_str(&s->rpc_tls_client_ca, v);
    } else if (strcmp(f, "--tls-ca") == 0 && v && s->mode != MODE_MASTER) {
      set_str(&s->tls_ca, v);
    } else if (strcmp(f, "--tls-cert") == 0 && v && s->mode != MODE_MASTER) {
      set_str(&s->tls_cert, v);
    } else if (strcmp(f, "--tls-key") == 0 && v && s->mode != MODE_MASTER) {
      set_str(&s->tls_key, v);
    } else if (strcmp(f, "--log-level") == 0 && v) {
      set_str(&s->log_level, v);
      s->log_level_flag = true;
    } else if (strcmp(f, "--master") == 0 && v && s->mode == MODE_WORKER) {
      set_str(&s->worker_master, v);
    } else if (strcmp(f, "--id") == 0 && v && s->mode == MODE_WORKER) {
      set_str(&s->worker_id, v);
    } else if (strcmp(f, "--labels") == 0 && v && s->mode != MODE_MASTER) {
      cJSON_Delete(s->labels);
      s->labels = comma_list(v);
    } else if (strcmp(f, "--allowed-users") == 0 && v && s->mode != MODE_MASTER) {
      cJSON_Delete(s->allowed_users);
      s->allowed_users = comma_list(v);
    } else if (strcmp(f, "--ha-zookeeper") == 0 && v && s->mode != MODE_DEV) {
      set_str(&s->ha_zookeeper, v);
    } else if (strcmp(f, "--ha-cluster") == 0 && v && s->mode != MODE_DEV) {
      set_str(&s->ha_cluster, v);
    } else if (strcmp(f, "--ha-session-ms") == 0 && v && s->mode != MODE_DEV) {
      if (parse_int_flag("--ha-session-ms", v, 100, &s->ha_session_ms) < 0) return -1;
    } else if (strcmp(f, "--balancers") == 0 && v && s->mode != MODE_WORKER) {
      set_str(&s->balancer_dir, v);
    } else if (strcmp(f, "--default-balancer") == 0 && v && s->mode != MODE_WORKER) {
      set_str(&s->balancer_default, v);
    } else if (strcmp(f, "--store-postgres") == 0 && v && s->mode == MODE_MASTER) {
      set_str(&s->store_postgres, v);
    } else if (strcmp(f, "--slots") == 0 && v && s->mode != MODE_MASTER) {
      if (parse_int_flag("--slots", v, 1, s->mode == MODE_DEV ? &s->dev_slots : &s->worker_slots) < 0)
        return -1;
    } else if (strcmp(f, "--heartbeat-ms") == 0 && v) {
      int hb;
      if (parse_int_flag("--heartbeat-ms", v, 10, &hb) < 0) return -1;
      s->heartbeat_ms = s->worker_heartbeat_ms = hb;
    } else if (strcmp(f, "--kill-grace-ms") == 0 && v) {
      int g;
      if (parse_int_flag("--kill-grace-ms", v, 0, &g) < 0) return -1;
      s->kill_grace_ms = s->worker_kill_grace_ms = g;
    } else if (strcmp(f, "--stop-grace-ms") == 0 && v && s->mode == MODE_WORKER) {
      if (parse_int_flag("--stop-grace-ms", v, 0, &s->worker_stop_grace_ms) < 0) return -1;
    } else if (strcmp(f, "--plugin-load-timeout-ms") == 0 && v) {
      if (parse_int_flag("--plugin-load-timeout-ms", v, 1, &s->plugin_load_timeout_ms) < 0)
        return -1;
    } else if (strcmp(f, "--recovery-grace-ms") == 0 && v && s->mode != MODE_WORKER) {
      if (parse_int_flag("--recovery-grace-ms", v, 0, &s->recovery_grace_ms) < 0) return -1;
    } else if (strcmp(f, "--http-tls-cert") == 0 && v && s->mode != MODE_WORKER) {
      set_str(&s->http_tls_cert, v);
    } else if (strcmp(f, "--http-tls-key") == 0 && v && s->mode != MODE_WORKER) {
      set_str(&s->http_tls_key, v);
    } else if (strcmp(f, "--http-ca") == 0 && v && s->mode != MODE_MASTER) {
      set_str(&s->http_ca, v);
    } else if (strcmp(f, "--insecure") == 0) {
      s->insecure = 1;
      takes = false;
    } else if (strcmp(f, "--no-cgroups") == 0 && s->mode != MODE_MASTER) {
      s->worker_cgroups = 0;
      takes = false;
    } else if (strcmp(f, "--cgroup-root") == 0 && v && s->mode != MODE_MASTER) {
      set_str(&s->worker_cgroup_root, v);
    } else if (strcmp(f, "--example") == 0 && s->mode == MODE_DEV) {
      s->example = 1;
      takes = false;
    } else if (daemon_obs_flag(&s->obs, f, v, s->mode == MODE_WORKER) == 1) {
    } else {
      fprintf(stderr, "pagoda %s: unknown flag or missing value: %s (see pagoda %s --help)\n",
              argv[1], f, argv[1]);
      return -1;
    }
    if (takes) i++;
    continue;
  bad_addr:
    fprintf(stderr, "pagoda: %s needs HOST:PORT (port 0-65535), got '%s'\n", f, v);
    return -1;
  }
  int lvl = pgd_log_level_parse(s->log_level);
  if (lvl < 0) {
    fprintf(stderr, "pagoda: log level must be debug, info, warn or error, not '%s'\n", s->log_level);
    return -1;
  }
  pgd_log_set_level((pgd_log_level_t)lvl);
  if (daemon_obs_apply(&s->obs, s->insecure) < 0) return -1;
  return resolve_secret(s, argc, argv);
}

/* Plugins live next to the executable in a build tree, else where installed
 * (daemon_paths.h: relative to the executable, then the compiled prefix). */
static char *resolve_plugins_dir(const settings_t *s) {
  if (s->plugins_dir && *s->plugins_dir) return strdup(s->plugins_dir);
  return pgd_daemon_install_dir(PGD_PATH_PLUGINS, "plugins", 1);
}

/* The web console's files (docs/console.md), found like plugins: the
 * configured directory ("" or "off" = no console); else "console" next to the
 * executable in a build tree; else the installed share/pagoda/console; NULL
 * when none of these exists (the API is then served without a console). */
static char *resolve_console_dir(const settings_t *s) {
  if (s->console_dir) {
    if (!*s->console_dir || strcmp(s->console_dir, "off") == 0) return NULL;
    return strdup(s->console_dir);
  }
  return pgd_daemon_install_dir(PGD_PATH_CONSOLE, "console", 0);
}

/* Balancer scripts: the configured directory; else "balancers" next to the
 * config file; else ../conf/balancers from a build tree's executable; else
 * the installed <sysconfdir>/pagoda/balancers (daemon_paths.h). Flow hooks
 * are the "hooks" directory beside it (master/flows.c). */
static char *resolve_balancer_dir(const settings_t *s) {
  if (s->balancer_dir && *s->balancer_dir) return strdup(s->balancer_dir);
  char path[PATH_MAX];
  struct stat st;
  if (s->config_path) {
    const char *slash = strrchr(s->config_path, '/');
    snprintf(path, sizeof path, "%.*sbalancers", slash ? (int)(slash - s->config_path + 1) : 0,
             s->config_path);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return strdup(path);
  }
  char *conf = pgd_daemon_install_dir(PGD_PATH_CONF, "../conf", 1);
  snprintf(path, sizeof path, "%s/balancers", conf);
  free(conf);
  return strdup(path);
}

static bool has_str(const char *v) { return v && *v; }

/* True when a libpq connection string carries a password itself
 * ("password=..." or the "user:password@" of a URI). */
static bool conninfo_has_password(const char *ci) {
  if (!has_str(ci)) return false;
  if (strstr(ci, "password")) return true;
  const char *uri = strstr(ci, "://");
  if (!uri) return false;
  const char *at = strchr(uri + 3, '@');
  const char *colon = strchr(uri + 3, ':');
  return at && colon && colon < at;
}

/* The listen rule (docs/security.md, "Model"): the REST port is served in
 * plain HTTP on a non-loopback address only with --insecure, and that is
 * said at every start. Checked before anything binds, so a refused daemon
 * never exposed a port. The RPC port's rule is the RPC layer's. */
static int check_exposure(const settings_t *s) {
  if (s->mode == MODE_WORKER) {
    if (s->insecure) PGD_WARN(MOD, "started with --insecure (insecure = true)");
    return 0;
  }
  bool https = has_str(s->http_tls_cert) || has_str(s->http_tls_key);
  if (https && !(has_str(s->http_tls_cert) && has_str(s->http_tls_key))) {
    fprintf(stderr, "pagoda %s: HTTPS needs both --http-tls-cert and --http-tls-key "
                    "(master.http.tls.cert / .key)\n", s->mode == MODE_DEV ? "dev" : "master");
    return -1;
  }
  bool exposed = !pgd_addr_is_loopback(s->http_host);
  if (exposed && !https && !s->insecure) {
    fprintf(stderr,
            "pagoda %s: refusing to serve plain HTTP on %s, which is not a loopback address: "
            "give a certificate (--http-tls-cert FILE --http-tls-key FILE), listen on 127.0.0.1, "
            "or start with --insecure (see docs/security.md)\n",
            s->mode == MODE_DEV ? "dev" : "master", has_str(s->http_host) ? s->http_host : "*");
    return -1;
  }
  /* The RPC port: workers' reports and every job's env cross it, so plain
   * TCP to other hosts is the same exposure (the cluster secret, required
   * there by the RPC layer, proves who connects but encrypts nothing). */
  bool rpc_exposed = !pgd_addr_is_loopback(s->rpc_host);
  bool rpc_tls = has_str(s->rpc_tls_cert);
  if (rpc_exposed && !rpc_tls && !s->insecure) {
    fprintf(stderr,
            "pagoda %s: refusing to listen for workers in plain TCP on %s, which is not a "
            "loopback address: give a certificate (--rpc-tls-cert FILE --rpc-tls-key FILE), "
            "listen on 127.0.0.1, or start with --insecure (see docs/security.md)\n",
            s->mode == MODE_DEV ? "dev" : "master", has_str(s->rpc_host) ? s->rpc_host : "*");
    return -1;
  }
  if (conninfo_has_password(s->store_postgres))
    PGD_WARN(MOD, "the PostgreSQL connection string holds a password, visible in ps and in the "
                  "config file: use a password file instead (passfile=FILE or PGPASSFILE, see "
                  "docs/security.md)");
  if (s->insecure)
    PGD_WARN(MOD, "started with --insecure (insecure = true)%s",
             exposed && !https     ? ": the REST API is served in plain HTTP to other hosts"
             : rpc_exposed && !rpc_tls ? ": workers are served in plain TCP from other hosts"
                                       : "");
  return 0;
}

/* ---- the first start's admin token (docs/security.md) ---- */

typedef struct {
  bool done;
  int status;
} bootstrap_wait_t;

static void bootstrap_done(void *ud, int status) {
  bootstrap_wait_t *w = ud;
  w->done = true;
  w->status = status;
}

/* With no token in the store, creates the admin token and waits (running
 * the loop) until DATA/admin.token is written, so that it exists when the
 * "is running" line is printed. */
static int bootstrap_admin_token(uv_loop_t *loop, pgd_api_t *api, const char *data_dir, char *err,
                                 size_t errlen) {
  bootstrap_wait_t w = {0};
  int rc = pgd_api_bootstrap(api, data_dir, bootstrap_done, &w);
  if (rc == 1) return 0;
  while (rc == 0 && !w.done) uv_run(loop, UV_RUN_ONCE);
  if (rc == 0) rc = w.status;
  if (rc < 0) snprintf(err, errlen, "cannot create the first admin token in %s: %s", data_dir,
                       strerror(-rc));
  return rc;
}

/* ---- the running daemon ---- */

typedef struct daemon_state {
  uv_loop_t *loop;
  settings_t *s;
  pgd_registry_t *plugins;
  pgd_master_t *master;
  pgd_api_t *api;          /* the REST API in front of the master */
  pgd_alarms_t *alarms;    /* alarms of the master (docs/alarms.md) */
  pgd_worker_t *worker;
  uv_signal_t sigint, sigterm, sighup;
  uv_timer_t plugin_scan; /* hot loading: rescans the plugins directory */
  const char *plugins_dir;
  int pending_stops;
  int exit_code;
  pgd_example_t *example;
  pgd_zk_t *zk;            /* worker with high availability: registry + leader */
  char worker_id[160];
  char *worker_data;
} daemon_state_t;

static void on_signal_closed(uv_handle_t *h) { (void)h; }

/* A .so dropped into the plugins directory is loaded without a restart; the
 * registry skips files it has seen (and retries refused ones when they
 * change), so a rescan costs a readdir and a stat per file on the loop;
 * new files load on a pool thread with a hard deadline each (the loop keeps
 * serving). Workers advertise new types in their next heartbeat. */
static void rescan_plugins(void *ud, pgd_api_rescan_done done, void *done_ud) {
  daemon_state_t *d = ud;
  pgd_registry_rescan(d->plugins, d->loop, d->plugins_dir, done, done_ud);
}

/* The periodic rescan; SIGHUP and POST /api/v1/plugins/reload run the same. */
static void on_plugin_scan(uv_timer_t *t) { rescan_plugins(t->data, NULL, NULL); }

static void one_stopped(void *ud) {
  daemon_state_t *d = ud;
  if (--d->pending_stops > 0) return;
  uv_close((uv_handle_t *)&d->plugin_scan, on_signal_closed);
  uv_close((uv_handle_t *)&d->sigint, on_signal_closed);
  uv_close((uv_handle_t *)&d->sighup, on_signal_closed);
  uv_close((uv_handle_t *)&d->sigterm, on_signal_closed);
}

/* ---- a worker that follows the leader through ZooKeeper ---- */

static int start_worker(daemon_state_t *d, const char *host, int port, const char *data_dir,
                        int slots, char *err, size_t errlen);

static void on_zk_closed_worker(void *ud) {
  daemon_state_t *d = ud;
  d->zk = NULL;
  one_stopped(d);
}

static void worker_leader_change(pgd_zk_t *zk, const cJSON *leader, void *ud) {
  daemon_state_t *d = ud;
  (void)zk;
  /* The leader object is the leader's info plus "node" and "epoch". */
  const char *rpc = pgd_json_str(leader, "rpc");
  if (!rpc || d->pending_stops) return;
  char *host = strdup("127.0.0.1");
  int port = 0;
  if (parse_addr(rpc, &host, &port) == 0 && port > 0) {
    if (d->worker) {
      pgd_worker_set_master(d->worker, host, port);
    } else {
      char err[512];
      if (start_worker(d, host, port, d->worker_data, d->s->worker_slots, err, sizeof err) < 0)
        PGD_ERROR(MOD, "cannot start the worker: %s", err);
      else
        printf("Pagoda worker %s is running, master %s (leader from ZooKeeper)\n",
               pgd_worker_id(d->worker), rpc);
      fflush(stdout);
    }
  }
  free(host);
}

static int start_ha_worker(daemon_state_t *d, char *err, size_t errlen) {
  settings_t *s = d->s;
  if (s->worker_id && *s->worker_id) {
    snprintf(d->worker_id, sizeof d->worker_id, "%s", s->worker_id);
  } else {
    int rc = pgd_worker_identity_load(s->worker_data, d->worker_id, sizeof d->worker_id, err, errlen);
    if (rc < 0) return rc;
  }
  static const pgd_zk_cbs_t cbs = {.on_leader_change = worker_leader_change};
  int rc = pgd_zk_open(d->loop, s->ha_zookeeper, s->ha_cluster, s->ha_session_ms, &cbs, d, &d->zk,
                       err, errlen);
  if (rc < 0) return rc;
  cJSON *info = cJSON_CreateObject();
  cJSON_AddNumberToObject(info, "pid", (double)getpid());
  rc = pgd_zk_register_worker(d->zk, d->worker_id, info);
  cJSON_Delete(info);
  if (rc == 0) rc = pgd_zk_watch_leader(d->zk);
  if (rc < 0) snprintf(err, errlen, "cannot register with ZooKeeper: %s", strerror(-rc));
  return rc;
}

static void master_stopped(void *ud) {
  daemon_state_t *d = ud;
  d->master = NULL;
  pgd_api_free(d->api); /* after the master: it may still end held requests until now */
  d->api = NULL;
  one_stopped(d);
}

/* The API closes first (no new requests), then the master stops. */
static void stop_master(daemon_state_t *d) {
  pgd_api_stop(d->api);
  pgd_alarms_stop(d->alarms);
  d->alarms = NULL;
  if (d->master) {
    pgd_master_stop(d->master, master_stopped, d);
  } else {
    pgd_api_free(d->api);
    d->api = NULL;
    one_stopped(d);
  }
}

static void worker_stopped(void *ud) {
  daemon_state_t *d = ud;
  d->worker = NULL;
  stop_master(d);
}

static void shutdown_daemon(daemon_state_t *d) {
  if (d->pending_stops) return;
  PGD_INFO(MOD, "stopping");
  d->pending_stops = 1;
  if (d->example) pgd_example_cancel(d->example);
  daemon_obs_stop_endpoint(&d->s->obs);
  if (d->zk) {
    d->pending_stops++;
    pgd_zk_close(d->zk, on_zk_closed_worker, d);
  }
  /* The worker goes first so that its final reports reach the master. A
   * worker daemon drains first: its jobs get worker.stop_grace_ms, then
   * the master takes back what still runs (pgd_worker_leave). */
  if (d->worker && d->s->mode == MODE_WORKER)
    pgd_worker_leave(d->worker, d->s->worker_stop_grace_ms, worker_stopped, d);
  else if (d->worker)
    pgd_worker_stop(d->worker, worker_stopped, d);
  else
    stop_master(d);
}

/* SIGHUP's part of the configuration file: what can change live. Today
 * log_level (unless --log-level was given); every other key needs a
 * restart (docs/operations.md "Signals"). A file that no longer parses is
 * reported and changes nothing. */
static void reload_config(daemon_state_t *d) {
  if (!d->s->config_path) return;
  settings_t fresh;
  defaults(&fresh);
  fresh.mode = d->s->mode;
  if (load_config(&fresh, d->s->config_path) < 0) {
    PGD_WARN(MOD, "SIGHUP: cannot read %s again (above): the running configuration is kept",
             d->s->config_path);
  } else if (!d->s->log_level_flag && strcmp(fresh.log_level, d->s->log_level) != 0) {
    int lvl = pgd_log_level_parse(fresh.log_level);
    if (lvl < 0) {
      PGD_WARN(MOD, "SIGHUP: %s: log_level '%s' is not debug, info, warn or error: kept '%s'",
               d->s->config_path, fresh.log_level, d->s->log_level);
    } else {
      pgd_log_set_level((pgd_log_level_t)lvl);
      set_str(&d->s->log_level, fresh.log_level);
      PGD_WARN(MOD, "SIGHUP: log level is now %s", fresh.log_level);
    }
  }
  free_settings(&fresh);
}

/* SIGHUP (`systemctl reload`): reload what can change live: balancer
 * scripts, plugins (a rescan of the directory), the configuration's live
 * keys. */
static void on_sighup(uv_signal_t *h, int signum) {
  daemon_state_t *d = h->data;
  (void)signum;
  PGD_INFO(MOD, "received SIGHUP: reloading balancers, rescanning plugins, rereading the "
                "configuration's live keys");
  if (d->master) pgd_master_reload_balancers(d->master);
  if (d->alarms) pgd_alarms_reload_hooks(d->alarms);
  on_plugin_scan(&d->plugin_scan);
  reload_config(d);
}

/* SIGTERM, SIGINT: a clean stop. A second one while a worker drains stops
 * it at once (its running jobs are killed). */
static void on_signal(uv_signal_t *h, int signum) {
  daemon_state_t *d = h->data;
  PGD_INFO(MOD, "received %s", signum == SIGINT ? "SIGINT" : "SIGTERM");
  if (d->pending_stops && d->worker) {
    PGD_INFO(MOD, "stopping now: killing the running jobs");
    pgd_worker_stop(d->worker, worker_stopped, d);
    return;
  }
  shutdown_daemon(d);
}

static int start_worker(daemon_state_t *d, const char *host, int port, const char *data_dir,
                        int slots, char *err, size_t errlen) {
  settings_t *s = d->s;
  pgd_worker_config_t wc;
  memset(&wc, 0, sizeof wc);
  wc.master_host = host;
  wc.master_port = port;
  wc.secret = s->secret;
  wc.tls_ca = s->tls_ca;
  wc.tls_cert = s->tls_cert;
  wc.tls_key = s->tls_key;
  wc.data_dir = data_dir;
  wc.id_override = s->worker_id && *s->worker_id ? s->worker_id : NULL;
  wc.slots = slots > 0 ? slots : (int)sysconf(_SC_NPROCESSORS_ONLN);
  wc.labels = s->labels;
  wc.allowed_users = s->allowed_users;
  wc.heartbeat_ms = s->worker_heartbeat_ms;
  wc.kill_grace_ms = s->worker_kill_grace_ms;
  wc.no_cgroups = !s->worker_cgroups;
  wc.cgroup_root = s->worker_cgroup_root;
  wc.inproc_isolation = s->worker_inproc_isolation;
  wc.reconnect_ms = 200;
  /* The CA for the master's HTTPS port (resource downloads): --http-ca, else
   * the RPC's CA (one CA signs both in the documented setup); `pagoda dev`
   * without either trusts its own certificate file (self-signed). */
  wc.http_ca = has_str(s->http_ca) ? s->http_ca
               : has_str(s->tls_ca) ? s->tls_ca
               : s->mode == MODE_DEV && has_str(s->http_tls_cert) ? s->http_tls_cert
                                                                  : NULL;
  int rc = pgd_worker_start(d->loop, &wc, d->plugins, &d->worker, err, errlen);
  if (rc == 0) pgd_worker_metrics_start(d->worker);
  return rc;
}

int pgd_daemon_main(int argc, char **argv) {
  settings_t s;
  defaults(&s);
  s.mode = strcmp(argv[1], "dev") == 0 ? MODE_DEV
           : strcmp(argv[1], "master") == 0 ? MODE_MASTER
                                            : MODE_WORKER;
  if (s.mode == MODE_DEV) {
    /* pagoda dev picks free RPC ports by itself: nothing else connects. */
    s.rpc_port = 0;
    s.recovery_grace_ms = 3000;
  }
  if (parse_flags(&s, argc, argv) < 0) {
    free_settings(&s);
    return 2;
  }
  if (s.config_path)
    PGD_INFO(MOD, "configuration from %s%s", s.config_path,
             s.default_config ? " (the installed one)" : "");
  signal(SIGPIPE, SIG_IGN);
  /* A master runs no jobs: everything it creates (store, logs, resources,
   * tokens) is its own. A worker keeps the caller's umask, which its jobs
   * inherit; its files get explicit modes instead (docs/security.md). */
  if (s.mode == MODE_MASTER) umask(077);
  /* A master holds one descriptor per worker connection: take what the
   * hard limit allows (the default soft limit of 1024 is far too low). */
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  if (check_exposure(&s) < 0) {
    free_settings(&s);
    return 2;
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  daemon_state_t d = {.loop = &loop, .s = &s, .exit_code = 0};
  char *plugins_dir = resolve_plugins_dir(&s);
  d.plugins_dir = plugins_dir;
  d.plugins = pgd_registry_new();
  pgd_registry_set_load_timeout(d.plugins, s.plugin_load_timeout_ms);
  int loaded = pgd_registry_load_dir(d.plugins, plugins_dir);
  PGD_INFO(MOD, "loaded %d plugin(s) from %s", loaded < 0 ? 0 : loaded, plugins_dir);

  char err[1024] = "";
  char *balancer_dir = NULL;
  /* Workers download resources with this (welcome.http_token); per start. */
  char resource_token[PGD_AUTH_TOKEN_LEN + 1] = "";
  if ((s.mode == MODE_DEV || s.mode == MODE_MASTER) && pgd_auth_token_new(resource_token) < 0) {
    fprintf(stderr, "pagoda %s: the random generator failed\n", argv[1]);
    return 1;
  }
  int rc = 0;
  char *console_dir = NULL;
  if (s.mode == MODE_DEV || s.mode == MODE_MASTER) {
    console_dir = resolve_console_dir(&s);
    if (console_dir) PGD_INFO(MOD, "web console from %s", console_dir);
    else PGD_INFO(MOD, "no web console files found; / is not served (docs/console.md)");
    /* The API binds first: the master announces its port (to workers and
     * ZooKeeper) and requests answer 503 until the master is attached. */
    pgd_api_config_t ac = {.host = s.http_host,
                           .port = s.http_port,
                           .max_body = (size_t)s.max_body,
                           .idle_timeout_s = s.http_idle_timeout_s,
                           .max_conns_per_addr = s.http_max_conns_per_address,
                           .events_ring = s.events_ring,
                           .events_client_buffer =
                               s.events_client_buffer > 0 ? (size_t)s.events_client_buffer : 0,
                           .events_keepalive_ms = s.events_keepalive_ms,
                           .max_resource_bytes =
                               s.max_resource_bytes > 0 ? (size_t)s.max_resource_bytes : 0,
                           .rescan_plugins = rescan_plugins,
                           .rescan_ud = &d,
                           .tls_cert = has_str(s.http_tls_cert) ? s.http_tls_cert : NULL,
                           .tls_key = has_str(s.http_tls_key) ? s.http_tls_key : NULL,
                           .cors_origins = s.cors_origins,
                           .static_dir = console_dir,
                           .allowed_hosts = s.allowed_hosts,
                           .resource_token = resource_token,
                           .metrics_disabled = !s.obs.metrics_enabled,
                           .metrics_public = s.obs.metrics_public != 0,
                           .access_log_off = !s.obs.access_log};
    rc = pgd_api_start(&loop, &ac, &d.api, err, sizeof err);
  }
  if (rc == 0 && (s.mode == MODE_DEV || s.mode == MODE_MASTER)) {
    pgd_master_config_t mc;
    pgd_master_config_defaults(&mc);
    mc.data_dir = s.mode == MODE_DEV ? s.dev_data : s.master_data;
    mc.store_postgres = s.mode == MODE_MASTER ? s.store_postgres : NULL;
    mc.ha_zookeeper = s.mode == MODE_MASTER ? s.ha_zookeeper : NULL;
    mc.ha_cluster = s.ha_cluster;
    mc.ha_session_ms = s.ha_session_ms;
    mc.http_host = s.http_host;
    mc.http_port = pgd_api_port(d.api);
    mc.rpc_host = s.rpc_host;
    mc.rpc_port = s.rpc_port;
    mc.secret = s.secret;
    mc.http_tls = has_str(s.http_tls_cert);
    mc.rpc_tls_cert = s.rpc_tls_cert;
    mc.rpc_tls_key = s.rpc_tls_key;
    mc.rpc_tls_client_ca = s.rpc_tls_client_ca;
    mc.resource_token = resource_token;
    mc.heartbeat_ms = s.heartbeat_ms;
    mc.lost_after_missed = s.lost_after_missed;
    mc.kill_grace_ms = s.kill_grace_ms;
    mc.recovery_grace_ms = s.recovery_grace_ms;
    mc.rpc_hello_timeout_ms = s.rpc_hello_timeout_ms;
    mc.upload_max_concurrent = s.upload_max_concurrent;
    mc.upload_max_inflight_bytes = s.upload_max_inflight_bytes;
    mc.retention_days = s.retention_days;
    mc.retention_keep_last = s.retention_keep_last;
    if (s.retention_interval_ms > 0) mc.retention_interval_ms = s.retention_interval_ms;
    if (s.retention_batch > 0) mc.retention_batch = s.retention_batch;
    mc.retention_resource_versions = s.retention_resource_versions;
    mc.log_max_pending_bytes = s.log_max_pending_bytes;
    balancer_dir = resolve_balancer_dir(&s);
    mc.balancer_dir = balancer_dir;
    mc.balancer_default = s.balancer_default;
    mc.balancer_instructions = s.balancer_instructions;
    mc.balancer_call_memory = s.balancer_call_memory;
    mc.balancer_inline = !s.balancer_script_thread;
    rc = pgd_master_start(&loop, &mc, d.plugins, &d.master, err, sizeof err);
    if (rc == 0) pgd_api_attach(d.api, d.master);
    if (rc == 0) {
      char *hooks = pgd_daemon_alarm_hooks_dir(s.config_path);
      rc = pgd_alarms_start(&loop, d.master, s.alarms_config, hooks, &d.alarms, err, sizeof err);
      free(hooks);
      if (rc == 0) pgd_api_attach_alarms(d.api, d.alarms);
    }
    if (rc == 0) pgd_master_metrics_start(d.master);
    if (rc == 0) rc = bootstrap_admin_token(&loop, d.api, mc.data_dir, err, sizeof err);
  }
  if (rc == 0 && s.mode == MODE_DEV) {
    int slots = s.dev_slots > 0 ? s.dev_slots : 4 * (int)sysconf(_SC_NPROCESSORS_ONLN);
    char wdata[PATH_MAX];
    snprintf(wdata, sizeof wdata, "%s/worker", s.dev_data);
    rc = start_worker(&d, "127.0.0.1", pgd_master_rpc_port(d.master), wdata, slots, err,
                      sizeof err);
  } else if (rc == 0 && s.mode == MODE_WORKER && s.ha_zookeeper && *s.ha_zookeeper) {
    d.worker_data = s.worker_data;
    rc = start_ha_worker(&d, err, sizeof err);
  } else if (rc == 0 && s.mode == MODE_WORKER) {
    char *host = strdup("127.0.0.1");
    int port = 0;
    if (parse_addr(s.worker_master, &host, &port) < 0 || port == 0) {
      snprintf(err, sizeof err, "--master needs HOST:PORT, got '%s'", s.worker_master);
      rc = -EINVAL;
    } else {
      rc = start_worker(&d, host, port, s.worker_data, s.worker_slots, err, sizeof err);
    }
    free(host);
  }
  if (rc == 0 && s.mode == MODE_WORKER) rc = daemon_obs_start_endpoint(&s.obs, &loop, err, sizeof err);
  if (rc < 0) {
    fprintf(stderr, "pagoda %s: %s\n", argv[1], err[0] ? err : "failed to start");
    d.exit_code = 1;
    /* Stop whatever did start, then drain the loop. */
    if (d.worker || d.master || d.zk || d.api) {
      uv_signal_init(&loop, &d.sigint);
      uv_signal_init(&loop, &d.sigterm);
      uv_signal_init(&loop, &d.sighup);
      uv_timer_init(&loop, &d.plugin_scan);
      shutdown_daemon(&d);
    }
  } else {
    uv_signal_init(&loop, &d.sigint);
    uv_signal_init(&loop, &d.sigterm);
    d.sigint.data = d.sigterm.data = &d;
    uv_signal_start(&d.sigint, on_signal, SIGINT);
    uv_signal_start(&d.sigterm, on_signal, SIGTERM);
    uv_signal_init(&loop, &d.sighup);
    d.sighup.data = &d;
    uv_signal_start(&d.sighup, on_sighup, SIGHUP);
    uv_timer_init(&loop, &d.plugin_scan);
    d.plugin_scan.data = &d;
    uv_timer_start(&d.plugin_scan, on_plugin_scan, 2000, 2000);
    if (d.master) {
      char url[300];
      snprintf(url, sizeof url, "%s://%s:%d", has_str(s.http_tls_cert) ? "https" : "http",
               s.http_host, pgd_api_port(d.api));
      char token_file[PATH_MAX];
      snprintf(token_file, sizeof token_file, "%s/admin.token", s.dev_data);
      bool dev_default = strcmp(token_file, PGD_CLI_DEV_TOKEN_FILE) == 0;
      if (s.mode == MODE_DEV)
        printf("Pagoda dev is running: %s  (API %s/api/v1, data in %s, plugins from %s)\n"
               "Try: %sPAGODA_ADDR=%s pagoda job list    Stop with Ctrl-C.\n"
               "The admin token is in %s: the CLI run from this directory uses it;\n"
               "curl needs -H \"Authorization: Bearer $(cat %s)\".\n",
               url, url, s.dev_data, plugins_dir, dev_default ? "" : "PAGODA_TOKEN_FILE=",
               dev_default ? url : token_file, token_file, token_file);
      else
        printf("Pagoda master is running: %s  (workers connect to %s:%d)\n", url, s.rpc_host,
               pgd_master_rpc_port(d.master));
      fflush(stdout);
      if (s.example) d.example = pgd_example_start(&loop, url, token_file);
    } else if (d.worker) {
      printf("Pagoda worker %s is running, master %s\n", pgd_worker_id(d.worker), s.worker_master);
      fflush(stdout);
    } else {
      printf("Pagoda worker %s is waiting for a leader (ZooKeeper %s, cluster %s)\n", d.worker_id,
             s.ha_zookeeper, s.ha_cluster);
      fflush(stdout);
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  if (d.example) pgd_example_free(d.example);
  int close_rc = uv_loop_close(&loop);
  if (close_rc != 0) PGD_WARN(MOD, "loop closed with handles still open");
  pgd_registry_free(d.plugins);
  free(plugins_dir);
  free(balancer_dir);
  free(console_dir);
  free_settings(&s);
  return d.exit_code;
}
