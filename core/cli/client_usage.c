/* Pagoda — usage text of the `pagoda` executable (see client_usage.h). */
#include "cli/client_usage.h"

#include <errno.h>
#include <string.h>

static const char k_daemons[] =
    "Daemons:\n"
    "  pagoda dev [OPTIONS]       master and worker in one process (SQLite, localhost)\n"
    "  pagoda master [OPTIONS]    the scheduler and the REST API\n"
    "  pagoda worker [OPTIONS]    an agent that runs jobs for a master\n";

static const char k_job[] =
    "Jobs:\n"
    "  pagoda job create FILE|-                         create or replace a job from JSON\n"
    "  pagoda job list [--json]                         list jobs\n"
    "  pagoda job show NAME                             print a job as JSON\n"
    "  pagoda job run NAME [--param KEY=VALUE]... [--params-json JSON] [--wait]\n"
    "                                                   run a job now; print the execution id\n"
    "                                                   (--wait: wait for the end, print the\n"
    "                                                   state, exit 0 only if it succeeded)\n"
    "  pagoda job run NAME --count N | --params-file FILE [--param ...] [--wait]\n"
    "                                                   N runs ($PAGODA_RUN_INDEX 0..N-1), or\n"
    "                                                   one per line of JSON params; print ids\n"
    "  pagoda job delete NAME                           delete a job\n";

static const char k_exec[] =
    "Executions:\n"
    "  pagoda exec list [--job J] [--state S] [--limit N] [--since T] [--until T] [--json]\n"
    "                                                   list executions\n"
    "  pagoda exec show ID                              print an execution and its attempts\n"
    "  pagoda exec logs ID [-f|--follow]                print the log (-f: until it ends)\n"
    "  pagoda exec kill ID                              ask for an execution to be killed\n"
    "  pagoda exec delete ID                            delete a final execution and its log (admin)\n";

static const char k_worker[] =
    "Workers:\n"
    "  pagoda worker list [--json]                      list workers\n"
    "  pagoda worker show ID                            print a worker as JSON\n"
    "  pagoda worker drain ID                           stop sending new jobs to a worker\n"
    "  pagoda worker undrain ID                         let a drained worker take jobs again\n";

static const char k_plugin[] =
    "Plugins:\n"
    "  pagoda plugin list [--json]                      list job type plugins (and refusals)\n"
    "  pagoda plugin check FILE.so                      load a plugin here and print its type,\n"
    "                                                   version, ABI and what it implements, or\n"
    "                                                   why it is refused (exit 1)\n"
    "  pagoda plugin test FILE.so [--params JSON] [--type TYPE]\n"
    "                                                   run the plugin's schema check, validate,\n"
    "                                                   expand and describe_process here, on\n"
    "                                                   params JSON (default {}); print the request\n"
    "                                                   and process as JSON (exit 1 on an error)\n"
    "  pagoda plugin push FILE.so                       (admin) deploy a plugin to the whole\n"
    "                                                   cluster: the master checks, probes and\n"
    "                                                   loads it, every worker fetches it by\n"
    "                                                   SHA-256; it becomes its type's active version\n"
    "  pagoda plugin rollback TYPE                      (admin) make the previous pushed version\n"
    "                                                   of TYPE active again\n";

static const char k_balancer[] =
    "Balancers:\n"
    "  pagoda balancer list [--json]                    list balancers, their files and last errors\n"
    "  pagoda balancer reload                           rescan the balancer scripts now\n";

static const char k_schedule[] =
    "Schedules:\n"
    "  pagoda schedule create FILE|-                    create or replace a schedule from JSON\n"
    "  pagoda schedule list [--json]                    list schedules with their next fire time\n"
    "  pagoda schedule show NAME                        print a schedule, its next 5 fire times\n"
    "                                                   and its last runs, as JSON\n"
    "  pagoda schedule next NAME [--count N]            print the next N (default 5) fire times\n"
    "  pagoda schedule pause|resume NAME                stop or restart firing\n"
    "  pagoda schedule run NAME                         start the target now; print the id\n"
    "  pagoda schedule delete NAME                      delete a schedule and its run records\n";

static const char k_flow[] =
    "Flows:\n"
    "  pagoda flow create FILE|-                        create or replace a flow from JSON\n"
    "  pagoda flow list [--json]                        list flows\n"
    "  pagoda flow show NAME                            print a flow as JSON\n"
    "  pagoda flow delete NAME                          delete a flow (its history stays)\n"
    "  pagoda flow run NAME [--param KEY=VALUE]... [--params-json JSON] [--wait]\n"
    "                                                   start a flow execution; print its id\n"
    "                                                   (--wait: wait for the end, print the\n"
    "                                                   nodes, exit 0 only if it succeeded)\n"
    "  pagoda flow status ID [--json]                   a flow execution's nodes as a table\n"
    "  pagoda flow kill ID                              kill a flow execution\n"
    "  pagoda flow rerun ID --from-failed|--nodes a,b   re-run a finished flow execution's\n"
    "                                                   failed nodes (or these) and what follows\n";

static const char k_resource[] =
    "Resources (files jobs list in \"resources\"):\n"
    "  pagoda resource put NAME FILE|-                  upload a file; prints its version (hash)\n"
    "  pagoda resource list [--json]                    list resources\n"
    "  pagoda resource get NAME [--version H] [-o FILE] download the latest (or one) version\n"
    "  pagoda resource versions NAME                    print the versions as JSON\n"
    "  pagoda resource delete NAME [--version H]        delete a resource (or one version)\n";

static const char k_token[] =
    "Tokens and the audit log (admin):\n"
    "  pagoda token create --name N --role R [--expires D]  create a token (viewer, operator,\n"
    "                                                   admin); printed once. D: 90s 15m 12h 30d\n"
    "  pagoda token list [--json]                       list tokens (never the tokens themselves)\n"
    "  pagoda token revoke NAME                         revoke a token at once\n"
    "  pagoda audit [--since D|US] [--by NAME] [--route PATTERN] [--limit N] [--before ID] [--json]\n"
    "                                                   every change: who, what, when, from where\n";

static const char k_apply[] =
    "Definitions as files (docs/cli.md \"Definitions as files\"):\n"
    "  pagoda apply -f FILE|DIR [--dry-run] [--prune]   create or replace the jobs, flows,\n"
    "                                                   schedules and resources the files define;\n"
    "                                                   print what changes (--dry-run: change\n"
    "                                                   nothing; --prune: also delete what no\n"
    "                                                   file in DIR defines)\n"
    "  pagoda export DIR                                write every definition as files apply reads\n";
static const char k_alarm[] =
    "Alarms (docs/alarms.md):\n"
    "  pagoda alarm list [--state S] [--limit N] [--before ID] [--json]\n"
    "                                                   alarms newest first with each channel's\n"
    "                                                   delivery; S: pending delivered failed dropped acked\n"
    "  pagoda alarm ack ID                              acknowledge: stop its pending deliveries\n";

static const char k_client_opts[] =
    "Client options (before the command or among its options):\n"
    "  --addr URL     the Pagoda API (default: $PAGODA_ADDR, else http://127.0.0.1:7080)\n"
    "  --cacert FILE  CA certificate (PEM) for an https:// API (default: $PAGODA_CACERT)\n"
    "  --token T      the API token (default: $PAGODA_TOKEN, $PAGODA_TOKEN_FILE,\n"
    "                 ~/.config/pagoda/token, ./pagoda-dev-data/admin.token for 127.0.0.1)\n"
    "  --json         list commands: print the server's JSON instead of a table\n"
    "  -h, --help     print this help\n";

static const char k_tail[] =
    "Other:\n"
    "  pagoda --version           print the version\n"
    "  pagoda help [COMMAND]      print this help, or one command's\n"
    "\n"
    "Exit codes: 0 success, 1 failure (API error, unreachable API, a waited-for run that\n"
    "did not succeed), 2 usage error. See docs/cli.md.\n";

static const char k_daemon_common[] =
    "  --config FILE          read a libconfig file (default: $PAGODA_CONFIG, else for master\n"
    "                         and worker the installed etc/pagoda/pagoda.conf; see conf/pagoda.conf);\n"
    "                         the flags below override it\n"
    "  --plugins DIR          job-type plugins directory (default: ./plugins next to the\n"
    "                         executable in a build tree, else the installed one)\n"
    "  --secret-file FILE     cluster secret (first line of FILE; or $PAGODA_SECRET, or\n"
    "                         cluster.secret_file); master and workers prove it, never send it\n"
    "  --secret S             the same on the command line (visible in ps: warns; avoid)\n"
    "  --kill-grace-ms N      SIGTERM -> SIGKILL grace on kill and timeout (default 5000)\n"
    "  --plugin-load-timeout-ms N  a plugin file that does not load within N ms is\n"
    "                         killed and refused (default 5000)\n"
    "  --heartbeat-ms N       worker heartbeat interval (default 1000)\n"
    "  --log-level L          debug, info, warn or error (default info)\n"
    "  --log-format F         text or json: one JSON object a line (default text)\n"
    "  --insecure             allow plain HTTP or RPC on a non-loopback address (warned at every\n"
    "                         start; docs/security.md)\n";

static const char k_dev_opts[] =
    "Options of pagoda dev:\n"
    "  --http HOST:PORT       REST API address (default 127.0.0.1:7080; port 0 = any free)\n"
    "  --console DIR          the web console's files, served at / (default: ./console next\n"
    "                         to the executable, else the installed one; \"off\" = none)\n"
    "  --data DIR             data directory (default ./pagoda-dev-data)\n"
    "  --slots N              slots of the embedded worker (default 4 per CPU core)\n"
    "  --example              create and run the example job 'hello' and print its log\n"
    "  --labels a,b           labels of the embedded worker\n"
    "  --balancers DIR        balancer scripts; --default-balancer NAME (default least_loaded)\n"
    "  --allowed-users a,b    users jobs may name in run_as (pagoda must run as root)\n"
    "  --http-tls-cert FILE   serve the REST API in HTTPS: PEM certificate; with\n"
    "  --http-tls-key FILE    its PEM private key (docs/security.md)\n"
    "  --no-cgroups           contain attempts without cgroups; --cgroup-root PATH\n";

static const char k_master_opts[] =
    "Options of pagoda master:\n"
    "  --http HOST:PORT       REST API address (default 127.0.0.1:7080)\n"
    "  --console DIR          the web console's files, served at / (default: ./console next\n"
    "                         to the executable, else the installed one; \"off\" = none)\n"
    "  --rpc HOST:PORT        address workers connect to (default 127.0.0.1:7081)\n"
    "  --data DIR             data directory: pagoda.db and logs/ (default /var/lib/pagoda/master)\n"
    "  --recovery-grace-ms N  after a start, time workers have to claim running executions\n"
    "  --store-postgres CONN  keep the state in PostgreSQL (libpq conninfo) instead of SQLite\n"
    "  --balancers DIR        balancer scripts (default: balancers next to the config file,\n"
    "                         or conf/balancers of the source tree)\n"
    "  --default-balancer N   balancer of jobs that name none (default least_loaded)\n"
    "  --ha-zookeeper H:P,..  high availability: run for leader in ZooKeeper (needs\n"
    "                         --store-postgres); --ha-cluster NAME (default \"default\"),\n"
    "                         --ha-session-ms N (default 10000). See docs/ha.md\n"
    "  --http-tls-cert FILE   serve the REST API in HTTPS: PEM certificate; with\n"
    "  --http-tls-key FILE    its PEM private key (docs/security.md)\n"
    "  --rpc-tls-cert FILE    workers connect over TLS: certificate chain (PEM), with\n"
    "  --rpc-tls-key FILE     its private key; --rpc-tls-client-ca FILE also requires\n"
    "                         worker certificates signed by that CA (docs/security.md)\n";

static const char k_worker_opts[] =
    "Options of pagoda worker:\n"
    "  --master HOST:PORT     the master's RPC address (default 127.0.0.1:7081)\n"
    "  --data DIR             data directory holding the stable worker id (default\n"
    "                         /var/lib/pagoda/worker)\n"
    "  --id ID                worker id (default: generated once, kept in DIR/worker.id)\n"
    "  --slots N              executions at once (default: CPU cores)\n"
    "  --labels a,b           labels of this worker\n"
    "  --allowed-users a,b    users jobs may name in run_as (the worker must run as root)\n"
    "  --no-cgroups           contain attempts without cgroups (/proc scan; no limits)\n"
    "  --cgroup-root PATH     per-worker cgroup under PATH in each hierarchy (default:\n"
    "                         the worker's own cgroup); see docs/operations.md\n"
    "  --ha-zookeeper H:P,..  find the leader in ZooKeeper instead of --master, and follow\n"
    "                         it; --ha-cluster NAME, --ha-session-ms N (docs/ha.md)\n"
    "  --tls-ca FILE          connect to the master over TLS, verifying its certificate\n"
    "                         against this CA (also trusted for the master's HTTPS port);\n"
    "                         --tls-cert FILE --tls-key FILE for mutual TLS\n"
    "  --http-ca FILE         CA trusted for the master's HTTPS port only (resource downloads)\n"
    "  --stop-grace-ms N      on SIGTERM, running jobs get N ms to end before the master\n"
    "                         relaunches them elsewhere (default 30000; docs/operations.md)\n"
    "  --metrics-addr ADDR    serve Prometheus metrics at http://ADDR/metrics (PORT or\n"
    "                         HOST:PORT; off by default; docs/observability.md)\n";

int pgd_cli_usage_has_topic(const char *topic) {
  static const char *topics[] = {"dev", "master", "worker", "job", "exec", "plugin", "balancer", "flow",
                                 "schedule", "resource", "token", "audit", "apply", "export", "alarm"};
  if (!topic) return 0;
  for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
    if (strcmp(topic, topics[i]) == 0) return 1;
  return 0;
}

int pgd_cli_usage(FILE *out, const char *topic) {
  if (!out) return -EINVAL;
  if (topic && (strcmp(topic, "dev") == 0 || strcmp(topic, "master") == 0)) {
    fprintf(out, "Usage: pagoda %s [OPTIONS]\n\n%s\n%s%s", topic, k_daemons,
            strcmp(topic, "dev") == 0 ? k_dev_opts : k_master_opts, k_daemon_common);
    return 0;
  }
  if (topic && strcmp(topic, "worker") == 0) {
    fprintf(out, "Usage: pagoda worker [OPTIONS]\n       pagoda worker list|show|drain|undrain ...\n\n"
                 "%s\n%s%s\n%s\n%s", k_daemons, k_worker_opts, k_daemon_common, k_worker, k_client_opts);
    return 0;
  }
  if (topic && strcmp(topic, "job") == 0) {
    fprintf(out, "Usage: pagoda job COMMAND ...\n\n%s\n%s", k_job, k_client_opts);
    return 0;
  }
  if (topic && (strcmp(topic, "exec") == 0)) {
    fprintf(out, "Usage: pagoda exec COMMAND ...\n\n%s\n%s", k_exec, k_client_opts);
    return 0;
  }
  if (topic && strcmp(topic, "balancer") == 0) {
    fprintf(out, "Usage: pagoda balancer COMMAND ...\n\n%s\n%s", k_balancer, k_client_opts);
    return 0;
  }
  if (topic && strcmp(topic, "schedule") == 0) {
    fprintf(out, "Usage: pagoda schedule COMMAND ...\n\n%s\n%s", k_schedule, k_client_opts);
    return 0;
  }
  if (topic && strcmp(topic, "flow") == 0) {
    fprintf(out, "Usage: pagoda flow COMMAND ...\n\n%s\n%s", k_flow, k_client_opts);
    return 0;
  }
  if (topic && strcmp(topic, "resource") == 0) {
    fprintf(out, "Usage: pagoda resource COMMAND ...\n\n%s\n%s", k_resource, k_client_opts);
    return 0;
  }
  if (topic && (strcmp(topic, "token") == 0 || strcmp(topic, "audit") == 0)) {
    fprintf(out, "Usage: pagoda %s ...\n\n%s\n%s", topic, k_token, k_client_opts);
    return 0;
  }
  if (topic && (strcmp(topic, "apply") == 0 || strcmp(topic, "export") == 0)) {
    fprintf(out, "Usage: pagoda %s ...\n\n%s\n%s", topic, k_apply, k_client_opts);
    return 0;
  }
  if (topic && strcmp(topic, "alarm") == 0) {
    fprintf(out, "Usage: pagoda alarm COMMAND ...\n\n%s\n%s", k_alarm, k_client_opts);
    return 0;
  }
  if (topic && strcmp(topic, "plugin") == 0) {
    fprintf(out, "Usage: pagoda plugin COMMAND ...\n\n%s\n%s", k_plugin, k_client_opts);
    return 0;
  }
  fprintf(out, "Usage: pagoda COMMAND [ARGS...]\n\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s",
          k_daemons, k_job, k_exec, k_flow, k_schedule, k_resource, k_apply, k_worker, k_plugin,
          k_balancer, k_token, k_alarm, k_client_opts, k_tail);
  return topic ? -ENOENT : 0;
}
