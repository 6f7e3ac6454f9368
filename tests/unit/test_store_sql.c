/* Unit tests of the store's SQL catalog (core/store/store_sql.c): every
 * statement is built in both dialects, SQLite keeps one parameter per slot,
 * PostgreSQL renumbers the slots densely and in the same places, and every
 * statement prepares on a real database of each kind (SQLite in memory; a
 * throw-away PostgreSQL server from tests/unit/support/pg_server.h, which FAILS the test
 * when it cannot start: no silent skip). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include <libpq-fe.h>
#include <sqlite3.h>

#include "common/json.h"
#include "pg_server.h"
#include "store/store_sql.h"

static pgd_test_pg_t g_pg;
static int g_pg_started;

/* The parameter numbers of `text` in order of appearance (marker '?' or
 * '$'); returns how many. */
static int markers(const char *text, char mark, int *out, int cap) {
  int n = 0;
  for (const char *p = strchr(text, mark); p; p = strchr(p + 1, mark)) {
    CU_ASSERT_FATAL(n < cap);
    CU_ASSERT(p[1] >= '1' && p[1] <= '9');
    out[n++] = atoi(p + 1);
  }
  return n;
}

static void test_every_statement_builds(void) {
  pgd_store_sql_t s, p;
  for (int i = 0; i < PGD_SQL_COUNT; i++) {
    CU_ASSERT(pgd_store_sql_build(PGD_SQL_SQLITE, i, &s) == 0);
    CU_ASSERT(pgd_store_sql_build(PGD_SQL_POSTGRES, i, &p) == 0);
    CU_ASSERT(strlen(s.text) >= 5 && strlen(p.text) >= 5);
  }
  /* one catalog: the same statements exist in both dialects, no more */
  CU_ASSERT(pgd_store_sql_build(PGD_SQL_SQLITE, PGD_SQL_COUNT, &s) == -EINVAL && s.text[0] == 0);
  CU_ASSERT(pgd_store_sql_build(PGD_SQL_POSTGRES, PGD_SQL_COUNT, &p) == -EINVAL && p.text[0] == 0);
  CU_ASSERT(pgd_store_sql_build(PGD_SQL_SQLITE, -1, &s) == -EINVAL);
  CU_ASSERT(pgd_store_sql_build((pgd_store_dialect_t)7, PGD_SQL_GET_JOB, &s) == -EINVAL);
  pgd_store_sql_t *a = pgd_store_sql_build_all(PGD_SQL_SQLITE);
  pgd_store_sql_t *b = pgd_store_sql_build_all(PGD_SQL_POSTGRES);
  CU_ASSERT_FATAL(a && b);
  pgd_store_sql_build(PGD_SQL_POSTGRES, PGD_SQL_LIST_DOCS + 5, &p);
  CU_ASSERT_STRING_EQUAL(b[PGD_SQL_LIST_DOCS + 5].text, p.text);
  free(a);
  free(b);
  /* each record's put statement */
  CU_ASSERT(pgd_store_sql_put_stmt(&pgd_store_rec_job) == PGD_SQL_PUT_JOB);
  CU_ASSERT(pgd_store_sql_put_stmt(&pgd_store_rec_doc) == PGD_SQL_PUT_DOC);
}

/* SQLite: parameter N is slot N; nparams is the highest slot used. */
static void test_sqlite_parameters_are_slots(void) {
  for (int i = 0; i < PGD_SQL_COUNT; i++) {
    pgd_store_sql_t s;
    CU_ASSERT_FATAL(pgd_store_sql_build(PGD_SQL_SQLITE, i, &s) == 0);
    CU_ASSERT(strchr(s.text, '$') == NULL);
    int m[64], n = markers(s.text, '?', m, 64), max = 0;
    for (int k = 0; k < n; k++) max = m[k] > max ? m[k] : max;
    CU_ASSERT(s.nparams == max);
    for (int k = 0; k < s.nparams; k++) CU_ASSERT(s.slot[k] == k + 1);
  }
}

/* PostgreSQL: the slots used, in ascending order, are $1..$n; each place
 * that holds slot N in the SQLite text holds $rank(N) in the PostgreSQL
 * text, in the same order. */
static void test_postgres_renumbering(void) {
  for (int i = 0; i < PGD_SQL_COUNT; i++) {
    pgd_store_sql_t s, p;
    CU_ASSERT_FATAL(pgd_store_sql_build(PGD_SQL_SQLITE, i, &s) == 0);
    CU_ASSERT_FATAL(pgd_store_sql_build(PGD_SQL_POSTGRES, i, &p) == 0);
    CU_ASSERT(strchr(p.text, '?') == NULL);
    int ms[64], mp[64];
    int ns = markers(s.text, '?', ms, 64), np = markers(p.text, '$', mp, 64);
    CU_ASSERT_FATAL(ns == np);
    int used[PGD_SQL_MAX_SLOTS + 1] = {0}, distinct = 0;
    for (int k = 0; k < ns; k++) used[ms[k]] = 1;
    int rank[PGD_SQL_MAX_SLOTS + 1] = {0};
    for (int slot = 1; slot <= PGD_SQL_MAX_SLOTS; slot++)
      if (used[slot]) {
        CU_ASSERT(p.slot[distinct] == slot);
        rank[slot] = ++distinct;
      }
    CU_ASSERT(p.nparams == distinct);
    for (int k = 0; k < ns; k++) CU_ASSERT(mp[k] == rank[ms[k]]);
  }
  /* one list of documents by state, paged after a numeric id: slots 1, 3,
   * 4, 5 (twice), 6 */
  pgd_store_sql_t s, p;
  int v = PGD_SQL_LIST_DOCS + PGD_SQL_LIST_DOCS_STATE + PGD_SQL_LIST_DOCS_BEFORE_NUM;
  pgd_store_sql_build(PGD_SQL_SQLITE, v, &s);
  pgd_store_sql_build(PGD_SQL_POSTGRES, v, &p);
  CU_ASSERT(s.nparams == 6);
  CU_ASSERT(strstr(s.text, "\"state\"=?3") && strstr(s.text, "\"id\"<?4") &&
            strstr(s.text, "\"sort_num\"<?5") && strstr(s.text, " LIMIT ?6"));
  CU_ASSERT(p.nparams == 5);
  CU_ASSERT(p.slot[0] == 1 && p.slot[1] == 3 && p.slot[2] == 4 && p.slot[3] == 5 && p.slot[4] == 6);
  CU_ASSERT(strstr(p.text, "\"kind\"=$1") && strstr(p.text, "\"state\"=$2") &&
            strstr(p.text, "\"id\"<$3") && strstr(p.text, "\"sort_num\"<$4") &&
            strstr(p.text, "\"sort_num\"=$4") && strstr(p.text, " LIMIT NULLIF($5,-1)"));
  CU_ASSERT(strstr(p.text, "\"parent\"=") == NULL);
  /* the dialect differences */
  pgd_store_sql_build(PGD_SQL_SQLITE, PGD_SQL_BEGIN_WRITE, &s);
  pgd_store_sql_build(PGD_SQL_POSTGRES, PGD_SQL_BEGIN_WRITE, &p);
  CU_ASSERT_STRING_EQUAL(s.text, "BEGIN IMMEDIATE");
  CU_ASSERT_STRING_EQUAL(p.text, "BEGIN");
  pgd_store_sql_build(PGD_SQL_POSTGRES, PGD_SQL_EPOCH_CHECK, &p);
  CU_ASSERT(strstr(p.text, "FOR SHARE") != NULL);
}

/* The slots of a queued write come from its row. */
static void test_op_params(void) {
  cJSON *exec = cJSON_Parse("{\"id\":7,\"job\":\"j\",\"state\":\"running\",\"extra\":1}");
  pgd_store_op_t op;
  memset(&op, 0, sizeof(op));
  op.kind = PGD_OP_PUT_EXECUTION;
  CU_ASSERT_FATAL(pgd_store_record_split(&pgd_store_rec_execution, exec, &op.row) == 0);
  pgd_store_param_t p[PGD_SQL_MAX_SLOTS + 1];
  int stmt = -1;
  CU_ASSERT(pgd_store_sql_op_params(&op, &stmt, p) == 0);
  CU_ASSERT(stmt == PGD_SQL_PUT_EXECUTION);
  CU_ASSERT(p[1].type == PGD_PARAM_INT && p[1].i == 7);
  CU_ASSERT(p[2].type == PGD_PARAM_TEXT && strcmp(p[2].s, "j") == 0);
  CU_ASSERT(p[3].type == PGD_PARAM_NULL); /* type: absent */
  CU_ASSERT(p[4].type == PGD_PARAM_TEXT && strcmp(p[4].s, "running") == 0);
  /* data: the slot after the last column (18 since migration 4 added idempotency_key) */
  CU_ASSERT(p[18].type == PGD_PARAM_TEXT && strstr(p[18].s, "extra") != NULL);
  pgd_store_row_free(&op.row);
  op.kind = PGD_OP_FLUSH;
  CU_ASSERT(pgd_store_sql_op_params(&op, &stmt, p) == -EINVAL);
  cJSON_Delete(exec);
}

/* The `data` column is the text pgd_json_print gives for an object of the
 * members that are not columns, in record order (the split prints them one
 * by one): unknown names, mistyped and null known fields, the second of a
 * duplicate name, escapes, nesting, big integers; the ignored member
 * ("attempts") is left out, and a record with no such member has none. */
static void test_split_data_text(void) {
  static const char *const records[] = {
      "{\"id\":7,\"job\":\"j\",\"state\":\"running\",\"extra\":1}",
      "{\"id\":8,\"tasks\":[{\"shard\":0,\"attempt\":1,\"state\":\"done\",\"worker_id\":null}],"
      "\"job\":\"a\\\"b\\n\",\"exit_code\":\"x\",\"signal\":null,\"attempts\":[1],"
      "\"resources\":{\"cpu\":1.5,\"big\":9007199254740991,\"s\":\"\\u00e9\\t\"},"
      "\"job\":\"dup\",\"params\":{\"k\":[true,false,null]},\"zz\":\"\"}",
      "{\"id\":9,\"job\":\"j\",\"params\":null,\"definition\":{}}",
  };
  for (size_t r = 0; r < sizeof records / sizeof *records; r++) {
    cJSON *exec = cJSON_Parse(records[r]);
    CU_ASSERT_FATAL(exec != NULL);
    cJSON *expect = cJSON_CreateObject();
    int seen[17] = {0};
    for (const cJSON *it = exec->child; it; it = it->next) {
      if (strcmp(it->string, "attempts") == 0) continue;
      int fi = -1;
      for (size_t f = 0; f < pgd_store_rec_execution.nfields; f++)
        if (strcmp(pgd_store_rec_execution.fields[f].name, it->string) == 0) fi = (int)f;
      int64_t i64;
      pgd_store_col_kind_t kind = fi >= 0 ? pgd_store_rec_execution.fields[fi].kind : PGD_COL_TEXT;
      int fits = fi >= 0 && !seen[fi] &&
                 (kind == PGD_COL_TEXT   ? cJSON_IsString(it)
                  : kind == PGD_COL_INT  ? pgd_store_json_int(it, &i64)
                                         : !cJSON_IsNull(it));
      if (fits) {
        seen[fi] = 1;
        continue;
      }
      cJSON_AddItemReferenceToObject(expect, it->string, (cJSON *)it);
    }
    pgd_store_row_t row;
    CU_ASSERT_FATAL(pgd_store_record_split(&pgd_store_rec_execution, exec, &row) == 0);
    if (expect->child) {
      char *want = pgd_json_print(expect);
      CU_ASSERT_PTR_NOT_NULL_FATAL(row.data);
      CU_ASSERT_STRING_EQUAL(row.data, want);
      free(want);
    } else {
      CU_ASSERT_PTR_NULL(row.data);
    }
    /* and it reads back into the same members */
    cJSON *back = pgd_store_record_join(&pgd_store_rec_execution, &row);
    CU_ASSERT_PTR_NOT_NULL_FATAL(back);
    for (const cJSON *it = expect->child; it; it = it->next)
      if (!cJSON_GetObjectItemCaseSensitive(exec, it->string) ||
          cJSON_GetObjectItemCaseSensitive(exec, it->string) == it)
        CU_ASSERT(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(back, it->string), it, 1));
    cJSON_Delete(back);
    pgd_store_row_free(&row);
    cJSON_Delete(expect);
    cJSON_Delete(exec);
  }
}

static void test_prepare_on_sqlite(void) {
  sqlite3 *db = NULL;
  CU_ASSERT_FATAL(sqlite3_open(":memory:", &db) == SQLITE_OK);
  pgd_store_sql_t *all = pgd_store_sql_build_all(PGD_SQL_SQLITE);
  CU_ASSERT_FATAL(all != NULL);
  CU_ASSERT_FATAL(sqlite3_exec(db, all[PGD_SQL_SCHEMA_TABLE].text, NULL, NULL, NULL) == SQLITE_OK);
  for (size_t m = 0; m < pgd_store_sqlite_migration_count; m++)
    CU_ASSERT_FATAL(sqlite3_exec(db, pgd_store_sqlite_migrations[m].sql, NULL, NULL, NULL) == SQLITE_OK);
  for (int i = 0; i < PGD_SQL_COUNT; i++) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, all[i].text, -1, &st, NULL);
    if (rc != SQLITE_OK) fprintf(stderr, "\n  statement %d: %s: %s", i, all[i].text, sqlite3_errmsg(db));
    CU_ASSERT(rc == SQLITE_OK);
    CU_ASSERT(sqlite3_bind_parameter_count(st) == all[i].nparams);
    sqlite3_finalize(st);
  }
  free(all);
  sqlite3_close(db);
}

static PGconn *pg_connect(const char *db) {
  char ci[512];
  pgd_test_pg_conninfo(&g_pg, db, ci, sizeof(ci));
  PGconn *c = PQconnectdb(ci);
  if (PQstatus(c) != CONNECTION_OK) fprintf(stderr, "\n  %s", PQerrorMessage(c));
  return c;
}

static int pg_ok(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok) fprintf(stderr, "\n  %s: %s", sql, PQerrorMessage(c));
  PQclear(r);
  return ok;
}

static void test_prepare_on_postgres(void) {
  CU_ASSERT_FATAL(g_pg_started);
  PGconn *admin = pg_connect("postgres");
  CU_ASSERT_FATAL(PQstatus(admin) == CONNECTION_OK);
  CU_ASSERT_FATAL(pg_ok(admin, "CREATE DATABASE pgd_sql"));
  PGconn *c = pg_connect("pgd_sql");
  CU_ASSERT_FATAL(PQstatus(c) == CONNECTION_OK);
  pgd_store_sql_t *all = pgd_store_sql_build_all(PGD_SQL_POSTGRES);
  CU_ASSERT_FATAL(all != NULL);
  CU_ASSERT_FATAL(pg_ok(c, all[PGD_SQL_SCHEMA_TABLE].text));
  for (size_t m = 0; m < pgd_store_pg_migration_count; m++)
    CU_ASSERT_FATAL(pg_ok(c, pgd_store_pg_migrations[m].sql));
  for (int i = 0; i < PGD_SQL_COUNT; i++) {
    char name[16];
    snprintf(name, sizeof(name), "s%d", i);
    PGresult *r = PQprepare(c, name, all[i].text, 0, NULL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) fprintf(stderr, "\n  statement %d: %s: %s", i, all[i].text, PQerrorMessage(c));
    CU_ASSERT(ok);
    PQclear(r);
    r = PQdescribePrepared(c, name);
    CU_ASSERT(PQresultStatus(r) == PGRES_COMMAND_OK && PQnparams(r) == all[i].nparams);
    PQclear(r);
  }
  free(all);
  PQfinish(c);
  CU_ASSERT(pg_ok(admin, "DROP DATABASE pgd_sql WITH (FORCE)"));
  PQfinish(admin);
}

int main(void) {
  char err[512] = "";
  if (pgd_test_pg_start(&g_pg, err, sizeof(err)) == 0) g_pg_started = 1;
  else fprintf(stderr, "test_store_sql: cannot start PostgreSQL: %s\n", err);
  int failed = 1;
  if (CU_initialize_registry() == CUE_SUCCESS) {
    CU_pSuite suite = CU_add_suite("store_sql", NULL, NULL);
    CU_add_test(suite, "every statement builds in both dialects", test_every_statement_builds);
    CU_add_test(suite, "sqlite: parameters are slots", test_sqlite_parameters_are_slots);
    CU_add_test(suite, "postgresql: slots renumbered densely, same places", test_postgres_renumbering);
    CU_add_test(suite, "the slots of a queued write", test_op_params);
    CU_add_test(suite, "the data column: the members that are not columns", test_split_data_text);
    CU_add_test(suite, "every statement prepares on sqlite", test_prepare_on_sqlite);
    CU_add_test(suite, "every statement prepares on postgresql", test_prepare_on_postgres);
    failed = pgd_test_run();
  }
  pgd_test_pg_stop(&g_pg);
  return failed ? 1 : 0;
}
