/* Pagoda — the store's SQL, written once for SQLite and PostgreSQL
 * (store_sql.h explains the slots and the dialect differences).
 *
 * Each statement is first written as a template with `?N` slot markers
 * (the SQLite form), then, for PostgreSQL, every `?N` is replaced by `$k`
 * where k is the rank of N among the slots the statement uses. The SQL
 * never contains a `?` of its own (no string literal holds one). */
#include "store/store_sql.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends to a fixed buffer; -1 when it would not fit. */
static int add(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int add(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= cap - *len) return -1;
  *len += (size_t)n;
  return 0;
}

/* "SELECT "f1",..,"data" FROM "t"" */
static int add_select(char *buf, size_t cap, size_t *len, const pgd_store_record_t *rec) {
  if (add(buf, cap, len, "SELECT ") < 0) return -1;
  for (size_t i = 0; i < rec->nfields; i++)
    if (add(buf, cap, len, "%s\"%s\"", i ? "," : "", rec->fields[i].name) < 0) return -1;
  if (rec->has_data && add(buf, cap, len, ",\"data\"") < 0) return -1;
  return add(buf, cap, len, " FROM \"%s\"", rec->table);
}

/* INSERT ... ON CONFLICT (keys) DO UPDATE SET each non-key column; a
 * keep_existing column keeps its stored non-NULL value. Same text in both
 * dialects (PostgreSQL 9.5+, SQLite 3.24+). */
static int add_upsert(char *buf, size_t cap, size_t *len, const pgd_store_record_t *rec) {
  size_t n = rec->nfields + (rec->has_data ? 1 : 0);
  if (add(buf, cap, len, "INSERT INTO \"%s\" (", rec->table) < 0) return -1;
  for (size_t i = 0; i < rec->nfields; i++)
    if (add(buf, cap, len, "%s\"%s\"", i ? "," : "", rec->fields[i].name) < 0) return -1;
  if (rec->has_data && add(buf, cap, len, ",\"data\"") < 0) return -1;
  if (add(buf, cap, len, ") VALUES (") < 0) return -1;
  for (size_t i = 0; i < n; i++)
    if (add(buf, cap, len, "%s?%zu", i ? "," : "", i + 1) < 0) return -1;
  if (add(buf, cap, len, ") ON CONFLICT (") < 0) return -1;
  for (size_t i = 0; i < rec->nkeys; i++)
    if (add(buf, cap, len, "%s\"%s\"", i ? "," : "", rec->fields[i].name) < 0) return -1;
  if (add(buf, cap, len, ") DO UPDATE SET ") < 0) return -1;
  for (size_t i = rec->nkeys; i < rec->nfields; i++) {
    const char *f = rec->fields[i].name;
    const char *sep = i > rec->nkeys ? "," : "";
    int r = rec->fields[i].keep_existing
                ? add(buf, cap, len, "%s\"%s\"=COALESCE(\"%s\".\"%s\",excluded.\"%s\")", sep, f,
                      rec->table, f, f)
                : add(buf, cap, len, "%s\"%s\"=excluded.\"%s\"", sep, f, f);
    if (r < 0) return -1;
  }
  if (rec->has_data && add(buf, cap, len, ",\"data\"=excluded.\"data\"") < 0) return -1;
  return 0;
}

/* " LIMIT ?N" where -1 means no limit: SQLite's own meaning of a negative
 * limit; PostgreSQL refuses a negative limit and reads NULL as none. */
static int add_limit(char *buf, size_t cap, size_t *len, pgd_store_dialect_t d, int slot) {
  return d == PGD_SQL_SQLITE ? add(buf, cap, len, " LIMIT ?%d", slot)
                             : add(buf, cap, len, " LIMIT NULLIF(?%d,-1)", slot);
}

/* Appends " WHERE c" for the first condition, " AND c" after. */
static int add_cond(char *buf, size_t cap, size_t *len, int *n, const char *cond) {
  return add(buf, cap, len, "%s%s", (*n)++ ? " AND " : " WHERE ", cond);
}

static int list_executions(char *buf, size_t cap, pgd_store_dialect_t d, int v) {
  size_t len = 0;
  int n = 0;
  if (add_select(buf, cap, &len, &pgd_store_rec_execution) < 0) return -1;
  if ((v & PGD_SQL_LIST_EXEC_JOB) && add_cond(buf, cap, &len, &n, "\"job\"=?1") < 0) return -1;
  if ((v & PGD_SQL_LIST_EXEC_STATE) && add_cond(buf, cap, &len, &n, "\"state\"=?2") < 0) return -1;
  if ((v & PGD_SQL_LIST_EXEC_BEFORE) && add_cond(buf, cap, &len, &n, "\"id\"<?3") < 0) return -1;
  if (add(buf, cap, &len, " ORDER BY \"id\" DESC") < 0) return -1;
  return add_limit(buf, cap, &len, d, 4);
}

/* Order (store.h): sort_num DESC NULLS LAST, id DESC; paging continues
 * strictly after (sort_num of before_id, before_id) in that order. */
static int list_docs(char *buf, size_t cap, pgd_store_dialect_t d, int v) {
  size_t len = 0;
  int n = 0;
  if (add_select(buf, cap, &len, &pgd_store_rec_doc) < 0) return -1;
  if (add_cond(buf, cap, &len, &n, "\"kind\"=?1") < 0) return -1;
  if ((v & PGD_SQL_LIST_DOCS_PARENT) && add_cond(buf, cap, &len, &n, "\"parent\"=?2") < 0) return -1;
  if ((v & PGD_SQL_LIST_DOCS_STATE) && add_cond(buf, cap, &len, &n, "\"state\"=?3") < 0) return -1;
  if ((v & PGD_SQL_LIST_DOCS_BEFORE_NUM) &&
      add_cond(buf, cap, &len, &n,
               "(\"sort_num\" IS NULL OR \"sort_num\"<?5 OR (\"sort_num\"=?5 AND \"id\"<?4))") < 0)
    return -1;
  if ((v & PGD_SQL_LIST_DOCS_BEFORE_TEXT) &&
      add_cond(buf, cap, &len, &n, "\"sort_num\" IS NULL AND \"id\"<?4") < 0)
    return -1;
  if (add(buf, cap, &len, " ORDER BY \"sort_num\" DESC NULLS LAST, \"id\" DESC") < 0) return -1;
  return add_limit(buf, cap, &len, d, 6);
}

static const pgd_store_record_t *const put_recs[] = {
    &pgd_store_rec_job, &pgd_store_rec_execution, &pgd_store_rec_attempt, &pgd_store_rec_worker,
    &pgd_store_rec_doc};

int pgd_store_sql_put_stmt(const pgd_store_record_t *rec) {
  for (int k = 0; k < 5; k++)
    if (put_recs[k] == rec) return PGD_SQL_PUT_JOB + k;
  return -1;
}

/* A select of every column of `rec` followed by `tail`. */
static int select_with(char *buf, size_t cap, const pgd_store_record_t *rec, const char *tail) {
  size_t len = 0;
  return add_select(buf, cap, &len, rec) < 0 ? -1 : add(buf, cap, &len, "%s", tail);
}

/* Migration 6's statements (store_logs.h). Blob data is BLOB / bytea; it
 * travels as hex text because statements take text parameters: PostgreSQL
 * converts with decode/encode; SQLite (3.40 has no unhex()) keeps the hex
 * text itself in the column (blobs live on local disk with SQLite, so its
 * copy is only for the store's own tests; docs/store.md). Log data is
 * UTF-8 text without NUL (the worker sanitises it), so it is TEXT. */
static int logs_template(pgd_store_dialect_t d, int stmt, char *buf, size_t cap) {
  size_t len = 0;
  int sqlite = d == PGD_SQL_SQLITE;
  static const char *final_states =
      "\"state\" IN ('succeeded','failed','killed','timed_out','lost')";
  switch (stmt) {
  case PGD_SQL_PUT_LOG_CHUNK:
    return add(buf, cap, &len,
               "INSERT INTO \"log_chunks\" (\"execution_id\",\"attempt\",\"seq\",\"bytes\",\"data\") "
               "VALUES (?1,?2,?3,?4,?5) ON CONFLICT (\"execution_id\",\"attempt\",\"seq\") DO NOTHING");
  case PGD_SQL_PUT_BLOB_CHUNK:
    return add(buf, cap, &len,
               "INSERT INTO \"blobs\" (\"hash\",\"seq\",\"bytes\",\"data\") VALUES (?1,?2,?3,%s) "
               "ON CONFLICT (\"hash\",\"seq\") DO NOTHING",
               sqlite ? "?4" : "decode(?4,'hex')");
  case PGD_SQL_DELETE_BLOB: return add(buf, cap, &len, "DELETE FROM \"blobs\" WHERE \"hash\"=?1");
  case PGD_SQL_DELETE_EXECUTION:
    return add(buf, cap, &len, "DELETE FROM \"executions\" WHERE \"id\"=?1");
  case PGD_SQL_LOG_SIZES:
    return add(buf, cap, &len,
               "SELECT \"attempt\", max(\"seq\"+\"bytes\") FROM \"log_chunks\" "
               "WHERE \"execution_id\"=?1 GROUP BY \"attempt\" ORDER BY \"attempt\"");
  case PGD_SQL_LOG_CHUNKS:
    return add(buf, cap, &len,
               "SELECT \"attempt\",\"seq\",\"bytes\",\"data\" FROM \"log_chunks\" "
               "WHERE \"execution_id\"=?1 AND (\"attempt\">?2 OR (\"attempt\"=?2 AND "
               "\"seq\"+\"bytes\">?3)) ORDER BY \"attempt\",\"seq\"");
  case PGD_SQL_BLOB_CHUNKS:
    return add(buf, cap, &len,
               "SELECT \"seq\",\"bytes\",%s FROM \"blobs\" WHERE \"hash\"=?1 ORDER BY \"seq\"",
               sqlite ? "\"data\"" : "encode(\"data\",'hex')");
  case PGD_SQL_EXEC_SCAN:
    return add(buf, cap, &len,
               "SELECT \"id\",\"job\",\"state\",\"attempt\",\"submitted_us\" FROM \"executions\" "
               "WHERE \"id\">?1 ORDER BY \"id\" LIMIT ?2");
  case PGD_SQL_EXEC_BEYOND_LAST:
    return add(buf, cap, &len,
               "SELECT \"id\",\"job\",\"state\",\"attempt\",\"submitted_us\" FROM \"executions\" "
               "WHERE \"job\"=?1 AND %s ORDER BY \"id\" DESC LIMIT ?3 OFFSET ?2",
               final_states);
  case PGD_SQL_STORE_BYTES:
    return add(buf, cap, &len, "%s",
               sqlite ? "SELECT \"page_count\"*\"page_size\" FROM pragma_page_count(), pragma_page_size()"
                      : "SELECT pg_database_size(current_database())");
  case PGD_SQL_LOG_BYTES:
    return add(buf, cap, &len, "%s",
               sqlite ? "SELECT coalesce(sum(\"bytes\"),0) FROM \"log_chunks\""
                      : "SELECT pg_total_relation_size('log_chunks')");
  case PGD_SQL_BLOB_BYTES:
    return add(buf, cap, &len, "%s",
               sqlite ? "SELECT coalesce(sum(\"bytes\"),0) FROM \"blobs\""
                      : "SELECT pg_total_relation_size('blobs')");
  default: return -1;
  }
}

/* The template (slots as ?N) of `stmt`; 0 or -1. */
static int template(pgd_store_dialect_t d, int stmt, char *buf, size_t cap) {
  size_t len = 0;
  int sqlite = d == PGD_SQL_SQLITE;
  switch (stmt) {
  case PGD_SQL_PUT_JOB:
  case PGD_SQL_PUT_EXECUTION:
  case PGD_SQL_PUT_ATTEMPT:
  case PGD_SQL_PUT_WORKER:
  case PGD_SQL_PUT_DOC: return add_upsert(buf, cap, &len, put_recs[stmt - PGD_SQL_PUT_JOB]);
  case PGD_SQL_DELETE_JOB: return add(buf, cap, &len, "DELETE FROM \"jobs\" WHERE \"name\"=?1");
  case PGD_SQL_DELETE_DOC:
    return add(buf, cap, &len, "DELETE FROM \"docs\" WHERE \"kind\"=?1 AND \"id\"=?2");
  case PGD_SQL_DELETE_DOCS:
    return add(buf, cap, &len, "DELETE FROM \"docs\" WHERE \"kind\"=?1 AND \"parent\"=?2");
  case PGD_SQL_EXPIRE_KEYS:
    return add(buf, cap, &len,
               "UPDATE \"executions\" SET \"idempotency_key\"=NULL "
               "WHERE \"idempotency_key\" IS NOT NULL AND \"submitted_us\"<?1");
  /* SQLite: IMMEDIATE takes the database write lock at BEGIN, which is
   * what orders a batch against acquire_epoch and a concurrent migration. */
  case PGD_SQL_BEGIN_WRITE: return add(buf, cap, &len, sqlite ? "BEGIN IMMEDIATE" : "BEGIN");
  case PGD_SQL_COMMIT: return add(buf, cap, &len, "COMMIT");
  case PGD_SQL_ROLLBACK: return add(buf, cap, &len, "ROLLBACK");
  /* PostgreSQL: FOR SHARE holds acquire_epoch's UPDATE until the batch
   * ends; SQLite: the write lock of BEGIN IMMEDIATE already does. */
  case PGD_SQL_EPOCH_CHECK:
    return add(buf, cap, &len, "SELECT \"epoch\" FROM \"cluster\" WHERE \"id\"=1%s",
               sqlite ? "" : " FOR SHARE");
  case PGD_SQL_EPOCH_ACQUIRE:
    return add(buf, cap, &len,
               "UPDATE \"cluster\" SET \"epoch\"=\"epoch\"+1, \"updated_us\"=?1 WHERE \"id\"=1 "
               "RETURNING \"epoch\"");
  case PGD_SQL_SCHEMA_TABLE:
    return add(buf, cap, &len,
               "CREATE TABLE IF NOT EXISTS \"pagoda_schema\" ("
               "\"version\" INTEGER PRIMARY KEY NOT NULL, "
               "\"description\" TEXT NOT NULL, "
               "\"applied_us\" %s NOT NULL)",
               sqlite ? "INTEGER" : "BIGINT");
  case PGD_SQL_SCHEMA_RECORD:
    return add(buf, cap, &len, "INSERT INTO \"pagoda_schema\" VALUES (?1, ?2, ?3)");
  case PGD_SQL_SCHEMA_VERSION:
    return add(buf, cap, &len, "SELECT coalesce(max(\"version\"),0) FROM \"pagoda_schema\"");
  /* PostgreSQL's default READ COMMITTED gives each query its own snapshot;
   * a SQLite read transaction is one snapshot already. */
  case PGD_SQL_BEGIN_READ:
    return add(buf, cap, &len,
               sqlite ? "BEGIN" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  case PGD_SQL_GET_JOB:
    return select_with(buf, cap, &pgd_store_rec_job, " WHERE \"name\"=?1");
  case PGD_SQL_LIST_JOBS:
    return select_with(buf, cap, &pgd_store_rec_job, " ORDER BY \"name\"");
  case PGD_SQL_GET_EXECUTION:
    return select_with(buf, cap, &pgd_store_rec_execution, " WHERE \"id\"=?1");
  case PGD_SQL_ATTEMPTS_OF:
    return select_with(buf, cap, &pgd_store_rec_attempt, " WHERE \"execution_id\"=?1 ORDER BY \"attempt\"");
  case PGD_SQL_LIST_UNFINISHED:
    /* The condition of the partial index "executions_unfinished" (migration 5), word for word. */
    return select_with(buf, cap, &pgd_store_rec_execution,
                       " WHERE \"state\"='pending' OR \"state\"='dispatched' OR \"state\"='running'"
                       " ORDER BY \"id\"");
  case PGD_SQL_LIST_WORKERS:
    return select_with(buf, cap, &pgd_store_rec_worker, " ORDER BY \"id\"");
  case PGD_SQL_MAX_EXECUTION_ID: return add(buf, cap, &len, "SELECT max(\"id\") FROM \"executions\"");
  case PGD_SQL_GET_DOC:
    return select_with(buf, cap, &pgd_store_rec_doc, " WHERE \"kind\"=?1 AND \"id\"=?2");
  case PGD_SQL_EXECUTION_BY_KEY:
    return select_with(buf, cap, &pgd_store_rec_execution,
                       " WHERE \"idempotency_key\"=?1 AND \"submitted_us\">=?2"
                       " ORDER BY \"id\" DESC LIMIT 1");
  /* Walks the id index down from the newest: cheap for recent times. */
  case PGD_SQL_LAST_EXECUTION_BEFORE:
    return select_with(buf, cap, &pgd_store_rec_execution,
                       " WHERE \"submitted_us\"<?1 ORDER BY \"id\" DESC LIMIT 1");
  default: break;
  }
  if (stmt >= PGD_SQL_PUT_LOG_CHUNK && stmt <= PGD_SQL_BLOB_BYTES)
    return logs_template(d, stmt, buf, cap);
  if (stmt >= PGD_SQL_LIST_EXECUTIONS && stmt < PGD_SQL_LIST_DOCS)
    return list_executions(buf, cap, d, stmt - PGD_SQL_LIST_EXECUTIONS);
  if (stmt >= PGD_SQL_LIST_DOCS && stmt < PGD_SQL_COUNT) {
    int v = stmt - PGD_SQL_LIST_DOCS;
    if ((v & PGD_SQL_LIST_DOCS_BEFORE_NUM) && (v & PGD_SQL_LIST_DOCS_BEFORE_TEXT)) return -1;
    return list_docs(buf, cap, d, v);
  }
  return -1;
}

/* Reads the slot number after a '?' at *p; 0 when there is none. */
static int slot_at(const char *p, const char **end) {
  int n = 0;
  while (*p >= '0' && *p <= '9') n = n * 10 + (*p++ - '0');
  *end = p;
  return n;
}

int pgd_store_sql_build(pgd_store_dialect_t dialect, int stmt, pgd_store_sql_t *out) {
  memset(out, 0, sizeof(*out));
  char tpl[PGD_SQL_MAX_TEXT];
  tpl[0] = '\0';
  if ((dialect != PGD_SQL_SQLITE && dialect != PGD_SQL_POSTGRES) || stmt < 0 ||
      stmt >= PGD_SQL_COUNT || template(dialect, stmt, tpl, sizeof(tpl)) < 0)
    return -EINVAL;
  /* which slots the template uses */
  int used[PGD_SQL_MAX_SLOTS + 1] = {0};
  const char *end;
  for (const char *p = strchr(tpl, '?'); p; p = strchr(end, '?')) {
    int s = slot_at(p + 1, &end);
    if (s < 1 || s > PGD_SQL_MAX_SLOTS) return -EINVAL;
    used[s] = 1;
  }
  int rank[PGD_SQL_MAX_SLOTS + 1] = {0};
  for (int s = 1; s <= PGD_SQL_MAX_SLOTS; s++) {
    if (dialect == PGD_SQL_SQLITE) {
      if (used[s]) out->nparams = s;
    } else if (used[s]) {
      out->slot[out->nparams] = (uint8_t)s;
      rank[s] = ++out->nparams;
    }
  }
  if (dialect == PGD_SQL_SQLITE) {
    for (int k = 0; k < out->nparams; k++) out->slot[k] = (uint8_t)(k + 1);
    memcpy(out->text, tpl, sizeof(out->text));
    return 0;
  }
  size_t len = 0;
  const char *p = tpl;
  for (const char *q = strchr(p, '?'); q; q = strchr(p, '?')) {
    int s = slot_at(q + 1, &end);
    if (add(out->text, sizeof(out->text), &len, "%.*s$%d", (int)(q - p), p, rank[s]) < 0) goto toolong;
    p = end;
  }
  if (add(out->text, sizeof(out->text), &len, "%s", p) < 0) goto toolong;
  return 0;
toolong:
  memset(out, 0, sizeof(*out));
  return -EINVAL;
}

pgd_store_sql_t *pgd_store_sql_build_all(pgd_store_dialect_t dialect) {
  pgd_store_sql_t *all = calloc(PGD_SQL_COUNT, sizeof(*all));
  if (!all) return NULL;
  for (int i = 0; i < PGD_SQL_COUNT; i++) {
    if (pgd_store_sql_build(dialect, i, &all[i]) < 0) {
      free(all);
      return NULL;
    }
  }
  return all;
}

static void text_param(pgd_store_param_t *p, const char *s) {
  p->type = s ? PGD_PARAM_TEXT : PGD_PARAM_NULL;
  p->s = s;
}

int pgd_store_sql_op_params(const pgd_store_op_t *op, int *stmt,
                            pgd_store_param_t p[PGD_SQL_MAX_SLOTS + 1]) {
  memset(p, 0, sizeof(*p) * (PGD_SQL_MAX_SLOTS + 1));
  const pgd_store_row_t *row = pgd_store_op_row(op);
  const pgd_store_record_t *rec;
  switch (op->kind) {
  case PGD_OP_DELETE_JOB:
    *stmt = PGD_SQL_DELETE_JOB;
    text_param(&p[1], row->v[0].s);
    return 0;
  case PGD_OP_EXPIRE_KEYS:
    *stmt = PGD_SQL_EXPIRE_KEYS;
    p[1].type = PGD_PARAM_INT;
    p[1].i = row->v[0].i;
    return 0;
  case PGD_OP_DELETE_DOC:
  case PGD_OP_DELETE_DOCS:
    *stmt = op->kind == PGD_OP_DELETE_DOC ? PGD_SQL_DELETE_DOC : PGD_SQL_DELETE_DOCS;
    text_param(&p[1], row->v[0].s);
    text_param(&p[2], row->v[1].s);
    return 0;
  case PGD_OP_PUT_LOG_CHUNK:
    *stmt = PGD_SQL_PUT_LOG_CHUNK;
    for (int i = 0; i < 4; i++) {
      p[i + 1].type = PGD_PARAM_INT;
      p[i + 1].i = row->v[i].i;
    }
    text_param(&p[5], row->v[4].s);
    return 0;
  case PGD_OP_PUT_BLOB_CHUNK:
    *stmt = PGD_SQL_PUT_BLOB_CHUNK;
    text_param(&p[1], row->v[0].s);
    p[2].type = p[3].type = PGD_PARAM_INT;
    p[2].i = row->v[1].i;
    p[3].i = row->v[2].i;
    text_param(&p[4], row->v[3].s);
    return 0;
  case PGD_OP_DELETE_BLOB:
    *stmt = PGD_SQL_DELETE_BLOB;
    text_param(&p[1], row->v[0].s);
    return 0;
  case PGD_OP_DELETE_EXECUTION:
    *stmt = PGD_SQL_DELETE_EXECUTION;
    p[1].type = PGD_PARAM_INT;
    p[1].i = row->v[0].i;
    return 0;
  case PGD_OP_PUT_JOB: rec = &pgd_store_rec_job; break;
  case PGD_OP_PUT_EXECUTION: rec = &pgd_store_rec_execution; break;
  case PGD_OP_PUT_ATTEMPT: rec = &pgd_store_rec_attempt; break;
  case PGD_OP_PUT_WORKER: rec = &pgd_store_rec_worker; break;
  case PGD_OP_PUT_DOC: rec = &pgd_store_rec_doc; break;
  default: *stmt = -1; return -EINVAL;
  }
  *stmt = pgd_store_sql_put_stmt(rec);
  for (size_t i = 0; i < rec->nfields; i++) {
    const pgd_store_val_t *v = &row->v[i];
    if (!v->present) continue;
    if (rec->fields[i].kind == PGD_COL_INT) {
      p[i + 1].type = PGD_PARAM_INT;
      p[i + 1].i = v->i;
    } else {
      text_param(&p[i + 1], v->s);
    }
  }
  if (rec->has_data) text_param(&p[rec->nfields + 1], row->data);
  return 0;
}
