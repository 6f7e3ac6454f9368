/* Pagoda — reads of the PostgreSQL backend, on the read connection under
 * `rmu` (any thread). Queries are sent with text parameters and read as
 * text; a read that finds the connection broken reconnects once and
 * retries. An execution and its attempts are read in one REPEATABLE READ
 * snapshot, like SQLite's read transaction. */
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

/* Appends one object per row; 0 or -ENOMEM. */
static int collect(const PGresult *res, const pgd_store_record_t *rec, cJSON *arr) {
  int n = PQntuples(res);
  for (int r = 0; r < n; r++) {
    pgd_store_row_t row;
    read_row(res, r, rec, &row);
    cJSON *o = rec == &pgd_store_rec_job   ? pgd_store_record_join_job(&row)
               : rec == &pgd_store_rec_doc ? pgd_store_record_join_doc(&row)
                                           : pgd_store_record_join(rec, &row);
    if (!o || !cJSON_AddItemToArray(arr, o)) {
      cJSON_Delete(o);
      return -ENOMEM;
    }
  }
  return 0;
}

/* Query -> new array, or NULL on error. Caller holds rmu. */
static cJSON *query_array(pg_be_t *be, const pgd_store_record_t *rec, const char *sql, int np,
                          const char *const *vals) {
  PGresult *res = rquery(be, sql, np, vals);
  if (!res) return NULL;
  cJSON *arr = cJSON_CreateArray();
  if (arr && collect(res, rec, arr) < 0) {
    cJSON_Delete(arr);
    arr = NULL;
  }
  PQclear(res);
  return arr;
}

static int select_sql(const pgd_store_record_t *rec, const char *tail, char *buf, size_t cap) {
  char sel[768];
  if (pgd_store_pg_select(rec, sel, sizeof(sel)) < 0) return -1;
  int n = snprintf(buf, cap, "%s%s", sel, tail);
  return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static cJSON *first_or_null(cJSON *arr) {
  if (!arr) return NULL;
  cJSON *o = cJSON_DetachItemFromArray(arr, 0);
  cJSON_Delete(arr);
  return o;
}

/* Adds "attempts" to exec (replacing any). Caller holds rmu. */
static int add_attempts(pg_be_t *be, cJSON *exec) {
  int64_t id;
  if (!pgd_store_json_int(cJSON_GetObjectItemCaseSensitive(exec, "id"), &id)) return -EINVAL;
  char sql[1024], ids[24];
  if (select_sql(&pgd_store_rec_attempt, " WHERE \"execution_id\"=$1 ORDER BY \"attempt\"", sql,
                 sizeof(sql)) < 0)
    return -EINVAL;
  snprintf(ids, sizeof(ids), "%" PRId64, id);
  const char *vals[1] = {ids};
  cJSON *arr = query_array(be, &pgd_store_rec_attempt, sql, 1, vals);
  if (!arr) return -EIO;
  cJSON_DeleteItemFromObjectCaseSensitive(exec, "attempts");
  if (!cJSON_AddItemToObject(exec, "attempts", arr)) {
    cJSON_Delete(arr);
    return -ENOMEM;
  }
  return 0;
}

/* One snapshot for several queries (an execution and its attempts). */
static int snap_begin(pg_be_t *be) {
  PGresult *res = rquery(be, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
  PQclear(res);
  return res ? 0 : -EIO;
}

static void snap_end(pg_be_t *be) {
  if (PQtransactionStatus(be->r) != PQTRANS_IDLE) PQclear(PQexec(be->r, "COMMIT"));
}

cJSON *pgd_store_pg_get_job(void *bep, const char *name) {
  pg_be_t *be = bep;
  char sql[1024];
  if (select_sql(&pgd_store_rec_job, " WHERE \"name\"=$1", sql, sizeof(sql)) < 0) return NULL;
  const char *vals[1] = {name};
  pthread_mutex_lock(&be->rmu);
  cJSON *arr = query_array(be, &pgd_store_rec_job, sql, 1, vals);
  pthread_mutex_unlock(&be->rmu);
  return first_or_null(arr);
}

cJSON *pgd_store_pg_list_jobs(void *bep) {
  pg_be_t *be = bep;
  char sql[1024];
  if (select_sql(&pgd_store_rec_job, " ORDER BY \"name\"", sql, sizeof(sql)) < 0) return NULL;
  pthread_mutex_lock(&be->rmu);
  cJSON *arr = query_array(be, &pgd_store_rec_job, sql, 0, NULL);
  pthread_mutex_unlock(&be->rmu);
  return arr;
}

cJSON *pgd_store_pg_list_workers(void *bep) {
  pg_be_t *be = bep;
  char sql[1024];
  if (select_sql(&pgd_store_rec_worker, " ORDER BY \"id\"", sql, sizeof(sql)) < 0) return NULL;
  pthread_mutex_lock(&be->rmu);
  cJSON *arr = query_array(be, &pgd_store_rec_worker, sql, 0, NULL);
  pthread_mutex_unlock(&be->rmu);
  return arr;
}

cJSON *pgd_store_pg_get_execution(void *bep, int64_t id) {
  pg_be_t *be = bep;
  char sql[1024], ids[24];
  if (select_sql(&pgd_store_rec_execution, " WHERE \"id\"=$1", sql, sizeof(sql)) < 0) return NULL;
  snprintf(ids, sizeof(ids), "%" PRId64, id);
  const char *vals[1] = {ids};
  cJSON *exec = NULL;
  pthread_mutex_lock(&be->rmu);
  if (snap_begin(be) == 0) {
    exec = first_or_null(query_array(be, &pgd_store_rec_execution, sql, 1, vals));
    if (exec && add_attempts(be, exec) < 0) {
      cJSON_Delete(exec);
      exec = NULL;
    }
    snap_end(be);
  }
  pthread_mutex_unlock(&be->rmu);
  return exec;
}

cJSON *pgd_store_pg_list_executions(void *bep, const char *job, const char *state, int limit,
                                    int64_t before_id) {
  pg_be_t *be = bep;
  char tail[256], sql[1024], bid[24], lim[24];
  const char *vals[4];
  int np = 0;
  size_t len = (size_t)snprintf(tail, sizeof(tail), " WHERE TRUE");
  if (job) {
    vals[np++] = job;
    len += (size_t)snprintf(tail + len, sizeof(tail) - len, " AND \"job\"=$%d", np);
  }
  if (state) {
    vals[np++] = state;
    len += (size_t)snprintf(tail + len, sizeof(tail) - len, " AND \"state\"=$%d", np);
  }
  if (before_id > 0) {
    snprintf(bid, sizeof(bid), "%" PRId64, before_id);
    vals[np++] = bid;
    len += (size_t)snprintf(tail + len, sizeof(tail) - len, " AND \"id\"<$%d", np);
  }
  len += (size_t)snprintf(tail + len, sizeof(tail) - len, " ORDER BY \"id\" DESC");
  if (limit > 0) {
    snprintf(lim, sizeof(lim), "%d", limit);
    vals[np++] = lim;
    snprintf(tail + len, sizeof(tail) - len, " LIMIT $%d", np);
  }
  if (select_sql(&pgd_store_rec_execution, tail, sql, sizeof(sql)) < 0) return NULL;
  pthread_mutex_lock(&be->rmu);
  cJSON *arr = query_array(be, &pgd_store_rec_execution, sql, np, vals);
  pthread_mutex_unlock(&be->rmu);
  return arr;
}

cJSON *pgd_store_pg_list_unfinished(void *bep) {
  pg_be_t *be = bep;
  char sql[1024];
  if (select_sql(&pgd_store_rec_execution,
                 " WHERE \"state\" IN ('pending','dispatched','running') ORDER BY \"id\"", sql,
                 sizeof(sql)) < 0)
    return NULL;
  cJSON *arr = NULL;
  pthread_mutex_lock(&be->rmu);
  if (snap_begin(be) == 0) {
    arr = query_array(be, &pgd_store_rec_execution, sql, 0, NULL);
    for (cJSON *e = arr ? arr->child : NULL; e; e = e->next) {
      if (add_attempts(be, e) < 0) {
        cJSON_Delete(arr);
        arr = NULL;
        break;
      }
    }
    snap_end(be);
  }
  pthread_mutex_unlock(&be->rmu);
  return arr;
}

static int64_t scalar(pg_be_t *be, const char *sql) {
  pthread_mutex_lock(&be->rmu);
  PGresult *res = rquery(be, sql, 0, NULL);
  int64_t v = -EIO;
  if (res && PQntuples(res) == 1)
    v = PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  pthread_mutex_unlock(&be->rmu);
  return v;
}

int64_t pgd_store_pg_max_execution_id(void *bep) {
  return scalar(bep, "SELECT max(\"id\") FROM \"executions\"");
}

int pgd_store_pg_schema_version(void *bep) {
  return (int)scalar(bep, "SELECT max(\"version\") FROM \"pagoda_schema\"");
}

/* ---- documents: same order and paging as SQLite (store_sqlite_docs.c);
 * the text columns are COLLATE "C", so comparisons are byte order. ------ */

cJSON *pgd_store_pg_get_doc(void *bep, const char *kind, const char *id) {
  pg_be_t *be = bep;
  char sql[1024];
  if (select_sql(&pgd_store_rec_doc, " WHERE \"kind\"=$1 AND \"id\"=$2", sql, sizeof(sql)) < 0)
    return NULL;
  const char *vals[2] = {kind, id};
  pthread_mutex_lock(&be->rmu);
  cJSON *arr = query_array(be, &pgd_store_rec_doc, sql, 2, vals);
  pthread_mutex_unlock(&be->rmu);
  return first_or_null(arr);
}

cJSON *pgd_store_pg_list_docs(void *bep, const char *kind, const char *parent, const char *state,
                              int limit, const char *before_id) {
  pg_be_t *be = bep;
  char tail[512], sql[1024], bnum_s[24], lim[24];
  const char *vals[6];
  int np = 0;
  int64_t bnum = 0;
  vals[np++] = kind;
  size_t len = (size_t)snprintf(tail, sizeof(tail), " WHERE \"kind\"=$1");
  if (parent) {
    vals[np++] = parent;
    len += (size_t)snprintf(tail + len, sizeof(tail) - len, " AND \"parent\"=$%d", np);
  }
  if (state) {
    vals[np++] = state;
    len += (size_t)snprintf(tail + len, sizeof(tail) - len, " AND \"state\"=$%d", np);
  }
  if (before_id && pgd_store_doc_sort_num(before_id, &bnum)) {
    snprintf(bnum_s, sizeof(bnum_s), "%" PRId64, bnum);
    vals[np++] = bnum_s;
    vals[np++] = before_id;
    len += (size_t)snprintf(tail + len, sizeof(tail) - len,
                            " AND (\"sort_num\" IS NULL OR \"sort_num\"<$%d OR "
                            "(\"sort_num\"=$%d AND \"id\"<$%d))",
                            np - 1, np - 1, np);
  } else if (before_id) {
    vals[np++] = before_id;
    len += (size_t)snprintf(tail + len, sizeof(tail) - len,
                            " AND \"sort_num\" IS NULL AND \"id\"<$%d", np);
  }
  len += (size_t)snprintf(tail + len, sizeof(tail) - len,
                          " ORDER BY \"sort_num\" DESC NULLS LAST, \"id\" DESC");
  if (limit > 0) {
    snprintf(lim, sizeof(lim), "%d", limit);
    vals[np++] = lim;
    snprintf(tail + len, sizeof(tail) - len, " LIMIT $%d", np);
  }
  if (select_sql(&pgd_store_rec_doc, tail, sql, sizeof(sql)) < 0) return NULL;
  pthread_mutex_lock(&be->rmu);
  cJSON *arr = query_array(be, &pgd_store_rec_doc, sql, np, vals);
  pthread_mutex_unlock(&be->rmu);
  return arr;
}
