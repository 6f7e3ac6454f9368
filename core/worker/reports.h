/* Pagoda — worker: reports (state and log messages) kept until the master
 * acknowledges them.
 *
 * Each report gets the next sequence number (1, 2, ...). Reports are kept in
 * sequence order in a ring; an ack may name any kept sequence, in any order,
 * in O(1). Acknowledged reports are freed at once.
 * Thread rules: one thread (the worker's loop thread).
 */
#ifndef PAGODA_WORKER_REPORTS_H
#define PAGODA_WORKER_REPORTS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "net/protocol.h"

typedef struct pgd_report {
  cJSON *body; /* owned; NULL once acknowledged */
  pgd_msg_type_t type;
} pgd_report_t;

typedef struct pgd_reports {
  pgd_report_t *ring;
  size_t cap, head, count; /* count includes acknowledged slots not yet popped */
  uint64_t head_seq;       /* seq of ring[head] */
  uint64_t next_seq;
  size_t pending;          /* reports not yet acknowledged */
} pgd_reports_t;

void pgd_reports_init(pgd_reports_t *q);

/* Frees every kept report. */
void pgd_reports_free(pgd_reports_t *q);

/* Sets "seq" on `body` (owned by the queue from now on, also on failure) and
 * keeps it. Returns the seq (> 0), or -ENOMEM (body freed). */
int64_t pgd_reports_add(pgd_reports_t *q, pgd_msg_type_t type, cJSON *body);

/* Forgets report `seq`. Returns 1 when it was kept, 0 otherwise. */
int pgd_reports_ack(pgd_reports_t *q, uint64_t seq);

/* Number of unacknowledged reports. */
size_t pgd_reports_pending(const pgd_reports_t *q);

/* Calls fn for every unacknowledged report, in sequence order (fn must not
 * add or ack). `r->body` stays owned by the queue. */
void pgd_reports_foreach(pgd_reports_t *q, void (*fn)(const pgd_report_t *r, void *ud), void *ud);

#endif
