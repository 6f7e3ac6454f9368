/* Pagoda — in-process executor runs on a dedicated thread (see inproc.h). */
#include "worker/inproc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/clock.h"
#include "common/log.h"
#include "worker/inproc_child.h"

#define MOD "inproc"

struct pgd_inproc {
  uv_loop_t *loop;
  const pgd_plugin_t *plugin;
  cJSON *params; /* owned; read by the thread only */
  pgd_inproc_cbs_t cbs;
  void *ud;
  uv_thread_t thread;
  uv_async_t async;
  uv_timer_t timer;
  int open_handles;
  atomic_int cancelled;
  uint64_t start_ns;

  /* shared with the thread, under mu */
  uv_mutex_t mu;
  char *buf;
  size_t len, cap;
  char *result_json;
  int done;

  /* thread's outcome, read after join */
  int rc;
  char err[1024];

  int finishing, joined, timed_out, killed;

  pgd_inproc_child_t *child; /* process isolation: the run's child (NULL once
                                ended); no thread nor handles then */
};

/* ---- plugin thread ------------------------------------------------------- */

static void op_log(void *ud, const char *data, size_t len) {
  pgd_inproc_t *ip = ud;
  if (!data || !len) return;
  uv_mutex_lock(&ip->mu);
  if (ip->len + len > ip->cap) {
    size_t ncap = ip->cap ? ip->cap : 4096;
    while (ncap < ip->len + len) ncap *= 2;
    char *n = realloc(ip->buf, ncap);
    if (!n) { /* drop the text rather than fail the job */
      uv_mutex_unlock(&ip->mu);
      return;
    }
    ip->buf = n;
    ip->cap = ncap;
  }
  memcpy(ip->buf + ip->len, data, len);
  ip->len += len;
  uv_mutex_unlock(&ip->mu);
  uv_async_send(&ip->async);
}

static int op_is_cancelled(void *ud) {
  pgd_inproc_t *ip = ud;
  return atomic_load(&ip->cancelled);
}

static void op_set_result(void *ud, const char *json) {
  pgd_inproc_t *ip = ud;
  char *copy = json ? strdup(json) : NULL;
  uv_mutex_lock(&ip->mu);
  free(ip->result_json);
  ip->result_json = copy;
  uv_mutex_unlock(&ip->mu);
}

static void thread_main(void *arg) {
  pgd_inproc_t *ip = arg;
  pgd_run_ops_t ops = {.log = op_log, .is_cancelled = op_is_cancelled,
                       .set_result = op_set_result, .ud = ip};
  ip->rc = pgd_plugin_run(ip->plugin, ip->params, &ops, ip->err, sizeof ip->err);
  uv_mutex_lock(&ip->mu);
  ip->done = 1;
  uv_mutex_unlock(&ip->mu);
  uv_async_send(&ip->async);
}

/* ---- loop side ----------------------------------------------------------- */

static void on_closed(uv_handle_t *h) {
  pgd_inproc_t *ip = h->data;
  if (--ip->open_handles > 0) return;
  pgd_inproc_result_t r = {
      .rc = ip->rc,
      .error = ip->err,
      .result_json = ip->result_json,
      .timed_out = ip->timed_out,
      .killed = ip->killed,
      .duration_us = (pgd_mono_ns() - ip->start_ns) / 1000,
  };
  if (ip->cbs.on_exit) ip->cbs.on_exit(ip, &r, ip->ud); /* NULL: start failed */
  cJSON_Delete(ip->params);
  free(ip->buf);
  free(ip->result_json);
  uv_mutex_destroy(&ip->mu);
  free(ip);
}

static void on_async(uv_async_t *a) {
  pgd_inproc_t *ip = a->data;
  if (ip->finishing) return;
  uv_mutex_lock(&ip->mu);
  char *buf = ip->buf;
  size_t len = ip->len;
  int done = ip->done;
  ip->buf = NULL;
  ip->len = ip->cap = 0;
  uv_mutex_unlock(&ip->mu);
  if (len && ip->cbs.on_output) ip->cbs.on_output(ip, buf, len, ip->ud);
  free(buf);
  if (!done) return;
  uv_thread_join(&ip->thread);
  ip->joined = 1;
  ip->finishing = 1;
  uv_close((uv_handle_t *)&ip->async, on_closed);
  uv_close((uv_handle_t *)&ip->timer, on_closed);
}

static void cancel(pgd_inproc_t *ip, int timeout) {
  if (!ip->timed_out && !ip->killed) {
    if (timeout)
      ip->timed_out = 1;
    else
      ip->killed = 1;
  }
  atomic_store(&ip->cancelled, 1);
}

static void on_timeout(uv_timer_t *t) {
  pgd_inproc_t *ip = t->data;
  PGD_DEBUG(MOD, "%s run timed out: cancelling", pgd_plugin_type(ip->plugin));
  cancel(ip, 1);
}

int pgd_inproc_kill(pgd_inproc_t *ip, int64_t grace_ms) {
  if (!ip) return -EINVAL;
  if (ip->child) return pgd_inproc_child_kill(ip->child, grace_ms);
  if (ip->finishing) return -ESRCH;
  cancel(ip, 0);
  return 0;
}

/* ---- process isolation: the child's callbacks, forwarded ------------------ */

static void on_child_output(void *ud, const char *data, size_t len) {
  pgd_inproc_t *ip = ud;
  if (ip->cbs.on_output && len) ip->cbs.on_output(ip, data, len, ip->ud);
}

static void on_child_exit(void *ud, const pgd_inproc_child_result_t *cr) {
  pgd_inproc_t *ip = ud;
  ip->child = NULL;
  pgd_inproc_result_t r = {.rc = cr->rc,
                           .error = cr->error,
                           .result_json = cr->result_json,
                           .timed_out = cr->timed_out,
                           .killed = cr->killed,
                           .duration_us = cr->duration_us};
  ip->cbs.on_exit(ip, &r, ip->ud);
  free(ip);
}

static int start_child(uv_loop_t *loop, const pgd_plugin_t *plugin, const cJSON *params,
                       const pgd_inproc_opts_t *opts, const pgd_inproc_cbs_t *cbs, void *ud,
                       pgd_inproc_t **out, char *err, size_t errlen) {
  pgd_inproc_t *ip = calloc(1, sizeof *ip);
  if (!ip) return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  ip->loop = loop;
  ip->plugin = plugin;
  ip->cbs = *cbs;
  ip->ud = ud;
  pgd_inproc_child_cbs_t ccbs = {.on_output = on_child_output, .on_exit = on_child_exit};
  int rc = pgd_inproc_child_start(loop, plugin, params, opts->helper, opts->timeout_ms,
                                  opts->kill_grace_ms, &ccbs, ip, &ip->child, err, errlen);
  if (rc < 0) {
    free(ip);
    return rc;
  }
  *out = ip;
  return 0;
}

int pgd_inproc_start_ex(uv_loop_t *loop, const pgd_plugin_t *plugin, const cJSON *params,
                        const pgd_inproc_opts_t *opts, const pgd_inproc_cbs_t *cbs, void *ud,
                        pgd_inproc_t **out, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (out) *out = NULL;
  if (!loop || !plugin || !cbs || !cbs->on_exit || !out)
    return pgd_set_err(err, errlen, -EINVAL, "invalid in-process run");
  if (opts && opts->isolation == PGD_INPROC_PROCESS)
    return start_child(loop, plugin, params, opts, cbs, ud, out, err, errlen);
  return pgd_inproc_start(loop, plugin, params, opts ? opts->timeout_ms : 0, cbs, ud, out, err,
                          errlen);
}

int pgd_inproc_start(uv_loop_t *loop, const pgd_plugin_t *plugin, const cJSON *params,
                     int64_t timeout_ms, const pgd_inproc_cbs_t *cbs, void *ud,
                     pgd_inproc_t **out, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (out) *out = NULL;
  if (!loop || !plugin || !cbs || !cbs->on_exit || !out) {
    return pgd_set_err(err, errlen, -EINVAL, "invalid in-process run");
  }
  pgd_inproc_t *ip = calloc(1, sizeof *ip);
  if (!ip) goto nomem;
  ip->params = params ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
  if (!ip->params) goto nomem;
  if (uv_mutex_init(&ip->mu) != 0) goto nomem;
  ip->loop = loop;
  ip->plugin = plugin;
  ip->cbs = *cbs;
  ip->ud = ud;
  atomic_init(&ip->cancelled, 0);
  ip->start_ns = pgd_mono_ns();
  int rc = uv_async_init(loop, &ip->async, on_async);
  if (rc) {
    uv_mutex_destroy(&ip->mu);
    cJSON_Delete(ip->params);
    free(ip);
    return pgd_set_err(err, errlen, rc, "uv_async_init: %s", uv_strerror(rc));
  }
  ip->async.data = ip;
  uv_timer_init(loop, &ip->timer);
  ip->timer.data = ip;
  ip->open_handles = 2;
  uv_thread_options_t topt = {.flags = UV_THREAD_HAS_STACK_SIZE, .stack_size = 8u << 20};
  rc = uv_thread_create_ex(&ip->thread, &topt, thread_main, ip);
  if (rc) {
    pgd_set_err(err, errlen, rc, "cannot start a thread for the %s run: %s",
                pgd_plugin_type(plugin), uv_strerror(rc));
    /* close the handles and free without calling on_exit */
    ip->cbs.on_exit = NULL;
    ip->finishing = 1;
    uv_close((uv_handle_t *)&ip->async, on_closed);
    uv_close((uv_handle_t *)&ip->timer, on_closed);
    return rc;
  }
  if (timeout_ms > 0) uv_timer_start(&ip->timer, on_timeout, (uint64_t)timeout_ms, 0);
  *out = ip;
  return 0;
nomem:
  if (ip) {
    cJSON_Delete(ip->params);
    free(ip);
  }
  return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
}
