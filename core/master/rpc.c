/* Pagoda master — worker connections: handshake, heartbeats, state and log
 * reports, batched acknowledgements (docs/protocol.md). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "master/exec_int.h"
#include "master/leader_int.h"
#include "master/logs_int.h"
#include "master/workers_int.h"
#include "net/conn.h"
#include "master/resources.h"
#include "net/protocol.h"

#define MOD "rpc"

/* Until its hello is accepted a connection has no worker. */
typedef struct conn_ctx {
  pgd_master_t *m;
  m_worker_t *w;
} conn_ctx_t;

static int64_t json_int(const cJSON *obj, const char *key, int64_t dflt) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : dflt;
}

static cJSON *dup_or(const cJSON *v, cJSON *dflt) {
  if (v) {
    cJSON_Delete(dflt);
    return cJSON_Duplicate(v, 1);
  }
  return dflt;
}

cJSON *m_worker_to_json(const pgd_master_t *m, const m_worker_t *w) {
  (void)m;
  static const char *const states[] = {"alive", "draining", "lost"};
  m_worker_state_t shown = w->state == M_WORKER_ALIVE && w->draining ? M_WORKER_DRAINING : w->state;
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
      cJSON *msg = cJSON_CreateObject();
      cJSON_AddItemToObject(msg, "seqs", w->pending_acks);
      w->pending_acks = NULL;
      pgd_conn_send(w->conn, PGD_MSG_ACK, msg);
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
  cJSON *msg = cJSON_CreateObject();
  cJSON_AddStringToObject(msg, "reason", reason);
  pgd_conn_send(c, PGD_MSG_REJECT, msg);
  cJSON_Delete(msg);
  pgd_conn_close(c);
}

static void handle_hello(conn_ctx_t *cc, pgd_conn_t *c, const cJSON *msg) {
  pgd_master_t *m = cc->m;
  if (cc->w) {
    send_reject(c, "duplicate hello on one connection");
    return;
  }
  if (!m->leader) {
    const char *leader = m_ha_leader_http(m);
    send_reject(c, "this master is a standby (leader: %s)", leader ? leader : "being elected");
    return;
  }
  int64_t proto = json_int(msg, "protocol", -1);
  if (proto != PGD_PROTOCOL_VERSION) {
    send_reject(c, "protocol version %lld is not supported (master speaks %d)", (long long)proto,
                PGD_PROTOCOL_VERSION);
    return;
  }
  const char *secret = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "secret"));
  if (strcmp(secret ? secret : "", m->secret) != 0) {
    send_reject(c, "wrong cluster secret");
    return;
  }
  const cJSON *info = cJSON_GetObjectItemCaseSensitive(msg, "worker");
  const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "id"));
  if (!id || !*id || strlen(id) > 128) {
    send_reject(c, "hello.worker.id must be a non-empty string of at most 128 bytes");
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
  const char *host = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "host"));
  free(w->host);
  w->host = strdup(host ? host : "");
  free(w->addr);
  w->addr = strdup(pgd_conn_peer(c));
  w->conn = c;
  w->state = M_WORKER_ALIVE;
  int64_t slots = json_int(info, "slots", 1);
  w->slots = slots < 0 ? 0 : (int)slots;
  w->types = dup_or(cJSON_GetObjectItemCaseSensitive(info, "types"), w->types ? w->types : cJSON_CreateArray());
  w->labels = dup_or(cJSON_GetObjectItemCaseSensitive(info, "labels"), w->labels ? w->labels : cJSON_CreateArray());
  if (!cJSON_IsArray(w->types)) { cJSON_Delete(w->types); w->types = cJSON_CreateArray(); }
  if (!cJSON_IsArray(w->labels)) { cJSON_Delete(w->labels); w->labels = cJSON_CreateArray(); }
  w->connected_us = w->last_heartbeat_us = pgd_now_us();
  w->heard_since_hello = false;
  cc->w = w;
  m->workers_generation++;

  cJSON *rec = cJSON_CreateObject();
  cJSON_AddStringToObject(rec, "id", w->id);
  cJSON_AddStringToObject(rec, "host", w->host);
  cJSON_AddStringToObject(rec, "addr", w->addr);
  cJSON_AddNumberToObject(rec, "slots", w->slots);
  cJSON_AddItemToObject(rec, "types", cJSON_Duplicate(w->types, 1));
  cJSON_AddItemToObject(rec, "labels", cJSON_Duplicate(w->labels, 1));
  cJSON_AddNumberToObject(rec, "last_seen_us", (double)w->connected_us);
  pgd_store_put_worker(m->store, rec, NULL, NULL);
  cJSON_Delete(rec);

  cJSON *welcome = cJSON_CreateObject();
  cJSON_AddNumberToObject(welcome, "epoch", (double)m->epoch);
  cJSON_AddNumberToObject(welcome, "heartbeat_ms", m->cfg.heartbeat_ms);
  if (m->cfg.http_port > 0) { /* where workers fetch resources */
    char http[300];
    snprintf(http, sizeof http, "%s:%d", m->cfg.http_host ? m->cfg.http_host : "",
             m->cfg.http_port);
    cJSON_AddStringToObject(welcome, "http", http);
  }
  pgd_conn_send(c, PGD_MSG_WELCOME, welcome);
  cJSON_Delete(welcome);
  PGD_INFO(MOD, "worker %s connected from %s (%d slots)", w->id, w->addr, w->slots);

  m_worker_reconcile(m, w, cJSON_GetObjectItemCaseSensitive(msg, "running"), true);
  m_dispatch_pending(m);
}

static void handle_heartbeat(conn_ctx_t *cc, const cJSON *msg) {
  m_worker_t *w = cc->w;
  w->last_heartbeat_us = pgd_now_us();
  if (!w->heard_since_hello) {
    w->heard_since_hello = true;
    m_worker_settled(cc->m, w);
  }
  const cJSON *v;
  if ((v = cJSON_GetObjectItemCaseSensitive(msg, "load")) && cJSON_IsObject(v)) {
    cJSON_Delete(w->load);
    w->load = cJSON_Duplicate(v, 1);
    const cJSON *l1 = cJSON_GetObjectItemCaseSensitive(v, "load1");
    const cJSON *mf = cJSON_GetObjectItemCaseSensitive(v, "mem_free_mb");
    w->load1 = cJSON_IsNumber(l1) ? l1->valuedouble : 0;
    w->mem_free_mb = cJSON_IsNumber(mf) && mf->valuedouble > 0 ? (long)mf->valuedouble : 0;
    /* the worker's resource cache counters ride along (shown top-level) */
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(msg, "resource_cache");
    if (cJSON_IsObject(rc)) cJSON_AddItemToObject(w->load, "resource_cache", cJSON_Duplicate(rc, 1));
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(msg, "types")) && cJSON_IsArray(v) &&
      !cJSON_Compare(v, w->types, 1)) {
    cJSON_Delete(w->types);
    w->types = cJSON_Duplicate(v, 1);
    m_dispatch_pending(cc->m);
  }
  if ((v = cJSON_GetObjectItemCaseSensitive(msg, "running_attempts")) && cJSON_IsArray(v))
    m_worker_reconcile(cc->m, w, v, false);
}

static void handle_log(conn_ctx_t *cc, const cJSON *msg) {
  pgd_master_t *m = cc->m;
  int64_t seq = json_int(msg, "seq", -1);
  int64_t id = json_int(msg, "execution_id", 0);
  m_exec_t *e = m_exec_find(m, id);
  const char *data = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "data"));
  int attempt = (int)json_int(msg, "attempt", 0);
  m_task_t *t = NULL;
  for (int i = 0; e && i < e->n_tasks; i++)
    if (e->tasks[i]->attempt == attempt && e->tasks[i]->worker == cc->w) t = e->tasks[i];
  if (t && data) m_log_append(m, t, json_int(msg, "offset", t->log_size), data, strlen(data));
  if (seq >= 0) m_rpc_queue_ack(m, cc->w, seq);
}

static void on_message(pgd_conn_t *c, pgd_msg_type_t type, cJSON *msg, void *ud) {
  conn_ctx_t *cc = ud;
  if (type == PGD_MSG_HELLO) {
    handle_hello(cc, c, msg);
    return;
  }
  if (!cc->w) {
    send_reject(c, "the first message must be hello, not %s", pgd_msg_name(type));
    return;
  }
  cc->w->last_heartbeat_us = pgd_now_us();
  switch (type) {
    case PGD_MSG_HEARTBEAT:
      handle_heartbeat(cc, msg);
      break;
    case PGD_MSG_STATE: {
      ack_ctx_t *a = malloc(sizeof *a);
      if (!a) abort();
      *a = (ack_ctx_t){cc->m, cc->w, json_int(msg, "seq", -1)};
      if (a->seq < 0) {
        free(a);
        PGD_WARN(MOD, "worker %s sent a state report without seq; ignored", cc->w->id);
        break;
      }
      m_exec_report_state(cc->m, cc->w, msg, on_report_durable, a);
      break;
    }
    case PGD_MSG_LOG:
      handle_log(cc, msg);
      break;
    case PGD_MSG_ERROR:
      PGD_WARN(MOD, "worker %s says: %s", cc->w->id,
               cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "message")));
      break;
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
    w->state = M_WORKER_LOST;
    cc->m->workers_generation++;
    cJSON_Delete(w->pending_acks);
    w->pending_acks = NULL;
    if (!cc->m->stopping) {
      PGD_WARN(MOD, "worker %s disconnected (%d)", w->id, reason);
      m_worker_gone(cc->m, w, reason == 0 ? "connection closed" : "connection lost");
    }
  }
  pgd_master_t *m = cc->m;
  free(cc);
  m->open_conns--;
  m_stop_progress(m);
}

static void on_accept(pgd_listener_t *l, pgd_conn_t *c, void *ud) {
  (void)l;
  conn_ctx_t *cc = calloc(1, sizeof *cc);
  if (!cc) abort();
  cc->m = ud;
  cc->m->open_conns++;
  static const pgd_conn_cbs_t cbs = {.on_message = on_message, .on_close = on_close};
  pgd_conn_set_callbacks(c, &cbs, cc);
}

int m_rpc_start(pgd_master_t *m, char *err, size_t errlen) {
  int rc = pgd_listener_start(m->loop, m->cfg.rpc_host, m->cfg.rpc_port, 0, on_accept, m,
                              &m->listener);
  if (rc < 0)
    snprintf(err, errlen, "cannot listen for workers on %s:%d: %s", m->cfg.rpc_host,
             m->cfg.rpc_port, uv_strerror(rc));
  return rc;
}

void m_rpc_send_launch(pgd_master_t *m, m_task_t *t) {
  m_exec_t *e = t->exec;
  if (!t->worker || !t->worker->conn) return;
  const cJSON *def = e->def;
  cJSON *msg = cJSON_CreateObject();
  cJSON_AddNumberToObject(msg, "epoch", (double)m->epoch);
  cJSON_AddNumberToObject(msg, "execution_id", (double)e->id);
  cJSON_AddNumberToObject(msg, "attempt", t->attempt);
  cJSON_AddItemReferenceToObject(msg, "job", cJSON_GetObjectItemCaseSensitive(e->rec, "job"));
  cJSON_AddItemReferenceToObject(msg, "job_type", cJSON_GetObjectItemCaseSensitive(e->rec, "type"));
  cJSON_AddItemReferenceToObject(msg, "params", cJSON_GetObjectItemCaseSensitive(e->rec, "params"));
  cJSON_AddNumberToObject(msg, "slots", e->slots);
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(def, "timeout");
  cJSON_AddNumberToObject(msg, "timeout_ms", cJSON_IsNumber(v) ? v->valuedouble * 1000.0 : 0);
  cJSON_AddNumberToObject(msg, "kill_grace_ms", m->cfg.kill_grace_ms);
  if ((v = cJSON_GetObjectItemCaseSensitive(def, "run_as")) && cJSON_IsString(v))
    cJSON_AddStringToObject(msg, "run_as", v->valuestring);
  const cJSON *env = cJSON_GetObjectItemCaseSensitive(def, "env");
  if (cJSON_IsObject(env) || t->shard >= 0) {
    cJSON *out = cJSON_IsObject(env) ? cJSON_Duplicate(env, 1) : cJSON_CreateObject();
    if (t->shard >= 0) {
      char buf[24];
      snprintf(buf, sizeof buf, "%d", t->shard);
      cJSON_DeleteItemFromObjectCaseSensitive(out, "PAGODA_SHARD_INDEX");
      cJSON_AddStringToObject(out, "PAGODA_SHARD_INDEX", buf);
      snprintf(buf, sizeof buf, "%d", e->n_tasks);
      cJSON_DeleteItemFromObjectCaseSensitive(out, "PAGODA_SHARD_COUNT");
      cJSON_AddStringToObject(out, "PAGODA_SHARD_COUNT", buf);
    }
    cJSON_AddItemToObject(msg, "env", out);
  }
  cJSON *res = m_resources_for_launch(m, def); /* NULL when the job lists none */
  if (res) cJSON_AddItemToObject(msg, "resources", res);
  pgd_conn_send(t->worker->conn, PGD_MSG_LAUNCH, msg);
  cJSON_Delete(msg);
}

void m_rpc_send_kill(pgd_master_t *m, m_worker_t *w, int64_t exec_id, int attempt) {
  if (!w || !w->conn) return;
  cJSON *msg = cJSON_CreateObject();
  cJSON_AddNumberToObject(msg, "epoch", (double)m->epoch);
  cJSON_AddNumberToObject(msg, "execution_id", (double)exec_id);
  cJSON_AddNumberToObject(msg, "attempt", attempt);
  cJSON_AddStringToObject(msg, "reason", "killed");
  cJSON_AddNumberToObject(msg, "grace_ms", m->cfg.kill_grace_ms);
  pgd_conn_send(w->conn, PGD_MSG_KILL, msg);
  cJSON_Delete(msg);
}

void m_rpc_check_heartbeats(pgd_master_t *m) {
  int64_t limit = (int64_t)m->cfg.heartbeat_ms * m->cfg.lost_after_missed * 1000;
  int64_t now = pgd_now_us();
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
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
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
    if (w->conn) pgd_conn_close(w->conn);
  }
}
