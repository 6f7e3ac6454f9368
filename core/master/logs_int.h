/* Pagoda master — execution logs (logs.c).
 * Not public; loop thread only. */
#ifndef PAGODA_MASTER_LOGS_INT_H
#define PAGODA_MASTER_LOGS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "master/master_int.h"

/* ---- logs.c ----
 * Each attempt has its own file, <data_dir>/logs/<id>-<attempt>.log; the
 * execution's log is their concatenation in attempt order. */

/* Appends `len` bytes at `offset` of the task's current attempt log (bytes
 * already written are skipped) and forwards new bytes to followers. */
void m_log_append(pgd_master_t *m, m_task_t *t, int64_t offset, const char *data, size_t len);
/* Appends a line written by the master itself ("[pagoda] ..."). */
void m_log_note(pgd_master_t *m, m_task_t *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void m_log_close_task(m_task_t *t); /* closes the attempt's file */
/* Takes the execution's followers away from it (to end them later). */
m_follower_t *m_log_detach_followers(m_exec_t *e);
/* Ends the streams of detached followers and frees them. */
void m_log_end_followers(m_follower_t *list);

/* Takes a worker's log report for task `t` (data[0..len) at `offset` of
 * the current attempt). Returns true when the report's acknowledgement is
 * the log backend's business (the shared store acknowledges once the bytes
 * are durable, or leaves a report it could not take unacknowledged); false
 * when the caller acknowledges it now (local files). */
bool m_log_report(pgd_master_t *m, m_task_t *t, int64_t offset, const char *data, size_t len,
                  m_worker_t *w, int64_t seq);
/* Periodic (the master's tick): queues the log bytes waiting for the store. */
void m_log_tick(pgd_master_t *m);
/* Removes the local log files of attempts 1..attempts of execution `id`
 * (local backend; the shared store deletes chunks with the execution). */
void m_log_remove_files(pgd_master_t *m, int64_t id, int attempts);

/* ---- logs_shared.c: the shared-store backend (docs/store.md) ---- */
/*
 * Used when the store is PostgreSQL (masters share it); loop thread. */
typedef struct {
  int64_t chunks_written;  /* log chunks durable */
  int64_t bytes_written;   /* their bytes */
  int64_t chunks_failed;   /* chunks the store refused (fenced, closing) */
  int64_t reports_refused; /* reports left on workers: memory limit reached */
  int64_t pending_bytes;   /* bytes waiting for the store now */
  int64_t tails;           /* attempts with bytes waiting */
} m_log_shared_stats_t;

bool m_log_shared_enabled(const pgd_master_t *m);
/* max_pending <= 0: 64 MiB. 0 or -ENOMEM. */
int m_log_shared_init(pgd_master_t *m, int64_t max_pending);
void m_log_shared_free(pgd_master_t *m);
/* Appends a report (w NULL: the master's own note, no ack). Returns the
 * number of new bytes (the last ones of data), or -1 when nothing was
 * taken (a gap or the memory limit). *deferred: the ack is handled here. */
int64_t m_log_shared_append(pgd_master_t *m, m_task_t *task, int64_t offset, const char *data,
                            size_t len, m_worker_t *w, int64_t seq, bool *deferred);
/* Periodic: queues waiting bytes (leader only) and frees the tails of
 * attempts no task of this master writes any more once they are drained. */
void m_log_shared_tick(pgd_master_t *m);
/* The attempt's size: the larger of `stored` and what this master holds. */
int64_t m_log_shared_size(pgd_master_t *m, int64_t id, int attempt, int64_t stored);
/* The log from `offset` (attempts 1..attempts concatenated): the store's
 * chunks completed by the bytes this master holds. Appends to *buf and *len. */
int m_log_shared_read(pgd_master_t *m, int64_t id, int attempts, int64_t offset, char **buf,
                      size_t *len);
/* Like m_log_shared_read, from the store alone (without this master's
 * tails): safe on any thread while `store` is open (the thread-pool reads of
 * logs_poll.c). */
int m_log_shared_read_stored(pgd_store_t *store, int64_t id, int attempts, int64_t offset,
                             char **buf, size_t *len);
/* At stop, before the store closes: false when no thread-pool log read
 * (pgd_master_log_poll_start) is running; else true, and cb(0, ud) runs on
 * the loop once the last one has ended (logs_poll.c). */
bool m_log_polls_defer_close(pgd_master_t *m, void (*cb)(int status, void *ud), void *ud);
/* The log's whole size now (sum of the attempts' sizes). */
int64_t m_log_shared_total(pgd_master_t *m, int64_t id, int attempts);
void m_log_shared_stats(const pgd_master_t *m, m_log_shared_stats_t *out);

#endif
