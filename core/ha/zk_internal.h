/* Pagoda — private state of the ZooKeeper module (core/ha). Not installed.
 *
 * zk.c          handle, session life cycle, event queue, retries, close.
 * zk_election.c the leader election (candidate znode, predecessor watch).
 * zk_dirs.c     the watched directory views (masters -> leader, workers)
 *               and the worker registration.
 *
 * Everything here runs on the loop thread except the three zk_* callback
 * trampolines in zk.c, which only copy their arguments into an event and
 * push it on the queue.
 */
#ifndef PAGODA_HA_ZK_INTERNAL_H
#define PAGODA_HA_ZK_INTERNAL_H

#include <stdint.h>

#include <zookeeper/zookeeper.h>

#include "ha/zk.h"

#define ZKLOG "ha"

/* What a completion is for. */
typedef enum {
  ZOP_IGNORE = 0,   /* ensure-path creates: result only logged */
  ZOP_EL_LIST,      /* election: children of masters/ */
  ZOP_EL_CREATE,    /* election: my candidate znode */
  ZOP_EL_EXISTS,    /* election: watch on the predecessor */
  ZOP_DIR_LIST,     /* a directory view: children (with watch) */
  ZOP_DIR_DATA,     /* a directory view: data of one child */
  ZOP_REG_CREATE,   /* worker registration: create */
  ZOP_REG_CHECK     /* worker registration: owner of an existing znode */
} zop_t;

/* Completion context: allocated on the loop, handed to the client, comes
 * back inside an event and is freed by the loop. */
typedef struct zreq {
  struct zreq *prev, *next;  /* zk->reqs: every request not yet freed */
  struct pgd_zk *zk;
  int op;
  uint32_t gen;   /* session generation it belongs to */
  int dir;        /* ZOP_DIR_*: which view */
  char *name;     /* ZOP_DIR_DATA: child name (owned) */
} zreq_t;

typedef enum { ZEV_WATCH, ZEV_DONE } zev_kind_t;

typedef struct zev {
  struct zev *next;
  int kind;
  uint32_t gen;
  /* ZEV_WATCH */
  int type, state;
  char *path;
  /* ZEV_DONE */
  zreq_t *req;
  int rc;
  char *value;       /* created path or data (NUL-terminated copy) */
  int value_len;     /* -1 = no data */
  char **names;      /* children */
  int nnames;
  int has_stat;
  int64_t owner;     /* stat.ephemeralOwner */
} zev_t;

/* The ZooKeeper handle of one session generation; the watcher context. */
typedef struct zsess {
  struct pgd_zk *zk;
  uint32_t gen;
  zhandle_t *zh;
} zsess_t;

/* One child of a watched directory. */
typedef struct zentry {
  char *name;
  int64_t seq;    /* masters: sequence; workers: 0 */
  char *data;     /* NULL until fetched */
  int fetched;
  int gone;
} zentry_t;

enum { ZDIR_MASTERS = 0, ZDIR_WORKERS = 1, ZDIR_COUNT = 2 };

typedef struct zdir {
  int enabled;
  int busy, again;
  int pending;          /* data fetches outstanding */
  int failed;           /* a fetch of this round failed */
  int nonode_tries;
  char path[320];
  zentry_t *ents;       /* the last published listing (complete) */
  int nents;
  zentry_t *next;       /* the listing being read */
  int nnext;
  char *published;      /* last published digest (names + data) */
} zdir_t;

struct pgd_zk {
  uv_loop_t *loop;
  uv_async_t async;
  uv_timer_t suspend_timer;
  uv_timer_t retry_timer;
  uv_mutex_t mu;
  zev_t *head, *tail;
  zreq_t *reqs;          /* outstanding requests (loop thread only); the
                          * client may drop a completion at close, so what is
                          * left here is freed when the module is freed */

  char *hosts;
  char cluster[PGD_ZK_NAME_MAX + 1];
  char base[PGD_ZK_NAME_MAX + 16];   /* /pagoda/<cluster> */
  int session_ms;
  pgd_zk_cbs_t cbs;
  void *ud;

  zsess_t *sess;         /* current session, NULL between generations */
  uint32_t gen;
  int connected;
  int ever_connected;    /* in this generation */
  int64_t sid;           /* session id of the current generation (0 = none) */
  int role;

  int ready;             /* async handle initialised (under mu) */
  int closing;
  int retiring;          /* handles being closed on the thread pool */
  int uv_open;           /* uv handles not yet closed */
  void (*closed_cb)(void *);
  void *closed_ud;

  /* election */
  int candidate;
  char *my_info;         /* JSON text */
  char *my_node;         /* znode name (not path) or NULL */
  int64_t my_seq;
  char *pred;            /* predecessor's name being watched */
  int el_busy, el_again;

  /* worker registration */
  char *worker_id;
  char *worker_info;
  int registered, reg_busy;
  int64_t reg_conflict;  /* owner of a conflicting znode last logged */

  zdir_t dirs[ZDIR_COUNT];
  cJSON *leader;         /* last leader object reported (owned) */
};

/* zk.c */
void zk_set_role(struct pgd_zk *zk, int role);
void zk_retry_later(struct pgd_zk *zk);
zreq_t *zk_req(struct pgd_zk *zk, int op);
void zk_req_free(zreq_t *r);
void zk_ensure_paths(struct pgd_zk *zk);
void zk_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx);
void zk_string_done(int rc, const char *value, const void *data);
void zk_strings_done(int rc, const struct String_vector *strings, const void *data);
void zk_data_done(int rc, const char *value, int value_len, const struct Stat *stat,
                  const void *data);
void zk_stat_done(int rc, const struct Stat *stat, const void *data);
int zk_name_ok(const char *s);
int64_t zk_seq_of(const char *name);

/* zk_election.c */
void zk_election_step(struct pgd_zk *zk);
void zk_election_done(struct pgd_zk *zk, zev_t *ev);
void zk_election_watch(struct pgd_zk *zk, zev_t *ev);
void zk_election_reset(struct pgd_zk *zk);

/* zk_dirs.c */
void zk_dir_refresh(struct pgd_zk *zk, int d);
void zk_dir_done(struct pgd_zk *zk, zev_t *ev);
void zk_dir_watch(struct pgd_zk *zk, zev_t *ev);
void zk_dirs_reset(struct pgd_zk *zk);
void zk_dirs_free(struct pgd_zk *zk);
void zk_reg_step(struct pgd_zk *zk);
void zk_reg_done(struct pgd_zk *zk, zev_t *ev);

#endif
