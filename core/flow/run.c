/* Pagoda — the state machine of one flow execution: readiness by trigger
 * rule, failure strategies, max_parallel, kills, and the driver loop.
 *
 * Cost: a node's end touches only its downstream nodes (per-node upstream
 * counters), ready nodes sit in a min-heap of definition indices, so a
 * transition is O(out-degree + log n) plus the job resolution of started
 * nodes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "flow/flow_int.h"

#define X_NAME(e, s) s,
const char *const flow_node_state_names[NS_COUNT] = {FLOW_NODE_STATES(X_NAME)};
const char *const flow_skip_cause_names[SC_COUNT] = {FLOW_SKIP_CAUSES(X_NAME)};
#undef X_NAME
const char *const flow_state_names[4] = {"running", "succeeded", "failed", "killed"};

/* ---- ready heap ------------------------------------------------------------ */

static void heap_push(pgd_flow_run_t *r, int v) {
  int i = r->nheap++;
  r->heap[i] = v;
  while (i > 0) {
    int p = (i - 1) / 2;
    if (r->heap[p] <= r->heap[i]) break;
    int t = r->heap[p];
    r->heap[p] = r->heap[i];
    r->heap[i] = t;
    i = p;
  }
}

static int heap_pop(pgd_flow_run_t *r) {
  int top = r->heap[0];
  r->heap[0] = r->heap[--r->nheap];
  int i = 0;
  for (;;) {
    int l = 2 * i + 1, m = i;
    if (l < r->nheap && r->heap[l] < r->heap[m]) m = l;
    if (l + 1 < r->nheap && r->heap[l + 1] < r->heap[m]) m = l + 1;
    if (m == i) break;
    int t = r->heap[m];
    r->heap[m] = r->heap[i];
    r->heap[i] = t;
    i = m;
  }
  return top;
}

/* ---- allocation ------------------------------------------------------------- */

int flow_run_alloc(pgd_flow_def_t *def, pgd_flow_run_t **out) {
  pgd_flow_run_t *r = calloc(1, sizeof *r);
  if (!r) return PGD_FLOW_ENOMEM;
  r->def = pgd_flow_def_ref(def);
  r->env_ref = FLOW_ENV_NONE;
  r->nodes = calloc((size_t)def->n, sizeof *r->nodes);
  r->heap = malloc(sizeof(int) * (size_t)def->n);
  r->work = malloc(sizeof(int) * (size_t)def->n);
  r->hook_errors = cJSON_CreateArray();
  r->vars = cJSON_CreateObject();
  if (!r->nodes || !r->heap || !r->work || !r->hook_errors || !r->vars) {
    pgd_flow_run_free(r);
    return PGD_FLOW_ENOMEM;
  }
  *out = r;
  return 0;
}

void pgd_flow_run_free(pgd_flow_run_t *run) {
  if (!run) return;
  flow_hooks_unload(run);
  for (int i = 0; run->nodes && i < run->def->n; i++) {
    flow_node_run_t *nr = &run->nodes[i];
    free(nr->reason);
    free(nr->exec_state);
    cJSON_Delete(nr->outputs);
    pgd_flow_outparse_free(nr->op);
  }
  free(run->nodes);
  free(run->heap);
  free(run->work);
  free(run->error);
  cJSON_Delete(run->params);
  cJSON_Delete(run->vars);
  cJSON_Delete(run->hook_errors);
  pgd_flow_def_free(run->def);
  free(run);
}

void flow_run_set_reason(flow_node_run_t *nr, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  free(nr->reason);
  nr->reason = flow_strdup(buf);
}

int pgd_flow_run_new(pgd_flow_def_t *def, int64_t id, const cJSON *param_overrides,
                     int64_t logical_time_us, pgd_flow_run_t **out, char *err, size_t errlen) {
  if (!def || !out || !err || !errlen) return PGD_FLOW_EINVAL;
  err[0] = '\0';
  if (param_overrides && !cJSON_IsNull(param_overrides) && !cJSON_IsObject(param_overrides)) {
    snprintf(err, errlen, "params must be an object");
    return PGD_FLOW_EINVAL;
  }
  pgd_flow_run_t *r;
  if (flow_run_alloc(def, &r)) return snprintf(err, errlen, "out of memory"), PGD_FLOW_ENOMEM;
  r->id = id;
  r->created_at = pgd_now_us();
  r->logical_time = logical_time_us ? logical_time_us : r->created_at;
  r->params = cJSON_Duplicate(def->params, 1);
  const cJSON *it;
  cJSON_ArrayForEach(it, param_overrides) {
    cJSON *c = cJSON_Duplicate(it, 1);
    if (!c || !r->params) {
      cJSON_Delete(c);
      break;
    }
    if (cJSON_GetObjectItemCaseSensitive(r->params, it->string))
      cJSON_ReplaceItemInObjectCaseSensitive(r->params, it->string, c);
    else
      cJSON_AddItemToObject(r->params, it->string, c);
  }
  if (!r->params) {
    pgd_flow_run_free(r);
    return snprintf(err, errlen, "out of memory"), PGD_FLOW_ENOMEM;
  }
  flow_run_recount(r);
  flow_hooks_load(r);
  *out = r;
  return 0;
}

/* ---- propagation ------------------------------------------------------------- */

static void count_upstream(flow_node_run_t *d, int st, int delta) {
  d->up_done += delta;
  if (st == NS_SUCCEEDED) d->up_ok += delta;
  else if (NS_IS_FAILURE(st)) d->up_fail += delta;
  else if (st == NS_SKIPPED) d->up_skip += delta;
}

/* Decides a waiting node from its counters: stays waiting, becomes ready
 * (pushed), or becomes terminal (pushed on the work stack). */
static void evaluate(pgd_flow_run_t *r, int i, int *wsp) {
  flow_node_run_t *nr = &r->nodes[i];
  const flow_node_def_t *nd = &r->def->nodes[i];
  if (nr->state != NS_WAITING) return;
  int n = nd->ndeps, ready = 0, term = -1, cause = SC_NONE;
  if (n == 0) ready = 1;
  else switch (nd->rule) {
  case RULE_ALL_SUCCESS:
    if (nr->up_fail) term = NS_UPSTREAM_FAILED;
    else if (nr->up_skip) term = NS_SKIPPED, cause = SC_UPSTREAM_SKIPPED;
    else if (nr->up_ok == n) ready = 1;
    break;
  case RULE_ALL_DONE:
    ready = nr->up_done == n;
    break;
  case RULE_ONE_SUCCESS:
    if (nr->up_ok) ready = 1;
    else if (nr->up_done == n) {
      if (nr->up_fail) term = NS_UPSTREAM_FAILED;
      else term = NS_SKIPPED, cause = SC_UPSTREAM_SKIPPED;
    }
    break;
  case RULE_ONE_FAILED:
    if (nr->up_fail) ready = 1;
    else if (nr->up_done == n) term = NS_SKIPPED, cause = SC_TRIGGER_RULE;
    break;
  }
  if (ready) {
    nr->state = NS_READY;
    heap_push(r, i);
  } else if (term >= 0) {
    nr->state = term;
    nr->skip_cause = cause;
    if (term == NS_UPSTREAM_FAILED) flow_run_set_reason(nr, "an upstream node failed");
    else if (cause == SC_TRIGGER_RULE) flow_run_set_reason(nr, "trigger rule one_failed: no upstream node failed");
    else flow_run_set_reason(nr, "upstream nodes were skipped");
    r->work[(*wsp)++] = i;
  }
}

/* Node i just became terminal: update its downstream, transitively. */
static void propagate(pgd_flow_run_t *r, int i) {
  int sp = 0;
  r->work[sp++] = i;
  while (sp) {
    int u = r->work[--sp];
    const flow_node_def_t *nd = &r->def->nodes[u];
    int st = r->nodes[u].state;
    for (int k = 0; k < nd->ndown; k++) {
      int v = nd->down[k];
      count_upstream(&r->nodes[v], st, 1);
      evaluate(r, v, &sp);
    }
  }
}

/* Recomputes counters and readiness from node states (new, restore). */
void flow_run_recount(pgd_flow_run_t *r) {
  int n = r->def->n;
  r->nheap = 0;
  r->running = 0;
  for (int i = 0; i < n; i++) {
    flow_node_run_t *nr = &r->nodes[i];
    nr->up_done = nr->up_ok = nr->up_fail = nr->up_skip = 0;
  }
  for (int i = 0; i < n; i++) {
    flow_node_run_t *nr = &r->nodes[i];
    const flow_node_def_t *nd = &r->def->nodes[i];
    if (nr->state == NS_RUNNING) r->running++;
    if (nr->state == NS_READY) heap_push(r, i);
    if (NS_TERMINAL(nr->state))
      for (int k = 0; k < nd->ndown; k++) count_upstream(&r->nodes[nd->down[k]], nr->state, 1);
  }
  if (r->state != FS_RUNNING) return;
  for (int i = 0; i < n; i++) {
    int sp = 0;
    evaluate(r, i, &sp);
    while (sp) propagate(r, r->work[--sp]);
  }
}

/* Every node not started yet is skipped with `cause` (fail_fast, kill). */
static void skip_pending(pgd_flow_run_t *r, int cause, const char *why) {
  for (int i = 0; i < r->def->n; i++) {
    flow_node_run_t *nr = &r->nodes[i];
    if (nr->state != NS_WAITING && nr->state != NS_READY) continue;
    nr->state = NS_SKIPPED;
    nr->skip_cause = cause;
    flow_run_set_reason(nr, "%s", why);
  }
  r->nheap = 0;
}

/* A node reached a terminal state by itself (not through propagation). */
static void node_terminal(pgd_flow_run_t *r, int i) {
  flow_node_run_t *nr = &r->nodes[i];
  if (nr->finished_at == 0) nr->finished_at = pgd_now_us();
  if ((nr->state == NS_FAILED || nr->state == NS_KILLED) && r->def->fail_fast && !r->failing &&
      !r->killing) {
    r->failing = 1;
    char why[128];
    snprintf(why, sizeof why, "fail_fast: node '%s' %s", r->def->nodes[i].id,
             flow_node_state_names[nr->state]);
    skip_pending(r, SC_FAIL_FAST, why);
    return;
  }
  propagate(r, i);
}

static void node_fail_now(pgd_flow_run_t *r, int i, const char *msg) {
  flow_node_run_t *nr = &r->nodes[i];
  nr->state = NS_FAILED;
  free(nr->exec_state);
  nr->exec_state = flow_strdup("error");
  flow_run_set_reason(nr, "%s", msg);
  node_terminal(r, i);
}

/* The whole flow fails before or outside its nodes (hooks_error: fail). */
static void flow_fail(pgd_flow_run_t *r, const char *msg) {
  if (!r->error) r->error = flow_strdup(msg);
  if (!r->failing && !r->killing) {
    r->failing = 1;
    skip_pending(r, SC_FLOW_FAILED, msg);
  }
}

/* ---- job resolution ----------------------------------------------------------- */

static void merge_into(cJSON *dst, const cJSON *src) {
  const cJSON *it;
  cJSON_ArrayForEach(it, src) {
    cJSON *c = cJSON_Duplicate(it, 1);
    if (!c) continue;
    if (cJSON_GetObjectItemCaseSensitive(dst, it->string))
      cJSON_ReplaceItemInObjectCaseSensitive(dst, it->string, c);
    else
      cJSON_AddItemToObject(dst, it->string, c);
  }
}

static void set_key(cJSON *o, const char *k, cJSON *v) {
  if (!v) return;
  if (cJSON_GetObjectItemCaseSensitive(o, k)) cJSON_ReplaceItemInObjectCaseSensitive(o, k, v);
  else cJSON_AddItemToObject(o, k, v);
}

/* The job of node i with merged, substituted params, or NULL with err. */
static cJSON *resolve_job(pgd_flow_run_t *r, int i, char *err, size_t errlen) {
  const flow_node_def_t *nd = &r->def->nodes[i];
  cJSON *job;
  if (cJSON_IsString(nd->job)) {
    const cJSON *stored = r->def->checks.lookup_job ? r->def->checks.lookup_job(r->def->checks.ud, nd->job->valuestring) : NULL;
    if (!cJSON_IsObject(stored)) {
      snprintf(err, errlen, "job '%.128s' not found", nd->job->valuestring);
      return NULL;
    }
    job = cJSON_Duplicate(stored, 1);
  } else {
    job = cJSON_Duplicate(nd->job, 1);
    if (job && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(job, "name"))) {
      char name[PGD_FLOW_NAME_MAX + PGD_FLOW_ID_MAX + 2];
      snprintf(name, sizeof name, "%s.%s", r->def->name, nd->id);
      set_key(job, "name", cJSON_CreateString(name));
    }
  }
  if (!job) return snprintf(err, errlen, "out of memory"), NULL;
  cJSON *params = cJSON_GetObjectItemCaseSensitive(job, "params");
  if (!cJSON_IsObject(params)) {
    params = cJSON_CreateObject();
    set_key(job, "params", params);
  }
  if (nd->params) merge_into(params, nd->params);
  if (flow_subst_json(r, params, err, errlen)) {
    cJSON_Delete(job);
    return NULL;
  }
  const cJSON *ov;
  cJSON_ArrayForEach(ov, nd->overrides) set_key(job, ov->string, cJSON_Duplicate(ov, 1));
  return job;
}

/* ---- the driver ------------------------------------------------------------------ */

static int flow_can_start(const pgd_flow_run_t *r) {
  return !r->killing && !r->failing && r->nheap &&
         (r->def->max_parallel == 0 || r->running < r->def->max_parallel);
}

/* Starts (or skips/fails) the lowest ready node. Returns 1 when an action was
 * filled. */
static int start_one(pgd_flow_run_t *r, pgd_flow_action_t *a) {
  int i = heap_pop(r);
  flow_node_run_t *nr = &r->nodes[i];
  char err[1024] = "";
  cJSON *job = resolve_job(r, i, err, sizeof err);
  if (!job) {
    node_fail_now(r, i, err);
    return 0;
  }
  int decision = 0;
  cJSON *extra = NULL;
  char reason[256] = "";
  cJSON *params = cJSON_GetObjectItemCaseSensitive(job, "params");
  if (flow_hooks_call(r, HOOK_NODE_READY, i, params, NULL, &decision, &extra, reason, sizeof reason,
                      err, sizeof err) != 0 && r->def->hooks_error_fail) {
    cJSON_Delete(job);
    node_fail_now(r, i, err);
    return 0;
  }
  if (decision == 1) {
    cJSON_Delete(job);
    cJSON_Delete(extra);
    nr->state = NS_SKIPPED;
    nr->skip_cause = SC_HOOK;
    flow_run_set_reason(nr, "on_node_ready: %s", reason[0] ? reason : "skip");
    node_terminal(r, i);
    return 0;
  }
  if (extra) merge_into(params, extra);
  cJSON_Delete(extra);
  nr->state = NS_RUNNING;
  nr->attempts++;
  nr->execution_id = 0;
  nr->kill_sent = 0;
  nr->started_at = pgd_now_us();
  nr->finished_at = 0;
  free(nr->reason);
  nr->reason = NULL;
  r->running++;
  a->kind = PGD_FLOW_START_NODE;
  a->node_id = r->def->nodes[i].id;
  a->execution_id = 0;
  a->job = job;
  a->state = NULL;
  return 1;
}

static void finish_flow(pgd_flow_run_t *r) {
  int bad = r->error != NULL;
  for (int i = 0; i < r->def->n; i++) bad |= NS_IS_FAILURE(r->nodes[i].state);
  r->state = r->killing ? FS_KILLED : bad ? FS_FAILED : FS_SUCCEEDED;
  char err[1024];
  if (flow_hooks_call(r, HOOK_FLOW_DONE, -1, NULL, NULL, NULL, NULL, NULL, 0, err, sizeof err) &&
      r->def->hooks_error_fail && r->state == FS_SUCCEEDED) {
    r->state = FS_FAILED;
    if (!r->error) r->error = flow_strdup(err);
  }
  r->finished_at = pgd_now_us();
  r->done = 1;
}

int pgd_flow_run_next(pgd_flow_run_t *r, pgd_flow_action_t *actions, int max) {
  if (!r || !actions || max <= 0 || r->done) return 0;
  int n = 0;
  if (!r->started) {
    r->started = 1;
    char err[1024];
    if (r->env_ref == FLOW_ENV_FAILED && r->def->hooks_error_fail) flow_fail(r, "hooks failed to load");
    else if (flow_hooks_call(r, HOOK_FLOW_START, -1, NULL, NULL, NULL, NULL, NULL, 0, err, sizeof err) &&
             r->def->hooks_error_fail)
      flow_fail(r, err);
  }
  while (n < max && flow_can_start(r)) n += start_one(r, &actions[n]);
  if (r->killing || r->failing) {
    for (int i = 0; i < r->def->n && n < max; i++) {
      flow_node_run_t *nr = &r->nodes[i];
      if (nr->state != NS_RUNNING || nr->kill_sent) continue;
      nr->kill_sent = 1;
      actions[n++] = (pgd_flow_action_t){.kind = PGD_FLOW_KILL_NODE, .node_id = r->def->nodes[i].id,
                                         .execution_id = nr->execution_id};
    }
  }
  if (n < max && r->running == 0 && r->nheap == 0) {
    finish_flow(r);
    actions[n++] = (pgd_flow_action_t){.kind = PGD_FLOW_FLOW_DONE, .state = flow_state_names[r->state]};
  }
  return n;
}

/* ---- events ------------------------------------------------------------------------ */

static flow_node_run_t *running_node(pgd_flow_run_t *r, const char *id, int *idx, int *rc) {
  int i = r ? flow_def_index(r->def, id) : -1;
  *rc = 0;
  if (i < 0) return *rc = PGD_FLOW_ENOENT, NULL;
  if (r->nodes[i].state != NS_RUNNING) return *rc = PGD_FLOW_ESTATE, NULL;
  *idx = i;
  return &r->nodes[i];
}

int pgd_flow_run_node_started(pgd_flow_run_t *r, const char *node_id, int64_t execution_id) {
  int i, rc;
  flow_node_run_t *nr = running_node(r, node_id, &i, &rc);
  if (nr) nr->execution_id = execution_id;
  return rc;
}

void pgd_flow_run_node_output(pgd_flow_run_t *r, const char *node_id, const char *chunk, size_t len) {
  int i, rc;
  flow_node_run_t *nr = running_node(r, node_id, &i, &rc);
  if (!nr || !chunk) return;
  if (!nr->op && !(nr->op = pgd_flow_outparse_new())) return;
  pgd_flow_outparse_feed(nr->op, chunk, len);
}

int pgd_flow_run_node_finished(pgd_flow_run_t *r, const char *node_id, const char *state,
                               const cJSON *result) {
  int i, rc;
  flow_node_run_t *nr = running_node(r, node_id, &i, &rc);
  if (!nr) return rc;
  if (!state) state = "failed";
  cJSON_Delete(nr->outputs);
  nr->outputs = NULL;
  if (nr->op) {
    pgd_flow_outparse_finish(nr->op);
    nr->outputs = cJSON_Duplicate(pgd_flow_outparse_outputs(nr->op), 1);
    pgd_flow_outparse_free(nr->op);
    nr->op = NULL;
  }
  if (result) {
    cJSON *lo = pgd_flow_outputs_from_result(result);
    if (!nr->outputs) nr->outputs = lo;
    else {
      const cJSON *it;
      cJSON_ArrayForEach(it, lo) flow_output_add(nr->outputs, it->string, strlen(it->string), it->valuestring, strlen(it->valuestring));
      cJSON_Delete(lo);
    }
  }
  free(nr->exec_state);
  nr->exec_state = flow_strdup(state);
  nr->state = !strcmp(state, "succeeded") ? NS_SUCCEEDED : !strcmp(state, "killed") ? NS_KILLED : NS_FAILED;
  if (nr->state == NS_FAILED) flow_run_set_reason(nr, "execution %s", state);
  if (nr->state == NS_KILLED && nr->kill_sent) flow_run_set_reason(nr, "killed by the flow");
  r->running--;
  nr->finished_at = pgd_now_us();
  char err[1024];
  if (flow_hooks_call(r, HOOK_NODE_DONE, i, NULL, result, NULL, NULL, NULL, 0, err, sizeof err) &&
      r->def->hooks_error_fail && nr->state == NS_SUCCEEDED) {
    nr->state = NS_FAILED;
    flow_run_set_reason(nr, "%s", err);
  }
  if (nr->kill_sent && nr->state == NS_KILLED) propagate(r, i); /* expected; not a new failure */
  else node_terminal(r, i);
  return 0;
}

int pgd_flow_run_kill(pgd_flow_run_t *r) {
  if (!r) return PGD_FLOW_EINVAL;
  if (r->done) return PGD_FLOW_ESTATE;
  if (!r->killing) {
    r->killing = 1;
    skip_pending(r, SC_FLOW_KILLED, "flow killed");
  }
  return r->running;
}

/* ---- accessors ------------------------------------------------------------------------ */

int64_t pgd_flow_run_id(const pgd_flow_run_t *r) { return r ? r->id : 0; }
const char *pgd_flow_run_state_name(const pgd_flow_run_t *r) { return r ? flow_state_names[r->state] : NULL; }
int pgd_flow_run_done(const pgd_flow_run_t *r) { return r ? r->done : 0; }

const char *pgd_flow_run_node_state_name(const pgd_flow_run_t *r, const char *node_id) {
  int i = r ? flow_def_index(r->def, node_id) : -1;
  return i < 0 ? NULL : flow_node_state_names[r->nodes[i].state];
}
