/* Pagoda — `pagoda __inproc-run`: an in-process executor's run in a child
 * process (see inproc_main.h). */
#include "cli/inproc_main.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "plugin/registry.h"

/* Raised by SIGTERM: the worker's kill or timeout; SIGKILL follows after
 * the grace if run() does not return. */
static volatile sig_atomic_t g_cancelled;

static void on_sigterm(int sig) {
  (void)sig;
  g_cancelled = 1;
}

typedef struct run_state {
  char *result; /* last set_result text, owned */
} run_state_t;

static void op_log(void *ud, const char *data, size_t len) {
  (void)ud;
  while (data && len > 0) {
    ssize_t w = write(STDOUT_FILENO, data, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; /* the worker stopped reading: drop the text */
    data += w;
    len -= (size_t)w;
  }
}

static int op_is_cancelled(void *ud) {
  (void)ud;
  return g_cancelled != 0;
}

static void op_set_result(void *ud, const char *json) {
  run_state_t *st = ud;
  char *copy = json ? strdup(json) : NULL;
  free(st->result);
  st->result = copy;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0, n;
  char chunk[8192];
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
    if (len + n + 1 > cap) {
      size_t ncap = cap ? cap * 2 : 16384;
      while (ncap < len + n + 1) ncap *= 2;
      char *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
      cap = ncap;
    }
    memcpy(buf + len, chunk, n);
    len += n;
  }
  fclose(f);
  if (!buf) buf = calloc(1, 1);
  else buf[len] = '\0';
  return buf;
}

/* Writes the outcome; 0, or -errno. */
static int write_result(const char *path, int rc, const char *error, const char *result) {
  cJSON *o = cJSON_CreateObject();
  if (!o) return -ENOMEM;
  cJSON_AddNumberToObject(o, "rc", rc);
  cJSON_AddStringToObject(o, "error", error ? error : "");
  if (result) cJSON_AddStringToObject(o, "result", result);
  else cJSON_AddNullToObject(o, "result");
  char *text = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!text) return -ENOMEM;
  int ret = 0;
  FILE *f = fopen(path, "wb");
  if (!f || fputs(text, f) == EOF) ret = -errno;
  if (f && fclose(f) != 0 && ret == 0) ret = -errno;
  free(text);
  return ret;
}

int pgd_inproc_main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "pagoda: %s is internal to the worker\n", argc > 1 ? argv[1] : "");
    return 2;
  }
  const char *file = argv[2], *type = argv[3], *params_path = argv[4], *result_path = argv[5];
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigterm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  /* Only errors: anything logged here lands in the job's output. */
  pgd_log_set_level(PGD_LOG_ERROR);
  /* No probe child before the load (core/plugin/loader.c): the worker
   * probed this file when it loaded it, and this whole process is the
   * sandbox a probe would give: a hang is killed with it, a crash fails
   * only this run. Saves a fork and a second init per run. */
  setenv("PAGODA_PLUGIN_PROBE", "0", 1);

  char err[1024] = "";
  int rc = 0;
  run_state_t st = {0};
  cJSON *params = NULL;
  pgd_registry_t *reg = pgd_registry_new();
  const pgd_plugin_t *p = NULL;
  if (!reg) {
    rc = -ENOMEM;
    snprintf(err, sizeof err, "out of memory");
  } else if ((rc = pgd_registry_load_file(reg, file, err, sizeof err)) < 0) {
    /* err says why */
  } else if (!(p = pgd_registry_find(reg, type))) {
    rc = -ENOENT;
    snprintf(err, sizeof err, "%s does not provide job type '%s'", file, type);
  }
  if (rc == 0) {
    char *text = read_file(params_path);
    params = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!params) {
      rc = -EINVAL;
      snprintf(err, sizeof err, "cannot read the run's params from %s", params_path);
    }
  }
  if (rc == 0) {
    pgd_run_ops_t ops = {.log = op_log, .is_cancelled = op_is_cancelled,
                         .set_result = op_set_result, .ud = &st};
    rc = pgd_plugin_run(p, params, &ops, err, sizeof err);
  }
  int wrc = write_result(result_path, rc, err, st.result);
  if (wrc < 0) fprintf(stderr, "pagoda: cannot write %s: %s\n", result_path, strerror(-wrc));
  cJSON_Delete(params);
  free(st.result);
  pgd_registry_free(reg);
  return rc == 0 && wrc == 0 ? 0 : 1;
}

#ifdef PGD_INPROC_STANDALONE
/* pagoda-inproc: the same mode as a program of its own (fewer libraries to
 * load per run); argv as for `pagoda __inproc-run`. */
int main(int argc, char **argv) {
  return pgd_inproc_main(argc, argv);
}
#endif
