/* Pagoda API — an execution's log: GET /api/v1/executions/{id}/log
 * [?offset=N][&follow=1]. Without follow (or for an execution no longer in
 * the master's memory) the bytes from offset; with follow a chunked stream
 * of those bytes and then every new byte until the execution's final state
 * is durable (docs/api.md "Logs"). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "common/clock.h"
#include "common/exec_state.h"
#include "common/json.h"
#include "master/storage.h"

/* A standby follows a log by reading the shared store every POLL_MS, on
 * the thread pool (pgd_master_log_poll_start); once the execution is final
 * it ends the stream at the first read that brings nothing new at least
 * SETTLE_MS later (the leader stores an attempt's last bytes at its next
 * tick, possibly after the final state). */
#define STANDBY_POLL_MS 500
#define STANDBY_SETTLE_US (2000LL * 1000)

typedef struct poll_stream {
  uv_timer_t timer;
  pgd_http_req_t *req;
  pgd_master_t *m;
  int64_t id;
  int64_t pos;          /* the next byte of the log to send */
  int64_t final_seen_us; /* 0: not final yet */
  pgd_master_log_poll_t *reading; /* the read in flight, or NULL */
} poll_stream_t;

static void poll_closed(uv_handle_t *h) { free(h->data); }

/* Frees p once its timer is closed; a read in flight is cancelled (its
 * result dropped), so nothing refers to p afterwards. */
static void poll_stop(poll_stream_t *p) {
  pgd_master_log_poll_cancel(p->reading);
  p->reading = NULL;
  uv_timer_stop(&p->timer);
  uv_close((uv_handle_t *)&p->timer, poll_closed);
}

/* The client went away. */
static void poll_abort(pgd_http_req_t *req, void *ud) {
  (void)req;
  poll_stop(ud);
}

static void poll_end(poll_stream_t *p) {
  pgd_http_req_on_abort(p->req, NULL, NULL);
  pgd_http_stream_end(p->req);
  poll_stop(p);
}

/* true when the execution is final (or gone: nothing more will come) */
static bool exec_final(pgd_master_t *m, int64_t id) {
  cJSON *e = pgd_master_exec_get(m, id);
  if (!e) return true;
  int st = pgd_exec_state_parse(pgd_json_str(e, "state"));
  cJSON_Delete(e);
  return st >= 0 && pgd_exec_state_final((pgd_exec_state_t)st);
}

static void poll_read(void *ud, int rc, const char *buf, size_t len, bool final) {
  poll_stream_t *p = ud;
  p->reading = NULL;
  if (rc == -ESHUTDOWN) {
    poll_end(p);
    return;
  }
  int64_t now = pgd_now_us();
  if (final && !p->final_seen_us) p->final_seen_us = now;
  if (rc < 0) len = 0; /* a store error: the next tick reads again */
  if (len) pgd_http_stream_write(p->req, buf, len);
  p->pos += (int64_t)len;
  if (final && len == 0 && now - p->final_seen_us >= STANDBY_SETTLE_US) poll_end(p);
}

static void poll_tick(uv_timer_t *t) {
  poll_stream_t *p = t->data;
  if (p->reading) return; /* the last read is still running: no pile-up */
  int rc = pgd_master_log_poll_start(p->m, p->id, p->pos, poll_read, p, &p->reading);
  if (rc == -ESHUTDOWN) poll_end(p);
  else if (rc < 0) p->reading = NULL; /* try again at the next tick */
}

/* A standby (shared store): stream what the store holds from `offset`, then
 * poll it (docs/ha.md "Logs on a standby"). */
static void standby_follow(api_req_t *r, int64_t id, int64_t offset, char *buf, size_t len) {
  pgd_http_stream_start(r->req, 200, "text/plain; charset=utf-8");
  if (len) pgd_http_stream_write(r->req, buf, len);
  free(buf);
  poll_stream_t *p = calloc(1, sizeof *p);
  if (!p) abort();
  p->req = r->req;
  p->m = r->m;
  p->id = id;
  p->pos = offset + (int64_t)len;
  uv_timer_init(r->api->loop, &p->timer);
  p->timer.data = p;
  uv_timer_start(&p->timer, poll_tick, STANDBY_POLL_MS, STANDBY_POLL_MS);
  pgd_http_req_on_abort(r->req, poll_abort, p);
}

/* A follow stream: the request and the master's follower, linked until one
 * of them ends. */
typedef struct stream {
  pgd_http_req_t *req;
  pgd_master_follower_t *f;
} stream_t;

static void stream_write(void *ud, const char *data, size_t len) {
  pgd_http_stream_write(((stream_t *)ud)->req, data, len);
}

/* The master ends the follower (final state durable, or the execution left
 * memory): end the response. */
static void stream_end(void *ud) {
  stream_t *s = ud;
  pgd_http_req_on_abort(s->req, NULL, NULL);
  pgd_http_stream_end(s->req);
  free(s);
}

/* The client went away: detach from the master. */
static void stream_abort(pgd_http_req_t *req, void *ud) {
  (void)req;
  stream_t *s = ud;
  pgd_master_log_unfollow(s->f);
  free(s);
}

void api_exec_log(api_req_t *r) {
  int64_t id;
  if (!api_exec_id(r, &id)) return;
  const char *off = pgd_http_req_query(r->req, "offset");
  int64_t offset = 0;
  if (off) {
    char *end;
    long long v = strtoll(off, &end, 10);
    if (*end || v < 0) {
      pgd_http_respond_error(r->req, 400, "offset must be a non-negative integer");
      return;
    }
    offset = v;
  }
  bool follow = api_query_flag(r->req, "follow");
  bool standby = !pgd_master_is_leader(r->m);
  if (standby && !pgd_master_log_in_store(r->m)) {
    /* local log files: they are on the leader's disk */
    const char *leader = pgd_master_leader_http(r->m);
    cJSON *o = cJSON_CreateObject();
    char msg[400];
    snprintf(msg, sizeof msg, "this master is a standby; the leader is %s",
             leader ? leader : "being elected (try again shortly)");
    cJSON_AddStringToObject(o, "error", msg);
    if (leader) cJSON_AddStringToObject(o, "leader", leader);
    api_respond_take(r->req, 503, o);
    return;
  }
  char *buf = NULL;
  size_t len = 0;
  bool live = false;
  if (pgd_master_log_read(r->m, id, offset, &buf, &len, &live) < 0) {
    pgd_http_respond_error(r->req, 404, "execution %lld not found", (long long)id);
    return;
  }
  if (follow && standby && !exec_final(r->m, id)) {
    standby_follow(r, id, offset, buf, len);
    return;
  }
  if (!follow || !live) {
    pgd_http_respond(r->req, 200, "text/plain; charset=utf-8", buf, len);
    free(buf);
    return;
  }
  /* What the files hold now, then every new chunk until the execution ends. */
  pgd_http_stream_start(r->req, 200, "text/plain; charset=utf-8");
  if (len) pgd_http_stream_write(r->req, buf, len);
  free(buf);
  stream_t *s = calloc(1, sizeof *s);
  if (!s) abort();
  s->req = r->req;
  static const pgd_master_log_sink_t sink = {stream_write, stream_end};
  /* bytes below `offset` that land later (a resume after a failover, before
   * the worker re-sent them) are not sent again */
  s->f = pgd_master_log_follow_from(r->m, id, offset, &sink, s);
  if (!s->f) { /* cannot happen: it was live a moment ago on this thread */
    pgd_http_stream_end(r->req);
    free(s);
    return;
  }
  pgd_http_req_on_abort(r->req, stream_abort, s);
}
