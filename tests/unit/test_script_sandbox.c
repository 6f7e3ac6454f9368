/* Unit tests of core/script/sandbox: whitelist, limits, JSON bridge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <lauxlib.h>

#include "pgd_test.h"
#include "script/sandbox_json.h"

static pgd_sandbox_t *sb;
static char err[2048];

/* Runs `f` = env.<fname>() of a loaded chunk and returns its string result. */
typedef struct {
  int env_ref;
  const char *fname;
  char out[512];
} run_t;

static int run_fn(lua_State *L, void *ud) {
  run_t *r = ud;
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->env_ref);
  lua_getfield(L, -1, r->fname);
  lua_call(L, 0, 1);
  snprintf(r->out, sizeof r->out, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "(nil)");
  lua_pop(L, 2);
  return 0;
}

/* Loads `src` and calls its function f(); returns the call's code. */
static int load_and_call(const char *src, char *out, size_t outlen) {
  int ref;
  err[0] = '\0';
  int rc = pgd_sandbox_load(sb, "=test", src, strlen(src), NULL, NULL, &ref, err, sizeof err);
  if (rc != 0) return rc;
  run_t r = {.env_ref = ref, .fname = "f"};
  rc = pgd_sandbox_call(sb, run_fn, &r, err, sizeof err);
  if (out) snprintf(out, outlen, "%s", r.out);
  pgd_sandbox_unref(sb, ref);
  return rc;
}

static void expect_value(const char *src, const char *want) {
  char out[512] = "";
  int rc = load_and_call(src, out, sizeof out);
  if (rc != 0 || strcmp(out, want) != 0) fprintf(stderr, "\n%s -> rc %d out '%s' err '%s'\n", src, rc, out, err);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT_STRING_EQUAL(out, want);
}

/* A healthy state still computes after whatever came before. */
static void assert_still_usable(void) {
  expect_value("function f() local t = {} for i = 1, 100 do t[i] = i end return tostring(#t) end", "100");
}

static int setup(void) {
  int rc = pgd_sandbox_new("test", 200000, 1u << 20, 16u << 20, &sb, err, sizeof err);
  if (rc) fprintf(stderr, "sandbox: %d %s\n", rc, err);
  return rc;
}
static int teardown(void) {
  pgd_sandbox_free(sb);
  return 0;
}

static void test_whitelist_present(void) {
  expect_value("function f() return string.format('%d-%s', math.floor(2.5), table.concat({'a','b'}, ',')) end", "2-a,b");
  expect_value("function f() return type(os.time()) .. type(os.clock()) .. type(os.date('%Y')) end", "numbernumberstring");
  expect_value("function f() return tostring(utf8.len('h\\u{e9}')) end", "2");
  expect_value("function f() return type(collectgarbage('count')) end", "number");
  expect_value("function f() local ok = pcall(error, 'x') return tostring(ok) end", "false");
  expect_value("function f() return ('abc'):upper() end", "ABC");
}

static void test_forbidden_absent(void) {
  const char *names[] = {"io", "os.execute", "os.getenv", "os.remove", "os.exit", "load", "loadfile",
                         "dofile", "require", "package", "debug", "string.dump", "coroutine",
                         "loadstring", "module", NULL};
  for (int i = 0; names[i]; i++) {
    char src[256];
    snprintf(src, sizeof src, "function f() return type(%s) end", names[i]);
    char out[64] = "";
    int rc = load_and_call(src, out, sizeof out);
    /* Either nil, or indexing a nil table failed: never reachable. */
    if (rc == 0) {
      if (strcmp(out, "nil") != 0) fprintf(stderr, "\n%s reachable: %s\n", names[i], out);
      CU_ASSERT_STRING_EQUAL(out, "nil");
    } else {
      CU_ASSERT_EQUAL(rc, PGD_SANDBOX_ERUN);
      CU_ASSERT_PTR_NOT_NULL(strstr(err, "attempt to index a nil value"));
    }
  }
  /* Calls of the forbidden functions fail with a Lua error. */
  CU_ASSERT_EQUAL(load_and_call("function f() return io.open('/etc/passwd') end", NULL, 0), PGD_SANDBOX_ERUN);
  CU_ASSERT_EQUAL(load_and_call("function f() return os.execute('true') end", NULL, 0), PGD_SANDBOX_ERUN);
  CU_ASSERT_EQUAL(load_and_call("function f() return dofile('/etc/passwd') end", NULL, 0), PGD_SANDBOX_ERUN);
  CU_ASSERT_EQUAL(load_and_call("function f() return require('os') end", NULL, 0), PGD_SANDBOX_ERUN);
  CU_ASSERT_EQUAL(load_and_call("function f() return load('return 1')() end", NULL, 0), PGD_SANDBOX_ERUN);
  CU_ASSERT_EQUAL(load_and_call("function f() return string.dump(f) end", NULL, 0), PGD_SANDBOX_ERUN);
  /* string.dump through the string metatable, and the metatable itself. */
  CU_ASSERT_EQUAL(load_and_call("function f() return ('').dump(f) end", NULL, 0), PGD_SANDBOX_ERUN);
  expect_value("function f() return tostring(getmetatable('')) end", "false");
  CU_ASSERT_EQUAL(load_and_call("function f() return collectgarbage('collect') end", NULL, 0), PGD_SANDBOX_ERUN);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "not allowed"));
  CU_ASSERT_EQUAL(load_and_call("function f() setmetatable({}, {__gc = function() end}) end", NULL, 0), PGD_SANDBOX_ERUN);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "__gc"));
  assert_still_usable();
}

static char g_bc[4096];
static size_t g_bclen;
static int writer(lua_State *L2, const void *p, size_t sz, void *ud) {
  (void)L2;
  (void)ud;
  if (g_bclen + sz > sizeof g_bc) return 1;
  memcpy(g_bc + g_bclen, p, sz);
  g_bclen += sz;
  return 0;
}

static void test_bytecode_refused(void) {
  /* A real precompiled chunk, made by a plain Lua state. */
  lua_State *L = luaL_newstate();
  CU_ASSERT_EQUAL(luaL_loadstring(L, "function f() return 'pwned' end"), 0);
  g_bclen = 0;
  CU_ASSERT_EQUAL(lua_dump(L, writer, NULL, 0), 0);
  lua_close(L);
  CU_ASSERT(g_bclen > 4);
  int ref;
  int rc = pgd_sandbox_load(sb, "=bytecode", g_bc, g_bclen, NULL, NULL, &ref, err, sizeof err);
  CU_ASSERT_EQUAL(rc, PGD_SANDBOX_ESYNTAX);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "binary"));
  assert_still_usable();
}

static void test_budget(void) {
  CU_ASSERT_EQUAL(load_and_call("function f() while true do end end", NULL, 0), PGD_SANDBOX_EBUDGET);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "budget"));
  assert_still_usable();
  /* A pcall in the script cannot swallow the budget error. */
  CU_ASSERT_EQUAL(load_and_call("function f() while true do pcall(function() while true do end end) end end", NULL, 0),
                  PGD_SANDBOX_EBUDGET);
  assert_still_usable();
  /* Top level of a chunk is limited too. */
  int ref;
  CU_ASSERT_EQUAL(pgd_sandbox_load(sb, "=loop", "while true do end", 17, NULL, NULL, &ref, err, sizeof err),
                  PGD_SANDBOX_EBUDGET);
  assert_still_usable();
}

static void test_memory_cap(void) {
  CU_ASSERT_EQUAL(load_and_call("function f() return string.rep('x', 64 * 1024 * 1024) end", NULL, 0), PGD_SANDBOX_EMEM);
  assert_still_usable();
  CU_ASSERT_EQUAL(load_and_call("function f() local t = {} for i = 1, 1e7 do t[i] = {i} end end", NULL, 0), PGD_SANDBOX_EMEM);
  assert_still_usable();
  /* A pcall that catches the memory error still ends within the call. */
  int rc = load_and_call("function f() local ok = pcall(string.rep, 'x', 1 << 26) return tostring(ok) end", NULL, 0);
  CU_ASSERT(rc == 0 || rc == PGD_SANDBOX_EMEM);
  assert_still_usable();
  CU_ASSERT(pgd_sandbox_mem_used(sb) < (4u << 20));
}

static void test_syntax_and_runtime_errors(void) {
  int ref;
  CU_ASSERT_EQUAL(pgd_sandbox_load(sb, "@x.lua", "function (", 10, NULL, NULL, &ref, err, sizeof err), PGD_SANDBOX_ESYNTAX);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "x.lua:1"));
  CU_ASSERT_EQUAL(load_and_call("function f() local t = nil; return t.x end", NULL, 0), PGD_SANDBOX_ERUN);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "stack traceback"));
  /* Separate _ENVs: globals of one chunk are not seen by another. */
  CU_ASSERT_EQUAL(load_and_call("secret = 42; function f() return tostring(secret) end", NULL, 0), 0);
  expect_value("function f() return tostring(secret) end", "nil");
}

static int json_round(lua_State *L, void *ud) {
  cJSON **io = ud;
  pgd_sandbox_push_json(L, io[0]);
  io[1] = pgd_sandbox_to_json(L, -1, err, sizeof err);
  lua_pop(L, 1);
  return 0;
}

static void test_json(void) {
  const char *src = "{\"a\":[1,2.5,\"x\",true],\"b\":{\"c\":{}},\"n\":-3}";
  cJSON *in = cJSON_Parse(src);
  cJSON *io[2] = {in, NULL};
  CU_ASSERT_EQUAL(pgd_sandbox_call(sb, json_round, io, err, sizeof err), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(io[1]);
  CU_ASSERT(cJSON_Compare(in, io[1], 1));
  cJSON_Delete(io[1]);
  cJSON_Delete(in);
  /* Too deep JSON raises inside the protected call. */
  char deep[200];
  memset(deep, '[', 100);
  memset(deep + 100, ']', 100);
  in = cJSON_ParseWithLength(deep, 200);
  CU_ASSERT_PTR_NOT_NULL_FATAL(in);
  io[0] = in;
  io[1] = NULL;
  CU_ASSERT_EQUAL(pgd_sandbox_call(sb, json_round, io, err, sizeof err), PGD_SANDBOX_ERUN);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "deeper"));
  cJSON_Delete(in);
}

typedef struct {
  const char *expr;
  cJSON *out;
} tojson_t;
static int to_json_fn(lua_State *L, void *ud) {
  tojson_t *t = ud;
  char src[512];
  snprintf(src, sizeof src, "return %s", t->expr);
  luaL_loadstring(L, src); /* trusted test text, not a sandboxed chunk */
  lua_call(L, 0, 1);
  t->out = pgd_sandbox_to_json(L, -1, err, sizeof err);
  lua_pop(L, 1);
  return 0;
}

static void test_to_json_refusals(void) {
  const char *bad[] = {"(function() local t = {} t.self = t return t end)()", "{1, 2, nil, 4}",
                       "{1, x = 2}", "{[true] = 1}", "function() end", "0/0", "{f = function() end}",
                       "(function() local t = {} for i = 1, 40 do t = {t} end return t end)()", NULL};
  for (int i = 0; bad[i]; i++) {
    tojson_t t = {bad[i], NULL};
    CU_ASSERT_EQUAL(pgd_sandbox_call(sb, to_json_fn, &t, err, sizeof err), 0);
    if (t.out) fprintf(stderr, "\naccepted: %s\n", bad[i]);
    CU_ASSERT_PTR_NULL(t.out);
    CU_ASSERT(err[0] != '\0');
    cJSON_Delete(t.out);
  }
  /* A DAG of shared tables that would be 2^40 values is cut by the count. */
  tojson_t t = {"(function() local t = {1} for i = 1, 40 do t = {t, t} end return t end)()", NULL};
  CU_ASSERT_EQUAL(pgd_sandbox_call(sb, to_json_fn, &t, err, sizeof err), 0);
  CU_ASSERT_PTR_NULL(t.out);
  tojson_t ok = {"{}", NULL};
  CU_ASSERT_EQUAL(pgd_sandbox_call(sb, to_json_fn, &ok, err, sizeof err), 0);
  CU_ASSERT(cJSON_IsObject(ok.out));
  cJSON_Delete(ok.out);
}

/* ---- the configuration: what differs between the sandbox's users ------- */

typedef struct {
  char text[8192];
  size_t len;
  int lines;
  char name[64];
} printed_t;

static void capture_print(void *ud, const char *name, const char *line, size_t len) {
  printed_t *p = ud;
  snprintf(p->name, sizeof p->name, "%s", name);
  if (p->len + len < sizeof p->text) {
    memcpy(p->text + p->len, line, len);
    p->len += len;
    p->text[p->len] = '\0';
  }
  p->lines++;
}

typedef struct {
  int polls;
  int stop_at;
} cancel_t;

static int cancel_after(void *ud) {
  cancel_t *c = ud;
  return ++c->polls >= c->stop_at;
}

/* Runs `src` once as a chunk; *result gets the tostring of its first
 * result (or "(nil)"). */
typedef struct {
  char out[256];
} result_t;

static int keep_result(lua_State *L, void *ud) {
  result_t *r = ud;
  const char *s = luaL_tolstring(L, -1, NULL);
  snprintf(r->out, sizeof r->out, "%s", s ? s : "(nil)");
  lua_pop(L, 1);
  return 0;
}

static int run_chunk(pgd_sandbox_t *box, const char *src, result_t *r, char *trace, size_t tracelen) {
  pgd_sandbox_chunk_t ch = {.chunkname = "=chunk", .text = src, .len = strlen(src),
                            .on_result = keep_result, .result_ud = r, .trace = trace,
                            .tracelen = tracelen};
  r->out[0] = '\0';
  err[0] = '\0';
  return pgd_sandbox_run(box, &ch, err, sizeof err);
}

/* print goes to the configured target, one line per call, each argument
 * cut to print_arg_max; long arguments grow the buffer safely (issue 13). */
static void test_print_target(void) {
  printed_t p = {0};
  pgd_sandbox_config_t cfg = {.name = "printer", .print = capture_print, .print_ud = &p,
                              .print_arg_max = 1024};
  pgd_sandbox_t *box;
  CU_ASSERT_FATAL(pgd_sandbox_open(&cfg, &box, err, sizeof err) == 0);
  result_t r;
  CU_ASSERT_EQUAL(run_chunk(box, "print('a', 1, true, nil) print()", &r, NULL, 0), 0);
  CU_ASSERT_STRING_EQUAL(p.text, "a\t1\ttrue\tnil\n\n");
  CU_ASSERT_EQUAL(p.lines, 2);
  CU_ASSERT_STRING_EQUAL(p.name, "printer");
  p.len = 0;
  p.lines = 0;
  CU_ASSERT_EQUAL(run_chunk(box, "print(string.rep('x', 5000), string.rep('y', 3000), 'z')", &r, NULL, 0), 0);
  CU_ASSERT_EQUAL(p.len, 1024 + 1 + 1024 + 1 + 1 + 1);
  CU_ASSERT(p.text[0] == 'x' && p.text[1023] == 'x' && p.text[1024] == '\t' && p.text[1025] == 'y');
  CU_ASSERT(strcmp(p.text + p.len - 3, "\tz\n") == 0);
  pgd_sandbox_free(box);
  /* no cap: arguments pass whole, many of them */
  printed_t q = {0};
  cfg.print_ud = &q;
  cfg.print_arg_max = 0;
  CU_ASSERT_FATAL(pgd_sandbox_open(&cfg, &box, err, sizeof err) == 0);
  CU_ASSERT_EQUAL(run_chunk(box, "local t = {} for i = 1, 40 do t[i] = string.rep('a', 100) end "
                                 "print(table.unpack(t))", &r, NULL, 0), 0);
  CU_ASSERT_EQUAL(q.len, 40 * 100 + 39 + 1);
  pgd_sandbox_free(box);
}

/* Optional libraries, and the same whitelist otherwise. */
static void test_optional_libs(void) {
  pgd_sandbox_config_t cfg = {.name = "libs"};
  pgd_sandbox_t *box;
  result_t r;
  CU_ASSERT_FATAL(pgd_sandbox_open(&cfg, &box, err, sizeof err) == 0);
  CU_ASSERT_EQUAL(run_chunk(box, "return type(coroutine) .. type(collectgarbage) .. type(os.difftime)", &r, NULL, 0), 0);
  CU_ASSERT_STRING_EQUAL(r.out, "nilnilfunction");
  pgd_sandbox_free(box);
  cfg.libs = PGD_SANDBOX_LIB_COROUTINE | PGD_SANDBOX_LIB_GC_COUNT;
  CU_ASSERT_FATAL(pgd_sandbox_open(&cfg, &box, err, sizeof err) == 0);
  CU_ASSERT_EQUAL(run_chunk(box, "local co = coroutine.wrap(function() coroutine.yield(1) return 2 end) "
                                 "return co() + co() + (collectgarbage('count') > 0 and 10 or 0)", &r, NULL, 0), 0);
  CU_ASSERT_STRING_EQUAL(r.out, "13");
  CU_ASSERT_EQUAL(run_chunk(box, "return collectgarbage('collect')", &r, NULL, 0), PGD_SANDBOX_ERUN);
  CU_ASSERT_EQUAL(run_chunk(box, "return type(io) .. type(load) .. type(debug) .. type(string.dump)", &r, NULL, 0), 0);
  CU_ASSERT_STRING_EQUAL(r.out, "nilnilnilnil");
  pgd_sandbox_free(box);
}

/* The cancel callback is polled every PGD_SANDBOX_POLL_EVERY instructions
 * and stops the call; pcall cannot catch it. */
static void test_cancellation(void) {
  cancel_t c = {0, 5};
  pgd_sandbox_config_t cfg = {.name = "cancel", .instructions = 100000000L, .cancelled = cancel_after,
                              .cancel_ud = &c};
  pgd_sandbox_t *box;
  result_t r;
  CU_ASSERT_FATAL(pgd_sandbox_open(&cfg, &box, err, sizeof err) == 0);
  CU_ASSERT_EQUAL(run_chunk(box, "while true do pcall(function() while true do end end) end", &r, NULL, 0),
                  PGD_SANDBOX_ECANCELED);
  CU_ASSERT_STRING_EQUAL(err, "cancelled");
  CU_ASSERT_EQUAL(c.polls, 5);
  /* polling does not change the budget: 20000 instructions, polled 20 times */
  c.polls = 0;
  c.stop_at = 1000000;
  pgd_sandbox_set_limits(box, 20000, 0, 0);
  CU_ASSERT_EQUAL(run_chunk(box, "while true do end", &r, NULL, 0), PGD_SANDBOX_EBUDGET);
  CU_ASSERT_EQUAL(c.polls, 20);
  CU_ASSERT_EQUAL(run_chunk(box, "return 1 + 1", &r, NULL, 0), 0);
  CU_ASSERT_STRING_EQUAL(r.out, "2");
  pgd_sandbox_free(box);
}

/* A run's result, and its error message and traceback kept apart. */
static void test_run_result_and_trace(void) {
  pgd_sandbox_config_t cfg = {.name = "run", .plain_error_objects = 1};
  pgd_sandbox_t *box;
  result_t r;
  char trace[2048];
  CU_ASSERT_FATAL(pgd_sandbox_open(&cfg, &box, err, sizeof err) == 0);
  CU_ASSERT_EQUAL(run_chunk(box, "local t = {} for i = 1, 10 do t[i] = i end return #t", &r, trace, sizeof trace), 0);
  CU_ASSERT_STRING_EQUAL(r.out, "10");
  CU_ASSERT_EQUAL(run_chunk(box, "local x = nil\nreturn x.y", &r, trace, sizeof trace), PGD_SANDBOX_ERUN);
  CU_ASSERT_STRING_EQUAL(err, "chunk:2: attempt to index a nil value (local 'x')");
  CU_ASSERT(strncmp(trace, "stack traceback:", 16) == 0);
  CU_ASSERT_EQUAL(run_chunk(box, "error({})", &r, trace, sizeof trace), PGD_SANDBOX_ERUN);
  CU_ASSERT_STRING_EQUAL(err, "table");
  CU_ASSERT_EQUAL(run_chunk(box, "return (", &r, trace, sizeof trace), PGD_SANDBOX_ESYNTAX);
  CU_ASSERT_STRING_EQUAL(err, "chunk:1: unexpected symbol near <eof>");
  pgd_sandbox_free(box);
  /* the default: Lua's own wording, traceback appended to the message */
  pgd_sandbox_config_t lua_like = {.name = "run"};
  CU_ASSERT_FATAL(pgd_sandbox_open(&lua_like, &box, err, sizeof err) == 0);
  CU_ASSERT_EQUAL(run_chunk(box, "error({})", &r, NULL, 0), PGD_SANDBOX_ERUN);
  CU_ASSERT(strncmp(err, "(error object is a table value)\nstack traceback:", 48) == 0);
  pgd_sandbox_free(box);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("script_sandbox", setup, teardown);
  CU_add_test(s, "whitelisted functions work", test_whitelist_present);
  CU_add_test(s, "forbidden functions are absent or refused", test_forbidden_absent);
  CU_add_test(s, "bytecode is refused", test_bytecode_refused);
  CU_add_test(s, "instruction budget stops loops", test_budget);
  CU_add_test(s, "memory cap stops huge allocations", test_memory_cap);
  CU_add_test(s, "syntax and runtime errors", test_syntax_and_runtime_errors);
  CU_add_test(s, "JSON to Lua and back", test_json);
  CU_add_test(s, "Lua to JSON refusals", test_to_json_refusals);
  CU_pSuite c = CU_add_suite("script_sandbox_config", NULL, NULL);
  CU_add_test(c, "print goes to the configured target", test_print_target);
  CU_add_test(c, "optional libraries", test_optional_libs);
  CU_add_test(c, "cancellation is polled", test_cancellation);
  CU_add_test(c, "a run's result, message and traceback", test_run_result_and_trace);
  return pgd_test_run();
}
