/* Pagoda — the SQLite backend of the store.
 *
 * Two connections to one WAL database:
 *  - the writer connection, used only by the store's writer thread once the
 *    store is started: one transaction per batch (BEGIN IMMEDIATE ... COMMIT
 *    with synchronous=FULL, so a COMMIT returns once the WAL is fsynced), with
 *    its statements prepared once at open;
 *  - the read connection (query_only), used by readers under `rmu`; its
 *    statements are prepared on first use and kept.
 * Each write is a single statement, so a failing write (a constraint) is
 * undone by SQLite alone and the rest of the batch goes on. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/clock.h"
#include "common/log.h"
#include "store/store_sqlite.h"

#define MOD "store"
#define BUSY_TIMEOUT_MS 5000


/* ---- helpers ------------------------------------------------------------ */

int pgd_store_sqlite_errno(int rc) {
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW: return 0;
  case SQLITE_CONSTRAINT:
  case SQLITE_MISMATCH:
  case SQLITE_TOOBIG:
  case SQLITE_RANGE: return -EINVAL;
  case SQLITE_NOMEM: return -ENOMEM;
  case SQLITE_FULL: return -ENOSPC;
  case SQLITE_BUSY:
  case SQLITE_LOCKED: return -EBUSY;
  case SQLITE_READONLY: return -EROFS;
  case SQLITE_PERM:
  case SQLITE_AUTH: return -EACCES;
  default: return -EIO;
  }
}

#define map_err pgd_store_sqlite_errno

/* Appends to a fixed buffer; returns -1 when it would not fit. */
static int sb_add(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int sb_add(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap - *len) return -1;
  *len += (size_t)n;
  return 0;
}

/* "SELECT "f1",..,"data" FROM "t"" */
static int build_select(const pgd_store_record_t *rec, char *buf, size_t cap) {
  size_t len = 0;
  if (sb_add(buf, cap, &len, "SELECT ") < 0) return -1;
  for (size_t i = 0; i < rec->nfields; i++)
    if (sb_add(buf, cap, &len, "%s\"%s\"", i ? "," : "", rec->fields[i].name) < 0) return -1;
  if (rec->has_data && sb_add(buf, cap, &len, ",\"data\"") < 0) return -1;
  return sb_add(buf, cap, &len, " FROM \"%s\"", rec->table);
}

/* INSERT ... ON CONFLICT (keys) DO UPDATE SET each non-key column. */
static int build_upsert(const pgd_store_record_t *rec, char *buf, size_t cap) {
  size_t len = 0, n = rec->nfields + (rec->has_data ? 1 : 0);
  if (sb_add(buf, cap, &len, "INSERT INTO \"%s\" (", rec->table) < 0) return -1;
  for (size_t i = 0; i < rec->nfields; i++)
    if (sb_add(buf, cap, &len, "%s\"%s\"", i ? "," : "", rec->fields[i].name) < 0) return -1;
  if (rec->has_data && sb_add(buf, cap, &len, ",\"data\"") < 0) return -1;
  if (sb_add(buf, cap, &len, ") VALUES (") < 0) return -1;
  for (size_t i = 0; i < n; i++)
    if (sb_add(buf, cap, &len, "%s?%zu", i ? "," : "", i + 1) < 0) return -1;
  if (sb_add(buf, cap, &len, ") ON CONFLICT (") < 0) return -1;
  for (size_t i = 0; i < rec->nkeys; i++)
    if (sb_add(buf, cap, &len, "%s\"%s\"", i ? "," : "", rec->fields[i].name) < 0) return -1;
  if (sb_add(buf, cap, &len, ") DO UPDATE SET ") < 0) return -1;
  for (size_t i = rec->nkeys; i < rec->nfields; i++) {
    const char *f = rec->fields[i].name;
    const char *sep = i > rec->nkeys ? "," : "";
    int r = rec->fields[i].keep_existing
                ? sb_add(buf, cap, &len, "%s\"%s\"=COALESCE(\"%s\".\"%s\",excluded.\"%s\")", sep, f,
                         rec->table, f, f)
                : sb_add(buf, cap, &len, "%s\"%s\"=excluded.\"%s\"", sep, f, f);
    if (r < 0) return -1;
  }
  if (rec->has_data && sb_add(buf, cap, &len, ",\"data\"=excluded.\"data\"") < 0) return -1;
  return 0;
}

static void bind_row(sqlite3_stmt *st, const pgd_store_record_t *rec, const pgd_store_row_t *row) {
  for (size_t i = 0; i < rec->nfields; i++) {
    const pgd_store_val_t *v = &row->v[i];
    int idx = (int)i + 1;
    if (!v->present) sqlite3_bind_null(st, idx);
    else if (rec->fields[i].kind == PGD_COL_INT) sqlite3_bind_int64(st, idx, v->i);
    else sqlite3_bind_text(st, idx, v->s, -1, SQLITE_STATIC);
  }
  if (rec->has_data) {
    int idx = (int)rec->nfields + 1;
    if (row->data) sqlite3_bind_text(st, idx, row->data, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, idx);
  }
}

/* Fills `row` with values borrowed from the current result row. */
static void read_row(sqlite3_stmt *st, const pgd_store_record_t *rec, pgd_store_row_t *row) {
  memset(row, 0, sizeof(*row));
  for (size_t i = 0; i < rec->nfields; i++) {
    int c = (int)i;
    if (sqlite3_column_type(st, c) == SQLITE_NULL) continue;
    row->v[i].present = 1;
    if (rec->fields[i].kind == PGD_COL_INT) row->v[i].i = sqlite3_column_int64(st, c);
    else row->v[i].s = (char *)sqlite3_column_text(st, c);
    if (rec->fields[i].kind != PGD_COL_INT && !row->v[i].s) row->v[i].present = 0;
  }
  if (rec->has_data && sqlite3_column_type(st, (int)rec->nfields) != SQLITE_NULL)
    row->data = (char *)sqlite3_column_text(st, (int)rec->nfields);
}

static int step_simple(sqlite3_stmt *st) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* ---- writer ------------------------------------------------------------- */

static const pgd_store_record_t *op_record(pgd_store_op_kind_t k, int *widx) {
  switch (k) {
  case PGD_OP_PUT_JOB: *widx = W_JOB; return &pgd_store_rec_job;
  case PGD_OP_PUT_EXECUTION: *widx = W_EXEC; return &pgd_store_rec_execution;
  case PGD_OP_PUT_ATTEMPT: *widx = W_ATTEMPT; return &pgd_store_rec_attempt;
  case PGD_OP_PUT_WORKER: *widx = W_WORKER; return &pgd_store_rec_worker;
  case PGD_OP_PUT_DOC: *widx = W_DOC; return &pgd_store_rec_doc;
  default: *widx = -1; return NULL;
  }
}

static const char *op_name(pgd_store_op_kind_t k) {
  switch (k) {
  case PGD_OP_PUT_JOB: return "put_job";
  case PGD_OP_DELETE_JOB: return "delete_job";
  case PGD_OP_PUT_EXECUTION: return "put_execution";
  case PGD_OP_PUT_ATTEMPT: return "put_attempt";
  case PGD_OP_PUT_WORKER: return "put_worker";
  case PGD_OP_PUT_DOC: return "put_doc";
  case PGD_OP_DELETE_DOC: return "delete_doc";
  case PGD_OP_DELETE_DOCS: return "delete_docs";
  default: return "flush";
  }
}

static void fail_all(pgd_store_op_t *ops, int status) {
  for (pgd_store_op_t *op = ops; op; op = op->next) {
    if (op->status == 0) op->status = status;
    pgd_store_row_free(&op->row);
  }
}

/* Inside the batch transaction (which holds the database write lock since
 * BEGIN IMMEDIATE, so no acquire_epoch can run until it ends): 0 when the
 * stored epoch equals `epoch`, -ESTALE when it differs, else -errno. */
static int check_epoch(sqlite_be_t *be, int64_t epoch) {
  sqlite3_stmt *st = be->w[W_EPOCH];
  int rc = sqlite3_step(st);
  int64_t stored = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return map_err(rc);
  if (stored != epoch) {
    PGD_ERROR(MOD, "epoch fencing: the cluster epoch is %lld, this store writes as %lld",
              (long long)stored, (long long)epoch);
    return -ESTALE;
  }
  return 0;
}

static void sqlite_apply_batch(void *bep, pgd_store_op_t *ops, size_t n, int64_t epoch) {
  sqlite_be_t *be = bep;
  int rc = step_simple(be->w[W_BEGIN]);
  if (rc != SQLITE_OK) {
    PGD_ERROR(MOD, "BEGIN failed (%zu writes lost): %s", n, sqlite3_errmsg(be->wdb));
    fail_all(ops, map_err(rc));
    return;
  }
  if (epoch > 0) {
    int erc = check_epoch(be, epoch);
    if (erc < 0) {
      step_simple(be->w[W_ROLLBACK]);
      fail_all(ops, erc);
      return;
    }
  }
  for (pgd_store_op_t *op = ops; op; op = op->next) {
    op->status = 0;
    if (op->kind == PGD_OP_FLUSH) continue;
    sqlite3_stmt *st;
    if (op->kind == PGD_OP_DELETE_JOB) {
      st = be->w[W_DEL_JOB];
      sqlite3_bind_text(st, 1, op->row.v[0].s, -1, SQLITE_STATIC);
    } else if (op->kind == PGD_OP_DELETE_DOC || op->kind == PGD_OP_DELETE_DOCS) {
      st = be->w[op->kind == PGD_OP_DELETE_DOC ? W_DEL_DOC : W_DEL_DOCS];
      sqlite3_bind_text(st, 1, op->row.v[0].s, -1, SQLITE_STATIC);
      sqlite3_bind_text(st, 2, op->row.v[1].s, -1, SQLITE_STATIC);
    } else {
      int widx;
      const pgd_store_record_t *rec = op_record(op->kind, &widx);
      if (!rec) {
        op->status = -EINVAL;
        continue;
      }
      st = be->w[widx];
      bind_row(st, rec, &op->row);
    }
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
      op->status = map_err(rc);
      PGD_WARN(MOD, "%s failed: %s", op_name(op->kind), sqlite3_errmsg(be->wdb));
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pgd_store_row_free(&op->row);
    if (rc != SQLITE_DONE && sqlite3_get_autocommit(be->wdb)) {
      /* SQLite rolled the whole transaction back (I/O error, disk full...):
       * nothing of this batch is stored. */
      int st_err = map_err(rc);
      for (pgd_store_op_t *o = ops; o; o = o->next) o->status = st_err;
      fail_all(ops, st_err);
      return;
    }
  }
  rc = step_simple(be->w[W_COMMIT]);
  if (rc != SQLITE_OK) {
    PGD_ERROR(MOD, "COMMIT failed (%zu writes lost): %s", n, sqlite3_errmsg(be->wdb));
    if (!sqlite3_get_autocommit(be->wdb)) step_simple(be->w[W_ROLLBACK]);
    fail_all(ops, map_err(rc));
  }
}

/* ---- reads -------------------------------------------------------------- */

static const char *unfinished_where =
    " WHERE \"state\" IN ('pending','dispatched','running') ORDER BY \"id\"";

static sqlite3_stmt *rstmt(sqlite_be_t *be, int idx) {
  if (be->r[idx]) return be->r[idx];
  char sql[1024], sel[768];
  sql[0] = 0;
  switch (idx) {
  case R_BEGIN: snprintf(sql, sizeof(sql), "BEGIN"); break;
  case R_COMMIT: snprintf(sql, sizeof(sql), "COMMIT"); break;
  case R_GET_JOB:
    build_select(&pgd_store_rec_job, sel, sizeof(sel));
    snprintf(sql, sizeof(sql), "%s WHERE \"name\"=?1", sel);
    break;
  case R_LIST_JOBS:
    build_select(&pgd_store_rec_job, sel, sizeof(sel));
    snprintf(sql, sizeof(sql), "%s ORDER BY \"name\"", sel);
    break;
  case R_GET_EXEC:
    build_select(&pgd_store_rec_execution, sel, sizeof(sel));
    snprintf(sql, sizeof(sql), "%s WHERE \"id\"=?1", sel);
    break;
  case R_ATTEMPTS_OF:
    build_select(&pgd_store_rec_attempt, sel, sizeof(sel));
    snprintf(sql, sizeof(sql), "%s WHERE \"execution_id\"=?1 ORDER BY \"attempt\"", sel);
    break;
  case R_UNFINISHED:
    build_select(&pgd_store_rec_execution, sel, sizeof(sel));
    snprintf(sql, sizeof(sql), "%s%s", sel, unfinished_where);
    break;
  case R_LIST_WORKERS:
    build_select(&pgd_store_rec_worker, sel, sizeof(sel));
    snprintf(sql, sizeof(sql), "%s ORDER BY \"id\"", sel);
    break;
  case R_MAX_ID: snprintf(sql, sizeof(sql), "SELECT max(\"id\") FROM \"executions\""); break;
  case R_VERSION: snprintf(sql, sizeof(sql), "SELECT max(\"version\") FROM \"pagoda_schema\""); break;
  default: {
    int v = idx - R_LIST_EXEC;
    build_select(&pgd_store_rec_execution, sel, sizeof(sel));
    snprintf(sql, sizeof(sql), "%s WHERE 1%s%s%s ORDER BY \"id\" DESC LIMIT ?4", sel,
             (v & 1) ? " AND \"job\"=?1" : "", (v & 2) ? " AND \"state\"=?2" : "",
             (v & 4) ? " AND \"id\"<?3" : "");
  }
  }
  int rc = sqlite3_prepare_v3(be->rdb, sql, -1, SQLITE_PREPARE_PERSISTENT, &be->r[idx], NULL);
  if (rc != SQLITE_OK) {
    PGD_ERROR(MOD, "cannot prepare a read: %s", sqlite3_errmsg(be->rdb));
    be->r[idx] = NULL;
  }
  return be->r[idx];
}

/* Runs the bound statement; appends one object per row to `arr` (job rows
 * when rec == &pgd_store_rec_job). Returns 0 or -errno. */
static int collect(sqlite_be_t *be, sqlite3_stmt *st, const pgd_store_record_t *rec, cJSON *arr) {
  int rc, err = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    pgd_store_row_t row;
    read_row(st, rec, &row);
    cJSON *o = rec == &pgd_store_rec_job ? pgd_store_record_join_job(&row)
                                         : pgd_store_record_join(rec, &row);
    if (!o || !cJSON_AddItemToArray(arr, o)) {
      cJSON_Delete(o);
      err = -ENOMEM;
      break;
    }
  }
  if (!err && rc != SQLITE_DONE) {
    err = map_err(rc);
    PGD_WARN(MOD, "read failed: %s", sqlite3_errmsg(be->rdb));
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return err;
}

static cJSON *first_or_null(cJSON *arr) {
  if (!arr) return NULL;
  cJSON *o = cJSON_DetachItemFromArray(arr, 0);
  cJSON_Delete(arr);
  return o;
}

static cJSON *list_locked(sqlite_be_t *be, int idx, const pgd_store_record_t *rec) {
  sqlite3_stmt *st = rstmt(be, idx);
  cJSON *arr = st ? cJSON_CreateArray() : NULL;
  if (arr && collect(be, st, rec, arr) < 0) {
    cJSON_Delete(arr);
    arr = NULL;
  }
  return arr;
}

/* Adds "attempts" to exec (replacing any). Caller holds rmu. */
static int add_attempts(sqlite_be_t *be, cJSON *exec) {
  int64_t id;
  if (!pgd_store_json_int(cJSON_GetObjectItemCaseSensitive(exec, "id"), &id)) return -EINVAL;
  sqlite3_stmt *st = rstmt(be, R_ATTEMPTS_OF);
  if (!st) return -EIO;
  cJSON *arr = cJSON_CreateArray();
  if (!arr) return -ENOMEM;
  sqlite3_bind_int64(st, 1, id);
  int rc = collect(be, st, &pgd_store_rec_attempt, arr);
  cJSON_DeleteItemFromObjectCaseSensitive(exec, "attempts");
  if (rc < 0 || !cJSON_AddItemToObject(exec, "attempts", arr)) {
    cJSON_Delete(arr);
    return rc < 0 ? rc : -ENOMEM;
  }
  return 0;
}

static void read_begin(sqlite_be_t *be) {
  sqlite3_stmt *st = rstmt(be, R_BEGIN);
  if (st) step_simple(st);
}

static void read_end(sqlite_be_t *be) {
  if (sqlite3_get_autocommit(be->rdb)) return;
  sqlite3_stmt *st = rstmt(be, R_COMMIT);
  if (st) step_simple(st);
}

static cJSON *sqlite_get_job(void *bep, const char *name) {
  sqlite_be_t *be = bep;
  pthread_mutex_lock(&be->rmu);
  cJSON *arr = NULL;
  sqlite3_stmt *st = rstmt(be, R_GET_JOB);
  if (st && (arr = cJSON_CreateArray())) {
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (collect(be, st, &pgd_store_rec_job, arr) < 0) {
      cJSON_Delete(arr);
      arr = NULL;
    }
  }
  pthread_mutex_unlock(&be->rmu);
  return first_or_null(arr);
}

static cJSON *sqlite_list_jobs(void *bep) {
  sqlite_be_t *be = bep;
  pthread_mutex_lock(&be->rmu);
  cJSON *arr = list_locked(be, R_LIST_JOBS, &pgd_store_rec_job);
  pthread_mutex_unlock(&be->rmu);
  return arr;
}

static cJSON *sqlite_list_workers(void *bep) {
  sqlite_be_t *be = bep;
  pthread_mutex_lock(&be->rmu);
  cJSON *arr = list_locked(be, R_LIST_WORKERS, &pgd_store_rec_worker);
  pthread_mutex_unlock(&be->rmu);
  return arr;
}

static cJSON *sqlite_get_execution(void *bep, int64_t id) {
  sqlite_be_t *be = bep;
  cJSON *exec = NULL;
  pthread_mutex_lock(&be->rmu);
  read_begin(be); /* one snapshot for the execution and its attempts */
  sqlite3_stmt *st = rstmt(be, R_GET_EXEC);
  cJSON *arr = st ? cJSON_CreateArray() : NULL;
  if (arr) {
    sqlite3_bind_int64(st, 1, id);
    if (collect(be, st, &pgd_store_rec_execution, arr) == 0) exec = cJSON_DetachItemFromArray(arr, 0);
    cJSON_Delete(arr);
  }
  if (exec && add_attempts(be, exec) < 0) {
    cJSON_Delete(exec);
    exec = NULL;
  }
  read_end(be);
  pthread_mutex_unlock(&be->rmu);
  return exec;
}

static cJSON *sqlite_list_executions(void *bep, const char *job, const char *state, int limit,
                                     int64_t before_id) {
  sqlite_be_t *be = bep;
  int v = (job ? 1 : 0) | (state ? 2 : 0) | (before_id > 0 ? 4 : 0);
  pthread_mutex_lock(&be->rmu);
  cJSON *arr = NULL;
  sqlite3_stmt *st = rstmt(be, R_LIST_EXEC + v);
  if (st && (arr = cJSON_CreateArray())) {
    if (job) sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
    if (state) sqlite3_bind_text(st, 2, state, -1, SQLITE_STATIC);
    if (before_id > 0) sqlite3_bind_int64(st, 3, before_id);
    sqlite3_bind_int64(st, 4, limit > 0 ? limit : -1);
    if (collect(be, st, &pgd_store_rec_execution, arr) < 0) {
      cJSON_Delete(arr);
      arr = NULL;
    }
  }
  pthread_mutex_unlock(&be->rmu);
  return arr;
}

static cJSON *sqlite_list_unfinished(void *bep) {
  sqlite_be_t *be = bep;
  pthread_mutex_lock(&be->rmu);
  read_begin(be);
  cJSON *arr = list_locked(be, R_UNFINISHED, &pgd_store_rec_execution);
  for (cJSON *e = arr ? arr->child : NULL; e; e = e->next) {
    if (add_attempts(be, e) < 0) {
      cJSON_Delete(arr);
      arr = NULL;
      break;
    }
  }
  read_end(be);
  pthread_mutex_unlock(&be->rmu);
  return arr;
}

static int64_t scalar_locked(sqlite_be_t *be, int idx) {
  sqlite3_stmt *st = rstmt(be, idx);
  if (!st) return -EIO;
  int64_t v = 0;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) v = sqlite3_column_int64(st, 0); /* NULL -> 0 */
  else {
    v = map_err(rc);
    PGD_WARN(MOD, "read failed: %s", sqlite3_errmsg(be->rdb));
  }
  sqlite3_reset(st);
  return v;
}

static int64_t sqlite_max_execution_id(void *bep) {
  sqlite_be_t *be = bep;
  pthread_mutex_lock(&be->rmu);
  int64_t v = scalar_locked(be, R_MAX_ID);
  pthread_mutex_unlock(&be->rmu);
  return v;
}

static int sqlite_schema_version(void *bep) {
  sqlite_be_t *be = bep;
  pthread_mutex_lock(&be->rmu);
  int64_t v = scalar_locked(be, R_VERSION);
  pthread_mutex_unlock(&be->rmu);
  return (int)v;
}

/* ---- open / close ------------------------------------------------------- */

static void sqlite_destroy(void *bep) {
  sqlite_be_t *be = bep;
  if (!be) return;
  for (int i = 0; i < R_COUNT; i++) sqlite3_finalize(be->r[i]);
  for (int i = 0; i < DR_COUNT; i++) sqlite3_finalize(be->dr[i]);
  for (int i = 0; i < W_COUNT; i++) sqlite3_finalize(be->w[i]);
  if (be->rdb) sqlite3_close(be->rdb);
  if (be->wdb && sqlite3_close(be->wdb) != SQLITE_OK)
    PGD_WARN(MOD, "closing the database: %s", sqlite3_errmsg(be->wdb));
  pthread_mutex_destroy(&be->rmu);
  free(be->path);
  free(be);
}

/* A short-lived third connection: the writer connection belongs to the
 * writer thread and the read connection is query_only. BEGIN IMMEDIATE
 * waits (busy timeout) for a batch in progress. */
static int sqlite_acquire_epoch(void *bep, int64_t *out, char *err, size_t errlen) {
  sqlite_be_t *be = bep;
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_open_v2(be->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  }
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(db,
                            "UPDATE \"cluster\" SET \"epoch\"=\"epoch\"+1, \"updated_us\"=?1 "
                            "WHERE \"id\"=1 RETURNING \"epoch\"",
                            -1, &st, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_bind_int64(st, 1, pgd_now_us());
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      *out = sqlite3_column_int64(st, 0);
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      rc = SQLITE_CORRUPT; /* the cluster row is missing */
    }
    sqlite3_finalize(st);
  }
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    if (err && errlen)
      snprintf(err, errlen, "%s: cannot acquire the cluster epoch: %s", be->path,
               db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (db && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  }
  sqlite3_close(db);
  return map_err(rc);
}

static const pgd_store_backend_ops_t sqlite_ops = {
    .name = "sqlite",
    .apply_batch = sqlite_apply_batch,
    .acquire_epoch = sqlite_acquire_epoch,
    .get_job = sqlite_get_job,
    .list_jobs = sqlite_list_jobs,
    .get_execution = sqlite_get_execution,
    .list_executions = sqlite_list_executions,
    .list_unfinished_executions = sqlite_list_unfinished,
    .list_workers = sqlite_list_workers,
    .max_execution_id = sqlite_max_execution_id,
    .schema_version = sqlite_schema_version,
    .get_doc = pgd_store_sqlite_get_doc,
    .list_docs = pgd_store_sqlite_list_docs,
    .destroy = sqlite_destroy,
};

#define FAIL(code, ...)                               \
  do {                                                \
    if (err && errlen) snprintf(err, errlen, __VA_ARGS__); \
    return (code);                                    \
  } while (0)

/* Runs one SQL text (possibly several statements) on db. */
static int exec_sql(sqlite3 *db, const char *sql) {
  return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int query_int(sqlite3 *db, const char *sql, int64_t *out) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) return rc;
  rc = sqlite3_step(st);
  *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
  sqlite3_finalize(st);
  return rc;
}

static int set_pragmas(sqlite3 *db, const char *path, char *err, size_t errlen) {
  sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc != SQLITE_ROW) {
    int e = map_err(rc);
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    FAIL(e, "%s: cannot set WAL mode: %s", path, msg);
  }
  const char *mode = (const char *)sqlite3_column_text(st, 0);
  int wal = mode && strcmp(mode, "wal") == 0;
  sqlite3_finalize(st);
  if (!wal) FAIL(-ENOTSUP, "%s: the file system does not support SQLite WAL mode", path);
  if (exec_sql(db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;") != SQLITE_OK)
    FAIL(-EIO, "%s: %s", path, sqlite3_errmsg(db));
  return 0;
}

/* Brings the schema up to the latest version, each migration in its own
 * IMMEDIATE transaction (re-reading the version inside it, so two processes
 * opening the same new file do not both migrate). */
static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen) {
  const size_t count = pgd_store_sqlite_migration_count;
  const int latest = pgd_store_sqlite_migrations[count - 1].version;
  if (exec_sql(db, "CREATE TABLE IF NOT EXISTS \"pagoda_schema\" ("
                   "\"version\" INTEGER PRIMARY KEY NOT NULL, "
                   "\"description\" TEXT NOT NULL, "
                   "\"applied_us\" INTEGER NOT NULL)") != SQLITE_OK)
    FAIL(map_err(sqlite3_errcode(db)), "%s: cannot create the schema table: %s", path,
         sqlite3_errmsg(db));
  int64_t from = -1;
  for (size_t i = 0;; i++) {
    int64_t cur = 0;
    if (exec_sql(db, "BEGIN IMMEDIATE") != SQLITE_OK)
      FAIL(map_err(sqlite3_errcode(db)), "%s: %s", path, sqlite3_errmsg(db));
    int rc = query_int(db, "SELECT coalesce(max(\"version\"),0) FROM \"pagoda_schema\"", &cur);
    if (rc != SQLITE_OK) {
      char msg[256];
      snprintf(msg, sizeof(msg), "%s", sqlite3_errmsg(db));
      exec_sql(db, "ROLLBACK");
      FAIL(map_err(rc), "%s: cannot read the schema version: %s", path, msg);
    }
    if (cur > latest) {
      exec_sql(db, "ROLLBACK");
      FAIL(-ENOTSUP,
           "%s: database schema version %lld is newer than this pagoda knows (%d); "
           "upgrade pagoda or use another database",
           path, (long long)cur, latest);
    }
    if (from < 0) from = cur;
    while (i < count && pgd_store_sqlite_migrations[i].version <= cur) i++;
    if (i >= count) {
      exec_sql(db, "COMMIT");
      /* one line for the whole upgrade (daemon logs stay short) */
      if (cur > from)
        PGD_INFO(MOD, "%s: schema migrated from version %lld to %lld", path, (long long)from,
                 (long long)cur);
      return 0;
    }
    const pgd_store_migration_t *m = &pgd_store_sqlite_migrations[i];
    char *emsg = NULL;
    rc = sqlite3_exec(db, m->sql, NULL, NULL, &emsg);
    if (rc == SQLITE_OK) {
      char ins[512];
      char *q = sqlite3_mprintf("INSERT INTO \"pagoda_schema\" VALUES (%d, %Q, %lld)", m->version,
                                m->description, (long long)pgd_now_us());
      if (!q) rc = SQLITE_NOMEM;
      else {
        snprintf(ins, sizeof(ins), "%s", q);
        sqlite3_free(q);
        rc = sqlite3_exec(db, ins, NULL, NULL, &emsg);
      }
    }
    if (rc == SQLITE_OK) rc = exec_sql(db, "COMMIT");
    if (rc != SQLITE_OK) {
      char msg[256];
      snprintf(msg, sizeof(msg), "%s", emsg ? emsg : sqlite3_errmsg(db));
      sqlite3_free(emsg);
      exec_sql(db, "ROLLBACK");
      FAIL(map_err(rc), "%s: migration %d (%s) failed: %s", path, m->version, m->description,
           msg);
    }
    PGD_DEBUG(MOD, "%s: schema migrated to version %d (%s)", path, m->version, m->description);
  }
}

static int prepare_writer(sqlite_be_t *be, const char *path, char *err, size_t errlen) {
  static const pgd_store_record_t *recs[5] = {&pgd_store_rec_job, &pgd_store_rec_execution,
                                              &pgd_store_rec_attempt, &pgd_store_rec_worker,
                                              &pgd_store_rec_doc};
  static const int idx[5] = {W_JOB, W_EXEC, W_ATTEMPT, W_WORKER, W_DOC};
  char sql[2048];
  for (int i = 0; i < W_COUNT; i++) {
    switch (i) {
    case W_DEL_JOB: snprintf(sql, sizeof(sql), "DELETE FROM \"jobs\" WHERE \"name\"=?1"); break;
    case W_DEL_DOC:
      snprintf(sql, sizeof(sql), "DELETE FROM \"docs\" WHERE \"kind\"=?1 AND \"id\"=?2");
      break;
    case W_DEL_DOCS:
      snprintf(sql, sizeof(sql), "DELETE FROM \"docs\" WHERE \"kind\"=?1 AND \"parent\"=?2");
      break;
    case W_BEGIN: snprintf(sql, sizeof(sql), "BEGIN IMMEDIATE"); break;
    case W_COMMIT: snprintf(sql, sizeof(sql), "COMMIT"); break;
    case W_ROLLBACK: snprintf(sql, sizeof(sql), "ROLLBACK"); break;
    case W_EPOCH: snprintf(sql, sizeof(sql), "SELECT \"epoch\" FROM \"cluster\" WHERE \"id\"=1"); break;
    default:
      for (int k = 0; k < 5; k++)
        if (idx[k] == i && build_upsert(recs[k], sql, sizeof(sql)) < 0)
          FAIL(-EINVAL, "internal: upsert statement too long");
    }
    int rc = sqlite3_prepare_v3(be->wdb, sql, -1, SQLITE_PREPARE_PERSISTENT, &be->w[i], NULL);
    if (rc != SQLITE_OK) FAIL(map_err(rc), "%s: cannot prepare a write: %s", path, sqlite3_errmsg(be->wdb));
  }
  return 0;
}

static int open_backend(const char *path, sqlite_be_t *be, char *err, size_t errlen) {
  int rc = sqlite3_open_v2(path, &be->wdb,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    FAIL(rc == SQLITE_CANTOPEN ? -ENOENT : map_err(rc), "cannot open the database %s: %s", path,
         be->wdb ? sqlite3_errmsg(be->wdb) : sqlite3_errstr(rc));
  if ((rc = set_pragmas(be->wdb, path, err, errlen)) < 0) return rc;
  if ((rc = migrate(be->wdb, path, err, errlen)) < 0) return rc;
  if ((rc = prepare_writer(be, path, err, errlen)) < 0) return rc;
  rc = sqlite3_open_v2(path, &be->rdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    FAIL(map_err(rc), "cannot open a read connection to %s: %s", path,
         be->rdb ? sqlite3_errmsg(be->rdb) : sqlite3_errstr(rc));
  sqlite3_busy_timeout(be->rdb, BUSY_TIMEOUT_MS);
  if (exec_sql(be->rdb, "PRAGMA query_only=1") != SQLITE_OK)
    FAIL(-EIO, "%s: %s", path, sqlite3_errmsg(be->rdb));
  return 0;
}

int pgd_store_open_sqlite(uv_loop_t *loop, const char *path, pgd_store_t **out, char *err,
                          size_t errlen) {
  if (out) *out = NULL;
  if (err && errlen) err[0] = '\0';
  if (!loop || !out || !path || !path[0]) FAIL(-EINVAL, "store: a loop and a path are required");
  if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
    FAIL(-EINVAL, "store: %s: the SQLite store needs a file path", path);
  sqlite_be_t *be = calloc(1, sizeof(*be));
  if (!be) FAIL(-ENOMEM, "out of memory");
  pthread_mutex_init(&be->rmu, NULL);
  if (!(be->path = strdup(path))) {
    sqlite_destroy(be);
    FAIL(-ENOMEM, "out of memory");
  }
  int rc = open_backend(path, be, err, errlen);
  if (rc < 0) {
    sqlite_destroy(be);
    return rc;
  }
  rc = pgd_store_start(loop, &sqlite_ops, be, out, err, errlen);
  if (rc == 0) PGD_INFO(MOD, "opened %s (sqlite, schema version %d)", path, pgd_store_schema_version(*out));
  return rc;
}
