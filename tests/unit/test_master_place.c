/* The placement index (dispatch.c: candidate lists by job type and label
 * set) against a reference placement written here from the rules of
 * docs/cluster.md: among the workers that are connected, neither draining
 * nor leaving, have the job's type, all its labels and enough free slots,
 * the built-in choice takes the most free slots, then the lowest load, then
 * the fewest running attempts, then the first id. Workers change between
 * placements the way rpc.c and svc.c change them (types and labels with a
 * generation bump; connection, draining and slots too), and every placement
 * must match the reference; a connection lost without a bump yet must
 * still keep its worker out. */
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "master/exec_int.h"
#include "master/workers_int.h"
#include "pgd_test.h"

#define N_WORKERS 40
static const char *const TYPES[] = {"shell", "python", "sql"};
static const char *const LABELS[] = {"ssd", "gpu", "zone-a", "zone-b"};

static unsigned rng = 12345;
static unsigned next_rand(void) {
  rng = rng * 1103515245u + 12345u;
  return (rng >> 16) & 0x7fff;
}

static cJSON *random_subset(const char *const *v, int n, int min) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; i < n; i++)
    if ((int)(next_rand() % 2) || cJSON_GetArraySize(a) + (n - i) <= min)
      cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
  return a;
}

static bool has(const cJSON *arr, const char *s) {
  const cJSON *v;
  cJSON_ArrayForEach(v, arr) if (cJSON_IsString(v) && strcmp(v->valuestring, s) == 0) return true;
  return false;
}

static void randomize(m_worker_t *w) {
  cJSON_Delete(w->types);
  cJSON_Delete(w->labels);
  w->types = random_subset(TYPES, 3, 1);
  w->labels = random_subset(LABELS, 4, 0);
  w->slots = 1 + (int)(next_rand() % 4);
  if (w->used > w->slots) w->used = w->slots;
  w->load1 = (double)(next_rand() % 4) / 2.0;
  w->draining = next_rand() % 8 == 0;
  w->leaving = next_rand() % 12 == 0;
  w->conn = next_rand() % 10 == 0 ? NULL : (pgd_conn_t *)w; /* never dereferenced: no launch is sent */
}

static pgd_master_t *new_master(void) {
  pgd_master_t *m = calloc(1, sizeof *m);
  m->leader = true;
  for (int i = 0; i < N_WORKERS; i++) {
    m_worker_t *w = calloc(1, sizeof *w);
    char id[16];
    snprintf(id, sizeof id, "w%02d", (i * 17) % N_WORKERS); /* hash order != id order */
    w->id = strdup(id);
    w->host = strdup("test");
    w->state = M_WORKER_ALIVE;
    randomize(w);
    HASH_ADD_KEYPTR(hh, m->workers, w->id, strlen(w->id), w);
  }
  m->workers_generation++;
  return m;
}

static void free_master(pgd_master_t *m) {
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
    HASH_DEL(m->workers, w);
    free(w->id);
    free(w->host);
    cJSON_Delete(w->types);
    cJSON_Delete(w->labels);
    free(w);
  }
  m_dispatch_free(m);
  free(m->by_id);
  free(m);
}

static m_exec_t *new_exec(int64_t id, const char *type, cJSON *labels, int slots) {
  m_exec_t *e = calloc(1, sizeof *e);
  e->id = id;
  e->rec = cJSON_CreateObject();
  cJSON_AddStringToObject(e->rec, "job", "j");
  cJSON_AddStringToObject(e->rec, "type", type);
  cJSON *def = cJSON_AddObjectToObject(e->rec, "definition");
  cJSON_AddItemToObject(def, "labels", labels);
  e->def = def;
  e->slots = slots;
  e->mode = M_MODE_SINGLE;
  m_task_t *t = calloc(1, sizeof *t);
  t->exec = e;
  t->shard = -1;
  t->log_fd = -1;
  e->tasks = calloc(1, sizeof *e->tasks);
  e->tasks[0] = t;
  e->n_tasks = 1;
  return e;
}

static void free_exec(m_exec_t *e) {
  cJSON_Delete(e->tasks[0]->attempt_rec);
  free(e->tasks[0]);
  free(e->tasks);
  cJSON_Delete(e->rec);
  free(e);
}

/* The reference: a full walk of the workers in id order. */
static m_worker_t *reference_pick(pgd_master_t *m, const char *type, const cJSON *labels, int slots) {
  m_worker_t *best = NULL;
  char best_id[16] = "";
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
    if (w->state != M_WORKER_ALIVE || !w->conn || w->draining || w->leaving) continue;
    if (!has(w->types, type) || w->slots - w->used < slots) continue;
    bool all = true;
    const cJSON *l;
    cJSON_ArrayForEach(l, labels) all = all && has(w->labels, l->valuestring);
    if (!all) continue;
    int f = w->slots - w->used, bf = best ? best->slots - best->used : -1;
    bool better = !best || f > bf ||
                  (f == bf && (w->load1 < best->load1 ||
                               (w->load1 == best->load1 &&
                                (w->running < best->running ||
                                 (w->running == best->running && strcmp(w->id, best_id) < 0)))));
    if (better) {
      best = w;
      snprintf(best_id, sizeof best_id, "%s", w->id);
    }
  }
  return best;
}

static void test_placements_match_the_full_walk(void) {
  pgd_master_t *m = new_master();
  int placed = 0, kept = 0;
  for (int round = 0; round < 400; round++) {
    const char *type = TYPES[next_rand() % 3];
    cJSON *labels = random_subset(LABELS, 4, 0);
    while (cJSON_GetArraySize(labels) > 2) cJSON_DeleteItemFromArray(labels, 0);
    int slots = 1 + (int)(next_rand() % 2);
    m_worker_t *want = reference_pick(m, type, labels, slots);
    m_exec_t *e = new_exec(round + 1, type, labels, slots);
    m_queue_insert(m, e->tasks[0]);
    m_dispatch_pending(m);
    CU_ASSERT_PTR_EQUAL(e->tasks[0]->worker, want);
    if (want) placed++;
    else kept++;
    m_queue_remove(m, e->tasks[0]);
    free_exec(e); /* the slots stay taken: the cluster fills up */
    /* Change a worker as the master does: types, labels or slots (with a
     * generation bump), or its connection, draining or load. */
    m_worker_t *w = NULL;
    char id[16];
    snprintf(id, sizeof id, "w%02d", (int)(next_rand() % N_WORKERS));
    HASH_FIND_STR(m->workers, id, w);
    switch (next_rand() % 5) {
      case 0:
        randomize(w);
        m->workers_generation++;
        break;
      case 1: /* slots freed by finished attempts (rpc reports: no bump) */
        w->used = 0;
        w->running = 0;
        break;
      case 2: /* the connection is gone; on_close bumps later */
        w->conn = NULL;
        break;
      case 3:
        w->draining = !w->draining;
        m->workers_generation++;
        break;
      default:
        w->load1 = (double)(next_rand() % 4) / 2.0;
        break;
    }
  }
  /* Both outcomes were exercised. */
  CU_ASSERT(placed > 50);
  CU_ASSERT(kept > 10);
  m_place_stats_t st = m_dispatch_stats(m);
  CU_ASSERT(st.lookups >= (uint64_t)placed);
  CU_ASSERT(st.rebuilds > 0 && st.rebuilds < st.lookups);
  free_master(m);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("master_place", NULL, NULL);
  CU_add_test(s, "placements through the index match a full walk", test_placements_match_the_full_walk);
  return pgd_test_run();
}
