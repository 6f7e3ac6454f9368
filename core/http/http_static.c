/* Pagoda — static files (the web console) served by lws from opts.static_dir.
 * Only regular files inside the directory are served: ".." segments are
 * refused before the file system is asked, and the resolved path (symlinks
 * followed) must still lie under the directory. Loop thread. */
#include "http/httpd_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Headers sent with every file: the browser must not guess types (a
 * text file sniffed as script) and pages may not be framed by others. The
 * console is revalidated on each load so an upgrade takes effect at once. */
#define STATIC_HEADERS                                                            \
  "X-Content-Type-Options: nosniff\x0d\x0a"                                        \
  "X-Frame-Options: DENY\x0d\x0a"                                                  \
  "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "            \
  "frame-ancestors 'none'\x0d\x0a"                                                 \
  "Cache-Control: no-cache\x0d\x0a"

/* The types the console's files need, by extension; others are asked of lws
 * (ES modules are refused by browsers unless served as JavaScript). */
static const struct { const char *ext, *type; } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".txt", "text/plain; charset=utf-8"},
      {".map", "application/json"},
};

/* The type of `file` from the table above, or NULL. */
static const char *known_type(const char *file) {
  const char *slash = strrchr(file, '/');
  const char *dot = strrchr(slash ? slash : file, '.');
  if (dot)
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
      if (strcmp(dot, types[i].ext) == 0) return types[i].type;
  return NULL;
}

static const char *mime_of(const char *file) {
  const char *t = known_type(file);
  if (t) return t;
  const char *m = lws_get_mimetype(file, NULL);
  return m ? m : "application/octet-stream";
}

/* A page route: the last segment does not end in the extension of an asset
 * type ("/", "/jobs/x", "/jobs/nightly.v2" — names may hold dots). */
static bool is_page_route(const char *path) { return known_type(path) == NULL; }

/* Does `path` (under the root) name a file? Fills `full` with it (a
 * directory's index.html). */
static bool find_file(const pgd_httpd_t *h, const char *path, char *full, size_t cap) {
  struct stat st;
  int n = snprintf(full, cap, "%s%s", h->static_dir, path);
  if (n < 0 || (size_t)n >= cap || stat(full, &st) != 0) return false;
  if (S_ISDIR(st.st_mode)) {
    n = snprintf(full, cap, "%s%s%sindex.html", h->static_dir, path,
                 path[strlen(path) - 1] == '/' ? "" : "/");
    if (n < 0 || (size_t)n >= cap || stat(full, &st) != 0) return false;
  }
  return S_ISREG(st.st_mode);
}

int pgd_http__try_static(pgd_httpd_t *h, struct lws *wsi, const char *path, int *rc) {
  char full[PATH_MAX];
  *rc = 0;
  if (!h->static_dir || path[0] != '/' || strstr(path, "/..")) return 0;
  if (!find_file(h, path, full, sizeof full)) {
    if (!h->page_fallback || !is_page_route(path) || !find_file(h, "/index.html", full, sizeof full))
      return 0;
  }

  /* Refuse symlinks that lead out of the directory. */
  char *real = realpath(full, NULL);
  if (!real) return 0;
  size_t rootlen = strlen(h->static_dir);
  if (strncmp(real, h->static_dir, rootlen) != 0 || real[rootlen] != '/') {
    free(real);
    return 0;
  }
  int r = lws_serve_http_file(wsi, real, mime_of(real), STATIC_HEADERS,
                              (int)strlen(STATIC_HEADERS));
  free(real);
  if (r < 0 || (r > 0 && lws_http_transaction_completed(wsi))) *rc = -1;
  return 1;
}
