/* Pagoda API — schedules (docs/api.md "Schedules", docs/schedules.md):
 *   POST   /api/v1/schedules                create, or replace by name
 *   GET    /api/v1/schedules[?next=N][&runs=N]   list (with next and runs: as below)
 *   GET    /api/v1/schedules/{name}[?next=N][&runs=N]
 *   DELETE /api/v1/schedules/{name}
 *   POST   /api/v1/schedules/{name}/pause|resume|run
 * Writes answer once the change is durable. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"

#define SCHEDULE_NAME_MAX 160
#define MAX_PREVIEW 100
#define DEFAULT_RUNS 10
#define MAX_RUNS 1000
/* Runs per schedule in a list: each schedule's runs are one store read. */
#define MAX_LIST_RUNS 20

/* The {name} of the path if such a schedule exists, else NULL after 404. */
static const char *schedule_name(api_req_t *r) {
  const char *name = r->params[0];
  if (strlen(name) >= SCHEDULE_NAME_MAX) {
    pgd_http_respond_error(r->req, 404, "schedule not found");
    return NULL;
  }
  if (!pgd_master_schedule_exists(r->m, name)) {
    pgd_http_respond_error(r->req, 404, "schedule '%s' not found", name);
    return NULL;
  }
  return name;
}

/* At answer time: the schedule's view then. */
static cJSON *schedule_now(pgd_master_t *m, const char *name, int64_t id) {
  (void)id;
  return name ? pgd_master_schedule_get(m, name, 0, -1) : NULL;
}

void api_schedules_list(api_req_t *r) {
  int nnext, nruns;
  if (!api_query_int(r->req, "next", 0, MAX_PREVIEW, &nnext)) return;
  if (!api_query_int(r->req, "runs", 0, MAX_LIST_RUNS, &nruns)) return;
  bool with_runs = pgd_http_req_query(r->req, "runs") != NULL;
  cJSON *list = pgd_master_schedules_list(r->m);
  if (nnext > 0 || with_runs) {
    /* Each schedule as GET /schedules/{name} shows it, so a page listing
     * them needs one request, not one per schedule. */
    cJSON *full = cJSON_CreateArray();
    const cJSON *s;
    cJSON_ArrayForEach(s, list) {
      const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "name"));
      cJSON *v = name ? pgd_master_schedule_get(r->m, name, nnext, with_runs ? nruns : -1) : NULL;
      cJSON_AddItemToArray(full, v ? v : cJSON_Duplicate(s, true));
    }
    cJSON_Delete(list);
    list = full;
  }
  api_respond_paged(r->req, "schedules", list, "name"); /* ?limit&after */
}

void api_schedule_define(api_req_t *r) {
  cJSON *in = api_parse_body(r->req, true);
  if (!in) return;
  if (!api_alarm_rules_ok(r, in)) {
    cJSON_Delete(in);
    return;
  }
  char err[512];
  char *name = NULL;
  bool created = false;
  api_reply_t *rp = api_reply_new(r, 201, NULL);
  int rc = pgd_master_schedule_define(r->m, in, &name, &created, api_reply_done, rp, err,
                                      sizeof err);
  cJSON_Delete(in);
  if (rc < 0) {
    api_reply_cancel(rp);
    pgd_http_respond_error(r->req, api_status_of(rc), "%s", err);
    return;
  }
  rp->status = created ? 201 : 200;
  api_reply_refresh(rp, schedule_now, name, 0);
  free(name);
  api_reply_release(rp);
}

void api_schedule_get(api_req_t *r) {
  const char *name = schedule_name(r);
  if (!name) return;
  int nnext, nruns;
  if (!api_query_int(r->req, "next", 0, MAX_PREVIEW, &nnext)) return;
  if (!api_query_int(r->req, "runs", DEFAULT_RUNS, MAX_RUNS, &nruns)) return;
  api_respond_take(r->req, 200, pgd_master_schedule_get(r->m, name, nnext, nruns));
}

void api_schedule_delete(api_req_t *r) {
  const char *name = schedule_name(r);
  if (!name) return;
  api_delete_named(r, "schedule", name, pgd_master_schedule_delete);
}

static void set_enabled(api_req_t *r, bool enabled) {
  const char *name = schedule_name(r);
  if (!name) return;
  api_reply_t *rp = api_reply_new(r, 200, NULL);
  api_reply_refresh(rp, schedule_now, name, 0);
  if (pgd_master_schedule_set_enabled(r->m, name, enabled, api_reply_done, rp) < 0) {
    api_reply_cancel(rp);
    pgd_http_respond_error(r->req, 404, "schedule '%s' not found", name);
    return;
  }
  api_reply_release(rp);
}

void api_schedule_pause(api_req_t *r) { set_enabled(r, false); }
void api_schedule_resume(api_req_t *r) { set_enabled(r, true); }

void api_schedule_run(api_req_t *r) {
  const char *name = schedule_name(r);
  if (!name) return;
  char err[512];
  cJSON *out = cJSON_CreateObject();
  api_reply_t *rp = api_reply_new(r, 201, out);
  int64_t exec_id = 0, fexec_id = 0;
  int rc = pgd_master_schedule_run(r->m, name, &exec_id, &fexec_id, api_reply_done, rp, err,
                                   sizeof err);
  if (rc < 0) {
    api_reply_cancel(rp);
    pgd_http_respond_error(r->req, 400, "%s", err);
    return;
  }
  if (fexec_id > 0) {
    /* A flow target is under way already: done is not called, answer now. */
    cJSON_AddNumberToObject(out, "flow_execution_id", (double)fexec_id);
    cJSON_AddStringToObject(out, "schedule", name);
    api_reply_done(rp, 0);
    api_reply_release(rp);
    return;
  }
  cJSON_AddNumberToObject(out, "execution_id", (double)exec_id);
  cJSON_AddStringToObject(out, "schedule", name);
  api_reply_release(rp);
}
