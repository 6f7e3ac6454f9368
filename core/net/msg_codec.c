/* Pagoda — one encode/decode pair per message of the master <-> worker
 * protocol (see net/msg.h). Every decoder reads exactly the fields its
 * encoder writes, in the order of msg_fields.c's table for that message;
 * tests/unit/test_net_msg.c holds the three (and docs/protocol.md) equal. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "common/err.h"
#include "net/msg.h"
#include "net/msg_util.h"

#define RD(name) msg_rd_t rd = {.msg = name, .err = err, .errlen = errlen}
#define BEGIN_DECODE(name)                                                                         \
  RD(name);                                                                                        \
  if (!out) return -EINVAL;                                                                        \
  memset(out, 0, sizeof *out);                                                                     \
  if (!cJSON_IsObject(payload)) {                                                                  \
    msg_rd_fail(&rd, NULL, "body", "must be a JSON object");                                       \
    return rd.rc;                                                                                  \
  }

/* ---- hello ---- */

cJSON *pgd_msg_hello_encode(const pgd_msg_hello_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  msg_wr_int(&w, w.o, "protocol", m->protocol);
  msg_wr_str(&w, w.o, "nonce", m->nonce ? m->nonce : "");
  cJSON *wk = msg_wr_obj(&w, w.o, "worker");
  msg_wr_str(&w, wk, "id", m->worker.id ? m->worker.id : "");
  msg_wr_str(&w, wk, "host", m->worker.host);
  msg_wr_opt_int(&w, wk, "slots", m->worker.slots);
  msg_wr_dup(&w, wk, "labels", m->worker.labels);
  msg_wr_dup(&w, wk, "types", m->worker.types);
  msg_wr_opt_int(&w, wk, "pid", m->worker.pid);
  msg_wr_load(&w, wk, "load", &m->worker.load);
  msg_wr_attempt_refs(&w, w.o, "running", m->running);
  return msg_wr_done(&w);
}

int pgd_msg_hello_decode(const cJSON *payload, pgd_msg_hello_t *out, char *err, size_t errlen) {
  BEGIN_DECODE("hello");
  /* The version first: another version's hello may be shaped differently. */
  if (!msg_rd_int(&rd, payload, NULL, "protocol", true, -MSG_INT_MAX, MSG_INT_MAX, &out->protocol))
    return rd.rc;
  if (out->protocol != PGD_PROTOCOL_VERSION) {
    return pgd_set_err(err, errlen, -EPROTONOSUPPORT,
                       "protocol version %lld is not supported (this side speaks %d)",
                       (long long)out->protocol, PGD_PROTOCOL_VERSION);
  }
  msg_rd_str(&rd, payload, NULL, "nonce", true, &out->nonce);
  const cJSON *wk = NULL;
  msg_rd_obj(&rd, payload, NULL, "worker", true, &wk);
  msg_rd_str(&rd, wk, "worker", "id", true, &out->worker.id);
  msg_rd_str(&rd, wk, "worker", "host", false, &out->worker.host);
  msg_rd_opt_int(&rd, wk, "worker", "slots", 0, INT_MAX, &out->worker.slots);
  msg_rd_strs(&rd, wk, "worker", "labels", false, &out->worker.labels);
  msg_rd_strs(&rd, wk, "worker", "types", false, &out->worker.types);
  msg_rd_opt_int(&rd, wk, "worker", "pid", 0, INT_MAX, &out->worker.pid);
  msg_rd_load(&rd, wk, "worker", "load", &out->worker.load);
  msg_rd_records(&rd, payload, NULL, "running", false, msg_rd_attempt_ref, &out->running);
  return rd.rc;
}

/* ---- welcome ---- */

cJSON *pgd_msg_welcome_encode(const pgd_msg_welcome_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  msg_wr_int(&w, w.o, "epoch", m->epoch);
  msg_wr_opt_int(&w, w.o, "heartbeat_ms", m->heartbeat_ms);
  msg_wr_str(&w, w.o, "http", m->http);
  msg_wr_str(&w, w.o, "proof", m->proof ? m->proof : "");
  msg_wr_str(&w, w.o, "http_token", m->http_token);
  return msg_wr_done(&w);
}

int pgd_msg_welcome_decode(const cJSON *payload, pgd_msg_welcome_t *out, char *err, size_t errlen) {
  BEGIN_DECODE("welcome");
  msg_rd_int(&rd, payload, NULL, "epoch", true, 0, MSG_INT_MAX, &out->epoch);
  msg_rd_opt_int(&rd, payload, NULL, "heartbeat_ms", 0, INT_MAX, &out->heartbeat_ms);
  msg_rd_str(&rd, payload, NULL, "http", false, &out->http);
  msg_rd_str(&rd, payload, NULL, "proof", true, &out->proof);
  msg_rd_str(&rd, payload, NULL, "http_token", false, &out->http_token);
  return rd.rc;
}

/* ---- challenge ---- */

cJSON *pgd_msg_challenge_encode(const pgd_msg_challenge_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  msg_wr_int(&w, w.o, "protocol", m->protocol);
  msg_wr_str(&w, w.o, "nonce", m->nonce ? m->nonce : "");
  return msg_wr_done(&w);
}

int pgd_msg_challenge_decode(const cJSON *payload, pgd_msg_challenge_t *out, char *err,
                             size_t errlen) {
  BEGIN_DECODE("challenge");
  msg_rd_int(&rd, payload, NULL, "protocol", true, -MSG_INT_MAX, MSG_INT_MAX, &out->protocol);
  msg_rd_str(&rd, payload, NULL, "nonce", true, &out->nonce);
  return rd.rc;
}

/* ---- auth ---- */

cJSON *pgd_msg_auth_encode(const pgd_msg_auth_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  msg_wr_str(&w, w.o, "proof", m->proof ? m->proof : "");
  return msg_wr_done(&w);
}

int pgd_msg_auth_decode(const cJSON *payload, pgd_msg_auth_t *out, char *err, size_t errlen) {
  BEGIN_DECODE("auth");
  msg_rd_str(&rd, payload, NULL, "proof", true, &out->proof);
  return rd.rc;
}

/* ---- reject ---- */

cJSON *pgd_msg_reject_encode(const pgd_msg_reject_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  msg_wr_str(&w, w.o, "reason", m->reason ? m->reason : "");
  return msg_wr_done(&w);
}

int pgd_msg_reject_decode(const cJSON *payload, pgd_msg_reject_t *out, char *err, size_t errlen) {
  BEGIN_DECODE("reject");
  msg_rd_str(&rd, payload, NULL, "reason", true, &out->reason);
  return rd.rc;
}

/* ---- heartbeat ---- */

static void wr_rescache(msg_wr_t *w, cJSON *o, const pgd_msg_rescache_t *rc) {
  if (!rc->set) return;
  cJSON *s = msg_wr_obj(w, o, "resource_cache");
  msg_wr_int(w, s, "downloads", rc->downloads);
  msg_wr_int(w, s, "download_bytes", rc->download_bytes);
  msg_wr_int(w, s, "hits", rc->hits);
  msg_wr_int(w, s, "corrupt", rc->corrupt);
  msg_wr_int(w, s, "failures", rc->failures);
}

static void rd_rescache(msg_rd_t *rd, const cJSON *o, pgd_msg_rescache_t *out) {
  const cJSON *s = NULL;
  if (!msg_rd_obj(rd, o, NULL, "resource_cache", false, &s)) return;
  const char *at = "resource_cache";
  pgd_msg_rescache_t v = {.set = true};
  msg_rd_int(rd, s, at, "downloads", true, 0, MSG_INT_MAX, &v.downloads);
  msg_rd_int(rd, s, at, "download_bytes", true, 0, MSG_INT_MAX, &v.download_bytes);
  msg_rd_int(rd, s, at, "hits", true, 0, MSG_INT_MAX, &v.hits);
  msg_rd_int(rd, s, at, "corrupt", true, 0, MSG_INT_MAX, &v.corrupt);
  msg_rd_int(rd, s, at, "failures", true, 0, MSG_INT_MAX, &v.failures);
  if (rd->rc == 0) *out = v;
}

cJSON *pgd_msg_heartbeat_encode(const pgd_msg_heartbeat_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  msg_wr_int(&w, w.o, "slots", m->slots);
  msg_wr_int(&w, w.o, "slots_used", m->slots_used);
  msg_wr_int(&w, w.o, "running", m->running);
  msg_wr_attempt_refs(&w, w.o, "running_attempts", m->running_attempts);
  msg_wr_array(&w, w.o, "types", m->types);
  msg_wr_array(&w, w.o, "labels", m->labels);
  msg_wr_load(&w, w.o, "load", &m->load);
  wr_rescache(&w, w.o, &m->resource_cache);
  msg_wr_plugin_states(&w, w.o, "plugins", m->plugins);
  return msg_wr_done(&w);
}

int pgd_msg_heartbeat_decode(const cJSON *payload, pgd_msg_heartbeat_t *out, char *err,
                             size_t errlen) {
  BEGIN_DECODE("heartbeat");
  msg_rd_int(&rd, payload, NULL, "slots", true, 0, INT_MAX, &out->slots);
  msg_rd_int(&rd, payload, NULL, "slots_used", true, 0, INT_MAX, &out->slots_used);
  msg_rd_int(&rd, payload, NULL, "running", true, 0, INT_MAX, &out->running);
  msg_rd_records(&rd, payload, NULL, "running_attempts", false, msg_rd_attempt_ref,
                 &out->running_attempts);
  msg_rd_strs(&rd, payload, NULL, "types", true, &out->types);
  msg_rd_strs(&rd, payload, NULL, "labels", true, &out->labels);
  msg_rd_load(&rd, payload, NULL, "load", &out->load);
  rd_rescache(&rd, payload, &out->resource_cache);
  msg_rd_records(&rd, payload, NULL, "plugins", false, msg_rd_plugin_state, &out->plugins);
  return rd.rc;
}

/* ---- launch ---- */

static void wr_limits(msg_wr_t *w, cJSON *o, const pgd_msg_limits_t *l) {
  if (!l->set) return;
  cJSON *s = msg_wr_obj(w, o, "limits");
  if (l->memory_mb > 0) msg_wr_int(w, s, "memory_mb", l->memory_mb);
  if (l->cpus > 0) msg_wr_num(w, s, "cpus", l->cpus);
  if (l->pids > 0) msg_wr_int(w, s, "pids", l->pids);
}

static void rd_limits(msg_rd_t *rd, const cJSON *o, pgd_msg_limits_t *out) {
  const cJSON *s = NULL;
  if (!msg_rd_obj(rd, o, NULL, "limits", false, &s)) return;
  const char *at = "limits";
  pgd_msg_limits_t v = {.set = true};
  msg_rd_int(rd, s, at, "memory_mb", false, 0, MSG_INT_MAX, &v.memory_mb);
  if (msg_rd_num(rd, s, at, "cpus", false, &v.cpus) && v.cpus < 0)
    msg_rd_fail(rd, at, "cpus", "must be a number >= 0");
  msg_rd_int(rd, s, at, "pids", false, 0, MSG_INT_MAX, &v.pids);
  if (rd->rc == 0) *out = v;
}

cJSON *pgd_msg_launch_encode(const pgd_msg_launch_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  msg_wr_int(&w, w.o, "epoch", m->epoch);
  msg_wr_int(&w, w.o, "execution_id", m->execution_id);
  msg_wr_int(&w, w.o, "attempt", m->attempt);
  msg_wr_str(&w, w.o, "job", m->job);
  msg_wr_str(&w, w.o, "job_type", m->job_type);
  msg_wr_dup(&w, w.o, "params", m->params);
  msg_wr_opt_int(&w, w.o, "slots", m->slots);
  msg_wr_opt_int(&w, w.o, "timeout_ms", m->timeout_ms);
  msg_wr_opt_int(&w, w.o, "kill_grace_ms", m->kill_grace_ms);
  msg_wr_str(&w, w.o, "run_as", m->run_as);
  msg_wr_dup(&w, w.o, "env", m->env);
  msg_wr_resources(&w, w.o, "resources", m->resources);
  wr_limits(&w, w.o, &m->limits);
  return msg_wr_done(&w);
}

int pgd_msg_launch_decode(const cJSON *payload, pgd_msg_launch_t *out, char *err, size_t errlen) {
  BEGIN_DECODE("launch");
  int64_t attempt = 0;
  msg_rd_int(&rd, payload, NULL, "epoch", true, 0, MSG_INT_MAX, &out->epoch);
  msg_rd_int(&rd, payload, NULL, "execution_id", true, -MSG_INT_MAX, MSG_INT_MAX,
             &out->execution_id);
  if (msg_rd_int(&rd, payload, NULL, "attempt", true, 0, INT_MAX, &attempt))
    out->attempt = (int)attempt;
  msg_rd_str(&rd, payload, NULL, "job", false, &out->job);
  msg_rd_str(&rd, payload, NULL, "job_type", false, &out->job_type);
  msg_rd_obj(&rd, payload, NULL, "params", false, &out->params);
  msg_rd_opt_int(&rd, payload, NULL, "slots", -MSG_INT_MAX, MSG_INT_MAX, &out->slots);
  msg_rd_opt_int(&rd, payload, NULL, "timeout_ms", -MSG_INT_MAX, MSG_INT_MAX, &out->timeout_ms);
  msg_rd_opt_int(&rd, payload, NULL, "kill_grace_ms", -MSG_INT_MAX, MSG_INT_MAX,
                 &out->kill_grace_ms);
  msg_rd_str(&rd, payload, NULL, "run_as", false, &out->run_as);
  msg_rd_obj(&rd, payload, NULL, "env", false, &out->env);
  msg_rd_records(&rd, payload, NULL, "resources", false, msg_rd_resource, &out->resources);
  rd_limits(&rd, payload, &out->limits);
  return rd.rc;
}

/* ---- kill ---- */

cJSON *pgd_msg_kill_encode(const pgd_msg_kill_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  msg_wr_int(&w, w.o, "epoch", m->epoch);
  msg_wr_int(&w, w.o, "execution_id", m->execution_id);
  msg_wr_int(&w, w.o, "attempt", m->attempt);
  msg_wr_str(&w, w.o, "reason", m->reason);
  msg_wr_opt_int(&w, w.o, "grace_ms", m->grace_ms);
  return msg_wr_done(&w);
}

int pgd_msg_kill_decode(const cJSON *payload, pgd_msg_kill_t *out, char *err, size_t errlen) {
  BEGIN_DECODE("kill");
  int64_t attempt = 0;
  msg_rd_int(&rd, payload, NULL, "epoch", true, 0, MSG_INT_MAX, &out->epoch);
  msg_rd_int(&rd, payload, NULL, "execution_id", true, -MSG_INT_MAX, MSG_INT_MAX,
             &out->execution_id);
  if (msg_rd_int(&rd, payload, NULL, "attempt", true, 0, INT_MAX, &attempt))
    out->attempt = (int)attempt;
  msg_rd_str(&rd, payload, NULL, "reason", false, &out->reason);
  msg_rd_opt_int(&rd, payload, NULL, "grace_ms", -MSG_INT_MAX, MSG_INT_MAX, &out->grace_ms);
  return rd.rc;
}

/* ---- state ---- */

cJSON *pgd_msg_state_encode(const pgd_msg_state_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  if (m->seq > 0) msg_wr_int(&w, w.o, "seq", m->seq);
  msg_wr_int(&w, w.o, "execution_id", m->execution_id);
  msg_wr_int(&w, w.o, "attempt", m->attempt);
  msg_wr_str(&w, w.o, "state", pgd_exec_state_name(m->state));
  msg_wr_opt_int(&w, w.o, "at_us", m->at_us);
  msg_wr_opt_int(&w, w.o, "pid", m->pid);
  msg_wr_opt_int(&w, w.o, "exit_code", m->exit_code);
  msg_wr_opt_int(&w, w.o, "signal", m->signal);
  msg_wr_str(&w, w.o, "error", m->error);
  msg_wr_dup(&w, w.o, "result", m->result);
  msg_wr_dup(&w, w.o, "attributes", m->attributes);
  return msg_wr_done(&w);
}

int pgd_msg_state_decode(const cJSON *payload, pgd_msg_state_t *out, char *err, size_t errlen) {
  BEGIN_DECODE("state");
  int64_t attempt = 0;
  const char *state = NULL;
  msg_rd_int(&rd, payload, NULL, "seq", true, 1, MSG_INT_MAX, &out->seq);
  msg_rd_int(&rd, payload, NULL, "execution_id", true, -MSG_INT_MAX, MSG_INT_MAX,
             &out->execution_id);
  if (msg_rd_int(&rd, payload, NULL, "attempt", true, 0, INT_MAX, &attempt))
    out->attempt = (int)attempt;
  if (msg_rd_str(&rd, payload, NULL, "state", true, &state)) {
    int s = pgd_exec_state_parse(state);
    if (s < 0)
      msg_rd_fail(&rd, NULL, "state", "'%.64s' is not an execution state", state);
    else
      out->state = (pgd_exec_state_t)s;
  }
  msg_rd_opt_int(&rd, payload, NULL, "at_us", -MSG_INT_MAX, MSG_INT_MAX, &out->at_us);
  msg_rd_opt_int(&rd, payload, NULL, "pid", 0, INT_MAX, &out->pid);
  msg_rd_opt_int(&rd, payload, NULL, "exit_code", INT_MIN, INT_MAX, &out->exit_code);
  msg_rd_opt_int(&rd, payload, NULL, "signal", 0, INT_MAX, &out->signal);
  msg_rd_str(&rd, payload, NULL, "error", false, &out->error);
  msg_rd_any(&rd, payload, NULL, "result", false, &out->result);
  msg_rd_obj(&rd, payload, NULL, "attributes", false, &out->attributes);
  return rd.rc;
}

/* ---- log ---- */

cJSON *pgd_msg_log_encode(const pgd_msg_log_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  if (m->seq > 0) msg_wr_int(&w, w.o, "seq", m->seq);
  msg_wr_int(&w, w.o, "execution_id", m->execution_id);
  msg_wr_int(&w, w.o, "attempt", m->attempt);
  msg_wr_int(&w, w.o, "offset", m->offset);
  msg_wr_str(&w, w.o, "data", m->data ? m->data : "");
  return msg_wr_done(&w);
}

int pgd_msg_log_decode(const cJSON *payload, pgd_msg_log_t *out, char *err, size_t errlen) {
  BEGIN_DECODE("log");
  int64_t attempt = 0;
  msg_rd_int(&rd, payload, NULL, "seq", true, 1, MSG_INT_MAX, &out->seq);
  msg_rd_int(&rd, payload, NULL, "execution_id", true, -MSG_INT_MAX, MSG_INT_MAX,
             &out->execution_id);
  if (msg_rd_int(&rd, payload, NULL, "attempt", true, 0, INT_MAX, &attempt))
    out->attempt = (int)attempt;
  msg_rd_int(&rd, payload, NULL, "offset", true, 0, MSG_INT_MAX, &out->offset);
  msg_rd_str(&rd, payload, NULL, "data", true, &out->data);
  return rd.rc;
}

/* ---- ack ---- */

cJSON *pgd_msg_ack_encode(const pgd_msg_ack_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  msg_wr_array(&w, w.o, "seqs", m->seqs);
  return msg_wr_done(&w);
}

int pgd_msg_ack_decode(const cJSON *payload, pgd_msg_ack_t *out, char *err, size_t errlen) {
  BEGIN_DECODE("ack");
  msg_rd_ints(&rd, payload, NULL, "seqs", true, 1, MSG_INT_MAX, &out->seqs);
  return rd.rc;
}

/* ---- error ---- */

cJSON *pgd_msg_error_encode(const pgd_msg_error_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  msg_wr_str(&w, w.o, "reason", m->reason ? m->reason : "");
  msg_wr_opt_int(&w, w.o, "code", m->code);
  return msg_wr_done(&w);
}

int pgd_msg_error_decode(const cJSON *payload, pgd_msg_error_t *out, char *err, size_t errlen) {
  BEGIN_DECODE("error");
  /* `message`: the name workers used before this codec (one version back) */
  const char *key = cJSON_GetObjectItemCaseSensitive(payload, "reason") ||
                            !cJSON_GetObjectItemCaseSensitive(payload, "message")
                        ? "reason"
                        : "message";
  msg_rd_str(&rd, payload, NULL, key, true, &out->reason);
  msg_rd_opt_int(&rd, payload, NULL, "code", INT_MIN, INT_MAX, &out->code);
  return rd.rc;
}

/* ---- plugins ---- */

cJSON *pgd_msg_plugins_encode(const pgd_msg_plugins_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  msg_wr_plugin_offers(&w, w.o, "plugins", m->plugins);
  return msg_wr_done(&w);
}

int pgd_msg_plugins_decode(const cJSON *payload, pgd_msg_plugins_t *out, char *err,
                           size_t errlen) {
  BEGIN_DECODE("plugins");
  msg_rd_records(&rd, payload, NULL, "plugins", true, msg_rd_plugin_offer, &out->plugins);
  return rd.rc;
}

/* ---- leave ---- */

cJSON *pgd_msg_leave_encode(const pgd_msg_leave_t *m) {
  msg_wr_t w;
  if (!m || !msg_wr_init(&w)) return NULL;
  msg_wr_int(&w, w.o, "grace_ms", m->grace_ms);
  return msg_wr_done(&w);
}

int pgd_msg_leave_decode(const cJSON *payload, pgd_msg_leave_t *out, char *err, size_t errlen) {
  BEGIN_DECODE("leave");
  msg_rd_int(&rd, payload, NULL, "grace_ms", true, 0, MSG_INT_MAX, &out->grace_ms);
  return rd.rc;
}
