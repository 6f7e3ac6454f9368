/* Pagoda master — flows: state shared by flows.c (driving, storing,
 * resuming) and flows_svc.c (the service calls of master.h). Loop thread
 * only. */
#ifndef PAGODA_MASTER_FLOWS_INT_H
#define PAGODA_MASTER_FLOWS_INT_H

#include "flow/flow.h"
#include "master/flows.h"
#include "master/exec_int.h"
#include "master/jobs_int.h"
#include "master/leader_int.h"

/* A stored flow definition. */
typedef struct m_flow {
  char *name;
  pgd_flow_def_t *def; /* one reference */
  UT_hash_handle hh;
} m_flow_t;

/* A flow execution in memory: running ones, and finished ones until their
 * final record is durable. */
typedef struct m_frun {
  int64_t id;
  pgd_flow_def_t *def;   /* one reference: the definition snapshot it runs */
  cJSON *def_json;       /* the snapshot as stored (pgd_flow_def_json) */
  pgd_flow_run_t *run;
  char *trigger;
  cJSON *node_errors;    /* node id -> why its execution could not be created */
  cJSON *orphans;        /* resume: node id -> id of an execution created for it
                            before a restart but not yet in the stored state */
  int linked;            /* executions whose flow_run_ref points here */
  int saves_in_flight;
  bool driving, again, dirty, in_dirty;
  bool announced;        /* its "started" event was told (observers on_event) */
  bool event_started;    /* "started" to tell at the next flush */
  const char *event_change; /* "progress" or "final" to tell at the next flush, or NULL */
  struct m_frun *dirty_next;
  UT_hash_handle hh;
} m_frun_t;

struct m_flows {
  pgd_master_t *m;
  m_flow_t *flows;  /* by name */
  m_frun_t *runs;   /* by id */
  int64_t last_id;  /* highest flow execution id handed out */
  char *hooks_dir;
  pgd_flow_checks_t checks_create;  /* with the job checks */
  pgd_flow_checks_t checks_restore; /* without (the jobs were checked at create) */
  uv_prepare_t *flush;              /* writes dirty flow states once per iteration */
  m_frun_t *dirty;
};

m_flow_t *m_flows_find(struct m_flows *fl, const char *name);
m_frun_t *m_fruns_find(struct m_flows *fl, int64_t id);
/* Puts or replaces a flow (takes the def reference). */
void m_flows_put(struct m_flows *fl, pgd_flow_def_t *def);
void m_flows_remove(struct m_flows *fl, const char *name);

/* The stored document of a flow execution (owned by caller); with_def adds
 * the definition snapshot (as a copy). */
cJSON *m_frun_doc(const m_frun_t *r, bool with_def);

/* Creates and starts flow execution from a new run (taking it); saves its
 * first record (done(ud, status) once durable; may be NULL) then submits its
 * first nodes. Returns the run. */
m_frun_t *m_frun_launch(pgd_master_t *m, pgd_flow_def_t *def, pgd_flow_run_t *run,
                        const char *trigger, m_durable_cb done, void *ud);
/* Kills a running flow execution; done once the state is durable. */
int m_frun_kill(pgd_master_t *m, m_frun_t *r, m_durable_cb done, void *ud);
/* Next flow execution id. */
int64_t m_flows_next_id(struct m_flows *fl);

#endif
