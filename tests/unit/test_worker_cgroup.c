/* Unit tests of core/worker/cgroup.c, proctrack.c and the containment in
 * spawn.c: with cgroups (root, as in CI) and with the /proc-scan fallback,
 * a kill reaches setsid children and TERM-ignoring processes, the end of
 * the main process ends the tree, a new open of the same name kills what a
 * previous one left, the guard kills the trees of a dead worker, limits
 * (memory -> oom_killed, pids) hold, and without containment the SIGKILL of
 * a kill still fires after the main process exited.
 *
 * Processes are recognised by argv: `sleep <N>` with N unique to the run. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <uv.h>

#include "pgd_test.h"
#include "common/clock.h"
#include "worker/cgroup.h"
#include "worker/runas.h"
#include "worker/spawn.h"

extern char **environ;

static int next_mark;

/* A sleep duration no other process uses. */
static void mark(char *buf, size_t cap) {
  snprintf(buf, cap, "%d", 2040000 + (int)(getpid() % 1000) * 100 + next_mark++);
}

/* Live processes whose argv is `sleep <m>`. */
static int count_marked(const char *m) {
  DIR *d = opendir("/proc");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char path[300], buf[256], st[512];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(path, "re");
    if (!f) continue;
    size_t sl = fread(st, 1, sizeof st - 1, f);
    fclose(f);
    st[sl] = '\0';
    const char *rp = strrchr(st, ')');
    if (!rp || rp[2] == 'Z') continue;
    snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
    f = fopen(path, "re");
    if (!f) continue;
    size_t l = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[l] = '\0';
    size_t a0 = strlen(buf);
    if (a0 + 1 < l && strlen(buf + a0 + 1) == strlen(m) && strcmp(buf + a0 + 1, m) == 0 &&
        a0 >= 5 && strcmp(buf + a0 - 5, "sleep") == 0)
      n++;
  }
  closedir(d);
  return n;
}

/* Waits up to 10 s for no process of `m` to be left; returns what is left. */
static int wait_gone(const char *m) {
  for (int i = 0; i < 1000; i++) {
    int n = count_marked(m);
    if (n == 0) return 0;
    usleep(10000);
  }
  return count_marked(m);
}

static int wait_present(const char *m, int want) {
  for (int i = 0; i < 1000; i++) {
    if (count_marked(m) >= want) return 1;
    usleep(10000);
  }
  return 0;
}

static pgd_cgroup_root_t *open_root(int use_cgroups, const char *name, int guard, int *left) {
  pgd_cgroup_root_config_t cfg = {.use_cgroups = use_cgroups, .name = name, .no_guard = !guard};
  pgd_cgroup_root_t *r = NULL;
  char err[256];
  int rc = pgd_cgroup_root_open(&cfg, &r, left, err, sizeof err);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc) fprintf(stderr, "root open: %s\n", err);
  return r;
}

/* ---- spawn with containment ---------------------------------------------- */

typedef struct run {
  int done;
  pgd_spawn_result_t res;
  pgd_spawn_t *sp;
  char out[4096];
  size_t out_len;
  int64_t kill_after_ms, kill_grace_ms;
  uv_timer_t kill_timer;
} run_t;

static void on_out(pgd_spawn_t *p, const char *d, size_t n, void *ud) {
  run_t *r = ud;
  if (n > sizeof r->out - 1 - r->out_len) n = sizeof r->out - 1 - r->out_len;
  memcpy(r->out + r->out_len, d, n);
  r->out_len += n;
  r->out[r->out_len] = '\0';
}

static void on_end(pgd_spawn_t *p, const pgd_spawn_result_t *res, void *ud) {
  run_t *r = ud;
  r->res = *res;
  r->done = 1;
  if (r->kill_after_ms > 0) uv_close((uv_handle_t *)&r->kill_timer, NULL);
}

static void on_kill_timer(uv_timer_t *t) {
  run_t *r = t->data;
  if (!r->done) CU_ASSERT_EQUAL(pgd_spawn_kill(r->sp, r->kill_grace_ms), 0);
}

/* 1: run_script watches its spawn through a set (as a worker does) */
static int with_set;

/* Runs `script` with /bin/sh -c, contained by `cg` (nullable; owned by the
 * spawner), killed after kill_after_ms when > 0. */
static int run_script(run_t *r, const char *script, pgd_cgroup_t *cg, int64_t grace_ms) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_procspec_t spec;
  pgd_procspec_init(&spec);
  pgd_procspec_add_arg(&spec, "/bin/sh");
  pgd_procspec_add_arg(&spec, "-c");
  pgd_procspec_add_arg(&spec, script);
  pgd_spawn_opts_t opts = {.kill_grace_ms = grace_ms, .cgroup = cg};
  if (with_set) CU_ASSERT_EQUAL_FATAL(pgd_spawn_set_open(&loop, &opts.set), 0);
  pgd_spawn_cbs_t cbs = {.on_output = on_out, .on_exit = on_end};
  char err[256];
  int rc = pgd_spawn_start(&loop, &spec, NULL, &opts, &cbs, r, &r->sp, err, sizeof err);
  pgd_spawn_set_close(opts.set); /* the spawn keeps it until its end */
  pgd_procspec_free(&spec);
  if (rc == 0 && r->kill_after_ms > 0) {
    uv_timer_init(&loop, &r->kill_timer);
    r->kill_timer.data = r;
    uv_timer_start(&r->kill_timer, on_kill_timer, (uint64_t)r->kill_after_ms, 0);
  }
  if (rc == 0) uv_run(&loop, UV_RUN_DEFAULT);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
  return rc;
}

static pgd_cgroup_t *make_cg(pgd_cgroup_root_t *root, const char *name,
                             const pgd_cgroup_limits_t *lim) {
  pgd_cgroup_t *cg = NULL;
  char err[256], skipped[256];
  int rc = pgd_cgroup_create(root, name, lim, &cg, skipped, sizeof skipped, err, sizeof err);
  CU_ASSERT_EQUAL(rc, 0);
  if (rc) fprintf(stderr, "create: %s\n", err);
  return cg;
}

/* Kill: a background sleep, a setsid sleep and a TERM-ignoring bash with
 * its sleep are all gone when on_exit runs. */
static void kill_reaches_tree(int use_cgroups) {
  char name[64], a[16], b[16], c[16], script[512];
  snprintf(name, sizeof name, "ut-kill-%d-%d", use_cgroups, (int)getpid());
  pgd_cgroup_root_t *root = open_root(use_cgroups, name, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  mark(a, sizeof a);
  mark(b, sizeof b);
  mark(c, sizeof c);
  snprintf(script, sizeof script,
           "sleep %s & setsid sleep %s & bash -c \"trap '' TERM; sleep %s\" & echo started; wait",
           a, b, c);
  run_t r = {.kill_after_ms = 500, .kill_grace_ms = 300};
  CU_ASSERT_EQUAL(run_script(&r, script, make_cg(root, "a1", NULL), 300), 0);
  CU_ASSERT(r.done);
  CU_ASSERT(r.res.killed);
  CU_ASSERT_EQUAL(count_marked(a), 0);
  CU_ASSERT_EQUAL(count_marked(b), 0);
  CU_ASSERT_EQUAL(count_marked(c), 0);
  /* the next attempts of the worker run normally (a killed cgroup is not
   * reused: clone3 into it would have the child SIGKILLed at birth) */
  for (int i = 0; i < 3; i++) {
    run_t r2 = {0};
    char n2[16];
    snprintf(n2, sizeof n2, "b%d", i);
    CU_ASSERT_EQUAL(run_script(&r2, "echo again", make_cg(root, n2, NULL), 300), 0);
    CU_ASSERT_EQUAL(r2.res.exit_code, 0);
    CU_ASSERT_EQUAL(r2.res.term_signal, 0);
    CU_ASSERT_STRING_EQUAL(r2.out, "again\n");
  }
  pgd_cgroup_root_close(root);
}

static void test_kill_cgroup(void) {
  kill_reaches_tree(1);
}
static void test_kill_procscan(void) { kill_reaches_tree(0); }

/* The same through a worker's set, and on the path of kernels without
 * clone3 (the child joins its cgroup by writing cgroup.procs; pidfd_open). */
static void test_kill_cgroup_set(void) {
  with_set = 1;
  kill_reaches_tree(1);
  pgd_runas_clone3_for_test(0);
  kill_reaches_tree(1);
  pgd_runas_clone3_for_test(1);
  with_set = 0;
}

/* The main process exits: what it left is ended (TERM, then KILL for the
 * one that ignores TERM) before on_exit. */
static void main_exit_ends_tree(int use_cgroups) {
  char name[64], a[16], b[16], script[512];
  snprintf(name, sizeof name, "ut-exit-%d-%d", use_cgroups, (int)getpid());
  pgd_cgroup_root_t *root = open_root(use_cgroups, name, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  mark(a, sizeof a);
  mark(b, sizeof b);
  snprintf(script, sizeof script,
           "setsid sleep %s & bash -c \"trap '' TERM; sleep %s\" & sleep 0.3; echo main-done", a, b);
  run_t r = {0};
  uint64_t t0 = pgd_mono_ns();
  CU_ASSERT_EQUAL(run_script(&r, script, make_cg(root, "a2", NULL), 300), 0);
  CU_ASSERT(r.done);
  CU_ASSERT_EQUAL(r.res.exit_code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "main-done"));
  CU_ASSERT_EQUAL(count_marked(a), 0);
  CU_ASSERT_EQUAL(count_marked(b), 0);
  /* the TERM-ignoring one needed the SIGKILL after the 300 ms grace */
  CU_ASSERT((pgd_mono_ns() - t0) / 1000000 >= 300 + 300);
  pgd_cgroup_root_close(root);
}

static void test_main_exit_cgroup(void) { main_exit_ends_tree(1); }

/* A pooled cgroup keeps its cgroup.procs open for the emptiness check after
 * each exit: in a cgroup reused from the pool (its descriptor already read
 * to the end once), a leftover is still seen and ended, then the next
 * attempt finds it empty again. */
static void test_reused_cgroup_sees_leftovers(void) {
  char name[64], a[16], script[512];
  snprintf(name, sizeof name, "ut-reuse-%d", (int)getpid());
  pgd_cgroup_root_t *root = open_root(1, name, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  CU_ASSERT_EQUAL_FATAL(pgd_cgroup_root_mode(root), PGD_CONTAIN_CGROUP); /* CI runs as root */
  for (int round = 0; round < 3; round++) {
    run_t first = {0};
    CU_ASSERT_EQUAL(run_script(&first, "echo plain", make_cg(root, "r0", NULL), 300), 0);
    CU_ASSERT_STRING_EQUAL(first.out, "plain\n");
    mark(a, sizeof a);
    snprintf(script, sizeof script, "setsid sleep %s & echo main-done", a);
    run_t r = {0};
    CU_ASSERT_EQUAL(run_script(&r, script, make_cg(root, "r1", NULL), 300), 0);
    CU_ASSERT(r.done);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "main-done"));
    CU_ASSERT_EQUAL(count_marked(a), 0);
  }
  pgd_cgroup_root_close(root);
}
static void test_main_exit_procscan(void) { main_exit_ends_tree(0); }

/* Without containment the SIGKILL of a kill still reaches the process
 * group after the main process exited (it used to be dropped). */
static void test_sigkill_after_main_exit_without_containment(void) {
  char a[16], script[256];
  mark(a, sizeof a);
  snprintf(script, sizeof script, "bash -c \"trap '' TERM; sleep %s\" & echo started; wait", a);
  run_t r = {.kill_after_ms = 500, .kill_grace_ms = 300};
  CU_ASSERT_EQUAL(run_script(&r, script, NULL, 300), 0);
  CU_ASSERT(r.done);
  CU_ASSERT_EQUAL(wait_gone(a), 0);
}

/* A new open of the same name kills and removes what an earlier one left
 * (a worker that died without cleaning up, guard gone too). */
static void leftovers_killed(int use_cgroups) {
  char name[64], a[16], b[16], script[256];
  snprintf(name, sizeof name, "ut-left-%d-%d", use_cgroups, (int)getpid());
  pgd_cgroup_root_t *old = open_root(use_cgroups, name, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(old);
  pgd_cgroup_t *cg = make_cg(old, "a3", NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(cg);
  mark(a, sizeof a);
  mark(b, sizeof b);
  snprintf(script, sizeof script, "setsid sleep %s & sleep %s", a, b);
  char *argv[] = {"/bin/sh", "-c", script, NULL};
  /* the job's environment carries the marker (spawn.c puts it there) */
  size_t n = 0;
  while (environ[n]) n++;
  char **env = calloc(n + 2, sizeof *env);
  memcpy(env, environ, n * sizeof *env);
  env[n] = (char *)pgd_cgroup_marker(cg);
  int out = open("/dev/null", O_WRONLY | O_CLOEXEC);
  pid_t pid = -1;
  pgd_runas_step_t step;
  CU_ASSERT_EQUAL_FATAL(pgd_runas_spawn_ex(NULL, argv, env, NULL, out, pgd_cgroup_spawn_cgroups(cg),
                                           &pid, &step), 0);
  close(out);
  free(env);
  pgd_cgroup_set_main(cg, pid);
  CU_ASSERT(wait_present(a, 1) && wait_present(b, 1));
  int left = -1;
  pgd_cgroup_root_t *again = open_root(use_cgroups, name, 0, &left);
  CU_ASSERT_PTR_NOT_NULL_FATAL(again);
  CU_ASSERT(left >= 2);
  CU_ASSERT_EQUAL(wait_gone(a), 0);
  CU_ASSERT_EQUAL(wait_gone(b), 0);
  int status = 0;
  CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
  CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  pgd_cgroup_destroy(cg);
  pgd_cgroup_root_close(old);
  pgd_cgroup_root_close(again);
}

static void test_leftovers_cgroup(void) { leftovers_killed(1); }
static void test_leftovers_procscan(void) { leftovers_killed(0); }

/* A "worker" (a forked child of the test) opens containment with its guard,
 * starts a tree and exits without any cleanup: the guard kills the tree. */
static void guard_kills(int use_cgroups) {
  char name[64], a[16], script[256];
  snprintf(name, sizeof name, "ut-guard-%d-%d", use_cgroups, (int)getpid());
  mark(a, sizeof a);
  snprintf(script, sizeof script, "setsid sleep %s & setsid sleep %s & wait", a, a);
  pid_t w = fork();
  if (w == 0) {
    pgd_cgroup_root_config_t cfg = {.use_cgroups = use_cgroups, .name = name};
    pgd_cgroup_root_t *r = NULL;
    pgd_cgroup_t *cg = NULL;
    char err[256], sk[64];
    if (pgd_cgroup_root_open(&cfg, &r, NULL, err, sizeof err) ||
        pgd_cgroup_create(r, "a4", NULL, &cg, sk, sizeof sk, err, sizeof err))
      _exit(2);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    char *env[] = {"PATH=/usr/bin:/bin", (char *)pgd_cgroup_marker(cg), NULL};
    pid_t pid;
    pgd_runas_step_t step;
    if (pgd_runas_spawn_ex(NULL, argv, env, NULL, 2, pgd_cgroup_spawn_cgroups(cg), &pid, &step)) _exit(3);
    for (int i = 0; i < 1000 && count_marked(a) < 2; i++) usleep(10000);
    _exit(count_marked(a) == 2 ? 0 : 4); /* dies like a killed worker */
  }
  CU_ASSERT_FATAL(w > 0);
  int status = 0;
  CU_ASSERT_EQUAL(waitpid(w, &status, 0), w);
  CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CU_ASSERT_EQUAL(wait_gone(a), 0);
  /* the guard removed the per-worker cgroup as well: a new open finds nothing */
  int left = -1;
  pgd_cgroup_root_t *again = open_root(use_cgroups, name, 0, &left);
  CU_ASSERT_EQUAL(left, 0);
  pgd_cgroup_root_close(again);
}

static void test_guard_cgroup(void) { guard_kills(1); }
static void test_guard_procscan(void) { guard_kills(0); }

/* ---- limits (cgroups) ------------------------------------------------------ */

static void test_mode(void) {
  char name[64];
  snprintf(name, sizeof name, "ut-mode-%d", (int)getpid());
  pgd_cgroup_root_t *r = open_root(1, name, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  /* CI runs as root on a host with a writable hierarchy: cgroups must be
   * used there; a non-root run must fall back, not fail. */
  CU_ASSERT_EQUAL(pgd_cgroup_root_mode(r), geteuid() == 0 ? PGD_CONTAIN_CGROUP : PGD_CONTAIN_PROCSCAN);
  pgd_cgroup_root_close(r);
  r = open_root(0, name, 0, NULL);
  CU_ASSERT_EQUAL(pgd_cgroup_root_mode(r), PGD_CONTAIN_PROCSCAN);
  CU_ASSERT_PTR_NOT_NULL(strstr(pgd_cgroup_root_describe(r), "/proc scan"));
  pgd_cgroup_t *cg = NULL;
  char err[256], skipped[256];
  pgd_cgroup_limits_t lim = {.memory_mb = 10};
  CU_ASSERT_EQUAL(pgd_cgroup_create(r, "bad/name", NULL, &cg, skipped, sizeof skipped, err, sizeof err),
                  -EINVAL);
  CU_ASSERT_EQUAL(pgd_cgroup_create(r, "a0", &lim, &cg, skipped, sizeof skipped, err, sizeof err), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(skipped, "memory_mb"));
  CU_ASSERT_EQUAL(pgd_cgroup_empty(cg), 1);
  pgd_cgroup_destroy(cg);
  pgd_cgroup_root_close(r);
}

static void test_memory_limit_oom(void) {
  CU_ASSERT_EQUAL_FATAL(geteuid(), 0); /* limits need root (CI runs as root) */
  char name[64];
  snprintf(name, sizeof name, "ut-oom-%d", (int)getpid());
  pgd_cgroup_root_t *root = open_root(1, name, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  pgd_cgroup_limits_t lim = {.memory_mb = 16};
  run_t r = {0};
  CU_ASSERT_EQUAL(run_script(&r, "exec python3 -c \"a = b'x' * (128 << 20)\"", make_cg(root, "a5", &lim),
                             300), 0);
  CU_ASSERT(r.done);
  CU_ASSERT_EQUAL(r.res.oom_killed, 1);
  CU_ASSERT_EQUAL(r.res.term_signal, SIGKILL);
  /* the same under a larger limit succeeds */
  lim.memory_mb = 512;
  run_t r2 = {0};
  CU_ASSERT_EQUAL(run_script(&r2, "python3 -c \"a = b'x' * (128 << 20)\"", make_cg(root, "a6", &lim),
                             300), 0);
  CU_ASSERT_EQUAL(r2.res.oom_killed, 0);
  CU_ASSERT_EQUAL(r2.res.exit_code, 0);
  pgd_cgroup_root_close(root);
}

static void test_pids_limit(void) {
  CU_ASSERT_EQUAL_FATAL(geteuid(), 0);
  char name[64];
  snprintf(name, sizeof name, "ut-pids-%d", (int)getpid());
  pgd_cgroup_root_t *root = open_root(1, name, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  pgd_cgroup_limits_t lim = {.pids = 3};
  run_t r = {0};
  CU_ASSERT_EQUAL(run_script(&r, "for i in 1 2 3 4 5 6; do sleep 0.3 & done; wait; echo end",
                             make_cg(root, "a7", &lim), 300), 0);
  CU_ASSERT(r.done);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.out, "fork")); /* "Cannot fork" / "fork: ..." */
  pgd_cgroup_root_close(root);
}

/* cpus = 0.1: over 1.5 s of wall time the tree gets at most ~0.15 s of
 * CPU (CFS quota); without the limit a busy loop gets far more on an idle
 * core. The bound checked leaves room for accounting slack. */
static void test_cpu_limit(void) {
  CU_ASSERT_EQUAL_FATAL(geteuid(), 0);
  char name[64];
  snprintf(name, sizeof name, "ut-cpu-%d", (int)getpid());
  pgd_cgroup_root_t *root = open_root(1, name, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(root);
  pgd_cgroup_limits_t lim = {.cpus = 0.1};
  run_t r = {0};
  CU_ASSERT_EQUAL(run_script(&r,
                             "exec python3 -c \"import os, time\n"
                             "t = time.time()\n"
                             "while time.time() - t < 1.5: pass\n"
                             "c = os.times(); print('cpu %.3f' % (c.user + c.system))\"",
                             make_cg(root, "a8", &lim), 300), 0);
  CU_ASSERT_EQUAL(r.res.exit_code, 0);
  const char *p = strstr(r.out, "cpu ");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  double cpu = atof(p + 4);
  CU_ASSERT(cpu > 0 && cpu < 0.4);
  if (!(cpu < 0.4)) fprintf(stderr, "cpu time under cpus=0.1: %.3f s\n", cpu);
  pgd_cgroup_root_close(root);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("worker_cgroup", NULL, NULL);
  CU_add_test(s, "mode and names", test_mode);
  CU_add_test(s, "kill reaches the tree (cgroup)", test_kill_cgroup);
  CU_add_test(s, "kill reaches the tree (proc scan)", test_kill_procscan);
  CU_add_test(s, "kill reaches the tree (cgroup, a set; then without clone3)", test_kill_cgroup_set);
  CU_add_test(s, "main exit ends the tree (cgroup)", test_main_exit_cgroup);
  CU_add_test(s, "main exit ends the tree (proc scan)", test_main_exit_procscan);
  CU_add_test(s, "a cgroup reused from the pool still sees leftovers", test_reused_cgroup_sees_leftovers);
  CU_add_test(s, "SIGKILL after main exit, no containment",
              test_sigkill_after_main_exit_without_containment);
  CU_add_test(s, "leftovers killed by the next open (cgroup)", test_leftovers_cgroup);
  CU_add_test(s, "leftovers killed by the next open (proc scan)", test_leftovers_procscan);
  CU_add_test(s, "guard kills the trees of a dead worker (cgroup)", test_guard_cgroup);
  CU_add_test(s, "guard kills the trees of a dead worker (proc scan)", test_guard_procscan);
  CU_add_test(s, "memory limit: oom_killed", test_memory_limit_oom);
  CU_add_test(s, "pids limit", test_pids_limit);
  CU_add_test(s, "cpus limit", test_cpu_limit);
  return pgd_test_run();
}
