/* Pagoda master — batch runs (master.h pgd_master_runs_submit, docs/api.md
 * "Batch runs"): many runs checked as a whole, then submitted inside one
 * store group so that their first records become durable in one commit,
 * and answered once. Loop thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "master/exec_int.h"
#include "master/idem_int.h"
#include "master/jobs_int.h"
#include "master/resources.h"

/* The batch's answer waits for every run's first record. */
typedef struct runs_agg {
  size_t left;
  int status; /* the first failure, 0 = none */
  pgd_master_done_cb done;
  void *ud;
} runs_agg_t;

static void run_durable(void *ud, int status) {
  runs_agg_t *a = ud;
  if (status < 0 && a->status == 0) a->status = status;
  if (--a->left > 0) return;
  a->done(a->ud, a->status);
  free(a);
}

/* Everything a run needs once the batch is known to be valid. */
typedef struct run_plan {
  m_exec_prep_t *prep; /* NULL: replayed (nothing to submit) */
  cJSON *extra;        /* record fields: idempotency key, run index */
} run_plan_t;

static void plans_free(run_plan_t *plans, size_t n) {
  for (size_t i = 0; i < n; i++) {
    m_exec_prep_free(plans[i].prep);
    cJSON_Delete(plans[i].extra);
  }
  free(plans);
}

/* Checks run i; fills its plan (or out[i] for a replay). 0 or -errno. */
static int plan_one(pgd_master_t *m, const pgd_master_run_req_t *runs, size_t i,
                    pgd_master_run_out_t *out, run_plan_t *plan, char *err, size_t errlen) {
  const pgd_master_run_req_t *r = &runs[i];
  m_job_t *j = r->job ? m_job_find(m, r->job) : NULL;
  if (!j) return pgd_set_err(err, errlen, -ENOENT, "job '%s' not found", r->job ? r->job : "");
  if (r->params && !cJSON_IsObject(r->params))
    return pgd_set_err(err, errlen, -EINVAL, "params must be an object");
  if (r->key) {
    /* Two runs of one batch with one key would be one request twice. */
    for (size_t k = 0; k < i; k++)
      if (runs[k].key && strcmp(runs[k].key, r->key) == 0)
        return pgd_set_err(err, errlen, -EINVAL, "idempotency_key '%s' is given twice",
                           r->key);
    char fp[17];
    m_idem_fingerprint(r->job, r->params, fp);
    int rc = m_idem_lookup(m, r->key, fp, &out[i].exec_id, &out[i].state, err, errlen);
    if (rc < 0) return rc;
    if (rc == 1) {
      out[i].replayed = true;
      return 0;
    }
    plan->extra = cJSON_CreateObject();
    cJSON_AddStringToObject(plan->extra, "idempotency_key", r->key);
    cJSON_AddStringToObject(plan->extra, "idempotency_fingerprint", fp);
  }
  if (r->run_index >= 0) {
    if (!plan->extra) plan->extra = cJSON_CreateObject();
    cJSON_AddNumberToObject(plan->extra, "run_index", (double)r->run_index);
  }
  if (!m_resources_check(m, j->def, err, errlen)) return -EINVAL;
  plan->prep = m_exec_prepare(m, j->def, r->params, err, errlen);
  return plan->prep ? 0 : -EINVAL;
}

int pgd_master_runs_submit(pgd_master_t *m, const pgd_master_run_req_t *runs, size_t n,
                           const char *trigger, pgd_master_run_out_t *out,
                           pgd_master_done_cb done, void *ud, size_t *bad, char *err,
                           size_t errlen) {
  *bad = 0;
  if (n == 0 || n > PGD_MASTER_RUNS_MAX)
    return pgd_set_err(err, errlen, -EINVAL, "a batch holds 1 to %d runs", PGD_MASTER_RUNS_MAX);
  run_plan_t *plans = calloc(n, sizeof *plans);
  if (!plans) return pgd_set_err(err, errlen, -ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    out[i] = (pgd_master_run_out_t){0, PGD_STATE_PENDING, false};
    int rc = plan_one(m, runs, i, out, &plans[i], err, errlen);
    if (rc < 0) {
      *bad = i;
      plans_free(plans, n);
      return rc;
    }
  }
  /* Every run is valid: submit them as one store group (one commit). */
  runs_agg_t *agg = calloc(1, sizeof *agg);
  if (!agg) abort();
  *agg = (runs_agg_t){1, 0, done, ud}; /* 1: held until every run is queued */
  pgd_store_group_begin(m->store);
  for (size_t i = 0; i < n; i++) {
    if (!plans[i].prep) continue; /* replayed */
    agg->left++;
    m_exec_t *e = m_exec_submit_prepared(m, plans[i].prep, trigger, run_durable, agg, err,
                                         errlen, plans[i].extra);
    plans[i].prep = NULL;
    if (!e) {
      /* The store refused the write (closing): the runs queued before it
       * complete with their own outcome; the answer carries this error. */
      agg->left--;
      if (agg->status == 0) agg->status = -EIO;
      continue;
    }
    out[i].exec_id = e->id;
    out[i].state = e->state;
  }
  pgd_store_group_end(m->store);
  m->run_batches++;
  m->run_batch_runs += agg->left - 1;
  plans_free(plans, n);
  run_durable(agg, 0);
  return 0;
}

void pgd_master_exec_stats(const pgd_master_t *m, pgd_master_exec_stats_t *out) {
  *out = (pgd_master_exec_stats_t){HASH_COUNT(m->execs), m->run_batches, m->run_batch_runs};
}
