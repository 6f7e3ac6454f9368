/* Pagoda — process figures for /metrics (metrics.h): resident memory, open
 * descriptors, CPU seconds, start time, read from /proc at scrape time only.
 * Names mirror the conventional process_* metrics under the pagoda_ prefix. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/metrics.h"
#include "common/metrics_process.h"

static double resident_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  unsigned long size = 0, rss = 0;
  int n = fscanf(f, "%lu %lu", &size, &rss);
  fclose(f);
  return n == 2 ? (double)rss * (double)sysconf(_SC_PAGESIZE) : 0;
}

static double open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return 0;
  double n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  closedir(d);
  return n - 1; /* the directory's own descriptor */
}

static double cpu_seconds(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The malloc this process runs on: jemalloc when its `mallctl` is linked
 * in (the `pagoda` executable's default, PAGODA_ALLOCATOR in CMake), else
 * glibc's. Asked of the running process rather than of the build so that
 * the label tells what is actually in use (an LD_PRELOAD included). */
static const char *allocator_name(void) {
  typedef int (*mallctl_fn)(const char *, void *, size_t *, void *, size_t);
  mallctl_fn mallctl = (mallctl_fn)(uintptr_t)dlsym(RTLD_DEFAULT, "mallctl");
  return mallctl ? "jemalloc" : "libc";
}

static void build_info(pgd_metrics_out_t *out) {
  static const char *const keys[] = {"version", "allocator"};
  const char *values[] = {PAGODA_VERSION, allocator_name()};
  pgd_metrics_out_family(out, "pagoda_build_info", PGD_METRIC_GAUGE,
                         "Always 1; the labels say this daemon's version and its malloc.");
  pgd_metrics_out_sample(out, "pagoda_build_info", 2, keys, values, 1);
}

static void collect(pgd_metrics_out_t *out, void *ud) {
  const double *start = ud;
  struct rlimit lim;
  double max_fds = getrlimit(RLIMIT_NOFILE, &lim) == 0 ? (double)lim.rlim_cur : 0;
  pgd_metrics_out_single(out, "pagoda_process_resident_memory_bytes", PGD_METRIC_GAUGE,
                         "Resident memory of this daemon process.", resident_bytes());
  pgd_metrics_out_single(out, "pagoda_process_open_fds", PGD_METRIC_GAUGE,
                         "Open file descriptors of this daemon process.", open_fds());
  pgd_metrics_out_single(out, "pagoda_process_max_fds", PGD_METRIC_GAUGE,
                         "The process's limit of open file descriptors.", max_fds);
  pgd_metrics_out_single(out, "pagoda_process_cpu_seconds_total", PGD_METRIC_COUNTER,
                         "User and system CPU time of this daemon process (its threads).",
                         cpu_seconds());
  pgd_metrics_out_single(out, "pagoda_process_start_time_seconds", PGD_METRIC_GAUGE,
                         "When this daemon process started, in seconds since the Unix epoch.",
                         *start);
  build_info(out);
}

int pgd_metrics_process_register(pgd_metrics_t *reg) {
  static double start_s;
  static int handle;
  if (handle > 0) return handle;
  struct timeval tv;
  gettimeofday(&tv, NULL);
  start_s = (double)tv.tv_sec + (double)(tv.tv_usec / 1000) / 1e3;
  handle = pgd_metrics_add_collector(reg, collect, &start_s);
  return handle;
}
