/* Pagoda — the worker: connects to the master, runs the attempts it is sent
 * and reports on them (docs/protocol.md, worker side).
 *
 * What it does:
 *   - connects to master_host:master_port (over TLS when tls_ca is set; or
 *     through dial_local to a master in the same process) and
 *     does the handshake of docs/protocol.md: hello (protocol version,
 *     nonce, id, host, slots, labels, job types, pid, load, the attempts
 *     it still supervises), challenge, auth with its proof of the secret,
 *     and a welcome whose proof it checks (a master that cannot prove the
 *     secret is left at once); after welcome it resends every unacknowledged
 *     report, in order, then sends a heartbeat every heartbeat_ms (the
 *     master's value from welcome wins);
 *   - reconnects with backoff (reconnect_ms doubling up to 5000 ms; after a
 *     reject straight to 5000 ms) whenever the connection drops or the
 *     handshake fails; attempts keep running meanwhile;
 *   - launch: refuses (final state failed + error) an unknown type, a launch
 *     beyond the free slots, a plugin or spawn failure; otherwise spawns the
 *     process the plugin describes (spawn.h) or runs an in-process plugin on
 *     its own thread (inproc.h), reports running, streams the output as log
 *     reports and ends with a final state (succeeded, failed, killed,
 *     timed_out);
 *   - heartbeats carry slots, slots_used, running (count), running_attempts
 *     ([{execution_id, attempt}], for the master's reconciliation), the
 *     CURRENT job types of the registry (a plugin loaded since the last
 *     heartbeat shows up in the next one), labels and load;
 *   - run_as (launch.run_as or the plugin's user): only for users in
 *     allowed_users and when the worker runs as root (runas.h);
 *   - containment (cgroup.h): every process attempt runs in a cgroup of its
 *     own (or is tracked by /proc scan without cgroups) with the launch's
 *     limits; kill, timeout and the end of its main process end the whole
 *     tree; a guard process kills the trees if the worker dies, and a new
 *     start with the same data dir kills what a previous run left;
 *   - kill: SIGTERM to the attempt's tree, SIGKILL after grace_ms;
 *     it works for any attempt still running here, also one started before
 *     a reconnect (the master may have replaced it meanwhile: the final
 *     state is reported as usual);
 *   - refuses launch/kill carrying an epoch older than the newest seen.
 *
 * Thread rules: every function on the loop's thread; the worker lives on
 * that loop. In-process plugins run on threads of their own.
 */
#ifndef PAGODA_WORKER_WORKER_H
#define PAGODA_WORKER_WORKER_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "net/conn.h"
#include "plugin/registry.h"
#include "worker/inproc.h"

/* Connects to a master in this same process (`pagoda dev`): the same
 * contract as pgd_conn_connect (cbs copied, `cb_ud` passed back, 0 and *out
 * or a negative uv error with no callback ever called), for example
 * pgd_listener_connect_local on the master's listener. `ud` is the config's
 * dial_local_ud. Called on the worker's loop thread at every (re)connect. */
typedef int (*pgd_worker_dial_fn)(void *ud, const pgd_conn_cbs_t *cbs, void *cb_ud,
                                  pgd_conn_t **out);

typedef struct pgd_worker_config {
  const char *master_host; /* required */
  int master_port;         /* 1..65535 */
  const char *secret;      /* cluster secret, NULL = "" (proved, never sent: net/auth.h) */
  const char *tls_ca;      /* nullable: connect over TLS, verifying the master against this CA */
  const char *tls_cert;    /* nullable: client certificate for mutual TLS (with tls_key) */
  const char *tls_key;
  const char *data_dir;    /* holds worker.id; required unless id_override */
  const char *id_override; /* nullable: use this id instead of worker.id */
  const char *host_name;   /* nullable: gethostname() */
  int slots;               /* > 0 */
  cJSON *labels;           /* nullable array of strings; copied */
  int heartbeat_ms;        /* <= 0: 1000 */
  int kill_grace_ms;       /* <= 0: 5000; default grace of a launch */
  int reconnect_ms;        /* <= 0: 200; first reconnect delay */
  const char *http_ca;     /* PEM CA file trusted for the master's HTTPS port (resource
                              downloads); NULL = the system's CAs. --http-ca, config
                              worker.http.ca; the daemon defaults it to tls_ca */
  cJSON *allowed_users;    /* nullable array of strings (copied): the users
                              a launch may name in run_as (or a plugin in
                              process_set_user); NULL or [] = none */
  int no_cgroups;          /* 1: never use cgroups; attempts are contained by
                              /proc scanning (worker/cgroup.h, PROCSCAN) */
  const char *cgroup_root; /* nullable: where the per-worker cgroup goes in
                              each hierarchy ("/pagoda"); NULL or "" = under
                              the worker's own cgroup */
  int inproc_isolation;    /* where in-process executors (lua) run: PGD_INPROC_THREAD
                              (0, a worker thread; a run that ignores cancellation
                              cannot be stopped) or PGD_INPROC_PROCESS (a child
                              process killed like a process job; the helper must be
                              the pagoda executable). The daemon defaults to process
                              (worker.inproc_isolation) */
  const char *inproc_helper; /* nullable: the executable of the child for
                              process isolation (argv: worker/inproc_child.h);
                              NULL = pagoda-inproc next to the running
                              executable, else the running executable itself */
  pgd_worker_dial_fn dial_local; /* nullable: reach the master through this (a local
                              stream in one process) instead of TCP to
                              master_host:master_port; tls_* are then not used for
                              the connection (it never leaves the process), the
                              handshake (hello, secret proofs) is unchanged, and
                              master_host still names the master's HTTP host for
                              resource downloads */
  void *dial_local_ud;     /* passed to dial_local as is */
} pgd_worker_config_t;

typedef struct pgd_worker pgd_worker_t;

/* Starts a worker on `loop`: reads or creates the id, then connects (in the
 * background; failures are retried, never returned). `cfg` and its strings
 * are copied; `plugins` is borrowed and must outlive the worker (NULL: no
 * job type). Returns 0 and *out, or a negative errno with a message in err:
 * -EINVAL for a bad configuration, or an error of the worker id file. */
int pgd_worker_start(uv_loop_t *loop, const pgd_worker_config_t *cfg, pgd_registry_t *plugins,
                     pgd_worker_t **out, char *err, size_t errlen);

/* Stops the worker: refuses new launches, kills running attempts (SIGTERM,
 * SIGKILL after kill_grace_ms; in-process runs in a child are killed the
 * same way, those on a thread are cancelled and waited for), sends their final states while connected, then closes the
 * connection and every handle. `on_stopped(ud)` (nullable) runs when all is
 * closed, then the worker is freed. A second call is ignored. */
void pgd_worker_stop(pgd_worker_t *w, void (*on_stopped)(void *ud), void *ud);

/* How long after the grace (plus the kill grace) a leaving worker stops by
 * itself when the master has not handed its attempts back. */
#define PGD_WORKER_LEAVE_MARGIN_MS 2000

/* A clean stop (SIGTERM of `pagoda worker`, docs/operations.md "Stopping a
 * worker"): tells the master `leave` (it sends no new work and shows the
 * worker `leaving`), lets running attempts run up to grace_ms, after which
 * the master kills what still runs and relaunches it elsewhere; once
 * nothing runs, stops as pgd_worker_stop (the master then shows `left`).
 * Should the master not do its part (an older master, no connection), the
 * worker stops by itself grace_ms + kill_grace_ms +
 * PGD_WORKER_LEAVE_MARGIN_MS after the call, killing what is left.
 * `on_stopped(ud)` as in pgd_worker_stop. Ignored when already leaving or
 * stopping; pgd_worker_stop during the grace stops at once. Loop thread. */
void pgd_worker_leave(pgd_worker_t *w, int grace_ms, void (*on_stopped)(void *ud), void *ud);

/* The worker id (borrowed, valid until the worker is freed). */
const char *pgd_worker_id(const pgd_worker_t *w);

/* Points the worker at another master (high availability: the leader
 * changed). Closes the current connection, if any, and connects to
 * host:port (copied) at once; unacknowledged reports are resent after the
 * new master's welcome. Returns 0 (also when nothing changes), -EINVAL or
 * -ESHUTDOWN. Loop thread. */
int pgd_worker_set_master(pgd_worker_t *w, const char *host, int port);

/* Introspection (tests, status pages). */
int pgd_worker_running(const pgd_worker_t *w);            /* attempts running */
size_t pgd_worker_pending_reports(const pgd_worker_t *w); /* unacknowledged */
int pgd_worker_connected(const pgd_worker_t *w);          /* 1 after welcome */

/* Adds the worker's figures to the process metrics registry
 * (common/metrics.h; docs/observability.md): slots, running attempts,
 * connection, unacknowledged reports, attempts ended by state. Nothing when
 * metrics are off; removed by pgd_worker_stop. 0 or a negative code. Loop
 * thread. Added in 0.7. */
int pgd_worker_metrics_start(pgd_worker_t *w);

#endif
