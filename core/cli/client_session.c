/* Pagoda — the CLI commands' shared request helpers (client_session.h). */
#include "cli/client_session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/client_call.h"
#include "cli/client_table.h"
#include "common/err.h"

#define MAX_JOB_FILE (16u * 1024u * 1024u)

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

void client_sleep_ns(long ns) {
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
int client_send_once(ctx_t *c, const char *method, const char *path, const char *const *headers,
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
int client_call_keyed(ctx_t *c, const char *method, const char *path, const char *idem_key,
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
    rc = client_send_once(c, method, path, headers, body, body_len, on_chunk, ud, timeout_ms, resp,
                   errbuf, sizeof errbuf);
    if (!idem_key || attempt >= RETRY_ATTEMPTS || !retryable(rc, resp)) break;
    if (rc == 0)
      fprintf(c->err, "pagoda: HTTP %ld; retrying with the same Idempotency-Key\n", resp->status);
    else
      fprintf(c->err, "pagoda: %s; retrying with the same Idempotency-Key\n", errbuf);
    pgd_http_response_free(resp);
    client_sleep_ns(delay);
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

int client_call(ctx_t *c, const char *method, const char *path, const char *body, size_t body_len,
                pgd_http_chunk_cb on_chunk, void *ud, long timeout_ms, pgd_http_response_t *resp) {
  return client_call_keyed(c, method, path, NULL, body, body_len, on_chunk, ud, timeout_ms, resp);
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
  int rc = client_call(&c, method, path, body, body_len, on_chunk, ud,
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
  int rc = client_send_once(&c, method, path, NULL, body, body_len, NULL, NULL, REQUEST_TIMEOUT_MS, resp,
                     errbuf, sizeof errbuf);
  pgd_cli_addrs_free(&session.addrs);
  if (rc == 0) return 0;
  fprintf(err, "pagoda: cannot reach the Pagoda API at %s: %s\n", args->addr, errbuf);
  pgd_http_response_free(resp);
  return PGD_CLI_EXIT_FAIL;
}

int client_get(ctx_t *c, const char *path, pgd_http_response_t *resp) {
  return client_call(c, "GET", path, NULL, 0, NULL, NULL, REQUEST_TIMEOUT_MS, resp);
}

int client_list(ctx_t *c, const char *path, int (*printer)(const cJSON *, FILE *)) {
  return client_list_with(c, "GET", path, printer);
}

/* Parses a response body as JSON; prints a message and returns NULL when it
 * is not. The result is owned by the caller. */
cJSON *client_parse_body(ctx_t *c, const pgd_http_response_t *resp) {
  cJSON *j = resp->body ? cJSON_ParseWithLength(resp->body, resp->len) : NULL;
  if (!j) fprintf(c->err, "pagoda: the API answered with something that is not JSON\n");
  return j;
}

/* Builds "fmt" with one escaped path segment, e.g. "/api/v1/jobs/%s". */
char *client_path_with(const char *fmt, const char *segment, const char *suffix) {
  char *esc = pgd_cli_url_escape(segment);
  if (!esc) return NULL;
  char *p = NULL;
  if (asprintf(&p, fmt, esc, suffix ? suffix : "") < 0) p = NULL;
  free(esc);
  return p;
}

int client_print_raw(ctx_t *c, const pgd_http_response_t *resp) {
  if (resp->len > 0) fwrite(resp->body, 1, resp->len, c->out);
  if (resp->len == 0 || resp->body[resp->len - 1] != '\n') fputc('\n', c->out);
  return fflush(c->out) == 0 ? PGD_CLI_EXIT_OK : PGD_CLI_EXIT_FAIL;
}

static int print_pretty(ctx_t *c, const pgd_http_response_t *resp) {
  cJSON *j = resp->body ? cJSON_ParseWithLength(resp->body, resp->len) : NULL;
  if (!j) return client_print_raw(c, resp);
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
int client_show(ctx_t *c, const char *path) {
  if (!path) {
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = client_get(c, path, &resp);
  if (rc == 0) rc = print_pretty(c, &resp);
  pgd_http_response_free(&resp);
  return rc;
}

/* GET (or `method`) a list and print it as a table, or raw with --json. */
int client_list_with(ctx_t *c, const char *method, const char *path,
                     int (*printer)(const cJSON *, FILE *)) {
  if (!path) {
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = client_call(c, method, path, NULL, 0, NULL, NULL, REQUEST_TIMEOUT_MS, &resp);
  if (rc != 0) return rc;
  if (c->a->json) {
    rc = client_print_raw(c, &resp);
  } else {
    cJSON *j = client_parse_body(c, &resp);
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
int client_action(ctx_t *c, const char *method, char *path, const char *done) {
  if (!path) {
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = client_call(c, method, path, NULL, 0, NULL, NULL, REQUEST_TIMEOUT_MS, &resp);
  free(path);
  if (rc == 0) fprintf(c->out, done, c->a->arg);
  pgd_http_response_free(&resp);
  return rc;
}

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

int client_create_from_file(ctx_t *c, const char *api_path, const char *noun) {
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
  int rc = client_call(c, "POST", api_path, text, len, NULL, NULL, REQUEST_TIMEOUT_MS, &resp);
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

int client_json_id(const cJSON *v, long long *out) {
  if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 9007199254740992.0) {
    *out = (long long)v->valuedouble;
    return 0;
  }
  if (cJSON_IsString(v)) return pgd_cli_parse_id(v->valuestring, out);
  return -EINVAL;
}

int client_log_chunk(const char *data, size_t len, void *ud) {
  log_sink_t *s = ud;
  if (fwrite(data, 1, len, s->out) != len || fflush(s->out) != 0) {
    fprintf(s->err, "pagoda: cannot write the log: %s\n", strerror(errno));
    return -1;
  }
  s->received += (long long)len;
  return 0;
}
