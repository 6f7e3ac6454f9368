/* The plugin type rules and the load deadline (core/plugin/registry.h):
 * a type offered by two files is refused in both (and the survivor loads
 * once the other is gone); a file cannot take a built-in type over, whatever
 * its name's sort order; a plugin whose constructor hangs is SIGKILLed at
 * the deadline and refused; a rescan loads off the loop thread, which keeps
 * turning meanwhile. */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "pgd_test.h"
#include "plugin/registry.h"

static char g_rules[1024], g_mixed[1024], g_shell[1024];

static const char *in(const char *dir, const char *name) {
  static char buf[4][1200];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s.so", dir, name);
  return buf[i];
}

/* A fresh directory holding symbolic links to the given files: (link name,
 * target) pairs, NULL-terminated. */
static char *dir_with(const char *const *pairs) {
  char *dir = strdup("/tmp/pagoda-plugin-rules-XXXXXX");
  if (!dir || !mkdtemp(dir)) abort();
  for (size_t i = 0; pairs[i]; i += 2) {
    char link[1200];
    snprintf(link, sizeof link, "%s/%s", dir, pairs[i]);
    if (symlink(pairs[i + 1], link) != 0) abort();
  }
  return dir;
}

static void remove_dir(char *dir) {
  char cmd[1300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", dir);
  free(dir);
}

/* The listing entry of the file whose path ends with `/name`. */
static const cJSON *entry(const cJSON *all, const char *name) {
  const cJSON *e;
  cJSON_ArrayForEach(e, all) {
    const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(e, "file"));
    size_t fl = f ? strlen(f) : 0, nl = strlen(name);
    if (fl > nl && strcmp(f + fl - nl, name) == 0 && f[fl - nl - 1] == '/') return e;
  }
  return NULL;
}

static const char *field(const cJSON *all, const char *name, const char *key) {
  const cJSON *e = entry(all, name);
  return e ? cJSON_GetStringValue(cJSON_GetObjectItem(e, key)) : NULL;
}

static int has(const char *s, const char *want) {
  if (s && strstr(s, want)) return 1;
  fprintf(stderr, "\"%s\" lacks \"%s\"\n", s ? s : "(null)", want);
  return 0;
}

static void test_two_files_one_type(void) {
  const char *pairs[] = {"twice_1.so", in(g_rules, "twice_1"), "twice_2.so", in(g_rules, "twice_2"),
                         "good.so", in(g_mixed, "a_good"), NULL};
  char *dir = dir_with(pairs);
  pgd_registry_t *r = pgd_registry_new();
  CU_ASSERT_EQUAL(pgd_registry_load_dir(r, dir), 1); /* good only */
  CU_ASSERT_PTR_NULL(pgd_registry_find(r, "test_twice"));
  CU_ASSERT_PTR_NOT_NULL(pgd_registry_find(r, "test_good"));
  cJSON *all = pgd_registry_to_json(r);
  for (int i = 0; i < 2; i++) {
    const char *name = i ? "twice_2.so" : "twice_1.so";
    CU_ASSERT_STRING_EQUAL(field(all, name, "status"), "refused");
    const char *why = field(all, name, "reason");
    CU_ASSERT(has(why, "type \"test_twice\" is offered by more than one file"));
    CU_ASSERT(has(why, "twice_1.so") && has(why, "twice_2.so"));
  }
  cJSON_Delete(all);
  /* unchanged, still refused: not retried */
  CU_ASSERT_EQUAL(pgd_registry_load_dir(r, dir), 0);
  /* one of them removed: the other loads on the next scan */
  char gone[1200];
  snprintf(gone, sizeof gone, "%s/twice_2.so", dir);
  CU_ASSERT_EQUAL(unlink(gone), 0);
  CU_ASSERT_EQUAL(pgd_registry_load_dir(r, dir), 1);
  const pgd_plugin_t *p = pgd_registry_find(r, "test_twice");
  CU_ASSERT_PTR_NOT_NULL(p);
  if (p) CU_ASSERT(has(pgd_plugin_file(p), "twice_1.so"));
  pgd_registry_free(r);
  remove_dir(dir);
}

static void test_builtin_type_cannot_be_taken_over(void) {
  /* a_fake_shell.so sorts before shell.so and declares "shell" */
  const char *pairs[] = {"a_fake_shell.so", in(g_rules, "a_fake_shell"), "shell.so", g_shell, NULL};
  char *dir = dir_with(pairs);
  pgd_registry_t *r = pgd_registry_new();
  CU_ASSERT_EQUAL(pgd_registry_load_dir(r, dir), 1);
  const pgd_plugin_t *p = pgd_registry_find(r, "shell");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT(has(pgd_plugin_file(p), "/shell.so"));
  cJSON *all = pgd_registry_to_json(r);
  CU_ASSERT_STRING_EQUAL(field(all, "a_fake_shell.so", "status"), "refused");
  CU_ASSERT(has(field(all, "a_fake_shell.so", "reason"), "type \"shell\" is built in"));
  cJSON_Delete(all);
  pgd_registry_free(r);

  /* alone, without the real one, the impostor is refused too */
  r = pgd_registry_new();
  char err[1024] = "";
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, in(g_rules, "a_fake_shell"), err, sizeof err), -EEXIST);
  CU_ASSERT(has(err, "only shell.so provides it"));
  CU_ASSERT_PTR_NULL(pgd_registry_find(r, "shell"));
  pgd_registry_free(r);
  remove_dir(dir);
}

static void test_hanging_constructor_is_killed_at_the_deadline(void) {
  pgd_registry_t *r = pgd_registry_new();
  pgd_registry_set_load_timeout(r, 300);
  char err[1024] = "";
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, in(g_rules, "slow_ctor"), err, sizeof err), -ETIMEDOUT);
  CU_ASSERT(has(err, "did not finish loading within 300 ms"));
  CU_ASSERT(has(err, "killed; not loaded"));
  CU_ASSERT_PTR_NULL(pgd_registry_find(r, "test_slow"));
  pgd_registry_free(r);
}

/* ---- a rescan off the loop ---- */

typedef struct {
  int done, loaded, ticks_before_done;
  int ticks;
  uv_timer_t tick;
} rescan_t;

static void on_tick(uv_timer_t *t) { ((rescan_t *)t->data)->ticks++; }

static void on_rescanned(void *ud, int loaded) {
  rescan_t *s = ud;
  s->done++;
  s->loaded = loaded;
  s->ticks_before_done = s->ticks;
  uv_timer_stop(&s->tick);
  uv_close((uv_handle_t *)&s->tick, NULL);
}

static void test_rescan_runs_off_the_loop(void) {
  const char *pairs[] = {"slow.so", in(g_rules, "slow_ctor"), "good.so", in(g_mixed, "a_good"), NULL};
  char *dir = dir_with(pairs);
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_registry_t *r = pgd_registry_new();
  pgd_registry_set_load_timeout(r, 1000);
  rescan_t s = {0};
  uv_timer_init(&loop, &s.tick);
  s.tick.data = &s;
  uv_timer_start(&s.tick, on_tick, 10, 10);
  CU_ASSERT_EQUAL(pgd_registry_rescan(r, &loop, dir, on_rescanned, &s), 0);
  CU_ASSERT_EQUAL(s.done, 0); /* the files load on a pool thread */
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT_EQUAL(s.done, 1);
  CU_ASSERT_EQUAL(s.loaded, 1);
  /* the loop kept turning while the slow file was probed (a 1 s deadline,
   * 10 ms ticks: the loop thread was not the one waiting) */
  CU_ASSERT(s.ticks_before_done >= 5);
  if (s.ticks_before_done < 5) fprintf(stderr, "only %d ticks during the rescan\n", s.ticks_before_done);
  CU_ASSERT_PTR_NOT_NULL(pgd_registry_find(r, "test_good"));
  CU_ASSERT_PTR_NULL(pgd_registry_find(r, "test_slow"));
  cJSON *all = pgd_registry_to_json(r);
  CU_ASSERT(has(field(all, "slow.so", "reason"), "did not finish loading within 1000 ms"));
  cJSON_Delete(all);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
  pgd_registry_free(r);
  remove_dir(dir);
}

int main(void) {
  if (pgd_test_build_path(g_rules, sizeof g_rules, "tests/plugins-rules") != 0 ||
      pgd_test_build_path(g_mixed, sizeof g_mixed, "tests/plugins-mixed") != 0 ||
      pgd_test_build_path(g_shell, sizeof g_shell, "plugins/shell.so") != 0)
    return 1;
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("plugin_rules", NULL, NULL);
  CU_add_test(s, "a type offered by two files is refused in both", test_two_files_one_type);
  CU_add_test(s, "a built-in type cannot be taken over", test_builtin_type_cannot_be_taken_over);
  CU_add_test(s, "a hanging constructor is killed at the deadline",
              test_hanging_constructor_is_killed_at_the_deadline);
  CU_add_test(s, "a rescan loads off the loop", test_rescan_runs_off_the_loop);
  return pgd_test_run();
}
