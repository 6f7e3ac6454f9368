/* Pagoda benchmark — the cost of containing each attempt (worker/cgroup.h):
 * the worker's spawner (pgd_spawn_start on a libuv loop, as attempt.c uses
 * it) starts /bin/true N times with IN_FLIGHT at once, in three modes:
 *
 *   none     no containment (the spawner without opts.cgroup)
 *   cgroup   a cgroup per attempt (created, entered with clone3
 *            CLONE_INTO_CGROUP, checked empty, removed)
 *   procscan the fallback without cgroups (/proc scan when needed)
 *
 * The modes run in interleaved rounds (none, cgroup, procscan, none, ...)
 * so that the load of a shared machine hits them alike; the figures are
 * the medians over the rounds. cgroup mode needs root (else it reports
 * that it fell back). The bar (issue 13): cgroup costs at most 10 % of
 * the rate without containment.
 *
 * Usage: bench_contain_cost [N [IN_FLIGHT [ROUNDS]]]   (defaults 500, 2, 5)
 * Output: one line per round and mode, then the medians and the ratio. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <uv.h>

#include "lib/bench_util.h"
#include "worker/cgroup.h"
#include "worker/spawn.h"

typedef struct bench {
  uv_loop_t *loop;
  pgd_cgroup_root_t *root; /* NULL: no containment */
  long target, started, finished, failures;
} bench_t;

static void start_one(bench_t *b);

static void on_exit_cb(pgd_spawn_t *p, const pgd_spawn_result_t *r, void *ud) {
  (void)p;
  bench_t *b = ud;
  b->finished++;
  if (r->exit_code != 0) b->failures++;
  if (b->started < b->target) start_one(b);
}

static void start_one(bench_t *b) {
  static const pgd_spawn_cbs_t cbs = {.on_exit = on_exit_cb};
  pgd_procspec_t spec;
  pgd_procspec_init(&spec);
  pgd_procspec_add_arg(&spec, "/bin/true");
  pgd_spawn_opts_t opts = {0};
  char err[256], skipped[64], name[32];
  if (b->root) {
    snprintf(name, sizeof name, "b%ld", b->started);
    if (pgd_cgroup_create(b->root, name, NULL, &opts.cgroup, skipped, sizeof skipped, err,
                          sizeof err) < 0) {
      fprintf(stderr, "bench_contain_cost: %s\n", err);
      exit(1);
    }
  }
  pgd_spawn_t *sp;
  b->started++;
  if (pgd_spawn_start(b->loop, &spec, NULL, &opts, &cbs, b, &sp, err, sizeof err) < 0) {
    fprintf(stderr, "bench_contain_cost: %s\n", err);
    exit(1);
  }
  pgd_procspec_free(&spec);
}

/* CPU time (user + system) of this process, the "worker", in seconds:
 * unlike the rate it hardly moves with the machine's load. */
static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double run_mode(pgd_cgroup_root_t *root, long n, long in_flight, double *cpu_us) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  bench_t b = {.loop = &loop, .root = root, .target = n};
  double c0 = self_cpu_s();
  double t0 = bench_now_s();
  for (long i = 0; i < in_flight && i < n; i++) start_one(&b);
  uv_run(&loop, UV_RUN_DEFAULT);
  double dt = bench_now_s() - t0;
  *cpu_us = (self_cpu_s() - c0) / (double)n * 1e6;
  uv_loop_close(&loop);
  if (b.failures) fprintf(stderr, "bench_contain_cost: %ld runs did not exit 0\n", b.failures);
  return (double)n / dt;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long arg(int argc, char **argv, int i, long def) {
  if (argc <= i) return def;
  long v = strtol(argv[i], NULL, 10);
  if (v < 1 || v > 1000000) {
    fprintf(stderr, "bench_contain_cost: arguments must be positive integers\n");
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  long n = arg(argc, argv, 1, 500), in_flight = arg(argc, argv, 2, 2);
  int rounds = (int)arg(argc, argv, 3, 5);
  char err[256], name[64];
  snprintf(name, sizeof name, "bench-%d", (int)getpid());
  pgd_cgroup_root_config_t cc = {.use_cgroups = 1, .name = name, .no_guard = 1};
  pgd_cgroup_root_t *cg_root = NULL, *ps_root = NULL;
  if (pgd_cgroup_root_open(&cc, &cg_root, NULL, err, sizeof err) < 0) {
    fprintf(stderr, "bench_contain_cost: %s\n", err);
    return 1;
  }
  snprintf(name, sizeof name, "bench-ps-%d", (int)getpid());
  cc = (pgd_cgroup_root_config_t){.use_cgroups = 0, .name = name, .no_guard = 1};
  if (pgd_cgroup_root_open(&cc, &ps_root, NULL, err, sizeof err) < 0) {
    fprintf(stderr, "bench_contain_cost: %s\n", err);
    return 1;
  }
  printf("containment cost: %ld spawns of /bin/true per mode and round, %ld in flight, %d rounds\n"
         "cgroup mode: %s\n", n, in_flight, rounds, pgd_cgroup_root_describe(cg_root));
  double *none = calloc((size_t)rounds, sizeof *none), *cg = calloc((size_t)rounds, sizeof *cg),
         *ps = calloc((size_t)rounds, sizeof *ps);
  double *cn = calloc((size_t)rounds, sizeof *cn), *cc2 = calloc((size_t)rounds, sizeof *cc2),
         *cp = calloc((size_t)rounds, sizeof *cp);
  for (int r = 0; r < rounds; r++) {
    none[r] = run_mode(NULL, n, in_flight, &cn[r]);
    cg[r] = run_mode(cg_root, n, in_flight, &cc2[r]);
    ps[r] = run_mode(ps_root, n, in_flight, &cp[r]);
    printf("round %d: none %.0f/s (%.0f us cpu)  cgroup %.0f/s (%.0f us cpu)  procscan %.0f/s "
           "(%.0f us cpu)\n", r + 1, none[r], cn[r], cg[r], cc2[r], ps[r], cp[r]);
  }
  printf("worker CPU per attempt, median: none %.0f us  cgroup %.0f us  procscan %.0f us\n",
         median(cn, rounds), median(cc2, rounds), median(cp, rounds));
  free(cn);
  free(cc2);
  free(cp);
  double mn = median(none, rounds), mc = median(cg, rounds), mp = median(ps, rounds);
  printf("median: none %.0f/s (%.0f us each)  cgroup %.0f/s (%.0f us each)  procscan %.0f/s (%.0f us "
         "each)\n", mn, 1e6 / mn, mc, 1e6 / mc, mp, 1e6 / mp);
  printf("cgroup / none = %.3f (cost %.1f %%, %+.0f us per attempt); procscan / none = %.3f\n",
         mc / mn, (1 - mc / mn) * 100, 1e6 / mc - 1e6 / mn, mp / mn);
  pgd_cgroup_root_close(cg_root);
  pgd_cgroup_root_close(ps_root);
  free(none);
  free(cg);
  free(ps);
  return 0;
}
