/* Pagoda — containment of attempts in cgroups (cgroup.h); the /proc
 * scanning fallback is in proctrack.c, the system-call helpers shared with
 * the guard process in cgroup_sys.c. */
#include "worker/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "worker/cgroup_int.h"
#include "worker/cgroup_sys.h"

#define MOD "cgroup"
#define CPU_PERIOD_US 100000
#define DESTROY_WAIT_MS 2000

static const char *const limit_ctl[LIM_COUNT] = {"memory", "pids", "cpu"};

/* ---- discovery ----------------------------------------------------------- */

/* Whether the comma-separated list `opts` holds `word`. */
static int has_word(const char *opts, const char *word) {
  size_t wl = strlen(word);
  for (const char *p = opts; p && *p;) {
    const char *c = strchr(p, ',');
    size_t l = c ? (size_t)(c - p) : strlen(p);
    if (l == wl && strncmp(p, word, wl) == 0) return 1;
    p = c ? c + 1 : NULL;
  }
  return 0;
}

/* The calling process's cgroup path in the hierarchy with `controller`
 * (NULL = the v2 hierarchy), from /proc/self/cgroup. Caller frees. */
static char *own_cgroup(const char *controller) {
  FILE *f = fopen("/proc/self/cgroup", "re");
  if (!f) return NULL;
  char line[4096];
  char *out = NULL;
  while (!out && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c2 = '\0';
    const char *ctls = c1 + 1;
    if (controller ? has_word(ctls, controller) : (strcmp(line, "0") == 0 && !*ctls))
      out = strdup(c2 + 1);
  }
  fclose(f);
  return out;
}

/* Mount point of the v2 hierarchy (controller NULL) or of the v1 hierarchy
 * holding `controller`, from /proc/self/mountinfo; *root gets the mount's
 * root inside the hierarchy. Caller frees both. */
static char *find_mount(const char *controller, char **root) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) return NULL;
  char line[4096];
  char *out = NULL;
  while (!out && fgets(line, sizeof line, f)) {
    /* id parent major:minor root mountpoint opts ... - fstype source superopts */
    char mroot[1024], mpoint[1024], fstype[64], super[1024];
    const char *dash = strstr(line, " - ");
    if (!dash || sscanf(line, "%*s %*s %*s %1023s %1023s", mroot, mpoint) != 2 ||
        sscanf(dash + 3, "%63s %*s %1023s", fstype, super) != 2)
      continue;
    int match = controller ? strcmp(fstype, "cgroup") == 0 && has_word(super, controller)
                           : strcmp(fstype, "cgroup2") == 0;
    if (match) {
      out = strdup(mpoint);
      *root = strdup(mroot);
    }
  }
  fclose(f);
  return out;
}

/* The absolute directory of `base` (cgroup_root, or the worker's own
 * cgroup) in the hierarchy of `controller`, NULL when not mounted. */
static char *hierarchy_base(const char *controller, const char *cgroup_root) {
  char *mroot = NULL;
  char *mnt = find_mount(controller, &mroot);
  if (!mnt) {
    free(mroot);
    return NULL;
  }
  char *rel = cgroup_root && *cgroup_root ? strdup(cgroup_root) : own_cgroup(controller);
  const char *r = rel ? rel : "/";
  /* inside a container the mount's root may be a sub-path of the hierarchy */
  if (!(cgroup_root && *cgroup_root) && mroot && strcmp(mroot, "/") != 0 &&
      strncmp(r, mroot, strlen(mroot)) == 0)
    r += strlen(mroot);
  char *out = NULL;
  if (asprintf(&out, "%s%s%s", mnt, *r == '/' ? "" : "/", strcmp(r, "/") == 0 ? "" : r) < 0)
    out = NULL;
  free(rel);
  free(mnt);
  free(mroot);
  return out;
}

static int mkdir_p(const char *path) {
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -ENAMETOOLONG;
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -errno;
    *p = '/';
  }
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -errno;
  return 0;
}

/* Creates the per-worker parent `<base>/pagoda-<name>`; NULL when the base
 * is missing or not writable. */
static char *make_parent(const char *base, const char *name) {
  if (!base) return NULL;
  char *p = NULL;
  if (asprintf(&p, "%s/pagoda-%s", base, name) < 0) return NULL;
  if (mkdir_p(p) != 0) {
    free(p);
    return NULL;
  }
  return p;
}

/* Whether the v2 parent `dir` can give its children `ctl` (enables it in
 * its parent's and its own subtree_control as needed). */
static int v2_enable(const char *dir, const char *ctl) {
  char want[32], buf[1024];
  snprintf(want, sizeof want, "+%s", ctl);
  char *up = strdup(dir);
  if (!up) return 0;
  char *slash = strrchr(up, '/');
  if (slash) *slash = '\0';
  if (cgs_read(up, "cgroup.subtree_control", buf, sizeof buf) >= 0 && !has_word(buf, ctl)) {
    for (char *c = buf; *c; c++)
      if (*c == ' ' || *c == '\n') *c = ',';
    if (!has_word(buf, ctl)) cgs_write(up, "cgroup.subtree_control", want);
  }
  free(up);
  if (cgs_write(dir, "cgroup.subtree_control", want) != 0) return 0;
  if (cgs_read(dir, "cgroup.subtree_control", buf, sizeof buf) < 0) return 0;
  for (char *c = buf; *c; c++)
    if (*c == ' ' || *c == '\n') *c = ',';
  return has_word(buf, ctl);
}

/* ---- leftovers and the guard --------------------------------------------- */

typedef struct sweep {
  const char *parent;
  int killed;
} sweep_t;

static void sweep_one(const char *name, void *ud) {
  sweep_t *s = ud;
  char dir[PATH_MAX];
  if (cgs_join(dir, sizeof dir, s->parent, "/", name) < 0) return;
  int n = cgs_kill_cgroup(dir, DESTROY_WAIT_MS);
  if (n > 0) s->killed += n;
  rmdir(dir);
}

/* Kills and removes every attempt cgroup under `parent`; returns the number
 * of processes found in them. Used by root open (leftovers of a previous
 * run), root close and the guard. */
static int sweep_parent(const char *parent) {
  sweep_t s = {parent, 0};
  cgs_subdirs_foreach(parent, sweep_one, &s);
  return s.killed;
}

/* The guard process: waits for EOF on `fd` (the worker died or closed the
 * pipe), then kills every attempt tree of the worker. System calls only. */
__attribute__((noreturn)) static void guard_main(int fd, const pgd_cgroup_root_t *r) {
  prctl(PR_SET_NAME, "pagoda-guard");
  /* Signals aimed at the worker's process group must not end the guard
   * before the worker: only EOF (or SIGKILL) does. */
  signal(SIGINT, SIG_IGN);
  signal(SIGTERM, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  if (fd != 3) {
    dup2(fd, 3);
    fd = 3;
  }
#ifdef SYS_close_range
  syscall(SYS_close_range, 4u, ~0u, 0u);
#endif
  int in = open("/dev/null", O_RDWR);
  if (in >= 0) {
    dup2(in, 0);
    dup2(in, 1);
    dup2(in, 2);
    if (in > 3) close(in);
  }
  char b[64];
  for (;;) {
    ssize_t n = read(fd, b, sizeof b);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    break;
  }
  if (r->mode == PGD_CONTAIN_CGROUP) {
    /* the per-worker parents go too (a new start of the worker recreates
     * them, see add_dir) */
    for (int i = 0; i < LIM_COUNT; i++)
      if (r->lim_parent[i] && strcmp(r->lim_parent[i], r->track_parent) != 0) {
        sweep_parent(r->lim_parent[i]);
        rmdir(r->lim_parent[i]);
      }
    sweep_parent(r->track_parent);
    rmdir(r->track_parent);
  } else {
    cgs_kill_by_env(r->marker_prefix, 5);
  }
  _exit(0);
}

static void start_guard(pgd_cgroup_root_t *r) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    PGD_WARN(MOD, "cannot create the guard's pipe: %s (jobs may outlive a killed worker "
                  "until its next start)", strerror(errno));
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[1]);
    guard_main(fds[0], r);
  }
  close(fds[0]);
  if (pid < 0) {
    PGD_WARN(MOD, "cannot start the guard process: %s", strerror(errno));
    close(fds[1]);
    return;
  }
  r->guard = pid;
  r->guard_fd = fds[1];
}

/* ---- root ---------------------------------------------------------------- */

static int valid_name(const char *s, size_t max) {
  if (!s || !*s || strlen(s) > max) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '.' || *s == '_' || *s == '-'))
      return 0;
  return 1;
}

static void describe(pgd_cgroup_root_t *r) {
  if (r->mode == PGD_CONTAIN_PROCSCAN) {
    snprintf(r->desc, sizeof r->desc,
             "process tracking by /proc scan and child subreaper (no cgroup): no limits");
    return;
  }
  int n = snprintf(r->desc, sizeof r->desc, "cgroup %s %s; limits:", r->track_v2 ? "v2" : "v1",
                   r->track_parent);
  for (int i = 0; i < LIM_COUNT && n > 0 && (size_t)n < sizeof r->desc; i++)
    n += snprintf(r->desc + n, sizeof r->desc - (size_t)n, " %s=%s", limit_ctl[i],
                  r->lim_parent[i] ? (r->lim_v2[i] ? "v2" : "v1") : "none");
}

static void setup_cgroups(pgd_cgroup_root_t *r, const char *cgroup_root) {
  char *v2base = hierarchy_base(NULL, cgroup_root);
  r->track_parent = make_parent(v2base, r->name);
  r->track_v2 = r->track_parent != NULL;
  free(v2base);
  for (int i = 0; i < LIM_COUNT; i++) {
    if (r->track_v2 && v2_enable(r->track_parent, limit_ctl[i])) {
      r->lim_parent[i] = strdup(r->track_parent);
      r->lim_v2[i] = 1;
      continue;
    }
    char *base = hierarchy_base(limit_ctl[i], cgroup_root);
    r->lim_parent[i] = make_parent(base, r->name);
    free(base);
  }
  if (!r->track_parent) { /* v1-only host: a v1 hierarchy tracks */
    static const char *const v1_track[] = {"pids", "memory", "cpu", "freezer"};
    for (size_t i = 0; i < sizeof v1_track / sizeof *v1_track && !r->track_parent; i++) {
      char *base = hierarchy_base(v1_track[i], cgroup_root);
      r->track_parent = make_parent(base, r->name);
      free(base);
    }
  }
}

int pgd_cgroup_root_open(const pgd_cgroup_root_config_t *cfg, pgd_cgroup_root_t **out,
                         int *leftovers, char *err, size_t errlen) {
  if (leftovers) *leftovers = 0;
  if (!cfg || !out || !valid_name(cfg->name, 100))
    return pgd_set_err(err, errlen, -EINVAL, "containment needs a name of [A-Za-z0-9._-]");
  pgd_cgroup_root_t *r = calloc(1, sizeof *r);
  if (!r || !(r->name = strdup(cfg->name))) {
    free(r);
    return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  }
  r->guard = -1;
  r->guard_fd = -1;
  if (cfg->use_cgroups) setup_cgroups(r, cfg->cgroup_root);
  int killed = 0;
  if (r->track_parent) {
    r->mode = PGD_CONTAIN_CGROUP;
    killed = sweep_parent(r->track_parent);
    for (int i = 0; i < LIM_COUNT; i++)
      if (r->lim_parent[i] && strcmp(r->lim_parent[i], r->track_parent) != 0)
        killed += sweep_parent(r->lim_parent[i]);
  } else {
    r->mode = PGD_CONTAIN_PROCSCAN;
    for (int i = 0; i < LIM_COUNT; i++) {
      if (r->lim_parent[i]) rmdir(r->lim_parent[i]);
      free(r->lim_parent[i]);
      r->lim_parent[i] = NULL;
    }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
      PGD_WARN(MOD, "PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
  }
  snprintf(r->marker_prefix, sizeof r->marker_prefix, "PAGODA_CONTAIN=%s/", r->name);
  if (r->mode == PGD_CONTAIN_PROCSCAN) killed = cgs_kill_by_env(r->marker_prefix, 5);
  describe(r);
  PGD_INFO(MOD, "containment: %s%s", r->desc,
           cfg->use_cgroups || r->mode == PGD_CONTAIN_CGROUP ? "" : " (cgroups = false)");
  if (killed > 0)
    PGD_WARN(MOD, "killed %d process(es) left by a previous run of this worker", killed);
  if (leftovers) *leftovers = killed;
  if (!cfg->no_guard) start_guard(r);
  *out = r;
  return 0;
}

void pgd_cgroup_root_close(pgd_cgroup_root_t *r) {
  if (!r) return;
  if (r->guard_fd >= 0) close(r->guard_fd); /* EOF: the guard sweeps and exits */
  if (r->guard > 0)
    while (waitpid(r->guard, NULL, 0) < 0 && errno == EINTR) {
    }
  for (size_t i = 0; i < r->npool; i++) {
    if (!r->pool[i].dir) continue; /* retired */
    close(r->pool[i].dir_fd);
    close(r->pool[i].procs_fd);
    if (r->pool[i].count_fd >= 0) close(r->pool[i].count_fd);
    free(r->pool[i].dir);
  }
  free(r->pool);
  if (r->mode == PGD_CONTAIN_CGROUP) {
    sweep_parent(r->track_parent); /* removes the pooled cgroups too */
    rmdir(r->track_parent);
  }
  for (int i = 0; i < LIM_COUNT; i++) {
    if (r->lim_parent[i] && (!r->track_parent || strcmp(r->lim_parent[i], r->track_parent) != 0)) {
      sweep_parent(r->lim_parent[i]);
      rmdir(r->lim_parent[i]);
    }
    free(r->lim_parent[i]);
  }
  free(r->track_parent);
  free(r->name);
  free(r);
}

pgd_contain_mode_t pgd_cgroup_root_mode(const pgd_cgroup_root_t *r) {
  return r ? r->mode : PGD_CONTAIN_PROCSCAN;
}

const char *pgd_cgroup_root_describe(const pgd_cgroup_root_t *r) { return r ? r->desc : ""; }

pid_t pgd_cgroup_root_guard_pid(const pgd_cgroup_root_t *r) { return r ? r->guard : -1; }

/* ---- one attempt ----------------------------------------------------------- */

/* Takes a pooled cgroup out of the pool for good (removed). A cgroup that
 * cgroup.kill was written to is never reused: Linux (seen on 6.18)
 * compares the kill count of the parent's cgroup with the target's for a
 * child created by clone3(CLONE_INTO_CGROUP), and SIGKILLs every child
 * later created in a cgroup once killed. */
static void retire_pooled(pgd_cgroup_root_t *r, long idx) {
  cg_pooled_t *e = &r->pool[idx];
  close(e->dir_fd);
  close(e->procs_fd);
  if (e->count_fd >= 0) close(e->count_fd);
  if (rmdir(e->dir) != 0 && errno != ENOENT)
    PGD_WARN(MOD, "cannot remove %s: %s", e->dir, strerror(errno));
  free(e->dir);
  *e = (cg_pooled_t){.dir_fd = -1, .procs_fd = -1, .count_fd = -1};
}

/* dirs[0] from the pool of idle v2 tracking cgroups (made when none is
 * idle). Returns 0 or -errno. */
static int take_pooled(pgd_cgroup_t *cg) {
  pgd_cgroup_root_t *r = cg->r;
  size_t i = 0;
  while (i < r->npool && (r->pool[i].busy || !r->pool[i].dir)) i++;
  if (i == r->npool) {
    /* a retired index is filled again before the array grows */
    size_t slot = 0;
    while (slot < r->npool && (r->pool[slot].dir || r->pool[slot].busy)) slot++;
    if (slot == r->npool) {
      cg_pooled_t *np = realloc(r->pool, (r->npool + 1) * sizeof *np);
      if (!np) return -ENOMEM;
      r->pool = np;
    }
    cg_pooled_t e = {.dir_fd = -1, .procs_fd = -1, .count_fd = -1};
    if (asprintf(&e.dir, "%s/slot-%ld", r->track_parent, ++r->pool_seq) < 0) return -ENOMEM;
    /* ENOENT: the guard of a previous run of this worker, sweeping after
     * its death, removed the parent just now */
    int mk = mkdir(e.dir, 0755) == 0 || errno == EEXIST ? 0 : -errno;
    if (mk == -ENOENT && mkdir_p(r->track_parent) == 0)
      mk = mkdir(e.dir, 0755) == 0 || errno == EEXIST ? 0 : -errno;
    if (mk == 0 && (e.dir_fd = open(e.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) mk = -errno;
    if (mk == 0 && (e.procs_fd = openat(e.dir_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC)) < 0)
      mk = -errno;
    if (mk < 0) {
      if (e.dir_fd >= 0) close(e.dir_fd);
      rmdir(e.dir);
      free(e.dir);
      return mk;
    }
    r->pool[slot] = e;
    if (slot == r->npool) r->npool++;
    i = slot;
  }
  cg_pooled_t *e = &r->pool[i];
  if (!(cg->dirs[0] = strdup(e->dir))) return -ENOMEM;
  e->busy = 1;
  cg->pool_idx = (long)i;
  cg->dir_fd = e->dir_fd;
  cg->join[0] = e->procs_fd;
  cg->join[1] = -1;
  cg->ndirs = 1;
  return 0;
}

/* Resets, in a pooled cgroup, the v2 limits an earlier attempt set and this
 * one does not want. */
static void reset_pooled_limits(pgd_cgroup_t *cg, unsigned want) {
  cg_pooled_t *e = &cg->r->pool[cg->pool_idx];
  unsigned stale = e->v2_limits & ~want;
  if (stale & (1u << LIM_MEMORY)) cgs_write(e->dir, "memory.max", "max");
  if (stale & (1u << LIM_PIDS)) cgs_write(e->dir, "pids.max", "max");
  if (stale & (1u << LIM_CPU)) cgs_write(e->dir, "cpu.max", "max");
  e->v2_limits = 0;
  for (int k = 0; k < LIM_COUNT; k++)
    if ((want & (1u << k)) && cg->r->lim_v2[k]) e->v2_limits |= 1u << k;
}

static long long oom_kills(const char *dir, int v2) {
  char buf[1024];
  if (cgs_read(dir, v2 ? "memory.events" : "memory.oom_control", buf, sizeof buf) < 0) return 0;
  const char *p = strstr(buf, "oom_kill ");
  return p ? atoll(p + 9) : 0;
}

/* The attempt's directory under `parent`, created; index into cg->dirs. */
static int add_dir(pgd_cgroup_t *cg, const char *parent) {
  for (int i = 0; i < cg->ndirs; i++)
    if (strncmp(cg->dirs[i], parent, strlen(parent)) == 0 && cg->dirs[i][strlen(parent)] == '/')
      return i;
  char *d = NULL;
  if (asprintf(&d, "%s/%s", parent, cg->name) < 0) return -ENOMEM;
  /* ENOENT: the guard of a previous run of this worker, sweeping after its
   * death, removed the parent just now */
  int mk = mkdir(d, 0755) == 0 || errno == EEXIST ? 0 : -errno;
  if (mk == -ENOENT && mkdir_p(parent) == 0) mk = mkdir(d, 0755) == 0 || errno == EEXIST ? 0 : -errno;
  if (mk < 0) {
    free(d);
    return mk;
  }
  int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int pfd = fd >= 0 ? openat(fd, "cgroup.procs", O_WRONLY | O_CLOEXEC) : -1;
  int e = pfd < 0 ? -errno : 0;
  if (pfd < 0) {
    if (fd >= 0) close(fd);
    rmdir(d);
    free(d);
    return e;
  }
  /* the v2 tracking cgroup (always dirs[0]) is entered by clone3 */
  if (cg->ndirs == 0 && cg->r->track_v2) cg->dir_fd = fd;
  else close(fd);
  cg->dirs[cg->ndirs] = d;
  cg->join[cg->ndirs] = pfd;
  cg->join[cg->ndirs + 1] = -1;
  return cg->ndirs++;
}

static int write_limit(const char *dir, const char *file, const char *val, char *err,
                       size_t errlen) {
  int rc = cgs_write(dir, file, val);
  if (rc < 0)
    return pgd_set_err(err, errlen, rc, "cannot set %s/%s to %s: %s", dir, file, val,
                       strerror(-rc));
  return 0;
}

static int apply_limit(pgd_cgroup_t *cg, int kind, const pgd_cgroup_limits_t *lim, char *err,
                       size_t errlen) {
  pgd_cgroup_root_t *r = cg->r;
  int i = add_dir(cg, r->lim_parent[kind]);
  if (i < 0)
    return pgd_set_err(err, errlen, i, "cannot create the %s cgroup of the attempt: %s",
                       limit_ctl[kind], strerror(-i));
  const char *d = cg->dirs[i];
  char v[64];
  int v2 = r->lim_v2[kind];
  if (kind == LIM_MEMORY) {
    cg->mem_dir = i;
    cg->mem_v2 = v2;
    cg->oom_base = oom_kills(d, v2); /* a pooled cgroup counts earlier attempts' */
    snprintf(v, sizeof v, "%lld", (long long)lim->memory_mb * 1024 * 1024);
    if (v2) {
      int rc = write_limit(d, "memory.max", v, err, errlen);
      cgs_write(d, "memory.swap.max", "0"); /* no swap controller: fine */
      return rc;
    }
    int rc = write_limit(d, "memory.limit_in_bytes", v, err, errlen);
    cgs_write(d, "memory.memsw.limit_in_bytes", v); /* without swap accounting: fine */
    return rc;
  }
  if (kind == LIM_PIDS) {
    snprintf(v, sizeof v, "%lld", (long long)lim->pids);
    return write_limit(d, "pids.max", v, err, errlen);
  }
  long long quota = (long long)(lim->cpus * CPU_PERIOD_US);
  if (quota < 1000) quota = 1000; /* the kernel's minimum */
  if (v2) {
    snprintf(v, sizeof v, "%lld %d", quota, CPU_PERIOD_US);
    return write_limit(d, "cpu.max", v, err, errlen);
  }
  snprintf(v, sizeof v, "%d", CPU_PERIOD_US);
  int rc = write_limit(d, "cpu.cfs_period_us", v, err, errlen);
  snprintf(v, sizeof v, "%lld", quota);
  return rc ? rc : write_limit(d, "cpu.cfs_quota_us", v, err, errlen);
}

int pgd_cgroup_create(pgd_cgroup_root_t *r, const char *name, const pgd_cgroup_limits_t *lim,
                      pgd_cgroup_t **out, char *skipped, size_t skippedlen, char *err,
                      size_t errlen) {
  if (skipped && skippedlen) skipped[0] = '\0';
  if (!r || !out || !valid_name(name, 120))
    return pgd_set_err(err, errlen, -EINVAL, "invalid attempt containment name");
  pgd_cgroup_t *cg = calloc(1, sizeof *cg);
  if (!cg || !(cg->name = strdup(name))) {
    free(cg);
    return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  }
  cg->r = r;
  cg->join[0] = -1;
  cg->dir_fd = -1;
  cg->mem_dir = -1;
  cg->pool_idx = -1;
  cg->spawn = (pgd_runas_cgroups_t){.into_dir_fd = -1, .into_procs_fd = -1, .join_fds = cg->join};
  snprintf(cg->marker, sizeof cg->marker, "%s%s", r->marker_prefix, name);
  if (r->mode == PGD_CONTAIN_PROCSCAN) {
    if (lim && (lim->memory_mb > 0 || lim->cpus > 0 || lim->pids > 0) && skipped)
      snprintf(skipped, skippedlen, "memory_mb, cpus, pids (no cgroup on this worker)");
    *out = cg;
    return 0;
  }
  int rc = r->track_v2 ? take_pooled(cg) : add_dir(cg, r->track_parent);
  if (rc == 0 && cg->pool_idx >= 0) {
    unsigned want = 0;
    if (lim && lim->memory_mb > 0) want |= 1u << LIM_MEMORY;
    if (lim && lim->pids > 0) want |= 1u << LIM_PIDS;
    if (lim && lim->cpus > 0) want |= 1u << LIM_CPU;
    reset_pooled_limits(cg, want);
  }
  if (rc < 0) {
    pgd_set_err(err, errlen, rc, "cannot create the attempt's cgroup under %s: %s",
                r->track_parent, strerror(-rc));
    pgd_cgroup_destroy(cg);
    return rc;
  }
  rc = 0;
  for (int k = 0; lim && k < LIM_COUNT && rc == 0; k++) {
    int want = k == LIM_MEMORY ? lim->memory_mb > 0 : k == LIM_PIDS ? lim->pids > 0 : lim->cpus > 0;
    if (!want) continue;
    if (!r->lim_parent[k]) {
      if (skipped) {
        size_t l = strlen(skipped);
        snprintf(skipped + l, skippedlen - l, "%s%s (no %s controller)", l ? ", " : "",
                 k == LIM_MEMORY ? "memory_mb" : k == LIM_PIDS ? "pids" : "cpus", limit_ctl[k]);
      }
      continue;
    }
    rc = apply_limit(cg, k, lim, err, errlen);
  }
  if (rc < 0) {
    pgd_cgroup_destroy(cg);
    return rc;
  }
  if (cg->dir_fd >= 0) /* v2: created in it; v1 limit cgroups joined by write */
    cg->spawn = (pgd_runas_cgroups_t){.into_dir_fd = cg->dir_fd, .into_procs_fd = cg->join[0],
                                      .join_fds = cg->join + 1};
  *out = cg;
  return 0;
}

const pgd_runas_cgroups_t *pgd_cgroup_spawn_cgroups(const pgd_cgroup_t *cg) { return &cg->spawn; }

const char *pgd_cgroup_marker(const pgd_cgroup_t *cg) { return cg->marker; }

/* Closes the descriptors the child needed (once: a second call finds
 * every entry -1). A pooled cgroup's own descriptors stay with the pool. */
static void close_join(pgd_cgroup_t *cg) {
  for (int i = 0; i < CG_MAX_DIRS && cg->join[i] >= 0; i++)
    if (!(i == 0 && cg->pool_idx >= 0)) close(cg->join[i]);
  for (int i = 0; i <= CG_MAX_DIRS; i++) cg->join[i] = -1;
  if (cg->dir_fd >= 0 && cg->pool_idx < 0) close(cg->dir_fd);
  cg->dir_fd = -1;
  cg->spawn = (pgd_runas_cgroups_t){.into_dir_fd = -1, .into_procs_fd = -1, .join_fds = cg->join};
}

void pgd_cgroup_set_main(pgd_cgroup_t *cg, pid_t pid) {
  cg->main = pid;
  close_join(cg); /* the child is in: the descriptors are no longer needed */
}

static void signal_one(pid_t pid, void *ud) {
  int *sig = ud;
  kill(pid, *sig);
}

int pgd_cgroup_signal(pgd_cgroup_t *cg, int sig) {
  if (!cg) return -EINVAL;
  if (cg->r->mode == PGD_CONTAIN_PROCSCAN) return pgd_proctrack_signal(cg, sig);
  const char *d = cg->dirs[0];
  int n = cgs_procs_foreach(d, NULL, NULL);
  if (n <= 0) return n;
  if (sig == SIGKILL && cgs_write(d, "cgroup.kill", "1") == 0) {
    cg->killed_by_file = 1;
    return n;
  }
  return cgs_procs_foreach(d, signal_one, &sig);
}

/* The processes in the attempt's tracking cgroup (or -errno). A pooled
 * cgroup keeps its cgroup.procs open for this: the check runs after every
 * exit, and an open of the file by path was most of its cost. */
static int count_members(pgd_cgroup_t *cg) {
  if (cg->pool_idx >= 0) {
    cg_pooled_t *e = &cg->r->pool[cg->pool_idx];
    if (e->count_fd < 0) e->count_fd = openat(e->dir_fd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
    if (e->count_fd >= 0) return cgs_procs_foreach_fd(e->count_fd, NULL, NULL);
  }
  return cgs_procs_foreach(cg->dirs[0], NULL, NULL);
}

int pgd_cgroup_empty(pgd_cgroup_t *cg) {
  if (!cg) return 1;
  if (cg->known_empty) return 1;
  int empty = cg->r->mode == PGD_CONTAIN_PROCSCAN ? pgd_proctrack_empty(cg)
                                                   : count_members(cg) <= 0;
  /* nothing can enter an empty tree once its main process ran (the
   * cgroups are ours; a /proc-scan tree has no member left to fork) */
  if (empty && cg->main > 0) cg->known_empty = 1;
  return empty;
}

int pgd_cgroup_oom_killed(const pgd_cgroup_t *cg) {
  if (!cg || cg->mem_dir < 0) return 0;
  return oom_kills(cg->dirs[cg->mem_dir], cg->mem_v2) > cg->oom_base;
}

void pgd_cgroup_destroy(pgd_cgroup_t *cg) {
  if (!cg) return;
  close_join(cg);
  if (cg->known_empty) {
    if (cg->pool_idx >= 0 && cg->killed_by_file) retire_pooled(cg->r, cg->pool_idx);
    else if (cg->pool_idx >= 0) cg->r->pool[cg->pool_idx].busy = 0;
    for (int i = cg->pool_idx >= 0 ? 1 : 0; i < cg->ndirs; i++)
      if (rmdir(cg->dirs[i]) != 0 && errno != ENOENT)
        PGD_WARN(MOD, "cannot remove %s: %s", cg->dirs[i], strerror(errno));
  } else if (cg->r->mode == PGD_CONTAIN_PROCSCAN) {
    pgd_proctrack_kill_all(cg);
  } else {
    for (int i = 0; i < cg->ndirs; i++) {
      /* the tracking cgroup first: it holds every process of the tree */
      int rc = cgs_kill_cgroup(cg->dirs[i], DESTROY_WAIT_MS);
      if (rc == -EBUSY)
        PGD_WARN(MOD, "%s: processes still there after SIGKILL (left for the next start)",
                 cg->dirs[i]);
      if (i == 0 && cg->pool_idx >= 0) {
        /* back to the pool, unless something survived in it or it was
         * killed through cgroup.kill (see retire_pooled) */
        if (rc == 0 && !cg->killed_by_file) cg->r->pool[cg->pool_idx].busy = 0;
        else if (rc >= 0) retire_pooled(cg->r, cg->pool_idx);
        continue;
      }
      if (rmdir(cg->dirs[i]) != 0 && errno != ENOENT)
        PGD_WARN(MOD, "cannot remove %s: %s", cg->dirs[i], strerror(errno));
    }
  }
  for (int i = 0; i < cg->ndirs; i++) free(cg->dirs[i]);
  free(cg->seen);
  free(cg->name);
  free(cg);
}
