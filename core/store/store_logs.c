/* Pagoda — log chunks, resource blobs, execution deletion, retention scans
 * and sizes (store_logs.h), over the generic queue (store.c) and the SQL
 * catalog (store_sql.c). Writes: loop thread; reads: any thread. */
#include "store/store_logs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_sql.h"

static const pgd_store_field_t log_chunk_fields[] = {
    {"attempt", PGD_COL_INT, 0}, {"seq", PGD_COL_INT, 0}, {"bytes", PGD_COL_INT, 0},
    {"data", PGD_COL_TEXT, 0}};
const pgd_store_record_t pgd_store_rec_log_chunk = {"log_chunks", log_chunk_fields, 4, 0, 0, NULL};

static const pgd_store_field_t log_size_fields[] = {{"attempt", PGD_COL_INT, 0},
                                                    {"size", PGD_COL_INT, 0}};
const pgd_store_record_t pgd_store_rec_log_size = {"log_chunks", log_size_fields, 2, 0, 0, NULL};

static const pgd_store_field_t blob_chunk_fields[] = {
    {"seq", PGD_COL_INT, 0}, {"bytes", PGD_COL_INT, 0}, {"data", PGD_COL_TEXT, 0}};
const pgd_store_record_t pgd_store_rec_blob_chunk = {"blobs", blob_chunk_fields, 3, 0, 0, NULL};

static const pgd_store_field_t exec_brief_fields[] = {
    {"id", PGD_COL_INT, 0},      {"job", PGD_COL_TEXT, 0},          {"state", PGD_COL_TEXT, 0},
    {"attempt", PGD_COL_INT, 0}, {"submitted_us", PGD_COL_INT, 0}};
const pgd_store_record_t pgd_store_rec_exec_brief = {"executions", exec_brief_fields, 5, 1, 0,
                                                     NULL};

static bool hash_ok(const char *h) {
  if (!h || strlen(h) != 64) return false;
  for (int i = 0; i < 64; i++)
    if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return false;
  return true;
}

/* ---- writes ------------------------------------------------------------- */

static void set_int(pgd_store_row_t *row, int i, int64_t v) {
  row->v[i].present = 1;
  row->v[i].i = v;
}

int pgd_store_put_log_chunk(pgd_store_t *s, int64_t exec_id, int attempt, int64_t offset,
                            const char *data, size_t len, pgd_store_done_cb cb, void *ud) {
  if (exec_id < 1 || attempt < 1 || offset < 0 || !data || len == 0 ||
      len > PGD_STORE_LOG_CHUNK_MAX || memchr(data, 0, len))
    return -EINVAL;
  int rc = 0;
  pgd_store_op_t *op = pgd_store__new_op(s, PGD_OP_PUT_LOG_CHUNK, cb, ud, &rc);
  if (!op) return rc;
  char *copy = malloc(len + 1);
  if (!copy) {
    free(op);
    return -ENOMEM;
  }
  memcpy(copy, data, len);
  copy[len] = '\0';
  set_int(&op->row, 0, exec_id);
  set_int(&op->row, 1, attempt);
  set_int(&op->row, 2, offset);
  set_int(&op->row, 3, (int64_t)len);
  op->row.v[4].present = 1;
  op->row.v[4].s = copy;
  return pgd_store__enqueue(s, op);
}

static char *to_hex(const unsigned char *p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  char *h = malloc(2 * n + 1);
  if (!h) return NULL;
  for (size_t i = 0; i < n; i++) {
    h[2 * i] = digits[p[i] >> 4];
    h[2 * i + 1] = digits[p[i] & 15];
  }
  h[2 * n] = '\0';
  return h;
}

int pgd_store_put_blob(pgd_store_t *s, const char *hash, const void *data, size_t len,
                       pgd_store_done_cb cb, void *ud) {
  if (!hash_ok(hash) || (!data && len)) return -EINVAL;
  size_t n = len ? (len + PGD_STORE_BLOB_CHUNK - 1) / PGD_STORE_BLOB_CHUNK : 1;
  for (size_t k = 0; k < n; k++) {
    bool last = k + 1 == n;
    int rc = 0;
    pgd_store_op_t *op = pgd_store__new_op(s, PGD_OP_PUT_BLOB_CHUNK, last ? cb : NULL,
                                           last ? ud : NULL, &rc);
    if (!op) return rc; /* earlier chunks stay queued: harmless, rewritten by a retry */
    size_t off = k * PGD_STORE_BLOB_CHUNK;
    size_t part = len - off < PGD_STORE_BLOB_CHUNK ? len - off : PGD_STORE_BLOB_CHUNK;
    op->row.v[0].s = strdup(hash);
    op->row.v[3].s = to_hex((const unsigned char *)data + off, len ? part : 0);
    if (!op->row.v[0].s || !op->row.v[3].s) {
      pgd_store_row_free(&op->row);
      free(op);
      return -ENOMEM;
    }
    op->row.v[0].present = op->row.v[3].present = 1;
    set_int(&op->row, 1, (int64_t)k);
    set_int(&op->row, 2, len ? (int64_t)part : 0);
    pgd_store__enqueue(s, op);
  }
  return 0;
}

int pgd_store_delete_blob(pgd_store_t *s, const char *hash, pgd_store_done_cb cb, void *ud) {
  if (!hash_ok(hash)) return -EINVAL;
  int rc = 0;
  pgd_store_op_t *op = pgd_store__new_op(s, PGD_OP_DELETE_BLOB, cb, ud, &rc);
  if (!op) return rc;
  if (!(op->row.v[0].s = strdup(hash))) {
    free(op);
    return -ENOMEM;
  }
  op->row.v[0].present = 1;
  return pgd_store__enqueue(s, op);
}

int pgd_store_delete_execution(pgd_store_t *s, int64_t id, pgd_store_done_cb cb, void *ud) {
  if (id < 1) return -EINVAL;
  int rc = 0;
  pgd_store_op_t *op = pgd_store__new_op(s, PGD_OP_DELETE_EXECUTION, cb, ud, &rc);
  if (!op) return rc;
  set_int(&op->row, 0, id);
  return pgd_store__enqueue(s, op);
}

/* ---- reads -------------------------------------------------------------- */

static void int_param(pgd_store_param_t *p, int64_t v) {
  p->type = PGD_PARAM_INT;
  p->i = v;
}

/* Runs a read statement under the backend's lock: a new array, or NULL. */
static cJSON *read_rows(pgd_store_t *s, int stmt, const pgd_store_param_t *p,
                        const pgd_store_record_t *rec) {
  const pgd_store_backend_ops_t *ops;
  void *be;
  if (pgd_store__backend(s, &ops, &be) < 0) return NULL;
  cJSON *arr = cJSON_CreateArray();
  if (!arr) return NULL;
  ops->read_lock(be);
  int rc = ops->read_rows(be, stmt, p, rec, arr);
  ops->read_unlock(be);
  if (rc < 0) {
    cJSON_Delete(arr);
    return NULL;
  }
  return arr;
}

static int64_t get_int(const cJSON *o, const char *k) {
  int64_t v = 0;
  return pgd_store_json_int(cJSON_GetObjectItemCaseSensitive(o, k), &v) ? v : -1;
}

cJSON *pgd_store_log_sizes(pgd_store_t *s, int64_t exec_id) {
  pgd_store_param_t p[2] = {{0}};
  int_param(&p[1], exec_id);
  return read_rows(s, PGD_SQL_LOG_SIZES, p, &pgd_store_rec_log_size);
}

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n) {
  if (*len + n + 1 > *cap) {
    size_t want = *cap ? *cap : 4096;
    while (want < *len + n + 1) want *= 2;
    char *nb = realloc(*buf, want);
    if (!nb) return -ENOMEM;
    *buf = nb;
    *cap = want;
  }
  memcpy(*buf + *len, data, n);
  *len += n;
  (*buf)[*len] = '\0';
  return 0;
}

int pgd_store_read_log(pgd_store_t *s, int64_t exec_id, int attempt, int64_t offset,
                       bool one_attempt, char **buf, size_t *len) {
  pgd_store_param_t p[4] = {{0}};
  int_param(&p[1], exec_id);
  int_param(&p[2], attempt);
  int_param(&p[3], offset);
  cJSON *rows = read_rows(s, PGD_SQL_LOG_CHUNKS, p, &pgd_store_rec_log_chunk);
  if (!rows) return -EIO;
  size_t cap = *buf ? *len + 1 : 0, n0 = *len;
  int64_t cur = -1, pos = 0;
  bool gap = false;
  int rc = 0;
  const cJSON *row;
  cJSON_ArrayForEach(row, rows) {
    int64_t a = get_int(row, "attempt"), seq = get_int(row, "seq"), bytes = get_int(row, "bytes");
    const char *data = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "data"));
    if (!data || seq < 0 || bytes < 0 || (size_t)bytes != strlen(data)) continue;
    if (one_attempt && a != attempt) break;
    if (a != cur) {
      cur = a;
      pos = a == attempt ? offset : 0;
      gap = false;
    }
    if (gap) continue;
    if (seq > pos) { /* missing bytes: the attempt ends at the gap */
      gap = true;
      continue;
    }
    int64_t skip = pos - seq;
    if (skip >= bytes) continue;
    if ((rc = append(buf, len, &cap, data + skip, (size_t)(bytes - skip))) < 0) break;
    pos = seq + bytes;
  }
  cJSON_Delete(rows);
  if (rc < 0) *len = n0;
  return rc;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int pgd_store_read_blob(pgd_store_t *s, const char *hash, char **data, size_t *len) {
  *data = NULL;
  *len = 0;
  if (!hash_ok(hash)) return -EINVAL;
  pgd_store_param_t p[2] = {{0}};
  p[1].type = PGD_PARAM_TEXT;
  p[1].s = hash;
  cJSON *rows = read_rows(s, PGD_SQL_BLOB_CHUNKS, p, &pgd_store_rec_blob_chunk);
  if (!rows) return -EIO;
  int n = cJSON_GetArraySize(rows);
  if (n == 0) {
    cJSON_Delete(rows);
    return -ENOENT;
  }
  size_t total = 0;
  const cJSON *row;
  cJSON_ArrayForEach(row, rows) total += (size_t)(get_int(row, "bytes") > 0 ? get_int(row, "bytes") : 0);
  char *out = malloc(total + 1);
  int rc = out ? 0 : -ENOMEM;
  size_t at = 0;
  int64_t want_seq = 0;
  cJSON_ArrayForEach(row, rows) {
    if (rc < 0) break;
    const char *hex = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(row, "data"));
    int64_t bytes = get_int(row, "bytes");
    if (get_int(row, "seq") != want_seq++ || !hex || bytes < 0 ||
        strlen(hex) != 2 * (size_t)bytes || at + (size_t)bytes > total) {
      rc = -EIO;
      break;
    }
    for (int64_t i = 0; i < bytes; i++) {
      int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        rc = -EIO;
        break;
      }
      out[at++] = (char)(hi << 4 | lo);
    }
  }
  cJSON_Delete(rows);
  if (rc < 0) {
    free(out);
    return rc;
  }
  out[at] = '\0';
  *data = out;
  *len = at;
  return 0;
}

cJSON *pgd_store_scan_executions(pgd_store_t *s, int64_t after_id, int limit) {
  if (limit <= 0) return NULL;
  pgd_store_param_t p[3] = {{0}};
  int_param(&p[1], after_id);
  int_param(&p[2], limit);
  return read_rows(s, PGD_SQL_EXEC_SCAN, p, &pgd_store_rec_exec_brief);
}

cJSON *pgd_store_executions_beyond(pgd_store_t *s, const char *job, int keep, int limit) {
  if (!job || keep < 0 || limit <= 0) return NULL;
  pgd_store_param_t p[4] = {{0}};
  p[1].type = PGD_PARAM_TEXT;
  p[1].s = job;
  int_param(&p[2], keep);
  int_param(&p[3], limit);
  return read_rows(s, PGD_SQL_EXEC_BEYOND_LAST, p, &pgd_store_rec_exec_brief);
}

static int64_t scalar(pgd_store_t *s, int stmt) {
  const pgd_store_backend_ops_t *ops;
  void *be;
  if (pgd_store__backend(s, &ops, &be) < 0) return -EINVAL;
  ops->read_lock(be);
  int64_t v = ops->read_scalar(be, stmt);
  ops->read_unlock(be);
  return v;
}

int64_t pgd_store_size_bytes(pgd_store_t *s) { return scalar(s, PGD_SQL_STORE_BYTES); }
int64_t pgd_store_log_bytes(pgd_store_t *s) { return scalar(s, PGD_SQL_LOG_BYTES); }
int64_t pgd_store_blob_bytes(pgd_store_t *s) { return scalar(s, PGD_SQL_BLOB_BYTES); }
