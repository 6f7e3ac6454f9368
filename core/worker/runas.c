/* Pagoda — run_as: checks and user lookup (see runas.h). The spawn half is
 * in spawn_as.c. */
#include "worker/runas.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"

void pgd_runas_free(pgd_runas_t *ru) {
  if (!ru) return;
  free(ru->name);
  free(ru->home);
  free(ru->groups);
  memset(ru, 0, sizeof *ru);
}

static int allowed(const cJSON *list, const char *user) {
  const cJSON *it;
  if (!cJSON_IsArray(list)) return 0;
  cJSON_ArrayForEach(it, list) {
    if (cJSON_IsString(it) && it->valuestring && strcmp(it->valuestring, user) == 0) return 1;
  }
  return 0;
}

/* getpwnam_r with a growing buffer. 0, -ENOENT, or -errno. */
static int lookup(const char *user, struct passwd *pw, char **buf) {
  size_t size = 1024;
  for (;;) {
    char *b = realloc(*buf, size);
    if (!b) return -ENOMEM;
    *buf = b;
    struct passwd *res = NULL;
    int rc = getpwnam_r(user, pw, b, size, &res);
    if (rc == ERANGE && size < (1u << 20)) {
      size *= 2;
      continue;
    }
    if (rc == 0 && !res) return -ENOENT;
    /* glibc may report "not found" as one of these (man getpwnam_r) */
    if (rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM) return -ENOENT;
    return rc ? -rc : 0;
  }
}

int pgd_runas_resolve(const char *user, const cJSON *allowed_users, uid_t euid, pgd_runas_t *out,
                      char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!out) {
    return pgd_set_err(err, errlen, -EINVAL, "invalid arguments");
  }
  memset(out, 0, sizeof *out);
  if (!user || !*user) {
    return pgd_set_err(err, errlen, -EINVAL, "run_as needs a user name");
  }
  if (!allowed(allowed_users, user)) {
    return pgd_set_err(err, errlen, -EPERM,
                       "run_as user '%s' is not in this worker's allowed_users", user);
  }
  if (euid != 0) {
    return pgd_set_err(err, errlen, -EPERM,
                       "run_as needs the worker to run as root (it runs as uid %u)",
                       (unsigned)euid);
  }
  struct passwd pw;
  char *buf = NULL;
  int rc = lookup(user, &pw, &buf);
  if (rc == -ENOENT) {
    free(buf);
    return pgd_set_err(err, errlen, -ENOENT, "run_as user '%s' does not exist", user);
  }
  if (rc < 0) {
    free(buf);
    return pgd_set_err(err, errlen, rc, "cannot look up run_as user '%s': %s", user, strerror(-rc));
  }
  out->uid = pw.pw_uid;
  out->gid = pw.pw_gid;
  out->name = strdup(pw.pw_name);
  out->home = strdup(pw.pw_dir && *pw.pw_dir ? pw.pw_dir : "/");
  free(buf);
  int n = 32;
  for (int tries = 0; out->name && tries < 8; tries++) {
    gid_t *g = realloc(out->groups, (size_t)n * sizeof *g);
    if (!g) break;
    out->groups = g;
    int want = n;
    if (getgrouplist(out->name, out->gid, g, &want) >= 0) {
      out->ngroups = want;
      break;
    }
    if (want <= n) want = n * 2; /* glibc sets want; be safe if it did not */
    if (want > 65536) break;
    n = want;
  }
  if (!out->name || !out->home || !out->groups || out->ngroups == 0) {
    int nomem = !out->name || !out->home || !out->groups;
    pgd_runas_free(out);
    if (nomem) {
      return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
    }
    return pgd_set_err(err, errlen, -EIO, "cannot list the groups of run_as user '%s'", user);
  }
  return 0;
}
