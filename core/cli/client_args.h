/* Pagoda — command line parsing for the `pagoda` executable (pure functions:
 * no I/O, no network), shared by main.c (routing) and the API client.
 *
 * Thread rules: every function is reentrant; nothing here keeps global state.
 */
#ifndef PAGODA_CLI_CLIENT_ARGS_H
#define PAGODA_CLI_CLIENT_ARGS_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

/* The API address used when neither --addr nor PAGODA_ADDR is given. */
#define PGD_CLI_DEFAULT_ADDR "http://127.0.0.1:7080"

/* What main() does with a command line. */
typedef enum {
  PGD_CLI_ROUTE_USAGE_ERROR = 0, /* no command, or misplaced global option: usage on stderr, exit 2 */
  PGD_CLI_ROUTE_UNKNOWN,         /* unknown command word: message + usage on stderr, exit 2 */
  PGD_CLI_ROUTE_VERSION,         /* `pagoda --version` / `-V` / `version` */
  PGD_CLI_ROUTE_HELP,            /* `pagoda --help` / `-h` / `help [CMD]` */
  PGD_CLI_ROUTE_CMD_HELP,        /* `pagoda dev|master|worker --help` (daemon usage) */
  PGD_CLI_ROUTE_DAEMON,          /* hand argv to pgd_daemon_main() */
  PGD_CLI_ROUTE_CLIENT           /* hand argv to pgd_client_main() */
} pgd_cli_route_t;

/* Decides how `argv` (main()'s argv) is handled. Leading client options
 * (`--addr URL`, `--addr=URL`, `--token T`, `--token=T`) are skipped to find the command word.
 * On return *cmd_index (may be NULL) is the index in argv of the command word
 * (for HELP: of the topic after `help`, or 0 when none; 0 when there is no
 * command). argv is borrowed for the call. */
pgd_cli_route_t pgd_cli_route(int argc, char **argv, int *cmd_index);

/* The most runs one `job run --count N` asks for (sent in batches). */
#define PGD_CLI_RUN_COUNT_MAX 1000000

/* The client commands. */
typedef enum {
  PGD_CLI_CMD_NONE = 0,
  PGD_CLI_JOB_CREATE,
  PGD_CLI_JOB_LIST,
  PGD_CLI_JOB_SHOW,
  PGD_CLI_JOB_RUN,
  PGD_CLI_JOB_DELETE,
  PGD_CLI_EXEC_LIST,
  PGD_CLI_EXEC_SHOW,
  PGD_CLI_EXEC_LOGS,
  PGD_CLI_EXEC_KILL,
  PGD_CLI_WORKER_LIST,
  PGD_CLI_WORKER_SHOW,
  PGD_CLI_WORKER_DRAIN,
  PGD_CLI_WORKER_UNDRAIN,
  PGD_CLI_PLUGIN_LIST,
  PGD_CLI_PLUGIN_CHECK,
  PGD_CLI_PLUGIN_TEST,
  PGD_CLI_BALANCER_LIST,
  PGD_CLI_BALANCER_RELOAD,
  PGD_CLI_FLOW_CREATE,  /* flows: added in 0.3 (issue 6) */
  PGD_CLI_FLOW_LIST,
  PGD_CLI_FLOW_SHOW,
  PGD_CLI_FLOW_DELETE,
  PGD_CLI_FLOW_RUN,
  PGD_CLI_FLOW_STATUS,
  PGD_CLI_FLOW_KILL,
  PGD_CLI_FLOW_RERUN,
  PGD_CLI_SCHED_CREATE, /* schedules: added in 0.3 (issue 7) */
  PGD_CLI_SCHED_LIST,
  PGD_CLI_SCHED_SHOW,
  PGD_CLI_SCHED_NEXT,
  PGD_CLI_SCHED_PAUSE,
  PGD_CLI_SCHED_RESUME,
  PGD_CLI_SCHED_RUN,
  PGD_CLI_SCHED_DELETE,
  PGD_CLI_RES_PUT, /* resources (issue 4) */
  PGD_CLI_RES_LIST,
  PGD_CLI_RES_GET,
  PGD_CLI_RES_VERSIONS,
  PGD_CLI_RES_DELETE,
  PGD_CLI_TOKEN_CREATE, /* tokens and the audit log (issue 12) */
  PGD_CLI_TOKEN_LIST,
  PGD_CLI_TOKEN_REVOKE,
  PGD_CLI_AUDIT_LIST,
  PGD_CLI_APPLY,  /* definitions as files (issue 16) */
  PGD_CLI_EXPORT,
  PGD_CLI_PLUGIN_PUSH, /* pushed plugins (issue 16) */
  PGD_CLI_PLUGIN_ROLLBACK,
  PGD_CLI_ALARM_LIST, /* alarms (issue 15) */
  PGD_CLI_ALARM_ACK,
  PGD_CLI_EXEC_DELETE /* retention (issue 16) */
} pgd_cli_cmd_t;

/* 1 when `word` names a client command group ("job", "exec", ...). */
int pgd_cli_is_client_group(const char *word);

/* Prints every command, one a line: the daemons ("dev"), then "GROUP SUB"
 * for each client command, in the table's order. For the bash completion
 * (`pagoda __commands`, packaging/bash-completion/pagoda), so that a new
 * command completes without editing the script. `out` borrowed. */
void pgd_cli_print_commands(FILE *out);

/* A parsed client command line. Strings are borrowed from argv (or from the
 * env_addr string given to the parser), `params` is owned by the structure
 * and released by pgd_cli_args_free(). */
typedef struct {
  pgd_cli_cmd_t cmd;
  const char *group;        /* "job", "exec", "worker", "plugin" */
  const char *addr;         /* API base URL, never NULL after a successful parse */
  const char *cacert;       /* --cacert FILE (borrowed from argv), or NULL: $PAGODA_CACERT */
  int help;                 /* --help / -h was given: print usage, do nothing */
  int json;                 /* --json (list commands) */
  const char *arg;          /* FILE (job create), NAME (job show/run/delete), ID */
  long long id;             /* exec show/logs/kill: the parsed execution id */
  const char *job_filter;   /* exec list --job */
  const char *state_filter; /* exec list --state */
  long limit;               /* exec list --limit, -1 when absent */
  int follow;               /* exec logs -f/--follow */
  int wait;                 /* job run --wait */
  cJSON *params;            /* job run, flow run: the {"params": ...} object (owned), else NULL */
  int from_failed;          /* flow rerun --from-failed */
  const char *nodes;        /* flow rerun --nodes a,b (comma-separated node ids) */
  long count;               /* schedule next --count N (1-100), job run --count N
                               (1-PGD_CLI_RUN_COUNT_MAX), -1 when absent */
  const char *params_file;  /* job run --params-file FILE (one params object a line), or NULL */
  const char *arg2;         /* the second positional argument (resource put NAME FILE) */
  const char *version;      /* resource get|delete --version HASH */
  const char *output;       /* resource get -o FILE */
  const char *params_text;  /* plugin test --params JSON (text, parsed by the command), or NULL */
  const char *type;         /* plugin test --type TYPE: the job type the file must provide */
  const char *token;        /* --token TOKEN (any command), or NULL: see client_token.h */
  const char *token_name;   /* token create --name */
  const char *role;         /* token create --role */
  const char *expires;      /* token create --expires DURATION */
  const char *since;        /* audit, exec list --since DURATION|µs|RFC 3339 */
  const char *by;           /* audit --by TOKEN_NAME */
  const char *route;        /* audit --route PATTERN */
  const char *before;       /* audit --before ID, alarm list --before ID */
  int dry_run;              /* apply --dry-run: print the changes, make none */
  int prune;                /* apply --prune: delete definitions no file names */
  const char *until;        /* exec list --until DURATION|µs|RFC 3339 */
  long long since_us;       /* exec list: --since resolved at parse (pgd_cli_time_arg), 0 = absent */
  long long until_us;       /* exec list: --until resolved at parse, 0 = absent */
} pgd_cli_args_t;

/* Parses a client command line. `argv` is main()'s argv (argv[0] the program
 * name); `env_addr` is the value of PAGODA_ADDR or NULL. `--addr URL` and
 * `--token TOKEN` may appear anywhere among the options (before a `--`). On success returns 0 and
 * fills *out (free it with pgd_cli_args_free()). On a usage error returns
 * -EINVAL and writes a one-line message into err (truncated to errlen);
 * *out is left empty (nothing to free, freeing is safe) except out->group,
 * set when the command group was recognised (to print that group's usage).
 * -ENOMEM when allocation fails. When --help is given the parse succeeds with
 * out->help set even if other arguments are missing. argv and env_addr are
 * borrowed and must outlive *out. */
int pgd_cli_args_parse(int argc, char **argv, const char *env_addr,
                       pgd_cli_args_t *out, char *err, size_t errlen);

/* Releases what *args owns and empties it. Safe on an emptied structure. */
void pgd_cli_args_free(pgd_cli_args_t *args);

/* Parses `KEY=VALUE` (KEY non-empty) into obj as a string member, replacing
 * any previous KEY. obj is borrowed. Returns 0, -EINVAL (no '=' or empty key)
 * or -ENOMEM. */
int pgd_cli_param_set(cJSON *obj, const char *kv);

/* Parses a decimal id in [1, 2^53]. Returns 0 and sets *out, or -EINVAL. */
int pgd_cli_parse_id(const char *s, long long *out);

/* Percent-encodes `s` (RFC 3986: keeps A-Z a-z 0-9 - . _ ~) for a URL path
 * segment or a query value. Returns a string owned by the caller (free()),
 * or NULL on allocation failure. s is borrowed. */
char *pgd_cli_url_escape(const char *s);

/* Builds the path and query of `exec list` from args->job_filter,
 * state_filter, limit, since_us and until_us:
 * "/api/v1/executions[?job=J][&state=S][&limit=N][&since=US][&until=US]",
 * values percent-encoded. Returns a string owned by the caller (free()), or
 * NULL on allocation failure. args is borrowed. */
char *pgd_cli_exec_list_path(const pgd_cli_args_t *args);
/* `alarm list` → "/api/v1/alarms[?state=S][&limit=N][&before=ID]" (caller
 * frees; NULL on allocation failure). */
char *pgd_cli_alarm_list_path(const pgd_cli_args_t *args);

/* Joins the base address and an API path ("/api/v1/..."), dropping trailing
 * slashes of base. Returns a string owned by the caller, or NULL on
 * allocation failure. */
char *pgd_cli_url_join(const char *base, const char *path);

#endif
