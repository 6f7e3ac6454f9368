/* `pagoda plugin test`: one plugin's halves run on a params object, here. */
#include "plugin/trial.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "plugin/plugin_priv.h"
#include "plugin/schema.h"

/* Prints `o` (owned, freed here) to `out`. */
static void print_json(cJSON *o, FILE *out) {
  char *text = o ? cJSON_Print(o) : NULL;
  fprintf(out, "%s\n", text ? text : "{\"ok\":false,\"error\":\"out of memory\"}");
  cJSON_free(text);
  cJSON_Delete(o);
}

static int fail(const char *path, const char *stage, const char *msg, FILE *out, FILE *errout) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddBoolToObject(o, "ok", 0);
  cJSON_AddStringToObject(o, "file", path);
  cJSON_AddStringToObject(o, "stage", stage);
  cJSON_AddStringToObject(o, "error", msg);
  print_json(o, out);
  fprintf(errout, "pagoda plugin test: %s: %s\n", stage, msg);
  return PGD_TRIAL_FAIL;
}

/* The process description as JSON: argv, env ("K=V" entries as an object),
 * cwd and user (null when unset). */
static cJSON *process_json(const pgd_procspec_t *spec) {
  cJSON *o = cJSON_CreateObject();
  cJSON *argv = cJSON_AddArrayToObject(o, "argv");
  for (size_t i = 0; argv && i < spec->argc; i++)
    cJSON_AddItemToArray(argv, cJSON_CreateString(spec->argv[i]));
  cJSON *env = cJSON_AddObjectToObject(o, "env");
  for (size_t i = 0; env && i < spec->envc; i++) {
    const char *eq = strchr(spec->env[i], '=');
    if (!eq) continue;
    char *key = strndup(spec->env[i], (size_t)(eq - spec->env[i]));
    if (key) cJSON_AddStringToObject(env, key, eq + 1);
    free(key);
  }
  cJSON_AddItemToObject(o, "cwd", spec->cwd ? cJSON_CreateString(spec->cwd) : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "user",
                        spec->user ? cJSON_CreateString(spec->user) : cJSON_CreateNull());
  return o;
}

/* The steps after loading; `p` is loaded, `params` an object. */
static int run_steps(const pgd_plugin_t *p, const char *path, cJSON *params, FILE *out,
                     FILE *errout) {
  char err[2048];
  const char *type = pgd_plugin_type(p);
  if (pgd_plugin_schema_check(p, params, err, sizeof err) < 0)
    return fail(path, "schema", err, out, errout);
  if (pgd_plugin_validate(p, params, err, sizeof err) < 0)
    return fail(path, "validate", err, out, errout);
  cJSON *job = cJSON_CreateObject();
  cJSON_AddStringToObject(job, "name", "plugin-test");
  cJSON_AddStringToObject(job, "type", type);
  cJSON_AddItemToObject(job, "params", cJSON_Duplicate(params, 1));
  cJSON *req = NULL;
  int rc = pgd_plugin_expand(p, job, &req, err, sizeof err);
  cJSON_Delete(job);
  if (rc < 0) return fail(path, "expand", err, out, errout);

  int kind = pgd_plugin_executor_kind(p);
  cJSON *proc = NULL;
  if (kind == PGD_EXEC_PROCESS) {
    pgd_procspec_t spec;
    pgd_procspec_init(&spec);
    rc = pgd_plugin_describe_process(p, req, &spec, err, sizeof err);
    if (rc == 0) proc = process_json(&spec);
    pgd_procspec_free(&spec);
    if (rc < 0) {
      cJSON_Delete(req);
      return fail(path, "describe_process", err, out, errout);
    }
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddBoolToObject(o, "ok", 1);
  cJSON_AddStringToObject(o, "file", path);
  cJSON_AddStringToObject(o, "type", type);
  cJSON_AddStringToObject(o, "version", pgd_plugin_version(p));
  cJSON_AddStringToObject(o, "abi", p->abi);
  cJSON_AddBoolToObject(o, "schema_enforced", p->desc->abi_minor >= PGD_SCHEMA_MINOR);
  cJSON_AddItemToObject(o, "executor",
                        kind == PGD_EXEC_PROCESS      ? cJSON_CreateString("process")
                        : kind == PGD_EXEC_IN_PROCESS ? cJSON_CreateString("in_process")
                                                      : cJSON_CreateNull());
  cJSON_AddItemToObject(o, "request", req);
  if (proc) cJSON_AddItemToObject(o, "process", proc);
  print_json(o, out);
  return PGD_TRIAL_OK;
}

int pgd_plugin_trial(const char *path, const char *params_json, const char *want_type, FILE *out,
                     FILE *errout) {
  if (!path || !out || !errout) return PGD_TRIAL_USAGE;
  cJSON *params = cJSON_Parse(params_json ? params_json : "{}");
  if (!cJSON_IsObject(params)) {
    cJSON_Delete(params);
    fprintf(errout, "pagoda plugin test: --params wants a JSON object, not '%s'\n", params_json);
    return PGD_TRIAL_USAGE;
  }
  pgd_registry_t *r = pgd_registry_new();
  if (!r) {
    cJSON_Delete(params);
    return fail(path, "load", "out of memory", out, errout);
  }
  char err[1200];
  int ret;
  if (pgd_registry_load_file(r, path, err, sizeof err) < 0 || r->n != 1) {
    ret = fail(path, "load", err, out, errout);
  } else if (want_type && strcmp(want_type, pgd_plugin_type(r->plugins[0])) != 0) {
    snprintf(err, sizeof err, "the plugin provides job type \"%s\", not \"%s\"",
             pgd_plugin_type(r->plugins[0]), want_type);
    ret = fail(path, "type", err, out, errout);
  } else {
    ret = run_steps(r->plugins[0], path, params, out, errout);
  }
  pgd_registry_free(r);
  cJSON_Delete(params);
  return ret;
}
