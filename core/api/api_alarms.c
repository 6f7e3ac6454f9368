/* Pagoda API — alarms (docs/api.md "Alarms", docs/alarms.md): the stored
 * alarm documents with their delivery state, newest first (read from the
 * store, so a standby master answers too: the store is shared in HA), and
 * their acknowledgement (through the leader's alarm service). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alarm/alarm.h"
#include "api/api_int.h"
#include "common/json.h"
#include "store/store.h"

#define ALARMS_MAX_LIMIT 1000

static bool state_ok(const char *s) {
  static const char *const states[] = {"pending", "delivered", "failed", "dropped", "acked"};
  for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
    if (strcmp(s, states[i]) == 0) return true;
  return false;
}

void api_alarms_list(api_req_t *r) {
  int limit = 100;
  if (!api_parse_limit(r->req, pgd_http_req_query(r->req, "limit"), &limit)) return;
  if (limit > ALARMS_MAX_LIMIT) limit = ALARMS_MAX_LIMIT;
  const char *state = pgd_http_req_query(r->req, "state");
  const char *before = pgd_http_req_query(r->req, "before");
  int64_t before_id = 0;
  if (state && !state_ok(state)) {
    pgd_http_respond_error(r->req, 400,
                           "state must be one of pending, delivered, failed, dropped, acked");
    return;
  }
  if (before && !api_parse_id(before, &before_id)) {
    pgd_http_respond_error(r->req, 400, "before must be an alarm id");
    return;
  }
  cJSON *docs = pgd_store_list_docs(pgd_master_store(r->m), PGD_ALARM_DOC_KIND, NULL, state,
                                    limit, before);
  if (!docs) {
    pgd_http_respond_error(r->req, 500, "cannot read the alarms from the store");
    return;
  }
  cJSON *d;
  int64_t last = 0;
  int n = 0;
  cJSON_ArrayForEach(d, docs) {
    n++;
    last = pgd_json_int(d, "id", 0);
    cJSON_DeleteItemFromObjectCaseSensitive(d, "group");
  }
  cJSON *out = cJSON_CreateObject();
  cJSON_AddItemToObject(out, "alarms", docs);
  if (n == limit && last > 0)
    pgd_json_set_int(out, "next_before", last);
  else
    cJSON_AddNullToObject(out, "next_before");
  api_respond_take(r->req, 200, out);
}

/* POST /api/v1/alarms/{id}/ack: answered with the alarm once durable. */
void api_alarm_ack(api_req_t *r) {
  int64_t id = 0;
  if (!api_parse_id(r->params[0], &id)) {
    size_t n = strlen(r->params[0]);
    pgd_http_respond_error(r->req, 404, "alarm '%.*s' not found", (int)(n > 40 ? 40 : n),
                           r->params[0]);
    return;
  }
  if (!r->api->alarms) {
    pgd_http_respond_error(r->req, 503, "alarms are not running on this master");
    return;
  }
  char err[256];
  cJSON *view = NULL;
  api_reply_t *rp = api_reply_new(r, 200, NULL);
  int rc = pgd_alarms_ack(r->api->alarms, id, r->authed ? r->token_name : NULL, &view,
                          api_reply_done, rp, err, sizeof err);
  if (rc < 0) {
    api_reply_cancel(rp);
    pgd_http_respond_error(r->req, rc == -EALREADY ? 409 : api_status_of(rc), "%s", err);
    return;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(view, "group");
  rp->body = view;
  api_reply_release(rp);
}

bool api_alarm_rules_ok(api_req_t *r, const cJSON *body) {
  char err[512];
  if (pgd_alarms_check_rules(r->api->alarms, cJSON_GetObjectItemCaseSensitive(body, "alarms"), err,
                             sizeof err) == 0)
    return true;
  pgd_http_respond_error(r->req, 400, "%s", err);
  return false;
}
