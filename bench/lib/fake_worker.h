/* Pagoda benchmarks — N fake workers on one libuv loop that speak the real
 * master<->worker protocol (core/net conn.h): each does the handshake (hello
 * -> challenge -> auth -> welcome, proving `secret`; over TLS when `tls`
 * is set), sends a heartbeat every hb_ms (spread evenly over the
 * period), and answers a `launch` at once, either with a final `failed` or
 * with `running` then `succeeded` (the acknowledgements of the `succeeded`
 * reports are counted in `done`). Used by bench_fake_workers (the master's
 * cost per connected worker) and bench_dispatch_balancer (dispatch
 * throughput).
 *
 * Ownership: the pool struct is the caller's; bench_fakes_start allocates
 * the workers and a timer, bench_fakes_stop frees them. Thread rules: the
 * loop's thread only; the counters may be read there at any time. */
#ifndef PAGODA_BENCH_FAKE_WORKER_H
#define PAGODA_BENCH_FAKE_WORKER_H

#include <uv.h>

#include "net/conn.h"

typedef enum {
  BENCH_FAKE_LAUNCH_FAILS,     /* one `state failed` ("fake worker: runs nothing") */
  BENCH_FAKE_LAUNCH_SUCCEEDS,  /* `state running` then `state succeeded`, exit code 0 */
} bench_fake_launch_t;

typedef struct bench_fake_opts {
  const char *host;             /* the master's RPC address */
  int port;
  int n;                        /* workers */
  int slots;                    /* slots each worker offers */
  const char *type;             /* the one job type each advertises */
  int hb_ms;                    /* heartbeat period of each worker */
  int connect_rate;             /* connections opened per 10 ms tick */
  bench_fake_launch_t on_launch;
  int heartbeat_running_attempts; /* add "running_attempts": [] to heartbeats */
  const char *secret;           /* cluster secret; NULL = "" */
  struct pgd_tls_ctx *tls;      /* client TLS context (net/tls.h, borrowed); NULL = plain TCP */
} bench_fake_opts_t;

struct bench_fakes;

typedef struct bench_fake {
  struct bench_fakes *pool;
  int index;
  pgd_conn_t *conn;
  int welcomed;
  char id[32];
  char wnonce[65]; /* this connection's nonce (net/auth.h) */
  long seq;      /* last report sequence number sent */
  long launches; /* launches received (the bench may reset it) */
} bench_fake_t;

typedef struct bench_fakes {
  uv_loop_t *loop;
  bench_fake_opts_t o;
  bench_fake_t *fakes;
  int next_connect;
  long welcomed;     /* workers welcomed and still connected */
  int closed;        /* connections closed */
  int rejects;
  long heartbeats;   /* heartbeats sent */
  long launches;
  long done;         /* `succeeded` reports the master acknowledged */
  long bad_launches; /* launches without a numeric execution_id */
  int hb_cursor;
  double hb_start, hb_sent;
  uv_timer_t tick;
  int stopping;
} bench_fakes_t;

/* Starts the pool on `loop` (borrowed): workers connect at o->connect_rate
 * per 10 ms from the next loop iterations on. 0, or -1 (out of memory). */
int bench_fakes_start(bench_fakes_t *p, uv_loop_t *loop, const bench_fake_opts_t *o);

/* Closes every connection and the timer, runs the loop until they are
 * closed, and frees the workers. The loop itself stays open. */
void bench_fakes_stop(bench_fakes_t *p);

/* Runs `loop` for up to `seconds`; returns 1 as soon as *counter >= target
 * (counter may be NULL: run the whole time), else 0. */
int bench_run_until(uv_loop_t *loop, double seconds, const long *counter, long target);

#endif
