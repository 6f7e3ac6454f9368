/* Pagoda — private to the PostgreSQL backend (store_pg.c: connections,
 * migrations, batches, epoch; store_pg_read.c: reads). */
#ifndef PAGODA_STORE_PG_H
#define PAGODA_STORE_PG_H

#include <pthread.h>

#include <libpq-fe.h>

#include "store/store_internal.h"

typedef struct {
  char *conninfo;
  PGconn *w;           /* writer thread only once the store is started */
  int w_prepared;      /* statements prepared on w (lost on reconnect) */
  int w_broken;        /* w must be reset before the next batch */
  int commit_sent;     /* the current pass has sent COMMIT */
  pthread_mutex_t rmu; /* guards r */
  PGconn *r;           /* reads and acquire_epoch */
} pg_be_t;

/* -errno for a failed result (by SQLSTATE) or a broken connection. */
int pgd_store_pg_errno(const PGresult *res, PGconn *c);
/* "SELECT cols,data FROM table" into buf; -1 when it does not fit. */
int pgd_store_pg_select(const pgd_store_record_t *rec, char *buf, size_t cap);
/* Re-establishes a broken connection; 0 when usable. */
int pgd_store_pg_ensure(PGconn *c, const char *what);
/* Quiets NOTICE messages (logged at debug level instead of stderr). */
void pgd_store_pg_quiet(PGconn *c);

/* reads (store_pg_read.c): the vtable's contract */
cJSON *pgd_store_pg_get_job(void *be, const char *name);
cJSON *pgd_store_pg_list_jobs(void *be);
cJSON *pgd_store_pg_get_execution(void *be, int64_t id);
cJSON *pgd_store_pg_list_executions(void *be, const char *job, const char *state, int limit,
                                    int64_t before_id);
cJSON *pgd_store_pg_list_unfinished(void *be);
cJSON *pgd_store_pg_list_workers(void *be);
int64_t pgd_store_pg_max_execution_id(void *be);
int pgd_store_pg_schema_version(void *be);
cJSON *pgd_store_pg_get_doc(void *be, const char *kind, const char *id);
cJSON *pgd_store_pg_list_docs(void *be, const char *kind, const char *parent, const char *state,
                              int limit, const char *before_id);

#endif
