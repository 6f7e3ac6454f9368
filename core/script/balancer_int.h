/* Pagoda — balancers, private: one loaded script and its Lua side.
 * Shared by balancer.c (registry, reload, watch) and balancer_lua.c (the
 * objects a script sees). Loop thread, except what runs on the script
 * thread during a pick (pgd_bal_code_pick): every read or write of the
 * bal_t from there goes through the code's gate. */
#ifndef PAGODA_SCRIPT_BALANCER_INT_H
#define PAGODA_SCRIPT_BALANCER_INT_H

#include <pthread.h>
#include <stdint.h>

#include "script/balancer.h"
#include "script/sandbox_json.h"
#include "script/script_thread.h"

#define BAL_NAME_MAX 64
#define BAL_ERR_MAX 512

/* One compiled version of a script: its sandbox and registry references.
 * A code whose pick overran the script thread's deadline is abandoned: the
 * orphaned thread owns it from then on and frees it when the call returns;
 * the gate keeps that thread off the bal_t (which the loop may free) once
 * `abandoned` is set. */
typedef struct bal_code {
  pgd_sandbox_t *sb;
  struct bal *owner;     /* the bal_t whose `call` the objects read */
  pthread_mutex_t gate;  /* recursive: held while Lua-side objects read owner */
  int abandoned;         /* under gate: never touch owner again */
  int rc;                /* result of the last pick call (script thread) */
  char err[512];
  int pick_ref;    /* the pick function */
  int state_ref;   /* the table that persists between calls */
  int workers_ref; /* the `workers` list userdata */
  int pool_ref;    /* table: index (1-based) -> worker proxy userdata */
  int job_ref;     /* the `job` proxy userdata */
  int idmap_ref;   /* table: worker id -> 0-based index, for idmap_gen */
  uint64_t idmap_gen;
  int idmap_valid;
  uint64_t scan_gen;  /* generation whose first id lookup was a scan */
} bal_code_t;

/* What one pick call exposes to the script (set only during the call). */
typedef struct bal_call {
  int active;
  const pgd_bal_job_t *job;
  const pgd_bal_worker_t *cands;
  size_t n;
  uint64_t gen;
  uint64_t serial; /* bumped per call: job field caches are per call */
  /* results */
  int index;       /* chosen candidate, -1 = pending */
  char reason[256];
  char bad[BAL_ERR_MAX]; /* non-empty: the script returned something invalid */
} bal_call_t;

typedef struct bal {
  char name[BAL_NAME_MAX];
  char *file;            /* path, owned */
  bal_code_t *code;      /* NULL = never compiled successfully */
  uint64_t hash;         /* FNV-1a of the content last tried */
  size_t size;
  int tried;             /* hash/size are meaningful */
  bal_call_t call;
  char last_error[BAL_ERR_MAX];
  int64_t last_error_at; /* us since epoch, 0 = never */
  int64_t last_logged_at;
  uint64_t calls, errors;
  int seen;              /* mark during a rescan */
} bal_t;

/* Compiles `text` into a new code object for `b` (b->call is what its
 * objects read). Returns NULL with `err` filled on failure. */
bal_code_t *pgd_bal_code_compile(bal_t *b, const char *text, size_t len, long instructions,
                                 size_t call_mem_cap, char *err, size_t errlen);

/* Frees a code object (NULL ignored). */
void pgd_bal_code_free(bal_code_t *c);

/* Runs the script's pick with b->call filled (job, cands, n, gen), on
 * `thread` when not NULL (waiting at most `timeout_ms`), else on the calling
 * thread. Returns 0 with b->call.index / reason / bad set, or a sandbox error
 * code with `err` filled, or PGD_SCRIPT_THREAD_ETIMEDOUT: the call did not
 * return in time; then b->code was abandoned (set to NULL; the orphaned
 * thread frees it) and `thread` orphaned: the caller must forget it. */
int pgd_bal_code_pick(bal_t *b, pgd_script_thread_t *thread, long timeout_ms, char *err,
                      size_t errlen);

#endif
