/* One source, many test plugins: good ones and deliberately broken ones,
 * selected by compile definitions (see CMakeLists.txt next to this file).
 *   TP_TYPE="name"   job type (default "test_good")
 *   TP_NULL_TYPE     descriptor type is NULL
 *   TP_NO_ENTRY      exports a misspelt entry symbol only
 *   TP_ABI_MAJOR=n   declared ABI major     TP_ABI_MINOR=n  declared minor
 *   TP_SMALL_SIZE    struct_size too small
 *   TP_INIT_FAIL     init fails with a message
 *   TP_INIT_CRASH    init crashes (SIGSEGV)
 *   TP_INPROC        in-process executor (run) instead of describe_process
 *   TP_BOTH_EXEC     executor sets both describe_process and run
 *   TP_NO_EXEC       generator only (no executor)
 *   TP_STUCK         (with TP_INPROC) run logs "stuck" then sleeps 300 s in C,
 *                    ignoring the cancellation flag and signal interruptions:
 *                    a run only a SIGKILL of its process can stop; with
 *                    params.crash it abort()s instead
 * Built against the 1.1 header (tests/unit/plugins/abi_1_1/, the header as
 * shipped with ABI 1.1) it is a real 1.1 plugin: on_output_line and
 * interpret_exit; built against the current header (ABI >= 1.2) it also has
 * on_output_line_ex, interpret_exit_ex and exec_state_free, with a state
 * per execution, and a param schema the host enforces.
 */
#include <pagoda/plugin.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef TP_TYPE
#define TP_TYPE "test_good"
#endif
#ifndef TP_ABI_MAJOR
#define TP_ABI_MAJOR PAGODA_PLUGIN_ABI_MAJOR
#endif
#ifndef TP_ABI_MINOR
#define TP_ABI_MINOR PAGODA_PLUGIN_ABI_MINOR
#endif

#ifdef TP_CTOR_SLEEP_MS
#include <errno.h>
#include <signal.h>
/* A plugin whose constructor hangs (runs at dlopen, before any entry point):
 * it ignores SIGALRM, so only a SIGKILL at a deadline stops it. */
__attribute__((constructor)) static void tp_slow_ctor(void) {
  signal(SIGALRM, SIG_IGN);
  struct timespec left = {TP_CTOR_SLEEP_MS / 1000, (TP_CTOR_SLEEP_MS % 1000) * 1000000L};
  while (nanosleep(&left, &left) < 0 && errno == EINTR) {
  }
}
#endif

/* Counters the test reads with dlsym on its own handle. */
PAGODA_PLUGIN_EXPORT struct {
  int init_calls, destroy_calls, live_states;
  int exec_states_live; /* per-execution states allocated and not yet freed (1.2) */
} test_plugin_counters;

typedef struct {
  const pagoda_host_t *h;
  char *tag; /* allocated with host->strdup: leaks show under ASan if destroy is skipped */
} tp_state_t;

static int tp_init(const pagoda_host_t *host, void **state, pagoda_error_t *err) {
  test_plugin_counters.init_calls++;
#ifdef TP_INIT_CRASH
  /* A plugin with a bug: dereferences NULL in its init. */
  volatile int *volatile nowhere = NULL;
  *nowhere = 42;
#endif
#ifdef TP_INIT_FAIL
  host->error_set(err, "%s: licence file /nonexistent missing", TP_TYPE);
  return PAGODA_EFAIL;
#endif
  tp_state_t *s = host->alloc(sizeof *s);
  if (!s) return PAGODA_ENOMEM;
  s->h = host;
  s->tag = host->strdup(TP_TYPE);
  *state = s;
  test_plugin_counters.live_states++;
  host->log(PAGODA_LOG_DEBUG, "%s: init", TP_TYPE);
  return PAGODA_OK;
}

static void tp_destroy(void *state) {
  tp_state_t *s = state;
  test_plugin_counters.destroy_calls++;
  if (!s) return;
  test_plugin_counters.live_states--;
  s->h->free(s->tag);
  s->h->free(s);
}

static int tp_validate(void *state, const pagoda_json_t *params, pagoda_error_t *err) {
  const pagoda_host_t *h = ((tp_state_t *)state)->h;
  if (h->json_type(params) != PAGODA_JSON_OBJECT) { /* the ABI promises an object */
    h->error_set(err, "%s: validate got no object", TP_TYPE);
    return PAGODA_EINVAL;
  }
  const char *fail = h->json_string(h->json_get(params, "fail"));
  if (fail) {
    h->error_set(err, "%s: %s", TP_TYPE, fail);
    return PAGODA_EINVAL;
  }
  if (h->json_get(params, "silent")) return PAGODA_EINVAL; /* no message */
  if (h->json_get(params, "positive")) return 7;          /* misbehaving */
  return PAGODA_OK;
}

static int tp_expand(void *state, const pagoda_json_t *job, pagoda_request_t *req,
                     pagoda_error_t *err) {
  const pagoda_host_t *h = ((tp_state_t *)state)->h;
  const pagoda_json_t *params = h->json_get(job, "params");
  if (h->json_get(params, "expand_fail")) {
    h->error_set(err, "%s: cannot expand", TP_TYPE);
    return PAGODA_EINVAL;
  }
  if (!h->json_get(params, "greeting")) h->request_set_string(req, "greeting", "hello");
  const pagoda_json_t *name = h->json_get(job, "name");
  if (name) h->request_set_json(req, "job_name", name);
  h->request_set_number(req, "answer", 42);
  h->request_set_bool(req, "expanded", 1);
  h->request_remove(req, "drop_me");
  return PAGODA_OK;
}

__attribute__((unused)) static int tp_describe(void *state, const pagoda_json_t *params, pagoda_process_t *proc,
                       pagoda_error_t *err) {
  const pagoda_host_t *h = ((tp_state_t *)state)->h;
  if (h->json_get(params, "no_argv")) return PAGODA_OK;
  const char *word = h->json_string(h->json_get(params, "word"));
  h->process_add_arg(proc, "/bin/echo");
  h->process_add_arg(proc, word ? word : "hi");
  h->process_set_env(proc, "TP", "1");
  h->process_set_cwd(proc, "/tmp");
  h->process_set_user(proc, "nobody");
  return PAGODA_OK;
}

__attribute__((unused)) static int tp_interpret_exit(void *state, const pagoda_json_t *params, int exit_code,
                             int term_signal, pagoda_error_t *err) {
  const pagoda_host_t *h = ((tp_state_t *)state)->h;
  if (term_signal == 0 && (exit_code == 0 || exit_code == 3)) return PAGODA_OK;
  h->error_set(err, "%s: exit %d signal %d", TP_TYPE, exit_code, term_signal);
  return PAGODA_EFAIL;
}

__attribute__((unused)) static int tp_run(void *state, const pagoda_json_t *params, pagoda_run_t *run) {
  const pagoda_host_t *h = ((tp_state_t *)state)->h;
#ifdef TP_STUCK
  if (h->json_get(params, "crash")) abort(); /* the process running it dies */
  h->run_log(run, "stuck\n", 6);
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  end.tv_sec += 300;
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &end, NULL) == EINTR) {
  }
  return PAGODA_OK;
#endif
  h->run_log(run, "start\n", 6);
  if (h->json_get(params, "wait")) {
    while (!h->run_is_cancelled(run)) {
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    }
    h->error_set(h->run_error(run), "%s: cancelled", TP_TYPE);
    return PAGODA_ECANCELED;
  }
  const char *fail = h->json_string(h->json_get(params, "fail"));
  if (fail) {
    h->error_set(h->run_error(run), "%s: %s", TP_TYPE, fail);
    return PAGODA_EFAIL;
  }
  if (h->run_set_result(run, "not json") != PAGODA_EINVAL) return PAGODA_EFAIL;
  h->run_set_result(run, "{\"ok\":true}");
  h->run_log(run, "done\n", 5);
  return PAGODA_OK;
}

/* Output lines (1.1): "attr K V" records attribute K = V. */
__attribute__((unused)) static void tp_on_output_line(void *state, const pagoda_json_t *params,
                                                      const char *line, size_t len,
                                                      pagoda_attrs_t *attrs) {
  (void)params;
  const pagoda_host_t *h = ((tp_state_t *)state)->h;
  char key[64];
  const char *sp;
  if (len < 8 || strncmp(line, "attr ", 5) != 0 || !(sp = strchr(line + 5, ' '))) return;
  size_t kl = (size_t)(sp - (line + 5));
  if (kl >= sizeof key) return;
  memcpy(key, line + 5, kl);
  key[kl] = '\0';
  h->attr_set(attrs, key, sp + 1);
}

#if PAGODA_PLUGIN_ABI_MINOR >= 2
/* The per-execution state (1.2): lines seen and the last one (a second
 * allocation, so that a state not released through exec_state_free leaks
 * under ASan). */
typedef struct {
  int lines;
  char *last;
} tp_exec_t;

__attribute__((unused)) static void tp_on_output_line_ex(void *state, void **exec_state, const pagoda_json_t *params,
                                 const char *line, size_t len, pagoda_attrs_t *attrs) {
  const pagoda_host_t *h = ((tp_state_t *)state)->h;
  tp_exec_t *x = *exec_state;
  if (!x) {
    if (!(x = h->alloc(sizeof *x))) return;
    x->lines = 0;
    x->last = NULL;
    *exec_state = x;
    test_plugin_counters.exec_states_live++;
  }
  x->lines++;
  h->free(x->last);
  x->last = h->strdup(line);
  tp_on_output_line(state, params, line, len, attrs);
}

/* Exit 0 or 3 succeeds; otherwise the message tells what the execution's
 * state and attributes held: "<type>: exit 1 signal 0 after N lines, last
 * \"L\", attrs {...}". */
__attribute__((unused)) static int tp_interpret_exit_ex(void *state, void **exec_state, const pagoda_json_t *params,
                                const pagoda_json_t *attrs, int exit_code, int term_signal,
                                pagoda_error_t *err) {
  (void)params;
  const pagoda_host_t *h = ((tp_state_t *)state)->h;
  if (term_signal == 0 && (exit_code == 0 || exit_code == 3)) return PAGODA_OK;
  const tp_exec_t *x = *exec_state;
  if (!x) {
    h->error_set(err, "%s: exit %d signal %d", TP_TYPE, exit_code, term_signal);
    return PAGODA_EFAIL;
  }
  char *a = h->json_print(attrs);
  h->error_set(err, "%s: exit %d signal %d after %d lines, last \"%s\", attrs %s", TP_TYPE,
               exit_code, term_signal, x->lines, x->last ? x->last : "", a ? a : "?");
  h->free(a);
  return PAGODA_EFAIL;
}

__attribute__((unused)) static void tp_exec_state_free(void *state, void *exec_state) {
  const pagoda_host_t *h = ((tp_state_t *)state)->h;
  tp_exec_t *x = exec_state;
  test_plugin_counters.exec_states_live--;
  h->free(x->last);
  h->free(x);
}
#endif

static const pagoda_param_spec_t tp_params[] = {
#if PAGODA_PLUGIN_ABI_MINOR >= 2
    {"word", PAGODA_JSON_STRING, 0, "hi", "word to echo", NULL},
    {"fail", PAGODA_JSON_STRING, 0, NULL, "message to fail validation with", NULL},
    {NULL, PAGODA_JSON_MISSING, 0, NULL, NULL, NULL},
#else
    {"word", PAGODA_JSON_STRING, 0, "hi", "word to echo"},
    {"fail", PAGODA_JSON_STRING, 0, NULL, "message to fail validation with"},
    {NULL, PAGODA_JSON_MISSING, 0, NULL, NULL},
#endif
};

static const pagoda_generator_t tp_generator = {.validate = tp_validate, .expand = tp_expand};

__attribute__((unused)) static const pagoda_executor_t tp_executor = {
#if defined(TP_INPROC)
    .run = tp_run,
#elif defined(TP_BOTH_EXEC)
    .run = tp_run,
    .describe_process = tp_describe,
#else
    .describe_process = tp_describe,
    .interpret_exit = tp_interpret_exit,
    .on_output_line = tp_on_output_line,
#if PAGODA_PLUGIN_ABI_MINOR >= 2
    .on_output_line_ex = tp_on_output_line_ex,
    .interpret_exit_ex = tp_interpret_exit_ex,
    .exec_state_free = tp_exec_state_free,
#endif
#endif
};

static const pagoda_plugin_descriptor_t tp_descriptor = {
    .abi_major = TP_ABI_MAJOR,
    .abi_minor = TP_ABI_MINOR,
#ifdef TP_SMALL_SIZE
    .struct_size = 8,
#else
    .struct_size = sizeof(pagoda_plugin_descriptor_t),
#endif
#ifdef TP_NULL_TYPE
    .type = NULL,
#else
    .type = TP_TYPE,
#endif
    .version = "0.0.1-test",
    .description = "test plugin " TP_TYPE,
    .params = tp_params,
    .init = tp_init,
    .destroy = tp_destroy,
    .generator = &tp_generator,
#ifdef TP_NO_EXEC
    .executor = NULL,
#else
    .executor = &tp_executor,
#endif
};

#ifdef TP_NO_ENTRY
PAGODA_PLUGIN_EXPORT const pagoda_plugin_descriptor_t *pagoda_plugin_entri(void);
PAGODA_PLUGIN_EXPORT const pagoda_plugin_descriptor_t *pagoda_plugin_entri(void) {
  return &tp_descriptor;
}
#else
PAGODA_PLUGIN_DECLARE(tp_descriptor)
#endif
