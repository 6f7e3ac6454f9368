/* Pagoda master — idempotency keys of runs (docs/api.md "Idempotency-Key"):
 * a run submitted with a key that an earlier run of the last 24 hours
 * carried returns that run instead of starting another. The key and a
 * fingerprint of the request are members of the execution record
 * ("idempotency_key", a column of the store since schema 4, and
 * "idempotency_fingerprint"), so they are durable in the same write as the
 * execution's first record and survive restarts and fail-overs.
 * Not public; loop thread only. */
#ifndef PAGODA_MASTER_IDEM_INT_H
#define PAGODA_MASTER_IDEM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/exec_state.h"
#include "master/master_int.h"

/* How long a key is remembered. */
#define M_IDEM_TTL_US (24LL * 3600 * 1000000)
/* Longest key accepted (bytes). */
#define M_IDEM_KEY_MAX 255

/* The fingerprint of a run request: 16 hex digits + NUL of a 64-bit FNV-1a
 * hash of the job name and the canonical JSON (object members sorted by
 * name, recursively) of its params override (NULL = {}). */
void m_idem_fingerprint(const char *job, const cJSON *params, char out[17]);

/* True when `key` is 1 to M_IDEM_KEY_MAX printable ASCII bytes, no space. */
bool m_idem_key_ok(const char *key);

/* ---- flow_idem.c: keys of flow runs (master/flow_idem.h) ---- */
/* Frees the keys held in memory (pgd_master_free). */
void m_flow_idem_free(pgd_master_t *m);
/* Deletes the stored keys of flow runs submitted 2 to 8 days before now_us
 * (whole day groups; lookups ignore keys older than M_IDEM_TTL_US anyway). */
void m_flow_idem_expire(pgd_master_t *m, int64_t now_us);

/* Looks `key` up among the executions in memory and, failing that, in the
 * store (submitted within M_IDEM_TTL_US). Returns
 *   0  no run carries it (a new run may take it);
 *   1  a replay: *exec_id and *state are the first run's;
 *   -EINVAL  the key is not 1 to M_IDEM_KEY_MAX printable ASCII bytes;
 *   -EEXIST  the key belongs to a run of another job or other params;
 *   -EINPROGRESS  the first run with this key is not durable yet (its
 *            answer is still pending): retry shortly.
 * with a message in err for the negative ones. */
int m_idem_lookup(pgd_master_t *m, const char *key, const char *fingerprint, int64_t *exec_id,
                  pgd_exec_state_t *state, char *err, size_t errlen);

/* Periodic (leader): at most once an hour, clears the keys of executions
 * submitted more than M_IDEM_TTL_US ago in the store (lookups already
 * ignore them; this keeps the index small). */
void m_idem_expire(pgd_master_t *m);

#endif
