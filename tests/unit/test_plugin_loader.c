/* The plugin loader against real good and broken .so files
 * (tests/unit/plugins, built into $PAGODA_BUILD_DIR/tests/plugins-mixed). */
#include <CUnit/Basic.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pagoda/plugin.h>

#include "pgd_test.h"
#include "common/log.h"
#include "plugin/registry.h"

static char g_dir[1024];
static char g_rules_dir[1024]; /* tests/plugins-rules: b_dup offers a_good's type */

static const char *rules_path(const char *name) {
  static char buf[2][1200];
  static int i;
  i = (i + 1) % 2;
  snprintf(buf[i], sizeof buf[i], "%s/%s.so", g_rules_dir, name);
  return buf[i];
}

static const char *plugin_path(const char *name) {
  static char buf[4][1200];
  static int i;
  i = (i + 1) % 4;
  snprintf(buf[i], sizeof buf[i], "%s/%s.so", g_dir, name);
  return buf[i];
}

typedef struct { int init_calls, destroy_calls, live_states; } counters_t;

/* ---- loading good plugins ---------------------------------------------- */

static void test_load_good(void) {
  pgd_registry_t *r = pgd_registry_new();
  char err[512] = "x";
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, plugin_path("a_good"), err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(err, "");
  const pgd_plugin_t *p = pgd_registry_find(r, "test_good");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_STRING_EQUAL(pgd_plugin_type(p), "test_good");
  CU_ASSERT_STRING_EQUAL(pgd_plugin_version(p), "0.0.1-test");
  CU_ASSERT_STRING_EQUAL(pgd_plugin_file(p), plugin_path("a_good"));
  CU_ASSERT_EQUAL(pgd_plugin_executor_kind(p), PGD_EXEC_PROCESS);
  CU_ASSERT_EQUAL(pgd_plugin_has_generator(p), 1);
  CU_ASSERT_PTR_NULL(pgd_registry_find(r, "test_inproc"));
  CU_ASSERT_PTR_NULL(pgd_registry_find(r, NULL));
  CU_ASSERT_EQUAL(pgd_registry_count(r), 1);

  /* the same file again */
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, plugin_path("a_good"), err, sizeof err), -EEXIST);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "already loaded"));
  CU_ASSERT_EQUAL(pgd_registry_count(r), 1);

  CU_ASSERT_EQUAL(pgd_registry_load_file(r, plugin_path("c_inproc"), err, sizeof err), 0);
  CU_ASSERT_EQUAL(pgd_plugin_executor_kind(pgd_registry_find(r, "test_inproc")),
                  PGD_EXEC_IN_PROCESS);
  pgd_registry_free(r);
  pgd_registry_free(NULL);

  /* a bare file name means the current directory, not the library path */
  char cwd[1024];
  CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
  CU_ASSERT_EQUAL_FATAL(chdir(g_dir), 0);
  r = pgd_registry_new();
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, "a_good.so", err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(pgd_plugin_file(pgd_registry_find(r, "test_good")), "a_good.so");
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, "./a_good.so", err, sizeof err), -EEXIST);
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, "libc.so.6", err, sizeof err), -ELIBBAD);
  pgd_registry_free(r);
  CU_ASSERT_EQUAL(chdir(cwd), 0);
}

static void test_init_destroy_once(void) {
  /* Our own handle keeps the .so (and its counters) mapped across the
   * registry's dlclose. */
  void *dl = dlopen(plugin_path("a_good"), RTLD_NOW | RTLD_LOCAL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dl);
  counters_t *c = dlsym(dl, "test_plugin_counters");
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  counters_t before = *c;

  pgd_registry_t *r = pgd_registry_new();
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, plugin_path("a_good"), NULL, 0), 0);
  CU_ASSERT_EQUAL(c->init_calls, before.init_calls + 1);
  CU_ASSERT_EQUAL(c->destroy_calls, before.destroy_calls);
  CU_ASSERT_EQUAL(c->live_states, before.live_states + 1);
  pgd_registry_free(r);
  CU_ASSERT_EQUAL(c->init_calls, before.init_calls + 1);
  CU_ASSERT_EQUAL(c->destroy_calls, before.destroy_calls + 1);
  CU_ASSERT_EQUAL(c->live_states, before.live_states);
  dlclose(dl);

  /* init fails: destroy must not be called */
  dl = dlopen(plugin_path("initfail"), RTLD_NOW | RTLD_LOCAL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(dl);
  c = dlsym(dl, "test_plugin_counters");
  CU_ASSERT_PTR_NOT_NULL_FATAL(c);
  before = *c;
  r = pgd_registry_new();
  char err[512];
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, plugin_path("initfail"), err, sizeof err), -1);
  CU_ASSERT_EQUAL(c->init_calls, before.init_calls + 1);
  pgd_registry_free(r);
  CU_ASSERT_EQUAL(c->destroy_calls, before.destroy_calls);
  dlclose(dl);
}

/* ---- refusals ----------------------------------------------------------- */

static void expect_refusal_at(pgd_registry_t *r, const char *path, const char *name, int code,
                              const char *want1, const char *want2) {
  char err[1024] = "";
  int rc = pgd_registry_load_file(r, path, err, sizeof err);
  CU_ASSERT_EQUAL(rc, code);
  if (rc != code) fprintf(stderr, "%s: rc %d, want %d (%s)\n", name, rc, code, err);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, path)); /* names the file */
  CU_ASSERT_PTR_NOT_NULL(strstr(err, want1));
  if (!strstr(err, want1)) fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n", name, err, want1);
  if (want2) {
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want2));
    if (!strstr(err, want2)) fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n", name, err, want2);
  }
}

static void expect_refusal(pgd_registry_t *r, const char *name, int code, const char *want1,
                           const char *want2) {
  expect_refusal_at(r, plugin_path(name), name, code, want1, want2);
}

static void test_refusals(void) {
  pgd_registry_t *r = pgd_registry_new();
  CU_ASSERT_EQUAL_FATAL(pgd_registry_load_file(r, plugin_path("a_good"), NULL, 0), 0);

  expect_refusal(r, "noentry", -ENOENT, "no entry symbol pagoda_plugin_entry", NULL);
  expect_refusal(r, "abi2", -EPROTO, "plugin ABI 2.0", "host ABI 1.2");
  expect_refusal(r, "minor9", -EPROTO, "plugin ABI 1.9", "host ABI 1.2");
  expect_refusal(r, "small", -EINVAL, "struct_size 8 is smaller", NULL);
  expect_refusal(r, "nulltype", -EINVAL, "type is NULL", NULL);
  expect_refusal(r, "badtype", -EINVAL, "type \"Bad-Type\"", NULL);
  expect_refusal(r, "bothexec", -EINVAL, "exactly one of describe_process and run", NULL);
  expect_refusal(r, "initfail", PAGODA_EFAIL,
                 "init failed: test_initfail: licence file /nonexistent missing", NULL);
  expect_refusal_at(r, rules_path("b_dup"), "b_dup", -EEXIST,
                    "type \"test_good\" is already provided by", plugin_path("a_good"));
  expect_refusal(r, "does_not_exist", -ELIBBAD, "dlopen failed", NULL);

  /* a file that is not an ELF object */
  char tmpl[] = "/tmp/pagoda-plugin-test-XXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpl));
  char junk[1200];
  snprintf(junk, sizeof junk, "%s/junk.so", tmpl);
  FILE *f = fopen(junk, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("not an ELF file\n", f);
  fclose(f);
  char err[1024];
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, junk, err, sizeof err), -ELIBBAD);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, junk));
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, NULL, err, sizeof err), -EINVAL);
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, "", err, sizeof err), -EINVAL);
  unlink(junk);
  rmdir(tmpl);

  /* the registry still works after every refusal */
  CU_ASSERT_EQUAL(pgd_registry_count(r), 1);
  const pgd_plugin_t *p = pgd_registry_find(r, "test_good");
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_EQUAL(pgd_plugin_validate(p, NULL, err, sizeof err), 0);
  CU_ASSERT_PTR_NULL(pgd_registry_find(r, "test_initfail"));
  CU_ASSERT_PTR_NULL(pgd_registry_find(r, "test_abi2"));
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, plugin_path("c_inproc"), err, sizeof err), 0);

  /* refusing the same file twice keeps one record */
  expect_refusal(r, "abi2", -EPROTO, "plugin ABI 2.0", "host ABI 1.2");
  cJSON *all = pgd_registry_to_json(r);
  CU_ASSERT_PTR_NOT_NULL_FATAL(all);
  int abi2_records = 0;
  cJSON *it;
  cJSON_ArrayForEach(it, all) {
    const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(it, "file"));
    if (file && strcmp(file, plugin_path("abi2")) == 0) abi2_records++;
  }
  CU_ASSERT_EQUAL(abi2_records, 1);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(all), 2 + 11);
  cJSON_Delete(all);
  pgd_registry_free(r);
}

/* ---- directories, listings, hot loading --------------------------------- */

static cJSON *entry_for(cJSON *arr, const char *file) {
  cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    const char *f = cJSON_GetStringValue(cJSON_GetObjectItem(it, "file"));
    if (f && strcmp(f, file) == 0) return it;
  }
  return NULL;
}

static const char *str_of(cJSON *o, const char *key) {
  return cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
}

static void test_load_dir_and_json(void) {
  pgd_registry_t *r = pgd_registry_new();
  CU_ASSERT_EQUAL(pgd_registry_load_dir(r, g_dir), 3); /* a_good, c_inproc, d_gen_only */
  CU_ASSERT_EQUAL(pgd_registry_count(r), 3);
  CU_ASSERT_EQUAL(pgd_registry_load_dir(r, g_dir), 0); /* nothing new */
  CU_ASSERT_TRUE(pgd_registry_load_dir(r, "/nonexistent/pagoda-plugins") < 0);
  CU_ASSERT_EQUAL(pgd_registry_count(r), 3);
  /* a later file offering a loaded type is refused (b_dup lives apart: in
   * one directory with a_good, both would be refused, see test_plugin_rules) */
  CU_ASSERT_EQUAL(pgd_registry_load_file(r, rules_path("b_dup"), NULL, 0), -EEXIST);

  cJSON *all = pgd_registry_to_json(r);
  CU_ASSERT_PTR_NOT_NULL_FATAL(all);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(all), 12); /* 3 loaded + 9 refused, no repeats */

  cJSON *good = entry_for(all, plugin_path("a_good"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(good);
  CU_ASSERT_STRING_EQUAL(str_of(good, "type"), "test_good");
  CU_ASSERT_STRING_EQUAL(str_of(good, "version"), "0.0.1-test");
  CU_ASSERT_STRING_EQUAL(str_of(good, "description"), "test plugin test_good");
  CU_ASSERT_STRING_EQUAL(str_of(good, "abi"), "1.2");
  CU_ASSERT_STRING_EQUAL(str_of(good, "status"), "loaded");
  CU_ASSERT_STRING_EQUAL(str_of(good, "executor"), "process");
  CU_ASSERT_TRUE(cJSON_IsTrue(cJSON_GetObjectItem(good, "generator")));
  CU_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(good, "reason")));
  cJSON *params = cJSON_GetObjectItem(good, "params");
  CU_ASSERT_EQUAL(cJSON_GetArraySize(params), 2);
  cJSON *p0 = cJSON_GetArrayItem(params, 0);
  CU_ASSERT_STRING_EQUAL(str_of(p0, "key"), "word");
  CU_ASSERT_STRING_EQUAL(str_of(p0, "type"), "string");
  CU_ASSERT_STRING_EQUAL(str_of(p0, "default"), "hi");
  CU_ASSERT_TRUE(cJSON_IsFalse(cJSON_GetObjectItem(p0, "required")));

  cJSON *inproc = entry_for(all, plugin_path("c_inproc"));
  CU_ASSERT_STRING_EQUAL(str_of(inproc, "executor"), "in_process");
  cJSON *gen = entry_for(all, plugin_path("d_gen_only"));
  CU_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(gen, "executor")));

  cJSON *dup = entry_for(all, rules_path("b_dup"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(dup);
  CU_ASSERT_STRING_EQUAL(str_of(dup, "status"), "refused");
  CU_ASSERT_STRING_EQUAL(str_of(dup, "type"), "test_good");
  CU_ASSERT_PTR_NOT_NULL(strstr(str_of(dup, "reason"), plugin_path("a_good")));

  cJSON *abi2 = entry_for(all, plugin_path("abi2"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(abi2);
  CU_ASSERT_STRING_EQUAL(str_of(abi2, "status"), "refused");
  CU_ASSERT_STRING_EQUAL(str_of(abi2, "abi"), "2.0");
  CU_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(abi2, "type"))); /* layout unknown */
  CU_ASSERT_PTR_NOT_NULL(strstr(str_of(abi2, "reason"), "host ABI 1.2"));

  cJSON *initfail = entry_for(all, plugin_path("initfail"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(initfail);
  CU_ASSERT_STRING_EQUAL(str_of(initfail, "type"), "test_initfail");
  CU_ASSERT_PTR_NOT_NULL(strstr(str_of(initfail, "reason"), "licence file"));

  cJSON *noentry = entry_for(all, plugin_path("noentry"));
  CU_ASSERT_PTR_NOT_NULL_FATAL(noentry);
  CU_ASSERT_TRUE(cJSON_IsNull(cJSON_GetObjectItem(noentry, "abi")));
  cJSON_Delete(all);

  cJSON *types = pgd_registry_types_json(r);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(types), 2);
  CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(types, 0)->valuestring, "test_good");
  CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(types, 1)->valuestring, "test_inproc");
  cJSON_Delete(types);
  pgd_registry_free(r);
}

static int copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb");
  if (!in) return -1;
  FILE *out = fopen(to, "wb");
  if (!out) {
    fclose(in);
    return -1;
  }
  char buf[65536];
  size_t n;
  int rc = 0;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, n, out) != n) rc = -1;
  fclose(in);
  if (fclose(out) != 0) rc = -1;
  return rc;
}

static void test_hot_loading(void) {
  char tmpl[] = "/tmp/pagoda-plugin-hot-XXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(tmpl));
  char hot[1200], broken[1200], other[1200];
  snprintf(hot, sizeof hot, "%s/hot.so", tmpl);
  snprintf(broken, sizeof broken, "%s/broken.so", tmpl);
  snprintf(other, sizeof other, "%s/readme.txt", tmpl);

  pgd_registry_t *r = pgd_registry_new();
  CU_ASSERT_EQUAL(pgd_registry_load_dir(r, tmpl), 0);
  CU_ASSERT_EQUAL(copy_file(plugin_path("a_good"), hot), 0);
  CU_ASSERT_EQUAL(copy_file(plugin_path("a_good"), other), 0); /* not *.so: ignored */
  CU_ASSERT_EQUAL(pgd_registry_load_dir(r, tmpl), 1);
  CU_ASSERT_PTR_NOT_NULL(pgd_registry_find(r, "test_good"));
  CU_ASSERT_EQUAL(pgd_registry_load_dir(r, tmpl), 0);

  /* a half-copied file is refused once, and not retried while unchanged */
  FILE *f = fopen(broken, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("\x7f" "ELF truncated", f);
  fclose(f);
  CU_ASSERT_EQUAL(pgd_registry_load_dir(r, tmpl), 0);
  cJSON *all = pgd_registry_to_json(r);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(all), 2);
  cJSON_Delete(all);
  CU_ASSERT_EQUAL(pgd_registry_load_dir(r, tmpl), 0);

  /* the copy completes: picked up on the next scan, refusal record gone */
  CU_ASSERT_EQUAL(copy_file(plugin_path("c_inproc"), broken), 0);
  CU_ASSERT_EQUAL(pgd_registry_load_dir(r, tmpl), 1);
  CU_ASSERT_PTR_NOT_NULL(pgd_registry_find(r, "test_inproc"));
  all = pgd_registry_to_json(r);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(all), 2);
  cJSON *it;
  cJSON_ArrayForEach(it, all) CU_ASSERT_STRING_EQUAL(str_of(it, "status"), "loaded");
  cJSON_Delete(all);
  pgd_registry_free(r);
  unlink(hot);
  unlink(broken);
  unlink(other);
  rmdir(tmpl);
}

/* ---- generator calls ----------------------------------------------------- */

static pgd_registry_t *g_reg;

static const pgd_plugin_t *plugin(const char *type) {
  const pgd_plugin_t *p = pgd_registry_find(g_reg, type);
  CU_ASSERT_PTR_NOT_NULL(p);
  return p;
}

static void test_validate(void) {
  const pgd_plugin_t *p = plugin("test_good");
  if (!p) return;
  char err[256];
  cJSON *params = cJSON_Parse("{\"word\":\"x\"}");
  CU_ASSERT_EQUAL(pgd_plugin_validate(p, params, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(err, "");
  cJSON_Delete(params);

  params = cJSON_Parse("{\"fail\":\"params.word is too long\"}");
  CU_ASSERT_EQUAL(pgd_plugin_validate(p, params, err, sizeof err), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "test_good: params.word is too long");
  /* a short buffer truncates but stays terminated */
  char tiny[8];
  CU_ASSERT_EQUAL(pgd_plugin_validate(p, params, tiny, sizeof tiny), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(tiny, "test_go");
  CU_ASSERT_EQUAL(pgd_plugin_validate(p, params, NULL, 0), PAGODA_EINVAL);
  cJSON_Delete(params);

  params = cJSON_Parse("{\"silent\":true}");
  CU_ASSERT_EQUAL(pgd_plugin_validate(p, params, err, sizeof err), PAGODA_EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "test_good: validate failed (code -22)");
  cJSON_Delete(params);

  params = cJSON_Parse("{\"positive\":true}");
  CU_ASSERT_EQUAL(pgd_plugin_validate(p, params, err, sizeof err), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "test_good: validate failed (code -1)");
  cJSON_Delete(params);

  params = cJSON_Parse("[1,2]");
  CU_ASSERT_EQUAL(pgd_plugin_validate(p, params, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "test_good: params must be an object");
  cJSON_Delete(params);
  CU_ASSERT_EQUAL(pgd_plugin_validate(p, NULL, err, sizeof err), 0);
}

static void test_expand(void) {
  const pgd_plugin_t *p = plugin("test_good");
  if (!p) return;
  char err[256];
  cJSON *job = cJSON_Parse("{\"name\":\"j1\",\"type\":\"test_good\","
                           "\"params\":{\"x\":2,\"drop_me\":1}}");
  cJSON *out = NULL;
  CU_ASSERT_EQUAL(pgd_plugin_expand(p, job, &out, err, sizeof err), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out);
  char *text = cJSON_PrintUnformatted(out);
  CU_ASSERT_STRING_EQUAL(text,
                         "{\"x\":2,\"greeting\":\"hello\",\"job_name\":\"j1\",\"answer\":42,"
                         "\"expanded\":true}");
  cJSON_free(text);
  cJSON_Delete(out);
  /* the job itself is untouched */
  CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItem(cJSON_GetObjectItem(job, "params"), "drop_me"));
  cJSON_Delete(job);

  /* no params: starts from {} ; an existing key is replaced, not duplicated */
  job = cJSON_Parse("{\"name\":\"j2\",\"params\":{\"answer\":1}}");
  CU_ASSERT_EQUAL(pgd_plugin_expand(p, job, &out, err, sizeof err), 0);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(out), 4);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(out, "answer")->valueint, 42);
  cJSON_Delete(out);
  cJSON_Delete(job);
  job = cJSON_Parse("{\"name\":\"j3\"}");
  CU_ASSERT_EQUAL(pgd_plugin_expand(p, job, &out, err, sizeof err), 0);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(out), 4);
  cJSON_Delete(out);
  cJSON_Delete(job);

  job = cJSON_Parse("{\"params\":{\"expand_fail\":1}}");
  out = (cJSON *)1;
  CU_ASSERT_EQUAL(pgd_plugin_expand(p, job, &out, err, sizeof err), PAGODA_EINVAL);
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_STRING_EQUAL(err, "test_good: cannot expand");
  cJSON_Delete(job);

  job = cJSON_Parse("{\"params\":\"oops\"}");
  CU_ASSERT_EQUAL(pgd_plugin_expand(p, job, &out, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NULL(out);
  CU_ASSERT_STRING_EQUAL(err, "test_good: params must be an object");
  cJSON_Delete(job);

  /* no job at all: an empty request amended by expand */
  CU_ASSERT_EQUAL(pgd_plugin_expand(p, NULL, &out, err, sizeof err), 0);
  cJSON_Delete(out);
  CU_ASSERT_EQUAL(pgd_plugin_expand(p, NULL, NULL, err, sizeof err), -EINVAL);
}

/* ---- executor calls ------------------------------------------------------ */

static void test_describe_process(void) {
  const pgd_plugin_t *p = plugin("test_good");
  if (!p) return;
  char err[256];
  pgd_procspec_t spec;
  pgd_procspec_init(&spec);
  cJSON *params = cJSON_Parse("{\"word\":\"bonjour\"}");
  CU_ASSERT_EQUAL(pgd_plugin_describe_process(p, params, &spec, err, sizeof err), 0);
  CU_ASSERT_EQUAL_FATAL(spec.argc, 2);
  CU_ASSERT_STRING_EQUAL(spec.argv[0], "/bin/echo");
  CU_ASSERT_STRING_EQUAL(spec.argv[1], "bonjour");
  CU_ASSERT_PTR_NULL(spec.argv[2]);
  CU_ASSERT_EQUAL(spec.envc, 1);
  CU_ASSERT_STRING_EQUAL(spec.env[0], "TP=1");
  CU_ASSERT_STRING_EQUAL(spec.cwd, "/tmp");
  CU_ASSERT_STRING_EQUAL(spec.user, "nobody");
  pgd_procspec_free(&spec);
  cJSON_Delete(params);

  params = cJSON_Parse("{\"no_argv\":true}");
  CU_ASSERT_EQUAL(pgd_plugin_describe_process(p, params, &spec, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "test_good: describe_process gave no program (empty argv)");
  pgd_procspec_free(&spec);
  cJSON_Delete(params);

  const pgd_plugin_t *in = plugin("test_inproc");
  if (in) {
    CU_ASSERT_EQUAL(pgd_plugin_describe_process(in, NULL, &spec, err, sizeof err), -ENOTSUP);
    CU_ASSERT_STRING_EQUAL(err, "test_inproc: not a process executor");
  }
}

static void test_interpret_exit(void) {
  const pgd_plugin_t *p = plugin("test_good");
  const pgd_plugin_t *g = plugin("test_gen_only");
  if (!p || !g) return;
  char err[256];
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit(p, NULL, 0, 0, err, sizeof err), 0);
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit(p, NULL, 3, 0, err, sizeof err), 0);
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit(p, NULL, 1, 0, err, sizeof err), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "test_good: exit 1 signal 0");
  /* default rule */
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit(g, NULL, 0, 0, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(err, "");
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit(g, NULL, 2, 0, err, sizeof err), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "test_gen_only: exit code 2");
  CU_ASSERT_EQUAL(pgd_plugin_interpret_exit(g, NULL, 0, 9, err, sizeof err), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "test_gen_only: killed by signal 9 (SIGKILL)");
}

typedef struct {
  char log[256];
  size_t loglen;
  char result[256];
  atomic_int cancel;
} run_rec_t;

static void rec_log(void *ud, const char *data, size_t len) {
  run_rec_t *r = ud;
  if (r->loglen + len < sizeof r->log) {
    memcpy(r->log + r->loglen, data, len);
    r->loglen += len;
    r->log[r->loglen] = '\0';
  }
}
static int rec_cancelled(void *ud) { return atomic_load(&((run_rec_t *)ud)->cancel); }
static void rec_result(void *ud, const char *json) {
  snprintf(((run_rec_t *)ud)->result, sizeof ((run_rec_t *)ud)->result, "%s", json);
}

typedef struct {
  const pgd_plugin_t *p;
  cJSON *params;
  pgd_run_ops_t ops;
  char err[256];
  int rc;
} run_job_t;

static void *run_thread(void *arg) {
  run_job_t *j = arg;
  j->rc = pgd_plugin_run(j->p, j->params, &j->ops, j->err, sizeof j->err);
  return NULL;
}

static void test_run_in_process(void) {
  const pgd_plugin_t *p = plugin("test_inproc");
  if (!p) return;
  run_rec_t rec;
  memset(&rec, 0, sizeof rec);
  pgd_run_ops_t ops = {rec_log, rec_cancelled, rec_result, &rec};
  char err[256];
  CU_ASSERT_EQUAL(pgd_plugin_run(p, NULL, &ops, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(rec.log, "start\ndone\n");
  CU_ASSERT_STRING_EQUAL(rec.result, "{\"ok\":true}");
  CU_ASSERT_STRING_EQUAL(err, "");

  /* no ops at all is tolerated */
  CU_ASSERT_EQUAL(pgd_plugin_run(p, NULL, NULL, err, sizeof err), 0);

  cJSON *params = cJSON_Parse("{\"fail\":\"input table missing\"}");
  CU_ASSERT_EQUAL(pgd_plugin_run(p, params, &ops, err, sizeof err), PAGODA_EFAIL);
  CU_ASSERT_STRING_EQUAL(err, "test_inproc: input table missing");
  cJSON_Delete(params);

  /* cancellation from another thread */
  memset(&rec, 0, sizeof rec);
  run_job_t j = {.p = p, .params = cJSON_Parse("{\"wait\":true}"), .ops = ops};
  pthread_t t;
  CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, run_thread, &j), 0);
  struct timespec ts = {0, 20 * 1000000};
  nanosleep(&ts, NULL);
  atomic_store(&rec.cancel, 1);
  pthread_join(t, NULL);
  CU_ASSERT_EQUAL(j.rc, PAGODA_ECANCELED);
  CU_ASSERT_STRING_EQUAL(j.err, "test_inproc: cancelled");
  CU_ASSERT_STRING_EQUAL(rec.log, "start\n");
  cJSON_Delete(j.params);

  const pgd_plugin_t *proc = plugin("test_good");
  if (proc) {
    CU_ASSERT_EQUAL(pgd_plugin_run(proc, NULL, &ops, err, sizeof err), -ENOTSUP);
    CU_ASSERT_STRING_EQUAL(err, "test_good: not an in-process executor");
  }
}

static int calls_init(void) {
  g_reg = pgd_registry_new();
  return (g_reg && pgd_registry_load_dir(g_reg, g_dir) == 3) ? 0 : -1;
}
static int calls_clean(void) {
  pgd_registry_free(g_reg);
  return 0;
}

int main(void) {
  if (pgd_test_build_path(g_dir, sizeof g_dir, "tests/plugins-mixed") != 0 ||
      pgd_test_build_path(g_rules_dir, sizeof g_rules_dir, "tests/plugins-rules") != 0)
    return 1;
  pgd_log_set_level(PGD_LOG_ERROR); /* refusals are expected here */
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("plugin_loader", NULL, NULL);
  CU_add_test(s, "load good plugins", test_load_good);
  CU_add_test(s, "init and destroy exactly once", test_init_destroy_once);
  CU_add_test(s, "refusal reasons", test_refusals);
  CU_add_test(s, "load_dir and to_json", test_load_dir_and_json);
  CU_add_test(s, "hot loading", test_hot_loading);
  CU_pSuite c = CU_add_suite("plugin_calls", calls_init, calls_clean);
  CU_add_test(c, "validate", test_validate);
  CU_add_test(c, "expand", test_expand);
  CU_add_test(c, "describe_process", test_describe_process);
  CU_add_test(c, "interpret_exit", test_interpret_exit);
  CU_add_test(c, "run in process", test_run_in_process);
  return pgd_test_run();
}
