/* Pagoda master — jobs: the in-memory cache of stored job definitions
 * and their validation (jobs.c).
 * Not public; loop thread only. */
#ifndef PAGODA_MASTER_JOBS_INT_H
#define PAGODA_MASTER_JOBS_INT_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <uthash.h>

#include "master/master_int.h"
#include "net/msg.h"

/* Stored definition of a job, kept in memory for a cheap run path. */
struct m_job {
  char *name;
  cJSON *def;
  UT_hash_handle hh;
};

/* ---- jobs.c ---- */
/* Validates and normalises a job definition (borrowed); returns a new object
 * the caller owns, or NULL with a message in err. */
cJSON *m_job_normalise(pgd_master_t *m, const cJSON *in, char *err, size_t errlen);
/* The launch.limits of a normalised definition (borrowed): `set` false
 * when it has none. */
pgd_msg_limits_t m_job_limits(const cJSON *def);
m_job_t *m_job_find(pgd_master_t *m, const char *name);

/* Secret job variables (docs/api.md, "secret_env"). The value every view
 * shows instead of a secret. */
#define M_SECRET_MASK "***"
/* Replaces, in place, every value of every "secret_env" object found
 * anywhere in `doc` (a job, an execution record with its definition
 * snapshot, a flow with inline jobs, a list of them) with M_SECRET_MASK.
 * Every view that may hold a job definition passes through it before it
 * leaves the master. NULL is fine. */
void m_job_mask_secrets(cJSON *doc);
/* A job definition sent back for a replace may carry M_SECRET_MASK where
 * it read one: returns a copy of `in` (caller owns) whose masked
 * secret_env values are taken from `stored` (the current definition,
 * nullable), or NULL with a message when a masked key has no stored
 * value. */
cJSON *m_job_unmask_secrets(const cJSON *in, const cJSON *stored, char *err, size_t errlen);
void m_job_put_cache(pgd_master_t *m, cJSON *def); /* takes ownership */
void m_job_remove_cache(pgd_master_t *m, const char *name);

#endif
