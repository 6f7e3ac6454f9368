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
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "net/conn.h"

extern char **environ;

typedef struct fake {
  int index;
  pgd_conn_t *conn;
  int welcomed;
  int rejected;
} fake_t;

static struct {
  uv_loop_t *loop;
  const char *host;
  int port;
  int n;
  int hb_ms;
  int connect_rate; /* connections opened per 10 ms tick */
  fake_t *fakes;
  int next_connect;
  int welcomed;
  int closed;
  int rejects;
  int hb_cursor;
  long heartbeats;
  long launches;
  uv_timer_t tick;
  int stopping;
} G;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- /proc of the master ---- */

static int proc_cpu_ticks(int pid, unsigned long long *ticks) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -errno;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  if (!p) return -EINVAL;
  unsigned long long ut = 0, st = 0;
  /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -EINVAL;
  *ticks = ut + st;
  return 0;
}

static long proc_rss_kb(int pid) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) break;
  fclose(f);
  return kb;
}

/* ---- the fake workers ---- */

static void on_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  fake_t *f = ud;
  if (t == PGD_MSG_WELCOME && !f->welcomed) {
    f->welcomed = 1;
    G.welcomed++;
  } else if (t == PGD_MSG_REJECT) {
    f->rejected = 1;
    G.rejects++;
    if (G.rejects <= 3)
      fprintf(stderr, "fake worker %d rejected: %s\n", f->index,
              cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "reason")));
  } else if (t == PGD_MSG_LAUNCH) {
    G.launches++;
    cJSON *st = cJSON_CreateObject();
    cJSON_AddNumberToObject(st, "seq", (double)G.launches);
    cJSON_AddItemToObject(st, "execution_id",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(msg, "execution_id"), 1));
    cJSON_AddItemToObject(st, "attempt",
                          cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(msg, "attempt"), 1));
    cJSON_AddStringToObject(st, "state", "failed");
    cJSON_AddStringToObject(st, "error", "fake worker: runs nothing");
    pgd_conn_send(c, PGD_MSG_STATE, st);
    cJSON_Delete(st);
  }
}

static void on_close(pgd_conn_t *c, int reason, void *ud) {
  (void)c;
  fake_t *f = ud;
  if (f->welcomed) G.welcomed--;
  f->welcomed = 0;
  f->conn = NULL;
  G.closed++;
  if (!G.stopping && G.closed <= 3)
    fprintf(stderr, "fake worker %d: connection closed (%s)\n", f->index,
            reason ? uv_strerror(reason) : "by us");
}

static void send_hello(fake_t *f) {
  char id[32];
  snprintf(id, sizeof id, "fake-%05d", f->index);
  cJSON *b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "protocol", PGD_PROTOCOL_VERSION);
  cJSON_AddStringToObject(b, "secret", "");
  cJSON *w = cJSON_AddObjectToObject(b, "worker");
  cJSON_AddStringToObject(w, "id", id);
  cJSON_AddStringToObject(w, "host", "fake");
  cJSON_AddNumberToObject(w, "slots", 4);
  cJSON *types = cJSON_AddArrayToObject(w, "types");
  cJSON_AddItemToArray(types, cJSON_CreateString("fake-bench"));
  cJSON_AddArrayToObject(w, "labels");
  cJSON_AddNumberToObject(w, "pid", getpid());
  cJSON_AddArrayToObject(b, "running");
  pgd_conn_send(f->conn, PGD_MSG_HELLO, b);
  cJSON_Delete(b);
}

static void send_heartbeat(fake_t *f) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "slots", 4);
  cJSON_AddNumberToObject(b, "slots_used", 0);
  cJSON_AddNumberToObject(b, "running", 0);
  cJSON *types = cJSON_AddArrayToObject(b, "types");
  cJSON_AddItemToArray(types, cJSON_CreateString("fake-bench"));
  cJSON_AddArrayToObject(b, "labels");
  cJSON *load = cJSON_AddObjectToObject(b, "load");
  cJSON_AddNumberToObject(load, "load1", 0.1);
  cJSON_AddNumberToObject(load, "mem_free_mb", 1000);
  cJSON_AddArrayToObject(b, "running_attempts");
  if (pgd_conn_send(f->conn, PGD_MSG_HEARTBEAT, b) == 0) G.heartbeats++;
  cJSON_Delete(b);
}

static void connect_one(fake_t *f) {
  static const pgd_conn_cbs_t cbs = {.on_message = on_message, .on_close = on_close};
  int rc = pgd_conn_connect(G.loop, G.host, G.port, 0, &cbs, f, &f->conn);
  if (rc < 0) {
    fprintf(stderr, "connect %d: %s\n", f->index, uv_strerror(rc));
    f->conn = NULL;
    return;
  }
  send_hello(f); /* queued until connected */
}

/* Every 10 ms: open up to connect_rate connections, and send heartbeats to
 * the next slice of workers so that each sends one per hb_ms. */
static void on_tick(uv_timer_t *t) {
  (void)t;
  for (int k = 0; k < G.connect_rate && G.next_connect < G.n; k++)
    connect_one(&G.fakes[G.next_connect++]);
  /* Heartbeats due since the start, by the clock (timer ticks drift). */
  static double start = 0, sent = 0;
  double now = now_s();
  if (start == 0) start = now;
  double due = (now - start) * 1000.0 / G.hb_ms * G.n - sent;
  int per = due > G.n ? G.n : (int)due;
  sent += per;
  for (int k = 0; k < per; k++) {
    fake_t *f = &G.fakes[G.hb_cursor];
    G.hb_cursor = (G.hb_cursor + 1) % G.n;
    if (f->conn && f->welcomed) send_heartbeat(f);
  }
}

/* Runs the loop for `seconds` (or until pred is true, when given). */
static void run_for(double seconds, int (*pred)(void)) {
  double end = now_s() + seconds;
  while (now_s() < end) {
    uv_run(G.loop, UV_RUN_ONCE);
    if (pred && pred()) return;
  }
}

static int all_welcomed(void) { return G.welcomed == G.n; }

/* ---- starting a master ---- */

static int free_port(void) {
  for (int i = 0; i < 200; i++) {
    int p = 20000 + rand() % 12000;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    if (ok) return p;
  }
  return -1;
}

static int port_open(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
  close(s);
  return ok;
}

static pid_t start_master(const char *pagoda, int *rpc_port, char *tmpdir) {
  char http[64], rpc[64], data[512], logp[560];
  int hp = free_port(), rp = free_port();
  if (hp < 0 || rp < 0 || hp == rp) return -1;
  snprintf(http, sizeof http, "127.0.0.1:%d", hp);
  snprintf(rpc, sizeof rpc, "127.0.0.1:%d", rp);
  snprintf(data, sizeof data, "%s/master", tmpdir);
  snprintf(logp, sizeof logp, "%s/master.log", tmpdir);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
  char *argv[] = {(char *)pagoda, "master", "--http", http, "--rpc", rpc, "--data", data,
                  "--log-level", "warn", NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, pagoda, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    fprintf(stderr, "cannot start %s: %s\n", pagoda, strerror(rc));
    return -1;
  }
  for (int i = 0; i < 400 && !port_open(rp); i++) usleep(25000);
  if (!port_open(rp)) {
    fprintf(stderr, "the master did not listen on %s (log: %s)\n", rpc, logp);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
  }
  *rpc_port = rp;
  printf("started pagoda master pid %d (rpc %s, log %s)\n", (int)pid, rpc, logp);
  return pid;
}

/* ---- main ---- */

static void usage(void) {
  fprintf(stderr, "usage: bench_fake_workers [-n N] [--seconds S] [--heartbeat-ms MS]\n"
                  "         [--connect-rate R] (--pagoda PATH | --master HOST:PORT --pid PID)\n");
  exit(2);
}

int main(int argc, char **argv) {
  G.n = 1000;
  G.hb_ms = 1000;
  G.connect_rate = 100;
  double seconds = 10;
  const char *pagoda = NULL, *master = NULL;
  int pid = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (strcmp(a, "-n") == 0) G.n = atoi(v);
    else if (strcmp(a, "--seconds") == 0) seconds = atof(v);
    else if (strcmp(a, "--heartbeat-ms") == 0) G.hb_ms = atoi(v);
    else if (strcmp(a, "--connect-rate") == 0) G.connect_rate = atoi(v);
    else if (strcmp(a, "--pagoda") == 0) pagoda = v;
    else if (strcmp(a, "--master") == 0) master = v;
    else if (strcmp(a, "--pid") == 0) pid = atoi(v);
    else usage();
    i++;
  }
  if (G.n < 1 || G.n > 200000 || G.hb_ms < 10 || seconds <= 0 || G.connect_rate < 1) usage();
  if (!pagoda && (!master || pid <= 0)) usage();

  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)G.n + 64) {
    fprintf(stderr, "RLIMIT_NOFILE is %llu: %d connections need %d (raise the hard limit)\n",
            (unsigned long long)rl.rlim_cur, G.n, G.n + 64);
    return 1;
  }
  signal(SIGPIPE, SIG_IGN);
  srand((unsigned)getpid() ^ (unsigned)time(NULL));

  char tmpdir[] = "/tmp/pagoda-fake-workers-XXXXXX";
  pid_t child = -1;
  static char host[256];
  if (pagoda) {
    if (!mkdtemp(tmpdir)) {
      perror("mkdtemp");
      return 1;
    }
    child = start_master(pagoda, &G.port, tmpdir);
    if (child < 0) return 1;
    pid = (int)child;
    snprintf(host, sizeof host, "127.0.0.1");
  } else {
    const char *colon = strrchr(master, ':');
    if (!colon || colon == master || (size_t)(colon - master) >= sizeof host) usage();
    memcpy(host, master, (size_t)(colon - master));
    host[colon - master] = 0;
    G.port = atoi(colon + 1);
  }
  G.host = host;

  G.loop = uv_default_loop();
  G.fakes = calloc((size_t)G.n, sizeof *G.fakes);
  if (!G.fakes) return 1;
  for (int i = 0; i < G.n; i++) G.fakes[i].index = i;
  uv_timer_init(G.loop, &G.tick);
  uv_timer_start(&G.tick, on_tick, 10, 10);

  long hz = sysconf(_SC_CLK_TCK);
  double t0 = now_s();
  unsigned long long c0 = 0, c1 = 0;
  proc_cpu_ticks(pid, &c0);
  /* Until all are welcomed, or 10 s without progress. */
  for (int last = -1; !all_welcomed();) {
    last = G.welcomed;
    run_for(10.0, all_welcomed);
    if (G.welcomed == last && G.next_connect >= G.n) break;
  }
  double t_conn = now_s() - t0;
  unsigned long long cc = 0;
  proc_cpu_ticks(pid, &cc);
  printf("%d/%d fake workers welcomed in %.2f s (master CPU during connects: %.2f s)\n",
         G.welcomed, G.n, t_conn, (double)(cc - c0) / (double)hz);
  /* Let the connect burst settle, then measure a steady window. */
  run_for(2.0, NULL);
  long hb0 = G.heartbeats;
  double m0 = now_s();
  proc_cpu_ticks(pid, &c0);
  run_for(seconds, NULL);
  double m1 = now_s();
  int rc_cpu = proc_cpu_ticks(pid, &c1);
  long rss = proc_rss_kb(pid);
  double share = rc_cpu == 0 ? (double)(c1 - c0) / (double)hz / (m1 - m0) : -1;
  double hbps = (double)(G.heartbeats - hb0) / (m1 - m0);
  int ok = G.welcomed == G.n;
  printf("steady window %.1f s: %.0f heartbeats/s sent, master CPU %.1f%% of one core, RSS %.1f MB"
         " (%d rejected, %d closed, %ld launches)\n",
         m1 - m0, hbps, share * 100.0, rss / 1024.0, G.rejects, G.closed, G.launches);
  printf("workers=%d\nwelcomed=%d\nconnected_s=%.3f\ncpu_share=%.4f\nrss_mb=%.1f\nheartbeats_per_s=%.0f\n",
         G.n, G.welcomed, t_conn, share, rss / 1024.0, hbps);
  fflush(stdout);

  G.stopping = 1;
  uv_timer_stop(&G.tick);
  for (int i = 0; i < G.n; i++)
    if (G.fakes[i].conn) pgd_conn_close(G.fakes[i].conn);
  uv_close((uv_handle_t *)&G.tick, NULL);
  uv_run(G.loop, UV_RUN_DEFAULT);
  uv_loop_close(G.loop);
  free(G.fakes);
  if (child > 0) {
    kill(child, SIGTERM);
    int st = 0;
    for (int i = 0; i < 200 && waitpid(child, &st, WNOHANG) == 0; i++) usleep(50000);
    if (waitpid(child, &st, WNOHANG) == 0) {
      kill(child, SIGKILL);
      waitpid(child, &st, 0);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  }
  return ok ? 0 : 1;
}
