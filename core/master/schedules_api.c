/* Pagoda master — the REST routes of schedules (docs/api.md "Schedules"):
 *   POST   /api/v1/schedules                create, or replace by name
 *   GET    /api/v1/schedules                list, each with its next fire time
 *   GET    /api/v1/schedules/NAME[?next=N][&runs=N]
 *   DELETE /api/v1/schedules/NAME
 *   POST   /api/v1/schedules/NAME/pause|resume|run
 * Writes answer once the change is durable. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "master/schedules.h"

#define MAX_PREVIEW 100
#define DEFAULT_RUNS 10
#define MAX_RUNS 1000

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

/* ---- answering after a durable write ---- */

typedef struct sreply {
  pgd_http_req_t *req; /* NULL once the client went away */
  pgd_master_t *m;
  int status;
  cJSON *body;  /* fixed answer, or NULL: the schedule's view at that time */
  char *name;
} sreply_t;

static void sreply_abort(pgd_http_req_t *req, void *ud) {
  (void)req;
  ((sreply_t *)ud)->req = NULL;
}

static sreply_t *sreply_new(pgd_master_t *m, pgd_http_req_t *req, int status, cJSON *body,
                            const char *name) {
  sreply_t *r = calloc(1, sizeof *r);
  if (!r) abort();
  *r = (sreply_t){req, m, status, body, name ? strdup(name) : NULL};
  pgd_http_req_on_abort(req, sreply_abort, r);
  return r;
}

static void sreply_done(int status, void *ud) {
  sreply_t *r = ud;
  if (r->req) {
    pgd_http_req_on_abort(r->req, NULL, NULL);
    if (status < 0) {
      pgd_http_respond_error(r->req, 500, "the store could not save the change (%s)",
                             strerror(-status));
    } else {
      m_sched_item_t *s = !r->body && r->name ? m_sched_find(r->m, r->name) : NULL;
      if (s) r->body = m_sched_view(r->m, s);
      if (!r->body) r->body = cJSON_CreateObject();
      m_api_respond_json(r->req, r->status, r->body);
    }
  }
  cJSON_Delete(r->body);
  free(r->name);
  free(r);
}

static void sreply_exec_done(void *ud, int status) { sreply_done(status, ud); }

/* ---- routes ---- */

static void route_create(pgd_master_t *m, pgd_http_req_t *req) {
  cJSON *in = m_api_parse_body(req, true);
  if (!in) return;
  char err[512];
  int status = 400;
  pgd_trigger_t *trig = NULL;
  cJSON *def = m_sched_validate(m, in, &trig, &status, err, sizeof err);
  cJSON_Delete(in);
  if (!def) {
    pgd_http_respond_error(req, status, "%s", err);
    return;
  }
  const char *name = cJSON_GetObjectItemCaseSensitive(def, "name")->valuestring;
  bool existed = m_sched_find(m, name) != NULL;
  sreply_t *r = sreply_new(m, req, existed ? 200 : 201, NULL, name);
  int rc = 0;
  m_sched_put(m, def, trig, sreply_done, r, &rc);
  if (rc < 0) sreply_done(rc, r); /* a refused write never calls back */
}

static int by_name(const void *x, const void *y) {
  return strcmp((*(m_sched_item_t *const *)x)->name, (*(m_sched_item_t *const *)y)->name);
}

static void route_list(pgd_master_t *m, pgd_http_req_t *req) {
  cJSON *out = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(out, "schedules");
  if (m->sched) {
    /* By name: sort a copy of the pointers. */
    size_t n = HASH_COUNT(m->sched->items), i = 0;
    m_sched_item_t **v = calloc(n ? n : 1, sizeof *v);
    if (!v) abort();
    m_sched_item_t *s, *tmp;
    HASH_ITER(hh, m->sched->items, s, tmp) v[i++] = s;
    qsort(v, n, sizeof *v, by_name);
    for (i = 0; i < n; i++) cJSON_AddItemToArray(arr, m_sched_view(m, v[i]));
    free(v);
  }
  m_api_respond_json(req, 200, out);
  cJSON_Delete(out);
}

static int query_int(pgd_http_req_t *req, const char *key, int dflt, int max, int *out) {
  const char *q = pgd_http_req_query(req, key);
  *out = dflt;
  if (!q) return 0;
  char *end;
  long v = strtol(q, &end, 10);
  if (!*q || *end || v < 0 || v > max) {
    pgd_http_respond_error(req, 400, "%s must be an integer from 0 to %d", key, max);
    return -1;
  }
  *out = (int)v;
  return 0;
}

static void route_show(pgd_master_t *m, pgd_http_req_t *req, m_sched_item_t *s) {
  int nnext, nruns;
  if (query_int(req, "next", 0, MAX_PREVIEW, &nnext) < 0) return;
  if (query_int(req, "runs", DEFAULT_RUNS, MAX_RUNS, &nruns) < 0) return;
  cJSON *v = m_sched_view(m, s);
  if (nnext > 0) {
    int64_t t[MAX_PREVIEW];
    int n = m_sched_preview(s, pgd_now_us(), t, nnext);
    cJSON *next = cJSON_AddArrayToObject(v, "next");
    cJSON *next_us = cJSON_AddArrayToObject(v, "next_us");
    char b[40];
    for (int i = 0; i < n; i++) {
      cJSON_AddItemToArray(next, cJSON_CreateString(pgd_format_time_us(t[i], b, sizeof b)));
      cJSON_AddItemToArray(next_us, cJSON_CreateNumber((double)t[i]));
    }
  }
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
  m_api_respond_json(req, 200, v);
  cJSON_Delete(v);
}

static void route_run(pgd_master_t *m, pgd_http_req_t *req, m_sched_item_t *s) {
  char err[512];
  cJSON *out = cJSON_CreateObject();
  sreply_t *r = sreply_new(m, req, 201, out, NULL);
  int64_t fid = 0;
  m_exec_t *e = m_sched_run_now(m, s, sreply_exec_done, r, &fid, err, sizeof err);
  if (!e) {
    pgd_http_req_on_abort(req, NULL, NULL);
    free(r);
    if (fid > 0) {
      cJSON_AddNumberToObject(out, "flow_execution_id", (double)fid);
      cJSON_AddStringToObject(out, "schedule", s->name);
      m_api_respond_json(req, 201, out);
    } else {
      pgd_http_respond_error(req, 400, "%s", err);
    }
    cJSON_Delete(out);
    return;
  }
  cJSON_AddNumberToObject(out, "execution_id", (double)e->id);
  cJSON_AddStringToObject(out, "schedule", s->name);
}

void m_sched_route(pgd_master_t *m, pgd_http_req_t *req, const char *rest) {
  const char *method = pgd_http_req_method(req);
  if (!*rest) {
    if (strcmp(method, "GET") == 0)
      route_list(m, req);
    else if (strcmp(method, "POST") == 0)
      route_create(m, req);
    else
      pgd_http_respond_error(req, 405, "use GET or POST on /api/v1/schedules");
    return;
  }
  char name[160];
  const char *slash = strchr(rest, '/');
  size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
  if (n == 0 || n >= sizeof name) {
    pgd_http_respond_error(req, 404, "schedule not found");
    return;
  }
  memcpy(name, rest, n);
  name[n] = 0;
  m_sched_item_t *s = m_sched_find(m, name);
  if (!s) {
    pgd_http_respond_error(req, 404, "schedule '%s' not found", name);
    return;
  }
  if (slash) {
    bool pause = strcmp(slash, "/pause") == 0, resume = strcmp(slash, "/resume") == 0;
    bool run = strcmp(slash, "/run") == 0;
    if (!pause && !resume && !run) {
      pgd_http_respond_error(req, 404, "no route %s %s", method, pgd_http_req_path(req));
    } else if (strcmp(method, "POST") != 0) {
      pgd_http_respond_error(req, 405, "use POST on /api/v1/schedules/NAME%s", slash);
    } else if (run) {
      route_run(m, req, s);
    } else {
      sreply_t *r = sreply_new(m, req, 200, NULL, name);
      int rc = m_sched_set_enabled(m, s, resume, sreply_done, r);
      if (rc < 0) sreply_done(rc, r);
    }
    return;
  }
  if (strcmp(method, "GET") == 0) {
    route_show(m, req, s);
  } else if (strcmp(method, "DELETE") == 0) {
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "deleted", name);
    sreply_t *r = sreply_new(m, req, 200, out, NULL);
    int rc = m_sched_delete(m, s, sreply_done, r);
    if (rc < 0) sreply_done(rc, r);
  } else {
    pgd_http_respond_error(req, 405, "use GET or DELETE on /api/v1/schedules/NAME");
  }
}
