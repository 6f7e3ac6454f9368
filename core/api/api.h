/* Pagoda — the REST API (docs/api.md): an HTTP server (core/http) whose
 * requests are dispatched through one route table (api_routes.c) to
 * handlers that call the master's service interface (master/master.h).
 * The API sits above the master: the master knows nothing of HTTP.
 *
 * Lifecycle: pgd_api_start binds the port (requests answer 503 until a
 * master is attached), pgd_api_attach hands it the master, pgd_api_stop
 * closes the server before the master stops, pgd_api_free releases it once
 * the master has stopped (held requests may still be ended by the master
 * until then).
 *
 * Thread rules: loop thread only, like the master.
 */
#ifndef PAGODA_API_API_H
#define PAGODA_API_API_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include <cjson/cJSON.h>

#include "common/json_schema.h"
#include "master/master.h"

typedef struct pgd_api pgd_api_t;

/* Rescans the plugin directory (POST /api/v1/plugins/reload) without
 * blocking the loop: done(done_ud, n) runs on the loop thread once the
 * rescan is over (possibly before the call returns), n = the number of
 * plugins newly loaded, or a negative code when the directory cannot be
 * read. Supplied by the daemon, which owns the registry. */
typedef void (*pgd_api_rescan_done)(void *done_ud, int n);
typedef void (*pgd_api_rescan_cb)(void *ud, pgd_api_rescan_done done, void *done_ud);

typedef struct pgd_api_config {
  const char *host;          /* address to bind, e.g. "127.0.0.1" */
  int port;                  /* 0 = any free port */
  size_t max_body;           /* request body limit in bytes (0 = 1 MiB) */
  size_t max_resource_bytes; /* PUT /api/v1/resources/NAME body limit;
                                0 = PGD_MASTER_RESOURCE_DEFAULT_MAX_BYTES */
  const char *static_dir;    /* the web console's files (docs/console.md),
                                served at / with page routes falling back to
                                index.html; nullable */
  int idle_timeout_s;        /* idle connections close after this; 0 = 30 */
  int max_conns_per_addr;    /* per peer address; 0 = 128, -1 = no limit */
  pgd_api_rescan_cb rescan_plugins; /* nullable: the reload route answers 503 */
  void *rescan_ud;
  const char *tls_cert;      /* HTTPS: PEM certificate file; NULL = plain HTTP */
  const char *tls_key;       /* HTTPS: PEM private key file (with tls_cert) */
  /* docs/security.md "Tokens and roles": both "a,b,c", nullable */
  const char *cors_origins;  /* origins whose cross-origin requests (and CORS
                                preflights) are answered; NULL = none */
  const char *allowed_hosts; /* Host names accepted besides IP addresses,
                                "localhost" and this machine's name; "*" = any */
  const char *resource_token; /* a token accepted for GET /api/v1/resources/{name}
                                 only (the master hands it to workers in its
                                 welcome); nullable, copied */
  /* The event stream, GET /api/v1/events (docs/api.md "Events"); 0 = default */
  int events_ring;             /* events kept for resuming (10,000) */
  size_t events_client_buffer; /* unsent bytes a stream may hold before it is
                                  reset and closed (1 MiB) */
  int events_keepalive_ms;     /* keep-alive comment period (15,000) */
  /* Observability (docs/observability.md), added in 0.7 */
  bool metrics_disabled; /* master.metrics.enabled = false: GET /metrics answers 404 */
  bool metrics_public;   /* master.metrics.public: GET /metrics without a token */
  bool access_log_off;   /* master.http.access_log = false: no "access" log lines */
} pgd_api_config_t;

#define PGD_API_EVENTS_RING_DEFAULT 10000
#define PGD_API_EVENTS_BUFFER_DEFAULT (1024u * 1024u)
#define PGD_API_EVENTS_KEEPALIVE_MS 15000

/* Starts the HTTP server on `loop` (cfg and its strings are copied). 0 and
 * *out, or a negative code with a message in err (e.g. the port is taken). */
int pgd_api_start(uv_loop_t *loop, const pgd_api_config_t *cfg, pgd_api_t **out, char *err,
                  size_t errlen);
/* The port actually bound. */
int pgd_api_port(const pgd_api_t *api);
/* Serves `m` (borrowed; it must outlive the API's use: until pgd_api_stop). */
void pgd_api_attach(pgd_api_t *api, pgd_master_t *m);
/* Serves acknowledgements of alarms through `alarms` (borrowed, nullable;
 * until pgd_api_stop or a later call with NULL). Without it
 * POST /api/v1/alarms/{id}/ack answers 503. */
struct pgd_alarms;
void pgd_api_attach_alarms(pgd_api_t *api, struct pgd_alarms *alarms);
/* First start (docs/security.md "Tokens and roles"): when the store holds
 * no token, creates an admin token named "admin" and, once it is durable,
 * writes it to DATA_DIR/admin.token (mode 0600), logs the path (never the
 * token) and calls done(ud, 0) — or done(ud, <0) when the store or the file
 * fails. Returns 0 when started (done follows, on the loop thread), 1 when
 * tokens exist already (done is not called), or a negative code (done is
 * not called). Call after pgd_api_attach. */
int pgd_api_bootstrap(pgd_api_t *api, const char *data_dir, void (*done)(void *ud, int status),
                      void *ud);
/* Closes the server: requests held are aborted (next loop iteration). Call
 * before pgd_master_stop. */
void pgd_api_stop(pgd_api_t *api);
/* Frees the API after pgd_api_stop once the master has stopped. NULL ok. */
void pgd_api_free(pgd_api_t *api);

/* ---- the route table (api_routes.c) ---- */

/* The least role a route needs. Declared per route; enforced by the
 * authentication layer (not yet: every request is allowed today). */
typedef enum { PGD_ROLE_VIEWER = 0, PGD_ROLE_OPERATOR = 1, PGD_ROLE_ADMIN = 2 } pgd_role_t;

/* A route's request body description (common/json_schema.h; the schemas
 * are in api_schemas.c). A non-empty JSON object body is checked against it
 * before the handler runs: a mismatch is answered 400 naming the field and
 * the types expected. NULL = the route reads no body. */
typedef pgd_jschema_t pgd_api_body_schema_t;

typedef struct api_req api_req_t; /* core/api/api_int.h */

typedef struct pgd_api_route {
  const char *method;  /* "GET", "POST", "PUT" or "DELETE"; GET rows answer HEAD too */
  const char *pattern; /* "/api/v1/jobs/{name}/run": {x} matches one non-empty segment */
  void (*handler)(api_req_t *r);
  pgd_role_t role;
  const pgd_api_body_schema_t *body_schema; /* nullable */
  bool standby_ok;     /* a standby master serves it (it reads the shared store) */
} pgd_api_route_t;

/* The route table (static storage) and its length. */
const pgd_api_route_t *pgd_api_routes(size_t *n);

#endif
