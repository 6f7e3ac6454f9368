/* Pagoda — the host's sandbox (sandbox.h: pgd_sandbox_new): print() goes
 * to the daemon log. Kept apart from sandbox.c, which the lua plugin
 * compiles too and which therefore uses no host code. */
#include "script/sandbox.h"

#include "common/log.h"

#define PRINT_ARG_MAX 1024 /* bytes of each print() argument in the log */

static void print_to_log(void *ud, const char *name, const char *line, size_t len) {
  (void)ud;
  if (len && line[len - 1] == '\n') len--;
  PGD_INFO("script", "%s: %.*s", name, (int)len, line);
}

int pgd_sandbox_new(const char *name, long instructions, size_t call_mem_cap,
                    size_t state_mem_cap, pgd_sandbox_t **out, char *err, size_t errlen) {
  pgd_sandbox_config_t cfg = {.name = name,
                              .instructions = instructions,
                              .call_mem_cap = call_mem_cap,
                              .state_mem_cap = state_mem_cap,
                              .libs = PGD_SANDBOX_LIB_GC_COUNT,
                              .print = print_to_log,
                              .print_arg_max = PRINT_ARG_MAX,
                              .time_limit_ms = PGD_SANDBOX_DEFAULT_TIME_MS};
  return pgd_sandbox_open(&cfg, out, err, errlen);
}
