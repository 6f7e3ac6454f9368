/* Pagoda master — the schedule calls of the service interface (master.h
 * "schedules") and the view of a schedule (docs/schedules.md). The REST
 * layer is core/api/api_schedules.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "master/schedules.h"

#define MAX_PREVIEW 100

static void add_time(cJSON *o, const char *key, int64_t us) {
  char b[40];
  if (us >= 0)
    cJSON_AddStringToObject(o, key, pgd_format_time_us(us, b, sizeof b));
  else
    cJSON_AddNullToObject(o, key);
}

static void add_us(cJSON *o, const char *key, int64_t us) {
  if (us >= 0)
    cJSON_AddNumberToObject(o, key, (double)us);
  else
    cJSON_AddNullToObject(o, key);
}

cJSON *m_sched_view(pgd_master_t *m, const m_sched_item_t *s) {
  cJSON *v = cJSON_Duplicate(s->def, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(v, "enabled");
  cJSON_AddBoolToObject(v, "enabled", s->enabled);
  if (!cJSON_GetObjectItemCaseSensitive(v, "timezone"))
    cJSON_AddStringToObject(v, "timezone", pgd_trigger_timezone(s->trig));
  if (!cJSON_GetObjectItemCaseSensitive(v, "concurrency"))
    cJSON_AddStringToObject(v, "concurrency", "allow");
  int64_t next = m_sched_next_fire(m, s);
  add_us(v, "next_fire_us", next);
  add_time(v, "next_fire_at", next);
  add_us(v, "last_fired_us", s->last_fired_us);
  add_time(v, "last_fired_at", s->last_fired_us);
  if (s->last_exec_id > 0)
    cJSON_AddNumberToObject(v, "last_execution_id", (double)s->last_exec_id);
  else
    cJSON_AddNullToObject(v, "last_execution_id");
  cJSON_AddNumberToObject(v, "checkpoint_us", (double)s->checkpoint_us);
  if (s->created_us > 0) {
    cJSON_AddNumberToObject(v, "created_us", (double)s->created_us);
    add_time(v, "created_at", s->created_us);
  }
  cJSON *running = cJSON_AddArrayToObject(v, "running");
  for (int i = 0; i < s->n_active; i++)
    cJSON_AddItemToArray(running, cJSON_CreateNumber((double)s->active[i]));
  return v;
}

static int by_name(const void *x, const void *y) {
  return strcmp((*(m_sched_item_t *const *)x)->name, (*(m_sched_item_t *const *)y)->name);
}

cJSON *pgd_master_schedules_list(pgd_master_t *m) {
  cJSON *arr = cJSON_CreateArray();
  if (!m->sched) return arr;
  /* By name: sort a copy of the pointers. */
  size_t n = HASH_COUNT(m->sched->items), i = 0;
  m_sched_item_t **v = calloc(n ? n : 1, sizeof *v);
  if (!v) abort();
  m_sched_item_t *s, *tmp;
  HASH_ITER(hh, m->sched->items, s, tmp) v[i++] = s;
  qsort(v, n, sizeof *v, by_name);
  for (i = 0; i < n; i++) cJSON_AddItemToArray(arr, m_sched_view(m, v[i]));
  free(v);
  return arr;
}

bool pgd_master_schedule_exists(pgd_master_t *m, const char *name) {
  return m_sched_find(m, name) != NULL;
}

cJSON *pgd_master_schedule_get(pgd_master_t *m, const char *name, int nnext, int nruns) {
  m_sched_item_t *s = m_sched_find(m, name);
  if (!s) return NULL;
  cJSON *v = m_sched_view(m, s);
  if (nnext > MAX_PREVIEW) nnext = MAX_PREVIEW;
  if (nnext > 0) {
    int64_t t[MAX_PREVIEW];
    int n = m_sched_preview(s, m_sched_now_us(m), t, nnext);
    cJSON *next = cJSON_AddArrayToObject(v, "next");
    cJSON *next_us = cJSON_AddArrayToObject(v, "next_us");
    char b[40];
    for (int i = 0; i < n; i++) {
      cJSON_AddItemToArray(next, cJSON_CreateString(pgd_format_time_us(t[i], b, sizeof b)));
      cJSON_AddItemToArray(next_us, cJSON_CreateNumber((double)t[i]));
    }
  }
  if (nruns < 0) return v;
  cJSON *runs = nruns > 0 ? pgd_store_list_docs(m->store, M_SCHED_RUN_DOC, s->name, NULL, nruns, NULL)
                          : NULL;
  if (!runs) runs = cJSON_CreateArray();
  cJSON *r;
  cJSON_ArrayForEach(r, runs) {
    cJSON_DeleteItemFromObjectCaseSensitive(r, "updated_us");
    cJSON_DeleteItemFromObjectCaseSensitive(r, "created_us");
    const cJSON *idv = cJSON_GetObjectItemCaseSensitive(r, "execution_id");
    if (!cJSON_IsNumber(idv)) continue;
    int64_t id = (int64_t)idv->valuedouble;
    m_exec_t *e = m_exec_find(m, id);
    cJSON *rec = e ? NULL : pgd_store_get_execution(m->store, id);
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e ? e->rec : rec, "state"));
    cJSON_AddStringToObject(r, "execution_state", st ? st : "unknown");
    cJSON_Delete(rec);
  }
  cJSON_AddItemToObject(v, "runs", runs);
  return v;
}

/* A new schedule whose first write the store refused is dropped again, so
 * that it neither exists nor fires (its write is fail-fast: a full disk is
 * answered, not retried). A replaced definition that could not be stored
 * stays in memory until the next restart (the stored one is then read). */
typedef struct sched_write {
  pgd_master_t *m;
  char *name; /* set when the schedule is new */
  pgd_master_done_cb done;
  void *ud;
} sched_write_t;

static void sched_write_done(int status, void *ud) {
  sched_write_t *w = ud;
  if (status < 0 && w->name) {
    m_sched_item_t *s = m_sched_find(w->m, w->name);
    if (s) {
      PGD_ERROR("schedules", "schedule %s: not stored (%s); dropped", w->name, strerror(-status));
      m_sched_forget(w->m, s);
    }
  }
  w->done(w->ud, status);
  free(w->name);
  free(w);
}

int pgd_master_schedule_define(pgd_master_t *m, const cJSON *in, char **name_out, bool *created,
                               pgd_master_done_cb done, void *ud, char *err, size_t errlen) {
  int status = 400;
  pgd_trigger_t *trig = NULL;
  cJSON *def = m_sched_validate(m, in, &trig, &status, err, errlen);
  if (!def) return status == 404 ? -ENOENT : -EINVAL;
  const char *name = cJSON_GetObjectItemCaseSensitive(def, "name")->valuestring;
  *created = m_sched_find(m, name) == NULL;
  *name_out = strdup(name);
  if (!*name_out) abort();
  sched_write_t *w = calloc(1, sizeof *w);
  if (!w || (*created && !(w->name = strdup(name)))) abort();
  w->m = m;
  w->done = done;
  w->ud = ud;
  int rc = 0;
  bool was = pgd_store_fail_fast(m->store, true);
  m_sched_put(m, def, trig, sched_write_done, w, &rc);
  pgd_store_fail_fast(m->store, was);
  if (rc < 0) sched_write_done(rc, w); /* a refused write never calls back */
  return 0;
}

int pgd_master_schedule_set_enabled(pgd_master_t *m, const char *name, bool enabled,
                                    pgd_master_done_cb done, void *ud) {
  m_sched_item_t *s = m_sched_find(m, name);
  if (!s) return -ENOENT;
  m_done_ctx_t *c = m_done_ctx(done, ud);
  int rc = m_sched_set_enabled(m, s, enabled, m_done_store_cb, c);
  if (rc < 0) m_done_store_cb(rc, c);
  return 0;
}

int pgd_master_schedule_delete(pgd_master_t *m, const char *name, pgd_master_done_cb done,
                               void *ud) {
  m_sched_item_t *s = m_sched_find(m, name);
  if (!s) return -ENOENT;
  m_done_ctx_t *c = m_done_ctx(done, ud);
  int rc = m_sched_delete(m, s, m_done_store_cb, c);
  if (rc < 0) m_done_store_cb(rc, c);
  return 0;
}

int pgd_master_schedule_run(pgd_master_t *m, const char *name, int64_t *exec_id,
                            int64_t *fexec_id, pgd_master_done_cb done, void *ud, char *err,
                            size_t errlen) {
  *exec_id = *fexec_id = 0;
  m_sched_item_t *s = m_sched_find(m, name);
  if (!s) return pgd_set_err(err, errlen, -ENOENT, "schedule '%s' not found", name);
  m_exec_t *e = m_sched_run_now(m, s, done, ud, fexec_id, err, errlen);
  if (e) {
    *exec_id = e->id;
    return 0;
  }
  return *fexec_id > 0 ? 0 : -EINVAL;
}
