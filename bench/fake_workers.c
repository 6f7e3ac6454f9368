/* Pagoda benchmark — N simulated workers on one libuv loop.
 *
 * Opens N connections to a master's RPC port from one process (core/net
 * conn.h), each doing the real handshake (hello -> welcome) and then sending
 * a heartbeat every second (spread evenly over the second), and measures the
 * master's CPU share and RSS from /proc/PID/stat and /proc/PID/status over a
 * window once every worker is connected. The fake workers advertise the job
 * type "fake-bench" only, so the master never sends them a launch; a launch
 * that does arrive is answered with a final "failed" state.
 *
 * Usage:
 *   bench_fake_workers [-n N] [--seconds S] [--master HOST:PORT --pid PID]
 *                      [--pagoda PATH] [--heartbeat-ms MS] [--connect-rate R]
 *   With --pagoda (the pagoda executable), it starts `pagoda master` itself
 *   on free loopback ports with a temporary data directory and stops it at
 *   the end; otherwise give the master's RPC address and its pid.
 *
 * Output: human lines, then "key=value" lines for scripts:
 *   workers=N connected_s=... cpu_share=... rss_mb=... heartbeats_per_s=...
 * Exit: 0; 1 when not every worker got a welcome, or on a setup error.
 *
 * RLIMIT_NOFILE: the tool raises its own soft limit to the hard limit and
 * refuses to start when N + 64 descriptors do not fit; the master needs
 * N + its own descriptors too (it inherits the limit when started here).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "lib/bench_master.h"
#include "lib/bench_util.h"
#include "lib/fake_worker.h"

/* ---- main ---- */

static void usage(void) {
  fprintf(stderr, "usage: bench_fake_workers [-n N] [--seconds S] [--heartbeat-ms MS]\n"
                  "         [--connect-rate R] (--pagoda PATH | --master HOST:PORT --pid PID)\n");
  exit(2);
}

int main(int argc, char **argv) {
  bench_fake_opts_t o = {.host = "127.0.0.1", .n = 1000, .slots = 4, .type = "fake-bench",
                         .hb_ms = 1000, .connect_rate = 100, .on_launch = BENCH_FAKE_LAUNCH_FAILS,
                         .heartbeat_running_attempts = 1};
  double seconds = 10;
  const char *pagoda = NULL, *master = NULL;
  int pid = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (strcmp(a, "-n") == 0) o.n = atoi(v);
    else if (strcmp(a, "--seconds") == 0) seconds = atof(v);
    else if (strcmp(a, "--heartbeat-ms") == 0) o.hb_ms = atoi(v);
    else if (strcmp(a, "--connect-rate") == 0) o.connect_rate = atoi(v);
    else if (strcmp(a, "--pagoda") == 0) pagoda = v;
    else if (strcmp(a, "--master") == 0) master = v;
    else if (strcmp(a, "--pid") == 0) pid = atoi(v);
    else usage();
    i++;
  }
  if (o.n < 1 || o.n > 200000 || o.hb_ms < 10 || seconds <= 0 || o.connect_rate < 1) usage();
  if (!pagoda && (!master || pid <= 0)) usage();

  if (bench_raise_nofile((long)o.n + 64) != 0) return 1;
  signal(SIGPIPE, SIG_IGN);
  srand((unsigned)getpid() ^ (unsigned)time(NULL));

  char tmpdir[] = "/tmp/pagoda-fake-workers-XXXXXX";
  bench_master_t m = {0};
  static char host[256];
  if (pagoda) {
    if (!mkdtemp(tmpdir)) {
      perror("mkdtemp");
      return 1;
    }
    if (bench_master_start(&m, pagoda, tmpdir, NULL) != 0) return 1;
    printf("started pagoda master pid %d (rpc 127.0.0.1:%d, log %s)\n", (int)m.pid, m.rpc_port,
           m.log);
    pid = (int)m.pid;
    o.port = m.rpc_port;
  } else {
    const char *colon = strrchr(master, ':');
    if (!colon || colon == master || (size_t)(colon - master) >= sizeof host) usage();
    memcpy(host, master, (size_t)(colon - master));
    host[colon - master] = 0;
    o.host = host;
    o.port = atoi(colon + 1);
  }

  uv_loop_t *loop = uv_default_loop();
  bench_fakes_t P;
  if (bench_fakes_start(&P, loop, &o) != 0) return 1;

  long hz = sysconf(_SC_CLK_TCK);
  double t0 = bench_now_s();
  unsigned long long c0 = 0, c1 = 0;
  bench_proc_cpu_ticks(pid, &c0);
  /* Until all are welcomed, or 10 s without progress. */
  while (P.welcomed < o.n) {
    long last = P.welcomed;
    bench_run_until(loop, 10.0, &P.welcomed, o.n);
    if (P.welcomed == last && P.next_connect >= o.n) break;
  }
  double t_conn = bench_now_s() - t0;
  unsigned long long cc = 0;
  bench_proc_cpu_ticks(pid, &cc);
  printf("%ld/%d fake workers welcomed in %.2f s (master CPU during connects: %.2f s)\n",
         P.welcomed, o.n, t_conn, (double)(cc - c0) / (double)hz);
  /* Let the connect burst settle, then measure a steady window. */
  bench_run_until(loop, 2.0, NULL, 0);
  long hb0 = P.heartbeats;
  double m0 = bench_now_s();
  bench_proc_cpu_ticks(pid, &c0);
  bench_run_until(loop, seconds, NULL, 0);
  double m1 = bench_now_s();
  int rc_cpu = bench_proc_cpu_ticks(pid, &c1);
  long rss = bench_proc_rss_kb(pid);
  double share = rc_cpu == 0 ? (double)(c1 - c0) / (double)hz / (m1 - m0) : -1;
  double hbps = (double)(P.heartbeats - hb0) / (m1 - m0);
  int ok = P.welcomed == o.n;
  printf("steady window %.1f s: %.0f heartbeats/s sent, master CPU %.1f%% of one core, RSS %.1f MB"
         " (%d rejected, %d closed, %ld launches)\n",
         m1 - m0, hbps, share * 100.0, rss / 1024.0, P.rejects, P.closed, P.launches);
  printf("workers=%d\nwelcomed=%ld\nconnected_s=%.3f\ncpu_share=%.4f\nrss_mb=%.1f\nheartbeats_per_s=%.0f\n",
         o.n, P.welcomed, t_conn, share, rss / 1024.0, hbps);
  fflush(stdout);

  bench_fakes_stop(&P);
  uv_loop_close(loop);
  if (m.pid > 0) {
    bench_master_stop(&m);
    if (bench_rm_rf(tmpdir) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  }
  return ok ? 0 : 1;
}
