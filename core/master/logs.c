/* Pagoda master — execution logs: one file per execution under
 * <data_dir>/logs/<id>.log, appended as the worker ships chunks, and the
 * followers (`GET .../log?follow=1`) that receive new bytes as they land. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "master/internal.h"

#define MOD "logs"

struct m_follower {
  pgd_http_req_t *req;
  pgd_master_t *m;
  int64_t exec_id;
  m_follower_t *next;
};

char *m_log_path(const pgd_master_t *m, int64_t id) {
  size_t n = strlen(m->log_dir) + 32;
  char *p = malloc(n);
  if (!p) abort();
  snprintf(p, n, "%s/%lld.log", m->log_dir, (long long)id);
  return p;
}

static int open_log(pgd_master_t *m, m_exec_t *e) {
  if (e->log_fd >= 0) return 0;
  char *path = m_log_path(m, e->id);
  e->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (e->log_fd < 0) {
    PGD_ERROR(MOD, "cannot open %s: %s", path, strerror(errno));
    free(path);
    return -errno;
  }
  struct stat st;
  if (fstat(e->log_fd, &st) == 0) e->log_size = st.st_size;
  free(path);
  return 0;
}

static void forward(m_exec_t *e, const char *data, size_t len) {
  for (m_follower_t *f = e->followers; f; f = f->next)
    if (f->req) pgd_http_stream_write(f->req, data, len);
}

void m_log_append(pgd_master_t *m, m_exec_t *e, int64_t offset, const char *data, size_t len) {
  if (open_log(m, e) < 0) return;
  if (offset + (int64_t)len <= e->log_size) return; /* a resent chunk we already have */
  if (offset < e->log_size) {
    size_t skip = (size_t)(e->log_size - offset);
    data += skip;
    len -= skip;
  }
  ssize_t w = write(e->log_fd, data, len);
  if (w < 0) {
    PGD_ERROR(MOD, "execution %lld: cannot write its log: %s", (long long)e->id, strerror(errno));
    return;
  }
  e->log_size += w;
  forward(e, data, (size_t)w);
}

void m_log_note(pgd_master_t *m, m_exec_t *e, const char *fmt, ...) {
  char line[512];
  line[0] = '[';
  memcpy(line + 1, "pagoda] ", 8);
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line + 9, sizeof line - 10, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  size_t len = 9 + ((size_t)n < sizeof line - 10 ? (size_t)n : sizeof line - 11);
  line[len++] = '\n';
  m_log_append(m, e, e->log_size, line, len);
}

static void follower_abort(pgd_http_req_t *req, void *ud) {
  m_follower_t *f = ud;
  (void)req;
  f->req = NULL; /* unlinked and freed when the execution's log closes */
}

m_follower_t *m_log_detach_followers(m_exec_t *e) {
  m_follower_t *list = e->followers;
  e->followers = NULL;
  return list;
}

void m_log_close(pgd_master_t *m, m_exec_t *e) {
  (void)m;
  if (e->log_fd >= 0) close(e->log_fd);
  e->log_fd = -1;
  m_log_end_followers(m_log_detach_followers(e));
}

void m_log_end_followers(m_follower_t *list) {
  m_follower_t *f = list;
  while (f) {
    m_follower_t *next = f->next;
    if (f->req) {
      pgd_http_req_on_abort(f->req, NULL, NULL);
      pgd_http_stream_end(f->req);
    }
    free(f);
    f = next;
  }
}

/* Reads the file from `offset` into a malloc'ed buffer. */
static char *read_from(const char *path, int64_t offset, size_t *len) {
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) < 0) {
    close(fd);
    return NULL;
  }
  if (offset < 0) offset = 0;
  size_t n = st.st_size > offset ? (size_t)(st.st_size - offset) : 0;
  char *buf = malloc(n + 1);
  if (!buf) abort();
  ssize_t r = n ? pread(fd, buf, n, offset) : 0;
  close(fd);
  *len = r > 0 ? (size_t)r : 0;
  return buf;
}

void m_log_serve(pgd_master_t *m, pgd_http_req_t *req, int64_t id, int64_t offset, bool follow) {
  m_exec_t *e = m_exec_find(m, id);
  if (!e) {
    cJSON *rec = pgd_store_get_execution(m->store, id);
    if (!rec) {
      pgd_http_respond_error(req, 404, "execution %lld not found", (long long)id);
      return;
    }
    cJSON_Delete(rec);
  }
  char *path = m_log_path(m, id);
  size_t len;
  char *buf = read_from(path, offset, &len);
  free(path);
  if (!follow || !e) {
    pgd_http_respond(req, 200, "text/plain; charset=utf-8", buf ? buf : "", len);
    free(buf);
    return;
  }
  /* Bytes the file holds now, then every new chunk until the execution ends. */
  pgd_http_stream_start(req, 200, "text/plain; charset=utf-8");
  if (len) pgd_http_stream_write(req, buf, len);
  free(buf);
  m_follower_t *f = calloc(1, sizeof *f);
  if (!f) abort();
  f->req = req;
  f->m = m;
  f->exec_id = id;
  f->next = e->followers;
  e->followers = f;
  pgd_http_req_on_abort(req, follower_abort, f);
}
