/* Pagoda master — the list of execution observers (observers.c);
 * subscribing is public (master.h).
 * Not public; loop thread only. */
#ifndef PAGODA_MASTER_OBSERVERS_INT_H
#define PAGODA_MASTER_OBSERVERS_INT_H

#include <stddef.h>

#include "master/master_int.h"

/* ---- observers.c ---- */
/* Tell every subscriber (pgd_master_subscribe), in subscription order. */
void m_observers_state(pgd_master_t *m, const m_exec_t *e);
void m_observers_final(pgd_master_t *m, const m_exec_t *e);
void m_observers_output(pgd_master_t *m, const m_exec_t *e, const char *data, size_t len);
void m_observers_free(pgd_master_t *m);

#endif
