/* Pagoda benchmark — how fast this machine spawns /bin/true with posix_spawn,
 * keeping a fixed number of children in flight (default 2). It is the
 * yardstick of bench/bench_throughput.py: Pagoda's job rate is printed as a
 * fraction of this raw spawn rate, measured in the same run.
 *
 * Usage: bench_spawn_rate [N [IN_FLIGHT [PROGRAM]]]   (defaults 2000, 2, /bin/true)
 * Output: a human line, then a line "spawns_per_s=<float>" for scripts.
 * Exit: 0, or 1 if a spawn or a wait failed (the message says which).
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "lib/bench_util.h"

extern char **environ;

static long parse_pos(const char *s, const char *what) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < 1 || v > 100000000L) {
    fprintf(stderr, "bench_spawn_rate: %s must be a positive integer, not '%s'\n", what, s);
    exit(2);
  }
  return v;
}

static int spawn_one(const char *prog) {
  pid_t pid;
  char *argv[] = {(char *)prog, NULL};
  int rc = posix_spawn(&pid, prog, NULL, NULL, argv, environ);
  if (rc != 0) {
    fprintf(stderr, "bench_spawn_rate: posix_spawn %s: %s\n", prog, strerror(rc));
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? parse_pos(argv[1], "N") : 2000;
  long in_flight = argc > 2 ? parse_pos(argv[2], "IN_FLIGHT") : 2;
  const char *prog = argc > 3 ? argv[3] : "/bin/true";

  long started = 0, finished = 0, bad_exit = 0;
  double t0 = bench_now_s();
  while (started < n && started < in_flight) {
    if (spawn_one(prog) < 0) return 1;
    started++;
  }
  while (finished < started) {
    int status;
    pid_t p = waitpid(-1, &status, 0);
    if (p < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "bench_spawn_rate: waitpid: %s\n", strerror(errno));
      return 1;
    }
    finished++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) bad_exit++;
    if (started < n) {
      if (spawn_one(prog) < 0) return 1;
      started++;
    }
  }
  double dt = bench_now_s() - t0;
  double rate = (double)n / dt;
  printf("spawn_rate: %ld spawns of %s, %ld in flight, %.3f s, %.0f spawns/s, %.1f us each%s\n", n,
         prog, in_flight, dt, rate, dt / (double)n * 1e6,
         bad_exit ? " (some exits were not 0)" : "");
  printf("spawns_per_s=%.1f\n", rate);
  return bad_exit ? 1 : 0;
}
