/* Pagoda — private to the SQLite backend (store_sqlite.c: connections,
 * migrations, batches, epoch, reads of jobs/executions/workers;
 * store_sqlite_docs.c: reads of documents). */
#ifndef PAGODA_STORE_SQLITE_H
#define PAGODA_STORE_SQLITE_H

#include <pthread.h>

#include <sqlite3.h>

#include "store/store_internal.h"

/* document reads: 12 list variants (bit 1 parent, bit 2 state, + 4 x before:
 * 0 none, 1 numeric id, 2 other id) and the get */
enum { DR_LIST = 0, DR_GET = 12, DR_COUNT = 13 };

enum {
  R_BEGIN,
  R_COMMIT,
  R_GET_JOB,
  R_LIST_JOBS,
  R_GET_EXEC,
  R_ATTEMPTS_OF,
  R_UNFINISHED,
  R_LIST_WORKERS,
  R_MAX_ID,
  R_VERSION,
  R_LIST_EXEC, /* + 8 variants: bit 1 job, bit 2 state, bit 4 before_id */
  R_COUNT = R_LIST_EXEC + 8
};

enum {
  W_JOB,
  W_EXEC,
  W_ATTEMPT,
  W_WORKER,
  W_DEL_JOB,
  W_DOC,
  W_DEL_DOC,
  W_DEL_DOCS,
  W_BEGIN,
  W_COMMIT,
  W_ROLLBACK,
  W_EPOCH,
  W_COUNT
};

typedef struct {
  char *path; /* for the short-lived connection of acquire_epoch */
  sqlite3 *wdb;
  sqlite3_stmt *w[W_COUNT];
  pthread_mutex_t rmu;
  sqlite3 *rdb;
  sqlite3_stmt *r[R_COUNT];
  sqlite3_stmt *dr[DR_COUNT]; /* document reads (store_sqlite_docs.c), under rmu */
} sqlite_be_t;

/* -errno for a SQLite result code. */
int pgd_store_sqlite_errno(int rc);

/* reads (store_sqlite_docs.c): the vtable's contract */
cJSON *pgd_store_sqlite_get_doc(void *be, const char *kind, const char *id);
cJSON *pgd_store_sqlite_list_docs(void *be, const char *kind, const char *parent,
                                  const char *state, int limit, const char *before_id);

#endif
