/* Pagoda — SQLite schema migrations, embedded in the binary.
 *
 * Rules:
 *  - Versions start at 1 and have no gaps. The PostgreSQL backend keeps its
 *    own list with the SAME version numbers (version N means the same
 *    logical schema in both), so a database can be told apart by version
 *    alone.
 *  - Never edit a migration that has been released: append a new one.
 *  - Each migration runs in its own transaction together with the insert
 *    of its row into `pagoda_schema` (created by the runner, not here).
 *  - Columns are the fields that queries filter or sort on; everything else
 *    of a record lives in the JSON `data` column, so most new fields need
 *    no migration at all.
 *  - Identifiers are double-quoted ("trigger" and "signal" are SQL words).
 */
#include "store/store_internal.h"

const pgd_store_migration_t pgd_store_sqlite_migrations[] = {
    {1, "jobs, executions, attempts, workers",
     "CREATE TABLE \"jobs\" (\n"
     "  \"name\"        TEXT PRIMARY KEY NOT NULL,\n"
     "  \"type\"        TEXT,\n"
     "  \"definition\"  TEXT NOT NULL,            -- the whole job object as JSON\n"
     "  \"created_us\"  INTEGER NOT NULL,\n"
     "  \"updated_us\"  INTEGER NOT NULL\n"
     ");\n"
     "CREATE TABLE \"executions\" (\n"
     "  \"id\"            INTEGER PRIMARY KEY NOT NULL,  -- assigned by the master\n"
     "  \"job\"           TEXT,\n"
     "  \"type\"          TEXT,\n"
     "  \"state\"         TEXT,\n"
     "  \"attempt\"       INTEGER,\n"
     "  \"worker_id\"     TEXT,\n"
     "  \"exit_code\"     INTEGER,\n"
     "  \"signal\"        INTEGER,\n"
     "  \"error\"         TEXT,\n"
     "  \"params\"        TEXT,                   -- JSON\n"
     "  \"definition\"    TEXT,                   -- JSON: job definition snapshot\n"
     "  \"submitted_us\"  INTEGER,\n"
     "  \"dispatched_us\" INTEGER,\n"
     "  \"started_us\"    INTEGER,\n"
     "  \"finished_us\"   INTEGER,\n"
     "  \"trigger\"       TEXT,\n"
     "  \"data\"          TEXT                    -- JSON object: other members\n"
     ");\n"
     "CREATE INDEX \"executions_job_id\" ON \"executions\" (\"job\", \"id\");\n"
     "CREATE INDEX \"executions_state\" ON \"executions\" (\"state\");\n"
     "CREATE TABLE \"attempts\" (\n"
     "  \"execution_id\" INTEGER NOT NULL REFERENCES \"executions\" (\"id\") ON DELETE CASCADE,\n"
     "  \"attempt\"      INTEGER NOT NULL,\n"
     "  \"worker_id\"    TEXT,\n"
     "  \"state\"        TEXT,\n"
     "  \"exit_code\"    INTEGER,\n"
     "  \"signal\"       INTEGER,\n"
     "  \"error\"        TEXT,\n"
     "  \"started_us\"   INTEGER,\n"
     "  \"finished_us\"  INTEGER,\n"
     "  \"data\"         TEXT,\n"
     "  PRIMARY KEY (\"execution_id\", \"attempt\")\n"
     ") WITHOUT ROWID;\n"
     "CREATE TABLE \"workers\" (\n"
     "  \"id\"            TEXT PRIMARY KEY NOT NULL,\n"
     "  \"host\"          TEXT,\n"
     "  \"addr\"          TEXT,\n"
     "  \"first_seen_us\" INTEGER,\n"
     "  \"last_seen_us\"  INTEGER,\n"
     "  \"data\"          TEXT\n"
     ");\n"},
    {2, "cluster epoch (leader fencing)",
     "CREATE TABLE \"cluster\" (\n"
     "  \"id\"         INTEGER PRIMARY KEY NOT NULL CHECK (\"id\" = 1),  -- one row\n"
     "  \"epoch\"      INTEGER NOT NULL,  -- incremented by each elected leader\n"
     "  \"updated_us\" INTEGER NOT NULL\n"
     ");\n"
     "INSERT INTO \"cluster\" (\"id\", \"epoch\", \"updated_us\") VALUES (1, 0, 0);\n"},
    {3, "documents (flows, schedules, runs, resources)",
     "CREATE TABLE \"docs\" (\n"
     "  \"kind\"       TEXT NOT NULL,     -- [a-z_]{1,32}\n"
     "  \"id\"         TEXT NOT NULL,\n"
     "  \"parent\"     TEXT,              -- groups documents for listing\n"
     "  \"state\"      TEXT,\n"
     "  \"sort_num\"   INTEGER,           -- the id's value when it is 1-18 digits\n"
     "  \"data\"       TEXT NOT NULL,     -- the object as JSON\n"
     "  \"created_us\" INTEGER NOT NULL,\n"
     "  \"updated_us\" INTEGER NOT NULL,\n"
     "  PRIMARY KEY (\"kind\", \"id\")\n"
     ");\n"
     "CREATE INDEX \"docs_parent\" ON \"docs\" (\"kind\", \"parent\", \"sort_num\", \"id\");\n"
     "CREATE INDEX \"docs_sort\" ON \"docs\" (\"kind\", \"sort_num\", \"id\");\n"
     "CREATE INDEX \"docs_state\" ON \"docs\" (\"kind\", \"state\");\n"},
    {4, "idempotency keys of runs",
     "ALTER TABLE \"executions\" ADD COLUMN \"idempotency_key\" TEXT;\n"
     "CREATE INDEX \"executions_idempotency_key\" ON \"executions\" (\"idempotency_key\")\n"
     "  WHERE \"idempotency_key\" IS NOT NULL;\n"},
    {5, "execution pages by state and by job and state (keyset paging)",
     /* A page is ORDER BY id DESC LIMIT n after the filters: each filter
      * needs an index ending in id (docs/api.md "Executions"). Here id is
      * the rowid, which every index already ends in, so "executions_state"
      * serves (state, id) as it is; job and state together get theirs. */
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
     "  \"execution_id\" INTEGER NOT NULL REFERENCES \"executions\" (\"id\") ON DELETE CASCADE,\n"
     "  \"attempt\"      INTEGER NOT NULL,\n"
     "  \"seq\"          INTEGER NOT NULL,  -- the chunk's byte offset in the attempt's log\n"
     "  \"bytes\"        INTEGER NOT NULL,  -- its length in bytes\n"
     "  \"data\"         TEXT NOT NULL,     -- UTF-8 text (the worker sanitises output)\n"
     "  PRIMARY KEY (\"execution_id\", \"attempt\", \"seq\")\n"
     ");\n"
     "CREATE TABLE \"blobs\" (\n"
     "  \"hash\"  TEXT NOT NULL,     -- SHA-256 of the whole content, 64 hex\n"
     "  \"seq\"   INTEGER NOT NULL,  -- chunk number from 0\n"
     "  \"bytes\" INTEGER NOT NULL,\n"
     "  \"data\"  BLOB NOT NULL,     -- SQLite keeps the hex text (store_sql.c)\n"
     "  PRIMARY KEY (\"hash\", \"seq\")\n"
     ");\n"},
};

const size_t pgd_store_sqlite_migration_count =
    sizeof(pgd_store_sqlite_migrations) / sizeof(pgd_store_sqlite_migrations[0]);
