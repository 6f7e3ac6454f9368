/* Pagoda API — shared by the files of core/api (not public): the request
 * context handlers get, and the helpers every handler uses (answers,
 * errors, bodies, ?limit=, ids, "reply when durable", views).
 * Loop thread only. */
#ifndef PAGODA_API_API_INT_H
#define PAGODA_API_API_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "api/api.h"
#include "api/auth.h"
#include "http/httpd.h"
#include "master/master.h"

#define API_PREFIX "/api/v1/"
#define API_MAX_PARAMS 4

struct pgd_api {
  uv_loop_t *loop;
  pgd_httpd_t *httpd;
  pgd_master_t *m;          /* NULL until attached */
  size_t max_resource_bytes;
  pgd_api_rescan_cb rescan_plugins;
  void *rescan_ud;
  /* authentication (api_gate.c, api_tokens.c) */
  pgd_auth_cache_t *auth_cache;
  char *cors_origins;  /* "a,b" or NULL: origins allowed cross-origin */
  char *allowed_hosts; /* "a,b" or NULL: Host names accepted besides IPs */
  char *resource_token; /* workers' token for resource downloads, or NULL */
  char hostname[256];  /* this machine's name: always accepted as Host */
  uint64_t audit_seq;    /* the last audit id given (api_audit.c) */
  cJSON *audit_pending;  /* audit rows waiting for their batch, or NULL */
  uv_timer_t *audit_timer; /* its timer (own allocation: freed when closed) */
  bool tls;                /* HTTPS: session cookies are Secure */
  struct api_session *sessions; /* console sessions (api_session.c), uthash */
  unsigned nsessions;
  pgd_api_config_t events_cfg;   /* events_* sizes only (the rest is not kept) */
  struct api_events *events;     /* the event stream (api_events.c), once attached */
  struct pgd_alarms *alarms;     /* alarm acknowledgements (api_alarms.c); nullable */
  bool metrics_disabled, metrics_public, access_log_off; /* api_observe.c */
  struct api_http_metrics *http_metrics; /* api_observe.c: NULL when metrics are off */
};

/* One request being handled: valid during the handler call only (keep
 * `req` past it with pgd_http_req_on_abort, as httpd.h says). */
struct api_req {
  pgd_api_t *api;
  pgd_master_t *m;
  pgd_http_req_t *req;
  const pgd_api_route_t *route;
  const char *params[API_MAX_PARAMS]; /* the {x} segments, in pattern order */
  int nparams;
  bool authed;                        /* a valid token came with it (api_gate) */
  pgd_role_t role;                    /* its role, when authed */
  char token_name[65];                /* its name, when authed */
  struct api_session *session;        /* the console session it came with, or NULL */
  void *audit;                        /* the audit record of a change (api_audit.c) */
};

/* ---- answers (api_util.c) ---- */

/* Responds with `obj` (borrowed; integers beyond 32 bits are turned into
 * integer text first, so µs timestamps print as integers). */
int api_respond_json(pgd_http_req_t *req, int status, cJSON *obj);
/* Responds with obj and deletes it. */
int api_respond_take(pgd_http_req_t *req, int status, cJSON *obj);
/* {"key": value} with value taken; responds 200. */
int api_respond_wrapped(pgd_http_req_t *req, const char *key, cJSON *value);
/* The HTTP status for a negative service code (master.h): -ENOENT 404,
 * -EINVAL 400, -EALREADY/-EBUSY 409, -ESHUTDOWN 503, else 500. */
int api_status_of(int rc);

/* ---- request parsing (api_util.c) ---- */

/* The request body as a JSON object (caller owns), or NULL after answering
 * 400 (not UTF-8, not JSON, not an object); without a body: NULL + 400 when
 * `required`, else an empty object. */
cJSON *api_parse_body(pgd_http_req_t *req, bool required);
/* `?limit=` text (NULL = keep *limit): 1-10000, else false after answering 400. */
bool api_parse_limit(pgd_http_req_t *req, const char *text, int *limit);
/* A positive decimal id of at most 18 digits. */
bool api_parse_id(const char *s, int64_t *out);
/* An optional integer query parameter in 0..max (default dflt); false after
 * answering 400. */
bool api_query_int(pgd_http_req_t *req, const char *key, int dflt, int max, int *out);
/* A query flag: "1" or "true". */
bool api_query_flag(pgd_http_req_t *req, const char *key);

/* ---- reply when durable (api_util.c) ---- */

/* Answers a write once the master says it is durable. Create it (it is
 * "held"), pass api_reply_done and the reply as the service call's done/ud,
 * then either api_reply_cancel (the call refused: returned < 0, done never
 * runs) or fill in status/body/refresh from the call's results and
 * api_reply_release. done may run inside the service call (a store that
 * refuses at once); while held it is only recorded, and release answers.
 * When the client goes away first, the reply stays until done and answers
 * nobody. */
typedef struct api_reply api_reply_t;
/* Re-reads the thing written, at answer time (so it shows the store's
 * timestamps); NULL = keep the prepared body. `key`/`id` as set. */
typedef cJSON *(*api_refresh_fn)(pgd_master_t *m, const char *key, int64_t id);
struct api_reply {
  pgd_http_req_t *req; /* NULL once the client went away */
  pgd_master_t *m;
  int status;
  cJSON *body;         /* owned; NULL = {} unless refresh gives one */
  api_refresh_fn refresh;
  char *key;           /* owned */
  int64_t id;
  bool held;           /* between new and release/cancel */
  bool done_seen;      /* done ran while held */
  int done_status;
};
api_reply_t *api_reply_new(api_req_t *r, int status, cJSON *body);
/* Sets what to re-read at answer time (`key` copied, nullable). */
void api_reply_refresh(api_reply_t *rp, api_refresh_fn fn, const char *key, int64_t id);
/* pgd_master_done_cb: answers (500 on a store error) and frees the reply. */
void api_reply_done(void *ud, int status);
/* The service call refused: frees the reply without answering. */
void api_reply_cancel(api_reply_t *rp);
/* The service call accepted: from now on done answers (at once if it ran
 * already). The reply may be gone after this call. */
void api_reply_release(api_reply_t *rp);

/* A named definition's delete, answered {"deleted": name} once durable, or
 * 404 "<kind> '<name>' not found" when `del` refuses. `del` is one of the
 * pgd_master_*_delete service calls. */
typedef int (*api_delete_fn)(pgd_master_t *m, const char *name, pgd_master_done_cb done,
                             void *ud);
void api_delete_named(api_req_t *r, const char *kind, const char *name, api_delete_fn del);

/* ---- views (api_util.c) ---- */

/* Adds "submitted_at" & co. (text) next to each "*_us" timestamp. */
void api_add_time_strings(cJSON *o);
/* The API view of an execution record (caller owns; `rec` borrowed). */
cJSON *api_exec_view(const cJSON *rec);
/* The same view without copying `rec` (borrowed): the members are
 * references to rec's (but `skip`, nullable, is left out; `attempts` is
 * copied), so the view is valid only while rec is neither changed nor
 * freed: print it at once, then cJSON_Delete it (that frees only the view's
 * own nodes). The reference api_exec_view_print's text is checked against
 * (tests/unit/test_api_view_print.c). NULL when out of memory. Loop thread
 * (rec's owner). */
cJSON *api_exec_view_refs(const cJSON *rec, const char *skip);
struct pgd_strbuf;
/* Appends to `b` (common/strbuf.h) the text pgd_json_print would give for
 * api_exec_view_refs(rec, skip), written from `rec` (borrowed) directly:
 * no view tree, no copies (api_view_print.c). False when rec is not an
 * object, a value would not print, or `b` ran out of memory (then `b`
 * may hold part of the text). Any thread that may read rec. */
bool api_exec_view_print(struct pgd_strbuf *b, const cJSON *rec, const char *skip);
/* The API view of a stored job (caller owns; `stored` borrowed). */
cJSON *api_job_view(const cJSON *stored);

/* The {id} of an execution path (api_executions.c), or false after 404. */
bool api_exec_id(api_req_t *r, int64_t *id);

/* Turns integers beyond 32 bits into raw integer text before printing (cJSON
 * would print them as doubles): µs timestamps print as integers. */
void api_json_ints_raw(cJSON *o);

/* ---- the event stream (api_events.c) ---- */

typedef struct api_events api_events_t;
/* Subscribes to `m` (borrowed, outlives it until api_events_stop) and
 * starts the keep-alive timer; sizes from api->events_cfg. NULL when out of
 * memory. */
api_events_t *api_events_new(pgd_api_t *api, pgd_master_t *m);
/* Unsubscribes, stops the timer and ends every stream (before the server
 * and the master stop). */
void api_events_stop(api_events_t *ev);
/* Frees the ring (after stop, or when never attached to a running server). */
void api_events_free(api_events_t *ev);
/* GET /api/v1/events */
void api_events_stream(api_req_t *r);

/* ---- handlers (one file per resource) ---- */

void api_health(api_req_t *r);               /* api_cluster.c */
void api_ready(api_req_t *r);
void api_cluster(api_req_t *r);
void api_jobs_list(api_req_t *r);            /* api_jobs.c */
void api_job_define(api_req_t *r);
void api_job_get(api_req_t *r);
void api_job_delete(api_req_t *r);
void api_job_run(api_req_t *r);
/* POST /api/v1/runs: a batch of runs (api_runs.c). */
void api_runs_submit(api_req_t *r);
void api_execs_list(api_req_t *r);           /* api_executions.c */
void api_exec_get(api_req_t *r);
void api_exec_kill(api_req_t *r);
void api_exec_delete(api_req_t *r); /* api_executions.c; master/storage.h */
void api_exec_log(api_req_t *r);             /* api_logs.c */
void api_workers_list(api_req_t *r);         /* api_workers.c */
void api_worker_get(api_req_t *r);
void api_worker_drain(api_req_t *r);
void api_worker_undrain(api_req_t *r);
void api_plugins_list(api_req_t *r);         /* api_plugins.c */
void api_plugins_reload(api_req_t *r);
void api_plugin_push(api_req_t *r);     /* PUT /api/v1/plugins: the .so as the body */
void api_plugin_rollback(api_req_t *r);
void api_plugins_pushed(api_req_t *r);
void api_balancers_list(api_req_t *r);       /* api_balancers.c */
void api_balancers_reload(api_req_t *r);
void api_flows_list(api_req_t *r);           /* api_flows.c */
void api_flow_define(api_req_t *r);
void api_flow_get(api_req_t *r);
void api_flow_delete(api_req_t *r);
void api_flow_run(api_req_t *r);
void api_fexecs_list(api_req_t *r);
void api_fexec_get(api_req_t *r);
void api_fexec_kill(api_req_t *r);
void api_fexec_rerun(api_req_t *r);
void api_schedules_list(api_req_t *r);       /* api_schedules.c */
void api_schedule_define(api_req_t *r);
void api_schedule_get(api_req_t *r);
void api_schedule_delete(api_req_t *r);
void api_schedule_pause(api_req_t *r);
void api_schedule_resume(api_req_t *r);
void api_schedule_run(api_req_t *r);
void api_resources_list(api_req_t *r);       /* api_resources.c */
void api_resource_put(api_req_t *r);
void api_resource_get(api_req_t *r);
void api_resource_delete(api_req_t *r);
void api_resource_versions(api_req_t *r);

void api_tokens_create(api_req_t *r);        /* api_tokens.c */
void api_tokens_list(api_req_t *r);
void api_token_revoke(api_req_t *r);
void api_audit_list(api_req_t *r);           /* api_audit.c */
void api_plugin_console_get(api_req_t *r);   /* api_plugin_console.c */

/* Adds "console": ["form", "result"] (the views found beside each loaded
 * plugin's .so, maybe none) to every loaded entry of `plugins` (a
 * pgd_master_plugins list, modified in place). Loop thread. */
void api_plugins_add_console(cJSON *plugins);

/* Pages a list of objects sorted by the string member `key` (api_paging.c,
 * docs/api.md "Paging"): with ?limit=N, answers at most N of `list` whose
 * `key` sorts after ?after=VALUE, and sets "next_after" in `out` (the last
 * key of a full page, else null). Without limit the whole list is kept and
 * next_after is null. Takes `list`; returns the page (owned by the caller),
 * or NULL after answering 400 (a bad limit) or 500 (out of memory). */
cJSON *api_page_by_key(pgd_http_req_t *req, cJSON *list, const char *key, cJSON *out);
/* Answers 200 {"<key>": the page of `list` (taken; NULL = empty), "next_after"}
 * paged by its string member `sort_by` as api_page_by_key does (or 400/500). */
void api_respond_paged(pgd_http_req_t *req, const char *key, cJSON *list, const char *sort_by);
void api_alarms_list(api_req_t *r);          /* api_alarms.c */
void api_alarm_ack(api_req_t *r);
/* A definition's "alarms" (job, flow, schedule bodies) checked by the alarm
 * service's rules (docs/alarms.md): true, or false after answering 400. */
bool api_alarm_rules_ok(api_req_t *r, const cJSON *body);

/* ---- the gate (api_gate.c): checks run before a matched route's handler ---- */

/* Host and Origin (403), the token (401) and the route's role (403), the
 * content type of a body (415); starts the audit record of a change.
 * true = go on with the handler (r->authed etc. set); false = answered.
 * GET /api/v1/health without a token passes unauthenticated. */
bool api_gate(api_req_t *r);
/* Answers an OPTIONS request: a CORS preflight from a configured origin
 * gets 204 and the Access-Control-* headers, anything else 403. */
void api_preflight(pgd_api_t *api, pgd_http_req_t *req);
/* Starts the audit record of a change (api_audit.c): written to the store
 * with the response's status once it is known. */
void api_audit_begin(api_req_t *r);
/* Queues the waiting audit rows to the store now. */
void api_audit_flush(pgd_api_t *api);
/* Flushes and closes the batch timer (pgd_api_stop, before the master stops). */
void api_audit_close(pgd_api_t *api);
/* Names the token in the audit record, once the gate has checked it. */
void api_audit_set_token(api_req_t *r);
/* ---- console sessions (api_session.c; docs/security.md "Console sessions") ---- */

/* The session named by the request's pagoda_session cookie, or NULL (no
 * cookie, unknown or expired id). Loop thread. */
struct api_session *api_session_of(api_req_t *r);
/* The token hash (pgd_auth_hash) a session was opened with. */
const char *api_session_token_hash(const struct api_session *s);
/* Does the request carry the session's CSRF value in X-CSRF-Token? */
bool api_session_csrf_ok(const struct api_session *s, api_req_t *r);
/* Drops every session (pgd_api_free). */
void api_sessions_free(pgd_api_t *api);
void api_session_open(api_req_t *r);  /* POST /api/v1/session */
void api_session_close(api_req_t *r); /* DELETE /api/v1/session */
void api_whoami(api_req_t *r);        /* GET /api/v1/whoami */

/* The store reader behind the token cache (api_tokens.c). */
int api_token_lookup(void *ud, const char *hash, pgd_auth_entry_t *out);
/* ---- body schemas (api_schemas.c), named in the route table ---- */
extern const pgd_jschema_t api_schema_job;         /* POST /jobs */
extern const pgd_jschema_t api_schema_job_run;     /* POST /jobs/{name}/run */
extern const pgd_jschema_t api_schema_runs;        /* POST /runs */
extern const pgd_jschema_t api_schema_flow;        /* POST /flows */
extern const pgd_jschema_t api_schema_flow_run;    /* POST /flows/{name}/run */
extern const pgd_jschema_t api_schema_fexec_rerun; /* POST /flow-executions/{id}/rerun */
extern const pgd_jschema_t api_schema_schedule;    /* POST /schedules */
extern const pgd_jschema_t api_schema_session;     /* POST /session */

/* Checks the request body against the route's schema (api_util.c): true
 * when the route has none, the body is empty or not a JSON object (the
 * handler answers those as before), or the object conforms; else false
 * after answering 400 {"error", "field", "expected"}. */
bool api_check_body(api_req_t *r);

/* ---- observability (api_observe.c; docs/observability.md) ---- */

/* Registers the HTTP metric families (unless metrics are off). */
void api_observe_init(pgd_api_t *api);
void api_observe_free(pgd_api_t *api);
/* The httpd on_answer hook: HTTP metrics and the access log. */
void api_on_answer(const pgd_http_answer_t *a, void *ud);
/* GET /metrics (outside the route table: not under /api/v1/): the
 * Prometheus text of the daemon's registry; a viewer token unless
 * master.metrics.public; 404 when metrics are off. */
void api_metrics(pgd_api_t *api, pgd_http_req_t *req);

/* ---- dispatch (api.c) ---- */

#define API_MAX_PATH 2048    /* longer paths match no route */
#define API_MAX_PATH_ROWS 16 /* rows of one path kept for the 405 answer */

/* The result of matching a method and path against the route table. */
typedef struct api_match {
  const pgd_api_route_t *route;                        /* NULL: none for this method */
  const pgd_api_route_t *path_rows[API_MAX_PATH_ROWS]; /* rows matching the path, any method */
  int npath;
  int nparams;
  size_t param_off[API_MAX_PARAMS]; /* where each {x} segment starts in the path */
} api_match_t;

/* Matches `method` and `path` (borrowed) against the route table: 1 when a
 * route takes them, else 0 (out->npath > 0 means a 405). A {x} segment of
 * the path starts at path + param_off[i] and ends at the next '/' or the
 * end (a trailing '/' is ignored). Pure: used by the dispatch and the
 * router fuzz target. */
int api_route_match(const char *method, const char *path, api_match_t *out);

/* The pgd_httpd handler: matches the route table and calls the handler. */
void api_dispatch(pgd_http_req_t *req, void *ud);

#endif
