/* Pagoda — the PostgreSQL backend of the store (libpq): connections,
 * migrations, write batches, the cluster epoch, open and close. Reads are in
 * store_pg_read.c.
 *
 * Two connections:
 *  - the writer connection, used only by the store's writer thread once the
 *    store is started. A batch is ONE transaction, sent in libpq pipeline
 *    mode in chunks of PG_CHUNK statements (one round trip per chunk, not
 *    per write), then COMMIT (durable per the server's synchronous_commit;
 *    the store refuses to run with it off).
 *  - the read connection (reads and acquire_epoch), under `rmu`.
 * A PostgreSQL error aborts the whole transaction, unlike SQLite where only
 * the failing statement is undone. To keep the store's contract (a write
 * that fails a constraint fails alone), the batch is rolled back, the
 * failing write gets its error, and the batch is replayed without it. Every
 * write is an idempotent upsert or delete, so a replay stores exactly what
 * one clean pass would have. Each replay removes one write, so a batch ends
 * after at most n+1 passes; failing writes are rare (an attempt whose
 * execution is not stored). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "store/store_pg.h"

#define MOD "store"
#define PG_CHUNK 256
/* pg_advisory_xact_lock key held while migrating: "pagoda" in ASCII */
#define PG_MIGRATION_LOCK "112585974640737"

/* ---- helpers shared with store_pg_read.c -------------------------------- */

int pgd_store_pg_errno(const PGresult *res, PGconn *c) {
  if (c && PQstatus(c) == CONNECTION_BAD) return -EIO;
  const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (!st) return -EIO;
  if (!strncmp(st, "22", 2) || !strncmp(st, "23", 2)) return -EINVAL; /* data, constraint */
  if (!strcmp(st, "53100")) return -ENOSPC;
  if (!strcmp(st, "53200")) return -ENOMEM;
  if (!strncmp(st, "40", 2) || !strcmp(st, "55P03") || !strcmp(st, "57014")) return -EBUSY;
  if (!strcmp(st, "25006")) return -EROFS;
  if (!strncmp(st, "28", 2) || !strcmp(st, "42501")) return -EACCES;
  return -EIO;
}

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

int pgd_store_pg_select(const pgd_store_record_t *rec, char *buf, size_t cap) {
  size_t len = 0;
  if (sb_add(buf, cap, &len, "SELECT ") < 0) return -1;
  for (size_t i = 0; i < rec->nfields; i++)
    if (sb_add(buf, cap, &len, "%s\"%s\"", i ? "," : "", rec->fields[i].name) < 0) return -1;
  if (rec->has_data && sb_add(buf, cap, &len, ",\"data\"") < 0) return -1;
  return sb_add(buf, cap, &len, " FROM \"%s\"", rec->table);
}

static void on_notice(void *arg, const char *message) {
  (void)arg;
  PGD_DEBUG(MOD, "postgresql: %.*s", (int)strcspn(message, "\n"), message);
}

void pgd_store_pg_quiet(PGconn *c) { PQsetNoticeProcessor(c, on_notice, NULL); }

/* First line of the connection's error message (static per connection). */
static const char *conn_msg(PGconn *c) {
  static __thread char line[256];
  const char *m = c ? PQerrorMessage(c) : "out of memory";
  snprintf(line, sizeof(line), "%.*s", (int)strcspn(m, "\n"), m);
  return line;
}

int pgd_store_pg_ensure(PGconn *c, const char *what) {
  if (PQstatus(c) == CONNECTION_OK) return 0;
  PGD_WARN(MOD, "postgresql %s connection lost; reconnecting", what);
  PQreset(c);
  if (PQstatus(c) != CONNECTION_OK) {
    PGD_ERROR(MOD, "postgresql %s connection: %s", what, conn_msg(c));
    return -EIO;
  }
  return 0;
}

/* Runs one command; 0 or -errno (message in err when err != NULL). The
 * result is returned in *out when out != NULL (caller PQclears). */
static int pexec(PGconn *c, const char *sql, int np, const char *const *vals, PGresult **out,
                 char *err, size_t errlen) {
  PGresult *res = np ? PQexecParams(c, sql, np, NULL, vals, NULL, NULL, 0) : PQexec(c, sql);
  ExecStatusType st = PQresultStatus(res);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    if (out) *out = res;
    else PQclear(res);
    return 0;
  }
  int rc = res ? pgd_store_pg_errno(res, c) : -ENOMEM;
  if (err && errlen) snprintf(err, errlen, "%s", conn_msg(c));
  PQclear(res);
  if (out) *out = NULL;
  return rc;
}

/* ---- writer statements -------------------------------------------------- */

static const char *const w_names[] = {"pgd_job", "pgd_exec", "pgd_attempt", "pgd_worker",
                                      "pgd_doc"};
static const pgd_store_record_t *const w_recs[] = {&pgd_store_rec_job, &pgd_store_rec_execution,
                                                   &pgd_store_rec_attempt, &pgd_store_rec_worker,
                                                   &pgd_store_rec_doc};
#define W_RECS 5

static int build_upsert(const pgd_store_record_t *rec, char *buf, size_t cap) {
  size_t len = 0, n = rec->nfields + (rec->has_data ? 1 : 0);
  if (sb_add(buf, cap, &len, "INSERT INTO \"%s\" (", rec->table) < 0) return -1;
  for (size_t i = 0; i < rec->nfields; i++)
    if (sb_add(buf, cap, &len, "%s\"%s\"", i ? "," : "", rec->fields[i].name) < 0) return -1;
  if (rec->has_data && sb_add(buf, cap, &len, ",\"data\"") < 0) return -1;
  if (sb_add(buf, cap, &len, ") VALUES (") < 0) return -1;
  for (size_t i = 0; i < n; i++)
    if (sb_add(buf, cap, &len, "%s$%zu", i ? "," : "", i + 1) < 0) return -1;
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

static int prepare_one(PGconn *c, const char *name, const char *sql, int np, char *err,
                       size_t errlen) {
  PGresult *res = PQprepare(c, name, sql, np, NULL);
  int rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : (res ? pgd_store_pg_errno(res, c) : -ENOMEM);
  if (rc < 0) {
    if (err && errlen) snprintf(err, errlen, "cannot prepare %s: %s", name, conn_msg(c));
    PGD_ERROR(MOD, "postgresql: cannot prepare %s: %s", name, conn_msg(c));
  }
  PQclear(res);
  return rc;
}

static int prepare_writer(pg_be_t *be, char *err, size_t errlen) {
  char sql[2048];
  for (int k = 0; k < W_RECS; k++) {
    if (build_upsert(w_recs[k], sql, sizeof(sql)) < 0) return -EINVAL;
    int np = (int)w_recs[k]->nfields + (w_recs[k]->has_data ? 1 : 0);
    int rc = prepare_one(be->w, w_names[k], sql, np, err, errlen);
    if (rc < 0) return rc;
  }
  int rc = prepare_one(be->w, "pgd_del_job", "DELETE FROM \"jobs\" WHERE \"name\"=$1", 1, err, errlen);
  if (rc == 0)
    rc = prepare_one(be->w, "pgd_del_doc", "DELETE FROM \"docs\" WHERE \"kind\"=$1 AND \"id\"=$2",
                     2, err, errlen);
  if (rc == 0)
    rc = prepare_one(be->w, "pgd_del_docs",
                     "DELETE FROM \"docs\" WHERE \"kind\"=$1 AND \"parent\"=$2", 2, err, errlen);
  if (rc == 0)
    rc = prepare_one(be->w, "pgd_epoch",
                     "SELECT \"epoch\" FROM \"cluster\" WHERE \"id\"=1 FOR SHARE", 0, err, errlen);
  be->w_prepared = rc == 0;
  return rc;
}

/* ---- batches ------------------------------------------------------------ */

enum { EX_BEGIN, EX_EPOCH, EX_OP };
typedef struct {
  int kind;
  pgd_store_op_t *op;
} expect_t;

static int send_op(PGconn *c, pgd_store_op_t *op) {
  const char *vals[PGD_STORE_MAX_COLS + 1];
  char ibuf[PGD_STORE_MAX_COLS][24];
  if (op->kind == PGD_OP_DELETE_JOB) {
    vals[0] = op->row.v[0].s;
    return PQsendQueryPrepared(c, "pgd_del_job", 1, vals, NULL, NULL, 0);
  }
  if (op->kind == PGD_OP_DELETE_DOC || op->kind == PGD_OP_DELETE_DOCS) {
    vals[0] = op->row.v[0].s;
    vals[1] = op->row.v[1].s;
    return PQsendQueryPrepared(c, op->kind == PGD_OP_DELETE_DOC ? "pgd_del_doc" : "pgd_del_docs",
                               2, vals, NULL, NULL, 0);
  }
  int k;
  switch (op->kind) {
  case PGD_OP_PUT_JOB: k = 0; break;
  case PGD_OP_PUT_EXECUTION: k = 1; break;
  case PGD_OP_PUT_ATTEMPT: k = 2; break;
  case PGD_OP_PUT_WORKER: k = 3; break;
  case PGD_OP_PUT_DOC: k = 4; break;
  default: return 0;
  }
  const pgd_store_record_t *rec = w_recs[k];
  for (size_t i = 0; i < rec->nfields; i++) {
    const pgd_store_val_t *v = &op->row.v[i];
    if (!v->present) vals[i] = NULL;
    else if (rec->fields[i].kind == PGD_COL_INT) {
      snprintf(ibuf[i], sizeof(ibuf[i]), "%" PRId64, v->i);
      vals[i] = ibuf[i];
    } else vals[i] = v->s;
  }
  int np = (int)rec->nfields;
  if (rec->has_data) vals[np++] = op->row.data;
  return PQsendQueryPrepared(c, w_names[k], np, vals, NULL, NULL, 0);
}

/* Reads the results of one chunk up to its sync point. Sets *bad_op when a
 * write failed on its own (a constraint or data error), returns a negative
 * value when the batch as a whole fails. */
static int drain(PGconn *c, const expect_t *ex, size_t ne, int64_t epoch, int *bad_op) {
  size_t i = 0;
  int nulls = 0, rc = 0;
  for (;;) {
    PGresult *res = PQgetResult(c);
    if (!res) {
      if (PQstatus(c) == CONNECTION_BAD || ++nulls > 1) return rc ? rc : -EIO;
      continue;
    }
    nulls = 0;
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_PIPELINE_SYNC) {
      PQclear(res);
      return rc;
    }
    const expect_t *e = i < ne ? &ex[i++] : NULL;
    if (e && st == PGRES_FATAL_ERROR && rc == 0 && !*bad_op) {
      int code = pgd_store_pg_errno(res, c);
      const char *msg = PQresultErrorMessage(res);
      if (e->kind == EX_OP && code == -EINVAL) {
        e->op->status = code;
        *bad_op = 1;
        PGD_WARN(MOD, "a write failed: %.*s", (int)strcspn(msg, "\n"), msg);
      } else {
        rc = code;
        PGD_ERROR(MOD, "write batch failed: %.*s", (int)strcspn(msg, "\n"), msg);
      }
    } else if (e && e->kind == EX_EPOCH && st == PGRES_TUPLES_OK) {
      int64_t stored = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
      if (stored != epoch) {
        PGD_ERROR(MOD, "epoch fencing: the cluster epoch is %lld, this store writes as %lld",
                  (long long)stored, (long long)epoch);
        rc = -ESTALE;
      }
    }
    PQclear(res);
  }
}

/* One pass over the batch: 0 committed, 1 a write failed alone (replay),
 * < 0 the batch failed. */
static int run_once(pg_be_t *be, pgd_store_op_t *ops, int64_t epoch) {
  PGconn *c = be->w;
  if (!PQenterPipelineMode(c)) return -EIO;
  expect_t ex[PG_CHUNK + 2];
  int rc = 0, bad_op = 0, first = 1;
  pgd_store_op_t *op = ops;
  while (rc == 0 && !bad_op && (first || op)) {
    size_t ne = 0;
    if (first) {
      if (!PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)) rc = -EIO;
      ex[ne++] = (expect_t){EX_BEGIN, NULL};
      if (epoch > 0) {
        if (!PQsendQueryPrepared(c, "pgd_epoch", 0, NULL, NULL, NULL, 0)) rc = -EIO;
        ex[ne++] = (expect_t){EX_EPOCH, NULL};
      }
      first = 0;
    }
    for (; rc == 0 && op && ne < PG_CHUNK + 2; op = op->next) {
      if (op->status != 0 || op->kind == PGD_OP_FLUSH) continue;
      if (!send_op(c, op)) rc = -EIO;
      ex[ne++] = (expect_t){EX_OP, op};
    }
    if (rc < 0 || !PQpipelineSync(c)) {
      PGD_ERROR(MOD, "postgresql: sending a batch: %s", conn_msg(c));
      be->w_broken = 1;
      return -EIO;
    }
    rc = drain(c, ex, ne, epoch, &bad_op);
  }
  if (!PQexitPipelineMode(c)) {
    PGD_ERROR(MOD, "postgresql: leaving pipeline mode: %s", conn_msg(c));
    be->w_broken = 1;
    return rc < 0 ? rc : -EIO;
  }
  if (rc < 0 || bad_op) {
    PQclear(PQexec(c, "ROLLBACK"));
    return rc < 0 ? rc : 1;
  }
  be->commit_sent = 1;
  PGresult *res = PQexec(c, "COMMIT");
  if (PQresultStatus(res) != PGRES_COMMAND_OK) {
    rc = res ? pgd_store_pg_errno(res, c) : -ENOMEM;
    PGD_ERROR(MOD, "COMMIT failed: %s", conn_msg(c));
  }
  PQclear(res);
  return rc;
}

static int writer_ready(pg_be_t *be) {
  if (be->w_broken || PQstatus(be->w) != CONNECTION_OK) {
    if (PQstatus(be->w) == CONNECTION_OK) PQreset(be->w);
    be->w_broken = 0;
    be->w_prepared = 0;
    if (pgd_store_pg_ensure(be->w, "writer") < 0) return -EIO;
  }
  if (PQtransactionStatus(be->w) != PQTRANS_IDLE) PQclear(PQexec(be->w, "ROLLBACK"));
  if (!be->w_prepared) return prepare_writer(be, NULL, 0);
  return 0;
}

static void pg_apply_batch(void *bep, pgd_store_op_t *ops, size_t n, int64_t epoch) {
  pg_be_t *be = bep;
  for (pgd_store_op_t *op = ops; op; op = op->next) op->status = 0;
  int rc = writer_ready(be);
  int reconnected = 0, finished = 0;
  /* at most n passes that each drop one failing write, one replay after a
   * reconnection, and the final pass */
  for (size_t pass = 0; rc == 0 && pass <= n + 1; pass++) {
    be->commit_sent = 0;
    rc = run_once(be, ops, epoch);
    /* The connection broke before COMMIT was sent (e.g. the server closed an
     * idle session): nothing was stored, so reconnect and replay once. A
     * break during COMMIT leaves the outcome unknown: report -EIO. */
    if (rc == -EIO && !be->commit_sent && !reconnected && PQstatus(be->w) == CONNECTION_BAD) {
      reconnected = 1;
      be->w_broken = 1;
      rc = writer_ready(be);
      if (rc == 0) rc = 1;
    }
    if (rc != 1) {
      finished = 1;
      break;
    }
    rc = 0;
  }
  if (rc == 0 && !finished) rc = -EIO; /* cannot happen; never report an uncommitted batch */
  for (pgd_store_op_t *op = ops; op; op = op->next) {
    if (rc == -ESTALE) op->status = rc;
    else if (rc < 0 && op->status == 0) op->status = rc;
    pgd_store_row_free(&op->row);
  }
  if (rc < 0 && rc != -ESTALE) PGD_ERROR(MOD, "write batch failed (%zu writes lost)", n);
}

/* ---- epoch -------------------------------------------------------------- */

static int pg_acquire_epoch(void *bep, int64_t *out, char *err, size_t errlen) {
  pg_be_t *be = bep;
  char now[24];
  snprintf(now, sizeof(now), "%" PRId64, pgd_now_us());
  const char *vals[1] = {now};
  PGresult *res = NULL;
  pthread_mutex_lock(&be->rmu);
  int rc = pgd_store_pg_ensure(be->r, "read");
  if (rc == 0)
    rc = pexec(be->r,
               "UPDATE \"cluster\" SET \"epoch\"=\"epoch\"+1, \"updated_us\"=$1 WHERE \"id\"=1 "
               "RETURNING \"epoch\"",
               1, vals, &res, err, errlen);
  if (rc == 0) {
    if (PQntuples(res) == 1) *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    else {
      rc = -EIO;
      if (err && errlen) snprintf(err, errlen, "the cluster row is missing");
    }
  } else if (err && errlen && rc == -EIO && !err[0]) {
    snprintf(err, errlen, "%s", conn_msg(be->r));
  }
  PQclear(res);
  pthread_mutex_unlock(&be->rmu);
  return rc;
}

/* ---- open / close ------------------------------------------------------- */

static void pg_destroy(void *bep) {
  pg_be_t *be = bep;
  if (!be) return;
  if (be->w) PQfinish(be->w);
  if (be->r) PQfinish(be->r);
  pthread_mutex_destroy(&be->rmu);
  free(be->conninfo);
  free(be);
}

static const pgd_store_backend_ops_t pg_ops = {
    .name = "postgresql",
    .apply_batch = pg_apply_batch,
    .acquire_epoch = pg_acquire_epoch,
    .get_job = pgd_store_pg_get_job,
    .list_jobs = pgd_store_pg_list_jobs,
    .get_execution = pgd_store_pg_get_execution,
    .list_executions = pgd_store_pg_list_executions,
    .list_unfinished_executions = pgd_store_pg_list_unfinished,
    .list_workers = pgd_store_pg_list_workers,
    .max_execution_id = pgd_store_pg_max_execution_id,
    .schema_version = pgd_store_pg_schema_version,
    .get_doc = pgd_store_pg_get_doc,
    .list_docs = pgd_store_pg_list_docs,
    .destroy = pg_destroy,
};

#define FAIL(code, ...)                                    \
  do {                                                     \
    if (err && errlen) snprintf(err, errlen, __VA_ARGS__); \
    return (code);                                         \
  } while (0)

static int connect_one(const char *conninfo, PGconn **out, const char *what, char *err,
                       size_t errlen) {
  PGconn *c = *out = PQconnectdb(conninfo);
  if (!c) FAIL(-ENOMEM, "out of memory");
  if (PQstatus(c) != CONNECTION_OK)
    FAIL(-ECONNREFUSED, "cannot connect to postgresql (%s connection): %s", what, conn_msg(c));
  pgd_store_pg_quiet(c);
  if (PQsetClientEncoding(c, "UTF8") != 0)
    FAIL(-EIO, "postgresql: cannot set the client encoding: %s", conn_msg(c));
  /* durability is the store's contract: refuse to lose commits silently */
  PGresult *res = NULL;
  if (pexec(c, "SHOW synchronous_commit", 0, NULL, &res, NULL, 0) == 0 && PQntuples(res) == 1 &&
      strcmp(PQgetvalue(res, 0, 0), "off") == 0) {
    PGD_WARN(MOD, "postgresql: synchronous_commit is off; the store sets it to on");
    PQclear(PQexec(c, "SET synchronous_commit TO on"));
  }
  PQclear(res);
  return 0;
}

/* Each migration in its own transaction holding an advisory lock, with the
 * version re-read under the lock: masters migrating the same database at
 * once wait for each other and apply each version once. */
static int migrate(PGconn *c, char *err, size_t errlen) {
  const size_t count = pgd_store_pg_migration_count;
  const int latest = pgd_store_pg_migrations[count - 1].version;
  char msg[256] = "";
  long long from = -1;
  for (size_t i = 0;; i++) {
    PGresult *res = NULL;
    int rc = pexec(c, "BEGIN", 0, NULL, NULL, msg, sizeof(msg));
    if (rc == 0)
      rc = pexec(c, "SELECT pg_advisory_xact_lock(" PG_MIGRATION_LOCK ")", 0, NULL, NULL, msg,
                 sizeof(msg));
    if (rc == 0)
      rc = pexec(c,
                 "CREATE TABLE IF NOT EXISTS \"pagoda_schema\" ("
                 "\"version\" INTEGER PRIMARY KEY NOT NULL, "
                 "\"description\" TEXT NOT NULL, "
                 "\"applied_us\" BIGINT NOT NULL)",
                 0, NULL, NULL, msg, sizeof(msg));
    if (rc == 0)
      rc = pexec(c, "SELECT coalesce(max(\"version\"),0) FROM \"pagoda_schema\"", 0, NULL, &res,
                 msg, sizeof(msg));
    if (rc < 0) {
      PQclear(PQexec(c, "ROLLBACK"));
      FAIL(rc, "postgresql: cannot read the schema version: %s", msg);
    }
    long long cur = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (cur > latest) {
      PQclear(PQexec(c, "ROLLBACK"));
      FAIL(-ENOTSUP,
           "postgresql: database schema version %lld is newer than this pagoda knows (%d); "
           "upgrade pagoda or use another database",
           cur, latest);
    }
    if (from < 0) from = cur;
    while (i < count && pgd_store_pg_migrations[i].version <= cur) i++;
    if (i >= count) {
      rc = pexec(c, "COMMIT", 0, NULL, NULL, err, errlen);
      if (rc == 0 && cur > from)
        PGD_INFO(MOD, "postgresql: schema migrated from version %lld to %lld", from, cur);
      return rc;
    }
    const pgd_store_migration_t *m = &pgd_store_pg_migrations[i];
    char ver[16], now[24];
    snprintf(ver, sizeof(ver), "%d", m->version);
    snprintf(now, sizeof(now), "%" PRId64, pgd_now_us());
    const char *vals[3] = {ver, m->description, now};
    rc = pexec(c, m->sql, 0, NULL, NULL, msg, sizeof(msg));
    if (rc == 0)
      rc = pexec(c, "INSERT INTO \"pagoda_schema\" VALUES ($1, $2, $3)", 3, vals, NULL, msg,
                 sizeof(msg));
    if (rc == 0) rc = pexec(c, "COMMIT", 0, NULL, NULL, msg, sizeof(msg));
    if (rc < 0) {
      PQclear(PQexec(c, "ROLLBACK"));
      FAIL(rc, "postgresql: migration %d (%s) failed: %s", m->version, m->description, msg);
    }
    PGD_DEBUG(MOD, "postgresql: schema migrated to version %d (%s)", m->version, m->description);
  }
}

int pgd_store_open_postgres(uv_loop_t *loop, const char *conninfo, pgd_store_t **out, char *err,
                            size_t errlen) {
  if (out) *out = NULL;
  if (err && errlen) err[0] = '\0';
  if (!loop || !out || !conninfo) FAIL(-EINVAL, "store: a loop and a connection string are required");
  pg_be_t *be = calloc(1, sizeof(*be));
  if (!be) FAIL(-ENOMEM, "out of memory");
  pthread_mutex_init(&be->rmu, NULL);
  int rc = (be->conninfo = strdup(conninfo)) ? 0 : -ENOMEM;
  if (rc < 0 && err && errlen) snprintf(err, errlen, "out of memory");
  if (rc == 0) rc = connect_one(conninfo, &be->w, "writer", err, errlen);
  if (rc == 0) rc = migrate(be->w, err, errlen);
  if (rc == 0) rc = prepare_writer(be, err, errlen);
  if (rc == 0) rc = connect_one(conninfo, &be->r, "read", err, errlen);
  if (rc < 0) {
    pg_destroy(be);
    return rc;
  }
  char where[256];
  snprintf(where, sizeof(where), "database %s on %s port %s", PQdb(be->w), PQhost(be->w),
           PQport(be->w));
  rc = pgd_store_start(loop, &pg_ops, be, out, err, errlen);
  if (rc == 0)
    PGD_INFO(MOD, "opened %s (postgresql, schema version %d)", where, pgd_store_schema_version(*out));
  return rc;
}
