/* Pagoda alarms — the delivery thread: sends one alarm message to one
 * channel (webhook: JSON POST with the HMAC signature; e-mail: SMTP through
 * libcurl) without blocking the master's loop.
 *
 * Thread rules: pgd_alarm_sender_new/submit/free are called on the owner's
 * loop thread. The sends run one at a time on the sender's own thread
 * (libcurl easy handles, each with the channel's timeout), and each result
 * comes back to the loop thread through a uv_async: done(ud, result) runs
 * there, once per submitted send, unless the sender is freed first (then
 * the sends not finished are dropped without a callback: the alarm is still
 * "pending" in the store and the next leader retries it).
 * The channel structures handed to submit must outlive the sender (they
 * belong to the alarm configuration, freed after the sender).
 */
#ifndef PAGODA_ALARM_ALARM_DELIVER_H
#define PAGODA_ALARM_ALARM_DELIVER_H

#include <stdint.h>
#include <uv.h>

#include "alarm/alarm_rules.h"

typedef struct pgd_alarm_sender pgd_alarm_sender_t;

/* One message: `body` is the JSON of the alarm (webhook body; e-mail text
 * part), `subject` the e-mail subject. Both copied by submit. */
typedef struct pgd_alarm_send {
  const pgd_alarm_channel_t *channel; /* borrowed, see above */
  int64_t alarm_id;
  const char *subject;
  const char *body;
} pgd_alarm_send_t;

/* The outcome of one send: ok, or `error` (one line, no secret). */
typedef struct pgd_alarm_send_result {
  int64_t alarm_id;
  const char *channel; /* the channel's name (borrowed from the channel) */
  int ok;
  const char *error;   /* borrowed for the call */
  int64_t took_us;
} pgd_alarm_send_result_t;

typedef void (*pgd_alarm_send_done_cb)(void *ud, const pgd_alarm_send_result_t *res);

/* Starts the thread. Returns 0 and *out, or a negative errno. */
int pgd_alarm_sender_new(uv_loop_t *loop, pgd_alarm_send_done_cb done, void *ud,
                         pgd_alarm_sender_t **out);
/* Queues a send (copies the strings). 0 or -ENOMEM. */
int pgd_alarm_sender_submit(pgd_alarm_sender_t *s, const pgd_alarm_send_t *send);
/* Sends queued or in progress. */
int pgd_alarm_sender_busy(const pgd_alarm_sender_t *s);
/* Stops the thread (a send in progress finishes within its timeout),
 * drops what is queued, closes the async handle and frees the sender once
 * the handle is closed. NULL ignored. */
void pgd_alarm_sender_free(pgd_alarm_sender_t *s);

/* The e-mail message (headers + text) for an alarm, as sent over SMTP; a
 * new string the caller frees. `date_us` is the Date header. Pure. */
char *pgd_alarm_email_message(const pgd_alarm_channel_t *ch, const char *subject,
                              const char *body, int64_t alarm_id, int64_t date_us);

#endif
