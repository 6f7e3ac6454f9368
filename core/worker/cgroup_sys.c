/* Pagoda — system-call-only helpers of the containment (cgroup_sys.h). */
#include "worker/cgroup_sys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The layout of the records getdents64 returns (glibc's struct dirent64 is
 * not declared without _LARGEFILE64_SOURCE). */
struct cgs_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

int cgs_join(char *dst, size_t cap, const char *a, const char *b, const char *c) {
  size_t la = strlen(a), lb = strlen(b), lc = c ? strlen(c) : 0;
  if (la + lb + lc + 1 > cap) return -ENAMETOOLONG;
  memcpy(dst, a, la);
  memcpy(dst + la, b, lb);
  if (c) memcpy(dst + la + lb, c, lc);
  dst[la + lb + lc] = '\0';
  return 0;
}

static int open_in(const char *dir, const char *file, int flags) {
  char path[PATH_MAX];
  if (cgs_join(path, sizeof path, dir, "/", file) < 0) return -ENAMETOOLONG;
  int fd;
  do fd = open(path, flags | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  return fd < 0 ? -errno : fd;
}

int cgs_write(const char *dir, const char *file, const char *s) {
  int fd = open_in(dir, file, O_WRONLY);
  if (fd < 0) return fd;
  size_t len = strlen(s);
  ssize_t w;
  do w = write(fd, s, len);
  while (w < 0 && errno == EINTR);
  int rc = w == (ssize_t)len ? 0 : w < 0 ? -errno : -EIO;
  close(fd);
  return rc;
}

ssize_t cgs_read(const char *dir, const char *file, char *buf, size_t cap) {
  if (cap == 0) return -EINVAL;
  int fd = open_in(dir, file, O_RDONLY);
  if (fd < 0) return fd;
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      close(fd);
      return -e;
    }
    if (r == 0) break;
    n += (size_t)r;
  }
  buf[n] = '\0';
  close(fd);
  return (ssize_t)n;
}

int cgs_procs_foreach_fd(int fd, void (*fn)(pid_t pid, void *ud), void *ud) {
  char buf[4096];
  long cur = -1;
  int count = 0;
  off_t off = 0;
  for (;;) {
    ssize_t r = pread(fd, buf, sizeof buf, off);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -errno;
    if (r == 0) break;
    off += r;
    for (ssize_t i = 0; i < r; i++) {
      char ch = buf[i];
      if (ch >= '0' && ch <= '9') {
        cur = (cur < 0 ? 0 : cur * 10) + (ch - '0');
      } else if (cur >= 0) {
        if (cur > 0 && fn) fn((pid_t)cur, ud);
        if (cur > 0) count++;
        cur = -1;
      }
    }
  }
  if (cur > 0) {
    if (fn) fn((pid_t)cur, ud);
    count++;
  }
  return count;
}

int cgs_procs_foreach(const char *dir, void (*fn)(pid_t pid, void *ud), void *ud) {
  int fd = open_in(dir, "cgroup.procs", O_RDONLY);
  if (fd < 0) return fd;
  int count = cgs_procs_foreach_fd(fd, fn, ud);
  close(fd);
  return count;
}

int cgs_subdirs_foreach(const char *dir, void (*fn)(const char *name, void *ud), void *ud) {
  int fd;
  do fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return -errno;
  char buf[4096] __attribute__((aligned(8)));
  int count = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      struct cgs_dirent64 *d = (struct cgs_dirent64 *)(buf + off);
      off += d->d_reclen;
      if (d->d_type != DT_DIR || strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
        continue;
      count++;
      if (fn) fn(d->d_name, ud);
    }
  }
  close(fd);
  return count;
}

void cgs_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L}, rem;
  while (nanosleep(&ts, &rem) != 0 && errno == EINTR) ts = rem;
}

static void sigkill_one(pid_t pid, void *ud) {
  (void)ud;
  kill(pid, SIGKILL);
}

int cgs_kill_cgroup(const char *dir, int wait_ms) {
  int found = cgs_procs_foreach(dir, NULL, NULL);
  if (found < 0) return found;
  int waited = 0;
  int have_kill_file = 1;
  for (int round = 0;; round++) {
    int left = round == 0 ? found : cgs_procs_foreach(dir, NULL, NULL);
    if (left <= 0) return left < 0 && left != -ENOENT ? left : found;
    /* cgroup.kill kills the whole subtree atomically (no fork race); v1
     * and older kernels: each pid, again on every round. */
    if (!have_kill_file || cgs_write(dir, "cgroup.kill", "1") < 0) {
      have_kill_file = 0;
      cgs_procs_foreach(dir, sigkill_one, NULL);
    }
    if (waited >= wait_ms) return -EBUSY;
    cgs_sleep_ms(5);
    waited += 5;
  }
}

/* Streams /proc/<pid>/environ looking for "\0<prefix>" (or the prefix at
 * offset 0), with an overlap between chunks so a match is never split. */
int cgs_environ_has(pid_t pid, const char *prefix) {
  char path[64], num[24];
  int n = 0;
  char tmp[24];
  unsigned long v = (unsigned long)pid;
  do tmp[n++] = (char)('0' + v % 10);
  while ((v /= 10) && n < (int)sizeof tmp);
  for (int i = 0; i < n; i++) num[i] = tmp[n - 1 - i];
  num[n] = '\0';
  if (cgs_join(path, sizeof path, "/proc/", num, "/environ") < 0) return 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  size_t plen = strlen(prefix);
  if (plen == 0 || plen > 512) {
    close(fd);
    return 0;
  }
  char buf[8192 + 1 + 512];
  size_t keep = 1; /* buf[0] is the separator before the first entry */
  buf[0] = '\0';
  int found = 0;
  size_t total = 0;
  while (!found && total < (8u << 20)) {
    ssize_t r = read(fd, buf + keep, sizeof buf - keep);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    total += (size_t)r;
    size_t len = keep + (size_t)r;
    for (size_t i = 0; i + plen < len; i++) {
      if (buf[i] == '\0' && memcmp(buf + i + 1, prefix, plen) == 0) {
        found = 1;
        break;
      }
    }
    keep = len < plen + 1 ? len : plen + 1; /* "\0" + prefix may straddle */
    memmove(buf, buf + len - keep, keep);
  }
  close(fd);
  return found;
}

typedef struct env_kill {
  const char *prefix;
  pid_t self;
  int count;
} env_kill_t;

static void kill_if_marked(const char *name, void *ud) {
  env_kill_t *k = ud;
  long pid = 0;
  for (const char *c = name; *c; c++) {
    if (*c < '0' || *c > '9') return;
    pid = pid * 10 + (*c - '0');
  }
  if (pid <= 1 || pid == k->self) return;
  if (cgs_environ_has((pid_t)pid, k->prefix) && kill((pid_t)pid, SIGKILL) == 0) k->count++;
}

int cgs_kill_by_env(const char *prefix, int rounds) {
  int first = -1;
  for (int i = 0; i < rounds; i++) {
    env_kill_t k = {prefix, getpid(), 0};
    cgs_subdirs_foreach("/proc", kill_if_marked, &k);
    if (first < 0) first = k.count;
    if (k.count == 0) break;
    cgs_sleep_ms(10);
  }
  return first < 0 ? 0 : first;
}
