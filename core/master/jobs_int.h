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
void m_job_put_cache(pgd_master_t *m, cJSON *def); /* takes ownership */
void m_job_remove_cache(pgd_master_t *m, const char *name);

#endif
