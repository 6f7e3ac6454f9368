/* Unit tests of the script thread (script_thread.h) and of a balancer pick
 * abandoned at its deadline (balancer_lua.c): a pick stuck in a C function
 * (injected here: no function a script can reach blocks) makes the calling
 * thread return PGD_SCRIPT_THREAD_ETIMEDOUT within the deadline plus a
 * margin; the stuck thread never touches the caller's candidates again
 * (they are freed before it resumes: AddressSanitizer would see a read),
 * and frees the abandoned Lua state when it comes back. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <lauxlib.h>

#include "pgd_test.h"
#include "script/balancer_int.h"
#include "script/script_thread.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Polls `flag` until it is set or `seconds` passed. */
static int wait_flag(atomic_int *flag, double seconds) {
  double end = now_s() + seconds;
  while (!atomic_load(flag) && now_s() < end) {
    struct timespec ts = {0, 5 * 1000000L};
    nanosleep(&ts, NULL);
  }
  return atomic_load(flag);
}

/* ---- the thread alone ----------------------------------------------------- */

static atomic_int release, ran, cleaned;

static void quick(void *ud) { ++*(int *)ud; }

static void stuck(void *ud) {
  (void)ud;
  while (!atomic_load(&release)) {
    struct timespec ts = {0, 2 * 1000000L};
    nanosleep(&ts, NULL);
  }
  atomic_store(&ran, 1);
}

static void on_orphan_done(void *ud) {
  (void)ud;
  atomic_store(&cleaned, 1);
}

static void test_thread_runs_and_times_out(void) {
  pgd_script_thread_t *t;
  CU_ASSERT_FATAL(pgd_script_thread_new(&t) == 0);
  int n = 0;
  for (int i = 0; i < 100; i++) CU_ASSERT_EQUAL(pgd_script_thread_run(t, quick, &n, 5000), 0);
  CU_ASSERT_EQUAL(n, 100);
  atomic_store(&release, 0);
  atomic_store(&ran, 0);
  atomic_store(&cleaned, 0);
  double t0 = now_s();
  CU_ASSERT_EQUAL(pgd_script_thread_run(t, stuck, NULL, 200), PGD_SCRIPT_THREAD_ETIMEDOUT);
  double took = now_s() - t0;
  CU_ASSERT(took >= 0.19);
  CU_ASSERT(took < 3.0); /* 200 ms deadline; margin for a loaded machine */
  pgd_script_thread_orphan(t, on_orphan_done, NULL);
  CU_ASSERT_EQUAL(atomic_load(&cleaned), 0);
  atomic_store(&release, 1);
  CU_ASSERT(wait_flag(&cleaned, 10.0));
  CU_ASSERT_EQUAL(atomic_load(&ran), 1);
  /* orphaning a thread whose call returned just in time cleans up at once */
  CU_ASSERT_FATAL(pgd_script_thread_new(&t) == 0);
  atomic_store(&cleaned, 0);
  CU_ASSERT_EQUAL(pgd_script_thread_run(t, quick, &n, 5000), 0);
  pgd_script_thread_orphan(t, on_orphan_done, NULL);
  CU_ASSERT_EQUAL(atomic_load(&cleaned), 1);
}

/* ---- a balancer pick stuck in C ------------------------------------------- */

static atomic_int in_stall, state_closed;

static int l_stall(lua_State *L) {
  (void)L;
  atomic_store(&in_stall, 1);
  while (!atomic_load(&release)) {
    struct timespec ts = {0, 2 * 1000000L};
    nanosleep(&ts, NULL);
  }
  return 0;
}

static int l_closed(lua_State *L) {
  (void)L;
  atomic_store(&state_closed, 1);
  return 0;
}

/* Adds stall() to the environment of the script's pick function, and a
 * userdata whose finalizer reports the state's lua_close. */
static void inject(bal_code_t *code) {
  lua_State *L = pgd_sandbox_state(code->sb);
  lua_rawgeti(L, LUA_REGISTRYINDEX, code->pick_ref);
  CU_ASSERT_FATAL(lua_getupvalue(L, -1, 1) != NULL); /* _ENV */
  lua_pushcfunction(L, l_stall);
  lua_setfield(L, -2, "stall");
  lua_pop(L, 2);
  lua_newuserdatauv(L, 1, 0);
  lua_newtable(L);
  lua_pushcfunction(L, l_closed);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  luaL_ref(L, LUA_REGISTRYINDEX);
}

static void test_stuck_pick_is_abandoned(void) {
  static const char src[] =
      "function pick(job, workers, state)\n"
      "  local first = workers[1].id\n"
      "  if job.name == 'stall' then stall() end\n"
      "  return workers[#workers].id\n"
      "end\n";
  bal_t *b = calloc(1, sizeof *b);
  snprintf(b->name, sizeof b->name, "stuck");
  char err[512];
  b->code = pgd_bal_code_compile(b, src, strlen(src), 0, 0, err, sizeof err);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b->code);
  bal_code_t *code = b->code;
  inject(code);
  pgd_script_thread_t *t;
  CU_ASSERT_FATAL(pgd_script_thread_new(&t) == 0);
  pgd_bal_worker_t *cands = calloc(2, sizeof *cands);
  cands[0].id = "w1";
  cands[1].id = "w2";
  pgd_bal_job_t job = {.name = "fine"};
  b->call.job = &job;
  b->call.cands = cands;
  b->call.n = 2;
  b->call.gen = 1;
  /* an ordinary pick on the thread */
  CU_ASSERT_EQUAL(pgd_bal_code_pick(b, t, 5000, err, sizeof err), 0);
  CU_ASSERT_EQUAL(b->call.index, 1);
  /* a stuck one: back within the deadline, the state given up */
  job.name = "stall";
  atomic_store(&release, 0);
  atomic_store(&in_stall, 0);
  atomic_store(&state_closed, 0);
  double t0 = now_s();
  int rc = pgd_bal_code_pick(b, t, 300, err, sizeof err);
  double took = now_s() - t0;
  CU_ASSERT_EQUAL(rc, PGD_SCRIPT_THREAD_ETIMEDOUT);
  CU_ASSERT(took < 3.0);
  CU_ASSERT_EQUAL(atomic_load(&in_stall), 1);
  CU_ASSERT_PTR_NULL(b->code);
  CU_ASSERT(strstr(err, "did not return within 300 ms") != NULL);
  /* the caller's memory goes away before the thread resumes */
  free(cands);
  free(b);
  atomic_store(&release, 1);
  CU_ASSERT(wait_flag(&state_closed, 10.0)); /* the orphan freed the state */
}

/* Through pgd_balancers_pick, on the script thread and inline: the same
 * choices; a pathological pattern falls back with the budget error. */
static void test_pick_thread_and_inline(void) {
  char dir[] = "/tmp/pgd-test-thread-XXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof path, "%s/last.lua", dir);
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("function pick(job, workers, state)\n"
        "  if job.name == 'stall' then string.find(string.rep('a', 600), '.-.-.-b') end\n"
        "  return workers[#workers].id\n"
        "end\n", f);
  fclose(f);
  pgd_balancers_t *b;
  char err[512];
  CU_ASSERT_FATAL(pgd_balancers_open(NULL, dir, NULL, &b, err, sizeof err) == 0);
  pgd_bal_worker_t cands[3] = {{.id = "w1", .slots_free = 5}, {.id = "w2", .slots_free = 1},
                               {.id = "w3", .slots_free = 1}};
  pgd_bal_job_t job = {.name = "j"};
  for (int mode = 1; mode >= 0; mode--) {
    pgd_balancers_set_script_thread(b, mode);
    char reason[128], e[512];
    CU_ASSERT_EQUAL(pgd_balancers_pick(b, "last", &job, cands, 3, 1, reason, sizeof reason, e, sizeof e), 2);
    CU_ASSERT_STRING_EQUAL(e, "");
    pgd_bal_job_t stall = {.name = "stall"};
    double t0 = now_s();
    /* the built-in decides: w1 has the most free slots */
    CU_ASSERT_EQUAL(pgd_balancers_pick(b, "last", &stall, cands, 3, 1, reason, sizeof reason, e, sizeof e), 0);
    CU_ASSERT(strstr(e, "instruction budget exceeded") != NULL);
    CU_ASSERT(now_s() - t0 < 3.0);
  }
  pgd_balancers_close(b);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("script_thread", NULL, NULL);
  CU_add_test(s, "runs calls, times out, orphans", test_thread_runs_and_times_out);
  CU_add_test(s, "a pick stuck in C is abandoned", test_stuck_pick_is_abandoned);
  CU_add_test(s, "picks on the script thread and inline", test_pick_thread_and_inline);
  return pgd_test_run();
}
