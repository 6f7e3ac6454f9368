/* Pagoda — the read primitives of the PostgreSQL backend (store_read.c
 * builds the public reads on them), on the read connection under `rmu`
 * (any thread). Catalog statements are sent with text parameters and read
 * as text; a read that finds the connection broken reconnects once and
 * retries. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/store_pg.h"

#define MOD "store"

/* Runs a query on the read connection (caller holds rmu); NULL on error
 * (logged). Reconnects once when the connection is broken. */
static PGresult *rquery(pg_be_t *be, const char *sql, int np, const char *const *vals) {
  for (int tries = 0; tries < 2; tries++) {
    if (pgd_store_pg_ensure(be->r, "read") < 0) return NULL;
    PGresult *res = PQexecParams(be->r, sql, np, NULL, vals, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) return res;
    const char *m = res ? PQresultErrorMessage(res) : "out of memory";
    int broken = PQstatus(be->r) == CONNECTION_BAD;
    if (!broken || tries) PGD_WARN(MOD, "read failed: %.*s", (int)strcspn(m, "\n"), m);
    PQclear(res);
    if (!broken) return NULL;
  }
  return NULL;
}

/* Row r of res as a record row (strings borrowed from res). */
static void read_row(const PGresult *res, int r, const pgd_store_record_t *rec,
                     pgd_store_row_t *row) {
  memset(row, 0, sizeof(*row));
  for (size_t i = 0; i < rec->nfields; i++) {
    int c = (int)i;
    if (PQgetisnull(res, r, c)) continue;
    row->v[i].present = 1;
    if (rec->fields[i].kind == PGD_COL_INT) row->v[i].i = strtoll(PQgetvalue(res, r, c), NULL, 10);
    else row->v[i].s = PQgetvalue(res, r, c);
  }
  if (rec->has_data && !PQgetisnull(res, r, (int)rec->nfields))
    row->data = PQgetvalue(res, r, (int)rec->nfields);
}

void pgd_store_pg_read_lock(void *bep) { pthread_mutex_lock(&((pg_be_t *)bep)->rmu); }
void pgd_store_pg_read_unlock(void *bep) { pthread_mutex_unlock(&((pg_be_t *)bep)->rmu); }

/* Runs catalog statement `stmt` with slot values p on the read connection. */
static PGresult *run(pg_be_t *be, int stmt, const pgd_store_param_t *p) {
  const pgd_store_sql_t *sql = &be->sql[stmt];
  const char *vals[PGD_SQL_MAX_SLOTS];
  char ibuf[PGD_SQL_MAX_SLOTS][24];
  pgd_store_pg_values(sql, p, vals, ibuf);
  return rquery(be, sql->text, sql->nparams, vals);
}

int pgd_store_pg_read_rows(void *bep, int stmt, const pgd_store_param_t *p,
                           const pgd_store_record_t *rec, cJSON *arr) {
  PGresult *res = run(bep, stmt, p);
  if (!res) return -EIO;
  int rc = 0, n = PQntuples(res);
  for (int r = 0; r < n && rc == 0; r++) {
    pgd_store_row_t row;
    read_row(res, r, rec, &row);
    cJSON *o = pgd_store_record_to_json(rec, &row);
    if (!o || !cJSON_AddItemToArray(arr, o)) {
      cJSON_Delete(o);
      rc = -ENOMEM;
    }
  }
  PQclear(res);
  return rc;
}

int64_t pgd_store_pg_read_scalar(void *bep, int stmt) {
  PGresult *res = run(bep, stmt, NULL);
  int64_t v = -EIO;
  if (res && PQntuples(res) == 1)
    v = PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  return v;
}

/* READ COMMITTED gives each query its own snapshot: an execution and its
 * attempts are read in one REPEATABLE READ transaction instead. */
int pgd_store_pg_snapshot_begin(void *bep) {
  PGresult *res = run(bep, PGD_SQL_BEGIN_READ, NULL);
  PQclear(res);
  return res ? 0 : -EIO;
}

void pgd_store_pg_snapshot_end(void *bep) {
  pg_be_t *be = bep;
  if (PQtransactionStatus(be->r) != PQTRANS_IDLE)
    PQclear(PQexec(be->r, be->sql[PGD_SQL_COMMIT].text));
}
