/* Pagoda — the `shell` job type: runs a script with a shell, or an argv.
 *
 * The simplest built-in plugin and the one to copy (see
 * sdk/docs/plugin-abi.md). Process executor; no global state: the host
 * table is the plugin's state.
 *
 * params (types enforced by the host from shell_params, ABI 1.2):
 *   script  string   run as [shell, "-c", script]        (or argv)
 *   argv    array    non-empty array of strings           (or script)
 *   shell   string   shell for script, default "bash"     (ignored with argv)
 *   env     object   extra environment, string values
 *   cwd     string   working directory
 */
#include <pagoda/plugin.h>
#include <pagoda/plugin_util.h>

#define SHELL_DEFAULT "bash"

static const pagoda_param_spec_t shell_params[] = {
    {"script", PAGODA_PARAM_TEXT, 0, NULL, "script run with `shell -c` (exclusive with argv)", NULL},
    {"argv", PAGODA_PARAM_STRINGS, 0, NULL, "program and arguments, run directly (exclusive with script)",
     "a non-empty array of strings"},
    {"shell", PAGODA_JSON_STRING, 0, SHELL_DEFAULT, "shell that runs script (bash, sh, ...)", NULL},
    {"env", PAGODA_PARAM_ENV, 0, NULL, "extra environment variables (string values)", NULL},
    {"cwd", PAGODA_JSON_STRING, 0, NULL, "working directory", NULL},
    {NULL, PAGODA_JSON_MISSING, 0, NULL, NULL, NULL},
};

static int shell_init(const pagoda_host_t *host, void **state, pagoda_error_t *err) {
  (void)err;
  *state = (void *)host; /* the only state we need */
  return PAGODA_OK;
}

/* Checks what the schema cannot say (the host has checked the types, and
 * the env object); shared by validate (master) and describe_process
 * (worker, which may receive a request from a master of another version). */
static int check(const pagoda_host_t *h, const pagoda_json_t *params, pagoda_error_t *err) {
  const pagoda_json_t *script = h->json_get(params, "script");
  const pagoda_json_t *argv = h->json_get(params, "argv");
  if (!script && !argv)
    return pagoda_fail(h, err, PAGODA_EINVAL, "shell: params.script or params.argv is required");
  if (script && argv)
    return pagoda_fail(h, err, PAGODA_EINVAL, "shell: params.script and params.argv are exclusive");
  int rc;
  if (script && (rc = pagoda_param_string(h, "shell", params, "script", PAGODA_PU_NONEMPTY, NULL,
                                          NULL, err)) < 0)
    return rc;
  if (argv) {
    const char *first = h->json_string(h->json_array_item(argv, 0));
    if ((rc = pagoda_param_strings(h, "shell", params, "argv", 0, NULL, NULL, err)) < 0 || !first ||
        !*first)
      return pagoda_fail(h, err, PAGODA_EINVAL,
                         "shell: params.argv must be a non-empty array of strings");
  }
  if ((rc = pagoda_param_string(h, "shell", params, "shell", PAGODA_PU_NONEMPTY, "a string", NULL,
                                err)) < 0 ||
      (rc = pagoda_param_string(h, "shell", params, "cwd", PAGODA_PU_NONEMPTY, "a string", NULL,
                                err)) < 0)
    return rc;
  return PAGODA_OK;
}

/* Master, loop thread. */
static int shell_validate(void *state, const pagoda_json_t *params, pagoda_error_t *err) {
  return check((const pagoda_host_t *)state, params, err);
}

/* Master, loop thread: writes the default shell into the request so that
 * the execution record shows what will run. */
static int shell_expand(void *state, const pagoda_json_t *job, pagoda_request_t *req,
                        pagoda_error_t *err) {
  const pagoda_host_t *h = state;
  const pagoda_json_t *params = h->json_get(job, "params");
  if (h->json_get(params, "script") && !h->json_get(params, "shell")) {
    int rc = h->request_set_string(req, "shell", SHELL_DEFAULT);
    if (rc < 0) {
      h->error_set(err, "shell: out of memory");
      return rc;
    }
  }
  return PAGODA_OK;
}

/* Worker, loop thread. */
static int shell_describe_process(void *state, const pagoda_json_t *params,
                                  pagoda_process_t *proc, pagoda_error_t *err) {
  const pagoda_host_t *h = state;
  int rc = check(h, params, err);
  if (rc < 0) return rc;

  const char *script = h->json_string(h->json_get(params, "script"));
  if (script) {
    const char *shell = h->json_string(h->json_get(params, "shell"));
    if (!shell) shell = SHELL_DEFAULT;
    if ((rc = h->process_add_arg(proc, shell)) < 0 || (rc = h->process_add_arg(proc, "-c")) < 0 ||
        (rc = h->process_add_arg(proc, script)) < 0)
      goto fail;
  } else {
    if ((rc = pagoda_process_add_args(h, proc, h->json_get(params, "argv"))) < 0) goto fail;
  }
  if ((rc = pagoda_process_add_env(h, proc, params, "env")) < 0) goto fail;

  const char *cwd = h->json_string(h->json_get(params, "cwd"));
  if (cwd && (rc = h->process_set_cwd(proc, cwd)) < 0) goto fail;
  return PAGODA_OK;

fail:
  h->error_set(err, "shell: cannot build the process (code %d)", rc);
  return rc;
}

static const pagoda_generator_t shell_generator = {
    .validate = shell_validate,
    .expand = shell_expand,
};

static const pagoda_executor_t shell_executor = {
    .describe_process = shell_describe_process,
    /* no interpret_exit: exit code 0 is success */
};

static const pagoda_plugin_descriptor_t shell_descriptor = {
    PAGODA_PLUGIN_DESCRIPTOR_HEADER,
    .type = "shell",
    .version = "1.0.0",
    .description = "Runs a shell script (bash -c) or a program with arguments",
    .params = shell_params,
    .init = shell_init,
    .destroy = NULL, /* nothing to free */
    .generator = &shell_generator,
    .executor = &shell_executor,
};

PAGODA_PLUGIN_DECLARE(shell_descriptor)
