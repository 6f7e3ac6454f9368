/* Pagoda — mapping of record objects (cJSON) to columns plus a JSON `data`
 * column, and back. Backend-neutral: the rows are plain values.
 *
 * Rule: a member goes to its column when its name is a known field and its
 * value has the field's type (TEXT: string, INT: integral number within
 * +-2^53, JSON: anything but null); every other member (unknown names, nulls,
 * values of another type) goes to `data`. Reading back adds the non-NULL
 * columns, then the members of `data`, so the object equals the one written
 * (member order aside). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/strbuf.h"
#include "store/store_internal.h"

static const pgd_store_field_t job_fields[] = {
    {"name", PGD_COL_TEXT, 0},       {"type", PGD_COL_TEXT, 0},
    {"definition", PGD_COL_TEXT, 0}, {"created_us", PGD_COL_INT, 1},
    {"updated_us", PGD_COL_INT, 0},
};
const pgd_store_record_t pgd_store_rec_job = {"jobs", job_fields, 5, 1, 0, NULL};

static const pgd_store_field_t execution_fields[] = {
    {"id", PGD_COL_INT, 0},           {"job", PGD_COL_TEXT, 0},
    {"type", PGD_COL_TEXT, 0},        {"state", PGD_COL_TEXT, 0},
    {"attempt", PGD_COL_INT, 0},      {"worker_id", PGD_COL_TEXT, 0},
    {"exit_code", PGD_COL_INT, 0},    {"signal", PGD_COL_INT, 0},
    {"error", PGD_COL_TEXT, 0},       {"params", PGD_COL_JSON, 0},
    {"definition", PGD_COL_JSON, 0},  {"submitted_us", PGD_COL_INT, 0},
    {"dispatched_us", PGD_COL_INT, 0}, {"started_us", PGD_COL_INT, 0},
    {"finished_us", PGD_COL_INT, 0},  {"trigger", PGD_COL_TEXT, 0},
    {"idempotency_key", PGD_COL_TEXT, 0}, /* migration 4 */
};
const pgd_store_record_t pgd_store_rec_execution = {"executions", execution_fields, 17, 1, 1,
                                                    "attempts"};

static const pgd_store_field_t attempt_fields[] = {
    {"execution_id", PGD_COL_INT, 0}, {"attempt", PGD_COL_INT, 0},
    {"worker_id", PGD_COL_TEXT, 0},   {"state", PGD_COL_TEXT, 0},
    {"exit_code", PGD_COL_INT, 0},    {"signal", PGD_COL_INT, 0},
    {"error", PGD_COL_TEXT, 0},       {"started_us", PGD_COL_INT, 0},
    {"finished_us", PGD_COL_INT, 0},
};
const pgd_store_record_t pgd_store_rec_attempt = {"attempts", attempt_fields, 9, 2, 1, NULL};

static const pgd_store_field_t worker_fields[] = {
    {"id", PGD_COL_TEXT, 0},           {"host", PGD_COL_TEXT, 0},
    {"addr", PGD_COL_TEXT, 0},         {"first_seen_us", PGD_COL_INT, 1},
    {"last_seen_us", PGD_COL_INT, 0},
};
const pgd_store_record_t pgd_store_rec_worker = {"workers", worker_fields, 5, 1, 1, NULL};

static const pgd_store_field_t doc_fields[] = {
    {"kind", PGD_COL_TEXT, 0},    {"id", PGD_COL_TEXT, 0},         {"parent", PGD_COL_TEXT, 0},
    {"state", PGD_COL_TEXT, 0},   {"sort_num", PGD_COL_INT, 0},    {"data", PGD_COL_TEXT, 0},
    {"created_us", PGD_COL_INT, 1}, {"updated_us", PGD_COL_INT, 0},
};
const pgd_store_record_t pgd_store_rec_doc = {"docs", doc_fields, 8, 2, 0, NULL};

#define JSON_INT_MAX 9007199254740992.0 /* 2^53 */

int pgd_store_json_int(const cJSON *item, int64_t *out) {
  if (!cJSON_IsNumber(item)) return 0;
  double d = item->valuedouble;
  if (!isfinite(d) || d != floor(d) || fabs(d) > JSON_INT_MAX) return 0;
  *out = (int64_t)d;
  return 1;
}

void pgd_store_row_free(pgd_store_row_t *row) {
  if (!row) return;
  for (size_t i = 0; i < PGD_STORE_MAX_COLS; i++) {
    free(row->v[i].s);
    row->v[i].s = NULL;
    row->v[i].present = 0;
  }
  free(row->data);
  row->data = NULL;
}

/* The field named `name`, or -1. Records are built with their members in
 * field order, so the search starts after the previous match (*hint) and
 * wraps around; the first characters are compared before calling strcmp.
 * Both only save work (a row's split looked up every member with up to 17
 * strcmp calls: ~25 % of the split's time, issue 17 round 4). */
static int field_index(const pgd_store_record_t *rec, const char *name, size_t *hint) {
  size_t n = rec->nfields;
  for (size_t k = 0, i = *hint < n ? *hint : 0; k < n; k++, i = i + 1 < n ? i + 1 : 0) {
    const char *f = rec->fields[i].name;
    if (f[0] == name[0] && strcmp(f, name) == 0) {
      *hint = i + 1;
      return (int)i;
    }
  }
  return -1;
}

/* Stores `item` into column v if its type fits; 1 = stored, 0 = does not
 * fit, -ENOMEM. */
static int put_col(pgd_store_col_kind_t kind, const cJSON *item, pgd_store_val_t *v) {
  switch (kind) {
  case PGD_COL_TEXT:
    if (!cJSON_IsString(item) || !item->valuestring) return 0;
    if (!(v->s = strdup(item->valuestring))) return -ENOMEM;
    break;
  case PGD_COL_INT:
    if (!pgd_store_json_int(item, &v->i)) return 0;
    break;
  case PGD_COL_JSON:
    if (cJSON_IsNull(item) || cJSON_IsInvalid(item)) return 0;
    if (!(v->s = pgd_json_print(item))) return -ENOMEM;
    break;
  }
  v->present = 1;
  return 1;
}

int pgd_store_record_split(const pgd_store_record_t *rec, const cJSON *obj, pgd_store_row_t *row) {
  memset(row, 0, sizeof(*row));
  if (!cJSON_IsObject(obj)) return -EINVAL;
  /* `data` is printed member by member as they come, the text
   * pgd_json_print gives for an object of these members in this order
   * (building that object of reference nodes to print it cost a malloc and
   * a free per member). */
  pgd_strbuf_t data = PGD_STRBUF_INIT;
  int rc = 0;
  size_t hint = 0;
  for (const cJSON *it = obj->child; it; it = it->next) {
    if (!it->string) continue;
    if (rec->ignore && strcmp(it->string, rec->ignore) == 0) continue;
    int fi = field_index(rec, it->string, &hint);
    if (fi >= 0 && !row->v[fi].present) {
      int r = put_col(rec->fields[fi].kind, it, &row->v[fi]);
      if (r < 0) { rc = r; goto fail; }
      if (r == 1) continue;
    }
    if (!rec->has_data) continue;
    pgd_strbuf_append(&data, data.len ? "," : "{", 1);
    pgd_json_print_string(&data, it->string);
    pgd_strbuf_append(&data, ":", 1);
    if (!pgd_json_print_append(&data, it) || data.oom) { rc = -ENOMEM; goto fail; }
  }
  /* key fields must be columns */
  for (size_t k = 0; k < rec->nkeys; k++) {
    const pgd_store_val_t *v = &row->v[k];
    if (!v->present) { rc = -EINVAL; goto fail; }
    if (rec->fields[k].kind == PGD_COL_TEXT && v->s[0] == '\0') { rc = -EINVAL; goto fail; }
  }
  if (data.len) {
    pgd_strbuf_append(&data, "}", 1);
    if (data.oom) { rc = -ENOMEM; goto fail; }
    row->data = pgd_strbuf_take(&data);
    if (!row->data) { rc = -ENOMEM; goto fail; }
  }
  return 0;
fail:
  pgd_strbuf_free(&data);
  pgd_store_row_free(row);
  return rc;
}

/* job: 0 name, 1 type, 2 definition, 3 created_us, 4 updated_us */
int pgd_store_record_split_job(const cJSON *job, int64_t now_us, pgd_store_row_t *row) {
  memset(row, 0, sizeof(*row));
  if (!cJSON_IsObject(job)) return -EINVAL;
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(job, "name");
  if (!cJSON_IsString(name) || !name->valuestring || !name->valuestring[0]) return -EINVAL;
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(job, "type");
  cJSON *def = cJSON_CreateObject();
  if (!def) return -ENOMEM;
  for (const cJSON *it = job->child; it; it = it->next) {
    if (!it->string) continue;
    if (!strcmp(it->string, "created_us") || !strcmp(it->string, "updated_us")) continue;
    if (!cJSON_AddItemReferenceToObject(def, it->string, (cJSON *)it)) goto nomem;
  }
  if (!(row->v[0].s = strdup(name->valuestring))) goto nomem;
  row->v[0].present = 1;
  if (cJSON_IsString(type) && type->valuestring) {
    if (!(row->v[1].s = strdup(type->valuestring))) goto nomem;
    row->v[1].present = 1;
  }
  if (!(row->v[2].s = pgd_json_print(def))) goto nomem;
  row->v[2].present = 1;
  row->v[3].present = row->v[4].present = 1;
  row->v[3].i = row->v[4].i = now_us;
  cJSON_Delete(def);
  return 0;
nomem:
  cJSON_Delete(def);
  pgd_store_row_free(row);
  return -ENOMEM;
}

static int add_col(cJSON *obj, const pgd_store_field_t *f, const pgd_store_val_t *v) {
  cJSON *item = NULL;
  if (!v->present) return 0;
  switch (f->kind) {
  case PGD_COL_TEXT: item = cJSON_CreateString(v->s ? v->s : ""); break;
  case PGD_COL_INT: item = cJSON_CreateNumber((double)v->i); break;
  case PGD_COL_JSON:
    item = cJSON_Parse(v->s ? v->s : "");
    if (!item) return 0; /* unreadable stored JSON: leave the member out */
    break;
  }
  if (!item) return -ENOMEM;
  if (!cJSON_AddItemToObject(obj, f->name, item)) {
    cJSON_Delete(item);
    return -ENOMEM;
  }
  return 0;
}

/* Moves the members of the JSON object text `data` into obj. */
static int merge_data(cJSON *obj, const char *data) {
  if (!data) return 0;
  cJSON *d = cJSON_Parse(data);
  if (!d) return 0;
  if (cJSON_IsObject(d)) {
    cJSON *it;
    while ((it = d->child)) {
      cJSON_DetachItemViaPointer(d, it);
      /* a column wins over a stray duplicate in data */
      if (it->string && cJSON_GetObjectItemCaseSensitive(obj, it->string)) {
        cJSON_Delete(it);
        continue;
      }
      /* the detached item keeps its name; re-adding needs the same key */
      char *key = it->string;
      it->string = NULL;
      int ok = cJSON_AddItemToObject(obj, key, it);
      free(key);
      if (!ok) {
        cJSON_Delete(it);
        cJSON_Delete(d);
        return -ENOMEM;
      }
    }
  }
  cJSON_Delete(d);
  return 0;
}

cJSON *pgd_store_record_join(const pgd_store_record_t *rec, const pgd_store_row_t *row) {
  cJSON *obj = cJSON_CreateObject();
  if (!obj) return NULL;
  for (size_t i = 0; i < rec->nfields; i++)
    if (add_col(obj, &rec->fields[i], &row->v[i]) < 0) goto fail;
  if (rec->has_data && merge_data(obj, row->data) < 0) goto fail;
  return obj;
fail:
  cJSON_Delete(obj);
  return NULL;
}

cJSON *pgd_store_record_join_job(const pgd_store_row_t *row) {
  cJSON *obj = row->v[2].present && row->v[2].s ? cJSON_Parse(row->v[2].s) : NULL;
  if (!cJSON_IsObject(obj)) {
    cJSON_Delete(obj);
    obj = cJSON_CreateObject();
    if (!obj) return NULL;
    if (row->v[0].present && add_col(obj, &pgd_store_rec_job.fields[0], &row->v[0]) < 0) goto fail;
  }
  for (int i = 3; i <= 4; i++) {
    cJSON_DeleteItemFromObjectCaseSensitive(obj, pgd_store_rec_job.fields[i].name);
    if (add_col(obj, &pgd_store_rec_job.fields[i], &row->v[i]) < 0) goto fail;
  }
  return obj;
fail:
  cJSON_Delete(obj);
  return NULL;
}

cJSON *pgd_store_record_to_json(const pgd_store_record_t *rec, const pgd_store_row_t *row) {
  if (rec == &pgd_store_rec_job) return pgd_store_record_join_job(row);
  if (rec == &pgd_store_rec_doc) return pgd_store_record_join_doc(row);
  return pgd_store_record_join(rec, row);
}

/* ---- documents ---------------------------------------------------------- */

int pgd_store_doc_kind_ok(const char *kind) {
  if (!kind || !kind[0]) return 0;
  size_t n = 0;
  for (const char *p = kind; *p; p++, n++)
    if (n >= PGD_DOC_MAX_KIND || !((*p >= 'a' && *p <= 'z') || *p == '_')) return 0;
  return 1;
}

int pgd_store_doc_sort_num(const char *id, int64_t *out) {
  if (!id || !id[0]) return 0;
  int64_t v = 0;
  size_t n = 0;
  for (const char *p = id; *p; p++, n++) {
    if (n >= 18 || *p < '0' || *p > '9') return 0;
    v = v * 10 + (*p - '0');
  }
  *out = v;
  return 1;
}

/* a non-NULL optional string: non-empty, at most PGD_DOC_MAX_ID bytes */
static int opt_str_ok(const char *s) { return !s || (s[0] && strlen(s) <= PGD_DOC_MAX_ID); }

static int dup_col(pgd_store_val_t *v, const char *s) {
  if (!s) return 0;
  if (!(v->s = strdup(s))) return -ENOMEM;
  v->present = 1;
  return 0;
}

int pgd_store_record_split_doc(const char *kind, const char *id, const char *parent,
                               const char *state, const cJSON *doc, int64_t now_us,
                               pgd_store_row_t *row) {
  memset(row, 0, sizeof(*row));
  if (!pgd_store_doc_kind_ok(kind) || !id || !id[0] || strlen(id) > PGD_DOC_MAX_ID ||
      !opt_str_ok(parent) || !opt_str_ok(state) || !cJSON_IsObject(doc))
    return -EINVAL;
  cJSON *copy = cJSON_CreateObject();
  if (!copy) return -ENOMEM;
  for (const cJSON *it = doc->child; it; it = it->next) {
    if (!it->string) continue;
    if (!strcmp(it->string, "created_us") || !strcmp(it->string, "updated_us")) continue;
    if (!cJSON_AddItemReferenceToObject(copy, it->string, (cJSON *)it)) goto nomem;
  }
  if (dup_col(&row->v[0], kind) < 0 || dup_col(&row->v[1], id) < 0 ||
      dup_col(&row->v[2], parent) < 0 || dup_col(&row->v[3], state) < 0)
    goto nomem;
  row->v[4].present = pgd_store_doc_sort_num(id, &row->v[4].i);
  if (!(row->v[5].s = pgd_json_print(copy))) goto nomem;
  row->v[5].present = 1;
  row->v[6].present = row->v[7].present = 1;
  row->v[6].i = row->v[7].i = now_us;
  cJSON_Delete(copy);
  return 0;
nomem:
  cJSON_Delete(copy);
  pgd_store_row_free(row);
  return -ENOMEM;
}

cJSON *pgd_store_record_join_doc(const pgd_store_row_t *row) {
  cJSON *obj = row->v[5].present && row->v[5].s ? cJSON_Parse(row->v[5].s) : NULL;
  if (!cJSON_IsObject(obj)) { /* unreadable stored JSON: an empty object */
    cJSON_Delete(obj);
    if (!(obj = cJSON_CreateObject())) return NULL;
  }
  for (int i = 6; i <= 7; i++) {
    cJSON_DeleteItemFromObjectCaseSensitive(obj, pgd_store_rec_doc.fields[i].name);
    if (add_col(obj, &pgd_store_rec_doc.fields[i], &row->v[i]) < 0) {
      cJSON_Delete(obj);
      return NULL;
    }
  }
  return obj;
}
