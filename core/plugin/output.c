/* ABI 1.1 on the host side: execution attributes written by a plugin while
 * it reads its process's output (on_output_line), and the process run when
 * a job is killed (describe_kill). A slot added in 1.1 is read only when the
 * plugin declared abi_minor >= 1: a 1.0 plugin's executor table is shorter.
 * ABI 1.2: the per-execution state slot (on_output_line_ex, exec_state_free),
 * read only when the plugin declared abi_minor >= 2. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "plugin/host.h"
#include "plugin/plugin_priv.h"

#define PJ(v) ((const pagoda_json_t *)(const void *)(v))
#define MINOR_ATTRS 1 /* the minor that added on_output_line and describe_kill */

int pgd_plugin_abi_minor(const pgd_plugin_t *p) { return p ? (int)p->desc->abi_minor : 0; }

/* The executor table when it has the 1.1 slots, else NULL. */
static const pagoda_executor_t *exec_1_1(const pgd_plugin_t *p) {
  if (!p || p->desc->abi_minor < MINOR_ATTRS) return NULL;
  const pagoda_executor_t *x = p->desc->executor;
  return (x && x->describe_process) ? x : NULL; /* process executors only */
}

/* The executor table when it has the 1.2 slots, else NULL. */
static const pagoda_executor_t *exec_1_2(const pgd_plugin_t *p) {
  return (p && p->desc->abi_minor >= PGD_EXEC_STATE_MINOR) ? exec_1_1(p) : NULL;
}

int pgd_plugin_has_output_scan(const pgd_plugin_t *p) {
  const pagoda_executor_t *x = exec_1_1(p);
  const pagoda_executor_t *x2 = exec_1_2(p);
  return ((x && x->on_output_line) || (x2 && x2->on_output_line_ex)) ? 1 : 0;
}

void pgd_plugin_exec_state_free(const pgd_plugin_t *p, void **exec_state) {
  if (!exec_state || !*exec_state) return;
  void *st = *exec_state;
  *exec_state = NULL;
  const pagoda_executor_t *x = exec_1_2(p);
  if (x && x->exec_state_free)
    x->exec_state_free(p->state, st);
  else
    pgd_plugin_host()->free(st);
}

int pgd_plugin_has_kill(const pgd_plugin_t *p) {
  const pagoda_executor_t *x = exec_1_1(p);
  return (x && x->describe_kill) ? 1 : 0;
}

int pgd_plugin_scan_output(const pgd_plugin_t *p, const cJSON *params, const char *line,
                           size_t len, cJSON *attrs) {
  return pgd_plugin_scan_output_ex(p, params, line, len, attrs, NULL);
}

int pgd_plugin_scan_output_ex(const pgd_plugin_t *p, const cJSON *params, const char *line,
                              size_t len, cJSON *attrs, void **exec_state) {
  if (!p || (!line && len) || !cJSON_IsObject(attrs)) return -EINVAL;
  const pagoda_executor_t *x = exec_1_1(p);
  const pagoda_executor_t *x2 = exec_1_2(p);
  if (!x || (!x->on_output_line && !(x2 && x2->on_output_line_ex))) return 0;
  char buf[PGD_OUTSCAN_LINE_MAX];
  if (len > sizeof buf - 1) len = sizeof buf - 1;
  if (len) memcpy(buf, line, len);
  buf[len] = '\0';
  struct pagoda_attrs a = {.obj = attrs, .changes = 0};
  if (x2 && x2->on_output_line_ex) {
    void *local = NULL; /* a caller without a slot: the state lives for this call */
    x2->on_output_line_ex(p->state, exec_state ? exec_state : &local, PJ(params), buf, len, &a);
    pgd_plugin_exec_state_free(p, &local);
  } else {
    x->on_output_line(p->state, PJ(params), buf, len, &a);
  }
  return a.changes;
}

int pgd_plugin_describe_kill(const pgd_plugin_t *p, const cJSON *params, const cJSON *attrs,
                             pgd_procspec_t *spec, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!p || !spec) return -EINVAL;
  const pagoda_executor_t *x = exec_1_1(p);
  if (!x || !x->describe_kill) return 0;
  cJSON *empty = NULL;
  if (!cJSON_IsObject(attrs)) {
    if (!(empty = cJSON_CreateObject()))
      return pgd_set_err(err, errlen, -ENOMEM, "%s: out of memory", p->desc->type);
    attrs = empty;
  }
  struct pagoda_error e;
  pgd_plugin_error_init(&e, err, errlen);
  int rc = x->describe_kill(p->state, PJ(params), PJ(attrs), (pagoda_process_t *)(void *)spec, &e);
  cJSON_Delete(empty);
  if (rc != 0) {
    if (rc > 0) rc = PAGODA_EFAIL;
    if (!e.set || !err || !errlen || !err[0])
      pgd_set_err(err, errlen, rc, "%s: describe_kill failed (code %d)", p->desc->type, rc);
    return rc;
  }
  return spec->argc > 0 ? 1 : 0;
}

/* ---- line splitting ---------------------------------------------------- */

void pgd_outscan_init(pgd_outscan_t *s, const pgd_plugin_t *p, const cJSON *params, cJSON *attrs) {
  if (!s) return;
  s->plugin = p;
  s->params = params;
  s->attrs = attrs;
  s->len = 0;
  s->overflow = 0;
  s->exec_state = NULL;
  s->buf[0] = '\0';
}

void pgd_outscan_release(pgd_outscan_t *s) {
  if (s) pgd_plugin_exec_state_free(s->plugin, &s->exec_state);
}

static int emit_line(pgd_outscan_t *s) {
  size_t n = s->len;
  if (n && s->buf[n - 1] == '\r' && !s->overflow) n--;
  int rc = pgd_plugin_scan_output_ex(s->plugin, s->params, s->buf, n, s->attrs, &s->exec_state);
  s->len = 0;
  s->overflow = 0;
  return rc > 0 ? rc : 0;
}

int pgd_outscan_feed(pgd_outscan_t *s, const char *data, size_t len) {
  if (!s || !data || !pgd_plugin_has_output_scan(s->plugin)) return 0;
  int changes = 0;
  while (len) {
    const char *nl = memchr(data, '\n', len);
    size_t take = nl ? (size_t)(nl - data) : len;
    size_t room = sizeof s->buf - 1 - s->len;
    if (take > room) s->overflow = 1;
    size_t copy = take < room ? take : room;
    memcpy(s->buf + s->len, data, copy);
    s->len += copy;
    if (!nl) break;
    changes += emit_line(s);
    data = nl + 1;
    len -= take + 1;
  }
  return changes;
}

int pgd_outscan_flush(pgd_outscan_t *s) {
  if (!s || (!s->len && !s->overflow) || !pgd_plugin_has_output_scan(s->plugin)) return 0;
  return emit_line(s);
}
