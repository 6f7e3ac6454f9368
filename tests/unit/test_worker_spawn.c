/* Unit tests of core/worker/spawn: clone + pidfd supervision, each spawn on
 * its own and in a shared set (with and without clone3). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <uv.h>

#include "pgd_test.h"
#include "common/clock.h"
#include "plugin/procspec.h"
#include "worker/spawn.h"

/* One run: collects the output and the result. */
typedef struct run {
  char out[1 << 20];
  size_t out_len;
  uint64_t total_out;
  int done;
  pgd_spawn_result_t res;
  uint64_t start_ns, end_ns;
  pgd_spawn_t *sp;
  int64_t kill_on_output_grace; /* >= 0: kill at the first output */
  int killed_on_output;
} run_t;

static void on_output(pgd_spawn_t *p, const char *data, size_t len, void *ud) {
  run_t *r = ud;
  r->total_out += len;
  size_t room = sizeof r->out - 1 - r->out_len;
  if (len > room) len = room;
  memcpy(r->out + r->out_len, data, len);
  r->out_len += len;
  r->out[r->out_len] = '\0';
  if (r->kill_on_output_grace >= 0 && !r->killed_on_output) {
    r->killed_on_output = 1;
    CU_ASSERT_EQUAL(pgd_spawn_kill(p, r->kill_on_output_grace), 0);
  }
}

static void on_exit_cb(pgd_spawn_t *p, const pgd_spawn_result_t *res, void *ud) {
  run_t *r = ud;
  CU_ASSERT_PTR_EQUAL(pgd_spawn_data(p), ud);
  r->res = *res;
  r->done = 1;
  r->end_ns = pgd_mono_ns();
}

static const pgd_spawn_cbs_t cbs = {.on_output = on_output, .on_exit = on_exit_cb};

static run_t *new_run(void) {
  run_t *r = calloc(1, sizeof *r);
  r->kill_on_output_grace = -1;
  return r;
}

static void spec_args(pgd_procspec_t *spec, const char *const *argv) {
  pgd_procspec_init(spec);
  for (size_t i = 0; argv[i]; i++) pgd_procspec_add_arg(spec, argv[i]);
}

/* The suite's way of starting: 0 = each spawn watches itself (uv handles of
 * its own), 1 = the spawns of a loop share one set (as a worker's attempts
 * do), 2 = a set and the path of kernels without clone3 (clone, then
 * pidfd_open). */
static int mode;
static pgd_spawn_set_t *loop_set; /* the set of loop_set_loop (modes 1, 2) */
static uv_loop_t *loop_set_loop;

static int start_spawn(uv_loop_t *loop, const pgd_procspec_t *spec, const char *const *extra_env,
                       const pgd_spawn_opts_t *opts, const pgd_spawn_cbs_t *c, void *ud,
                       pgd_spawn_t **out, char *err, size_t errlen) {
  pgd_spawn_opts_t o = opts ? *opts : (pgd_spawn_opts_t){0};
  if (mode && loop_set_loop != loop) {
    CU_ASSERT_PTR_NULL(loop_set);
    CU_ASSERT_EQUAL_FATAL(pgd_spawn_set_open(loop, &loop_set), 0);
    loop_set_loop = loop;
  }
  if (mode) o.set = loop_set;
  return pgd_spawn_start(loop, spec, extra_env, &o, c, ud, out, err, errlen);
}

static int suite_own(void) {
  mode = 0;
  return 0;
}

static int suite_set(void) {
  mode = 1;
  return 0;
}

static int suite_set_no_clone3(void) {
  mode = 2;
  pgd_runas_clone3_for_test(0);
  return 0;
}

static int suite_done(void) {
  pgd_runas_clone3_for_test(1);
  return 0;
}

/* Closes the loop's set (its owner's part: the worker's stop), asserts the
 * loop has no handle left and closes it. */
static void close_loop(uv_loop_t *loop) {
  if (loop_set_loop == loop) {
    pgd_spawn_set_close(loop_set);
    loop_set = NULL;
    loop_set_loop = NULL;
  }
  uv_run(loop, UV_RUN_DEFAULT);
  CU_ASSERT_EQUAL(uv_loop_alive(loop), 0);
  CU_ASSERT_EQUAL(uv_loop_close(loop), 0);
}

/* Runs argv (with optional cwd/env/opts) to the end. Returns spawn rc. */
static int run_to_end(run_t *r, const char *const *argv, const char *cwd,
                      const char *const *extra_env, const pgd_spawn_opts_t *opts, char *err,
                      size_t errlen) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_procspec_t spec;
  spec_args(&spec, argv);
  if (cwd) pgd_procspec_set_cwd(&spec, cwd);
  r->start_ns = pgd_mono_ns();
  int rc = start_spawn(&loop, &spec, extra_env, opts, &cbs, r, &r->sp, err, errlen);
  pgd_procspec_free(&spec);
  if (rc == 0) uv_run(&loop, UV_RUN_DEFAULT);
  close_loop(&loop);
  return rc;
}

static double elapsed_ms(const run_t *r) { return (double)(r->end_ns - r->start_ns) / 1e6; }

/* ---- tests --------------------------------------------------------------- */

static void test_merged_output_and_exit_code(void) {
  run_t *r = new_run();
  const char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 3", NULL};
  char err[256];
  CU_ASSERT_EQUAL_FATAL(run_to_end(r, argv, NULL, NULL, NULL, err, sizeof err), 0);
  CU_ASSERT(r->done);
  CU_ASSERT_STRING_EQUAL(r->out, "out\nerr\n");
  CU_ASSERT_EQUAL(r->res.exit_code, 3);
  CU_ASSERT_EQUAL(r->res.term_signal, 0);
  CU_ASSERT_EQUAL(r->res.timed_out, 0);
  CU_ASSERT_EQUAL(r->res.killed, 0);
  CU_ASSERT_EQUAL(r->res.output_bytes, 8);
  CU_ASSERT(r->res.pid > 0);
  free(r);
}

static void test_large_output(void) {
  run_t *r = new_run();
  const char *argv[] = {"/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a", NULL};
  char err[256];
  CU_ASSERT_EQUAL_FATAL(run_to_end(r, argv, NULL, NULL, NULL, err, sizeof err), 0);
  CU_ASSERT_EQUAL(r->res.exit_code, 0);
  CU_ASSERT_EQUAL(r->total_out, 300000);
  CU_ASSERT_EQUAL(r->res.output_bytes, 300000);
  CU_ASSERT_EQUAL(strspn(r->out, "a"), 300000);
  free(r);
}

static void test_env(void) {
  run_t *r = new_run();
  const char *argv[] = {"/bin/sh", "-c",
                        "echo \"$PAGODA_EXECUTION_ID $PAGODA_JOB $PAGODA_ATTEMPT $FOO $PATH_SET\"",
                        NULL};
  const char *env[] = {"PAGODA_EXECUTION_ID=42", "PAGODA_JOB=nightly", "PAGODA_ATTEMPT=2",
                       "FOO=extra", NULL};
  setenv("PATH_SET", "inherited", 1);
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_procspec_t spec;
  spec_args(&spec, argv);
  pgd_procspec_set_env(&spec, "FOO", "spec"); /* overridden by extra_env */
  char err[256];
  CU_ASSERT_EQUAL_FATAL(start_spawn(&loop, &spec, env, NULL, &cbs, r, &r->sp, err, sizeof err), 0);
  pgd_procspec_free(&spec);
  uv_run(&loop, UV_RUN_DEFAULT);
  close_loop(&loop);
  CU_ASSERT_STRING_EQUAL(r->out, "42 nightly 2 extra inherited\n");
  unsetenv("PATH_SET");
  free(r);
}

static void on_test_signal(int sig) { (void)sig; }

/* The job starts with every signal at its default disposition, whatever
 * the worker ignores or catches (an ignored one would survive execve; a
 * real-time one is past the first 32 bits of a signal set). */
static void test_default_dispositions(void) {
  struct sigaction ign = {.sa_handler = SIG_IGN}, cgt = {.sa_handler = on_test_signal}, old[4];
  const int sigs[4] = {SIGUSR2, SIGRTMIN + 5, SIGUSR1, SIGRTMIN + 6};
  for (int i = 0; i < 4; i++) sigaction(sigs[i], i < 2 ? &ign : &cgt, &old[i]);
  run_t *r = new_run();
  const char *argv[] = {"/bin/cat", "/proc/self/status", NULL};
  char err[256];
  int rc = run_to_end(r, argv, NULL, NULL, NULL, err, sizeof err);
  for (int i = 0; i < 4; i++) sigaction(sigs[i], &old[i], NULL);
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  CU_ASSERT_EQUAL(r->res.exit_code, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "\nSigIgn:\t0000000000000000\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "\nSigCgt:\t0000000000000000\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r->out, "\nSigBlk:\t0000000000000000\n"));
  free(r);
}

static void test_own_process_group(void) {
  run_t *r = new_run();
  /* field 5 of /proc/PID/stat is the process group */
  const char *argv[] = {"/bin/sh", "-c", "cut -d' ' -f5 /proc/$$/stat", NULL};
  char err[256];
  CU_ASSERT_EQUAL_FATAL(run_to_end(r, argv, NULL, NULL, NULL, err, sizeof err), 0);
  long pgid = strtol(r->out, NULL, 10);
  CU_ASSERT_EQUAL(pgid, (long)r->res.pid);
  CU_ASSERT_NOT_EQUAL(pgid, (long)getpgid(0));
  free(r);
}

static void test_cwd(void) {
  char dir[] = "/tmp/pgd-spawn-cwd-XXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  run_t *r = new_run();
  const char *argv[] = {"pwd", NULL}; /* also exercises the PATH search */
  char err[256];
  CU_ASSERT_EQUAL_FATAL(run_to_end(r, argv, dir, NULL, NULL, err, sizeof err), 0);
  char want[64];
  snprintf(want, sizeof want, "%s\n", dir);
  CU_ASSERT_STRING_EQUAL(r->out, want);

  /* a missing working directory is named in the error */
  rmdir(dir);
  run_t *r2 = new_run();
  int rc = run_to_end(r2, argv, dir, NULL, NULL, err, sizeof err);
  CU_ASSERT_EQUAL(rc, -ENOENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "working directory"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, dir));
  CU_ASSERT_FALSE(r2->done);
  free(r);
  free(r2);
}

static void test_missing_binary(void) {
  char err[256];
  run_t *r = new_run();
  const char *argv[] = {"/nonexistent/pagoda-prog", "x", NULL};
  CU_ASSERT_EQUAL(run_to_end(r, argv, NULL, NULL, NULL, err, sizeof err), -ENOENT);
  CU_ASSERT_STRING_EQUAL(err, "cannot start '/nonexistent/pagoda-prog': No such file or directory");
  CU_ASSERT_FALSE(r->done);

  const char *argv2[] = {"pagoda-no-such-program-xyz", NULL};
  CU_ASSERT_EQUAL(run_to_end(r, argv2, NULL, NULL, NULL, err, sizeof err), -ENOENT);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "'pagoda-no-such-program-xyz'"));

  /* not executable (no x bit: EACCES even for root) */
  char path[] = "/tmp/pgd-spawn-noexec-XXXXXX";
  int fd = mkstemp(path);
  CU_ASSERT_FATAL(fd >= 0);
  close(fd);
  chmod(path, 0644);
  const char *argv3[] = {path, NULL};
  CU_ASSERT_EQUAL(run_to_end(r, argv3, NULL, NULL, NULL, err, sizeof err), -EACCES);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "Permission denied"));
  unlink(path);
  free(r);
}

static void test_bad_spec(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_procspec_t spec;
  pgd_procspec_init(&spec);
  pgd_spawn_t *sp = (pgd_spawn_t *)&spec;
  char err[256];
  run_t *r = new_run();
  CU_ASSERT_EQUAL(start_spawn(&loop, &spec, NULL, NULL, &cbs, r, &sp, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NULL(sp);
  CU_ASSERT_EQUAL(pgd_spawn_start(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0), -EINVAL);

  pgd_procspec_add_arg(&spec, "/bin/true");
  pgd_procspec_set_user(&spec, "nobody");
  /* a user the caller did not resolve is refused */
  CU_ASSERT_EQUAL(start_spawn(&loop, &spec, NULL, NULL, &cbs, r, &sp, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "run_as user 'nobody' was not checked and resolved by the worker");
  pgd_procspec_free(&spec);
  close_loop(&loop);
  CU_ASSERT_FALSE(r->done);
  free(r);
}

static void on_kill_timer(uv_timer_t *t) {
  run_t *r = t->data;
  CU_ASSERT_EQUAL(pgd_spawn_kill(r->sp, 2000), 0);
  uv_close((uv_handle_t *)t, NULL);
}

static void test_kill_sigterm(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  run_t *r = new_run();
  pgd_procspec_t spec;
  const char *argv[] = {"sleep", "30", NULL};
  spec_args(&spec, argv);
  char err[256];
  r->start_ns = pgd_mono_ns();
  CU_ASSERT_EQUAL_FATAL(start_spawn(&loop, &spec, NULL, NULL, &cbs, r, &r->sp, err, sizeof err), 0);
  pgd_procspec_free(&spec);
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  t.data = r;
  uv_timer_start(&t, on_kill_timer, 50, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  close_loop(&loop);
  CU_ASSERT(r->done);
  CU_ASSERT_EQUAL(r->res.term_signal, SIGTERM);
  CU_ASSERT_EQUAL(r->res.exit_code, -1);
  CU_ASSERT_EQUAL(r->res.killed, 1);
  CU_ASSERT_EQUAL(r->res.timed_out, 0);
  CU_ASSERT(elapsed_ms(r) < 1500); /* well within the 2 s grace */
  free(r);
}

static void test_kill_escalates_to_sigkill(void) {
  run_t *r = new_run();
  r->kill_on_output_grace = 300;
  /* an ignored TERM is inherited by sleep through exec */
  const char *argv[] = {"/bin/sh", "-c", "trap '' TERM; echo ready; sleep 30", NULL};
  char err[256];
  CU_ASSERT_EQUAL_FATAL(run_to_end(r, argv, NULL, NULL, NULL, err, sizeof err), 0);
  CU_ASSERT(r->killed_on_output);
  CU_ASSERT_EQUAL(r->res.term_signal, SIGKILL);
  CU_ASSERT_EQUAL(r->res.killed, 1);
  double ms = elapsed_ms(r);
  CU_ASSERT(ms >= 290 && ms < 3000);
  free(r);
}

static void test_timeout(void) {
  run_t *r = new_run();
  const char *argv[] = {"sleep", "30", NULL};
  pgd_spawn_opts_t opts = {.timeout_ms = 100, .kill_grace_ms = 1000};
  char err[256];
  CU_ASSERT_EQUAL_FATAL(run_to_end(r, argv, NULL, NULL, &opts, err, sizeof err), 0);
  CU_ASSERT_EQUAL(r->res.timed_out, 1);
  CU_ASSERT_EQUAL(r->res.killed, 0);
  CU_ASSERT_EQUAL(r->res.term_signal, SIGTERM);
  double ms = elapsed_ms(r);
  CU_ASSERT(ms >= 95 && ms < 1000);
  free(r);
}

static void test_background_grandchild(void) {
  run_t *r = new_run();
  /* the background sleep keeps the pipe's write end open */
  const char *argv[] = {"/bin/sh", "-c", "sleep 5 & echo hi; exit 0", NULL};
  char err[256];
  CU_ASSERT_EQUAL_FATAL(run_to_end(r, argv, NULL, NULL, NULL, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(r->out, "hi\n");
  CU_ASSERT_EQUAL(r->res.exit_code, 0);
  double ms = elapsed_ms(r);
  CU_ASSERT(ms >= PGD_SPAWN_LINGER_MS - 5 && ms < 1500);
  kill(-r->res.pid, SIGKILL); /* tidy: the grandchild is not ours to wait for */
  free(r);
}

/* A set shared by several spawns at once, closed by its owner while they
 * run: each still ends with its own output and status, and the loop has no
 * handle left afterwards. */
static void test_set_shared_and_closed_early(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_spawn_set_t *set = NULL;
  CU_ASSERT_EQUAL_FATAL(pgd_spawn_set_open(&loop, &set), 0);
  pgd_spawn_opts_t opts = {.set = set};
  enum { N = 8 };
  run_t *r[N];
  for (int i = 0; i < N; i++) {
    r[i] = new_run();
    char script[64];
    snprintf(script, sizeof script, "sleep 0.%d; echo run %d; exit %d", i % 3, i, i);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    pgd_procspec_t spec;
    spec_args(&spec, argv);
    char err[256];
    CU_ASSERT_EQUAL_FATAL(pgd_spawn_start(&loop, &spec, NULL, &opts, &cbs, r[i], &r[i]->sp, err,
                                          sizeof err), 0);
    pgd_procspec_free(&spec);
  }
  pgd_spawn_set_close(set); /* the owner's stop: the running spawns keep it */
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT_EQUAL(uv_loop_alive(&loop), 0);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
  for (int i = 0; i < N; i++) {
    char want[32];
    snprintf(want, sizeof want, "run %d\n", i);
    CU_ASSERT(r[i]->done);
    CU_ASSERT_STRING_EQUAL(r[i]->out, want);
    CU_ASSERT_EQUAL(r[i]->res.exit_code, i);
    free(r[i]);
  }
}

/* An idle set does not keep its loop running, and closing it leaves no
 * handle. */
static void test_set_idle(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_spawn_set_t *set = NULL;
  CU_ASSERT_EQUAL_FATAL(pgd_spawn_set_open(&loop, &set), 0);
  CU_ASSERT_EQUAL(uv_run(&loop, UV_RUN_DEFAULT), 0); /* returns: nothing to wait for */
  CU_ASSERT_EQUAL(uv_loop_close(&loop), UV_EBUSY);   /* but the set is still open */
  pgd_spawn_set_close(set);
  pgd_spawn_set_close(NULL);
  close_loop(&loop);
}

/* ---- throughput (printed, not asserted) ---------------------------------- */

typedef struct bench {
  uv_loop_t *loop;
  int started, finished, target, failures;
} bench_t;

static void bench_start_one(bench_t *b);

static void bench_exit(pgd_spawn_t *p, const pgd_spawn_result_t *res, void *ud) {
  bench_t *b = ud;
  b->finished++;
  if (res->exit_code != 0) b->failures++;
  if (b->started < b->target) bench_start_one(b);
}

static void bench_start_one(bench_t *b) {
  static const pgd_spawn_cbs_t bcbs = {.on_exit = bench_exit};
  pgd_procspec_t spec;
  const char *argv[] = {"/bin/true", NULL};
  spec_args(&spec, argv);
  pgd_spawn_t *sp;
  char err[256];
  b->started++;
  if (start_spawn(b->loop, &spec, NULL, NULL, &bcbs, b, &sp, err, sizeof err) != 0) {
    b->failures++;
    b->finished++;
  }
  pgd_procspec_free(&spec);
}

static void test_throughput(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  bench_t b = {.loop = &loop, .target = 1000};
  uint64_t t0 = pgd_mono_ns();
  bench_start_one(&b);
  bench_start_one(&b);
  uv_run(&loop, UV_RUN_DEFAULT);
  double s = (double)(pgd_mono_ns() - t0) / 1e9;
  close_loop(&loop);
  CU_ASSERT_EQUAL(b.finished, b.target);
  CU_ASSERT_EQUAL(b.failures, 0);
  printf("\n    /bin/true, 2 in flight: %d spawns in %.3f s = %.0f spawns/s ", b.finished, s,
         b.finished / s);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  static const struct {
    const char *name;
    CU_InitializeFunc init;
  } suites[] = {{"worker_spawn", suite_own},
                {"worker_spawn (one set per loop)", suite_set},
                {"worker_spawn (one set, no clone3)", suite_set_no_clone3}};
  for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
    CU_pSuite s = CU_add_suite(suites[i].name, suites[i].init, suite_done);
    CU_add_test(s, "merged output and exit code", test_merged_output_and_exit_code);
    CU_add_test(s, "large output", test_large_output);
    CU_add_test(s, "environment", test_env);
    CU_add_test(s, "own process group", test_own_process_group);
    CU_add_test(s, "default signal dispositions", test_default_dispositions);
    CU_add_test(s, "working directory", test_cwd);
    CU_add_test(s, "missing binary", test_missing_binary);
    CU_add_test(s, "bad spec and run_as", test_bad_spec);
    CU_add_test(s, "kill: SIGTERM", test_kill_sigterm);
    CU_add_test(s, "kill: SIGKILL after grace", test_kill_escalates_to_sigkill);
    CU_add_test(s, "timeout", test_timeout);
    CU_add_test(s, "background grandchild holds the pipe", test_background_grandchild);
    if (i == 0) {
      CU_add_test(s, "a set shared by spawns, closed while they run", test_set_shared_and_closed_early);
      CU_add_test(s, "an idle set", test_set_idle);
    }
    CU_add_test(s, "throughput", test_throughput);
  }
  return pgd_test_run();
}
