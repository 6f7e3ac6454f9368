/* Pagoda worker — pushed plugin versions: the `plugins` message of the
 * master (fetch by hash, probe, load, activate) and what the worker holds,
 * for its heartbeats (docs/plugins.md "Pushing a plugin").
 *
 * Thread rules: loop thread of the worker only.
 */
#ifndef PAGODA_WORKER_PUSHED_H
#define PAGODA_WORKER_PUSHED_H

#include <cjson/cJSON.h>

typedef struct pgd_worker pgd_worker_t;
typedef struct pgd_wpushed pgd_wpushed_t;

/* A new, empty state for worker `w` (borrowed; its plugins registry,
 * resource cache and loop are used). 0 and *out (free with
 * pgd_wpushed_free), or -ENOMEM. */
int pgd_wpushed_new(pgd_worker_t *w, pgd_wpushed_t **out);

/* Frees the state; fetches and loads still in flight finish without
 * touching the worker (their results are dropped). NULL is ignored. */
void pgd_wpushed_free(pgd_wpushed_t *wp);

/* Handles a `plugins` message body (borrowed): every listed version is
 * made active, after being fetched and loaded when the registry does not
 * hold it yet. A version refused before is tried again. */
void pgd_wpushed_offer(pgd_wpushed_t *wp, const cJSON *msg);

/* heartbeat.plugins: one record per version offered since the worker
 * started (net/msg.h pgd_msg_plugin_state_t), owned by the caller; NULL
 * when out of memory. */
cJSON *pgd_wpushed_states(const pgd_wpushed_t *wp);

#endif
