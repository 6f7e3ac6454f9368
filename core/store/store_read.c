/* Pagoda — the store's reads, once for both backends: which catalog
 * statement (store_sql.h) answers which public read, with which slot
 * values, under the backend's read lock, and how rows become objects.
 * A backend supplies only the primitives of its vtable (run a statement,
 * one scalar, a snapshot). Any thread. */
#include <errno.h>

#include "common/json.h"
#include "store/store_sql.h"

static void text(pgd_store_param_t *p, const char *s) {
  p->type = s ? PGD_PARAM_TEXT : PGD_PARAM_NULL;
  p->s = s;
}

static void integer(pgd_store_param_t *p, int64_t v) {
  p->type = PGD_PARAM_INT;
  p->i = v;
}

/* A new array of the rows, or NULL on error. Caller holds the lock. */
static cJSON *rows(const pgd_store_backend_ops_t *ops, void *be, int stmt,
                   const pgd_store_param_t *p, const pgd_store_record_t *rec) {
  cJSON *arr = cJSON_CreateArray();
  if (arr && ops->read_rows(be, stmt, p, rec, arr) < 0) {
    cJSON_Delete(arr);
    arr = NULL;
  }
  return arr;
}

static cJSON *first_or_null(cJSON *arr) {
  if (!arr) return NULL;
  cJSON *o = cJSON_DetachItemFromArray(arr, 0);
  cJSON_Delete(arr);
  return o;
}

static cJSON *locked_rows(const pgd_store_backend_ops_t *ops, void *be, int stmt,
                          const pgd_store_param_t *p, const pgd_store_record_t *rec) {
  ops->read_lock(be);
  cJSON *arr = rows(ops, be, stmt, p, rec);
  ops->read_unlock(be);
  return arr;
}

/* Adds "attempts" to exec (replacing any). Caller holds the lock. */
static int add_attempts(const pgd_store_backend_ops_t *ops, void *be, cJSON *exec) {
  int64_t id;
  if (!pgd_store_json_int(cJSON_GetObjectItemCaseSensitive(exec, "id"), &id)) return -EINVAL;
  pgd_store_param_t p[2] = {{0}};
  integer(&p[1], id);
  cJSON *arr = rows(ops, be, PGD_SQL_ATTEMPTS_OF, p, &pgd_store_rec_attempt);
  if (!arr) return -EIO;
  cJSON_DeleteItemFromObjectCaseSensitive(exec, "attempts");
  if (!cJSON_AddItemToObject(exec, "attempts", arr)) {
    cJSON_Delete(arr);
    return -ENOMEM;
  }
  return 0;
}

cJSON *pgd_store_read_job(const pgd_store_backend_ops_t *ops, void *be, const char *name) {
  pgd_store_param_t p[2] = {{0}};
  text(&p[1], name);
  return first_or_null(locked_rows(ops, be, PGD_SQL_GET_JOB, p, &pgd_store_rec_job));
}

cJSON *pgd_store_read_jobs(const pgd_store_backend_ops_t *ops, void *be) {
  return locked_rows(ops, be, PGD_SQL_LIST_JOBS, NULL, &pgd_store_rec_job);
}

cJSON *pgd_store_read_workers(const pgd_store_backend_ops_t *ops, void *be) {
  return locked_rows(ops, be, PGD_SQL_LIST_WORKERS, NULL, &pgd_store_rec_worker);
}

cJSON *pgd_store_read_execution(const pgd_store_backend_ops_t *ops, void *be, int64_t id) {
  pgd_store_param_t p[2] = {{0}};
  integer(&p[1], id);
  cJSON *exec = NULL;
  ops->read_lock(be);
  if (ops->snapshot_begin(be) == 0) { /* the execution and its attempts */
    exec = first_or_null(rows(ops, be, PGD_SQL_GET_EXECUTION, p, &pgd_store_rec_execution));
    if (exec && add_attempts(ops, be, exec) < 0) {
      cJSON_Delete(exec);
      exec = NULL;
    }
    ops->snapshot_end(be);
  }
  ops->read_unlock(be);
  return exec;
}

cJSON *pgd_store_read_executions(const pgd_store_backend_ops_t *ops, void *be, const char *job,
                                 const char *state, int limit, int64_t before_id) {
  pgd_store_param_t p[5] = {{0}};
  int v = 0;
  if (job) {
    v |= PGD_SQL_LIST_EXEC_JOB;
    text(&p[1], job);
  }
  if (state) {
    v |= PGD_SQL_LIST_EXEC_STATE;
    text(&p[2], state);
  }
  if (before_id > 0) {
    v |= PGD_SQL_LIST_EXEC_BEFORE;
    integer(&p[3], before_id);
  }
  integer(&p[4], limit > 0 ? limit : -1);
  return locked_rows(ops, be, PGD_SQL_LIST_EXECUTIONS + v, p, &pgd_store_rec_execution);
}

cJSON *pgd_store_read_unfinished(const pgd_store_backend_ops_t *ops, void *be) {
  cJSON *arr = NULL;
  ops->read_lock(be);
  if (ops->snapshot_begin(be) == 0) {
    arr = rows(ops, be, PGD_SQL_LIST_UNFINISHED, NULL, &pgd_store_rec_execution);
    for (cJSON *e = arr ? arr->child : NULL; e; e = e->next) {
      if (add_attempts(ops, be, e) < 0) {
        cJSON_Delete(arr);
        arr = NULL;
        break;
      }
    }
    ops->snapshot_end(be);
  }
  ops->read_unlock(be);
  return arr;
}

static int64_t scalar(const pgd_store_backend_ops_t *ops, void *be, int stmt) {
  ops->read_lock(be);
  int64_t v = ops->read_scalar(be, stmt);
  ops->read_unlock(be);
  return v;
}

int64_t pgd_store_read_max_execution_id(const pgd_store_backend_ops_t *ops, void *be) {
  return scalar(ops, be, PGD_SQL_MAX_EXECUTION_ID);
}

int pgd_store_read_schema_version(const pgd_store_backend_ops_t *ops, void *be) {
  return (int)scalar(ops, be, PGD_SQL_SCHEMA_VERSION);
}

cJSON *pgd_store_read_execution_by_key(const pgd_store_backend_ops_t *ops, void *be,
                                       const char *key, int64_t since_us) {
  pgd_store_param_t p[3] = {{0}};
  text(&p[1], key);
  integer(&p[2], since_us);
  return first_or_null(locked_rows(ops, be, PGD_SQL_EXECUTION_BY_KEY, p, &pgd_store_rec_execution));
}

int64_t pgd_store_read_last_execution_before(const pgd_store_backend_ops_t *ops, void *be,
                                             int64_t before_us) {
  pgd_store_param_t p[2] = {{0}};
  integer(&p[1], before_us);
  cJSON *arr = locked_rows(ops, be, PGD_SQL_LAST_EXECUTION_BEFORE, p, &pgd_store_rec_execution);
  if (!arr) return -EIO;
  int64_t id = pgd_json_int(cJSON_GetArrayItem(arr, 0), "id", 0);
  cJSON_Delete(arr);
  return id;
}

cJSON *pgd_store_read_doc(const pgd_store_backend_ops_t *ops, void *be, const char *kind,
                          const char *id) {
  pgd_store_param_t p[3] = {{0}};
  text(&p[1], kind);
  text(&p[2], id);
  return first_or_null(locked_rows(ops, be, PGD_SQL_GET_DOC, p, &pgd_store_rec_doc));
}

/* Order and paging: see list_docs in store_sql.c. */
cJSON *pgd_store_read_docs(const pgd_store_backend_ops_t *ops, void *be, const char *kind,
                           const char *parent, const char *state, int limit,
                           const char *before_id) {
  pgd_store_param_t p[7] = {{0}};
  int v = 0;
  int64_t bnum = 0;
  text(&p[1], kind);
  if (parent) {
    v |= PGD_SQL_LIST_DOCS_PARENT;
    text(&p[2], parent);
  }
  if (state) {
    v |= PGD_SQL_LIST_DOCS_STATE;
    text(&p[3], state);
  }
  if (before_id) {
    text(&p[4], before_id);
    if (pgd_store_doc_sort_num(before_id, &bnum)) {
      v |= PGD_SQL_LIST_DOCS_BEFORE_NUM;
      integer(&p[5], bnum);
    } else {
      v |= PGD_SQL_LIST_DOCS_BEFORE_TEXT;
    }
  }
  integer(&p[6], limit > 0 ? limit : -1);
  return locked_rows(ops, be, PGD_SQL_LIST_DOCS + v, p, &pgd_store_rec_doc);
}
