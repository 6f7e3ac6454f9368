/* Loading one plugin file without the registry: the probe child with a hard
 * deadline, dlopen, the entry point, the descriptor checks and init. Runs on
 * a loader thread (off the daemon's loop) or, at start, on the main thread;
 * registry.c commits the result on the loop thread. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "plugin/host.h"
#include "plugin/plugin_priv.h"

#define TYPE_MAX 63

int pgd_cand_init(pgd_cand_t *c, const char *path) {
  memset(c, 0, sizeof *c);
  c->path = strdup(path);
  char *rp = c->path ? realpath(path, NULL) : NULL;
  c->realpath = rp ? rp : (c->path ? strdup(path) : NULL);
  if (!c->path || !c->realpath) {
    free(c->path);
    free(c->realpath);
    memset(c, 0, sizeof *c);
    return -ENOMEM;
  }
  return 0;
}

void pgd_cand_discard(pgd_cand_t *c) {
  if (c->inited && c->desc && c->desc->destroy && c->dl) c->desc->destroy(c->state);
  c->inited = 0;
  if (c->dl) dlclose(c->dl);
  c->dl = NULL;
  c->state = NULL;
  free(c->path);
  free(c->realpath);
  c->path = c->realpath = NULL;
}

static int type_name_ok(const char *t) {
  size_t n = 0;
  for (; t[n]; n++) {
    char ch = t[n];
    if (n >= TYPE_MAX) return 0;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return 0;
  }
  return n > 0;
}

/* The descriptor's own checks (the type conflicts are the commit's). */
static int check_descriptor(const pagoda_plugin_descriptor_t *d, char *msg, size_t len) {
  if (d->abi_major != PAGODA_PLUGIN_ABI_MAJOR) {
    snprintf(msg, len, "plugin ABI %u.%u, host ABI %u.%u: major version differs",
             (unsigned)d->abi_major, (unsigned)d->abi_minor, (unsigned)PAGODA_PLUGIN_ABI_MAJOR,
             (unsigned)PAGODA_PLUGIN_ABI_MINOR);
    return -EPROTO;
  }
  if (d->abi_minor > PAGODA_PLUGIN_ABI_MINOR) {
    snprintf(msg, len, "plugin ABI %u.%u, host ABI %u.%u: plugin needs a newer host",
             (unsigned)d->abi_major, (unsigned)d->abi_minor, (unsigned)PAGODA_PLUGIN_ABI_MAJOR,
             (unsigned)PAGODA_PLUGIN_ABI_MINOR);
    return -EPROTO;
  }
  if (d->struct_size < PGD_DESC_SIZE_1_0) {
    snprintf(msg, len, "bad descriptor: struct_size %u is smaller than %zu (ABI 1.0)",
             (unsigned)d->struct_size, (size_t)PGD_DESC_SIZE_1_0);
    return -EINVAL;
  }
  if (!d->type) {
    snprintf(msg, len, "bad descriptor: type is NULL");
    return -EINVAL;
  }
  if (!type_name_ok(d->type)) {
    snprintf(msg, len, "bad descriptor: type \"%.64s\" is not 1-%d characters of [a-z0-9_]",
             d->type, TYPE_MAX);
    return -EINVAL;
  }
  const pagoda_executor_t *x = d->executor;
  if (x && !x->describe_process == !x->run) {
    snprintf(msg, len, "bad descriptor: executor must set exactly one of describe_process and run");
    return -EINVAL;
  }
  return 0;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The probe child's own work: load, enter, init and destroy, then say "ok"
 * on the pipe. Only returns by _exit. */
static void probe_child(const char *dlpath, int ok_fd) {
  void *dl = dlopen(dlpath, RTLD_NOW | RTLD_LOCAL);
  void *sym = dl ? dlsym(dl, PAGODA_PLUGIN_ENTRY_SYMBOL) : NULL;
  if (sym) {
    pagoda_plugin_entry_fn entry;
    memcpy(&entry, &sym, sizeof entry);
    const pagoda_plugin_descriptor_t *d = entry();
    if (d && d->abi_major == PAGODA_PLUGIN_ABI_MAJOR && d->struct_size >= PGD_DESC_SIZE_1_0 &&
        d->init) {
      char imsg[256];
      struct pagoda_error e;
      pgd_plugin_error_init(&e, imsg, sizeof imsg);
      void *state = NULL;
      if (d->init(pgd_plugin_host(), &state, &e) == 0 && d->destroy) d->destroy(state);
    }
  }
  /* load errors are the real load's to report: the probe only looks for
   * crashes and hangs */
  ssize_t w = write(ok_fd, "k", 1);
  _exit(w == 1 ? 0 : 3);
}

/* Loads the plugin once in a short-lived child process first: a plugin that
 * crashes while loading (a constructor, its entry point or its init) takes
 * only that child down, and one that hangs there is SIGKILLed at the
 * deadline (a signal the plugin cannot catch or ignore, unlike alarm());
 * either way it is refused instead of taking the daemon with it. The child
 * reports success on a pipe (so the verdict does not depend on who reaps
 * it). The cost is one fork per new file, and a plugin's init runs twice
 * (once here, once for real): sdk/docs/plugin-abi.md says init must
 * tolerate that. Returns 0, or a negative code with `msg` (-ELIBBAD
 * crashed, -ETIMEDOUT hung). */
static int probe_in_child(const char *dlpath, int timeout_ms, char *msg, size_t msglen) {
  const char *env = getenv("PAGODA_PLUGIN_PROBE");
  if (env && strcmp(env, "0") == 0) return 0;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) < 0) return 0; /* cannot probe: load as before */
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return 0;
  }
  if (pid == 0) {
    close(fds[0]);
    probe_child(dlpath, fds[1]);
  }
  close(fds[1]);
  int64_t deadline = timeout_ms > 0 ? mono_ms() + timeout_ms : 0;
  char ok = 0;
  int verdict = 0; /* 1 ok, -1 ended without ok, -2 deadline */
  while (!verdict) {
    int wait_ms = -1;
    if (deadline) {
      int64_t left = deadline - mono_ms();
      if (left <= 0) {
        verdict = -2;
        break;
      }
      wait_ms = left > INT_MAX ? INT_MAX : (int)left;
    }
    struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
    int pr = poll(&pfd, 1, wait_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr < 0) {
      verdict = 1; /* cannot watch it: load as before */
      break;
    }
    if (pr == 0) continue; /* the deadline check above decides */
    ssize_t n = read(fds[0], &ok, 1);
    if (n < 0 && errno == EINTR) continue;
    verdict = n == 1 && ok == 'k' ? 1 : -1;
  }
  close(fds[0]);
  if (verdict == -2) kill(pid, SIGKILL);
  int st = 0;
  pid_t got;
  while ((got = waitpid(pid, &st, 0)) < 0 && errno == EINTR) {
  }
  if (verdict == 1) return 0;
  if (verdict == -2) {
    snprintf(msg, msglen,
             "did not finish loading within %d ms in a probe process (a constructor, the entry "
             "point or init hangs): killed; not loaded",
             timeout_ms);
    return -ETIMEDOUT;
  }
  if (got == pid && WIFSIGNALED(st)) {
    int sig = WTERMSIG(st);
    snprintf(msg, msglen, "crashed while loading (signal %d, %s) in a probe process; not loaded",
             sig, strsignal(sig));
  } else if (got == pid && WIFEXITED(st)) {
    /* The probe only ever exits 0 after saying "ok": anything else is a
     * crash handler (a sanitizer's, say) or the plugin calling exit(). */
    snprintf(msg, msglen, "crashed while loading (exit status %d) in a probe process; not loaded",
             WEXITSTATUS(st));
  } else {
    snprintf(msg, msglen, "crashed while loading (status unknown) in a probe process; not loaded");
  }
  return -ELIBBAD;
}

static void keep_names(pgd_cand_t *c) {
  const pagoda_plugin_descriptor_t *d = c->desc;
  if (!d) return;
  if (d->type) {
    snprintf(c->type, sizeof c->type, "%.64s", d->type);
    c->has_type = 1;
  }
  if (d->version) {
    snprintf(c->version, sizeof c->version, "%.256s", d->version);
    c->has_version = 1;
  }
}

/* Refused while loading: names copied, the library closed, desc cleared. */
static void refuse(pgd_cand_t *c, int rc) {
  keep_names(c);
  c->desc = NULL;
  c->rc = rc;
  if (c->dl) dlclose(c->dl);
  c->dl = NULL;
  c->state = NULL;
}

void pgd_cand_prepare(pgd_cand_t *c, int timeout_ms) {
  c->rc = 0;
  c->msg[0] = 0;
  /* A name without '/' would make dlopen search the library path. */
  char dlpath[PATH_MAX + 3];
  snprintf(dlpath, sizeof dlpath, "%s%s", strchr(c->path, '/') ? "" : "./", c->path);
  int rc = probe_in_child(dlpath, timeout_ms, c->msg, sizeof c->msg);
  if (rc < 0) return refuse(c, rc == -ETIMEDOUT ? -ETIMEDOUT : -ELIBBAD);
  c->dl = dlopen(dlpath, RTLD_NOW | RTLD_LOCAL);
  if (!c->dl) {
    const char *e = dlerror();
    snprintf(c->msg, sizeof c->msg, "dlopen failed: %s", e ? e : "unknown error");
    return refuse(c, -ELIBBAD);
  }
  dlerror();
  void *sym = dlsym(c->dl, PAGODA_PLUGIN_ENTRY_SYMBOL);
  if (!sym) {
    snprintf(c->msg, sizeof c->msg, "no entry symbol %s (not a Pagoda plugin, or not exported)",
             PAGODA_PLUGIN_ENTRY_SYMBOL);
    return refuse(c, -ENOENT);
  }
  pagoda_plugin_entry_fn entry;
  memcpy(&entry, &sym, sizeof entry); /* object pointer -> function pointer */
  const pagoda_plugin_descriptor_t *d = entry();
  if (!d) {
    snprintf(c->msg, sizeof c->msg, "%s returned NULL", PAGODA_PLUGIN_ENTRY_SYMBOL);
    return refuse(c, -ENOENT);
  }
  snprintf(c->abi, sizeof c->abi, "%u.%u", (unsigned)d->abi_major, (unsigned)d->abi_minor);
  c->desc = d;
  rc = check_descriptor(d, c->msg, sizeof c->msg);
  if (rc < 0) {
    if (d->abi_major != PAGODA_PLUGIN_ABI_MAJOR || d->struct_size < PGD_DESC_SIZE_1_0)
      c->desc = NULL; /* do not read fields of an unknown layout */
    return refuse(c, rc);
  }
  keep_names(c);
  if (d->init) {
    char imsg[512];
    struct pagoda_error e;
    pgd_plugin_error_init(&e, imsg, sizeof imsg);
    int irc = d->init(pgd_plugin_host(), &c->state, &e);
    if (irc != 0) {
      if (e.set && imsg[0])
        snprintf(c->msg, sizeof c->msg, "init failed: %s", imsg);
      else
        snprintf(c->msg, sizeof c->msg, "init failed (code %d)", irc);
      return refuse(c, irc < 0 ? irc : -EINVAL);
    }
  }
  c->inited = 1;
}
