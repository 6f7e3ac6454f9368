/* Pagoda master — its Prometheus metrics (docs/observability.md).
 *
 * Two halves, so that the job path stays cheap:
 *  - events counted as they happen, through the observer list (executions
 *    by job/state/reason, start and dispatch delays) and a few one-line
 *    hooks (metrics_int.h: balancer picks, schedule fires and misfires);
 *  - figures the master already holds (queue, pending reasons, workers,
 *    slots, flows, the store's queue, balancer counters, leadership), read
 *    by a collector at scrape time only.
 * Loop thread only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "common/clock.h"
#include "common/log.h"
#include "master/exec_int.h"
#include "master/flows_int.h"
#include "master/metrics_int.h"
#include "master/storage.h"
#include "master/workers_int.h"
#include "sched/trigger.h"
#include "script/balancer.h"

#define MOD "metrics"

/* At most this many job names get their own series; more fall into
 * pagoda_job="_other" (a bounded label set however many jobs are defined).
 * The label is not "job": Prometheus gives that name to the scrape job. */
#define M_METRICS_JOB_CAP 500

/* Executions whose start was observed, until they end (each execution's
 * start delay is observed once however often its record changes). */
typedef struct m_started {
  int64_t id;
  UT_hash_handle hh;
} m_started_t;

static int64_t rec_int(const cJSON *rec, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, key);
  return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
}

static double seconds_between(int64_t from_us, int64_t to_us) {
  return to_us > from_us ? (double)(to_us - from_us) / 1e6 : 0.0;
}

/* Why an execution ended, as a bounded word. */
static const char *end_reason(pgd_exec_state_t st, const cJSON *rec) {
  switch (st) {
    case PGD_STATE_SUCCEEDED: return "ok";
    case PGD_STATE_KILLED: return "killed";
    case PGD_STATE_TIMED_OUT: return "timeout";
    case PGD_STATE_LOST: return "worker_lost";
    default: break;
  }
  if (rec_int(rec, "signal") > 0) return "signal";
  if (rec_int(rec, "exit_code") > 0) return "exit_code";
  return "error"; /* could not start, plugin error, retries of other kinds */
}

static void on_state_change(void *ud, pgd_master_t *m, const pgd_master_exec_t *e) {
  struct m_metrics *mm = ud;
  (void)m;
  if (!pgd_metrics_enabled()) return;
  const cJSON *rec = pgd_master_exec_record(e);
  int64_t started = rec_int(rec, "started_us");
  if (started < 0) return;
  int64_t id = pgd_master_exec_id(e);
  m_started_t *s = NULL;
  HASH_FIND(hh, mm->started, &id, sizeof id, s);
  if (s) return;
  s = calloc(1, sizeof *s);
  if (!s) return;
  s->id = id;
  HASH_ADD(hh, mm->started, id, sizeof s->id, s);
  int64_t submitted = rec_int(rec, "submitted_us"), dispatched = rec_int(rec, "dispatched_us");
  if (submitted >= 0) pgd_metric_observe(mm->start_delay, seconds_between(submitted, started));
  if (dispatched >= 0) {
    pgd_metric_observe(mm->dispatch_delay, seconds_between(dispatched, started));
    if (submitted >= 0) pgd_metric_observe(mm->queue_wait, seconds_between(submitted, dispatched));
  }
}

static void on_exec_final(void *ud, pgd_master_t *m, const pgd_master_exec_t *e) {
  struct m_metrics *mm = ud;
  (void)m;
  int64_t id = pgd_master_exec_id(e);
  m_started_t *s = NULL;
  HASH_FIND(hh, mm->started, &id, sizeof id, s);
  if (s) {
    HASH_DEL(mm->started, s);
    free(s);
  }
  if (!pgd_metrics_enabled()) return;
  const cJSON *rec = pgd_master_exec_record(e);
  pgd_exec_state_t st = pgd_master_exec_state(e);
  const char *job = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "job"));
  PGD_METRIC_INC(mm->executions, job ? job : "", pgd_exec_state_name(st), end_reason(st, rec));
}

/* ---- one-line hooks ---- */

void m_metrics_balancer_pick(pgd_master_t *m, int64_t t0_us) {
  if (m->metrics && pgd_metrics_enabled())
    pgd_metric_observe(m->metrics->balancer_pick, seconds_between(t0_us, pgd_now_us()));
}

void m_metrics_schedule_fired(pgd_master_t *m, int64_t fire_us) {
  if (m->metrics && pgd_metrics_enabled())
    pgd_metric_observe(m->metrics->sched_lateness, seconds_between(fire_us, pgd_now_us()));
}

void m_metrics_schedule_evaluated(pgd_master_t *m, const pgd_trigger_t *trig,
                                  int64_t checkpoint_us, int64_t last_end_us, int64_t now_us) {
  if (!m->metrics || !pgd_metrics_enabled() || !trig) return;
  int64_t first_due = pgd_trigger_next(trig, checkpoint_us, last_end_us);
  if (first_due < 0 || now_us - first_due <= pgd_trigger_misfire_grace_us(trig)) return;
  static const char *const policies[] = {"skip", "run_once", "run_all"};
  int p = (int)pgd_trigger_misfire(trig);
  PGD_METRIC_INC(m->metrics->sched_misfires, p >= 0 && p < 3 ? policies[p] : "skip");
}

/* ---- the scrape-time collector ---- */

static const char *const K_STATE[] = {"state"};
static const char *const K_REASON[] = {"reason"};
static const char *const K_BALANCER[] = {"balancer"};

/* A pending reason (exec.c, dispatch.c) as a bounded word. */
static const char *pending_word(const char *why) {
  if (!why) return "waiting";
  static const struct { const char *prefix, *word; } map[] = {
      {"retry ", "retry_backoff"},
      {"no worker is connected", "no_worker"},
      {"its worker is not connected", "worker_not_connected"},
      {"no connected worker provides", "no_worker_of_type"},
      {"no connected worker has all the labels", "no_worker_with_labels"},
      {"no fitting worker has as many slots", "too_few_slots"},
      {"every fitting worker is busy", "busy"},
      {"balancer: ", "balancer"},
      {"no connected worker can run it", "no_worker"},
  };
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strncmp(why, map[i].prefix, strlen(map[i].prefix)) == 0) return map[i].word;
  return "other";
}

static void collect_queue(pgd_metrics_out_t *out, pgd_master_t *m) {
  static const char *const words[] = {"busy", "no_worker", "worker_not_connected",
                                      "no_worker_of_type", "no_worker_with_labels",
                                      "too_few_slots", "balancer", "retry_backoff",
                                      "waiting", "other"};
  enum { NW = sizeof words / sizeof words[0] };
  double count[NW] = {0}, total = 0;
  for (m_task_t *t = m->queue_head; t; t = t->q_next) {
    const char *w = pending_word(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t->exec->rec, "pending_reason")));
    for (int i = 0; i < NW; i++)
      if (strcmp(words[i], w) == 0) count[i]++;
    total++;
  }
  pgd_metrics_out_single(out, "pagoda_queue_length", PGD_METRIC_GAUGE,
                         "Tasks waiting in the master's pending queue.", total);
  pgd_metrics_out_family(out, "pagoda_queue_pending", PGD_METRIC_GAUGE,
                         "Pending tasks by the reason they wait.");
  for (int i = 0; i < NW; i++)
    pgd_metrics_out_sample(out, "pagoda_queue_pending", 1, K_REASON, &words[i], count[i]);

  double by_state[PGD_STATE__COUNT] = {0};
  m_exec_t *e, *tmp;
  HASH_ITER(hh, m->execs, e, tmp) {
    if ((unsigned)e->state < PGD_STATE__COUNT && !pgd_exec_state_final(e->state))
      by_state[e->state]++;
  }
  pgd_metrics_out_family(out, "pagoda_executions_active", PGD_METRIC_GAUGE,
                         "Unfinished executions by state.");
  for (int s = PGD_STATE_PENDING; s < PGD_STATE_SUCCEEDED; s++) {
    const char *name = pgd_exec_state_name((pgd_exec_state_t)s);
    pgd_metrics_out_sample(out, "pagoda_executions_active", 1, K_STATE, &name, by_state[s]);
  }
}

static void collect_workers(pgd_metrics_out_t *out, pgd_master_t *m) {
  double connected = 0, draining = 0, leaving = 0, left = 0, lost = 0, used = 0, total = 0;
  m_worker_t *w, *tmp;
  HASH_ITER(hh, m->workers, w, tmp) {
    bool alive = w->state == M_WORKER_ALIVE && w->conn;
    if (!alive) {
      if (w->state == M_WORKER_LEFT) left++; /* stopped cleanly (SIGTERM), not lost */
      else lost++;
      continue;
    }
    if (w->leaving) leaving++;
    else if (w->draining) draining++;
    else connected++;
    used += w->used;
    total += w->slots;
  }
  static const char *const states[] = {"connected", "draining", "leaving", "left", "lost"};
  double v[] = {connected, draining, leaving, left, lost};
  pgd_metrics_out_family(out, "pagoda_workers", PGD_METRIC_GAUGE,
                         "Workers the leader knows, by state (connected = taking work).");
  for (int i = 0; i < 5; i++) pgd_metrics_out_sample(out, "pagoda_workers", 1, K_STATE, &states[i], v[i]);
  pgd_metrics_out_single(out, "pagoda_slots_used", PGD_METRIC_GAUGE,
                         "Slots taken by dispatched and running attempts on connected workers.",
                         used);
  pgd_metrics_out_single(out, "pagoda_slots_capacity", PGD_METRIC_GAUGE,
                         "Slots of the connected workers (draining ones included).", total);
}

/* Sizes of the store and the logs, retention and deletions (master/storage.h),
 * the placement index and the execution path's figures (issue 17): plain
 * unlabelled figures, one table. */
static void collect_storage(pgd_metrics_out_t *out, pgd_master_t *m) {
  pgd_master_storage_stats_t st;
  pgd_master_storage_stats(m, &st);
  m_place_stats_t pl = m_dispatch_stats(m);
  pgd_master_exec_stats_t ex;
  pgd_master_exec_stats(m, &ex);
  pgd_store_writer_stats_t wr;
  pgd_store_writer_stats(m->store, &wr);
  const pgd_metric_kind_t G = PGD_METRIC_GAUGE, C = PGD_METRIC_COUNTER;
  const struct {
    const char *name;
    pgd_metric_kind_t kind;
    const char *help;
    double value;
  } figures[] = {
      {"pagoda_store_size_bytes", G, "Size of the store's database.", (double)st.store_bytes},
      {"pagoda_logs_size_bytes", G,
       "Size of the job logs (the store's log chunks, or local log files).", (double)st.log_bytes},
      {"pagoda_blobs_size_bytes", G, "Size of resource contents kept in the store.",
       (double)st.blob_bytes},
      {"pagoda_logs_pending_bytes", G, "Log bytes received and not yet durable in the store.",
       (double)st.log_pending_bytes},
      {"pagoda_log_bytes_written_total", C, "Log bytes written to the store since start.",
       (double)st.log_bytes_written},
      {"pagoda_log_reports_refused_total", C,
       "Log reports left on workers because the pending limit was reached.",
       (double)st.log_reports_refused},
      {"pagoda_retention_deleted_total", C, "Executions deleted by retention since start.",
       (double)st.retention_deleted},
      {"pagoda_retention_schedule_runs_deleted_total", C,
       "Schedule run records deleted by retention since start.", (double)st.retention_runs_deleted},
      {"pagoda_executions_deleted_total", C, "Executions deleted through the API since start.",
       (double)st.exec_deleted},
      {"pagoda_retention_batch_max_seconds", G,
       "Longest time one retention batch held the master's loop.",
       (double)st.retention_batch_us_max / 1e6},
      {"pagoda_placement_lookups_total", C, "Placement attempts (one candidate-list lookup each).",
       (double)pl.lookups},
      {"pagoda_placement_index_rebuilds_total", C,
       "Rebuilds of the placement index after workers changed.", (double)pl.rebuilds},
      {"pagoda_executions_in_memory", G,
       "Executions the master holds in memory (unfinished, or final and not yet durable).",
       (double)ex.in_memory},
      {"pagoda_run_batches_total", C, "POST /api/v1/runs batches submitted.", (double)ex.batches},
      {"pagoda_run_batch_runs_total", C, "Runs submitted in batches (replays excluded).",
       (double)ex.batch_runs},
      {"pagoda_store_rows_total", C, "Statements applied after writes of the same row were merged.",
       (double)wr.rows},
      {"pagoda_store_writes_coalesced_total", C,
       "Writes merged into a later write of the same row in the same commit.",
       (double)wr.coalesced},
      {"pagoda_store_commits_held_total", C,
       "Commits made when the group window for background writes ended.", (double)wr.held},
      {"pagoda_store_commits_urgent_total", C,
       "Commits that carried a write someone waits for (made at once).", (double)wr.urgent},
  };
  for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++)
    pgd_metrics_out_single(out, figures[i].name, figures[i].kind, figures[i].help, figures[i].value);
}

static void collect_flows(pgd_metrics_out_t *out, pgd_master_t *m) {
  /* node states of the flow engine (core/flow) */
  static const char *const states[] = {"waiting", "ready",   "running",         "succeeded",
                                       "failed",  "killed",  "skipped", "upstream_failed",
                                       "other"};
  enum { NS = sizeof states / sizeof states[0] };
  double nodes[NS] = {0}, runs = 0;
  if (m->flows) {
    m_frun_t *r, *tmp;
    HASH_ITER(hh, m->flows->runs, r, tmp) {
      if (pgd_flow_run_done(r->run)) continue;
      runs++;
      cJSON *st = pgd_flow_run_state(r->run);
      const cJSON *n;
      cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(st, "nodes")) {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(n, "state"));
        int k = NS - 1;
        for (int i = 0; i < NS - 1; i++)
          if (s && strcmp(s, states[i]) == 0) k = i;
        nodes[k]++;
      }
      cJSON_Delete(st);
    }
  }
  pgd_metrics_out_single(out, "pagoda_flow_executions_running", PGD_METRIC_GAUGE,
                         "Flow executions not finished.", runs);
  pgd_metrics_out_family(out, "pagoda_flow_nodes", PGD_METRIC_GAUGE,
                         "Nodes of the unfinished flow executions, by state.");
  for (int i = 0; i < NS; i++) pgd_metrics_out_sample(out, "pagoda_flow_nodes", 1, K_STATE, &states[i], nodes[i]);
}

static void collect_balancers(pgd_metrics_out_t *out, pgd_master_t *m) {
  cJSON *list = pgd_balancers_to_json(m->balancers);
  const cJSON *b;
  pgd_metrics_out_family(out, "pagoda_balancer_calls_total", PGD_METRIC_COUNTER,
                         "Balancer picks, by balancer (scripts and the built-in).");
  cJSON_ArrayForEach(b, list) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "name"));
    pgd_metrics_out_sample(out, "pagoda_balancer_calls_total", 1, K_BALANCER, &name,
                           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(b, "calls")));
  }
  pgd_metrics_out_family(out, "pagoda_balancer_errors_total", PGD_METRIC_COUNTER,
                         "Balancer script failures (the built-in decided instead).");
  cJSON_ArrayForEach(b, list) {
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, "name"));
    pgd_metrics_out_sample(out, "pagoda_balancer_errors_total", 1, K_BALANCER, &name,
                           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(b, "errors")));
  }
  cJSON_Delete(list);
}

static void collect(pgd_metrics_out_t *out, void *ud) {
  pgd_master_t *m = ud;
  pgd_metrics_out_single(out, "pagoda_master_leader", PGD_METRIC_GAUGE,
                         "1 while this master leads, 0 on a standby.", m->leader ? 1 : 0);
  pgd_metrics_out_single(out, "pagoda_master_epoch", PGD_METRIC_GAUGE,
                         "The leadership epoch this master knows.", (double)m->epoch);
  pgd_metrics_out_single(out, "pagoda_store_queue_depth", PGD_METRIC_GAUGE,
                         "Writes queued for the store's writer thread.",
                         (double)pgd_store_queue_depth(m->store));
  collect_queue(out, m);
  collect_workers(out, m);
  collect_flows(out, m);
  collect_balancers(out, m);
  collect_storage(out, m);
}

/* ---- start and stop ---- */

int pgd_master_metrics_start(pgd_master_t *m) {
  if (m->metrics || !pgd_metrics_enabled()) return 0;
  struct m_metrics *mm = calloc(1, sizeof *mm);
  if (!mm) return -ENOMEM;
  pgd_metrics_t *reg = pgd_metrics_default();
  mm->executions = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_executions_total",
                                .help = "Executions that ended, by Pagoda job (the first 500 job names; "
                                        "later ones as _other), final state and end reason.",
                                .kind = PGD_METRIC_COUNTER,
                                .labels = {"pagoda_job", "state", "reason", NULL},
                                .capped_label = 0,
                                .cap = M_METRICS_JOB_CAP});
#define HIST(field, metric, text)                                                            \
  mm->field = pgd_metric_of(pgd_metrics_family(                                              \
      reg, &(pgd_metric_desc_t){.name = metric, .help = text, .kind = PGD_METRIC_HISTOGRAM}))
  HIST(start_delay, "pagoda_execution_start_delay_seconds",
       "From an execution's submission to its first attempt running on a worker.");
  HIST(dispatch_delay, "pagoda_execution_dispatch_delay_seconds",
       "From an execution's placement on a worker to that worker reporting it running.");
  HIST(queue_wait, "pagoda_execution_queue_wait_seconds",
       "From an execution's submission to its placement on a worker.");
  HIST(balancer_pick, "pagoda_balancer_pick_seconds", "Time of one balancer pick.");
  HIST(sched_lateness, "pagoda_schedule_fire_lateness_seconds",
       "How late a schedule fire was submitted after its fire time.");
#undef HIST
  mm->sched_misfires = pgd_metrics_family(
      reg, &(pgd_metric_desc_t){.name = "pagoda_schedule_misfires_total",
                                .help = "Schedule evaluations that found a fire time older than "
                                        "its misfire_grace, by the schedule's misfire policy.",
                                .kind = PGD_METRIC_COUNTER,
                                .labels = {"policy", NULL}});
  pgd_master_observer_t obs = {.on_state_change = on_state_change,
                               .on_exec_final = on_exec_final,
                               .ud = mm};
  mm->observer = pgd_master_subscribe(m, &obs);
  mm->collector = pgd_metrics_add_collector(reg, collect, m);
  if (mm->observer < 0 || mm->collector < 0) {
    if (mm->observer > 0) pgd_master_unsubscribe(m, mm->observer);
    if (mm->collector > 0) pgd_metrics_remove_collector(reg, mm->collector);
    free(mm);
    return -ENOMEM;
  }
  m->metrics = mm;
  return 0;
}

void m_metrics_stop(pgd_master_t *m) {
  struct m_metrics *mm = m->metrics;
  if (!mm) return;
  pgd_master_unsubscribe(m, mm->observer);
  pgd_metrics_remove_collector(pgd_metrics_default(), mm->collector);
  m_started_t *s, *tmp;
  HASH_ITER(hh, mm->started, s, tmp) {
    HASH_DEL(mm->started, s);
    free(s);
  }
  free(mm);
  m->metrics = NULL;
}
