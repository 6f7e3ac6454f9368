/* Pagoda master — the pending queue and placement.
 *
 * Tasks wait in one queue ordered by priority (higher first), then
 * submission (execution id), then task index. A task goes to a worker that
 * passes the hard filters (connected, not draining, has the job type, all of
 * the job's labels and enough free slots). For a shard, workers that hold
 * no other shard of the execution are the only candidates while there are
 * any (shards spread). The balancer then chooses; it sees in
 * previous_workers every worker an earlier attempt of the task ran on,
 * including the one that just ended (the built-in choice avoids them when
 * another candidate fits, then takes the most free slots, the lowest load,
 * the fewest running attempts). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "master/exec_int.h"
#include "master/logs_int.h"
#include "master/workers_int.h"
#include "script/balancer.h"
#include "master/metrics_int.h"

#define MOD "dispatch"

static int cmp_order(const m_task_t *a, const m_task_t *b) {
  if (a->exec->priority != b->exec->priority) return a->exec->priority > b->exec->priority ? -1 : 1;
  if (a->exec->id != b->exec->id) return a->exec->id < b->exec->id ? -1 : 1;
  return a->index < b->index ? -1 : (a->index > b->index);
}

void m_queue_insert(pgd_master_t *m, m_task_t *t) {
  if (t->in_queue) return;
  m_task_t *after = m->queue_tail;
  while (after && cmp_order(after, t) > 0) after = after->q_prev;
  t->q_prev = after;
  t->q_next = after ? after->q_next : m->queue_head;
  if (t->q_next) t->q_next->q_prev = t; else m->queue_tail = t;
  if (after) after->q_next = t; else m->queue_head = t;
  t->in_queue = true;
}

void m_queue_remove(pgd_master_t *m, m_task_t *t) {
  if (!t->in_queue) return;
  if (t->q_prev) t->q_prev->q_next = t->q_next; else m->queue_head = t->q_next;
  if (t->q_next) t->q_next->q_prev = t->q_prev; else m->queue_tail = t->q_prev;
  t->q_prev = t->q_next = NULL;
  t->in_queue = false;
}

static bool has_string(const cJSON *arr, const char *s) {
  const cJSON *v;
  cJSON_ArrayForEach(v, arr) if (cJSON_IsString(v) && strcmp(v->valuestring, s) == 0) return true;
  return false;
}

bool m_worker_fits(const m_worker_t *w, const char *type, int slots) {
  if (!m_worker_takes_work(w)) return false;
  if (w->slots - w->used < slots) return false;
  return has_string(w->types, type);
}

/* Hard filters without the slot check, with the job's type and labels
 * looked up once by the caller. */
static bool worker_can_run_as(const m_worker_t *w, const char *type, const cJSON *labels) {
  if (!m_worker_takes_work(w)) return false;
  if (!type || !has_string(w->types, type)) return false;
  const cJSON *l;
  cJSON_ArrayForEach(l, labels) {
    if (cJSON_IsString(l) && !has_string(w->labels, l->valuestring)) return false;
  }
  return true;
}

static bool worker_can_run(const m_worker_t *w, const m_exec_t *e) {
  return worker_can_run_as(w, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e->rec, "type")),
                           cJSON_GetObjectItemCaseSensitive(e->def, "labels"));
}

bool m_worker_eligible(const m_worker_t *w, const m_exec_t *e) {
  return worker_can_run(w, e) && w->slots - w->used >= e->slots;
}

const char *m_pending_reason(pgd_master_t *m, const m_task_t *t) {
  const m_exec_t *e = t->exec;
  if (t->not_before_us > pgd_now_us()) return NULL; /* the retry reason stays */
  bool any = false, typed = false, labelled = false, big_enough = false;
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e->rec, "type"));
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
    if (!m_worker_takes_work(w)) continue;
    if (t->pinned && strcmp(t->pinned, w->id) != 0) continue;
    any = true;
    if (type && has_string(w->types, type)) typed = true;
    if (worker_can_run(w, e)) {
      labelled = true;
      if (w->slots >= e->slots) big_enough = true;
    }
  }
  if (t->pinned && !any) return "its worker is not connected (or is draining)";
  if (!any) return "no worker is connected (or all are draining)";
  if (!typed) return "no connected worker provides this job type";
  if (!labelled) return "no connected worker has all the labels this job asks for";
  if (!big_enough) return "no fitting worker has as many slots as this job needs";
  return "every fitting worker is busy (no free slot)";
}

/* Candidates in id order (stable, so that round-robin scripts step
 * predictably), filtered by the hard rules. */
static int cmp_worker_id(const void *a, const void *b) {
  return strcmp((*(m_worker_t *const *)a)->id, (*(m_worker_t *const *)b)->id);
}

/* The balancer (a Lua script, or the built-in least-loaded) chooses among
 * the workers that pass the hard filters. Returns NULL to keep the task
 * pending; `why` then says why when the balancer gave a reason. */
/* Every worker in id order; sorted again only when the set changes. */
static void sort_workers(pgd_master_t *m) {
  if (m->by_id_built && m->by_id_gen == m->workers_generation) return;
  size_t n = HASH_COUNT(m->workers);
  m_worker_t **v = realloc(m->by_id, (n ? n : 1) * sizeof *v);
  if (!v) abort();
  m->by_id = v;
  size_t i = 0;
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) v[i++] = w;
  qsort(v, n, sizeof *v, cmp_worker_id);
  m->by_id_n = n;
  m->by_id_gen = m->workers_generation;
  m->by_id_built = true;
}

/* Candidate lists (the placement index). Placement used to test every
 * worker's types and labels (string compares) for every task: with 1,000
 * workers that was most of a placement's cost. A list holds, in id order,
 * the workers that have one job type and all of one label set; it is built
 * once per workers_generation (bumped by every change of the set of
 * workers, of their types, labels or slots, and of connection, draining
 * and leaving) and shared by every task of that type and label set. What
 * moves between generations (free slots, connection state, pinning) is
 * still checked per task, in list order, so the candidates a balancer sees
 * are exactly the ones the full walk found. */
#define CAND_LISTS_MAX 32

typedef struct m_cand_list {
  char *type;       /* owned */
  cJSON *labels;    /* owned copy of the job's labels array, nullable */
  m_worker_t **ws;  /* owned array of weak pointers (workers are never freed while the master runs) */
  size_t n, cap;
  uint64_t gen;
  uint64_t used_at; /* for eviction when the cache is full */
} m_cand_list_t;

struct m_place_cache {
  m_cand_list_t lists[CAND_LISTS_MAX];
  size_t n;
  uint64_t clock;
  m_place_stats_t stats;
};

static bool same_labels(const cJSON *a, const cJSON *b) {
  if (cJSON_GetArraySize(a) == 0 && cJSON_GetArraySize(b) == 0) return true;
  return a && b && cJSON_Compare(a, b, true);
}

static void cand_list_clear(m_cand_list_t *cl) {
  free(cl->type);
  cJSON_Delete(cl->labels);
  free(cl->ws);
  memset(cl, 0, sizeof *cl);
}

static void cand_list_fill(pgd_master_t *m, m_cand_list_t *cl) {
  sort_workers(m);
  if (cl->cap < m->by_id_n) {
    m_worker_t **v = realloc(cl->ws, m->by_id_n * sizeof *v);
    if (!v) abort();
    cl->ws = v;
    cl->cap = m->by_id_n;
  }
  cl->n = 0;
  for (size_t i = 0; i < m->by_id_n; i++) {
    m_worker_t *w = m->by_id[i];
    if (!has_string(w->types, cl->type)) continue;
    bool all = true;
    const cJSON *l;
    cJSON_ArrayForEach(l, cl->labels) {
      if (cJSON_IsString(l) && !has_string(w->labels, l->valuestring)) {
        all = false;
        break;
      }
    }
    if (all) cl->ws[cl->n++] = w;
  }
  cl->gen = m->workers_generation;
  m->place_cache->stats.rebuilds++;
}

/* The candidate list of (type, labels), current for this generation;
 * NULL when the job has no type (no worker can run it). */
static const m_cand_list_t *candidates_of(pgd_master_t *m, const char *type, const cJSON *labels) {
  if (!type) return NULL;
  struct m_place_cache *pc = m->place_cache;
  if (!pc) {
    pc = m->place_cache = calloc(1, sizeof *pc);
    if (!pc) abort();
  }
  pc->stats.lookups++;
  m_cand_list_t *cl = NULL;
  for (size_t i = 0; i < pc->n && !cl; i++)
    if (strcmp(pc->lists[i].type, type) == 0 && same_labels(pc->lists[i].labels, labels))
      cl = &pc->lists[i];
  if (!cl) {
    if (pc->n < CAND_LISTS_MAX) {
      cl = &pc->lists[pc->n++];
    } else { /* the least recently used list goes */
      cl = &pc->lists[0];
      for (size_t i = 1; i < pc->n; i++)
        if (pc->lists[i].used_at < cl->used_at) cl = &pc->lists[i];
      cand_list_clear(cl);
    }
    cl->type = strdup(type);
    if (!cl->type) abort();
    cl->labels = cJSON_GetArraySize(labels) > 0 ? cJSON_Duplicate(labels, true) : NULL;
    cand_list_fill(m, cl);
  } else if (cl->gen != m->workers_generation) {
    cand_list_fill(m, cl);
  }
  cl->used_at = ++pc->clock;
  return cl;
}

void m_dispatch_free(pgd_master_t *m) {
  struct m_place_cache *pc = m->place_cache;
  if (!pc) return;
  for (size_t i = 0; i < pc->n; i++) cand_list_clear(&pc->lists[i]);
  free(pc);
  m->place_cache = NULL;
}

m_place_stats_t m_dispatch_stats(const pgd_master_t *m) {
  m_place_stats_t s = {0};
  if (m->place_cache) s = m->place_cache->stats;
  return s;
}

/* The workers earlier attempts of `t` ran on, in attempt order, including
 * the attempt that just ended (its row is still t->attempt_rec until the
 * next assignment): a new array owned by the caller, NULL when none. The
 * balancer sees it before it picks; m_task_assign keeps it afterwards. */
static cJSON *previous_workers(const m_task_t *t) {
  const char *last = t->attempt_rec
                         ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->attempt_rec, "worker_id"))
                         : NULL;
  if (!last && !t->prev_workers) return NULL;
  cJSON *prev = t->prev_workers ? cJSON_Duplicate(t->prev_workers, 1) : cJSON_CreateArray();
  if (!prev) abort();
  if (last) cJSON_AddItemToArray(prev, cJSON_CreateString(last));
  return prev;
}

/* 1 when `w` runs another unfinished task (shard) of `t`'s execution. */
static bool holds_sibling(const m_worker_t *w, const m_task_t *t) {
  const m_exec_t *e = t->exec;
  for (int i = 0; i < e->n_tasks; i++) {
    const m_task_t *o = e->tasks[i];
    if (o != t && o->worker == w && !pgd_exec_state_final(o->state)) return true;
  }
  return false;
}

/* Shards spread: while some candidate holds no other shard of the
 * execution, the ones that do are dropped from the list (`ws`, `n` in/out;
 * order kept). Sharded executions only. */
static void spread_shards(const m_task_t *t, m_worker_t **ws, size_t *n) {
  if (t->exec->mode != M_MODE_SHARDED || *n < 2) return;
  size_t free_of_siblings = 0;
  for (size_t i = 0; i < *n; i++)
    if (!holds_sibling(ws[i], t)) free_of_siblings++;
  if (free_of_siblings == 0 || free_of_siblings == *n) return;
  size_t k = 0;
  for (size_t i = 0; i < *n; i++)
    if (!holds_sibling(ws[i], t)) ws[k++] = ws[i];
  *n = k;
}

static m_worker_t *pick(pgd_master_t *m, m_task_t *t, char *why, size_t whylen) {
  m_exec_t *e = t->exec;
  sort_workers(m);
  size_t n = 0, cap = m->by_id_n;
  if (cap == 0) return NULL;
  m_worker_t *stack_ws[64];
  pgd_bal_worker_t stack_cs[64];
  m_worker_t **ws = cap <= 64 ? stack_ws : malloc(cap * sizeof *ws);
  pgd_bal_worker_t *cs = cap <= 64 ? stack_cs : malloc(cap * sizeof *cs);
  if (!ws || !cs) abort();
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e->rec, "type"));
  const cJSON *labels = cJSON_GetObjectItemCaseSensitive(e->def, "labels");
  const m_cand_list_t *cl = candidates_of(m, type, labels);
  for (size_t i = 0; cl && i < cl->n; i++) {
    m_worker_t *w = cl->ws[i];
    /* The list holds type and labels; the rest of the hard filters moves. */
    if (w->slots - w->used < e->slots || !m_worker_takes_work(w)) continue;
    if (t->pinned && strcmp(t->pinned, w->id) != 0) continue;
    ws[n++] = w;
  }
  spread_shards(t, ws, &n);
  m_worker_t *chosen = NULL;
  cJSON *prev = NULL;
  if (n > 0) {
    prev = previous_workers(t);
    for (size_t i = 0; i < n; i++) {
      cs[i] = (pgd_bal_worker_t){.id = ws[i]->id,
                                 .host = ws[i]->host,
                                 .labels = ws[i]->labels,
                                 .slots = ws[i]->slots,
                                 .slots_free = ws[i]->slots - ws[i]->used,
                                 .running = ws[i]->running,
                                 .load1 = ws[i]->load1,
                                 .mem_free_mb = ws[i]->mem_free_mb};
    }
    const cJSON *def = e->def;
    pgd_bal_job_t job = {
        .name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e->rec, "job")),
        .type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e->rec, "type")),
        .params = cJSON_GetObjectItemCaseSensitive(e->rec, "params"),
        .labels = cJSON_GetObjectItemCaseSensitive(def, "labels"),
        .balancer_args = cJSON_GetObjectItemCaseSensitive(def, "balancer_args"),
        .slots = e->slots,
        .priority = e->priority,
        .attempt = e->last_attempt + 1,
        .previous_workers = prev};
    char error[512] = "";
    why[0] = 0;
    int64_t pick_t0_us = m->metrics ? pgd_now_us() : 0;
    int idx = pgd_balancers_pick(m->balancers,
                                 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(def, "balancer")),
                                 &job, cs, n, m->workers_generation, why, whylen, error, sizeof error);
    m_metrics_balancer_pick(m, pick_t0_us);
    if (error[0]) {
      /* The script failed; the built-in choice stands in, and the user sees why. */
      cJSON_DeleteItemFromObjectCaseSensitive(e->rec, "balancer_error");
      cJSON_AddStringToObject(e->rec, "balancer_error", error);
    }
    if (idx >= 0 && (size_t)idx < n) chosen = ws[idx];
  }
  cJSON_Delete(prev);
  if (ws != stack_ws) free(ws);
  if (cs != stack_cs) free(cs);
  return chosen;
}

void m_task_assign(pgd_master_t *m, m_task_t *t, m_worker_t *w) {
  m_exec_t *e = t->exec;
  if (t->attempt_rec) {
    const char *prev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->attempt_rec, "worker_id"));
    if (prev) {
      if (!t->prev_workers) t->prev_workers = cJSON_CreateArray();
      cJSON_AddItemToArray(t->prev_workers, cJSON_CreateString(prev));
    }
    cJSON_Delete(t->attempt_rec);
  }
  m_log_close_task(t);
  t->attempt = ++e->last_attempt;
  t->worker = w;
  t->state = PGD_STATE_DISPATCHED;
  t->not_before_us = 0;
  w->used += e->slots;
  w->running++;
  int64_t now = pgd_now_us();
  cJSON *a = cJSON_CreateObject();
  cJSON_AddNumberToObject(a, "execution_id", (double)e->id);
  cJSON_AddNumberToObject(a, "attempt", t->attempt);
  if (t->shard >= 0) cJSON_AddNumberToObject(a, "shard", t->shard);
  cJSON_AddStringToObject(a, "worker_id", w->id);
  cJSON_AddStringToObject(a, "state", "dispatched");
  cJSON_AddNumberToObject(a, "dispatched_us", (double)now);
  t->attempt_rec = a;
  t->attempt_dirty = true;
  if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(e->rec, "dispatched_us")))
    cJSON_AddNumberToObject(e->rec, "dispatched_us", (double)now);
  cJSON_DeleteItemFromObjectCaseSensitive(e->rec, "pending_reason");
  if (e->committed) {
    /* The execution is durable already (this is a retry, a relaunch or a
     * queued task): launch now and record the attempt in the background.
     * Should the master die before that record lands, the store still says
     * "pending" and recovery holds such tasks back until their worker has
     * had time to claim them, so nothing runs twice. */
    m_rpc_send_launch(m, t);
  } else {
    t->launch_pending = true; /* sent once the first record is durable */
  }
}

/* Broadcast: one task per eligible worker, made at the first dispatch. */
static void expand_broadcast(pgd_master_t *m, m_exec_t *e) {
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
    if (!worker_can_run(w, e)) continue;
    m_queue_insert(m, m_task_new_pinned(e, w->id));
  }
  if (e->n_tasks > 0) {
    e->broadcast_expanded = true;
    m->broadcast_waiting--;
  }
}

static int free_slots(pgd_master_t *m) {
  int free = 0;
  sort_workers(m); /* an array walk rather than the hash's linked entries */
  for (size_t i = 0; i < m->by_id_n; i++) {
    const m_worker_t *w = m->by_id[i];
    if (m_worker_takes_work(w) && w->slots > w->used) free += w->slots - w->used;
  }
  return free;
}

void m_dispatch_pending(pgd_master_t *m) {
  if (m->stopping || !m->leader) return;
  /* Broadcast executions waiting for workers to exist (only walked while
   * there are some: this runs after every finished attempt). */
  m_exec_t *e, *etmp;
  if (m->broadcast_waiting > 0) HASH_ITER(hh, m->execs, e, etmp) {
    if (e->mode == M_MODE_BROADCAST && !e->broadcast_expanded && !e->kill_requested &&
        !e->finishing) {
      expand_broadcast(m, e);
      if (e->broadcast_expanded) m_exec_save_quiet(m, e);
    }
  }
  if (!m->queue_head) return;
  /* Stop scanning once no slot is free anywhere: a long queue costs nothing
   * while the cluster is full. */
  int free = free_slots(m);
  int64_t now = pgd_now_us();
  m_task_t *t = m->queue_head;
  m_exec_t *touched = NULL;
  while (t && free > 0) {
    m_task_t *next = t->q_next;
    if (t->not_before_us > now || t->hold_until_us) {
      t = next;
      continue;
    }
    char why[256] = "";
    m_worker_t *w = pick(m, t, why, sizeof why);
    if (w) {
      m_queue_remove(m, t);
      m_task_assign(m, t, w);
      free -= t->exec->slots;
      if (t->exec->committed) {
        if (touched != t->exec) m_exec_save_quiet(m, t->exec);
        touched = t->exec;
      }
    } else {
      char balancer_says[300];
      const char *reason = m_pending_reason(m, t);
      if (why[0] && reason && strstr(reason, "busy")) {
        /* Workers fit, the balancer chose none: its reason is the one. */
        snprintf(balancer_says, sizeof balancer_says, "balancer: %s", why);
        reason = balancer_says;
      }
      if (reason) {
        cJSON *r = cJSON_GetObjectItemCaseSensitive(t->exec->rec, "pending_reason");
        if (!cJSON_IsString(r) || strcmp(r->valuestring, reason) != 0) {
          cJSON_DeleteItemFromObjectCaseSensitive(t->exec->rec, "pending_reason");
          cJSON_AddStringToObject(t->exec->rec, "pending_reason", reason);
        }
      }
    }
    t = next;
  }
}
