/* Pagoda daemon — the alarm service's wiring (docs/alarms.md): the
 * configuration group master.alarms read as JSON, and the default
 * directory of the Lua alarm hooks.
 * Thread rules: called on the daemon's main (loop) thread. */
#ifndef PAGODA_CLI_DAEMON_ALARMS_H
#define PAGODA_CLI_DAEMON_ALARMS_H

#include <libconfig.h>

#include <cjson/cJSON.h>

/* The setting `path` of `c` (a group, list, array or scalar) as JSON: a
 * group becomes an object, a list or array an array; NULL when absent.
 * Caller owns. */
cJSON *pgd_daemon_config_json(const config_t *c, const char *path);

/* The alarm hooks directory when master.alarms.hooks_dir is not set:
 * "alarms" next to the config file if it exists; else ../conf/alarms beside
 * a build tree's executable if it exists; else
 * <sysconfdir>/pagoda/alarms. `config_path` nullable. Caller frees. */
char *pgd_daemon_alarm_hooks_dir(const char *config_path);

#endif
