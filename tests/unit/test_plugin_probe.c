/* A plugin that crashes while it loads is refused; the process that loads
 * it (the daemon) survives, and loading goes on. */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgd_test.h"
#include "plugin/registry.h"

static char crash_so[4096], shell_so[4096];

static void test_crashing_plugin_is_refused_and_we_survive(void) {
  pgd_registry_t *r = pgd_registry_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  char err[1024] = "";
  int rc = pgd_registry_load_file(r, crash_so, err, sizeof err);
  CU_ASSERT(rc < 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "crash.so"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "crashed while loading"));
  /* "signal 11", or an exit status where a sanitizer's handler caught it */
  CU_ASSERT(strstr(err, "signal 11") != NULL || strstr(err, "exit status") != NULL);
  CU_ASSERT_PTR_NULL(pgd_registry_find(r, "test_crash"));
  /* Still here, and still loading good plugins. */
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, shell_so, err, sizeof err), 0);
  CU_ASSERT_PTR_NOT_NULL(pgd_registry_find(r, "shell"));
  cJSON *list = pgd_registry_to_json(r);
  char *text = cJSON_PrintUnformatted(list);
  CU_ASSERT_PTR_NOT_NULL(strstr(text, "crashed while loading"));
  free(text);
  cJSON_Delete(list);
  pgd_registry_free(r);
}

int main(void) {
  if (pgd_test_build_path(crash_so, sizeof crash_so, "tests/plugins-crash/crash.so") != 0 ||
      pgd_test_build_path(shell_so, sizeof shell_so, "plugins/shell.so") != 0)
    return 1;
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("plugin_probe", NULL, NULL);
  CU_add_test(s, "a plugin crashing in init is refused", test_crashing_plugin_is_refused_and_we_survive);
  return pgd_test_run();
}
