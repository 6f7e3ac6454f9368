/* Pagoda — a flow execution's state as JSON, restoring a run from it, and
 * re-runs (a new flow execution built from a finished one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/json.h"
#include "flow/flow_int.h"

static cJSON *node_json(const pgd_flow_run_t *r, int i) {
  const flow_node_run_t *nr = &r->nodes[i];
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddStringToObject(o, "state", flow_node_state_names[nr->state]);
  cJSON_AddNumberToObject(o, "execution_id", (double)nr->execution_id);
  cJSON_AddNumberToObject(o, "attempts", nr->attempts);
  cJSON_AddItemToObject(o, "outputs", nr->outputs ? cJSON_Duplicate(nr->outputs, 1) : cJSON_CreateObject());
  if (nr->reason) cJSON_AddStringToObject(o, "reason", nr->reason);
  else cJSON_AddNullToObject(o, "reason");
  if (nr->skip_cause) cJSON_AddStringToObject(o, "skip_cause", flow_skip_cause_names[nr->skip_cause]);
  if (nr->exec_state) cJSON_AddStringToObject(o, "exec_state", nr->exec_state);
  cJSON_AddNumberToObject(o, "started_at", (double)nr->started_at);
  cJSON_AddNumberToObject(o, "finished_at", (double)nr->finished_at);
  if (nr->reused) cJSON_AddTrueToObject(o, "reused");
  return o;
}

cJSON *pgd_flow_run_node_state(const pgd_flow_run_t *r, const char *node_id) {
  int i = r ? flow_def_index(r->def, node_id) : -1;
  return i < 0 ? NULL : node_json(r, i);
}

cJSON *pgd_flow_run_state(const pgd_flow_run_t *r) {
  if (!r) return NULL;
  cJSON *o = cJSON_CreateObject();
  if (!o) return NULL;
  cJSON_AddNumberToObject(o, "id", (double)r->id);
  cJSON_AddStringToObject(o, "flow", r->def->name);
  cJSON_AddStringToObject(o, "state", flow_state_names[r->state]);
  if (r->rerun_of) cJSON_AddNumberToObject(o, "rerun_of", (double)r->rerun_of);
  else cJSON_AddNullToObject(o, "rerun_of");
  cJSON_AddNumberToObject(o, "logical_time", (double)r->logical_time);
  cJSON_AddNumberToObject(o, "created_at", (double)r->created_at);
  cJSON_AddNumberToObject(o, "finished_at", (double)r->finished_at);
  cJSON_AddBoolToObject(o, "started", r->started);
  cJSON_AddBoolToObject(o, "killing", r->killing);
  cJSON_AddBoolToObject(o, "failing", r->failing);
  if (r->error) cJSON_AddStringToObject(o, "error", r->error);
  else cJSON_AddNullToObject(o, "error");
  cJSON_AddItemToObject(o, "params", cJSON_Duplicate(r->params, 1));
  cJSON_AddItemToObject(o, "vars", cJSON_Duplicate(r->vars, 1));
  cJSON_AddItemToObject(o, "hook_errors", cJSON_Duplicate(r->hook_errors, 1));
  cJSON *nodes = cJSON_AddObjectToObject(o, "nodes");
  for (int i = 0; nodes && i < r->def->n; i++)
    cJSON_AddItemToObject(nodes, r->def->nodes[i].id, node_json(r, i));
  return o;
}

static int name_index(const char *const *names, int n, const char *s) {
  for (int i = 0; s && i < n; i++)
    if (!strcmp(names[i], s)) return i;
  return -1;
}

int pgd_flow_run_restore(pgd_flow_def_t *def, const cJSON *state, pgd_flow_run_t **out, char *err,
                         size_t errlen) {
  if (!def || !out || !err || !errlen) return PGD_FLOW_EINVAL;
  err[0] = '\0';
  const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(state, "nodes");
  const char *flow = pgd_json_str(state, "flow");
  int fs = name_index(flow_state_names, 4, pgd_json_str(state, "state"));
  if (!cJSON_IsObject(state) || !cJSON_IsObject(nodes) || fs < 0) {
    snprintf(err, errlen, "not a flow execution state");
    return PGD_FLOW_EINVAL;
  }
  if (!flow || strcmp(flow, def->name) != 0) {
    snprintf(err, errlen, "state of flow '%.128s', not of '%s'", flow ? flow : "?", def->name);
    return PGD_FLOW_EINVAL;
  }
  if (cJSON_GetArraySize(nodes) != def->n) {
    snprintf(err, errlen, "the state has %d nodes, the definition %d", cJSON_GetArraySize(nodes), def->n);
    return PGD_FLOW_EINVAL;
  }
  pgd_flow_run_t *r;
  if (flow_run_alloc(def, &r)) return snprintf(err, errlen, "out of memory"), PGD_FLOW_ENOMEM;
  r->id = pgd_json_int(state, "id", 0);
  r->rerun_of = pgd_json_int(state, "rerun_of", 0);
  r->logical_time = pgd_json_int(state, "logical_time", 0);
  r->created_at = pgd_json_int(state, "created_at", 0);
  r->finished_at = pgd_json_int(state, "finished_at", 0);
  r->state = fs;
  r->done = fs != 0;
  r->started = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(state, "started"));
  r->killing = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(state, "killing"));
  r->failing = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(state, "failing"));
  r->error = flow_strdup(pgd_json_str(state, "error"));
  const cJSON *p = cJSON_GetObjectItemCaseSensitive(state, "params");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(state, "vars");
  const cJSON *he = cJSON_GetObjectItemCaseSensitive(state, "hook_errors");
  r->params = cJSON_IsObject(p) ? cJSON_Duplicate(p, 1) : cJSON_Duplicate(def->params, 1);
  if (cJSON_IsObject(v)) {
    cJSON_Delete(r->vars);
    r->vars = cJSON_Duplicate(v, 1);
  }
  if (cJSON_IsArray(he)) {
    cJSON_Delete(r->hook_errors);
    r->hook_errors = cJSON_Duplicate(he, 1);
  }
  if (!r->params || !r->vars || !r->hook_errors) {
    pgd_flow_run_free(r);
    return snprintf(err, errlen, "out of memory"), PGD_FLOW_ENOMEM;
  }
  for (int i = 0; i < def->n; i++) {
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(nodes, def->nodes[i].id);
    int st = name_index(flow_node_state_names, NS_COUNT, pgd_json_str(jn, "state"));
    if (!cJSON_IsObject(jn) || st < 0) {
      snprintf(err, errlen, "node '%s': missing or bad in the state", def->nodes[i].id);
      pgd_flow_run_free(r);
      return PGD_FLOW_EINVAL;
    }
    flow_node_run_t *nr = &r->nodes[i];
    nr->execution_id = pgd_json_int(jn, "execution_id", 0);
    int again = st == NS_RUNNING && nr->execution_id == 0 && fs == FS_RUNNING;
    nr->state = again ? NS_READY : st;
    nr->attempts = (int)pgd_json_int(jn, "attempts", 0);
    if (again && nr->attempts > 0) nr->attempts--; /* its start never happened */
    nr->started_at = pgd_json_int(jn, "started_at", 0);
    nr->finished_at = pgd_json_int(jn, "finished_at", 0);
    nr->reused = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(jn, "reused"));
    nr->reason = flow_strdup(pgd_json_str(jn, "reason"));
    nr->exec_state = flow_strdup(pgd_json_str(jn, "exec_state"));
    int sc = name_index(flow_skip_cause_names, SC_COUNT, pgd_json_str(jn, "skip_cause"));
    nr->skip_cause = sc < 0 ? SC_NONE : sc;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(jn, "outputs");
    if (cJSON_IsObject(o) && cJSON_GetArraySize(o) > 0) nr->outputs = cJSON_Duplicate(o, 1);
  }
  if (fs == FS_RUNNING && r->nodes) {
    if (r->killing || r->failing) { /* nothing new may start */
      for (int i = 0; i < def->n; i++)
        if (r->nodes[i].state == NS_READY || r->nodes[i].state == NS_WAITING) {
          r->nodes[i].state = NS_SKIPPED;
          r->nodes[i].skip_cause = r->killing ? SC_FLOW_KILLED : SC_FAIL_FAST;
        }
    }
  }
  flow_run_recount(r);
  if (!r->done) flow_hooks_load(r);
  *out = r;
  return 0;
}

/* Marks node i and everything downstream of it in `sel`. */
static void select_down(const pgd_flow_def_t *d, int i, char *sel, int *stack) {
  int sp = 0;
  if (sel[i]) return;
  sel[i] = 1;
  stack[sp++] = i;
  while (sp) {
    int u = stack[--sp];
    for (int k = 0; k < d->nodes[u].ndown; k++) {
      int v = d->nodes[u].down[k];
      if (!sel[v]) {
        sel[v] = 1;
        stack[sp++] = v;
      }
    }
  }
}

int pgd_flow_run_rerun(const pgd_flow_run_t *fin, int64_t new_id, const cJSON *request,
                       pgd_flow_run_t **out, char *err, size_t errlen) {
  if (!fin || !out || !err || !errlen) return PGD_FLOW_EINVAL;
  err[0] = '\0';
  if (!fin->done) {
    snprintf(err, errlen, "flow execution %lld is still running", (long long)fin->id);
    return PGD_FLOW_ESTATE;
  }
  const pgd_flow_def_t *d = fin->def;
  const cJSON *ff = cJSON_GetObjectItemCaseSensitive(request, "from_failed");
  const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(request, "nodes");
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(request, "params");
  if (!cJSON_IsObject(request) || (cJSON_IsTrue(ff) == (nodes != NULL)) ||
      (nodes && (!cJSON_IsArray(nodes) || cJSON_GetArraySize(nodes) == 0)) ||
      (params && !cJSON_IsNull(params) && !cJSON_IsObject(params))) {
    snprintf(err, errlen, "a re-run needs {\"from_failed\": true} or {\"nodes\": [ids...]} "
                          "(and optionally \"params\": {...})");
    return PGD_FLOW_EINVAL;
  }
  char *sel = calloc((size_t)d->n, 1);
  int *stack = malloc(sizeof(int) * (size_t)d->n);
  cJSON *st = pgd_flow_run_state(fin);
  int rc = PGD_FLOW_EINVAL, any = 0;
  if (!sel || !stack || !st) {
    snprintf(err, errlen, "out of memory");
    rc = PGD_FLOW_ENOMEM;
    goto out;
  }
  if (nodes) {
    const cJSON *n;
    cJSON_ArrayForEach(n, nodes) {
      int i = cJSON_IsString(n) ? flow_def_index(d, n->valuestring) : -1;
      if (i < 0) {
        snprintf(err, errlen, "unknown node %s%.64s%s", cJSON_IsString(n) ? "'" : "",
                 cJSON_IsString(n) ? n->valuestring : "(not a string)", cJSON_IsString(n) ? "'" : "");
        goto out;
      }
      select_down(d, i, sel, stack);
    }
  } else {
    for (int i = 0; i < d->n; i++) {
      const flow_node_run_t *nr = &fin->nodes[i];
      int sc = nr->skip_cause;
      if (NS_IS_FAILURE(nr->state) || (nr->state == NS_SKIPPED && (sc == SC_FAIL_FAST || sc == SC_FLOW_KILLED || sc == SC_FLOW_FAILED)))
        select_down(d, i, sel, stack);
    }
  }
  cJSON *jnodes = cJSON_GetObjectItemCaseSensitive(st, "nodes");
  for (int i = 0; i < d->n; i++) {
    cJSON *jn = cJSON_GetObjectItemCaseSensitive(jnodes, d->nodes[i].id);
    if (!sel[i]) {
      cJSON_DeleteItemFromObjectCaseSensitive(jn, "reused");
      cJSON_AddTrueToObject(jn, "reused");
      continue;
    }
    any = 1;
    cJSON *fresh = cJSON_CreateObject();
    if (!fresh) continue;
    cJSON_AddStringToObject(fresh, "state", "waiting");
    cJSON_ReplaceItemInObjectCaseSensitive(jnodes, d->nodes[i].id, fresh);
  }
  if (!any) {
    snprintf(err, errlen, "nothing to re-run: no node failed, was killed or was skipped by a failure");
    goto out;
  }
  static const char *const reset[] = {"id", "state", "rerun_of", "created_at", "finished_at", "started",
                                      "killing", "failing", "error", "hook_errors"};
  for (size_t k = 0; k < sizeof reset / sizeof *reset; k++) cJSON_DeleteItemFromObjectCaseSensitive(st, reset[k]);
  cJSON_AddNumberToObject(st, "id", (double)new_id);
  cJSON_AddStringToObject(st, "state", "running");
  cJSON_AddNumberToObject(st, "rerun_of", (double)fin->id);
  cJSON_AddNumberToObject(st, "created_at", (double)pgd_now_us());
  if (cJSON_IsObject(params)) {
    cJSON *p = cJSON_GetObjectItemCaseSensitive(st, "params");
    const cJSON *it;
    cJSON_ArrayForEach(it, params) {
      cJSON *c = cJSON_Duplicate(it, 1);
      if (!c) continue;
      if (cJSON_GetObjectItemCaseSensitive(p, it->string)) cJSON_ReplaceItemInObjectCaseSensitive(p, it->string, c);
      else cJSON_AddItemToObject(p, it->string, c);
    }
  }
  rc = pgd_flow_run_restore(fin->def, st, out, err, errlen);
out:
  cJSON_Delete(st);
  free(sel);
  free(stack);
  return rc;
}
