/* Pagoda — the `java` job type: runs a JVM program, `java -cp CLASSPATH
 * MAIN_CLASS args...` or `java -jar JAR args...`, with JVM options.
 *
 * Process executor; no global state: the host table is the plugin's state.
 *
 * params:
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
#include <stdlib.h>
#include <string.h>

static const pagoda_param_spec_t java_params[] = {
    {"main_class", PAGODA_JSON_STRING, 0, NULL, "class to run, with classpath (exclusive with jar)"},
    {"classpath", PAGODA_JSON_ARRAY, 0, NULL, "classpath entries (relative to the working directory, or absolute)"},
    {"jar", PAGODA_JSON_STRING, 0, NULL, "jar to run with -jar (exclusive with main_class)"},
    {"args", PAGODA_JSON_ARRAY, 0, NULL, "program arguments (strings)"},
    {"jvm_opts", PAGODA_JSON_ARRAY, 0, NULL, "JVM options, each starting with '-'"},
    {"java_home", PAGODA_JSON_STRING, 0, "$JAVA_HOME, else java on PATH", "JDK/JRE directory (absolute)"},
    {"env", PAGODA_JSON_OBJECT, 0, NULL, "extra environment variables (string values)"},
    {NULL, PAGODA_JSON_MISSING, 0, NULL, NULL},
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

/* Checks that params.<key>, if present, is an array of strings; with
 * `flags` it must start with '-', with `no_colon` hold no ':', and
 * non-empty either way. */
static int check_strings(const pagoda_host_t *h, const pagoda_json_t *params, const char *key,
                         int flags, int no_colon, pagoda_error_t *err) {
  const pagoda_json_t *a = h->json_get(params, key);
  if (!a) return PAGODA_OK;
  if (h->json_type(a) != PAGODA_JSON_ARRAY) {
    h->error_set(err, "java: params.%s must be an array of strings", key);
    return PAGODA_EINVAL;
  }
  size_t n = h->json_array_size(a);
  for (size_t i = 0; i < n; i++) {
    const char *s = h->json_string(h->json_array_item(a, i));
    if (!s) {
      h->error_set(err, "java: params.%s[%zu] must be a string", key, i);
      return PAGODA_EINVAL;
    }
    if (flags && s[0] != '-') {
      h->error_set(err, "java: params.%s[%zu] must start with '-' (got \"%.64s\")", key, i, s);
      return PAGODA_EINVAL;
    }
    if (no_colon && (!*s || strchr(s, ':'))) {
      h->error_set(err, "java: params.%s[%zu] must be a non-empty path without ':'", key, i);
      return PAGODA_EINVAL;
    }
  }
  return PAGODA_OK;
}

static int check(const pagoda_host_t *h, const pagoda_json_t *params, pagoda_error_t *err) {
  const pagoda_json_t *main_class = h->json_get(params, "main_class");
  const pagoda_json_t *jar = h->json_get(params, "jar");
  if (!main_class && !jar) {
    h->error_set(err, "java: params.main_class or params.jar is required");
    return PAGODA_EINVAL;
  }
  if (main_class && jar) {
    h->error_set(err, "java: params.main_class and params.jar are exclusive "
                      "(put the jar in params.classpath to run another class)");
    return PAGODA_EINVAL;
  }
  if (main_class && !class_name_ok(h->json_string(main_class))) {
    h->error_set(err, "java: params.main_class must be a class name such as com.example.Main");
    return PAGODA_EINVAL;
  }
  if (jar) {
    const char *s = h->json_string(jar);
    if (!s || !*s || s[0] == '-') {
      h->error_set(err, "java: params.jar must be a non-empty path");
      return PAGODA_EINVAL;
    }
    if (h->json_get(params, "classpath")) {
      h->error_set(err, "java: params.classpath is used with params.main_class only "
                        "(a jar run with -jar takes its classpath from its manifest)");
      return PAGODA_EINVAL;
    }
  }
  int rc;
  if ((rc = check_strings(h, params, "classpath", 0, 1, err)) < 0 ||
      (rc = check_strings(h, params, "args", 0, 0, err)) < 0 ||
      (rc = check_strings(h, params, "jvm_opts", 1, 0, err)) < 0)
    return rc;
  const pagoda_json_t *jh = h->json_get(params, "java_home");
  if (jh) {
    const char *s = h->json_string(jh);
    if (!s || s[0] != '/') {
      h->error_set(err, "java: params.java_home must be an absolute path");
      return PAGODA_EINVAL;
    }
  }
  const pagoda_json_t *env = h->json_get(params, "env");
  if (env) {
    if (h->json_type(env) != PAGODA_JSON_OBJECT) {
      h->error_set(err, "java: params.env must be an object");
      return PAGODA_EINVAL;
    }
    size_t n = h->json_object_size(env);
    for (size_t i = 0; i < n; i++) {
      const char *key = h->json_object_key_at(env, i);
      if (!key || !*key || strchr(key, '=')) {
        h->error_set(err, "java: params.env key \"%s\" is not a valid variable name",
                     key ? key : "");
        return PAGODA_EINVAL;
      }
      if (!h->json_string(h->json_object_value_at(env, i))) {
        h->error_set(err, "java: params.env.%s must be a string", key);
        return PAGODA_EINVAL;
      }
    }
  }
  return PAGODA_OK;
}

static int java_validate(void *state, const pagoda_json_t *params, pagoda_error_t *err) {
  return check((const pagoda_host_t *)state, params, err);
}

static int add_strings(const pagoda_host_t *h, pagoda_process_t *proc, const pagoda_json_t *a) {
  size_t n = h->json_array_size(a);
  for (size_t i = 0; i < n; i++) {
    int rc = h->process_add_arg(proc, h->json_string(h->json_array_item(a, i)));
    if (rc < 0) return rc;
  }
  return PAGODA_OK;
}

/* Joins the classpath entries with ':' into a host-allocated string. */
static char *join_classpath(const pagoda_host_t *h, const pagoda_json_t *cp) {
  size_t n = h->json_array_size(cp), total = 1;
  for (size_t i = 0; i < n; i++) total += strlen(h->json_string(h->json_array_item(cp, i))) + 1;
  char *out = h->alloc(total);
  if (!out) return NULL;
  out[0] = '\0';
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    const char *s = h->json_string(h->json_array_item(cp, i));
    size_t l = strlen(s);
    if (i) out[at++] = ':';
    memcpy(out + at, s, l);
    at += l;
    out[at] = '\0';
  }
  return out;
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

  if ((rc = add_strings(h, proc, h->json_get(params, "jvm_opts"))) < 0) goto fail;
  const char *jar = h->json_string(h->json_get(params, "jar"));
  if (jar) {
    if ((rc = h->process_add_arg(proc, "-jar")) < 0 || (rc = h->process_add_arg(proc, jar)) < 0)
      goto fail;
  } else {
    const pagoda_json_t *cp = h->json_get(params, "classpath");
    if (h->json_array_size(cp) > 0) {
      char *joined = join_classpath(h, cp);
      if (!joined) goto oom;
      if ((rc = h->process_add_arg(proc, "-cp")) >= 0) rc = h->process_add_arg(proc, joined);
      h->free(joined);
      if (rc < 0) goto fail;
    }
    if ((rc = h->process_add_arg(proc, h->json_string(h->json_get(params, "main_class")))) < 0)
      goto fail;
  }
  if ((rc = add_strings(h, proc, h->json_get(params, "args"))) < 0) goto fail;

  const pagoda_json_t *env = h->json_get(params, "env");
  size_t n = h->json_object_size(env);
  for (size_t i = 0; i < n; i++) {
    rc = h->process_set_env(proc, h->json_object_key_at(env, i),
                            h->json_string(h->json_object_value_at(env, i)));
    if (rc < 0) goto fail;
  }
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
