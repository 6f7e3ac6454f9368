/* core/ha: leader election against a real ZooKeeper server (see
 * support/zk_server.h): bad input, three candidates -> one leader, clean
 * hand-over to the successor only (no herd), and fail-over after kill -9 of
 * the leader's process within session timeout + 1 s. */
#include "zk_server.h"

static void test_bad_input(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_zk_t *zk = (pgd_zk_t *)1;
  char err[256] = "";
  CU_ASSERT_EQUAL(pgd_zk_open(&loop, NULL, "c", 2000, NULL, NULL, &zk, err, sizeof(err)), -EINVAL);
  CU_ASSERT_PTR_NULL(zk);
  CU_ASSERT_EQUAL(pgd_zk_open(&loop, "", "c", 2000, NULL, NULL, &zk, err, sizeof(err)), -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_open(&loop, "a b:1", "c", 2000, NULL, NULL, &zk, err, sizeof(err)),
                  -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_open(&loop, g_zks.hosts, "a/b", 2000, NULL, NULL, &zk, err, sizeof(err)),
                  -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "cluster name"));
  CU_ASSERT_EQUAL(pgd_zk_open(&loop, g_zks.hosts, "..", 2000, NULL, NULL, &zk, err, sizeof(err)),
                  -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_open(&loop, g_zks.hosts, "", 2000, NULL, NULL, &zk, err, sizeof(err)),
                  -EINVAL);
  char longname[PGD_ZK_NAME_MAX + 2];
  memset(longname, 'a', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  CU_ASSERT_EQUAL(
      pgd_zk_open(&loop, g_zks.hosts, longname, 2000, NULL, NULL, &zk, err, sizeof(err)), -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_open(&loop, g_zks.hosts, "c", 10, NULL, NULL, &zk, err, sizeof(err)),
                  -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_open(NULL, g_zks.hosts, "c", 2000, NULL, NULL, &zk, err, sizeof(err)),
                  -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_open(&loop, g_zks.hosts, "c", 2000, NULL, NULL, NULL, NULL, 0), -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_run_for_leader(NULL, NULL), -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_register_worker(NULL, "w", NULL), -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_watch_leader(NULL), -EINVAL);
  CU_ASSERT_PTR_NULL(pgd_zk_masters(NULL));
  CU_ASSERT_EQUAL(pgd_zk_epoch(NULL), -1);
  pgd_zk_close(NULL, NULL, NULL);

  /* a good handle refuses bad calls and keeps working */
  part_t p;
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &p, "p"), 0);
  cJSON *arr = cJSON_CreateArray();
  cJSON *info = master_info("m");
  CU_ASSERT_EQUAL(pgd_zk_run_for_leader(p.zk, arr), -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_register_worker(p.zk, "bad/id", info), -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_register_worker(p.zk, "", info), -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_register_worker(p.zk, "w1", arr), -EINVAL);
  CU_ASSERT_EQUAL(pgd_zk_run_for_leader(p.zk, info), 0);
  CU_ASSERT_EQUAL(pgd_zk_run_for_leader(p.zk, info), -EALREADY);
  CU_ASSERT_EQUAL(pgd_zk_role(p.zk), PGD_ZK_CONNECTING);
  CU_ASSERT_STRING_EQUAL(pgd_zk_role_name(PGD_ZK_LEADER), "leader");
  CU_ASSERT_STRING_EQUAL(pgd_zk_role_name(99), "unknown");
  cJSON_Delete(arr);
  cJSON_Delete(info);
  /* closing at once, before the session exists, is clean */
  part_t *ps[] = {&p, NULL};
  close_all(&loop, ps);
  CU_ASSERT_EQUAL(p.nroles, 0);
}

static part_t *g_ps[8];

static int pred_settled(void *arg) {
  int n = *(int *)arg, leaders = 0;
  for (int i = 0; i < n; i++) {
    if (g_ps[i]->role == PGD_ZK_LEADER)
      leaders++;
    else if (g_ps[i]->role != PGD_ZK_FOLLOWER)
      return 0;
  }
  return leaders == 1;
}

static int pred_watcher_sees(void *arg) {
  part_t *w = g_ps[7];
  const char *id = leader_id(w);
  return id && !strcmp(id, (const char *)arg);
}

/* obj.info.id, or "" */
static const char *info_id(const cJSON *obj) {
  const cJSON *id = cJSON_GetObjectItem(cJSON_GetObjectItem(obj, "info"), "id");
  return cJSON_IsString(id) ? id->valuestring : "";
}

static int pred_masters3(void *arg) {
  cJSON *ms = pgd_zk_masters(((part_t *)arg)->zk);
  int n = cJSON_GetArraySize(ms);
  cJSON_Delete(ms);
  return n == 3;
}

static void test_three_candidates(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  part_t c[3], w;
  const char *ids[3] = {"m0", "m1", "m2"};
  for (int i = 0; i < 3; i++) {
    CU_ASSERT_EQUAL_FATAL(part_open(&loop, &c[i], ids[i]), 0);
    g_ps[i] = &c[i];
  }
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &w, "watcher"), 0);
  g_ps[7] = &w;
  CU_ASSERT_EQUAL(pgd_zk_watch_leader(w.zk), 0);
  CU_ASSERT_EQUAL(pgd_zk_watch_leader(w.zk), 0); /* idempotent */
  for (int i = 0; i < 3; i++) {
    cJSON *info = master_info(ids[i]);
    CU_ASSERT_EQUAL(pgd_zk_run_for_leader(c[i].zk, info), 0);
    cJSON_Delete(info);
  }
  int n = 3;
  CU_ASSERT_TRUE_FATAL(run_until(&loop, pred_settled, &n, 10000));
  int lead = -1;
  for (int i = 0; i < 3; i++)
    if (c[i].role == PGD_ZK_LEADER) lead = i;
  CU_ASSERT_TRUE(run_until(&loop, pred_watcher_sees, (void *)ids[lead], 5000));
  CU_ASSERT_EQUAL(pgd_zk_role(w.zk), PGD_ZK_CONNECTED);
  /* the leader's data as published: {"id","rpc","http","pid"} + node, epoch */
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(w.leader, "rpc")), "127.0.0.1:7070");
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItem(w.leader, "http")), "127.0.0.1:8080");
  CU_ASSERT_EQUAL((int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(w.leader, "epoch")),
                  pgd_zk_epoch(c[lead].zk));
  CU_ASSERT_TRUE(pgd_zk_epoch(c[lead].zk) >= 0);
  for (int i = 0; i < 3; i++)
    if (i != lead) CU_ASSERT_EQUAL(pgd_zk_epoch(c[i].zk), -1);
  /* every candidate also knows the leader (run_for_leader watches it) */
  for (int i = 0; i < 3; i++) {
    g_ps[7] = &c[i];
    CU_ASSERT_TRUE(run_until(&loop, pred_watcher_sees, (void *)ids[lead], 5000));
  }
  g_ps[7] = &w;

  /* the masters list, for GET /api/v1/cluster */
  CU_ASSERT_TRUE(run_until(&loop, pred_masters3, &c[lead], 5000));
  cJSON *ms = pgd_zk_masters(c[lead].zk);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(ms), 3);
  int leaders = 0, selves = 0;
  int64_t prev = -1;
  cJSON *m;
  cJSON_ArrayForEach(m, ms) {
    leaders += cJSON_IsTrue(cJSON_GetObjectItem(m, "leader"));
    selves += cJSON_IsTrue(cJSON_GetObjectItem(m, "self"));
    int64_t e = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(m, "epoch"));
    CU_ASSERT_TRUE(e > prev);
    prev = e;
    CU_ASSERT_TRUE(cJSON_IsObject(cJSON_GetObjectItem(m, "info")));
  }
  CU_ASSERT_EQUAL(leaders, 1);
  CU_ASSERT_EQUAL(selves, 1);
  cJSON *first = cJSON_GetArrayItem(ms, 0);
  CU_ASSERT_STRING_EQUAL(info_id(first), ids[lead]);
  /* the successor is the second in sequence order */
  const char *succ_id = info_id(cJSON_GetArrayItem(ms, 1));
  const char *third_id = info_id(cJSON_GetArrayItem(ms, 2));
  int succ = -1, third = -1;
  for (int i = 0; i < 3; i++) {
    if (!strcmp(ids[i], succ_id)) succ = i;
    if (!strcmp(ids[i], third_id)) third = i;
  }
  cJSON_Delete(ms);
  CU_ASSERT_FATAL(succ >= 0 && third >= 0);

  /* clean close of the leader: the successor leads, the third hears nothing */
  int third_roles = c[third].nroles;
  int64_t old_epoch = pgd_zk_epoch(c[lead].zk);
  int changes = w.leader_changes;
  uint64_t t0 = pgd_mono_ns();
  pgd_zk_close(c[lead].zk, part_closed, &c[lead]);
  c[lead].zk = NULL;
  g_ps[0] = &c[succ];
  g_ps[1] = &c[third];
  n = 2;
  CU_ASSERT_TRUE(run_until(&loop, pred_settled, &n, 5000));
  CU_ASSERT_EQUAL(c[succ].role, PGD_ZK_LEADER);
  printf("\n  [ha] clean hand-over: new leader in %.1f ms\n", ms_since(t0));
  CU_ASSERT_TRUE(run_until(&loop, pred_watcher_sees, (void *)ids[succ], 5000));
  CU_ASSERT_TRUE(w.leader_changes > changes);
  CU_ASSERT_EQUAL(c[third].nroles, third_roles); /* no herd */
  CU_ASSERT_EQUAL(c[third].role, PGD_ZK_FOLLOWER);
  CU_ASSERT_TRUE(c[lead].closed);
  CU_ASSERT_TRUE(pgd_zk_epoch(c[succ].zk) > old_epoch);

  part_t *all[] = {&c[succ], &c[third], &w, &c[lead], NULL};
  close_all(&loop, all);
}

/* ---- kill -9 of the leader's process -------------------------------------- */

static void child_leader(int fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  uv_loop_t loop;
  uv_loop_init(&loop);
  part_t p;
  if (part_open(&loop, &p, "child") != 0) _exit(2);
  cJSON *info = master_info("child");
  pgd_zk_run_for_leader(p.zk, info);
  cJSON_Delete(info);
  int told = 0;
  for (;;) {
    uv_run(&loop, UV_RUN_ONCE);
    if (!told && p.role == PGD_ZK_LEADER) {
      told = write(fd, "L", 1) == 1;
    }
  }
}


static void test_kill9_failover(void) {
  int fds[2];
  CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
  fflush(NULL);
  pid_t child = fork(); /* before this test opens any ZooKeeper handle */
  CU_ASSERT_FATAL(child >= 0);
  if (child == 0) {
    close(fds[0]);
    child_leader(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  struct pollfd pf = {.fd = fds[0], .events = POLLIN};
  char c = 0;
  int got = poll(&pf, 1, 10000) == 1 && read(fds[0], &c, 1) == 1 && c == 'L';
  close(fds[0]);
  if (!got) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    CU_FAIL_FATAL("the child process did not become leader");
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  part_t p, w;
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &p, "standby"), 0);
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &w, "watcher"), 0);
  g_ps[7] = &w;
  pgd_zk_watch_leader(w.zk);
  cJSON *info = master_info("standby");
  pgd_zk_run_for_leader(p.zk, info);
  cJSON_Delete(info);
  CU_ASSERT_TRUE(run_until(&loop, pred_role_follower, &p, 10000));
  CU_ASSERT_TRUE(run_until(&loop, pred_watcher_sees, (void *)"child", 5000));

  uint64_t t0 = pgd_mono_ns();
  kill(child, SIGKILL);
  waitpid(child, NULL, 0);
  CU_ASSERT_TRUE(run_until(&loop, pred_role_leader, &p, TEST_SESSION_MS + 5000));
  double ms = ms_since(t0);
  printf("\n  [ha] kill -9 of the leader: standby leads after %.0f ms (session timeout %d ms)\n",
         ms, TEST_SESSION_MS);
  CU_ASSERT_TRUE(ms <= TEST_SESSION_MS + 1000);
  CU_ASSERT_TRUE(run_until(&loop, pred_watcher_sees, (void *)"standby", 3000));
  part_t *all[] = {&p, &w, NULL};
  close_all(&loop, all);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CU_TestInfo tests[] = {{"bad input is refused", test_bad_input},
                         {"three candidates, one leader, clean hand-over", test_three_candidates},
                         {"kill -9 of the leader: fail-over", test_kill9_failover},
                         CU_TEST_INFO_NULL};
  return zks_run_suite("ha_election", tests);
}
