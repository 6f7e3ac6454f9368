/* Pagoda — `pagoda dev`, `pagoda master`, `pagoda worker`: plugin loading,
 * starting each mode's parts, the loop, signals, clean shutdown. The
 * settings (conf/pagoda.conf, then flags) are daemon_settings.c. */
#include "cli/daemon.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "alarm/alarm.h"
#include "api/api.h"
#include "api/auth.h"
#include "cli/client_token.h"
#include "cli/daemon_alarms.h"
#include "cli/daemon_example.h"
#include "cli/daemon_obs.h"
#include "cli/daemon_settings.h"
#include "common/json.h"
#include "common/log.h"
#include "ha/zk.h"
#include "master/master.h"
#include "plugin/registry.h"
#include "worker/identity.h"
#include "worker/worker.h"

#define MOD "daemon"

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
  if (daemon_parse_addr(rpc, &host, &port) == 0 && port > 0) {
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
  daemon_settings_defaults(&fresh);
  fresh.mode = d->s->mode;
  if (daemon_settings_load_file(&fresh, d->s->config_path) < 0) {
    PGD_WARN(MOD, "SIGHUP: cannot read %s again (above): the running configuration is kept",
             d->s->config_path);
  } else if (!d->s->log_level_flag && strcmp(fresh.log_level, d->s->log_level) != 0) {
    int lvl = pgd_log_level_parse(fresh.log_level);
    if (lvl < 0) {
      PGD_WARN(MOD, "SIGHUP: %s: log_level '%s' is not debug, info, warn or error: kept '%s'",
               d->s->config_path, fresh.log_level, d->s->log_level);
    } else {
      pgd_log_set_level((pgd_log_level_t)lvl);
      daemon_set_str(&d->s->log_level, fresh.log_level);
      PGD_WARN(MOD, "SIGHUP: log level is now %s", fresh.log_level);
    }
  }
  daemon_settings_free(&fresh);
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

/* `pagoda dev`'s worker reaches its master through a local stream, not
 * loopback TCP (docs/architecture.md "pagoda dev's own worker"). */
static int dial_own_master(void *ud, const pgd_conn_cbs_t *cbs, void *cb_ud, pgd_conn_t **out) {
  daemon_state_t *d = ud;
  return d->master ? pgd_master_connect_local(d->master, cbs, cb_ud, out) : UV_ECONNREFUSED;
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
  if (s->mode == MODE_DEV) {
    wc.dial_local = dial_own_master;
    wc.dial_local_ud = d;
  }
  /* The CA for the master's HTTPS port (resource downloads): --http-ca, else
   * the RPC's CA (one CA signs both in the documented setup); `pagoda dev`
   * without either trusts its own certificate file (self-signed). */
  wc.http_ca = daemon_has_str(s->http_ca) ? s->http_ca
               : daemon_has_str(s->tls_ca) ? s->tls_ca
               : s->mode == MODE_DEV && daemon_has_str(s->http_tls_cert) ? s->http_tls_cert
                                                                  : NULL;
  int rc = pgd_worker_start(d->loop, &wc, d->plugins, &d->worker, err, errlen);
  if (rc == 0) pgd_worker_metrics_start(d->worker);
  return rc;
}

int pgd_daemon_main(int argc, char **argv) {
  settings_t s;
  daemon_settings_defaults(&s);
  s.mode = strcmp(argv[1], "dev") == 0 ? MODE_DEV
           : strcmp(argv[1], "master") == 0 ? MODE_MASTER
                                            : MODE_WORKER;
  if (s.mode == MODE_DEV) {
    /* pagoda dev picks free RPC ports by itself: nothing else connects. */
    s.rpc_port = 0;
    s.recovery_grace_ms = 3000;
  }
  if (daemon_settings_parse_flags(&s, argc, argv) < 0) {
    daemon_settings_free(&s);
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

  if (daemon_check_exposure(&s) < 0) {
    daemon_settings_free(&s);
    return 2;
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  daemon_state_t d = {.loop = &loop, .s = &s, .exit_code = 0};
  char *plugins_dir = daemon_resolve_plugins_dir(&s);
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
    console_dir = daemon_resolve_console_dir(&s);
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
                           .tls_cert = daemon_has_str(s.http_tls_cert) ? s.http_tls_cert : NULL,
                           .tls_key = daemon_has_str(s.http_tls_key) ? s.http_tls_key : NULL,
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
    mc.store_group_window_us = s.store_group_window_us;
    mc.ha_zookeeper = s.mode == MODE_MASTER ? s.ha_zookeeper : NULL;
    mc.ha_cluster = s.ha_cluster;
    mc.ha_session_ms = s.ha_session_ms;
    mc.http_host = s.http_host;
    mc.http_port = pgd_api_port(d.api);
    mc.rpc_host = s.rpc_host;
    mc.rpc_port = s.rpc_port;
    mc.secret = s.secret;
    mc.http_tls = daemon_has_str(s.http_tls_cert);
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
    balancer_dir = daemon_resolve_balancer_dir(&s);
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
    if (daemon_parse_addr(s.worker_master, &host, &port) < 0 || port == 0) {
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
      snprintf(url, sizeof url, "%s://%s:%d", daemon_has_str(s.http_tls_cert) ? "https" : "http",
               s.http_host, pgd_api_port(d.api));
      char token_file[PATH_MAX];
      snprintf(token_file, sizeof token_file, "%s/admin.token", s.dev_data);
      bool dev_default = strcmp(token_file, PGD_CLI_DEV_TOKEN_FILE) == 0;
      /* the CLI finds the default data directory's token by itself; any
       * other needs PAGODA_TOKEN_FILE */
      char token_env[PATH_MAX + 32] = "";
      if (!dev_default) snprintf(token_env, sizeof token_env, "PAGODA_TOKEN_FILE=%s ", token_file);
      if (s.mode == MODE_DEV)
        printf("Pagoda dev is running: %s  (API %s/api/v1, data in %s, plugins from %s)\n"
               "Try: %sPAGODA_ADDR=%s pagoda job list    Stop with Ctrl-C.\n"
               "The admin token is in %s%s;\n"
               "curl needs -H \"Authorization: Bearer $(cat %s)\".\n",
               url, url, s.dev_data, plugins_dir, token_env, url, token_file,
               dev_default ? ": the CLI run from this directory uses it" : "", token_file);
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
  daemon_settings_free(&s);
  return d.exit_code;
}
