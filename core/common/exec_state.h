/* Pagoda — execution and attempt states, shared by master, worker, wire
 * messages, the store and the API.
 *
 * The X-macro keeps the enum and the strings used on the wire, in the store
 * and in the API together; there is no other list of them.
 *
 * Thread rules: pure functions over constant tables, safe from any thread.
 */
#ifndef PAGODA_COMMON_EXEC_STATE_H
#define PAGODA_COMMON_EXEC_STATE_H

#include <stdbool.h>

#define PGD_EXEC_STATE_MAP(X) \
  X(PENDING, "pending")       \
  X(DISPATCHED, "dispatched") \
  X(RUNNING, "running")       \
  X(SUCCEEDED, "succeeded")   \
  X(FAILED, "failed")         \
  X(KILLED, "killed")         \
  X(TIMED_OUT, "timed_out")   \
  X(LOST, "lost")

typedef enum {
#define X(name, str) PGD_STATE_##name,
  PGD_EXEC_STATE_MAP(X)
#undef X
      PGD_STATE__COUNT
} pgd_exec_state_t;

/* The state's name ("succeeded"); "unknown" for an out-of-range value. */
const char *pgd_exec_state_name(pgd_exec_state_t s);
/* The state named `name`, or -1 when the name is unknown or NULL. */
int pgd_exec_state_parse(const char *name);
/* Succeeded, failed, killed, timed_out and lost are final. */
static inline bool pgd_exec_state_final(pgd_exec_state_t s) { return s >= PGD_STATE_SUCCEEDED; }

#endif
