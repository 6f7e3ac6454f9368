/* Unit tests of the store on its PostgreSQL backend (core/store): the
 * behavioural cases shared with SQLite (test_store_cases.h) plus
 * PostgreSQL-specific ones (schema objects, a newer schema, open errors,
 * concurrent migrations, the epoch row lock, reconnection).
 *
 * The test starts its own PostgreSQL server (tests/unit/support/pg_server.h,
 * tests/pg_harness.sh) and stops it at the end, also on a crash. Each case
 * gets a new database. When no server can be started (no postgresql
 * package) the test FAILS with a message: it never skips. */
#include <libpq-fe.h>

#include "pg_server.h"
#include "pgd_test.h"
#include "store/store_internal.h"

/* The latest schema version of this build and the number of migrations
 * (each applied migration is one row of pagoda_schema). */
#define SCHEMA_LATEST (pgd_store_pg_migrations[pgd_store_pg_migration_count - 1].version)
#define SCHEMA_ROWS ((int)pgd_store_pg_migration_count)
static const char *schema_latest_paren(void) {
  static char buf[16];
  snprintf(buf, sizeof buf, "(%d)", SCHEMA_LATEST);
  return buf;
}
#include "test_store_cases.h"
#include "test_store_doc_cases.h"
#include "test_store_log_cases.h"
#include "test_store_writer_cases.h"

static pgd_test_pg_t g_pg;
static char g_db[64];
static int g_db_seq;

static void no_notice(void *arg, const char *msg) {
  (void)arg;
  (void)msg;
}

static PGconn *admin_connect(const char *db) {
  char ci[512];
  pgd_test_pg_conninfo(&g_pg, db, ci, sizeof(ci));
  PGconn *c = PQconnectdb(ci);
  if (PQstatus(c) != CONNECTION_OK) {
    fprintf(stderr, "\n  cannot connect to %s: %s", db, PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  PQsetNoticeProcessor(c, no_notice, NULL);
  return c;
}

static int admin_exec(const char *db, const char *sql) {
  PGconn *c = admin_connect(db);
  if (!c) return -1;
  PGresult *r = PQexec(c, sql);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
  if (!ok) fprintf(stderr, "\n  %s: %s", sql, PQerrorMessage(c));
  PQclear(r);
  PQfinish(c);
  return ok ? 0 : -1;
}

static void pg_fresh(void) {
  snprintf(g_db, sizeof(g_db), "pgd_t%d", ++g_db_seq);
  char sql[128];
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", g_db);
  CU_ASSERT_FATAL(admin_exec("postgres", sql) == 0);
}

static void pg_drop(void) {
  char sql[128];
  snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", g_db);
  CU_ASSERT(admin_exec("postgres", sql) == 0);
}

static void current_conninfo(char *buf, size_t cap) { pgd_test_pg_conninfo(&g_pg, g_db, buf, cap); }

static int pg_open(uv_loop_t *loop, pgd_store_t **out, char *err, size_t errlen) {
  char ci[512];
  current_conninfo(ci, sizeof(ci));
  return pgd_store_open_postgres(loop, ci, out, err, errlen);
}

static int64_t pg_sql_int(const char *sql) {
  PGconn *c = admin_connect(g_db);
  if (!c) return -1;
  PGresult *r = PQexec(c, sql);
  int64_t v = -1;
  if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
    v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
  PQclear(r);
  PQfinish(c);
  return v;
}

static const store_backend_t pg_backend = {"postgresql", pg_fresh, pg_drop, pg_open, pg_sql_int};

/* ---- PostgreSQL only ---------------------------------------------------- */

static void test_pg_schema_objects(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  close_all(s, &loop);
  CU_ASSERT(sql_int("SELECT count(*) FROM pg_tables WHERE schemaname='public' AND tablename IN "
                    "('jobs','executions','attempts','workers','cluster','pagoda_schema','docs')") == 7);
  CU_ASSERT(sql_int("SELECT count(*) FROM pg_indexes WHERE indexname IN "
                    "('executions_job_id','executions_state','docs_parent','docs_sort',"
                    "'docs_state')") == 5);
  CU_ASSERT(sql_int("SELECT count(*) FROM information_schema.columns WHERE table_name='docs' "
                    "AND column_name IN ('sort_num','created_us') AND data_type='bigint'") == 2);
  /* µs timestamps and ids are bigint */
  CU_ASSERT(sql_int("SELECT count(*) FROM information_schema.columns WHERE table_name='executions' "
                    "AND column_name IN ('id','finished_us') AND data_type='bigint'") == 2);
  remove_db();
}

static void test_pg_future_schema_refused(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  close_all(s, &loop);
  CU_ASSERT_FATAL(admin_exec(g_db, "INSERT INTO pagoda_schema VALUES (99, 'from the future', 0)") == 0);
  uv_loop_init(&loop);
  char err[512] = "";
  s = (pgd_store_t *)1;
  CU_ASSERT(pg_open(&loop, &s, err, sizeof(err)) == -ENOTSUP);
  CU_ASSERT(s == NULL);
  CU_ASSERT(strstr(err, "99") != NULL && strstr(err, "newer") != NULL && strstr(err, schema_latest_paren()) != NULL);
  CU_ASSERT(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  CU_ASSERT(uv_loop_close(&loop) == 0);
  CU_ASSERT(sql_int("SELECT max(version) FROM pagoda_schema") == 99);
  remove_db();
}

static void test_pg_open_errors(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = NULL;
  char err[512] = "", ci[512];
  CU_ASSERT(pgd_store_open_postgres(&loop, NULL, &s, err, sizeof(err)) == -EINVAL);
  CU_ASSERT(pgd_store_open_postgres(NULL, "dbname=x", &s, err, sizeof(err)) == -EINVAL);
  err[0] = 0;
  CU_ASSERT(pgd_store_open_postgres(&loop, "this is = not a = conninfo '", &s, err, sizeof(err)) < 0);
  CU_ASSERT(s == NULL && err[0] != 0);
  /* a database that does not exist */
  pgd_test_pg_conninfo(&g_pg, "pgd_no_such_db", ci, sizeof(ci));
  err[0] = 0;
  CU_ASSERT(pgd_store_open_postgres(&loop, ci, &s, err, sizeof(err)) == -ECONNREFUSED);
  CU_ASSERT(s == NULL && strstr(err, "pgd_no_such_db") != NULL);
  /* nothing listens there */
  snprintf(ci, sizeof(ci), "host=%s port=%d user=postgres dbname=postgres", g_pg.dir,
           g_pg.port == 31999 ? 31998 : 31999);
  CU_ASSERT(pgd_store_open_postgres(&loop, ci, &s, err, sizeof(err)) == -ECONNREFUSED);
  CU_ASSERT(s == NULL);
  CU_ASSERT(uv_run(&loop, UV_RUN_DEFAULT) == 0);
  CU_ASSERT(uv_loop_close(&loop) == 0);
}

/* several masters opening one new database at once: each migration once */
#define N_OPENERS 4
static void *opener_main(void *arg) {
  (void)arg;
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = NULL;
  char err[512] = "";
  intptr_t rc = pg_open(&loop, &s, err, sizeof(err));
  if (rc == 0 && pgd_store_schema_version(s) != SCHEMA_LATEST) rc = -1000;
  if (rc != 0) fprintf(stderr, "\n  concurrent open: %d %s", (int)rc, err);
  pgd_store_close(s);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0 && rc == 0) rc = -1001;
  return (void *)rc;
}

static void test_pg_concurrent_migrations(void) {
  fresh_db();
  pthread_t th[N_OPENERS];
  for (int i = 0; i < N_OPENERS; i++) CU_ASSERT_FATAL(pthread_create(&th[i], NULL, opener_main, NULL) == 0);
  int failures = 0;
  for (int i = 0; i < N_OPENERS; i++) {
    void *ret = NULL;
    pthread_join(th[i], &ret);
    if ((intptr_t)ret != 0) failures++;
  }
  CU_ASSERT(failures == 0);
  CU_ASSERT(sql_int("SELECT count(*) FROM pagoda_schema") == SCHEMA_ROWS);
  CU_ASSERT(sql_int("SELECT count(*) FROM cluster") == 1);
  remove_db();
}

/* A database at version 2 (the first two migrations of this build's list)
 * is upgraded to 4, keeping its rows and epoch; documents work. */
static void test_pg_upgrade_from_v2(void) {
  fresh_db();
  CU_ASSERT_FATAL(pgd_store_pg_migrations[1].version == 2);
  CU_ASSERT_FATAL(admin_exec(g_db, "CREATE TABLE pagoda_schema (version INTEGER PRIMARY KEY NOT "
                                   "NULL, description TEXT NOT NULL, applied_us BIGINT NOT NULL)") == 0);
  for (int i = 0; i < 2; i++) CU_ASSERT_FATAL(admin_exec(g_db, pgd_store_pg_migrations[i].sql) == 0);
  CU_ASSERT_FATAL(admin_exec(g_db, "INSERT INTO pagoda_schema VALUES (1, 'v1', 0), (2, 'v2', 0)") == 0);
  CU_ASSERT_FATAL(admin_exec(g_db, "UPDATE cluster SET epoch=4 WHERE id=1") == 0);
  CU_ASSERT_FATAL(admin_exec(g_db, "INSERT INTO executions (id, state) VALUES (17, 'running')") == 0);
  CU_ASSERT(sql_int("SELECT count(*) FROM pg_tables WHERE tablename='docs'") == 0);
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  CU_ASSERT(pgd_store_schema_version(s) == SCHEMA_LATEST);
  CU_ASSERT(pgd_store_max_execution_id(s) == 17);
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

/* acquire_epoch waits for a batch that holds the epoch row (FOR SHARE) */
typedef struct {
  pgd_store_t *s;
  int64_t epoch;
  int rc, done; /* done: __atomic */
} acquirer_t;
static void *acquirer_main(void *arg) {
  acquirer_t *a = arg;
  a->rc = pgd_store_acquire_epoch(a->s, &a->epoch, NULL, 0);
  __atomic_store_n(&a->done, 1, __ATOMIC_RELEASE);
  return NULL;
}

static void test_pg_acquire_waits_for_batch(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  /* what a batch of the epoch-0 leader does first, held open */
  PGconn *c = admin_connect(g_db);
  CU_ASSERT_FATAL(c != NULL);
  PQclear(PQexec(c, "BEGIN"));
  PGresult *r = PQexec(c, "SELECT epoch FROM cluster WHERE id=1 FOR SHARE");
  CU_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), "0") == 0);
  PQclear(r);
  PQclear(PQexec(c, "INSERT INTO executions (id, state) VALUES (9, 'late-write')"));
  acquirer_t a = {s, 0, -1, 0};
  pthread_t th;
  CU_ASSERT_FATAL(pthread_create(&th, NULL, acquirer_main, &a) == 0);
  usleep(300 * 1000);
  CU_ASSERT(__atomic_load_n(&a.done, __ATOMIC_ACQUIRE) == 0); /* blocked by the batch */
  PQclear(PQexec(c, "COMMIT"));
  pthread_join(th, NULL);
  CU_ASSERT(a.rc == 0 && a.epoch == 1);
  PQfinish(c);
  /* the new leader sees the old leader's committed write */
  cJSON *e = pgd_store_get_execution(s, 9);
  CU_ASSERT(e != NULL);
  cJSON_Delete(e);
  close_all(s, &loop);
  remove_db();
}

/* A batch of an older leader that never ends (its process stopped in the
 * middle): the epoch is taken anyway after the lock timeout, by ending that
 * connection, whose uncommitted write is rolled back. */
static void test_pg_acquire_ends_a_stuck_batch(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  PGconn *c = admin_connect(g_db);
  CU_ASSERT_FATAL(c != NULL);
  PQclear(PQexec(c, "BEGIN"));
  PGresult *r = PQexec(c, "SELECT epoch FROM cluster WHERE id=1 FOR SHARE");
  CU_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
  PQclear(r);
  PQclear(PQexec(c, "INSERT INTO executions (id, state) VALUES (9, 'stuck-write')"));
  /* never committed: acquire_epoch must not wait for it forever */
  int64_t epoch = 0;
  CU_ASSERT(pgd_store_acquire_epoch(s, &epoch, NULL, 0) == 0);
  CU_ASSERT_EQUAL(epoch, 1);
  /* the stuck connection was ended and its write rolled back */
  r = PQexec(c, "COMMIT");
  CU_ASSERT(PQresultStatus(r) != PGRES_COMMAND_OK || PQstatus(c) != CONNECTION_OK);
  PQclear(r);
  PQfinish(c);
  cJSON *e = pgd_store_get_execution(s, 9);
  CU_ASSERT_PTR_NULL(e);
  cJSON_Delete(e);
  close_all(s, &loop);
  remove_db();
}

/* the server drops the store's sessions: the next write and read reconnect */
static void test_pg_reconnect(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_execution, "{\"id\":1}") == 0);
  char sql[256];
  snprintf(sql, sizeof(sql),
           "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname='%s' AND "
           "pid <> pg_backend_pid()",
           g_db);
  CU_ASSERT(sql_int(sql) == 2);
  usleep(100 * 1000);
  CU_ASSERT(put_wait(&loop, s, pgd_store_put_execution, "{\"id\":2}") == 0);
  CU_ASSERT(pgd_store_max_execution_id(s) == 2);
  close_all(s, &loop);
  remove_db();
}

int main(void) {
  char err[512] = "";
  pgd_log_set_level(PGD_LOG_WARN);
  if (pgd_test_pg_start(&g_pg, err, sizeof(err)) != 0) {
    fprintf(stderr, "test_store_pg: FAILED: %s\n", err);
    pgd_test_pg_stop(&g_pg);
    return 1;
  }
  fprintf(stderr, "test_store_pg: PostgreSQL server on port %d, directory %s\n", g_pg.port, g_pg.dir);
  int failed = 1;
  if (CU_initialize_registry() == CUE_SUCCESS) {
    B = &pg_backend;
    CU_pSuite suite = CU_add_suite("store_pg", suite_init, NULL);
    store_add_cases(suite);
    store_add_doc_cases(suite);
    store_add_log_cases(suite);
    store_add_writer_cases(suite);
    CU_add_test(suite, "pg: tables, indexes, column types", test_pg_schema_objects);
    CU_add_test(suite, "pg: a newer schema is refused", test_pg_future_schema_refused);
    CU_add_test(suite, "pg: open errors", test_pg_open_errors);
    CU_add_test(suite, "pg: concurrent migrations", test_pg_concurrent_migrations);
    CU_add_test(suite, "pg: a version 2 database is upgraded", test_pg_upgrade_from_v2);
    CU_add_test(suite, "pg: acquire_epoch waits for a batch in progress", test_pg_acquire_waits_for_batch);
    CU_add_test(suite, "pg: acquire_epoch ends a batch that never ends", test_pg_acquire_ends_a_stuck_batch);
    CU_add_test(suite, "pg: reconnect after the server drops the sessions", test_pg_reconnect);
    failed = pgd_test_run();
  }
  pgd_test_pg_stop(&g_pg);
  return failed ? 1 : 0;
}
