/* Pagoda — system-call-only helpers of the containment (cgroup.c,
 * proctrack.c and the guard process). Not a public header.
 *
 * Every function here uses only system calls and stack buffers (no malloc,
 * no stdio, no locks), so the guard process — a fork of a possibly
 * multi-threaded worker — may call them. Paths longer than PATH_MAX fail
 * with -ENAMETOOLONG. */
#ifndef PAGODA_WORKER_CGROUP_SYS_H
#define PAGODA_WORKER_CGROUP_SYS_H

#include <stddef.h>
#include <sys/types.h>

/* dst = a + b (+ c when not NULL); 0 or -ENAMETOOLONG. */
int cgs_join(char *dst, size_t cap, const char *a, const char *b, const char *c);

/* Writes `s` to `dir`/`file`; 0 or -errno. */
int cgs_write(const char *dir, const char *file, const char *s);

/* Reads `dir`/`file` into buf (NUL-terminated, truncated to cap-1);
 * returns the length or -errno. */
ssize_t cgs_read(const char *dir, const char *file, char *buf, size_t cap);

/* Calls fn(pid, ud) for every pid in `dir`/cgroup.procs; returns the number
 * of pids or -errno. */
int cgs_procs_foreach(const char *dir, void (*fn)(pid_t pid, void *ud), void *ud);
/* The same over `fd`, a cgroup.procs opened for reading (borrowed), read
 * from offset 0 with pread: the kernel lists the members afresh on every
 * read from 0, so one descriptor serves any number of checks. */
int cgs_procs_foreach_fd(int fd, void (*fn)(pid_t pid, void *ud), void *ud);

/* Calls fn(name, ud) for every subdirectory of `dir` (not . and ..);
 * returns the number or -errno. */
int cgs_subdirs_foreach(const char *dir, void (*fn)(const char *name, void *ud), void *ud);

/* SIGKILLs every process of the cgroup `dir` (cgroup.kill when present,
 * else each pid, repeated) and waits up to `wait_ms` for it to be empty.
 * Returns the number of processes it found at the start (>= 0), or
 * -EBUSY when it is still populated after wait_ms, or -errno. */
int cgs_kill_cgroup(const char *dir, int wait_ms);

/* SIGKILLs every process (other than the caller) whose environment holds
 * an entry starting with `prefix` ("PAGODA_CONTAIN=w1/"), `rounds` times
 * 10 ms apart (to catch processes forked meanwhile). Returns the number of
 * processes killed in the first round. */
int cgs_kill_by_env(const char *prefix, int rounds);

/* 1 when /proc/<pid>/environ holds an entry starting with `prefix`. */
int cgs_environ_has(pid_t pid, const char *prefix);

/* Sleeps `ms` milliseconds (nanosleep, EINTR restarted). */
void cgs_sleep_ms(int ms);

#endif
