/* Fuzz target for the REST router and body validation (core/api/api.c
 * api_route_match, core/api/api_schemas.c, common/json_schema.c). The
 * input is "METHOD PATH\nBODY". The route found must agree with its
 * pattern (same number of segments, parameters inside the path); a body
 * that is a JSON object is checked against the route's schema: a refusal
 * names a field and what it expected, and a schedule or flow body that
 * passes is given to the trigger or flow parser, which must not crash on
 * it (the schema guarantees them the field types). Built with
 * tests/fuzz/fuzz_driver.c, or with libFuzzer (docs/testing.md). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "flow/flow.h"
#include "sched/trigger.h"

static int segments(const char *p, size_t n) {
  int k = 0;
  for (size_t i = 0; i < n; i++) k += p[i] == '/';
  return k;
}

static void check_route(const char *path, const api_match_t *mt) {
  size_t plen = strlen(path);
  size_t eff = plen > 1 && path[plen - 1] == '/' ? plen - 1 : plen;
  if (segments(mt->route->pattern, strlen(mt->route->pattern)) != segments(path, eff)) abort();
  if (mt->nparams < 0 || mt->nparams > API_MAX_PARAMS) abort();
  for (int i = 0; i < mt->nparams; i++) {
    size_t off = mt->param_off[i];
    if (off == 0 || off >= eff || path[off - 1] != '/' || path[off] == '/') abort();
  }
}

static void check_body(const pgd_api_route_t *route, const char *body, size_t len) {
  cJSON *j = cJSON_ParseWithLength(body, len);
  if (!cJSON_IsObject(j)) {
    cJSON_Delete(j);
    return;
  }
  pgd_jschema_err_t e;
  if (!pgd_jschema_check(route->body_schema, j, &e)) {
    if (!e.message[0] || !e.expected[0]) abort();
    if (e.field[0] && !strstr(e.message, e.field)) abort();
  } else if (route->body_schema == &api_schema_schedule) {
    pgd_trigger_t *t = NULL;
    char err[512];
    if (pgd_trigger_parse(j, 1767225600000000LL, &t, err, sizeof err) == 0) pgd_trigger_free(t);
  } else if (route->body_schema == &api_schema_flow) {
    pgd_flow_checks_t checks = {.hooks_dir = "/nonexistent/pagoda-fuzz-hooks"};
    pgd_flow_def_t *d = NULL;
    char err[1024];
    if (pgd_flow_def_parse(j, &checks, &d, err, sizeof err) == 0) pgd_flow_def_free(d);
  }
  cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 16384) return 0;
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  char *nl = memchr(text, '\n', size);
  char *body = nl ? nl + 1 : text + size;
  size_t blen = nl ? size - (size_t)(body - text) : 0;
  if (nl) *nl = 0;
  char *sp = strchr(text, ' ');
  if (sp) {
    *sp = 0;
    const char *method = text, *path = sp + 1;
    api_match_t mt;
    int found = api_route_match(method, path, &mt);
    if (found != (mt.route != NULL)) abort();
    if (mt.route) {
      check_route(path, &mt);
      if (mt.route->body_schema) check_body(mt.route, body, blen);
    }
  }
  free(text);
  return 0;
}

const char *const *fuzz_dictionary(void) {
  static const char *const d[] = {"POST ", "GET ", "PUT ", "DELETE ", "HEAD ", "/api/v1/", "jobs", "flows",
                                  "schedules", "flow-executions", "/run", "/rerun", "/kill", "resources",
                                  "\"name\":", "\"type\":", "\"params\":", "\"nodes\":", "\"id\":",
                                  "\"job\":", "\"at\":", "\"cron\":", "\"every\":", "\"env\":",
                                  "\"labels\":", "\"hooks\":", "\"logical_time_us\":", "null", NULL};
  return d;
}
