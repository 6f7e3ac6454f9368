/* Pagoda — typed messages of the master <-> worker protocol.
 *
 * One struct and one encode/decode pair per message type of net/protocol.h
 * (like Slurm's slurm_protocol_defs.h / slurm_protocol_pack.c). Both sides
 * build and read messages only through these functions, so the keys written
 * and the keys read cannot drift apart; docs/protocol.md documents the same
 * fields and tests/unit/test_net_msg.c checks it against pgd_msg_fields().
 *
 * Encoding: pgd_msg_<name>_encode(m) returns a new cJSON object holding the
 * message body (without "type": pgd_conn_send/pgd_frame_encode add it), owned
 * by the caller (cJSON_Delete), or NULL when out of memory. Every string and
 * JSON value of `m` is copied; `m` stays the caller's. Absent optional values
 * (NULL pointers, pgd_msg_opt_int_t with set == false, a sub-record with
 * set == false) are not written.
 *
 * Decoding: pgd_msg_<name>_decode(payload, out, err, errlen) checks the type
 * of every field it knows (and the shape of nested records and arrays) and
 * fills *out. Unknown keys are ignored (an optional field may be added
 * without a protocol version bump). Returns 0, or -EINVAL with one sentence
 * in err naming the field ("launch.attempt must be an integer from 0 to
 * 2147483647", "hello.worker.id is missing"). Never crashes on wrong types,
 * null, missing fields or huge numbers: integers must be whole numbers below
 * 2^53 in magnitude (and in the field's range), numbers must be finite.
 * On failure, *out holds the fields decoded before the offending one (the
 * rest are zero): fields are decoded in the order of the struct, so e.g. a
 * report's `seq`, decoded first, is usable to acknowledge a bad report.
 *
 * Ownership of decoded values: BORROWED. Every `const char *` and
 * `const cJSON *` in a decoded struct points into `payload` and is valid only
 * as long as `payload` lives (in an on_message callback: during the call).
 * Nothing is allocated, so there is no free function; duplicate what must
 * outlive the payload. Array and record fields stay cJSON values whose shape
 * the decoder has checked; read their records with the pgd_msg_*_at
 * accessors below.
 *
 * Thread rules: pure functions, no shared state; safe from any thread (a
 * cJSON value must not be used from two threads at once). Added in protocol
 * version 1.
 */
#ifndef PAGODA_NET_MSG_H
#define PAGODA_NET_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/exec_state.h"
#include "net/protocol.h"

/* An optional integer: `set` false means absent on the wire. */
typedef struct pgd_msg_opt_int {
  bool set;
  int64_t v;
} pgd_msg_opt_int_t;

static inline pgd_msg_opt_int_t pgd_msg_int(int64_t v) { return (pgd_msg_opt_int_t){true, v}; }

/* A worker's load sample ({"load1", "mem_free_mb"}); `set` false = absent. */
typedef struct pgd_msg_load {
  bool set;
  double load1;        /* 1-minute load average (finite) */
  int64_t mem_free_mb; /* -1 when unknown */
} pgd_msg_load_t;

/* The worker's resource cache counters; `set` false = absent. */
typedef struct pgd_msg_rescache {
  bool set;
  int64_t downloads, download_bytes, hits, corrupt, failures;
} pgd_msg_rescache_t;

/* One attempt: an element of hello.running and heartbeat.running_attempts. */
typedef struct pgd_msg_attempt_ref {
  int64_t execution_id;
  int attempt;
} pgd_msg_attempt_ref_t;

/* One element of launch.resources: {name, hash, size} for a file to fetch,
 * or {name, error} for a resource the master could not resolve. */
typedef struct pgd_msg_resource {
  const char *name;       /* required */
  const char *hash;       /* SHA-256 hex, or NULL */
  pgd_msg_opt_int_t size; /* bytes */
  const char *error;      /* or NULL */
} pgd_msg_resource_t;

/* hello: worker -> master, the first message on a connection. */
typedef struct pgd_msg_hello {
  int64_t protocol;   /* PGD_PROTOCOL_VERSION of the sender */
  const char *nonce;  /* the worker's fresh nonce, 64 hex (net/auth.h); required */
  struct {
    const char *id;           /* required */
    const char *host;         /* or NULL */
    pgd_msg_opt_int_t slots;  /* absent: 1 */
    const cJSON *labels;      /* array of strings, or NULL */
    const cJSON *types;       /* array of strings (job types), or NULL */
    pgd_msg_opt_int_t pid;
    pgd_msg_load_t load;
  } worker;
  const cJSON *running; /* array of attempt refs still supervised, or NULL */
} pgd_msg_hello_t;

/* welcome: master -> worker, the handshake is accepted. */
typedef struct pgd_msg_welcome {
  int64_t epoch;                   /* the leader's epoch, >= 0 */
  pgd_msg_opt_int_t heartbeat_ms;  /* absent: the worker's own period */
  const char *http;                /* "host:port" of the REST API, or NULL */
  const char *proof;               /* the master's proof of the secret (net/auth.h); required */
  const char *http_token;          /* bearer token for resource downloads, or NULL */
} pgd_msg_welcome_t;

/* challenge: master -> worker, answers a hello of the right version with the
 * master's nonce for this connection (protocol version 2). */
typedef struct pgd_msg_challenge {
  int64_t protocol;  /* PGD_PROTOCOL_VERSION of the master */
  const char *nonce; /* fresh per connection, 64 hex; required */
} pgd_msg_challenge_t;

/* auth: worker -> master, the worker's proof of the secret over both nonces
 * (net/auth.h; protocol version 2). */
typedef struct pgd_msg_auth {
  const char *proof; /* 64 hex; required */
} pgd_msg_auth_t;

/* reject: master -> worker, the handshake is refused (a close follows). */
typedef struct pgd_msg_reject {
  const char *reason; /* required */
} pgd_msg_reject_t;

/* heartbeat: worker -> master, every heartbeat_ms. */
typedef struct pgd_msg_heartbeat {
  int64_t slots, slots_used, running; /* all >= 0 */
  const cJSON *running_attempts;      /* array of attempt refs, or NULL */
  const cJSON *types;                 /* array of strings (required) */
  const cJSON *labels;                /* array of strings (required) */
  pgd_msg_load_t load;
  pgd_msg_rescache_t resource_cache;
  const cJSON *plugins;               /* array of plugin states (pushed
                                       * versions, pgd_msg_plugin_state_t), or NULL */
} pgd_msg_heartbeat_t;

/* One element of heartbeat.plugins: what a worker holds of a pushed plugin
 * version, or why it does not. */
typedef struct pgd_msg_plugin_state {
  const char *type;    /* required */
  const char *sha256;  /* required: the version (64 hex) */
  const char *status;  /* required: "active", "loaded" (held, another active),
                        * "fetching" or "refused" */
  const char *version; /* the plugin's declared version, or NULL */
  const char *abi;     /* "1.2", or NULL */
  const char *reason;  /* refused: why, or NULL */
} pgd_msg_plugin_state_t;

/* One element of plugins.plugins: a pushed plugin version the worker is to
 * hold and make active; its file is the resource "_plugin.<type>" at
 * version sha256 (fetched like a launch's resources). */
typedef struct pgd_msg_plugin_offer {
  const char *type;       /* required */
  const char *sha256;     /* required */
  pgd_msg_opt_int_t size; /* bytes */
} pgd_msg_plugin_offer_t;

/* plugins: master -> worker, after welcome and after every push or
 * rollback: the complete set of pushed plugin versions to make active
 * (added with plugin push, issue 16; a worker that does not know the
 * message answers `error` and keeps working). */
typedef struct pgd_msg_plugins {
  const cJSON *plugins; /* array of offers (required, may be empty) */
} pgd_msg_plugins_t;

/* launch.limits: per-attempt resource limits (enforced by the worker where
 * its cgroups allow, docs/operations.md); `set` false = absent. Each value
 * 0 = no limit of that kind. */
typedef struct pgd_msg_limits {
  bool set;
  int64_t memory_mb; /* >= 0 */
  double cpus;       /* >= 0, fractional allowed (0.5 = half a CPU) */
  int64_t pids;      /* >= 0 */
} pgd_msg_limits_t;

/* launch: master -> worker, run one attempt. */
typedef struct pgd_msg_launch {
  int64_t epoch, execution_id;
  int attempt;                      /* 0 .. INT32_MAX */
  const char *job;                  /* job name, or NULL */
  const char *job_type;             /* plugin type, or NULL (refused by the worker) */
  const cJSON *params;              /* object (expanded params), or NULL */
  pgd_msg_opt_int_t slots;          /* absent: 1 */
  pgd_msg_opt_int_t timeout_ms;     /* absent or 0: none */
  pgd_msg_opt_int_t kill_grace_ms;  /* absent or <= 0: the worker's default */
  const char *run_as;               /* user name, or NULL */
  const cJSON *env;                 /* object of string/number/boolean, or NULL */
  const cJSON *resources;           /* array of resource records, or NULL */
  pgd_msg_limits_t limits;          /* absent: no limits */
} pgd_msg_launch_t;

/* kill: master -> worker, stop one attempt. */
typedef struct pgd_msg_kill {
  int64_t epoch, execution_id;
  int attempt;
  const char *reason;          /* "killed", or NULL */
  pgd_msg_opt_int_t grace_ms;  /* absent: the launch's kill_grace_ms */
} pgd_msg_kill_t;

/* state: worker -> master, a state change of an attempt (acknowledged). */
typedef struct pgd_msg_state {
  int64_t seq; /* >= 1 on the wire; 0 when encoding = not written (the report queue sets it) */
  int64_t execution_id;
  int attempt;
  pgd_exec_state_t state;
  pgd_msg_opt_int_t at_us;     /* worker wall clock, µs */
  pgd_msg_opt_int_t pid;       /* running, process jobs */
  pgd_msg_opt_int_t exit_code; /* the process exited */
  pgd_msg_opt_int_t signal;    /* a signal ended it */
  const char *error;           /* final states other than succeeded, or NULL */
  const cJSON *result;         /* any JSON (in-process jobs), or NULL */
  const cJSON *attributes;     /* object found in the output, or NULL */
} pgd_msg_state_t;

/* log: worker -> master, a chunk of an attempt's output (acknowledged). */
typedef struct pgd_msg_log {
  int64_t seq; /* as in pgd_msg_state_t */
  int64_t execution_id;
  int attempt;
  int64_t offset;   /* byte offset of data in the attempt's log text */
  const char *data; /* required, UTF-8 text */
} pgd_msg_log_t;

/* ack: master -> worker, report sequence numbers now durable. */
typedef struct pgd_msg_ack {
  const cJSON *seqs; /* array of integers >= 1 (required) */
} pgd_msg_ack_t;

/* error: either way, the peer's last message was refused. The field is
 * `reason` (as in reject and in the frame errors of net/conn.c); decoders
 * also accept `message`, which workers before this codec sent. */
typedef struct pgd_msg_error {
  const char *reason;     /* required */
  pgd_msg_opt_int_t code; /* PGD_FRAME_E* for a malformed frame, or absent */
} pgd_msg_error_t;

/* leave: worker -> master, the worker is stopping (SIGTERM): the master
 * sends it no new work; attempts still running grace_ms after this message
 * are handed back (killed there, relaunched elsewhere as after a lost
 * worker); when the worker closes, it is shown as `left`, not `lost`. */
typedef struct pgd_msg_leave {
  int64_t grace_ms; /* >= 0 */
} pgd_msg_leave_t;

#define PGD_MSG_CODEC_DECL_(name)                                                     \
  cJSON *pgd_msg_##name##_encode(const pgd_msg_##name##_t *m);                       \
  int pgd_msg_##name##_decode(const cJSON *payload, pgd_msg_##name##_t *out, char *err, \
                              size_t errlen);
PGD_MSG_CODEC_DECL_(hello)
PGD_MSG_CODEC_DECL_(welcome)
PGD_MSG_CODEC_DECL_(challenge)
PGD_MSG_CODEC_DECL_(auth)
PGD_MSG_CODEC_DECL_(reject)
PGD_MSG_CODEC_DECL_(heartbeat)
PGD_MSG_CODEC_DECL_(launch)
PGD_MSG_CODEC_DECL_(kill)
PGD_MSG_CODEC_DECL_(state)
PGD_MSG_CODEC_DECL_(log)
PGD_MSG_CODEC_DECL_(ack)
PGD_MSG_CODEC_DECL_(error)
PGD_MSG_CODEC_DECL_(plugins)
PGD_MSG_CODEC_DECL_(leave)
#undef PGD_MSG_CODEC_DECL_

/* pgd_msg_hello_decode also returns -EPROTONOSUPPORT, with out->protocol
 * set and nothing else decoded, when the sender speaks another protocol
 * version: the rest of such a hello may be shaped differently. */

/* ---- records inside arrays ---- */

/* Number of elements of a decoded array field (0 for NULL). */
int pgd_msg_count(const cJSON *array);

/* The i-th record of a decoded hello.running / heartbeat.running_attempts
 * array. Returns 0, or -EINVAL when i is out of range or the element is not
 * a valid record (never for an array that passed decoding). */
int pgd_msg_attempt_ref_at(const cJSON *array, int i, pgd_msg_attempt_ref_t *out);

/* Appends one attempt record to `array` (a cJSON array owned by the caller,
 * e.g. from cJSON_CreateArray()). Returns 0 or -ENOMEM. */
int pgd_msg_attempt_ref_add(cJSON *array, int64_t execution_id, int attempt);

/* The i-th record of a decoded launch.resources array; strings borrowed
 * from the array. Returns 0 or -EINVAL as pgd_msg_attempt_ref_at. */
int pgd_msg_resource_at(const cJSON *array, int i, pgd_msg_resource_t *out);

/* Appends one resource record to `array` (owned by the caller); strings are
 * copied. Returns 0 or -ENOMEM. */
int pgd_msg_resource_add(cJSON *array, const pgd_msg_resource_t *r);

/* The i-th record of heartbeat.plugins / plugins.plugins; strings borrowed
 * from the array. Returns 0 or -EINVAL as pgd_msg_attempt_ref_at. */
int pgd_msg_plugin_state_at(const cJSON *array, int i, pgd_msg_plugin_state_t *out);
int pgd_msg_plugin_offer_at(const cJSON *array, int i, pgd_msg_plugin_offer_t *out);

/* Appends one record to `array` (owned by the caller); strings are copied.
 * Returns 0 or -ENOMEM. */
int pgd_msg_plugin_state_add(cJSON *array, const pgd_msg_plugin_state_t *r);
int pgd_msg_plugin_offer_add(cJSON *array, const pgd_msg_plugin_offer_t *r);

/* ---- the documented field list ---- */

/* One field of a message body, as listed in docs/protocol.md. `path` names
 * nested fields with dots ("worker.id") and array records with "[]"
 * ("running[].attempt"); `type` is one of: integer, number, string,
 * boolean, state (an execution state name), object (a JSON object; one whose
 * fields are listed has rows of its own), any (any JSON value), string[],
 * integer[], object[] (records listed as path[].field). `required` applies
 * when the enclosing record is present. */
typedef struct pgd_msg_field {
  const char *path;
  const char *type;
  bool required;
} pgd_msg_field_t;

/* The fields of `type`'s body in wire order (a static table), with their
 * count in *n; NULL and *n = 0 for an unknown type. Any thread. */
const pgd_msg_field_t *pgd_msg_fields(pgd_msg_type_t type, size_t *n);

#endif
