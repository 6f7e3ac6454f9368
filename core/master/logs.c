/* Pagoda master — execution logs. Two backends behind these functions:
 *  - local files (SQLite store, one master): each attempt has its own file,
 *    <data_dir>/logs/<id>-<attempt>.log, appended as the worker ships
 *    chunks;
 *  - the shared store (PostgreSQL, several masters): log chunks in the
 *    store, written off the loop thread by the store's writer
 *    (logs_shared.c), so any master serves any log, also after a failover.
 * Either way the execution's log is the concatenation of its attempts' logs
 * in attempt order. Followers (`GET .../log?follow=1[&offset=N]`) receive
 * new bytes of any attempt as they land, until the execution's final state
 * is stored; a follower that asked for an offset beyond what this master
 * has (a client resuming after a failover, before the worker re-sent its
 * last reports) gets the bytes from that offset on, no earlier ones. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "master/exec_int.h"
#include "master/logs_int.h"
#include "master/observers_int.h"
#include "master/storage.h"

#define MOD "logs"

/* A reader of the log (pgd_master_log_follow). `alive` is false once the
 * reader detached (pgd_master_log_unfollow); the entry is freed with the
 * execution's follower list either way. */
struct m_follower {
  pgd_master_log_sink_t sink;
  void *ud;
  bool alive;
  int64_t pos;  /* offset in the log of the next byte that lands */
  int64_t from; /* the reader has everything before this offset */
  m_follower_t *next;
};

/* New bytes of the log, to the observers and followers. */
static void forward(pgd_master_t *m, m_exec_t *e, const char *data, size_t len) {
  m_observers_output(m, e, data, len);
  for (m_follower_t *f = e->followers; f; f = f->next) {
    int64_t start = f->pos;
    f->pos += (int64_t)len;
    if (!f->alive || f->pos <= f->from) continue;
    size_t skip = start < f->from ? (size_t)(f->from - start) : 0;
    f->sink.write(f->ud, data + skip, len - skip);
  }
}

static void attempt_path(const pgd_master_t *m, int64_t id, int attempt, char *buf, size_t len) {
  snprintf(buf, len, "%s/%lld-%d.log", m->log_dir, (long long)id, attempt);
}

static int open_log(pgd_master_t *m, m_task_t *t) {
  if (t->log_fd >= 0) return 0;
  char path[4096];
  attempt_path(m, t->exec->id, t->attempt, path, sizeof path);
  t->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (t->log_fd < 0) {
    int err = errno;
    PGD_ERROR(MOD, "cannot open %s: %s", path, strerror(err));
    return -err;
  }
  struct stat st;
  t->log_size = fstat(t->log_fd, &st) == 0 ? st.st_size : 0;
  return 0;
}

/* Both backends: takes bytes at `offset` of the current attempt (offset < 0:
 * at its end). *deferred: the shared store handles the report's ack. */
static void take(pgd_master_t *m, m_task_t *t, int64_t offset, const char *data, size_t len,
                 m_worker_t *from, int64_t seq, bool *deferred) {
  *deferred = false;
  if (t->attempt <= 0) return;
  if (m_log_shared_enabled(m)) {
    int64_t fresh = m_log_shared_append(m, t, offset, data, len, from, seq, deferred);
    if (fresh > 0) forward(m, t->exec, data + len - (size_t)fresh, (size_t)fresh);
    return;
  }
  if (open_log(m, t) < 0) return;
  if (offset < 0) offset = t->log_size;
  if (offset + (int64_t)len <= t->log_size) return; /* a resent chunk we already have */
  if (offset < t->log_size) {
    size_t skip = (size_t)(t->log_size - offset);
    data += skip;
    len -= skip;
  }
  ssize_t w = write(t->log_fd, data, len);
  if (w < 0) {
    PGD_ERROR(MOD, "execution %lld: cannot write its log: %s", (long long)t->exec->id,
              strerror(errno));
    return;
  }
  t->log_size += w;
  forward(m, t->exec, data, (size_t)w);
}

void m_log_append(pgd_master_t *m, m_task_t *t, int64_t offset, const char *data, size_t len) {
  bool deferred;
  take(m, t, offset, data, len, NULL, 0, &deferred);
}

bool m_log_report(pgd_master_t *m, m_task_t *t, int64_t offset, const char *data, size_t len,
                  m_worker_t *w, int64_t seq) {
  bool deferred;
  take(m, t, offset, data, len, w, seq, &deferred);
  return deferred;
}

void m_log_tick(pgd_master_t *m) { m_log_shared_tick(m); }

void m_log_remove_files(pgd_master_t *m, int64_t id, int attempts) {
  for (int a = 1; a <= attempts; a++) {
    char path[4096];
    attempt_path(m, id, a, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT)
      PGD_WARN(MOD, "cannot remove %s: %s", path, strerror(errno));
  }
}

void m_log_note(pgd_master_t *m, m_task_t *t, const char *fmt, ...) {
  char line[512] = "[pagoda] ";
  size_t pre = strlen(line);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line + pre, sizeof line - pre - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  size_t len = pre + ((size_t)n < sizeof line - pre - 1 ? (size_t)n : sizeof line - pre - 2);
  line[len++] = '\n';
  m_log_append(m, t, -1, line, len);
}

void m_log_close_task(m_task_t *t) {
  if (t->log_fd >= 0) close(t->log_fd);
  t->log_fd = -1;
  t->log_size = 0;
}

m_follower_t *m_log_detach_followers(m_exec_t *e) {
  m_follower_t *list = e->followers;
  e->followers = NULL;
  return list;
}

void m_log_end_followers(m_follower_t *list) {
  while (list) {
    m_follower_t *next = list->next;
    if (list->alive) list->sink.end(list->ud);
    free(list);
    list = next;
  }
}

/* The execution's log from `offset`: the attempts' files concatenated. */
static char *read_log(const pgd_master_t *m, int64_t id, int attempts, int64_t offset,
                      size_t *len) {
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  if (!buf) abort();
  int64_t pos = 0;
  for (int a = 1; a <= attempts; a++) {
    char path[4096];
    attempt_path(m, id, a, path, sizeof path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    if (fstat(fd, &st) == 0 && pos + st.st_size > offset) {
      int64_t from = offset > pos ? offset - pos : 0;
      size_t want = (size_t)(st.st_size - from);
      if (n + want + 1 > cap) {
        cap = n + want + 1;
        buf = realloc(buf, cap);
        if (!buf) abort();
      }
      ssize_t r = pread(fd, buf + n, want, from);
      if (r > 0) n += (size_t)r;
    }
    pos += fstat(fd, &st) == 0 ? st.st_size : 0;
    close(fd);
  }
  buf[n] = 0;
  *len = n;
  return buf;
}

int pgd_master_log_read(pgd_master_t *m, int64_t id, int64_t offset, char **buf, size_t *len,
                        bool *live) {
  m_exec_t *e = m_exec_find(m, id);
  int attempts;
  if (e) {
    attempts = e->last_attempt;
  } else {
    cJSON *rec = pgd_store_get_execution(m->store, id);
    if (!rec) return -ENOENT;
    attempts = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(rec, "attempt"));
    cJSON_Delete(rec);
  }
  if (m_log_shared_enabled(m)) {
    *buf = NULL;
    *len = 0;
    int rc = m_log_shared_read(m, id, attempts, offset, buf, len);
    if (rc < 0 || !*buf) {
      free(*buf);
      *buf = calloc(1, 1);
      if (!*buf) abort();
      *len = 0;
    }
    *live = e != NULL;
    return 0;
  }
  *buf = read_log(m, id, attempts, offset, len);
  *live = e != NULL;
  return 0;
}

/* The log's size now: where the next byte lands (single-task executions;
 * with concurrent tasks the stream interleaves attempts, docs/api.md). */
static int64_t log_total(pgd_master_t *m, m_exec_t *e) {
  if (m_log_shared_enabled(m)) return m_log_shared_total(m, e->id, e->last_attempt);
  int64_t total = 0;
  for (int a = 1; a <= e->last_attempt; a++) {
    char path[4096];
    attempt_path(m, e->id, a, path, sizeof path);
    struct stat st;
    if (stat(path, &st) == 0) total += st.st_size;
  }
  return total;
}

pgd_master_follower_t *pgd_master_log_follow(pgd_master_t *m, int64_t id,
                                             const pgd_master_log_sink_t *sink, void *ud) {
  return pgd_master_log_follow_from(m, id, 0, sink, ud);
}

pgd_master_follower_t *pgd_master_log_follow_from(pgd_master_t *m, int64_t id, int64_t offset,
                                                  const pgd_master_log_sink_t *sink, void *ud) {
  m_exec_t *e = m_exec_find(m, id);
  if (!e) return NULL;
  m_follower_t *f = calloc(1, sizeof *f);
  if (!f) abort();
  f->sink = *sink;
  f->ud = ud;
  f->alive = true;
  f->pos = log_total(m, e);
  f->from = offset > f->pos ? offset : f->pos;
  f->next = e->followers;
  e->followers = f;
  return f;
}

void pgd_master_log_unfollow(pgd_master_follower_t *f) {
  if (f) f->alive = false; /* freed with the execution's follower list */
}
