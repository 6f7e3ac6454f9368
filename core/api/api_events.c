/* Pagoda API — the live event stream: GET /api/v1/events as Server-Sent
 * Events (docs/api.md "Events").
 *
 * The API subscribes to the master's observer list (master.h) when a master
 * is attached. Every change becomes one event with the next position (a
 * 64-bit counter, from 1 at each start of this master) and is formatted
 * once as its SSE frame ("id: N\nevent: KIND\ndata: JSON\n\n"), kept in a
 * ring of the last `ring_cap` frames, and written to every open stream
 * whose filters take it. A client resuming with Last-Event-ID (or ?since=)
 * gets the frames after its position from the ring, or `event: reset` when
 * they are no longer all there.
 *
 * Memory: the ring is bounded; each stream's unsent bytes are bounded by
 * `client_buffer` (the HTTP layer's buffer, pgd_http_stream_pending) plus,
 * right after a resume, the replayed part of the ring: a live event that
 * would take a stream over it sends `reset` and closes the stream
 * (pgd_http_stream_close), so a client that stops reading never blocks the
 * loop nor grows the master.
 * Loop thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "common/clock.h"
#include "common/exec_state.h"
#include "common/json.h"
#include "common/log.h"
#include "common/strbuf.h"

#define K_EXECUTION 1u
#define K_FLOW 2u
#define K_WORKER 4u
#define K_SCHEDULE 8u
#define K_ALL (K_EXECUTION | K_FLOW | K_WORKER | K_SCHEDULE)

/* Seconds a dropped client gets to take its buffered bytes before its
 * connection is cut. */
#define DROP_GRACE_S 2
/* The largest frame buffer kept for the next frame (bytes). */
#define SCRATCH_KEEP (256u * 1024u)

typedef struct ev_frame {
  uint64_t pos;
  unsigned kind;    /* K_* */
  int64_t exec_id;  /* execution events: its id; else 0 */
  char *text;       /* the whole SSE frame (owned) */
  size_t len;
} ev_frame_t;

typedef struct ev_client {
  struct ev_client *prev, *next;
  api_events_t *ev;
  pgd_http_req_t *req;
  unsigned kinds;   /* K_* taken */
  int64_t exec_id;  /* > 0: only this execution's events (and no others) */
} ev_client_t;

struct api_events {
  pgd_master_t *m;
  int obs_handle;           /* > 0 while subscribed */
  ev_frame_t *ring;         /* ring_cap slots; frame pos p is at (p - 1) % ring_cap */
  size_t ring_cap;
  uint64_t last_pos;        /* the newest event's position (0: none yet) */
  size_t client_buffer;
  uv_timer_t *keepalive;    /* own allocation: freed when closed */
  ev_client_t *clients;
  pgd_strbuf_t scratch;     /* the frame being formatted (kept between frames) */
};

/* ---- delivery ---- */

static bool client_takes(const ev_client_t *c, const ev_frame_t *f) {
  if (!(c->kinds & f->kind)) return false;
  return c->exec_id <= 0 || f->exec_id == c->exec_id;
}

static void client_unlink(ev_client_t *c) {
  api_events_t *ev = c->ev;
  if (c->prev) c->prev->next = c->next;
  else ev->clients = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

/* `event: reset` at the current position: the client reloads its state and
 * resumes from there. */
static void write_reset(ev_client_t *c, const char *reason) {
  cJSON *d = cJSON_CreateObject();
  cJSON_AddStringToObject(d, "reason", reason);
  cJSON_AddNumberToObject(d, "position", (double)c->ev->last_pos);
  api_json_ints_raw(d);
  char *json = cJSON_PrintUnformatted(d);
  cJSON_Delete(d);
  char head[64];
  int n = snprintf(head, sizeof head, "id: %llu\nevent: reset\ndata: ",
                   (unsigned long long)c->ev->last_pos);
  pgd_http_stream_write(c->req, head, (size_t)n);
  if (json) pgd_http_stream_write(c->req, json, strlen(json));
  pgd_http_stream_write(c->req, "\n\n", 2);
  free(json);
}

/* A client too far behind: reset, then closed. */
static void client_drop(ev_client_t *c, const char *reason) {
  PGD_INFO("api", "event stream client dropped: %s", reason);
  client_unlink(c);
  pgd_http_req_on_abort(c->req, NULL, NULL);
  write_reset(c, reason);
  pgd_http_stream_close(c->req, DROP_GRACE_S);
  free(c);
}

/* Writes `len` bytes unless the client is too far behind (then drops it).
 * Returns false when dropped. */
static bool client_write(ev_client_t *c, const char *data, size_t len) {
  if (pgd_http_stream_pending(c->req) + len > c->ev->client_buffer) {
    client_drop(c, "the client fell behind (its buffer is full)");
    return false;
  }
  pgd_http_stream_write(c->req, data, len);
  return true;
}

static void frame_free(ev_frame_t *f) {
  free(f->text);
  f->text = NULL;
}

/* The frame in ev->scratch (from "id: ..." to the blank line) becomes
 * event `pos`: copied into the ring at its exact size, written to every
 * stream that takes it. */
static void publish_scratch(api_events_t *ev, uint64_t pos, unsigned kind, int64_t exec_id) {
  pgd_strbuf_t *b = &ev->scratch;
  if (b->oom) return;
  size_t n = b->len;
  char *text = malloc(n + 1);
  if (text) memcpy(text, b->data, n + 1);
  if (b->cap > SCRATCH_KEEP) pgd_strbuf_free(b); /* a huge frame's buffer is not kept */
  if (!text) return;
  ev->last_pos = pos;
  ev_frame_t *f = &ev->ring[(pos - 1) % ev->ring_cap];
  frame_free(f); /* the oldest frame leaves the ring */
  *f = (ev_frame_t){pos, kind, exec_id, text, n};
  for (ev_client_t *c = ev->clients, *next; c; c = next) {
    next = c->next;
    if (client_takes(c, f)) client_write(c, f->text, f->len);
  }
}

/* Starts the next frame in ev->scratch: "id: POS\nevent: KIND\ndata: ". */
static uint64_t frame_begin(api_events_t *ev, const char *kind_name) {
  uint64_t pos = ev->last_pos + 1;
  pgd_strbuf_t *b = &ev->scratch;
  pgd_strbuf_reset(b);
  b->oom = false;
  pgd_strbuf_append(b, "id: ", 4);
  pgd_json_print_int(b, (int64_t)pos);
  pgd_strbuf_append(b, "\nevent: ", 8);
  pgd_strbuf_puts(b, kind_name);
  pgd_strbuf_append(b, "\ndata: ", 7);
  return pos;
}

/* Formats the frame at once: a ring of trees to format on demand would
 * hold about four times the memory (a cJSON node per value). */
static void publish(api_events_t *ev, unsigned kind, const char *kind_name, int64_t exec_id,
                    cJSON *data /* taken */) {
  if (!data) return;
  cJSON_AddNumberToObject(data, "at_us", (double)pgd_now_us());
  /* One buffer for the whole frame; pgd_json_print writes integers as
   * integers itself (no api_json_ints_raw pass, no %g per number). */
  uint64_t pos = frame_begin(ev, kind_name);
  bool ok = pgd_json_print_append(&ev->scratch, data);
  cJSON_Delete(data);
  if (!ok) return;
  pgd_strbuf_append(&ev->scratch, "\n\n", 2);
  publish_scratch(ev, pos, kind, exec_id);
}

/* ---- the master's observers ---- */

/* An execution's frame is written straight from its record (no view tree,
 * no copies: api_exec_view_print), the same text as publish() of
 * {id, state, final, execution: api_exec_view_refs(rec, "definition"),
 * at_us}. The view leaves out `definition` (docs/api.md "Events"), which
 * holds secret_env values in clear in the master's record. This runs for
 * every state change of every execution, streams open or not (the ring
 * keeps them for resuming clients). */
static void on_state_change(void *ud, pgd_master_t *m, const pgd_master_exec_t *e) {
  (void)m;
  api_events_t *ev = ud;
  pgd_exec_state_t st = pgd_master_exec_state(e);
  int64_t id = pgd_master_exec_id(e);
  uint64_t pos = frame_begin(ev, "execution");
  pgd_strbuf_t *b = &ev->scratch;
  pgd_strbuf_append(b, "{\"id\":", 6);
  pgd_json_print_int(b, id);
  pgd_strbuf_append(b, ",\"state\":", 9);
  pgd_json_print_string(b, pgd_exec_state_name(st));
  if (pgd_exec_state_final(st)) pgd_strbuf_append(b, ",\"final\":true", 13);
  else pgd_strbuf_append(b, ",\"final\":false", 14);
  pgd_strbuf_append(b, ",\"execution\":", 13);
  if (!api_exec_view_print(b, pgd_master_exec_record(e), "definition")) return;
  pgd_strbuf_append(b, ",\"at_us\":", 9);
  pgd_json_print_int(b, pgd_now_us());
  pgd_strbuf_append(b, "}\n\n", 3);
  publish_scratch(ev, pos, K_EXECUTION, id);
}

static void on_event(void *ud, pgd_master_t *m, const char *kind, const cJSON *data) {
  (void)m;
  api_events_t *ev = ud;
  unsigned k = strcmp(kind, PGD_MASTER_EVENT_WORKER) == 0     ? K_WORKER
               : strcmp(kind, PGD_MASTER_EVENT_FLOW) == 0     ? K_FLOW
               : strcmp(kind, PGD_MASTER_EVENT_SCHEDULE) == 0 ? K_SCHEDULE
                                                              : 0;
  if (!k) return;
  cJSON *d = cJSON_Duplicate(data, 1);
  if (k == K_WORKER || k == K_FLOW) {
    /* Same text times as the REST views. */
    cJSON *item = cJSON_GetObjectItemCaseSensitive(d, k == K_WORKER ? "worker" : "flow_execution");
    if (cJSON_IsObject(item)) api_add_time_strings(item);
  }
  publish(ev, k, kind, 0, d);
}

/* ---- keep-alive ---- */

static void on_keepalive(uv_timer_t *t) {
  api_events_t *ev = t->data;
  bool leader = ev->m && pgd_master_is_leader(ev->m);
  for (ev_client_t *c = ev->clients, *next; c; c = next) {
    next = c->next;
    if (!leader) { /* stepped down: the client reconnects to the new leader */
      client_unlink(c);
      pgd_http_req_on_abort(c->req, NULL, NULL);
      write_reset(c, "this master is no longer the leader");
      pgd_http_stream_close(c->req, DROP_GRACE_S);
      free(c);
      continue;
    }
    client_write(c, ": keep-alive\n\n", 14);
  }
}

/* ---- lifecycle ---- */

api_events_t *api_events_new(pgd_api_t *api, pgd_master_t *m) {
  const pgd_api_config_t *cfg = &api->events_cfg;
  api_events_t *ev = calloc(1, sizeof *ev);
  if (!ev) return NULL;
  ev->m = m;
  ev->ring_cap = cfg->events_ring > 0 ? (size_t)cfg->events_ring : PGD_API_EVENTS_RING_DEFAULT;
  ev->client_buffer =
      cfg->events_client_buffer > 0 ? cfg->events_client_buffer : PGD_API_EVENTS_BUFFER_DEFAULT;
  int keepalive_ms =
      cfg->events_keepalive_ms > 0 ? cfg->events_keepalive_ms : PGD_API_EVENTS_KEEPALIVE_MS;
  ev->ring = calloc(ev->ring_cap, sizeof *ev->ring);
  ev->keepalive = calloc(1, sizeof *ev->keepalive);
  if (!ev->ring || !ev->keepalive) goto fail;
  uv_timer_init(api->loop, ev->keepalive);
  ev->keepalive->data = ev;
  uv_timer_start(ev->keepalive, on_keepalive, (uint64_t)keepalive_ms, (uint64_t)keepalive_ms);
  pgd_master_observer_t obs = {.on_state_change = on_state_change, .on_event = on_event, .ud = ev};
  ev->obs_handle = pgd_master_subscribe(m, &obs);
  if (ev->obs_handle < 0) {
    ev->obs_handle = 0;
    uv_close((uv_handle_t *)ev->keepalive, (uv_close_cb)free);
    ev->keepalive = NULL;
    goto fail;
  }
  return ev;
fail:
  free(ev->keepalive);
  free(ev->ring);
  free(ev);
  return NULL;
}

void api_events_stop(api_events_t *ev) {
  if (!ev) return;
  if (ev->obs_handle > 0) pgd_master_unsubscribe(ev->m, ev->obs_handle);
  ev->obs_handle = 0;
  if (ev->keepalive) uv_close((uv_handle_t *)ev->keepalive, (uv_close_cb)free);
  ev->keepalive = NULL;
  while (ev->clients) { /* the streams end; the server closes next */
    ev_client_t *c = ev->clients;
    client_unlink(c);
    pgd_http_req_on_abort(c->req, NULL, NULL);
    pgd_http_stream_end(c->req);
    free(c);
  }
}

void api_events_free(api_events_t *ev) {
  if (!ev) return;
  if (ev->keepalive) uv_close((uv_handle_t *)ev->keepalive, (uv_close_cb)free);
  for (size_t i = 0; i < ev->ring_cap; i++) frame_free(&ev->ring[i]);
  free(ev->ring);
  pgd_strbuf_free(&ev->scratch);
  while (ev->clients) { /* not stopped: the requests are gone with the server */
    ev_client_t *c = ev->clients;
    client_unlink(c);
    free(c);
  }
  free(ev);
}

/* ---- the route ---- */

static void client_abort(pgd_http_req_t *req, void *ud) {
  (void)req;
  ev_client_t *c = ud;
  client_unlink(c);
  free(c);
}

/* "execution,worker" → K_* bits; false on an unknown name. */
static bool parse_kinds(const char *s, unsigned *out) {
  *out = 0;
  while (*s) {
    const char *end = strchr(s, ',');
    size_t n = end ? (size_t)(end - s) : strlen(s);
    static const struct {
      const char *name;
      unsigned bit;
    } names[] = {{"execution", K_EXECUTION}, {"flow", K_FLOW}, {"worker", K_WORKER},
                 {"schedule", K_SCHEDULE}};
    bool known = n == 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if (strlen(names[i].name) == n && strncmp(names[i].name, s, n) == 0) {
        *out |= names[i].bit;
        known = true;
      }
    if (!known) return false;
    s += n;
    if (*s == ',') s++;
  }
  return *out != 0;
}

static bool parse_position(const char *s, uint64_t *out) {
  if (!s || !*s || strlen(s) > 20) return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end || errno || s[0] == '-') return false;
  *out = v;
  return true;
}

/* Content negotiation: a client that says what it accepts must accept the
 * stream (an API client asking for JSON would otherwise wait forever). */
static bool accepts_stream(const char *accept) {
  return !accept || !*accept || strstr(accept, "text/event-stream") || strstr(accept, "*/*") ||
         strstr(accept, "text/*");
}

void api_events_stream(api_req_t *r) {
  api_events_t *ev = r->api->events;

  if (!ev) {
    pgd_http_respond_error(r->req, 503, "the event stream is not running");
    return;
  }
  unsigned kinds = K_ALL;
  const char *ks = pgd_http_req_query(r->req, "kinds");
  if (ks && !parse_kinds(ks, &kinds)) {
    pgd_http_respond_error(r->req, 400,
                           "kinds must be a comma-separated list of execution, flow, worker, schedule");
    return;
  }
  int64_t exec_id = 0;
  const char *xs = pgd_http_req_query(r->req, "execution");
  if (xs && !api_parse_id(xs, &exec_id)) {
    pgd_http_respond_error(r->req, 400, "execution must be an execution id");
    return;
  }
  if (exec_id > 0) kinds &= K_EXECUTION;
  if (!kinds) {
    pgd_http_respond_error(r->req, 400, "execution=ID takes execution events only");
    return;
  }
  /* Last-Event-ID (a reconnecting EventSource) wins over ?since=. */
  const char *since_s = pgd_http_req_header(r->req, "last-event-id");
  if (!since_s) since_s = pgd_http_req_query(r->req, "since");
  uint64_t since = 0;
  bool resume = since_s != NULL;
  if (resume && !parse_position(since_s, &since)) {
    pgd_http_respond_error(r->req, 400, "Last-Event-ID / since must be an event position");
    return;
  }
  if (!accepts_stream(pgd_http_req_header(r->req, "accept"))) {
    pgd_http_respond_error(r->req, 406,
                           "this route is a stream of text/event-stream; accept it (Accept: "
                           "text/event-stream)");
    return;
  }
  ev_client_t *c = calloc(1, sizeof *c);
  if (!c) abort();
  *c = (ev_client_t){.ev = ev, .req = r->req, .kinds = kinds, .exec_id = exec_id};
  pgd_http_req_add_header(r->req, "Cache-Control", "no-cache");
  pgd_http_req_add_header(r->req, "X-Accel-Buffering", "no");
  pgd_http_stream_start(r->req, 200, "text/event-stream; charset=utf-8");
  /* The first bytes: a comment, so the client sees the stream is open. */
  char hello[96];
  int n = snprintf(hello, sizeof hello, ": pagoda events, position %llu\n\n",
                   (unsigned long long)ev->last_pos);
  pgd_http_stream_write(r->req, hello, (size_t)n);
  c->next = ev->clients;
  if (ev->clients) ev->clients->prev = c;
  ev->clients = c;
  pgd_http_req_on_abort(r->req, client_abort, c);
  if (!resume || since == ev->last_pos) return;
  uint64_t oldest = ev->last_pos >= ev->ring_cap ? ev->last_pos - ev->ring_cap + 1 : 1;
  if (since > ev->last_pos || since + 1 < oldest) {
    write_reset(c, since > ev->last_pos ? "the position is unknown to this master (restarted?)"
                                        : "the position is older than the event ring");
    return;
  }
  /* The replay is not held to client_buffer (it is bounded by the ring):
   * a client resuming after a burst must be able to catch up. */
  for (uint64_t p = since + 1; p <= ev->last_pos; p++) {
    const ev_frame_t *f = &ev->ring[(p - 1) % ev->ring_cap];
    if (client_takes(c, f)) pgd_http_stream_write(c->req, f->text, f->len);
  }
}
