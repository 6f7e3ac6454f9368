/* Pagoda — the CLI's job, execution and flow commands (client_jobs.h). */
#include "cli/client_jobs.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli/client_events.h"
#include "cli/client_runs.h"
#include "cli/client_table.h"
#include "common/exec_state.h"

#define WAIT_POLL_NS 100000000L /* 100 ms */

/* ---- job create ------------------------------------------------------- */

int client_job_create(ctx_t *c) { return client_create_from_file(c, "/api/v1/jobs", "job"); }

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

/* A wait's look: GET "/api/v1/<collection>/<id>" as JSON (the caller's), or
 * NULL with *exit_rc set when it cannot be had (the wait is then over). */
static cJSON *look_at(ctx_t *c, const char *collection, long long id, int *exit_rc) {
  char path[96];
  snprintf(path, sizeof(path), "/api/v1/%s/%lld", collection, id);
  pgd_http_response_t resp;
  int rc = client_get(c, path, &resp);
  if (rc != 0) {
    *exit_rc = rc;
    return NULL;
  }
  cJSON *j = client_parse_body(c, &resp);
  pgd_http_response_free(&resp);
  if (!j) *exit_rc = PGD_CLI_EXIT_FAIL;
  return j;
}

static bool exec_check(ctx_t *c, long long id, int *exit_rc) {
  cJSON *e = look_at(c, "executions", id, exit_rc);
  if (!e) return true;
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
    bool mine = client_json_id(pgd_json_get(item, "id"), &id) == 0 && id == w->id;
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
  client_send_once(c, "GET", path, accept, NULL, 0, stream_chunk, &w, 0, &resp, errbuf, sizeof errbuf);
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
  int rc = client_call_keyed(c, "POST", path, idem_key, text, text ? strlen(text) : 0, NULL, NULL,
                      REQUEST_TIMEOUT_MS, &resp);
  cJSON_free(text);
  free(path);
  if (rc != 0) return rc;
  cJSON *r = client_parse_body(c, &resp);
  pgd_http_response_free(&resp);
  long long id = 0;
  if (!r || client_json_id(pgd_json_get(r, key), &id) != 0) {
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
    rc = client_call_keyed(c, "POST", "/api/v1/runs", key, text, strlen(text), NULL, NULL,
                    REQUEST_TIMEOUT_MS, &resp);
    cJSON_free(text);
    if (rc != PGD_CLI_EXIT_OK) break;
    cJSON *r = client_parse_body(c, &resp);
    pgd_http_response_free(&resp);
    const cJSON *e;
    cJSON_ArrayForEach(e, pgd_json_get(r, "executions")) {
      long long id = 0;
      if (done >= total || client_json_id(pgd_json_get(e, "execution_id"), &id) != 0) break;
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

int client_job_run(ctx_t *c) {
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
  int rc = post_for_id_keyed(c, client_path_with("/api/v1/jobs/%s/run%s", c->a->arg, NULL), key, body,
                             "execution_id", &id);
  if (rc != PGD_CLI_EXIT_OK || !c->a->wait) return rc;
  return wait_for(c, id);
}

/* ---- flows ----------------------------------------------------------------- */

/* One look at a flow execution: over once it is no longer running (its
 * status table printed; exit 0 only when it succeeded). */
static bool flow_check(ctx_t *c, long long id, int *exit_rc) {
  cJSON *fe = look_at(c, "flow-executions", id, exit_rc);
  if (!fe) return true;
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


int client_flow_run(ctx_t *c) {
  cJSON *body = cJSON_CreateObject();
  if (body)
    cJSON_AddItemToObject(body, "params",
                          c->a->params ? cJSON_Duplicate(c->a->params, 1) : cJSON_CreateObject());
  long long id = 0;
  int rc = post_for_id(c, client_path_with("/api/v1/flows/%s/run%s", c->a->arg, NULL), body, "flow_execution_id", &id);
  if (rc != 0 || !c->a->wait) return rc;
  return flow_wait(c, id);
}

int client_flow_rerun(ctx_t *c) {
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

int client_flow_status(ctx_t *c) {
  char path[96];
  snprintf(path, sizeof(path), "/api/v1/flow-executions/%lld", c->a->id);
  if (c->a->json) return client_show(c, path);
  pgd_http_response_t resp;
  int rc = client_get(c, path, &resp);
  if (rc != 0) return rc;
  cJSON *fe = client_parse_body(c, &resp);
  pgd_http_response_free(&resp);
  if (!fe) return PGD_CLI_EXIT_FAIL;
  int pr = pgd_cli_print_flow_status(fe, c->out);
  cJSON_Delete(fe);
  if (pr != 0) fprintf(c->err, "pagoda: the API's answer is not a flow execution\n");
  return pr == 0 ? PGD_CLI_EXIT_OK : PGD_CLI_EXIT_FAIL;
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
  int rc = client_send_once(c, "GET", path, NULL, NULL, 0, NULL, NULL, REQUEST_TIMEOUT_MS, &resp,
                            errbuf, sizeof errbuf);
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
    int rc = client_send_once(c, "GET", path, NULL, NULL, 0, client_log_chunk, &sink, 0, &resp,
                              errbuf, sizeof errbuf);
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
    client_sleep_ns(delay);
    delay = delay * 2 > FOLLOW_RETRY_MAX_NS ? FOLLOW_RETRY_MAX_NS : delay * 2;
  }
  fflush(c->out);
  return PGD_CLI_EXIT_OK;
}

int client_exec_logs(ctx_t *c) {
  if (c->a->follow) return exec_logs_follow(c);
  char path[96];
  snprintf(path, sizeof(path), "/api/v1/executions/%lld/log", c->a->id);
  log_sink_t sink = {c->out, c->err, 0};
  pgd_http_response_t resp;
  int rc = client_call(c, "GET", path, NULL, 0, client_log_chunk, &sink, 0, &resp);
  pgd_http_response_free(&resp);
  fflush(c->out);
  return rc;
}
