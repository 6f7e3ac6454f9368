/* Pagoda — static files (the web UI) served by lws from opts.static_dir. */
#include "http/httpd_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int pgd_http__try_static(pgd_httpd_t *h, struct lws *wsi, const char *path, int *rc) {
  char full[PATH_MAX];
  struct stat st;
  *rc = 0;
  if (!h->static_dir || path[0] != '/' || strstr(path, "/..")) return 0;
  int n = snprintf(full, sizeof(full), "%s%s", h->static_dir, path);
  if (n < 0 || (size_t)n >= sizeof(full)) return 0;
  if (stat(full, &st) != 0) return 0;
  if (S_ISDIR(st.st_mode)) {
    n = snprintf(full, sizeof(full), "%s%s%sindex.html", h->static_dir, path,
                 path[strlen(path) - 1] == '/' ? "" : "/");
    if (n < 0 || (size_t)n >= sizeof(full) || stat(full, &st) != 0) return 0;
  }
  if (!S_ISREG(st.st_mode)) return 0;

  /* Refuse symlinks that lead out of the directory. */
  char *real = realpath(full, NULL);
  if (!real) return 0;
  size_t rootlen = strlen(h->static_dir);
  if (strncmp(real, h->static_dir, rootlen) != 0 || real[rootlen] != '/') {
    free(real);
    return 0;
  }
  const char *mime = lws_get_mimetype(real, NULL);
  int r = lws_serve_http_file(wsi, real, mime ? mime : "application/octet-stream", NULL, 0);
  free(real);
  if (r < 0 || (r > 0 && lws_http_transaction_completed(wsi))) *rc = -1;
  return 1;
}
