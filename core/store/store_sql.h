/* Pagoda — the SQL text of every statement the store runs, for both
 * backends (store_sql.c). Private to core/store.
 *
 * One catalog of statements (pgd_store_stmt_t); pgd_store_sql_build() writes
 * a statement in a dialect. Statements are written once with numbered
 * parameter SLOTS (`?N`, N = 1..PGD_SQL_MAX_SLOTS); each statement documents
 * what goes in which slot, and a caller binds values by slot, whatever the
 * dialect:
 *  - SQLite keeps `?N`, so parameter N of the prepared statement IS slot N
 *    (slots a variant does not use are simply never referenced);
 *  - PostgreSQL numbers its parameters densely: the slots a statement uses,
 *    in ascending order, become $1, $2, ... (a slot used twice keeps one
 *    number). `slot[k]` says which slot parameter k+1 is.
 * The few real dialect differences are in the builder, nowhere else:
 * the write transaction (BEGIN IMMEDIATE / BEGIN), the read snapshot
 * (BEGIN / BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY), the lock on the
 * epoch row (the write lock of BEGIN IMMEDIATE / FOR SHARE), "no limit"
 * (SQLite LIMIT -1 / PostgreSQL LIMIT NULL: the builder wraps the slot in
 * NULLIF(…,-1) so callers bind -1 on both) and the column type of the
 * migration table's timestamp (INTEGER / BIGINT).
 *
 * The schema migrations are not built here: they are fixed texts per
 * backend (sqlite_migrations.c, pg_migrations.c) because a released
 * migration must never change.
 *
 * Thread rules: pure functions, any thread. */
#ifndef PAGODA_STORE_SQL_H
#define PAGODA_STORE_SQL_H

#include <stdint.h>

#include "store/store_internal.h"

typedef enum { PGD_SQL_SQLITE = 1, PGD_SQL_POSTGRES = 2 } pgd_store_dialect_t;

/* Slots of a put: field i of the record in slot i+1, `data` (when the
 * record has it) in slot nfields+1. */
#define PGD_SQL_MAX_SLOTS (PGD_STORE_MAX_COLS + 1)
#define PGD_SQL_MAX_TEXT 2048

/* Variants of the two list statements (added to their base id). */
#define PGD_SQL_LIST_EXEC_JOB 1    /* slot 1: job */
#define PGD_SQL_LIST_EXEC_STATE 2  /* slot 2: state */
#define PGD_SQL_LIST_EXEC_BEFORE 4 /* slot 3: before_id */
#define PGD_SQL_LIST_EXEC_VARIANTS 8
#define PGD_SQL_LIST_DOCS_PARENT 1     /* slot 2: parent */
#define PGD_SQL_LIST_DOCS_STATE 2      /* slot 3: state */
#define PGD_SQL_LIST_DOCS_BEFORE_NUM 4 /* slots 4, 5: before_id, its sort_num */
#define PGD_SQL_LIST_DOCS_BEFORE_TEXT 8 /* slot 4: before_id (not numeric) */
#define PGD_SQL_LIST_DOCS_VARIANTS 12   /* BEFORE_NUM and BEFORE_TEXT exclude each other */

typedef enum {
  /* writes (the writer thread's batch) */
  PGD_SQL_PUT_JOB,       /* slots: pgd_store_rec_job columns */
  PGD_SQL_PUT_EXECUTION, /* slots: pgd_store_rec_execution columns + data */
  PGD_SQL_PUT_ATTEMPT,   /* slots: pgd_store_rec_attempt columns + data */
  PGD_SQL_PUT_WORKER,    /* slots: pgd_store_rec_worker columns + data */
  PGD_SQL_PUT_DOC,       /* slots: pgd_store_rec_doc columns */
  PGD_SQL_DELETE_JOB,    /* 1 name */
  PGD_SQL_DELETE_DOC,    /* 1 kind, 2 id */
  PGD_SQL_DELETE_DOCS,   /* 1 kind, 2 parent */
  PGD_SQL_EXPIRE_KEYS,   /* 1 submitted before (µs): clears their idempotency keys */
  PGD_SQL_BEGIN_WRITE,   /* a transaction that may write */
  PGD_SQL_COMMIT,
  PGD_SQL_ROLLBACK,
  PGD_SQL_EPOCH_CHECK,   /* the stored epoch, locked until the end of the transaction */
  PGD_SQL_EPOCH_ACQUIRE, /* 1 updated_us; returns the new epoch */
  /* the migration runner */
  PGD_SQL_SCHEMA_TABLE,  /* creates the migration table when missing */
  PGD_SQL_SCHEMA_RECORD, /* 1 version, 2 description, 3 applied_us */
  /* reads */
  PGD_SQL_SCHEMA_VERSION,   /* highest applied migration, 0 when none */
  PGD_SQL_BEGIN_READ,       /* one consistent snapshot for several reads */
  PGD_SQL_GET_JOB,          /* 1 name */
  PGD_SQL_LIST_JOBS,
  PGD_SQL_GET_EXECUTION,    /* 1 id */
  PGD_SQL_ATTEMPTS_OF,      /* 1 execution_id */
  PGD_SQL_LIST_UNFINISHED,
  PGD_SQL_LIST_WORKERS,
  PGD_SQL_MAX_EXECUTION_ID, /* NULL when there is none */
  PGD_SQL_GET_DOC,          /* 1 kind, 2 id */
  PGD_SQL_EXECUTION_BY_KEY, /* 1 idempotency key, 2 submitted at or after (µs); newest first, 1 row */
  /* logs, blobs and retention (migration 6; store_logs.h) */
  PGD_SQL_PUT_LOG_CHUNK,    /* 1 execution_id, 2 attempt, 3 seq (byte offset), 4 bytes, 5 data */
  PGD_SQL_PUT_BLOB_CHUNK,   /* 1 hash, 2 seq (chunk number), 3 bytes, 4 data (hex) */
  PGD_SQL_DELETE_BLOB,      /* 1 hash */
  PGD_SQL_DELETE_EXECUTION, /* 1 id (attempts and log chunks go by ON DELETE CASCADE) */
  PGD_SQL_LOG_SIZES,        /* 1 execution_id: (attempt, size) per attempt */
  PGD_SQL_LOG_CHUNKS,       /* 1 execution_id, 2 attempt, 3 offset: chunks from there on */
  PGD_SQL_BLOB_CHUNKS,      /* 1 hash: its chunks in order (data as hex) */
  PGD_SQL_EXEC_SCAN,        /* 1 after id, 2 limit: brief rows by id ascending */
  PGD_SQL_EXEC_BEYOND_LAST, /* 1 job, 2 keep, 3 limit: finished ones beyond the newest `keep` */
  PGD_SQL_STORE_BYTES,      /* the database's size in bytes */
  PGD_SQL_LOG_BYTES,        /* the bytes taken by log chunks */
  PGD_SQL_BLOB_BYTES,       /* the bytes taken by resource blobs */
  PGD_SQL_LAST_EXECUTION_BEFORE, /* 1 submitted before (µs); the highest id, 1 row */
  PGD_SQL_LIST_EXECUTIONS,  /* + PGD_SQL_LIST_EXEC_* bits; slot 4 limit (-1 = all) */
  PGD_SQL_LIST_DOCS = PGD_SQL_LIST_EXECUTIONS + PGD_SQL_LIST_EXEC_VARIANTS,
  /* + PGD_SQL_LIST_DOCS_* bits; slot 1 kind, slot 6 limit (-1 = all) */
  PGD_SQL_COUNT = PGD_SQL_LIST_DOCS + PGD_SQL_LIST_DOCS_VARIANTS
} pgd_store_stmt_t;

/* One statement in one dialect. */
typedef struct {
  char text[PGD_SQL_MAX_TEXT];
  /* SQLite: the highest slot used (parameters are ?1..?nparams, bind by
   * slot); PostgreSQL: the number of distinct parameters ($1..$nparams). */
  int nparams;
  /* parameter k+1 takes the value of slot[k] (SQLite: slot[k] == k+1) */
  uint8_t slot[PGD_SQL_MAX_SLOTS];
} pgd_store_sql_t;

/* Writes statement `stmt` in `dialect` into *out. 0, or -EINVAL for an
 * unknown statement or dialect (out->text is then empty). */
int pgd_store_sql_build(pgd_store_dialect_t dialect, int stmt, pgd_store_sql_t *out);

/* Every statement of the catalog, index = pgd_store_stmt_t: a new array of
 * PGD_SQL_COUNT (owned by the caller, free()), or NULL when out of memory. */
pgd_store_sql_t *pgd_store_sql_build_all(pgd_store_dialect_t dialect);

/* The statement that stores a record of `rec` (PGD_SQL_PUT_*), -1 if none. */
int pgd_store_sql_put_stmt(const pgd_store_record_t *rec);

/* The slots of a queued write (`op` kind and its row): which statement runs
 * it in *stmt, its values in p[1..PGD_SQL_MAX_SLOTS-1] (p[0] unused; strings
 * borrowed from the row). 0, or -EINVAL for an op with no statement
 * (a flush). */
int pgd_store_sql_op_params(const pgd_store_op_t *op, int *stmt,
                            pgd_store_param_t p[PGD_SQL_MAX_SLOTS + 1]);

#endif
