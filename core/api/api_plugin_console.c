/* Pagoda API — plugins' own console views (docs/plugins.md "Console
 * views", docs/architecture.md "Plugin console views").
 *
 * A plugin `<dir>/<stem>.so` may ship views as self-contained HTML files in
 * the directory `<dir>/<stem>.console/` beside it: `form.html` (a form for
 * its params, shown by the job editor) and `result.html` (a view of an
 * execution's result, shown on the execution page). The master lists the
 * views it finds in GET /api/v1/plugins ("console") and serves them under
 * /api/v1/plugins/{type}/console/{view}.html with a Content-Security-Policy
 * that sandboxes the page (opaque origin, scripts only), lets it load and
 * connect to nothing, and lets only the console frame it: a view gets its
 * data from the console through postMessage and cannot reach the API.
 * Loop thread only (the files are small and local, read like the console's
 * own static files). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api_int.h"
#include "common/json.h"

#define VIEW_MAX_BYTES (512 * 1024) /* a view is one HTML file: script and style inline */

/* The views a plugin may ship, in the order GET /api/v1/plugins lists them. */
static const char *const VIEWS[] = {"form", "result"};
#define NVIEWS (sizeof VIEWS / sizeof VIEWS[0])

/* The CSP of a view: no network at all (default-src 'none', so fetch,
 * images, fonts and frames are refused), inline script and style only, no
 * form posts, framed by the console's own pages only, and sandboxed (an
 * opaque origin even when opened outside the console's iframe). */
static const char VIEW_CSP[] =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data:; form-action 'none'; base-uri 'none'; frame-ancestors 'self'; "
    "sandbox allow-scripts";

/* "<dir>/<stem>.console/<view>.html" for the plugin file `so_file` into
 * `out`; false when it does not fit or the file is not a .so. */
static bool view_path(const char *so_file, const char *view, char *out, size_t cap) {
  size_t n = strlen(so_file);
  if (n < 4 || strcmp(so_file + n - 3, ".so") != 0) return false;
  int w = snprintf(out, cap, "%.*s.console/%s.html", (int)(n - 3), so_file, view);
  return w > 0 && (size_t)w < cap;
}

static bool is_regular_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void api_plugins_add_console(cJSON *plugins) {
  cJSON *p;
  cJSON_ArrayForEach(p, plugins) {
    const char *file = pgd_json_str(p, "file");
    const char *status = pgd_json_str(p, "status");
    if (!file || !status || strcmp(status, "loaded") != 0) continue;
    cJSON *views = cJSON_CreateArray();
    char path[4096];
    for (size_t i = 0; views && i < NVIEWS; i++)
      if (view_path(file, VIEWS[i], path, sizeof path) && is_regular_file(path))
        cJSON_AddItemToArray(views, cJSON_CreateString(VIEWS[i]));
    if (views) cJSON_AddItemToObject(p, "console", views);
  }
}

/* The view named by "{view}.html", or NULL. */
static const char *view_of(const char *file) {
  for (size_t i = 0; i < NVIEWS; i++) {
    size_t n = strlen(VIEWS[i]);
    if (strncmp(file, VIEWS[i], n) == 0 && strcmp(file + n, ".html") == 0) return VIEWS[i];
  }
  return NULL;
}

/* The whole file at `path` (at most VIEW_MAX_BYTES) into *out (malloc'd,
 * owned by the caller); 0 or a negative errno (-EFBIG when too large). */
static int read_view(const char *path, char **out, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -errno;
  struct stat st;
  int rc = 0;
  if (fstat(fd, &st) != 0) rc = -errno;
  else if (!S_ISREG(st.st_mode)) rc = -ENOENT;
  else if (st.st_size > VIEW_MAX_BYTES) rc = -EFBIG;
  char *buf = rc == 0 ? malloc((size_t)st.st_size + 1) : NULL;
  if (rc == 0 && !buf) rc = -ENOMEM;
  size_t got = 0;
  while (rc == 0 && got < (size_t)st.st_size) {
    ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) rc = k < 0 ? -errno : -EIO;
    else got += (size_t)k;
  }
  close(fd);
  if (rc != 0) {
    free(buf);
    return rc;
  }
  *out = buf;
  *len = got;
  return 0;
}

/* GET /api/v1/plugins/{name}/console/{file} */
void api_plugin_console_get(api_req_t *r) {
  const char *type = r->params[0];
  const char *view = view_of(r->params[1]);
  if (!view) {
    pgd_http_respond_error(r->req, 404, "a plugin's console views are form.html and result.html");
    return;
  }
  const char *file = NULL;
  cJSON *plugins = pgd_master_plugins(r->m);
  cJSON *p;
  cJSON_ArrayForEach(p, plugins) {
    const char *t = pgd_json_str(p, "type"), *st = pgd_json_str(p, "status");
    if (t && st && strcmp(t, type) == 0 && strcmp(st, "loaded") == 0) file = pgd_json_str(p, "file");
  }
  char path[4096];
  char *body = NULL;
  size_t len = 0;
  int rc = file && view_path(file, view, path, sizeof path) ? read_view(path, &body, &len) : -ENOENT;
  cJSON_Delete(plugins);
  if (rc == -ENOENT || rc == -ELOOP || rc == -ENOTDIR) {
    pgd_http_respond_error(r->req, 404, "job type '%.100s' has no console view '%s'", type, view);
    return;
  }
  if (rc != 0) {
    pgd_http_respond_error(r->req, 500, "cannot read the %s view of '%.100s' (%s)", view, type,
                           strerror(-rc));
    return;
  }
  pgd_http_req_add_header(r->req, "Content-Security-Policy", VIEW_CSP);
  pgd_http_req_add_header(r->req, "X-Content-Type-Options", "nosniff");
  pgd_http_req_add_header(r->req, "Referrer-Policy", "no-referrer");
  pgd_http_req_add_header(r->req, "Cache-Control", "no-cache");
  pgd_http_respond(r->req, 200, "text/html; charset=utf-8", body, len);
  free(body);
}
