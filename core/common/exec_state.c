#include "common/exec_state.h"

#include <string.h>

static const char *const names[] = {
#define X(name, str) str,
    PGD_EXEC_STATE_MAP(X)
#undef X
};

const char *pgd_exec_state_name(pgd_exec_state_t s) {
  return (unsigned)s < PGD_STATE__COUNT ? names[s] : "unknown";
}

int pgd_exec_state_parse(const char *name) {
  if (!name) return -1;
  for (int i = 0; i < PGD_STATE__COUNT; i++)
    if (strcmp(names[i], name) == 0) return i;
  return -1;
}
