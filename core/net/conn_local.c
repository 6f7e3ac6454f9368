/* Pagoda — a local connection to a listener of this process: the two ends of
 * one Unix-domain stream socketpair (net/conn.h, pgd_listener_connect_local).
 * The frames, the decoder, the writes and every close path are conn.c's:
 * only how the stream is made differs. */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "net/conn.h"
#include "net/conn_int.h"

#define MOD "net"

/* Gives `fd` to the pipe handle of `c`; on failure the descriptor is closed
 * here (libuv owns it only once uv_pipe_open succeeded). */
static int conn_adopt_fd(pgd_conn_t *c, int fd) {
  int rc = uv_pipe_open(&c->io.pipe, fd);
  if (rc < 0) close(fd);
  return rc;
}

/* Frees a connection nobody was given yet, without callbacks. */
static void conn_discard(pgd_conn_t *c) {
  c->silent = 1;
  c->state = CONN_CLOSING;
  pgd_conn__close_now(c);
}

int pgd_listener_connect_local(pgd_listener_t *l, const pgd_conn_cbs_t *cbs, void *ud,
                               pgd_conn_t **out) {
  if (!l || !out) return UV_EINVAL;
  *out = NULL;
  if (uv_is_closing((uv_handle_t *)&l->tcp)) return UV_ECONNREFUSED;
  uv_loop_t *loop = l->tcp.loop;
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) return -errno;
  pgd_conn_t *client = pgd_conn__new(loop, l->max_frame, 1);
  pgd_conn_t *server = client ? pgd_conn__new(loop, l->max_frame, 1) : NULL;
  if (!client || !server) {
    close(fds[0]);
    close(fds[1]);
    if (client) conn_discard(client);
    return UV_ENOMEM;
  }
  int rc = conn_adopt_fd(client, fds[0]);
  int rc2 = conn_adopt_fd(server, fds[1]);
  if (rc == 0) rc = rc2;
  if (rc == 0) {
    pgd_conn_set_callbacks(client, cbs, ud);
    /* Connected already, but reported from the loop like a TCP connect:
     * the caller stores the pointer before on_connect can run, and frames
     * sent meanwhile wait in the queue (not connected yet). */
    client->state = CONN_CONNECTING;
    client->local_connect_pending = 1;
    rc = pgd_conn__arm_idle(client);
    if (rc < 0) client->local_connect_pending = 0;
  }
  if (rc < 0) {
    conn_discard(client);
    conn_discard(server);
    return rc;
  }
  pgd_conn__accepted(l, server); /* on_accept now; reading starts after it */
  *out = client;
  return 0;
}
