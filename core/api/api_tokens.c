/* Pagoda API — tokens in the store (docs/api.md "Tokens", docs/security.md
 * "Tokens and roles"): create (the token is shown once), list (never the
 * token nor its hash), revoke, the cache's store reader, and the first
 * start's admin token. A token is a "token" document: id = SHA-256 of the
 * token (hex), parent = its name, state = "active" / "revoked".
 * Loop thread only. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "api/api_int.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "store/store.h"

#define MOD "api"
#define TOKEN_KIND "token"

int api_token_lookup(void *ud, const char *hash, pgd_auth_entry_t *out) {
  pgd_api_t *api = ud;
  memset(out, 0, sizeof *out);
  if (!api->m) return -EIO;
  cJSON *doc = pgd_store_get_doc(pgd_master_store(api->m), TOKEN_KIND, hash);
  if (!doc) return 0; /* not found (a read error is logged by the store) */
  pgd_role_t role;
  const char *name = pgd_json_str(doc, "name");
  if (name && pgd_auth_role_parse(pgd_json_str(doc, "role"), &role) == 0) {
    out->found = true;
    snprintf(out->name, sizeof out->name, "%s", name);
    out->role = role;
    out->expires_us = pgd_json_int(doc, "expires_us", 0);
    out->revoked = pgd_json_int(doc, "revoked_us", 0) > 0;
  }
  cJSON_Delete(doc);
  return 0;
}

/* "90s", "15m", "12h", "30d", "2w" or plain seconds → µs; -1 when bad. */
static int64_t parse_duration_us(const char *s) {
  char *end;
  long long n = s ? strtoll(s, &end, 10) : -1;
  if (!s || end == s || n <= 0 || n > 100LL * 365 * 86400) return -1;
  long long mult = 1;
  if (*end == 's') mult = 1, end++;
  else if (*end == 'm') mult = 60, end++;
  else if (*end == 'h') mult = 3600, end++;
  else if (*end == 'd') mult = 86400, end++;
  else if (*end == 'w') mult = 7 * 86400, end++;
  if (*end || n * mult > 100LL * 365 * 86400) return -1;
  return (int64_t)(n * mult) * 1000000;
}

/* o[what_us] = us and o[what_at] = its text; both null when us is 0. */
static void set_time(cJSON *o, const char *what, int64_t us) {
  char key[32], text[40];
  snprintf(key, sizeof key, "%s_us", what);
  pgd_json_set(o, key, us ? cJSON_CreateNumber((double)us) : NULL);
  snprintf(key, sizeof key, "%s_at", what);
  pgd_json_set_str(o, key, us ? pgd_format_time_us(us, text, sizeof text) : NULL);
}

/* The public view of a token document (no hash, no token). */
static cJSON *token_view(const cJSON *doc) {
  cJSON *o = cJSON_CreateObject();
  pgd_json_set_str(o, "name", pgd_json_str(doc, "name"));
  pgd_json_set_str(o, "role", pgd_json_str(doc, "role"));
  int64_t revoked = pgd_json_int(doc, "revoked_us", 0), expires = pgd_json_int(doc, "expires_us", 0);
  const char *state = revoked ? "revoked" : expires && expires <= pgd_now_us() ? "expired" : "active";
  pgd_json_set_str(o, "state", state);
  set_time(o, "created", pgd_json_int(doc, "created_us", 0));
  set_time(o, "expires", expires);
  set_time(o, "revoked", revoked);
  pgd_json_set_str(o, "created_by", pgd_json_str(doc, "created_by"));
  return o;
}

/* The active token documents named `name` (caller owns), NULL on a store error. */
static cJSON *active_named(pgd_master_t *m, const char *name) {
  return pgd_store_list_docs(pgd_master_store(m), TOKEN_KIND, name, "active", 0, NULL);
}

/* ---- create ---- */

#define MAX_SAME_NAME 8 /* active tokens of one name a revoke handles (normally 1) */

typedef struct {
  pgd_api_t *api;
  char hash[MAX_SAME_NAME][PGD_AUTH_HASH_LEN + 1];
  int nhash;
  api_reply_t *rp;
} token_write_t;

/* Store completion of a create or revoke (the last write of it: callbacks
 * run in order): forget the cached checks (so this master sees the new
 * state at once), then answer. */
static void token_written(int status, void *ud) {
  token_write_t *w = ud;
  for (int i = 0; i < w->nhash; i++) pgd_auth_cache_forget(w->api->auth_cache, w->hash[i]);
  api_reply_done(w->rp, status < 0 ? status : 0);
  free(w);
}

static cJSON *token_doc(const char *hash, const char *name, pgd_role_t role, int64_t expires_us,
                        const char *created_by) {
  cJSON *doc = cJSON_CreateObject();
  pgd_json_set_str(doc, "hash", hash);
  pgd_json_set_str(doc, "name", name);
  pgd_json_set_str(doc, "role", pgd_auth_role_name(role));
  pgd_json_set(doc, "expires_us", expires_us ? cJSON_CreateNumber((double)expires_us) : NULL);
  pgd_json_set_str(doc, "created_by", created_by);
  return doc;
}

void api_tokens_create(api_req_t *r) {
  cJSON *body = api_parse_body(r->req, true);
  if (!body) return;
  const char *name = pgd_json_str(body, "name"), *role_s = pgd_json_str(body, "role");
  const char *expires = pgd_json_str(body, "expires");
  pgd_role_t role;
  int64_t ttl = expires ? parse_duration_us(expires) : 0;
  if (!pgd_auth_name_valid(name) || pgd_auth_role_parse(role_s, &role) < 0 || ttl < 0) {
    cJSON_Delete(body);
    pgd_http_respond_error(r->req, 400,
                           "a token needs \"name\" (1-64 of A-Z a-z 0-9 . _ -), \"role\" (viewer, "
                           "operator or admin) and optionally \"expires\" (e.g. \"30d\", \"12h\")");
    return;
  }
  cJSON *same = active_named(r->m, name);
  int n_same = same ? cJSON_GetArraySize(same) : -1;
  cJSON_Delete(same);
  if (n_same != 0) {
    if (n_same < 0) pgd_http_respond_error(r->req, 500, "cannot read tokens from the store");
    else pgd_http_respond_error(r->req, 409, "an active token named '%s' exists; revoke it first", name);
    cJSON_Delete(body); /* `name` points into it */
    return;
  }
  char token[PGD_AUTH_TOKEN_LEN + 1];
  token_write_t *w = calloc(1, sizeof *w);
  if (!w) abort();
  if (pgd_auth_token_new(token) < 0) {
    free(w);
    cJSON_Delete(body);
    pgd_http_respond_error(r->req, 500, "the random generator failed");
    return;
  }
  pgd_auth_hash(token, w->hash[0]);
  w->nhash = 1;
  w->api = r->api;
  int64_t expires_us = ttl ? pgd_now_us() + ttl : 0;
  cJSON *doc = token_doc(w->hash[0], name, role, expires_us, r->token_name);
  cJSON *out = token_view(doc);
  pgd_json_set_str(out, "state", "active");
  set_time(out, "created", pgd_now_us());
  pgd_json_set_str(out, "token", token); /* the only time it is shown */
  OPENSSL_cleanse(token, sizeof token);
  w->rp = api_reply_new(r, 201, out);
  int rc = pgd_store_put_doc(pgd_master_store(r->m), TOKEN_KIND, w->hash[0], name, "active", doc,
                             token_written, w);
  cJSON_Delete(doc);
  cJSON_Delete(body);
  if (rc < 0) {
    api_reply_cancel(w->rp);
    free(w);
    pgd_http_respond_error(r->req, api_status_of(rc), "cannot store the token");
    return;
  }
  api_reply_release(w->rp);
}

void api_tokens_list(api_req_t *r) {
  cJSON *docs = pgd_store_list_docs(pgd_master_store(r->m), TOKEN_KIND, NULL, NULL, 0, NULL);
  if (!docs) {
    pgd_http_respond_error(r->req, 500, "cannot read tokens from the store");
    return;
  }
  cJSON *list = cJSON_CreateArray();
  cJSON *d;
  cJSON_ArrayForEach(d, docs) cJSON_AddItemToArray(list, token_view(d));
  cJSON_Delete(docs);
  api_respond_wrapped(r->req, "tokens", list);
}

/* ---- revoke: every active token of that name (one, unless two HA masters
 * made their first admin token at the same moment) ---- */

void api_token_revoke(api_req_t *r) {
  const char *name = r->params[0];
  cJSON *docs = pgd_auth_name_valid(name) ? active_named(r->m, name) : cJSON_CreateArray();
  if (!docs || cJSON_GetArraySize(docs) == 0) {
    cJSON_Delete(docs);
    pgd_http_respond_error(r->req, docs ? 404 : 500, docs ? "no active token named '%s'"
                                                         : "cannot read tokens from the store (%s)",
                           name);
    return;
  }
  token_write_t *w = calloc(1, sizeof *w);
  if (!w) abort();
  w->api = r->api;
  /* Lists do not carry document ids, so each document keeps its hash (not a
   * secret: the token cannot be found from it). */
  cJSON *doc;
  cJSON_ArrayForEach(doc, docs) {
    const char *hash = pgd_json_str(doc, "hash");
    if (w->nhash < MAX_SAME_NAME && hash && strlen(hash) == PGD_AUTH_HASH_LEN)
      snprintf(w->hash[w->nhash++], sizeof w->hash[0], "%s", hash);
  }
  if (w->nhash == 0) {
    free(w);
    cJSON_Delete(docs);
    pgd_http_respond_error(r->req, 500, "the stored token '%s' is damaged", name);
    return;
  }
  cJSON *out = cJSON_CreateObject();
  pgd_json_set_str(out, "revoked", name);
  w->rp = api_reply_new(r, 200, out);
  pgd_store_t *s = pgd_master_store(r->m);
  int64_t now = pgd_now_us();
  int rc = 0, i = 0;
  cJSON_ArrayForEach(doc, docs) {
    const char *hash = pgd_json_str(doc, "hash");
    if (i >= w->nhash || !hash || strcmp(hash, w->hash[i]) != 0) continue;
    pgd_json_set_int(doc, "revoked_us", now);
    pgd_json_set_str(doc, "revoked_by", r->token_name);
    bool last = ++i == w->nhash;
    rc = pgd_store_put_doc(s, TOKEN_KIND, hash, name, "revoked", doc, last ? token_written : NULL,
                           last ? w : NULL);
    if (rc < 0) break;
  }
  cJSON_Delete(docs);
  if (rc < 0) {
    api_reply_cancel(w->rp);
    free(w);
    pgd_http_respond_error(r->req, api_status_of(rc), "cannot store the revocation");
    return;
  }
  api_reply_release(w->rp);
}

/* ---- first start ---- */

typedef struct {
  char path[4096];
  char token[PGD_AUTH_TOKEN_LEN + 1];
  void (*done)(void *ud, int status);
  void *ud;
} bootstrap_t;

static int write_token_file(const char *path, const char *token) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -errno;
  int rc = fchmod(fd, 0600) == 0 ? 0 : -errno;
  size_t len = strlen(token);
  if (rc == 0 && (write(fd, token, len) != (ssize_t)len || write(fd, "\n", 1) != 1)) rc = -EIO;
  if (close(fd) != 0 && rc == 0) rc = -errno;
  return rc;
}

static void bootstrap_written(int status, void *ud) {
  bootstrap_t *b = ud;
  if (status == 0) status = write_token_file(b->path, b->token);
  if (status == 0)
    PGD_INFO(MOD, "first start: created the admin token 'admin' and wrote it to %s (mode 0600)",
             b->path);
  else
    PGD_ERROR(MOD, "first start: could not create the admin token in %s: %s", b->path,
              strerror(-status));
  OPENSSL_cleanse(b->token, sizeof b->token);
  b->done(b->ud, status);
  free(b);
}

int pgd_api_bootstrap(pgd_api_t *api, const char *data_dir, void (*done)(void *ud, int status),
                      void *ud) {
  if (!api->m) return -EINVAL;
  pgd_store_t *s = pgd_master_store(api->m);
  cJSON *any = pgd_store_list_docs(s, TOKEN_KIND, NULL, NULL, 1, NULL);
  if (!any) return -EIO;
  int n = cJSON_GetArraySize(any);
  cJSON_Delete(any);
  if (n > 0) return 1;
  bootstrap_t *b = calloc(1, sizeof *b);
  if (!b) return -ENOMEM;
  snprintf(b->path, sizeof b->path, "%s/admin.token", data_dir);
  b->done = done;
  b->ud = ud;
  if (pgd_auth_token_new(b->token) < 0) {
    free(b);
    return -EIO;
  }
  char hash[PGD_AUTH_HASH_LEN + 1];
  pgd_auth_hash(b->token, hash);
  cJSON *doc = token_doc(hash, "admin", PGD_ROLE_ADMIN, 0, "first start");
  int rc = pgd_store_put_doc(s, TOKEN_KIND, hash, "admin", "active", doc, bootstrap_written, b);
  cJSON_Delete(doc);
  if (rc < 0) {
    OPENSSL_cleanse(b->token, sizeof b->token);
    free(b);
  }
  return rc;
}
