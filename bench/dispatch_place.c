/* Pagoda benchmark — placements per second of the master's dispatcher
 * alone (issue 17: "dispatch with 1,000 fake workers >= 10,000
 * placements/s").
 *
 * bench_dispatch_balancer measures dispatch end to end (REST submits, store
 * commits, launches and reports over loopback): that is bounded by the
 * submit path, not by placement. This program measures placement itself,
 * in process: a master struct with N connected workers (no sockets: the
 * workers are records as rpc.c keeps them), M queued single-slot tasks of
 * executions that are not durable yet (so an assignment records the
 * attempt and marks the launch pending, as for a fresh run, without
 * sending anything), and then the real m_dispatch_pending (hard filters,
 * the built-in balancer's choice, assignment) in two modes:
 *
 *   queue   all M tasks queued, one m_dispatch_pending places them all;
 *   one     one task queued per m_dispatch_pending (what a single REST run
 *           or a finished attempt triggers), M times.
 *
 * Half of the workers carry the label the job asks for, and every worker
 * has the job's type among three, so the filters do real work. Slots are
 * plentiful (S per worker), so every task is placed.
 *
 * Usage: bench_dispatch_place [-n WORKERS] [-m TASKS] [-s SLOTS] [--rounds R]
 * Output: one line per round and mode, then "key=value" medians.
 * Exit: 0; 1 when a task was not placed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "master/exec_int.h"
#include "master/workers_int.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static cJSON *strings(const char *const *v, int n) {
  cJSON *a = cJSON_CreateArray();
  for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
  return a;
}

static void add_workers(pgd_master_t *m, int n, int slots) {
  static const char *types[] = {"python", "shell", "sql"};
  for (int i = 0; i < n; i++) {
    m_worker_t *w = calloc(1, sizeof *w);
    char id[32];
    snprintf(id, sizeof id, "w%05d", i);
    w->id = strdup(id);
    w->host = strdup("bench");
    w->conn = (pgd_conn_t *)w; /* never dereferenced: nothing is sent (see top) */
    w->state = M_WORKER_ALIVE;
    w->slots = slots;
    w->types = strings(types, 3);
    const char *labels[] = {i % 2 ? "zone-b" : "zone-a", "ssd"};
    w->labels = strings(labels, 2);
    w->load1 = (i * 7919 % 100) / 100.0;
    HASH_ADD_KEYPTR(hh, m->workers, w->id, strlen(w->id), w);
  }
  m->workers_generation++;
}

static m_exec_t *new_exec(int64_t id) {
  m_exec_t *e = calloc(1, sizeof *e);
  e->id = id;
  e->rec = cJSON_CreateObject();
  cJSON_AddStringToObject(e->rec, "job", "bench");
  cJSON_AddStringToObject(e->rec, "type", "shell");
  cJSON_AddObjectToObject(e->rec, "params");
  cJSON *def = cJSON_AddObjectToObject(e->rec, "definition");
  const char *labels[] = {"zone-a"};
  cJSON_AddItemToObject(def, "labels", strings(labels, 1));
  e->def = def;
  e->slots = 1;
  e->mode = M_MODE_SINGLE;
  e->run_index = -1;
  m_task_t *t = calloc(1, sizeof *t);
  t->exec = e;
  t->shard = -1;
  t->log_fd = -1;
  t->state = PGD_STATE_PENDING;
  e->tasks = calloc(1, sizeof *e->tasks);
  e->tasks[0] = t;
  e->n_tasks = 1;
  return e;
}

static void free_exec(m_exec_t *e) {
  m_task_t *t = e->tasks[0];
  if (t->worker) {
    t->worker->used -= e->slots;
    t->worker->running--;
  }
  cJSON_Delete(t->attempt_rec);
  cJSON_Delete(t->prev_workers);
  free(t);
  free(e->tasks);
  cJSON_Delete(e->rec);
  free(e);
}

/* Places m tasks; returns placements/s or -1 when one stayed queued. */
static double round_of(pgd_master_t *m, int tasks, int one_at_a_time, int64_t *next_id) {
  m_exec_t **es = calloc((size_t)tasks, sizeof *es);
  for (int i = 0; i < tasks; i++) es[i] = new_exec((*next_id)++);
  double t0 = 0;
  if (!one_at_a_time) {
    for (int i = 0; i < tasks; i++) m_queue_insert(m, es[i]->tasks[0]);
    t0 = now_s();
    m_dispatch_pending(m);
  } else {
    t0 = now_s();
    for (int i = 0; i < tasks; i++) {
      m_queue_insert(m, es[i]->tasks[0]);
      m_dispatch_pending(m);
    }
  }
  double dt = now_s() - t0;
  int placed = 0;
  for (int i = 0; i < tasks; i++) {
    if (es[i]->tasks[0]->worker) placed++;
    m_queue_remove(m, es[i]->tasks[0]);
    free_exec(es[i]);
  }
  free(es);
  return placed == tasks ? tasks / dt : -1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int n = 1000, tasks = 5000, slots = 10, rounds = 5;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-n") && i + 1 < argc) n = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-m") && i + 1 < argc) tasks = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-s") && i + 1 < argc) slots = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: %s [-n WORKERS] [-m TASKS] [-s SLOTS] [--rounds R]\n", argv[0]);
      return 2;
    }
  }
  if (rounds < 1 || rounds > 50 || n < 1 || tasks < 1 || (long)n * slots / 2 < tasks) {
    fprintf(stderr, "need 1..50 rounds and TASKS <= WORKERS*SLOTS/2 (half the workers fit)\n");
    return 2;
  }
  pgd_master_t *m = calloc(1, sizeof *m);
  m->leader = true;
  add_workers(m, n, slots);
  int64_t next_id = 1;
  double q[50], o[50];
  for (int r = 0; r < rounds; r++) {
    q[r] = round_of(m, tasks, 0, &next_id);
    o[r] = round_of(m, tasks, 1, &next_id);
    printf("round %d  workers=%d tasks=%d  queue %9.0f placements/s  one-at-a-time %9.0f placements/s\n",
           r + 1, n, tasks, q[r], o[r]);
    if (q[r] < 0 || o[r] < 0) {
      fprintf(stderr, "a task was not placed\n");
      return 1;
    }
  }
  qsort(q, (size_t)rounds, sizeof *q, cmp_double);
  qsort(o, (size_t)rounds, sizeof *o, cmp_double);
  printf("workers=%d tasks=%d queue_placements_per_s=%.0f one_placements_per_s=%.0f\n", n, tasks,
         q[rounds / 2], o[rounds / 2]);
  return 0;
}
