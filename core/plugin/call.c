/* Calling into a loaded plugin: the generator and executor halves, with the
 * host's error sink and the defaults for missing slots. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plugin/host.h"
#include "plugin/plugin_priv.h"

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

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || !errlen) return;
  va_list ap;
  va_start(ap, fmt);
  if (vsnprintf(err, errlen, fmt, ap) < 0) err[0] = '\0';
  va_end(ap);
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
    set_err(err, errlen, "%s: %s failed (code %d)", p->desc->type, op, rc);
  return rc;
}

int pgd_plugin_validate(const pgd_plugin_t *p, const cJSON *params, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!p) return -EINVAL;
  if (params && !cJSON_IsObject(params)) {
    set_err(err, errlen, "%s: params must be an object", p->desc->type);
    return -EINVAL;
  }
  const pagoda_generator_t *g = p->desc->generator;
  if (!g || !g->validate) return 0;
  struct pagoda_error e;
  pgd_plugin_error_init(&e, err, errlen);
  int rc = g->validate(p->state, PJ(params), &e);
  return finish(p, "validate", rc, &e, err, errlen);
}

int pgd_plugin_expand(const pgd_plugin_t *p, const cJSON *job, cJSON **params_out, char *err,
                      size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!params_out) return -EINVAL;
  *params_out = NULL;
  if (!p) return -EINVAL;
  const cJSON *src = job ? cJSON_GetObjectItemCaseSensitive(job, "params") : NULL;
  if (src && !cJSON_IsNull(src) && !cJSON_IsObject(src)) {
    set_err(err, errlen, "%s: params must be an object", p->desc->type);
    return -EINVAL;
  }
  cJSON *req = (src && cJSON_IsObject(src)) ? cJSON_Duplicate(src, 1) : cJSON_CreateObject();
  if (!req) {
    set_err(err, errlen, "%s: out of memory", p->desc->type);
    return -ENOMEM;
  }
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
  if (pgd_plugin_executor_kind(p) != PGD_EXEC_PROCESS) {
    set_err(err, errlen, "%s: not a process executor", p->desc->type);
    return -ENOTSUP;
  }
  struct pagoda_error e;
  pgd_plugin_error_init(&e, err, errlen);
  int rc = p->desc->executor->describe_process(p->state, PJ(params),
                                               (pagoda_process_t *)(void *)spec, &e);
  rc = finish(p, "describe_process", rc, &e, err, errlen);
  if (rc == 0 && spec->argc == 0) {
    set_err(err, errlen, "%s: describe_process gave no program (empty argv)", p->desc->type);
    return -EINVAL;
  }
  return rc;
}

int pgd_plugin_interpret_exit(const pgd_plugin_t *p, const cJSON *params, int exit_code,
                              int term_signal, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!p) return -EINVAL;
  const pagoda_executor_t *x = p->desc->executor;
  if (x && x->interpret_exit) {
    struct pagoda_error e;
    pgd_plugin_error_init(&e, err, errlen);
    int rc = x->interpret_exit(p->state, PJ(params), exit_code, term_signal, &e);
    return finish(p, "interpret_exit", rc, &e, err, errlen);
  }
  if (term_signal != 0) {
    const char *name = sigabbrev_np(term_signal);
    set_err(err, errlen, "%s: killed by signal %d (SIG%s)", p->desc->type, term_signal,
            name ? name : "?");
    return PAGODA_EFAIL;
  }
  if (exit_code != 0) {
    set_err(err, errlen, "%s: exit code %d", p->desc->type, exit_code);
    return PAGODA_EFAIL;
  }
  return 0;
}

int pgd_plugin_run(const pgd_plugin_t *p, const cJSON *params, const pgd_run_ops_t *ops,
                   char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!p) return -EINVAL;
  if (pgd_plugin_executor_kind(p) != PGD_EXEC_IN_PROCESS) {
    set_err(err, errlen, "%s: not an in-process executor", p->desc->type);
    return -ENOTSUP;
  }
  static const pgd_run_ops_t no_ops = {0};
  struct pagoda_run run;
  run.ops = ops ? ops : &no_ops;
  pgd_plugin_error_init(&run.err, err, errlen);
  int rc = p->desc->executor->run(p->state, PJ(params), &run);
  return finish(p, "run", rc, &run.err, err, errlen);
}
