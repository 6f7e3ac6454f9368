/* Pagoda — a framed connection of the master <-> worker protocol on libuv TCP
 * (or, inside one process, a Unix-domain stream: pgd_listener_connect_local).
 *
 * A pgd_conn_t carries frames (net/frame.h) both ways over one stream; a
 * pgd_listener_t accepts them. Messages arrive parsed (cJSON) through
 * callbacks; sends are encoded at once, queued and written asynchronously:
 * the frames queued during one loop iteration leave together at the start
 * of the next (an idle handle: before the loop polls again), in one
 * synchronous write when the socket takes them, else one uv_write.
 *
 * Thread rules: every function here must be called on the thread that runs
 * the uv loop the object belongs to, and every callback runs on that thread.
 * Nothing here blocks.
 *
 * Life cycle of a connection:
 *   - created by pgd_conn_connect (client) or handed to on_accept (server);
 *   - on_connect(c, status) fires once on the client side; status < 0 means
 *     the connection failed and on_close follows;
 *   - on_message(c, type, msg) fires for every message, in order;
 *   - it ends with exactly one on_close(c, reason): reason 0 when
 *     pgd_conn_close was called, else a negative libuv error (UV_EOF when the
 *     peer closed, UV_ECONNRESET, ...) or a PGD_FRAME_E* code when the peer
 *     sent a malformed frame. After on_close returns the connection is freed.
 *
 * Malformed input never crashes: a bad frame is logged (WARN, naming the
 * peer), answered with an "error" message {"reason", "code"} (net/msg.h) when possible,
 * and the connection is closed, since the stream can no longer be trusted.
 * Closing is graceful: queued frames are flushed before the FIN, bounded by
 * PGD_CONN_LINGER_MS, after which the socket is closed regardless.
 */
#ifndef PAGODA_NET_CONN_H
#define PAGODA_NET_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "net/frame.h"
#include "net/protocol.h"
#include "net/tls.h"

/* How long a closing connection may spend flushing queued frames. */
#define PGD_CONN_LINGER_MS 2000

typedef struct pgd_conn pgd_conn_t;
typedef struct pgd_listener pgd_listener_t;

/* Callbacks of a connection; any slot may be NULL (event ignored). */
typedef struct pgd_conn_cbs {
  /* One complete message; `msg` is borrowed for the call (detach items to
   * keep them). The callback may send, close, or set data on `c`. After
   * pgd_conn_close no further message is delivered. */
  void (*on_message)(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud);
  /* The connection is gone; `reason` as described above. `c` is freed when
   * this returns: do not keep the pointer. */
  void (*on_close)(pgd_conn_t *c, int reason, void *ud);
  /* Client side only: the TCP connect finished. status < 0 => on_close
   * follows with the same status as reason. */
  void (*on_connect)(pgd_conn_t *c, int status, void *ud);
} pgd_conn_cbs_t;

typedef void (*pgd_accept_cb)(pgd_listener_t *l, pgd_conn_t *c, void *ud);

/* Listens on host:port (port 0 = any free port; host a numeric IPv4/IPv6
 * address, or a name resolved synchronously at start). Every accepted
 * connection, with TCP_NODELAY set and frames up to `max_frame` bytes (0 =
 * PGD_FRAME_MAX_DEFAULT), is handed to `on_accept`, which must call
 * pgd_conn_set_callbacks (or pgd_conn_close); reading starts when on_accept
 * returns. `host` is borrowed; `ud` is passed back as is. On success *out
 * owns the listener until pgd_listener_close. Returns 0 or a negative uv
 * error (UV_EADDRINUSE, UV_EINVAL, ...); on error nothing is left open. */
int pgd_listener_start(uv_loop_t *loop, const char *host, int port, size_t max_frame,
                       pgd_accept_cb on_accept, void *ud, pgd_listener_t **out);

/* The port the listener is bound to (useful after port 0), or -1. */
int pgd_listener_port(const pgd_listener_t *l);

/* Every connection accepted from now on speaks TLS as the server with `ctx`
 * (borrowed: it must outlive the listener and its connections' handshakes;
 * NULL = plain TCP again). Frames wait until the TLS handshake completes;
 * a failed handshake is logged (WARN, peer and OpenSSL's reason) and closes
 * that connection with reason PGD_FRAME_ETLS. */
void pgd_listener_set_tls(pgd_listener_t *l, pgd_tls_ctx_t *ctx);

/* Stops accepting and frees the listener (asynchronously, from the loop).
 * Connections already accepted stay open. Call it once per listener (the
 * pointer is invalid afterwards); NULL is ignored. */
void pgd_listener_close(pgd_listener_t *l);

/* Sets the callbacks of `c` (copied) and their user data. Call it from
 * on_accept for server-side connections; it may be called again later. */
void pgd_conn_set_callbacks(pgd_conn_t *c, const pgd_conn_cbs_t *cbs, void *ud);

/* Connects to host:port (host numeric, or a name resolved asynchronously on
 * the libuv thread pool). `cbs` is copied, `host` borrowed. On success *out
 * is the connection; on_connect reports the outcome later, and frames sent
 * before it are queued and flushed once connected. Returns 0 or a negative
 * uv error; on error no callback is ever called. */
int pgd_conn_connect(uv_loop_t *loop, const char *host, int port, size_t max_frame,
                     const pgd_conn_cbs_t *cbs, void *ud, pgd_conn_t **out);

/* Connects to listener `l` of this process without the network: the two ends
 * of a socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC) on the listener's
 * loop, carrying the same frames as TCP (used by `pagoda dev` for its own
 * worker: docs/architecture.md). The server end is handed to the
 * listener's on_accept before this returns (same max_frame, never TLS: the
 * stream does not leave the process), and reading starts after it; the
 * client end is returned in *out with `cbs` (copied) and `ud`, and behaves
 * like one of pgd_conn_connect: on_connect(c, 0) fires from the loop (or
 * UV_ECANCELED when closed before), frames sent before it are queued,
 * every close and loss is reported as for TCP. Both peers read "local"
 * (pgd_conn_peer). pgd_conn_set_tls refuses it (-EINVAL). Must be called
 * on the listener's loop thread. Returns 0, UV_ECONNREFUSED when the
 * listener is closing, UV_EINVAL, UV_ENOMEM or the socketpair's error; on
 * error no callback is ever called and nothing is left open. */
int pgd_listener_connect_local(pgd_listener_t *l, const pgd_conn_cbs_t *cbs, void *ud,
                               pgd_conn_t **out);

/* Makes a client connection speak TLS with `ctx` (borrowed for the call:
 * the engine keeps its own reference), verifying that the server's
 * certificate names `peer_host` (borrowed). Call it right after
 * pgd_conn_connect, before the loop runs (frames queued before are sent
 * once the TLS handshake completes). 0, -EINVAL (already connected,
 * already TLS, or a local connection) or -ENOMEM. A failed handshake closes with PGD_FRAME_ETLS. */
int pgd_conn_set_tls(pgd_conn_t *c, pgd_tls_ctx_t *ctx, const char *peer_host);

/* 1 when the connection speaks TLS. */
int pgd_conn_is_tls(const pgd_conn_t *c);

/* Encodes and queues one message. `body` is borrowed: a "type" field is set
 * on it (see pgd_frame_encode), it is not kept. `body` may be NULL for a
 * message with no fields. Returns 0 (queued; written asynchronously: a
 * write that fails then closes the connection, and on_close tells why),
 * UV_EPIPE when the connection is closing, PGD_FRAME_ETOOBIG when the encoded payload
 * exceeds the connection's maximum frame size, -EINVAL, or -ENOMEM. */
int pgd_conn_send(pgd_conn_t *c, pgd_msg_type_t type, cJSON *body);

/* Closes `c`: stops reading and delivering messages, flushes queued frames
 * (bounded by PGD_CONN_LINGER_MS), then closes the socket; on_close(c, 0)
 * follows from the loop. Idempotent; also valid inside any callback of `c`
 * (except on_close) and before the connection is established. */
void pgd_conn_close(pgd_conn_t *c);

/* The peer address as "127.0.0.1:port" or "[::1]:port" (the target given to
 * pgd_conn_connect until connected; "local" for pgd_listener_connect_local).
 * Borrowed, valid until on_close returns. */
const char *pgd_conn_peer(const pgd_conn_t *c);

/* Closes `c` (on_close reason UV_ETIMEDOUT, without flushing) unless the
 * deadline is moved or cleared within `ms` milliseconds; ms 0 clears it.
 * The master gives each accepted connection a deadline for its hello and
 * clears it when the hello is accepted. Returns 0, or UV_EPIPE when `c` is
 * closing. Added in 0.4. */
int pgd_conn_set_deadline(pgd_conn_t *c, uint64_t ms);

/* A user pointer attached to the connection (not owned, NULL by default). */
void pgd_conn_set_data(pgd_conn_t *c, void *data);
void *pgd_conn_get_data(const pgd_conn_t *c);

/* Bytes queued for writing and not yet handed to the kernel (frames waiting
 * for a write to finish plus libuv's own write queue). Callers producing bulk
 * data (logs) should slow down when this grows. */
size_t pgd_conn_write_queue_size(const pgd_conn_t *c);

#endif
