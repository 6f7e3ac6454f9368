#include "net/conn.h"
#include "net/conn_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/metrics.h"
#include "net/msg.h"
#include "net/tls.h"

#define MOD "net"
#define LISTEN_BACKLOG 4096
#define READ_BUF_SIZE ((size_t)64 * 1024)

typedef struct {
  uv_write_t req;
  char *first_base; /* bufs[0].base as allocated (a partial write advanced it) */
  size_t nbufs;
  uv_buf_t bufs[];
} conn_write_t;

/* One read buffer per loop thread: libuv hands it to exactly one read
 * callback at a time, and the decoder copies what it must keep. */
static __thread char tls_read_buf[READ_BUF_SIZE];
/* Plaintext out of the TLS engine, same rule. */
static __thread char plain_read_buf[READ_BUF_SIZE];

static void conn_begin_close(pgd_conn_t *c, int reason, int graceful);

/* ---- addresses ---------------------------------------------------------- */

static int parse_numeric(const char *host, int port, struct sockaddr_storage *ss) {
  memset(ss, 0, sizeof *ss);
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
  return UV_EINVAL;
}

static void format_addr(const struct sockaddr *sa, char *out, size_t len) {
  char ip[INET6_ADDRSTRLEN] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    uv_ip4_name(in, ip, sizeof ip);
    port = ntohs(in->sin_port);
    snprintf(out, len, "%s:%d", ip, port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    uv_ip6_name(in6, ip, sizeof ip);
    port = ntohs(in6->sin6_port);
    snprintf(out, len, "[%s]:%d", ip, port);
  } else {
    snprintf(out, len, "?");
  }
}

static void conn_fill_peer(pgd_conn_t *c) {
  struct sockaddr_storage ss;
  int n = sizeof ss;
  if (uv_tcp_getpeername(&c->io.tcp, (struct sockaddr *)&ss, &n) == 0)
    format_addr((struct sockaddr *)&ss, c->peer, sizeof c->peer);
}

/* ---- life cycle --------------------------------------------------------- */

pgd_conn_t *pgd_conn__new(uv_loop_t *loop, size_t max_frame, int local) {
  pgd_conn_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  if ((local ? uv_pipe_init(loop, &c->io.pipe, 0) : uv_tcp_init(loop, &c->io.tcp)) != 0) {
    free(c);
    return NULL;
  }
  c->io.handle.data = c;
  c->local = local;
  c->loop = loop;
  c->refs = 1;
  c->max_frame = max_frame ? max_frame : PGD_FRAME_MAX_DEFAULT;
  pgd_frame_decoder_init(&c->dec, c->max_frame);
  c->linger.data = c;
  snprintf(c->peer, sizeof c->peer, local ? "local" : "?");
  return c;
}

static void conn_free(pgd_conn_t *c) {
  for (size_t i = 0; i < c->npend; i++) free(c->pend[i].base);
  free(c->pend);
  pgd_frame_decoder_free(&c->dec);
  pgd_tls_free(c->tls);
  free(c);
}

static void conn_unref(pgd_conn_t *c) {
  if (--c->refs > 0) return;
  /* A local client closed before its connect completed: on_connect gets
   * UV_ECANCELED before on_close, as libuv reports a cancelled TCP connect. */
  if (c->local_connect_pending && !c->silent && c->cbs.on_connect)
    c->cbs.on_connect(c, UV_ECANCELED, c->ud);
  if (!c->silent && c->cbs.on_close) c->cbs.on_close(c, c->reason, c->ud);
  conn_free(c);
}

static void on_handle_closed(uv_handle_t *h) { conn_unref(h->data); }

/* Closes the handles now; pending write/connect/shutdown requests are
 * cancelled by libuv before the close callback runs. */
void pgd_conn__close_now(pgd_conn_t *c) {
  if (!uv_is_closing(&c->io.handle)) uv_close(&c->io.handle, on_handle_closed);
  if (c->timer_inited && !uv_is_closing((uv_handle_t *)&c->linger))
    uv_close((uv_handle_t *)&c->linger, on_handle_closed);
  if (c->deadline_inited && !uv_is_closing((uv_handle_t *)&c->deadline))
    uv_close((uv_handle_t *)&c->deadline, on_handle_closed);
  if (c->flusher_inited && !uv_is_closing((uv_handle_t *)&c->flusher))
    uv_close((uv_handle_t *)&c->flusher, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status) {
  pgd_conn_t *c = req->handle->data;
  pgd_conn__close_now(c);
}

static void on_linger(uv_timer_t *t) {
  pgd_conn_t *c = t->data;
  PGD_WARN(MOD, "%s: queued data not flushed within %d ms; closing", c->peer, PGD_CONN_LINGER_MS);
  pgd_conn__close_now(c);
}

/* ---- writes ------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status);

/* Writes the ciphertext the TLS engine has produced (handshake records,
 * encrypted frames, alerts) in one uv_write; order is kept by libuv. */
static int tls_send_out(pgd_conn_t *c) {
  char *data;
  size_t n = pgd_tls_take(c->tls, &data);
  if (n == 0) return 0;
  if (!c->connected || uv_is_closing(&c->io.handle)) {
    free(data);
    return 0;
  }
  conn_write_t *w = malloc(sizeof *w + sizeof(uv_buf_t));
  if (!w) {
    free(data);
    return -ENOMEM;
  }
  w->nbufs = 1;
  w->bufs[0] = uv_buf_init(data, (unsigned)n);
  w->first_base = data;
  int rc = uv_write(&w->req, &c->io.stream, w->bufs, 1, on_write);
  if (rc < 0) {
    free(data);
    free(w);
    return rc;
  }
  c->writes_inflight++;
  return 0;
}

/* TLS: encrypts every pending frame, then writes the ciphertext at once.
 * Before the handshake completes frames wait. */
static int conn_flush_tls(pgd_conn_t *c) {
  if (!c->tls_ready) return 0;
  int rc = 0;
  for (size_t i = 0; i < c->npend; i++) {
    if (rc == 0 && pgd_tls_write(c->tls, c->pend[i].base, c->pend[i].len) < 0) rc = PGD_FRAME_ETLS;
    free(c->pend[i].base);
  }
  c->npend = 0;
  c->pend_bytes = 0;
  if (rc < 0) return rc;
  return tls_send_out(c);
}

/* Hands every pending frame to the socket: first as a synchronous
 * uv_try_write when nothing is in flight (no write request, no completion
 * callback, no epoll change: libuv re-arms the socket's watcher after every
 * uv_write), then what did not fit to one uv_write. */
static int conn_flush(pgd_conn_t *c) {
  if (c->npend == 0 || !c->connected || c->shutting_down) return 0;
  if (uv_is_closing(&c->io.handle)) return 0;
  if (c->tls) return conn_flush_tls(c);
  size_t done = 0;     /* whole frames written */
  size_t partial = 0;  /* bytes written of frame `done` */
  if (c->writes_inflight == 0 && c->io.stream.write_queue_size == 0) {
    int n = uv_try_write(&c->io.stream, c->pend, (unsigned)c->npend);
    if (n < 0 && n != UV_EAGAIN) return n; /* broken: the frames stay queued, freed with c */
    size_t left = n > 0 ? (size_t)n : 0;
    while (done < c->npend && left >= c->pend[done].len) {
      left -= c->pend[done].len;
      free(c->pend[done].base);
      done++;
    }
    partial = left;
  }
  if (done == c->npend) {
    c->npend = 0;
    c->pend_bytes = 0;
    return 0;
  }
  size_t nb = c->npend - done;
  conn_write_t *w = malloc(sizeof *w + nb * sizeof(uv_buf_t));
  if (!w) {
    /* Keep what is left queued (the written part of a frame is dropped from it). */
    memmove(c->pend, c->pend + done, nb * sizeof(uv_buf_t));
    c->npend = nb;
    if (partial) {
      memmove(c->pend[0].base, c->pend[0].base + partial, c->pend[0].len - partial);
      c->pend[0].len -= (unsigned)partial;
    }
    c->pend_bytes = 0;
    for (size_t i = 0; i < nb; i++) c->pend_bytes += c->pend[i].len;
    return -ENOMEM;
  }
  memcpy(w->bufs, c->pend + done, nb * sizeof(uv_buf_t));
  w->first_base = w->bufs[0].base;
  w->bufs[0].base += partial;
  w->bufs[0].len -= (unsigned)partial;
  w->nbufs = nb;
  c->npend = 0;
  c->pend_bytes = 0;
  int rc = uv_write(&w->req, &c->io.stream, w->bufs, (unsigned)w->nbufs, on_write);
  if (rc < 0) {
    free(w->first_base);
    for (size_t i = 1; i < w->nbufs; i++) free(w->bufs[i].base);
    free(w);
    return rc;
  }
  c->writes_inflight++;
  return 0;
}

static void on_write(uv_write_t *req, int status) {
  conn_write_t *w = (conn_write_t *)req;
  pgd_conn_t *c = req->handle->data;
  free(w->first_base);
  for (size_t i = 1; i < w->nbufs; i++) free(w->bufs[i].base);
  free(w);
  c->writes_inflight--;
  if (status < 0) {
    if (status != UV_ECANCELED) {
      PGD_DEBUG(MOD, "%s: write failed: %s", c->peer, uv_strerror(status));
      conn_begin_close(c, status, 0);
    }
    return;
  }
  if (c->npend > 0) {
    int rc = conn_flush(c);
    if (rc < 0) conn_begin_close(c, rc, 0);
  }
}

static void conn_connected(pgd_conn_t *c, int status);

static void on_flush_idle(uv_idle_t *h) {
  pgd_conn_t *c = h->data;
  uv_idle_stop(h);
  if (c->local_connect_pending) { /* a local pair's client: connected from the loop */
    c->local_connect_pending = 0;
    conn_connected(c, 0);
    return;
  }
  if (c->writes_inflight > 0) return; /* on_write flushes what gathered */
  int rc = conn_flush(c);
  if (rc < 0) conn_begin_close(c, rc, 0);
}

/* Frames queued while nothing is in flight are written together at the
 * start of the next loop iteration (before it polls: no added latency
 * beyond the callbacks of this one). Frames queued while a write is in
 * flight gather until it completes (on_write). */
static int conn_schedule_flush(pgd_conn_t *c) {
  if (c->writes_inflight > 0 || !c->connected || c->shutting_down) return 0;
  if (pgd_conn__arm_idle(c) < 0) return conn_flush(c); /* then at once */
  return 0;
}

int pgd_conn__arm_idle(pgd_conn_t *c) {
  if (!c->flusher_inited) {
    int rc = uv_idle_init(c->loop, &c->flusher);
    if (rc != 0) return rc;
    c->flusher.data = c;
    c->flusher_inited = 1;
    c->refs++; /* released by the handle's close callback */
  }
  if (uv_is_closing((uv_handle_t *)&c->flusher)) return UV_EPIPE;
  if (!uv_is_active((uv_handle_t *)&c->flusher)) uv_idle_start(&c->flusher, on_flush_idle);
  return 0;
}

/* Encodes and queues a frame regardless of the state; it is written with
 * the others of this loop iteration (conn_schedule_flush).
 * `check_max`: refuse a payload above our maximum frame size (assumed to be
 * the peer's too). */
static int conn_queue(pgd_conn_t *c, pgd_msg_type_t type, cJSON *body, int check_max) {
  char *frame;
  size_t len;
  int rc = pgd_frame_encode(type, body, &frame, &len);
  if (rc < 0) return rc;
  if (check_max && len - PGD_FRAME_HEADER_SIZE > c->max_frame) {
    free(frame);
    return PGD_FRAME_ETOOBIG;
  }
  if (c->npend == c->pend_cap) {
    size_t cap = c->pend_cap ? c->pend_cap * 2 : 8;
    uv_buf_t *nb = realloc(c->pend, cap * sizeof *nb);
    if (!nb) {
      free(frame);
      return -ENOMEM;
    }
    c->pend = nb;
    c->pend_cap = cap;
  }
  c->pend[c->npend++] = uv_buf_init(frame, (unsigned)len);
  c->pend_bytes += len;
  return conn_schedule_flush(c);
}

/* pagoda_rpc_messages_total{type, direction} (docs/observability.md):
 * children resolved once per type and direction; connections live on the
 * loop thread, the owner of the registry. */
static void count_message(pgd_msg_type_t type, int out) {
  static pgd_metric_family_t *fam;
  static pgd_metric_t *child[PGD_MSG__COUNT][2];
  if (!pgd_metrics_enabled() || (unsigned)type >= PGD_MSG__COUNT) return;
  if (!child[type][out]) {
    if (!fam)
      fam = pgd_metrics_family(
          pgd_metrics_default(),
          &(pgd_metric_desc_t){.name = "pagoda_rpc_messages_total",
                               .help = "Master-worker protocol messages, by type and direction "
                                       "(in = received, out = queued to send).",
                               .kind = PGD_METRIC_COUNTER,
                               .labels = {"type", "direction", NULL}});
    child[type][out] =
        pgd_metric_child(fam, (const char *const[]){pgd_msg_name(type), out ? "out" : "in"});
  }
  pgd_metric_inc(child[type][out]);
}

int pgd_conn_send(pgd_conn_t *c, pgd_msg_type_t type, cJSON *body) {
  if (!c) return -EINVAL;
  count_message(type, 1);
  if (c->state == CONN_CLOSING) return UV_EPIPE;
  int rc = conn_queue(c, type, body, 1);
  if (rc < 0 && rc != PGD_FRAME_ETOOBIG && rc != -EINVAL && rc != -ENOMEM) {
    /* uv_write refused: the stream is broken. */
    conn_begin_close(c, rc, 0);
  }
  return rc;
}

size_t pgd_conn_write_queue_size(const pgd_conn_t *c) {
  return c->pend_bytes + c->io.stream.write_queue_size;
}

/* ---- closing ------------------------------------------------------------ */

static void conn_begin_close(pgd_conn_t *c, int reason, int graceful) {
  if (c->state == CONN_CLOSING) return;
  conn_state_t prev = c->state;
  c->state = CONN_CLOSING;
  c->reason = reason;
  if (prev == CONN_RESOLVING) {
    uv_cancel((uv_req_t *)&c->gai_req); /* its callback still runs */
    pgd_conn__close_now(c);
    return;
  }
  if (prev == CONN_CONNECTING) { /* on_connect gets UV_ECANCELED */
    pgd_conn__close_now(c);
    return;
  }
  uv_read_stop(&c->io.stream);
  if (graceful && c->connected) {
    if (c->tls && c->tls_ready && conn_flush(c) == 0) {
      pgd_tls_shutdown(c->tls); /* close_notify, then the FIN */
      (void)tls_send_out(c);
    }
    if (conn_flush(c) == 0 &&
        uv_shutdown(&c->shutdown_req, &c->io.stream, on_shutdown) == 0) {
      c->shutting_down = 1;
      if (uv_timer_init(c->loop, &c->linger) == 0) {
        c->timer_inited = 1;
        c->refs++;
        uv_timer_start(&c->linger, on_linger, PGD_CONN_LINGER_MS, 0);
      }
      return;
    }
  }
  pgd_conn__close_now(c);
}

void pgd_conn_close(pgd_conn_t *c) {
  if (c) conn_begin_close(c, 0, 1);
}

static void on_deadline(uv_timer_t *t) {
  pgd_conn_t *c = t->data;
  PGD_WARN(MOD, "%s: deadline passed (e.g. no hello in time); closing", c->peer);
  conn_begin_close(c, UV_ETIMEDOUT, 0);
}

int pgd_conn_set_deadline(pgd_conn_t *c, uint64_t ms) {
  if (!c || c->state == CONN_CLOSING) return UV_EPIPE;
  if (!c->deadline_inited) {
    if (ms == 0) return 0;
    int rc = uv_timer_init(c->loop, &c->deadline);
    if (rc != 0) return rc;
    c->deadline.data = c;
    c->deadline_inited = 1;
    c->refs++; /* released by the handle's close callback */
  }
  return ms ? uv_timer_start(&c->deadline, on_deadline, ms, 0) : uv_timer_stop(&c->deadline);
}

/* ---- reads -------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  buf->base = tls_read_buf;
  buf->len = sizeof tls_read_buf;
}

static int on_frame(void *ud, pgd_msg_type_t type, cJSON *msg) {
  pgd_conn_t *c = ud;
  if (c->state != CONN_OPEN) return 1;
  count_message(type, 0);
  if (c->cbs.on_message) c->cbs.on_message(c, type, msg, c->ud);
  return c->state != CONN_OPEN ? 1 : 0;
}

static void conn_protocol_error(pgd_conn_t *c, int err) {
  PGD_WARN(MOD, "%s: malformed frame (%s); closing the connection", c->peer,
           pgd_frame_strerror(err));
  pgd_msg_error_t e = {.reason = pgd_frame_strerror(err), .code = pgd_msg_int(err)};
  cJSON *body = pgd_msg_error_encode(&e);
  if (body) (void)conn_queue(c, PGD_MSG_ERROR, body, 0); /* small: whatever our own max */
  cJSON_Delete(body);
  conn_begin_close(c, err, 1);
}

static void conn_tls_failed(pgd_conn_t *c, const char *when) {
  PGD_WARN(MOD, "%s: TLS %s failed: %s; closing the connection", c->peer, when,
           pgd_tls_error(c->tls)[0] ? pgd_tls_error(c->tls) : "unknown reason");
  (void)tls_send_out(c); /* the alert telling the peer why, if any */
  conn_begin_close(c, PGD_FRAME_ETLS, 1);
}

/* TLS: advances the handshake, then decrypts what arrived into frames. */
static void tls_pump(pgd_conn_t *c) {
  if (!c->tls_ready) {
    int rc = pgd_tls_handshake(c->tls);
    if (rc < 0) {
      conn_tls_failed(c, "handshake");
      return;
    }
    if (tls_send_out(c) < 0) {
      conn_begin_close(c, UV_ENOMEM, 0);
      return;
    }
    if (rc == 0) return;
    c->tls_ready = 1;
    PGD_DEBUG(MOD, "%s: TLS handshake complete", c->peer);
    if (conn_flush(c) < 0) {
      conn_begin_close(c, PGD_FRAME_ETLS, 0);
      return;
    }
  }
  while (c->state == CONN_OPEN) {
    long n = pgd_tls_read(c->tls, plain_read_buf, sizeof plain_read_buf);
    if (n == 0) break;
    if (n == -ECONNRESET) { /* close_notify: like EOF */
      PGD_DEBUG(MOD, "%s: peer closed the TLS session", c->peer);
      conn_begin_close(c, UV_EOF, 1);
      return;
    }
    if (n < 0) {
      conn_tls_failed(c, "read");
      return;
    }
    int rc = pgd_frame_decoder_feed(&c->dec, plain_read_buf, (size_t)n, on_frame, c);
    if (rc < 0) {
      conn_protocol_error(c, rc);
      return;
    }
  }
  if (c->state == CONN_OPEN && tls_send_out(c) < 0) conn_begin_close(c, UV_ENOMEM, 0);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  pgd_conn_t *c = s->data;
  if (nread > 0) {
    if (c->state != CONN_OPEN) return;
    if (c->tls) {
      if (pgd_tls_feed(c->tls, buf->base, (size_t)nread) < 0)
        conn_begin_close(c, UV_ENOMEM, 0);
      else
        tls_pump(c);
      return;
    }
    int rc = pgd_frame_decoder_feed(&c->dec, buf->base, (size_t)nread, on_frame, c);
    if (rc < 0) conn_protocol_error(c, rc);
  } else if (nread < 0) {
    if (nread == UV_EOF) {
      if (c->tls && !c->tls_ready)
        PGD_WARN(MOD, "%s: peer closed during the TLS handshake (does it trust our certificate?)",
                 c->peer);
      else if (pgd_frame_decoder_partial(&c->dec))
        PGD_WARN(MOD, "%s: peer closed in the middle of a frame", c->peer);
      else
        PGD_DEBUG(MOD, "%s: peer closed the connection", c->peer);
      conn_begin_close(c, UV_EOF, 1);
    } else {
      PGD_INFO(MOD, "%s: read failed: %s", c->peer, uv_strerror((int)nread));
      conn_begin_close(c, (int)nread, 0);
    }
  }
}

static int conn_start_open(pgd_conn_t *c) {
  c->state = CONN_OPEN;
  c->connected = 1;
  if (!c->local) { /* a local stream has no Nagle and no address: its peer reads "local" */
    uv_tcp_nodelay(&c->io.tcp, 1);
    conn_fill_peer(c);
  }
  return 0;
}

static void conn_start_reading(pgd_conn_t *c) {
  if (c->state != CONN_OPEN) return;
  int rc = uv_read_start(&c->io.stream, on_alloc, on_read);
  if (rc < 0) conn_begin_close(c, rc, 0);
}

/* ---- accessors ---------------------------------------------------------- */

void pgd_conn_set_callbacks(pgd_conn_t *c, const pgd_conn_cbs_t *cbs, void *ud) {
  if (cbs)
    c->cbs = *cbs;
  else
    memset(&c->cbs, 0, sizeof c->cbs);
  c->ud = ud;
}

const char *pgd_conn_peer(const pgd_conn_t *c) { return c->peer; }
void pgd_conn_set_data(pgd_conn_t *c, void *data) { c->data = data; }
void *pgd_conn_get_data(const pgd_conn_t *c) { return c->data; }

/* ---- client side -------------------------------------------------------- */

/* The client's connect finished (TCP: libuv's callback; a local pair's
 * client: its first idle). */
static void conn_connected(pgd_conn_t *c, int status) {
  if (status == 0 && c->state == CONN_CONNECTING) {
    conn_start_open(c);
    PGD_DEBUG(MOD, "connected to %s", c->peer);
  } else if (status == 0) {
    status = UV_ECANCELED;
  }
  if (status < 0) {
    if (status != UV_ECANCELED)
      PGD_INFO(MOD, "connect to %s failed: %s", c->peer, uv_strerror(status));
    conn_begin_close(c, status, 0); /* no-op when the caller closed it */
    if (c->cbs.on_connect) c->cbs.on_connect(c, status, c->ud);
    return;
  }
  if (c->cbs.on_connect) c->cbs.on_connect(c, 0, c->ud);
  conn_start_reading(c);
  if (c->state == CONN_OPEN && c->tls) {
    tls_pump(c); /* sends the ClientHello */
  } else if (c->state == CONN_OPEN) {
    int rc = conn_flush(c);
    if (rc < 0) conn_begin_close(c, rc, 0);
  }
}

static void on_connect(uv_connect_t *req, int status) { conn_connected(req->handle->data, status); }

static int conn_do_connect(pgd_conn_t *c, const struct sockaddr *sa) {
  c->state = CONN_CONNECTING;
  return uv_tcp_connect(&c->connect_req, &c->io.tcp, sa, on_connect);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  pgd_conn_t *c = req->data;
  int rc = status;
  if (c->state == CONN_RESOLVING) {
    c->state = CONN_CONNECTING; /* resolution is over: nothing to cancel */
    if (rc == 0 && !res) rc = UV_EAI_NONAME;
    if (rc == 0) {
      struct sockaddr_storage ss;
      memset(&ss, 0, sizeof ss);
      memcpy(&ss, res->ai_addr, res->ai_addrlen <= sizeof ss ? res->ai_addrlen : sizeof ss);
      ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)c->port); /* same offset in v6 */
      rc = conn_do_connect(c, (struct sockaddr *)&ss);
    }
  } else {
    rc = UV_ECANCELED;
  }
  if (res) uv_freeaddrinfo(res);
  if (rc < 0) {
    if (c->state != CONN_CLOSING)
      PGD_INFO(MOD, "cannot connect to %s: %s", c->peer, uv_strerror(rc));
    conn_begin_close(c, rc, 0);
    if (c->cbs.on_connect) c->cbs.on_connect(c, rc, c->ud);
  }
  conn_unref(c);
}

int pgd_conn_connect(uv_loop_t *loop, const char *host, int port, size_t max_frame,
                     const pgd_conn_cbs_t *cbs, void *ud, pgd_conn_t **out) {
  if (!loop || !host || !out || port <= 0 || port > 65535) return UV_EINVAL;
  *out = NULL;
  pgd_conn_t *c = pgd_conn__new(loop, max_frame, 0);
  if (!c) return UV_ENOMEM;
  pgd_conn_set_callbacks(c, cbs, ud);
  c->port = port;
  snprintf(c->peer, sizeof c->peer, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);

  struct sockaddr_storage ss;
  int rc;
  if (parse_numeric(host, port, &ss) == 0) {
    rc = conn_do_connect(c, (struct sockaddr *)&ss);
  } else {
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->state = CONN_RESOLVING;
    c->gai_req.data = c;
    rc = uv_getaddrinfo(loop, &c->gai_req, on_resolved, host, NULL, &hints);
    if (rc == 0) c->refs++;
  }
  if (rc < 0) {
    c->silent = 1;
    c->state = CONN_CLOSING;
    pgd_conn__close_now(c);
    return rc;
  }
  *out = c;
  return 0;
}

/* ---- server side -------------------------------------------------------- */

static void on_connection(uv_stream_t *server, int status) {
  pgd_listener_t *l = server->data;
  if (status < 0) {
    PGD_WARN(MOD, "accept on port %d failed: %s", l->port, uv_strerror(status));
    return;
  }
  pgd_conn_t *c = pgd_conn__new(server->loop, l->max_frame, 0);
  if (!c) {
    PGD_ERROR(MOD, "out of memory accepting a connection on port %d", l->port);
    return;
  }
  int rc = uv_accept(server, &c->io.stream);
  if (rc < 0) {
    PGD_WARN(MOD, "accept on port %d failed: %s", l->port, uv_strerror(rc));
    c->silent = 1;
    c->state = CONN_CLOSING;
    pgd_conn__close_now(c);
    return;
  }
  pgd_conn__accepted(l, c);
}

void pgd_conn__accepted(pgd_listener_t *l, pgd_conn_t *c) {
  conn_start_open(c);
  PGD_DEBUG(MOD, "accepted %s on port %d", c->peer, l->port);
  /* A local stream never leaves the process: no TLS on it. */
  if (l->tls && !c->local && !(c->tls = pgd_tls_new(l->tls, true, NULL))) {
    PGD_ERROR(MOD, "out of memory starting TLS with %s; closing", c->peer);
    c->silent = 1;
    conn_begin_close(c, UV_ENOMEM, 0);
    return;
  }
  if (l->on_accept) l->on_accept(l, c, l->ud);
  conn_start_reading(c);
}

static int listener_addr(uv_loop_t *loop, const char *host, int port,
                         struct sockaddr_storage *ss) {
  if (parse_numeric(host, port, ss) == 0) return 0;
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  uv_getaddrinfo_t req;
  int rc = uv_getaddrinfo(loop, &req, NULL, host, NULL, &hints); /* synchronous */
  if (rc < 0) return rc;
  if (!req.addrinfo) return UV_EAI_NONAME;
  memset(ss, 0, sizeof *ss);
  size_t n = req.addrinfo->ai_addrlen;
  memcpy(ss, req.addrinfo->ai_addr, n <= sizeof *ss ? n : sizeof *ss);
  ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
  uv_freeaddrinfo(req.addrinfo);
  return 0;
}

static void on_listener_closed(uv_handle_t *h) { free(h->data); }

int pgd_listener_start(uv_loop_t *loop, const char *host, int port, size_t max_frame,
                       pgd_accept_cb on_accept, void *ud, pgd_listener_t **out) {
  if (!loop || !host || !out || port < 0 || port > 65535) return UV_EINVAL;
  *out = NULL;
  struct sockaddr_storage ss;
  int rc = listener_addr(loop, host, port, &ss);
  if (rc < 0) return rc;
  pgd_listener_t *l = calloc(1, sizeof *l);
  if (!l) return UV_ENOMEM;
  l->max_frame = max_frame ? max_frame : PGD_FRAME_MAX_DEFAULT;
  l->on_accept = on_accept;
  l->ud = ud;
  rc = uv_tcp_init(loop, &l->tcp);
  if (rc < 0) {
    free(l);
    return rc;
  }
  l->tcp.data = l;
  rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&l->tcp, LISTEN_BACKLOG, on_connection);
  if (rc == 0) {
    struct sockaddr_storage bound;
    int n = sizeof bound;
    rc = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &n);
    if (rc == 0)
      l->port = bound.ss_family == AF_INET6
                    ? ntohs(((struct sockaddr_in6 *)&bound)->sin6_port)
                    : ntohs(((struct sockaddr_in *)&bound)->sin_port);
  }
  if (rc < 0) {
    uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
    return rc;
  }
  PGD_INFO(MOD, "listening on %s port %d", host, l->port);
  *out = l;
  return 0;
}

int pgd_listener_port(const pgd_listener_t *l) { return l ? l->port : -1; }

void pgd_listener_set_tls(pgd_listener_t *l, pgd_tls_ctx_t *ctx) {
  if (l) l->tls = ctx;
}

int pgd_conn_set_tls(pgd_conn_t *c, pgd_tls_ctx_t *ctx, const char *peer_host) {
  if (!c || !ctx || c->tls || c->connected || c->local) return -EINVAL;
  c->tls = pgd_tls_new(ctx, false, peer_host);
  return c->tls ? 0 : -ENOMEM;
}

int pgd_conn_is_tls(const pgd_conn_t *c) { return c && c->tls ? 1 : 0; }

void pgd_listener_close(pgd_listener_t *l) {
  if (!l || uv_is_closing((uv_handle_t *)&l->tcp)) return;
  uv_close((uv_handle_t *)&l->tcp, on_listener_closed);
}
