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

#endif
