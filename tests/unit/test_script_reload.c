/* Unit tests of core/script/balancer: live reload (explicit and by file
 * watch), refused scripts keep the old version, and the fallback on every
 * kind of script failure. Scripts are written to a temporary directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <uv.h>

#include "pgd_test.h"
#include "common/clock.h"
#include "script/balancer.h"

static char dir[256];
static char reason[256], error[1024];
static pgd_bal_worker_t W[3] = {
    {"a", "ha", NULL, 4, 1, 3, 0.5, 100},
    {"b", "hb", NULL, 4, 3, 1, 0.1, 100}, /* least loaded */
    {"c", "hc", NULL, 4, 2, 2, 0.2, 100},
};

static void write_script(const char *name, const char *text) {
  char path[512], tmp[512];
  snprintf(path, sizeof path, "%s/%s.lua", dir, name);
  snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
  FILE *f = fopen(tmp, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
  CU_ASSERT_EQUAL(rename(tmp, path), 0);
}

static const char *pick_fixed(const char *id) {
  static char buf[256];
  snprintf(buf, sizeof buf, "function pick(job, workers, state) return '%s' end\n", id);
  return buf;
}

static cJSON *entry_of(pgd_balancers_t *b, const char *name) {
  static cJSON *list;
  cJSON_Delete(list);
  list = pgd_balancers_to_json(b);
  cJSON *e;
  cJSON_ArrayForEach(e, list) if (!strcmp(cJSON_GetObjectItem(e, "name")->valuestring, name)) return e;
  return NULL;
}

static int pick(pgd_balancers_t *b, const char *name) {
  return pgd_balancers_pick(b, name, NULL, W, 3, 1, reason, sizeof reason, error, sizeof error);
}

static int setup(void) {
  snprintf(dir, sizeof dir, "/tmp/pagoda-test-reload-XXXXXX");
  return mkdtemp(dir) ? 0 : 1;
}

static int teardown(void) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  entry_of(NULL, ""); /* frees the cached list */
  return system(cmd) == 0 ? 0 : 1;
}

static void test_reload_and_refuse(void) {
  write_script("mine", pick_fixed("a"));
  pgd_balancers_t *b;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(pgd_balancers_open(NULL, dir, "mine", &b, err, sizeof err), 0);
  CU_ASSERT_EQUAL(pick(b, NULL), 0);
  CU_ASSERT_STRING_EQUAL(error, "");
  /* Edit: new behaviour after reload. */
  write_script("mine", pick_fixed("c"));
  CU_ASSERT_EQUAL(pick(b, NULL), 0); /* not yet */
  CU_ASSERT_EQUAL(pgd_balancers_reload(b), 0);
  CU_ASSERT_EQUAL(pick(b, NULL), 2);
  /* Broken edit: refused, old version stays, error recorded. */
  write_script("mine", "function pick(job, workers, state) return 'a' \n");
  CU_ASSERT_EQUAL(pgd_balancers_reload(b), 1);
  CU_ASSERT_EQUAL(pick(b, NULL), 2);
  CU_ASSERT_STRING_EQUAL(error, "");
  cJSON *e = entry_of(b, "mine");
  CU_ASSERT_PTR_NOT_NULL_FATAL(e);
  CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(e, "loaded")));
  CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItem(e, "default")));
  const char *le = cJSON_GetStringValue(cJSON_GetObjectItem(e, "last_error"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(le);
  CU_ASSERT_PTR_NOT_NULL(strstr(le, "mine.lua"));
  CU_ASSERT_PTR_NOT_NULL(strstr(le, "previous version"));
  CU_ASSERT(cJSON_GetObjectItem(e, "last_error_at")->valuedouble > 0);
  /* No pick function: refused as well. */
  write_script("mine", "function choose() end");
  CU_ASSERT_EQUAL(pgd_balancers_reload(b), 1);
  CU_ASSERT_EQUAL(pick(b, NULL), 2);
  le = cJSON_GetStringValue(cJSON_GetObjectItem(entry_of(b, "mine"), "last_error"));
  CU_ASSERT_PTR_NOT_NULL(le && strstr(le, "pick"));
  /* Fixed: loads, error cleared. */
  write_script("mine", pick_fixed("a"));
  CU_ASSERT_EQUAL(pgd_balancers_reload(b), 0);
  CU_ASSERT_EQUAL(pick(b, NULL), 0);
  CU_ASSERT(cJSON_IsNull(cJSON_GetObjectItem(entry_of(b, "mine"), "last_error")));
  /* A new file appears; a broken new file is listed but not loaded. */
  write_script("other", pick_fixed("b"));
  write_script("broken", "this is not lua");
  CU_ASSERT_EQUAL(pgd_balancers_reload(b), 1);
  CU_ASSERT_EQUAL(pick(b, "other"), 1);
  CU_ASSERT(cJSON_IsFalse(cJSON_GetObjectItem(entry_of(b, "broken"), "loaded")));
  CU_ASSERT(!pgd_balancers_exists(b, "broken"));
  CU_ASSERT_EQUAL(pick(b, "broken"), 1); /* built-in decides */
  CU_ASSERT_PTR_NOT_NULL(strstr(error, "not loaded"));
  /* A removed file is dropped. */
  char path[512];
  snprintf(path, sizeof path, "%s/other.lua", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/broken.lua", dir);
  unlink(path);
  CU_ASSERT_EQUAL(pgd_balancers_reload(b), 0);
  CU_ASSERT_PTR_NULL(entry_of(b, "other"));
  CU_ASSERT_EQUAL(pick(b, "other"), 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(error, "no balancer named"));
  pgd_balancers_close(b);
}

static void test_state_persists(void) {
  write_script("counter",
               "function pick(job, workers, state)\n"
               "  state.n = (state.n or 0) + 1\n"
               "  if state.n == 2 then error('boom') end\n"
               "  return workers[(state.n % #workers) + 1].id\n"
               "end\n");
  pgd_balancers_t *b;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(pgd_balancers_open(NULL, dir, NULL, &b, err, sizeof err), 0);
  CU_ASSERT_EQUAL(pick(b, "counter"), 1); /* n=1 */
  CU_ASSERT_EQUAL(pick(b, "counter"), 1); /* n=2 raises: built-in (b) */
  CU_ASSERT_PTR_NOT_NULL(strstr(error, "boom"));
  CU_ASSERT_EQUAL(pick(b, "counter"), 0); /* n=3: state survived the error */
  CU_ASSERT_STRING_EQUAL(error, "");
  cJSON *e = entry_of(b, "counter");
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(e, "calls")->valueint, 3);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(e, "errors")->valueint, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(e, "last_error")), "boom"));
  /* The default with no script of that name is the built-in, no error. */
  CU_ASSERT_EQUAL(pick(b, NULL), 1);
  CU_ASSERT_STRING_EQUAL(error, "");
  pgd_balancers_close(b);
  char path[512];
  snprintf(path, sizeof path, "%s/counter.lua", dir);
  unlink(path);
}

static void test_failures_fall_back(void) {
  struct {
    const char *text;
    const char *err_has;
  } cases[] = {
      {"function pick(j, w, s) error('kaput') end", "kaput"},
      {"function pick(j, w, s) while true do end end", "budget"},
      {"function pick(j, w, s) local t = {} for i = 1, 1e8 do t[i] = i end end", "memory"},
      {"function pick(j, w, s) return string.rep('x', 1 << 30) end", "memory"},
      {"function pick(j, w, s) return 'zz' end", "not a candidate"},
      {"function pick(j, w, s) return 42 end", "expected a worker id"},
      {"function pick(j, w, s) return io.open('/etc/passwd') end", "nil"},
      {"function pick(j, w, s) return os.execute('touch /tmp/pwned') end", "nil"},
      {"function pick(j, w, s) s.keep = w end", NULL}, /* pending: nil */
  };
  pgd_balancers_t *b;
  char err[256];
  write_script("bad", "function pick() end");
  CU_ASSERT_EQUAL_FATAL(pgd_balancers_open(NULL, dir, "bad", &b, err, sizeof err), 0);
  pgd_balancers_set_limits(b, 100000, 1u << 20);
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    write_script("bad", cases[k].text);
    CU_ASSERT_EQUAL(pgd_balancers_reload(b), 0);
    int i = pick(b, NULL);
    if (cases[k].err_has) {
      CU_ASSERT_EQUAL(i, 1); /* the built-in's choice: the job still runs */
      if (!strstr(error, cases[k].err_has)) fprintf(stderr, "\ncase %zu: '%s'\n", k, error);
      CU_ASSERT_PTR_NOT_NULL(strstr(error, cases[k].err_has));
      CU_ASSERT_PTR_NOT_NULL(strstr(error, "built-in"));
    } else {
      CU_ASSERT_EQUAL(i, -1);
      CU_ASSERT_STRING_EQUAL(error, "");
      CU_ASSERT(reason[0] != '\0');
    }
  }
  /* The worker object kept in state is refused outside its call. */
  write_script("bad", "function pick(j, w, s) if s.keep then return s.keep.id end s.keep = w[1] return nil, 'wait' end");
  CU_ASSERT_EQUAL(pgd_balancers_reload(b), 0);
  CU_ASSERT_EQUAL(pick(b, NULL), -1);
  CU_ASSERT_STRING_EQUAL(reason, "wait");
  CU_ASSERT_EQUAL(pick(b, NULL), 0); /* same generation: the proxy reads the current call */
  /* After all that, a good script in the same slot works. */
  write_script("bad", pick_fixed("c"));
  CU_ASSERT_EQUAL(pgd_balancers_reload(b), 0);
  CU_ASSERT_EQUAL(pick(b, NULL), 2);
  CU_ASSERT_STRING_EQUAL(error, "");
  pgd_balancers_close(b);
  char path[512];
  snprintf(path, sizeof path, "%s/bad.lua", dir);
  unlink(path);
}

/* ---- file watch ------------------------------------------------------- */

typedef struct {
  pgd_balancers_t *b;
  int want;
  int64_t deadline;
  int got;
  int done;
} poll_t;

static void on_poll(uv_timer_t *t) {
  poll_t *p = t->data;
  p->got = pick(p->b, "watched");
  if (p->got == p->want || pgd_now_ms() > p->deadline) p->done = 1;
  (void)t;
}

static void wait_for(uv_loop_t *loop, pgd_balancers_t *b, int want) {
  uv_timer_t t;
  poll_t p = {b, want, pgd_now_ms() + 5000, -2, 0};
  uv_timer_init(loop, &t);
  t.data = &p;
  uv_timer_start(&t, on_poll, 20, 20);
  /* the timer stays active until the end, so UV_RUN_ONCE never blocks */
  while (!p.done) uv_run(loop, UV_RUN_ONCE);
  uv_timer_stop(&t);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  CU_ASSERT_EQUAL(p.got, want);
}

static void test_file_watch(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  write_script("watched", pick_fixed("a"));
  pgd_balancers_t *b;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(pgd_balancers_open(&loop, dir, NULL, &b, err, sizeof err), 0);
  CU_ASSERT_EQUAL(pick(b, "watched"), 0);
  write_script("watched", pick_fixed("c"));
  wait_for(&loop, b, 2); /* no explicit reload: the watch did it */
  write_script("watched", "function pick(");
  usleep(300 * 1000);
  uv_run(&loop, UV_RUN_NOWAIT);
  uv_run(&loop, UV_RUN_NOWAIT);
  CU_ASSERT_EQUAL(pick(b, "watched"), 2); /* broken edit: old version */
  write_script("watched", pick_fixed("b"));
  wait_for(&loop, b, 1);
  pgd_balancers_close(b);
  uv_run(&loop, UV_RUN_NOWAIT);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0); /* no handle left */
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("script_reload", setup, teardown);
  CU_add_test(s, "reload: edit, refuse broken, add, remove", test_reload_and_refuse);
  CU_add_test(s, "state persists across calls and errors", test_state_persists);
  CU_add_test(s, "every script failure falls back", test_failures_fall_back);
  CU_add_test(s, "file watch reloads without a call", test_file_watch);
  return pgd_test_run();
}
