/* Pagoda master — leadership: becoming and ceasing to be the leader
 * (master.c), the ZooKeeper election (ha.c), the stop sequence, and the
 * parts a leader starts and stops (flows, schedules).
 * Not public; loop thread only. */
#ifndef PAGODA_MASTER_LEADER_INT_H
#define PAGODA_MASTER_LEADER_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "master/master_int.h"

/* ---- master.c: leadership ---- */
/* Becomes the leader: takes a new epoch in the store, recovers executions,
 * flows and schedules, and starts dispatching. Returns 0 or negative. */
int m_leader_begin(pgd_master_t *m);
/* Steps down at once (ZooKeeper session suspended or lost): stops
 * dispatching and firing, closes the worker connections and forgets all
 * in-memory execution state (the store and the next leader have it). */
void m_leader_end(pgd_master_t *m, const char *why);

/* ---- ha.c ---- */
int m_ha_start(pgd_master_t *m, char *err, size_t errlen);
const char *m_ha_leader_http(const pgd_master_t *m); /* NULL when unknown */
cJSON *m_ha_cluster_json(const pgd_master_t *m);
bool m_ha_close(pgd_master_t *m); /* true while the close is in progress */

/* ---- master.c: stop ---- */
/* Stop sequence: frees the master once the store is closed and every
 * connection has closed (a connection's on_close still uses the master). */
void m_stop_progress(pgd_master_t *m);
/* ---- flows.c (docs/flows.md) ---- */
/* After recover(): loads stored flows and resumes running flow executions.
 * Returns 0 or a negative code with err filled. */
int m_flows_start(pgd_master_t *m, char *err, size_t errlen);
/* Stop path: writes pending flow states, frees flow memory (m->flows = NULL). */
void m_flows_stop(pgd_master_t *m);
/* Subscribes the flows to execution changes (master start, before the
 * schedules: a node's end drives its flow first). */
void m_flows_subscribe(pgd_master_t *m);

/* ---- schedules.c ---- */
/* After recover(): loads the stored schedules, resolves fires whose run
 * record was lost, and arms the timer queue. 0 or a negative code + err. */
int m_sched_start(pgd_master_t *m, char *err, size_t errlen);
/* Stop path: frees the schedules and closes the timer queue; closed(m) runs
 * once it is closed (at once when schedules never started). */
void m_sched_close(pgd_master_t *m, void (*closed)(pgd_master_t *m));
/* Subscribes the schedules to execution changes (concurrency, delay). */
void m_sched_subscribe(pgd_master_t *m);

#endif
