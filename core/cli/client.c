/* Pagoda — the API client commands of the `pagoda` CLI (see client.h). */
#include "cli/client.h"

#include "common/err.h"
#include "common/exec_state.h"
#include "common/json.h"
#include "plugin/check.h"
#include "plugin/trial.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli/client_apply.h"
#include "cli/client_call.h"
#include "cli/client_plugin.h"
#include "cli/client_addrs.h"
#include "cli/client_events.h"
#include "cli/client_runs.h"
#include "cli/client_table.h"
#include "cli/client_token.h"
#include "cli/client_usage.h"
#include "cli/http_client.h"

#define REQUEST_TIMEOUT_MS 30000L
#define WAIT_POLL_NS 100000000L /* 100 ms */
#define MAX_JOB_FILE (16u * 1024u * 1024u)

/* What one command keeps across its requests (owned by pgd_client_run). */
typedef struct {
  pgd_cli_addrs_t addrs; /* a->addr as a list of masters (client_addrs.h) */
  char shown_state[32];  /* --wait: the last state shown on err */
  cJSON *shown_nodes;    /* flow run --wait: node -> the last state shown, or NULL */
} session_t;

typedef struct {
  const pgd_cli_args_t *a;
  FILE *out;
  FILE *err;
  session_t *s;
} ctx_t;

/* Retries of a request that carries an Idempotency-Key (`job run`): the
 * delays between attempts, doubling. The server answers a repeated key with
 * the first run, so a retry never runs the job twice. */
#define RETRY_ATTEMPTS 5
#define RETRY_FIRST_DELAY_NS 250000000L /* 250 ms, then 0.5, 1, 2 s */

/* Worth retrying with the same key: no answer at all (the master died or
 * is restarting), a server error, or 409 (the first request with the key
 * is still being stored). */
static bool retryable(int rc, const pgd_http_response_t *resp) {
  if (rc == -ECONNREFUSED || rc == -ETIMEDOUT || rc == -EIO) return true;
  return rc == 0 && (resp->status >= 500 || resp->status == 409);
}

static void sleep_ns(long ns) {
  struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* A standby's 503 (api.c answer_standby): names the leader when it knows
 * it; sets *leader to a new URL (caller frees) or NULL. */
static bool standby_answer(const pgd_http_response_t *resp, char **leader) {
  *leader = NULL;
  if (resp->status != 503 || !resp->body) return false;
  cJSON *j = cJSON_ParseWithLength(resp->body, resp->len);
  const char *l = pgd_json_str(j, "leader");
  const char *e = pgd_json_str(j, "error");
  bool standby = l || (e && strstr(e, "standby"));
  if (l) *leader = strdup(l);
  cJSON_Delete(j);
  return standby;
}

/* One attempt: to the current address, then once to the leader a standby
 * names; when nothing answers there (or a standby knows no leader), to the
 * next address of the list, round it once (client_addrs.h). */
static int send_once(ctx_t *c, const char *method, const char *path, const char *const *headers,
                     const char *body, size_t body_len, pgd_http_chunk_cb on_chunk, void *ud,
                     long timeout_ms, pgd_http_response_t *resp, char *errbuf, size_t errlen) {
  size_t start = c->s->addrs.cur;
  for (;;) {
    char *url = pgd_cli_url_join(pgd_cli_addrs_current(&c->s->addrs), path);
    if (!url) {
      memset(resp, 0, sizeof(*resp));
      return pgd_set_err(errbuf, errlen, -ENOMEM, "out of memory");
    }
    int rc = pgd_http_request_with(method, url, headers, body, body_len, on_chunk, ud, timeout_ms,
                                   resp, errbuf, errlen);
    free(url);
    char *leader = NULL;
    bool standby = rc == 0 && standby_answer(resp, &leader);
    if (leader) {
      /* A standby master names the leader: send the request there, once. */
      char *lurl = pgd_cli_url_join(leader, path);
      free(leader);
      if (lurl) {
        pgd_http_response_free(resp);
        rc = pgd_http_request_with(method, lurl, headers, body, body_len, on_chunk, ud,
                                   timeout_ms, resp, errbuf, errlen);
        free(lurl);
      }
      return rc;
    }
    /* Nothing was sent to a refused connection, and a GET may be repeated:
     * only then is another master tried. */
    bool unreachable = rc == -ECONNREFUSED || (rc == -ETIMEDOUT && strcmp(method, "GET") == 0);
    if (!(unreachable || standby) || !pgd_cli_addrs_advance(&c->s->addrs, start)) return rc;
    pgd_http_response_free(resp);
  }
}

/* Sends a request to the API. Returns 0 with *resp filled for a 2xx answer;
 * otherwise prints the problem on ctx->err, frees *resp and returns
 * PGD_CLI_EXIT_FAIL. `idem_key` (NULL = none) is sent as Idempotency-Key,
 * and then failures that may be transient are retried with the same key. */
static int call_keyed(ctx_t *c, const char *method, const char *path, const char *idem_key,
                      const char *body, size_t body_len, pgd_http_chunk_cb on_chunk, void *ud,
                      long timeout_ms, pgd_http_response_t *resp) {
  char errbuf[512] = "";
  char keyhdr[300];
  const char *headers[2] = {NULL, NULL};
  if (idem_key) {
    snprintf(keyhdr, sizeof keyhdr, "Idempotency-Key: %s", idem_key);
    headers[0] = keyhdr;
  }
  int rc = -EIO;
  long delay = RETRY_FIRST_DELAY_NS;
  for (int attempt = 1;; attempt++) {
    rc = send_once(c, method, path, headers, body, body_len, on_chunk, ud, timeout_ms, resp,
                   errbuf, sizeof errbuf);
    if (!idem_key || attempt >= RETRY_ATTEMPTS || !retryable(rc, resp)) break;
    if (rc == 0)
      fprintf(c->err, "pagoda: HTTP %ld; retrying with the same Idempotency-Key\n", resp->status);
    else
      fprintf(c->err, "pagoda: %s; retrying with the same Idempotency-Key\n", errbuf);
    pgd_http_response_free(resp);
    sleep_ns(delay);
    delay *= 2;
  }
  if (rc == -ECANCELED) {
    /* The chunk callback already said why. */
  } else if (rc == -ENOMEM) {
    fprintf(c->err, "pagoda: out of memory\n");
  } else if (rc == -EIO && resp->status != 0) {
    fprintf(c->err, "pagoda: lost the connection to the Pagoda API at %s: %s\n",
            pgd_cli_addrs_current(&c->s->addrs), errbuf);
  } else if (rc != 0) {
    fprintf(c->err, "pagoda: cannot reach the Pagoda API at %s%s: %s\n",
            c->s->addrs.n > 1 ? "any of " : "", c->a->addr, errbuf);
  } else if (resp->status < 200 || resp->status >= 300) {
    char msg[1024];
    pgd_cli_error_message(resp->body, resp->len, msg, sizeof(msg));
    fprintf(c->err, "pagoda: %s (HTTP %ld)\n", msg, resp->status);
    if (resp->status == 401)
      fprintf(c->err, "pagoda: the token comes from --token, PAGODA_TOKEN, PAGODA_TOKEN_FILE or "
                      "~/.config/pagoda/token (see docs/cli.md \"Token sources\")\n");
    rc = -EPROTO;
  }
  if (rc != 0) {
    pgd_http_response_free(resp);
    return PGD_CLI_EXIT_FAIL;
  }
  return 0;
}

static int call(ctx_t *c, const char *method, const char *path, const char *body, size_t body_len,
                pgd_http_chunk_cb on_chunk, void *ud, long timeout_ms, pgd_http_response_t *resp) {
  return call_keyed(c, method, path, NULL, body, body_len, on_chunk, ud, timeout_ms, resp);
}

int pgd_client_call(const pgd_cli_args_t *args, FILE *err, const char *method, const char *path,
                    const char *body, size_t body_len, pgd_http_chunk_cb on_chunk, void *ud,
                    pgd_http_response_t *resp) {
  /* Called from other CLI files (apply, export, plugin push) without the
   * command's session: each call finds the master in the address list. */
  session_t session = {0};
  char aerr[512];
  if (pgd_cli_addrs_parse(args->addr, &session.addrs, aerr, sizeof aerr) < 0) {
    memset(resp, 0, sizeof(*resp));
    fprintf(err, "pagoda: %s\n", aerr);
    return PGD_CLI_EXIT_FAIL;
  }
  ctx_t c = {args, stdout, err, &session};
  int rc = call(&c, method, path, body, body_len, on_chunk, ud,
                on_chunk ? 0 : REQUEST_TIMEOUT_MS, resp);
  pgd_cli_addrs_free(&session.addrs);
  return rc;
}

int pgd_client_call_any(const pgd_cli_args_t *args, FILE *err, const char *method,
                        const char *path, const char *body, size_t body_len,
                        pgd_http_response_t *resp) {
  session_t session = {0};
  char errbuf[512] = "";
  if (pgd_cli_addrs_parse(args->addr, &session.addrs, errbuf, sizeof errbuf) < 0) {
    memset(resp, 0, sizeof(*resp));
    fprintf(err, "pagoda: %s\n", errbuf);
    return PGD_CLI_EXIT_FAIL;
  }
  ctx_t c = {args, stdout, err, &session};
  int rc = send_once(&c, method, path, NULL, body, body_len, NULL, NULL, REQUEST_TIMEOUT_MS, resp,
                     errbuf, sizeof errbuf);
  pgd_cli_addrs_free(&session.addrs);
  if (rc == 0) return 0;
  fprintf(err, "pagoda: cannot reach the Pagoda API at %s: %s\n", args->addr, errbuf);
  pgd_http_response_free(resp);
  return PGD_CLI_EXIT_FAIL;
}

static int get(ctx_t *c, const char *path, pgd_http_response_t *resp) {
  return call(c, "GET", path, NULL, 0, NULL, NULL, REQUEST_TIMEOUT_MS, resp);
}

static int list_with(ctx_t *c, const char *method, const char *path,
                     int (*printer)(const cJSON *, FILE *));
static int list(ctx_t *c, const char *path, int (*printer)(const cJSON *, FILE *)) {
  return list_with(c, "GET", path, printer);
}

/* Parses a response body as JSON; prints a message and returns NULL when it
 * is not. The result is owned by the caller. */
static cJSON *parse_body(ctx_t *c, const pgd_http_response_t *resp) {
  cJSON *j = resp->body ? cJSON_ParseWithLength(resp->body, resp->len) : NULL;
  if (!j) fprintf(c->err, "pagoda: the API answered with something that is not JSON\n");
  return j;
}

/* Builds "fmt" with one escaped path segment, e.g. "/api/v1/jobs/%s". */
static char *path_with(const char *fmt, const char *segment, const char *suffix) {
  char *esc = pgd_cli_url_escape(segment);
  if (!esc) return NULL;
  char *p = NULL;
  if (asprintf(&p, fmt, esc, suffix ? suffix : "") < 0) p = NULL;
  free(esc);
  return p;
}

static int print_raw(ctx_t *c, const pgd_http_response_t *resp) {
  if (resp->len > 0) fwrite(resp->body, 1, resp->len, c->out);
  if (resp->len == 0 || resp->body[resp->len - 1] != '\n') fputc('\n', c->out);
  return fflush(c->out) == 0 ? PGD_CLI_EXIT_OK : PGD_CLI_EXIT_FAIL;
}

static int print_pretty(ctx_t *c, const pgd_http_response_t *resp) {
  cJSON *j = resp->body ? cJSON_ParseWithLength(resp->body, resp->len) : NULL;
  if (!j) return print_raw(c, resp);
  char *s = cJSON_Print(j);
  cJSON_Delete(j);
  if (!s) {
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  fprintf(c->out, "%s\n", s);
  cJSON_free(s);
  return PGD_CLI_EXIT_OK;
}

/* GET path; print pretty JSON. */
static int show(ctx_t *c, const char *path) {
  if (!path) {
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = get(c, path, &resp);
  if (rc == 0) rc = print_pretty(c, &resp);
  pgd_http_response_free(&resp);
  return rc;
}

/* GET path; print a table with `printer`, or the raw JSON with --json. */
/* GET (or `method`) a list and print it as a table, or raw with --json. */
static int list_with(ctx_t *c, const char *method, const char *path,
                     int (*printer)(const cJSON *, FILE *)) {
  if (!path) {
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = call(c, method, path, NULL, 0, NULL, NULL, REQUEST_TIMEOUT_MS, &resp);
  if (rc != 0) return rc;
  if (c->a->json) {
    rc = print_raw(c, &resp);
  } else {
    cJSON *j = parse_body(c, &resp);
    if (!j) {
      rc = PGD_CLI_EXIT_FAIL;
    } else {
      int pr = printer(j, c->out);
      if (pr == -EPROTO)
        fprintf(c->err, "pagoda: the API's answer does not hold the expected list\n");
      else if (pr != 0)
        fprintf(c->err, "pagoda: cannot print the list: %s\n", strerror(-pr));
      rc = pr == 0 ? PGD_CLI_EXIT_OK : PGD_CLI_EXIT_FAIL;
      cJSON_Delete(j);
    }
  }
  pgd_http_response_free(&resp);
  return rc;
}

/* POST (or DELETE) path with no body; prints `done` (a format with one %s,
 * the argument) on success. */
static int action(ctx_t *c, const char *method, char *path, const char *done) {
  if (!path) {
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = call(c, method, path, NULL, 0, NULL, NULL, REQUEST_TIMEOUT_MS, &resp);
  free(path);
  if (rc == 0) fprintf(c->out, done, c->a->arg);
  pgd_http_response_free(&resp);
  return rc;
}

/* ---- job create ------------------------------------------------------- */

static char *read_all(FILE *f, size_t *len_out) {
  size_t cap = 8192, len = 0;
  char *buf = malloc(cap);
  if (!buf) return NULL;
  for (;;) {
    if (len + 1 >= cap) {
      if (cap >= MAX_JOB_FILE) {
        free(buf);
        errno = EFBIG;
        return NULL;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        errno = ENOMEM;
        return NULL;
      }
      buf = nb;
      cap *= 2;
    }
    size_t n = fread(buf + len, 1, cap - len - 1, f);
    len += n;
    if (n == 0) {
      if (ferror(f)) {
        free(buf);
        errno = EIO;
        return NULL;
      }
      break;
    }
  }
  buf[len] = '\0';
  *len_out = len;
  return buf;
}

char *pgd_client_read_file(const char *path, size_t max, size_t *len_out) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap + 1);
  int saved = buf ? 0 : ENOMEM;
  while (buf && !saved) {
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) {
      if (ferror(f)) saved = EIO;
      break;
    }
    if (len > max) {
      saved = EFBIG;
    } else if (len == cap) {
      char *nb = realloc(buf, cap * 2 + 1);
      if (!nb) saved = ENOMEM;
      else buf = nb, cap *= 2;
    }
  }
  fclose(f);
  if (saved) {
    free(buf);
    errno = saved;
    return NULL;
  }
  buf[len] = '\0';
  *len_out = len;
  return buf;
}

static const char *json_name(const cJSON *j) {
  const cJSON *n = pgd_json_get(j, "name");
  if (!cJSON_IsString(n)) {
    const cJSON *job = pgd_json_get(j, "job");
    n = pgd_json_get(job, "name");
  }
  return (cJSON_IsString(n) && n->valuestring && n->valuestring[0]) ? n->valuestring : NULL;
}

static int create_from_file(ctx_t *c, const char *api_path, const char *noun);
static int job_create(ctx_t *c) { return create_from_file(c, "/api/v1/jobs", "job"); }

static int create_from_file(ctx_t *c, const char *api_path, const char *noun) {
  const char *file = c->a->arg;
  int is_stdin = strcmp(file, "-") == 0;
  FILE *f = is_stdin ? stdin : fopen(file, "rb");
  if (!f) {
    fprintf(c->err, "pagoda: cannot open %s: %s\n", file, strerror(errno));
    return PGD_CLI_EXIT_FAIL;
  }
  size_t len = 0;
  char *text = read_all(f, &len);
  int saved = errno;
  if (!is_stdin) fclose(f);
  if (!text) {
    fprintf(c->err, "pagoda: cannot read %s: %s\n", is_stdin ? "standard input" : file,
            strerror(saved));
    return PGD_CLI_EXIT_FAIL;
  }
  cJSON *def = cJSON_ParseWithLength(text, len);
  if (!cJSON_IsObject(def)) {
    fprintf(c->err, "pagoda: %s: not a JSON object\n", is_stdin ? "standard input" : file);
    cJSON_Delete(def);
    free(text);
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = call(c, "POST", api_path, text, len, NULL, NULL, REQUEST_TIMEOUT_MS, &resp);
  free(text);
  if (rc == 0) {
    cJSON *r = resp.body ? cJSON_ParseWithLength(resp.body, resp.len) : NULL;
    const char *name = json_name(r);
    if (!name) name = json_name(def);
    fprintf(c->out, "%s %s %s\n", noun, name ? name : "(unnamed)",
            resp.status == 201 ? "created" : "replaced");
    cJSON_Delete(r);
  }
  cJSON_Delete(def);
  pgd_http_response_free(&resp);
  return rc;
}

/* ---- job run ------------------------------------------------------------ */

static int json_id(const cJSON *v, long long *out) {
  if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 9007199254740992.0) {
    *out = (long long)v->valuedouble;
    return 0;
  }
  if (cJSON_IsString(v)) return pgd_cli_parse_id(v->valuestring, out);
  return -EINVAL;
}

static const char *exec_state(const cJSON *e) {
  const cJSON *s = pgd_json_get(e, "state");
  if (!cJSON_IsString(s)) {
    const cJSON *inner = pgd_json_get(e, "execution");
    s = pgd_json_get(inner, "state");
  }
  return cJSON_IsString(s) ? s->valuestring : NULL;
}

/* ---- waiting for an end (job run --wait, flow run --wait) -----------------
 * The wait follows GET /api/v1/events (docs/api.md "Events") and looks at
 * the execution once the stream is open (it may have ended already), at
 * each keep-alive (a safety net) and at its final event. An event is sent
 * when the change is committed, before it is durable, and a look through a
 * standby reads the store: when the look after the final event does not
 * see the end yet, the wait polls. It polls every 100 ms too when the
 * stream cannot serve (an older master without it, a reset, the connection
 * lost). Either way the output and exit code come from the same look. */

/* One look at what is awaited: true when it is over, with *exit_rc the
 * command's exit code (its final state printed, or the API's error). */
typedef bool (*wait_check_fn)(ctx_t *c, long long id, int *exit_rc);

/* --wait's progress, on err (stdout keeps the id and the final state): a
 * line each time the execution's state changes. */
static void show_progress(ctx_t *c, long long id, const char *state, const char *worker) {
  if (!state || strcmp(state, c->s->shown_state) == 0) return;
  snprintf(c->s->shown_state, sizeof c->s->shown_state, "%s", state);
  if (pgd_cli_state_is_final(state)) return; /* said on stdout */
  fprintf(c->err, "pagoda: execution %lld %s%s%s\n", id, state, worker ? " on worker " : "",
          worker ? worker : "");
  fflush(c->err);
}

/* flow run --wait's progress, on err: a line per node whose state changed
 * since the last event (`flow_execution.nodes`: {NAME: {"state", ...}}). */
static void show_flow_progress(ctx_t *c, long long id, const cJSON *fe) {
  if (!c->s->shown_nodes && !(c->s->shown_nodes = cJSON_CreateObject())) return;
  const cJSON *n;
  cJSON_ArrayForEach(n, pgd_json_get(fe, "nodes")) {
    const char *state = pgd_json_str(n, "state");
    if (!n->string || !state) continue;
    const char *shown = pgd_json_str(c->s->shown_nodes, n->string);
    if (shown && strcmp(shown, state) == 0) continue;
    cJSON_DeleteItemFromObjectCaseSensitive(c->s->shown_nodes, n->string);
    cJSON_AddStringToObject(c->s->shown_nodes, n->string, state);
    fprintf(c->err, "pagoda: flow execution %lld: node %s %s\n", id, n->string, state);
  }
  fflush(c->err);
}

/* Why an execution did not succeed: its error, else its exit code or signal. */
static void show_failure(ctx_t *c, long long id, const char *state, const cJSON *e) {
  const char *error = pgd_json_str(e, "error");
  const cJSON *code = pgd_json_get(e, "exit_code"), *sig = pgd_json_get(e, "signal");
  if (error && *error)
    fprintf(c->err, "pagoda: execution %lld %s: %s\n", id, state, error);
  else if (cJSON_IsNumber(code))
    fprintf(c->err, "pagoda: execution %lld %s: exit code %d\n", id, state, code->valueint);
  else if (cJSON_IsNumber(sig))
    fprintf(c->err, "pagoda: execution %lld %s: killed by signal %d\n", id, state, sig->valueint);
}

static bool exec_check(ctx_t *c, long long id, int *exit_rc) {
  char path[64];
  snprintf(path, sizeof(path), "/api/v1/executions/%lld", id);
  pgd_http_response_t resp;
  int rc = get(c, path, &resp);
  if (rc != 0) {
    *exit_rc = rc;
    return true;
  }
  cJSON *e = parse_body(c, &resp);
  pgd_http_response_free(&resp);
  if (!e) {
    *exit_rc = PGD_CLI_EXIT_FAIL;
    return true;
  }
  const char *state = exec_state(e);
  bool over = pgd_cli_state_is_final(state);
  show_progress(c, id, state, pgd_json_str(e, "worker_id"));
  if (over) {
    *exit_rc = strcmp(state, "succeeded") == 0 ? PGD_CLI_EXIT_OK : PGD_CLI_EXIT_FAIL;
    fprintf(c->out, "%s\n", state);
    fflush(c->out);
    if (*exit_rc != PGD_CLI_EXIT_OK) show_failure(c, id, state, e);
  }
  cJSON_Delete(e);
  return over;
}

static int wait_polling(ctx_t *c, long long id, wait_check_fn check) {
  int exit_rc = PGD_CLI_EXIT_FAIL;
  while (!check(c, id, &exit_rc)) {
    struct timespec ts = {0, WAIT_POLL_NS};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  }
  return exit_rc;
}

typedef struct waiter {
  ctx_t *c;
  long long id;
  wait_check_fn check;
  const char *item;  /* the data member holding the id: NULL = the data itself */
  const char *final_key, *final_value; /* the event that means "over": key is
                                          true, or key equals value */
  bool over;
  int exit_rc;
  pgd_cli_sse_t sse;
} waiter_t;

static int waiter_event(void *ud, const char *kind, const char *data) {
  waiter_t *w = ud;
  bool look = false;
  if (!kind) {
    look = true; /* the stream's first bytes (it is subscribed now), a keep-alive */
  } else if (strcmp(kind, "reset") == 0) {
    return 1; /* events were lost: poll instead */
  } else {
    cJSON *d = cJSON_Parse(data);
    const cJSON *item = w->item ? pgd_json_get(d, w->item) : d;
    long long id = 0;
    const cJSON *fin = pgd_json_get(d, w->final_key);
    bool mine = json_id(pgd_json_get(item, "id"), &id) == 0 && id == w->id;
    if (mine && !w->item) show_progress(w->c, id, exec_state(item), pgd_json_str(item, "worker_id"));
    else if (mine) show_flow_progress(w->c, id, item);
    look = mine &&
           (w->final_value ? cJSON_IsString(fin) && strcmp(fin->valuestring, w->final_value) == 0
                           : cJSON_IsTrue(fin));
    cJSON_Delete(d);
  }
  if (!look) return 0;
  w->over = w->check(w->c, w->id, &w->exit_rc);
  if (w->over) return 1;
  return kind ? 1 : 0; /* the final event, not visible yet: poll from here */
}

static int stream_chunk(const char *data, size_t len, void *ud) {
  waiter_t *w = ud;
  return pgd_cli_sse_feed(&w->sse, data, len) == 0 ? 0 : 1;
}

static int wait_events(ctx_t *c, long long id, const char *query, waiter_t w) {
  char path[128];
  snprintf(path, sizeof(path), "/api/v1/events%s", query);
  w.c = c;
  w.id = id;
  w.exit_rc = PGD_CLI_EXIT_FAIL;
  pgd_cli_sse_init(&w.sse, waiter_event, &w);
  pgd_http_response_t resp;
  char errbuf[512];
  /* send_once, not call: a stream that cannot serve is not an error here. */
  static const char *const accept[] = {"Accept: text/event-stream", NULL};
  send_once(c, "GET", path, accept, NULL, 0, stream_chunk, &w, 0, &resp, errbuf, sizeof errbuf);
  pgd_http_response_free(&resp);
  pgd_cli_sse_free(&w.sse);
  if (w.over) return w.exit_rc;
  return wait_polling(c, id, w.check);
}

static int wait_for(ctx_t *c, long long id) {
  char query[96];
  snprintf(query, sizeof query, "?kinds=execution&execution=%lld", id);
  return wait_events(c, id, query,
                     (waiter_t){.check = exec_check, .item = NULL, .final_key = "final"});
}

/* POSTs `body` (owned; may be NULL) to path (owned) and prints the id the
 * answer holds in member `key` ("execution_id", "flow_execution_id"). */
static int post_for_id_keyed(ctx_t *c, char *path, const char *idem_key, cJSON *body,
                             const char *key, long long *id_out) {
  char *text = body ? cJSON_PrintUnformatted(body) : NULL;
  cJSON_Delete(body);
  if (!path || (body && !text)) {
    free(path);
    cJSON_free(text);
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = call_keyed(c, "POST", path, idem_key, text, text ? strlen(text) : 0, NULL, NULL,
                      REQUEST_TIMEOUT_MS, &resp);
  cJSON_free(text);
  free(path);
  if (rc != 0) return rc;
  cJSON *r = parse_body(c, &resp);
  pgd_http_response_free(&resp);
  long long id = 0;
  if (!r || json_id(pgd_json_get(r, key), &id) != 0) {
    if (r) fprintf(c->err, "pagoda: the API's answer has no %s\n", key);
    cJSON_Delete(r);
    return PGD_CLI_EXIT_FAIL;
  }
  cJSON_Delete(r);
  fprintf(c->out, "%lld\n", id);
  fflush(c->out);
  *id_out = id;
  return PGD_CLI_EXIT_OK;
}

static int post_for_id(ctx_t *c, char *path, cJSON *body, const char *key, long long *id_out) {
  return post_for_id_keyed(c, path, NULL, body, key, id_out);
}

/* A new random Idempotency-Key: "cli-" and 32 hex digits (128 bits from
 * getrandom; the time and pid if that fails, still unique enough for one
 * client's retries). */
static void new_idem_key(char out[40]) {
  unsigned char b[16];
  if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec, y = (uint64_t)getpid();
    memcpy(b, &x, 8);
    memcpy(b + 8, &y, 8);
  }
  strcpy(out, "cli-");
  for (int i = 0; i < 16; i++) snprintf(out + 4 + 2 * i, 3, "%02x", b[i]);
}

/* POSTs the runs of `job run --count N | --params-file FILE` to
 * /api/v1/runs, PGD_CLI_RUNS_PER_BATCH at a time (each batch one commit;
 * a retried batch replays by the runs' keys), and prints each execution
 * id, one a line. With --wait, then waits for each in turn: exit 0 only
 * when all succeeded. */
static int job_run_batch(ctx_t *c) {
  char err[512], key[40];
  new_idem_key(key);
  FILE *f = NULL;
  if (c->a->params_file) {
    f = strcmp(c->a->params_file, "-") == 0 ? stdin : fopen(c->a->params_file, "r");
    if (!f) {
      fprintf(c->err, "pagoda: cannot read %s: %s\n", c->a->params_file, strerror(errno));
      return PGD_CLI_EXIT_FAIL;
    }
  }
  cJSON *runs = pgd_cli_runs_build(c->a->arg, c->a->params, c->a->count, f,
                                   c->a->params_file ? c->a->params_file : "", key, err,
                                   sizeof err);
  if (f && f != stdin) fclose(f);
  if (!runs) {
    fprintf(c->err, "pagoda: %s\n", err);
    return PGD_CLI_EXIT_FAIL;
  }
  int total = cJSON_GetArraySize(runs), done = 0, rc = PGD_CLI_EXIT_OK;
  long long *ids = calloc((size_t)total, sizeof *ids);
  if (!ids) abort();
  while (rc == PGD_CLI_EXIT_OK && done < total) {
    cJSON *body = cJSON_CreateObject();
    cJSON *chunk = cJSON_AddArrayToObject(body, "runs");
    for (int i = 0; i < PGD_CLI_RUNS_PER_BATCH && runs->child; i++)
      cJSON_AddItemToArray(chunk, cJSON_DetachItemViaPointer(runs, runs->child));
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (!text) abort();
    pgd_http_response_t resp;
    /* The runs carry their keys in the body: the key here only turns on
     * the retries (the route ignores the header). */
    rc = call_keyed(c, "POST", "/api/v1/runs", key, text, strlen(text), NULL, NULL,
                    REQUEST_TIMEOUT_MS, &resp);
    cJSON_free(text);
    if (rc != PGD_CLI_EXIT_OK) break;
    cJSON *r = parse_body(c, &resp);
    pgd_http_response_free(&resp);
    const cJSON *e;
    cJSON_ArrayForEach(e, pgd_json_get(r, "executions")) {
      long long id = 0;
      if (done >= total || json_id(pgd_json_get(e, "execution_id"), &id) != 0) break;
      ids[done++] = id;
      fprintf(c->out, "%lld\n", id);
    }
    fflush(c->out);
    if (!r) rc = PGD_CLI_EXIT_FAIL;
    cJSON_Delete(r);
  }
  cJSON_Delete(runs);
  int waited = PGD_CLI_EXIT_OK;
  for (int i = 0; rc == PGD_CLI_EXIT_OK && c->a->wait && i < done; i++) {
    int w = wait_for(c, ids[i]);
    if (w != PGD_CLI_EXIT_OK) waited = w;
  }
  if (rc == PGD_CLI_EXIT_OK) rc = waited;
  free(ids);
  return rc;
}

static int job_run(ctx_t *c) {
  if (c->a->count > 0 || c->a->params_file) return job_run_batch(c);
  cJSON *body = cJSON_CreateObject();
  cJSON *params = c->a->params ? cJSON_Duplicate(c->a->params, 1) : cJSON_CreateObject();
  if (!body || !params || !cJSON_AddItemToObject(body, "params", params)) {
    cJSON_Delete(params);
    cJSON_Delete(body);
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  long long id = 0;
  char key[40];
  new_idem_key(key); /* one per `job run`: its retries reuse it */
  int rc = post_for_id_keyed(c, path_with("/api/v1/jobs/%s/run%s", c->a->arg, NULL), key, body,
                             "execution_id", &id);
  if (rc != PGD_CLI_EXIT_OK || !c->a->wait) return rc;
  return wait_for(c, id);
}

/* ---- flows ----------------------------------------------------------------- */

/* One look at a flow execution: over once it is no longer running (its
 * status table printed; exit 0 only when it succeeded). */
static bool flow_check(ctx_t *c, long long id, int *exit_rc) {
  char path[64];
  snprintf(path, sizeof(path), "/api/v1/flow-executions/%lld", id);
  pgd_http_response_t resp;
  int rc = get(c, path, &resp);
  if (rc != 0) {
    *exit_rc = rc;
    return true;
  }
  cJSON *fe = parse_body(c, &resp);
  pgd_http_response_free(&resp);
  if (!fe) {
    *exit_rc = PGD_CLI_EXIT_FAIL;
    return true;
  }
  const char *state = exec_state(fe);
  bool over = state && strcmp(state, "running") != 0;
  if (over) {
    pgd_cli_print_flow_status(fe, c->out);
    *exit_rc = strcmp(state, "succeeded") == 0 ? PGD_CLI_EXIT_OK : PGD_CLI_EXIT_FAIL;
    fflush(c->out);
  }
  cJSON_Delete(fe);
  return over;
}

/* Waits for a flow execution's end (the event stream, else polling). */
static int flow_wait(ctx_t *c, long long id) {
  return wait_events(c, id, "?kinds=flow",
                     (waiter_t){.check = flow_check, .item = "flow_execution",
                                .final_key = "change", .final_value = "final"});
}


static int flow_run(ctx_t *c) {
  cJSON *body = cJSON_CreateObject();
  if (body)
    cJSON_AddItemToObject(body, "params",
                          c->a->params ? cJSON_Duplicate(c->a->params, 1) : cJSON_CreateObject());
  long long id = 0;
  int rc = post_for_id(c, path_with("/api/v1/flows/%s/run%s", c->a->arg, NULL), body, "flow_execution_id", &id);
  if (rc != 0 || !c->a->wait) return rc;
  return flow_wait(c, id);
}

static int flow_rerun(ctx_t *c) {
  cJSON *body = cJSON_CreateObject();
  if (!body) return PGD_CLI_EXIT_FAIL;
  if (c->a->from_failed) {
    cJSON_AddTrueToObject(body, "from_failed");
  } else {
    cJSON *arr = cJSON_AddArrayToObject(body, "nodes");
    const char *p = c->a->nodes;
    while (arr && p && *p) {
      const char *comma = strchr(p, ',');
      size_t n = comma ? (size_t)(comma - p) : strlen(p);
      if (n > 0) {
        char *id = strndup(p, n);
        if (id) cJSON_AddItemToArray(arr, cJSON_CreateString(id));
        free(id);
      }
      p = comma ? comma + 1 : NULL;
    }
  }
  char path[96];
  snprintf(path, sizeof(path), "/api/v1/flow-executions/%lld/rerun", c->a->id);
  long long id = 0;
  return post_for_id(c, strdup(path), body, "flow_execution_id", &id);
}

static int flow_status(ctx_t *c) {
  char path[96];
  snprintf(path, sizeof(path), "/api/v1/flow-executions/%lld", c->a->id);
  if (c->a->json) return show(c, path);
  pgd_http_response_t resp;
  int rc = get(c, path, &resp);
  if (rc != 0) return rc;
  cJSON *fe = parse_body(c, &resp);
  pgd_http_response_free(&resp);
  if (!fe) return PGD_CLI_EXIT_FAIL;
  int pr = pgd_cli_print_flow_status(fe, c->out);
  cJSON_Delete(fe);
  if (pr != 0) fprintf(c->err, "pagoda: the API's answer is not a flow execution\n");
  return pr == 0 ? PGD_CLI_EXIT_OK : PGD_CLI_EXIT_FAIL;
}

/* ---- exec ------------------------------------------------------------------ */

typedef struct {
  FILE *out;
  FILE *err;
  long long received; /* log bytes written to out: the offset to resume from */
} log_sink_t;

static int log_chunk(const char *data, size_t len, void *ud) {
  log_sink_t *s = ud;
  if (fwrite(data, 1, len, s->out) != len || fflush(s->out) != 0) {
    fprintf(s->err, "pagoda: cannot write the log: %s\n", strerror(errno));
    return -1;
  }
  s->received += (long long)len;
  return 0;
}

/* `exec logs -f` reconnects while the execution is not final (docs/cli.md
 * "Following a log across a failover"): delays between attempts double from
 * 0.2 s up to 3.2 s, and it gives up once no master has served the log for
 * FOLLOW_GIVE_UP_S. */
#define FOLLOW_RETRY_FIRST_NS 200000000L
#define FOLLOW_RETRY_MAX_NS 3200000000L
#define FOLLOW_GIVE_UP_S 120

static double monotonic_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 when execution `id` is final, 0 when not or when no master answered. */
static int exec_is_final(ctx_t *c, long long id) {
  char path[96], errbuf[512];
  snprintf(path, sizeof path, "/api/v1/executions/%lld", id);
  pgd_http_response_t resp;
  int rc = send_once(c, "GET", path, NULL, NULL, 0, NULL, NULL, REQUEST_TIMEOUT_MS, &resp, errbuf,
                     sizeof errbuf);
  int final = 0;
  if (rc == 0 && resp.status == 200 && resp.body) {
    cJSON *e = cJSON_ParseWithLength(resp.body, resp.len);
    int st = pgd_exec_state_parse(pgd_json_str(e, "state"));
    final = st >= 0 && pgd_exec_state_final((pgd_exec_state_t)st);
    cJSON_Delete(e);
  }
  pgd_http_response_free(&resp);
  return final;
}

/* Follows the log until the execution is final: when the stream breaks
 * (the master died or stopped leading), asks the masters of the address
 * list again with ?offset=<bytes printed>, so nothing is printed twice or
 * skipped (docs/api.md "Resuming a follow"). */
static int exec_logs_follow(ctx_t *c) {
  log_sink_t sink = {c->out, c->err, 0};
  long delay = FOLLOW_RETRY_FIRST_NS;
  double failing_since = 0; /* 0: the last request was served */
  for (;;) {
    char path[128], errbuf[512] = "";
    snprintf(path, sizeof path, "/api/v1/executions/%lld/log?follow=1&offset=%lld", c->a->id,
             sink.received);
    long long before = sink.received;
    pgd_http_response_t resp;
    int rc = send_once(c, "GET", path, NULL, NULL, 0, log_chunk, &sink, 0, &resp, errbuf,
                       sizeof errbuf);
    if (rc == -ECANCELED || rc == -ENOMEM) { /* the output failed, or memory */
      if (rc == -ENOMEM) fprintf(c->err, "pagoda: out of memory\n");
      pgd_http_response_free(&resp);
      return PGD_CLI_EXIT_FAIL;
    }
    bool served = rc == 0 && resp.status >= 200 && resp.status < 300;
    if (rc == 0 && !served && resp.status != 503 && resp.status < 500) {
      char msg[1024]; /* 404, 401, 403: retrying does not help */
      pgd_cli_error_message(resp.body, resp.len, msg, sizeof msg);
      fprintf(c->err, "pagoda: %s (HTTP %ld)\n", msg, resp.status);
      pgd_http_response_free(&resp);
      return PGD_CLI_EXIT_FAIL;
    }
    if (rc == 0 && !served) snprintf(errbuf, sizeof errbuf, "HTTP %ld", resp.status);
    pgd_http_response_free(&resp);
    if (served && exec_is_final(c, c->a->id)) break;
    if (served) snprintf(errbuf, sizeof errbuf, "the stream ended before the execution");
    if (sink.received > before) delay = FOLLOW_RETRY_FIRST_NS;
    double now = monotonic_s();
    if (served || failing_since == 0) failing_since = now;
    if (now - failing_since > FOLLOW_GIVE_UP_S) {
      fprintf(c->err, "pagoda: gave up following execution %lld: no master served its log for "
                      "%d s (%s)\n", c->a->id, FOLLOW_GIVE_UP_S, errbuf);
      return PGD_CLI_EXIT_FAIL;
    }
    fprintf(c->err, "pagoda: the log stream broke (%s); reconnecting at byte %lld\n", errbuf,
            sink.received);
    /* a transfer cut short: that master is likely gone, start with the next */
    if (rc == -EIO) pgd_cli_addrs_advance(&c->s->addrs, c->s->addrs.cur);
    sleep_ns(delay);
    delay = delay * 2 > FOLLOW_RETRY_MAX_NS ? FOLLOW_RETRY_MAX_NS : delay * 2;
  }
  fflush(c->out);
  return PGD_CLI_EXIT_OK;
}

static int exec_logs(ctx_t *c) {
  if (c->a->follow) return exec_logs_follow(c);
  char path[96];
  snprintf(path, sizeof(path), "/api/v1/executions/%lld/log", c->a->id);
  log_sink_t sink = {c->out, c->err, 0};
  pgd_http_response_t resp;
  int rc = call(c, "GET", path, NULL, 0, log_chunk, &sink, 0, &resp);
  pgd_http_response_free(&resp);
  fflush(c->out);
  return rc;
}

/* ---- tokens and the audit log ---------------------------------------------- */

/* `token create --name N --role R [--expires D]`: the token is printed once. */
static int token_create(ctx_t *c) {
  if (!c->a->token_name || !c->a->role) {
    fprintf(c->err, "pagoda: token create needs --name NAME and --role viewer|operator|admin\n");
    return PGD_CLI_EXIT_USAGE;
  }
  cJSON *b = cJSON_CreateObject();
  pgd_json_set_str(b, "name", c->a->token_name);
  pgd_json_set_str(b, "role", c->a->role);
  if (c->a->expires) pgd_json_set_str(b, "expires", c->a->expires);
  char *body = cJSON_PrintUnformatted(b);
  cJSON_Delete(b);
  pgd_http_response_t resp;
  int rc = body ? call(c, "POST", "/api/v1/tokens", body, strlen(body), NULL, NULL,
                       REQUEST_TIMEOUT_MS, &resp)
                : PGD_CLI_EXIT_FAIL;
  free(body);
  if (rc != 0) return rc;
  cJSON *j = c->a->json ? NULL : parse_body(c, &resp);
  if (c->a->json) {
    rc = print_raw(c, &resp);
  } else if (j) {
    fprintf(c->out, "token %s (role %s) created. It is shown only now; keep it safe:\n%s\n",
            c->a->token_name, c->a->role, pgd_json_str(j, "token") ? pgd_json_str(j, "token") : "?");
  }
  cJSON_Delete(j);
  pgd_http_response_free(&resp);
  return rc;
}

static int audit_list(ctx_t *c) {
  int since_bad;
  char *p = pgd_cli_audit_path(c->a, (long long)time(NULL) * 1000000, &since_bad);
  if (since_bad) {
    free(p);
    fprintf(c->err, "pagoda: --since wants a duration (90s, 15m, 12h, 30d) or µs since the epoch\n");
    return PGD_CLI_EXIT_USAGE;
  }
  int rc = list(c, p, pgd_cli_print_audit);
  free(p);
  return rc;
}

/* ---- resources ------------------------------------------------------------ */

/* `resource put NAME FILE`: the file is the request body. */
static int res_put(ctx_t *c) {
  const char *file = c->a->arg2;
  FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
  if (!f) {
    fprintf(c->err, "pagoda: cannot open %s: %s\n", file, strerror(errno));
    return PGD_CLI_EXIT_FAIL;
  }
  size_t cap = 1 << 16, len = 0;
  char *buf = malloc(cap);
  size_t n;
  while (buf && (n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      char *nb = realloc(buf, cap *= 2);
      if (!nb) free(buf);
      buf = nb;
    }
  }
  int read_err = ferror(f);
  if (f != stdin) fclose(f);
  if (!buf || read_err) {
    fprintf(c->err, "pagoda: cannot read %s\n", file);
    free(buf);
    return PGD_CLI_EXIT_FAIL;
  }
  char *path = path_with("/api/v1/resources/%s%s", c->a->arg, NULL);
  pgd_http_response_t resp;
  int rc = path ? call(c, "PUT", path, buf, len, NULL, NULL, 0, &resp) : PGD_CLI_EXIT_FAIL;
  free(path);
  free(buf);
  if (rc == 0) {
    cJSON *j = cJSON_ParseWithLength(resp.body, resp.len);
    const char *ver = pgd_json_str(j, "version");
    fprintf(c->out, "resource %s %s: version %s (%zu bytes)\n", c->a->arg,
            resp.status == 201 ? "stored" : "unchanged", ver ? ver : "?", len);
    cJSON_Delete(j);
    pgd_http_response_free(&resp);
  }
  return rc;
}

/* `resource get NAME [--version H] [-o FILE]`: the content, to a file or stdout. */
static int res_get(ctx_t *c) {
  char q[100] = "";
  if (c->a->version) snprintf(q, sizeof q, "?version=%.64s", c->a->version);
  char *path = path_with("/api/v1/resources/%s%s", c->a->arg, q);
  FILE *out = c->a->output ? fopen(c->a->output, "wb") : c->out;
  if (!out) {
    fprintf(c->err, "pagoda: cannot write %s: %s\n", c->a->output, strerror(errno));
    free(path);
    return PGD_CLI_EXIT_FAIL;
  }
  log_sink_t sink = {out, c->err, 0};
  pgd_http_response_t resp;
  int rc = path ? call(c, "GET", path, NULL, 0, log_chunk, &sink, 0, &resp) : PGD_CLI_EXIT_FAIL;
  free(path);
  if (rc == 0) pgd_http_response_free(&resp);
  if (out != c->out && fclose(out) != 0) rc = PGD_CLI_EXIT_FAIL;
  return rc;
}

static int res_delete(ctx_t *c) {
  char q[100] = "";
  if (c->a->version) snprintf(q, sizeof q, "?version=%.64s", c->a->version);
  return action(c, "DELETE", path_with("/api/v1/resources/%s%s", c->a->arg, q),
                "resource %s deleted\n");
}

/* ---- schedules ------------------------------------------------------------- */

/* `schedule next NAME [--count N]`: the next fire times, one per line. */
static int sched_next(ctx_t *c) {
  char q[32];
  snprintf(q, sizeof q, "?next=%ld", c->a->count > 0 ? c->a->count : 5);
  char *path = path_with("/api/v1/schedules/%s%s", c->a->arg, q);
  if (!path) {
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = get(c, path, &resp);
  free(path);
  if (rc != 0) return rc;
  cJSON *j = parse_body(c, &resp);
  pgd_http_response_free(&resp);
  if (!j) return PGD_CLI_EXIT_FAIL;
  const cJSON *next = pgd_json_get(j, "next"), *t;
  if (!cJSON_IsArray(next) || cJSON_GetArraySize(next) == 0)
    fprintf(c->out, "(no fire time ahead%s)\n",
            cJSON_IsFalse(pgd_json_get(j, "enabled")) ? "; the schedule is paused" : "");
  cJSON_ArrayForEach(t, next) if (cJSON_IsString(t)) fprintf(c->out, "%s\n", t->valuestring);
  cJSON_Delete(j);
  return fflush(c->out) == 0 ? PGD_CLI_EXIT_OK : PGD_CLI_EXIT_FAIL;
}

/* `schedule run NAME`: start the target now; print the execution id. */
static int sched_run(ctx_t *c) {
  char *path = path_with("/api/v1/schedules/%s%s", c->a->arg, "/run");
  if (!path) {
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = call(c, "POST", path, NULL, 0, NULL, NULL, REQUEST_TIMEOUT_MS, &resp);
  free(path);
  if (rc != 0) return rc;
  cJSON *j = parse_body(c, &resp);
  pgd_http_response_free(&resp);
  if (!j) return PGD_CLI_EXIT_FAIL;
  long long id = 0;
  if (json_id(pgd_json_get(j, "execution_id"), &id) == 0)
    fprintf(c->out, "%lld\n", id);
  else if (json_id(pgd_json_get(j, "flow_execution_id"), &id) == 0)
    fprintf(c->out, "flow execution %lld\n", id);
  cJSON_Delete(j);
  return PGD_CLI_EXIT_OK;
}

/* ---- entry points -------------------------------------------------------- */

/* Runs the command of `a` (the switch of every command). */
static int client_dispatch(const pgd_cli_args_t *a, FILE *out, FILE *errout, session_t *session) {
  ctx_t c = {a, out, errout, session};
  char idpath[96];
  switch (a->cmd) {
    case PGD_CLI_JOB_CREATE:
      return job_create(&c);
    case PGD_CLI_JOB_LIST:
      return list(&c, "/api/v1/jobs", pgd_cli_print_jobs);
    case PGD_CLI_JOB_SHOW: {
      char *p = path_with("/api/v1/jobs/%s%s", a->arg, NULL);
      int rc = show(&c, p);
      free(p);
      return rc;
    }
    case PGD_CLI_JOB_RUN:
      return job_run(&c);
    case PGD_CLI_JOB_DELETE:
      return action(&c, "DELETE", path_with("/api/v1/jobs/%s%s", a->arg, NULL),
                    "job %s deleted\n");
    case PGD_CLI_EXEC_LIST: {
      char *p = pgd_cli_exec_list_path(a);
      int rc = list(&c, p, pgd_cli_print_executions);
      free(p);
      return rc;
    }
    case PGD_CLI_EXEC_SHOW:
      snprintf(idpath, sizeof(idpath), "/api/v1/executions/%lld", a->id);
      return show(&c, idpath);
    case PGD_CLI_EXEC_LOGS:
      return exec_logs(&c);
    case PGD_CLI_EXEC_KILL:
      return action(&c, "POST", path_with("/api/v1/executions/%s%s", a->arg, "/kill"),
                    "kill requested for execution %s\n");
    case PGD_CLI_EXEC_DELETE:
      return action(&c, "DELETE", path_with("/api/v1/executions/%s%s", a->arg, NULL),
                    "execution %s deleted\n");
    case PGD_CLI_WORKER_LIST:
      return list(&c, "/api/v1/workers", pgd_cli_print_workers);
    case PGD_CLI_WORKER_SHOW: {
      char *p = path_with("/api/v1/workers/%s%s", a->arg, NULL);
      int rc = show(&c, p);
      free(p);
      return rc;
    }
    case PGD_CLI_WORKER_DRAIN:
      return action(&c, "POST", path_with("/api/v1/workers/%s%s", a->arg, "/drain"),
                    "worker %s draining\n");
    case PGD_CLI_WORKER_UNDRAIN:
      return action(&c, "POST", path_with("/api/v1/workers/%s%s", a->arg, "/undrain"),
                    "worker %s undrained\n");
    case PGD_CLI_PLUGIN_LIST:
      return pgd_client_plugin_list(a, out, errout); /* with the pushed versions */
    case PGD_CLI_PLUGIN_PUSH:
      return pgd_client_plugin_push(a, out, errout);
    case PGD_CLI_PLUGIN_ROLLBACK:
      return pgd_client_plugin_rollback(a, out, errout);
    case PGD_CLI_BALANCER_LIST:
      return list(&c, "/api/v1/balancers", pgd_cli_print_balancers);
    case PGD_CLI_BALANCER_RELOAD:
      return list_with(&c, "POST", "/api/v1/balancers/reload", pgd_cli_print_balancers);
    case PGD_CLI_RES_PUT:
      return res_put(&c);
    case PGD_CLI_RES_LIST:
      return list(&c, "/api/v1/resources", pgd_cli_print_resources);
    case PGD_CLI_RES_GET:
      return res_get(&c);
    case PGD_CLI_RES_VERSIONS: {
      char *p = path_with("/api/v1/resources/%s%s", a->arg, "/versions");
      int rc = show(&c, p);
      free(p);
      return rc;
    }
    case PGD_CLI_RES_DELETE:
      return res_delete(&c);
    case PGD_CLI_PLUGIN_CHECK:
      /* Local: loads the file through the same loader as the daemons. */
      return pgd_plugin_check(a->arg, out) == 0 ? PGD_CLI_EXIT_OK : PGD_CLI_EXIT_FAIL;
    case PGD_CLI_PLUGIN_TEST:
      /* Local too: the daemons' host code on one params object. */
      switch (pgd_plugin_trial(a->arg, a->params_text, a->type, out, errout)) {
        case PGD_TRIAL_OK: return PGD_CLI_EXIT_OK;
        case PGD_TRIAL_USAGE: return PGD_CLI_EXIT_USAGE;
        default: return PGD_CLI_EXIT_FAIL;
      }
    case PGD_CLI_FLOW_CREATE:
      return create_from_file(&c, "/api/v1/flows", "flow");
    case PGD_CLI_FLOW_LIST:
      return list(&c, "/api/v1/flows", pgd_cli_print_flows);
    case PGD_CLI_FLOW_SHOW: {
      char *p = path_with("/api/v1/flows/%s%s", a->arg, NULL);
      int rc = show(&c, p);
      free(p);
      return rc;
    }
    case PGD_CLI_FLOW_DELETE:
      return action(&c, "DELETE", path_with("/api/v1/flows/%s%s", a->arg, NULL),
                    "flow %s deleted\n");
    case PGD_CLI_FLOW_RUN:
      return flow_run(&c);
    case PGD_CLI_FLOW_STATUS:
      return flow_status(&c);
    case PGD_CLI_FLOW_KILL:
      return action(&c, "POST", path_with("/api/v1/flow-executions/%s%s", a->arg, "/kill"),
                    "kill requested for flow execution %s\n");
    case PGD_CLI_FLOW_RERUN:
      return flow_rerun(&c);
    case PGD_CLI_SCHED_CREATE:
      return create_from_file(&c, "/api/v1/schedules", "schedule");
    case PGD_CLI_SCHED_LIST:
      return list(&c, "/api/v1/schedules", pgd_cli_print_schedules);
    case PGD_CLI_SCHED_SHOW: {
      char *p = path_with("/api/v1/schedules/%s%s", a->arg, "?next=5");
      int rc = show(&c, p);
      free(p);
      return rc;
    }
    case PGD_CLI_SCHED_NEXT:
      return sched_next(&c);
    case PGD_CLI_SCHED_PAUSE:
      return action(&c, "POST", path_with("/api/v1/schedules/%s%s", a->arg, "/pause"),
                    "schedule %s paused\n");
    case PGD_CLI_SCHED_RESUME:
      return action(&c, "POST", path_with("/api/v1/schedules/%s%s", a->arg, "/resume"),
                    "schedule %s resumed\n");
    case PGD_CLI_SCHED_RUN:
      return sched_run(&c);
    case PGD_CLI_SCHED_DELETE:
      return action(&c, "DELETE", path_with("/api/v1/schedules/%s%s", a->arg, NULL),
                    "schedule %s deleted\n");
    case PGD_CLI_TOKEN_CREATE:
      return token_create(&c);
    case PGD_CLI_TOKEN_LIST:
      return list(&c, "/api/v1/tokens", pgd_cli_print_tokens);
    case PGD_CLI_TOKEN_REVOKE:
      return action(&c, "DELETE", path_with("/api/v1/tokens/%s%s", a->arg, NULL),
                    "token %s revoked\n");
    case PGD_CLI_AUDIT_LIST:
      return audit_list(&c);
    case PGD_CLI_APPLY:
      return pgd_client_apply(a, out, errout);
    case PGD_CLI_EXPORT:
      return pgd_client_export(a, out, errout);
    case PGD_CLI_ALARM_LIST: {
      char *p = pgd_cli_alarm_list_path(a);
      int rc = p ? list(&c, p, pgd_cli_print_alarms) : PGD_CLI_EXIT_FAIL;
      free(p);
      return rc;
    }
    case PGD_CLI_ALARM_ACK:
      return action(&c, "POST", path_with("/api/v1/alarms/%s%s", a->arg, "/ack"),
                    "alarm %s acknowledged\n");
    case PGD_CLI_CMD_NONE:
      break;
  }
  return PGD_CLI_EXIT_USAGE;
}

int pgd_client_run(const pgd_cli_args_t *a, FILE *out, FILE *errout) {
  if (!a || !out || !errout) return PGD_CLI_EXIT_USAGE;
  session_t session = {0};
  char aerr[512];
  /* plugin check|test run locally: no master to find. */
  bool local = a->cmd == PGD_CLI_PLUGIN_CHECK || a->cmd == PGD_CLI_PLUGIN_TEST;
  if (!local && pgd_cli_addrs_parse(a->addr, &session.addrs, aerr, sizeof aerr) < 0) {
    fprintf(errout, "pagoda: %s\n", aerr);
    return PGD_CLI_EXIT_FAIL;
  }
  int rc = client_dispatch(a, out, errout, &session);
  pgd_cli_addrs_free(&session.addrs);
  cJSON_Delete(session.shown_nodes);
  return rc;
}

int pgd_client_main(int argc, char **argv) {
  pgd_cli_args_t a;
  char err[512];
  int rc = pgd_cli_args_parse(argc, argv, getenv("PAGODA_ADDR"), &a, err, sizeof(err));
  if (rc == -ENOMEM) {
    fprintf(stderr, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  if (rc != 0) {
    fprintf(stderr, "pagoda: %s\n\n", err);
    pgd_cli_usage(stderr, a.group);
    return PGD_CLI_EXIT_USAGE;
  }
  if (a.help) {
    pgd_cli_usage(stdout, a.group);
    pgd_cli_args_free(&a);
    return PGD_CLI_EXIT_OK;
  }
  if (pgd_http_global_init() != 0) {
    fprintf(stderr, "pagoda: cannot initialise libcurl\n");
    pgd_cli_args_free(&a);
    return PGD_CLI_EXIT_FAIL;
  }
  /* HTTPS: the CA that signed the API's certificate (else the system's). */
  pgd_http_set_cacert(a.cacert ? a.cacert : getenv("PAGODA_CACERT"));
  const char *source = NULL;
  char *token = pgd_cli_token_resolve(a.token, a.addr, &source, err, sizeof(err));
  if (!token && err[0]) {
    fprintf(stderr, "pagoda: %s\n", err);
    pgd_http_global_cleanup();
    pgd_cli_args_free(&a);
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_set_token(token);
  free(token);
  rc = pgd_client_run(&a, stdout, stderr);
  pgd_http_global_cleanup();
  pgd_cli_args_free(&a);
  if (fflush(stdout) != 0 && rc == PGD_CLI_EXIT_OK) rc = PGD_CLI_EXIT_FAIL;
  return rc;
}
