/* Pagoda benchmarks — fake workers (see fake_worker.h). */
#include "fake_worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bench_util.h"
#include "net/auth.h"
#include "net/msg.h"
#include "net/tls.h"

static cJSON *dup_item(const cJSON *msg, const char *k) {
  return cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(msg, k), 1);
}

static void report(bench_fake_t *f, const cJSON *launch, const char *state) {
  cJSON *st = cJSON_CreateObject();
  cJSON_AddNumberToObject(st, "seq", (double)++f->seq);
  cJSON_AddItemToObject(st, "execution_id", dup_item(launch, "execution_id"));
  cJSON_AddItemToObject(st, "attempt", dup_item(launch, "attempt"));
  cJSON_AddStringToObject(st, "state", state);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  cJSON_AddNumberToObject(st, "at_us", (double)ts.tv_sec * 1e6 + (double)(ts.tv_nsec / 1000));
  if (!strcmp(state, "succeeded")) cJSON_AddNumberToObject(st, "exit_code", 0);
  if (!strcmp(state, "failed")) cJSON_AddStringToObject(st, "error", "fake worker: runs nothing");
  pgd_conn_send(f->conn, PGD_MSG_STATE, st);
  cJSON_Delete(st);
}

static void on_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  (void)c;
  bench_fake_t *f = ud;
  bench_fakes_t *p = f->pool;
  if (t == PGD_MSG_CHALLENGE && !f->welcomed) {
    pgd_msg_challenge_t ch;
    char err[128], proof[PGD_AUTH_HEX_LEN + 1];
    if (pgd_msg_challenge_decode(msg, &ch, err, sizeof err) == 0 &&
        pgd_auth_proof(p->o.secret, PGD_AUTH_WORKER, ch.nonce, f->wnonce, f->id, proof) == 0) {
      pgd_msg_auth_t a = {.proof = proof};
      cJSON *b = pgd_msg_auth_encode(&a);
      if (b) pgd_conn_send(f->conn, PGD_MSG_AUTH, b);
      cJSON_Delete(b);
    }
  } else if (t == PGD_MSG_WELCOME && !f->welcomed) {
    f->welcomed = 1;
    p->welcomed++;
  } else if (t == PGD_MSG_REJECT) {
    p->rejects++;
    if (p->rejects <= 3)
      fprintf(stderr, "fake worker %d rejected: %s\n", f->index,
              cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "reason")));
  } else if (t == PGD_MSG_LAUNCH) {
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(msg, "execution_id"))) {
      p->bad_launches++;
      return;
    }
    p->launches++;
    f->launches++;
    if (p->o.on_launch == BENCH_FAKE_LAUNCH_FAILS) {
      report(f, msg, "failed");
    } else {
      /* Odd seqs are "running", even seqs "succeeded" (two reports a launch). */
      report(f, msg, "running");
      report(f, msg, "succeeded");
    }
  } else if (t == PGD_MSG_ACK && p->o.on_launch == BENCH_FAKE_LAUNCH_SUCCEEDS) {
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(msg, "seqs")) {
      if (cJSON_IsNumber(s) && ((long)s->valuedouble) % 2 == 0) p->done++;
    }
  }
}

static void on_close(pgd_conn_t *c, int reason, void *ud) {
  (void)c;
  bench_fake_t *f = ud;
  bench_fakes_t *p = f->pool;
  if (f->welcomed) p->welcomed--;
  f->welcomed = 0;
  f->conn = NULL;
  p->closed++;
  if (!p->stopping && p->closed <= 3)
    fprintf(stderr, "fake worker %d: connection closed (%s)\n", f->index,
            reason ? uv_strerror(reason) : "by us");
}

static void add_types(const bench_fakes_t *p, cJSON *o) {
  cJSON *types = cJSON_AddArrayToObject(o, "types");
  cJSON_AddItemToArray(types, cJSON_CreateString(p->o.type));
}

static void send_hello(bench_fake_t *f) {
  snprintf(f->id, sizeof f->id, "fake-%05d", f->index);
  pgd_auth_nonce(f->wnonce);
  cJSON *b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "protocol", PGD_PROTOCOL_VERSION);
  cJSON_AddStringToObject(b, "nonce", f->wnonce);
  cJSON *w = cJSON_AddObjectToObject(b, "worker");
  cJSON_AddStringToObject(w, "id", f->id);
  cJSON_AddStringToObject(w, "host", "fake");
  cJSON_AddNumberToObject(w, "slots", f->pool->o.slots);
  add_types(f->pool, w);
  cJSON_AddArrayToObject(w, "labels");
  cJSON_AddNumberToObject(w, "pid", getpid());
  cJSON_AddArrayToObject(b, "running");
  pgd_conn_send(f->conn, PGD_MSG_HELLO, b);
  cJSON_Delete(b);
}

static void send_heartbeat(bench_fake_t *f) {
  bench_fakes_t *p = f->pool;
  cJSON *b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "slots", p->o.slots);
  cJSON_AddNumberToObject(b, "slots_used", 0);
  cJSON_AddNumberToObject(b, "running", 0);
  add_types(p, b);
  cJSON_AddArrayToObject(b, "labels");
  cJSON *load = cJSON_AddObjectToObject(b, "load");
  cJSON_AddNumberToObject(load, "load1", 0.1);
  cJSON_AddNumberToObject(load, "mem_free_mb", 1000);
  /* Without running_attempts the reports alone tell the master what runs. */
  if (p->o.heartbeat_running_attempts) cJSON_AddArrayToObject(b, "running_attempts");
  if (pgd_conn_send(f->conn, PGD_MSG_HEARTBEAT, b) == 0) p->heartbeats++;
  cJSON_Delete(b);
}

static void connect_one(bench_fake_t *f) {
  static const pgd_conn_cbs_t cbs = {.on_message = on_message, .on_close = on_close};
  bench_fakes_t *p = f->pool;
  int rc = pgd_conn_connect(p->loop, p->o.host, p->o.port, 0, &cbs, f, &f->conn);
  if (rc < 0) {
    fprintf(stderr, "connect %d: %s\n", f->index, uv_strerror(rc));
    f->conn = NULL;
    return;
  }
  if (p->o.tls) pgd_conn_set_tls(f->conn, p->o.tls, p->o.host);
  send_hello(f); /* queued until connected */
}

/* Every 10 ms: open up to connect_rate connections, and send heartbeats to
 * the next slice of workers so that each sends one per hb_ms. */
static void on_tick(uv_timer_t *t) {
  bench_fakes_t *p = t->data;
  for (int k = 0; k < p->o.connect_rate && p->next_connect < p->o.n; k++)
    connect_one(&p->fakes[p->next_connect++]);
  /* Heartbeats due since the start, by the clock (timer ticks drift). */
  double now = bench_now_s();
  if (p->hb_start == 0) p->hb_start = now;
  double due = (now - p->hb_start) * 1000.0 / p->o.hb_ms * p->o.n - p->hb_sent;
  int per = due > p->o.n ? p->o.n : (int)due;
  p->hb_sent += per;
  for (int k = 0; k < per; k++) {
    bench_fake_t *f = &p->fakes[p->hb_cursor];
    p->hb_cursor = (p->hb_cursor + 1) % p->o.n;
    if (f->conn && f->welcomed) send_heartbeat(f);
  }
}

int bench_fakes_start(bench_fakes_t *p, uv_loop_t *loop, const bench_fake_opts_t *o) {
  memset(p, 0, sizeof *p);
  p->loop = loop;
  p->o = *o;
  p->fakes = calloc((size_t)o->n, sizeof *p->fakes);
  if (!p->fakes) return -1;
  for (int i = 0; i < o->n; i++) {
    p->fakes[i].index = i;
    p->fakes[i].pool = p;
  }
  uv_timer_init(loop, &p->tick);
  p->tick.data = p;
  uv_timer_start(&p->tick, on_tick, 10, 10);
  return 0;
}

void bench_fakes_stop(bench_fakes_t *p) {
  p->stopping = 1;
  uv_timer_stop(&p->tick);
  for (int i = 0; i < p->o.n; i++)
    if (p->fakes[i].conn) pgd_conn_close(p->fakes[i].conn);
  uv_close((uv_handle_t *)&p->tick, NULL);
  uv_run(p->loop, UV_RUN_DEFAULT);
  free(p->fakes);
  p->fakes = NULL;
}

int bench_run_until(uv_loop_t *loop, double seconds, const long *counter, long target) {
  double end = bench_now_s() + seconds;
  while (bench_now_s() < end) {
    uv_run(loop, UV_RUN_ONCE);
    if (counter && *counter >= target) return 1;
  }
  return 0;
}
