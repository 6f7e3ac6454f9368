/* Pagoda — store internals shared by the generic part (store.c: queue,
 * writer thread, completions), the record mapping (store_record.c) and the
 * SQL catalog (store_sql.c), the backend-neutral reads (store_read.c) and the
 * backends (store_sqlite*.c, store_pg*.c). Not for other modules. */
#ifndef PAGODA_STORE_INTERNAL_H
#define PAGODA_STORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define PGD_STORE_MAX_COLS 20

/* ---- record descriptions: which fields are columns ---------------------- */

typedef enum {
  PGD_COL_TEXT = 1, /* JSON string  <-> TEXT */
  PGD_COL_INT = 2,  /* JSON integer <-> INTEGER (|v| <= 2^53) */
  PGD_COL_JSON = 3  /* any JSON value except null <-> TEXT holding its JSON */
} pgd_store_col_kind_t;

typedef struct {
  const char *name; /* JSON member name == column name */
  pgd_store_col_kind_t kind;
  int keep_existing; /* upsert keeps a non-NULL stored value */
} pgd_store_field_t;

typedef struct {
  const char *table;
  const pgd_store_field_t *fields;
  size_t nfields;
  size_t nkeys;       /* the first nkeys fields are the primary key */
  int has_data;       /* a `data` column holds the other members as JSON */
  const char *ignore; /* a member never stored (NULL = none) */
} pgd_store_record_t;

extern const pgd_store_record_t pgd_store_rec_job;
extern const pgd_store_record_t pgd_store_rec_execution;
extern const pgd_store_record_t pgd_store_rec_attempt;
extern const pgd_store_record_t pgd_store_rec_worker;
/* docs: 0 kind, 1 id, 2 parent, 3 state, 4 sort_num, 5 data (the object's
 * JSON text), 6 created_us (kept on upsert), 7 updated_us; no data column of
 * extras (the whole object is field 5). */
extern const pgd_store_record_t pgd_store_rec_doc;
#define PGD_DOC_MAX_KIND 32
#define PGD_DOC_MAX_ID 256

/* One column value. For rows built by split, s is owned (malloc); for rows
 * read from a database, s is borrowed from the backend. */
typedef struct {
  int present; /* 0 = NULL */
  int64_t i;   /* PGD_COL_INT */
  char *s;     /* PGD_COL_TEXT / PGD_COL_JSON */
} pgd_store_val_t;

typedef struct {
  pgd_store_val_t v[PGD_STORE_MAX_COLS];
  char *data; /* JSON object text of the other members, or NULL */
} pgd_store_row_t;

/* Splits `obj` into columns and data by `rec`. Returns 0 or -EINVAL (not an
 * object, key missing/invalid) / -ENOMEM; on error the row is left empty. */
int pgd_store_record_split(const pgd_store_record_t *rec, const cJSON *obj, pgd_store_row_t *row);
/* The job special case: columns name, type, definition (the object without
 * created_us/updated_us), created_us = updated_us = now_us. */
int pgd_store_record_split_job(const cJSON *job, int64_t now_us, pgd_store_row_t *row);
/* The object of a row read back from `rec`'s table: the job, doc or generic
 * join below, picked by `rec`. NULL on allocation failure. */
cJSON *pgd_store_record_to_json(const pgd_store_record_t *rec, const pgd_store_row_t *row);
/* Builds the object back (values borrowed). NULL on allocation failure. */
cJSON *pgd_store_record_join(const pgd_store_record_t *rec, const pgd_store_row_t *row);
cJSON *pgd_store_record_join_job(const pgd_store_row_t *row);
void pgd_store_row_free(pgd_store_row_t *row);
/* The doc case: validates the shape (see store.h) and fills the 8 columns,
 * created_us = updated_us = now_us; data = the object without created_us /
 * updated_us. 0, -EINVAL or -ENOMEM (row left empty). */
int pgd_store_record_split_doc(const char *kind, const char *id, const char *parent,
                               const char *state, const cJSON *doc, int64_t now_us,
                               pgd_store_row_t *row);
/* The object of a doc row plus created_us / updated_us. NULL on allocation
 * failure. */
cJSON *pgd_store_record_join_doc(const pgd_store_row_t *row);
/* 1 when `kind` matches [a-z_]{1,32}. */
int pgd_store_doc_kind_ok(const char *kind);
/* 1 and *out when `id` is 1 to 18 ASCII decimal digits (its sort key). */
int pgd_store_doc_sort_num(const char *id, int64_t *out);
/* 1 and *out if `item` is an integral number within +-2^53. */
int pgd_store_json_int(const cJSON *item, int64_t *out);

/* ---- queued writes ------------------------------------------------------ */

typedef enum {
  PGD_OP_PUT_JOB = 1,
  PGD_OP_DELETE_JOB,
  PGD_OP_PUT_EXECUTION,
  PGD_OP_PUT_ATTEMPT,
  PGD_OP_PUT_WORKER,
  PGD_OP_FLUSH,
  PGD_OP_PUT_DOC,    /* row: pgd_store_rec_doc */
  PGD_OP_DELETE_DOC, /* row: v[0].s = kind, v[1].s = id */
  PGD_OP_DELETE_DOCS, /* row: v[0].s = kind, v[1].s = parent */
  PGD_OP_EXPIRE_KEYS, /* row: v[0].i = submitted before (µs) */
  /* store_logs.c (migration 6) */
  PGD_OP_PUT_LOG_CHUNK,   /* row: v[0].i exec id, v[1].i attempt, v[2].i seq, v[3].i bytes, v[4].s data */
  PGD_OP_PUT_BLOB_CHUNK,  /* row: v[0].s hash, v[1].i seq, v[2].i bytes, v[3].s data (hex) */
  PGD_OP_DELETE_BLOB,     /* row: v[0].s hash */
  PGD_OP_DELETE_EXECUTION /* row: v[0].i id */
} pgd_store_op_kind_t;

typedef struct pgd_store_op {
  struct pgd_store_op *next;
  pgd_store_op_kind_t kind;
  int status;          /* set by the backend */
  pgd_store_row_t row; /* PUT_*: the split record; DELETE_JOB: v[0].s = name;
                          DELETE_DOC(S): see above */
  pgd_store_done_cb cb;
  void *ud;
  int fail_fast;       /* queued in a fail-fast scope: a resource error is
                          reported, not retried (pgd_store_fail_fast) */
  int probe;           /* the writer's own health probe: no callback */
  int joined;          /* the next write belongs to the same group
                          (pgd_store_group_begin): same transaction */
  int urgent;          /* not a background write (pgd_store_background) */
  /* coalescing (store_coalesce.c), set for one apply_batch call only:
   * `newest` on the first put of a row: the later put whose row this one
   * applies; `merged_into` on the later puts: the first put, which applies
   * their row (the backend skips them; they get its status). */
  struct pgd_store_op *newest;
  struct pgd_store_op *merged_into;
} pgd_store_op_t;

/* The row an op applies: the newest version when coalesced. */
static inline const pgd_store_row_t *pgd_store_op_row(const pgd_store_op_t *op) {
  return op->newest ? &op->newest->row : &op->row;
}

/* Writer thread, before apply_batch: merges the puts of one execution or one
 * attempt within the batch `ops` (n writes) as store.h says (coalescing).
 * Returns how many writes were merged into another (they need no statement);
 * *rows gets the number of statements left to apply. */
size_t pgd_store_coalesce(pgd_store_op_t *ops, size_t n, size_t *rows);
/* Writer thread, after apply_batch: gives each merged write the status of
 * the statement that applied its row and clears the marks, so that a batch
 * sent back for a retry is coalesced again from scratch. */
void pgd_store_coalesce_done(pgd_store_op_t *ops);

/* ---- statement parameters (values by slot, see store_sql.h) ------------ */

/* The value of one parameter slot. Strings are borrowed. */
typedef struct {
  enum { PGD_PARAM_NULL = 0, PGD_PARAM_INT, PGD_PARAM_TEXT } type;
  int64_t i;
  const char *s;
} pgd_store_param_t;

/* ---- backend vtable ----------------------------------------------------- */

typedef struct {
  const char *name;
  /* Writer thread. Applies the list `ops` (n of them) in one transaction
   * and commits; sets every op's status (0 or -errno). Must not touch
   * cb/ud nor free the rows: the generic part owns them (a write that
   * failed for lack of space is applied again later, store.c). Skips
   * flushes and the writes marked merged_into (coalesced into an earlier
   * write, which applies pgd_store_op_row()). epoch > 0: inside the transaction,
   * first lock the cluster epoch row and check that it equals `epoch`;
   * otherwise store nothing and set every status to -ESTALE. */
  void (*apply_batch)(void *be, pgd_store_op_t *ops, size_t n, int64_t epoch);
  /* Any thread: increments the cluster epoch in its own transaction and
   * returns the new value in *out. 0 or -errno + message. */
  int (*acquire_epoch)(void *be, int64_t *out, char *err, size_t errlen);
  /* Reads (store_read.c builds every public read from these; the SQL is
   * the catalog of store_sql.h, so a backend only runs it). */
  /* Any thread: takes / releases the backend's read lock; every call below
   * is made with it held. */
  void (*read_lock)(void *be);
  void (*read_unlock)(void *be);
  /* Runs catalog statement `stmt` with slot values p[1..] and appends one
   * object per result row to `arr` (pgd_store_record_to_json of `rec`).
   * 0 or -errno (failures are logged). */
  int (*read_rows)(void *be, int stmt, const pgd_store_param_t *p, const pgd_store_record_t *rec,
                   cJSON *arr);
  /* Runs a parameterless catalog statement returning one integer: the
   * value (SQL NULL = 0) or -errno. */
  int64_t (*read_scalar)(void *be, int stmt);
  /* One snapshot for several reads (an execution and its attempts):
   * begin returns 0 or -errno; end closes it (harmless when none is open). */
  int (*snapshot_begin)(void *be);
  void (*snapshot_end)(void *be);
  /* Called after the writer thread has been joined: closes everything. */
  void (*destroy)(void *be);
} pgd_store_backend_ops_t;

/* The public reads over a backend's read primitives (store_read.c); same
 * contracts as the functions of store.h. kind and id are validated by the
 * caller; parent / state / before_id may be NULL. */
cJSON *pgd_store_read_job(const pgd_store_backend_ops_t *ops, void *be, const char *name);
cJSON *pgd_store_read_jobs(const pgd_store_backend_ops_t *ops, void *be);
cJSON *pgd_store_read_execution(const pgd_store_backend_ops_t *ops, void *be, int64_t id);
cJSON *pgd_store_read_executions(const pgd_store_backend_ops_t *ops, void *be, const char *job,
                                 const char *state, int limit, int64_t before_id);
cJSON *pgd_store_read_unfinished(const pgd_store_backend_ops_t *ops, void *be);
cJSON *pgd_store_read_workers(const pgd_store_backend_ops_t *ops, void *be);
int64_t pgd_store_read_max_execution_id(const pgd_store_backend_ops_t *ops, void *be);
int pgd_store_read_schema_version(const pgd_store_backend_ops_t *ops, void *be);
cJSON *pgd_store_read_execution_by_key(const pgd_store_backend_ops_t *ops, void *be,
                                       const char *key, int64_t since_us);
cJSON *pgd_store_read_doc(const pgd_store_backend_ops_t *ops, void *be, const char *kind,
                          const char *id);
int64_t pgd_store_read_last_execution_before(const pgd_store_backend_ops_t *ops, void *be,
                                             int64_t before_us);
cJSON *pgd_store_read_docs(const pgd_store_backend_ops_t *ops, void *be, const char *kind,
                           const char *parent, const char *state, int limit,
                           const char *before_id);

/* store_logs.c builds its writes and reads on these (store.c): a new op of
 * `kind` (NULL with *rc set when the store is closing or out of memory),
 * queueing it (always 0), and the backend of an open store (0, or -EINVAL
 * for a NULL or closed store). Loop thread for the first two. */
pgd_store_op_t *pgd_store__new_op(pgd_store_t *s, pgd_store_op_kind_t kind, pgd_store_done_cb cb,
                                  void *ud, int *rc);
int pgd_store__enqueue(pgd_store_t *s, pgd_store_op_t *op);
int pgd_store__backend(pgd_store_t *s, const pgd_store_backend_ops_t **ops, void **be);
/* Row descriptions of store_logs.c's reads. */
extern const pgd_store_record_t pgd_store_rec_log_chunk;  /* attempt, seq, bytes, data */
extern const pgd_store_record_t pgd_store_rec_log_size;   /* attempt, size */
extern const pgd_store_record_t pgd_store_rec_blob_chunk; /* seq, bytes, data (hex) */
extern const pgd_store_record_t pgd_store_rec_exec_brief; /* id, job, state, attempt, submitted_us */

/* Starts the generic part over an opened backend: uv_async on `loop`, the
 * queue and the writer thread. On failure destroys `be` and fills err. */
int pgd_store_start(uv_loop_t *loop, const pgd_store_backend_ops_t *ops, void *be,
                    pgd_store_t **out, char *err, size_t errlen);

/* ---- migrations --------------------------------------------------------- */

typedef struct {
  int version;             /* 1, 2, 3, ... no gaps; same numbers per backend */
  const char *description; /* one line */
  const char *sql;         /* one or more statements */
} pgd_store_migration_t;

/* What a backend gives the migration runner (store_migrate.c). Every
 * callback returns 0 or -errno with a message in msg. */
typedef struct {
  const char *where; /* prefix of messages: the database file, "postgresql" */
  const pgd_store_migration_t *list;
  size_t count;
  /* Opens a write transaction that excludes other migrators (SQLite: the
   * write lock of BEGIN IMMEDIATE; PostgreSQL: an advisory lock) and
   * creates the migration table when it is missing. */
  int (*begin)(void *conn, char *msg, size_t msglen);
  int (*version)(void *conn, int64_t *out, char *msg, size_t msglen);
  /* Runs m->sql and records m in the migration table. */
  int (*apply)(void *conn, const pgd_store_migration_t *m, char *msg, size_t msglen);
  int (*commit)(void *conn, char *msg, size_t msglen);
  void (*rollback)(void *conn);
} pgd_store_migrator_t;

/* Brings the schema up to the latest version of mig->list, each migration
 * in its own transaction with the version re-read under the lock (two
 * processes opening a new database apply each version once). Refuses a
 * schema newer than the list (-ENOTSUP). 0 or -errno with err filled. */
int pgd_store_migrate(const pgd_store_migrator_t *mig, void *conn, char *err, size_t errlen);

extern const pgd_store_migration_t pgd_store_sqlite_migrations[];
extern const size_t pgd_store_sqlite_migration_count;
extern const pgd_store_migration_t pgd_store_pg_migrations[];
extern const size_t pgd_store_pg_migration_count;

#endif
