/* Pagoda — the `pagoda` executable: daemons (dev, master, worker) and the
 * API client (job, exec, worker list|show|drain|undrain, plugin).
 *
 * Exit codes: 0 success, 1 failure, 2 usage error (docs/cli.md).
 */
#include <stdio.h>
#include <string.h>

#include "cli/client.h"
#include "cli/client_args.h"
#include "cli/client_usage.h"
#include "cli/daemon.h"
#include "cli/inproc_main.h"
#include "worker/inproc_child.h"

int main(int argc, char **argv) {
  int idx = 0;
  /* A worker's in-process executor run in a child (not a user command). */
  if (argc > 1 && strcmp(argv[1], PGD_INPROC_CHILD_ARG) == 0) return pgd_inproc_main(argc, argv);
  /* The command list for the bash completion (not a user command). */
  if (argc == 2 && strcmp(argv[1], "__commands") == 0) {
    pgd_cli_print_commands(stdout);
    return PGD_CLI_EXIT_OK;
  }
  switch (pgd_cli_route(argc, argv, &idx)) {
    case PGD_CLI_ROUTE_VERSION:
      printf("pagoda %s\n", PAGODA_VERSION);
      return PGD_CLI_EXIT_OK;
    case PGD_CLI_ROUTE_HELP:
      if (idx > 0 && !pgd_cli_usage_has_topic(argv[idx])) {
        fprintf(stderr, "pagoda: no help for unknown command '%s'\n\n", argv[idx]);
        pgd_cli_usage(stderr, NULL);
        return PGD_CLI_EXIT_USAGE;
      }
      pgd_cli_usage(stdout, idx > 0 ? argv[idx] : NULL);
      return PGD_CLI_EXIT_OK;
    case PGD_CLI_ROUTE_CMD_HELP:
      pgd_cli_usage(stdout, argv[idx]);
      return PGD_CLI_EXIT_OK;
    case PGD_CLI_ROUTE_DAEMON:
      return pgd_daemon_main(argc, argv);
    case PGD_CLI_ROUTE_CLIENT:
      return pgd_client_main(argc, argv);
    case PGD_CLI_ROUTE_UNKNOWN:
      fprintf(stderr, "pagoda: unknown command '%s'\n\n", argv[idx]);
      pgd_cli_usage(stderr, NULL);
      return PGD_CLI_EXIT_USAGE;
    case PGD_CLI_ROUTE_USAGE_ERROR:
      break;
  }
  if (idx > 0)
    fprintf(stderr, "pagoda: --addr applies to the client commands, not to '%s'\n\n", argv[idx]);
  else if (argc > 1)
    fprintf(stderr, "pagoda: no command given\n\n");
  pgd_cli_usage(stderr, NULL);
  return PGD_CLI_EXIT_USAGE;
}
