/* Fuzz target for the Lua sandbox (core/script/sandbox*.c): the input is a
 * Lua chunk, run in a fresh sandbox with small limits (every other input
 * with the lua job's configuration: coroutines, no time limit but a cancel
 * callback). Whatever the chunk does, the sandbox must not crash, must end
 * the call within its limits (a call longer than HANG_SECONDS aborts: an
 * escape from the budget, like the C pattern matcher was), and the state
 * must still run a trivial chunk afterwards.
 *
 * Two builds of this one file (tests/fuzz/sandbox.cmake):
 *   - libFuzzer, with clang:
 *       clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *         -I core -I /usr/include/lua5.4 tests/fuzz/fuzz_sandbox.c \
 *         core/script/sandbox.c core/script/sandbox_lib.c core/common/err.c \
 *         -llua5.4 -lm -o /tmp/fuzz_sandbox && /tmp/fuzz_sandbox -max_total_time=600
 *     (CMake: -DPAGODA_LIBFUZZER=ON with CMAKE_C_COMPILER=clang builds it as
 *     `fuzz_sandbox` and ctest runs it 5 s);
 *   - a bounded random driver (PGD_FUZZ_STANDALONE, any compiler, always
 *     built as `fuzz_sandbox_driver`; ctest runs it 5 s): it splices Lua
 *     fragments — library calls, patterns, loops, metatables, pcall, big
 *     numbers — into random chunks. `fuzz_sandbox_driver SECONDS [SEED]`. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "script/sandbox.h"

#define HANG_SECONDS 10.0

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cancel_after_deadline(void *ud) { return now_s() > *(double *)ud; }

static int ok_result(lua_State *L, void *ud) {
  *(int *)ud = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "ok") == 0;
  return 0;
}

static long inputs_run;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  double deadline = now_s() + 0.2;
  pgd_sandbox_config_t cfg = {.name = "fuzz", .instructions = 200000, .call_mem_cap = 1u << 20,
                              .state_mem_cap = 4u << 20, .print_arg_max = 64};
  if (inputs_run++ % 2) {
    cfg.libs = PGD_SANDBOX_LIB_COROUTINE; /* the lua job's sandbox */
    cfg.cancelled = cancel_after_deadline;
    cfg.cancel_ud = &deadline;
  } else {
    cfg.libs = PGD_SANDBOX_LIB_GC_COUNT; /* the master's */
    cfg.time_limit_ms = 200;
  }
  pgd_sandbox_t *sb;
  char err[512];
  if (pgd_sandbox_open(&cfg, &sb, err, sizeof err) != 0) abort();
  pgd_sandbox_chunk_t ch = {.chunkname = "=fuzz", .text = (const char *)data, .len = size};
  double t0 = now_s();
  pgd_sandbox_run(sb, &ch, err, sizeof err);
  if (now_s() - t0 > HANG_SECONDS) {
    fprintf(stderr, "fuzz_sandbox: a call ran %.1f s: %.*s\n", now_s() - t0, (int)size, (const char *)data);
    abort();
  }
  int ok = 0;
  deadline = now_s() + 5;
  pgd_sandbox_chunk_t check = {.chunkname = "=check", .text = "return 'ok'", .len = 11,
                               .on_result = ok_result, .result_ud = &ok};
  if (pgd_sandbox_run(sb, &check, err, sizeof err) != 0 || !ok) {
    fprintf(stderr, "fuzz_sandbox: state unusable after: %.*s (%s)\n", (int)size, (const char *)data, err);
    abort();
  }
  pgd_sandbox_free(sb);
  return 0;
}

#ifdef PGD_FUZZ_STANDALONE
static const char *const FRAGMENTS[] = {
    "string.find(", "string.match(", "string.gmatch(", "string.gsub(", "string.rep(",
    "string.format(", "string.byte(", "string.char(", "string.sub(", "string.pack(",
    "string.unpack(", "table.concat(", "table.sort(", "table.move(", "table.unpack(",
    "table.insert(", "utf8.char(", "utf8.len(", "utf8.codepoint(", "math.random(",
    "setmetatable(", "getmetatable(", "pcall(", "error(", "select(", "tostring(",
    "collectgarbage(", "coroutine.wrap(", "coroutine.resume(", "print(", "os.date(",
    "'.-.-.-b'", "'(.-)%1'", "'%b()'", "'%f[%a]'", "'[%a-z]*'", "'^(.*)$'", "'[^'",
    "'%'", "'(()'", "'%g+'", "string.rep('a', 600)", "string.rep('(', 1000)",
    "2^40", "2^63", "-1", "0", "1", "1e308", "0/0", "math.maxinteger", "math.mininteger",
    "{}", "{1,2,3}", "{__gc = function() end}", "{__index = function(t, k) return k end}",
    "{__close = function() while true do end end}", "function(a, b) return a < b end",
    "function() while true do end end", "function(...) return ... end", "nil", "true",
    "'%999d'", "'%99.99f'", "'%q'", "'%s'", "'i16'", "'!<i3'", "...", "#", "..", ",", ")",
    "(", "[", "]", "=", "local x = ", "return ", " end ", " do ", "while true do ",
    "for i = 1, 1e9 do ", "if x then ", "local t <close> = ", " x ", " t ", "\n", ";", ":", "x:gsub(",
};

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 5;
  unsigned seed = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : (unsigned)time(NULL);
  srand(seed);
  printf("fuzz_sandbox_driver: seed %u, %.0f s\n", seed, seconds);
  fflush(stdout);
  size_t nfrag = sizeof FRAGMENTS / sizeof FRAGMENTS[0];
  double end = now_s() + seconds;
  char buf[4096];
  while (now_s() < end) {
    size_t len = 0;
    int pieces = 1 + rand() % 24;
    for (int i = 0; i < pieces; i++) {
      const char *f = FRAGMENTS[rand() % nfrag];
      size_t fl = strlen(f);
      if (len + fl + 1 >= sizeof buf) break;
      memcpy(buf + len, f, fl);
      len += fl;
      if (rand() % 8 == 0 && len + 1 < sizeof buf) buf[len++] = (char)(rand() % 256); /* a stray byte */
    }
    LLVMFuzzerTestOneInput((const uint8_t *)buf, len);
  }
  printf("fuzz_sandbox_driver: %ld inputs, no crash, no hang\n", inputs_run);
  return 0;
}
#endif
