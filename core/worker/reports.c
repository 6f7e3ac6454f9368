/* Pagoda — the worker's unacknowledged reports (see reports.h). */
#include "worker/reports.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pgd_reports_init(pgd_reports_t *q) {
  memset(q, 0, sizeof *q);
  q->head_seq = 1;
  q->next_seq = 1;
}

void pgd_reports_free(pgd_reports_t *q) {
  if (!q) return;
  for (size_t i = 0; i < q->count; i++) cJSON_Delete(q->ring[(q->head + i) % q->cap].body);
  free(q->ring);
  pgd_reports_init(q);
}

static int grow(pgd_reports_t *q) {
  size_t ncap = q->cap ? q->cap * 2 : 64;
  pgd_report_t *n = malloc(ncap * sizeof *n);
  if (!n) return -ENOMEM;
  for (size_t i = 0; i < q->count; i++) n[i] = q->ring[(q->head + i) % q->cap];
  free(q->ring);
  q->ring = n;
  q->cap = ncap;
  q->head = 0;
  return 0;
}

int64_t pgd_reports_add(pgd_reports_t *q, pgd_msg_type_t type, cJSON *body) {
  if (!body) return -ENOMEM;
  if (q->count == q->cap && grow(q) < 0) {
    cJSON_Delete(body);
    return -ENOMEM;
  }
  uint64_t seq = q->next_seq;
  cJSON_DeleteItemFromObjectCaseSensitive(body, "seq");
  if (!cJSON_AddNumberToObject(body, "seq", (double)seq)) {
    cJSON_Delete(body);
    return -ENOMEM;
  }
  q->next_seq++;
  if (q->count == 0) q->head_seq = seq;
  q->ring[(q->head + q->count) % q->cap] = (pgd_report_t){.body = body, .type = type};
  q->count++;
  q->pending++;
  return (int64_t)seq;
}

int pgd_reports_ack(pgd_reports_t *q, uint64_t seq) {
  if (q->count == 0 || seq < q->head_seq || seq >= q->head_seq + q->count) return 0;
  pgd_report_t *r = &q->ring[(q->head + (seq - q->head_seq)) % q->cap];
  if (!r->body) return 0;
  cJSON_Delete(r->body);
  r->body = NULL;
  q->pending--;
  while (q->count > 0 && !q->ring[q->head].body) { /* pop the acked prefix */
    q->head = (q->head + 1) % q->cap;
    q->head_seq++;
    q->count--;
  }
  if (q->count == 0) q->head = 0;
  return 1;
}

size_t pgd_reports_pending(const pgd_reports_t *q) { return q->pending; }

void pgd_reports_foreach(pgd_reports_t *q, void (*fn)(const pgd_report_t *r, void *ud), void *ud) {
  for (size_t i = 0; i < q->count; i++) {
    const pgd_report_t *r = &q->ring[(q->head + i) % q->cap];
    if (r->body) fn(r, ud);
  }
}
