/* Unit tests: command routing and client argument parsing (core/cli/client_args.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "cli/client_args.h"
#include "cli/client_token.h"
#include "common/clock.h"

#define ARGV(...) ((char *[]){"pagoda", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"pagoda", __VA_ARGS__}) / sizeof(char *)))
#define ROUTE(idx, ...) pgd_cli_route(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), idx)

static void test_route_commands(void) {
  int idx = -1;
  CU_ASSERT_EQUAL(ROUTE(&idx, "dev"), PGD_CLI_ROUTE_DAEMON);
  CU_ASSERT_EQUAL(idx, 1);
  CU_ASSERT_EQUAL(ROUTE(&idx, "master", "--config", "x.conf"), PGD_CLI_ROUTE_DAEMON);
  CU_ASSERT_EQUAL(ROUTE(&idx, "worker"), PGD_CLI_ROUTE_DAEMON);
  CU_ASSERT_EQUAL(ROUTE(&idx, "worker", "--config", "w.conf"), PGD_CLI_ROUTE_DAEMON);
  CU_ASSERT_EQUAL(ROUTE(&idx, "worker", "list"), PGD_CLI_ROUTE_CLIENT);
  CU_ASSERT_EQUAL(ROUTE(&idx, "worker", "show", "w1"), PGD_CLI_ROUTE_CLIENT);
  CU_ASSERT_EQUAL(ROUTE(&idx, "worker", "drain", "w1"), PGD_CLI_ROUTE_CLIENT);
  CU_ASSERT_EQUAL(ROUTE(&idx, "worker", "undrain", "w1"), PGD_CLI_ROUTE_CLIENT);
  CU_ASSERT_EQUAL(ROUTE(&idx, "job", "list"), PGD_CLI_ROUTE_CLIENT);
  CU_ASSERT_EQUAL(ROUTE(&idx, "exec", "logs", "3", "-f"), PGD_CLI_ROUTE_CLIENT);
  CU_ASSERT_EQUAL(ROUTE(&idx, "plugin", "list"), PGD_CLI_ROUTE_CLIENT);
  CU_ASSERT_EQUAL(ROUTE(&idx, "frob"), PGD_CLI_ROUTE_UNKNOWN);
  CU_ASSERT_EQUAL(idx, 1);
  CU_ASSERT_EQUAL(ROUTE(&idx, "--frob"), PGD_CLI_ROUTE_UNKNOWN);
}

static void test_route_global_options(void) {
  int idx = -1;
  CU_ASSERT_EQUAL(ROUTE(&idx, "--addr", "http://h:1", "job", "list"), PGD_CLI_ROUTE_CLIENT);
  CU_ASSERT_EQUAL(idx, 3);
  CU_ASSERT_EQUAL(ROUTE(&idx, "--addr=http://h:1", "worker", "list"), PGD_CLI_ROUTE_CLIENT);
  CU_ASSERT_EQUAL(idx, 2);
  /* --addr means nothing to a daemon. */
  CU_ASSERT_EQUAL(ROUTE(&idx, "--addr", "http://h:1", "master"), PGD_CLI_ROUTE_USAGE_ERROR);
  CU_ASSERT_EQUAL(idx, 3);
  CU_ASSERT_EQUAL(ROUTE(&idx, "--addr"), PGD_CLI_ROUTE_USAGE_ERROR);
  CU_ASSERT_EQUAL(idx, 0);
  char *only[] = {"pagoda", NULL};
  CU_ASSERT_EQUAL(pgd_cli_route(1, only, &idx), PGD_CLI_ROUTE_USAGE_ERROR);
  CU_ASSERT_EQUAL(pgd_cli_route(0, NULL, NULL), PGD_CLI_ROUTE_USAGE_ERROR);
}

static void test_route_help_version(void) {
  int idx = -1;
  CU_ASSERT_EQUAL(ROUTE(&idx, "--version"), PGD_CLI_ROUTE_VERSION);
  CU_ASSERT_EQUAL(ROUTE(&idx, "-V"), PGD_CLI_ROUTE_VERSION);
  CU_ASSERT_EQUAL(ROUTE(&idx, "--help"), PGD_CLI_ROUTE_HELP);
  CU_ASSERT_EQUAL(idx, 0);
  CU_ASSERT_EQUAL(ROUTE(&idx, "help"), PGD_CLI_ROUTE_HELP);
  CU_ASSERT_EQUAL(idx, 0);
  CU_ASSERT_EQUAL(ROUTE(&idx, "help", "job"), PGD_CLI_ROUTE_HELP);
  CU_ASSERT_EQUAL(idx, 2);
  CU_ASSERT_EQUAL(ROUTE(&idx, "master", "--help"), PGD_CLI_ROUTE_CMD_HELP);
  CU_ASSERT_EQUAL(idx, 1);
  CU_ASSERT_EQUAL(ROUTE(&idx, "worker", "-h"), PGD_CLI_ROUTE_CMD_HELP);
  /* Client commands answer --help themselves. */
  CU_ASSERT_EQUAL(ROUTE(&idx, "job", "--help"), PGD_CLI_ROUTE_CLIENT);
}

#define PARSE(a, env, ...) \
  pgd_cli_args_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), env, a, err, sizeof(err))

static void test_parse_addr(void) {
  pgd_cli_args_t a;
  char err[256];
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "list"), 0);
  CU_ASSERT_STRING_EQUAL(a.addr, PGD_CLI_DEFAULT_ADDR);
  CU_ASSERT_EQUAL(a.cmd, PGD_CLI_JOB_LIST);
  CU_ASSERT_EQUAL(a.json, 0);
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(PARSE(&a, "http://env:1", "job", "list", "--json"), 0);
  CU_ASSERT_STRING_EQUAL(a.addr, "http://env:1");
  CU_ASSERT_EQUAL(a.json, 1);
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(PARSE(&a, "http://env:1", "--addr", "http://flag:2", "job", "list"), 0);
  CU_ASSERT_STRING_EQUAL(a.addr, "http://flag:2");
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(PARSE(&a, "", "exec", "--addr=http://x:3", "list"), 0);
  CU_ASSERT_STRING_EQUAL(a.addr, "http://x:3");
  CU_ASSERT_EQUAL(a.cmd, PGD_CLI_EXEC_LIST);
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "list", "--addr"), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "--addr"));
}

static void test_parse_commands(void) {
  pgd_cli_args_t a;
  char err[256];
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "create", "-"), 0);
  CU_ASSERT_EQUAL(a.cmd, PGD_CLI_JOB_CREATE);
  CU_ASSERT_STRING_EQUAL(a.arg, "-");
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "delete", "--", "-odd"), 0);
  CU_ASSERT_EQUAL(a.cmd, PGD_CLI_JOB_DELETE);
  CU_ASSERT_STRING_EQUAL(a.arg, "-odd");
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "exec", "logs", "17", "-f"), 0);
  CU_ASSERT_EQUAL(a.cmd, PGD_CLI_EXEC_LOGS);
  CU_ASSERT_EQUAL(a.id, 17);
  CU_ASSERT_EQUAL(a.follow, 1);
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "exec", "list", "--job", "etl", "--state=failed", "--limit", "5"), 0);
  CU_ASSERT_STRING_EQUAL(a.job_filter, "etl");
  CU_ASSERT_STRING_EQUAL(a.state_filter, "failed");
  CU_ASSERT_EQUAL(a.limit, 5);
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "worker", "drain", "w-1"), 0);
  CU_ASSERT_EQUAL(a.cmd, PGD_CLI_WORKER_DRAIN);
  CU_ASSERT_STRING_EQUAL(a.group, "worker");
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "plugin", "list", "--json"), 0);
  CU_ASSERT_EQUAL(a.cmd, PGD_CLI_PLUGIN_LIST);
  pgd_cli_args_free(&a);
  /* Only job run owns params. */
  CU_ASSERT_PTR_NULL(a.params);
}

static void test_parse_errors(void) {
  pgd_cli_args_t a;
  char err[256];
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job"), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "subcommand"));
  CU_ASSERT_STRING_EQUAL(a.group, "job"); /* kept to print the group's usage */
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "frob"), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "show"), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "NAME"));
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "show", "a", "b"), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "'b'"));
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "show", ""), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "exec", "show", "12x"), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "exec", "kill", "0"), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "exec", "kill", "-3"), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "exec", "list", "--limit", "ten"), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "exec", "list", "--limit"), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "list", "--follow"), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "--follow"));
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "show", "x", "--json"), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "list", "--param", "a=b"), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "list", "--nope"), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "--nope"));
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "frob", "list"), -EINVAL);
  CU_ASSERT_PTR_NULL(a.group);
  char *none[] = {"pagoda", NULL};
  CU_ASSERT_EQUAL(pgd_cli_args_parse(1, none, NULL, &a, err, sizeof(err)), -EINVAL);
  CU_ASSERT_EQUAL(pgd_cli_args_parse(1, none, NULL, NULL, err, sizeof(err)), -EINVAL);
  /* A tiny error buffer is truncated, not overrun. */
  char small[4];
  CU_ASSERT_EQUAL(pgd_cli_args_parse(ARGC("job"), ARGV("job"), NULL, &a, small, sizeof(small)), -EINVAL);
  CU_ASSERT_EQUAL(strlen(small), 3);
}

static void test_parse_help(void) {
  pgd_cli_args_t a;
  char err[256];
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "--help"), 0);
  CU_ASSERT_EQUAL(a.help, 1);
  CU_ASSERT_STRING_EQUAL(a.group, "job");
  CU_ASSERT_EQUAL(a.cmd, PGD_CLI_CMD_NONE);
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "exec", "logs", "-h"), 0);
  CU_ASSERT_EQUAL(a.help, 1);
  CU_ASSERT_EQUAL(a.cmd, PGD_CLI_EXEC_LOGS);
  pgd_cli_args_free(&a);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "list", "--weird", "--help"), 0);
  CU_ASSERT_EQUAL(a.help, 1);
  pgd_cli_args_free(&a);
}

static void test_parse_run_params(void) {
  pgd_cli_args_t a;
  char err[256];
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "run", "etl", "--param", "day=2026-11-22", "--params-json",
                        "{\"n\":3,\"day\":\"x\"}", "--param=expr=a=b", "--wait"),
                  0);
  CU_ASSERT_EQUAL(a.cmd, PGD_CLI_JOB_RUN);
  CU_ASSERT_STRING_EQUAL(a.arg, "etl");
  CU_ASSERT_EQUAL(a.wait, 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a.params);
  char *s = cJSON_PrintUnformatted(a.params);
  CU_ASSERT_PTR_NOT_NULL_FATAL(s);
  /* --params-json overrode day, then --param added expr (value keeps its '='). */
  CU_ASSERT_STRING_EQUAL(s, "{\"n\":3,\"day\":\"x\",\"expr\":\"a=b\"}");
  cJSON_free(s);
  pgd_cli_args_free(&a);
  CU_ASSERT_PTR_NULL(a.params);

  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "run", "etl"), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a.params);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(a.params), 0);
  CU_ASSERT_EQUAL(a.wait, 0);
  pgd_cli_args_free(&a);

  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "run", "etl", "--param", "=v"), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "run", "etl", "--param", "novalue"), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "run", "etl", "--params-json", "[1,2]"), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "run", "etl", "--params-json", "{bad"), -EINVAL);
  CU_ASSERT_PTR_NULL(a.params);
}

static void test_param_set(void) {
  cJSON *o = cJSON_CreateObject();
  CU_ASSERT_EQUAL(pgd_cli_param_set(o, "a=1"), 0);
  CU_ASSERT_EQUAL(pgd_cli_param_set(o, "a=2"), 0);
  CU_ASSERT_EQUAL(pgd_cli_param_set(o, "empty="), 0);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(o), 2);
  CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(o, "a")->valuestring, "2");
  CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(o, "empty")->valuestring, "");
  CU_ASSERT_EQUAL(pgd_cli_param_set(o, NULL), -EINVAL);
  CU_ASSERT_EQUAL(pgd_cli_param_set(NULL, "a=b"), -EINVAL);
  cJSON_Delete(o);
}

static void test_parse_id(void) {
  long long v = 0;
  CU_ASSERT_EQUAL(pgd_cli_parse_id("42", &v), 0);
  CU_ASSERT_EQUAL(v, 42);
  CU_ASSERT_EQUAL(pgd_cli_parse_id("9007199254740992", &v), 0);
  CU_ASSERT_EQUAL(pgd_cli_parse_id("9007199254740993", &v), -EINVAL);
  CU_ASSERT_EQUAL(pgd_cli_parse_id("99999999999999999999999", &v), -EINVAL);
  CU_ASSERT_EQUAL(pgd_cli_parse_id("", &v), -EINVAL);
  CU_ASSERT_EQUAL(pgd_cli_parse_id(" 1", &v), -EINVAL);
  CU_ASSERT_EQUAL(pgd_cli_parse_id("+1", &v), -EINVAL);
  CU_ASSERT_EQUAL(pgd_cli_parse_id(NULL, &v), -EINVAL);
}

static void test_urls(void) {
  char *s = pgd_cli_url_escape("a b/c?d&e=f~._-Z9ü");
  CU_ASSERT_STRING_EQUAL(s, "a%20b%2Fc%3Fd%26e%3Df~._-Z9%C3%BC");
  free(s);
  s = pgd_cli_url_escape(NULL);
  CU_ASSERT_STRING_EQUAL(s, "");
  free(s);
  s = pgd_cli_url_join("http://h:1//", "/api/v1/jobs");
  CU_ASSERT_STRING_EQUAL(s, "http://h:1/api/v1/jobs");
  free(s);
  s = pgd_cli_url_join("http://h:1", "x");
  CU_ASSERT_STRING_EQUAL(s, "http://h:1/x");
  free(s);

  pgd_cli_args_t a = {.limit = -1};
  s = pgd_cli_exec_list_path(&a);
  CU_ASSERT_STRING_EQUAL(s, "/api/v1/executions");
  free(s);
  a.state_filter = "timed_out";
  a.limit = 20;
  s = pgd_cli_exec_list_path(&a);
  CU_ASSERT_STRING_EQUAL(s, "/api/v1/executions?state=timed_out&limit=20");
  free(s);
  a.job_filter = "my job&x";
  s = pgd_cli_exec_list_path(&a);
  CU_ASSERT_STRING_EQUAL(s, "/api/v1/executions?job=my%20job%26x&state=timed_out&limit=20");
  free(s);
  a.state_filter = NULL;
  a.limit = -1;
  s = pgd_cli_exec_list_path(&a);
  CU_ASSERT_STRING_EQUAL(s, "/api/v1/executions?job=my%20job%26x");
  free(s);
  CU_ASSERT_PTR_NULL(pgd_cli_exec_list_path(NULL));
}

/* --since/--until of `exec list`: µs, RFC 3339 and durations resolved at
 * parse into since_us/until_us, sent as since=/until= µs. */
static void test_exec_list_time_window(void) {
  long long us = 0;
  const long long now = 1795600000000000LL;
  CU_ASSERT_EQUAL(pgd_cli_time_arg("1795600000000000", now, &us), 0);
  CU_ASSERT_EQUAL(us, 1795600000000000LL);
  CU_ASSERT_EQUAL(pgd_cli_time_arg("15m", now, &us), 0);
  CU_ASSERT_EQUAL(us, now - 15LL * 60 * 1000000);
  CU_ASSERT_EQUAL(pgd_cli_time_arg("7d", now, &us), 0);
  CU_ASSERT_EQUAL(us, now - 7LL * 86400 * 1000000);
  CU_ASSERT_EQUAL(pgd_cli_time_arg("2026-11-22T10:00:00Z", now, &us), 0);
  CU_ASSERT_EQUAL(us, 1795341600000000LL);
  CU_ASSERT_EQUAL(pgd_cli_time_arg("2026-11-22T11:00:00.5+01:00", now, &us), 0);
  CU_ASSERT_EQUAL(us, 1795341600500000LL);
  us = 42;
  CU_ASSERT_EQUAL(pgd_cli_time_arg("yesterday", now, &us), -EINVAL);
  CU_ASSERT_EQUAL(pgd_cli_time_arg("15x", now, &us), -EINVAL);
  CU_ASSERT_EQUAL(pgd_cli_time_arg("0", now, &us), -EINVAL);
  CU_ASSERT_EQUAL(pgd_cli_time_arg("", now, &us), -EINVAL);
  CU_ASSERT_EQUAL(us, 42);

  pgd_cli_args_t a;
  char err[256];
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "exec", "list", "--since", "2026-11-22T10:00:00Z", "--until",
                        "1795345200000000", "--job", "etl"), 0);
  CU_ASSERT_EQUAL(a.since_us, 1795341600000000LL);
  CU_ASSERT_EQUAL(a.until_us, 1795345200000000LL);
  char *s = pgd_cli_exec_list_path(&a);
  CU_ASSERT_STRING_EQUAL(s, "/api/v1/executions?job=etl&since=1795341600000000"
                            "&until=1795345200000000");
  free(s);
  pgd_cli_args_free(&a);

  long long before = (long long)pgd_now_us();
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "exec", "list", "--since=12h", "--limit", "3"), 0);
  long long after = (long long)pgd_now_us();
  const long long h12 = 12LL * 3600 * 1000000;
  CU_ASSERT(a.since_us >= before - h12 && a.since_us <= after - h12);
  CU_ASSERT_EQUAL(a.until_us, 0);
  s = pgd_cli_exec_list_path(&a);
  char want[96];
  snprintf(want, sizeof want, "/api/v1/executions?limit=3&since=%lld", a.since_us);
  CU_ASSERT_STRING_EQUAL(s, want);
  free(s);
  pgd_cli_args_free(&a);

  CU_ASSERT_EQUAL(PARSE(&a, NULL, "exec", "list", "--until", "soon"), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "--until"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "'soon'"));
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "exec", "list", "--since"), -EINVAL);
  CU_ASSERT_EQUAL(PARSE(&a, NULL, "job", "list", "--until", "1h"), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "--until"));
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("cli_args", NULL, NULL);
  CU_add_test(s, "route commands", test_route_commands);
  CU_add_test(s, "route global options", test_route_global_options);
  CU_add_test(s, "route help and version", test_route_help_version);
  CU_add_test(s, "parse addr", test_parse_addr);
  CU_add_test(s, "parse commands", test_parse_commands);
  CU_add_test(s, "parse errors", test_parse_errors);
  CU_add_test(s, "parse help", test_parse_help);
  CU_add_test(s, "parse run params", test_parse_run_params);
  CU_add_test(s, "param set", test_param_set);
  CU_add_test(s, "parse id", test_parse_id);
  CU_add_test(s, "urls", test_urls);
  CU_add_test(s, "exec list time window", test_exec_list_time_window);
  return pgd_test_run();
}
