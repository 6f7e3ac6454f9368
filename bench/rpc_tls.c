/* Pagoda benchmark — what TLS and the HMAC handshake cost on the master <->
 * worker connection.
 *
 * 1. engine: full TLS handshakes between two net/tls engines joined in
 *    memory (no sockets): CPU per handshake, both sides together; and the
 *    HMAC proofs of the worker handshake (net/auth.h).
 * 2. connect: N fake workers (bench/lib) connect to a real `pagoda master`
 *    and complete the whole handshake (TCP [+ TLS] + hello/challenge/auth/
 *    welcome), plain and with TLS: wall time until all are welcomed and the
 *    master's CPU spent on it, per worker.
 * 3. throughput: one net/conn connection on one loop sends M state-sized
 *    frames and then M 64 KiB log-sized frames to a listener, plain and
 *    with TLS: frames/s and MB/s (the transport the reports travel on).
 *
 * Usage: bench_rpc_tls --pagoda PATH [-n WORKERS] [--handshakes H] [--frames M]
 * Certificates (EC P-256, as docs/security.md shows) are made with the
 * openssl command in a temporary directory. Output: human lines, then
 * key=value lines. Exit 0, or 1 on a setup error or when a phase fails.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "common/log.h"
#include "lib/bench_master.h"
#include "lib/bench_util.h"
#include "lib/fake_worker.h"
#include "net/auth.h"
#include "net/conn.h"
#include "net/tls.h"

static char tmpdir[] = "/tmp/pagoda-bench-tls-XXXXXX";

static const char *tpath(const char *name) {
  static char buf[8][600];
  static int i;
  i = (i + 1) % 8;
  snprintf(buf[i], sizeof buf[i], "%s/%s", tmpdir, name);
  return buf[i];
}

static int make_certs(void) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "(set -e; cd %s; k='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';"
           " openssl req -x509 $k -keyout ca.key -out ca.crt -days 2 -subj '/CN=bench CA';"
           " openssl req $k -keyout master.key -out master.csr -subj /CN=pagoda-master;"
           " printf 'subjectAltName=IP:127.0.0.1\\n' > master.ext;"
           " openssl x509 -req -in master.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
           "   -out master.crt -days 2 -extfile master.ext) >/dev/null 2>&1",
           tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

/* ---- 1. engines in memory ---- */

static void pass(pgd_tls_t *a, pgd_tls_t *b) {
  char *buf;
  size_t n = pgd_tls_take(a, &buf);
  if (n) pgd_tls_feed(b, buf, n);
  free(buf);
}

static int bench_engine(int handshakes, double *us_per_handshake, double *us_per_proof) {
  char err[512];
  pgd_tls_ctx_t *sc, *cc;
  if (pgd_tls_server_ctx_new(tpath("master.crt"), tpath("master.key"), NULL, &sc, err,
                             sizeof err) < 0 ||
      pgd_tls_client_ctx_new(tpath("ca.crt"), NULL, NULL, &cc, err, sizeof err) < 0) {
    fprintf(stderr, "TLS contexts: %s\n", err);
    return -1;
  }
  double c0 = bench_self_cpu_s();
  int ok = 0;
  for (int i = 0; i < handshakes; i++) {
    pgd_tls_t *s = pgd_tls_new(sc, true, NULL), *c = pgd_tls_new(cc, false, "127.0.0.1");
    int rc = 0, rs = 0;
    for (int round = 0; round < 10 && !(rc == 1 && rs == 1); round++) {
      rc = pgd_tls_handshake(c);
      pass(c, s);
      rs = pgd_tls_handshake(s);
      pass(s, c);
      if (rc < 0 || rs < 0) break;
    }
    ok += rc == 1 && rs == 1;
    pgd_tls_free(s);
    pgd_tls_free(c);
  }
  *us_per_handshake = (bench_self_cpu_s() - c0) * 1e6 / handshakes;
  pgd_tls_ctx_free(sc);
  pgd_tls_ctx_free(cc);

  char mn[65], wn[65], p[65];
  pgd_auth_nonce(mn);
  pgd_auth_nonce(wn);
  int n = 100000, good = 0;
  c0 = bench_self_cpu_s();
  for (int i = 0; i < n; i++) {
    pgd_auth_proof("bench-secret", PGD_AUTH_WORKER, mn, wn, "w-1", p);
    good += pgd_auth_verify("bench-secret", PGD_AUTH_WORKER, mn, wn, "w-1", p);
  }
  *us_per_proof = (bench_self_cpu_s() - c0) * 1e6 / n / 2;
  return ok == handshakes && good == n ? 0 : -1;
}

/* ---- 2. connects to a real master ---- */

static int bench_connect(const char *pagoda, int n, int tls, double *wall_ms, double *cpu_ms) {
  char data[700];
  snprintf(data, sizeof data, "%s/%s", tmpdir, tls ? "tls" : "plain");
  if (mkdir(data, 0700) < 0 && errno != EEXIST) return -1;
  const char *args_tls[] = {"--rpc-tls-cert", tpath("master.crt"), "--rpc-tls-key",
                            tpath("master.key"), NULL};
  bench_master_t m = {0};
  setenv("PAGODA_SECRET", "bench-secret", 1);
  if (bench_master_start(&m, pagoda, data, tls ? args_tls : NULL) != 0) return -1;
  pgd_tls_ctx_t *cc = NULL;
  char err[512];
  if (tls && pgd_tls_client_ctx_new(tpath("ca.crt"), NULL, NULL, &cc, err, sizeof err) < 0) {
    fprintf(stderr, "client TLS: %s\n", err);
    bench_master_stop(&m);
    return -1;
  }
  bench_fake_opts_t o = {.host = "127.0.0.1", .port = m.rpc_port, .n = n, .slots = 1,
                         .type = "fake-bench", .hb_ms = 1000, .connect_rate = 50,
                         .on_launch = BENCH_FAKE_LAUNCH_FAILS, .secret = "bench-secret", .tls = cc};
  uv_loop_t loop;
  uv_loop_init(&loop);
  bench_fakes_t P;
  int rc = bench_fakes_start(&P, &loop, &o);
  unsigned long long t0 = 0, t1 = 0;
  long hz = sysconf(_SC_CLK_TCK);
  bench_proc_cpu_ticks(m.pid, &t0);
  double w0 = bench_now_s();
  if (rc == 0) bench_run_until(&loop, 60.0, &P.welcomed, n);
  double w1 = bench_now_s();
  bench_proc_cpu_ticks(m.pid, &t1);
  int ok = rc == 0 && P.welcomed == n;
  if (!ok) fprintf(stderr, "only %ld of %d workers welcomed (%d rejected)\n", P.welcomed, n, P.rejects);
  *wall_ms = (w1 - w0) * 1000.0 / n;
  *cpu_ms = (double)(t1 - t0) * 1000.0 / (double)hz / n;
  if (rc == 0) bench_fakes_stop(&P);
  uv_loop_close(&loop);
  pgd_tls_ctx_free(cc);
  bench_master_stop(&m);
  return ok ? 0 : -1;
}

/* ---- 3. frame throughput over one connection ---- */

typedef struct {
  long got;
  long want;
} sink_t;

static void sink_msg(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) { ((sink_t *)ud)->got++; }
static void sink_accept(pgd_listener_t *l, pgd_conn_t *c, void *ud) {
  static const pgd_conn_cbs_t cbs = {.on_message = sink_msg};
  pgd_conn_set_callbacks(c, &cbs, ud);
}

/* Sends `m` frames of about `payload` bytes; returns the seconds it took
 * until the listener decoded all, or -1. */
static double send_frames(uv_loop_t *loop, int port, pgd_tls_ctx_t *cc, sink_t *sink, long m,
                          size_t payload) {
  static const pgd_conn_cbs_t cbs = {0};
  pgd_conn_t *c;
  if (pgd_conn_connect(loop, "127.0.0.1", port, 0, &cbs, NULL, &c) < 0) return -1;
  if (cc) pgd_conn_set_tls(c, cc, "127.0.0.1");
  char *data = malloc(payload + 1);
  memset(data, 'x', payload);
  data[payload] = 0;
  cJSON *body = cJSON_CreateObject();
  cJSON_AddNumberToObject(body, "seq", 1);
  cJSON_AddNumberToObject(body, "execution_id", 123456);
  cJSON_AddNumberToObject(body, "attempt", 1);
  cJSON_AddStringToObject(body, "data", data);
  free(data);
  sink->got = 0;
  sink->want = m;
  double t0 = bench_now_s();
  long sent = 0;
  while (sink->got < m && bench_now_s() - t0 < 120) {
    /* keep about 4 MB in flight */
    while (sent < m && pgd_conn_write_queue_size(c) < (4u << 20)) {
      if (pgd_conn_send(c, PGD_MSG_LOG, body) < 0) break;
      sent++;
    }
    uv_run(loop, UV_RUN_ONCE);
  }
  double dt = bench_now_s() - t0;
  cJSON_Delete(body);
  pgd_conn_close(c);
  for (int i = 0; i < 20; i++) uv_run(loop, UV_RUN_NOWAIT);
  return sink->got == m ? dt : -1;
}

static int bench_throughput(long frames, int tls, double *small_fps, double *big_mbps) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  char err[512];
  pgd_tls_ctx_t *sc = NULL, *cc = NULL;
  if (tls && (pgd_tls_server_ctx_new(tpath("master.crt"), tpath("master.key"), NULL, &sc, err,
                                     sizeof err) < 0 ||
              pgd_tls_client_ctx_new(tpath("ca.crt"), NULL, NULL, &cc, err, sizeof err) < 0)) {
    fprintf(stderr, "TLS: %s\n", err);
    return -1;
  }
  sink_t sink = {0};
  pgd_listener_t *l;
  if (pgd_listener_start(&loop, "127.0.0.1", 0, 0, sink_accept, &sink, &l) < 0) return -1;
  if (sc) pgd_listener_set_tls(l, sc);
  int port = pgd_listener_port(l);
  double t_small = send_frames(&loop, port, cc, &sink, frames, 40);
  long big = frames / 50 > 100 ? frames / 50 : 100;
  double t_big = send_frames(&loop, port, cc, &sink, big, 64 * 1024);
  pgd_listener_close(l);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  pgd_tls_ctx_free(sc);
  pgd_tls_ctx_free(cc);
  if (t_small <= 0 || t_big <= 0) return -1;
  *small_fps = (double)frames / t_small;
  *big_mbps = (double)big * 64.0 / 1024.0 / t_big;
  return 0;
}

static void usage(void) {
  fprintf(stderr, "usage: bench_rpc_tls --pagoda PATH [-n WORKERS] [--handshakes H] [--frames M]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *pagoda = NULL;
  int n = 200, handshakes = 500;
  long frames = 200000;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (strcmp(a, "--pagoda") == 0) pagoda = v;
    else if (strcmp(a, "-n") == 0) n = atoi(v);
    else if (strcmp(a, "--handshakes") == 0) handshakes = atoi(v);
    else if (strcmp(a, "--frames") == 0) frames = atol(v);
    else usage();
    i++;
  }
  if (!pagoda || n < 1 || handshakes < 1 || frames < 100) usage();
  signal(SIGPIPE, SIG_IGN);
  pgd_log_set_level(PGD_LOG_ERROR);
  if (bench_raise_nofile((long)n + 64) != 0) return 1;
  if (!mkdtemp(tmpdir) || make_certs() < 0) {
    fprintf(stderr, "cannot make certificates in %s (is the openssl command installed?)\n", tmpdir);
    return 1;
  }
  int bad = 0;
  double hs_us = 0, proof_us = 0;
  bad |= bench_engine(handshakes, &hs_us, &proof_us) != 0;
  printf("TLS handshake (EC P-256, both sides, in memory): %.0f us CPU; HMAC proof: %.2f us\n",
         hs_us, proof_us);

  double wall[2] = {0}, cpu[2] = {0};
  for (int tls = 0; tls <= 1; tls++) {
    bad |= bench_connect(pagoda, n, tls, &wall[tls], &cpu[tls]) != 0;
    printf("%d workers connect %s: %.2f ms wall per worker, master CPU %.3f ms per worker\n", n,
           tls ? "over TLS" : "in plain TCP", wall[tls], cpu[tls]);
  }

  double fps[2] = {0}, mbps[2] = {0};
  for (int tls = 0; tls <= 1; tls++) {
    bad |= bench_throughput(frames, tls, &fps[tls], &mbps[tls]) != 0;
    printf("one connection, %s: %.0f small frames/s, %.0f MB/s in 64 KiB frames\n",
           tls ? "TLS" : "plain", fps[tls], mbps[tls]);
  }
  printf("tls_handshake_us=%.0f\nhmac_proof_us=%.2f\nconnect_plain_ms=%.3f\nconnect_tls_ms=%.3f\n"
         "master_cpu_plain_ms=%.3f\nmaster_cpu_tls_ms=%.3f\nframes_per_s_plain=%.0f\n"
         "frames_per_s_tls=%.0f\nmb_per_s_plain=%.0f\nmb_per_s_tls=%.0f\n",
         hs_us, proof_us, wall[0], wall[1], cpu[0], cpu[1], fps[0], fps[1], mbps[0], mbps[1]);
  if (bench_rm_rf(tmpdir) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return bad ? 1 : 0;
}
