/* Pushed plugin versions in the registry (core/plugin/pushed.c, registry.h
 * "pushed versions"): several versions of one type loaded at once, one
 * active (find, types, listing), the others kept for running attempts; a
 * pushed version takes over a plugins-directory file of its type; loads run
 * off the loop; refusals (not ELF, init fails, another type than expected,
 * a built-in type) say why. Uses the plugin push test builds
 * (build/tests/plugins-push). */
#include <CUnit/Basic.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "pgd_test.h"
#include "plugin/registry.h"

#define SHA1 "1111111111111111111111111111111111111111111111111111111111111111"
#define SHA2 "2222222222222222222222222222222222222222222222222222222222222222"
#define SHA3 "3333333333333333333333333333333333333333333333333333333333333333"

static char g_dir[1024], g_shell[1024];

static const char *push_file(const char *name) {
  static char buf[4][1200];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s.so", g_dir, name);
  return buf[i];
}

typedef struct {
  int calls, rc;
  char msg[1024];
  const pgd_plugin_t *p;
} result_t;

static void on_loaded(void *ud, int rc, const char *msg, const pgd_plugin_t *p) {
  result_t *r = ud;
  r->calls++;
  r->rc = rc;
  snprintf(r->msg, sizeof r->msg, "%s", msg ? msg : "");
  r->p = p;
}

/* Loads one pushed file and runs the loop until its callback came. */
static result_t push(pgd_registry_t *reg, const char *path, const char *sha, const char *type) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  result_t r = {0};
  CU_ASSERT_EQUAL(pgd_registry_load_pushed(reg, &loop, path, sha, type, on_loaded, &r), 0);
  while (r.calls == 0 && uv_run(&loop, UV_RUN_ONCE)) {
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT_EQUAL(uv_loop_close(&loop), 0);
  CU_ASSERT_EQUAL(r.calls, 1);
  return r;
}

static int count_type(const cJSON *types, const char *t) {
  int n = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, types) if (strcmp(e->valuestring, t) == 0) n++;
  return n;
}

static void test_versions_and_activation(void) {
  pgd_registry_t *reg = pgd_registry_new();
  char err[512];
  /* a file of the plugins directory provides the type first */
  CU_ASSERT_EQUAL_FATAL(pgd_registry_load_file(reg, push_file("pushed_echo_1"), err, sizeof err), 0);
  const pgd_plugin_t *dir_file = pgd_registry_find(reg, "pushed_echo");
  CU_ASSERT_STRING_EQUAL(pgd_plugin_sha(dir_file), "");

  /* version 2 pushed: loaded, not active until activated */
  result_t r = push(reg, push_file("pushed_echo_2"), SHA2, "pushed_echo");
  CU_ASSERT_EQUAL_FATAL(r.rc, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r.p);
  CU_ASSERT_STRING_EQUAL(pgd_plugin_version(r.p), "2");
  CU_ASSERT_STRING_EQUAL(pgd_plugin_sha(r.p), SHA2);
  CU_ASSERT_FALSE(pgd_plugin_is_active(r.p));
  CU_ASSERT_PTR_EQUAL(pgd_registry_find(reg, "pushed_echo"), dir_file);
  CU_ASSERT_EQUAL(pgd_registry_activate(reg, "pushed_echo", SHA2), 0);
  CU_ASSERT_PTR_EQUAL(pgd_registry_find(reg, "pushed_echo"), r.p);
  CU_ASSERT_FALSE(pgd_plugin_is_active(dir_file)); /* set aside, still loaded */
  CU_ASSERT_STRING_EQUAL(pgd_plugin_version(dir_file), "1");
  cJSON *types = pgd_registry_types_json(reg);
  CU_ASSERT_EQUAL(count_type(types, "pushed_echo"), 1);
  cJSON_Delete(types);

  /* the same version again: answered at once, nothing new loaded */
  size_t n = pgd_registry_count(reg);
  result_t again = push(reg, push_file("pushed_echo_2"), SHA2, "pushed_echo");
  CU_ASSERT_EQUAL(again.rc, 0);
  CU_ASSERT_PTR_EQUAL(again.p, r.p);
  CU_ASSERT_EQUAL(pgd_registry_count(reg), n);

  /* version 1 pushed under its own sha (the type unknown to the caller) */
  result_t v1 = push(reg, push_file("pushed_echo_1"), SHA1, NULL);
  CU_ASSERT_EQUAL(v1.rc, 0);
  CU_ASSERT_EQUAL(pgd_registry_activate(reg, "pushed_echo", SHA1), 0);
  CU_ASSERT_PTR_EQUAL(pgd_registry_find(reg, "pushed_echo"), v1.p);
  CU_ASSERT_PTR_EQUAL(pgd_registry_find_version(reg, "pushed_echo", SHA2), r.p);
  CU_ASSERT_EQUAL(pgd_registry_activate(reg, "pushed_echo", SHA3), -ENOENT);

  /* the listing: one active entry of the type, the others inactive */
  cJSON *all = pgd_registry_to_json(reg);
  int active = 0, inactive = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, all) {
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(e, "type"));
    if (!t || strcmp(t, "pushed_echo") != 0) continue;
    if (cJSON_IsTrue(cJSON_GetObjectItem(e, "active"))) {
      active++;
      CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(e, "sha256")), SHA1);
    } else {
      inactive++;
    }
  }
  CU_ASSERT_EQUAL(active, 1);
  CU_ASSERT_EQUAL(inactive, 2);
  cJSON_Delete(all);
  pgd_registry_free(reg);
}

static void test_refusals(void) {
  pgd_registry_t *reg = pgd_registry_new();
  result_t r = push(reg, push_file("pushed_echo_broken"), SHA3, "pushed_echo");
  CU_ASSERT_NOT_EQUAL(r.rc, 0);
  CU_ASSERT_PTR_NULL(r.p);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.msg, "init failed: pushed_echo: this build is broken on purpose"));

  r = push(reg, push_file("pushed_echo_1"), SHA1, "etl");
  CU_ASSERT_EQUAL(r.rc, -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.msg, "the file provides type \"pushed_echo\", not \"etl\""));

  r = push(reg, g_shell, SHA2, NULL);
  CU_ASSERT_EQUAL(r.rc, -EEXIST);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.msg, "is built in"));

  char text[] = "/tmp/pagoda-pushed-XXXXXX";
  int fd = mkstemp(text);
  CU_ASSERT_FATAL(fd >= 0);
  CU_ASSERT_EQUAL(write(fd, "#!/bin/sh\n", 10), 10);
  close(fd);
  r = push(reg, text, SHA3, NULL);
  CU_ASSERT_EQUAL(r.rc, -ENOEXEC);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.msg, "not an ELF shared object"));
  char msg[256];
  CU_ASSERT_EQUAL(pgd_plugin_file_check(text, msg, sizeof msg), -ENOEXEC);
  CU_ASSERT_EQUAL(pgd_plugin_file_check("/nonexistent/x.so", msg, sizeof msg), -ENOENT);
  unlink(text);
  CU_ASSERT_EQUAL(pgd_registry_count(reg), 0);
  CU_ASSERT_PTR_NULL(pgd_registry_find(reg, "pushed_echo"));
  pgd_registry_free(reg);
}

static int init(void) {
  const char *b = getenv("PAGODA_BUILD_DIR");
  if (!b) {
    fprintf(stderr, "PAGODA_BUILD_DIR is not set (run through ctest)\n");
    return 1;
  }
  snprintf(g_dir, sizeof g_dir, "%s/tests/plugins-push", b);
  snprintf(g_shell, sizeof g_shell, "%s/plugins/shell.so", b);
  if (access(push_file("pushed_echo_1"), R_OK) != 0 || access(g_shell, R_OK) != 0) {
    fprintf(stderr, "the test plugins are not built (%s, %s)\n", g_dir, g_shell);
    return 1;
  }
  return 0;
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("plugin_pushed", init, NULL);
  CU_add_test(s, "versions and activation", test_versions_and_activation);
  CU_add_test(s, "refusals", test_refusals);
  return pgd_test_run();
}
