/* Unit tests of the store on its SQLite backend (core/store): the
 * behavioural cases shared with the PostgreSQL backend
 * (test_store_cases.h) plus SQLite-specific ones (WAL, schema objects, a
 * newer schema, bad files). Each test uses a fresh temporary directory and
 * its own loop, and ends by checking that the loop closes with no handle
 * left. */
#include <sqlite3.h>

#include "pgd_test.h"
#include "store/store_internal.h"

/* The latest schema version of this build and the number of migrations
 * (each applied migration is one row of pagoda_schema). */
#define SCHEMA_LATEST (pgd_store_sqlite_migrations[pgd_store_sqlite_migration_count - 1].version)
#define SCHEMA_ROWS ((int)pgd_store_sqlite_migration_count)
static const char *schema_latest_paren(void) {
  static char buf[16];
  snprintf(buf, sizeof buf, "(%d)", SCHEMA_LATEST);
  return buf;
}
#include "test_store_cases.h"
#include "test_store_doc_cases.h"
#include "test_store_log_cases.h"
#include "test_store_writer_cases.h"

static char tmpdir[256];
static char dbpath[300];

static void sqlite_fresh(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/pgd_store_test.XXXXXX");
  CU_ASSERT_FATAL(mkdtemp(tmpdir) != NULL);
  snprintf(dbpath, sizeof(dbpath), "%s/pagoda.db", tmpdir);
}

static void sqlite_drop(void) {
  char p[400];
  const char *suffix[] = {"", "-wal", "-shm", "-journal"};
  for (int i = 0; i < 4; i++) {
    snprintf(p, sizeof(p), "%s%s", dbpath, suffix[i]);
    unlink(p);
  }
  rmdir(tmpdir);
}

static int sqlite_open(uv_loop_t *loop, pgd_store_t **out, char *err, size_t errlen) {
  return pgd_store_open_sqlite(loop, dbpath, out, err, errlen);
}

static int64_t sqlite_sql_int(const char *sql) {
  sqlite3 *db = NULL;
  int64_t v = -1;
  if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return v;
}

static const store_backend_t sqlite_backend = {"sqlite", sqlite_fresh, sqlite_drop, sqlite_open,
                                               sqlite_sql_int};

/* ---- SQLite only ------------------------------------------------------- */

static void test_sqlite_schema_objects(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  char wal[400];
  snprintf(wal, sizeof(wal), "%s-wal", dbpath);
  CU_ASSERT(access(wal, F_OK) == 0); /* WAL mode */
  close_all(s, &loop);
  CU_ASSERT(sql_int("SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN "
                    "('jobs','executions','attempts','workers','cluster','docs')") == 6);
  CU_ASSERT(sql_int("SELECT count(*) FROM sqlite_master WHERE type='index' AND name IN "
                    "('executions_job_id','executions_state','docs_parent','docs_sort',"
                    "'docs_state')") == 5);
  remove_db();
}

/* A database at version 1 (made by pagoda 0.1) is migrated to 2 and its
 * rows are kept. */
static void test_sqlite_upgrade_from_v1(void) {
  fresh_db();
  sqlite3 *db = NULL;
  CU_ASSERT_FATAL(sqlite3_open(dbpath, &db) == SQLITE_OK);
  char sql[8192];
  snprintf(sql, sizeof(sql),
           "CREATE TABLE pagoda_schema (version INTEGER PRIMARY KEY NOT NULL, description TEXT "
           "NOT NULL, applied_us INTEGER NOT NULL);"
           "%s INSERT INTO pagoda_schema VALUES (1, 'v1', 0);"
           "INSERT INTO executions (id, state) VALUES (41, 'running');",
           "CREATE TABLE jobs (name TEXT PRIMARY KEY NOT NULL, type TEXT, definition TEXT NOT "
           "NULL, created_us INTEGER NOT NULL, updated_us INTEGER NOT NULL);"
           "CREATE TABLE executions (id INTEGER PRIMARY KEY NOT NULL, job TEXT, type TEXT, state "
           "TEXT, attempt INTEGER, worker_id TEXT, exit_code INTEGER, signal INTEGER, error TEXT, "
           "params TEXT, definition TEXT, submitted_us INTEGER, dispatched_us INTEGER, started_us "
           "INTEGER, finished_us INTEGER, \"trigger\" TEXT, data TEXT);"
           "CREATE TABLE attempts (execution_id INTEGER NOT NULL REFERENCES executions (id) ON "
           "DELETE CASCADE, attempt INTEGER NOT NULL, worker_id TEXT, state TEXT, exit_code "
           "INTEGER, signal INTEGER, error TEXT, started_us INTEGER, finished_us INTEGER, data "
           "TEXT, PRIMARY KEY (execution_id, attempt)) WITHOUT ROWID;"
           "CREATE TABLE workers (id TEXT PRIMARY KEY NOT NULL, host TEXT, addr TEXT, "
           "first_seen_us INTEGER, last_seen_us INTEGER, data TEXT);");
  CU_ASSERT_FATAL(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  CU_ASSERT(pgd_store_schema_version(s) == SCHEMA_LATEST);
  CU_ASSERT(pgd_store_max_execution_id(s) == 41);
  int64_t e = 0;
  CU_ASSERT(pgd_store_acquire_epoch(s, &e, NULL, 0) == 0 && e == 1);
  close_all(s, &loop);
  remove_db();
}

/* A database at version 2 (made by pagoda 0.2, i.e. with the first two
 * migrations of this build's list) is upgraded to 4; its rows and epoch are
 * kept and documents work. */
static void test_sqlite_upgrade_from_v2(void) {
  fresh_db();
  sqlite3 *db = NULL;
  CU_ASSERT_FATAL(sqlite3_open(dbpath, &db) == SQLITE_OK);
  CU_ASSERT_FATAL(pgd_store_sqlite_migrations[1].version == 2);
  CU_ASSERT_FATAL(sqlite3_exec(db,
                               "CREATE TABLE pagoda_schema (version INTEGER PRIMARY KEY NOT NULL, "
                               "description TEXT NOT NULL, applied_us INTEGER NOT NULL);"
                               "INSERT INTO pagoda_schema VALUES (1, 'v1', 0), (2, 'v2', 0);",
                               NULL, NULL, NULL) == SQLITE_OK);
  for (int i = 0; i < 2; i++)
    CU_ASSERT_FATAL(sqlite3_exec(db, pgd_store_sqlite_migrations[i].sql, NULL, NULL, NULL) == SQLITE_OK);
  CU_ASSERT_FATAL(sqlite3_exec(db,
                               "UPDATE cluster SET epoch=4 WHERE id=1;"
                               "INSERT INTO executions (id, state) VALUES (17, 'running');"
                               "INSERT INTO jobs VALUES ('j', 'shell', '{\"name\":\"j\"}', 1, 2);",
                               NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
  CU_ASSERT(sql_int("SELECT count(*) FROM sqlite_master WHERE name='docs'") == 0);

  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  CU_ASSERT(pgd_store_schema_version(s) == SCHEMA_LATEST);
  CU_ASSERT(pgd_store_max_execution_id(s) == 17);
  cJSON *j = pgd_store_get_job(s, "j");
  CU_ASSERT(j != NULL && get_int(j, "created_us") == 1);
  cJSON_Delete(j);
  int64_t e = 0;
  CU_ASSERT(pgd_store_acquire_epoch(s, &e, NULL, 0) == 0 && e == 5);
  pgd_store_set_epoch(s, e);
  CU_ASSERT(doc_put_wait(&loop, s, "flow", "f", NULL, NULL, "{\"a\":1}") == 0);
  cJSON *d = pgd_store_get_doc(s, "flow", "f");
  CU_ASSERT(doc_equal(d, "{\"a\":1}"));
  cJSON_Delete(d);
  close_all(s, &loop);
  CU_ASSERT(sql_int("SELECT count(*) FROM pagoda_schema") == SCHEMA_ROWS);
  remove_db();
}

static void test_future_schema_refused(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  close_all(s, &loop);

  sqlite3 *db = NULL;
  CU_ASSERT_FATAL(sqlite3_open(dbpath, &db) == SQLITE_OK);
  CU_ASSERT(sqlite3_exec(db, "INSERT INTO pagoda_schema VALUES (99, 'from the future', 0)", NULL,
                         NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);

  uv_loop_init(&loop);
  char err[512] = "";
  s = (pgd_store_t *)1;
  int rc = pgd_store_open_sqlite(&loop, dbpath, &s, err, sizeof(err));
  CU_ASSERT(rc == -ENOTSUP);
  CU_ASSERT(s == NULL);
  CU_ASSERT(strstr(err, "99") != NULL);
  CU_ASSERT(strstr(err, "newer") != NULL);
  CU_ASSERT(strstr(err, schema_latest_paren()) != NULL);
  CU_ASSERT(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  CU_ASSERT(uv_loop_close(&loop) == 0);
  /* the refused database was not touched */
  CU_ASSERT(sql_int("SELECT max(version) FROM pagoda_schema") == 99);
  remove_db();
}

static void test_open_errors(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = NULL;
  char err[512] = "";
  CU_ASSERT(pgd_store_open_sqlite(&loop, "/nonexistent-dir-pgd/x/pagoda.db", &s, err, sizeof(err)) < 0);
  CU_ASSERT(s == NULL);
  CU_ASSERT(strstr(err, "/nonexistent-dir-pgd/x/pagoda.db") != NULL);
  err[0] = 0;
  CU_ASSERT(pgd_store_open_sqlite(&loop, ":memory:", &s, err, sizeof(err)) == -EINVAL);
  CU_ASSERT(err[0] != 0);
  CU_ASSERT(pgd_store_open_sqlite(&loop, "", &s, err, sizeof(err)) == -EINVAL);
  CU_ASSERT(pgd_store_open_sqlite(&loop, NULL, &s, NULL, 0) == -EINVAL);

  /* not a database */
  fresh_db();
  FILE *f = fopen(dbpath, "w");
  CU_ASSERT_FATAL(f != NULL);
  for (int i = 0; i < 200; i++) fputs("this is not a sqlite database at all\n", f);
  fclose(f);
  err[0] = 0;
  CU_ASSERT(pgd_store_open_sqlite(&loop, dbpath, &s, err, sizeof(err)) < 0);
  CU_ASSERT(s == NULL);
  CU_ASSERT(strstr(err, dbpath) != NULL);
  CU_ASSERT(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  CU_ASSERT(uv_loop_close(&loop) == 0);
  remove_db();
}

int main(void) {
  CU_pSuite suite;
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  B = &sqlite_backend;
  suite = CU_add_suite("store_sqlite", suite_init, NULL);
  store_add_cases(suite);
  store_add_doc_cases(suite);
  store_add_log_cases(suite);
  store_add_writer_cases(suite);
  CU_add_test(suite, "sqlite: WAL, tables and indexes", test_sqlite_schema_objects);
  CU_add_test(suite, "sqlite: a version 1 database is upgraded", test_sqlite_upgrade_from_v1);
  CU_add_test(suite, "sqlite: a version 2 database is upgraded", test_sqlite_upgrade_from_v2);
  CU_add_test(suite, "a newer schema is refused", test_future_schema_refused);
  CU_add_test(suite, "open errors", test_open_errors);
  return pgd_test_run();
}
