/* Pagoda daemon — alarm wiring helpers (daemon_alarms.h). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/daemon_alarms.h"

static cJSON *setting_json(const config_setting_t *s) {
  switch (config_setting_type(s)) {
  case CONFIG_TYPE_INT:
    return cJSON_CreateNumber((double)config_setting_get_int(s));
  case CONFIG_TYPE_INT64:
    return cJSON_CreateNumber((double)config_setting_get_int64(s));
  case CONFIG_TYPE_FLOAT:
    return cJSON_CreateNumber(config_setting_get_float(s));
  case CONFIG_TYPE_BOOL:
    return cJSON_CreateBool(config_setting_get_bool(s));
  case CONFIG_TYPE_STRING:
    return cJSON_CreateString(config_setting_get_string(s));
  case CONFIG_TYPE_GROUP: {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; o && i < config_setting_length(s); i++) {
      const config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
      cJSON *v = setting_json(e);
      if (v && config_setting_name(e)) cJSON_AddItemToObject(o, config_setting_name(e), v);
      else cJSON_Delete(v);
    }
    return o;
  }
  case CONFIG_TYPE_LIST:
  case CONFIG_TYPE_ARRAY: {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < config_setting_length(s); i++) {
      cJSON *v = setting_json(config_setting_get_elem(s, (unsigned)i));
      if (v) cJSON_AddItemToArray(a, v);
    }
    return a;
  }
  default:
    return NULL;
  }
}

cJSON *pgd_daemon_config_json(const config_t *c, const char *path) {
  const config_setting_t *s = config_lookup(c, path);
  return s ? setting_json(s) : NULL;
}

static char *dir_if_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? strdup(path) : NULL;
}

char *pgd_daemon_alarm_hooks_dir(const char *config_path) {
  char path[PATH_MAX], *d;
  if (config_path) {
    const char *slash = strrchr(config_path, '/');
    snprintf(path, sizeof path, "%.*salarms", slash ? (int)(slash - config_path + 1) : 0,
             config_path);
    if ((d = dir_if_exists(path))) return d;
  }
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 32);
  if (n > 0) {
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) {
      strcpy(slash, "/../conf/alarms");
      if ((d = dir_if_exists(exe))) return d;
    }
  }
  snprintf(path, sizeof path, "%s/alarms", PAGODA_CONF_INSTALL_DIR);
  return strdup(path);
}
