/* Pagoda — internals of net/conn.h shared by conn.c (TCP connections, the
 * listener, frames) and conn_local.c (the in-process Unix-domain pair).
 * Not a public header: everything here follows conn.h's thread rules (the
 * loop's thread only). */
#ifndef PAGODA_NET_CONN_INT_H
#define PAGODA_NET_CONN_INT_H

#include "net/conn.h"

typedef enum {
  CONN_RESOLVING,  /* client: waiting for getaddrinfo */
  CONN_CONNECTING, /* client: waiting for the TCP connect (or a local pair's first iteration) */
  CONN_OPEN,       /* reading and writing */
  CONN_CLOSING     /* no more reads or messages; flushing or closing */
} conn_state_t;

struct pgd_conn {
  /* The stream: TCP, or a Unix-domain socket of a local pair (`local`).
   * Everything but connecting, TCP_NODELAY and the peer's address goes
   * through `stream`; io.handle.data = the conn. */
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } io;
  int local;                 /* io is a pipe of pgd_listener_connect_local: never TLS */
  int local_connect_pending; /* local client: on_connect(0) not yet delivered (the idle does it) */
  uv_loop_t *loop;
  pgd_conn_cbs_t cbs;
  void *ud;
  void *data;
  pgd_frame_decoder_t dec;
  size_t max_frame;
  conn_state_t state;
  int reason;        /* reported by on_close */
  int refs;          /* open handles + getaddrinfo in flight */
  int connected;     /* the socket is connected: writes may be issued */
  int silent;        /* failed before the caller got it: no callbacks */
  int shutting_down; /* uv_shutdown issued: no more writes */
  int timer_inited;
  int port;          /* connect target port */
  int writes_inflight;
  uv_connect_t connect_req;
  uv_getaddrinfo_t gai_req;
  uv_shutdown_t shutdown_req;
  uv_timer_t linger;
  uv_timer_t deadline; /* pgd_conn_set_deadline */
  int deadline_inited;
  /* Frames queued while no write is in flight go out together at the
   * start of the next loop iteration (its idle phase): one write per
   * connection per iteration, not one per frame (conn_schedule_flush).
   * A local client's connect completes there too. */
  uv_idle_t flusher;
  int flusher_inited;
  /* Frames encoded but not yet given to uv_write (owned). */
  uv_buf_t *pend;
  size_t npend, pend_cap, pend_bytes;
  char peer[64];
  pgd_tls_t *tls; /* TLS engine between the socket and the frames, or NULL */
  int tls_ready;  /* its handshake is complete: frames may be written */
};

struct pgd_listener {
  uv_tcp_t tcp;
  size_t max_frame;
  pgd_accept_cb on_accept;
  void *ud;
  int port;
  pgd_tls_ctx_t *tls; /* server TLS context (borrowed), or NULL */
};

/* A new connection on `loop` with one reference, not yet open: a TCP
 * handle, or (local) a pipe handle to be given a descriptor with
 * uv_pipe_open. NULL when out of memory or the handle cannot be made. */
pgd_conn_t *pgd_conn__new(uv_loop_t *loop, size_t max_frame, int local);

/* Closes every handle of `c` now (no flush); on_close follows unless
 * `c->silent`. */
void pgd_conn__close_now(pgd_conn_t *c);

/* A server-side connection whose stream is connected: opens it (TLS per
 * the listener unless local), hands it to the listener's on_accept and
 * starts reading. */
void pgd_conn__accepted(pgd_listener_t *l, pgd_conn_t *c);

/* Arms the idle handle that runs at the next loop iteration (flush, or a
 * local client's connect). 0, or a negative uv error (then nothing runs). */
int pgd_conn__arm_idle(pgd_conn_t *c);

#endif
