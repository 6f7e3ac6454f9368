/* core/ha: losing ZooKeeper. The server is killed: every participant is
 * told SUSPENDED at once and LOST after the session timeout; the server
 * comes back on the same port and data: the participants open new sessions
 * by themselves, one master leads again, and the worker is registered
 * again. */
#include "zk_server.h"

static part_t *g_all[4];

static int pred_all_role(void *arg) {
  int role = *(int *)arg;
  for (int i = 0; g_all[i]; i++)
    if (g_all[i]->role != role) return 0;
  return 1;
}

static int pred_one_leader(void *arg) {
  (void)arg;
  return (g_all[0]->role == PGD_ZK_LEADER && g_all[1]->role == PGD_ZK_FOLLOWER) ||
         (g_all[1]->role == PGD_ZK_LEADER && g_all[0]->role == PGD_ZK_FOLLOWER);
}

static int pred_worker_listed(void *arg) {
  part_t *p = arg;
  const cJSON *w = p->workers ? cJSON_GetArrayItem(p->workers, 0) : NULL;
  const cJSON *id = w ? cJSON_GetObjectItem(w, "id") : NULL;
  return cJSON_IsString(id) && !strcmp(id->valuestring, "w1") && cJSON_GetArraySize(p->workers) == 1;
}

static int pred_registered(void *arg) { return pgd_zk_is_registered(((part_t *)arg)->zk); }

/* index of the first occurrence of role in p's history at or after `from` */
static int role_at(const part_t *p, int role, int from) {
  for (int i = from; i < p->nroles; i++)
    if (p->roles[i] == role) return i;
  return -1;
}

static void test_outage(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  part_t m1, m2, wk;
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &m1, "m1"), 0);
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &m2, "m2"), 0);
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &wk, "w"), 0);
  g_all[0] = &m1;
  g_all[1] = &m2;
  g_all[2] = &wk;
  g_all[3] = NULL;
  cJSON *i1 = master_info("m1"), *i2 = master_info("m2"), *iw = cJSON_CreateObject();
  pgd_zk_run_for_leader(m1.zk, i1);
  pgd_zk_run_for_leader(m2.zk, i2);
  pgd_zk_register_worker(wk.zk, "w1", iw);
  pgd_zk_watch_workers(m1.zk);
  cJSON_Delete(i1);
  cJSON_Delete(i2);
  cJSON_Delete(iw);
  CU_ASSERT_TRUE_FATAL(run_until(&loop, pred_one_leader, NULL, 10000));
  CU_ASSERT_TRUE_FATAL(run_until(&loop, pred_worker_listed, &m1, 5000));
  CU_ASSERT_TRUE(pgd_zk_is_registered(wk.zk));
  int from[3] = {m1.nroles, m2.nroles, wk.nroles};

  /* outage */
  uint64_t t0 = pgd_mono_ns();
  zks_kill(&g_zks);
  int suspended = PGD_ZK_SUSPENDED, lost = PGD_ZK_LOST;
  CU_ASSERT_TRUE(run_until(&loop, pred_all_role, &suspended, 2000));
  double t_susp = ms_since(t0);
  CU_ASSERT_TRUE(run_until(&loop, pred_all_role, &lost, TEST_SESSION_MS + 3000));
  double t_lost = ms_since(t0);
  printf("\n  [ha] server killed: all suspended after %.0f ms, all lost after %.0f ms "
         "(session timeout %d ms)\n", t_susp, t_lost, TEST_SESSION_MS);
  CU_ASSERT_TRUE(t_susp < 1000);
  CU_ASSERT_TRUE(t_lost >= TEST_SESSION_MS - 100 && t_lost <= TEST_SESSION_MS + 1500);
  for (int i = 0; i < 3; i++) {
    /* SUSPENDED first, then LOST, nothing in between */
    int s = role_at(g_all[i], PGD_ZK_SUSPENDED, from[i]);
    CU_ASSERT_EQUAL(s, from[i]);
    CU_ASSERT_EQUAL(role_at(g_all[i], PGD_ZK_LOST, from[i]), s + 1);
    /* LOST no sooner than the session timeout after SUSPENDED */
    if (s >= 0 && g_all[i]->nroles > s + 1) {
      double gap = (double)(g_all[i]->role_ns[s + 1] - g_all[i]->role_ns[s]) / 1e6;
      CU_ASSERT_TRUE(gap >= TEST_SESSION_MS - 50);
    }
  }
  CU_ASSERT_EQUAL(pgd_zk_epoch(m1.zk), -1);
  CU_ASSERT_EQUAL(pgd_zk_epoch(m2.zk), -1);
  CU_ASSERT_FALSE(pgd_zk_is_registered(wk.zk));

  /* the server comes back (same data: the old sessions are restored, then
   * expire); new sessions elect a leader and re-register the worker */
  t0 = pgd_mono_ns();
  CU_ASSERT_EQUAL_FATAL(zks_launch(&g_zks), 0);
  CU_ASSERT_TRUE(run_until(&loop, pred_one_leader, NULL, 20000));
  printf("  [ha] server back: a leader again after %.0f ms\n", ms_since(t0));
  CU_ASSERT_EQUAL(wk.role, PGD_ZK_CONNECTED);
  CU_ASSERT_TRUE(run_until(&loop, pred_registered, &wk, 10000));
  printf("  [ha] worker registered again after %.0f ms\n", ms_since(t0));
  CU_ASSERT_TRUE(run_until(&loop, pred_worker_listed, &m1, 5000));
  part_t *all[] = {&m1, &m2, &wk, NULL};
  close_all(&loop, all);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CU_TestInfo tests[] = {{"server killed: suspended, lost, rejoined", test_outage},
                         CU_TEST_INFO_NULL};
  return zks_run_suite("ha_outage", tests);
}
