/* Pagoda — the `spark` job type: submits an application with spark-submit,
 * captures its application id from spark-submit's output, and on a kill of
 * a cluster-mode job asks the cluster to kill the application too.
 *
 * Process executor (ABI 1.1: describe_kill; ABI 1.2: on_output_line_ex and
 * interpret_exit_ex with a per-execution state); no global state: the host
 * table is the plugin's state.
 *
 * params (types enforced by the host from spark_params, ABI 1.2):
 *   application     string  the jar or .py to submit (path or URL)  required
 *   class           string  main class (JVM applications)
 *   master          string  yarn, local, local[N], local[*], spark://...,
 *                           mesos://..., k8s://...      default "local[*]"
 *   deploy_mode     string  client or cluster
 *   name            string  application name
 *   conf            object  --conf k=v for each key, sorted by key
 *   jars, py_files, files   arrays of strings, comma-joined
 *   driver_memory, executor_memory  strings such as "2g", "512m"
 *   num_executors   number  positive integer
 *   args            array   application arguments (strings)
 *   spark_home      string  absolute; runs $spark_home/bin/spark-submit and
 *                           sets SPARK_HOME. Default: the worker's
 *                           $SPARK_HOME, else spark-submit from PATH
 *   env             object  extra environment, string values
 *
 * Attributes captured (first seen wins): spark_app_id (application_..._...
 * on YARN, app-...-.... standalone, local-... local), spark_driver_id
 * (driver-...-...., the submission id of a standalone/mesos cluster job).
 * The per-execution state keeps the application id and the last error line
 * spark-submit printed, so that a failed execution's message names both.
 */
#include <pagoda/plugin.h>
#include <pagoda/plugin_util.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPARK_DEFAULT_MASTER "local[*]"

#define WORD_RULE "a non-empty string not starting with '-'"
#define MASTER_RULE "yarn, local, local[N], local[*], spark://..., mesos://... or k8s://..."
#define MEMORY_RULE "a size such as \"512m\" or \"2g\""

#ifndef SPARK_DECLARE_ABI_1_0 /* the 1.0 test build lists no schema: see the descriptor */
static const pagoda_param_spec_t spark_params[] = {
    {"application", PAGODA_JSON_STRING, 1, NULL, "application jar or .py file (path or URL)",
     "a jar or a .py file"},
    {"class", PAGODA_JSON_STRING, 0, NULL, "main class of a JVM application", WORD_RULE},
    {"master", PAGODA_JSON_STRING, 0, SPARK_DEFAULT_MASTER, "yarn, local[*], spark://host:port, ...",
     MASTER_RULE},
    {"deploy_mode", PAGODA_JSON_STRING, 0, NULL, "client or cluster", "\"client\" or \"cluster\""},
    {"name", PAGODA_JSON_STRING, 0, NULL, "application name", WORD_RULE},
    {"conf", PAGODA_JSON_OBJECT, 0, NULL, "Spark properties, --conf k=v each (sorted by key)",
     "an object of Spark properties"},
    {"jars", PAGODA_PARAM_STRINGS, 0, NULL, "extra jars (comma-joined)", NULL},
    {"py_files", PAGODA_PARAM_STRINGS, 0, NULL, "extra .py/.zip/.egg files (comma-joined)", NULL},
    {"files", PAGODA_PARAM_STRINGS, 0, NULL, "files placed in each executor's directory", NULL},
    {"driver_memory", PAGODA_JSON_STRING, 0, NULL, "driver memory, e.g. 2g", MEMORY_RULE},
    {"executor_memory", PAGODA_JSON_STRING, 0, NULL, "executor memory, e.g. 4g", MEMORY_RULE},
    {"num_executors", PAGODA_PARAM_INTEGER, 0, NULL, "number of executors (YARN)", "a positive integer"},
    {"args", PAGODA_PARAM_STRINGS, 0, NULL, "application arguments (strings)", NULL},
    {"spark_home", PAGODA_JSON_STRING, 0, "$SPARK_HOME, else spark-submit on PATH", "Spark directory (absolute)",
     "an absolute path"},
    {"env", PAGODA_PARAM_ENV, 0, NULL, "extra environment variables (string values)", NULL},
    {NULL, PAGODA_JSON_MISSING, 0, NULL, NULL, NULL},
};
#endif

static int spark_init(const pagoda_host_t *host, void **state, pagoda_error_t *err) {
  (void)err;
  *state = (void *)host;
  return PAGODA_OK;
}

/* ---- validation ---------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int is_digits(const char *s, size_t n) {
  if (!n) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

/* local, local[N], local[*], local[N,F], local[*,F] */
static int local_master_ok(const char *m) {
  if (strcmp(m, "local") == 0) return 1;
  if (strncmp(m, "local[", 6) != 0 || !ends_with(m, "]")) return 0;
  const char *in = m + 6;
  size_t n = strlen(in) - 1;
  const char *comma = memchr(in, ',', n);
  size_t first = comma ? (size_t)(comma - in) : n;
  if (!((first == 1 && in[0] == '*') || is_digits(in, first))) return 0;
  return !comma || is_digits(comma + 1, n - first - 1);
}

static int is_local(const char *m) { return strncmp(m, "local", 5) == 0; }

static int master_ok(const char *m) {
  if (!m || !*m) return 0;
  if (strcmp(m, "yarn") == 0 || local_master_ok(m)) return 1;
  static const char *const schemes[] = {"spark://", "mesos://", "k8s://"};
  for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++) {
    size_t l = strlen(schemes[i]);
    if (strncmp(m, schemes[i], l) == 0 && m[l] && !strpbrk(m, " \t\n")) return 1;
  }
  return 0;
}

/* "512m", "2g", "1024" (bytes), "4gb"; case-insensitive unit. */
static int memory_ok(const char *s) {
  if (!s) return 0;
  size_t d = 0;
  while (s[d] >= '0' && s[d] <= '9') d++;
  if (!d) return 0;
  const char *u = s + d;
  if (!*u) return 1;
  if (!strchr("kKmMgGtTpP", *u)) return 0;
  u++;
  if (*u == 'b' || *u == 'B') u++;
  return *u == '\0';
}

/* Checks what the schema cannot say (the host has checked the types, and
 * the env object); shared by validate and describe_process. */
static int check(const pagoda_host_t *h, const pagoda_json_t *params, pagoda_error_t *err) {
  const pagoda_json_t *app = h->json_get(params, "application");
  if (!app)
    return pagoda_fail(h, err, PAGODA_EINVAL,
                       "spark: params.application is required (a jar or a .py file)");
  const unsigned word = PAGODA_PU_NONEMPTY | PAGODA_PU_NO_DASH;
  const char *application;
  int rc;
  if ((rc = pagoda_param_string(h, "spark", params, "application", word, WORD_RULE, &application,
                                err)) < 0)
    return rc;
  int python = ends_with(application, ".py");
  if (h->json_get(params, "class")) {
    if ((rc = pagoda_param_string(h, "spark", params, "class", word, WORD_RULE, NULL, err)) < 0)
      return rc;
    if (python)
      return pagoda_fail(h, err, PAGODA_EINVAL,
                         "spark: params.class is for JVM applications, not a .py application");
  }
  const pagoda_json_t *mv = h->json_get(params, "master");
  const char *master = mv ? h->json_string(mv) : SPARK_DEFAULT_MASTER;
  if (!master_ok(master))
    return pagoda_fail(h, err, PAGODA_EINVAL, "spark: params.master must be " MASTER_RULE);
  const char *mode;
  if ((rc = pagoda_param_string(h, "spark", params, "deploy_mode", 0, "\"client\" or \"cluster\"",
                                &mode, err)) < 0)
    return rc;
  if (mode && strcmp(mode, "client") != 0 && strcmp(mode, "cluster") != 0)
    return pagoda_fail(h, err, PAGODA_EINVAL,
                       "spark: params.deploy_mode must be \"client\" or \"cluster\"");
  if (mode && strcmp(mode, "cluster") == 0 && is_local(master))
    return pagoda_fail(h, err, PAGODA_EINVAL,
                       "spark: params.deploy_mode \"cluster\" needs a cluster master "
                       "(yarn, spark://, mesos://, k8s://), not %s", master);
  if ((rc = pagoda_param_string(h, "spark", params, "name", word, WORD_RULE, NULL, err)) < 0)
    return rc;
  const pagoda_json_t *conf = h->json_get(params, "conf");
  if (conf && h->json_type(conf) != PAGODA_JSON_OBJECT)
    return pagoda_fail(h, err, PAGODA_EINVAL, "spark: params.conf must be an object of Spark properties");
  size_t n = h->json_object_size(conf);
  for (size_t i = 0; i < n; i++) {
    const char *k = h->json_object_key_at(conf, i);
    pagoda_json_type_t t = h->json_type(h->json_object_value_at(conf, i));
    if (!k || !*k || strchr(k, '=') || k[0] == '-')
      return pagoda_fail(h, err, PAGODA_EINVAL, "spark: params.conf key \"%s\" is not a property name",
                         k ? k : "");
    if (t != PAGODA_JSON_STRING && t != PAGODA_JSON_NUMBER && t != PAGODA_JSON_BOOL)
      return pagoda_fail(h, err, PAGODA_EINVAL,
                         "spark: params.conf.%s must be a string, number or boolean", k);
  }
  static const char *const paths[] = {"jars", "py_files", "files"};
  for (size_t i = 0; i < 3; i++)
    if ((rc = pagoda_param_strings(h, "spark", params, paths[i], PAGODA_PU_NONEMPTY, ",",
                                   "be a non-empty path without ','", err)) < 0)
      return rc;
  if ((rc = pagoda_param_strings(h, "spark", params, "args", 0, NULL, NULL, err)) < 0) return rc;
  static const char *const mems[] = {"driver_memory", "executor_memory"};
  for (size_t i = 0; i < 2; i++) {
    const pagoda_json_t *v = h->json_get(params, mems[i]);
    if (v && !memory_ok(h->json_string(v)))
      return pagoda_fail(h, err, PAGODA_EINVAL, "spark: params.%s must be " MEMORY_RULE, mems[i]);
  }
  long long executors;
  if ((rc = pagoda_param_int(h, "spark", params, "num_executors", 1, 100000, 0,
                             "a positive integer", &executors, err)) < 0 ||
      (rc = pagoda_param_string(h, "spark", params, "spark_home", PAGODA_PU_ABSOLUTE,
                                "an absolute path", NULL, err)) < 0)
    return rc;
  return PAGODA_OK;
}

static int spark_validate(void *state, const pagoda_json_t *params, pagoda_error_t *err) {
  return check((const pagoda_host_t *)state, params, err);
}

/* Master: writes the default master into the request (the record shows it). */
static int spark_expand(void *state, const pagoda_json_t *job, pagoda_request_t *req,
                        pagoda_error_t *err) {
  const pagoda_host_t *h = state;
  if (!h->json_get(h->json_get(job, "params"), "master")) {
    int rc = h->request_set_string(req, "master", SPARK_DEFAULT_MASTER);
    if (rc < 0) {
      h->error_set(err, "spark: out of memory");
      return rc;
    }
  }
  return PAGODA_OK;
}

/* ---- the process ---------------------------------------------------------- */

/* Adds spark-submit (from spark_home, $SPARK_HOME or PATH) and SPARK_HOME. */
static int add_program(const pagoda_host_t *h, const pagoda_json_t *params, pagoda_process_t *proc) {
  const char *home = h->json_string(h->json_get(params, "spark_home"));
  if (!home) {
    const char *e = getenv("SPARK_HOME");
    if (e && e[0] == '/') home = e;
  }
  if (!home) return h->process_add_arg(proc, "spark-submit");
  size_t l = strlen(home);
  while (l > 1 && home[l - 1] == '/') l--;
  char *prog = h->alloc(l + sizeof "/bin/spark-submit");
  if (!prog) return PAGODA_ENOMEM;
  memcpy(prog, home, l);
  memcpy(prog + l, "/bin/spark-submit", sizeof "/bin/spark-submit");
  int rc = h->process_add_arg(proc, prog);
  h->free(prog);
  if (rc < 0) return rc;
  return h->process_set_env(proc, "SPARK_HOME", home);
}

static int add_opt(const pagoda_host_t *h, pagoda_process_t *proc, const char *opt,
                   const char *value) {
  if (!value) return PAGODA_OK;
  int rc = h->process_add_arg(proc, opt);
  return rc < 0 ? rc : h->process_add_arg(proc, value);
}

/* `opt a,b,c` from an array of strings (nothing for a missing/empty one). */
static int add_list(const pagoda_host_t *h, pagoda_process_t *proc, const char *opt,
                    const pagoda_json_t *a) {
  if (!h->json_array_size(a)) return PAGODA_OK;
  char *joined = pagoda_strings_join(h, a, ',');
  if (!joined) return PAGODA_ENOMEM;
  int rc = add_opt(h, proc, opt, joined);
  h->free(joined);
  return rc;
}

/* --conf k=v for each key of params.conf, sorted by key (byte order). */
static int add_conf(const pagoda_host_t *h, pagoda_process_t *proc, const pagoda_json_t *conf) {
  size_t n = h->json_object_size(conf);
  if (!n) return PAGODA_OK;
  size_t *order = h->alloc(n * sizeof *order);
  if (!order) return PAGODA_ENOMEM;
  for (size_t i = 0; i < n; i++) order[i] = i;
  for (size_t i = 1; i < n; i++) /* insertion sort: conf objects are small */
    for (size_t j = i; j > 0 && strcmp(h->json_object_key_at(conf, order[j - 1]),
                                       h->json_object_key_at(conf, order[j])) > 0; j--) {
      size_t t = order[j];
      order[j] = order[j - 1];
      order[j - 1] = t;
    }
  int rc = PAGODA_OK;
  for (size_t i = 0; i < n && rc >= 0; i++) {
    const char *k = h->json_object_key_at(conf, order[i]);
    const pagoda_json_t *v = h->json_object_value_at(conf, order[i]);
    char num[64];
    const char *val = h->json_string(v);
    if (!val && h->json_type(v) == PAGODA_JSON_BOOL) val = h->json_bool(v, 0) ? "true" : "false";
    if (!val) {
      double d = h->json_number(v, 0);
      if (d == (double)(long long)d && d < 9e15 && d > -9e15) snprintf(num, sizeof num, "%lld", (long long)d);
      else snprintf(num, sizeof num, "%.17g", d);
      val = num;
    }
    size_t l = strlen(k) + strlen(val) + 2;
    char *kv = h->alloc(l);
    if (!kv) {
      rc = PAGODA_ENOMEM;
      break;
    }
    snprintf(kv, l, "%s=%s", k, val);
    rc = add_opt(h, proc, "--conf", kv);
    h->free(kv);
  }
  h->free(order);
  return rc;
}

static int spark_describe_process(void *state, const pagoda_json_t *params,
                                  pagoda_process_t *proc, pagoda_error_t *err) {
  const pagoda_host_t *h = state;
  int rc = check(h, params, err);
  if (rc < 0) return rc;
#define S(key) h->json_string(h->json_get(params, key))
  const char *master = S("master") ? S("master") : SPARK_DEFAULT_MASTER;
  char num[32] = "";
  const pagoda_json_t *ne = h->json_get(params, "num_executors");
  if (ne) snprintf(num, sizeof num, "%ld", (long)h->json_number(ne, 1));
  if ((rc = add_program(h, params, proc)) < 0 ||
      (rc = add_opt(h, proc, "--master", master)) < 0 ||
      (rc = add_opt(h, proc, "--deploy-mode", S("deploy_mode"))) < 0 ||
      (rc = add_opt(h, proc, "--name", S("name"))) < 0 ||
      (rc = add_opt(h, proc, "--class", S("class"))) < 0 ||
      (rc = add_conf(h, proc, h->json_get(params, "conf"))) < 0 ||
      (rc = add_list(h, proc, "--jars", h->json_get(params, "jars"))) < 0 ||
      (rc = add_list(h, proc, "--py-files", h->json_get(params, "py_files"))) < 0 ||
      (rc = add_list(h, proc, "--files", h->json_get(params, "files"))) < 0 ||
      (rc = add_opt(h, proc, "--driver-memory", S("driver_memory"))) < 0 ||
      (rc = add_opt(h, proc, "--executor-memory", S("executor_memory"))) < 0 ||
      (rc = add_opt(h, proc, "--num-executors", ne ? num : NULL)) < 0 ||
      (rc = h->process_add_arg(proc, S("application"))) < 0)
    goto fail;
#undef S
  if ((rc = pagoda_process_add_args(h, proc, h->json_get(params, "args"))) < 0 ||
      (rc = pagoda_process_add_env(h, proc, params, "env")) < 0)
    goto fail;
  return PAGODA_OK;
fail:
  h->error_set(err, "spark: cannot build the process (code %d)", rc);
  return rc;
}

/* ---- application id capture and exit (1.2: per-execution state) ----------- */

/* What one execution's spark-submit said so far (the per-execution state,
 * allocated with host->alloc on the first line worth keeping, released by
 * the host with host->free: a flat block needs no exec_state_free). */
typedef struct spark_exec {
  char app_id[128];     /* the first application id seen, or "" */
  char last_error[200]; /* the last line reporting an error, or "" */
} spark_exec_t;

static spark_exec_t *exec_of(const pagoda_host_t *h, void **exec_state) {
  if (!*exec_state) {
    spark_exec_t *x = h->alloc(sizeof *x);
    if (!x) return NULL;
    memset(x, 0, sizeof *x);
    *exec_state = x;
  }
  return *exec_state;
}

static int word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

static size_t count_digits(const char *s, const char *end) {
  size_t n = 0;
  while (s + n < end && s[n] >= '0' && s[n] <= '9') n++;
  return n;
}

/* Finds the first token `prefix` D1 sep D2 in line[0, len) with at least
 * min1/min2 digits (min2 == 0: no second group), on word boundaries.
 * Returns its length and *at its start, or 0. */
static size_t find_id(const char *line, size_t len, const char *prefix, size_t min1, char sep,
                      size_t min2, const char **at) {
  const char *end = line + len;
  size_t pl = strlen(prefix);
  for (const char *p = line; p + pl <= end; p++) {
    if (memcmp(p, prefix, pl) != 0 || (p > line && word_char(p[-1]))) continue;
    const char *q = p + pl;
    size_t d1 = count_digits(q, end);
    if (d1 < min1) continue;
    q += d1;
    if (min2) {
      if (q >= end || *q != sep) continue;
      size_t d2 = count_digits(q + 1, end);
      if (d2 < min2) continue;
      q += 1 + d2;
    }
    if (q < end && word_char(*q)) continue;
    *at = p;
    return (size_t)(q - p);
  }
  return 0;
}

/* Records an id as an attribute; the first id seen wins. Returns 1 when
 * it was recorded now. */
static int capture(const pagoda_host_t *h, pagoda_attrs_t *attrs, const char *key,
                   const char *at, size_t n) {
  if (!n || n > 127 || h->attr_get(attrs, key)) return 0;
  char id[128];
  memcpy(id, at, n);
  id[n] = '\0';
  return h->attr_set(attrs, key, id) == PAGODA_OK;
}

/* 1 when spark-submit's line reports an error: log4j's " ERROR " level, an
 * exception, or "Error:" (spark-submit's own usage errors). */
static int error_line(const char *line) {
  return strstr(line, " ERROR ") || strstr(line, "Exception") || strncmp(line, "Error:", 6) == 0;
}

static void spark_on_output_line_ex(void *state, void **exec_state, const pagoda_json_t *params,
                                    const char *line, size_t len, pagoda_attrs_t *attrs) {
  (void)params;
  const pagoda_host_t *h = state;
  const char *at = NULL;
  size_t n;
  if ((n = find_id(line, len, "application_", 10, '_', 1, &at)) ||   /* YARN */
      (n = find_id(line, len, "app-", 14, '-', 4, &at)) ||           /* standalone */
      (n = find_id(line, len, "local-", 10, 0, 0, &at))) {           /* local */
    spark_exec_t *x;
    if (capture(h, attrs, "spark_app_id", at, n) && (x = exec_of(h, exec_state)) && !x->app_id[0])
      snprintf(x->app_id, sizeof x->app_id, "%.*s", (int)n, at);
  }
  if ((n = find_id(line, len, "driver-", 14, '-', 4, &at)))          /* submission */
    capture(h, attrs, "spark_driver_id", at, n);
  if (error_line(line)) {
    spark_exec_t *x = exec_of(h, exec_state);
    if (x) snprintf(x->last_error, sizeof x->last_error, "%s", line);
  }
}

/* Success is exit code 0 without a signal, as for any process; a failure
 * names the application (from the state, else the attributes) and the last
 * error line spark-submit printed, which usually says why. */
static int spark_interpret_exit_ex(void *state, void **exec_state, const pagoda_json_t *params,
                                   const pagoda_json_t *attrs, int exit_code, int term_signal,
                                   pagoda_error_t *err) {
  (void)params;
  const pagoda_host_t *h = state;
  if (exit_code == 0 && term_signal == 0) return PAGODA_OK;
  const spark_exec_t *x = *exec_state;
  const char *app = (x && x->app_id[0]) ? x->app_id : h->json_string(h->json_get(attrs, "spark_app_id"));
  const char *last = (x && x->last_error[0]) ? x->last_error : NULL;
  char why[64];
  if (term_signal)
    snprintf(why, sizeof why, "killed by signal %d", term_signal);
  else
    snprintf(why, sizeof why, "exit code %d", exit_code);
  if (app && last)
    return pagoda_fail(h, err, PAGODA_EFAIL, "spark: %s (application %s; last error: %s)", why, app,
                       last);
  if (app) return pagoda_fail(h, err, PAGODA_EFAIL, "spark: %s (application %s)", why, app);
  if (last) return pagoda_fail(h, err, PAGODA_EFAIL, "spark: %s (last error: %s)", why, last);
  return pagoda_fail(h, err, PAGODA_EFAIL, "spark: %s", why);
}

/* ---- kill (1.1) ------------------------------------------------------------ */

static int spark_describe_kill(void *state, const pagoda_json_t *params, const pagoda_json_t *attrs,
                               pagoda_process_t *proc, pagoda_error_t *err) {
  const pagoda_host_t *h = state;
  const char *mode = h->json_string(h->json_get(params, "deploy_mode"));
  const char *master = h->json_string(h->json_get(params, "master"));
  /* Client mode: the driver is spark-submit itself, which the host kills. */
  if (!mode || strcmp(mode, "cluster") != 0 || !master) return PAGODA_OK;
  const char *app = h->json_string(h->json_get(attrs, "spark_app_id"));
  const char *driver = h->json_string(h->json_get(attrs, "spark_driver_id"));
  int rc;
  if (strcmp(master, "yarn") == 0) {
    if (!app || strncmp(app, "application_", 12) != 0) {
      h->log(PAGODA_LOG_WARN, "spark: no YARN application id seen: nothing to kill on the cluster");
      return PAGODA_OK;
    }
    if ((rc = h->process_add_arg(proc, "yarn")) < 0 ||
        (rc = h->process_add_arg(proc, "application")) < 0 ||
        (rc = h->process_add_arg(proc, "-kill")) < 0 || (rc = h->process_add_arg(proc, app)) < 0)
      goto fail;
  } else if (strncmp(master, "spark://", 8) == 0 || strncmp(master, "mesos://", 8) == 0) {
    const char *id = driver ? driver : app; /* --kill takes the submission id */
    if (!id) {
      h->log(PAGODA_LOG_WARN, "spark: no submission id seen: nothing to kill on the cluster");
      return PAGODA_OK;
    }
    if ((rc = add_program(h, params, proc)) < 0 || (rc = add_opt(h, proc, "--kill", id)) < 0 ||
        (rc = add_opt(h, proc, "--master", master)) < 0)
      goto fail;
  } else {
    return PAGODA_OK; /* k8s: not supported yet (documented) */
  }
  if ((rc = pagoda_process_add_env(h, proc, params, "env")) < 0) goto fail;
  return PAGODA_OK;
fail:
  h->error_set(err, "spark: cannot build the kill command (code %d)", rc);
  return rc;
}

static const pagoda_generator_t spark_generator = {
    .validate = spark_validate,
    .expand = spark_expand,
};

static const pagoda_executor_t spark_executor = {
    .describe_process = spark_describe_process,
    .describe_kill = spark_describe_kill,
    .on_output_line_ex = spark_on_output_line_ex,
    .interpret_exit_ex = spark_interpret_exit_ex,
    /* no exec_state_free: spark_exec_t is one flat host->alloc block */
};

static const pagoda_plugin_descriptor_t spark_descriptor = {
#ifdef SPARK_DECLARE_ABI_1_0
    /* test build: declares 1.0 so the host must ignore the 1.1 slots */
    .abi_major = 1, .abi_minor = 0, .struct_size = (uint32_t)sizeof(pagoda_plugin_descriptor_t),
#else
    PAGODA_PLUGIN_DESCRIPTOR_HEADER,
#endif
    .type = "spark",
    .version = "1.0.0",
    .description = "Submits a Spark application with spark-submit (application id captured, cluster kill)",
#ifdef SPARK_DECLARE_ABI_1_0
    /* spark_params has the 1.2 element size: a descriptor declaring 1.0 must
     * not point at it (the host reads a 1.0 schema with the 1.0 size). */
    .params = NULL,
#else
    .params = spark_params,
#endif
    .init = spark_init,
    .generator = &spark_generator,
    .executor = &spark_executor,
};

PAGODA_PLUGIN_DECLARE(spark_descriptor)
