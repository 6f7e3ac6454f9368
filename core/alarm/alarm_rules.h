/* Pagoda alarms — rules, channels and the pure pieces of delivery: which
 * rule matches which event, grouping keys, the retry backoff and the
 * webhook signature (docs/alarms.md).
 *
 * Everything here is pure data and pure functions: no I/O, no clock, no
 * loop. The service (alarm_svc.c) feeds it events and times; the unit test
 * tests/unit/test_alarm_rules.c drives it directly.
 *
 * Thread rules: a parsed configuration is immutable once parsed and may be
 * read from any thread; every function is safe from any thread.
 */
#ifndef PAGODA_ALARM_ALARM_RULES_H
#define PAGODA_ALARM_ALARM_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* What an alarm is about (a rule's "on" list names them). */
typedef enum {
  PGD_ALARM_EV_FAILED = 0,          /* "failed": an execution or flow execution failed */
  PGD_ALARM_EV_TIMED_OUT,           /* "timed_out" */
  PGD_ALARM_EV_LOST,                /* "lost": its worker was lost */
  PGD_ALARM_EV_RETRIES_EXHAUSTED,   /* "retries_exhausted": final failure of a job with retries */
  PGD_ALARM_EV_MISFIRE,             /* "misfire": a schedule missed fire times */
  PGD_ALARM_EV_SLA_MISSED,          /* "sla_missed": a scheduled run not started / finished in time */
  PGD_ALARM_EV_WORKER_LOST,         /* "worker_lost" */
  PGD_ALARM_EV_LEADER_CHANGE,       /* "leader_change": this master became the leader (HA) */
  PGD_ALARM_EV__COUNT
} pgd_alarm_event_t;

/* The event's name ("failed"), or NULL when out of range. */
const char *pgd_alarm_event_name(pgd_alarm_event_t ev);
/* The event named `name`, or -1. */
int pgd_alarm_event_parse(const char *name);

typedef enum { PGD_ALARM_CH_WEBHOOK = 0, PGD_ALARM_CH_EMAIL = 1 } pgd_alarm_channel_type_t;

/* A delivery channel (config master.alarms.channels). Strings owned. */
typedef struct pgd_alarm_channel {
  char *name;                      /* [A-Za-z0-9_.-]{1,64}, unique */
  pgd_alarm_channel_type_t type;
  char *url;                       /* webhook: http(s)://...; email: smtp(s)://host:port */
  char *secret;                    /* webhook HMAC key, read from secret_file / secret_env;
                                      NULL = unsigned. Never logged. */
  long timeout_ms;                 /* one attempt, default 5000 */
  /* email */
  char *from;
  char **to;
  int n_to;
  bool starttls;                   /* require STARTTLS on smtp:// (CURLUSESSL_ALL) */
  bool tls_verify;                 /* verify the server certificate (default true) */
  char *ca_file;                   /* PEM CA bundle to verify it with; NULL = the system's */
  char *username;                  /* nullable */
  char *password;                  /* from password_file / password_env; never logged */
} pgd_alarm_channel_t;

/* A rule: which events of which jobs / flows / schedules go to which
 * channels. Strings owned. */
typedef struct pgd_alarm_rule {
  char *id;            /* "config.0", "job:NAME.0", ... (a grouping key part) */
  unsigned events;     /* bit (1u << pgd_alarm_event_t) */
  char *job, *flow, *schedule, *worker; /* fnmatch patterns; NULL = any */
  char **channels;     /* channel names; n_channels 0 = every channel */
  int n_channels;
  int64_t group_window_us; /* repeats of one cause within this are grouped */
  /* SLA of a schedule's runs (event sla_missed); < 0 = not set */
  int64_t sla_start_within_us;
  int64_t sla_finish_within_us;
  int sla_finish_by_s; /* time of day (seconds after local midnight, schedule's zone); -1 = none */
} pgd_alarm_rule_t;

/* At most this many channels (delivery keeps a bit per channel). */
#define PGD_ALARM_MAX_CHANNELS 32

/* Delivery settings and the parsed configuration. */
typedef struct pgd_alarm_config {
  pgd_alarm_channel_t *channels;
  int n_channels;
  pgd_alarm_rule_t *rules; /* the cluster's rules (config); definitions add their own */
  int n_rules;
  int64_t group_window_us;   /* default for rules: 10 min */
  int64_t backoff_initial_us; /* default 1 s */
  int64_t backoff_max_us;     /* default 5 min */
  int max_attempts;           /* per channel, then "failed"; 0 = no limit; default 50 */
  char *hooks_dir;            /* Lua alarm hooks (conf/alarms); nullable */
  long hook_instructions;     /* per call, 0 = the sandbox default */
} pgd_alarm_config_t;

/* Parses the configuration object (the master.alarms group as JSON;
 * docs/alarms.md): {channels:[...], rules:[...], group_window, backoff_initial,
 * backoff_max, max_attempts, hooks_dir, hook_instructions}. Secrets are read
 * from the named files / environment variables here. `in` may be NULL (no
 * alarms). Returns 0 with *out filled (free with pgd_alarm_config_free), or
 * -EINVAL with a message in err (never containing a secret). */
int pgd_alarm_config_parse(const cJSON *in, pgd_alarm_config_t *out, char *err, size_t errlen);
void pgd_alarm_config_free(pgd_alarm_config_t *c);
/* The channel named `name`, or NULL. */
const pgd_alarm_channel_t *pgd_alarm_channel_find(const pgd_alarm_config_t *c, const char *name);

/* Parses one rule object (`in`, borrowed) with id `id` (copied). When
 * `targeted` is false (a rule inside a definition's "alarms" list) the
 * target keys job/flow/schedule/worker are refused: the definition is the
 * target. `dflt_window_us` applies when the rule has no group_window.
 * Channel names are checked against `c` when c is not NULL. Returns 0 or
 * -EINVAL with err. Free with pgd_alarm_rule_free. */
int pgd_alarm_rule_parse(const cJSON *in, const char *id, bool targeted, int64_t dflt_window_us,
                         const pgd_alarm_config_t *c, pgd_alarm_rule_t *out, char *err,
                         size_t errlen);
void pgd_alarm_rule_free(pgd_alarm_rule_t *r);

/* An event instance, as the service sees it (all strings borrowed). */
typedef struct pgd_alarm_cause {
  pgd_alarm_event_t event;
  const char *job, *flow, *schedule, *worker; /* what it is about; NULL = not applicable */
  const char *master; /* leader_change: the new leader's address (groups per master) */
} pgd_alarm_cause_t;

/* Does rule `r` take cause `c`? Its event bit must be set and each target
 * pattern set in the rule must match the cause's field (a cause without
 * that field does not match a rule that names one). */
bool pgd_alarm_rule_matches(const pgd_alarm_rule_t *r, const pgd_alarm_cause_t *c);

/* The grouping key "<rule id>|<event>|<job>|<flow>|<schedule>|<worker>",
 * plus "|<master>" when the cause names one (empty fields for NULL), into
 * buf; returns buf. */
char *pgd_alarm_group_key(const pgd_alarm_rule_t *r, const pgd_alarm_cause_t *c, char *buf,
                          size_t len);

/* Grouping decision: a cause whose key last opened a group at
 * `group_first_us` (0 = no group yet) is folded into that group when
 * now_us - group_first_us < window_us. */
bool pgd_alarm_group_folds(int64_t group_first_us, int64_t now_us, int64_t window_us);

/* Delay before attempt number `attempt` (1 = the first retry, after one
 * failure): initial * 2^(attempt-1), capped at max_us. attempt <= 0: 0. */
int64_t pgd_alarm_backoff_us(int attempt, int64_t initial_us, int64_t max_us);

/* "sha256=<64 lower-case hex>" of HMAC-SHA256(key, body) into out (at
 * least PGD_ALARM_SIGNATURE_LEN + 1 bytes). Returns 0 or -EIO. */
#define PGD_ALARM_SIGNATURE_LEN 71
int pgd_alarm_sign(const char *key, const char *body, size_t body_len, char *out, size_t outlen);

/* A time of day "HH:MM" or "HH:MM:SS" → seconds after midnight, or -1. */
int pgd_alarm_parse_time_of_day(const char *s);

/* The first instant (µs) at or after `from_us` when the wall clock of time
 * zone `zone` (IANA name; NULL = "UTC") reads `tod_s` seconds after
 * midnight; a time skipped by a DST jump maps to the jump (sched/tz.h).
 * -1 for an unknown zone. */
int64_t pgd_alarm_next_time_of_day(const char *zone, int64_t from_us, int tod_s);

#endif
