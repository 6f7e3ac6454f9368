/* Pagoda — the daemons' settings: defaults, the configuration file, flags,
 * the cluster secret, installed directories, the listen rule
 * (daemon_settings.h). */
#include "cli/daemon_settings.h"

#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/daemon_alarms.h"
#include "cli/daemon_paths.h"
#include "cli/daemon_secret.h"
#include "common/log.h"
#include "common/netaddr.h"
#include "plugin/registry.h"
#include "worker/worker.h"

#define MOD "daemon"

void daemon_set_str(char **dst, const char *v) {
  free(*dst);
  *dst = v ? strdup(v) : NULL;
}

void daemon_settings_defaults(settings_t *s) {
  memset(s, 0, sizeof *s);
  daemon_set_str(&s->log_level, "info");
  daemon_set_str(&s->plugins_dir, "");
  daemon_set_str(&s->master_data, "/var/lib/pagoda/master");
  daemon_set_str(&s->http_host, "127.0.0.1");
  s->http_port = 7080;
  daemon_set_str(&s->rpc_host, "127.0.0.1");
  s->rpc_port = 7081;
  s->max_body = 1 << 20;
  s->max_resource_bytes = 256LL << 20;
  daemon_set_str(&s->ha_cluster, "default");
  s->ha_session_ms = 10000;
  s->heartbeat_ms = 1000;
  s->lost_after_missed = 3;
  s->kill_grace_ms = 5000;
  s->recovery_grace_ms = 5000;
  s->rpc_hello_timeout_ms = 10000;
  s->upload_max_concurrent = 4;
  s->upload_max_inflight_bytes = 1LL << 30;
  daemon_set_str(&s->worker_master, "127.0.0.1:7081");
  daemon_set_str(&s->worker_data, "/var/lib/pagoda/worker");
  daemon_set_str(&s->worker_id, "");
  s->worker_heartbeat_ms = 1000;
  s->worker_kill_grace_ms = 5000;
  s->worker_stop_grace_ms = 30000;
  s->worker_inproc_isolation = PGD_INPROC_PROCESS;
  s->plugin_load_timeout_ms = PGD_PLUGIN_LOAD_TIMEOUT_MS;
  s->worker_cgroups = 1;
  daemon_set_str(&s->worker_cgroup_root, "");
  daemon_set_str(&s->dev_data, "pagoda-dev-data");
  /* An installed tree's own state directory (daemon_paths.h) when it has
   * one, else /var/lib/pagoda. */
  char *state = pgd_daemon_install_dir(PGD_PATH_STATE, NULL, 0);
  if (state) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/master", state);
    daemon_set_str(&s->master_data, dir);
    snprintf(dir, sizeof dir, "%s/worker", state);
    daemon_set_str(&s->worker_data, dir);
    free(state);
  }
  s->labels = cJSON_CreateArray();
  s->allowed_users = cJSON_CreateArray();
  s->store_group_window_us = -1;
  daemon_obs_defaults(&s->obs);
}

void daemon_settings_free(settings_t *s) {
  pgd_secret_free(s->secret); /* wiped, not only freed */
  s->secret = NULL;
  char **strs[] = {&s->log_level,   &s->plugins_dir,   &s->secret,    &s->master_data,
                   &s->http_host,   &s->rpc_host,      &s->worker_master, &s->worker_data,
                   &s->worker_id,   &s->worker_labels, &s->dev_data, &s->store_postgres, &s->balancer_dir, &s->ha_zookeeper, &s->ha_cluster,
                   &s->balancer_default, &s->http_tls_cert, &s->http_tls_key, &s->http_ca,
                   &s->cors_origins, &s->allowed_hosts, &s->worker_cgroup_root, &s->console_dir};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) daemon_set_str(strs[i], NULL);
  char **more[] = {&s->secret_file,  &s->cfg_secret_file, &s->rpc_tls_cert, &s->rpc_tls_key,
                   &s->rpc_tls_client_ca, &s->tls_ca,    &s->tls_cert,     &s->tls_key,
                   &s->default_config};
  for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) daemon_set_str(more[i], NULL);
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
  if (config_lookup_string(c, path, &v)) daemon_set_str(dst, v);
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

int daemon_settings_load_file(settings_t *s, const char *path) {
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
  config_setting_t *gw = config_lookup(&c, "store.group_window_us");
  if (gw) {
    /* held writes delay a worker's acknowledgement: at most a second */
    if (config_setting_type(gw) != CONFIG_TYPE_INT || config_setting_get_int(gw) < 0 ||
        config_setting_get_int(gw) > 1000000) {
      fprintf(stderr, "pagoda: %s: store.group_window_us must be an integer from 0 to 1000000 "
              "(microseconds)\n", path);
      config_destroy(&c);
      return -1;
    }
    s->store_group_window_us = config_setting_get_int(gw);
  }
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
int daemon_parse_addr(const char *v, char **host, int *port) {
  const char *colon = strrchr(v, ':');
  const char *p = colon ? colon + 1 : v;
  char *end;
  long n = strtol(p, &end, 10);
  if (!*p || *end || n < 0 || n > 65535) return -1;
  if (colon) {
    char *h = strndup(v, (size_t)(colon - v));
    daemon_set_str(host, *h ? h : "127.0.0.1");
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
    daemon_set_str(&s->secret, env);
  } else {
    daemon_set_str(&s->secret, s->cfg_secret ? s->cfg_secret : "");
  }
  return 0;
}

/* Flags: first --config (so that flags override the file), then the rest. */
int daemon_settings_parse_flags(settings_t *s, int argc, char **argv) {
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) s->config_path = argv[i + 1];
  if (!s->config_path) s->config_path = getenv("PAGODA_CONFIG");
  /* An installed master or worker reads its installed pagoda.conf
   * (etc/pagoda beside the prefix); `pagoda dev` stays self-contained. */
  if (!s->config_path && s->mode != MODE_DEV) {
    s->default_config = pgd_daemon_default_config();
    s->config_path = s->default_config;
  }
  if (s->config_path && daemon_settings_load_file(s, s->config_path) < 0) return -1;

  for (int i = 2; i < argc; i++) {
    const char *f = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    bool takes = true;
    if (strcmp(f, "--config") == 0) {
    } else if (strcmp(f, "--http") == 0 && v) {
      if (daemon_parse_addr(v, &s->http_host, &s->http_port) < 0) goto bad_addr;
    } else if (strcmp(f, "--rpc") == 0 && v) {
      if (daemon_parse_addr(v, &s->rpc_host, &s->rpc_port) < 0) goto bad_addr;
    } else if (strcmp(f, "--data") == 0 && v) {
      daemon_set_str(s->mode == MODE_DEV ? &s->dev_data
                                  : (s->mode == MODE_MASTER ? &s->master_data : &s->worker_data),
              v);
    } else if (strcmp(f, "--console") == 0 && v && s->mode != MODE_WORKER) {
      daemon_set_str(&s->console_dir, v);
    } else if (strcmp(f, "--plugins") == 0 && v) {
      daemon_set_str(&s->plugins_dir, v);
    } else if (strcmp(f, "--secret") == 0 && v) {
      daemon_set_str(&s->secret, v);
      s->secret_flag = true;
    } else if (strcmp(f, "--secret-file") == 0 && v) {
      daemon_set_str(&s->secret_file, v);
    } else if (strcmp(f, "--rpc-tls-cert") == 0 && v && s->mode != MODE_WORKER) {
      daemon_set_str(&s->rpc_tls_cert, v);
    } else if (strcmp(f, "--rpc-tls-key") == 0 && v && s->mode != MODE_WORKER) {
      daemon_set_str(&s->rpc_tls_key, v);
    } else if (strcmp(f, "--rpc-tls-client-ca") == 0 && v && s->mode != MODE_WORKER) {
      daemon_set_str(&s->rpc_tls_client_ca, v);
    } else if (strcmp(f, "--tls-ca") == 0 && v && s->mode != MODE_MASTER) {
      daemon_set_str(&s->tls_ca, v);
    } else if (strcmp(f, "--tls-cert") == 0 && v && s->mode != MODE_MASTER) {
      daemon_set_str(&s->tls_cert, v);
    } else if (strcmp(f, "--tls-key") == 0 && v && s->mode != MODE_MASTER) {
      daemon_set_str(&s->tls_key, v);
    } else if (strcmp(f, "--log-level") == 0 && v) {
      daemon_set_str(&s->log_level, v);
      s->log_level_flag = true;
    } else if (strcmp(f, "--master") == 0 && v && s->mode == MODE_WORKER) {
      daemon_set_str(&s->worker_master, v);
    } else if (strcmp(f, "--id") == 0 && v && s->mode == MODE_WORKER) {
      daemon_set_str(&s->worker_id, v);
    } else if (strcmp(f, "--labels") == 0 && v && s->mode != MODE_MASTER) {
      cJSON_Delete(s->labels);
      s->labels = comma_list(v);
    } else if (strcmp(f, "--allowed-users") == 0 && v && s->mode != MODE_MASTER) {
      cJSON_Delete(s->allowed_users);
      s->allowed_users = comma_list(v);
    } else if (strcmp(f, "--ha-zookeeper") == 0 && v && s->mode != MODE_DEV) {
      daemon_set_str(&s->ha_zookeeper, v);
    } else if (strcmp(f, "--ha-cluster") == 0 && v && s->mode != MODE_DEV) {
      daemon_set_str(&s->ha_cluster, v);
    } else if (strcmp(f, "--ha-session-ms") == 0 && v && s->mode != MODE_DEV) {
      if (parse_int_flag("--ha-session-ms", v, 100, &s->ha_session_ms) < 0) return -1;
    } else if (strcmp(f, "--balancers") == 0 && v && s->mode != MODE_WORKER) {
      daemon_set_str(&s->balancer_dir, v);
    } else if (strcmp(f, "--default-balancer") == 0 && v && s->mode != MODE_WORKER) {
      daemon_set_str(&s->balancer_default, v);
    } else if (strcmp(f, "--store-postgres") == 0 && v && s->mode == MODE_MASTER) {
      daemon_set_str(&s->store_postgres, v);
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
      daemon_set_str(&s->http_tls_cert, v);
    } else if (strcmp(f, "--http-tls-key") == 0 && v && s->mode != MODE_WORKER) {
      daemon_set_str(&s->http_tls_key, v);
    } else if (strcmp(f, "--http-ca") == 0 && v && s->mode != MODE_MASTER) {
      daemon_set_str(&s->http_ca, v);
    } else if (strcmp(f, "--insecure") == 0) {
      s->insecure = 1;
      takes = false;
    } else if (strcmp(f, "--no-cgroups") == 0 && s->mode != MODE_MASTER) {
      s->worker_cgroups = 0;
      takes = false;
    } else if (strcmp(f, "--cgroup-root") == 0 && v && s->mode != MODE_MASTER) {
      daemon_set_str(&s->worker_cgroup_root, v);
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
char *daemon_resolve_plugins_dir(const settings_t *s) {
  if (s->plugins_dir && *s->plugins_dir) return strdup(s->plugins_dir);
  return pgd_daemon_install_dir(PGD_PATH_PLUGINS, "plugins", 1);
}

/* The web console's files (docs/console.md), found like plugins: the
 * configured directory ("" or "off" = no console); else "console" next to the
 * executable in a build tree; else the installed share/pagoda/console; NULL
 * when none of these exists (the API is then served without a console). */
char *daemon_resolve_console_dir(const settings_t *s) {
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
char *daemon_resolve_balancer_dir(const settings_t *s) {
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

bool daemon_has_str(const char *v) { return v && *v; }

/* True when a libpq connection string carries a password itself
 * ("password=..." or the "user:password@" of a URI). */
static bool conninfo_has_password(const char *ci) {
  if (!daemon_has_str(ci)) return false;
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
int daemon_check_exposure(const settings_t *s) {
  if (s->mode == MODE_WORKER) {
    if (s->insecure) PGD_WARN(MOD, "started with --insecure (insecure = true)");
    return 0;
  }
  bool https = daemon_has_str(s->http_tls_cert) || daemon_has_str(s->http_tls_key);
  if (https && !(daemon_has_str(s->http_tls_cert) && daemon_has_str(s->http_tls_key))) {
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
            s->mode == MODE_DEV ? "dev" : "master", daemon_has_str(s->http_host) ? s->http_host : "*");
    return -1;
  }
  /* The RPC port: workers' reports and every job's env cross it, so plain
   * TCP to other hosts is the same exposure (the cluster secret, required
   * there by the RPC layer, proves who connects but encrypts nothing). */
  bool rpc_exposed = !pgd_addr_is_loopback(s->rpc_host);
  bool rpc_tls = daemon_has_str(s->rpc_tls_cert);
  if (rpc_exposed && !rpc_tls && !s->insecure) {
    fprintf(stderr,
            "pagoda %s: refusing to listen for workers in plain TCP on %s, which is not a "
            "loopback address: give a certificate (--rpc-tls-cert FILE --rpc-tls-key FILE), "
            "listen on 127.0.0.1, or start with --insecure (see docs/security.md)\n",
            s->mode == MODE_DEV ? "dev" : "master", daemon_has_str(s->rpc_host) ? s->rpc_host : "*");
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
