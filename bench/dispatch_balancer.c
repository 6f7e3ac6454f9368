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
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "lib/bench_http.h"
#include "lib/bench_master.h"
#include "lib/bench_util.h"
#include "lib/fake_worker.h"

#define MAX_CONFIGS 8
#define MAX_NS 8
#define MAX_ROUNDS 15

/* The fake workers of the measurement in progress (the loop runs here). */
static uv_loop_t g_loop;
static bench_fakes_t P;

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
  bench_http_t h;
  if (bench_http_open(&h, s->port) != 0) {
    s->failed = -1;
    return NULL;
  }
  while (atomic_fetch_sub(s->left, 1) > 0) {
    int st = bench_http_req(&h, "POST", s->path, "{}", NULL);
    if (st == 201) {
      s->ok++;
    } else {
      s->failed++;
      if (st < 0) { /* the connection broke: reopen */
        bench_http_close(&h);
        if (bench_http_open(&h, s->port) != 0) break;
      }
    }
  }
  bench_http_close(&h);
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

static int verify(int port, const config_t *c, const char *job, long expect) {
  bench_http_t h;
  if (bench_http_open(&h, port) != 0) return 0;
  char path[256], *body = NULL;
  int ok = 1;
  snprintf(path, sizeof path, "/api/v1/executions?job=%s&state=succeeded&limit=10000", job);
  int st = bench_http_req(&h, "GET", path, NULL, &body);
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
  st = bench_http_req(&h, "GET", "/api/v1/balancers", NULL, &body);
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
  bench_http_close(&h);
  return ok;
}

static int run_one(int n, const config_t *c, result_t *r) {
  memset(r, 0, sizeof *r);
  char tmpdir[] = "/tmp/pagoda-bench-dispatch-XXXXXX";
  if (!mkdtemp(tmpdir)) return -1;
  char empty_bal[600];
  snprintf(empty_bal, sizeof empty_bal, "%s/no-balancers", tmpdir);
  mkdir(empty_bal, 0755);
  bench_master_t m;
  const char *extra[] = {"--balancers", c->script ? O.baldir : empty_bal, NULL};
  if (bench_master_start(&m, O.pagoda, tmpdir, extra) != 0) {
    bench_rm_rf(tmpdir);
    return -1;
  }
  int hp = m.http_port;
  int ret = -1;
  bench_fake_opts_t fo = {.host = "127.0.0.1", .port = m.rpc_port, .n = n,
                          .slots = O.slots_total / n > 0 ? O.slots_total / n : 1,
                          .type = "shell", .hb_ms = 1000, .connect_rate = 100,
                          .on_launch = BENCH_FAKE_LAUNCH_SUCCEEDS};
  uv_loop_init(&g_loop);
  if (bench_fakes_start(&P, &g_loop, &fo) != 0) goto out;
  if (!bench_run_until(&g_loop, 30, &P.welcomed, n) && P.welcomed < n) {
    fprintf(stderr, "  only %ld/%d fake workers welcomed\n", P.welcomed, n);
    goto out;
  }
  bench_run_until(&g_loop, 0.3, NULL, 0);

  char job[64], def[512];
  snprintf(job, sizeof job, "b_%s", c->name);
  snprintf(def, sizeof def,
           "{\"name\":\"%s\",\"type\":\"shell\",\"params\":{\"argv\":[\"true\"]}%s%s%s}", job,
           c->script ? ",\"balancer\":\"" : "", c->script ? c->script : "", c->script ? "\"" : "");
  bench_http_t h;
  if (bench_http_open(&h, hp) != 0) goto out;
  char *body = NULL;
  int st = bench_http_req(&h, "POST", "/api/v1/jobs", def, &body);
  bench_http_close(&h);
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
  bench_run_until(&g_loop, 60, &P.done, O.warmup);
  pthread_join(bg.th, NULL);
  bench_run_until(&g_loop, 0.2, NULL, 0);
  long base = P.done;
  if (base != O.warmup) {
    fprintf(stderr, "  warm-up: %ld/%ld done (%ld refused)\n", base, O.warmup, bg.failed);
    goto out;
  }
  for (int i = 0; i < n; i++) P.fakes[i].launches = 0;

  long hz = sysconf(_SC_CLK_TCK);
  unsigned long long c0 = 0, c1 = 0;
  bench_proc_cpu_ticks(m.pid, &c0);
  double t0 = bench_now_s();
  bg = (bg_submit_t){.port = hp, .job = job, .count = O.runs, .conns = O.conns};
  pthread_create(&bg.th, NULL, bg_submit_main, &bg);
  int done = bench_run_until(&g_loop, 300, &P.done, base + O.runs);
  double t1 = bench_now_s();
  bench_proc_cpu_ticks(m.pid, &c1);
  pthread_join(bg.th, NULL);
  if (!done || bg.accepted != O.runs) {
    fprintf(stderr, "  %ld/%ld done, %ld accepted, %ld refused\n", P.done - base, O.runs, bg.accepted,
            bg.failed);
    goto out;
  }
  r->jobs_s = (double)O.runs / (t1 - t0);
  r->cpu_us_job = (double)(c1 - c0) / (double)hz * 1e6 / (double)O.runs;
  r->min_per_worker = r->max_per_worker = P.fakes[0].launches;
  for (int i = 1; i < n; i++) {
    if (P.fakes[i].launches < r->min_per_worker) r->min_per_worker = P.fakes[i].launches;
    if (P.fakes[i].launches > r->max_per_worker) r->max_per_worker = P.fakes[i].launches;
  }
  r->ok = verify(hp, c, job, O.warmup + O.runs);
  ret = r->ok ? 0 : -1;
out:
  if (P.fakes) bench_fakes_stop(&P);
  uv_loop_close(&g_loop);
  bench_master_stop(&m);
  if (O.keep)
    fprintf(stderr, "  kept %s\n", tmpdir);
  else
    bench_rm_rf(tmpdir);
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
  long most = 0;
  for (int i = 0; i < nn; i++) most = ns[i] > most ? ns[i] : most;
  if (bench_raise_nofile(most + 64 + O.conns) != 0) return 1;
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
