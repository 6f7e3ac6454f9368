/* Pagoda — flow definitions: parsing, validation (ids, dependencies, cycles,
 * trigger rules, hooks), the normalised JSON, reference counting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "flow/flow_int.h"

const char *const flow_rule_names[RULE_COUNT] = {"all_success", "all_done", "one_success",
                                                 "one_failed"};

char *flow_strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static int valid_chars(const char *s, size_t max, int allow_dot) {
  size_t n = 0;
  for (; s[n]; n++) {
    char c = s[n];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || (allow_dot && c == '.');
    if (!ok || n >= max) return 0;
  }
  return n > 0;
}

int flow_def_index(const pgd_flow_def_t *def, const char *id) {
  flow_id_t *e = NULL;
  if (!id) return -1;
  HASH_FIND_STR(def->ids, id, e);
  return e ? e->idx : -1;
}

static void def_destroy(pgd_flow_def_t *d) {
  flow_id_t *e, *tmp;
  HASH_ITER(hh, d->ids, e, tmp) {
    HASH_DEL(d->ids, e);
    free(e);
  }
  for (int i = 0; i < d->n; i++) {
    flow_node_def_t *nd = &d->nodes[i];
    free(nd->id);
    cJSON_Delete(nd->job);
    cJSON_Delete(nd->params);
    cJSON_Delete(nd->overrides);
    free(nd->deps);
    free(nd->down);
  }
  free(d->nodes);
  free(d->name);
  cJSON_Delete(d->json);
  cJSON_Delete(d->params);
  free(d->hooks_text);
  free(d->hooks_chunk);
  free(d->hooks_dir);
  pgd_sandbox_free(d->sb);
  free(d);
}

pgd_flow_def_t *pgd_flow_def_ref(pgd_flow_def_t *def) {
  if (def) def->refs++;
  return def;
}

void pgd_flow_def_free(pgd_flow_def_t *def) {
  if (def && --def->refs == 0) def_destroy(def);
}

const char *pgd_flow_def_name(const pgd_flow_def_t *def) { return def ? def->name : NULL; }
int pgd_flow_def_node_count(const pgd_flow_def_t *def) { return def ? def->n : 0; }

cJSON *pgd_flow_def_json(const pgd_flow_def_t *def) {
  return def ? cJSON_Duplicate(def->json, 1) : NULL;
}

/* Cycle search over downstream edges (iterative DFS). Returns 0, or -1 with
 * `err` = "cycle: a -> b -> a" ("x -> y": y depends on x). */
static int find_cycle(pgd_flow_def_t *d, char *err, size_t errlen) {
  int n = d->n, rc = 0;
  char *color = calloc((size_t)n, 1);
  int *stack = malloc(sizeof(int) * (size_t)n), *edge = malloc(sizeof(int) * (size_t)n);
  if (!color || !stack || !edge) {
    snprintf(err, errlen, "out of memory");
    rc = -1;
    goto out;
  }
  for (int s = 0; s < n && !rc; s++) {
    if (color[s]) continue;
    int sp = 0;
    stack[0] = s;
    edge[0] = 0;
    color[s] = 1;
    while (sp >= 0 && !rc) {
      int u = stack[sp];
      if (edge[sp] >= d->nodes[u].ndown) {
        color[u] = 2;
        sp--;
        continue;
      }
      int v = d->nodes[u].down[edge[sp]++];
      if (color[v] == 1) {
        int k = sp;
        while (stack[k] != v) k--;
        size_t off = (size_t)snprintf(err, errlen, "cycle:");
        for (int j = k; j <= sp; j++)
          if (off < errlen) off += (size_t)snprintf(err + off, errlen - off, " %s ->", d->nodes[stack[j]].id);
        if (off < errlen) snprintf(err + off, errlen - off, " %s", d->nodes[v].id);
        rc = -1;
      } else if (!color[v]) {
        color[v] = 1;
        stack[++sp] = v;
        edge[sp] = 0;
      }
    }
  }
out:
  free(color);
  free(stack);
  free(edge);
  return rc;
}

static int read_hooks_file(pgd_flow_def_t *d, const char *name, char *err, size_t errlen) {
  size_t nl = strlen(name);
  if (!valid_chars(name, 120, 1) || nl < 5 || strcmp(name + nl - 4, ".lua") != 0 || name[0] == '.') {
    snprintf(err, errlen, "hooks.file must be NAME.lua (letters, digits, _ - .), got '%s'", name);
    return -1;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", d->hooks_dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "hooks.file '%s': %s", path, strerror(errno));
    return -1;
  }
  char *buf = malloc(PGD_FLOW_HOOKS_MAX + 1);
  size_t len = buf ? fread(buf, 1, PGD_FLOW_HOOKS_MAX + 1, f) : 0;
  fclose(f);
  if (!buf || len > PGD_FLOW_HOOKS_MAX) {
    free(buf);
    snprintf(err, errlen, "hooks.file '%s' is larger than %u bytes", path, PGD_FLOW_HOOKS_MAX);
    return -1;
  }
  buf[len] = '\0';
  d->hooks_text = buf;
  d->hooks_len = len;
  size_t cl = strlen(path) + 2;
  d->hooks_chunk = malloc(cl);
  if (d->hooks_chunk) snprintf(d->hooks_chunk, cl, "@%s", path);
  return 0;
}

static int parse_hooks(pgd_flow_def_t *d, const cJSON *hooks, char *err, size_t errlen) {
  if (!hooks || cJSON_IsNull(hooks)) return 0;
  const cJSON *script = cJSON_GetObjectItemCaseSensitive(hooks, "script");
  const cJSON *file = cJSON_GetObjectItemCaseSensitive(hooks, "file");
  /* Exactly one of the two, and as a string: {"file": "x", "script": 5}
   * is refused, not read as a script. */
  if (!cJSON_IsObject(hooks) || (script && !cJSON_IsString(script)) ||
      (file && !cJSON_IsString(file)) || (cJSON_IsString(script) == cJSON_IsString(file))) {
    snprintf(err, errlen, "hooks must be {\"script\": TEXT} or {\"file\": \"NAME.lua\"}");
    return -1;
  }
  if (script) {
    size_t len = strlen(script->valuestring);
    if (len > PGD_FLOW_HOOKS_MAX) {
      snprintf(err, errlen, "hooks.script is larger than %u bytes", PGD_FLOW_HOOKS_MAX);
      return -1;
    }
    d->hooks_text = flow_strdup(script->valuestring);
    d->hooks_len = len;
    size_t cl = strlen(d->name) + 16;
    d->hooks_chunk = malloc(cl);
    if (d->hooks_chunk) snprintf(d->hooks_chunk, cl, "=%s.hooks", d->name);
  } else if (read_hooks_file(d, file->valuestring, err, errlen)) {
    return -1;
  }
  if (!d->hooks_text || !d->hooks_chunk) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return flow_hooks_compile(d, err, errlen);
}

/* Parses one node (without dependencies, which need every id first). */
static int parse_node(pgd_flow_def_t *d, int i, const cJSON *jn, cJSON *norm, char *err,
                      size_t errlen) {
  flow_node_def_t *nd = &d->nodes[i];
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(jn, "id");
  if (!cJSON_IsObject(jn) || !cJSON_IsString(id) || !valid_chars(id->valuestring, PGD_FLOW_ID_MAX, 0)) {
    snprintf(err, errlen, "node #%d: id must be 1-%d chars of A-Z a-z 0-9 _ -", i + 1,
             PGD_FLOW_ID_MAX);
    return -1;
  }
  nd->id = flow_strdup(id->valuestring);
  if (!nd->id) return snprintf(err, errlen, "out of memory"), -1;
  if (flow_def_index(d, nd->id) >= 0) {
    snprintf(err, errlen, "duplicate node id '%s'", nd->id);
    return -1;
  }
  flow_id_t *e = calloc(1, sizeof *e);
  if (!e) return snprintf(err, errlen, "out of memory"), -1;
  e->id = nd->id;
  e->idx = i;
  HASH_ADD_KEYPTR(hh, d->ids, e->id, strlen(e->id), e);

  const cJSON *job = cJSON_GetObjectItemCaseSensitive(jn, "job");
  if (!(cJSON_IsString(job) && job->valuestring[0]) && !cJSON_IsObject(job)) {
    snprintf(err, errlen, "node '%s': job must be a job name or a job definition object", nd->id);
    return -1;
  }
  nd->job = cJSON_Duplicate(job, 1);
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(jn, "params");
  if (params && !cJSON_IsNull(params)) {
    if (!cJSON_IsObject(params)) {
      snprintf(err, errlen, "node '%s': params must be an object", nd->id);
      return -1;
    }
    nd->params = cJSON_Duplicate(params, 1);
  }
  nd->overrides = cJSON_CreateObject();
  if (!nd->job || !nd->overrides || (params && !cJSON_IsNull(params) && !nd->params))
    return snprintf(err, errlen, "out of memory"), -1;
  static const char *const keys[] = {"timeout", "retries", "labels", "balancer"};
  for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(jn, keys[k]);
    if (!v || cJSON_IsNull(v)) continue;
    int ok = 1;
    if (k == 0) ok = cJSON_IsNumber(v) && v->valuedouble >= 0;
    else if (k == 1) /* range first: casting a huge double to int is undefined */
      ok = cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1e6 &&
           v->valuedouble == (double)(int)v->valuedouble;
    else if (k == 3) ok = cJSON_IsString(v);
    else {
      ok = cJSON_IsArray(v);
      const cJSON *l;
      cJSON_ArrayForEach(l, v) if (!cJSON_IsString(l)) ok = 0;
    }
    if (!ok) {
      snprintf(err, errlen, "node '%s': bad %s (%s)", nd->id, keys[k],
               k == 0 ? "seconds >= 0" : k == 1 ? "an integer >= 0" : k == 2 ? "an array of strings" : "a balancer name");
      return -1;
    }
    cJSON_AddItemToObject(nd->overrides, keys[k], cJSON_Duplicate(v, 1));
  }
  const cJSON *rule = cJSON_GetObjectItemCaseSensitive(jn, "trigger_rule");
  nd->rule = RULE_ALL_SUCCESS;
  if (rule && !cJSON_IsNull(rule)) {
    nd->rule = -1;
    for (int r = 0; cJSON_IsString(rule) && r < RULE_COUNT; r++)
      if (!strcmp(rule->valuestring, flow_rule_names[r])) nd->rule = r;
    if (nd->rule < 0) {
      snprintf(err, errlen,
               "node '%s': trigger_rule %s%s%s is not one of all_success, all_done, one_success, "
               "one_failed", nd->id, cJSON_IsString(rule) ? "'" : "",
               cJSON_IsString(rule) ? rule->valuestring : "(not a string)", cJSON_IsString(rule) ? "'" : "");
      return -1;
    }
  }
  if (d->checks.check_job) {
    cJSON *ov = cJSON_Duplicate(nd->overrides, 1);
    if (ov && nd->params) cJSON_AddItemToObject(ov, "params", cJSON_Duplicate(nd->params, 1));
    char cerr[512] = "";
    int bad = !ov || d->checks.check_job(d->checks.ud, nd->job, ov, cerr, sizeof cerr);
    cJSON_Delete(ov);
    if (bad) {
      snprintf(err, errlen, "node '%s': %s", nd->id, cerr[0] ? cerr : "invalid job");
      return -1;
    }
  }
  /* normalised node */
  cJSON *nn = cJSON_Duplicate(jn, 1);
  if (!nn) return snprintf(err, errlen, "out of memory"), -1;
  cJSON_DeleteItemFromObjectCaseSensitive(nn, "trigger_rule");
  cJSON_AddStringToObject(nn, "trigger_rule", flow_rule_names[nd->rule]);
  if (!cJSON_GetObjectItemCaseSensitive(nn, "depends_on"))
    cJSON_AddItemToObject(nn, "depends_on", cJSON_CreateArray());
  cJSON_AddItemToArray(norm, nn);
  return 0;
}

static int add_edge(int **arr, int *n, int v) {
  int *a = realloc(*arr, sizeof(int) * (size_t)(*n + 1));
  if (!a) return -1;
  a[(*n)++] = v;
  *arr = a;
  return 0;
}

static int parse_deps(pgd_flow_def_t *d, int i, const cJSON *jn, char *err, size_t errlen) {
  flow_node_def_t *nd = &d->nodes[i];
  const cJSON *deps = cJSON_GetObjectItemCaseSensitive(jn, "depends_on");
  if (!deps || cJSON_IsNull(deps)) return 0;
  if (!cJSON_IsArray(deps)) {
    snprintf(err, errlen, "node '%s': depends_on must be an array of node ids", nd->id);
    return -1;
  }
  const cJSON *dep;
  cJSON_ArrayForEach(dep, deps) {
    if (!cJSON_IsString(dep)) {
      snprintf(err, errlen, "node '%s': depends_on must be an array of node ids", nd->id);
      return -1;
    }
    int j = flow_def_index(d, dep->valuestring);
    if (j < 0) {
      snprintf(err, errlen, "node '%s': depends_on names unknown node '%.64s'", nd->id, dep->valuestring);
      return -1;
    }
    int dup = 0;
    for (int k = 0; k < nd->ndeps; k++) dup |= nd->deps[k] == j;
    if (dup) continue;
    if (add_edge(&nd->deps, &nd->ndeps, j) || add_edge(&d->nodes[j].down, &d->nodes[j].ndown, i)) {
      snprintf(err, errlen, "out of memory");
      return -1;
    }
  }
  return 0;
}

static int parse_top(pgd_flow_def_t *d, const cJSON *json, cJSON *norm, char *err, size_t errlen) {
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(json, "name");
  if (!cJSON_IsString(name) || !valid_chars(name->valuestring, PGD_FLOW_NAME_MAX, 1)) {
    snprintf(err, errlen, "name is required: 1-%d chars of A-Z a-z 0-9 _ - .", PGD_FLOW_NAME_MAX);
    return -1;
  }
  d->name = flow_strdup(name->valuestring);
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(json, "params");
  if (params && !cJSON_IsNull(params) && !cJSON_IsObject(params)) {
    snprintf(err, errlen, "params must be an object of defaults");
    return -1;
  }
  d->params = cJSON_IsObject(params) ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
  if (!d->name || !d->params) return snprintf(err, errlen, "out of memory"), -1;
  const cJSON *fs = cJSON_GetObjectItemCaseSensitive(json, "failure_strategy");
  d->fail_fast = 1;
  if (fs && !cJSON_IsNull(fs)) {
    if (cJSON_IsString(fs) && !strcmp(fs->valuestring, "continue")) d->fail_fast = 0;
    else if (!cJSON_IsString(fs) || strcmp(fs->valuestring, "fail_fast") != 0) {
      snprintf(err, errlen, "failure_strategy must be \"fail_fast\" or \"continue\"");
      return -1;
    }
  }
  const cJSON *mp = cJSON_GetObjectItemCaseSensitive(json, "max_parallel");
  if (mp && !cJSON_IsNull(mp)) {
    if (!cJSON_IsNumber(mp) || mp->valuedouble < 0 || mp->valuedouble > 1e6 ||
        mp->valuedouble != (double)(int)mp->valuedouble) {
      snprintf(err, errlen, "max_parallel must be an integer >= 0 (0 = no limit)");
      return -1;
    }
    d->max_parallel = mp->valueint;
  }
  const cJSON *he = cJSON_GetObjectItemCaseSensitive(json, "hooks_error");
  if (he && !cJSON_IsNull(he)) {
    if (cJSON_IsString(he) && !strcmp(he->valuestring, "fail")) d->hooks_error_fail = 1;
    else if (!cJSON_IsString(he) || strcmp(he->valuestring, "run") != 0) {
      snprintf(err, errlen, "hooks_error must be \"run\" or \"fail\"");
      return -1;
    }
  }
  static const char *const drop[] = {"params", "failure_strategy", "max_parallel", "hooks_error", "nodes"};
  for (size_t k = 0; k < sizeof drop / sizeof *drop; k++) cJSON_DeleteItemFromObjectCaseSensitive(norm, drop[k]);
  cJSON_AddItemToObject(norm, "params", cJSON_Duplicate(d->params, 1));
  cJSON_AddStringToObject(norm, "failure_strategy", d->fail_fast ? "fail_fast" : "continue");
  cJSON_AddNumberToObject(norm, "max_parallel", d->max_parallel);
  cJSON_AddStringToObject(norm, "hooks_error", d->hooks_error_fail ? "fail" : "run");
  return 0;
}

int pgd_flow_def_parse(const cJSON *json, const pgd_flow_checks_t *checks, pgd_flow_def_t **out,
                       char *err, size_t errlen) {
  if (!err || !errlen) return PGD_FLOW_EINVAL;
  err[0] = '\0';
  if (!cJSON_IsObject(json) || !out) {
    snprintf(err, errlen, "a flow definition must be a JSON object");
    return PGD_FLOW_EINVAL;
  }
  const char *why = NULL;
  if (pgd_json_ambiguous(json, &why)) {
    snprintf(err, errlen, "a flow definition must not hold %s", why);
    return PGD_FLOW_EINVAL;
  }
  pgd_flow_def_t *d = calloc(1, sizeof *d);
  if (!d) return snprintf(err, errlen, "out of memory"), PGD_FLOW_ENOMEM;
  d->refs = 1;
  if (checks) d->checks = *checks;
  d->hooks_dir = flow_strdup(checks && checks->hooks_dir ? checks->hooks_dir : "conf/hooks");
  d->json = cJSON_Duplicate(json, 1);
  if (!d->json || !d->hooks_dir) {
    def_destroy(d);
    return snprintf(err, errlen, "out of memory"), PGD_FLOW_ENOMEM;
  }
  d->checks.hooks_dir = d->hooks_dir;
  if (parse_top(d, json, d->json, err, errlen)) goto bad;

  const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(json, "nodes");
  int n = cJSON_GetArraySize(nodes);
  if (!cJSON_IsArray(nodes) || n == 0) {
    snprintf(err, errlen, "nodes must be a non-empty array");
    goto bad;
  }
  if (n > PGD_FLOW_MAX_NODES) {
    snprintf(err, errlen, "a flow has at most %d nodes (got %d)", PGD_FLOW_MAX_NODES, n);
    goto bad;
  }
  d->nodes = calloc((size_t)n, sizeof *d->nodes);
  cJSON *norm = cJSON_CreateArray();
  if (!d->nodes || !norm) {
    cJSON_Delete(norm);
    snprintf(err, errlen, "out of memory");
    goto bad;
  }
  cJSON_AddItemToObject(d->json, "nodes", norm);
  const cJSON *jn;
  cJSON_ArrayForEach(jn, nodes) {
    int i = d->n++;
    if (parse_node(d, i, jn, norm, err, errlen)) goto bad;
  }
  int i = 0;
  cJSON_ArrayForEach(jn, nodes) if (parse_deps(d, i++, jn, err, errlen)) goto bad;
  if (find_cycle(d, err, errlen)) goto bad;
  if (parse_hooks(d, cJSON_GetObjectItemCaseSensitive(json, "hooks"), err, errlen)) goto bad;
  *out = d;
  return 0;
bad:
  def_destroy(d);
  return PGD_FLOW_EINVAL;
}
