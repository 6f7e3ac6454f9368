/* Pagoda API — POST /api/v1/runs, a batch of runs (docs/api.md "Batch
 * runs"): {"runs": [{"job", "params", "idempotency_key", "run_index"}, ...]}
 * answered 201 {"executions": [{"execution_id", "state", "replayed"?}, ...]}
 * in the order given, once the first records of all of them are durable
 * (one store commit: pgd_master_runs_submit). The body schema
 * (api_schema_runs) has checked every member's type. Loop thread only. */
#include <errno.h>
#include <stdlib.h>

#include "api/api_int.h"
#include "common/json.h"

void api_runs_submit(api_req_t *r) {
  cJSON *body = api_parse_body(r->req, true);
  if (!body) return;
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(body, "runs");
  int n = cJSON_GetArraySize(list);
  if (!cJSON_IsArray(list) || n < 1 || n > PGD_MASTER_RUNS_MAX) {
    cJSON_Delete(body);
    pgd_http_respond_error(r->req, 400, "runs must be an array of 1 to %d runs",
                           PGD_MASTER_RUNS_MAX);
    return;
  }
  pgd_master_run_req_t *runs = calloc((size_t)n, sizeof *runs);
  pgd_master_run_out_t *out = calloc((size_t)n, sizeof *out);
  if (!runs || !out) abort();
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, list) {
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(it, "run_index");
    runs[i++] = (pgd_master_run_req_t){
        .job = pgd_json_str(it, "job"),
        .params = cJSON_GetObjectItemCaseSensitive(it, "params"),
        .key = pgd_json_str(it, "idempotency_key"),
        .run_index = cJSON_IsNumber(idx) ? (int64_t)idx->valuedouble : -1,
    };
  }
  cJSON *answer = cJSON_CreateObject();
  cJSON *execs = cJSON_AddArrayToObject(answer, "executions");
  api_reply_t *rp = api_reply_new(r, 201, answer);
  char err[512];
  size_t bad = 0;
  int rc = pgd_master_runs_submit(r->m, runs, (size_t)n, "api", out, api_reply_done, rp, &bad,
                                  err, sizeof err);
  if (rc < 0) {
    api_reply_cancel(rp);
    int status = rc == -EEXIST ? 422 : rc == -EINPROGRESS ? 409 : api_status_of(rc);
    /* The whole batch is refused: say which run, so it can be fixed. */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", err);
    pgd_json_set_int(o, "index", (int64_t)bad);
    api_respond_take(r->req, status, o);
  } else {
    for (i = 0; i < (size_t)n; i++) {
      cJSON *e = cJSON_CreateObject();
      pgd_json_set_int(e, "execution_id", out[i].exec_id);
      cJSON_AddStringToObject(e, "state", pgd_exec_state_name(out[i].state));
      if (runs[i].key) cJSON_AddBoolToObject(e, "replayed", out[i].replayed);
      cJSON_AddItemToArray(execs, e);
    }
    api_reply_release(rp);
  }
  free(runs);
  free(out);
  cJSON_Delete(body);
}
