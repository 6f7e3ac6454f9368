/* Pagoda master — the REST API (docs/api.md). Writes answer only once the
 * change is durable in the store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "master/internal.h"
#include "master/resources.h"

#define MOD "api"
#define API_PREFIX "/api/v1/"

/* cJSON prints integers beyond 32 bits as "1.79530887980924e+15": exact,
 * but not what a client expects of a microsecond timestamp. Such numbers are
 * turned into raw integer text before printing. */
static void json_ints_raw(cJSON *o) {
  for (cJSON *c = o ? o->child : NULL; c; c = c->next) {
    if (cJSON_IsNumber(c)) {
      double d = c->valuedouble;
      if (d == (double)(int64_t)d && (d > 2147483647.0 || d < -2147483648.0) &&
          d < 9007199254740992.0 && d > -9007199254740992.0) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)d);
        char *txt = strdup(buf);
        if (!txt) continue;
        c->type = cJSON_Raw;
        c->valuestring = txt;
      }
    } else if (cJSON_IsObject(c) || cJSON_IsArray(c)) {
      json_ints_raw(c);
    }
  }
}

int m_api_respond_json(pgd_http_req_t *req, int status, cJSON *obj) {
  json_ints_raw(obj);
  return pgd_http_respond_json(req, status, obj);
}

static cJSON *job_view(const cJSON *stored);

/* ---- answering after a durable write ---- */

typedef struct reply {
  pgd_http_req_t *req; /* NULL once the client went away */
  pgd_master_t *m;
  int status;
  cJSON *body;
  char *job_name; /* answer with the stored job (its timestamps are the store's) */
} reply_t;

static void reply_abort(pgd_http_req_t *req, void *ud) {
  (void)req;
  ((reply_t *)ud)->req = NULL;
}

static reply_t *reply_new(pgd_master_t *m, pgd_http_req_t *req, int status, cJSON *body) {
  reply_t *r = calloc(1, sizeof *r);
  if (!r) abort();
  r->req = req;
  r->m = m;
  r->status = status;
  r->body = body;
  pgd_http_req_on_abort(req, reply_abort, r);
  return r;
}

static void reply_when_durable(void *ud, int status) {
  reply_t *r = ud;
  if (r->req) {
    pgd_http_req_on_abort(r->req, NULL, NULL);
    if (status < 0)
      pgd_http_respond_error(r->req, 500, "the store could not save the change (%s)",
                             strerror(-status));
    else {
      cJSON *stored = r->job_name ? pgd_store_get_job(r->m->store, r->job_name) : NULL;
      if (stored) {
        cJSON_Delete(r->body);
        r->body = job_view(stored);
        cJSON_Delete(stored);
      }
      m_api_respond_json(r->req, r->status, r->body);
    }
  }
  cJSON_Delete(r->body);
  free(r->job_name);
  free(r);
}

static void reply_store_cb(int status, void *ud) { reply_when_durable(ud, status); }

/* ---- views ---- */

static void add_time_strings(cJSON *o) {
  static const char *const keys[][2] = {{"submitted_us", "submitted_at"},
                                        {"dispatched_us", "dispatched_at"},
                                        {"started_us", "started_at"},
                                        {"finished_us", "finished_at"},
                                        {"created_us", "created_at"},
                                        {"updated_us", "updated_at"}};
  char buf[40];
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, keys[i][0]);
    if (!v) continue;
    cJSON_DeleteItemFromObjectCaseSensitive(o, keys[i][1]);
    if (cJSON_IsNumber(v))
      cJSON_AddStringToObject(o, keys[i][1], pgd_format_time_us((int64_t)v->valuedouble, buf, sizeof buf));
    else
      cJSON_AddNullToObject(o, keys[i][1]);
  }
}

cJSON *m_exec_view(const pgd_master_t *m, const cJSON *rec) {
  (void)m;
  cJSON *v = cJSON_Duplicate(rec, 1);
  static const char *const always[] = {"worker_id", "exit_code", "signal", "error",
                                       "submitted_us", "dispatched_us", "started_us",
                                       "finished_us"};
  for (size_t i = 0; i < sizeof always / sizeof always[0]; i++)
    if (!cJSON_GetObjectItemCaseSensitive(v, always[i])) cJSON_AddNullToObject(v, always[i]);
  add_time_strings(v);
  cJSON *attempts = cJSON_GetObjectItemCaseSensitive(v, "attempts");
  cJSON *a;
  cJSON_ArrayForEach(a, attempts) add_time_strings(a);
  return v;
}

static cJSON *job_view(const cJSON *stored) {
  cJSON *v = cJSON_Duplicate(stored, 1);
  add_time_strings(v);
  return v;
}

/* The current view of one execution: memory for unfinished ones (fresher),
 * the store for the rest and for attempt history. */
static cJSON *exec_current(pgd_master_t *m, int64_t id) {
  cJSON *stored = pgd_store_get_execution(m->store, id);
  m_exec_t *e = m_exec_find(m, id);
  if (!e) return stored;
  cJSON *rec = cJSON_Duplicate(e->rec, 1);
  cJSON *attempts = stored ? cJSON_DetachItemFromObjectCaseSensitive(stored, "attempts") : NULL;
  cJSON_Delete(stored);
  if (!attempts) attempts = cJSON_CreateArray();
  /* The current attempts as the master knows them now: their rows may not
   * be durable yet (the final one of a finishing execution, say). */
  for (int i = 0; i < e->n_tasks; i++) {
    const cJSON *cur = e->tasks[i]->attempt_rec;
    if (!cur) continue;
    double no = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(cur, "attempt"));
    int idx = 0, found = -1;
    const cJSON *a;
    cJSON_ArrayForEach(a, attempts) {
      if (cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(a, "attempt")) == no) found = idx;
      idx++;
    }
    if (found >= 0)
      cJSON_ReplaceItemInArray(attempts, found, cJSON_Duplicate(cur, 1));
    else
      cJSON_AddItemToArray(attempts, cJSON_Duplicate(cur, 1));
  }
  cJSON_AddItemToObject(rec, "attempts", attempts);
  return rec;
}

/* ---- helpers ---- */

cJSON *m_api_parse_body(pgd_http_req_t *req, bool required) {
  size_t len = 0;
  const char *body = pgd_http_req_body(req, &len);
  if (!body || len == 0) {
    if (required) pgd_http_respond_error(req, 400, "a JSON body is required");
    return required ? NULL : cJSON_CreateObject();
  }
  const char *end = NULL;
  cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, 0);
  if (!j) {
    size_t at = end && end >= body ? (size_t)(end - body) : 0;
    pgd_http_respond_error(req, 400, "invalid JSON near byte %zu", at);
    return NULL;
  }
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    pgd_http_respond_error(req, 400, "the body must be a JSON object");
    return NULL;
  }
  return j;
}

bool m_api_parse_limit(pgd_http_req_t *req, const char *text, int *limit) {
  if (!text) return true;
  char *end;
  long v = strtol(text, &end, 10);
  if (*end || v < 1 || v > 10000) {
    pgd_http_respond_error(req, 400, "limit must be an integer from 1 to 10000");
    return false;
  }
  *limit = (int)v;
  return true;
}

bool m_api_parse_id(const char *s, size_t len, int64_t *out) {
  if (len == 0 || len > 18) return false;
  int64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return v > 0;
}

/* ---- routes ---- */

static void route_health(pgd_master_t *m, pgd_http_req_t *req) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "status", "ok");
  cJSON_AddStringToObject(o, "version", PAGODA_VERSION);
  cJSON_AddStringToObject(o, "role", m->leader ? "leader" : "standby");
  cJSON_AddStringToObject(o, "store", pgd_store_backend(m->store));
  cJSON_AddNumberToObject(o, "epoch", (double)m->epoch);
  cJSON_AddNumberToObject(o, "rpc_port", pgd_listener_port(m->listener));
  cJSON_AddNumberToObject(o, "uptime_s", (double)(pgd_now_us() - m->started_us) / 1e6);
  m_api_respond_json(req, 200, o);
  cJSON_Delete(o);
}

static void route_job_put(pgd_master_t *m, pgd_http_req_t *req) {
  cJSON *in = m_api_parse_body(req, true);
  if (!in) return;
  char err[512];
  cJSON *job = m_job_normalise(m, in, err, sizeof err);
  cJSON_Delete(in);
  if (!job) {
    pgd_http_respond_error(req, 400, "%s", err);
    return;
  }
  const char *name = cJSON_GetObjectItemCaseSensitive(job, "name")->valuestring;
  bool existed = m_job_find(m, name) != NULL;
  reply_t *r = reply_new(m, req, existed ? 200 : 201, job_view(job));
  r->job_name = strdup(name);
  int rc = pgd_store_put_job(m->store, job, reply_store_cb, r);
  if (rc < 0) {
    cJSON_Delete(job);
    reply_when_durable(r, rc); /* a refused write never calls back: answer here */
    return;
  }
  m_job_put_cache(m, job);
}

static void route_job_run(pgd_master_t *m, pgd_http_req_t *req, const char *name) {
  m_job_t *j = m_job_find(m, name);
  if (!j) {
    pgd_http_respond_error(req, 404, "job '%s' not found", name);
    return;
  }
  char rerr[512];
  if (!m_resources_check(m, j->def, rerr, sizeof rerr)) { /* deleted since the job was stored */
    pgd_http_respond_error(req, 400, "%s", rerr);
    return;
  }
  cJSON *body = m_api_parse_body(req, false);
  if (!body) return;
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(body, "params");
  if (params && !cJSON_IsObject(params)) {
    cJSON_Delete(body);
    pgd_http_respond_error(req, 400, "params must be an object");
    return;
  }
  char err[512];
  cJSON *out = cJSON_CreateObject();
  reply_t *r = reply_new(m, req, 201, out);
  m_exec_t *e = m_exec_submit(m, j->def, params, "api", reply_when_durable, r, err, sizeof err, NULL);
  cJSON_Delete(body);
  if (!e) {
    pgd_http_req_on_abort(req, NULL, NULL);
    cJSON_Delete(out);
    free(r);
    pgd_http_respond_error(req, 400, "%s", err);
    return;
  }
  cJSON_AddNumberToObject(out, "execution_id", (double)e->id);
  cJSON_AddStringToObject(out, "state", pgd_exec_state_name(e->state));
}

static void route_jobs(pgd_master_t *m, pgd_http_req_t *req, const char *rest) {
  const char *method = pgd_http_req_method(req);
  if (!*rest) {
    if (strcmp(method, "GET") == 0) {
      cJSON *list = pgd_store_list_jobs(m->store);
      cJSON *out = cJSON_CreateObject();
      cJSON *arr = cJSON_AddArrayToObject(out, "jobs");
      cJSON *j;
      cJSON_ArrayForEach(j, list) cJSON_AddItemToArray(arr, job_view(j));
      cJSON_Delete(list);
      m_api_respond_json(req, 200, out);
      cJSON_Delete(out);
    } else if (strcmp(method, "POST") == 0) {
      route_job_put(m, req);
    } else {
      pgd_http_respond_error(req, 405, "use GET or POST on /api/v1/jobs");
    }
    return;
  }
  char name[160];
  const char *slash = strchr(rest, '/');
  size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
  if (n >= sizeof name) {
    pgd_http_respond_error(req, 404, "job not found");
    return;
  }
  memcpy(name, rest, n);
  name[n] = 0;
  if (slash) {
    if (strcmp(slash, "/run") == 0 && strcmp(method, "POST") == 0)
      route_job_run(m, req, name);
    else if (strcmp(slash, "/run") == 0)
      pgd_http_respond_error(req, 405, "use POST on /api/v1/jobs/NAME/run");
    else
      pgd_http_respond_error(req, 404, "no route %s %s", method, pgd_http_req_path(req));
    return;
  }
  if (strcmp(method, "GET") == 0) {
    cJSON *job = pgd_store_get_job(m->store, name);
    if (!job) {
      pgd_http_respond_error(req, 404, "job '%s' not found", name);
      return;
    }
    cJSON *v = job_view(job);
    m_api_respond_json(req, 200, v);
    cJSON_Delete(v);
    cJSON_Delete(job);
  } else if (strcmp(method, "DELETE") == 0) {
    if (!m_job_find(m, name)) {
      pgd_http_respond_error(req, 404, "job '%s' not found", name);
      return;
    }
    m_job_remove_cache(m, name);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "deleted", name);
    reply_t *r = reply_new(m, req, 200, out);
    int rc = pgd_store_delete_job(m->store, name, reply_store_cb, r);
    if (rc < 0) reply_when_durable(r, rc);
  } else {
    pgd_http_respond_error(req, 405, "use GET or DELETE on /api/v1/jobs/NAME");
  }
}

static void route_exec_list(pgd_master_t *m, pgd_http_req_t *req) {
  const char *job = pgd_http_req_query(req, "job");
  const char *state = pgd_http_req_query(req, "state");
  const char *lim = pgd_http_req_query(req, "limit");
  const char *before = pgd_http_req_query(req, "before");
  if (state && pgd_exec_state_parse(state) < 0) {
    pgd_http_respond_error(req, 400, "unknown state '%s'", state);
    return;
  }
  int limit = 100;
  if (!m_api_parse_limit(req, lim, &limit)) return;
  int64_t before_id = 0;
  if (before && !m_api_parse_id(before, strlen(before), &before_id)) {
    pgd_http_respond_error(req, 400, "before must be an execution id");
    return;
  }
  cJSON *list = pgd_store_list_executions(m->store, job, state, limit, before_id);
  cJSON *out = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(out, "executions");
  cJSON *r;
  cJSON_ArrayForEach(r, list) {
    int64_t id = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "id"));
    m_exec_t *e = m_exec_find(m, id);
    cJSON *v = m_exec_view(m, e ? e->rec : r);
    cJSON_DeleteItemFromObjectCaseSensitive(v, "definition");
    cJSON_AddItemToArray(arr, v);
  }
  cJSON_Delete(list);
  m_api_respond_json(req, 200, out);
  cJSON_Delete(out);
}

static void route_executions(pgd_master_t *m, pgd_http_req_t *req, const char *rest) {
  const char *method = pgd_http_req_method(req);
  if (!*rest) {
    if (strcmp(method, "GET") == 0)
      route_exec_list(m, req);
    else
      pgd_http_respond_error(req, 405, "use GET on /api/v1/executions");
    return;
  }
  const char *slash = strchr(rest, '/');
  size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
  int64_t id;
  if (!m_api_parse_id(rest, n, &id)) {
    pgd_http_respond_error(req, 404, "execution '%.*s' not found", (int)(n > 40 ? 40 : n), rest);
    return;
  }
  if (!slash) {
    if (strcmp(method, "GET") != 0) {
      pgd_http_respond_error(req, 405, "use GET on /api/v1/executions/ID");
      return;
    }
    cJSON *rec = exec_current(m, id);
    if (!rec) {
      pgd_http_respond_error(req, 404, "execution %lld not found", (long long)id);
      return;
    }
    cJSON *v = m_exec_view(m, rec);
    m_api_respond_json(req, 200, v);
    cJSON_Delete(v);
    cJSON_Delete(rec);
  } else if (strcmp(slash, "/kill") == 0 && strcmp(method, "POST") == 0) {
    char err[256];
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "id", (double)id);
    cJSON_AddBoolToObject(out, "kill_requested", 1);
    reply_t *r = reply_new(m, req, 202, out);
    int rc = m_exec_kill(m, id, reply_when_durable, r, err, sizeof err);
    if (rc < 0) {
      pgd_http_req_on_abort(req, NULL, NULL);
      cJSON_Delete(out);
      free(r);
      pgd_http_respond_error(req, rc == -ENOENT ? 404 : 409, "%s", err);
    }
  } else if (strcmp(slash, "/log") == 0 && strcmp(method, "GET") == 0) {
    const char *off = pgd_http_req_query(req, "offset");
    const char *follow = pgd_http_req_query(req, "follow");
    int64_t offset = 0;
    if (off) {
      char *end;
      long long v = strtoll(off, &end, 10);
      if (*end || v < 0) {
        pgd_http_respond_error(req, 400, "offset must be a non-negative integer");
        return;
      }
      offset = v;
    }
    bool fl = follow && (strcmp(follow, "1") == 0 || strcmp(follow, "true") == 0);
    m_log_serve(m, req, id, offset, fl);
  } else if (strcmp(slash, "/kill") == 0 || strcmp(slash, "/log") == 0) {
    pgd_http_respond_error(req, 405, "use %s on /api/v1/executions/ID%s",
                           strcmp(slash, "/kill") == 0 ? "POST" : "GET", slash);
  } else {
    pgd_http_respond_error(req, 404, "no route %s %s", method, pgd_http_req_path(req));
  }
}

static void route_worker_one(pgd_master_t *m, pgd_http_req_t *req, const char *rest) {
  const char *method = pgd_http_req_method(req);
  char id[160];
  const char *slash = strchr(rest, '/');
  size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
  if (n == 0 || n >= sizeof id) {
    pgd_http_respond_error(req, 404, "worker not found");
    return;
  }
  memcpy(id, rest, n);
  id[n] = 0;
  m_worker_t *w = NULL;
  HASH_FIND_STR(m->workers, id, w);
  if (!w) {
    pgd_http_respond_error(req, 404, "worker '%s' not found (GET /api/v1/workers lists them)", id);
    return;
  }
  if (!slash) {
    if (strcmp(method, "GET") != 0) {
      pgd_http_respond_error(req, 405, "use GET on /api/v1/workers/ID");
      return;
    }
  } else if (strcmp(slash, "/drain") == 0 || strcmp(slash, "/undrain") == 0) {
    if (strcmp(method, "POST") != 0) {
      pgd_http_respond_error(req, 405, "use POST on /api/v1/workers/ID%s", slash);
      return;
    }
    bool drain = strcmp(slash, "/drain") == 0;
    if (w->draining != drain)
      PGD_INFO(MOD, "worker %s %s", w->id, drain ? "draining: it takes no new work" : "undrained");
    w->draining = drain;
    m->workers_generation++;
    if (!drain) m_dispatch_pending(m);
  } else {
    pgd_http_respond_error(req, 404, "no route %s %s", method, pgd_http_req_path(req));
    return;
  }
  cJSON *v = m_worker_to_json(m, w);
  m_api_respond_json(req, 200, v);
  cJSON_Delete(v);
}

static void route_workers(pgd_master_t *m, pgd_http_req_t *req) {
  if (!m->leader) {
    /* A standby knows the workers the store has seen, not their state. */
    cJSON *out = cJSON_CreateObject();
    cJSON *list = pgd_store_list_workers(m->store);
    cJSON_AddItemToObject(out, "workers", list ? list : cJSON_CreateArray());
    m_api_respond_json(req, 200, out);
    cJSON_Delete(out);
    return;
  }
  cJSON *out = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(out, "workers");
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) cJSON_AddItemToArray(arr, m_worker_to_json(m, w));
  m_api_respond_json(req, 200, out);
  cJSON_Delete(out);
}

static void route_balancers(pgd_master_t *m, pgd_http_req_t *req, const char *rest) {
  const char *method = pgd_http_req_method(req);
  if (!*rest && strcmp(method, "GET") == 0) {
  } else if (strcmp(rest, "/reload") == 0 && strcmp(method, "POST") == 0) {
    pgd_master_reload_balancers(m);
  } else if (!*rest || strcmp(rest, "/reload") == 0) {
    pgd_http_respond_error(req, 405, "use %s on %s", *rest ? "POST" : "GET", pgd_http_req_path(req));
    return;
  } else {
    pgd_http_respond_error(req, 404, "no route %s %s", method, pgd_http_req_path(req));
    return;
  }
  cJSON *out = cJSON_CreateObject();
  cJSON_AddItemToObject(out, "balancers", pgd_balancers_to_json(m->balancers));
  m_api_respond_json(req, 200, out);
  cJSON_Delete(out);
}

static void route_plugins(pgd_master_t *m, pgd_http_req_t *req) {
  cJSON *out = cJSON_CreateObject();
  cJSON_AddItemToObject(out, "plugins", pgd_registry_to_json(m->plugins));
  m_api_respond_json(req, 200, out);
  cJSON_Delete(out);
}

void m_api_handle(pgd_http_req_t *req, void *ud) {
  pgd_master_t *m = ud;
  const char *path = pgd_http_req_path(req);
  const char *method = pgd_http_req_method(req);
  if (m->stopping) {
    pgd_http_respond_error(req, 503, "the master is shutting down");
    return;
  }
  if (strncmp(path, API_PREFIX, strlen(API_PREFIX)) != 0) {
    pgd_http_respond_error(req, 404, "not found: %s (the API lives under /api/v1/)", path);
    return;
  }
  const char *p = path + strlen(API_PREFIX);
  bool get = strcmp(method, "GET") == 0;
  if (strcmp(p, "cluster") == 0 && !get) {
    pgd_http_respond_error(req, 405, "use GET on /api/v1/cluster");
    return;
  }
  if (strcmp(p, "cluster") == 0) {
    cJSON *o = m_ha_cluster_json(m);
    m_api_respond_json(req, 200, o);
    cJSON_Delete(o);
    return;
  }
  /* A standby serves what the shared store answers (jobs, executions and
   * their logs, workers seen, plugins, balancers); everything else is the
   * leader's. */
  bool standby_ok = get && (strcmp(p, "health") == 0 || strncmp(p, "jobs", 4) == 0 ||
                            strncmp(p, "executions", 10) == 0 || strncmp(p, "workers", 7) == 0 ||
                            strcmp(p, "plugins") == 0 || strcmp(p, "balancers") == 0) &&
                    !strstr(p, "/log"); /* logs are files on the leader's disk */
  if (!m->leader && !standby_ok) {
    const char *leader = m_ha_leader_http(m);
    cJSON *o = cJSON_CreateObject();
    char msg[400];
    snprintf(msg, sizeof msg, "this master is a standby; the leader is %s",
             leader ? leader : "being elected (try again shortly)");
    cJSON_AddStringToObject(o, "error", msg);
    if (leader) cJSON_AddStringToObject(o, "leader", leader);
    m_api_respond_json(req, 503, o);
    cJSON_Delete(o);
    return;
  }
  if (strncmp(p, "workers/", 8) == 0) {
    route_worker_one(m, req, p + 8);
  } else if ((strcmp(p, "health") == 0 || strcmp(p, "workers") == 0 || strcmp(p, "plugins") == 0) &&
             !get) {
    pgd_http_respond_error(req, 405, "use GET on %s", path);
  } else if (strcmp(p, "health") == 0) {
    route_health(m, req);
  } else if (strcmp(p, "jobs") == 0 || strncmp(p, "jobs/", 5) == 0) {
    route_jobs(m, req, p[4] ? p + 5 : "");
  } else if (strcmp(p, "executions") == 0 || strncmp(p, "executions/", 11) == 0) {
    route_executions(m, req, p[10] ? p + 11 : "");
  } else if (strcmp(p, "schedules") == 0 || strncmp(p, "schedules/", 10) == 0) {
    m_sched_route(m, req, p[9] ? p + 10 : "");
  } else if (strcmp(p, "resources") == 0 || strncmp(p, "resources/", 10) == 0) {
    m_resources_route(m, req, p[9] ? p + 10 : "");
  } else if (strcmp(p, "workers") == 0) {
    route_workers(m, req);
  } else if (strcmp(p, "balancers") == 0 || strncmp(p, "balancers/", 10) == 0) {
    route_balancers(m, req, p + 9);
  } else if (strncmp(p, "flows", 5) == 0 || strncmp(p, "flow-executions", 15) == 0) {
    m_flows_route(m, req, p);
  } else if (strcmp(p, "plugins") == 0) {
    route_plugins(m, req);
  } else {
    pgd_http_respond_error(req, 404, "no route %s %s", method, path);
  }
}
