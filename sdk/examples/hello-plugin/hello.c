/* hello — a third-party Pagoda plugin: the job type `hello` prints a
 * greeting, as a process (`printf 'Hello, %s!\n' NAME`).
 *
 * params:
 *   name  string  who to greet, default "world" (at most 100 characters)
 *
 * Build it out of tree against the installed SDK (see CMakeLists.txt, or
 * `cc -shared $(pkg-config --cflags pagoda-plugin) -o hello.so hello.c
 *  $(pkg-config --libs pagoda-plugin)`), try it with
 * `pagoda plugin test hello.so --params '{"name":"Ada"}'`, copy hello.so into
 * the plugins directory, and run a job {"type": "hello", "params": {"name": "Ada"}}.
 */
#include <pagoda/plugin.h>
#include <pagoda/plugin_util.h>
#include <string.h>

#define NAME_RULE "a string of 1 to 100 characters"

/* The schema (ABI 1.2): the host refuses a name that is not a string, with
 * "hello: params.name must be " NAME_RULE, before validate is called. */
static const pagoda_param_spec_t hello_params[] = {
    {"name", PAGODA_JSON_STRING, 0, "world", "who to greet", NAME_RULE},
    {NULL, PAGODA_JSON_MISSING, 0, NULL, NULL, NULL},
};

/* The only state: the host table, kept for the other callbacks. */
static int hello_init(const pagoda_host_t *host, void **state, pagoda_error_t *err) {
  (void)err;
  *state = (void *)host;
  return PAGODA_OK;
}

/* What the schema cannot say; the master (validate) and the worker
 * (describe_process) both check it. */
static int check(const pagoda_host_t *h, const pagoda_json_t *params, pagoda_error_t *err) {
  const char *name;
  int rc = pagoda_param_string(h, "hello", params, "name", PAGODA_PU_NONEMPTY, NAME_RULE, &name, err);
  if (rc < 0) return rc;
  if (name && strlen(name) > 100)
    return pagoda_fail(h, err, PAGODA_EINVAL, "hello: params.name must be " NAME_RULE);
  return PAGODA_OK;
}

static int hello_validate(void *state, const pagoda_json_t *params, pagoda_error_t *err) {
  return check(state, params, err);
}

static int hello_describe_process(void *state, const pagoda_json_t *params,
                                  pagoda_process_t *proc, pagoda_error_t *err) {
  const pagoda_host_t *h = state;
  int rc = check(h, params, err);
  if (rc < 0) return rc;
  const char *name = h->json_string(h->json_get(params, "name"));
  /* argv, not a shell: the name is never interpreted. */
  if ((rc = h->process_add_arg(proc, "printf")) < 0 ||
      (rc = h->process_add_arg(proc, "Hello, %s!\\n")) < 0 ||
      (rc = h->process_add_arg(proc, name ? name : "world")) < 0)
    return pagoda_fail(h, err, rc, "hello: cannot build the process (code %d)", rc);
  return PAGODA_OK;
}

static const pagoda_generator_t hello_generator = {.validate = hello_validate};
static const pagoda_executor_t hello_executor = {.describe_process = hello_describe_process};

static const pagoda_plugin_descriptor_t hello_descriptor = {
    PAGODA_PLUGIN_DESCRIPTOR_HEADER,
    .type = "hello",
    .version = "1.0.0",
    .description = "Prints a greeting (example third-party plugin)",
    .params = hello_params,
    .init = hello_init,
    .generator = &hello_generator,
    .executor = &hello_executor,
};

PAGODA_PLUGIN_DECLARE(hello_descriptor)
