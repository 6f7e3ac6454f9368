/* Pagoda — the `java` job type: runs a JVM program, `java -cp CLASSPATH
 * MAIN_CLASS args...` or `java -jar JAR args...`, with JVM options.
 *
 * Process executor; no global state: the host table is the plugin's state.
 *
 * params (types enforced by the host from java_params, ABI 1.2):
 *   main_class string   fully qualified class to run          (or jar)
 *   classpath  array    entries joined with ':' (with main_class only);
 *                       relative entries are relative to the execution's
 *                       working directory, where resources are placed
 *   jar        string   run with -jar                          (or main_class)
 *   args       array    program arguments (strings)
 *   jvm_opts   array    JVM options, each starting with '-' ("-Xmx512m")
 *   java_home  string   absolute; runs $java_home/bin/java and sets
 *                       JAVA_HOME. Default: the worker's $JAVA_HOME, else
 *                       `java` from the worker's PATH
 *   env        object   extra environment, string values
 */
#include <pagoda/plugin.h>
#include <pagoda/plugin_util.h>
#include <stdlib.h>
#include <string.h>

#define CLASS_NAME_RULE "a class name such as com.example.Main"

static const pagoda_param_spec_t java_params[] = {
    {"main_class", PAGODA_JSON_STRING, 0, NULL, "class to run, with classpath (exclusive with jar)",
     CLASS_NAME_RULE},
    {"classpath", PAGODA_PARAM_STRINGS, 0, NULL, "classpath entries (relative to the working directory, or absolute)", NULL},
    {"jar", PAGODA_JSON_STRING, 0, NULL, "jar to run with -jar (exclusive with main_class)", "a non-empty path"},
    {"args", PAGODA_PARAM_STRINGS, 0, NULL, "program arguments (strings)", NULL},
    {"jvm_opts", PAGODA_PARAM_STRINGS, 0, NULL, "JVM options, each starting with '-'", NULL},
    {"java_home", PAGODA_JSON_STRING, 0, "$JAVA_HOME, else java on PATH", "JDK/JRE directory (absolute)",
     "an absolute path"},
    {"env", PAGODA_PARAM_ENV, 0, NULL, "extra environment variables (string values)", NULL},
    {NULL, PAGODA_JSON_MISSING, 0, NULL, NULL, NULL},
};

static int java_init(const pagoda_host_t *host, void **state, pagoda_error_t *err) {
  (void)err;
  *state = (void *)host;
  return PAGODA_OK;
}

/* A Java binary class name: dot-separated identifiers of [A-Za-z0-9_$]. */
static int class_name_ok(const char *s) {
  if (!s || !*s || *s == '.') return 0;
  for (const char *p = s; *p; p++) {
    char c = *p;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '$' || (c == '.' && p[1] != '.' && p[1] != '\0');
    if (!ok) return 0;
  }
  return !(*s >= '0' && *s <= '9');
}

/* Checks what the schema cannot say (the host has checked the types, and
 * the env object); shared by validate and describe_process. */
static int check(const pagoda_host_t *h, const pagoda_json_t *params, pagoda_error_t *err) {
  const pagoda_json_t *main_class = h->json_get(params, "main_class");
  const pagoda_json_t *jar = h->json_get(params, "jar");
  if (!main_class && !jar)
    return pagoda_fail(h, err, PAGODA_EINVAL, "java: params.main_class or params.jar is required");
  if (main_class && jar)
    return pagoda_fail(h, err, PAGODA_EINVAL,
                       "java: params.main_class and params.jar are exclusive "
                       "(put the jar in params.classpath to run another class)");
  if (main_class && !class_name_ok(h->json_string(main_class)))
    return pagoda_fail(h, err, PAGODA_EINVAL, "java: params.main_class must be " CLASS_NAME_RULE);
  int rc;
  if (jar) {
    if ((rc = pagoda_param_string(h, "java", params, "jar", PAGODA_PU_NONEMPTY | PAGODA_PU_NO_DASH,
                                  "a non-empty path", NULL, err)) < 0)
      return rc;
    if (h->json_get(params, "classpath"))
      return pagoda_fail(h, err, PAGODA_EINVAL,
                         "java: params.classpath is used with params.main_class only "
                         "(a jar run with -jar takes its classpath from its manifest)");
  }
  if ((rc = pagoda_param_strings(h, "java", params, "classpath", PAGODA_PU_NONEMPTY, ":",
                                 "be a non-empty path without ':'", err)) < 0 ||
      (rc = pagoda_param_strings(h, "java", params, "args", 0, NULL, NULL, err)) < 0 ||
      (rc = pagoda_param_strings(h, "java", params, "jvm_opts", PAGODA_PU_DASH | PAGODA_PU_QUOTE,
                                 NULL, "start with '-'", err)) < 0 ||
      (rc = pagoda_param_string(h, "java", params, "java_home", PAGODA_PU_ABSOLUTE,
                                "an absolute path", NULL, err)) < 0)
    return rc;
  return PAGODA_OK;
}

static int java_validate(void *state, const pagoda_json_t *params, pagoda_error_t *err) {
  return check((const pagoda_host_t *)state, params, err);
}

static int java_describe_process(void *state, const pagoda_json_t *params, pagoda_process_t *proc,
                                 pagoda_error_t *err) {
  const pagoda_host_t *h = state;
  int rc = check(h, params, err);
  if (rc < 0) return rc;

  /* The program: params.java_home, else the worker's $JAVA_HOME, else PATH. */
  const char *home = h->json_string(h->json_get(params, "java_home"));
  if (!home) {
    const char *e = getenv("JAVA_HOME");
    if (e && e[0] == '/') home = e;
  }
  if (home) {
    size_t l = strlen(home);
    char *java = h->alloc(l + sizeof "/bin/java");
    if (!java) goto oom;
    memcpy(java, home, l);
    while (l > 1 && java[l - 1] == '/') l--;
    memcpy(java + l, "/bin/java", sizeof "/bin/java");
    rc = h->process_add_arg(proc, java);
    h->free(java);
    if (rc < 0 || (rc = h->process_set_env(proc, "JAVA_HOME", home)) < 0) goto fail;
  } else if ((rc = h->process_add_arg(proc, "java")) < 0) {
    goto fail;
  }

  if ((rc = pagoda_process_add_args(h, proc, h->json_get(params, "jvm_opts"))) < 0) goto fail;
  const char *jar = h->json_string(h->json_get(params, "jar"));
  if (jar) {
    if ((rc = h->process_add_arg(proc, "-jar")) < 0 || (rc = h->process_add_arg(proc, jar)) < 0)
      goto fail;
  } else {
    const pagoda_json_t *cp = h->json_get(params, "classpath");
    if (h->json_array_size(cp) > 0) {
      char *joined = pagoda_strings_join(h, cp, ':');
      if (!joined) goto oom;
      if ((rc = h->process_add_arg(proc, "-cp")) >= 0) rc = h->process_add_arg(proc, joined);
      h->free(joined);
      if (rc < 0) goto fail;
    }
    if ((rc = h->process_add_arg(proc, h->json_string(h->json_get(params, "main_class")))) < 0)
      goto fail;
  }
  if ((rc = pagoda_process_add_args(h, proc, h->json_get(params, "args"))) < 0 ||
      (rc = pagoda_process_add_env(h, proc, params, "env")) < 0)
    goto fail;
  return PAGODA_OK;

oom:
  rc = PAGODA_ENOMEM;
fail:
  h->error_set(err, "java: cannot build the process (code %d)", rc);
  return rc;
}

static const pagoda_generator_t java_generator = {.validate = java_validate};

static const pagoda_executor_t java_executor = {.describe_process = java_describe_process};

static const pagoda_plugin_descriptor_t java_descriptor = {
    PAGODA_PLUGIN_DESCRIPTOR_HEADER,
    .type = "java",
    .version = "1.0.0",
    .description = "Runs a Java program: java -cp CLASSPATH MAIN_CLASS or java -jar JAR",
    .params = java_params,
    .init = java_init,
    .generator = &java_generator,
    .executor = &java_executor,
};

PAGODA_PLUGIN_DECLARE(java_descriptor)
