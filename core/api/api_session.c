/* Pagoda API — console sessions (docs/security.md "Console sessions").
 * A browser logs in once with a token (POST /api/v1/session); the master
 * keeps, in memory, a random session id → the token's HASH and an expiry,
 * and gives the browser the id in an HttpOnly, SameSite=Strict cookie (Secure
 * over HTTPS) plus a CSRF value that every change sent with the cookie must
 * repeat in X-CSRF-Token (api_gate.c). The token itself is not kept, so a
 * revoked or expired token ends its sessions at the next request. Sessions
 * are per master process: a restart or another master asks for a new login.
 * Loop thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <uthash.h>

#include "api/api_int.h"
#include "common/clock.h"
#include "common/json.h"

#define SESSION_COOKIE "pagoda_session"
#define SESSION_TTL_US (12LL * 3600 * 1000000) /* a working day */
#define SESSION_MAX 4096                        /* oldest dropped beyond */
#define SESSION_ID_BYTES 32

struct api_session {
  char id[2 * SESSION_ID_BYTES + 1];
  char csrf[2 * SESSION_ID_BYTES + 1];
  char hash[PGD_AUTH_HASH_LEN + 1];
  int64_t created_us, expires_us;
  UT_hash_handle hh;
};

static int random_hex(char *out, size_t nbytes) {
  unsigned char b[SESSION_ID_BYTES];
  if (nbytes > sizeof b || RAND_bytes(b, (int)nbytes) != 1) return -EIO;
  for (size_t i = 0; i < nbytes; i++) snprintf(out + 2 * i, 3, "%02x", b[i]);
  return 0;
}

static void session_drop(pgd_api_t *api, struct api_session *s) {
  HASH_DEL(api->sessions, s);
  api->nsessions--;
  OPENSSL_cleanse(s, sizeof *s);
  free(s);
}

/* Drops expired sessions; beyond SESSION_MAX, the oldest too. */
static void sessions_trim(pgd_api_t *api, int64_t now) {
  struct api_session *s, *tmp, *oldest = NULL;
  HASH_ITER(hh, api->sessions, s, tmp) {
    if (now >= s->expires_us) session_drop(api, s);
    else if (!oldest || s->created_us < oldest->created_us) oldest = s;
  }
  if (api->nsessions >= SESSION_MAX && oldest) session_drop(api, oldest);
}

void api_sessions_free(pgd_api_t *api) {
  struct api_session *s, *tmp;
  HASH_ITER(hh, api->sessions, s, tmp) session_drop(api, s);
}

/* The value of cookie `name` in a Cookie header, copied into buf. */
static bool cookie_value(const char *header, const char *name, char *buf, size_t cap) {
  size_t n = strlen(name);
  for (const char *p = header; p && *p;) {
    while (*p == ' ' || *p == ';') p++;
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
      size_t vlen = len - n - 1;
      if (vlen >= cap) return false;
      memcpy(buf, p + n + 1, vlen);
      buf[vlen] = 0;
      return true;
    }
    p = end;
  }
  return false;
}

struct api_session *api_session_of(api_req_t *r) {
  const char *cookie = pgd_http_req_header(r->req, "cookie");
  char id[2 * SESSION_ID_BYTES + 1];
  if (!cookie || !cookie_value(cookie, SESSION_COOKIE, id, sizeof id)) return NULL;
  struct api_session *s = NULL;
  HASH_FIND_STR(r->api->sessions, id, s);
  if (s && pgd_now_us() >= s->expires_us) {
    session_drop(r->api, s);
    s = NULL;
  }
  return s;
}

const char *api_session_token_hash(const struct api_session *s) { return s->hash; }

bool api_session_csrf_ok(const struct api_session *s, api_req_t *r) {
  const char *v = pgd_http_req_header(r->req, "x-csrf-token");
  return v && strlen(v) == strlen(s->csrf) && CRYPTO_memcmp(v, s->csrf, strlen(s->csrf)) == 0;
}

static void set_cookie(api_req_t *r, const char *id, long max_age_s) {
  char v[256];
  snprintf(v, sizeof v, "%s=%s; Path=/; Max-Age=%ld; HttpOnly; SameSite=Strict%s", SESSION_COOKIE,
           id, max_age_s, r->api->tls ? "; Secure" : "");
  pgd_http_req_add_header(r->req, "Set-Cookie", v);
}

static cJSON *identity(const char *name, pgd_role_t role, const struct api_session *s) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddStringToObject(o, "role", pgd_auth_role_name(role));
  if (s) {
    /* Readable only by pages of this origin (CORS and SameSite keep others
     * out), which is what makes it a CSRF secret. */
    cJSON_AddStringToObject(o, "csrf_token", s->csrf);
    pgd_json_set_int(o, "expires", s->expires_us);
  }
  return o;
}

static void answer_401(api_req_t *r, const char *why) {
  pgd_http_req_add_header(r->req, "WWW-Authenticate", "Bearer realm=\"pagoda\"");
  pgd_http_respond_error(r->req, 401, "%s", why);
}

/* The token to log in with: the body's {"token"}, or — when the gate
 * already checked one — the Authorization header's. Copied into buf;
 * false after answering when there is none. */
static bool login_token(api_req_t *r, char *buf, size_t cap) {
  if (r->authed) {
    const char *h = pgd_http_req_header(r->req, "authorization");
    for (h += 7; *h == ' ';) h++; /* "Bearer " was checked by the gate */
    snprintf(buf, cap, "%s", h);
    return true;
  }
  size_t len = 0;
  pgd_http_req_body(r->req, &len);
  cJSON *body = len ? api_parse_body(r->req, true) : NULL;
  if (len && !body) return false;
  const char *token = pgd_json_str(body, "token");
  bool ok = token && *token && strlen(token) < cap;
  if (ok) snprintf(buf, cap, "%s", token);
  cJSON_Delete(body);
  if (!ok) answer_401(r, "log in with {\"token\": \"<token>\"} (or Authorization: Bearer <token>)");
  return ok;
}

/* POST /api/v1/session {"token": "..."}: the gate let a request without an
 * Authorization header through (the token is in the body); it is checked
 * here, the same way. */
void api_session_open(api_req_t *r) {
  char token[1024];
  if (!login_token(r, token, sizeof token)) return;
  struct api_session *s = calloc(1, sizeof *s);
  if (!s) {
    OPENSSL_cleanse(token, sizeof token);
    pgd_http_respond_error(r->req, 500, "out of memory");
    return;
  }
  pgd_auth_hash(token, s->hash);
  OPENSSL_cleanse(token, sizeof token); /* the token is not kept */
  int64_t now = pgd_now_us();
  pgd_auth_entry_t e;
  int rc = pgd_auth_check_hash(r->api->auth_cache, s->hash, now, &e);
  if (rc < 0) {
    free(s);
    if (rc == -EIO) {
      pgd_http_respond_error(r->req, 503, "cannot read the token store; try again");
      return;
    }
    answer_401(r, !e.found     ? "unknown token"
                  : e.revoked ? "the token has been revoked"
                              : "the token has expired");
    return;
  }
  snprintf(r->token_name, sizeof r->token_name, "%s", e.name);
  api_audit_set_token(r);
  if (random_hex(s->id, SESSION_ID_BYTES) < 0 || random_hex(s->csrf, SESSION_ID_BYTES) < 0) {
    free(s);
    pgd_http_respond_error(r->req, 500, "the random generator failed");
    return;
  }
  s->created_us = now;
  s->expires_us = now + SESSION_TTL_US;
  if (e.expires_us > 0 && e.expires_us < s->expires_us) s->expires_us = e.expires_us;
  sessions_trim(r->api, now);
  HASH_ADD_STR(r->api->sessions, id, s);
  r->api->nsessions++;
  set_cookie(r, s->id, (long)((s->expires_us - now) / 1000000));
  api_respond_take(r->req, 201, identity(e.name, e.role, s));
}

/* DELETE /api/v1/session: forgets the request's session (if any) and
 * clears the cookie; a bearer-token request just gets the cookie cleared. */
void api_session_close(api_req_t *r) {
  if (r->session) {
    session_drop(r->api, r->session);
    r->session = NULL;
  }
  set_cookie(r, "", 0);
  api_respond_take(r->req, 200, cJSON_CreateObject());
}

/* GET /api/v1/whoami: the name and role of the token behind the request
 * (and, with a session, its CSRF value: a reloaded page recovers it). */
void api_whoami(api_req_t *r) {
  api_respond_take(r->req, 200, identity(r->token_name, r->role, r->session));
}
