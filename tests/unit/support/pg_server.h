/* Pagoda tests and benchmarks — a throw-away PostgreSQL server, started with
 * tests/pg_harness.sh (initdb + pg_ctl as the postgres user, a temporary
 * directory, a free port below 32768, 127.0.0.1 and a unix socket in the
 * directory only).
 *
 * A guardian process is forked BEFORE the server starts: it waits for EOF
 * on a pipe whose only writer is this process, then runs
 * `pg_harness.sh stop DIR` (pg_ctl stop -m immediate, then SIGKILL of the
 * postmaster pid). So the server is stopped when the test ends in any way,
 * including a crash or a SIGKILL from ctest's timeout.
 *
 * Header-only (static functions) so that a test including it links nothing
 * more; used by tests/unit/test_store_pg.c and bench/store_backends.c. The
 * harness script is tests/pg_harness.sh (also used by the Python harness of
 * the integration tests), found from this header's path (__FILE__, two
 * directories up) unless PAGODA_PG_HARNESS names it. */
#ifndef PAGODA_TESTS_PG_SERVER_H
#define PAGODA_TESTS_PG_SERVER_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
  char dir[128];      /* server directory: data, logs, unix socket */
  int port;
  pid_t guardian;
  int guard_fd;       /* write end of the guardian's pipe, -1 when none */
  char harness[200];
} pgd_test_pg_t;

static void pgd_test_pg_harness_path(char *buf, size_t cap) {
  const char *env = getenv("PAGODA_PG_HARNESS");
  if (env && env[0]) {
    snprintf(buf, cap, "%s", env);
    return;
  }
  const char *self = __FILE__;
  const char *slash = strrchr(self, '/');
  if (!slash) snprintf(buf, cap, "tests/pg_harness.sh");
  else snprintf(buf, cap, "%.*s/../../pg_harness.sh", (int)(slash - self), self);
}

/* 0 and pg filled, or -1 with a message in err. */
static int pgd_test_pg_start(pgd_test_pg_t *pg, char *err, size_t errlen) {
  memset(pg, 0, sizeof(*pg));
  pg->guard_fd = -1;
  pgd_test_pg_harness_path(pg->harness, sizeof(pg->harness));
  if (access(pg->harness, X_OK) != 0) {
    snprintf(err, errlen, "the harness %s is missing (%s)", pg->harness, strerror(errno));
    return -1;
  }
  snprintf(pg->dir, sizeof(pg->dir), "/tmp/pgd_pg.XXXXXX");
  if (!mkdtemp(pg->dir)) {
    snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
    return -1;
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    rmdir(pg->dir);
    return -1;
  }
  fflush(NULL);
  pid_t g = fork();
  if (g < 0) {
    snprintf(err, errlen, "fork: %s", strerror(errno));
    close(fds[0]);
    close(fds[1]);
    rmdir(pg->dir);
    return -1;
  }
  if (g == 0) { /* guardian */
    close(fds[1]);
    setsid(); /* survive a signal sent to the test's process group */
    char c;
    while (read(fds[0], &c, 1) != 0) {
      if (errno != EINTR) break;
    }
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) dup2(devnull, 1);
    execl("/bin/sh", "sh", "-c", "exec \"$0\" stop \"$1\"", pg->harness, pg->dir, (char *)NULL);
    _exit(127);
  }
  close(fds[0]);
  pg->guardian = g;
  pg->guard_fd = fds[1];

  char cmd[800];
  snprintf(cmd, sizeof(cmd), "'%s' start '%s'", pg->harness, pg->dir);
  FILE *p = popen(cmd, "r");
  int port = 0;
  if (p) {
    if (fscanf(p, "%d", &port) != 1) port = 0;
    int st = pclose(p);
    if (st != 0) port = 0;
  }
  if (port <= 0 || port >= 32768) {
    snprintf(err, errlen,
             "could not start a PostgreSQL server with %s (see its message above; the "
             "postgresql package is required: sbin/setup-deps.sh)",
             pg->harness);
    return -1;
  }
  pg->port = port;
  return 0;
}

/* Stops the server (through the guardian) and waits for it. Idempotent. */
static void pgd_test_pg_stop(pgd_test_pg_t *pg) {
  if (pg->guard_fd >= 0) close(pg->guard_fd);
  pg->guard_fd = -1;
  if (pg->guardian > 0) {
    int st;
    while (waitpid(pg->guardian, &st, 0) < 0 && errno == EINTR) {
    }
  }
  pg->guardian = 0;
}

/* libpq connection string for database `db` of the server. */
static void pgd_test_pg_conninfo(const pgd_test_pg_t *pg, const char *db, char *buf, size_t cap) {
  snprintf(buf, cap, "host=%s port=%d user=postgres dbname=%s connect_timeout=10", pg->dir,
           pg->port, db);
}

#endif
