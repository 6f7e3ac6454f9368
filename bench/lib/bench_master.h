/* Pagoda benchmarks — a `pagoda master` started and stopped by a bench, on
 * free loopback ports with its data directory inside a temporary directory.
 *
 * Thread rules: main thread (it forks and waits). */
#ifndef PAGODA_BENCH_MASTER_H
#define PAGODA_BENCH_MASTER_H

#include <sys/types.h>

typedef struct bench_master {
  pid_t pid;
  int http_port;
  int rpc_port;
  char log[560]; /* TMPDIR/master.log: its stdout and stderr */
} bench_master_t;

/* Starts `pagoda master --http 127.0.0.1:H --rpc 127.0.0.1:R --data
 * TMPDIR/master --log-level warn [extra_args...]` (`extra_args` a NULL
 * terminated list, may be NULL) and waits up to 10 s until GET
 * /api/v1/health answers 200, the RPC port accepts and TMPDIR/master/
 * admin.token is there; its token is then set for every bench_http request
 * (bench_http_set_token). Returns 0 and fills
 * *m, or -1 with a message on stderr (the process is then killed). */
int bench_master_start(bench_master_t *m, const char *pagoda, const char *tmpdir,
                       const char *const *extra_args);

/* SIGTERM, up to 10 s of grace, then SIGKILL; reaps the process. */
void bench_master_stop(bench_master_t *m);

#endif
