/* A bounded random-input driver for the libFuzzer targets of tests/fuzz,
 * used when the build is not a clang -fsanitize=fuzzer build (the default:
 * gcc, and the ASan build). It calls the same LLVMFuzzerTestOneInput with
 * the seed files, then with mutations of them, until a time or run budget
 * is spent:
 *
 *   fuzz_X [-max_total_time=SECONDS] [-runs=N] [-seed=N] [-max_len=N] [CORPUS_DIR|FILE]...
 *
 * Mutations: bit flips, random bytes, inserted or deleted ranges, repeated
 * ranges, dictionary tokens (a target may define fuzz_dictionary()) and
 * splices of two seeds. The run is reproducible from its seed (printed).
 * When a signal or a sanitizer ends the process, the input under test is
 * written to ./crash-<target>-<pid>.bin first. docs/testing.md ("Fuzzing")
 * says how to run longer and how to build with libFuzzer instead. */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Optional per-target tokens, NULL-terminated. */
const char *const *fuzz_dictionary(void) __attribute__((weak));
/* Present in sanitizer builds. */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

typedef struct {
  uint8_t *data;
  size_t len;
} input_t;

static input_t *seeds;
static size_t nseeds;
static const uint8_t *current;
static size_t current_len;
static const char *target_name = "fuzz";

static void save_current(void) {
  char path[128];
  snprintf(path, sizeof path, "crash-%s-%d.bin", target_name, (int)getpid());
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return;
  if (current && current_len) {
    ssize_t w = write(fd, current, current_len);
    (void)w;
  }
  close(fd);
  static const char msg[] = "fuzz driver: the input under test was saved as crash-*.bin\n";
  ssize_t w = write(2, msg, sizeof msg - 1);
  (void)w;
}

static void on_signal(int sig) {
  save_current();
  signal(sig, SIG_DFL);
  raise(sig);
}

static void add_seed(const uint8_t *d, size_t n) {
  input_t *s = realloc(seeds, (nseeds + 1) * sizeof *seeds);
  if (!s) abort();
  seeds = s;
  seeds[nseeds].data = malloc(n ? n : 1);
  if (!seeds[nseeds].data) abort();
  memcpy(seeds[nseeds].data, d, n);
  seeds[nseeds].len = n;
  nseeds++;
}

static void load_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return;
  uint8_t buf[65536];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  add_seed(buf, n);
}

static void load_path(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "fuzz driver: cannot read %s\n", path);
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) {
    load_file(path);
    return;
  }
  DIR *d = opendir(path);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", path, e->d_name);
    load_file(p);
  }
  closedir(d);
}

/* xorshift64*: deterministic from the seed. */
static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ULL;
}
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

static const char *const interesting[] = {
    "null", "true", "false", "0", "-1", "1e308", "-0", "4294967296", "9007199254740993",
    "\"\"", "[]", "{}", "\"\\u0000\"", "\"\\ud800\"", "\xff", "\xc3\x28", ",", ":", "\"", "{", "}", "[", "]",
    NULL};

static size_t mutate(uint8_t *buf, size_t len, size_t cap) {
  int steps = 1 + (int)below(6);
  const char *const *dict = fuzz_dictionary ? fuzz_dictionary() : NULL;
  size_t ndict = 0;
  while (dict && dict[ndict]) ndict++;
  for (int s = 0; s < steps; s++) {
    switch (below(8)) {
      case 0: /* flip a bit */
        if (len) buf[below(len)] ^= (uint8_t)(1u << below(8));
        break;
      case 1: /* random byte */
        if (len) buf[below(len)] = (uint8_t)rnd();
        break;
      case 2: { /* delete a range */
        if (!len) break;
        size_t at = below(len), n = 1 + below(len - at < 16 ? len - at : 16);
        memmove(buf + at, buf + at + n, len - at - n);
        len -= n;
        break;
      }
      case 3: { /* insert random bytes */
        size_t n = 1 + below(8);
        if (len + n > cap) break;
        size_t at = below(len + 1);
        memmove(buf + at + n, buf + at, len - at);
        for (size_t i = 0; i < n; i++) buf[at + i] = (uint8_t)rnd();
        len += n;
        break;
      }
      case 4: { /* repeat a range */
        if (!len) break;
        size_t at = below(len), n = 1 + below(len - at < 64 ? len - at : 64);
        if (len + n > cap) break;
        size_t to = below(len + 1);
        uint8_t tmp[64];
        memcpy(tmp, buf + at, n);
        memmove(buf + to + n, buf + to, len - to);
        memcpy(buf + to, tmp, n);
        len += n;
        break;
      }
      case 5:
      case 6: { /* a token */
        const char *tok = (ndict && below(3)) ? dict[below(ndict)]
                                              : interesting[below(sizeof interesting / sizeof *interesting - 1)];
        size_t n = strlen(tok);
        if (len + n > cap) break;
        size_t at = below(len + 1);
        if (below(2) && len) { /* overwrite */
          size_t over = at + n <= len ? n : len - at;
          memmove(buf + at + n, buf + at + over, len - at - over);
          len = len - over;
        } else {
          memmove(buf + at + n, buf + at, len - at);
        }
        memcpy(buf + at, tok, n);
        len += n;
        break;
      }
      default: { /* splice with another seed */
        const input_t *o = &seeds[below(nseeds)];
        if (!o->len) break;
        size_t from = below(o->len), n = 1 + below(o->len - from);
        size_t at = below(len + 1);
        if (at + n > cap) n = cap - at;
        memcpy(buf + at, o->data + from, n);
        if (at + n > len) len = at + n;
        break;
      }
    }
  }
  return len;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  double max_time = 5;
  long long runs = -1;
  size_t max_len = 4096;
  uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
  const char *slash = strrchr(argv[0], '/');
  target_name = slash ? slash + 1 : argv[0];
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "-max_total_time=", 16)) max_time = atof(argv[i] + 16);
    else if (!strncmp(argv[i], "-runs=", 6)) runs = atoll(argv[i] + 6);
    else if (!strncmp(argv[i], "-seed=", 6)) seed = strtoull(argv[i] + 6, NULL, 10);
    else if (!strncmp(argv[i], "-max_len=", 9)) max_len = (size_t)atol(argv[i] + 9);
    else if (argv[i][0] == '-') fprintf(stderr, "fuzz driver: ignoring %s (libFuzzer only)\n", argv[i]);
    else load_path(argv[i]);
  }
  if (!seed) seed = 1;
  rng_state = seed;
  if (max_len < 16) max_len = 16;
  signal(SIGSEGV, on_signal);
  signal(SIGBUS, on_signal);
  signal(SIGFPE, on_signal);
  signal(SIGILL, on_signal);
  signal(SIGABRT, on_signal);
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(save_current);
  if (!nseeds) add_seed((const uint8_t *)"", 0);
  fprintf(stderr, "fuzz driver %s: %zu seeds, seed=%llu, max_total_time=%g, runs=%lld\n", target_name,
          nseeds, (unsigned long long)seed, max_time, runs);
  long long done = 0;
  for (size_t i = 0; i < nseeds; i++, done++) {
    current = seeds[i].data;
    current_len = seeds[i].len;
    LLVMFuzzerTestOneInput(seeds[i].data, seeds[i].len);
  }
  uint8_t *buf = malloc(max_len);
  if (!buf) abort();
  double start = now_s();
  while ((runs < 0 || done < runs) && now_s() - start < max_time) {
    const input_t *s = &seeds[below(nseeds)];
    size_t len = s->len < max_len ? s->len : max_len;
    memcpy(buf, s->data, len);
    len = mutate(buf, len, max_len);
    current = buf;
    current_len = len;
    LLVMFuzzerTestOneInput(buf, len);
    done++;
  }
  current = NULL;
  fprintf(stderr, "fuzz driver %s: %lld inputs in %.1f s, no crash\n", target_name, done, now_s() - start);
  free(buf);
  for (size_t i = 0; i < nseeds; i++) free(seeds[i].data);
  free(seeds);
  return 0;
}
