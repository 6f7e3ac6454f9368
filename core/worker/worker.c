/* Pagoda — worker: connection to the master, handshake, heartbeats, acks,
 * reconnection and stop (see worker.h). Attempts live in attempt.c. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/err.h"
#include "common/log.h"
#include "worker/inproc_child.h"
#include "worker/pushed.h"
#include "worker/worker_priv.h"

#define MOD PGD_WORKER_MOD
#define RECONNECT_MAX_MS 5000
#define HANDSHAKE_TIMEOUT_MS 10000

static void do_connect(pgd_worker_t *w);
static void maybe_finish_stop(pgd_worker_t *w);

static const char *reason_str(int reason) {
  if (reason == 0) return "closed";
  if (reason <= -20000) return pgd_frame_strerror(reason);
  return uv_strerror(reason);
}

static void send_msg(pgd_worker_t *w, pgd_msg_type_t type, cJSON *body) {
  if (!w->conn || !body) return;
  int rc = pgd_conn_send(w->conn, type, body);
  if (rc < 0 && rc != UV_EPIPE)
    PGD_WARN(MOD, "cannot send %s: %s", pgd_msg_name(type),
             rc <= -20000 ? pgd_frame_strerror(rc) : uv_strerror(rc));
}

void pgd_worker__send_error(pgd_worker_t *w, const char *reason) {
  pgd_msg_error_t m = {.reason = reason};
  cJSON *e = pgd_msg_error_encode(&m);
  send_msg(w, PGD_MSG_ERROR, e);
  cJSON_Delete(e);
}

/* ---- reports ------------------------------------------------------------- */

/* Queues a report (body owned from now on) and sends it when welcomed. */
static void report(pgd_worker_t *w, pgd_msg_type_t type, cJSON *body) {
  if (!body) {
    PGD_ERROR(MOD, "out of memory: a %s report is lost", pgd_msg_name(type));
    return;
  }
  if (pgd_reports_add(&w->reports, type, body) < 0) {
    PGD_ERROR(MOD, "out of memory: a %s report is lost", pgd_msg_name(type));
    return;
  }
  if (w->welcomed) send_msg(w, type, body);
}

void pgd_worker__report_state(pgd_worker_t *w, const pgd_msg_state_t *m) {
  pgd_worker__count_report(w, m->state);
  report(w, PGD_MSG_STATE, pgd_msg_state_encode(m));
}

void pgd_worker__report_log(pgd_worker_t *w, const pgd_msg_log_t *m) {
  report(w, PGD_MSG_LOG, pgd_msg_log_encode(m));
}

static void resend_one(const pgd_report_t *r, void *ud) { send_msg(ud, r->type, r->body); }

static void handle_ack(pgd_worker_t *w, const cJSON *msg) {
  pgd_msg_ack_t ack;
  char err[256];
  if (pgd_msg_ack_decode(msg, &ack, err, sizeof err) < 0) {
    PGD_WARN(MOD, "bad ack from the master: %s", err);
    return;
  }
  const cJSON *s;
  cJSON_ArrayForEach(s, ack.seqs) pgd_reports_ack(&w->reports, (uint64_t)s->valuedouble);
}

int pgd_worker__epoch_ok(pgd_worker_t *w, int64_t epoch, const char *what) {
  if (epoch < w->epoch) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s from epoch %" PRId64 " refused: newest epoch seen is %" PRId64,
             what, epoch, w->epoch);
    PGD_WARN(MOD, "%s", buf);
    pgd_worker__send_error(w, buf);
    return 0;
  }
  w->epoch = epoch;
  return 1;
}

/* ---- heartbeat ----------------------------------------------------------- */

/* The job types loaded now (owned by the caller; NULL when out of memory). */
static cJSON *types_json(pgd_worker_t *w) {
  cJSON *t = w->plugins ? pgd_registry_types_json(w->plugins) : NULL;
  return t ? t : cJSON_CreateArray();
}

static pgd_msg_load_t load_sample(void) {
  double load1;
  long mem;
  pgd_worker_load_sample(&load1, &mem); /* -1 when unknown */
  return (pgd_msg_load_t){.set = true, .load1 = isfinite(load1) ? load1 : -1, .mem_free_mb = mem};
}

static void send_heartbeat(pgd_worker_t *w) {
  pgd_rescache_stats_t rs;
  pgd_rescache_stats(w->rescache, &rs);
  cJSON *types = types_json(w), *running = pgd_worker__running_json(w);
  cJSON *pushed = w->pushed ? pgd_wpushed_states(w->pushed) : NULL;
  pgd_msg_heartbeat_t hb = {
      .slots = w->slots,
      .slots_used = w->used_slots,
      .running = w->running,
      .running_attempts = running,
      .types = types,
      .labels = w->labels,
      .load = load_sample(),
      .resource_cache = {.set = w->rescache != NULL,
                         .downloads = (int64_t)rs.downloads,
                         .download_bytes = (int64_t)rs.download_bytes,
                         .hits = (int64_t)rs.hits,
                         .corrupt = (int64_t)rs.corrupt,
                         .failures = (int64_t)rs.failures},
      .plugins = pgd_msg_count(pushed) > 0 ? pushed : NULL,
  };
  cJSON *b = pgd_msg_heartbeat_encode(&hb);
  send_msg(w, PGD_MSG_HEARTBEAT, b);
  cJSON_Delete(b);
  cJSON_Delete(types);
  cJSON_Delete(running);
  cJSON_Delete(pushed);
}

static void on_hb_timer(uv_timer_t *t) {
  pgd_worker_t *w = t->data;
  if (w->welcomed) {
    send_heartbeat(w);
  } else if (w->conn) {
    PGD_WARN(MOD, "master %s:%d did not answer hello within %d ms: reconnecting", w->master_host,
             w->master_port, HANDSHAKE_TIMEOUT_MS);
    pgd_conn_close(w->conn);
  }
}

/* ---- connection ---------------------------------------------------------- */

static void send_hello(pgd_worker_t *w) {
  w->mnonce[0] = 0;
  if (pgd_auth_nonce(w->wnonce) < 0) {
    PGD_ERROR(MOD, "cannot make a nonce (random generator failed): reconnecting later");
    pgd_conn_close(w->conn);
    return;
  }
  cJSON *types = types_json(w), *running = pgd_worker__running_json(w);
  pgd_msg_hello_t h = {.protocol = PGD_PROTOCOL_VERSION, .nonce = w->wnonce, .running = running};
  h.worker.id = w->id;
  h.worker.host = w->host_name;
  h.worker.slots = pgd_msg_int(w->slots);
  h.worker.labels = w->labels;
  h.worker.types = types;
  h.worker.pid = pgd_msg_int(getpid());
  h.worker.load = load_sample();
  cJSON *b = pgd_msg_hello_encode(&h);
  send_msg(w, PGD_MSG_HELLO, b);
  cJSON_Delete(b);
  cJSON_Delete(types);
  cJSON_Delete(running);
}

/* challenge: answer with our proof of the secret over both nonces. */
static void handle_challenge(pgd_worker_t *w, const cJSON *msg) {
  pgd_msg_challenge_t ch;
  char err[256], proof[PGD_AUTH_HEX_LEN + 1];
  if (w->welcomed || w->mnonce[0]) {
    PGD_WARN(MOD, "second challenge from master %s:%d: reconnecting", w->master_host,
             w->master_port);
    pgd_conn_close(w->conn);
    return;
  }
  int rc = pgd_msg_challenge_decode(msg, &ch, err, sizeof err);
  if (rc == 0 && ch.protocol != PGD_PROTOCOL_VERSION)
    rc = pgd_set_err(err, sizeof err, -EPROTONOSUPPORT,
                     "the master speaks protocol version %lld, this worker %d",
                     (long long)ch.protocol, PGD_PROTOCOL_VERSION);
  if (rc == 0 && pgd_auth_proof(w->secret, PGD_AUTH_WORKER, ch.nonce, w->wnonce, w->id, proof) < 0)
    rc = pgd_set_err(err, sizeof err, -EINVAL, "challenge.nonce is not %d hex digits",
                     PGD_AUTH_HEX_LEN);
  if (rc < 0) {
    PGD_WARN(MOD, "bad challenge from master %s:%d (%s): reconnecting later", w->master_host,
             w->master_port, err);
    pgd_conn_close(w->conn);
    return;
  }
  snprintf(w->mnonce, sizeof w->mnonce, "%s", ch.nonce);
  pgd_msg_auth_t a = {.proof = proof};
  cJSON *b = pgd_msg_auth_encode(&a);
  send_msg(w, PGD_MSG_AUTH, b);
  cJSON_Delete(b);
}

static void send_leave(pgd_worker_t *w) {
  pgd_msg_leave_t lm = {.grace_ms = w->leave_grace_ms};
  cJSON *b = pgd_msg_leave_encode(&lm);
  if (b) send_msg(w, PGD_MSG_LEAVE, b);
  cJSON_Delete(b);
}

static void handle_welcome(pgd_worker_t *w, const cJSON *msg) {
  if (w->welcomed) return;
  pgd_msg_welcome_t wm;
  char err[256];
  if (pgd_msg_welcome_decode(msg, &wm, err, sizeof err) < 0) {
    PGD_WARN(MOD, "bad welcome from master %s:%d (%s): reconnecting later", w->master_host,
             w->master_port, err);
    pgd_conn_close(w->conn);
    return;
  }
  /* The master must prove the secret too: otherwise it is not ours, and it
   * gets neither our reports nor the chance to send work. */
  if (!w->mnonce[0] ||
      !pgd_auth_verify(w->secret, PGD_AUTH_MASTER, w->mnonce, w->wnonce, w->id, wm.proof)) {
    PGD_ERROR(MOD, "master %s:%d could not prove the cluster secret: closing (is the secret the "
                   "same on both sides?); retrying later",
              w->master_host, w->master_port);
    w->reconnect_ms = RECONNECT_MAX_MS;
    pgd_conn_close(w->conn);
    return;
  }
  int64_t epoch = wm.epoch;
  if (epoch < w->epoch) {
    PGD_WARN(MOD, "welcome from a master with epoch %" PRId64 " < %" PRId64
                  " (a deposed leader): reconnecting later",
             epoch, w->epoch);
    pgd_conn_close(w->conn);
    return;
  }
  w->epoch = epoch;
  w->welcomed = 1;
  w->connect_failures = 0;
  w->reconnect_ms = w->reconnect_min_ms;
  int hb_ms = w->heartbeat_ms;
  if (wm.heartbeat_ms.set && wm.heartbeat_ms.v >= 10 && wm.heartbeat_ms.v <= 600000)
    hb_ms = (int)wm.heartbeat_ms.v;
  pgd_rescache_set_master(w->rescache, wm.http, w->master_host);
  pgd_rescache_set_token(w->rescache, wm.http_token);
  PGD_INFO(MOD, "worker %s connected to master %s:%d (epoch %" PRId64 ", %zu reports to resend)",
           w->id, w->master_host, w->master_port, epoch, pgd_reports_pending(&w->reports));
  /* Reports first, then a heartbeat: the master takes the first heartbeat
   * after a hello as "every report this worker had is in" (docs/protocol.md). */
  pgd_reports_foreach(&w->reports, resend_one, w);
  send_heartbeat(w);
  if (w->leaving) send_leave(w); /* reconnected while leaving: say it again */
  uv_timer_start(&w->hb_timer, on_hb_timer, (uint64_t)hb_ms, (uint64_t)hb_ms);
}

static void on_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  pgd_worker_t *w = ud;
  if (c != w->conn) return;
  switch (t) {
  case PGD_MSG_CHALLENGE:
    handle_challenge(w, msg);
    return;
  case PGD_MSG_WELCOME:
    handle_welcome(w, msg);
    return;
  case PGD_MSG_REJECT: {
    pgd_msg_reject_t r;
    char err[256];
    PGD_ERROR(MOD, "master %s:%d rejected worker %s: %s", w->master_host, w->master_port, w->id,
              pgd_msg_reject_decode(msg, &r, err, sizeof err) == 0 ? r.reason : err);
    w->reconnect_ms = RECONNECT_MAX_MS;
    pgd_conn_close(c);
    return;
  }
  case PGD_MSG_ERROR: {
    pgd_msg_error_t e;
    char err[256];
    PGD_WARN(MOD, "master says: %s",
             pgd_msg_error_decode(msg, &e, err, sizeof err) == 0 ? e.reason : err);
    return;
  }
  case PGD_MSG_HEARTBEAT:
    return; /* the master may answer heartbeats; nothing to do */
  default:
    break;
  }
  if (!w->welcomed) {
    PGD_WARN(MOD, "%s before welcome: ignored", pgd_msg_name(t));
    return;
  }
  switch (t) {
  case PGD_MSG_LAUNCH:
    pgd_worker__handle_launch(w, msg);
    break;
  case PGD_MSG_KILL:
    pgd_worker__handle_kill(w, msg);
    break;
  case PGD_MSG_ACK:
    handle_ack(w, msg);
    break;
  case PGD_MSG_PLUGINS:
    if (w->pushed) pgd_wpushed_offer(w->pushed, msg);
    break;
  default:
    PGD_WARN(MOD, "unexpected %s from the master: ignored", pgd_msg_name(t));
    break;
  }
}

static void on_reconnect_timer(uv_timer_t *t) {
  pgd_worker_t *w = t->data;
  if (!w->stopping && !w->conn) do_connect(w);
}

static void schedule_reconnect(pgd_worker_t *w) {
  if (w->stopping) return;
  uv_timer_start(&w->reconnect_timer, on_reconnect_timer, (uint64_t)w->reconnect_ms, 0);
  w->reconnect_ms = w->reconnect_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : w->reconnect_ms * 2;
}

static void on_connect(pgd_conn_t *c, int status, void *ud) {
  pgd_worker_t *w = ud;
  if (c != w->conn) return;
  if (status < 0) {
    /* the first failure in a row is worth an INFO, the retries are not */
    if (w->connect_failures++ == 0)
      PGD_INFO(MOD, "cannot connect to master %s:%d: %s (retrying)", w->master_host,
               w->master_port, uv_strerror(status));
    else
      PGD_DEBUG(MOD, "cannot connect to master %s:%d: %s", w->master_host, w->master_port,
                uv_strerror(status));
    return; /* on_close follows */
  }
  send_hello(w);
}

static void on_close(pgd_conn_t *c, int reason, void *ud) {
  pgd_worker_t *w = ud;
  if (c != w->conn) return;
  int was_welcomed = w->welcomed;
  w->conn = NULL;
  w->welcomed = 0;
  uv_timer_stop(&w->hb_timer);
  if (was_welcomed && !w->stopping)
    PGD_WARN(MOD, "connection to master %s:%d lost: %s (%d attempts keep running)",
             w->master_host, w->master_port, reason_str(reason), w->running);
  if (w->stopping)
    maybe_finish_stop(w);
  else
    schedule_reconnect(w);
}

static void do_connect(pgd_worker_t *w) {
  pgd_conn_cbs_t cbs = {.on_message = on_message, .on_close = on_close, .on_connect = on_connect};
  pgd_conn_t *c = NULL;
  int rc = w->dial_local ? w->dial_local(w->dial_local_ud, &cbs, w, &c)
                         : pgd_conn_connect(w->loop, w->master_host, w->master_port, 0, &cbs, w, &c);
  if (rc < 0) {
    if (w->connect_failures++ == 0)
      PGD_WARN(MOD, "cannot connect to master %s:%d: %s (retrying)", w->master_host,
               w->master_port, uv_strerror(rc));
    schedule_reconnect(w);
    return;
  }
  w->conn = c;
  if (w->tls && !w->dial_local && pgd_conn_set_tls(c, w->tls, w->master_host) < 0) {
    PGD_ERROR(MOD, "cannot start TLS to master %s:%d (out of memory?)", w->master_host,
              w->master_port);
    pgd_conn_close(c); /* on_close schedules the retry */
    return;
  }
  uv_timer_start(&w->hb_timer, on_hb_timer, HANDSHAKE_TIMEOUT_MS, 0); /* handshake deadline */
}

/* ---- life cycle ---------------------------------------------------------- */

/* The containment name: the worker id plus a hash of its data dir, so a
 * restart with the same data dir finds what the previous run left, and two
 * workers never share one. Without a data dir there is nothing to find
 * again: the pid makes it unique. */
static int open_containment(pgd_worker_t *w, const pgd_worker_config_t *cfg, char *err,
                            size_t errlen) {
  char name[128];
  if (cfg->data_dir && *cfg->data_dir) {
    char *real = realpath(cfg->data_dir, NULL);
    const char *s = real ? real : cfg->data_dir;
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    free(real);
    snprintf(name, sizeof name, "%.64s-%08llx", w->id, (unsigned long long)(h & 0xffffffffULL));
  } else {
    snprintf(name, sizeof name, "%.64s-p%ld", w->id, (long)getpid());
  }
  pgd_cgroup_root_config_t cc = {.use_cgroups = !cfg->no_cgroups,
                                 .cgroup_root = cfg->cgroup_root,
                                 .name = name};
  return pgd_cgroup_root_open(&cc, &w->contain, NULL, err, errlen);
}

static void worker_free(pgd_worker_t *w) {
  pgd_spawn_set_close(w->spawn_set); /* closed once its last spawn ended */
  pgd_cgroup_root_close(w->contain);
  pgd_wpushed_free(w->pushed);
  w->pushed = NULL;
  pgd_rescache_close(w->rescache);
  pgd_reports_free(&w->reports);
  cJSON_Delete(w->labels);
  cJSON_Delete(w->allowed_users);
  free(w->master_host);
  if (w->secret) OPENSSL_cleanse(w->secret, strlen(w->secret));
  free(w->secret);
  free(w->host_name);
  free(w->inproc_helper);
  pgd_tls_ctx_free(w->tls);
  free(w);
}

static void on_handle_closed(uv_handle_t *h) {
  pgd_worker_t *w = h->data;
  w->open_handles--;
  maybe_finish_stop(w);
}

static void maybe_finish_stop(pgd_worker_t *w) {
  if (!w->stopping || w->running > 0) return;
  if (!w->closing) {
    w->closing = 1;
    w->open_handles = 3;
    uv_close((uv_handle_t *)&w->leave_timer, on_handle_closed);
    uv_close((uv_handle_t *)&w->hb_timer, on_handle_closed);
    uv_close((uv_handle_t *)&w->reconnect_timer, on_handle_closed);
    if (w->conn) pgd_conn_close(w->conn); /* on_close comes back here */
    return;
  }
  if (w->open_handles > 0 || w->conn) return;
  PGD_INFO(MOD, "worker %s stopped", w->id);
  void (*cb)(void *) = w->on_stopped;
  void *ud = w->stop_ud;
  worker_free(w);
  if (cb) cb(ud);
}

void pgd_worker__attempt_gone(pgd_worker_t *w) {
  if (w->leaving && !w->stopping && w->running == 0) {
    PGD_INFO(MOD, "worker %s: nothing runs any more; stopping", w->id);
    pgd_worker_stop(w, w->leave_cb, w->leave_ud);
    return;
  }
  maybe_finish_stop(w);
}

static void on_leave_timer(uv_timer_t *t) {
  pgd_worker_t *w = t->data;
  PGD_WARN(MOD, "worker %s: its stop grace is over and the master did not take back its %d "
                "running attempt(s): killing them", w->id, w->running);
  pgd_worker_stop(w, w->leave_cb, w->leave_ud);
}

void pgd_worker_leave(pgd_worker_t *w, int grace_ms, void (*on_stopped)(void *ud), void *ud) {
  if (!w || w->stopping || w->leaving) return;
  w->leaving = 1;
  w->leave_grace_ms = grace_ms > 0 ? grace_ms : 0;
  w->leave_cb = on_stopped;
  w->leave_ud = ud;
  /* Said even when nothing runs: the master then shows `left`, not `lost`
   * (the close that follows flushes it first). */
  if (w->welcomed) send_leave(w);
  if (w->running == 0) {
    pgd_worker_stop(w, on_stopped, ud);
    return;
  }
  PGD_INFO(MOD, "worker %s leaving: no new work; %d running attempt(s) get %d ms to end, then "
                "the master relaunches them elsewhere", w->id, w->running, w->leave_grace_ms);
  uv_timer_start(&w->leave_timer, on_leave_timer,
                 (uint64_t)w->leave_grace_ms + (uint64_t)(w->kill_grace_ms > 0 ? w->kill_grace_ms : 0) +
                     PGD_WORKER_LEAVE_MARGIN_MS,
                 0);
}

void pgd_worker_stop(pgd_worker_t *w, void (*on_stopped)(void *ud), void *ud) {
  if (!w || w->stopping) return;
  w->stopping = 1;
  w->on_stopped = on_stopped;
  w->stop_ud = ud;
  pgd_worker__metrics_stop(w);
  uv_timer_stop(&w->reconnect_timer);
  if (w->running > 0)
    PGD_INFO(MOD, "worker %s stopping: killing %d running attempts", w->id, w->running);
  pgd_worker__kill_all(w);
  maybe_finish_stop(w);
}

/* The data directory holds the resource cache and the jobs' work
 * directories: 0700. A worker whose jobs may switch user (run_as) opens it
 * to 0711 (enter, not list) so that those jobs reach their work
 * directories. Other modes of an existing directory are the operator's:
 * too open is only said. */
static void protect_data_dir(const char *dir, bool run_as) {
  if (mkdir(dir, run_as ? 0711 : 0700) != 0 && errno != EEXIST) return;
  struct stat st;
  if (stat(dir, &st) != 0) return;
  mode_t mode = st.st_mode & 07777;
  if (run_as && (mode & 0011) != 0011 && st.st_uid == geteuid()) {
    if (chmod(dir, mode | 0711) == 0)
      PGD_INFO(MOD, "data directory %s opened to %04o: run_as jobs must enter their work "
                    "directories", dir, (unsigned)(mode | 0711));
  } else if (mode & 066) {
    PGD_WARN(MOD, "data directory %s has mode %04o: other users may read the cache and the "
                  "jobs' work directories; chmod %s it (docs/security.md)",
             dir, (unsigned)mode, run_as ? "711" : "700");
  }
}

int pgd_worker_start(uv_loop_t *loop, const pgd_worker_config_t *cfg, pgd_registry_t *plugins,
                     pgd_worker_t **out, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (out) *out = NULL;
  if (!loop || !cfg || !out) {
    return pgd_set_err(err, errlen, -EINVAL, "invalid arguments");
  }
  if (!cfg->master_host || !*cfg->master_host || cfg->master_port <= 0 || cfg->master_port > 65535) {
    return pgd_set_err(err, errlen, -EINVAL, "worker: master address missing or invalid (port %d)",
                       cfg->master_port);
  }
  if (cfg->slots <= 0) {
    return pgd_set_err(err, errlen, -EINVAL, "worker: slots must be > 0 (got %d)", cfg->slots);
  }
  if (cfg->labels) {
    const cJSON *l;
    int ok = cJSON_IsArray(cfg->labels);
    if (ok)
      cJSON_ArrayForEach(l, cfg->labels) if (!cJSON_IsString(l)) ok = 0;
    if (!ok) {
      return pgd_set_err(err, errlen, -EINVAL, "worker: labels must be an array of strings");
    }
  }
  if (cfg->allowed_users) {
    const cJSON *u;
    int ok = cJSON_IsArray(cfg->allowed_users);
    if (ok)
      cJSON_ArrayForEach(u, cfg->allowed_users) if (!cJSON_IsString(u) || !u->valuestring[0]) ok = 0;
    if (!ok) {
      return pgd_set_err(err, errlen, -EINVAL,
                         "worker: allowed_users must be an array of user names");
    }
  }
  pgd_worker_t *w = calloc(1, sizeof *w);
  if (!w) {
    return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  }
  if (cfg->id_override) {
    if (!pgd_worker_id_valid(cfg->id_override)) {
      pgd_set_err(err, errlen, -EINVAL,
                  "worker: invalid worker id '%s' (1-%d characters of A-Z a-z 0-9 . _ -)",
                  cfg->id_override, PGD_WORKER_ID_MAX);
      free(w);
      return -EINVAL;
    }
    snprintf(w->id, sizeof w->id, "%s", cfg->id_override);
  } else {
    int rc = pgd_worker_identity_load(cfg->data_dir, w->id, sizeof w->id, err, errlen);
    if (rc < 0) {
      free(w);
      return rc;
    }
  }
  char host[256];
  if (cfg->host_name && *cfg->host_name) {
    snprintf(host, sizeof host, "%s", cfg->host_name);
  } else if (gethostname(host, sizeof host) != 0) {
    snprintf(host, sizeof host, "localhost");
  }
  host[sizeof host - 1] = '\0';
  w->loop = loop;
  w->plugins = plugins;
  w->master_host = strdup(cfg->master_host);
  w->secret = strdup(cfg->secret ? cfg->secret : "");
  w->host_name = strdup(host);
  w->labels = cfg->labels ? cJSON_Duplicate(cfg->labels, 1) : cJSON_CreateArray();
  w->allowed_users = cfg->allowed_users ? cJSON_Duplicate(cfg->allowed_users, 1) : NULL;
  if (!w->master_host || !w->secret || !w->host_name || !w->labels ||
      (cfg->allowed_users && !w->allowed_users)) {
    worker_free(w);
    return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  }
  if ((cfg->tls_ca && *cfg->tls_ca) || (cfg->tls_cert && *cfg->tls_cert) ||
      (cfg->tls_key && *cfg->tls_key)) {
    char why[512];
    int rc = pgd_tls_client_ctx_new(cfg->tls_ca, cfg->tls_cert, cfg->tls_key, &w->tls, why,
                                    sizeof why);
    if (rc < 0) {
      worker_free(w);
      return pgd_set_err(err, errlen, rc, "worker TLS (tls.*): %s", why);
    }
  }
  {
    /* resources: <data_dir>/cache and <data_dir>/work */
    char rdir[4096];
    if (cfg->data_dir && *cfg->data_dir)
      snprintf(rdir, sizeof rdir, "%s", cfg->data_dir);
    else
      snprintf(rdir, sizeof rdir, "%s/pagoda-worker-%s", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
               w->id);
    int rc = pgd_rescache_new(loop, rdir, &w->rescache, err, errlen);
    if (rc < 0) {
      worker_free(w);
      return rc;
    }
    pgd_rescache_set_ca(w->rescache, cfg->http_ca);
    rc = pgd_wpushed_new(w, &w->pushed);
    if (rc < 0) {
      worker_free(w);
      return pgd_set_err(err, errlen, rc, "out of memory");
    }
    if (cfg->data_dir && *cfg->data_dir)
      protect_data_dir(cfg->data_dir, cJSON_GetArraySize(cfg->allowed_users) > 0);
    rc = open_containment(w, cfg, err, errlen);
    if (rc < 0) {
      worker_free(w);
      return rc;
    }
    /* one epoll set for the attempts' pidfds and pipes; without it (no
     * descriptor left) each spawn watches its own */
    rc = pgd_spawn_set_open(loop, &w->spawn_set);
    if (rc < 0) PGD_WARN(MOD, "worker %s: no spawn set (%s): watching each process on its own",
                         w->id, strerror(-rc));
  }
  w->master_port = cfg->master_port;
  w->dial_local = cfg->dial_local;
  w->dial_local_ud = cfg->dial_local_ud;
  w->slots = cfg->slots;
  w->heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 1000;
  w->kill_grace_ms = cfg->kill_grace_ms > 0 ? cfg->kill_grace_ms : 5000;
  w->inproc_isolation =
      cfg->inproc_isolation == PGD_INPROC_PROCESS ? PGD_INPROC_PROCESS : PGD_INPROC_THREAD;
  const char *cfg_helper = cfg->inproc_helper && cfg->inproc_helper[0] ? cfg->inproc_helper : NULL;
  char helper[PATH_MAX];
  if ((!cfg->inproc_helper || !cfg->inproc_helper[0]) && w->inproc_isolation == PGD_INPROC_PROCESS &&
      pgd_inproc_child_default_helper(helper, sizeof helper) == 0)
    cfg_helper = helper;
  if (cfg_helper) {
    w->inproc_helper = strdup(cfg_helper);
    if (!w->inproc_helper) {
      worker_free(w);
      return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
    }
  }
  w->reconnect_min_ms = cfg->reconnect_ms > 0 ? cfg->reconnect_ms : 200;
  if (w->reconnect_min_ms > RECONNECT_MAX_MS) w->reconnect_min_ms = RECONNECT_MAX_MS;
  w->reconnect_ms = w->reconnect_min_ms;
  pgd_reports_init(&w->reports);
  uv_timer_init(loop, &w->hb_timer);
  uv_timer_init(loop, &w->reconnect_timer);
  uv_timer_init(loop, &w->leave_timer);
  w->leave_timer.data = w;
  w->hb_timer.data = w->reconnect_timer.data = w;
  PGD_INFO(MOD, "worker %s (%s, %d slots) connecting to master %s:%d%s", w->id, w->host_name,
           w->slots, w->master_host, w->master_port,
           w->dial_local ? " in this process, over a local stream" : "");
  if (cJSON_GetArraySize(w->allowed_users) > 0 && geteuid() != 0)
    PGD_WARN(MOD, "allowed_users is set but worker %s runs as uid %u, not root: run_as jobs will fail",
             w->id, (unsigned)geteuid());
  do_connect(w);
  *out = w;
  return 0;
}

int pgd_worker_set_master(pgd_worker_t *w, const char *host, int port) {
  if (!w || !host || !*host || port <= 0 || port > 65535) return -EINVAL;
  if (w->stopping) return -ESHUTDOWN;
  if (strcmp(host, w->master_host) == 0 && port == w->master_port) return 0;
  char *h = strdup(host);
  if (!h) return -ENOMEM;
  PGD_INFO(MOD, "worker %s: the master is now %s:%d (was %s:%d)", w->id, host, port,
           w->master_host, w->master_port);
  free(w->master_host);
  w->master_host = h;
  w->master_port = port;
  /* Go to the new master at once: unacknowledged reports follow the
   * welcome, as after any reconnect. */
  w->reconnect_ms = 1;
  w->connect_failures = 0;
  if (w->conn) {
    pgd_conn_close(w->conn); /* on_close schedules the reconnect */
  } else {
    uv_timer_stop(&w->reconnect_timer);
    do_connect(w);
  }
  return 0;
}

const char *pgd_worker_id(const pgd_worker_t *w) { return w ? w->id : NULL; }
int pgd_worker_running(const pgd_worker_t *w) { return w ? w->running : 0; }
size_t pgd_worker_pending_reports(const pgd_worker_t *w) {
  return w ? pgd_reports_pending(&w->reports) : 0;
}
int pgd_worker_connected(const pgd_worker_t *w) { return w ? w->welcomed : 0; }
