/* Pagoda — fast process spawning and supervision on a libuv loop.
 *
 * Why not uv_spawn: libuv 1.44 forks, and fork() of a large process copies
 * its page tables (~100x slower with 1 GiB mapped). This spawner starts the
 * child with clone(CLONE_VM|CLONE_VFORK) (runas.h: what glibc's posix_spawn
 * does inside, cost independent of the parent's size, but with our own child
 * code) and watches it through a pidfd (clone3's CLONE_PIDFD, else
 * pidfd_open) polled by the loop (its own uv_poll, or the epoll set of
 * pgd_spawn_set_t), falling back to a 20 ms waitpid(WNOHANG) timer when
 * pidfds are unavailable. It never installs a SIGCHLD handler and only ever reaps
 * its own pids (waitpid(pid)).
 *
 * The child:
 *   - runs in its own process group (pgid = its pid), so a kill reaches the
 *     whole tree it starts (unless a descendant calls setsid);
 *   - has an empty signal mask and default dispositions for the usual
 *     signals (SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD, ...);
 *   - reads stdin from /dev/null; stdout and stderr are the same pipe, so
 *     the output arrives merged, in the order it was written;
 *   - inherits no other descriptor (closefrom(3) in the child);
 *   - runs in spec->cwd when set;
 *   - is killed (SIGKILL) when the worker process dies (PR_SET_PDEATHSIG),
 *     so a job does not outlive a worker that was killed;
 *   - gets the environment: the caller's environ, then spec->env, then
 *     extra_env; a later KEY=... replaces an earlier one with the same KEY.
 *   - argv[0] is searched in PATH when it has no '/'.
 *   - with opts->runas: runs as that user (credentials changed in the
 *     child, the working directory entered as the user); the environment
 *     gets HOME, USER and LOGNAME of the user right after the caller's
 *     environ (spec->env and extra_env may still replace them). Start
 *     errors: "cannot switch to run_as user ...", "cannot start 'prog' as
 *     user 'bob': ...", "cannot use working directory '/x' as user ...".
 *
 * An attempt ends when the process has exited (reaped) AND its output pipe
 * reached EOF, or PGD_SPAWN_LINGER_MS after the exit when background
 * descendants still hold the pipe open (the pipe is then closed).
 * Without opts.cgroup those descendants are not killed (a pending SIGKILL
 * of a kill still goes to the process group); with opts.cgroup the end of
 * the main process ends the whole tree, like systemd's
 * KillMode=control-group: what is left gets SIGTERM, then SIGKILL after
 * the kill grace (or at the pending SIGKILL of a kill, when sooner), and
 * the attempt ends once the tree is empty (the cgroup is then removed).
 * Then on_exit is called once, every handle of the spawn is closed already,
 * and the pgd_spawn_t is freed when on_exit returns.
 *
 * Kill: SIGTERM to the process group (and to every process of opts.cgroup,
 * setsid children included), then SIGKILL to both after the grace period;
 * the SIGKILL fires also when the main process has exited meanwhile.
 * Timeout (opts.timeout_ms > 0): the same kill, and the result is marked
 * timed_out.
 *
 * Thread rules: every function must be called on the loop's thread; the
 * callbacks run there. Nothing here blocks except the start itself (the
 * parent is suspended until the child execs, ~0.5 ms).
 */
#ifndef PAGODA_WORKER_SPAWN_H
#define PAGODA_WORKER_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <uv.h>

#include "plugin/procspec.h"
#include "worker/cgroup.h"
#include "worker/runas.h"

/* How long an attempt waits for pipe EOF after its process exited. */
#define PGD_SPAWN_LINGER_MS 200

typedef struct pgd_spawn pgd_spawn_t;

/* One epoll set for the pidfds and output pipes of many spawns (a worker's
 * attempts), registered with the loop once as a single uv_poll. A spawn of a
 * set costs one epoll_ctl per descriptor (EPOLLONESHOT) and a close at its
 * end; a spawn without one gets a uv_poll for its pidfd and a uv_pipe for its
 * output, whose set-up probes each descriptor (epoll_ctl add + delete,
 * fcntl/ioctl) and whose close deletes it again (issue 17, round 5). The
 * behaviour a caller sees is the same either way. */
typedef struct pgd_spawn_set pgd_spawn_set_t;

/* Outcome of one process, handed to on_exit (borrowed for the call). */
typedef struct pgd_spawn_result {
  pid_t pid;
  int exit_code;   /* exit status when it exited, -1 when killed by a signal
                      or when the status is unknown (see error) */
  int term_signal; /* signal that terminated it, 0 when it exited */
  int timed_out;   /* 1 when the timeout fired (and the kill started) */
  int killed;      /* 1 when pgd_spawn_kill was called (not by the timeout) */
  int status_lost; /* 1 when waitpid could not report the status (someone
                      else reaped the child; SIGCHLD set to SIG_IGN) */
  uint64_t output_bytes; /* bytes read from the pipe */
  uint64_t duration_us;  /* spawn to exit, monotonic */
  int oom_killed;        /* 1 when the memory limit of opts.cgroup made the
                            kernel kill a process of the tree */
} pgd_spawn_result_t;

typedef struct pgd_spawn_cbs {
  /* A chunk of the merged stdout/stderr; `data` borrowed for the call (up to
   * 64 KiB). May be NULL (output discarded). The callback may call
   * pgd_spawn_kill on `p`. */
  void (*on_output)(pgd_spawn_t *p, const char *data, size_t len, void *ud);
  /* Called exactly once when the attempt ended (see above); `p` is freed
   * when it returns. Required. */
  void (*on_exit)(pgd_spawn_t *p, const pgd_spawn_result_t *r, void *ud);
} pgd_spawn_cbs_t;

typedef struct pgd_spawn_opts {
  int64_t timeout_ms;    /* > 0: kill after this long and mark timed_out */
  int64_t kill_grace_ms; /* grace between SIGTERM and SIGKILL for the
                            timeout kill; <= 0 means 5000 */
  const pgd_runas_t *runas; /* nullable: run as this user (resolved with
                               pgd_runas_resolve; borrowed for the call) */
  pgd_cgroup_t *cgroup;     /* nullable: the containment of the tree
                               (cgroup.h). The spawner owns it from the call
                               on, also when the start fails: the child joins
                               it before exec, kills reach the whole tree, and
                               it is destroyed when the attempt ends */
  pgd_spawn_set_t *set;     /* nullable: watch the spawn through this set
                               (same loop); the spawn holds it until its end */
} pgd_spawn_opts_t;

/* Opens a set on `loop` (its epoll descriptor and one uv_poll). Returns 0 and *out (owned by the
 * caller: pgd_spawn_set_close), or a negative errno (-EMFILE, -ENOMEM, ...):
 * the caller then starts its spawns without a set. Loop thread only. */
int pgd_spawn_set_open(uv_loop_t *loop, pgd_spawn_set_t **out);

/* Gives up the caller's hold on `set` (NULL is fine). Spawns still running
 * in it keep it until they end; its uv_poll is closed (and the set freed, on
 * the loop's close callback) when the last of them ended, so a loop run to
 * completion after this has no handle of the set left. The set's handle
 * keeps the loop alive only while a spawn is watched in it (like a spawn's
 * own handles); an idle set that is not closed makes uv_loop_close fail
 * (UV_EBUSY). Loop thread only. */
void pgd_spawn_set_close(pgd_spawn_set_t *set);


/* Starts spec->argv with the rules above. `spec`, `extra_env` (a NULL-
 * terminated array of "KEY=VALUE", may be NULL), `opts` (may be NULL: no
 * timeout) and `cbs` (copied) are borrowed for the call; `ud` is passed back.
 * On success returns 0 and *out is the running spawn (owned by the spawner:
 * freed after on_exit returns). On failure returns a negative errno, writes
 * a one-line message into err (NUL-terminated when errlen > 0), no callback
 * is ever called and no process is left running (at worst one handle is still
 * closing until the next loop iteration):
 *   -EINVAL   NULL arguments, empty argv, no on_exit
 *   -EINVAL   spec->user is set but opts->runas is NULL or names another
 *             user (the caller must check and resolve it first)
 *   -ENOENT, -EACCES, ...  the program could not be started ("cannot start
 *             'prog': No such file or directory"), or the working directory
 *             is unusable ("cannot use working directory '/x': ...")
 *   -EMFILE, -ENOMEM, ...  resources */
int pgd_spawn_start(uv_loop_t *loop, const pgd_procspec_t *spec, const char *const *extra_env,
                    const pgd_spawn_opts_t *opts, const pgd_spawn_cbs_t *cbs, void *ud,
                    pgd_spawn_t **out, char *err, size_t errlen);

/* Kills the process group: SIGTERM now, SIGKILL after grace_ms (<= 0: SIGKILL
 * at once). Marks the result killed (unless the timeout already started a
 * kill). A second call while a grace period runs sends SIGTERM again and
 * keeps the earlier deadline unless the new one is sooner. After the
 * process exited it still signals the group (background descendants holding
 * the pipe), until on_exit. Returns 0, or -ESRCH when the attempt already
 * ended (on_exit is pending or ran: no effect). */
int pgd_spawn_kill(pgd_spawn_t *p, int64_t grace_ms);

/* The child's pid (also its process group id). */
pid_t pgd_spawn_pid(const pgd_spawn_t *p);

/* 1 when `pid` is the main process of a live spawn (any thread): the
 * containment fallback (proctrack.c) must not reap it. */
int pgd_spawn_supervises(pid_t pid);

/* The user data given to pgd_spawn_start. */
void *pgd_spawn_data(const pgd_spawn_t *p);

#endif
