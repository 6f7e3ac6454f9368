/* Pagoda — worker internals shared by worker.c (connection) and attempt.c
 * (launch, kill, reports of attempts). Not a public header. */
#ifndef PAGODA_WORKER_PRIV_H
#define PAGODA_WORKER_PRIV_H

#include <stdint.h>

#include "net/auth.h"
#include "net/conn.h"
#include "net/msg.h"
#include "worker/cgroup.h"
#include "worker/identity.h"
#include "worker/inproc.h"
#include "worker/reports.h"
#include "worker/resources.h"
#include "worker/runas.h"
#include "worker/spawn.h"
#include "worker/worker.h"

#define PGD_WORKER_MOD "worker"

typedef struct pgd_attempt {
  struct pgd_attempt *prev, *next;
  pgd_worker_t *w;
  int64_t execution_id;
  int attempt;
  int slots;
  char *job, *type;
  const pgd_plugin_t *plugin;
  cJSON *params; /* owned */
  int64_t timeout_ms, kill_grace_ms;
  int64_t memory_limit_mb; /* launch.limits.memory_mb, 0 = none (for the oom_killed error) */
  pgd_spawn_t *sp;   /* process attempt */
  pgd_inproc_t *ip;  /* in-process attempt */
  uint64_t offset;   /* bytes of (sanitised) output reported so far */
  char carry[4];     /* incomplete UTF-8 sequence held for the next chunk */
  size_t carry_len;
  int kill_requested;
  cJSON *attrs;          /* attributes found in the output (plugin scan), or NULL */
  pgd_outscan_t *scan;   /* line splitter feeding the plugin's output scan, or NULL */
  pgd_resfetch_t *fetch; /* resources being fetched (nothing runs yet), or NULL */
  char *workdir;         /* the attempt's working directory (resources), or NULL */
  cJSON *launch;         /* the launch message (payload), kept while resources are fetched */
} pgd_attempt_t;

struct pgd_worker {
  uv_loop_t *loop;
  pgd_registry_t *plugins;
  char *master_host, *secret, *host_name;
  int master_port, slots, heartbeat_ms, kill_grace_ms, reconnect_min_ms, reconnect_ms;
  cJSON *labels; /* owned array */
  cJSON *allowed_users; /* owned array of strings, NULL = nobody (run_as) */
  int inproc_isolation;  /* PGD_INPROC_THREAD or _PROCESS (config) */
  char *inproc_helper;   /* owned; NULL = /proc/self/exe */
  pgd_rescache_t *rescache; /* resources: cache and working directories */
  struct pgd_wpushed *pushed; /* pushed plugin versions (pushed.c) */
  pgd_cgroup_root_t *contain; /* containment of process attempts */
  pgd_spawn_set_t *spawn_set; /* watches the attempts' processes (NULL: each their own) */
  char id[PGD_WORKER_ID_MAX + 1];

  pgd_conn_t *conn;
  int welcomed;
  /* This connection's handshake (net/auth.h): our nonce, sent in hello,
   * and the master's from its challenge ("" until it arrives). */
  char wnonce[PGD_AUTH_HEX_LEN + 1], mnonce[PGD_AUTH_HEX_LEN + 1];
  struct pgd_tls_ctx *tls; /* client TLS context (net/tls.h), NULL = plain TCP */
  pgd_worker_dial_fn dial_local; /* config's: a master in this process, NULL = TCP */
  void *dial_local_ud;
  int64_t epoch; /* newest epoch seen, 0 = none */
  int connect_failures;
  uv_timer_t hb_timer, reconnect_timer;

  pgd_reports_t reports;
  pgd_attempt_t *attempts;
  int running, used_slots;

  int stopping, closing, open_handles;
  void (*on_stopped)(void *ud);
  void *stop_ud;

  /* pgd_worker_leave: draining before the stop (docs/operations.md). */
  int leaving;
  int leave_grace_ms;
  uv_timer_t leave_timer; /* the worker's own deadline, should the master not hand back */
  void (*leave_cb)(void *ud);
  void *leave_ud;
  int metrics_collector; /* worker_metrics.c: collector handle, 0 = none */
};

/* Encodes a state / log report (borrowed for the call), queues it until the
 * master acknowledges it (the queue sets its seq) and sends it when
 * welcomed. */
void pgd_worker__report_state(pgd_worker_t *w, const pgd_msg_state_t *m);
void pgd_worker__report_log(pgd_worker_t *w, const pgd_msg_log_t *m);

/* Sends an `error` message (reason borrowed) when connected. */
void pgd_worker__send_error(pgd_worker_t *w, const char *reason);

/* 1 when a launch/kill from `epoch` is acceptable (updating the newest
 * epoch), else logs WARN, tells the master and returns 0. */
int pgd_worker__epoch_ok(pgd_worker_t *w, int64_t epoch, const char *what);

/* attempt.c */
void pgd_worker__handle_launch(pgd_worker_t *w, const cJSON *msg);
void pgd_worker__handle_kill(pgd_worker_t *w, const cJSON *msg);
void pgd_worker__kill_all(pgd_worker_t *w);
/* The running attempts as an array of attempt records (net/msg.h), owned
 * by the caller; NULL when out of memory. */
cJSON *pgd_worker__running_json(const pgd_worker_t *w);

/* worker_metrics.c: counts a final state report; removes the collector. */
void pgd_worker__count_report(pgd_worker_t *w, pgd_exec_state_t state);
void pgd_worker__metrics_stop(pgd_worker_t *w);
/* worker.c: an attempt ended (running and used_slots already updated). */
void pgd_worker__attempt_gone(pgd_worker_t *w);

#endif
