/* Pagoda API — resources: upload (PUT, the raw body), download, list,
 * versions, delete (docs/api.md "Resources", docs/resources.md). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_int.h"
#include "master/storage.h"

/* The {name} of the path, or NULL after answering 400. */
static const char *resource_name(api_req_t *r) {
  const char *name = r->params[0];
  size_t n = strlen(name);
  if (!pgd_master_resource_name_ok(name, n)) {
    pgd_http_respond_error(r->req, 400,
                           "invalid resource name '%.*s' (1 to 128 characters of A-Z a-z 0-9 _ - .)",
                           (int)(n > 140 ? 140 : n), name);
    return NULL;
  }
  return name;
}

/* Names "_plugin.TYPE" hold pushed plugins (api_plugins.c): only plugin
 * push writes them, so that a version a worker may fetch cannot change
 * under it. true after answering 403. */
static bool reserved_name(api_req_t *r, const char *name) {
  if (strncmp(name, "_plugin.", 8) != 0) return false;
  pgd_master_upload_t *streamed = pgd_http_req_take_sink(r->req);
  if (streamed) pgd_master_upload_discard(streamed);
  pgd_http_respond_error(r->req, 403,
                         "resource names starting with _plugin. hold pushed plugins: use "
                         "pagoda plugin push / rollback (PUT /api/v1/plugins)");
  return true;
}

void api_resources_list(api_req_t *r) {
  cJSON *list = pgd_master_resources_list(r->m);
  if (!list) {
    pgd_http_respond_error(r->req, 500, "cannot read resources from the store");
    return;
  }
  api_respond_paged(r->req, "resources", list, "name"); /* ?limit&after (docs/api.md "Paging") */
}

void api_resource_versions(api_req_t *r) {
  const char *name = resource_name(r);
  if (!name) return;
  cJSON *v = pgd_master_resource_versions(r->m, name);
  if (!v) {
    pgd_http_respond_error(r->req, 404, "resource '%s' not found", name);
    return;
  }
  api_respond_take(r->req, 200, v);
}

/* A download waiting for its content to be read from the store (another
 * master's upload: master/storage.h, pgd_master_resource_open_async). */
typedef struct download {
  pgd_http_req_t *req; /* NULL once the client went away */
} download_t;

static void download_abort(pgd_http_req_t *req, void *ud) {
  (void)req;
  ((download_t *)ud)->req = NULL;
}

static void download_ready(void *ud, int rc, int fd, uint64_t size, const char *err) {
  download_t *d = ud;
  if (d->req) {
    pgd_http_req_on_abort(d->req, NULL, NULL);
    if (rc < 0)
      pgd_http_respond_error(d->req, rc == -ESHUTDOWN ? 503 : api_status_of(rc), "%s", err);
    else
      pgd_http_respond_fd(d->req, 200, "application/octet-stream", fd, (unsigned long long)size);
  } else if (rc == 0) {
    close(fd);
  }
  free(d);
}

void api_resource_get(api_req_t *r) {
  const char *name = resource_name(r);
  if (!name) return;
  char err[600];
  int fd = -1;
  uint64_t size = 0;
  download_t *d = calloc(1, sizeof *d);
  if (!d) abort();
  d->req = r->req;
  int rc = pgd_master_resource_open_async(r->m, name, pgd_http_req_query(r->req, "version"), &fd,
                                          &size, download_ready, d, err, sizeof err);
  if (rc == 1) { /* read from the store on the thread pool */
    pgd_http_req_on_abort(r->req, download_abort, d);
    return;
  }
  free(d);
  if (rc < 0) {
    pgd_http_respond_error(r->req, api_status_of(rc), "%s", err);
    return;
  }
  pgd_http_respond_fd(r->req, 200, "application/octet-stream", fd, (unsigned long long)size);
}

/* ---- upload: the body goes to the master's thread pool ---- */

typedef struct upload {
  pgd_http_req_t *req; /* NULL once the client went away */
} upload_t;

static void upload_abort(pgd_http_req_t *req, void *ud) {
  (void)req;
  ((upload_t *)ud)->req = NULL;
}

static void upload_done(void *ud, int rc, const cJSON *view, const char *err) {
  upload_t *u = ud;
  if (u->req) {
    pgd_http_req_on_abort(u->req, NULL, NULL);
    if (rc < 0)
      pgd_http_respond_error(u->req, rc == -ESHUTDOWN ? 503 : 500, "%s", err);
    else
      api_respond_json(u->req, rc == 1 ? 201 : 200, (cJSON *)view);
  }
  free(u);
}

void api_resource_put(api_req_t *r) {
  const char *name = resource_name(r);
  if (!name || reserved_name(r, name)) return;
  upload_t *u = calloc(1, sizeof *u);
  if (!u) {
    pgd_http_respond_error(r->req, 500, "out of memory");
    return;
  }
  u->req = r->req;
  char err[512];
  pgd_http_req_on_abort(r->req, upload_abort, u);
  /* Streamed to a temporary file as it arrived (api.c sink_for), or, for
   * an empty body or when no file could be made, in memory. */
  pgd_master_upload_t *streamed = pgd_http_req_take_sink(r->req);
  int rc;
  if (streamed) {
    rc = pgd_master_upload_finish(streamed, name, upload_done, u, err, sizeof err);
  } else {
    size_t len = 0;
    char *body = pgd_http_req_take_body(r->req, &len);
    rc = pgd_master_resource_put(r->m, name, body, len, upload_done, u, err, sizeof err);
  }
  if (rc < 0) {
    pgd_http_req_on_abort(r->req, NULL, NULL);
    free(u);
    pgd_http_respond_error(r->req, 500, "%s", err);
  }
}

void api_resource_delete(api_req_t *r) {
  const char *name = resource_name(r);
  if (!name || reserved_name(r, name)) return;
  char err[600];
  cJSON *answer = NULL;
  api_reply_t *rp = api_reply_new(r, 200, NULL);
  int rc = pgd_master_resource_delete(r->m, name, pgd_http_req_query(r->req, "version"), &answer,
                                      api_reply_done, rp, err, sizeof err);
  if (rc < 0) {
    api_reply_cancel(rp);
    pgd_http_respond_error(r->req, api_status_of(rc), "%s", err);
    return;
  }
  rp->body = answer;
  api_reply_release(rp);
}
