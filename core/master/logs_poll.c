/* Pagoda master — a log read from the shared store on the libuv thread pool
 * (a standby's log follow, docs/ha.md "Logs on a standby"), so the loop
 * never waits for PostgreSQL. Loop thread, except poll_work. */
#include <errno.h>
#include <stdlib.h>

#include "common/exec_state.h"
#include "common/json.h"
#include "master/logs_int.h"
#include "master/storage.h"

struct pgd_master_log_poll {
  uv_work_t work;
  pgd_master_t *m;
  pgd_store_t *store; /* open while reads run (m_log_polls_defer_close) */
  int64_t id, offset;
  bool cancelled;     /* the reader went away: the result is dropped */
  pgd_master_log_polled_cb cb;
  void *ud;
  /* the work's output */
  int rc;
  bool final;
  char *buf;
  size_t len;
};

/* The execution's record first, then its log: a final state read here
 * means every byte stored before it is in this read or an earlier one. */
static void poll_work(uv_work_t *w) {
  pgd_master_log_poll_t *p = w->data;
  cJSON *rec = pgd_store_get_execution(p->store, p->id);
  if (!rec) {
    p->rc = -ENOENT;
    p->final = true; /* gone: nothing more will come */
    return;
  }
  int st = pgd_exec_state_parse(pgd_json_str(rec, "state"));
  p->final = st >= 0 && pgd_exec_state_final((pgd_exec_state_t)st);
  int attempts = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rec, "attempt"));
  cJSON_Delete(rec);
  p->rc = m_log_shared_read_stored(p->store, p->id, attempts, p->offset, &p->buf, &p->len);
}

static void poll_after(uv_work_t *w, int status) {
  pgd_master_log_poll_t *p = w->data;
  pgd_master_t *m = p->m;
  m->log_polls--;
  if (!p->cancelled) {
    int rc = status < 0 || m->stopping ? -ESHUTDOWN : p->rc;
    p->cb(p->ud, rc, rc < 0 ? NULL : p->buf, rc < 0 ? 0 : p->len, p->final);
  }
  free(p->buf);
  free(p);
  if (m->log_polls == 0 && m->log_polls_drained) {
    void (*cb)(int, void *) = m->log_polls_drained;
    m->log_polls_drained = NULL;
    cb(0, m->log_polls_drained_ud);
  }
}

int pgd_master_log_poll_start(pgd_master_t *m, int64_t id, int64_t offset,
                              pgd_master_log_polled_cb cb, void *ud,
                              pgd_master_log_poll_t **out) {
  if (m->stopping || !m->store) return -ESHUTDOWN;
  if (!m_log_shared_enabled(m)) return -ENOTSUP;
  pgd_master_log_poll_t *p = calloc(1, sizeof *p);
  if (!p) abort();
  p->m = m;
  p->store = m->store;
  p->id = id;
  p->offset = offset;
  p->cb = cb;
  p->ud = ud;
  p->work.data = p;
  int rc = uv_queue_work(m->loop, &p->work, poll_work, poll_after);
  if (rc < 0) {
    free(p);
    return rc;
  }
  m->log_polls++;
  *out = p;
  return 0;
}

void pgd_master_log_poll_cancel(pgd_master_log_poll_t *p) {
  if (p) p->cancelled = true;
}

bool m_log_polls_defer_close(pgd_master_t *m, void (*cb)(int status, void *ud), void *ud) {
  if (m->log_polls == 0) return false;
  m->log_polls_drained = cb;
  m->log_polls_drained_ud = ud;
  return true;
}
