/* Unit tests of the sandbox's real limits (issue 13): C library functions
 * whose loops execute no Lua instruction (pattern matching, plain find,
 * table.move) stop within the instruction budget or the wall-clock limit
 * with a clear error, instead of running for minutes; the stock results are
 * unchanged for ordinary patterns; string.rep and friends meet the memory
 * cap; the wall-clock limit stops a call whose instructions are slow. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <lauxlib.h>

#include "pgd_test.h"
#include "script/sandbox.h"

static char err[2048];

typedef struct {
  char out[512];
} result_t;

static int keep_result(lua_State *L, void *ud) {
  result_t *r = ud;
  snprintf(r->out, sizeof r->out, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "(nil)");
  return 0;
}

static int run(pgd_sandbox_t *box, const char *src, result_t *r) {
  memset(r, 0, sizeof *r);
  err[0] = '\0';
  pgd_sandbox_chunk_t ch = {.chunkname = "=t", .text = src, .len = strlen(src),
                            .on_result = keep_result, .result_ud = r};
  return pgd_sandbox_run(box, &ch, err, sizeof err);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The host's defaults: 1,000,000 instructions and one second per call. */
static pgd_sandbox_t *host_box(void) {
  pgd_sandbox_t *box = NULL;
  CU_ASSERT_FATAL(pgd_sandbox_new("bounded", 0, 0, 0, &box, err, sizeof err) == 0);
  return box;
}

/* Each of these runs for minutes with the stock library. Each must end
 * with the budget error, well within the one-second time limit plus a
 * margin for a loaded machine; pcall cannot swallow it. */
static void test_pathological_patterns_stop(void) {
  static const char *const scripts[] = {
      "return string.find(string.rep('a', 600), '.-.-.-b')",
      "return (string.rep('a', 600)):match('.-.-.-.-b')",
      "return select(2, string.gsub(string.rep('a', 2000), '.-.-.-b', 'x'))",
      "for w in string.gmatch(string.rep('a', 600), '.-.-.-b') do end return 'done'",
      "return string.find(string.rep('a', 600), '(.-)(.-)(.-)b')",
      "return string.find(string.rep('a', 600), '.*.*.*b')",
      "local ok = pcall(string.find, string.rep('a', 600), '.-.-.-b') return tostring(ok)",
      /* plain find is O(n*m) in memcmp: 2 MiB haystack, 1 MiB needle */
      "local h = string.rep('a', 2^21) local n = string.rep('a', 2^20) .. 'b' "
      "return string.find(h, n, 1, true)",
      /* %b over a long unbalanced run, from every start position */
      "return string.find(string.rep('(', 100000), '%b()')",
      /* table.move over 2^40 nils allocates nothing */
      "table.move({}, 1, 2^40, 2) return 'moved'",
      NULL};
  pgd_sandbox_t *box = host_box();
  result_t r;
  for (int i = 0; scripts[i]; i++) {
    double t0 = now_s();
    int rc = run(box, scripts[i], &r);
    double took = now_s() - t0;
    if (rc != PGD_SANDBOX_EBUDGET) fprintf(stderr, "\n%s -> %d %s (%s)\n", scripts[i], rc, err, r.out);
    CU_ASSERT_EQUAL(rc, PGD_SANDBOX_EBUDGET);
    CU_ASSERT(strstr(err, "exceeded") != NULL);
    CU_ASSERT(took < 5.0); /* 1 s limit; generous margin for a loaded machine */
  }
  /* the state is still usable afterwards */
  CU_ASSERT_EQUAL(run(box, "return tostring(#string.rep('x', 10))", &r), 0);
  CU_ASSERT_STRING_EQUAL(r.out, "10");
  pgd_sandbox_free(box);
}

/* Ordinary uses give the stock library's results. */
static void test_ordinary_results_unchanged(void) {
  static const char *const cases[][2] = {
      {"return table.concat({string.find('hello world', 'o w')}, ',')", "5,7"},
      {"return table.concat({string.find('hello world', 'l+')}, ',')", "3,4"},
      {"return table.concat({string.find('a.b', '.', 1, true)}, ',')", "2,2"},
      {"return string.match('key=value', '(%w+)=(%w+)')", "key"},
      {"return select(2, string.match('key=value', '(%w+)=(%w+)'))", "value"},
      {"return (string.gsub('hello world', 'o', '0'))", "hell0 w0rld"},
      {"return (string.gsub('abc', '%w', '%0%0'))", "aabbcc"},
      {"return (string.gsub('$name is $age', '%$(%w+)', {name='x', age=3}))", "x is 3"},
      {"return (string.gsub('abc', '.', function(c) return c:upper() end))", "ABC"},
      {"local t = {} for k, v in string.gmatch('a=1, b=2', '(%w+)=(%w+)') do t[#t+1] = k .. v end "
       "return table.concat(t, ';')", "a1;b2"},
      {"return tostring(string.find('THE (quick) fox', '%((%a+)%)'))", "5"},
      {"return string.match(' x ', '^%s*(.-)%s*$')", "x"},
      {"return tostring(('abc'):find('b'))", "2"},
      {"return string.match('f(a(b)c)', '%b()')", "(a(b)c)"},
      {"return string.match('THE (quick) fox', '%f[%a]%a+', 5)", "quick"},
      {"return table.concat(table.move({1, 2, 3}, 1, 3, 2), ',')", "1,1,2,3"},
      {"return tostring(select('#', string.find('abc', 'x')))", "1"},
      {NULL, NULL}};
  pgd_sandbox_t *box = host_box();
  result_t r;
  for (int i = 0; cases[i][0]; i++) {
    int rc = run(box, cases[i][0], &r);
    if (rc != 0 || strcmp(r.out, cases[i][1]) != 0)
      fprintf(stderr, "\n%s -> %d '%s' (%s)\n", cases[i][0], rc, r.out, err);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_STRING_EQUAL(r.out, cases[i][1]);
  }
  /* errors of malformed patterns are the stock ones */
  CU_ASSERT_EQUAL(run(box, "return string.find('a', '[a')", &r), PGD_SANDBOX_ERUN);
  CU_ASSERT(strstr(err, "malformed pattern (missing ']')") != NULL);
  pgd_sandbox_free(box);
}

/* Functions that build big strings meet the memory cap, quickly. */
static void test_memory_bound_functions(void) {
  static const char *const scripts[] = {
      "return #string.rep('a', 2^28)",
      "return #string.rep('ab', 2^26, ',')",
      "local t = {} for i = 1, 64 do t[i] = string.rep('x', 2^20) end return #table.concat(t)",
      "local s = 'x' for i = 1, 40 do s = s .. s end return #s",
      "return #string.format('%s%s', string.rep('a', 2^22), string.rep('a', 2^22))",
      NULL};
  pgd_sandbox_t *box = host_box();
  result_t r;
  for (int i = 0; scripts[i]; i++) {
    double t0 = now_s();
    int rc = run(box, scripts[i], &r);
    if (rc != PGD_SANDBOX_EMEM) fprintf(stderr, "\n%s -> %d %s (%s)\n", scripts[i], rc, err, r.out);
    CU_ASSERT_EQUAL(rc, PGD_SANDBOX_EMEM);
    CU_ASSERT(now_s() - t0 < 5.0);
  }
  /* width and precision of string.format are capped at two digits by Lua */
  CU_ASSERT_EQUAL(run(box, "return string.format('%999d', 1)", &r), PGD_SANDBOX_ERUN);
  CU_ASSERT_EQUAL(run(box, "return #string.format('%99d', 1)", &r), 0);
  CU_ASSERT_STRING_EQUAL(r.out, "99");
  pgd_sandbox_free(box);
}

/* Loops that call back into Lua are stopped by the count hook, even in a
 * C function's loop (table.sort's comparator, gsub's function). */
static void test_callbacks_into_lua_are_counted(void) {
  static const char *const scripts[] = {
      "local t = {} for i = 1, 5000 do t[i] = i end "
      "table.sort(t, function(a, b) for k = 1, 1000 do end return a < b end) return 'sorted'",
      "return (string.gsub(string.rep('a', 100000), '.', function(c) for k = 1, 100 do end return c end))",
      NULL};
  pgd_sandbox_t *box = host_box();
  result_t r;
  for (int i = 0; scripts[i]; i++) {
    CU_ASSERT_EQUAL(run(box, scripts[i], &r), PGD_SANDBOX_EBUDGET);
    CU_ASSERT_STRING_EQUAL(err, "instruction budget exceeded");
  }
  /* an inconsistent comparator is Lua's own error, not a hang */
  CU_ASSERT_NOT_EQUAL(run(box, "local t = {} for i = 1, 1000 do t[i] = i end "
                               "table.sort(t, function() return true end) return 'x'", &r), PGD_SANDBOX_EBUDGET);
  pgd_sandbox_free(box);
}

/* The wall-clock limit stops a call whose budget is large but slow work
 * (many charged pattern steps), with its own message, and counts per call. */
static void test_time_limit(void) {
  pgd_sandbox_config_t cfg = {.name = "timed", .instructions = 1L << 40, .time_limit_ms = 200};
  pgd_sandbox_t *box;
  CU_ASSERT_FATAL(pgd_sandbox_open(&cfg, &box, err, sizeof err) == 0);
  result_t r;
  double t0 = now_s();
  CU_ASSERT_EQUAL(run(box, "while true do pcall(string.find, string.rep('a', 600), '.-.-.-b') end", &r),
                  PGD_SANDBOX_EBUDGET);
  double took = now_s() - t0;
  CU_ASSERT_STRING_EQUAL(err, "time limit exceeded (200 ms)");
  CU_ASSERT(took >= 0.19);
  CU_ASSERT(took < 5.0);
  t0 = now_s();
  CU_ASSERT_EQUAL(run(box, "while true do end", &r), PGD_SANDBOX_EBUDGET);
  CU_ASSERT_STRING_EQUAL(err, "time limit exceeded (200 ms)");
  CU_ASSERT(now_s() - t0 < 5.0);
  /* the next call has its own 200 ms */
  CU_ASSERT_EQUAL(run(box, "return 'fine'", &r), 0);
  CU_ASSERT_STRING_EQUAL(r.out, "fine");
  /* no limit: the lua job's configuration */
  pgd_sandbox_set_time_limit(box, 0);
  pgd_sandbox_set_limits(box, 2000000, 0, 0);
  CU_ASSERT_EQUAL(run(box, "while true do end", &r), PGD_SANDBOX_EBUDGET);
  CU_ASSERT_STRING_EQUAL(err, "instruction budget exceeded");
  pgd_sandbox_free(box);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("script_bounded", NULL, NULL);
  CU_add_test(s, "pathological patterns stop within the budget", test_pathological_patterns_stop);
  CU_add_test(s, "ordinary pattern results unchanged", test_ordinary_results_unchanged);
  CU_add_test(s, "string builders meet the memory cap", test_memory_bound_functions);
  CU_add_test(s, "callbacks into Lua are counted", test_callbacks_into_lua_are_counted);
  CU_add_test(s, "wall-clock time limit", test_time_limit);
  return pgd_test_run();
}
