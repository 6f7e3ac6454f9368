/* Pagoda — the API client commands of the `pagoda` CLI (see client.h): the
 * dispatch of every command and the entry points. The commands with more
 * than a list, show or action are client_jobs.c and client_admin.c; the
 * request helpers they share are client_session.c. */
#include "cli/client.h"

#include "common/err.h"
#include "common/json.h"
#include "plugin/check.h"
#include "plugin/trial.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client_apply.h"
#include "cli/client_admin.h"
#include "cli/client_call.h"
#include "cli/client_plugin.h"
#include "cli/client_addrs.h"
#include "cli/client_jobs.h"
#include "cli/client_table.h"
#include "cli/client_token.h"
#include "cli/client_session.h"
#include "cli/client_usage.h"
#include "cli/http_client.h"


/* ---- entry points -------------------------------------------------------- */

/* Runs the command of `a` (the switch of every command). */
static int client_dispatch(const pgd_cli_args_t *a, FILE *out, FILE *errout, session_t *session) {
  ctx_t c = {a, out, errout, session};
  char idpath[96];
  switch (a->cmd) {
    case PGD_CLI_JOB_CREATE:
      return client_job_create(&c);
    case PGD_CLI_JOB_LIST:
      return client_list(&c, "/api/v1/jobs", pgd_cli_print_jobs);
    case PGD_CLI_JOB_SHOW: {
      char *p = client_path_with("/api/v1/jobs/%s%s", a->arg, NULL);
      int rc = client_show(&c, p);
      free(p);
      return rc;
    }
    case PGD_CLI_JOB_RUN:
      return client_job_run(&c);
    case PGD_CLI_JOB_DELETE:
      return client_action(&c, "DELETE", client_path_with("/api/v1/jobs/%s%s", a->arg, NULL),
                    "job %s deleted\n");
    case PGD_CLI_EXEC_LIST: {
      char *p = pgd_cli_exec_list_path(a);
      int rc = client_list(&c, p, pgd_cli_print_executions);
      free(p);
      return rc;
    }
    case PGD_CLI_EXEC_SHOW:
      snprintf(idpath, sizeof(idpath), "/api/v1/executions/%lld", a->id);
      return client_show(&c, idpath);
    case PGD_CLI_EXEC_LOGS:
      return client_exec_logs(&c);
    case PGD_CLI_EXEC_KILL:
      return client_action(&c, "POST", client_path_with("/api/v1/executions/%s%s", a->arg, "/kill"),
                    "kill requested for execution %s\n");
    case PGD_CLI_EXEC_DELETE:
      return client_action(&c, "DELETE", client_path_with("/api/v1/executions/%s%s", a->arg, NULL),
                    "execution %s deleted\n");
    case PGD_CLI_WORKER_LIST:
      return client_list(&c, "/api/v1/workers", pgd_cli_print_workers);
    case PGD_CLI_WORKER_SHOW: {
      char *p = client_path_with("/api/v1/workers/%s%s", a->arg, NULL);
      int rc = client_show(&c, p);
      free(p);
      return rc;
    }
    case PGD_CLI_WORKER_DRAIN:
      return client_action(&c, "POST", client_path_with("/api/v1/workers/%s%s", a->arg, "/drain"),
                    "worker %s draining\n");
    case PGD_CLI_WORKER_UNDRAIN:
      return client_action(&c, "POST", client_path_with("/api/v1/workers/%s%s", a->arg, "/undrain"),
                    "worker %s undrained\n");
    case PGD_CLI_PLUGIN_LIST:
      return pgd_client_plugin_list(a, out, errout); /* with the pushed versions */
    case PGD_CLI_PLUGIN_PUSH:
      return pgd_client_plugin_push(a, out, errout);
    case PGD_CLI_PLUGIN_ROLLBACK:
      return pgd_client_plugin_rollback(a, out, errout);
    case PGD_CLI_BALANCER_LIST:
      return client_list(&c, "/api/v1/balancers", pgd_cli_print_balancers);
    case PGD_CLI_BALANCER_RELOAD:
      return client_list_with(&c, "POST", "/api/v1/balancers/reload", pgd_cli_print_balancers);
    case PGD_CLI_RES_PUT:
      return client_res_put(&c);
    case PGD_CLI_RES_LIST:
      return client_list(&c, "/api/v1/resources", pgd_cli_print_resources);
    case PGD_CLI_RES_GET:
      return client_res_get(&c);
    case PGD_CLI_RES_VERSIONS: {
      char *p = client_path_with("/api/v1/resources/%s%s", a->arg, "/versions");
      int rc = client_show(&c, p);
      free(p);
      return rc;
    }
    case PGD_CLI_RES_DELETE:
      return client_res_delete(&c);
    case PGD_CLI_PLUGIN_CHECK:
      /* Local: loads the file through the same loader as the daemons. */
      return pgd_plugin_check(a->arg, out) == 0 ? PGD_CLI_EXIT_OK : PGD_CLI_EXIT_FAIL;
    case PGD_CLI_PLUGIN_TEST:
      /* Local too: the daemons' host code on one params object. */
      switch (pgd_plugin_trial(a->arg, a->params_text, a->type, out, errout)) {
        case PGD_TRIAL_OK: return PGD_CLI_EXIT_OK;
        case PGD_TRIAL_USAGE: return PGD_CLI_EXIT_USAGE;
        default: return PGD_CLI_EXIT_FAIL;
      }
    case PGD_CLI_FLOW_CREATE:
      return client_create_from_file(&c, "/api/v1/flows", "flow");
    case PGD_CLI_FLOW_LIST:
      return client_list(&c, "/api/v1/flows", pgd_cli_print_flows);
    case PGD_CLI_FLOW_SHOW: {
      char *p = client_path_with("/api/v1/flows/%s%s", a->arg, NULL);
      int rc = client_show(&c, p);
      free(p);
      return rc;
    }
    case PGD_CLI_FLOW_DELETE:
      return client_action(&c, "DELETE", client_path_with("/api/v1/flows/%s%s", a->arg, NULL),
                    "flow %s deleted\n");
    case PGD_CLI_FLOW_RUN:
      return client_flow_run(&c);
    case PGD_CLI_FLOW_STATUS:
      return client_flow_status(&c);
    case PGD_CLI_FLOW_KILL:
      return client_action(&c, "POST", client_path_with("/api/v1/flow-executions/%s%s", a->arg, "/kill"),
                    "kill requested for flow execution %s\n");
    case PGD_CLI_FLOW_RERUN:
      return client_flow_rerun(&c);
    case PGD_CLI_SCHED_CREATE:
      return client_create_from_file(&c, "/api/v1/schedules", "schedule");
    case PGD_CLI_SCHED_LIST:
      return client_list(&c, "/api/v1/schedules", pgd_cli_print_schedules);
    case PGD_CLI_SCHED_SHOW: {
      char *p = client_path_with("/api/v1/schedules/%s%s", a->arg, "?next=5");
      int rc = client_show(&c, p);
      free(p);
      return rc;
    }
    case PGD_CLI_SCHED_NEXT:
      return client_sched_next(&c);
    case PGD_CLI_SCHED_PAUSE:
      return client_action(&c, "POST", client_path_with("/api/v1/schedules/%s%s", a->arg, "/pause"),
                    "schedule %s paused\n");
    case PGD_CLI_SCHED_RESUME:
      return client_action(&c, "POST", client_path_with("/api/v1/schedules/%s%s", a->arg, "/resume"),
                    "schedule %s resumed\n");
    case PGD_CLI_SCHED_RUN:
      return client_sched_run(&c);
    case PGD_CLI_SCHED_DELETE:
      return client_action(&c, "DELETE", client_path_with("/api/v1/schedules/%s%s", a->arg, NULL),
                    "schedule %s deleted\n");
    case PGD_CLI_TOKEN_CREATE:
      return client_token_create(&c);
    case PGD_CLI_TOKEN_LIST:
      return client_list(&c, "/api/v1/tokens", pgd_cli_print_tokens);
    case PGD_CLI_TOKEN_REVOKE:
      return client_action(&c, "DELETE", client_path_with("/api/v1/tokens/%s%s", a->arg, NULL),
                    "token %s revoked\n");
    case PGD_CLI_AUDIT_LIST:
      return client_audit_list(&c);
    case PGD_CLI_APPLY:
      return pgd_client_apply(a, out, errout);
    case PGD_CLI_EXPORT:
      return pgd_client_export(a, out, errout);
    case PGD_CLI_ALARM_LIST: {
      char *p = pgd_cli_alarm_list_path(a);
      int rc = p ? client_list(&c, p, pgd_cli_print_alarms) : PGD_CLI_EXIT_FAIL;
      free(p);
      return rc;
    }
    case PGD_CLI_ALARM_ACK:
      return client_action(&c, "POST", client_path_with("/api/v1/alarms/%s%s", a->arg, "/ack"),
                    "alarm %s acknowledged\n");
    case PGD_CLI_CMD_NONE:
      break;
  }
  return PGD_CLI_EXIT_USAGE;
}

int pgd_client_run(const pgd_cli_args_t *a, FILE *out, FILE *errout) {
  if (!a || !out || !errout) return PGD_CLI_EXIT_USAGE;
  session_t session = {0};
  char aerr[512];
  /* plugin check|test run locally: no master to find. */
  bool local = a->cmd == PGD_CLI_PLUGIN_CHECK || a->cmd == PGD_CLI_PLUGIN_TEST;
  if (!local && pgd_cli_addrs_parse(a->addr, &session.addrs, aerr, sizeof aerr) < 0) {
    fprintf(errout, "pagoda: %s\n", aerr);
    return PGD_CLI_EXIT_FAIL;
  }
  int rc = client_dispatch(a, out, errout, &session);
  pgd_cli_addrs_free(&session.addrs);
  cJSON_Delete(session.shown_nodes);
  return rc;
}

int pgd_client_main(int argc, char **argv) {
  pgd_cli_args_t a;
  char err[512];
  int rc = pgd_cli_args_parse(argc, argv, getenv("PAGODA_ADDR"), &a, err, sizeof(err));
  if (rc == -ENOMEM) {
    fprintf(stderr, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  if (rc != 0) {
    fprintf(stderr, "pagoda: %s\n\n", err);
    pgd_cli_usage(stderr, a.group);
    return PGD_CLI_EXIT_USAGE;
  }
  if (a.help) {
    pgd_cli_usage(stdout, a.group);
    pgd_cli_args_free(&a);
    return PGD_CLI_EXIT_OK;
  }
  if (pgd_http_global_init() != 0) {
    fprintf(stderr, "pagoda: cannot initialise libcurl\n");
    pgd_cli_args_free(&a);
    return PGD_CLI_EXIT_FAIL;
  }
  /* HTTPS: the CA that signed the API's certificate (else the system's). */
  pgd_http_set_cacert(a.cacert ? a.cacert : getenv("PAGODA_CACERT"));
  const char *source = NULL;
  char *token = pgd_cli_token_resolve(a.token, a.addr, &source, err, sizeof(err));
  if (!token && err[0]) {
    fprintf(stderr, "pagoda: %s\n", err);
    pgd_http_global_cleanup();
    pgd_cli_args_free(&a);
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_set_token(token);
  free(token);
  rc = pgd_client_run(&a, stdout, stderr);
  pgd_http_global_cleanup();
  pgd_cli_args_free(&a);
  if (fflush(stdout) != 0 && rc == PGD_CLI_EXIT_OK) rc = PGD_CLI_EXIT_FAIL;
  return rc;
}

