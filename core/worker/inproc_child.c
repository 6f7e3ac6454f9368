/* Pagoda — an in-process executor's run in a child process (see
 * inproc_child.h). */
#include "worker/inproc_child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "worker/spawn.h"

#define MOD "inproc"

/* The result file is tiny unless the plugin set a large result; past this
 * the result is refused rather than read into memory. */
#define RESULT_MAX_BYTES (16u << 20)

struct pgd_inproc_child {
  pgd_inproc_child_cbs_t cbs;
  void *ud;
  pgd_spawn_t *sp;
  char dir[PATH_MAX];    /* private temporary directory */
  char params_path[PATH_MAX + 16];
  char result_path[PATH_MAX + 16];
};

static void remove_files(pgd_inproc_child_t *c) {
  unlink(c->params_path);
  unlink(c->result_path);
  rmdir(c->dir);
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* The whole result file as a NUL-terminated string owned by the caller, or
 * NULL when it is absent, unreadable or too large. */
static char *read_result(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      if (cap >= RESULT_MAX_BYTES) goto fail;
      size_t ncap = cap ? cap * 2 : 8192;
      char *n = realloc(buf, ncap);
      if (!n) goto fail;
      buf = n;
      cap = ncap;
    }
    ssize_t r = read(fd, buf + len, cap - len - 1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) goto fail;
    if (r == 0) break;
    len += (size_t)r;
  }
  close(fd);
  if (!buf) return NULL;
  buf[len] = '\0';
  return buf;
fail:
  close(fd);
  free(buf);
  return NULL;
}

static void on_child_output(pgd_spawn_t *sp, const char *data, size_t len, void *ud) {
  (void)sp;
  pgd_inproc_child_t *c = ud;
  if (c->cbs.on_output) c->cbs.on_output(c->ud, data, len);
}

static void on_child_exit(pgd_spawn_t *sp, const pgd_spawn_result_t *sr, void *ud) {
  (void)sp;
  pgd_inproc_child_t *c = ud;
  pgd_inproc_child_result_t r = {.rc = -1,
                                 .error = "",
                                 .timed_out = sr->timed_out,
                                 .killed = sr->killed,
                                 .duration_us = sr->duration_us};
  char msg[256];
  char *text = read_result(c->result_path);
  cJSON *doc = text ? cJSON_Parse(text) : NULL;
  const cJSON *rc = cJSON_GetObjectItemCaseSensitive(doc, "rc");
  if (cJSON_IsNumber(rc)) {
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(doc, "error");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(doc, "result");
    r.rc = rc->valueint;
    r.error = cJSON_IsString(e) ? e->valuestring : "";
    r.result_json = cJSON_IsString(res) ? res->valuestring : NULL;
  } else if (sr->term_signal) {
    snprintf(msg, sizeof msg, "the in-process run's child was killed by signal %d (%s)",
             sr->term_signal, strsignal(sr->term_signal));
    r.error = msg;
  } else {
    snprintf(msg, sizeof msg, "the in-process run's child exited with code %d without a result",
             sr->exit_code);
    r.error = msg;
  }
  c->sp = NULL;
  c->cbs.on_exit(c->ud, &r);
  cJSON_Delete(doc);
  free(text);
  remove_files(c);
  free(c);
}

static int write_params(pgd_inproc_child_t *c, const cJSON *params, char *err, size_t errlen) {
  char *json = params ? cJSON_PrintUnformatted(params) : strdup("{}");
  if (!json) return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  int fd = open(c->params_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  int rc = fd < 0 ? -errno : write_all(fd, json, strlen(json));
  if (fd >= 0 && close(fd) < 0 && rc == 0) rc = -errno;
  free(json);
  if (rc < 0) return pgd_set_err(err, errlen, rc, "cannot write %s: %s", c->params_path, strerror(-rc));
  return 0;
}

int pgd_inproc_child_start(uv_loop_t *loop, const pgd_plugin_t *plugin, const cJSON *params,
                           const char *helper, int64_t timeout_ms, int64_t kill_grace_ms,
                           const pgd_inproc_child_cbs_t *cbs, void *ud,
                           pgd_inproc_child_t **out, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (out) *out = NULL;
  if (!loop || !plugin || !cbs || !cbs->on_exit || !out)
    return pgd_set_err(err, errlen, -EINVAL, "invalid in-process run");
  pgd_inproc_child_t *c = calloc(1, sizeof *c);
  if (!c) return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  c->cbs = *cbs;
  c->ud = ud;
  const char *tmp = getenv("TMPDIR");
  snprintf(c->dir, sizeof c->dir, "%s/pagoda-inproc-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(c->dir)) {
    int e = errno;
    free(c);
    return pgd_set_err(err, errlen, -e, "cannot create a directory for the %s run: %s",
                       pgd_plugin_type(plugin), strerror(e));
  }
  snprintf(c->params_path, sizeof c->params_path, "%s/params.json", c->dir);
  snprintf(c->result_path, sizeof c->result_path, "%s/result.json", c->dir);
  int rc = write_params(c, params, err, errlen);
  /* The child loads the same file the worker loaded, wherever it runs. */
  char plugin_path[PATH_MAX];
  if (!realpath(pgd_plugin_file(plugin), plugin_path))
    snprintf(plugin_path, sizeof plugin_path, "%s", pgd_plugin_file(plugin));
  pgd_procspec_t spec;
  pgd_procspec_init(&spec);
  if (rc == 0) {
    const char *args[] = {helper && *helper ? helper : "/proc/self/exe", PGD_INPROC_CHILD_ARG,
                          plugin_path, pgd_plugin_type(plugin), c->params_path, c->result_path};
    for (size_t i = 0; i < sizeof args / sizeof args[0] && rc == 0; i++)
      rc = pgd_procspec_add_arg(&spec, args[i]);
    if (rc < 0) pgd_set_err(err, errlen, rc, "out of memory");
  }
  if (rc == 0) {
    pgd_spawn_opts_t opts = {.timeout_ms = timeout_ms, .kill_grace_ms = kill_grace_ms};
    pgd_spawn_cbs_t scbs = {.on_output = on_child_output, .on_exit = on_child_exit};
    rc = pgd_spawn_start(loop, &spec, NULL, &opts, &scbs, c, &c->sp, err, errlen);
  }
  pgd_procspec_free(&spec);
  if (rc < 0) {
    remove_files(c);
    free(c);
    return rc;
  }
  PGD_DEBUG(MOD, "%s run in child pid %d", pgd_plugin_type(plugin), (int)pgd_spawn_pid(c->sp));
  *out = c;
  return 0;
}

int pgd_inproc_child_default_helper(char *buf, size_t len) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0) return -errno;
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash) {
    *slash = '\0';
    int w = snprintf(buf, len, "%s/pagoda-inproc", self);
    if (w < 0 || (size_t)w >= len) return -ENAMETOOLONG;
    if (access(buf, X_OK) == 0) return 0;
  }
  int w = snprintf(buf, len, "/proc/self/exe");
  return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

int pgd_inproc_child_kill(pgd_inproc_child_t *c, int64_t grace_ms) {
  if (!c) return -EINVAL;
  if (!c->sp) return -ESRCH;
  return pgd_spawn_kill(c->sp, grace_ms);
}
