/* Pagoda alarms — the alarm service of the master (docs/alarms.md).
 *
 * It subscribes to the master's observer list (pgd_master_subscribe):
 * executions that end failed / timed_out / lost (and "retries_exhausted"
 * when the job had retries), flow executions that fail, workers lost,
 * schedule misfires (on_event "schedule" change "misfired") and fires (to
 * watch their SLA), and notices when this master becomes the leader. Each
 * event is matched against the rules (the configuration's master.alarms
 * rules, the cluster default, and an "alarms" list in the job, flow or
 * schedule definition); a match is grouped with an earlier alarm of the same
 * rule and cause inside the rule's window, or becomes a new alarm: the Lua
 * alarm hooks may drop, reword or route it, it is STORED (documents of kind
 * "alarm", state pending / delivered / failed / dropped) and only then
 * delivered to its channels (webhook, e-mail) by the delivery thread
 * (alarm_deliver.h), with retries and exponential backoff per channel.
 *
 * At-least-once: only the leader raises and delivers; a leader (after a
 * restart or a failover) loads every pending alarm from the store and
 * delivers what is left. A crash between a successful send and the write of
 * its "sent" state sends that alarm again (receivers de-duplicate with the
 * X-Pagoda-Alarm-Id header / the alarm's "id").
 *
 * Thread rules: every function here runs on the master's loop thread; the
 * delivery thread and the Lua hooks' script thread are internal and hand
 * their results back to this loop.
 */
#ifndef PAGODA_ALARM_ALARM_H
#define PAGODA_ALARM_ALARM_H

#include <stdint.h>
#include <uv.h>

#include <cjson/cJSON.h>

#include "master/master.h"

typedef struct pgd_alarms pgd_alarms_t;

/* The document kind alarms are stored under (store.h "documents"). */
#define PGD_ALARM_DOC_KIND "alarm"

/* Starts the service for master `m` (borrowed; must outlive the service)
 * with the configuration `config` (the master.alarms group as JSON,
 * borrowed; NULL = no channels and no rules, but definitions' rules are
 * still recorded as undeliverable alarms). `hooks_dir` (nullable) is used
 * when the configuration names no hooks_dir. Returns 0 and *out, or
 * -EINVAL / -ENOMEM with a message in err (never a secret). */
int pgd_alarms_start(uv_loop_t *loop, pgd_master_t *m, const cJSON *config, const char *hooks_dir,
                     pgd_alarms_t **out, char *err, size_t errlen);

/* Unsubscribes, stops the delivery thread (a send in progress ends within
 * its timeout; what was not sent stays pending in the store) and frees the
 * service. Call before pgd_master_stop. NULL ignored. */
void pgd_alarms_stop(pgd_alarms_t *a);

/* Loads the Lua alarm hooks again from their directory (SIGHUP) and
 * replaces the current ones; returns the number of hooks loaded, or a
 * negative errno (the current ones are kept). */
int pgd_alarms_reload_hooks(pgd_alarms_t *a);

/* Checks a definition's "alarms" list (`rules`, borrowed; NULL = none) as
 * the service will read it: event names, keys, durations, the SLA, and the
 * channel names against the configured channels (`a` NULL: channels are
 * not checked). 0, or -EINVAL with err naming the rule ("alarm rule
 * alarms[1]: unknown event 'x' in 'on'"). Pure; any thread. */
int pgd_alarms_check_rules(const pgd_alarms_t *a, const cJSON *rules, char *err, size_t errlen);

/* Acknowledges alarm `id` (someone is on it): records "acked_by" (`by`,
 * nullable, e.g. the token's name) and "acked_us"; channels still pending
 * stop retrying (their state becomes "cancelled") and a pending alarm's
 * state becomes "acked". Leader only. On 0, *view (caller owns, nullable
 * out) is the alarm as it will be stored and done(ud, status) follows once
 * it is durable. -ENOENT (no such alarm), -EALREADY (acknowledged before),
 * -ESHUTDOWN (this master does not lead), each with err; done is then
 * never called. */
int pgd_alarms_ack(pgd_alarms_t *a, int64_t id, const char *by, cJSON **view,
                   pgd_master_done_cb done, void *ud, char *err, size_t errlen);

/* Counters since start, for /metrics (the coordinator wires them). */
typedef struct pgd_alarm_channel_stats {
  const char *channel; /* the channel's name, borrowed until pgd_alarms_stop */
  uint64_t sent;       /* alarms delivered */
  uint64_t failed;     /* delivery attempts that failed (each retry counts) */
  uint64_t given_up;   /* alarms that reached max_attempts (state "failed") */
  int pending;         /* alarms waiting for this channel now (leader only) */
} pgd_alarm_channel_stats_t;

typedef struct pgd_alarm_stats {
  uint64_t raised;  /* new alarms stored (dropped ones included) */
  uint64_t grouped; /* repeats folded into an existing alarm */
  uint64_t dropped; /* dropped by a Lua hook */
} pgd_alarm_stats_t;

/* Fills *totals and up to `max` per-channel entries; returns the number of
 * channels (which may exceed max). Either pointer may be NULL. */
int pgd_alarms_stats(const pgd_alarms_t *a, pgd_alarm_stats_t *totals,
                     pgd_alarm_channel_stats_t *per_channel, int max);

#endif
