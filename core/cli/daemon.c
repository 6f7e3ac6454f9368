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

#include "api/api.h"
#include "cli/daemon_example.h"
#include "common/json.h"
#include "common/log.h"
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
  char *log_level;
  char *plugins_dir;
  char *secret;
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
  char *http_host;
  int http_port;
  char *rpc_host;
  int rpc_port;
  long max_body;
  int heartbeat_ms;
  int lost_after_missed;
  int kill_grace_ms;
  int recovery_grace_ms;
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
  int worker_cgroups;       /* worker.cgroups (bool): 0 = containment without cgroups */
  char *worker_cgroup_root; /* worker.cgroup_root, "" = the worker's own cgroup */
  /* dev */
  char *dev_data;
  int dev_slots;
  int example;
} settings_t;

static void set_str(char **dst, const char *v) {
  free(*dst);
  *dst = v ? strdup(v) : NULL;
}

static void defaults(settings_t *s) {
  memset(s, 0, sizeof *s);
  set_str(&s->log_level, "info");
  set_str(&s->plugins_dir, "");
  set_str(&s->secret, "");
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
  set_str(&s->worker_master, "127.0.0.1:7081");
  set_str(&s->worker_data, "/var/lib/pagoda/worker");
  set_str(&s->worker_id, "");
  s->worker_heartbeat_ms = 1000;
  s->worker_kill_grace_ms = 5000;
  s->worker_cgroups = 1;
  set_str(&s->worker_cgroup_root, "");
  set_str(&s->dev_data, "pagoda-dev-data");
  s->labels = cJSON_CreateArray();
  s->allowed_users = cJSON_CreateArray();
}

static void free_settings(settings_t *s) {
  char **strs[] = {&s->log_level,   &s->plugins_dir,   &s->secret,    &s->master_data,
                   &s->http_host,   &s->rpc_host,      &s->worker_master, &s->worker_data,
                   &s->worker_id,   &s->worker_labels, &s->dev_data, &s->store_postgres, &s->balancer_dir, &s->ha_zookeeper, &s->ha_cluster,
                   &s->balancer_default, &s->worker_cgroup_root};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) set_str(strs[i], NULL);
  cJSON_Delete(s->labels);
  cJSON_Delete(s->allowed_users);
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
  cfg_str(&c, "cluster.secret", &s->secret);
  cfg_str(&c, "plugins.dir", &s->plugins_dir);
  cfg_str(&c, "master.data_dir", &s->master_data);
  cfg_str(&c, "master.http.host", &s->http_host);
  cfg_int(&c, "master.http.port", &s->http_port);
  int mb = (int)s->max_body;
  cfg_int(&c, "master.http.max_body", &mb);
  s->max_body = mb;
  long long mrb;
  if (config_lookup_int64(&c, "master.http.max_resource_bytes", &mrb)) s->max_resource_bytes = mrb;
  cfg_str(&c, "master.rpc.host", &s->rpc_host);
  cfg_int(&c, "master.rpc.port", &s->rpc_port);
  cfg_int(&c, "master.heartbeat_ms", &s->heartbeat_ms);
  cfg_int(&c, "master.lost_after_missed", &s->lost_after_missed);
  cfg_int(&c, "master.kill_grace_ms", &s->kill_grace_ms);
  cfg_int(&c, "master.recovery_grace_ms", &s->recovery_grace_ms);
  cfg_str(&c, "worker.master", &s->worker_master);
  cfg_str(&c, "worker.data_dir", &s->worker_data);
  cfg_str(&c, "worker.id", &s->worker_id);
  cfg_int(&c, "worker.slots", &s->worker_slots);
  cfg_int(&c, "worker.heartbeat_ms", &s->worker_heartbeat_ms);
  cfg_int(&c, "worker.kill_grace_ms", &s->worker_kill_grace_ms);
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
  cfg_int(&c, "master.balancer.call_memory", &s->balancer_call_memory);
  cfg_str(&c, "dev.data_dir", &s->dev_data);
  cfg_int(&c, "dev.slots", &s->dev_slots);
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

/* Flags: first --config (so that flags override the file), then the rest. */
static int parse_flags(settings_t *s, int argc, char **argv) {
  for (int i = 2; i < argc; i++)
    if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) s->config_path = argv[i + 1];
  if (!s->config_path) s->config_path = getenv("PAGODA_CONFIG");
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
    } else if (strcmp(f, "--plugins") == 0 && v) {
      set_str(&s->plugins_dir, v);
    } else if (strcmp(f, "--secret") == 0 && v) {
      set_str(&s->secret, v);
    } else if (strcmp(f, "--log-level") == 0 && v) {
      set_str(&s->log_level, v);
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
    } else if (strcmp(f, "--recovery-grace-ms") == 0 && v && s->mode != MODE_WORKER) {
      if (parse_int_flag("--recovery-grace-ms", v, 0, &s->recovery_grace_ms) < 0) return -1;
    } else if (strcmp(f, "--no-cgroups") == 0 && s->mode != MODE_MASTER) {
      s->worker_cgroups = 0;
      takes = false;
    } else if (strcmp(f, "--cgroup-root") == 0 && v && s->mode != MODE_MASTER) {
      set_str(&s->worker_cgroup_root, v);
    } else if (strcmp(f, "--example") == 0 && s->mode == MODE_DEV) {
      s->example = 1;
      takes = false;
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
  return 0;
}

/* Plugins live next to the executable in a build tree, else where installed. */
static char *resolve_plugins_dir(const settings_t *s) {
  if (s->plugins_dir && *s->plugins_dir) return strdup(s->plugins_dir);
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 16);
  if (n > 0) {
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) {
      strcpy(slash + 1, "plugins");
      struct stat st;
      if (stat(exe, &st) == 0 && S_ISDIR(st.st_mode)) return strdup(exe);
    }
  }
  return strdup(PAGODA_PLUGIN_INSTALL_DIR);
}

/* Balancer scripts: the configured directory; else "balancers" next to the
 * config file; else ../conf/balancers from a build tree's executable; else
 * the installed <sysconfdir>/pagoda/balancers. */
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
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 32); /* room for the suffix */
  if (n > 0) {
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) {
      strcpy(slash, "/../conf/balancers");
      if (stat(exe, &st) == 0 && S_ISDIR(st.st_mode)) return strdup(exe);
    }
  }
  snprintf(path, sizeof path, "%s/balancers", PAGODA_CONF_INSTALL_DIR);
  return strdup(path);
}

/* ---- the running daemon ---- */

typedef struct daemon_state {
  uv_loop_t *loop;
  settings_t *s;
  pgd_registry_t *plugins;
  pgd_master_t *master;
  pgd_api_t *api;          /* the REST API in front of the master */
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
 * change), so a rescan costs a readdir and a stat per file. Workers
 * advertise new types in their next heartbeat. */
static int rescan_plugins(void *ud) {
  daemon_state_t *d = ud;
  int n = pgd_registry_load_dir(d->plugins, d->plugins_dir);
  if (n > 0) PGD_INFO(MOD, "hot-loaded %d new plugin(s) from %s", n, d->plugins_dir);
  return n;
}

/* The periodic rescan; SIGHUP and POST /api/v1/plugins/reload run the same. */
static void on_plugin_scan(uv_timer_t *t) { rescan_plugins(t->data); }

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
  if (d->zk) {
    d->pending_stops++;
    pgd_zk_close(d->zk, on_zk_closed_worker, d);
  }
  /* The worker goes first so that its final reports reach the master. */
  if (d->worker)
    pgd_worker_stop(d->worker, worker_stopped, d);
  else
    stop_master(d);
}

/* SIGHUP: reload what can change live (balancer scripts, plugins). */
static void on_sighup(uv_signal_t *h, int signum) {
  daemon_state_t *d = h->data;
  (void)signum;
  PGD_INFO(MOD, "received SIGHUP: reloading balancers and rescanning plugins");
  if (d->master) pgd_master_reload_balancers(d->master);
  on_plugin_scan(&d->plugin_scan);
}

static void on_signal(uv_signal_t *h, int signum) {
  daemon_state_t *d = h->data;
  PGD_INFO(MOD, "received %s", signum == SIGINT ? "SIGINT" : "SIGTERM");
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
  wc.data_dir = data_dir;
  wc.id_override = s->worker_id && *s->worker_id ? s->worker_id : NULL;
  wc.slots = slots > 0 ? slots : (int)sysconf(_SC_NPROCESSORS_ONLN);
  wc.labels = s->labels;
  wc.allowed_users = s->allowed_users;
  wc.heartbeat_ms = s->worker_heartbeat_ms;
  wc.kill_grace_ms = s->worker_kill_grace_ms;
  wc.no_cgroups = !s->worker_cgroups;
  wc.cgroup_root = s->worker_cgroup_root;
  wc.reconnect_ms = 200;
  return pgd_worker_start(d->loop, &wc, d->plugins, &d->worker, err, errlen);
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
  signal(SIGPIPE, SIG_IGN);
  /* A master holds one descriptor per worker connection: take what the
   * hard limit allows (the default soft limit of 1024 is far too low). */
  struct rlimit nofile;
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  daemon_state_t d = {.loop = &loop, .s = &s, .exit_code = 0};
  char *plugins_dir = resolve_plugins_dir(&s);
  d.plugins_dir = plugins_dir;
  d.plugins = pgd_registry_new();
  int loaded = pgd_registry_load_dir(d.plugins, plugins_dir);
  PGD_INFO(MOD, "loaded %d plugin(s) from %s", loaded < 0 ? 0 : loaded, plugins_dir);

  char err[1024] = "";
  char *balancer_dir = NULL;
  int rc = 0;
  if (s.mode == MODE_DEV || s.mode == MODE_MASTER) {
    /* The API binds first: the master announces its port (to workers and
     * ZooKeeper) and requests answer 503 until the master is attached. */
    pgd_api_config_t ac = {.host = s.http_host,
                           .port = s.http_port,
                           .max_body = (size_t)s.max_body,
                           .max_resource_bytes =
                               s.max_resource_bytes > 0 ? (size_t)s.max_resource_bytes : 0,
                           .rescan_plugins = rescan_plugins,
                           .rescan_ud = &d};
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
    mc.heartbeat_ms = s.heartbeat_ms;
    mc.lost_after_missed = s.lost_after_missed;
    mc.kill_grace_ms = s.kill_grace_ms;
    mc.recovery_grace_ms = s.recovery_grace_ms;
    balancer_dir = resolve_balancer_dir(&s);
    mc.balancer_dir = balancer_dir;
    mc.balancer_default = s.balancer_default;
    mc.balancer_instructions = s.balancer_instructions;
    mc.balancer_call_memory = s.balancer_call_memory;
    rc = pgd_master_start(&loop, &mc, d.plugins, &d.master, err, sizeof err);
    if (rc == 0) pgd_api_attach(d.api, d.master);
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
      snprintf(url, sizeof url, "http://%s:%d", s.http_host, pgd_api_port(d.api));
      if (s.mode == MODE_DEV)
        printf("Pagoda dev is running: %s  (API %s/api/v1, data in %s, plugins from %s)\n"
               "Try: PAGODA_ADDR=%s pagoda job list    Stop with Ctrl-C.\n",
               url, url, s.dev_data, plugins_dir, url);
      else
        printf("Pagoda master is running: %s  (workers connect to %s:%d)\n", url, s.rpc_host,
               pgd_master_rpc_port(d.master));
      fflush(stdout);
      if (s.example) d.example = pgd_example_start(&loop, url);
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
  free_settings(&s);
  return d.exit_code;
}
