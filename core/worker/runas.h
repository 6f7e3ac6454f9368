/* Pagoda — run_as: running a job's process as another OS user.
 *
 * Two halves:
 *   - pgd_runas_resolve checks that a worker may run a job as `user` (the
 *     user is in the worker's allowed_users, the worker runs as root, the
 *     user exists) and looks up its uid, primary gid, supplementary groups
 *     and home directory (NSS: getpwnam_r, getgrouplist);
 *   - pgd_runas_spawn starts a process with those credentials.
 *
 * Why not posix_spawn: it cannot change credentials. pgd_runas_spawn uses
 * clone(CLONE_VM | CLONE_VFORK) — what glibc's posix_spawn does inside, so
 * the cost does not grow with the parent's size — and the child, before
 * execve, joins a new process group, sets up stdin/stdout/stderr, closes
 * every other descriptor, calls setgroups, setresgid and setresuid (raw
 * system calls: glibc's wrappers would try to change the credentials of
 * every thread of the parent, with which the child shares its memory),
 * changes to the working directory AS THE USER, resets signal dispositions
 * and the mask, and searches PATH itself (no malloc in the child). The
 * parent is suspended until the child execs or exits; a failing step is
 * written into memory the two share, so the caller gets the step and the
 * errno as a clean start error, never a process exiting 127.
 *
 * Thread rules: any thread; pgd_runas_resolve blocks on NSS lookups (local
 * files: microseconds; LDAP/SSSD: whatever they cost).
 */
#ifndef PAGODA_WORKER_RUNAS_H
#define PAGODA_WORKER_RUNAS_H

#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

/* The resolved credentials of a run_as user. Owned by the caller; release
 * with pgd_runas_free. */
typedef struct pgd_runas {
  char *name; /* the user name */
  char *home; /* pw_dir ("/" when empty) */
  uid_t uid;
  gid_t gid;       /* primary group */
  gid_t *groups;   /* supplementary groups (getgrouplist: includes gid) */
  int ngroups;
} pgd_runas_t;

/* Checks and resolves `user` for a worker running with effective uid
 * `euid` (pass geteuid(); a parameter so that tests can play a non-root
 * worker). `allowed_users` (borrowed, nullable = nobody allowed) is a cJSON
 * array of strings. Checks, in order, each failing with its message in err:
 *   -EINVAL  user NULL or empty ("run_as needs a user name")
 *   -EPERM   "run_as user 'bob' is not in this worker's allowed_users"
 *   -EPERM   "run_as needs the worker to run as root (it runs as uid N)"
 *   -ENOENT  "run_as user 'nosuch' does not exist"
 *   -EIO etc. the user database failed ("cannot look up run_as user ...")
 *   -ENOMEM
 * On success returns 0 and fills *out (owned by the caller). On failure
 * *out is empty (pgd_runas_free on it is harmless). */
int pgd_runas_resolve(const char *user, const cJSON *allowed_users, uid_t euid, pgd_runas_t *out,
                      char *err, size_t errlen);

/* Frees what `ru` holds and empties it; NULL and an empty struct are fine. */
void pgd_runas_free(pgd_runas_t *ru);

/* What failed in the child, for pgd_runas_spawn's message. */
typedef enum {
  PGD_RUNAS_STEP_NONE = 0,
  PGD_RUNAS_STEP_SETUP,  /* process group, descriptors, signals */
  PGD_RUNAS_STEP_CREDS,  /* setgroups / setresgid / setresuid */
  PGD_RUNAS_STEP_CWD,    /* chdir to the working directory (as the user) */
  PGD_RUNAS_STEP_EXEC    /* execve (PATH search) */
} pgd_runas_step_t;

/* Starts `argv` (argv[0] searched in the PATH of `envp` when it has no '/',
 * else in "/usr/local/bin:/usr/bin:/bin") as `ru` with environment `envp`,
 * stdin /dev/null, stdout and stderr on `out_fd`, no other descriptor, in a
 * new process group (pgid = pid), an empty signal mask and default
 * dispositions, in `cwd` when not NULL, killed (SIGKILL) if the calling
 * process dies (PR_SET_PDEATHSIG). `ru` NULL = keep the worker's own
 * credentials (every job without run_as). Everything is borrowed for the call.
 * Returns 0 and *pid, or a positive errno with *step telling what failed
 * (no process is left: a child that failed was reaped). */
int pgd_runas_spawn(const pgd_runas_t *ru, char *const argv[], char *const envp[], const char *cwd,
                    int out_fd, pid_t *pid, pgd_runas_step_t *step);

/* The cgroups a child starts in (worker/cgroup.h). */
typedef struct pgd_runas_cgroups {
  int into_dir_fd;     /* a cgroup v2 directory the child is created in
                          (clone3 with CLONE_INTO_CGROUP: no migration, which
                          would cost milliseconds), or -1 */
  int into_procs_fd;   /* that cgroup's cgroup.procs: the child writes "0"
                          to it when clone3 is not available, or -1 */
  const int *join_fds; /* further cgroup.procs descriptors (v1 hierarchies)
                          the child writes "0" to; -1-terminated, nullable */
} pgd_runas_cgroups_t;

/* pgd_runas_spawn, and the child starts in the cgroups of `cg` (nullable)
 * before anything else runs. A failed join fails the start
 * (PGD_RUNAS_STEP_SETUP). The child's 128 KiB stack is mapped once per calling
 * thread and kept for the next spawn until that thread exits (the child uses
 * it only until clone returns). */
int pgd_runas_spawn_ex(const pgd_runas_t *ru, char *const argv[], char *const envp[],
                       const char *cwd, int out_fd, const pgd_runas_cgroups_t *cg, pid_t *pid,
                       pgd_runas_step_t *step);

/* The descriptors of pgd_runas_spawn_io. */
typedef struct pgd_runas_io {
  int out_fd;  /* the child's stdout and stderr (required) */
  const pgd_runas_cgroups_t *cg; /* nullable, as in pgd_runas_spawn_ex */
  int *pidfd;  /* nullable: receives a pidfd of the started child (O_CLOEXEC,
                  owned by the caller), or -1 when the kernel has none (Linux
                  < 5.3). It comes from clone3's CLONE_PIDFD where the kernel
                  takes clone3, else from pidfd_open right after the start
                  (the child cannot have been reaped yet, so the pid is still
                  its own) */
} pgd_runas_io_t;

/* pgd_runas_spawn_ex with the descriptors of `io` (borrowed for the call).
 * On failure *io->pidfd is -1 and nothing is left open. */
int pgd_runas_spawn_io(const pgd_runas_t *ru, char *const argv[], char *const envp[],
                       const char *cwd, const pgd_runas_io_t *io, pid_t *pid,
                       pgd_runas_step_t *step);

/* Tests only: allow = 0 makes every later spawn of the process take the
 * path of kernels without clone3 (clone, a write to cgroup.procs, pidfd_open);
 * allow = 1 lets the next spawn try clone3 again. Any thread. */
void pgd_runas_clone3_for_test(int allow);
#endif
