/* Pagoda benchmarks — a master process (see bench_master.h). */
#include "bench_master.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_http.h"
#include "bench_util.h"

extern char **environ;

static int healthy(const bench_master_t *m) {
  bench_http_t h;
  if (bench_http_open(&h, m->http_port) != 0) return 0;
  int st = bench_http_req(&h, "GET", "/api/v1/health", NULL, NULL);
  bench_http_close(&h);
  return st == 200 && bench_port_open(m->rpc_port);
}

int bench_master_start(bench_master_t *m, const char *pagoda, const char *tmpdir,
                       const char *const *extra_args) {
  memset(m, 0, sizeof *m);
  char http[64], rpc[64], data[512];
  int hp = bench_free_port(), rp = bench_free_port();
  if (hp < 0 || rp < 0 || hp == rp) {
    fprintf(stderr, "no free loopback ports for the master\n");
    return -1;
  }
  snprintf(http, sizeof http, "127.0.0.1:%d", hp);
  snprintf(rpc, sizeof rpc, "127.0.0.1:%d", rp);
  snprintf(data, sizeof data, "%s/master", tmpdir);
  snprintf(m->log, sizeof m->log, "%s/master.log", tmpdir);
  const char *argv[64] = {pagoda, "master", "--http", http, "--rpc", rpc, "--data", data,
                          "--log-level", "warn"};
  int argc = 10;
  for (int i = 0; extra_args && extra_args[i] && argc < 63; i++) argv[argc++] = extra_args[i];
  argv[argc] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, m->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, m->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
  int rc = posix_spawn(&m->pid, pagoda, &fa, NULL, (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    fprintf(stderr, "cannot start %s: %s\n", pagoda, strerror(rc));
    m->pid = 0;
    return -1;
  }
  m->http_port = hp;
  m->rpc_port = rp;
  char token_file[600];
  snprintf(token_file, sizeof token_file, "%s/admin.token", data);
  for (int i = 0; i < 400; i++) {
    /* The admin token is written before the master says it is running. */
    if (healthy(m) && bench_http_token_from_file(token_file) == 0) return 0;
    if (waitpid(m->pid, NULL, WNOHANG) == m->pid) {
      fprintf(stderr, "the master exited at start (log: %s)\n", m->log);
      m->pid = 0;
      return -1;
    }
    usleep(25000);
  }
  fprintf(stderr, "the master did not answer on %s (log: %s)\n", http, m->log);
  kill(m->pid, SIGKILL);
  waitpid(m->pid, NULL, 0);
  m->pid = 0;
  return -1;
}

void bench_master_stop(bench_master_t *m) {
  if (m->pid <= 0) return;
  kill(m->pid, SIGTERM);
  int st = 0;
  for (int i = 0; i < 200 && waitpid(m->pid, &st, WNOHANG) == 0; i++) usleep(50000);
  if (waitpid(m->pid, &st, WNOHANG) == 0) {
    kill(m->pid, SIGKILL);
    waitpid(m->pid, &st, 0);
  }
  m->pid = 0;
}
