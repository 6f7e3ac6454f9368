/* Pagoda — private to the SQLite backend (store_sqlite.c). */
#ifndef PAGODA_STORE_SQLITE_H
#define PAGODA_STORE_SQLITE_H

#include <pthread.h>

#include <sqlite3.h>

#include "store/store_sql.h"

typedef struct {
  char *path; /* for the short-lived connection of acquire_epoch */
  pgd_store_sql_t *sql; /* the catalog in the SQLite dialect (PGD_SQL_COUNT) */
  sqlite3 *wdb;
  sqlite3_stmt *w[PGD_SQL_COUNT]; /* writer statements, prepared at open */
  pthread_mutex_t rmu;
  sqlite3 *rdb;
  sqlite3_stmt *r[PGD_SQL_COUNT]; /* read statements, prepared on first use, under rmu */
} sqlite_be_t;

/* -errno for a SQLite result code. */
int pgd_store_sqlite_errno(int rc);

#endif
