/* Pagoda benchmark — the master <-> worker transport inside one process
 * (`pagoda dev`): loopback TCP against the local stream (a Unix-domain
 * socketpair, net/conn.h pgd_listener_connect_local), both ends of one
 * net/conn connection on one loop and one thread, as in `pagoda dev`.
 *
 * For each transport and window W: the client keeps W state-sized frames
 * (~110 bytes) in flight, the server echoes each one, until M frames have
 * made the round trip. W = 1 is one frame at a time (a quiet dev); larger W
 * batches frames per loop iteration (a busy one). Printed per case: round
 * trips/s, the process's CPU time per round trip (both ends, user + system:
 * less sensitive to other load on the machine than the rate) and the wall
 * time per round trip.
 *
 * Usage: bench_conn_local [--frames M] [--rounds R]
 * Output: one human line per case and round, then key=value lines with the
 * median over the rounds. Exit 0, or 1 when a case fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "common/log.h"
#include "net/conn.h"

typedef struct {
  uv_loop_t *loop;
  pgd_listener_t *l;
  pgd_conn_t *client;
  long frames, window, sent, echoed;
  int failed;
  int warming; /* the first round trip: no more sends, no close */
} run_t;

static double now_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void send_one(run_t *r) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "execution_id", 1000000 + (double)r->sent);
  cJSON_AddNumberToObject(b, "attempt", 1);
  cJSON_AddStringToObject(b, "state", "running");
  cJSON_AddNumberToObject(b, "seq", (double)r->sent);
  cJSON_AddNumberToObject(b, "pid", 4242);
  cJSON_AddNumberToObject(b, "at_us", 1765000000000000.0);
  if (pgd_conn_send(r->client, PGD_MSG_STATE, b) != 0) r->failed = 1;
  cJSON_Delete(b);
  r->sent++;
}

static void srv_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  (void)ud;
  if (pgd_conn_send(c, t, msg) != 0) pgd_conn_close(c);
}

static void on_accept(pgd_listener_t *l, pgd_conn_t *c, void *ud) {
  (void)l;
  (void)ud;
  static const pgd_conn_cbs_t cbs = {.on_message = srv_message};
  pgd_conn_set_callbacks(c, &cbs, NULL);
}

static void cli_connect(pgd_conn_t *c, int status, void *ud) {
  run_t *r = ud;
  (void)c;
  if (status != 0) r->failed = 1;
}

static void cli_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  run_t *r = ud;
  (void)t;
  (void)msg;
  r->echoed++;
  if (r->warming) return;
  if (r->sent < r->frames) send_one(r);
  if (r->echoed == r->frames) pgd_conn_close(c);
}

static void cli_close(pgd_conn_t *c, int reason, void *ud) {
  run_t *r = ud;
  (void)c;
  if (r->echoed != r->frames) {
    fprintf(stderr, "connection closed after %ld of %ld frames: %s\n", r->echoed, r->frames,
            uv_strerror(reason));
    r->failed = 1;
  }
}

typedef struct {
  double rate, cpu_us, wall_us;
} result_t;

/* One case: returns 0 and *out, or -1. */
static int run_case(int local, long window, long frames, result_t *out) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  run_t r = {.loop = &loop, .frames = frames, .window = window};
  if (pgd_listener_start(&loop, "127.0.0.1", 0, 0, on_accept, &r, &r.l) != 0) return -1;
  static const pgd_conn_cbs_t cbs = {
      .on_message = cli_message, .on_close = cli_close, .on_connect = cli_connect};
  int rc = local ? pgd_listener_connect_local(r.l, &cbs, &r, &r.client)
                 : pgd_conn_connect(&loop, "127.0.0.1", pgd_listener_port(r.l), 0, &cbs, &r,
                                    &r.client);
  if (rc != 0) return -1;
  /* connect and warm up with one round trip outside the measurement */
  r.frames = frames + 1;
  r.warming = 1;
  send_one(&r);
  while (r.echoed < 1 && !r.failed) uv_run(&loop, UV_RUN_ONCE);
  r.warming = 0;
  double c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), w0 = now_s(CLOCK_MONOTONIC);
  for (long i = 0; i < window && r.sent < r.frames; i++) send_one(&r);
  pgd_listener_close(r.l);
  uv_run(&loop, UV_RUN_DEFAULT);
  double c1 = now_s(CLOCK_PROCESS_CPUTIME_ID), w1 = now_s(CLOCK_MONOTONIC);
  int closed = uv_loop_close(&loop);
  if (r.failed || closed != 0) return -1;
  out->rate = (double)frames / (w1 - w0);
  out->cpu_us = (c1 - c0) * 1e6 / (double)frames;
  out->wall_us = (w1 - w0) * 1e6 / (double)frames;
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  long frames = 100000;
  int rounds = 5;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--frames") && i + 1 < argc)
      frames = atol(argv[++i]);
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
      rounds = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [--frames M] [--rounds R]\n", argv[0]);
      return 2;
    }
  }
  if (frames < 1 || rounds < 1 || rounds > 99) return 2;
  pgd_log_set_level(PGD_LOG_WARN);
  double load[3] = {0, 0, 0};
  if (getloadavg(load, 3) < 0) load[0] = -1;
  printf("bench_conn_local: %ld round trips per case, %d rounds; load %.2f %.2f %.2f\n", frames,
         rounds, load[0], load[1], load[2]);
  static const long windows[] = {1, 16, 256};
  const char *names[] = {"tcp", "local"};
  double cpu[2][3][99], rate[2][3][99], wall[2][3][99];
  for (int k = 0; k < rounds; k++) {
    for (int wi = 0; wi < 3; wi++) {
      for (int t = 0; t < 2; t++) { /* alternate within each round */
        result_t res;
        if (run_case(t, windows[wi], frames, &res) < 0) {
          fprintf(stderr, "%s window %ld failed\n", names[t], windows[wi]);
          return 1;
        }
        cpu[t][wi][k] = res.cpu_us;
        rate[t][wi][k] = res.rate;
        wall[t][wi][k] = res.wall_us;
        printf("round %d  %-5s window %3ld: %9.0f round trips/s  CPU %6.2f us  wall %6.2f us per "
               "round trip\n",
               k + 1, names[t], windows[wi], res.rate, res.cpu_us, res.wall_us);
        fflush(stdout);
      }
    }
  }
  for (int wi = 0; wi < 3; wi++) {
    for (int t = 0; t < 2; t++) {
      qsort(cpu[t][wi], (size_t)rounds, sizeof(double), cmp_double);
      qsort(rate[t][wi], (size_t)rounds, sizeof(double), cmp_double);
      qsort(wall[t][wi], (size_t)rounds, sizeof(double), cmp_double);
      printf("%s_w%ld_cpu_us=%.2f %s_w%ld_wall_us=%.2f %s_w%ld_rate=%.0f\n", names[t],
             windows[wi], cpu[t][wi][rounds / 2], names[t], windows[wi], wall[t][wi][rounds / 2],
             names[t], windows[wi], rate[t][wi][rounds / 2]);
    }
  }
  return 0;
}
