/* Pagoda — PostgreSQL schema migrations, embedded in the binary.
 *
 * Same rules as sqlite_migrations.c, and the SAME version numbers: version N
 * is the same logical schema in both backends (same tables, columns, keys
 * and indexes). Differences of spelling only:
 *  - integers and µs timestamps are BIGINT (SQLite INTEGER is 64-bit);
 *  - JSON columns are TEXT holding the JSON text as written, exactly like
 *    SQLite, so both backends read back byte-identical objects (jsonb would
 *    reorder members); a later migration may add jsonb columns or
 *    expression indexes if a query needs them;
 *  - no WITHOUT ROWID (a SQLite storage option);
 *  - text keys that lists sort on are COLLATE "C" (byte order, as SQLite's
 *    BINARY), and indexes are declared in the order lists read them
 *    (DESC NULLS LAST), which SQLite gets from a backward scan.
 * The runner (store_pg.c) creates `pagoda_schema` and runs each migration in
 * its own transaction under an advisory lock.
 */
#include "store/store_internal.h"

const pgd_store_migration_t pgd_store_pg_migrations[] = {
    {1, "jobs, executions, attempts, workers",
     "CREATE TABLE \"jobs\" (\n"
     "  \"name\"        TEXT PRIMARY KEY NOT NULL,\n"
     "  \"type\"        TEXT,\n"
     "  \"definition\"  TEXT NOT NULL,            -- the whole job object as JSON\n"
     "  \"created_us\"  BIGINT NOT NULL,\n"
     "  \"updated_us\"  BIGINT NOT NULL\n"
     ");\n"
     "CREATE TABLE \"executions\" (\n"
     "  \"id\"            BIGINT PRIMARY KEY NOT NULL,  -- assigned by the master\n"
     "  \"job\"           TEXT,\n"
     "  \"type\"          TEXT,\n"
     "  \"state\"         TEXT,\n"
     "  \"attempt\"       BIGINT,\n"
     "  \"worker_id\"     TEXT,\n"
     "  \"exit_code\"     BIGINT,\n"
     "  \"signal\"        BIGINT,\n"
     "  \"error\"         TEXT,\n"
     "  \"params\"        TEXT,                  -- JSON\n"
     "  \"definition\"    TEXT,                  -- JSON: job definition snapshot\n"
     "  \"submitted_us\"  BIGINT,\n"
     "  \"dispatched_us\" BIGINT,\n"
     "  \"started_us\"    BIGINT,\n"
     "  \"finished_us\"   BIGINT,\n"
     "  \"trigger\"       TEXT,\n"
     "  \"data\"          TEXT                   -- JSON object: other members\n"
     ");\n"
     "CREATE INDEX \"executions_job_id\" ON \"executions\" (\"job\", \"id\");\n"
     "CREATE INDEX \"executions_state\" ON \"executions\" (\"state\");\n"
     "CREATE TABLE \"attempts\" (\n"
     "  \"execution_id\" BIGINT NOT NULL REFERENCES \"executions\" (\"id\") ON DELETE CASCADE,\n"
     "  \"attempt\"      BIGINT NOT NULL,\n"
     "  \"worker_id\"    TEXT,\n"
     "  \"state\"        TEXT,\n"
     "  \"exit_code\"    BIGINT,\n"
     "  \"signal\"       BIGINT,\n"
     "  \"error\"        TEXT,\n"
     "  \"started_us\"   BIGINT,\n"
     "  \"finished_us\"  BIGINT,\n"
     "  \"data\"         TEXT,\n"
     "  PRIMARY KEY (\"execution_id\", \"attempt\")\n"
     ");\n"
     "CREATE TABLE \"workers\" (\n"
     "  \"id\"            TEXT PRIMARY KEY NOT NULL,\n"
     "  \"host\"          TEXT,\n"
     "  \"addr\"          TEXT,\n"
     "  \"first_seen_us\" BIGINT,\n"
     "  \"last_seen_us\"  BIGINT,\n"
     "  \"data\"          TEXT\n"
     ");\n"},
    {2, "cluster epoch (leader fencing)",
     "CREATE TABLE \"cluster\" (\n"
     "  \"id\"         INTEGER PRIMARY KEY NOT NULL CHECK (\"id\" = 1),  -- one row\n"
     "  \"epoch\"      BIGINT NOT NULL,  -- incremented by each elected leader\n"
     "  \"updated_us\" BIGINT NOT NULL\n"
     ");\n"
     "INSERT INTO \"cluster\" (\"id\", \"epoch\", \"updated_us\") VALUES (1, 0, 0);\n"},
    {3, "documents (flows, schedules, runs, resources)",
     "CREATE TABLE \"docs\" (\n"
     "  \"kind\"       TEXT COLLATE \"C\" NOT NULL,  -- [a-z_]{1,32}\n"
     "  \"id\"         TEXT COLLATE \"C\" NOT NULL,  -- byte order, like SQLite\n"
     "  \"parent\"     TEXT COLLATE \"C\",           -- groups documents for listing\n"
     "  \"state\"      TEXT COLLATE \"C\",\n"
     "  \"sort_num\"   BIGINT,                      -- the id's value when it is 1-18 digits\n"
     "  \"data\"       TEXT NOT NULL,               -- the object as JSON\n"
     "  \"created_us\" BIGINT NOT NULL,\n"
     "  \"updated_us\" BIGINT NOT NULL,\n"
     "  PRIMARY KEY (\"kind\", \"id\")\n"
     ");\n"
     "CREATE INDEX \"docs_parent\" ON \"docs\"\n"
     "  (\"kind\", \"parent\", \"sort_num\" DESC NULLS LAST, \"id\" DESC);\n"
     "CREATE INDEX \"docs_sort\" ON \"docs\" (\"kind\", \"sort_num\" DESC NULLS LAST, \"id\" DESC);\n"
     "CREATE INDEX \"docs_state\" ON \"docs\" (\"kind\", \"state\");\n"},
    {4, "idempotency keys of runs",
     "ALTER TABLE \"executions\" ADD COLUMN \"idempotency_key\" TEXT COLLATE \"C\";\n"
     "CREATE INDEX \"executions_idempotency_key\" ON \"executions\" (\"idempotency_key\")\n"
     "  WHERE \"idempotency_key\" IS NOT NULL;\n"},
    {5, "execution pages by state and by job and state (keyset paging)",
     /* A page is ORDER BY id DESC LIMIT n after the filters: each filter
      * needs an index ending in id, so a page reads n index entries
      * whatever the table's size (docs/api.md "Executions"). */
     "CREATE INDEX \"executions_state_id\" ON \"executions\" (\"state\", \"id\");\n"
     "CREATE INDEX \"executions_job_state_id\" ON \"executions\" (\"job\", \"state\", \"id\");\n"
     /* The start-up read of unfinished work (store_sql.c LIST_UNFINISHED,
      * the same condition word for word): a small index of only those rows,
      * in id order, so a master starts in time proportional to its
      * unfinished work, not to the history (a planner that knows the table
      * is mostly finished would otherwise scan it all). ORs, not IN: SQLite
      * evaluates an IN list through a temporary table on every row write,
      * which made each execution write ~5 µs dearer. */
     "CREATE INDEX \"executions_unfinished\" ON \"executions\" (\"id\")\n"
     "  WHERE \"state\"='pending' OR \"state\"='dispatched' OR \"state\"='running';\n"},
    {6, "log chunks and resource blobs (shared storage)",
     "CREATE TABLE \"log_chunks\" (\n"
     "  \"execution_id\" BIGINT NOT NULL REFERENCES \"executions\" (\"id\") ON DELETE CASCADE,\n"
     "  \"attempt\"      BIGINT NOT NULL,\n"
     "  \"seq\"          BIGINT NOT NULL,  -- the chunk's byte offset in the attempt's log\n"
     "  \"bytes\"        BIGINT NOT NULL,  -- its length in bytes\n"
     "  \"data\"         TEXT NOT NULL,    -- UTF-8 text (the worker sanitises output)\n"
     "  PRIMARY KEY (\"execution_id\", \"attempt\", \"seq\")\n"
     ");\n"
     "CREATE TABLE \"blobs\" (\n"
     "  \"hash\"  TEXT COLLATE \"C\" NOT NULL,  -- SHA-256 of the whole content, 64 hex\n"
     "  \"seq\"   BIGINT NOT NULL,             -- chunk number from 0\n"
     "  \"bytes\" BIGINT NOT NULL,\n"
     "  \"data\"  BYTEA NOT NULL,\n"
     "  PRIMARY KEY (\"hash\", \"seq\")\n"
     ");\n"},
};

const size_t pgd_store_pg_migration_count =
    sizeof(pgd_store_pg_migrations) / sizeof(pgd_store_pg_migrations[0]);
