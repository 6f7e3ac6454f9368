/* Pagoda API — THE route table: every REST route is one row here, and
 * docs/api.md lists exactly these rows (tests/unit/test_api_routes.c checks
 * both ways). The role is the least a token needs (enforced by api_gate.c);
 * body: the schema the body is checked against before the handler runs
 * (api_schemas.c). standby_ok: a
 * standby master serves the route from the shared store (an execution's
 * log too: api_logs.c answers 503 itself when logs are local files). */
#include "api/api_int.h"

#define V PGD_ROLE_VIEWER
#define O PGD_ROLE_OPERATOR
#define A PGD_ROLE_ADMIN
#define STANDBY true
#define LEADER false

static const pgd_api_route_t routes[] = {
    /* method   pattern                                      handler               role body  standby */
    {"GET",    "/api/v1/health",                             api_health,            V, NULL, STANDBY},
    {"GET",    "/api/v1/cluster",                            api_cluster,           V, NULL, STANDBY},
    /* console sessions: POST checks the body's token itself (api_gate.c) */
    {"POST",   "/api/v1/session",                            api_session_open,      V, &api_schema_session, STANDBY},
    {"DELETE", "/api/v1/session",                            api_session_close,     V, NULL, STANDBY},
    {"GET",    "/api/v1/whoami",                             api_whoami,            V, NULL, STANDBY},

    {"GET",    "/api/v1/jobs",                               api_jobs_list,         V, NULL, STANDBY},
    {"POST",   "/api/v1/jobs",                               api_job_define,        A, &api_schema_job, LEADER},
    {"GET",    "/api/v1/jobs/{name}",                        api_job_get,           V, NULL, STANDBY},
    {"DELETE", "/api/v1/jobs/{name}",                        api_job_delete,        A, NULL, LEADER},
    {"POST",   "/api/v1/jobs/{name}/run",                    api_job_run,           O, &api_schema_job_run, LEADER},

    {"GET",    "/api/v1/executions",                         api_execs_list,        V, NULL, STANDBY},
    {"GET",    "/api/v1/executions/{id}",                    api_exec_get,          V, NULL, STANDBY},
    {"POST",   "/api/v1/executions/{id}/kill",               api_exec_kill,         O, NULL, LEADER},
    {"GET",    "/api/v1/executions/{id}/log",                api_exec_log,          V, NULL, STANDBY},
    {"DELETE", "/api/v1/executions/{id}",                    api_exec_delete,       A, NULL, LEADER},

    {"GET",    "/api/v1/workers",                            api_workers_list,      V, NULL, STANDBY},
    {"GET",    "/api/v1/workers/{id}",                       api_worker_get,        V, NULL, STANDBY},
    {"POST",   "/api/v1/workers/{id}/drain",                 api_worker_drain,      O, NULL, LEADER},
    {"POST",   "/api/v1/workers/{id}/undrain",               api_worker_undrain,    O, NULL, LEADER},

    {"GET",    "/api/v1/plugins",                            api_plugins_list,      V, NULL, STANDBY},
    {"POST",   "/api/v1/plugins/reload",                     api_plugins_reload,    A, NULL, STANDBY},
    /* plugin push (docs/plugins.md "Pushing a plugin"): the body is the .so */
    {"PUT",    "/api/v1/plugins",                            api_plugin_push,       A, NULL, LEADER},
    {"GET",    "/api/v1/plugins/pushed",                     api_plugins_pushed,    V, NULL, LEADER},
    {"POST",   "/api/v1/plugins/{type}/rollback",            api_plugin_rollback,   A, NULL, LEADER},
    {"GET",    "/api/v1/balancers",                          api_balancers_list,    V, NULL, STANDBY},
    {"POST",   "/api/v1/balancers/reload",                   api_balancers_reload,  A, NULL, LEADER},

    {"GET",    "/api/v1/flows",                              api_flows_list,        V, NULL, LEADER},
    {"POST",   "/api/v1/flows",                              api_flow_define,       A, &api_schema_flow, LEADER},
    {"GET",    "/api/v1/flows/{name}",                       api_flow_get,          V, NULL, LEADER},
    {"DELETE", "/api/v1/flows/{name}",                       api_flow_delete,       A, NULL, LEADER},
    {"POST",   "/api/v1/flows/{name}/run",                   api_flow_run,          O, &api_schema_flow_run, LEADER},
    {"GET",    "/api/v1/flow-executions",                    api_fexecs_list,       V, NULL, LEADER},
    {"GET",    "/api/v1/flow-executions/{id}",               api_fexec_get,         V, NULL, LEADER},
    {"POST",   "/api/v1/flow-executions/{id}/kill",          api_fexec_kill,        O, NULL, LEADER},
    {"POST",   "/api/v1/flow-executions/{id}/rerun",         api_fexec_rerun,       O, &api_schema_fexec_rerun, LEADER},

    {"GET",    "/api/v1/schedules",                          api_schedules_list,    V, NULL, LEADER},
    {"POST",   "/api/v1/schedules",                          api_schedule_define,   A, &api_schema_schedule, LEADER},
    {"GET",    "/api/v1/schedules/{name}",                   api_schedule_get,      V, NULL, LEADER},
    {"DELETE", "/api/v1/schedules/{name}",                   api_schedule_delete,   A, NULL, LEADER},
    {"POST",   "/api/v1/schedules/{name}/pause",             api_schedule_pause,    O, NULL, LEADER},
    {"POST",   "/api/v1/schedules/{name}/resume",            api_schedule_resume,   O, NULL, LEADER},
    {"POST",   "/api/v1/schedules/{name}/run",               api_schedule_run,      O, NULL, LEADER},

    {"GET",    "/api/v1/resources",                          api_resources_list,    V, NULL, LEADER},
    {"PUT",    "/api/v1/resources/{name}",                   api_resource_put,      A, NULL, LEADER},
    {"GET",    "/api/v1/resources/{name}",                   api_resource_get,      V, NULL, LEADER},
    {"DELETE", "/api/v1/resources/{name}",                   api_resource_delete,   A, NULL, LEADER},
    {"GET",    "/api/v1/resources/{name}/versions",          api_resource_versions, V, NULL, LEADER},

    {"POST",   "/api/v1/tokens",                             api_tokens_create,     A, NULL, LEADER},
    {"GET",    "/api/v1/tokens",                             api_tokens_list,       A, NULL, STANDBY},
    {"DELETE", "/api/v1/tokens/{name}",                      api_token_revoke,      A, NULL, LEADER},
    {"GET",    "/api/v1/audit",                              api_audit_list,        A, NULL, STANDBY},

    {"GET",    "/api/v1/events",                             api_events_stream,     V, NULL, LEADER},
    /* plugins' console views (api_plugin_console.c) */
    {"GET",    "/api/v1/plugins/{name}/console/{file}",      api_plugin_console_get, V, NULL, STANDBY},

    {"GET",    "/api/v1/alarms",                             api_alarms_list,       V, NULL, STANDBY},
    {"POST",   "/api/v1/alarms/{id}/ack",                    api_alarm_ack,         O, NULL, LEADER},
    /* readiness (docs/observability.md); liveness is /api/v1/health */
    {"GET",    "/api/v1/ready",                              api_ready,             V, NULL, STANDBY},

    {"POST",   "/api/v1/runs",                               api_runs_submit,       O, &api_schema_runs, LEADER},
};

const pgd_api_route_t *pgd_api_routes(size_t *n) {
  *n = sizeof routes / sizeof routes[0];
  return routes;
}
