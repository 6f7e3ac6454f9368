/* Pagoda tests — a real ZooKeeper server for the core/ha tests, and a
 * participant that records what the module reports. Header-only (static
 * functions, one server per test process, main thread only), included by
 * tests/unit/test_ha_*.c.
 *
 * The server: `java -cp /usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar
 * org.apache.zookeeper.server.ZooKeeperServerMain zoo.cfg` (Debian package
 * `zookeeper`; the jar's manifest names its other jars), tickTime=200,
 * bound to 127.0.0.1 on a free port below 32768, admin server off, in a
 * fresh directory under $TMPDIR. Ready when the four-letter word `srvr`
 * answers a line "Mode:". The server dies with the test process
 * (PR_SET_PDEATHSIG) and is stopped by pid at the end. Override the java
 * binary with $PAGODA_TEST_JAVA, the class path with $PAGODA_TEST_ZK_CP.
 */
#ifndef PAGODA_TEST_SUPPORT_ZK_SERVER_H
#define PAGODA_TEST_SUPPORT_ZK_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <uv.h>

#include "common/clock.h"
#include "ha/zk.h"
#include "pgd_test.h"

#define ZKS_DEFAULT_CP "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
#define TEST_SESSION_MS 2000

typedef struct zks {
  pid_t pid;
  int port;
  char dir[256];
  char hosts[64];
} zks_t;

static zks_t g_zks;
static char g_cluster[96];

static inline int zks_port_free(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
  close(fd);
  return ok;
}

/* Sends a four-letter word; returns 1 if the answer contains `want`. */
static inline int zks_4lw(int port, const char *word, const char *want) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int found = 0;
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      write(fd, word, strlen(word)) == (ssize_t)strlen(word)) {
    char buf[4096];
    size_t n = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (n < sizeof(buf) - 1 && poll(&p, 1, 1000) > 0) {
      ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
      if (r <= 0) break;
      n += (size_t)r;
    }
    buf[n] = '\0';
    found = strstr(buf, want) != NULL;
  }
  close(fd);
  return found;
}

static inline void zks_print_log(const zks_t *s) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "tail -n 20 '%s/server.log' >&2", s->dir);
  if (system(cmd) != 0) fprintf(stderr, "(no server log)\n");
}

/* Starts (or restarts, keeping dir and port) the server. Returns 0 when it
 * answers, else -1 with a message on stderr. */
static inline int zks_launch(zks_t *s) {
  char cfg[320], log[320], data[300];
  snprintf(cfg, sizeof(cfg), "%s/zoo.cfg", s->dir);
  snprintf(log, sizeof(log), "%s/server.log", s->dir);
  snprintf(data, sizeof(data), "%s/data", s->dir);
  mkdir(data, 0700);
  FILE *f = fopen(cfg, "w");
  if (!f) return -1;
  fprintf(f,
          "tickTime=200\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"
          "admin.enableServer=false\n4lw.commands.whitelist=*\nmaxClientCnxns=0\n",
          data, s->port);
  fclose(f);
  const char *java = getenv("PAGODA_TEST_JAVA") ? getenv("PAGODA_TEST_JAVA") : "java";
  const char *cp = getenv("PAGODA_TEST_ZK_CP") ? getenv("PAGODA_TEST_ZK_CP") : ZKS_DEFAULT_CP;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    execlp(java, java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", cp,
           "org.apache.zookeeper.server.ZooKeeperServerMain", cfg, (char *)NULL);
    fprintf(stderr, "exec %s: %s\n", java, strerror(errno));
    _exit(127);
  }
  s->pid = pid;
  uint64_t t0 = pgd_mono_ns();
  while (pgd_mono_ns() - t0 < 20000000000ull) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      fprintf(stderr, "ZooKeeper server exited at start (status %d); log:\n", st);
      zks_print_log(s);
      s->pid = 0;
      return -1;
    }
    if (zks_4lw(s->port, "srvr", "Mode:")) {
      fprintf(stderr, "[zk] server pid %d ready on 127.0.0.1:%d in %.2f s\n", (int)pid, s->port,
              (double)(pgd_mono_ns() - t0) / 1e9);
      return 0;
    }
    usleep(100000);
  }
  fprintf(stderr, "ZooKeeper server did not answer `srvr` within 20 s; log:\n");
  zks_print_log(s);
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  s->pid = 0;
  return -1;
}

/* Kills the server at once (an outage). */
static inline void zks_kill(zks_t *s) {
  if (s->pid <= 0) return;
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  s->pid = 0;
}

static inline void zks_stop(zks_t *s) {
  if (s->pid <= 0) return;
  kill(s->pid, SIGTERM);
  for (int i = 0; i < 50; i++) {
    if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
      s->pid = 0;
      return;
    }
    usleep(100000);
  }
  zks_kill(s);
}

static inline void zks_atexit(void) {
  zks_stop(&g_zks);
  if (g_zks.dir[0]) {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_zks.dir);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_zks.dir);
    g_zks.dir[0] = '\0';
  }
}

/* Suite init: a fresh server on a free port in [20000, 32000). */
static inline int zks_suite_init(void) {
  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(g_zks.dir, sizeof(g_zks.dir), "%s/pagoda-zk-XXXXXX", tmp);
  if (!mkdtemp(g_zks.dir)) {
    fprintf(stderr, "mkdtemp %s: %s\n", g_zks.dir, strerror(errno));
    return -1;
  }
  atexit(zks_atexit);
  srand((unsigned)(getpid() ^ time(NULL)));
  for (int tries = 0; tries < 20; tries++) {
    int port = 20000 + rand() % 12000;
    if (!zks_port_free(port)) continue;
    g_zks.port = port;
    snprintf(g_zks.hosts, sizeof(g_zks.hosts), "127.0.0.1:%d", port);
    snprintf(g_cluster, sizeof(g_cluster), "test-%d-%ld", (int)getpid(), (long)time(NULL));
    if (zks_launch(&g_zks) == 0) return 0;
    if (zks_port_free(port)) break; /* not a port race: the server cannot start */
  }
  fprintf(stderr,
          "FAIL: cannot start a ZooKeeper server (install Debian packages `zookeeper` and a "
          "JRE: sbin/setup-deps.sh)\n");
  return -1;
}

static inline int zks_suite_clean(void) {
  zks_atexit();
  return 0;
}

/* ---- a participant ------------------------------------------------------ */

typedef struct part {
  const char *name;
  pgd_zk_t *zk;
  int role;
  int roles[64];
  uint64_t role_ns[64];
  int nroles;
  cJSON *leader;        /* copy of the last leader reported */
  int leader_changes;
  cJSON *workers;       /* copy of the last worker list */
  int worker_changes;
  int closed;
} part_t;

static inline void part_on_role(pgd_zk_t *zk, int role, void *ud) {
  (void)zk;
  part_t *p = ud;
  p->role = role;
  if (p->nroles < 64) {
    p->role_ns[p->nroles] = pgd_mono_ns();
    p->roles[p->nroles++] = role;
  }
}

static inline void part_on_leader(pgd_zk_t *zk, const cJSON *leader, void *ud) {
  (void)zk;
  part_t *p = ud;
  cJSON_Delete(p->leader);
  p->leader = leader ? cJSON_Duplicate(leader, 1) : NULL;
  p->leader_changes++;
}

static inline void part_on_workers(pgd_zk_t *zk, const cJSON *workers, void *ud) {
  (void)zk;
  part_t *p = ud;
  cJSON_Delete(p->workers);
  p->workers = cJSON_Duplicate(workers, 1);
  p->worker_changes++;
}

static const pgd_zk_cbs_t part_cbs = {
    .on_leader_change = part_on_leader, .on_role = part_on_role, .on_workers = part_on_workers};

static void part_closed(void *ud) { ((part_t *)ud)->closed = 1; }

static inline int part_open(uv_loop_t *loop, part_t *p, const char *name) {
  memset(p, 0, sizeof(*p));
  p->name = name;
  char err[256] = "";
  int rc = pgd_zk_open(loop, g_zks.hosts, g_cluster, TEST_SESSION_MS, &part_cbs, p, &p->zk, err,
                       sizeof(err));
  if (rc != 0) fprintf(stderr, "pgd_zk_open: %s\n", err);
  return rc;
}

static inline cJSON *master_info(const char *id) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "rpc", "127.0.0.1:7070");
  cJSON_AddStringToObject(o, "http", "127.0.0.1:8080");
  cJSON_AddNumberToObject(o, "pid", getpid());
  return o;
}

static inline const char *leader_id(const part_t *p) {
  const cJSON *id = p->leader ? cJSON_GetObjectItemCaseSensitive(p->leader, "id") : NULL;
  return cJSON_IsString(id) ? id->valuestring : NULL;
}

static inline void part_free(part_t *p) {
  cJSON_Delete(p->leader);
  cJSON_Delete(p->workers);
  p->leader = p->workers = NULL;
}

/* ---- running the loop until something holds ------------------------------ */

static void tick_cb(uv_timer_t *t) { (void)t; }

/* Runs `loop` until pred(arg) is true or timeout_ms pass; returns 1 if true. */
static inline int run_until(uv_loop_t *loop, int (*pred)(void *), void *arg, int timeout_ms) {
  uv_timer_t tick;
  uv_timer_init(loop, &tick);
  uv_timer_start(&tick, tick_cb, 10, 10);
  uint64_t end = pgd_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
  int ok = 0;
  while (!(ok = pred(arg)) && pgd_mono_ns() < end) uv_run(loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&tick, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  return ok;
}

static inline int pred_closed_all(void *arg) {
  part_t **ps = arg;
  for (; *ps; ps++)
    if (!(*ps)->closed) return 0;
  return 1;
}

/* Closes every participant of the NULL-terminated list (those opened), waits,
 * and checks that the loop ends with no handle left. */
static inline void close_all(uv_loop_t *loop, part_t **ps) {
  for (part_t **q = ps; *q; q++) {
    if ((*q)->zk)
      pgd_zk_close((*q)->zk, part_closed, *q);
    else
      (*q)->closed = 1;
  }
  CU_ASSERT_TRUE(run_until(loop, pred_closed_all, ps, 15000));
  for (part_t **q = ps; *q; q++) part_free(*q);
  CU_ASSERT_EQUAL(uv_run(loop, UV_RUN_DEFAULT), 0);
  CU_ASSERT_EQUAL(uv_loop_close(loop), 0);
}

static inline int pred_role_leader(void *arg) { return ((part_t *)arg)->role == PGD_ZK_LEADER; }
static inline int pred_role_follower(void *arg) { return ((part_t *)arg)->role == PGD_ZK_FOLLOWER; }

static double ms_since(uint64_t t0) { return (double)(pgd_mono_ns() - t0) / 1e6; }

/* Registers one suite `name` whose setup starts the server (zks_suite_init)
 * and runs it through pgd_test_run(): a server that cannot start fails the
 * binary. Returns the process exit status. */
static inline int zks_run_suite(const char *name, CU_TestInfo *tests) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_SuiteInfo suites[] = {{name, zks_suite_init, zks_suite_clean, NULL, NULL, tests},
                           CU_SUITE_INFO_NULL};
  CU_register_suites(suites);
  return pgd_test_run();
}

#endif
