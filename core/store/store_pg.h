/* Pagoda — private to the PostgreSQL backend (store_pg.c: connections,
 * migrations, batches, epoch; store_pg_read.c: the read primitives). */
#ifndef PAGODA_STORE_PG_H
#define PAGODA_STORE_PG_H

#include <pthread.h>

#include <libpq-fe.h>

#include "store/store_sql.h"

typedef struct {
  char *conninfo;
  pgd_store_sql_t *sql; /* the catalog in the PostgreSQL dialect (PGD_SQL_COUNT) */
  PGconn *w;           /* writer thread only once the store is started */
  int w_prepared;      /* statements prepared on w (lost on reconnect) */
  int w_broken;        /* w must be reset before the next batch */
  int commit_sent;     /* the current pass has sent COMMIT */
  pthread_mutex_t rmu; /* guards r */
  PGconn *r;           /* reads and acquire_epoch */
} pg_be_t;

/* -errno for a failed result (by SQLSTATE) or a broken connection. */
int pgd_store_pg_errno(const PGresult *res, PGconn *c);
/* The text parameters of statement `sql` from the slot values p[1..]
 * (p may be NULL): vals[k] for $k+1, NULL for SQL NULL; integers are
 * printed into ibuf[k]. vals and ibuf hold at least sql->nparams entries. */
void pgd_store_pg_values(const pgd_store_sql_t *sql, const pgd_store_param_t *p,
                         const char **vals, char ibuf[][24]);
/* Re-establishes a broken connection; 0 when usable. */
int pgd_store_pg_ensure(PGconn *c, const char *what);
/* Quiets NOTICE messages (logged at debug level instead of stderr). */
void pgd_store_pg_quiet(PGconn *c);

/* read primitives (store_pg_read.c): the vtable's contract */
void pgd_store_pg_read_lock(void *be);
void pgd_store_pg_read_unlock(void *be);
int pgd_store_pg_read_rows(void *be, int stmt, const pgd_store_param_t *p,
                           const pgd_store_record_t *rec, cJSON *arr);
int64_t pgd_store_pg_read_scalar(void *be, int stmt);
int pgd_store_pg_snapshot_begin(void *be);
void pgd_store_pg_snapshot_end(void *be);

#endif
