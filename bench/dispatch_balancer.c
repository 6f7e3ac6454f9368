/* Pagoda benchmark — dispatch throughput of the master with a Lua balancer
 * against the built-in (C) least-loaded choice, end to end (issue 5).
 *
 * For every worker count N and balancer configuration it starts a fresh
 * `pagoda master` (free loopback ports, its own temporary data directory),
 * connects N protocol-speaking fake workers from this process (one libuv
 * loop) that answer every `launch` at once with `state running` and then
 * `state succeeded`, creates one job of type `shell` naming the balancer,
 * submits runs through the REST API from several keep-alive HTTP
 * connections (one thread each, plain blocking sockets) and measures:
 *
 *   jobs/s    completed executions per second: from the first measured
 *             submission to the moment the master acknowledged (= made
 *             durable) the `succeeded` report of the last one;
 *   CPU/job   the master's user+system CPU time (/proc/PID/stat) over that
 *             window, divided by the runs.
 *
 * Configurations (a job field `balancer`):
 *   builtin         no balancer, and a balancer directory without
 *                   least_loaded.lua: the C least-loaded decides;
 *   least_loaded    conf/balancers/least_loaded.lua (one C helper call);
 *   round_robin     conf/balancers/round_robin.lua;
 *   random          conf/balancers/random.lua;
 *   spread, label_affinity (with --configs): scripts that loop in Lua.
 *
 * Total capacity is split evenly over the workers (default 10,000 slots), so
 * no run waits for a slot and the candidate set does not change during a
 * measurement. Rounds interleave the configurations (the machine is shared);
 * the table shows the median of the rounds and the best one (the highest
 * jobs/s, the least CPU per job), which is less disturbed by other load.
 *
 * Usage:
 *   bench_dispatch_balancer --pagoda PATH [--balancers DIR] [-n 10,1000]
 *       [--runs M] [--warmup W] [--conns K] [--slots-total S] [--rounds R]
 *       [--configs builtin,least_loaded,round_robin,random] [--keep]
 * Output: progress lines, a table, then "key=value" lines for scripts.
 * Exit: 0; 1 when a run did not complete or failed verification.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "net/conn.h"

extern char **environ;

#define MAX_CONFIGS 8
#define MAX_NS 8
#define MAX_ROUNDS 15

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- /proc ---------------------------------------------------------------- */

static int proc_cpu_ticks(int pid, unsigned long long *ticks) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -errno;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -EINVAL;
  unsigned long long ut = 0, st = 0;
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
    return -EINVAL;
  *ticks = ut + st;
  return 0;
}

/* ---- a minimal HTTP/1.1 client (blocking, keep-alive) --------------------- */

typedef struct {
  int fd;
  int port;
  char *buf; /* bytes read and not consumed */
  size_t len, cap;
} http_t;

static int http_open(http_t *h, int port) {
  memset(h, 0, sizeof *h);
  h->port = port;
  h->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (h->fd < 0) return -errno;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(h->fd, (struct sockaddr *)&a, sizeof a) != 0) {
    int e = errno;
    close(h->fd);
    h->fd = -1;
    return -e;
  }
  int one = 1;
  setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return 0;
}

static void http_close(http_t *h) {
  if (h->fd >= 0) close(h->fd);
  h->fd = -1;
  free(h->buf);
  h->buf = NULL;
  h->len = h->cap = 0;
}

/* Reads more bytes into h->buf. Returns bytes read, 0 at EOF, <0 on error. */
static ssize_t http_fill(http_t *h) {
  if (h->cap - h->len < 16384) {
    size_t nc = h->cap ? h->cap * 2 : 65536;
    char *nb = realloc(h->buf, nc);
    if (!nb) return -ENOMEM;
    h->buf = nb;
    h->cap = nc;
  }
  ssize_t r;
  do r = read(h->fd, h->buf + h->len, h->cap - h->len - 1);
  while (r < 0 && errno == EINTR);
  if (r > 0) h->len += (size_t)r;
  return r < 0 ? -errno : r;
}

static void http_consume(http_t *h, size_t n) {
  memmove(h->buf, h->buf + n, h->len - n);
  h->len -= n;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -errno;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* One request; returns the HTTP status (or <0) and *body (malloc'ed, NUL
 * terminated; NULL when body is NULL). Handles Content-Length and chunked. */
static int http_req(http_t *h, const char *method, const char *path, const char *json,
                    char **body) {
  if (body) *body = NULL;
  char head[1024];
  size_t jl = json ? strlen(json) : 0;
  int hl = snprintf(head, sizeof head,
                    "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                    "Content-Length: %zu\r\n\r\n",
                    method, path, h->port, jl);
  if (write_all(h->fd, head, (size_t)hl) != 0 || (jl && write_all(h->fd, json, jl) != 0)) return -EIO;
  char *end;
  for (;;) {
    if (h->len) {
      h->buf[h->len] = 0;
      if ((end = strstr(h->buf, "\r\n\r\n"))) break;
    }
    if (http_fill(h) <= 0) return -EIO;
  }
  size_t hdr_len = (size_t)(end - h->buf) + 4;
  int status = 0;
  if (sscanf(h->buf, "HTTP/1.%*d %d", &status) != 1) return -EPROTO;
  long long clen = -1;
  int chunked = 0;
  for (char *l = strstr(h->buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
    const char *p = l + 2;
    if (!strncasecmp(p, "content-length:", 15)) clen = atoll(p + 15);
    if (!strncasecmp(p, "transfer-encoding:", 18) && strstr(p, "chunked") && strstr(p, "chunked") < strstr(p, "\r\n"))
      chunked = 1;
  }
  http_consume(h, hdr_len);
  char *out = NULL;
  size_t olen = 0;
  if (!chunked) {
    if (clen < 0) clen = 0;
    while (h->len < (size_t)clen)
      if (http_fill(h) <= 0) return -EIO;
    if (body) {
      out = malloc((size_t)clen + 1);
      memcpy(out, h->buf, (size_t)clen);
      out[clen] = 0;
    }
    http_consume(h, (size_t)clen);
  } else {
    for (;;) {
      char *crlf;
      for (;;) {
        h->buf[h->len] = 0;
        if ((crlf = strstr(h->buf, "\r\n"))) break;
        if (http_fill(h) <= 0) return -EIO;
      }
      size_t sz = strtoul(h->buf, NULL, 16);
      size_t skip = (size_t)(crlf - h->buf) + 2;
      while (h->len < skip + sz + 2)
        if (http_fill(h) <= 0) return -EIO;
      if (body && sz) {
        char *nb = realloc(out, olen + sz + 1);
        if (!nb) return -ENOMEM;
        out = nb;
        memcpy(out + olen, h->buf + skip, sz);
        olen += sz;
        out[olen] = 0;
      }
      http_consume(h, skip + sz + 2);
      if (sz == 0) break;
    }
    if (body && !out) out = calloc(1, 1);
  }
  if (body) *body = out;
  else free(out);
  return status;
}

/* ---- the fake workers ----------------------------------------------------- */

typedef struct fake {
  int index;
  pgd_conn_t *conn;
  int welcomed;
  long seq;
  long launches;
} fake_t;

static struct {
  uv_loop_t loop;
  int port;
  int n;
  int slots;
  int hb_ms;
  fake_t *fakes;
  int next_connect;
  long welcomed;
  int closed;
  int rejects;
  int hb_cursor;
  double hb_start, hb_sent;
  long launches;
  long done; /* succeeded reports the master acknowledged */
  long bad_launches;
  uv_timer_t tick;
  int stopping;
} G;

static cJSON *num_dup(const cJSON *msg, const char *k) {
  return cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(msg, k), 1);
}

static void report(fake_t *f, const cJSON *launch, const char *state) {
  cJSON *st = cJSON_CreateObject();
  cJSON_AddNumberToObject(st, "seq", (double)++f->seq);
  cJSON_AddItemToObject(st, "execution_id", num_dup(launch, "execution_id"));
  cJSON_AddItemToObject(st, "attempt", num_dup(launch, "attempt"));
  cJSON_AddStringToObject(st, "state", state);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  cJSON_AddNumberToObject(st, "at_us", (double)ts.tv_sec * 1e6 + (double)(ts.tv_nsec / 1000));
  if (!strcmp(state, "succeeded")) cJSON_AddNumberToObject(st, "exit_code", 0);
  pgd_conn_send(f->conn, PGD_MSG_STATE, st);
  cJSON_Delete(st);
}

static void on_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  (void)c;
  fake_t *f = ud;
  if (t == PGD_MSG_WELCOME && !f->welcomed) {
    f->welcomed = 1;
    G.welcomed++;
  } else if (t == PGD_MSG_REJECT) {
    G.rejects++;
    if (G.rejects <= 3)
      fprintf(stderr, "fake worker %d rejected: %s\n", f->index,
              cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "reason")));
  } else if (t == PGD_MSG_LAUNCH) {
    if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(msg, "execution_id"))) {
      G.bad_launches++;
      return;
    }
    G.launches++;
    f->launches++;
    /* Odd seqs are "running", even seqs "succeeded" (two reports a launch). */
    report(f, msg, "running");
    report(f, msg, "succeeded");
  } else if (t == PGD_MSG_ACK) {
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(msg, "seqs")) {
      if (cJSON_IsNumber(s) && ((long)s->valuedouble) % 2 == 0) G.done++;
    }
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

static void add_types(cJSON *o) {
  cJSON *types = cJSON_AddArrayToObject(o, "types");
  cJSON_AddItemToArray(types, cJSON_CreateString("shell"));
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
  cJSON_AddNumberToObject(w, "slots", G.slots);
  add_types(w);
  cJSON_AddArrayToObject(w, "labels");
  cJSON_AddNumberToObject(w, "pid", getpid());
  cJSON_AddArrayToObject(b, "running");
  pgd_conn_send(f->conn, PGD_MSG_HELLO, b);
  cJSON_Delete(b);
}

/* No running_attempts: the reports tell the master everything. */
static void send_heartbeat(fake_t *f) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "slots", G.slots);
  cJSON_AddNumberToObject(b, "slots_used", 0);
  cJSON_AddNumberToObject(b, "running", 0);
  add_types(b);
  cJSON_AddArrayToObject(b, "labels");
  cJSON *load = cJSON_AddObjectToObject(b, "load");
  cJSON_AddNumberToObject(load, "load1", 0.1);
  cJSON_AddNumberToObject(load, "mem_free_mb", 1000);
  pgd_conn_send(f->conn, PGD_MSG_HEARTBEAT, b);
  cJSON_Delete(b);
}

static void connect_one(fake_t *f) {
  static const pgd_conn_cbs_t cbs = {.on_message = on_message, .on_close = on_close};
  if (pgd_conn_connect(&G.loop, "127.0.0.1", G.port, 0, &cbs, f, &f->conn) < 0) {
    f->conn = NULL;
    return;
  }
  send_hello(f);
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  for (int k = 0; k < 100 && G.next_connect < G.n; k++) connect_one(&G.fakes[G.next_connect++]);
  double now = now_s();
  if (G.hb_start == 0) G.hb_start = now;
  double due = (now - G.hb_start) * 1000.0 / G.hb_ms * G.n - G.hb_sent;
  int per = due > G.n ? G.n : (int)due;
  G.hb_sent += per;
  for (int k = 0; k < per; k++) {
    fake_t *f = &G.fakes[G.hb_cursor];
    G.hb_cursor = (G.hb_cursor + 1) % G.n;
    if (f->conn && f->welcomed) send_heartbeat(f);
  }
}

static int run_until(double seconds, long *counter, long target) {
  double end = now_s() + seconds;
  while (now_s() < end) {
    uv_run(&G.loop, UV_RUN_ONCE);
    if (counter && *counter >= target) return 1;
  }
  return 0;
}

/* ---- the master ----------------------------------------------------------- */

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

static pid_t start_master(const char *pagoda, const char *tmpdir, const char *baldir, int *http_port,
                          int *rpc_port) {
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
                  "--balancers", (char *)baldir, "--log-level", "warn", NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, pagoda, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    fprintf(stderr, "cannot start %s: %s\n", pagoda, strerror(rc));
    return -1;
  }
  for (int i = 0; i < 400; i++) {
    http_t h;
    if (http_open(&h, hp) == 0) {
      int st = http_req(&h, "GET", "/api/v1/health", NULL, NULL);
      http_close(&h);
      if (st == 200) {
        *http_port = hp;
        *rpc_port = rp;
        return pid;
      }
    }
    usleep(25000);
  }
  fprintf(stderr, "the master did not answer on %s (log: %s)\n", http, logp);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

static void stop_master(pid_t pid) {
  kill(pid, SIGTERM);
  int st = 0;
  for (int i = 0; i < 200 && waitpid(pid, &st, WNOHANG) == 0; i++) usleep(50000);
  if (waitpid(pid, &st, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
  }
}

/* ---- submitters ----------------------------------------------------------- */

typedef struct {
  int port;
  const char *path;
  atomic_long *left;
  long ok, failed;
  pthread_t th;
} submitter_t;

static void *submit_main(void *arg) {
  submitter_t *s = arg;
  http_t h;
  if (http_open(&h, s->port) != 0) {
    s->failed = -1;
    return NULL;
  }
  while (atomic_fetch_sub(s->left, 1) > 0) {
    int st = http_req(&h, "POST", s->path, "{}", NULL);
    if (st == 201) {
      s->ok++;
    } else {
      s->failed++;
      if (st < 0) { /* the connection broke: reopen */
        http_close(&h);
        if (http_open(&h, s->port) != 0) break;
      }
    }
  }
  http_close(&h);
  return NULL;
}

/* Submits `count` runs from `conns` connections; returns the runs accepted. */
static long submit_runs(int port, const char *job, long count, int conns, long *failed) {
  char path[256];
  snprintf(path, sizeof path, "/api/v1/jobs/%s/run", job);
  atomic_long left = count;
  submitter_t s[64];
  for (int i = 0; i < conns; i++) {
    s[i] = (submitter_t){.port = port, .path = path, .left = &left};
    pthread_create(&s[i].th, NULL, submit_main, &s[i]);
  }
  long ok = 0;
  *failed = 0;
  for (int i = 0; i < conns; i++) {
    pthread_join(s[i].th, NULL);
    ok += s[i].ok;
    *failed += s[i].failed;
  }
  return ok;
}

typedef struct {
  int port;
  const char *job;
  long count;
  int conns;
  long accepted, failed;
  pthread_t th;
} bg_submit_t;

static void *bg_submit_main(void *arg) {
  bg_submit_t *b = arg;
  b->accepted = submit_runs(b->port, b->job, b->count, b->conns, &b->failed);
  return NULL;
}

/* ---- one measurement ------------------------------------------------------ */

typedef struct {
  const char *name;   /* configuration name, as printed */
  const char *script; /* the job's "balancer" value, NULL = none */
} config_t;

typedef struct {
  double jobs_s;
  double cpu_us_job;
  long min_per_worker, max_per_worker;
  int ok;
} result_t;

static struct {
  const char *pagoda;
  const char *baldir;
  long runs, warmup;
  int conns;
  int slots_total;
  int keep;
} O;

static int rm_rf(const char *dir) {
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd);
}

static int verify(int port, const config_t *c, const char *job, long expect) {
  http_t h;
  if (http_open(&h, port) != 0) return 0;
  char path[256], *body = NULL;
  int ok = 1;
  snprintf(path, sizeof path, "/api/v1/executions?job=%s&state=succeeded&limit=10000", job);
  int st = http_req(&h, "GET", path, NULL, &body);
  cJSON *j = st == 200 ? cJSON_Parse(body) : NULL;
  int n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "executions"));
  if (n != (expect > 10000 ? 10000 : expect)) {
    fprintf(stderr, "  verify: %d succeeded executions, expected %ld\n", n, expect);
    ok = 0;
  }
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "executions")) {
    if (cJSON_GetObjectItemCaseSensitive(e, "balancer_error")) {
      fprintf(stderr, "  verify: execution has balancer_error: %s\n",
              cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "balancer_error")));
      ok = 0;
      break;
    }
  }
  cJSON_Delete(j);
  free(body);
  st = http_req(&h, "GET", "/api/v1/balancers", NULL, &body);
  j = st == 200 ? cJSON_Parse(body) : NULL;
  const char *want = c->script ? c->script : "least_loaded";
  int found = 0;
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(j, "balancers")) {
    if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "name")) ?: "", want)) continue;
    found = 1;
    int builtin = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "builtin"));
    double calls = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "calls"));
    double errors = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(e, "errors"));
    if (builtin != (c->script == NULL) || calls < (double)expect || errors != 0) {
      fprintf(stderr, "  verify: balancer %s builtin=%d calls=%.0f errors=%.0f (expected %s, >= %ld calls, 0 errors)\n",
              want, builtin, calls, errors, c->script ? "a script" : "the built-in", expect);
      ok = 0;
    }
  }
  if (!found) {
    fprintf(stderr, "  verify: balancer %s not listed\n", want);
    ok = 0;
  }
  cJSON_Delete(j);
  free(body);
  http_close(&h);
  return ok;
}

static int run_one(int n, const config_t *c, result_t *r) {
  memset(r, 0, sizeof *r);
  char tmpdir[] = "/tmp/pagoda-bench-dispatch-XXXXXX";
  if (!mkdtemp(tmpdir)) return -1;
  char empty_bal[600];
  snprintf(empty_bal, sizeof empty_bal, "%s/no-balancers", tmpdir);
  mkdir(empty_bal, 0755);
  int hp = 0, rp = 0;
  pid_t pid = start_master(O.pagoda, tmpdir, c->script ? O.baldir : empty_bal, &hp, &rp);
  if (pid < 0) {
    rm_rf(tmpdir);
    return -1;
  }
  int ret = -1;
  memset(&G, 0, sizeof G);
  G.port = rp;
  G.n = n;
  G.slots = O.slots_total / n > 0 ? O.slots_total / n : 1;
  G.hb_ms = 1000;
  uv_loop_init(&G.loop);
  G.fakes = calloc((size_t)n, sizeof *G.fakes);
  for (int i = 0; i < n; i++) G.fakes[i].index = i;
  uv_timer_init(&G.loop, &G.tick);
  uv_timer_start(&G.tick, on_tick, 10, 10);
  long target = n;
  if (!run_until(30, &G.welcomed, target) && G.welcomed < n) {
    fprintf(stderr, "  only %ld/%d fake workers welcomed\n", G.welcomed, n);
    goto out;
  }
  run_until(0.3, NULL, 0);

  char job[64], def[512];
  snprintf(job, sizeof job, "b_%s", c->name);
  snprintf(def, sizeof def,
           "{\"name\":\"%s\",\"type\":\"shell\",\"params\":{\"argv\":[\"true\"]}%s%s%s}", job,
           c->script ? ",\"balancer\":\"" : "", c->script ? c->script : "", c->script ? "\"" : "");
  http_t h;
  if (http_open(&h, hp) != 0) goto out;
  char *body = NULL;
  int st = http_req(&h, "POST", "/api/v1/jobs", def, &body);
  http_close(&h);
  if (st != 201 && st != 200) {
    fprintf(stderr, "  create %s: HTTP %d %s\n", job, st, body ? body : "");
    free(body);
    goto out;
  }
  free(body);

  /* Warm up (page cache, SQLite, the Lua state), then measure. The loop
   * runs here while a thread submits. */
  bg_submit_t bg = {.port = hp, .job = job, .count = O.warmup, .conns = O.conns};
  pthread_create(&bg.th, NULL, bg_submit_main, &bg);
  run_until(60, &G.done, O.warmup);
  pthread_join(bg.th, NULL);
  run_until(0.2, NULL, 0);
  long base = G.done;
  if (base != O.warmup) {
    fprintf(stderr, "  warm-up: %ld/%ld done (%ld refused)\n", base, O.warmup, bg.failed);
    goto out;
  }
  for (int i = 0; i < n; i++) G.fakes[i].launches = 0;

  long hz = sysconf(_SC_CLK_TCK);
  unsigned long long c0 = 0, c1 = 0;
  proc_cpu_ticks(pid, &c0);
  double t0 = now_s();
  bg = (bg_submit_t){.port = hp, .job = job, .count = O.runs, .conns = O.conns};
  pthread_create(&bg.th, NULL, bg_submit_main, &bg);
  int done = run_until(300, &G.done, base + O.runs);
  double t1 = now_s();
  proc_cpu_ticks(pid, &c1);
  pthread_join(bg.th, NULL);
  if (!done || bg.accepted != O.runs) {
    fprintf(stderr, "  %ld/%ld done, %ld accepted, %ld refused\n", G.done - base, O.runs, bg.accepted,
            bg.failed);
    goto out;
  }
  r->jobs_s = (double)O.runs / (t1 - t0);
  r->cpu_us_job = (double)(c1 - c0) / (double)hz * 1e6 / (double)O.runs;
  r->min_per_worker = r->max_per_worker = G.fakes[0].launches;
  for (int i = 1; i < n; i++) {
    if (G.fakes[i].launches < r->min_per_worker) r->min_per_worker = G.fakes[i].launches;
    if (G.fakes[i].launches > r->max_per_worker) r->max_per_worker = G.fakes[i].launches;
  }
  r->ok = verify(hp, c, job, O.warmup + O.runs);
  ret = r->ok ? 0 : -1;
out:
  G.stopping = 1;
  uv_timer_stop(&G.tick);
  for (int i = 0; i < n; i++)
    if (G.fakes[i].conn) pgd_conn_close(G.fakes[i].conn);
  uv_close((uv_handle_t *)&G.tick, NULL);
  uv_run(&G.loop, UV_RUN_DEFAULT);
  uv_loop_close(&G.loop);
  free(G.fakes);
  stop_master(pid);
  if (O.keep)
    fprintf(stderr, "  kept %s\n", tmpdir);
  else
    rm_rf(tmpdir);
  return ret;
}

/* ---- main ----------------------------------------------------------------- */

static const config_t known[] = {
    {"builtin", NULL},          {"least_loaded", "least_loaded"}, {"round_robin", "round_robin"},
    {"random", "random"},       {"spread", "spread"},             {"label_affinity", "label_affinity"},
};

static void usage(void) {
  fprintf(stderr,
          "usage: bench_dispatch_balancer --pagoda PATH [--balancers DIR] [-n 10,1000] [--runs M]\n"
          "         [--warmup W] [--conns K] [--slots-total S] [--rounds R]\n"
          "         [--configs builtin,least_loaded,round_robin,random] [--keep]\n");
  exit(2);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int k) {
  double t[MAX_ROUNDS];
  memcpy(t, v, (size_t)k * sizeof *t);
  qsort(t, (size_t)k, sizeof *t, cmp_double);
  return k % 2 ? t[k / 2] : (t[k / 2 - 1] + t[k / 2]) / 2;
}

/* The largest (max=1) or smallest value of v[0..k). */
static double extreme(const double *v, int k, int max) {
  double x = v[0];
  for (int i = 1; i < k; i++)
    if (max ? v[i] > x : v[i] < x) x = v[i];
  return x;
}

int main(int argc, char **argv) {
  O.baldir = "conf/balancers";
  O.runs = 5000;
  O.warmup = 500;
  O.conns = 8;
  O.slots_total = 10000;
  int rounds = 3;
  int ns[MAX_NS] = {10, 1000}, nn = 2;
  config_t cfg[MAX_CONFIGS];
  int nc = 0;
  for (int i = 0; i < 4; i++) cfg[nc++] = known[i];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--keep")) {
      O.keep = 1;
      continue;
    }
    if (!v) usage();
    if (!strcmp(a, "--pagoda")) O.pagoda = v;
    else if (!strcmp(a, "--balancers")) O.baldir = v;
    else if (!strcmp(a, "--runs")) O.runs = atol(v);
    else if (!strcmp(a, "--warmup")) O.warmup = atol(v);
    else if (!strcmp(a, "--conns")) O.conns = atoi(v);
    else if (!strcmp(a, "--slots-total")) O.slots_total = atoi(v);
    else if (!strcmp(a, "--rounds")) rounds = atoi(v);
    else if (!strcmp(a, "-n")) {
      nn = 0;
      for (char *s = strdup(v), *tok = strtok(s, ","); tok && nn < MAX_NS; tok = strtok(NULL, ","))
        ns[nn++] = atoi(tok);
    } else if (!strcmp(a, "--configs")) {
      nc = 0;
      for (char *s = strdup(v), *tok = strtok(s, ","); tok && nc < MAX_CONFIGS; tok = strtok(NULL, ",")) {
        size_t k = 0;
        while (k < sizeof known / sizeof *known && strcmp(known[k].name, tok)) k++;
        if (k == sizeof known / sizeof *known) {
          fprintf(stderr, "unknown configuration %s\n", tok);
          usage();
        }
        cfg[nc++] = known[k];
      }
    } else usage();
    i++;
  }
  if (!O.pagoda || O.runs < 1 || O.warmup < 1 || O.conns < 1 || O.conns > 64 || rounds < 1 ||
      rounds > MAX_ROUNDS || nn < 1 || nc < 1 || O.runs + O.warmup > 10000)
    usage();
  for (int i = 0; i < nn; i++)
    if (ns[i] < 1 || ns[i] > 20000) usage();
  char probe[700];
  snprintf(probe, sizeof probe, "%s/round_robin.lua", O.baldir);
  if (access(probe, R_OK) != 0) {
    fprintf(stderr, "%s: no balancer scripts there (give --balancers DIR)\n", probe);
    return 2;
  }
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  signal(SIGPIPE, SIG_IGN);
  srand((unsigned)getpid() ^ (unsigned)time(NULL));

  printf("dispatch throughput: %ld runs (+%ld warm-up) per configuration, %d HTTP connections, "
         "%d slots in total, %d round(s), balancers from %s\n",
         O.runs, O.warmup, O.conns, O.slots_total, rounds, O.baldir);
  static double js[MAX_NS][MAX_CONFIGS][MAX_ROUNDS], cpu[MAX_NS][MAX_CONFIGS][MAX_ROUNDS];
  static long spread_min[MAX_NS][MAX_CONFIGS], spread_max[MAX_NS][MAX_CONFIGS];
  int failures = 0;
  for (int r = 0; r < rounds; r++) {
    for (int a = 0; a < nn; a++) {
      for (int k = 0; k < nc; k++) {
        result_t res;
        int rc = run_one(ns[a], &cfg[k], &res);
        if (rc != 0) failures++;
        js[a][k][r] = res.jobs_s;
        cpu[a][k][r] = res.cpu_us_job;
        spread_min[a][k] = res.min_per_worker;
        spread_max[a][k] = res.max_per_worker;
        printf("round %d  N=%-5d %-15s %7.0f jobs/s  master CPU %6.1f us/job  launches/worker %ld..%ld%s\n",
               r + 1, ns[a], cfg[k].name, res.jobs_s, res.cpu_us_job, res.min_per_worker,
               res.max_per_worker, rc ? "  FAILED" : "");
        fflush(stdout);
      }
    }
  }
  printf("\n| N | balancer | jobs/s median (best) | ratio to built-in, median (best) |"
         " master CPU us/job median (least) | ratio, median | launches per worker |\n");
  printf("|---|---|---|---|---|---|---|\n");
  for (int a = 0; a < nn; a++) {
    double bj = 0, bb = 0, bc = 0;
    for (int k = 0; k < nc; k++)
      if (!cfg[k].script) {
        bj = median(js[a][k], rounds);
        bb = extreme(js[a][k], rounds, 1);
        bc = median(cpu[a][k], rounds);
      }
    for (int k = 0; k < nc; k++) {
      double mj = median(js[a][k], rounds), mc = median(cpu[a][k], rounds);
      double xj = extreme(js[a][k], rounds, 1), xc = extreme(cpu[a][k], rounds, 0);
      printf("| %d | %s%s | %.0f (%.0f) | %.2f (%.2f) | %.0f (%.0f) | %.2f | %ld–%ld |\n", ns[a],
             cfg[k].name, cfg[k].script ? ".lua" : " (C)", mj, xj, bj > 0 ? mj / bj : 0,
             bb > 0 ? xj / bb : 0, mc, xc, bc > 0 ? mc / bc : 0, spread_min[a][k], spread_max[a][k]);
    }
  }
  printf("\n");
  for (int a = 0; a < nn; a++)
    for (int k = 0; k < nc; k++)
      printf("n%d_%s_jobs_s=%.0f\nn%d_%s_cpu_us_job=%.1f\n", ns[a], cfg[k].name,
             median(js[a][k], rounds), ns[a], cfg[k].name, median(cpu[a][k], rounds));
  printf("failures=%d\n", failures);
  return failures ? 1 : 0;
}
