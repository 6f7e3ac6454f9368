/* A job-type plugin for the plugin push tests (test_plugin_push.py): type
 * "pushed_echo", a process that prints which build of the plugin made it
 * and then sleeps params.sleep seconds (default 0). Built several times
 * (tests/integration/CMakeLists.txt):
 *   PP_VERSION="1"    the declared version, also printed
 *   PP_INIT_FAIL      init refuses to start (a broken build)
 * Every build's init also refuses to start in a process whose environment
 * has PUSHED_ECHO_REFUSE set: a worker that cannot run a version the master
 * accepted.
 */
#include <pagoda/plugin.h>
#include <stdlib.h>

#ifndef PP_VERSION
#define PP_VERSION "1"
#endif

static int pp_init(const pagoda_host_t *host, void **state, pagoda_error_t *err) {
#ifdef PP_INIT_FAIL
  host->error_set(err, "pushed_echo: this build is broken on purpose");
  return PAGODA_EFAIL;
#else
  if (getenv("PUSHED_ECHO_REFUSE")) {
    host->error_set(err, "pushed_echo: refused on this host (PUSHED_ECHO_REFUSE is set)");
    return PAGODA_EFAIL;
  }
  *state = (void *)host;
  return PAGODA_OK;
#endif
}

static int pp_describe(void *state, const pagoda_json_t *params, pagoda_process_t *proc,
                       pagoda_error_t *err) {
  (void)err;
  const pagoda_host_t *h = state;
  const char *sleep_s = h->json_string(h->json_get(params, "sleep"));
  h->process_add_arg(proc, "/bin/sh");
  h->process_add_arg(proc, "-c");
  h->process_add_arg(proc, "echo \"pushed_echo version " PP_VERSION "\"; sleep \"${PP_SLEEP:-0}\"");
  h->process_set_env(proc, "PP_SLEEP", sleep_s ? sleep_s : "0");
  return PAGODA_OK;
}

static const pagoda_param_spec_t pp_params[] = {
    {"sleep", PAGODA_JSON_STRING, 0, "0", "seconds to sleep after printing", NULL},
    {NULL, PAGODA_JSON_MISSING, 0, NULL, NULL, NULL},
};

static const pagoda_executor_t pp_executor = {.describe_process = pp_describe};

static const pagoda_plugin_descriptor_t pp_descriptor = {
    .abi_major = PAGODA_PLUGIN_ABI_MAJOR,
    .abi_minor = PAGODA_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(pagoda_plugin_descriptor_t),
    .type = "pushed_echo",
    .version = PP_VERSION,
    .description = "plugin push test plugin",
    .params = pp_params,
    .init = pp_init,
    .executor = &pp_executor,
};

PAGODA_PLUGIN_DECLARE(pp_descriptor)
