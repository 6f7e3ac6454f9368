/* Pagoda benchmarks — small helpers every bench shares: a monotonic clock in
 * seconds, CPU and memory figures from /proc, free loopback ports, removing
 * a temporary directory, raising the descriptor limit.
 *
 * Thread rules: every function is safe from any thread (no shared state),
 * except bench_free_port, which calls rand(). Part of the static library
 * pgd_bench (bench/CMakeLists.txt); not installed. */
#ifndef PAGODA_BENCH_UTIL_H
#define PAGODA_BENCH_UTIL_H

#include <sys/types.h>

/* Monotonic time in seconds. */
double bench_now_s(void);

/* User + system CPU time of process `pid` in clock ticks (sysconf
 * _SC_CLK_TCK per second), from /proc/PID/stat. 0, or a negative errno. */
int bench_proc_cpu_ticks(pid_t pid, unsigned long long *ticks);

/* Resident set size of process `pid` in KiB (/proc/PID/status), or -1. */
long bench_proc_rss_kb(pid_t pid);

/* Resident set size of this process in KiB (/proc/self/statm), or 0. */
long bench_self_rss_kb(void);

/* User + system CPU seconds of this process (getrusage). */
double bench_self_cpu_s(void);

/* A TCP port in [20000, 32000) free on 127.0.0.1 right now (a race with
 * another program remains possible), or -1. Seed rand() first. */
int bench_free_port(void);

/* 1 when something accepts TCP connections on 127.0.0.1:port, else 0. */
int bench_port_open(int port);

/* rm -rf `dir` (a directory this bench created). Returns system()'s status. */
int bench_rm_rf(const char *dir);

/* Raises the soft RLIMIT_NOFILE to the hard limit. Returns 0 when at least
 * `need` descriptors fit, else -1 with a message on stderr. */
int bench_raise_nofile(long need);

#endif
