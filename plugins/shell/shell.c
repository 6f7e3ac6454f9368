/* Pagoda — the `shell` job type: runs a script with a shell, or an argv.
 *
 * The simplest built-in plugin and the one to copy (see
 * sdk/docs/plugin-abi.md). Process executor; no global state: the host
 * table is the plugin's state.
 *
 * params:
 *   script  string   run as [shell, "-c", script]        (or argv)
 *   argv    array    non-empty array of strings           (or script)
 *   shell   string   shell for script, default "bash"     (ignored with argv)
 *   env     object   extra environment, string values
 *   cwd     string   working directory
 */
#include <pagoda/plugin.h>
#include <string.h>

#define SHELL_DEFAULT "bash"

static const pagoda_param_spec_t shell_params[] = {
    {"script", PAGODA_JSON_STRING, 0, NULL, "script run with `shell -c` (exclusive with argv)"},
    {"argv", PAGODA_JSON_ARRAY, 0, NULL, "program and arguments, run directly (exclusive with script)"},
    {"shell", PAGODA_JSON_STRING, 0, SHELL_DEFAULT, "shell that runs script (bash, sh, ...)"},
    {"env", PAGODA_JSON_OBJECT, 0, NULL, "extra environment variables (string values)"},
    {"cwd", PAGODA_JSON_STRING, 0, NULL, "working directory"},
    {NULL, PAGODA_JSON_MISSING, 0, NULL, NULL},
};

static int shell_init(const pagoda_host_t *host, void **state, pagoda_error_t *err) {
  (void)err;
  *state = (void *)host; /* the only state we need */
  return PAGODA_OK;
}

/* Checks params; shared by validate (master) and describe_process (worker,
 * which may receive a request from a master of another version). */
static int check(const pagoda_host_t *h, const pagoda_json_t *params, pagoda_error_t *err) {
  const pagoda_json_t *script = h->json_get(params, "script");
  const pagoda_json_t *argv = h->json_get(params, "argv");
  if (!script && !argv) {
    h->error_set(err, "shell: params.script or params.argv is required");
    return PAGODA_EINVAL;
  }
  if (script && argv) {
    h->error_set(err, "shell: params.script and params.argv are exclusive");
    return PAGODA_EINVAL;
  }
  if (script) {
    const char *s = h->json_string(script);
    if (!s || !*s) {
      h->error_set(err, "shell: params.script must be a non-empty string");
      return PAGODA_EINVAL;
    }
  } else {
    size_t n = h->json_array_size(argv);
    int ok = h->json_type(argv) == PAGODA_JSON_ARRAY && n > 0;
    for (size_t i = 0; ok && i < n; i++) ok = h->json_string(h->json_array_item(argv, i)) != NULL;
    if (ok) ok = *h->json_string(h->json_array_item(argv, 0)) != '\0';
    if (!ok) {
      h->error_set(err, "shell: params.argv must be a non-empty array of strings");
      return PAGODA_EINVAL;
    }
  }
  const pagoda_json_t *shell = h->json_get(params, "shell");
  if (shell) {
    const char *s = h->json_string(shell);
    if (!s || !*s) {
      h->error_set(err, "shell: params.shell must be a string");
      return PAGODA_EINVAL;
    }
  }
  const pagoda_json_t *env = h->json_get(params, "env");
  if (env) {
    if (h->json_type(env) != PAGODA_JSON_OBJECT) {
      h->error_set(err, "shell: params.env must be an object");
      return PAGODA_EINVAL;
    }
    size_t n = h->json_object_size(env);
    for (size_t i = 0; i < n; i++) {
      const char *key = h->json_object_key_at(env, i);
      if (!key || !*key || strchr(key, '=')) {
        h->error_set(err, "shell: params.env key \"%s\" is not a valid variable name",
                     key ? key : "");
        return PAGODA_EINVAL;
      }
      if (!h->json_string(h->json_object_value_at(env, i))) {
        h->error_set(err, "shell: params.env.%s must be a string", key);
        return PAGODA_EINVAL;
      }
    }
  }
  const pagoda_json_t *cwd = h->json_get(params, "cwd");
  if (cwd) {
    const char *s = h->json_string(cwd);
    if (!s || !*s) {
      h->error_set(err, "shell: params.cwd must be a string");
      return PAGODA_EINVAL;
    }
  }
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
    const pagoda_json_t *argv = h->json_get(params, "argv");
    size_t n = h->json_array_size(argv);
    for (size_t i = 0; i < n; i++)
      if ((rc = h->process_add_arg(proc, h->json_string(h->json_array_item(argv, i)))) < 0)
        goto fail;
  }

  const pagoda_json_t *env = h->json_get(params, "env");
  size_t n = h->json_object_size(env);
  for (size_t i = 0; i < n; i++) {
    rc = h->process_set_env(proc, h->json_object_key_at(env, i),
                            h->json_string(h->json_object_value_at(env, i)));
    if (rc < 0) goto fail;
  }

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
