/* Pagoda — worker id file and load sampling (see identity.h). */
#include "worker/identity.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "net/auth.h"

/* The rule the master applies too (net/auth.h), kept in one place. */
int pgd_worker_id_valid(const char *id) { return pgd_auth_valid_worker_id(id) ? 1 : 0; }

/* mkdir -p: parents 0755 (they may be shared), the data directory itself
 * 0700 (docs/security.md; a worker whose jobs use run_as opens it to 0711
 * in worker.c). 0 or -errno. */
static int mkdirs(const char *dir) {
  char path[4096];
  size_t n = strlen(dir);
  if (n == 0 || n >= sizeof path) return -ENAMETOOLONG;
  memcpy(path, dir, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (path[i] == '/' || path[i] == '\0') {
      char c = path[i];
      path[i] = '\0';
      if (mkdir(path, c == '\0' ? 0700 : 0755) != 0 && errno != EEXIST) return -errno;
      path[i] = c;
    }
  }
  return 0;
}

static int read_id(const char *file, char *id, size_t idlen, char *err, size_t errlen) {
  FILE *f = fopen(file, "r");
  if (!f) return -errno;
  char buf[256];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *s = buf;
  while (*s && isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  if (!pgd_worker_id_valid(s) || strlen(s) >= idlen) {
    return pgd_set_err(err, errlen, -EINVAL,
                       "%s does not hold a valid worker id (1-%d characters of A-Z a-z 0-9 . _ -)",
                       file, PGD_WORKER_ID_MAX);
  }
  memcpy(id, s, strlen(s) + 1);
  return 0;
}

int pgd_worker_identity_load(const char *data_dir, char *id, size_t idlen, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!data_dir || !*data_dir || !id || idlen < PGD_WORKER_ID_MAX + 1) {
    return pgd_set_err(err, errlen, -EINVAL, "no data directory for the worker id");
  }
  char file[4096], tmp[4200];
  if ((size_t)snprintf(file, sizeof file, "%s/worker.id", data_dir) >= sizeof file) {
    return pgd_set_err(err, errlen, -ENAMETOOLONG, "data directory path too long");
  }
  int rc = read_id(file, id, idlen, err, errlen);
  if (rc != -ENOENT) {
    if (rc < 0 && rc != -EINVAL)
      pgd_set_err(err, errlen, rc, "cannot read %s: %s", file, strerror(-rc));
    return rc;
  }
  rc = mkdirs(data_dir);
  if (rc < 0) {
    return pgd_set_err(err, errlen, rc, "cannot create data directory %s: %s", data_dir,
                       strerror(-rc));
  }
  unsigned char rnd[8];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
    int e = errno ? errno : EIO;
    return pgd_set_err(err, errlen, -e, "getrandom: %s", strerror(e));
  }
  char newid[PGD_WORKER_ID_MAX + 1];
  snprintf(newid, sizeof newid, "w-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2],
           rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
  snprintf(tmp, sizeof tmp, "%s.%d.tmp", file, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    int e = errno;
    return pgd_set_err(err, errlen, -e, "cannot create %s: %s", tmp, strerror(e));
  }
  char line[PGD_WORKER_ID_MAX + 2];
  int len = snprintf(line, sizeof line, "%s\n", newid);
  int ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
  int e = errno;
  close(fd);
  /* link() does not replace: if another process created the file meanwhile,
   * its id wins and is read back below. */
  if (ok && link(tmp, file) != 0 && errno != EEXIST) {
    ok = 0;
    e = errno;
  }
  unlink(tmp);
  if (!ok) {
    return pgd_set_err(err, errlen, -e, "cannot write %s: %s", file, strerror(e));
  }
  rc = read_id(file, id, idlen, err, errlen);
  if (rc < 0 && rc != -EINVAL)
    pgd_set_err(err, errlen, rc, "cannot read %s: %s", file, strerror(-rc));
  return rc;
}

void pgd_worker_load_sample(double *load1, long *mem_free_mb) {
  char buf[4096];
  *load1 = -1;
  *mem_free_mb = -1;
  int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0) {
      buf[n] = '\0';
      char *end;
      double v = strtod(buf, &end);
      if (end != buf) *load1 = v;
    }
  }
  fd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n > 0) {
      buf[n] = '\0';
      char *p = strstr(buf, "MemAvailable:");
      if (p) *mem_free_mb = strtol(p + 13, NULL, 10) / 1024;
    }
  }
}
