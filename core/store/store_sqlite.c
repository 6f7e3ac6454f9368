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
 * undone by SQLite alone and the rest of the batch goes on.
 * The SQL is the catalog's (store_sql.c, SQLite dialect: parameter N is
 * slot N); which reads run when is store_read.c's. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common/clock.h"
#include "common/err.h"
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

/* Binds the slot values p[1..] to the statement's parameters ?1..?N (the
 * SQLite form of the catalog numbers parameters by slot). Strings are
 * bound SQLITE_STATIC: p must outlive the step. */
static void bind_params(sqlite3_stmt *st, const pgd_store_param_t *p) {
  int n = sqlite3_bind_parameter_count(st);
  for (int i = 1; p && i <= n && i <= PGD_SQL_MAX_SLOTS; i++) {
    if (p[i].type == PGD_PARAM_INT) sqlite3_bind_int64(st, i, p[i].i);
    else if (p[i].type == PGD_PARAM_TEXT) sqlite3_bind_text(st, i, p[i].s, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, i);
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
  case PGD_OP_EXPIRE_KEYS: return "expire_keys";
  case PGD_OP_PUT_LOG_CHUNK: return "put_log_chunk";
  case PGD_OP_PUT_BLOB_CHUNK: return "put_blob_chunk";
  case PGD_OP_DELETE_BLOB: return "delete_blob";
  case PGD_OP_DELETE_EXECUTION: return "delete_execution";
  default: return "flush";
  }
}

static void fail_all(pgd_store_op_t *ops, int status) {
  for (pgd_store_op_t *op = ops; op; op = op->next) {
    if (op->status == 0) op->status = status;
  }
}

/* Inside the batch transaction (which holds the database write lock since
 * BEGIN IMMEDIATE, so no acquire_epoch can run until it ends): 0 when the
 * stored epoch equals `epoch`, -ESTALE when it differs, else -errno. */
static int check_epoch(sqlite_be_t *be, int64_t epoch) {
  sqlite3_stmt *st = be->w[PGD_SQL_EPOCH_CHECK];
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
  int rc = step_simple(be->w[PGD_SQL_BEGIN_WRITE]);
  if (rc != SQLITE_OK) {
    PGD_ERROR(MOD, "BEGIN failed (%zu writes lost): %s", n, sqlite3_errmsg(be->wdb));
    fail_all(ops, map_err(rc));
    return;
  }
  if (epoch > 0) {
    int erc = check_epoch(be, epoch);
    if (erc < 0) {
      step_simple(be->w[PGD_SQL_ROLLBACK]);
      fail_all(ops, erc);
      return;
    }
  }
  for (pgd_store_op_t *op = ops; op; op = op->next) {
    op->status = 0;
    if (op->kind == PGD_OP_FLUSH || op->merged_into) continue;
    int stmt;
    pgd_store_param_t p[PGD_SQL_MAX_SLOTS + 1];
    if (pgd_store_sql_op_params(op, &stmt, p) < 0) {
      op->status = -EINVAL;
      continue;
    }
    sqlite3_stmt *st = be->w[stmt];
    bind_params(st, p);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
      op->status = map_err(rc);
      PGD_WARN(MOD, "%s failed: %s", op_name(op->kind), sqlite3_errmsg(be->wdb));
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE && sqlite3_get_autocommit(be->wdb)) {
      /* SQLite rolled the whole transaction back (I/O error, disk full...):
       * nothing of this batch is stored. */
      int st_err = map_err(rc);
      for (pgd_store_op_t *o = ops; o; o = o->next) o->status = st_err;
      fail_all(ops, st_err);
      return;
    }
  }
  rc = step_simple(be->w[PGD_SQL_COMMIT]);
  if (rc != SQLITE_OK) {
    PGD_ERROR(MOD, "COMMIT failed (%zu writes lost): %s", n, sqlite3_errmsg(be->wdb));
    if (!sqlite3_get_autocommit(be->wdb)) step_simple(be->w[PGD_SQL_ROLLBACK]);
    fail_all(ops, map_err(rc));
  }
}

/* ---- reads -------------------------------------------------------------- */

/* The read connection's statement `idx`, prepared on first use and kept.
 * Caller holds rmu. */
static sqlite3_stmt *rstmt(sqlite_be_t *be, int idx) {
  if (be->r[idx]) return be->r[idx];
  int rc = sqlite3_prepare_v3(be->rdb, be->sql[idx].text, -1, SQLITE_PREPARE_PERSISTENT,
                              &be->r[idx], NULL);
  if (rc != SQLITE_OK) {
    PGD_ERROR(MOD, "cannot prepare a read: %s", sqlite3_errmsg(be->rdb));
    be->r[idx] = NULL;
  }
  return be->r[idx];
}

static void sqlite_read_lock(void *bep) { pthread_mutex_lock(&((sqlite_be_t *)bep)->rmu); }
static void sqlite_read_unlock(void *bep) { pthread_mutex_unlock(&((sqlite_be_t *)bep)->rmu); }

static int sqlite_read_rows(void *bep, int stmt, const pgd_store_param_t *p,
                            const pgd_store_record_t *rec, cJSON *arr) {
  sqlite_be_t *be = bep;
  sqlite3_stmt *st = rstmt(be, stmt);
  if (!st) return -EIO;
  bind_params(st, p);
  int rc, err = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    pgd_store_row_t row;
    read_row(st, rec, &row);
    cJSON *o = pgd_store_record_to_json(rec, &row);
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

static int64_t sqlite_read_scalar(void *bep, int stmt) {
  sqlite_be_t *be = bep;
  sqlite3_stmt *st = rstmt(be, stmt);
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

/* A read transaction: one snapshot of the WAL for its reads. */
static int sqlite_snapshot_begin(void *bep) {
  sqlite_be_t *be = bep;
  sqlite3_stmt *st = rstmt(be, PGD_SQL_BEGIN_READ);
  int rc = st ? step_simple(st) : SQLITE_ERROR;
  return rc == SQLITE_OK ? 0 : map_err(rc);
}

static void sqlite_snapshot_end(void *bep) {
  sqlite_be_t *be = bep;
  if (sqlite3_get_autocommit(be->rdb)) return;
  sqlite3_stmt *st = rstmt(be, PGD_SQL_COMMIT);
  if (st) step_simple(st);
}

/* ---- open / close ------------------------------------------------------- */

static void sqlite_destroy(void *bep) {
  sqlite_be_t *be = bep;
  if (!be) return;
  for (int i = 0; i < PGD_SQL_COUNT; i++) {
    sqlite3_finalize(be->r[i]);
    sqlite3_finalize(be->w[i]);
  }
  if (be->rdb) sqlite3_close(be->rdb);
  if (be->wdb && sqlite3_close(be->wdb) != SQLITE_OK)
    PGD_WARN(MOD, "closing the database: %s", sqlite3_errmsg(be->wdb));
  pthread_mutex_destroy(&be->rmu);
  free(be->path);
  free(be->sql);
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
    rc = sqlite3_exec(db, be->sql[PGD_SQL_BEGIN_WRITE].text, NULL, NULL, NULL);
  }
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(db, be->sql[PGD_SQL_EPOCH_ACQUIRE].text, -1, &st, NULL);
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
  if (rc == SQLITE_OK) rc = sqlite3_exec(db, be->sql[PGD_SQL_COMMIT].text, NULL, NULL, NULL);
  if (rc != SQLITE_OK) {
    if (err && errlen)
      snprintf(err, errlen, "%s: cannot acquire the cluster epoch: %s", be->path,
               db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    if (db && !sqlite3_get_autocommit(db)) sqlite3_exec(db, be->sql[PGD_SQL_ROLLBACK].text, NULL, NULL, NULL);
  }
  sqlite3_close(db);
  return map_err(rc);
}

static const pgd_store_backend_ops_t sqlite_ops = {
    .name = "sqlite",
    .apply_batch = sqlite_apply_batch,
    .acquire_epoch = sqlite_acquire_epoch,
    .read_lock = sqlite_read_lock,
    .read_unlock = sqlite_read_unlock,
    .read_rows = sqlite_read_rows,
    .read_scalar = sqlite_read_scalar,
    .snapshot_begin = sqlite_snapshot_begin,
    .snapshot_end = sqlite_snapshot_end,
    .destroy = sqlite_destroy,
};

#define FAIL(code, ...) return pgd_set_err(err, errlen, (code), __VA_ARGS__)

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

/* ---- the migration runner's callbacks (store_migrate.c) ---------------- */

/* -errno of the last failure on db, its message in msg. */
static int db_fail(sqlite3 *db, int rc, char *msg, size_t msglen) {
  snprintf(msg, msglen, "%s", sqlite3_errmsg(db));
  return map_err(rc);
}

static int mig_begin(void *bep, char *msg, size_t msglen) {
  sqlite_be_t *be = bep;
  int rc = exec_sql(be->wdb, be->sql[PGD_SQL_BEGIN_WRITE].text);
  if (rc == SQLITE_OK) rc = exec_sql(be->wdb, be->sql[PGD_SQL_SCHEMA_TABLE].text);
  return rc == SQLITE_OK ? 0 : db_fail(be->wdb, rc, msg, msglen);
}

static int mig_version(void *bep, int64_t *out, char *msg, size_t msglen) {
  sqlite_be_t *be = bep;
  int rc = query_int(be->wdb, be->sql[PGD_SQL_SCHEMA_VERSION].text, out);
  return rc == SQLITE_OK ? 0 : db_fail(be->wdb, rc, msg, msglen);
}

static int mig_apply(void *bep, const pgd_store_migration_t *m, char *msg, size_t msglen) {
  sqlite_be_t *be = bep;
  char *emsg = NULL;
  int rc = sqlite3_exec(be->wdb, m->sql, NULL, NULL, &emsg);
  if (rc != SQLITE_OK) {
    snprintf(msg, msglen, "%s", emsg ? emsg : sqlite3_errmsg(be->wdb));
    sqlite3_free(emsg);
    return map_err(rc);
  }
  sqlite3_stmt *st = NULL;
  pgd_store_param_t p[4] = {{0}};
  p[1] = (pgd_store_param_t){.type = PGD_PARAM_INT, .i = m->version};
  p[2] = (pgd_store_param_t){.type = PGD_PARAM_TEXT, .s = m->description};
  p[3] = (pgd_store_param_t){.type = PGD_PARAM_INT, .i = pgd_now_us()};
  rc = sqlite3_prepare_v2(be->wdb, be->sql[PGD_SQL_SCHEMA_RECORD].text, -1, &st, NULL);
  if (rc == SQLITE_OK) {
    bind_params(st, p);
    rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(be->wdb);
  }
  rc = rc == SQLITE_OK ? 0 : db_fail(be->wdb, rc, msg, msglen);
  sqlite3_finalize(st);
  return rc;
}

static int mig_commit(void *bep, char *msg, size_t msglen) {
  sqlite_be_t *be = bep;
  int rc = exec_sql(be->wdb, be->sql[PGD_SQL_COMMIT].text);
  return rc == SQLITE_OK ? 0 : db_fail(be->wdb, rc, msg, msglen);
}

static void mig_rollback(void *bep) {
  sqlite_be_t *be = bep;
  if (!sqlite3_get_autocommit(be->wdb)) exec_sql(be->wdb, be->sql[PGD_SQL_ROLLBACK].text);
}

static int migrate(sqlite_be_t *be, const char *path, char *err, size_t errlen) {
  const pgd_store_migrator_t mig = {.where = path,
                                    .list = pgd_store_sqlite_migrations,
                                    .count = pgd_store_sqlite_migration_count,
                                    .begin = mig_begin,
                                    .version = mig_version,
                                    .apply = mig_apply,
                                    .commit = mig_commit,
                                    .rollback = mig_rollback};
  return pgd_store_migrate(&mig, be, err, errlen);
}

/* The statements of the writer thread, prepared once at open. */
static const int writer_stmts[] = {
    PGD_SQL_PUT_JOB,    PGD_SQL_PUT_EXECUTION, PGD_SQL_PUT_ATTEMPT, PGD_SQL_PUT_WORKER,
    PGD_SQL_PUT_DOC,    PGD_SQL_DELETE_JOB,    PGD_SQL_DELETE_DOC,  PGD_SQL_DELETE_DOCS,
    PGD_SQL_BEGIN_WRITE, PGD_SQL_COMMIT,       PGD_SQL_ROLLBACK,    PGD_SQL_EPOCH_CHECK,
    PGD_SQL_EXPIRE_KEYS,
    /* store_logs.c (migration 6) */
    PGD_SQL_PUT_LOG_CHUNK, PGD_SQL_PUT_BLOB_CHUNK, PGD_SQL_DELETE_BLOB, PGD_SQL_DELETE_EXECUTION};

static int prepare_writer(sqlite_be_t *be, const char *path, char *err, size_t errlen) {
  for (size_t k = 0; k < sizeof(writer_stmts) / sizeof(writer_stmts[0]); k++) {
    int i = writer_stmts[k];
    int rc = sqlite3_prepare_v3(be->wdb, be->sql[i].text, -1, SQLITE_PREPARE_PERSISTENT, &be->w[i],
                                NULL);
    if (rc != SQLITE_OK)
      FAIL(map_err(rc), "%s: cannot prepare a write: %s", path, sqlite3_errmsg(be->wdb));
  }
  return 0;
}

static int open_backend(const char *path, sqlite_be_t *be, char *err, size_t errlen) {
  /* Create the file ourselves, 0600: SQLite would make it 0644, and the WAL
   * and shared-memory files copy the database file's mode. */
  if (path[0] != ':' && strncmp(path, "file:", 5) != 0) { /* not ":memory:" or a URI */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) close(fd);
  }
  int rc = sqlite3_open_v2(path, &be->wdb,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK)
    FAIL(rc == SQLITE_CANTOPEN ? -ENOENT : map_err(rc), "cannot open the database %s: %s", path,
         be->wdb ? sqlite3_errmsg(be->wdb) : sqlite3_errstr(rc));
  if ((rc = set_pragmas(be->wdb, path, err, errlen)) < 0) return rc;
  if ((rc = migrate(be, path, err, errlen)) < 0) return rc;
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
  if (!(be->path = strdup(path)) || !(be->sql = pgd_store_sql_build_all(PGD_SQL_SQLITE))) {
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
