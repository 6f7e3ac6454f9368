/* Calling into a loaded plugin: the generator and executor halves, with the
 * host's error sink and the defaults for missing slots. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "plugin/host.h"
#include "plugin/plugin_priv.h"
#include "plugin/schema.h"

#define PJ(v) ((const pagoda_json_t *)(const void *)(v))

const char *pgd_plugin_type(const pgd_plugin_t *p) { return p ? p->desc->type : NULL; }
const char *pgd_plugin_version(const pgd_plugin_t *p) {
  return (p && p->desc->version) ? p->desc->version : "";
}
const char *pgd_plugin_file(const pgd_plugin_t *p) { return p ? p->file : NULL; }

int pgd_plugin_has_generator(const pgd_plugin_t *p) {
  return (p && p->desc->generator) ? 1 : 0;
}

int pgd_plugin_executor_kind(const pgd_plugin_t *p) {
  const pagoda_executor_t *x = p ? p->desc->executor : NULL;
  if (!x) return PGD_EXEC_NONE;
  if (x->describe_process) return PGD_EXEC_PROCESS;
  if (x->run) return PGD_EXEC_IN_PROCESS;
  return PGD_EXEC_NONE;
}

/* Normalises a plugin's return code (any non-zero is a failure) and makes
 * sure a failure carries a message. */
static int finish(const pgd_plugin_t *p, const char *op, int rc, const struct pagoda_error *e,
                  char *err, size_t errlen) {
  if (rc == 0) {
    if (err && errlen) err[0] = '\0';
    return 0;
  }
  if (rc > 0) rc = PAGODA_EFAIL;
  if (!e->set || !err || !errlen || !err[0])
    pgd_set_err(err, errlen, rc, "%s: %s failed (code %d)", p->desc->type, op, rc);
  return rc;
}

int pgd_plugin_validate(const pgd_plugin_t *p, const cJSON *params, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!p) return -EINVAL;
  int rc = pgd_plugin_schema_check(p, params, err, errlen);
  if (rc < 0) return rc;
  const pagoda_generator_t *g = p->desc->generator;
  if (!g || !g->validate) return 0;
  /* The ABI promises an object: a job without params is validated as {}. */
  cJSON *empty = NULL;
  if (!params && !(params = empty = cJSON_CreateObject()))
    return pgd_set_err(err, errlen, -ENOMEM, "%s: out of memory", p->desc->type);
  struct pagoda_error e;
  pgd_plugin_error_init(&e, err, errlen);
  rc = g->validate(p->state, PJ(params), &e);
  cJSON_Delete(empty);
  return finish(p, "validate", rc, &e, err, errlen);
}

int pgd_plugin_expand(const pgd_plugin_t *p, const cJSON *job, cJSON **params_out, char *err,
                      size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!params_out) return -EINVAL;
  *params_out = NULL;
  if (!p) return -EINVAL;
  const cJSON *src = job ? cJSON_GetObjectItemCaseSensitive(job, "params") : NULL;
  if (src && !cJSON_IsNull(src) && !cJSON_IsObject(src))
    return pgd_set_err(err, errlen, -EINVAL, "%s: params must be an object", p->desc->type);
  cJSON *req = (src && cJSON_IsObject(src)) ? cJSON_Duplicate(src, 1) : cJSON_CreateObject();
  if (!req) return pgd_set_err(err, errlen, -ENOMEM, "%s: out of memory", p->desc->type);
  const pagoda_generator_t *g = p->desc->generator;
  if (g && g->expand) {
    struct pagoda_error e;
    pgd_plugin_error_init(&e, err, errlen);
    int rc = g->expand(p->state, PJ(job), (pagoda_request_t *)(void *)req, &e);
    rc = finish(p, "expand", rc, &e, err, errlen);
    if (rc < 0) {
      cJSON_Delete(req);
      return rc;
    }
  }
  *params_out = req;
  return 0;
}

int pgd_plugin_describe_process(const pgd_plugin_t *p, const cJSON *params, pgd_procspec_t *spec,
                                char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!p || !spec) return -EINVAL;
  if (pgd_plugin_executor_kind(p) != PGD_EXEC_PROCESS)
    return pgd_set_err(err, errlen, -ENOTSUP, "%s: not a process executor", p->desc->type);
  /* The request may come from a master of another version: check again. */
  int rc = pgd_plugin_schema_check(p, params, err, errlen);
  if (rc < 0) return rc;
  struct pagoda_error e;
  pgd_plugin_error_init(&e, err, errlen);
  rc = p->desc->executor->describe_process(p->state, PJ(params), (pagoda_process_t *)(void *)spec,
                                           &e);
  rc = finish(p, "describe_process", rc, &e, err, errlen);
  if (rc == 0 && spec->argc == 0)
    return pgd_set_err(err, errlen, -EINVAL, "%s: describe_process gave no program (empty argv)",
                       p->desc->type);
  return rc;
}

int pgd_plugin_interpret_exit(const pgd_plugin_t *p, const cJSON *params, int exit_code,
                              int term_signal, char *err, size_t errlen) {
  return pgd_plugin_interpret_exit_ex(p, params, NULL, NULL, exit_code, term_signal, err, errlen);
}

int pgd_plugin_interpret_exit_ex(const pgd_plugin_t *p, const cJSON *params, const cJSON *attrs,
                                 void **exec_state, int exit_code, int term_signal, char *err,
                                 size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!p) return -EINVAL;
  const pagoda_executor_t *x = p->desc->executor;
  if (pgd_plugin_abi_minor(p) >= PGD_EXEC_STATE_MINOR && x && x->describe_process &&
      x->interpret_exit_ex) {
    cJSON *empty = NULL;
    if (!cJSON_IsObject(attrs) && !(attrs = empty = cJSON_CreateObject()))
      return pgd_set_err(err, errlen, -ENOMEM, "%s: out of memory", p->desc->type);
    void *local = NULL; /* a caller without a slot: the state lives for this call */
    void **slot = exec_state ? exec_state : &local;
    struct pagoda_error e;
    pgd_plugin_error_init(&e, err, errlen);
    int rc = x->interpret_exit_ex(p->state, slot, PJ(params), PJ(attrs), exit_code, term_signal, &e);
    cJSON_Delete(empty);
    pgd_plugin_exec_state_free(p, &local);
    return finish(p, "interpret_exit", rc, &e, err, errlen);
  }
  if (x && x->interpret_exit) {
    struct pagoda_error e;
    pgd_plugin_error_init(&e, err, errlen);
    int rc = x->interpret_exit(p->state, PJ(params), exit_code, term_signal, &e);
    return finish(p, "interpret_exit", rc, &e, err, errlen);
  }
  if (term_signal != 0) {
    const char *name = sigabbrev_np(term_signal);
    return pgd_set_err(err, errlen, PAGODA_EFAIL, "%s: killed by signal %d (SIG%s)",
                       p->desc->type, term_signal, name ? name : "?");
  }
  if (exit_code != 0)
    return pgd_set_err(err, errlen, PAGODA_EFAIL, "%s: exit code %d", p->desc->type, exit_code);
  return 0;
}

int pgd_plugin_run(const pgd_plugin_t *p, const cJSON *params, const pgd_run_ops_t *ops,
                   char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!p) return -EINVAL;
  if (pgd_plugin_executor_kind(p) != PGD_EXEC_IN_PROCESS)
    return pgd_set_err(err, errlen, -ENOTSUP, "%s: not an in-process executor", p->desc->type);
  int rc = pgd_plugin_schema_check(p, params, err, errlen);
  if (rc < 0) return rc;
  static const pgd_run_ops_t no_ops = {0};
  struct pagoda_run run;
  run.ops = ops ? ops : &no_ops;
  pgd_plugin_error_init(&run.err, err, errlen);
  rc = p->desc->executor->run(p->state, PJ(params), &run);
  return finish(p, "run", rc, &run.err, err, errlen);
}
