/* Pagoda — the containment fallback without cgroups (PROCSCAN in
 * cgroup.h): an attempt's tree is found by scanning /proc. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "worker/cgroup_int.h"
#include "worker/cgroup_sys.h"
#include "worker/spawn.h"

typedef struct pinfo {
  pid_t pid, ppid, pgid;
  char state;
  int member;
} pinfo_t;

typedef struct plist {
  pinfo_t *v;
  size_t n, cap;
} plist_t;

static void add_proc(const char *name, void *ud) {
  plist_t *l = ud;
  char *end;
  long pid = strtol(name, &end, 10);
  if (*end || pid <= 0) return;
  char dir[64], buf[1024];
  snprintf(dir, sizeof dir, "/proc/%ld", pid);
  if (cgs_read(dir, "stat", buf, sizeof buf) <= 0) return;
  const char *rp = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
  pinfo_t p = {.pid = (pid_t)pid};
  int ppid = 0, pgid = 0;
  if (!rp || sscanf(rp + 1, " %c %d %d", &p.state, &ppid, &pgid) != 3) return;
  p.ppid = ppid;
  p.pgid = pgid;
  if (l->n == l->cap) {
    size_t nc = l->cap ? l->cap * 2 : 256;
    pinfo_t *nv = realloc(l->v, nc * sizeof *nv);
    if (!nv) return;
    l->v = nv;
    l->cap = nc;
  }
  l->v[l->n++] = p;
}

static int seen_has(const pgd_cgroup_t *cg, pid_t pid) {
  for (size_t i = 0; i < cg->nseen; i++)
    if (cg->seen[i] == pid) return 1;
  return 0;
}

static void seen_add(pgd_cgroup_t *cg, pid_t pid) {
  if (seen_has(cg, pid)) return;
  if (cg->nseen == cg->capseen) {
    size_t nc = cg->capseen ? cg->capseen * 2 : 16;
    pid_t *nv = realloc(cg->seen, nc * sizeof *nv);
    if (!nv) return;
    cg->seen = nv;
    cg->capseen = nc;
  }
  cg->seen[cg->nseen++] = pid;
}

/* Marks the members of the tree in *l (live processes only) and reaps the
 * zombies of re-parented orphans. Returns the number of members. */
static int scan(pgd_cgroup_t *cg, plist_t *l) {
  l->n = 0;
  cgs_subdirs_foreach("/proc", add_proc, l);
  pid_t self = getpid();
  for (size_t i = 0; i < l->n; i++) {
    pinfo_t *p = &l->v[i];
    if (p->state == 'Z') {
      /* a job's process re-parented to this subreaper: nobody else will
       * reap it. Jobs run in process groups of their own; children of the
       * worker process in its own group (a dev daemon's plugin probes, the
       * guard) are left to whoever waits for them. */
      if (p->ppid == self && !pgd_spawn_supervises(p->pid) &&
          (seen_has(cg, p->pid) || p->pgid != getpgrp()))
        waitpid(p->pid, NULL, WNOHANG);
      continue;
    }
    if (p->pid == self || p->ppid == 2 || p->pid == 2) continue; /* kernel threads */
    p->member = (cg->main > 0 && (p->pid == cg->main || p->pgid == cg->main)) ||
                seen_has(cg, p->pid) || cgs_environ_has(p->pid, cg->marker);
  }
  /* children of members are members (a fixpoint over the parent links) */
  for (int changed = 1; changed;) {
    changed = 0;
    for (size_t i = 0; i < l->n; i++) {
      pinfo_t *p = &l->v[i];
      if (p->member || p->state == 'Z' || p->pid == self) continue;
      for (size_t j = 0; j < l->n; j++)
        if (l->v[j].member && l->v[j].pid == p->ppid) {
          p->member = changed = 1;
          break;
        }
    }
  }
  /* `seen` keeps only live members: a pid that is gone may be reused by
   * an unrelated process */
  cg->nseen = 0;
  int n = 0;
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i].member) {
      seen_add(cg, l->v[i].pid);
      n++;
    }
  return n;
}

int pgd_proctrack_signal(pgd_cgroup_t *cg, int sig) {
  plist_t l = {0};
  int n = scan(cg, &l);
  for (size_t i = 0; i < l.n; i++)
    if (l.v[i].member) kill(l.v[i].pid, sig);
  free(l.v);
  return n;
}

typedef struct kids {
  pid_t guard;
  int foreign; /* a child that is neither a live spawn nor the guard */
  int unknown; /* a children file could not be read */
} kids_t;

static void check_task_children(const char *tid, void *ud) {
  kids_t *k = ud;
  char dir[64], buf[4096];
  snprintf(dir, sizeof dir, "/proc/self/task/%.20s", tid);
  ssize_t n = cgs_read(dir, "children", buf, sizeof buf);
  if (n < 0 || (size_t)n >= sizeof buf - 1) {
    k->unknown = 1; /* no CONFIG_PROC_CHILDREN, or too many to read here */
    return;
  }
  for (char *p = buf, *end; *p; p = end) {
    long pid = strtol(p, &end, 10);
    if (end == p) break;
    if (pid > 0 && pid != k->guard && !pgd_spawn_supervises((pid_t)pid)) {
      k->foreign = 1;
      PGD_DEBUG("proctrack", "foreign child %ld of task %s", pid, tid);
    }
  }
}

/* The cheap answer once the main process is gone: the worker is a child
 * subreaper, so whatever is left of a tree is a child of the worker or
 * below one. When every child of the worker is the main process of a live
 * spawn or the guard, no tree has anything left (no /proc scan). */
static int nothing_adopted(const pgd_cgroup_t *cg) {
  kids_t k = {.guard = cg->r->guard};
  cgs_subdirs_foreach("/proc/self/task", check_task_children, &k);
  return !k.unknown && !k.foreign;
}

int pgd_proctrack_empty(pgd_cgroup_t *cg) {
  if (cg->main > 0 && !pgd_spawn_supervises(cg->main) && nothing_adopted(cg)) {
    cg->nseen = 0;
    return 1;
  }
  plist_t l = {0};
  int n = scan(cg, &l);
  free(l.v);
  return n == 0;
}

void pgd_proctrack_kill_all(pgd_cgroup_t *cg) {
  if (pgd_proctrack_empty(cg)) return; /* usually answered without a scan */
  for (int round = 0; round < 200; round++) {
    if (pgd_proctrack_signal(cg, SIGKILL) == 0) return;
    cgs_sleep_ms(10);
  }
}
