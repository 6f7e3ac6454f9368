/* Unit tests of core/worker/runas.c and spawn_as.c: the checks and their
 * messages, the user lookup, and the clone-based spawn as another user
 * (exit status, uid/gid/groups of the child, the step that failed). The
 * spawn tests need root (CI runs them as root) and are skipped otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include "worker/runas.h"

extern char **environ;

static void test_resolve_checks(void) {
  pgd_runas_t ru;
  char err[256];
  cJSON *allowed = cJSON_Parse("[\"nobody\",\"pgd-no-such-user\"]");

  CU_ASSERT_EQUAL(pgd_runas_resolve(NULL, allowed, 0, &ru, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "run_as needs a user name");
  CU_ASSERT_EQUAL(pgd_runas_resolve("", allowed, 0, &ru, err, sizeof err), -EINVAL);
  CU_ASSERT_EQUAL(pgd_runas_resolve("nobody", allowed, 0, NULL, err, sizeof err), -EINVAL);

  CU_ASSERT_EQUAL(pgd_runas_resolve("bob", allowed, 0, &ru, err, sizeof err), -EPERM);
  CU_ASSERT_STRING_EQUAL(err, "run_as user 'bob' is not in this worker's allowed_users");
  CU_ASSERT_PTR_NULL(ru.name);
  /* NULL or [] allows nobody; a non-array as well */
  CU_ASSERT_EQUAL(pgd_runas_resolve("nobody", NULL, 0, &ru, err, sizeof err), -EPERM);
  CU_ASSERT_STRING_EQUAL(err, "run_as user 'nobody' is not in this worker's allowed_users");
  cJSON *empty = cJSON_CreateArray();
  CU_ASSERT_EQUAL(pgd_runas_resolve("nobody", empty, 0, &ru, err, sizeof err), -EPERM);
  cJSON_Delete(empty);

  /* allowed, but the worker is not root */
  CU_ASSERT_EQUAL(pgd_runas_resolve("nobody", allowed, 1000, &ru, err, sizeof err), -EPERM);
  CU_ASSERT_STRING_EQUAL(err, "run_as needs the worker to run as root (it runs as uid 1000)");

  /* allowed, root, unknown */
  CU_ASSERT_EQUAL(pgd_runas_resolve("pgd-no-such-user", allowed, 0, &ru, err, sizeof err), -ENOENT);
  CU_ASSERT_STRING_EQUAL(err, "run_as user 'pgd-no-such-user' does not exist");
  CU_ASSERT_PTR_NULL(ru.name);

  /* a real user */
  struct passwd *pw = getpwnam("nobody");
  if (pw) {
    uid_t uid = pw->pw_uid;
    gid_t gid = pw->pw_gid;
    char home[512];
    snprintf(home, sizeof home, "%s", pw->pw_dir);
    CU_ASSERT_EQUAL_FATAL(pgd_runas_resolve("nobody", allowed, 0, &ru, err, sizeof err), 0);
    CU_ASSERT_STRING_EQUAL(ru.name, "nobody");
    CU_ASSERT_STRING_EQUAL(ru.home, home);
    CU_ASSERT_EQUAL(ru.uid, uid);
    CU_ASSERT_EQUAL(ru.gid, gid);
    CU_ASSERT(ru.ngroups >= 1);
    int has_primary = 0;
    for (int i = 0; i < ru.ngroups; i++) has_primary |= ru.groups[i] == gid;
    CU_ASSERT(has_primary);
    pgd_runas_free(&ru);
    CU_ASSERT_PTR_NULL(ru.name);
    pgd_runas_free(&ru); /* twice is harmless */
  }
  pgd_runas_free(NULL);
  cJSON_Delete(allowed);
}

/* Runs argv as `ru` with output into a pipe; returns the exit status
 * (waitpid form) or -1, the output in out. */
static char *const *run_env = NULL; /* NULL: environ */

/* 1 when `pid` is a zombie (dead, not reaped yet). */
static int is_zombie(pid_t pid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  const char *close_paren = strrchr(buf, ')');
  return close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
}

static int run_as(const pgd_runas_t *ru, char *const argv[], const char *cwd, char *out, size_t cap,
                  int *rc, pgd_runas_step_t *step) {
  int fds[2];
  out[0] = '\0';
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = -1;
  *rc = pgd_runas_spawn(ru, argv, run_env ? run_env : environ, cwd, fds[1], &pid, step);
  close(fds[1]);
  size_t len = 0;
  ssize_t n;
  while (len + 1 < cap && (n = read(fds[0], out + len, cap - 1 - len)) > 0) len += (size_t)n;
  out[len] = '\0';
  close(fds[0]);
  if (*rc) return -1;
  int status = -1;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return status;
}

static void test_spawn_as_nobody(void) {
  if (geteuid() != 0) {
    /* Not root (a developer's run; CI runs as root): what a non-root worker
     * must do is refuse, with the reason. */
    cJSON *allowed = cJSON_Parse("[\"nobody\"]");
    pgd_runas_t ru;
    char err[256] = "";
    CU_ASSERT(pgd_runas_resolve("nobody", allowed, geteuid(), &ru, err, sizeof err) < 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "needs the worker to run as root"));
    cJSON_Delete(allowed);
    return;
  }
  cJSON *allowed = cJSON_Parse("[\"nobody\"]");
  pgd_runas_t ru;
  char err[256], out[4096];
  int rc;
  pgd_runas_step_t step;
  CU_ASSERT_EQUAL_FATAL(pgd_runas_resolve("nobody", allowed, 0, &ru, err, sizeof err), 0);
  cJSON_Delete(allowed);

  /* identity, groups, process group, stdin, no leaked descriptor */
  int leak = open("/dev/null", O_RDONLY); /* not CLOEXEC: must still not reach the child */
  char *const argv[] = {"sh", "-c",
                        "echo $(id -u) $(id -g) $(id -G); "
                        "[ $(cut -d' ' -f5 /proc/$$/stat) -eq $$ ] && echo own-group; "
                        "read x || echo stdin-eof; ls /proc/self/fd | wc -l",
                        NULL};
  int st = run_as(&ru, argv, NULL, out, sizeof out, &rc, &step);
  close(leak);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  char expect[256];
  snprintf(expect, sizeof expect, "%u %u %u\n", (unsigned)ru.uid, (unsigned)ru.gid,
           (unsigned)ru.gid);
  CU_ASSERT_EQUAL(strncmp(out, expect, strlen(expect)), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "stdin-eof\n"));
  /* ls sees 0, 1, 2 and its own directory descriptor */
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "\n4\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(out, "own-group\n"));

  /* a cwd only root may enter: the child changes directory as the user */
  char dir[] = "/tmp/pgd-runas-XXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  chmod(dir, 0700);
  char *const t[] = {"true", NULL};
  st = run_as(&ru, t, dir, out, sizeof out, &rc, &step);
  CU_ASSERT_EQUAL(rc, EACCES);
  CU_ASSERT_EQUAL(step, PGD_RUNAS_STEP_CWD);
  chmod(dir, 0755);
  st = run_as(&ru, t, dir, out, sizeof out, &rc, &step);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  rmdir(dir);

  /* PATH search (the PATH of the child's environment): not found; a
   * directory the user may not search makes it EACCES, like execvp */
  char *const path_ok[] = {"PATH=/usr/bin:/bin", NULL};
  char *const path_denied[] = {"PATH=/usr/bin:/root/.pgd-denied-dir:/bin", NULL};
  char *const nf[] = {"pgd-no-such-program", NULL};
  run_env = path_ok;
  run_as(&ru, nf, NULL, out, sizeof out, &rc, &step);
  CU_ASSERT_EQUAL(rc, ENOENT);
  CU_ASSERT_EQUAL(step, PGD_RUNAS_STEP_EXEC);
  struct stat rst;
  if (stat("/root", &rst) == 0 && (rst.st_mode & 0001) == 0) {
    run_env = path_denied;
    run_as(&ru, nf, NULL, out, sizeof out, &rc, &step);
    CU_ASSERT_EQUAL(rc, EACCES);
  }
  run_env = path_ok;
  char *const ex[] = {"sh", "-c", "exit 7", NULL};
  st = run_as(&ru, ex, NULL, out, sizeof out, &rc, &step);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 7);
  run_env = NULL;

  /* without a user: the worker's own credentials (every job without run_as) */
  char *const me[] = {"sh", "-c", "id -u", NULL};
  st = run_as(NULL, me, NULL, out, sizeof out, &rc, &step);
  CU_ASSERT_EQUAL(rc, 0);
  CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  char myuid[32];
  snprintf(myuid, sizeof myuid, "%u\n", (unsigned)geteuid());
  CU_ASSERT_STRING_EQUAL(out, myuid);

  /* the job dies with the process that started it (PR_SET_PDEATHSIG) */
  int fds[2];
  CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
  pid_t middle = fork();
  if (middle == 0) {
    /* a stand-in worker: starts a long job, reports its pid, then dies */
    pid_t job = -1;
    char *const sleeper[] = {"sleep", "30", NULL};
    int r = pgd_runas_spawn(NULL, sleeper, environ, NULL, 1, &job, &step);
    if (r == 0 && write(fds[1], &job, sizeof job) != (ssize_t)sizeof job) r = 1;
    _exit(r == 0 ? 0 : 1);
  }
  pid_t job = -1;
  CU_ASSERT_EQUAL(read(fds[0], &job, sizeof job), (ssize_t)sizeof job);
  close(fds[0]);
  close(fds[1]);
  int mst;
  waitpid(middle, &mst, 0);
  CU_ASSERT(WIFEXITED(mst) && WEXITSTATUS(mst) == 0);
  int gone = 0;
  for (int i = 0; i < 200 && !gone; i++) {
    gone = kill(job, 0) != 0 || is_zombie(job); /* killed; init may not have reaped it yet */
    if (!gone) usleep(10000);
  }
  CU_ASSERT(gone);
  if (!gone && job > 0) kill(job, SIGKILL);

  /* bad arguments */
  pid_t pid;
  char *const empty[] = {NULL};
  CU_ASSERT_EQUAL(pgd_runas_spawn(&ru, empty, environ, NULL, 1, &pid, &step), EINVAL);
  pgd_runas_free(&ru);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("worker_runas", NULL, NULL);
  CU_add_test(s, "resolve: checks, messages, lookup", test_resolve_checks);
  CU_add_test(s, "spawn as nobody: identity, cwd, PATH, errors", test_spawn_as_nobody);
  return pgd_test_run();
}
