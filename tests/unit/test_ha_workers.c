/* core/ha: worker registry and discovery against a real ZooKeeper server:
 * workers come and go and a watcher sees it; a worker id held by another
 * live session is taken over only when that session goes; a worker finds
 * the leader and is told when it changes. */
#include "zk_server.h"

static cJSON *worker_info(const char *host, int slots) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "host", host);
  cJSON_AddNumberToObject(o, "slots", slots);
  return o;
}

/* The worker list of `p` as "id:slots,id:slots". */
static void list_of(const part_t *p, char *buf, size_t len) {
  buf[0] = '\0';
  if (!p->workers) return;
  size_t n = 0;
  const cJSON *w;
  cJSON_ArrayForEach(w, p->workers) {
    const cJSON *id = cJSON_GetObjectItem(w, "id");
    const cJSON *slots = cJSON_GetObjectItem(cJSON_GetObjectItem(w, "info"), "slots");
    n += (size_t)snprintf(buf + n, len - n, "%s%s:%d", n ? "," : "",
                          cJSON_IsString(id) ? id->valuestring : "?",
                          cJSON_IsNumber(slots) ? slots->valueint : -1);
    if (n >= len) break;
  }
}

typedef struct {
  part_t *p;
  const char *want;
} want_t;

static int pred_list(void *arg) {
  want_t *w = arg;
  char buf[256];
  list_of(w->p, buf, sizeof(buf));
  return w->p->workers && !strcmp(buf, w->want);
}

static void test_come_and_go(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  part_t a, b, watcher;
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &watcher, "watcher"), 0);
  CU_ASSERT_EQUAL(pgd_zk_watch_workers(watcher.zk), 0);
  want_t none = {&watcher, ""};
  CU_ASSERT_TRUE(run_until(&loop, pred_list, &none, 5000)); /* empty list first */

  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &a, "a"), 0);
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &b, "b"), 0);
  cJSON *ia = worker_info("host-a", 4), *ib = worker_info("host-b", 8);
  CU_ASSERT_EQUAL(pgd_zk_register_worker(a.zk, "worker-a", ia), 0);
  CU_ASSERT_EQUAL(pgd_zk_register_worker(a.zk, "worker-a", ia), -EALREADY);
  CU_ASSERT_EQUAL(pgd_zk_register_worker(b.zk, "worker-b", ib), 0);
  cJSON_Delete(ia);
  cJSON_Delete(ib);
  want_t both = {&watcher, "worker-a:4,worker-b:8"};
  uint64_t t0 = pgd_mono_ns();
  CU_ASSERT_TRUE(run_until(&loop, pred_list, &both, 5000));
  printf("\n  [ha] two workers seen by the watcher after %.1f ms\n", ms_since(t0));
  CU_ASSERT_EQUAL(a.role, PGD_ZK_CONNECTED);
  /* info is the worker's JSON as given */
  const cJSON *first = cJSON_GetArrayItem(watcher.workers, 0);
  CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(cJSON_GetObjectItem(first, "info"), "host")->valuestring,
                         "host-a");

  int changes = watcher.worker_changes;
  pgd_zk_close(a.zk, part_closed, &a);
  a.zk = NULL;
  want_t only_b = {&watcher, "worker-b:8"};
  CU_ASSERT_TRUE(run_until(&loop, pred_list, &only_b, 5000));
  CU_ASSERT_EQUAL(watcher.worker_changes, changes + 1);
  part_t *all[] = {&b, &watcher, &a, NULL};
  close_all(&loop, all);
}

static void test_same_id(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  part_t a, b, watcher;
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &watcher, "watcher"), 0);
  pgd_zk_watch_workers(watcher.zk);
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &a, "a"), 0);
  cJSON *ia = worker_info("host-a", 1), *ib = worker_info("host-b", 2);
  pgd_zk_register_worker(a.zk, "dup", ia);
  want_t first = {&watcher, "dup:1"};
  CU_ASSERT_TRUE(run_until(&loop, pred_list, &first, 5000));
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &b, "b"), 0);
  pgd_zk_register_worker(b.zk, "dup", ib);
  cJSON_Delete(ia);
  cJSON_Delete(ib);
  /* b keeps retrying; the znode stays a's */
  want_t never = {&watcher, "dup:2"};
  CU_ASSERT_FALSE(run_until(&loop, pred_list, &never, 1500));
  CU_ASSERT_TRUE(pred_list(&first));
  uint64_t t0 = pgd_mono_ns();
  pgd_zk_close(a.zk, part_closed, &a);
  a.zk = NULL;
  CU_ASSERT_TRUE(run_until(&loop, pred_list, &never, 5000));
  printf("\n  [ha] id taken over %.0f ms after the holder closed\n", ms_since(t0));
  part_t *all[] = {&b, &watcher, &a, NULL};
  close_all(&loop, all);
}

static int pred_worker_leader(void *arg) {
  want_t *w = arg;
  const char *id = leader_id(w->p);
  return w->want ? (id && !strcmp(id, w->want)) : (w->p->leader_changes > 0 && !w->p->leader);
}

static void test_worker_follows_leader(void) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  part_t wk, m1, m2;
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &wk, "worker"), 0);
  cJSON *iw = worker_info("host-w", 1);
  pgd_zk_register_worker(wk.zk, "w", iw);
  cJSON_Delete(iw);
  pgd_zk_watch_leader(wk.zk);
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &m1, "m1"), 0);
  cJSON *i1 = master_info("m1");
  pgd_zk_run_for_leader(m1.zk, i1);
  cJSON_Delete(i1);
  want_t w1 = {&wk, "m1"};
  CU_ASSERT_TRUE(run_until(&loop, pred_worker_leader, &w1, 5000));
  CU_ASSERT_EQUAL(wk.leader_changes, 1);
  CU_ASSERT_EQUAL_FATAL(part_open(&loop, &m2, "m2"), 0);
  cJSON *i2 = master_info("m2");
  pgd_zk_run_for_leader(m2.zk, i2);
  cJSON_Delete(i2);
  CU_ASSERT_TRUE(run_until(&loop, pred_role_follower, &m2, 5000));
  CU_ASSERT_EQUAL(wk.leader_changes, 1); /* a new follower is not a leader change */
  uint64_t t0 = pgd_mono_ns();
  pgd_zk_close(m1.zk, part_closed, &m1);
  m1.zk = NULL;
  want_t w2 = {&wk, "m2"};
  CU_ASSERT_TRUE(run_until(&loop, pred_worker_leader, &w2, 5000));
  printf("\n  [ha] worker told of the new leader after %.1f ms\n", ms_since(t0));
  CU_ASSERT_EQUAL(wk.leader_changes, 2);
  pgd_zk_close(m2.zk, part_closed, &m2);
  m2.zk = NULL;
  want_t gone = {&wk, NULL};
  CU_ASSERT_TRUE(run_until(&loop, pred_worker_leader, &gone, 5000));
  part_t *all[] = {&wk, &m1, &m2, NULL};
  close_all(&loop, all);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  CU_TestInfo tests[] = {{"workers come and go", test_come_and_go},
                         {"an id held by another session", test_same_id},
                         {"a worker follows the leader", test_worker_follows_leader},
                         CU_TEST_INFO_NULL};
  return zks_run_suite("ha_workers", tests);
}
