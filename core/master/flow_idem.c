/* Pagoda master — Idempotency-Key for flow runs (flow_idem.h). */
#include "master/flow_idem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "master/idem_int.h"
#include "master/master_int.h"

#define MOD "flows"
#define DOC_KIND "flow_idem"
#define DAY_US (86400LL * 1000000)
#define EXPIRE_DAYS_BACK 8 /* day buckets the hourly expiry deletes (2..8 days back) */

/* A key whose document is not durable yet. */
typedef struct m_flow_idem_entry {
  char *key; /* owned; hash key */
  int64_t fexec_id;
  char fingerprint[17];
  UT_hash_handle hh;
} entry_t;

struct m_flow_idem {
  entry_t *pending; /* hash by key */
};

/* The answer waits for two writes: the flow execution's and the key's. */
typedef struct {
  pgd_master_t *m;
  char *key;
  int waiting;
  int status;
  pgd_master_done_cb done;
  void *ud;
} run_ctx_t;

static struct m_flow_idem *state(pgd_master_t *m) {
  if (!m->flow_idem) {
    m->flow_idem = calloc(1, sizeof *m->flow_idem);
    if (!m->flow_idem) abort();
  }
  return m->flow_idem;
}

static void forget(pgd_master_t *m, const char *key) {
  entry_t *e = NULL;
  HASH_FIND_STR(state(m)->pending, key, e);
  if (!e) return;
  HASH_DEL(state(m)->pending, e);
  free(e->key);
  free(e);
}

void m_flow_idem_free(pgd_master_t *m) {
  if (!m->flow_idem) return;
  entry_t *e, *tmp;
  HASH_ITER(hh, m->flow_idem->pending, e, tmp) {
    HASH_DEL(m->flow_idem->pending, e);
    free(e->key);
    free(e);
  }
  free(m->flow_idem);
  m->flow_idem = NULL;
}

void m_flow_idem_expire(pgd_master_t *m, int64_t now_us) {
  int64_t today = now_us / DAY_US;
  for (int back = 2; back <= EXPIRE_DAYS_BACK; back++) {
    char parent[32];
    snprintf(parent, sizeof parent, "d%lld", (long long)(today - back));
    int rc = pgd_store_delete_docs(m->store, DOC_KIND, parent, NULL, NULL);
    if (rc < 0) PGD_WARN(MOD, "cannot queue the expiry of flow run keys: %s", strerror(-rc));
  }
}

static void part_done(pgd_master_t *m, run_ctx_t *c, int status) {
  (void)m;
  if (status < 0 && c->status == 0) c->status = status;
  if (--c->waiting > 0) return;
  forget(c->m, c->key);
  if (c->status < 0) /* the run is not stored: neither may its key be */
    pgd_store_delete_doc(c->m->store, DOC_KIND, c->key, NULL, NULL);
  if (c->done) c->done(c->ud, c->status);
  free(c->key);
  free(c);
}

static void run_written(void *ud, int status) {
  run_ctx_t *c = ud;
  part_done(c->m, c, status);
}

static void key_written(int status, void *ud) {
  run_ctx_t *c = ud;
  part_done(c->m, c, status);
}

static int verdict(const char *key, const char *fp_have, const char *fp_want, int64_t id,
                   char *err, size_t errlen) {
  if (fp_have && strcmp(fp_have, fp_want) == 0) return 1;
  return pgd_set_err(err, errlen, -EEXIST,
                     "Idempotency-Key '%s' was used by flow execution %lld, a run of another "
                     "flow or with other params: use a new key for a different request",
                     key, (long long)id);
}

int pgd_master_flow_run_keyed(pgd_master_t *m, const char *name, const cJSON *params,
                              int64_t logical_time_us, const char *key, int64_t *fexec_id,
                              bool *replayed, pgd_master_done_cb done, void *ud, char *err,
                              size_t errlen) {
  *replayed = false;
  if (!key)
    return pgd_master_flow_run(m, name, params, logical_time_us, fexec_id, done, ud, err, errlen);
  if (!m_idem_key_ok(key))
    return pgd_set_err(err, errlen, -EINVAL,
                       "Idempotency-Key must be 1 to %d printable ASCII characters without spaces",
                       M_IDEM_KEY_MAX);
  /* the request: flow name, params and logical time */
  cJSON *req = cJSON_CreateObject();
  cJSON_AddItemToObject(req, "params", params ? cJSON_Duplicate(params, 1) : cJSON_CreateObject());
  cJSON_AddNumberToObject(req, "logical_time_us", (double)logical_time_us);
  char fp[17], flow[300];
  snprintf(flow, sizeof flow, "flow:%s", name);
  m_idem_fingerprint(flow, req, fp);
  cJSON_Delete(req);

  entry_t *e = NULL;
  HASH_FIND_STR(state(m)->pending, key, e);
  if (e) {
    int rc = verdict(key, e->fingerprint, fp, e->fexec_id, err, errlen);
    if (rc < 0) return rc;
    return pgd_set_err(err, errlen, -EINPROGRESS,
                       "the flow run with Idempotency-Key '%s' (flow execution %lld) is being "
                       "stored; retry shortly", key, (long long)e->fexec_id);
  }
  int64_t now = pgd_now_us();
  cJSON *doc = pgd_store_get_doc(m->store, DOC_KIND, key);
  if (doc && pgd_json_int(doc, "submitted_us", 0) >= now - M_IDEM_TTL_US) {
    int64_t id = pgd_json_int(doc, "flow_execution_id", 0);
    int rc = verdict(key, pgd_json_str(doc, "fingerprint"), fp, id, err, errlen);
    cJSON_Delete(doc);
    if (rc < 0) return rc;
    *fexec_id = id;
    *replayed = true;
    if (done) done(ud, 0); /* nothing to wait for */
    return 0;
  }
  cJSON_Delete(doc);

  run_ctx_t *c = calloc(1, sizeof *c);
  if (!c) abort();
  *c = (run_ctx_t){m, strdup(key), 1, 0, done, ud};
  if (!c->key) abort();
  int rc = pgd_master_flow_run(m, name, params, logical_time_us, fexec_id, run_written, c, err,
                               errlen);
  if (rc < 0) {
    free(c->key);
    free(c);
    return rc;
  }
  e = calloc(1, sizeof *e);
  if (!e) abort();
  e->key = strdup(key);
  if (!e->key) abort();
  e->fexec_id = *fexec_id;
  memcpy(e->fingerprint, fp, sizeof fp);
  HASH_ADD_KEYPTR(hh, state(m)->pending, e->key, strlen(e->key), e);
  /* queued behind the flow execution's first write (one writer, in order) */
  cJSON *kd = cJSON_CreateObject();
  cJSON_AddStringToObject(kd, "flow", name);
  cJSON_AddNumberToObject(kd, "flow_execution_id", (double)*fexec_id);
  cJSON_AddStringToObject(kd, "fingerprint", fp);
  cJSON_AddNumberToObject(kd, "submitted_us", (double)now);
  char parent[32];
  snprintf(parent, sizeof parent, "d%lld", (long long)(now / DAY_US));
  c->waiting++;
  int krc = pgd_store_put_doc(m->store, DOC_KIND, key, parent, NULL, kd, key_written, c);
  cJSON_Delete(kd);
  if (krc < 0) {
    PGD_WARN(MOD, "flow execution %lld: cannot queue its Idempotency-Key: %s",
             (long long)*fexec_id, strerror(-krc));
    part_done(m, c, krc);
  }
  return 0;
}
