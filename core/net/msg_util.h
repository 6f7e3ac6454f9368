/* Pagoda — private helpers of the message codec (msg_codec.c): a checked
 * reader that stops at the first bad field and names it, and a writer that
 * remembers an allocation failure. Not a public header.
 *
 * Thread rules: as net/msg.h (no shared state).
 */
#ifndef PAGODA_NET_MSG_UTIL_H
#define PAGODA_NET_MSG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "net/msg.h"

#define MSG_INT_MAX ((int64_t)9007199254740991) /* 2^53 - 1: exact in a double */

/* Reader state: `msg` is the message name used in errors ("launch"). Once a
 * field fails, rc < 0 and every later read is skipped (returns false). */
typedef struct msg_rd {
  const char *msg;
  char *err;
  size_t errlen;
  int rc;
} msg_rd_t;

/* Every reader takes the enclosing object `o`, the path of `o` inside the
 * message (NULL at the top, "worker", "running[2]") for error texts, the
 * key, and whether the field is required. It returns true when the field
 * is present and valid (and sets *out), false when absent or on error. A
 * JSON null is a wrong type, except for msg_rd_any. */
bool msg_rd_int(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                int64_t min, int64_t max, int64_t *out);
bool msg_rd_opt_int(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, int64_t min,
                    int64_t max, pgd_msg_opt_int_t *out);
bool msg_rd_num(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                double *out);
bool msg_rd_str(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                const char **out);
/* A JSON object (its fields are the caller's business). */
bool msg_rd_obj(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                const cJSON **out);
/* Any JSON value, null included. */
bool msg_rd_any(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                const cJSON **out);
/* An array whose elements are all strings. */
bool msg_rd_strs(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                 const cJSON **out);
/* An array whose elements are all integers in [min, max]. */
bool msg_rd_ints(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                 int64_t min, int64_t max, const cJSON **out);
/* An array of records; `check` validates one record (an object) whose path
 * is `elem_at` ("running[3]") and returns false after a msg_rd_* failure. */
typedef bool (*msg_rd_record_fn)(msg_rd_t *rd, const cJSON *rec, const char *elem_at, void *out);
bool msg_rd_records(msg_rd_t *rd, const cJSON *o, const char *at, const char *key, bool req,
                    msg_rd_record_fn check, const cJSON **out);
/* Records a failure "<msg>.<at>.<key> <text>" (first one wins). */
bool msg_rd_fail(msg_rd_t *rd, const char *at, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Record checkers (out may be NULL). */
bool msg_rd_attempt_ref(msg_rd_t *rd, const cJSON *rec, const char *at, void *out);
bool msg_rd_resource(msg_rd_t *rd, const cJSON *rec, const char *at, void *out);
bool msg_rd_plugin_state(msg_rd_t *rd, const cJSON *rec, const char *at, void *out);
bool msg_rd_plugin_offer(msg_rd_t *rd, const cJSON *rec, const char *at, void *out);
bool msg_rd_load(msg_rd_t *rd, const cJSON *o, const char *at, const char *key,
                 pgd_msg_load_t *out);

/* Writer: `ok` turns false at the first allocation failure. */
typedef struct msg_wr {
  cJSON *o;
  bool ok;
} msg_wr_t;

bool msg_wr_init(msg_wr_t *w);
/* Returns the object, or NULL (and frees it) when a write failed. */
cJSON *msg_wr_done(msg_wr_t *w);
void msg_wr_int(msg_wr_t *w, cJSON *o, const char *key, int64_t v);
void msg_wr_opt_int(msg_wr_t *w, cJSON *o, const char *key, pgd_msg_opt_int_t v);
void msg_wr_num(msg_wr_t *w, cJSON *o, const char *key, double v);
void msg_wr_str(msg_wr_t *w, cJSON *o, const char *key, const char *v); /* NULL: skipped */
void msg_wr_dup(msg_wr_t *w, cJSON *o, const char *key, const cJSON *v); /* NULL: skipped */
/* A copy of array `v`, or an empty array when v is NULL (required arrays). */
void msg_wr_array(msg_wr_t *w, cJSON *o, const char *key, const cJSON *v);
cJSON *msg_wr_obj(msg_wr_t *w, cJSON *o, const char *key);              /* new sub-object */
void msg_wr_load(msg_wr_t *w, cJSON *o, const char *key, const pgd_msg_load_t *l);
/* Copies an array of attempt refs / resources record by record. */
void msg_wr_attempt_refs(msg_wr_t *w, cJSON *o, const char *key, const cJSON *refs);
void msg_wr_resources(msg_wr_t *w, cJSON *o, const char *key, const cJSON *res);
void msg_wr_plugin_states(msg_wr_t *w, cJSON *o, const char *key, const cJSON *recs);
void msg_wr_plugin_offers(msg_wr_t *w, cJSON *o, const char *key, const cJSON *recs);

#endif
