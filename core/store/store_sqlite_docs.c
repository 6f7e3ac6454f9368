/* Pagoda — reads of documents on the SQLite backend (read connection under
 * `rmu`, statements prepared on first use and kept in be->dr). The writes
 * of documents are in store_sqlite.c with the other writes.
 *
 * Order of lists (store.h): sort_num DESC NULLS LAST, id DESC. SQLite sorts
 * NULL below every number and compares TEXT with memcmp (BINARY), so this is
 * a backward scan of the indexes (kind, parent, sort_num, id) and
 * (kind, sort_num, id). Paging by before_id continues strictly after the key
 * (sort_num of before_id, before_id) in that order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/store_sqlite.h"

#define MOD "store"
#define COLS \
  "SELECT \"kind\",\"id\",\"parent\",\"state\",\"sort_num\",\"data\",\"created_us\",\"updated_us\" " \
  "FROM \"docs\" "

/* ?1 kind, ?2 parent, ?3 state, ?4 before_id, ?5 its sort_num, ?6 limit */
static sqlite3_stmt *doc_stmt(sqlite_be_t *be, int idx) {
  if (be->dr[idx]) return be->dr[idx];
  char sql[1024];
  if (idx == DR_GET) {
    snprintf(sql, sizeof(sql), COLS "WHERE \"kind\"=?1 AND \"id\"=?2");
  } else {
    int v = idx - DR_LIST, before = v / 4;
    snprintf(sql, sizeof(sql),
             COLS "WHERE \"kind\"=?1%s%s%s ORDER BY \"sort_num\" DESC NULLS LAST, \"id\" DESC "
                  "LIMIT ?6",
             (v & 1) ? " AND \"parent\"=?2" : "", (v & 2) ? " AND \"state\"=?3" : "",
             before == 1   ? " AND (\"sort_num\" IS NULL OR \"sort_num\"<?5 OR "
                             "(\"sort_num\"=?5 AND \"id\"<?4))"
             : before == 2 ? " AND \"sort_num\" IS NULL AND \"id\"<?4"
                           : "");
  }
  int rc = sqlite3_prepare_v3(be->rdb, sql, -1, SQLITE_PREPARE_PERSISTENT, &be->dr[idx], NULL);
  if (rc != SQLITE_OK) {
    PGD_ERROR(MOD, "cannot prepare a document read: %s", sqlite3_errmsg(be->rdb));
    be->dr[idx] = NULL;
  }
  return be->dr[idx];
}

/* Runs the bound statement into a new array; NULL on error. Resets it. */
static cJSON *collect_docs(sqlite_be_t *be, sqlite3_stmt *st) {
  cJSON *arr = cJSON_CreateArray();
  int rc = SQLITE_DONE;
  while (arr && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    pgd_store_row_t row;
    memset(&row, 0, sizeof(row));
    for (int c = 0; c < 8; c++) {
      if (sqlite3_column_type(st, c) == SQLITE_NULL) continue;
      if (pgd_store_rec_doc.fields[c].kind == PGD_COL_INT) {
        row.v[c].i = sqlite3_column_int64(st, c);
        row.v[c].present = 1;
      } else {
        row.v[c].s = (char *)sqlite3_column_text(st, c);
        row.v[c].present = row.v[c].s != NULL;
      }
    }
    cJSON *o = pgd_store_record_join_doc(&row);
    if (!o || !cJSON_AddItemToArray(arr, o)) {
      cJSON_Delete(o);
      cJSON_Delete(arr);
      arr = NULL;
    }
  }
  if (arr && rc != SQLITE_DONE) {
    PGD_WARN(MOD, "document read failed: %s", sqlite3_errmsg(be->rdb));
    cJSON_Delete(arr);
    arr = NULL;
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return arr;
}

cJSON *pgd_store_sqlite_get_doc(void *bep, const char *kind, const char *id) {
  sqlite_be_t *be = bep;
  cJSON *arr = NULL;
  pthread_mutex_lock(&be->rmu);
  sqlite3_stmt *st = doc_stmt(be, DR_GET);
  if (st) {
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    arr = collect_docs(be, st);
  }
  pthread_mutex_unlock(&be->rmu);
  cJSON *o = arr ? cJSON_DetachItemFromArray(arr, 0) : NULL;
  cJSON_Delete(arr);
  return o;
}

cJSON *pgd_store_sqlite_list_docs(void *bep, const char *kind, const char *parent,
                                  const char *state, int limit, const char *before_id) {
  sqlite_be_t *be = bep;
  int64_t bnum = 0;
  int before = !before_id ? 0 : pgd_store_doc_sort_num(before_id, &bnum) ? 1 : 2;
  int idx = DR_LIST + (parent ? 1 : 0) + (state ? 2 : 0) + 4 * before;
  cJSON *arr = NULL;
  pthread_mutex_lock(&be->rmu);
  sqlite3_stmt *st = doc_stmt(be, idx);
  if (st) {
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    if (parent) sqlite3_bind_text(st, 2, parent, -1, SQLITE_STATIC);
    if (state) sqlite3_bind_text(st, 3, state, -1, SQLITE_STATIC);
    if (before) sqlite3_bind_text(st, 4, before_id, -1, SQLITE_STATIC);
    if (before == 1) sqlite3_bind_int64(st, 5, bnum);
    sqlite3_bind_int64(st, 6, limit > 0 ? limit : -1);
    arr = collect_docs(be, st);
  }
  pthread_mutex_unlock(&be->rmu);
  return arr;
}
