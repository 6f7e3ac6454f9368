/* Pagoda — containment internals shared by cgroup.c and proctrack.c.
 * Not a public header. */
#ifndef PAGODA_WORKER_CGROUP_INT_H
#define PAGODA_WORKER_CGROUP_INT_H

#include <sys/types.h>

#include "worker/cgroup.h"

enum { LIM_MEMORY, LIM_PIDS, LIM_CPU, LIM_COUNT };

/* An idle v2 tracking cgroup kept for the next attempt: a mkdir and an
 * rmdir per attempt cost ~150 us, which the bar of docs/benchmarks.md does
 * not allow. */
typedef struct cg_pooled {
  char *dir; /* NULL: retired (its index stays taken; reused by a new one) */
  int dir_fd, procs_fd;
  int count_fd; /* its cgroup.procs opened for reading (emptiness checks); -1 until needed */
  int busy;
  unsigned v2_limits; /* bit per LIM_* set in it by an earlier attempt */
} cg_pooled_t;

struct pgd_cgroup_root {
  pgd_contain_mode_t mode;
  char *name;
  char *track_parent;          /* per-worker parent in the tracking hierarchy */
  int track_v2;                /* tracking in the v2 hierarchy */
  char *lim_parent[LIM_COUNT]; /* per-worker parent enforcing each limit, or NULL */
  int lim_v2[LIM_COUNT];
  char marker_prefix[160];     /* "PAGODA_CONTAIN=<name>/" */
  char desc[512];
  pid_t guard;
  int guard_fd; /* write end of the guard's pipe */
  cg_pooled_t *pool; /* v2 tracking only */
  size_t npool;
  long pool_seq;
};

#define CG_MAX_DIRS (1 + LIM_COUNT)

struct pgd_cgroup {
  pgd_cgroup_root_t *r;
  char *name;
  char *dirs[CG_MAX_DIRS]; /* dirs[0]: tracking; then v1 limit cgroups */
  int ndirs;
  int join[CG_MAX_DIRS + 1]; /* cgroup.procs descriptors, -1-terminated */
  int dir_fd;                /* the v2 tracking cgroup's directory, or -1 */
  pgd_runas_cgroups_t spawn; /* what pgd_cgroup_spawn_cgroups returns */
  int mem_dir;               /* index in dirs of the memory cgroup, -1 */
  int mem_v2;
  long long oom_base;        /* oom_kill count of the memory cgroup at start */
  long pool_idx;             /* dirs[0] is root->pool[pool_idx], or -1 */
  int known_empty;           /* seen empty after the main process started:
                                it stays so (no member is left to fork) */
  int killed_by_file;        /* cgroup.kill was written to dirs[0] */
  char marker[320];
  pid_t main;
  /* PROCSCAN: every pid seen as a member (a member re-parented to the
   * subreaper stays one). */
  pid_t *seen;
  size_t nseen, capseen;
};

/* proctrack.c (PROCSCAN mode) */
int pgd_proctrack_signal(pgd_cgroup_t *cg, int sig);
int pgd_proctrack_empty(pgd_cgroup_t *cg);
void pgd_proctrack_kill_all(pgd_cgroup_t *cg);

#endif
