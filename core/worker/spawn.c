/* Pagoda — process start (clone, see runas.h) + pidfd supervision (see spawn.h). */
#include "worker/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/clock.h"
#include "common/log.h"

extern char **environ;

#define MOD "spawn"
#define WAITPID_POLL_MS 20
#define DEFAULT_GRACE_MS 5000
#define READ_BUF_SIZE 65536
#define TREE_POLL_MS 10         /* watching a tree left by an exited main process */
#define TREE_HARD_EXTRA_MS 5000 /* give up waiting this long after its SIGKILL */

struct pgd_spawn {
  uv_loop_t *loop;
  pgd_spawn_cbs_t cbs;
  void *ud;
  pid_t pid;
  int pidfd; /* -1 when the waitpid timer is used instead */
  pgd_spawn_set_t *set; /* nullable: pidfd and pipe are watched there (held) */
  int out_fd;           /* with a set: the pipe's read end, -1 once closed */
  int pidfd_armed, out_armed; /* with a set: its EPOLLONESHOT has not fired */
  int64_t kill_grace_ms;
  uint64_t start_ns;

  uv_poll_t exit_poll;   /* pidfd readable => exited (when pidfd >= 0) */
  uv_timer_t exit_timer; /* waitpid poll fallback (when pidfd < 0) */
  uv_pipe_t out; /* without a set */
  uv_timer_t timeout_timer, grace_timer, linger_timer;

  int open_handles;  /* handles initialised and not yet closed-back */
  int exited, eof, finishing;
  int waiter_closed;
  int kill_started;
  uint64_t sigkill_at; /* uv_now deadline of the pending SIGKILL, 0 = none */
  pgd_cgroup_t *cg;    /* the tree's containment (owned), or NULL */
  uint64_t exit_at;    /* uv_now when the main process was reaped */
  uint64_t tree_kill_at; /* uv_now deadline of the leftovers' SIGKILL */
  int tree_killed;     /* that SIGKILL was sent */
  pgd_spawn_result_t res;
};

/* ---- the pids of live spawns (pgd_spawn_supervises) ---------------------- */

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t *live_pids;
static size_t live_n, live_cap;

static void live_add(pid_t pid) {
  pthread_mutex_lock(&live_lock);
  if (live_n == live_cap) {
    size_t nc = live_cap ? live_cap * 2 : 64;
    pid_t *nv = realloc(live_pids, nc * sizeof *nv);
    if (nv) {
      live_pids = nv;
      live_cap = nc;
    }
  }
  if (live_n < live_cap) live_pids[live_n++] = pid;
  pthread_mutex_unlock(&live_lock);
}

static void live_remove(pid_t pid) {
  pthread_mutex_lock(&live_lock);
  for (size_t i = 0; i < live_n; i++)
    if (live_pids[i] == pid) {
      live_pids[i] = live_pids[--live_n];
      break;
    }
  if (live_n == 0) { /* nothing kept between bursts (and no leak report) */
    free(live_pids);
    live_pids = NULL;
    live_cap = 0;
  }
  pthread_mutex_unlock(&live_lock);
}

int pgd_spawn_supervises(pid_t pid) {
  int found = 0;
  pthread_mutex_lock(&live_lock);
  for (size_t i = 0; i < live_n && !found; i++) found = live_pids[i] == pid;
  pthread_mutex_unlock(&live_lock);
  return found;
}

/* ---- helpers ------------------------------------------------------------- */

static size_t vec_len(const char *const *v) {
  size_t n = 0;
  if (v)
    while (v[n]) n++;
  return n;
}

/* Puts `entry` ("K=V") into env[0..*n), replacing an entry with the same key. */
static void env_put(const char **env, size_t *n, const char *entry) {
  const char *eq = strchr(entry, '=');
  if (!eq || eq == entry) return; /* not K=V: ignored */
  size_t klen = (size_t)(eq - entry) + 1; /* include '=' */
  for (size_t i = 0; i < *n; i++) {
    if (strncmp(env[i], entry, klen) == 0) {
      env[i] = entry;
      return;
    }
  }
  env[(*n)++] = entry;
}

/* environ (+ HOME/USER/LOGNAME of a run_as user) + spec env + extra env;
 * strings borrowed, except the identity entries written into `idbuf`.
 * Caller frees the array. */
static const char **build_env(const pgd_procspec_t *spec, const char *const *extra,
                              const pgd_runas_t *ru, char **idbuf) {
  size_t ne = vec_len((const char *const *)environ);
  size_t total = ne + 3 + spec->envc + vec_len(extra) + 1;
  const char **env = malloc(total * sizeof *env);
  if (!env) return NULL;
  size_t n = 0;
  for (size_t i = 0; i < ne; i++) env[n++] = environ[i];
  if (ru) {
    size_t hl = strlen(ru->home), ul = strlen(ru->name);
    char *b = malloc(5 + hl + 1 + 5 + ul + 1 + 8 + ul + 1);
    if (!b) {
      free(env);
      return NULL;
    }
    *idbuf = b;
    char *home = b, *user = home + 5 + hl + 1, *logname = user + 5 + ul + 1;
    sprintf(home, "HOME=%s", ru->home);
    sprintf(user, "USER=%s", ru->name);
    sprintf(logname, "LOGNAME=%s", ru->name);
    env_put(env, &n, home);
    env_put(env, &n, user);
    env_put(env, &n, logname);
  }
  for (size_t i = 0; i < spec->envc; i++) env_put(env, &n, spec->env[i]);
  for (size_t i = 0; extra && extra[i]; i++) env_put(env, &n, extra[i]);
  env[n] = NULL;
  return env;
}

static int signal_group(pgd_spawn_t *p, int sig) {
  /* The cgroup reaches what left the process group (setsid children). */
  if (p->cg) pgd_cgroup_signal(p->cg, sig);
  if (kill(-p->pid, sig) == 0) return 0;
  if (p->cg && errno == ESRCH) return 0; /* the group is gone, the cgroup was signalled */
  int e = errno;
  /* The group is gone only when every member is; a not-yet-reaped leader
   * keeps it, so ESRCH here means there is nothing left to signal. */
  if (e != ESRCH) PGD_WARN(MOD, "kill(-%d, %d): %s", (int)p->pid, sig, strerror(e));
  return -e;
}

/* ---- the set ------------------------------------------------------------- */

struct pgd_spawn_set {
  uv_poll_t poll; /* on epfd */
  int epfd;
  int owned;   /* the owner has not closed it yet */
  int spawns;  /* spawns watched in it; the poll is referenced (keeps the
                  loop alive, as a spawn's own handles would) while > 0 */
};

/* The low bit of an event's data: the spawn's pidfd (else its pipe). A
 * pgd_spawn_t is malloc'ed, so that bit of its address is free. */
#define SET_EXIT ((uintptr_t)1)

static void set_freed(uv_handle_t *h) {
  pgd_spawn_set_t *s = h->data;
  close(s->epfd);
  free(s);
}

static void set_hold(pgd_spawn_set_t *s) {
  if (s->spawns++ == 0) uv_ref((uv_handle_t *)&s->poll);
}

static void set_release(pgd_spawn_set_t *s) {
  if (!s || --s->spawns > 0) return;
  uv_unref((uv_handle_t *)&s->poll);
  if (!s->owned) uv_close((uv_handle_t *)&s->poll, set_freed);
}

void pgd_spawn_set_close(pgd_spawn_set_t *s) {
  if (!s || !s->owned) return;
  s->owned = 0;
  if (s->spawns == 0) uv_close((uv_handle_t *)&s->poll, set_freed);
}

static int set_watch(pgd_spawn_t *p, int op, int fd, uintptr_t tag) {
  struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = (uintptr_t)p | tag};
  return epoll_ctl(p->set->epfd, op, fd, &ev);
}

/* Closes a descriptor of the set. A fired EPOLLONESHOT registration stays
 * disarmed, and the close removes it once no other process holds the file
 * (a fork elsewhere in the process may, until its exec): only an armed one
 * is deleted first, so that no event can name a freed spawn. */
static void set_forget(pgd_spawn_t *p, int *fd, int *armed) {
  if (*fd < 0) return;
  if (*armed) epoll_ctl(p->set->epfd, EPOLL_CTL_DEL, *fd, NULL);
  *armed = 0;
  close(*fd);
  *fd = -1;
}

/* ---- ending -------------------------------------------------------------- */

static void deliver_if_closed(pgd_spawn_t *p) {
  if (!p->finishing || p->open_handles > 0) return;
  if (p->cg) {
    p->res.oom_killed = pgd_cgroup_oom_killed(p->cg);
    pgd_cgroup_destroy(p->cg); /* SIGKILLs what may be left, removes the cgroup */
    p->cg = NULL;
  }
  p->cbs.on_exit(p, &p->res, p->ud);
  set_release(p->set);
  free(p);
}

static void on_handle_closed(uv_handle_t *h) {
  pgd_spawn_t *p = h->data;
  p->open_handles--;
  deliver_if_closed(p);
}

static void close_handle(uv_handle_t *h) {
  if (!uv_is_closing(h)) uv_close(h, on_handle_closed);
}

static void close_waiter(pgd_spawn_t *p) {
  if (p->waiter_closed) return;
  p->waiter_closed = 1;
  if (p->set && p->pidfd >= 0) {
    set_forget(p, &p->pidfd, &p->pidfd_armed);
  } else if (p->pidfd >= 0) {
    close_handle((uv_handle_t *)&p->exit_poll);
    close(p->pidfd); /* uv_close removed it from epoll already */
    p->pidfd = -1;
  } else {
    close_handle((uv_handle_t *)&p->exit_timer);
  }
}

static void finish(pgd_spawn_t *p) {
  if (p->finishing) return;
  p->finishing = 1;
  /* A kill's SIGKILL is due and nobody will watch the group after this:
   * send it now rather than drop it (a TERM-ignoring descendant would
   * otherwise run on). */
  if (p->sigkill_at) {
    p->sigkill_at = 0;
    signal_group(p, SIGKILL);
  }
  close_waiter(p);
  if (p->set)
    set_forget(p, &p->out_fd, &p->out_armed);
  else
    close_handle((uv_handle_t *)&p->out);
  close_handle((uv_handle_t *)&p->timeout_timer);
  close_handle((uv_handle_t *)&p->grace_timer);
  close_handle((uv_handle_t *)&p->linger_timer);
}

static void on_linger(uv_timer_t *t) {
  pgd_spawn_t *p = t->data;
  PGD_DEBUG(MOD, "pid %d exited but its output pipe is still open after %d ms: closing it",
            (int)p->pid, PGD_SPAWN_LINGER_MS);
  finish(p);
}

/* Watching the tree after the main process exited (cgroup only): the end
 * waits until it is empty (SIGTERM was sent, SIGKILL at tree_kill_at). */
static void on_tree_tick(uv_timer_t *t) {
  pgd_spawn_t *p = t->data;
  uint64_t now = uv_now(p->loop);
  int empty = pgd_cgroup_empty(p->cg);
  if (empty && (p->eof || now - p->exit_at >= PGD_SPAWN_LINGER_MS)) {
    finish(p);
    return;
  }
  if (!empty && !p->tree_killed && now >= p->tree_kill_at) {
    PGD_DEBUG(MOD, "pid %d: processes of its tree still there after the grace: SIGKILL",
              (int)p->pid);
    p->tree_killed = 1;
    signal_group(p, SIGKILL);
  } else if (p->tree_killed && now >= p->tree_kill_at + TREE_HARD_EXTRA_MS) {
    PGD_WARN(MOD, "pid %d: its tree survives SIGKILL for %d ms: ending the attempt anyway",
             (int)p->pid, TREE_HARD_EXTRA_MS);
    finish(p);
  }
}

/* The main process exited: KillMode=control-group for what is left. */
static void end_tree(pgd_spawn_t *p) {
  p->exit_at = uv_now(p->loop);
  /* the job is over: ending its leftovers must not turn it into a timeout */
  uv_timer_stop(&p->timeout_timer);
  if (pgd_cgroup_empty(p->cg)) {
    if (p->eof) finish(p);
    else uv_timer_start(&p->linger_timer, on_tree_tick, TREE_POLL_MS, TREE_POLL_MS);
    return;
  }
  PGD_DEBUG(MOD, "pid %d exited, processes of its tree remain: SIGTERM to them", (int)p->pid);
  uint64_t kill_at = p->exit_at + (uint64_t)p->kill_grace_ms;
  if (p->sigkill_at && p->sigkill_at < kill_at) kill_at = p->sigkill_at;
  p->tree_kill_at = kill_at;
  pgd_cgroup_signal(p->cg, SIGTERM);
  pgd_cgroup_signal(p->cg, SIGCONT); /* a stopped process must see it */
  uv_timer_start(&p->linger_timer, on_tree_tick, TREE_POLL_MS, TREE_POLL_MS);
}

static void on_exited(pgd_spawn_t *p, int status, int lost) {
  p->exited = 1;
  live_remove(p->pid);
  p->res.duration_us = (pgd_mono_ns() - p->start_ns) / 1000;
  if (lost) {
    p->res.status_lost = 1;
    p->res.exit_code = -1;
  } else if (WIFEXITED(status)) {
    p->res.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    p->res.exit_code = -1;
    p->res.term_signal = WTERMSIG(status);
  }
  close_waiter(p);
  if (p->cg)
    end_tree(p);
  else if (p->eof)
    finish(p);
  else
    uv_timer_start(&p->linger_timer, on_linger, PGD_SPAWN_LINGER_MS, 0);
}

/* Reaps the child if it exited. Returns 1 when it is done. */
static int try_reap(pgd_spawn_t *p) {
  int status = 0;
  pid_t r;
  do r = waitpid(p->pid, &status, WNOHANG);
  while (r < 0 && errno == EINTR);
  if (r == 0) return 0;
  if (r < 0) {
    PGD_WARN(MOD, "waitpid(%d): %s (exit status lost)", (int)p->pid, strerror(errno));
    on_exited(p, 0, 1);
  } else {
    on_exited(p, status, 0);
  }
  return 1;
}

static void on_pidfd(uv_poll_t *h, int status, int events) {
  pgd_spawn_t *p = h->data;
  if (p->exited) return;
  if (status < 0) PGD_WARN(MOD, "pidfd poll of pid %d: %s", (int)p->pid, uv_strerror(status));
  try_reap(p);
}

static void on_waitpid_tick(uv_timer_t *t) {
  pgd_spawn_t *p = t->data;
  if (!p->exited) try_reap(p);
}

/* ---- output -------------------------------------------------------------- */

/* on_output must not keep the data, and a read is handed over right away:
 * one buffer per thread suffices. */
static __thread char read_chunk[READ_BUF_SIZE];

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  /* libuv calls read_cb right after alloc_cb for the same handle */
  buf->base = read_chunk;
  buf->len = sizeof read_chunk;
}

/* The pipe reached EOF (or failed): the end may come now. */
static void output_ended(pgd_spawn_t *p) {
  p->eof = 1;
  /* with a cgroup, a tree still populated is ended by on_tree_tick */
  if (p->exited && (!p->cg || pgd_cgroup_empty(p->cg))) finish(p);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  pgd_spawn_t *p = s->data;
  if (nread > 0) {
    p->res.output_bytes += (uint64_t)nread;
    if (p->cbs.on_output) p->cbs.on_output(p, buf->base, (size_t)nread, p->ud);
    return;
  }
  if (nread == 0) return;
  if (nread != UV_EOF) PGD_WARN(MOD, "reading output of pid %d: %s", (int)p->pid, uv_strerror((int)nread));
  uv_read_stop(s);
  output_ended(p);
}

/* The pipe of a spawn in a set is readable (its oneshot fired). One read
 * per event: the descriptor stays blocking (the child's end shares its
 * flags), which is safe because the worker is its only reader and the
 * event says data or EOF is there; more data re-arms it. EPOLLHUP without
 * EPOLLIN is EOF already (a pipe reports EPOLLIN while it holds data, and
 * EPOLLHUP once no writer is left): no read is needed to learn it. */
static void on_set_output(pgd_spawn_t *p, uint32_t events) {
  ssize_t n = 0;
  if (events & EPOLLIN) {
    do n = read(p->out_fd, read_chunk, sizeof read_chunk);
    while (n < 0 && errno == EINTR);
  }
  if (n > 0 || (n < 0 && errno == EAGAIN)) {
    if (n > 0) {
      p->res.output_bytes += (uint64_t)n;
      if (p->cbs.on_output) p->cbs.on_output(p, read_chunk, (size_t)n, p->ud);
    }
    if (p->out_fd >= 0 && set_watch(p, EPOLL_CTL_MOD, p->out_fd, 0) == 0) {
      p->out_armed = 1;
      return;
    }
    if (p->out_fd < 0) return;
    PGD_WARN(MOD, "watching the output of pid %d: %s", (int)p->pid, strerror(errno));
  } else if (n < 0) {
    PGD_WARN(MOD, "reading output of pid %d: %s", (int)p->pid, strerror(errno));
  }
  set_forget(p, &p->out_fd, &p->out_armed);
  output_ended(p);
}

static void on_set_ready(uv_poll_t *h, int status, int events) {
  pgd_spawn_set_t *s = h->data;
  struct epoll_event ev[64];
  int n;
  do n = epoll_wait(s->epfd, ev, 64, 0);
  while (n < 0 && errno == EINTR);
  /* A spawn named here is not freed before the loop's close callbacks run
   * (its timers are closed through the loop), so every event of the batch
   * may look at it; a descriptor closed meanwhile reads as -1. */
  for (int i = 0; i < n; i++) {
    uintptr_t tag = (uintptr_t)ev[i].data.u64;
    pgd_spawn_t *p = (pgd_spawn_t *)(tag & ~SET_EXIT);
    if (tag & SET_EXIT) {
      if (p->pidfd < 0) continue;
      p->pidfd_armed = 0;
      if (!p->exited && !try_reap(p) && set_watch(p, EPOLL_CTL_MOD, p->pidfd, SET_EXIT) == 0)
        p->pidfd_armed = 1;
    } else if (p->out_fd >= 0) {
      p->out_armed = 0;
      on_set_output(p, ev[i].events);
    }
  }
}

int pgd_spawn_set_open(uv_loop_t *loop, pgd_spawn_set_t **out) {
  if (!loop || !out) return -EINVAL;
  *out = NULL;
  pgd_spawn_set_t *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (s->epfd < 0) {
    int e = errno;
    free(s);
    return -e;
  }
  int rc = uv_poll_init(loop, &s->poll, s->epfd);
  if (rc) {
    close(s->epfd);
    free(s);
    return rc;
  }
  s->poll.data = s;
  s->owned = 1;
  uv_poll_start(&s->poll, UV_READABLE, on_set_ready);
  uv_unref((uv_handle_t *)&s->poll); /* until a spawn is watched in it */
  *out = s;
  return 0;
}

/* ---- kill / timeout ------------------------------------------------------ */

static void on_grace(uv_timer_t *t) {
  pgd_spawn_t *p = t->data;
  p->sigkill_at = 0;
  PGD_DEBUG(MOD, "pid %d: grace period over, SIGKILL to its process group", (int)p->pid);
  signal_group(p, SIGKILL);
}

static int do_kill(pgd_spawn_t *p, int64_t grace_ms, int timeout) {
  if (p->finishing) return -ESRCH;
  if (!p->kill_started) {
    p->kill_started = 1;
    if (timeout)
      p->res.timed_out = 1;
    else
      p->res.killed = 1;
  }
  if (grace_ms <= 0) {
    uv_timer_stop(&p->grace_timer);
    p->sigkill_at = 0;
    signal_group(p, SIGKILL);
    return 0;
  }
  signal_group(p, SIGTERM);
  uint64_t at = uv_now(p->loop) + (uint64_t)grace_ms;
  if (p->sigkill_at == 0 || at < p->sigkill_at) {
    p->sigkill_at = at;
    uv_timer_start(&p->grace_timer, on_grace, (uint64_t)grace_ms, 0);
  }
  return 0;
}

static void on_timeout(uv_timer_t *t) {
  pgd_spawn_t *p = t->data;
  PGD_DEBUG(MOD, "pid %d: timeout, killing its process group", (int)p->pid);
  do_kill(p, p->kill_grace_ms, 1);
}

int pgd_spawn_kill(pgd_spawn_t *p, int64_t grace_ms) {
  if (!p) return -EINVAL;
  return do_kill(p, grace_ms, 0);
}

pid_t pgd_spawn_pid(const pgd_spawn_t *p) { return p ? p->pid : -1; }

void *pgd_spawn_data(const pgd_spawn_t *p) { return p ? p->ud : NULL; }

static void free_on_close(uv_handle_t *h) { free(h->data); }

/* ---- start --------------------------------------------------------------- */

static void describe_spawn_error(const pgd_procspec_t *spec, int e, char *err, size_t errlen) {
  if (spec->cwd) {
    struct stat st;
    int ce = 0;
    if (stat(spec->cwd, &st) != 0)
      ce = errno;
    else if (!S_ISDIR(st.st_mode))
      ce = ENOTDIR;
    else if (access(spec->cwd, X_OK) != 0)
      ce = errno;
    if (ce) {
      pgd_set_err(err, errlen, -ce, "cannot use working directory '%s': %s", spec->cwd,
                  strerror(ce));
      return;
    }
  }
  pgd_set_err(err, errlen, -e, "cannot start '%s': %s", spec->argv[0], strerror(e));
}

static void describe_runas_error(const pgd_procspec_t *spec, const pgd_runas_t *ru,
                                 pgd_runas_step_t step, int e, char *err, size_t errlen) {
  switch (step) {
  case PGD_RUNAS_STEP_CREDS:
    pgd_set_err(err, errlen, -e, "cannot switch to run_as user '%s' (uid %u, gid %u): %s", ru->name,
                (unsigned)ru->uid, (unsigned)ru->gid, strerror(e));
    break;
  case PGD_RUNAS_STEP_CWD:
    pgd_set_err(err, errlen, -e, "cannot use working directory '%s' as user '%s': %s", spec->cwd,
                ru->name, strerror(e));
    break;
  case PGD_RUNAS_STEP_EXEC:
    pgd_set_err(err, errlen, -e, "cannot start '%s' as user '%s': %s", spec->argv[0], ru->name,
                strerror(e));
    break;
  default:
    pgd_set_err(err, errlen, -e, "cannot start '%s' as user '%s' (process setup): %s",
                spec->argv[0], ru->name, strerror(e));
    break;
  }
}

static int start(uv_loop_t *loop, const pgd_procspec_t *spec, const char *const *extra_env,
                 const pgd_spawn_opts_t *opts, const pgd_spawn_cbs_t *cbs, void *ud,
                 pgd_cgroup_t *cg, pgd_spawn_t **out, char *err, size_t errlen);

int pgd_spawn_start(uv_loop_t *loop, const pgd_procspec_t *spec, const char *const *extra_env,
                    const pgd_spawn_opts_t *opts, const pgd_spawn_cbs_t *cbs, void *ud,
                    pgd_spawn_t **out, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (out) *out = NULL;
  pgd_cgroup_t *cg = opts ? opts->cgroup : NULL; /* ours from here on */
  int rc = start(loop, spec, extra_env, opts, cbs, ud, cg, out, err, errlen);
  if (rc != 0) pgd_cgroup_destroy(cg);
  return rc;
}

static int start(uv_loop_t *loop, const pgd_procspec_t *spec, const char *const *extra_env,
                 const pgd_spawn_opts_t *opts, const pgd_spawn_cbs_t *cbs, void *ud,
                 pgd_cgroup_t *cg, pgd_spawn_t **out, char *err, size_t errlen) {
  if (!loop || !spec || !cbs || !cbs->on_exit || !out || spec->argc == 0 || !spec->argv ||
      !spec->argv[0] || !spec->argv[0][0]) {
    return pgd_set_err(err, errlen, -EINVAL, "invalid process specification (no program)");
  }
  const pgd_runas_t *ru = opts ? opts->runas : NULL;
  if (spec->user && (!ru || !ru->name || strcmp(ru->name, spec->user) != 0)) {
    return pgd_set_err(err, errlen, -EINVAL,
                       "run_as user '%s' was not checked and resolved by the worker", spec->user);
  }
  pgd_spawn_t *p = calloc(1, sizeof *p);
  char *idbuf = NULL;
  /* the containment marker goes last: nothing may replace it */
  size_t nextra = vec_len(extra_env);
  const char **extra = malloc((nextra + 2) * sizeof *extra);
  if (extra) {
    for (size_t i = 0; i < nextra; i++) extra[i] = extra_env[i];
    extra[nextra] = cg ? pgd_cgroup_marker(cg) : NULL;
    extra[nextra + 1] = NULL;
  }
  const char **env = extra ? build_env(spec, extra, ru, &idbuf) : NULL;
  free(extra);
  if (!p || !env) {
    free(p);
    free(env);
    free(idbuf);
    return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  }
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    int e = errno;
    free(p);
    free(env);
    free(idbuf);
    return pgd_set_err(err, errlen, -e, "cannot create output pipe: %s", strerror(e));
  }
  p->start_ns = pgd_mono_ns();
  pid_t pid = -1;
  int rc;
  pgd_runas_step_t step = PGD_RUNAS_STEP_NONE;
  /* Every job starts through the clone path of spawn_as.c (as cheap as
   * posix_spawn, see docs/operations.md): it can also change credentials
   * (run_as) and ties the job's life to the worker's (PR_SET_PDEATHSIG),
   * which posix_spawn cannot. */
  pgd_spawn_set_t *set = opts ? opts->set : NULL;
  int pidfd = -1;
  pgd_runas_io_t io = {.out_fd = fds[1],
                       .cg = cg ? pgd_cgroup_spawn_cgroups(cg) : NULL,
                       .pidfd = &pidfd};
  rc = pgd_runas_spawn_io(ru, spec->argv, (char *const *)env, spec->cwd, &io, &pid, &step);
  free(env);
  free(idbuf);
  close(fds[1]);
  if (rc) {
    close(fds[0]);
    free(p);
    if (ru)
      describe_runas_error(spec, ru, step, rc, err, errlen);
    else if (step == PGD_RUNAS_STEP_CWD)
      pgd_set_err(err, errlen, -rc, "cannot use working directory '%s': %s", spec->cwd,
                  strerror(rc));
    else
      describe_spawn_error(spec, rc, err, errlen);
    return -rc;
  }

  p->loop = loop;
  p->cbs = *cbs;
  p->ud = ud;
  p->pid = pid;
  p->res.pid = pid;
  p->kill_grace_ms = opts && opts->kill_grace_ms > 0 ? opts->kill_grace_ms : DEFAULT_GRACE_MS;
  p->pidfd = p->out_fd = -1;

  if (set) {
    p->set = set;
    if (set_watch(p, EPOLL_CTL_ADD, fds[0], 0) != 0) {
      int e = errno;
      kill(-pid, SIGKILL);
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
      }
      close(fds[0]);
      if (pidfd >= 0) close(pidfd);
      free(p);
      return pgd_set_err(err, errlen, -e, "cannot read the output of '%s': %s", spec->argv[0],
                         strerror(e));
    }
    set_hold(set);
    p->out_fd = fds[0];
    p->out_armed = 1;
  } else {
    uv_pipe_init(loop, &p->out, 0); /* cannot fail for a non-IPC pipe */
    p->out.data = p;
    p->open_handles++;
    int urc = uv_pipe_open(&p->out, fds[0]);
    int pipe_owns_fd = urc == 0;
    if (!urc) urc = uv_read_start((uv_stream_t *)&p->out, on_alloc, on_read);
    if (urc) {
      /* Cannot supervise it: make sure it does not run unsupervised. */
      kill(-pid, SIGKILL);
      while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
      }
      if (!pipe_owns_fd) close(fds[0]);
      if (pidfd >= 0) close(pidfd);
      pgd_set_err(err, errlen, urc, "cannot read the output of '%s': %s", spec->argv[0],
                  uv_strerror(urc));
      uv_close((uv_handle_t *)&p->out, free_on_close); /* frees p; no callback */
      return urc;
    }
  }

  uv_timer_init(loop, &p->timeout_timer);
  uv_timer_init(loop, &p->grace_timer);
  uv_timer_init(loop, &p->linger_timer);
  p->timeout_timer.data = p->grace_timer.data = p->linger_timer.data = p;
  p->open_handles += 3;

  if (pidfd >= 0 && set) {
    if (set_watch(p, EPOLL_CTL_ADD, pidfd, SET_EXIT) == 0) {
      p->pidfd = pidfd;
      p->pidfd_armed = 1;
    } else {
      close(pidfd);
    }
  } else if (pidfd >= 0) {
    if (uv_poll_init(loop, &p->exit_poll, pidfd) == 0) {
      p->pidfd = pidfd;
      p->exit_poll.data = p;
      p->open_handles++;
      uv_poll_start(&p->exit_poll, UV_READABLE, on_pidfd);
    } else {
      close(pidfd);
    }
  }
  if (p->pidfd < 0) {
    uv_timer_init(loop, &p->exit_timer);
    p->exit_timer.data = p;
    p->open_handles++;
    uv_timer_start(&p->exit_timer, on_waitpid_tick, WAITPID_POLL_MS, WAITPID_POLL_MS);
  }
  if (opts && opts->timeout_ms > 0)
    uv_timer_start(&p->timeout_timer, on_timeout, (uint64_t)opts->timeout_ms, 0);
  p->cg = cg;
  if (cg) pgd_cgroup_set_main(cg, pid);
  live_add(pid);
  *out = p;
  return 0;
}
