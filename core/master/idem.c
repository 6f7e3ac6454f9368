/* Pagoda master — idempotency keys of runs (idem_int.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/json.h"
#include "common/log.h"
#include "master/exec_int.h"
#include "master/idem_int.h"

#define MOD "exec"
#define EXPIRE_EVERY_US (3600LL * 1000000)

/* ---- fingerprint ---- */

static void fnv(uint64_t *h, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    *h ^= *p;
    *h *= 1099511628211ULL;
  }
}

static int cmp_member(const void *a, const void *b) {
  return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* Sorts the members of every object under `v` by name, in place. */
static void sort_members(cJSON *v) {
  if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) return;
  int n = cJSON_GetArraySize(v);
  for (cJSON *c = v->child; c; c = c->next) sort_members(c);
  if (!cJSON_IsObject(v) || n < 2) return;
  cJSON **items = malloc(sizeof *items * (size_t)n);
  if (!items) abort();
  int i = 0;
  for (cJSON *c = v->child; c; c = c->next) items[i++] = c;
  qsort(items, (size_t)n, sizeof *items, cmp_member);
  for (i = 0; i < n; i++) {
    items[i]->prev = i ? items[i - 1] : items[n - 1]; /* cJSON: child->prev is the last */
    items[i]->next = i + 1 < n ? items[i + 1] : NULL;
  }
  v->child = items[0];
  free(items);
}

void m_idem_fingerprint(const char *job, const cJSON *params, char out[17]) {
  uint64_t h = 14695981039346656037ULL;
  fnv(&h, job ? job : "");
  fnv(&h, "\n");
  cJSON *canon = params ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
  sort_members(canon);
  char *text = cJSON_PrintUnformatted(canon);
  if (!text) abort();
  fnv(&h, text);
  free(text);
  cJSON_Delete(canon);
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ---- lookup ---- */

bool m_idem_key_ok(const char *key) {
  size_t n = strlen(key);
  if (n == 0 || n > M_IDEM_KEY_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)key[i] < 0x21 || (unsigned char)key[i] > 0x7e) return false;
  return true;
}

/* The verdict on a run found with the key: 1 (same request) or -EEXIST. */
static int match(const cJSON *rec, const char *key, const char *fingerprint, char *err,
                 size_t errlen) {
  const char *fp = pgd_json_str(rec, "idempotency_fingerprint");
  if (fp && strcmp(fp, fingerprint) == 0) return 1;
  return pgd_set_err(err, errlen, -EEXIST,
                     "Idempotency-Key '%s' was used by execution %lld, a run of job '%s' with "
                     "other params: use a new key for a different request",
                     key, (long long)pgd_json_int(rec, "id", 0), pgd_json_str(rec, "job") ?: "");
}

int m_idem_lookup(pgd_master_t *m, const char *key, const char *fingerprint, int64_t *exec_id,
                  pgd_exec_state_t *state, char *err, size_t errlen) {
  if (!m_idem_key_ok(key))
    return pgd_set_err(err, errlen, -EINVAL,
                       "Idempotency-Key must be 1 to %d printable ASCII characters without spaces",
                       M_IDEM_KEY_MAX);
  int64_t since = pgd_now_us() - M_IDEM_TTL_US;
  m_exec_t *e = NULL;
  HASH_FIND(hh_key, m->execs_by_key, key, strlen(key), e);
  if (e && pgd_json_int(e->rec, "submitted_us", 0) >= since) {
    int rc = match(e->rec, key, fingerprint, err, errlen);
    if (rc < 0) return rc;
    if (!e->committed)
      return pgd_set_err(err, errlen, -EINPROGRESS,
                         "the run with Idempotency-Key '%s' (execution %lld) is being stored; "
                         "retry shortly", key, (long long)e->id);
    *exec_id = e->id;
    *state = e->state;
    return 1;
  }
  cJSON *rec = pgd_store_find_execution_by_key(m->store, key, since);
  if (!rec) return 0;
  int rc = match(rec, key, fingerprint, err, errlen);
  if (rc == 1) {
    *exec_id = pgd_json_int(rec, "id", 0);
    int st = pgd_exec_state_parse(pgd_json_str(rec, "state"));
    *state = st < 0 ? PGD_STATE_PENDING : (pgd_exec_state_t)st;
  }
  cJSON_Delete(rec);
  return rc;
}

/* ---- expiry ---- */

void m_idem_expire(pgd_master_t *m) {
  int64_t now = pgd_now_us();
  if (!m->leader || (m->idem_expired_us && now - m->idem_expired_us < EXPIRE_EVERY_US)) return;
  m->idem_expired_us = now;
  int rc = pgd_store_expire_keys(m->store, now - M_IDEM_TTL_US, NULL, NULL);
  if (rc < 0) PGD_WARN(MOD, "cannot queue the expiry of idempotency keys: %s", strerror(-rc));
  m_flow_idem_expire(m, now);
}
