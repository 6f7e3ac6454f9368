/* Pagoda API — the gate every matched route passes before its handler
 * (docs/security.md "Tokens and roles", "No accidental exposure"):
 *  1. Host: an IP address, "localhost", this machine's name or a name in
 *     allowed_hosts — a DNS-rebinding page reaches us under ITS name (403);
 *  2. Origin: absent, the same origin as Host, or one of cors_origins —
 *     a browser page of another site may not drive the API (403);
 *  3. the bearer token: missing, unknown, expired or revoked → 401 — or,
 *     without an Authorization header, a console session cookie
 *     (api_session.c), whose changes must carry X-CSRF-Token → else 403;
 *  4. the route's role (api_routes.c) → 403;
 *  5. a body's content type: application/json, or application/octet-stream
 *     for resource uploads → else 415 (a cross-site form or text/plain POST).
 * Changes (every method but GET/HEAD) are audited, refusals included.
 * Loop thread only. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "api/api_int.h"
#include "common/clock.h"

/* Is `item` (length n) one of the comma-separated entries of `list`
 * (case-insensitive)? "*" in the list matches anything. */
static bool in_list(const char *list, const char *item, size_t n) {
  for (const char *p = list; p && *p;) {
    const char *end = strchr(p, ',');
    const char *next = end ? end + 1 : NULL;
    size_t len = end ? (size_t)(end - p) : strlen(p);
    while (len && (*p == ' ')) p++, len--;
    while (len && p[len - 1] == ' ') len--;
    if ((len == 1 && *p == '*') || (len == n && strncasecmp(p, item, n) == 0)) return true;
    p = next;
  }
  return false;
}

/* The host part of a Host value ("name:port", "[::1]:port") into buf. */
static void host_part(const char *host, char *buf, size_t cap) {
  const char *start = host, *end;
  if (*host == '[') {
    start = host + 1;
    end = strchr(start, ']');
  } else {
    end = strrchr(host, ':');
  }
  size_t n = end ? (size_t)(end - start) : strlen(start);
  if (n >= cap) n = cap - 1;
  memcpy(buf, start, n);
  buf[n] = 0;
}

static bool host_allowed(const pgd_api_t *api, const char *host) {
  if (!host) return true; /* HTTP/1.0 without Host: not a browser */
  char name[256];
  host_part(host, name, sizeof name);
  unsigned char addr[16];
  if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1) return true;
  if (strcasecmp(name, "localhost") == 0) return true;
  if (api->hostname[0] && strcasecmp(name, api->hostname) == 0) return true;
  return in_list(api->allowed_hosts, name, strlen(name));
}

/* Same origin: "scheme://HOST" where HOST equals the Host header. */
static bool same_origin(const char *origin, const char *host) {
  const char *sep = strstr(origin, "://");
  return sep && host && strcasecmp(sep + 3, host) == 0;
}

static bool origin_allowed(const pgd_api_t *api, const char *origin, const char *host) {
  if (!origin) return true;
  return same_origin(origin, host) || in_list(api->cors_origins, origin, strlen(origin));
}

void api_preflight(pgd_api_t *api, pgd_http_req_t *req) {
  const char *origin = pgd_http_req_header(req, "origin");
  if (!origin || !api->cors_origins || !in_list(api->cors_origins, origin, strlen(origin))) {
    pgd_http_respond_error(req, 403,
                           "CORS preflight refused: origin %s is not in master.http.cors_origins",
                           origin ? origin : "(none)");
    return;
  }
  pgd_http_req_add_header(req, "Access-Control-Allow-Origin", origin);
  pgd_http_req_add_header(req, "Access-Control-Allow-Methods", "GET, POST, PUT, DELETE");
  pgd_http_req_add_header(req, "Access-Control-Allow-Headers", "Authorization, Content-Type");
  pgd_http_req_add_header(req, "Access-Control-Max-Age", "600");
  pgd_http_req_add_header(req, "Vary", "Origin");
  pgd_http_respond(req, 204, NULL, NULL, 0);
}

/* The media type of a Content-Type value is `want` (parameters ignored). */
static bool media_is(const char *ctype, const char *want) {
  size_t n = strlen(want);
  if (strncasecmp(ctype, want, n) != 0) return false;
  char c = ctype[n];
  return c == 0 || c == ';' || c == ' ';
}

/* 415 unless a body (or a declared type) is JSON, or bytes for uploads. */
static bool content_type_ok(api_req_t *r) {
  size_t len = 0;
  pgd_http_req_body(r->req, &len);
  const char *ctype = pgd_http_req_header(r->req, "content-type");
  if (!ctype && len == 0) return true;
  const char *want = r->route->handler == api_resource_put || r->route->handler == api_plugin_push
                         ? "application/octet-stream"
                         : "application/json";
  if (ctype && media_is(ctype, want)) return true;
  pgd_http_respond_error(r->req, 415, "%s %s takes Content-Type: %s (got %s)", r->route->method,
                         r->route->pattern, want, ctype ? ctype : "none");
  return false;
}

static void answer_401(api_req_t *r, const char *why) {
  pgd_http_req_add_header(r->req, "WWW-Authenticate", "Bearer realm=\"pagoda\"");
  pgd_http_respond_error(r->req, 401, "%s (send Authorization: Bearer <token>; see docs/security.md)",
                         why);
}

/* The token of "Authorization: Bearer <token>", or NULL (*present tells
 * whether the header was there at all). */
static const char *bearer(pgd_http_req_t *req, bool *present) {
  const char *h = pgd_http_req_header(req, "authorization");
  *present = h != NULL;
  if (!h || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
  h += 7;
  while (*h == ' ') h++;
  return *h ? h : NULL;
}

/* Records who is asking (checked token `e`), then 4 of the list above. */
static bool role_ok(api_req_t *r, const pgd_auth_entry_t *e) {
  r->authed = true;
  r->role = e->role;
  snprintf(r->token_name, sizeof r->token_name, "%s", e->name);
  api_audit_set_token(r);
  pgd_http_req_set_who(r->req, e->name); /* the access log names the token, never shows it */
  if (e->role < r->route->role) {
    pgd_http_respond_error(r->req, 403, "token '%s' has role %s; %s %s needs %s", e->name,
                           pgd_auth_role_name(e->role), r->route->method, r->route->pattern,
                           pgd_auth_role_name(r->route->role));
    return false;
  }
  return true;
}

static bool is_change(const char *method) {
  return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

/* A request that came with a console session cookie instead of a token. */
static bool session_ok(api_req_t *r, struct api_session *s) {
  pgd_auth_entry_t e;
  int rc = pgd_auth_check_hash(r->api->auth_cache, api_session_token_hash(s), pgd_now_us(), &e);
  if (rc == -EIO) {
    pgd_http_respond_error(r->req, 503, "cannot read the token store; try again");
    return false;
  }
  if (rc < 0) {
    answer_401(r, e.revoked ? "the session's token has been revoked"
                            : "the session's token has expired");
    return false;
  }
  r->session = s;
  if (is_change(pgd_http_req_method(r->req)) && !api_session_csrf_ok(s, r)) {
    snprintf(r->token_name, sizeof r->token_name, "%s", e.name);
    api_audit_set_token(r);
    pgd_http_respond_error(r->req, 403,
                           "a change made with the console's session cookie must carry the "
                           "X-CSRF-Token header given at login");
    return false;
  }
  return role_ok(r, &e);
}

/* 3 and 4 of the list above. */
static bool token_ok(api_req_t *r) {
  bool present;
  const char *token = bearer(r->req, &present);
  bool is_health = r->route->handler == api_health && strcmp(r->route->method, "GET") == 0;
  if (!present && is_health) return true; /* the liveness check: says up + role only */
  /* Login with the token in the body: api_session_open checks it. */
  if (!present && r->route->handler == api_session_open) return true;
  if (!present) {
    struct api_session *s = api_session_of(r);
    if (s) return session_ok(r, s);
  }
  if (!token) {
    answer_401(r, present ? "the Authorization header must be 'Bearer <token>'"
                          : "authentication required");
    return false;
  }
  const char *rt = r->api->resource_token;
  if (rt && strlen(token) == strlen(rt) && CRYPTO_memcmp(token, rt, strlen(rt)) == 0) {
    /* The workers' download token (welcome.http_token): one route only. */
    if (r->route->handler != api_resource_get) {
      pgd_http_respond_error(r->req, 403, "the workers' resource token only downloads resources");
      return false;
    }
    r->authed = true;
    r->role = PGD_ROLE_VIEWER;
    snprintf(r->token_name, sizeof r->token_name, "worker-resources");
    return true;
  }
  pgd_auth_entry_t e;
  int rc = pgd_auth_check(r->api->auth_cache, token, pgd_now_us(), &e);
  if (rc == -EIO) {
    pgd_http_respond_error(r->req, 503, "cannot read the token store; try again");
    return false;
  }
  if (rc < 0) {
    answer_401(r, !e.found     ? "unknown token"
                  : e.revoked ? "the token has been revoked"
                              : "the token has expired");
    return false;
  }
  return role_ok(r, &e);
}

bool api_gate(api_req_t *r) {
  const char *method = pgd_http_req_method(r->req);
  if (is_change(method)) api_audit_begin(r);
  const char *host = pgd_http_req_header(r->req, "host");
  const char *origin = pgd_http_req_header(r->req, "origin");
  if (!host_allowed(r->api, host)) {
    pgd_http_respond_error(r->req, 403,
                           "Host %s is not a name of this server (add it to "
                           "master.http.allowed_hosts)",
                           host);
    return false;
  }
  if (!origin_allowed(r->api, origin, host)) {
    pgd_http_respond_error(r->req, 403,
                           "cross-origin request from %s refused (allowed origins: "
                           "master.http.cors_origins)",
                           origin);
    return false;
  }
  if (origin && !same_origin(origin, host)) {
    pgd_http_req_add_header(r->req, "Access-Control-Allow-Origin", origin);
    pgd_http_req_add_header(r->req, "Vary", "Origin");
  }
  return token_ok(r) && content_type_ok(r);
}
