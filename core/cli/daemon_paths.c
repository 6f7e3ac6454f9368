/* Pagoda — where a daemon finds its files (see daemon_paths.h). */
#include "cli/daemon_paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The relative paths from the installed bindir, and the absolute install
 * locations, come from core/CMakeLists.txt (one computation of the layout). */
typedef struct {
  const char *relative; /* from the executable's directory */
  const char *absolute;
} install_place_t;

static install_place_t place_of(pgd_path_kind_t kind) {
  switch (kind) {
    case PGD_PATH_PLUGINS: return (install_place_t){PAGODA_REL_PLUGIN_DIR, PAGODA_PLUGIN_INSTALL_DIR};
    case PGD_PATH_CONSOLE: return (install_place_t){PAGODA_REL_CONSOLE_DIR, PAGODA_CONSOLE_INSTALL_DIR};
    case PGD_PATH_CONF: return (install_place_t){PAGODA_REL_CONF_DIR, PAGODA_CONF_INSTALL_DIR};
    case PGD_PATH_STATE: return (install_place_t){PAGODA_REL_STATE_DIR, PAGODA_STATE_INSTALL_DIR};
  }
  return (install_place_t){NULL, NULL};
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The running executable's directory into buf (no trailing slash); 0 or -1. */
static int exe_dir(char *buf, size_t len) {
  ssize_t n = readlink("/proc/self/exe", buf, len - 1);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *slash = strrchr(buf, '/');
  if (!slash) return -1;
  *slash = 0;
  return 0;
}

/* dir/rel, if it exists as a directory; NULL otherwise. Caller frees. */
static char *existing_under(const char *dir, const char *rel) {
  char path[PATH_MAX];
  if (!rel || !*rel) return NULL;
  if (snprintf(path, sizeof path, "%s/%s", dir, rel) >= (int)sizeof path) return NULL;
  if (!is_dir(path)) return NULL;
  char *canon = realpath(path, NULL); /* shown in logs: no "bin/../" */
  return canon ? canon : strdup(path);
}

char *pgd_daemon_install_dir(pgd_path_kind_t kind, const char *beside, int or_default) {
  install_place_t p = place_of(kind);
  char dir[PATH_MAX];
  if (exe_dir(dir, sizeof dir) == 0) {
    char *found = beside ? existing_under(dir, beside) : NULL;
    if (!found) found = existing_under(dir, p.relative);
    if (found) return found;
  }
  if (p.absolute && (or_default || is_dir(p.absolute))) return strdup(p.absolute);
  return NULL;
}

char *pgd_daemon_default_config(void) {
  char dir[PATH_MAX];
  if (exe_dir(dir, sizeof dir) < 0) return NULL;
  /* A build tree (plugins/ beside the executable) is never configured by
   * an etc/pagoda that happens to sit at the relative place. */
  char *build_tree = existing_under(dir, "plugins");
  if (build_tree) {
    free(build_tree);
    return NULL;
  }
  char *conf = existing_under(dir, PAGODA_REL_CONF_DIR);
  if (!conf) return NULL;
  char path[PATH_MAX];
  int n = snprintf(path, sizeof path, "%s/pagoda.conf", conf);
  free(conf);
  if (n >= (int)sizeof path || access(path, R_OK) != 0) return NULL;
  return strdup(path);
}
