/* Pagoda — run_as: start a process as another user with
 * clone(CLONE_VM | CLONE_VFORK) (see runas.h for why and how).
 *
 * The child shares the parent's memory and runs until execve on a stack of
 * its own: it must not call malloc, take locks, or use glibc functions that
 * act on every thread (setuid & co.). It only makes system calls and writes
 * its failure into `child_args_t`, which the parent reads once clone
 * returned (CLONE_VFORK: after the child's execve or _exit). */
#include "worker/runas.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_STACK_SIZE (128 * 1024)
#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

typedef struct child_args {
  const pgd_runas_t *ru;
  char *const *argv;
  char *const *envp;
  const char *cwd;
  const char *path; /* PATH to search */
  int out_fd;
  const pgd_runas_cgroups_t *cg; /* nullable */
  int in_cgroup;        /* created in cg->into_dir_fd already (clone3) */
  pid_t parent;     /* the worker: the child dies with it (PR_SET_PDEATHSIG) */
  volatile int err;
  volatile int step;
} child_args_t;

/* The child runs on a small stack of the parent's (CLONE_VM): AddressSanitizer
 * cannot follow that (its no-return bookkeeping reads the signal stack and
 * reports a false overflow), so the child's code is not instrumented. */
#define CHILD_CODE __attribute__((no_sanitize("address")))

static void child_fail(child_args_t *a, int step, int err) __attribute__((noreturn));
CHILD_CODE static void child_fail(child_args_t *a, int step, int err) {
  a->err = err ? err : EINVAL;
  a->step = step;
  _exit(127);
}

CHILD_CODE static void close_from_3(void) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, 3u, ~0u, 0u) == 0) return;
#endif
  struct rlimit rl;
  long max = 4096;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 65536)
    max = (long)rl.rlim_cur;
  for (long fd = 3; fd < max; fd++) close((int)fd);
}

/* Searches a->path for a->argv[0] and execs; returns the errno to report. */
CHILD_CODE static int exec_search(child_args_t *a) {
  const char *name = a->argv[0];
  if (strchr(name, '/')) {
    execve(name, a->argv, a->envp);
    return errno;
  }
  size_t nlen = strlen(name);
  char buf[PATH_MAX];
  int seen_eacces = 0;
  const char *p = a->path;
  for (;;) {
    const char *colon = strchr(p, ':');
    size_t dlen = colon ? (size_t)(colon - p) : strlen(p);
    const char *dir = dlen ? p : ".";
    if (!dlen) dlen = 1;
    if (dlen + 1 + nlen + 1 <= sizeof buf) {
      memcpy(buf, dir, dlen);
      buf[dlen] = '/';
      memcpy(buf + dlen + 1, name, nlen + 1);
      execve(buf, a->argv, a->envp);
      int e = errno;
      if (e == EACCES) seen_eacces = 1;
      else if (e != ENOENT && e != ENOTDIR && e != ESTALE && e != ENODEV && e != ETIMEDOUT)
        return e; /* found but unusable (ENOEXEC, E2BIG, ...) */
    }
    if (!colon) break;
    p = colon + 1;
  }
  return seen_eacces ? EACCES : ENOENT;
}

/* The hexadecimal sigset after `key` in a /proc status text, or -1. */
CHILD_CODE static int status_sigset(const char *text, const char *key, uint64_t *out) {
  size_t klen = strlen(key);
  for (const char *p = text; *p; p++) {
    if (*p != '\n' || strncmp(p + 1, key, klen) != 0) continue;
    const char *q = p + 1 + klen;
    uint64_t v = 0;
    int digits = 0;
    for (;; q++, digits++) {
      int d;
      if (*q >= '0' && *q <= '9') d = *q - '0';
      else if (*q >= 'a' && *q <= 'f') d = *q - 'a' + 10;
      else break;
      v = v << 4 | (uint64_t)d;
    }
    if (*q != '\n' || digits == 0 || digits > 16) return -1; /* more than 64 signals */
    *out = v;
    return 0;
  }
  return -1;
}

/* The child's ignored and caught signals (bit sig-1), from SigIgn and
 * SigCgt of /proc/self/status: the kernel's own account of this process's
 * handler table, which is the child's copy of the worker's taken at clone
 * (no CLONE_SIGHAND) and which nobody but the child changes. (The fields of
 * /proc/self/stat would be cheaper but hold signals 1..31 only.) Returns 0,
 * or -1 (no /proc, an unexpected text): the caller then asks every signal. */
CHILD_CODE static int nondefault_signals(uint64_t *out) {
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = '\0';
  uint64_t ign, cgt;
  if (status_sigset(buf, "SigIgn:\t", &ign) != 0 || status_sigset(buf, "SigCgt:\t", &cgt) != 0)
    return -1;
  *out = ign | cgt;
  return 0;
}

/* Signals are blocked (by the parent). No handler of the parent may run
 * here: every caught signal goes back to its default action; SIGPIPE and
 * the like, which the worker ignores, too (a job expects defaults). Only
 * the signals whose disposition is not the default are touched: asking
 * each of the 64 cost 62 system calls per spawn (~20 us of CPU on the
 * 2-vCPU VM of docs/benchmarks.md, against ~14 us for the read of
 * /proc/self/status) while the worker's loop waits (CLONE_VFORK). The
 * result is the same: what /proc reports is what the loop would find. */
CHILD_CODE static void reset_dispositions(void) {
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  uint64_t reset;
  if (nondefault_signals(&reset) == 0) {
    for (int sig = 1; sig <= 64 && reset; sig++) {
      uint64_t bit = 1ULL << (sig - 1);
      if (!(reset & bit)) continue;
      reset &= ~bit;
      /* glibc refuses its internal signals (as below) */
      if (sig != SIGKILL && sig != SIGSTOP && sig < NSIG) sigaction(sig, &dfl, NULL);
    }
    return;
  }
  for (int sig = 1; sig < NSIG; sig++) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0) continue; /* glibc-internal signals */
    if (sa.sa_handler == SIG_DFL && !(sa.sa_flags & SA_SIGINFO)) continue;
    sigaction(sig, &dfl, NULL);
  }
}

CHILD_CODE static int child_main(void *arg) {
  child_args_t *a = arg;
  const pgd_runas_t *ru = a->ru;
  reset_dispositions();
  /* Into the attempt's cgroups first: every process it starts from here on
   * is in them (the descriptors are closed by close_from_3 below). */
  if (a->cg && !a->in_cgroup && a->cg->into_procs_fd >= 0 &&
      write(a->cg->into_procs_fd, "0", 1) != 1)
    child_fail(a, PGD_RUNAS_STEP_SETUP, errno);
  for (int i = 0; a->cg && a->cg->join_fds && a->cg->join_fds[i] >= 0; i++)
    if (write(a->cg->join_fds[i], "0", 1) != 1) child_fail(a, PGD_RUNAS_STEP_SETUP, errno);
  if (setpgid(0, 0) != 0) child_fail(a, PGD_RUNAS_STEP_SETUP, errno);
  if (a->out_fd != 1 && dup2(a->out_fd, 1) < 0) child_fail(a, PGD_RUNAS_STEP_SETUP, errno);
  if (a->out_fd != 2 && dup2(a->out_fd, 2) < 0) child_fail(a, PGD_RUNAS_STEP_SETUP, errno);
  if (a->out_fd == 1 || a->out_fd == 2) fcntl(a->out_fd, F_SETFD, 0);
  int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (nul < 0) child_fail(a, PGD_RUNAS_STEP_SETUP, errno);
  if (nul != 0) {
    if (dup2(nul, 0) < 0) child_fail(a, PGD_RUNAS_STEP_SETUP, errno);
  } else {
    fcntl(0, F_SETFD, 0);
  }
  close_from_3();
  /* Raw system calls: they change this task only (see the file comment). */
  if (ru && syscall(SYS_setgroups, (size_t)ru->ngroups, ru->groups) != 0)
    child_fail(a, PGD_RUNAS_STEP_CREDS, errno);
  if (ru && syscall(SYS_setresgid, ru->gid, ru->gid, ru->gid) != 0)
    child_fail(a, PGD_RUNAS_STEP_CREDS, errno);
  if (ru && syscall(SYS_setresuid, ru->uid, ru->uid, ru->uid) != 0)
    child_fail(a, PGD_RUNAS_STEP_CREDS, errno);
  if (a->cwd && chdir(a->cwd) != 0) child_fail(a, PGD_RUNAS_STEP_CWD, errno);
  /* If the worker dies (kill -9), the job's process is killed with it: the
   * master relaunches the attempt elsewhere, and it must not run twice. Set
   * after the credential change, which clears it; a worker already gone by
   * now is caught by the parent check. */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(a, PGD_RUNAS_STEP_SETUP, errno);
  if (getppid() != a->parent) child_fail(a, PGD_RUNAS_STEP_SETUP, ESRCH);
  sigset_t empty;
  sigemptyset(&empty);
  sigprocmask(SIG_SETMASK, &empty, NULL);
  /* A signal arriving from here on acts as in the job itself (a pending
   * SIGTERM ends the child, which the parent then reaps as killed). */
  child_fail(a, PGD_RUNAS_STEP_EXEC, exec_search(a));
}

/* The process's pid, asked once (a system call per spawn otherwise): a fork
 * forgets it in the child (pthread_atfork). Only a process made by glibc's
 * fork can call this file's spawns again: the clone children here exec or
 * exit, and nothing in Pagoda creates processes by other means. */
static pid_t own_pid_cache;
static pthread_once_t own_pid_once = PTHREAD_ONCE_INIT;

static void forget_own_pid(void) { __atomic_store_n(&own_pid_cache, 0, __ATOMIC_RELAXED); }

static void watch_forks(void) { pthread_atfork(NULL, NULL, forget_own_pid); }

static pid_t own_pid(void) {
  pthread_once(&own_pid_once, watch_forks);
  pid_t pid = __atomic_load_n(&own_pid_cache, __ATOMIC_RELAXED);
  if (!pid) {
    pid = getpid();
    __atomic_store_n(&own_pid_cache, pid, __ATOMIC_RELAXED);
  }
  return pid;
}

int pgd_runas_spawn(const pgd_runas_t *ru, char *const argv[], char *const envp[], const char *cwd,
                    int out_fd, pid_t *pid, pgd_runas_step_t *step) {
  return pgd_runas_spawn_ex(ru, argv, envp, cwd, out_fd, NULL, pid, step);
}

#if defined(__x86_64__) && defined(SYS_clone3)
/* clone3 with a function to run on the new stack, as glibc's internal
 * __clone3 (sysdeps/unix/sysv/linux/x86_64/clone3.S), which glibc does not
 * export: long clone3_run(args, size, fn, arg). Returns the child's pid or
 * -errno in the parent; the child calls fn(arg) and exits with its value. */
__asm__(".text\n"
        ".type pgd_clone3_run, @function\n"
        "pgd_clone3_run:\n"
        "  mov %rcx, %r8\n"          /* arg: r8 survives the syscall */
        "  mov $435, %eax\n"         /* SYS_clone3 */
        "  syscall\n"
        "  test %rax, %rax\n"
        "  jz 1f\n"
        "  ret\n"
        "1:\n"
        "  xor %ebp, %ebp\n"
        "  and $-16, %rsp\n"
        "  mov %r8, %rdi\n"
        "  call *%rdx\n"
        "  mov %rax, %rdi\n"
        "  mov $60, %eax\n"          /* SYS_exit */
        "  syscall\n"
        "  hlt\n"
        ".size pgd_clone3_run, .-pgd_clone3_run\n");
long pgd_clone3_run(void *args, size_t size, int (*fn)(void *), void *arg);
#define HAVE_CLONE3_RUN 1

/* struct clone_args of <linux/sched.h> (version 2, with `cgroup`), spelled
 * out: that header clashes with <sched.h>. */
typedef struct clone3_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
      set_tid_size, cgroup;
} clone3_args_t;
#define CLONE3_INTO_CGROUP 0x200000000ULL

/* 0 = unknown, 1 = works, -1 = refused by this kernel (ENOSYS, EINVAL, E2BIG);
 * [1] with CLONE_INTO_CGROUP (Linux >= 5.7), [0] without (>= 5.3) */
static int clone3_state[2];
#endif

/* ---- the child's stack, one per spawning thread ---------------------------
 * The child runs on it only until its execve or _exit, and CLONE_VFORK holds
 * the parent until then, so the next spawn of the same thread can use it
 * again. Mapping and unmapping it per spawn cost an mmap, page faults on
 * first touch and a munmap whose TLB shootdown interrupts every CPU the
 * child ran on (~3 % of the daemon's samples at batch load, issue 17 round
 * 4). It is unmapped when its thread exits. */

static pthread_key_t stack_key;
static pthread_once_t stack_key_once = PTHREAD_ONCE_INIT;
static int stack_key_ok;
static __thread void *thread_stack;

static void unmap_thread_stack(void *stack) { munmap(stack, CHILD_STACK_SIZE); }

static void make_stack_key(void) {
  stack_key_ok = pthread_key_create(&stack_key, unmap_thread_stack) == 0;
}

/* The calling thread's child stack (mapped on first use), or NULL with errno
 * set. Without a thread-exit destructor (pthread_key_create failed) the
 * stack is not kept: *keep is 0 and the caller unmaps it after the spawn. */
static void *child_stack(int *keep) {
  *keep = 1;
  if (thread_stack) return thread_stack;
  void *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return NULL;
  pthread_once(&stack_key_once, make_stack_key);
  if (stack_key_ok && pthread_setspecific(stack_key, stack) == 0)
    thread_stack = stack;
  else
    *keep = 0;
  return stack;
}

int pgd_runas_spawn_ex(const pgd_runas_t *ru, char *const argv[], char *const envp[],
                       const char *cwd, int out_fd, const pgd_runas_cgroups_t *cg, pid_t *pid,
                       pgd_runas_step_t *step) {
  pgd_runas_io_t io = {.out_fd = out_fd, .cg = cg};
  return pgd_runas_spawn_io(ru, argv, envp, cwd, &io, pid, step);
}

void pgd_runas_clone3_for_test(int allow) {
#ifdef HAVE_CLONE3_RUN
  __atomic_store_n(&clone3_state[0], allow ? 0 : -1, __ATOMIC_RELAXED);
  __atomic_store_n(&clone3_state[1], allow ? 0 : -1, __ATOMIC_RELAXED);
#else
  (void)allow;
#endif
}

int pgd_runas_spawn_io(const pgd_runas_t *ru, char *const argv[], char *const envp[],
                       const char *cwd, const pgd_runas_io_t *io, pid_t *pid,
                       pgd_runas_step_t *step) {
  if (step) *step = PGD_RUNAS_STEP_NONE;
  if (io && io->pidfd) *io->pidfd = -1;
  if ((ru && (!ru->groups || ru->ngroups <= 0)) || !argv || !argv[0] || !argv[0][0] || !envp ||
      !io || io->out_fd < 0 || !pid)
    return EINVAL;
  const pgd_runas_cgroups_t *cg = io->cg;
  child_args_t a = {.ru = ru, .argv = argv, .envp = envp, .cwd = cwd, .out_fd = io->out_fd,
                    .cg = cg, .path = DEFAULT_PATH, .parent = own_pid()};
  for (size_t i = 0; envp[i]; i++)
    if (strncmp(envp[i], "PATH=", 5) == 0) a.path = envp[i] + 5;

  int keep_stack;
  void *stack = child_stack(&keep_stack);
  if (!stack) return errno;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t child = -1;
  int clone_errno = 0;
  int pidfd = -1;
#ifdef HAVE_CLONE3_RUN
  /* clone3 whenever the kernel takes it: the child is created in its cgroup
   * (no migration) and, when asked, the kernel hands back a pidfd of it
   * (CLONE_PIDFD: no pidfd_open afterwards, and no window in which the pid
   * could be reused). A kernel that refuses it (older than 5.7 for
   * CLONE_INTO_CGROUP, 5.3 for clone3) gets clone and pidfd_open. */
  int into_cg = cg && cg->into_dir_fd >= 0;
  int *state = &clone3_state[into_cg];
  if ((into_cg || io->pidfd) && __atomic_load_n(state, __ATOMIC_RELAXED) >= 0) {
    clone3_args_t ca = {.flags = CLONE_VM | CLONE_VFORK,
                        .exit_signal = SIGCHLD,
                        .stack = (uint64_t)(uintptr_t)stack,
                        .stack_size = CHILD_STACK_SIZE};
    if (into_cg) {
      ca.flags |= CLONE3_INTO_CGROUP;
      ca.cgroup = (uint64_t)cg->into_dir_fd;
      a.in_cgroup = 1;
    }
    if (io->pidfd) {
      ca.flags |= CLONE_PIDFD;
      ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
    }
    long r = pgd_clone3_run(&ca, sizeof ca, child_main, &a);
    if (r >= 0) {
      child = (pid_t)r;
      __atomic_store_n(state, 1, __ATOMIC_RELAXED);
    } else if ((r == -ENOSYS || r == -EINVAL || r == -E2BIG) &&
               __atomic_load_n(state, __ATOMIC_RELAXED) == 0) {
      __atomic_store_n(state, -1, __ATOMIC_RELAXED); /* old kernel: the clone path */
      a.in_cgroup = 0;
      pidfd = -1;
    } else {
      clone_errno = (int)-r;
      a.in_cgroup = 0;
      pidfd = -1;
      child = -2; /* failed, no fallback */
    }
  }
#endif
  if (child == -1) {
    child = clone(child_main, (char *)stack + CHILD_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD,
                  &a);
    clone_errno = errno;
  }
  if (child == -2) child = -1;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (!keep_stack) munmap(stack, CHILD_STACK_SIZE);
  if (child < 0) {
    if (step) *step = PGD_RUNAS_STEP_SETUP;
    return clone_errno;
  }
  if (a.err) {
    if (pidfd >= 0) close(pidfd);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
    if (step) *step = (pgd_runas_step_t)a.step;
    return a.err;
  }
  if (io->pidfd) {
#ifdef SYS_pidfd_open
    /* the clone path: the child is a zombie at worst (not reaped), so the
     * pid still names it */
    if (pidfd < 0) pidfd = (int)syscall(SYS_pidfd_open, child, 0);
#endif
    *io->pidfd = pidfd;
  }
  *pid = child;
  return 0;
}
