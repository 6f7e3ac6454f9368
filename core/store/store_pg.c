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
 * execution is not stored). The SQL is the catalog's (store_sql.c,
 * PostgreSQL dialect: $k is slot sql->slot[k-1]). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
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

void pgd_store_pg_values(const pgd_store_sql_t *sql, const pgd_store_param_t *p,
                        const char **vals, char ibuf[][24]) {
  for (int k = 0; k < sql->nparams; k++) {
    const pgd_store_param_t *v = p ? &p[sql->slot[k]] : NULL;
    if (!v || v->type == PGD_PARAM_NULL) vals[k] = NULL;
    else if (v->type == PGD_PARAM_TEXT) vals[k] = v->s;
    else {
      snprintf(ibuf[k], 24, "%" PRId64, v->i);
      vals[k] = ibuf[k];
    }
  }
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

/* The statements of the writer connection, prepared as "pgd_<index>". */
static const int writer_stmts[] = {PGD_SQL_PUT_JOB,     PGD_SQL_PUT_EXECUTION, PGD_SQL_PUT_ATTEMPT,
                                   PGD_SQL_PUT_WORKER,  PGD_SQL_PUT_DOC,       PGD_SQL_DELETE_JOB,
                                   PGD_SQL_DELETE_DOC,  PGD_SQL_DELETE_DOCS,   PGD_SQL_EPOCH_CHECK,
                                   PGD_SQL_EXPIRE_KEYS,
                                   /* store_logs.c (migration 6) */
                                   PGD_SQL_PUT_LOG_CHUNK, PGD_SQL_PUT_BLOB_CHUNK, PGD_SQL_DELETE_BLOB,
                                   PGD_SQL_DELETE_EXECUTION};

static void stmt_name(int stmt, char *buf, size_t cap) { snprintf(buf, cap, "pgd_%d", stmt); }

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
  int rc = 0;
  for (size_t k = 0; rc == 0 && k < sizeof(writer_stmts) / sizeof(writer_stmts[0]); k++) {
    const pgd_store_sql_t *sql = &be->sql[writer_stmts[k]];
    char name[16];
    stmt_name(writer_stmts[k], name, sizeof(name));
    rc = prepare_one(be->w, name, sql->text, sql->nparams, err, errlen);
  }
  be->w_prepared = rc == 0;
  return rc;
}

/* ---- batches ------------------------------------------------------------ */

enum { EX_BEGIN, EX_EPOCH, EX_OP };
typedef struct {
  int kind;
  pgd_store_op_t *op;
} expect_t;

static int send_op(pg_be_t *be, pgd_store_op_t *op) {
  const char *vals[PGD_SQL_MAX_SLOTS];
  char ibuf[PGD_SQL_MAX_SLOTS][24];
  pgd_store_param_t p[PGD_SQL_MAX_SLOTS + 1];
  int stmt;
  if (pgd_store_sql_op_params(op, &stmt, p) < 0) return 0;
  char name[16];
  stmt_name(stmt, name, sizeof(name));
  pgd_store_pg_values(&be->sql[stmt], p, vals, ibuf);
  return PQsendQueryPrepared(be->w, name, be->sql[stmt].nparams, vals, NULL, NULL, 0);
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
      if (!PQsendQueryParams(c, be->sql[PGD_SQL_BEGIN_WRITE].text, 0, NULL, NULL, NULL, NULL, 0))
        rc = -EIO;
      ex[ne++] = (expect_t){EX_BEGIN, NULL};
      if (epoch > 0) {
        char name[16];
        stmt_name(PGD_SQL_EPOCH_CHECK, name, sizeof(name));
        if (!PQsendQueryPrepared(c, name, 0, NULL, NULL, NULL, 0)) rc = -EIO;
        ex[ne++] = (expect_t){EX_EPOCH, NULL};
      }
      first = 0;
    }
    for (; rc == 0 && op && ne < PG_CHUNK + 2; op = op->next) {
      if (op->status != 0 || op->kind == PGD_OP_FLUSH || op->merged_into) continue;
      if (!send_op(be, op)) rc = -EIO;
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
    PQclear(PQexec(c, be->sql[PGD_SQL_ROLLBACK].text));
    return rc < 0 ? rc : 1;
  }
  be->commit_sent = 1;
  PGresult *res = PQexec(c, be->sql[PGD_SQL_COMMIT].text);
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
  if (PQtransactionStatus(be->w) != PQTRANS_IDLE)
    PQclear(PQexec(be->w, be->sql[PGD_SQL_ROLLBACK].text));
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
  }
  if (rc < 0 && rc != -ESTALE) PGD_ERROR(MOD, "write batch failed (%zu writes lost)", n);
}

/* ---- epoch -------------------------------------------------------------- */

/* The epoch UPDATE waits for every write batch holding the epoch row FOR
 * SHARE. A batch of an older leader that was stopped (SIGSTOP, a hung host)
 * in the middle of its transaction would hold that lock until its process
 * runs again, and the take-over with it. So the UPDATE waits at most
 * lock_timeout; past that, the connections holding the row (RowShareLock on
 * "cluster": only write batches take it, never readers) belong to an older
 * leader, which the new epoch fences anyway: they are ended
 * (pg_terminate_backend rolls their batch back) and the UPDATE retried. */
#define EPOCH_LOCK_TIMEOUT "1s"
#define EPOCH_TRIES 20

static int pg_acquire_epoch(void *bep, int64_t *out, char *err, size_t errlen) {
  pg_be_t *be = bep;
  char now[24];
  snprintf(now, sizeof(now), "%" PRId64, pgd_now_us());
  const char *vals[1] = {now};
  PGresult *res = NULL;
  pthread_mutex_lock(&be->rmu);
  int rc = pgd_store_pg_ensure(be->r, "read");
  if (rc == 0)
    rc = pexec(be->r, "SET lock_timeout = '" EPOCH_LOCK_TIMEOUT "'", 0, NULL, NULL, err, errlen);
  char lerr[512] = ""; /* the caller's err may be NULL: the lock timeout is read here */
  for (int i = 0; rc == 0 && i < EPOCH_TRIES; i++) {
    lerr[0] = 0;
    rc = pexec(be->r, be->sql[PGD_SQL_EPOCH_ACQUIRE].text, 1, vals, &res, lerr, sizeof lerr);
    if (rc == 0) break;
    if (err && errlen) snprintf(err, errlen, "%s", lerr);
    if (!strstr(lerr, "lock timeout")) break;
    char self_w[16];
    snprintf(self_w, sizeof self_w, "%d", be->w ? PQbackendPID(be->w) : 0);
    const char *tv[1] = {self_w};
    PGD_WARN(MOD, "taking the cluster epoch waits on a write batch of an older leader (stopped "
                  "or hung): ending its database connection");
    rc = pexec(be->r,
               "SELECT pg_terminate_backend(l.pid) FROM pg_locks l WHERE l.relation = "
               "'\"cluster\"'::regclass AND l.mode = 'RowShareLock' AND l.granted AND "
               "l.pid <> pg_backend_pid() AND l.pid <> $1::int",
               1, tv, NULL, err, errlen);
    res = NULL; /* rc 0: retry the UPDATE */
  }
  if (rc == 0 && !res) {
    rc = -EIO;
    if (err && errlen) snprintf(err, errlen, "the cluster epoch stayed locked by an older leader");
  }
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
  if (be->r) {
    PGresult *r0 = PQexec(be->r, "SET lock_timeout = 0");
    PQclear(r0);
  }
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
  free(be->sql);
  free(be);
}

static const pgd_store_backend_ops_t pg_ops = {
    .name = "postgresql",
    .apply_batch = pg_apply_batch,
    .acquire_epoch = pg_acquire_epoch,
    .read_lock = pgd_store_pg_read_lock,
    .read_unlock = pgd_store_pg_read_unlock,
    .read_rows = pgd_store_pg_read_rows,
    .read_scalar = pgd_store_pg_read_scalar,
    .snapshot_begin = pgd_store_pg_snapshot_begin,
    .snapshot_end = pgd_store_pg_snapshot_end,
    .destroy = pg_destroy,
};

#define FAIL(code, ...) return pgd_set_err(err, errlen, (code), __VA_ARGS__)

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

/* ---- the migration runner's callbacks (store_migrate.c) ----------------
 * The advisory lock makes masters migrating the same database at once wait
 * for each other; the runner re-reads the version under it. */

static int mig_begin(void *bep, char *msg, size_t msglen) {
  pg_be_t *be = bep;
  int rc = pexec(be->w, be->sql[PGD_SQL_BEGIN_WRITE].text, 0, NULL, NULL, msg, msglen);
  if (rc == 0)
    rc = pexec(be->w, "SELECT pg_advisory_xact_lock(" PG_MIGRATION_LOCK ")", 0, NULL, NULL, msg,
               msglen);
  if (rc == 0) rc = pexec(be->w, be->sql[PGD_SQL_SCHEMA_TABLE].text, 0, NULL, NULL, msg, msglen);
  return rc;
}

static int mig_version(void *bep, int64_t *out, char *msg, size_t msglen) {
  pg_be_t *be = bep;
  PGresult *res = NULL;
  int rc = pexec(be->w, be->sql[PGD_SQL_SCHEMA_VERSION].text, 0, NULL, &res, msg, msglen);
  if (rc == 0) *out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  return rc;
}

static int mig_apply(void *bep, const pgd_store_migration_t *m, char *msg, size_t msglen) {
  pg_be_t *be = bep;
  char ver[16], now[24];
  snprintf(ver, sizeof(ver), "%d", m->version);
  snprintf(now, sizeof(now), "%" PRId64, pgd_now_us());
  const char *vals[3] = {ver, m->description, now};
  int rc = pexec(be->w, m->sql, 0, NULL, NULL, msg, msglen);
  if (rc == 0) rc = pexec(be->w, be->sql[PGD_SQL_SCHEMA_RECORD].text, 3, vals, NULL, msg, msglen);
  return rc;
}

static int mig_commit(void *bep, char *msg, size_t msglen) {
  pg_be_t *be = bep;
  return pexec(be->w, be->sql[PGD_SQL_COMMIT].text, 0, NULL, NULL, msg, msglen);
}

static void mig_rollback(void *bep) {
  pg_be_t *be = bep;
  if (PQtransactionStatus(be->w) != PQTRANS_IDLE)
    PQclear(PQexec(be->w, be->sql[PGD_SQL_ROLLBACK].text));
}

static int migrate(pg_be_t *be, char *err, size_t errlen) {
  const pgd_store_migrator_t mig = {.where = "postgresql",
                                    .list = pgd_store_pg_migrations,
                                    .count = pgd_store_pg_migration_count,
                                    .begin = mig_begin,
                                    .version = mig_version,
                                    .apply = mig_apply,
                                    .commit = mig_commit,
                                    .rollback = mig_rollback};
  return pgd_store_migrate(&mig, be, err, errlen);
}

int pgd_store_open_postgres(uv_loop_t *loop, const char *conninfo, pgd_store_t **out, char *err,
                            size_t errlen) {
  if (out) *out = NULL;
  if (err && errlen) err[0] = '\0';
  if (!loop || !out || !conninfo) FAIL(-EINVAL, "store: a loop and a connection string are required");
  pg_be_t *be = calloc(1, sizeof(*be));
  if (!be) FAIL(-ENOMEM, "out of memory");
  pthread_mutex_init(&be->rmu, NULL);
  int rc = (be->conninfo = strdup(conninfo)) && (be->sql = pgd_store_sql_build_all(PGD_SQL_POSTGRES))
               ? 0
               : -ENOMEM;
  if (rc < 0 && err && errlen) snprintf(err, errlen, "out of memory");
  if (rc == 0) rc = connect_one(conninfo, &be->w, "writer", err, errlen);
  if (rc == 0) rc = migrate(be, err, errlen);
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
