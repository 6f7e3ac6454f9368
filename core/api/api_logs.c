/* Pagoda API — an execution's log: GET /api/v1/executions/{id}/log
 * [?offset=N][&follow=1]. Without follow (or for an execution no longer in
 * the master's memory) the bytes from offset; with follow a chunked stream
 * of those bytes and then every new byte until the execution's final state
 * is durable (docs/api.md "Logs"). */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "master/storage.h"

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
  char *buf = NULL;
  size_t len = 0;
  bool live = false;
  if (pgd_master_log_read(r->m, id, offset, &buf, &len, &live) < 0) {
    pgd_http_respond_error(r->req, 404, "execution %lld not found", (long long)id);
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
