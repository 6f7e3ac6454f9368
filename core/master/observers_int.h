/* Pagoda master — the list of execution observers (observers.c);
 * subscribing is public (master.h).
 * Not public; loop thread only. */
#ifndef PAGODA_MASTER_OBSERVERS_INT_H
#define PAGODA_MASTER_OBSERVERS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "master/master_int.h"

/* ---- observers.c ---- */
/* Tell every subscriber (pgd_master_subscribe), in subscription order. */
void m_observers_state(pgd_master_t *m, const m_exec_t *e);
void m_observers_final(pgd_master_t *m, const m_exec_t *e);
void m_observers_output(pgd_master_t *m, const m_exec_t *e, const char *data, size_t len);
void m_observers_free(pgd_master_t *m);
/* Does any subscriber take on_event? (Callers build the data only then.) */
bool m_observers_want_events(const pgd_master_t *m);
/* Tells on_event subscribers; `data` is taken (freed here). */
void m_observers_event(pgd_master_t *m, const char *kind, cJSON *data);
/* {"change": change} plus `key`: `item` (taken), then m_observers_event. */
void m_observers_event_item(pgd_master_t *m, const char *kind, const char *change,
                            const char *key, cJSON *item);

#endif
