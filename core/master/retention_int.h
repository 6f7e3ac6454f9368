/* Pagoda master — retention (retention.c) and storage figures (storage.c).
 * Not public; loop thread only. */
#ifndef PAGODA_MASTER_RETENTION_INT_H
#define PAGODA_MASTER_RETENTION_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "master/master_int.h"

typedef struct m_retention m_retention_t;

typedef struct {
  int64_t deleted;      /* executions deleted by retention */
  int64_t api_deleted;  /* executions deleted through the API */
  int64_t passes;       /* completed scans by id */
  int64_t batch_us_max; /* longest time one batch held the loop thread */
  int64_t versions_deleted; /* resource versions removed */
  int64_t runs_deleted;     /* schedule run records deleted (older than `days`) */
} m_retention_stats_t;

/* The master's tick: runs one cleanup batch when its interval has passed,
 * on the leader only. */
void m_retention_tick(pgd_master_t *m);
void m_retention_stats(pgd_master_t *m, m_retention_stats_t *out);
void m_retention_free(pgd_master_t *m);
/* pgd_master_stop: when a batch's reads are still running on the thread
 * pool, keeps cb(0, ud) (the store's close) for when they are done and
 * returns true; false when none runs (call cb yourself). */
bool m_retention_defer_close(pgd_master_t *m, void (*cb)(int status, void *ud), void *ud);
/* Removes resource versions beyond the newest
 * master.retention.resource_versions that no job names (one resource per
 * call, round robin). */
void m_retention_resources(pgd_master_t *m);

#endif
