/* Unit tests: where the CLI finds its token (core/cli/client_token.c), in
 * order --token, PAGODA_TOKEN, PAGODA_TOKEN_FILE, ~/.config/pagoda/token,
 * then ./pagoda-dev-data/admin.token for a loopback address only. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"

#include "cli/client_token.h"

static char dir[64];

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
}

/* The resolved token and its source; "" when none. */
static void expect(const char *flag, const char *addr, const char *want, const char *want_src) {
  const char *src = NULL;
  char err[256];
  char *t = pgd_cli_token_resolve(flag, addr, &src, err, sizeof err);
  CU_ASSERT_STRING_EQUAL(t ? t : "", want);
  CU_ASSERT_STRING_EQUAL(src ? src : "", want_src);
  free(t);
}

static void test_order(void) {
  char p[PATH_MAX + 64];
  snprintf(p, sizeof p, "%s/home/.config/pagoda", dir);
  char cmd[2 * PATH_MAX + 80];
  snprintf(cmd, sizeof cmd, "mkdir -p %s %s/pagoda-dev-data", p, dir);
  CU_ASSERT_EQUAL_FATAL(system(cmd), 0);
  snprintf(p, sizeof p, "%s/home", dir);
  setenv("HOME", p, 1);
  unsetenv("XDG_CONFIG_HOME");
  unsetenv("PAGODA_TOKEN");
  unsetenv("PAGODA_TOKEN_FILE");
  CU_ASSERT_EQUAL_FATAL(chdir(dir), 0);
  const char *lo = "http://127.0.0.1:7080", *far = "http://10.1.2.3:7080";

  expect(NULL, lo, "", "");
  write_file("pagoda-dev-data/admin.token", "pgd_dev\n");
  expect(NULL, lo, "pgd_dev", PGD_CLI_DEV_TOKEN_FILE);
  expect(NULL, "http://localhost:9", "pgd_dev", PGD_CLI_DEV_TOKEN_FILE);
  expect(NULL, far, "", ""); /* never sent to another host */
  expect(NULL, "http://127.0.0.10:7080", "", "");
  snprintf(p, sizeof p, "%s/home/.config/pagoda/token", dir);
  write_file(p, "  pgd_home  \n");
  expect(NULL, far, "pgd_home", "~/.config/pagoda/token");
  snprintf(p, sizeof p, "%s/file.token", dir);
  write_file(p, "pgd_file\nsecond line ignored\n");
  setenv("PAGODA_TOKEN_FILE", p, 1);
  expect(NULL, far, "pgd_file", "PAGODA_TOKEN_FILE");
  setenv("PAGODA_TOKEN", "pgd_env", 1);
  expect(NULL, far, "pgd_env", "PAGODA_TOKEN");
  expect("pgd_flag", far, "pgd_flag", "--token");
  /* an unreadable PAGODA_TOKEN_FILE is an error, not a fall-through */
  unsetenv("PAGODA_TOKEN");
  setenv("PAGODA_TOKEN_FILE", "/nonexistent/token", 1);
  char err[256] = "";
  CU_ASSERT_PTR_NULL(pgd_cli_token_resolve(NULL, lo, NULL, err, sizeof err));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/token"));
  /* an empty file has no token */
  write_file(p, "\n");
  setenv("PAGODA_TOKEN_FILE", p, 1);
  CU_ASSERT_PTR_NULL(pgd_cli_token_resolve(NULL, lo, NULL, err, sizeof err));
  unsetenv("PAGODA_TOKEN_FILE");
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/pgd-cli-token-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("cli_token", NULL, NULL);
  CU_add_test(s, "sources in order", test_order);
  int rc = pgd_test_run();
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) rc = rc ? rc : 1;
  return rc;
}
