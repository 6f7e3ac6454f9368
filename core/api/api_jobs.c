/* Pagoda API — jobs: list, define (create or replace), show, delete, run
 * (docs/api.md "Jobs"). Writes answer once the change is durable. */
#include <errno.h>
#include <string.h>

#include "api/api_int.h"
#include "common/json.h"

/* Job names longer than this cannot exist (jobs.c refuses them). */
#define JOB_NAME_MAX 160

/* ?q= longer than this is refused: no name or type is that long. */
#define JOB_SEARCH_MAX 200

/* Does `needle` occur, ignoring ASCII case, in the job's name or type? */
static bool job_matches(const cJSON *job, const char *needle) {
  const char *name = pgd_json_str(job, "name"), *type = pgd_json_str(job, "type");
  return (name && strcasestr(name, needle)) || (type && strcasestr(type, needle));
}

void api_jobs_list(api_req_t *r) {
  const char *q = pgd_http_req_query(r->req, "q");
  if (q && strlen(q) > JOB_SEARCH_MAX) {
    pgd_http_respond_error(r->req, 400, "q is at most %d bytes", JOB_SEARCH_MAX);
    return;
  }
  if (q && !q[0]) q = NULL;
  cJSON *list = pgd_master_jobs_list(r->m);
  cJSON *arr = cJSON_CreateArray();
  cJSON *j;
  cJSON_ArrayForEach(j, list) {
    if (!q || job_matches(j, q)) cJSON_AddItemToArray(arr, api_job_view(j));
  }
  cJSON_Delete(list);
  api_respond_paged(r->req, "jobs", arr, "name"); /* ?limit&after (docs/api.md "Paging") */
}

/* At answer time: the job as stored (its timestamps are the store's). */
static cJSON *stored_job(pgd_master_t *m, const char *name, int64_t id) {
  (void)id;
  cJSON *stored = pgd_master_job_get(m, name);
  cJSON *v = stored ? api_job_view(stored) : NULL;
  cJSON_Delete(stored);
  return v;
}

void api_job_define(api_req_t *r) {
  cJSON *in = api_parse_body(r->req, true);
  if (!in) return;
  if (!api_alarm_rules_ok(r, in)) {
    cJSON_Delete(in);
    return;
  }
  char err[512];
  cJSON *job = NULL;
  bool created = false;
  api_reply_t *rp = api_reply_new(r, 201, NULL);
  int rc = pgd_master_job_define(r->m, in, &job, &created, api_reply_done, rp, err, sizeof err);
  cJSON_Delete(in);
  if (rc < 0) {
    api_reply_cancel(rp);
    pgd_http_respond_error(r->req, api_status_of(rc), "%s", err);
    return;
  }
  rp->status = created ? 201 : 200;
  rp->body = api_job_view(job);
  api_reply_refresh(rp, stored_job, cJSON_GetObjectItemCaseSensitive(job, "name")->valuestring, 0);
  cJSON_Delete(job);
  api_reply_release(rp);
}

static bool job_name(api_req_t *r, const char **name) {
  *name = r->params[0];
  if (strlen(*name) >= JOB_NAME_MAX) {
    pgd_http_respond_error(r->req, 404, "job not found");
    return false;
  }
  return true;
}

void api_job_get(api_req_t *r) {
  const char *name;
  if (!job_name(r, &name)) return;
  cJSON *job = pgd_master_job_get(r->m, name);
  if (!job) {
    pgd_http_respond_error(r->req, 404, "job '%s' not found", name);
    return;
  }
  api_respond_take(r->req, 200, api_job_view(job));
  cJSON_Delete(job);
}

void api_job_delete(api_req_t *r) {
  const char *name;
  if (!job_name(r, &name)) return;
  api_delete_named(r, "job", name, pgd_master_job_delete);
}

void api_job_run(api_req_t *r) {
  const char *name;
  if (!job_name(r, &name)) return;
  if (!pgd_master_job_exists(r->m, name)) {
    pgd_http_respond_error(r->req, 404, "job '%s' not found", name);
    return;
  }
  cJSON *body = api_parse_body(r->req, false);
  if (!body) return;
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(body, "params");
  if (params && !cJSON_IsObject(params)) {
    cJSON_Delete(body);
    pgd_http_respond_error(r->req, 400, "params must be an object");
    return;
  }
  /* Idempotency-Key (docs/api.md): a retried request gets the first run. */
  const char *key = pgd_http_req_header(r->req, "Idempotency-Key");
  char err[512];
  cJSON *out = cJSON_CreateObject();
  api_reply_t *rp = api_reply_new(r, 201, out);
  int64_t id = 0;
  pgd_exec_state_t state = PGD_STATE_PENDING;
  bool replayed = false;
  int rc = pgd_master_job_run_keyed(r->m, name, params, "api", key, &id, &state, &replayed,
                                    api_reply_done, rp, err, sizeof err);
  cJSON_Delete(body);
  if (rc < 0) {
    api_reply_cancel(rp);
    int status = rc == -EEXIST ? 422 : rc == -EINPROGRESS ? 409 : api_status_of(rc);
    pgd_http_respond_error(r->req, status, "%s", err);
    return;
  }
  cJSON_AddNumberToObject(out, "execution_id", (double)id);
  cJSON_AddStringToObject(out, "state", pgd_exec_state_name(state));
  if (key) cJSON_AddBoolToObject(out, "replayed", replayed);
  if (replayed) {
    rp->status = 200;
    pgd_http_req_add_header(r->req, "Idempotent-Replayed", "true");
  }
  api_reply_release(rp);
}
