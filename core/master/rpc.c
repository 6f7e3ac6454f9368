/* Pagoda master — worker connections: handshake, heartbeats, state and log
 * reports, batched acknowledgements (docs/protocol.md). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "master/observers_int.h"
#include "master/exec_int.h"
#include "master/jobs_int.h"
#include "master/leader_int.h"
#include "master/logs_int.h"
#include "master/workers_int.h"
#include "net/conn.h"
#include "master/resources.h"
#include "net/auth.h"
#include "net/msg.h"
#include "net/protocol.h"

#define MOD "rpc"
/* A connection must complete the handshake (TLS, hello, auth) this fast,
 * or it is closed: a peer that never authenticates holds nothing for long. */

/* Until its proof is accepted a connection has no worker. The hello is
 * kept (a copy) between the challenge and the worker's auth. */
typedef struct conn_ctx {
  pgd_master_t *m;
  m_worker_t *w;
  pgd_conn_t *c;
  cJSON *hello;                      /* decoded and checked; NULL before hello */
  char mnonce[PGD_AUTH_HEX_LEN + 1]; /* this connection's challenge */
  /* in m->unauthenticated until the worker is welcomed */
  struct conn_ctx *next, **pprev;
} conn_ctx_t;

static void unlist(conn_ctx_t *cc) {
  if (!cc->pprev) return;
  *cc->pprev = cc->next;
  if (cc->next) cc->next->pprev = cc->pprev;
  cc->next = NULL;
  cc->pprev = NULL;
}

/* Replaces *slot with a copy of `v` when given and different; returns 1
 * when it changed. A NULL *slot becomes an empty array. */
static int adopt_array(cJSON **slot, const cJSON *v) {
  if (v && !cJSON_Compare(v, *slot, 1)) {
    cJSON *copy = cJSON_Duplicate(v, 1);
    if (copy) {
      cJSON_Delete(*slot);
      *slot = copy;
      return 1;
    }
  }
  if (!*slot) *slot = cJSON_CreateArray();
  return 0;
}

/* Keeps a worker's load sample (and resource cache counters, shown with it)
 * for the API and the balancers. */
static void adopt_load(m_worker_t *w, const pgd_msg_load_t *load, const pgd_msg_rescache_t *rc) {
  if (!load->set) return;
  cJSON_Delete(w->load);
  w->load = cJSON_CreateObject();
  cJSON_AddNumberToObject(w->load, "load1", load->load1);
  cJSON_AddNumberToObject(w->load, "mem_free_mb", (double)load->mem_free_mb);
  w->load1 = load->load1;
  w->mem_free_mb = load->mem_free_mb > 0 ? (long)load->mem_free_mb : 0;
  if (rc && rc->set) {
    cJSON *o = cJSON_AddObjectToObject(w->load, "resource_cache");
    cJSON_AddNumberToObject(o, "downloads", (double)rc->downloads);
    cJSON_AddNumberToObject(o, "download_bytes", (double)rc->download_bytes);
    cJSON_AddNumberToObject(o, "hits", (double)rc->hits);
    cJSON_AddNumberToObject(o, "corrupt", (double)rc->corrupt);
    cJSON_AddNumberToObject(o, "failures", (double)rc->failures);
  }
}

cJSON *m_worker_to_json(const pgd_master_t *m, const m_worker_t *w) {
  (void)m;
  static const char *const states[] = {"alive", "draining", "lost", "left", "leaving"};
  m_worker_state_t shown = w->state;
  if (w->state == M_WORKER_ALIVE && w->leaving) shown = M_WORKER_LEAVING;
  else if (w->state == M_WORKER_ALIVE && w->draining) shown = M_WORKER_DRAINING;
  char buf[40];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", w->id);
  cJSON_AddStringToObject(o, "host", w->host ? w->host : "");
  cJSON_AddStringToObject(o, "addr", w->addr ? w->addr : "");
  cJSON_AddStringToObject(o, "state", states[shown]);
  cJSON_AddBoolToObject(o, "draining", w->draining);
  cJSON_AddNumberToObject(o, "slots", w->slots);
  cJSON_AddNumberToObject(o, "slots_used", w->used);
  cJSON_AddNumberToObject(o, "running", w->running);
  cJSON_AddItemToObject(o, "types", cJSON_Duplicate(w->types, 1));
  cJSON_AddItemToObject(o, "labels", cJSON_Duplicate(w->labels, 1));
  if (w->plugins) cJSON_AddItemToObject(o, "plugins", cJSON_Duplicate(w->plugins, 1));
  if (w->load) {
    cJSON *load = cJSON_Duplicate(w->load, 1);
    cJSON *rc = cJSON_DetachItemFromObjectCaseSensitive(load, "resource_cache");
    cJSON_AddItemToObject(o, "load", load);
    if (rc) cJSON_AddItemToObject(o, "resource_cache", rc);
  }
  cJSON_AddStringToObject(o, "connected_at", pgd_format_time_us(w->connected_us, buf, sizeof buf));
  cJSON_AddStringToObject(o, "last_heartbeat",
                          pgd_format_time_us(w->last_heartbeat_us, buf, sizeof buf));
  cJSON_AddNumberToObject(o, "last_heartbeat_us", (double)w->last_heartbeat_us);
  return o;
}

/* ---- acknowledgements: collected during a loop iteration, sent once ---- */

static void on_ack_prepare(uv_prepare_t *p) { m_rpc_flush_acks(p->data); }

void m_rpc_queue_ack(pgd_master_t *m, m_worker_t *w, int64_t seq) {
  if (!w->conn) return; /* the worker resends after reconnecting */
  if (!w->pending_acks) w->pending_acks = cJSON_CreateArray();
  cJSON_AddItemToArray(w->pending_acks, cJSON_CreateNumber((double)seq));
  if (!w->ack_scheduled) {
    w->ack_scheduled = true;
    w->ack_next = m->ack_list;
    m->ack_list = w;
    if (!uv_is_active((uv_handle_t *)&m->ack_flush) && !m->stopping)
      uv_prepare_start(&m->ack_flush, on_ack_prepare);
  }
}

void m_rpc_flush_acks(pgd_master_t *m) {
  m_worker_t *w = m->ack_list;
  m->ack_list = NULL;
  while (w) {
    m_worker_t *next = w->ack_next;
    w->ack_scheduled = false;
    w->ack_next = NULL;
    if (w->conn && w->pending_acks && cJSON_GetArraySize(w->pending_acks) > 0) {
      pgd_msg_ack_t ack = {.seqs = w->pending_acks};
      cJSON *msg = pgd_msg_ack_encode(&ack);
      if (msg) pgd_conn_send(w->conn, PGD_MSG_ACK, msg);
      cJSON_Delete(msg);
    }
    cJSON_Delete(w->pending_acks);
    w->pending_acks = NULL;
    w = next;
  }
  if (uv_is_active((uv_handle_t *)&m->ack_flush)) uv_prepare_stop(&m->ack_flush);
}

typedef struct ack_ctx {
  pgd_master_t *m;
  m_worker_t *w;
  int64_t seq;
} ack_ctx_t;

static void on_report_durable(void *ud, int status) {
  ack_ctx_t *a = ud;
  if (status == 0) m_rpc_queue_ack(a->m, a->w, a->seq);
  free(a);
}

/* ---- messages ---- */

static void send_reject(pgd_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_reject(pgd_conn_t *c, const char *fmt, ...) {
  char reason[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  PGD_WARN(MOD, "rejecting worker at %s: %s", pgd_conn_peer(c), reason);
  pgd_msg_reject_t r = {.reason = reason};
  cJSON *msg = pgd_msg_reject_encode(&r);
  if (msg) pgd_conn_send(c, PGD_MSG_REJECT, msg);
  cJSON_Delete(msg);
  pgd_conn_close(c);
}

static const char *standby_reason(pgd_master_t *m, char *buf, size_t len) {
  const char *leader = m_ha_leader_http(m);
  snprintf(buf, len, "this master is a standby (leader: %s)", leader ? leader : "being elected");
  return buf;
}

/* hello: checked, kept, and answered with this connection's challenge. */
static void handle_hello(conn_ctx_t *cc, pgd_conn_t *c, const cJSON *msg) {
  pgd_master_t *m = cc->m;
  char buf[300];
  if (cc->w || cc->hello) {
    send_reject(c, "duplicate hello on one connection");
    return;
  }
  if (!m->leader) {
    send_reject(c, "%s", standby_reason(m, buf, sizeof buf));
    return;
  }
  pgd_msg_hello_t h;
  char err[256];
  int rc = pgd_msg_hello_decode(msg, &h, err, sizeof err);
  if (rc == -EPROTONOSUPPORT) {
    send_reject(c, "protocol version %lld is not supported (master speaks %d); upgrade the %s",
                (long long)h.protocol, PGD_PROTOCOL_VERSION,
                h.protocol < PGD_PROTOCOL_VERSION ? "worker" : "master");
    return;
  }
  if (rc < 0) {
    send_reject(c, "%s", err);
    return;
  }
  if (!pgd_auth_valid_worker_id(h.worker.id)) {
    send_reject(c, "hello.worker.id must be 1 to 64 characters of A-Z a-z 0-9 . _ -");
    return;
  }
  if (strlen(h.nonce) != PGD_AUTH_HEX_LEN) {
    send_reject(c, "hello.nonce must be %d hex digits", PGD_AUTH_HEX_LEN);
    return;
  }
  if (pgd_auth_nonce(cc->mnonce) < 0) {
    send_reject(c, "the master cannot make a nonce (random generator failed)");
    return;
  }
  cc->hello = cJSON_Duplicate(msg, 1);
  if (!cc->hello) abort();
  pgd_msg_challenge_t ch = {.protocol = PGD_PROTOCOL_VERSION, .nonce = cc->mnonce};
  cJSON *out = pgd_msg_challenge_encode(&ch);
  if (out) pgd_conn_send(c, PGD_MSG_CHALLENGE, out);
  cJSON_Delete(out);
}

/* auth: the worker proved the secret over both nonces, or gets nothing. */
static void handle_auth(conn_ctx_t *cc, pgd_conn_t *c, const cJSON *msg) {
  pgd_master_t *m = cc->m;
  char buf[300];
  pgd_msg_auth_t a;
  pgd_msg_hello_t h;
  char err[256];
  if (pgd_msg_auth_decode(msg, &a, err, sizeof err) < 0) {
    send_reject(c, "%s", err);
    return;
  }
  if (pgd_msg_hello_decode(cc->hello, &h, err, sizeof err) < 0) { /* checked at hello */
    send_reject(c, "%s", err);
    return;
  }
  const char *id = h.worker.id;
  if (!pgd_auth_verify(m->secret, PGD_AUTH_WORKER, cc->mnonce, h.nonce, id, a.proof)) {
    send_reject(c, "the worker could not prove the cluster secret (worker id %s)", id);
    return;
  }
  if (!m->leader) {
    send_reject(c, "%s", standby_reason(m, buf, sizeof buf));
    return;
  }
  char proof[PGD_AUTH_HEX_LEN + 1];
  if (pgd_auth_proof(m->secret, PGD_AUTH_MASTER, cc->mnonce, h.nonce, id, proof) < 0) {
    send_reject(c, "the master cannot compute its proof");
    return;
  }
  m_worker_t *w = NULL;
  HASH_FIND_STR(m->workers, id, w);
  if (w && w->conn) {
    send_reject(c, "worker id %s is already connected from %s", id, w->addr ? w->addr : "?");
    return;
  }
  if (!w) {
    w = calloc(1, sizeof *w);
    if (!w) abort();
    w->id = strdup(id);
    HASH_ADD_KEYPTR(hh, m->workers, w->id, strlen(w->id), w);
  }
  free(w->host);
  w->host = strdup(h.worker.host ? h.worker.host : "");
  free(w->addr);
  w->addr = strdup(pgd_conn_peer(c));
  w->conn = c;
  pgd_conn_set_deadline(c, 0); /* the handshake is over: no pre-hello timeout */
  w->state = M_WORKER_ALIVE;
  w->leaving = false; /* a worker that left and came back */
  w->leave_deadline_us = 0;
  w->slots = h.worker.slots.set ? (int)h.worker.slots.v : 1;
  adopt_array(&w->reported_types, h.worker.types);
  cJSON_Delete(w->plugins); /* a new connection: what it holds comes with its heartbeats */
  w->plugins = NULL;
  m_push_adopt(m, w, NULL);
  adopt_array(&w->labels, h.worker.labels);
  adopt_load(w, &h.worker.load, NULL);
  w->connected_us = w->last_heartbeat_us = pgd_now_us();
  w->heard_since_hello = false;
  cc->w = w;
  m->workers_generation++;

  m_worker_record(m, w, true); /* the next leader waits for it (recovery.c) */

  char http[300];
  pgd_msg_welcome_t wm = {
      .epoch = m->epoch, .heartbeat_ms = pgd_msg_int(m->cfg.heartbeat_ms), .proof = proof};
  if (m->cfg.http_port > 0) { /* where workers fetch resources */
    snprintf(http, sizeof http, "%s%s:%d", m->cfg.http_tls ? "https://" : "",
             m->cfg.http_host ? m->cfg.http_host : "", m->cfg.http_port);
    wm.http = http;
    wm.http_token = m->cfg.resource_token;
  }
  cJSON *welcome = pgd_msg_welcome_encode(&wm);
  if (welcome) pgd_conn_send(c, PGD_MSG_WELCOME, welcome);
  cJSON_Delete(welcome);
  m_push_offer(m, w); /* pushed plugin versions to fetch (plugins_push.c) */
  PGD_INFO(MOD, "worker %s connected from %s (pid %lld, %d slots)", w->id, w->addr,
           h.worker.pid.set ? (long long)h.worker.pid.v : -1LL, w->slots);

  if (m_observers_want_events(m))
    m_observers_event_item(m, PGD_MASTER_EVENT_WORKER, "connected", "worker",
                           m_worker_to_json(m, w));
  m_worker_reconcile(m, w, h.running, true);
  cJSON_Delete(cc->hello); /* h pointed into it */
  cc->hello = NULL;
  unlist(cc);
  m_dispatch_pending(m);
}

static void handle_heartbeat(conn_ctx_t *cc, const cJSON *msg) {
  m_worker_t *w = cc->w;
  w->last_heartbeat_us = pgd_now_us();
  if (!w->heard_since_hello) { /* whatever it says: its resent reports are in */
    w->heard_since_hello = true;
    m_worker_settled(cc->m, w);
  }
  pgd_msg_heartbeat_t hb;
  char err[256];
  if (pgd_msg_heartbeat_decode(msg, &hb, err, sizeof err) < 0) {
    PGD_WARN(MOD, "worker %s sent a bad heartbeat: %s; ignored", w->id, err);
    return;
  }
  adopt_load(w, &hb.load, &hb.resource_cache);
  /* The worker's current types, labels and slots (a plugin loaded since
   * the hello makes its type dispatchable). */
  bool changed = adopt_array(&w->reported_types, hb.types);
  changed |= m_push_adopt(cc->m, w, hb.plugins);
  changed |= adopt_array(&w->labels, hb.labels);
  if (hb.slots != w->slots) {
    PGD_INFO(MOD, "worker %s now offers %lld slots (was %d)", w->id, (long long)hb.slots, w->slots);
    w->slots = (int)hb.slots;
    changed = true;
  }
  if (changed) {
    cc->m->workers_generation++;
    m_dispatch_pending(cc->m);
  }
  if (hb.running != w->running || hb.slots_used != w->used)
    PGD_DEBUG(MOD, "worker %s runs %lld attempts on %lld slots; the master counts %d on %d", w->id,
              (long long)hb.running, (long long)hb.slots_used, w->running, w->used);
  if (hb.running_attempts) m_worker_reconcile(cc->m, w, hb.running_attempts, false);
}

static void handle_log(conn_ctx_t *cc, const cJSON *msg) {
  pgd_master_t *m = cc->m;
  pgd_msg_log_t lg;
  char err[256];
  if (pgd_msg_log_decode(msg, &lg, err, sizeof err) < 0) {
    PGD_WARN(MOD, "worker %s sent a bad log report: %s; %s", cc->w->id, err,
             lg.seq > 0 ? "acknowledged and dropped" : "ignored");
    if (lg.seq > 0) m_rpc_queue_ack(m, cc->w, lg.seq); /* resending it would not help */
    return;
  }
  m_exec_t *e = m_exec_find(m, lg.execution_id);
  m_task_t *t = NULL;
  for (int i = 0; e && i < e->n_tasks; i++)
    if (e->tasks[i]->attempt == lg.attempt && e->tasks[i]->worker == cc->w) t = e->tasks[i];
  /* the shared store acknowledges once the bytes are durable (logs_shared.c) */
  if (t && m_log_report(m, t, lg.offset, lg.data, strlen(lg.data), cc->w, lg.seq)) return;
  m_rpc_queue_ack(m, cc->w, lg.seq);
}

/* A state report: decoded once (only the documented fields, with checked
 * types) and handed to exec.c as the decoded struct. */
static void handle_state(conn_ctx_t *cc, const cJSON *msg) {
  pgd_msg_state_t st;
  char err[256];
  if (pgd_msg_state_decode(msg, &st, err, sizeof err) < 0) {
    if (st.seq > 0) { /* resending it would not help */
      PGD_WARN(MOD, "worker %s sent a bad state report: %s; acknowledged and dropped", cc->w->id,
               err);
      m_rpc_queue_ack(cc->m, cc->w, st.seq);
    } else {
      PGD_WARN(MOD, "worker %s sent a bad state report: %s; ignored", cc->w->id, err);
    }
    return;
  }
  ack_ctx_t *a = malloc(sizeof *a);
  if (!a) abort();
  *a = (ack_ctx_t){cc->m, cc->w, st.seq};
  /* One store transaction for what the report writes: a final state, and
   * what it starts at once (a flow's downstream executions, a retry), whose
   * launch waits for its first durable write; apart, that write waited for
   * the final state's commit to end before its own began. */
  pgd_store_group_begin(cc->m->store);
  m_exec_report_state(cc->m, cc->w, &st, on_report_durable, a);
  pgd_store_group_end(cc->m->store);
}

/* leave: the worker is stopping (docs/protocol.md). No new work from now;
 * what still runs at the deadline is handed back (m_rpc_check_heartbeats). */
static void handle_leave(conn_ctx_t *cc, const cJSON *msg) {
  m_worker_t *w = cc->w;
  pgd_msg_leave_t lm;
  char err[256];
  if (pgd_msg_leave_decode(msg, &lm, err, sizeof err) < 0) {
    PGD_WARN(MOD, "worker %s: %s; ignored", w->id, err);
    return;
  }
  if (w->leaving) return;
  w->leaving = true;
  w->leave_deadline_us = pgd_now_us() + lm.grace_ms * 1000;
  cc->m->workers_generation++;
  m_worker_record(cc->m, w, true); /* standbys show `leaving` */
  PGD_INFO(MOD, "worker %s is leaving: no new work; its %d running attempt(s) get %lld ms to end",
           w->id, w->running, (long long)lm.grace_ms);
  if (m_observers_want_events(cc->m))
    m_observers_event_item(cc->m, PGD_MASTER_EVENT_WORKER, "leaving", "worker",
                           m_worker_to_json(cc->m, w));
}

static void on_message(pgd_conn_t *c, pgd_msg_type_t type, cJSON *msg, void *ud) {
  conn_ctx_t *cc = ud;
  if (type == PGD_MSG_HELLO) {
    handle_hello(cc, c, msg);
    return;
  }
  if (type == PGD_MSG_AUTH && cc->hello && !cc->w) {
    handle_auth(cc, c, msg);
    return;
  }
  if (!cc->w) {
    send_reject(c, cc->hello ? "the message after challenge must be auth, not %s"
                             : "the first message must be hello, not %s",
                pgd_msg_name(type));
    return;
  }
  cc->w->last_heartbeat_us = pgd_now_us();
  switch (type) {
    case PGD_MSG_HEARTBEAT:
      handle_heartbeat(cc, msg);
      break;
    case PGD_MSG_STATE:
      handle_state(cc, msg);
      break;
    case PGD_MSG_LOG:
      handle_log(cc, msg);
      break;
    case PGD_MSG_LEAVE:
      handle_leave(cc, msg);
      break;
    case PGD_MSG_ERROR: {
      pgd_msg_error_t e;
      char err[256];
      PGD_WARN(MOD, "worker %s says: %s", cc->w->id,
               pgd_msg_error_decode(msg, &e, err, sizeof err) == 0 ? e.reason : err);
      break;
    }
    default:
      PGD_WARN(MOD, "worker %s sent an unexpected %s message; ignored", cc->w->id,
               pgd_msg_name(type));
  }
}

static void on_close(pgd_conn_t *c, int reason, void *ud) {
  conn_ctx_t *cc = ud;
  if (cc->w && cc->w->conn == c) {
    m_worker_t *w = cc->w;
    w->conn = NULL;
    /* A worker that said `leave` and closed stopped on purpose: `left`. */
    w->state = w->leaving ? M_WORKER_LEFT : M_WORKER_LOST;
    cc->m->workers_generation++;
    cJSON_Delete(w->pending_acks);
    w->pending_acks = NULL;
    if (!cc->m->stopping) {
      bool left = w->state == M_WORKER_LEFT;
      if (left)
        PGD_INFO(MOD, "worker %s left (it stopped)", w->id);
      else
        PGD_WARN(MOD, "worker %s disconnected (%d)", w->id, reason);
      m_worker_gone(cc->m, w,
                    left ? "it stopped" : reason == 0 ? "connection closed" : "connection lost");
      if (m_observers_want_events(cc->m))
        m_observers_event_item(cc->m, PGD_MASTER_EVENT_WORKER, left ? "left" : "lost", "worker",
                               m_worker_to_json(cc->m, w));
    }
  }
  pgd_master_t *m = cc->m;
  if (cc->pprev && reason == UV_ETIMEDOUT) /* still in the handshake: its deadline */
    PGD_WARN(MOD, "%s did not complete the handshake within %d ms; closing",
             pgd_conn_peer(c), m->cfg.rpc_hello_timeout_ms);
  unlist(cc);
  cJSON_Delete(cc->hello);
  free(cc);
  m->open_conns--;
  m_stop_progress(m);
}

static void on_accept(pgd_listener_t *l, pgd_conn_t *c, void *ud) {
  (void)l;
  conn_ctx_t *cc = calloc(1, sizeof *cc);
  if (!cc) abort();
  cc->m = ud;
  cc->c = c;
  cc->next = cc->m->unauthenticated;
  if (cc->next) cc->next->pprev = &cc->next;
  cc->pprev = &cc->m->unauthenticated;
  cc->m->unauthenticated = cc;
  cc->m->open_conns++;
  static const pgd_conn_cbs_t cbs = {.on_message = on_message, .on_close = on_close};
  pgd_conn_set_callbacks(c, &cbs, cc);
  /* The whole handshake (TLS, hello, auth) must be over within the
   * deadline; cleared when the proof is accepted (handle_auth). */
  if (cc->m->cfg.rpc_hello_timeout_ms > 0)
    pgd_conn_set_deadline(c, (uint64_t)cc->m->cfg.rpc_hello_timeout_ms);
}

/* Whether `host` names the loopback interface only (127.0.0.0/8, ::1,
 * localhost): the one place a master may take workers without a secret. */
static bool is_loopback_host(const char *host) {
  if (!host) return false;
  return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
         strcmp(host, "[::1]") == 0 || strcmp(host, "localhost") == 0;
}

int m_rpc_start(pgd_master_t *m, char *err, size_t errlen) {
  if (!*m->secret && !is_loopback_host(m->cfg.rpc_host)) {
    snprintf(err, errlen,
             "refusing to listen for workers on %s without a cluster secret: anyone who reaches "
             "that address could pose as a worker; set one with --secret-file FILE, "
             "PAGODA_SECRET or cluster.secret_file (docs/security.md)",
             m->cfg.rpc_host);
    return -EPERM;
  }
  const char *cert = m->cfg.rpc_tls_cert, *key = m->cfg.rpc_tls_key;
  if ((cert && *cert) || (key && *key)) {
    char why[512];
    int rc = pgd_tls_server_ctx_new(cert, key, m->cfg.rpc_tls_client_ca, &m->rpc_tls, why,
                                    sizeof why);
    if (rc < 0) {
      snprintf(err, errlen, "RPC TLS (rpc.tls): %s", why);
      return rc;
    }
  } else if (m->cfg.rpc_tls_client_ca && *m->cfg.rpc_tls_client_ca) {
    snprintf(err, errlen, "rpc.tls.client_ca needs rpc.tls.cert and rpc.tls.key");
    return -EINVAL;
  }
  int rc = pgd_listener_start(m->loop, m->cfg.rpc_host, m->cfg.rpc_port, 0, on_accept, m,
                              &m->listener);
  if (rc < 0) {
    snprintf(err, errlen, "cannot listen for workers on %s:%d: %s", m->cfg.rpc_host,
             m->cfg.rpc_port, uv_strerror(rc));
    pgd_tls_ctx_free(m->rpc_tls);
    m->rpc_tls = NULL;
    return rc;
  }
  if (m->rpc_tls) {
    pgd_listener_set_tls(m->listener, m->rpc_tls);
    PGD_INFO(MOD, "workers connect over TLS%s",
             m->cfg.rpc_tls_client_ca && *m->cfg.rpc_tls_client_ca
                 ? " and must present a certificate (mutual TLS)"
                 : "");
  }
  return 0;
}

int pgd_master_connect_local(pgd_master_t *m, const pgd_conn_cbs_t *cbs, void *ud,
                             pgd_conn_t **out) {
  if (!m || m->stopping || !m->listener) return UV_ECONNREFUSED;
  return pgd_listener_connect_local(m->listener, cbs, ud, out);
}

void m_rpc_send_launch(pgd_master_t *m, m_task_t *t) {
  m_exec_t *e = t->exec;
  if (!t->worker || !t->worker->conn) return;
  const cJSON *def = e->def;
  pgd_msg_launch_t lm = {
      .epoch = m->epoch,
      .execution_id = e->id,
      .attempt = t->attempt,
      .job = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e->rec, "job")),
      .job_type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e->rec, "type")),
      .slots = pgd_msg_int(e->slots),
      .kill_grace_ms = pgd_msg_int(m->cfg.kill_grace_ms),
      .run_as = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(def, "run_as")),
  };
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(e->rec, "params");
  lm.params = cJSON_IsObject(params) ? params : NULL;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(def, "timeout");
  lm.timeout_ms = pgd_msg_int(cJSON_IsNumber(v) ? (int64_t)(v->valuedouble * 1000.0) : 0);
  const cJSON *env = cJSON_GetObjectItemCaseSensitive(def, "env");
  const cJSON *secret_env = cJSON_GetObjectItemCaseSensitive(def, "secret_env");
  cJSON *out = NULL;
  if (cJSON_IsObject(env) || cJSON_IsObject(secret_env) || t->shard >= 0 || e->run_index >= 0) {
    out = cJSON_IsObject(env) ? cJSON_Duplicate(env, 1) : cJSON_CreateObject();
    /* Secret variables reach the job's process only (docs/api.md, secret_env). */
    const cJSON *sv;
    cJSON_ArrayForEach(sv, secret_env) {
      if (!cJSON_IsString(sv)) continue;
      cJSON_DeleteItemFromObjectCaseSensitive(out, sv->string);
      cJSON_AddStringToObject(out, sv->string, sv->valuestring);
    }
    if (t->shard >= 0) {
      char buf[24];
      snprintf(buf, sizeof buf, "%d", t->shard);
      cJSON_DeleteItemFromObjectCaseSensitive(out, "PAGODA_SHARD_INDEX");
      cJSON_AddStringToObject(out, "PAGODA_SHARD_INDEX", buf);
      snprintf(buf, sizeof buf, "%d", e->n_tasks);
      cJSON_DeleteItemFromObjectCaseSensitive(out, "PAGODA_SHARD_COUNT");
      cJSON_AddStringToObject(out, "PAGODA_SHARD_COUNT", buf);
    }
    if (e->run_index >= 0) { /* an array run's index (docs/api.md "Batch runs") */
      char buf[24];
      snprintf(buf, sizeof buf, "%lld", (long long)e->run_index);
      cJSON_DeleteItemFromObjectCaseSensitive(out, "PAGODA_RUN_INDEX");
      cJSON_AddStringToObject(out, "PAGODA_RUN_INDEX", buf);
    }
    lm.env = out;
  }
  cJSON *res = m_resources_for_launch(m, def); /* NULL when the job lists none */
  lm.resources = res;
  lm.limits = m_job_limits(def);
  cJSON *msg = pgd_msg_launch_encode(&lm);
  if (msg)
    pgd_conn_send(t->worker->conn, PGD_MSG_LAUNCH, msg);
  else
    PGD_ERROR(MOD, "out of memory: the launch of execution %lld is lost", (long long)e->id);
  cJSON_Delete(msg);
  cJSON_Delete(out);
  cJSON_Delete(res);
}

void m_rpc_send_kill(pgd_master_t *m, m_worker_t *w, int64_t exec_id, int attempt) {
  if (!w || !w->conn) return;
  pgd_msg_kill_t km = {.epoch = m->epoch,
                       .execution_id = exec_id,
                       .attempt = attempt,
                       .reason = "killed",
                       .grace_ms = pgd_msg_int(m->cfg.kill_grace_ms)};
  cJSON *msg = pgd_msg_kill_encode(&km);
  if (msg) pgd_conn_send(w->conn, PGD_MSG_KILL, msg);
  cJSON_Delete(msg);
}

void m_rpc_check_heartbeats(pgd_master_t *m) {
  int64_t limit = (int64_t)m->cfg.heartbeat_ms * m->cfg.lost_after_missed * 1000;
  int64_t now = pgd_now_us();
  /* (A connection that has not completed the handshake is closed by its
   * own deadline: master.rpc.hello_timeout_ms, set at accept, cleared once
   * the worker's proof is accepted in handle_auth.) */
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
    if (w->conn && w->leaving && w->leave_deadline_us && now >= w->leave_deadline_us) {
      w->leave_deadline_us = 0;
      m_worker_hand_back(m, w);
    }
    if (w->conn && now - w->last_heartbeat_us > limit) {
      PGD_WARN(MOD, "worker %s missed %d heartbeats; closing its connection", w->id,
               m->cfg.lost_after_missed);
      pgd_conn_t *c = w->conn;
      w->state = M_WORKER_LOST;
      m_worker_gone(m, w, "heartbeats stopped");
      pgd_conn_close(c);
    }
  }
}

void m_rpc_close_workers(pgd_master_t *m) {
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
    if (w->conn) pgd_conn_close(w->conn);
  }
}

void m_rpc_close_all(pgd_master_t *m) {
  if (m->listener) pgd_listener_close(m->listener);
  m->listener = NULL;
  pgd_tls_ctx_free(m->rpc_tls); /* live connections keep their own reference */
  m->rpc_tls = NULL;
  while (m->unauthenticated) { /* still in the handshake */
    conn_ctx_t *cc = m->unauthenticated;
    unlist(cc);
    pgd_conn_close(cc->c);
  }
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
    if (w->conn) pgd_conn_close(w->conn);
  }
}
