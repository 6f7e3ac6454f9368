/* Pagoda — containment of attempts: every attempt's process tree is held
 * in one place so that kill, timeout, the end of its main process and the
 * loss of the worker kill all of it (like Slurm's proctrack/cgroup and
 * systemd's KillMode=control-group), and its limits are enforced there.
 *
 * Two modes, chosen once per worker (pgd_cgroup_root_open):
 *
 *   PGD_CONTAIN_CGROUP  each attempt gets its own cgroup, a child of a
 *     per-worker parent `<base>/pagoda-<name>` where <base> is the worker's
 *     own cgroup (or cgroup_root). The cgroup v2 hierarchy tracks the tree
 *     (also when it has no controller, as on hybrid hosts where it is
 *     mounted at /sys/fs/cgroup/unified); a kill writes cgroup.kill (Linux
 *     >= 5.14; older: every pid of cgroup.procs, repeated until empty). On a
 *     v1-only host a v1 hierarchy (pids, else memory, cpu, freezer) tracks.
 *     Limits use the v2 controller when the parent can enable it, else the
 *     v1 memory / pids / cpu hierarchy; a limit the host cannot enforce is
 *     skipped with a warning (pgd_cgroup_create's `skipped`).
 *     The child is created in its v2 cgroup (clone3 with CLONE_INTO_CGROUP;
 *     a write to cgroup.procs would migrate it, which waits for an RCU
 *     grace period, ~3 ms, with the worker suspended) and joins the v1
 *     cgroups of its limits by writing "0" to their cgroup.procs before
 *     exec (pgd_cgroup_spawn_cgroups).
 *
 *   PGD_CONTAIN_PROCSCAN  no cgroup access (not root, no writable
 *     hierarchy) or use_cgroups = 0: the worker becomes a child subreaper
 *     (PR_SET_CHILD_SUBREAPER: orphans of a job are re-parented to it, not
 *     to init) and a tree is found by scanning /proc: processes whose
 *     environment holds the attempt's marker (pgd_cgroup_marker, put in the
 *     job's environment), whose parent chain leads to the main pid, that
 *     are in its process group, or that were seen as members before. A
 *     process that both clears its environment and leaves the tree before
 *     a scan escapes; no limit is enforced. Re-parented job processes that
 *     died (outside the worker's process group) are reaped by the scans.
 *
 * Loss of the worker: pgd_cgroup_root_open starts a guard process (a fork
 * of the worker that only makes system calls) holding the read end of a
 * pipe; when the worker dies, even by SIGKILL, the guard sees EOF and kills
 * every attempt tree of this worker, then exits. A new start of the same
 * worker (same name) also kills what a previous run left (guard killed too).
 *
 * Thread rules: a root and its cgroups are used from one thread (the
 * worker's loop); nothing here blocks for long except root open/close
 * (cleanup of leftovers, bounded) and pgd_cgroup_destroy (bounded). */
#ifndef PAGODA_WORKER_CGROUP_H
#define PAGODA_WORKER_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "worker/runas.h"

typedef struct pgd_cgroup_root pgd_cgroup_root_t;
typedef struct pgd_cgroup pgd_cgroup_t;

typedef enum {
  PGD_CONTAIN_CGROUP = 1,
  PGD_CONTAIN_PROCSCAN = 2,
} pgd_contain_mode_t;

/* Limits of one attempt; each 0 = none. */
typedef struct pgd_cgroup_limits {
  int64_t memory_mb;
  double cpus;
  int64_t pids;
} pgd_cgroup_limits_t;

typedef struct pgd_cgroup_root_config {
  int use_cgroups;         /* 0: PROCSCAN even when cgroups are usable */
  const char *cgroup_root; /* NULL/"": the worker's own cgroup in each
                              hierarchy; else a path inside each hierarchy
                              ("/pagoda"), created when missing */
  const char *name;        /* this worker instance, [A-Za-z0-9._-], <= 100
                              chars: the same name on a restart finds and
                              kills what the previous run left */
  int no_guard;            /* 1: no guard process (unit tests of the module) */
} pgd_cgroup_root_config_t;

/* Opens containment for a worker: finds the hierarchies, creates the
 * per-worker parent, kills and removes what a previous run of the same
 * name left (*leftovers, nullable, gets the number of processes killed),
 * starts the guard. Falls back to PROCSCAN (with a reason logged at INFO)
 * when no hierarchy is writable. Returns 0 and *out (owned: root_close), or
 * a negative errno with a message (-EINVAL bad name, -ENOMEM). */
int pgd_cgroup_root_open(const pgd_cgroup_root_config_t *cfg, pgd_cgroup_root_t **out,
                         int *leftovers, char *err, size_t errlen);

/* Stops the guard (which kills whatever attempt tree is still there),
 * removes the per-worker parent and frees the root. Every pgd_cgroup_t of
 * it must have been destroyed. NULL is fine. */
void pgd_cgroup_root_close(pgd_cgroup_root_t *r);

pgd_contain_mode_t pgd_cgroup_root_mode(const pgd_cgroup_root_t *r);

/* One line describing the mode, the tracking hierarchy and where each
 * limit is enforced (borrowed, valid while the root lives). */
const char *pgd_cgroup_root_describe(const pgd_cgroup_root_t *r);

/* The guard's pid (tests), or -1. */
pid_t pgd_cgroup_root_guard_pid(const pgd_cgroup_root_t *r);

/* Creates the containment of one attempt, `name` ([A-Za-z0-9._-]) unique
 * among the worker's live attempts; `lim` nullable. A limit the host cannot
 * enforce is skipped and named in `skipped` ("cpus (no cpu controller)",
 * "" when none; nullable). Returns 0 and *out (owned: pgd_cgroup_destroy)
 * or a negative errno with a message. */
int pgd_cgroup_create(pgd_cgroup_root_t *r, const char *name, const pgd_cgroup_limits_t *lim,
                      pgd_cgroup_t **out, char *skipped, size_t skippedlen, char *err,
                      size_t errlen);

/* Where the attempt's process must start (runas.h; owned by `cg`, valid
 * until pgd_cgroup_set_main): in the v2 cgroup directly (clone3 with
 * CLONE_INTO_CGROUP) when the tracking hierarchy is v2, and in the v1
 * cgroups of its limits by writing to their cgroup.procs. Nothing to join
 * in PROCSCAN mode. */
const pgd_runas_cgroups_t *pgd_cgroup_spawn_cgroups(const pgd_cgroup_t *cg);

/* "PAGODA_CONTAIN=<worker name>/<attempt name>": to put in the job's
 * environment (both modes; PROCSCAN finds the tree by it). Borrowed. */
const char *pgd_cgroup_marker(const pgd_cgroup_t *cg);

/* The attempt's main process, once started (PROCSCAN follows its children). */
void pgd_cgroup_set_main(pgd_cgroup_t *cg, pid_t pid);

/* Sends `sig` to every process of the tree (SIGKILL through cgroup.kill
 * when there is one). Returns the number of processes signalled (for
 * cgroup.kill: 1 when it was written and the tree was not empty), 0 when
 * none is left, or a negative errno. */
int pgd_cgroup_signal(pgd_cgroup_t *cg, int sig);

/* 1 when no process of the tree is left (zombies not yet reaped by their
 * parent count as gone), 0 otherwise. */
int pgd_cgroup_empty(pgd_cgroup_t *cg);

/* 1 when the kernel's OOM killer killed a process of the tree because of
 * its memory limit, else 0. */
int pgd_cgroup_oom_killed(const pgd_cgroup_t *cg);

/* Kills what is left (SIGKILL), waits up to ~2 s for the tree to be empty,
 * removes the attempt's cgroups (one still busy is left for the next start
 * of the worker, logged) and frees `cg`. NULL is fine. */
void pgd_cgroup_destroy(pgd_cgroup_t *cg);

#endif
