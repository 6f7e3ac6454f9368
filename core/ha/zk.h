/* Pagoda — high availability through ZooKeeper (issue 8).
 *
 * One pgd_zk_t is one ZooKeeper client of a daemon. Under
 * /pagoda/<cluster> it keeps:
 *
 *   masters/m-<session id, 16 hex>-<sequence, 10 digits>   ephemeral sequential,
 *       one per master running for leader; data = the master's info JSON
 *       {"id","rpc","http","pid"}. The lowest sequence is the leader; every
 *       other candidate watches only its predecessor (no herd).
 *   workers/<worker id>                                     ephemeral,
 *       one per registered worker; data = the worker's info JSON.
 *
 * ZooKeeper holds leadership and membership only, never per-job state.
 *
 * Thread rules: every function here must be called on the thread that runs
 * the uv loop passed to pgd_zk_open, and every callback runs on that thread.
 * The ZooKeeper client (zookeeper_mt) calls watchers and completions on its
 * own threads; the module copies each of them into an event queue (mutex)
 * and wakes the loop with uv_async_send. Nothing here blocks the loop:
 * closing a ZooKeeper handle (which waits for the server) runs on the libuv
 * thread pool.
 *
 * Roles (on_role), in the order a master sees them:
 *
 *   PGD_ZK_CONNECTING  after open, until the first session is established
 *                      (never reported through on_role; pgd_zk_role only).
 *   PGD_ZK_CONNECTED   connected, not running for leader (workers, watchers).
 *   PGD_ZK_FOLLOWER    running for leader; another candidate leads.
 *   PGD_ZK_LEADER      this process leads. Only in this role may a master
 *                      dispatch executions and fire schedules.
 *   PGD_ZK_SUSPENDED   the connection to ZooKeeper dropped; the session may
 *                      still be alive (same session comes back: the module
 *                      re-checks the election and reports LEADER or
 *                      FOLLOWER again). A leader must stop dispatching and
 *                      firing at once: the server may expire the session
 *                      before the client can notice.
 *   PGD_ZK_LOST        the session is gone: expired (told by the server), or
 *                      the connection stayed down for longer than the session
 *                      timeout (the server has expired it, or will). Any
 *                      leadership is over: the master must step down as if it
 *                      had never led (fence: its epoch is stale). The module
 *                      then opens a NEW session by itself, re-registers the
 *                      worker and re-runs for leader, so FOLLOWER / LEADER /
 *                      CONNECTED follow when ZooKeeper answers again.
 *
 * Epoch: the leader's sequence number (`epoch` in the leader object, and
 * pgd_zk_epoch) grows with every new candidate znode of the cluster, so a
 * later leader always has a larger epoch than any earlier one (as long as
 * /pagoda/<cluster>/masters is not deleted by hand).
 *
 * Errors: functions return 0 or a negative errno value (-EINVAL for bad
 * input, -ENOMEM, -EALREADY, -ESHUTDOWN after pgd_zk_close). Bad input never
 * crashes. When a function returns an error, no callback is caused by it.
 *
 * Added in Pagoda 0.2 (issue 8).
 */
#ifndef PAGODA_HA_ZK_H
#define PAGODA_HA_ZK_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

typedef struct pgd_zk pgd_zk_t;

typedef enum {
  PGD_ZK_CONNECTING = 0,
  PGD_ZK_CONNECTED = 1,
  PGD_ZK_FOLLOWER = 2,
  PGD_ZK_LEADER = 3,
  PGD_ZK_SUSPENDED = 4,
  PGD_ZK_LOST = 5
} pgd_zk_role_t;

/* Longest cluster name and worker id (characters [A-Za-z0-9_.-], not "."
 * or ".."). */
#define PGD_ZK_NAME_MAX 128

/* Session timeout bounds accepted by pgd_zk_open (the server clamps the
 * timeout further to [2, 20] ticks). */
#define PGD_ZK_SESSION_MIN_MS 200
#define PGD_ZK_SESSION_MAX_MS 600000

/* Callbacks; any slot may be NULL. All run on the loop thread; each may call
 * any function of this header, pgd_zk_close included (no callback follows
 * pgd_zk_close). */
typedef struct pgd_zk_cbs {
  /* The leader changed (pgd_zk_watch_leader or pgd_zk_run_for_leader).
   * `leader` is borrowed for the call: the leader's info object plus
   * "node" (znode name) and "epoch" (its sequence number); NULL = no master
   * is running for leader. Called only when the leader's znode changes. */
  void (*on_leader_change)(pgd_zk_t *zk, const cJSON *leader, void *ud);
  /* The role changed (see above); called only on a change. */
  void (*on_role)(pgd_zk_t *zk, int role, void *ud);
  /* The set of registered workers changed (pgd_zk_watch_workers). `workers`
   * is borrowed for the call: an array, sorted by id, of
   * {"id": "<worker id>", "info": <its JSON, or null if not JSON>}. */
  void (*on_workers)(pgd_zk_t *zk, const cJSON *workers, void *ud);
} pgd_zk_cbs_t;

/* Opens a client of ZooKeeper ensemble `hosts` ("host:port,host:port",
 * an optional chroot suffix "/path" allowed) for cluster `cluster`, with a
 * session timeout of `session_ms`. Connecting is asynchronous: the call
 * returns at once and the session is established in the background (a
 * server that is down is retried for ever). `hosts`, `cluster` and `cbs`
 * are copied; `ud` is passed to callbacks. On error returns a negative code,
 * writes a message into `err` (if not NULL) and leaves *out NULL.
 * Thread: the loop thread. */
int pgd_zk_open(uv_loop_t *loop, const char *hosts, const char *cluster, int session_ms,
                const pgd_zk_cbs_t *cbs, void *ud, pgd_zk_t **out, char *err, size_t errlen);

/* Runs for leader (masters): creates this process's candidate znode with
 * `my_info` (copied; an object, e.g. {"id","rpc","http","pid"}), and keeps
 * running across sessions until pgd_zk_close. Also turns on the leader
 * watch (on_leader_change, pgd_zk_masters). -EALREADY if called twice. */
int pgd_zk_run_for_leader(pgd_zk_t *zk, const cJSON *my_info);

/* Registers this worker as /pagoda/<cluster>/workers/<id> with `info`
 * (copied; an object). Kept across sessions. If another live session holds
 * the same id, the module logs a warning and retries until that znode goes.
 * -EALREADY if called twice. */
int pgd_zk_register_worker(pgd_zk_t *zk, const char *id, const cJSON *info);

/* Turns on on_leader_change (and the pgd_zk_masters list). Idempotent. */
int pgd_zk_watch_leader(pgd_zk_t *zk);

/* Turns on on_workers. Idempotent. */
int pgd_zk_watch_workers(pgd_zk_t *zk);

/* The masters as last seen (leader watch on), for GET /api/v1/cluster: a new
 * array owned by the caller (cJSON_Delete), sorted by sequence, of
 * {"node","epoch","leader": bool,"self": bool,"info": object|null}.
 * NULL on allocation failure or zk == NULL. */
cJSON *pgd_zk_masters(pgd_zk_t *zk);

/* 1 while this worker's znode exists in the current session (after
 * pgd_zk_register_worker), else 0. */
int pgd_zk_is_registered(const pgd_zk_t *zk);

/* The current role (pgd_zk_role_t). */
int pgd_zk_role(const pgd_zk_t *zk);

/* This process's epoch (its candidate sequence number) while it is the
 * LEADER, else -1. */
int64_t pgd_zk_epoch(const pgd_zk_t *zk);

/* Name of a role ("leader", "follower", ...); never NULL. */
const char *pgd_zk_role_name(int role);

/* Closes: the session is closed cleanly (its ephemeral znodes go at once,
 * so the next candidate takes over without waiting for a timeout). No
 * callback runs after this call; `closed(closed_ud)` (may be NULL) is called
 * on the loop thread once every handle and thread is released and `zk` is
 * freed. The loop must keep running until then. A NULL zk is ignored;
 * a second call is ignored. */
void pgd_zk_close(pgd_zk_t *zk, void (*closed)(void *ud), void *closed_ud);

#endif
