/* Pagoda — the CLI's resource, schedule, token and audit commands
 * (client_admin.h). */
#include "cli/client_admin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/client_table.h"
#include "cli/client_token.h"

/* ---- tokens and the audit log ---------------------------------------------- */

/* `token create --name N --role R [--expires D]`: the token is printed once. */
int client_token_create(ctx_t *c) {
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
  int rc = body ? client_call(c, "POST", "/api/v1/tokens", body, strlen(body), NULL, NULL,
                       REQUEST_TIMEOUT_MS, &resp)
                : PGD_CLI_EXIT_FAIL;
  free(body);
  if (rc != 0) return rc;
  cJSON *j = c->a->json ? NULL : client_parse_body(c, &resp);
  if (c->a->json) {
    rc = client_print_raw(c, &resp);
  } else if (j) {
    fprintf(c->out, "token %s (role %s) created. It is shown only now; keep it safe:\n%s\n",
            c->a->token_name, c->a->role, pgd_json_str(j, "token") ? pgd_json_str(j, "token") : "?");
  }
  cJSON_Delete(j);
  pgd_http_response_free(&resp);
  return rc;
}

int client_audit_list(ctx_t *c) {
  int since_bad;
  char *p = pgd_cli_audit_path(c->a, (long long)time(NULL) * 1000000, &since_bad);
  if (since_bad) {
    free(p);
    fprintf(c->err, "pagoda: --since wants a duration (90s, 15m, 12h, 30d), µs since the epoch or RFC 3339\n");
    return PGD_CLI_EXIT_USAGE;
  }
  int rc = client_list(c, p, pgd_cli_print_audit);
  free(p);
  return rc;
}

/* ---- resources ------------------------------------------------------------ */

/* `resource put NAME FILE`: the file is the request body. */
int client_res_put(ctx_t *c) {
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
  char *path = client_path_with("/api/v1/resources/%s%s", c->a->arg, NULL);
  pgd_http_response_t resp;
  int rc = path ? client_call(c, "PUT", path, buf, len, NULL, NULL, 0, &resp) : PGD_CLI_EXIT_FAIL;
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
int client_res_get(ctx_t *c) {
  char q[100] = "";
  if (c->a->version) snprintf(q, sizeof q, "?version=%.64s", c->a->version);
  char *path = client_path_with("/api/v1/resources/%s%s", c->a->arg, q);
  FILE *out = c->a->output ? fopen(c->a->output, "wb") : c->out;
  if (!out) {
    fprintf(c->err, "pagoda: cannot write %s: %s\n", c->a->output, strerror(errno));
    free(path);
    return PGD_CLI_EXIT_FAIL;
  }
  log_sink_t sink = {out, c->err, 0};
  pgd_http_response_t resp;
  int rc = path ? client_call(c, "GET", path, NULL, 0, client_log_chunk, &sink, 0, &resp) : PGD_CLI_EXIT_FAIL;
  free(path);
  if (rc == 0) pgd_http_response_free(&resp);
  if (out != c->out && fclose(out) != 0) rc = PGD_CLI_EXIT_FAIL;
  return rc;
}

int client_res_delete(ctx_t *c) {
  char q[100] = "";
  if (c->a->version) snprintf(q, sizeof q, "?version=%.64s", c->a->version);
  return client_action(c, "DELETE", client_path_with("/api/v1/resources/%s%s", c->a->arg, q),
                "resource %s deleted\n");
}

/* ---- schedules ------------------------------------------------------------- */

/* `schedule next NAME [--count N]`: the next fire times, one per line. */
int client_sched_next(ctx_t *c) {
  char q[32];
  snprintf(q, sizeof q, "?next=%ld", c->a->count > 0 ? c->a->count : 5);
  char *path = client_path_with("/api/v1/schedules/%s%s", c->a->arg, q);
  if (!path) {
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = client_get(c, path, &resp);
  free(path);
  if (rc != 0) return rc;
  cJSON *j = client_parse_body(c, &resp);
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
int client_sched_run(ctx_t *c) {
  char *path = client_path_with("/api/v1/schedules/%s%s", c->a->arg, "/run");
  if (!path) {
    fprintf(c->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = client_call(c, "POST", path, NULL, 0, NULL, NULL, REQUEST_TIMEOUT_MS, &resp);
  free(path);
  if (rc != 0) return rc;
  cJSON *j = client_parse_body(c, &resp);
  pgd_http_response_free(&resp);
  if (!j) return PGD_CLI_EXIT_FAIL;
  long long id = 0;
  if (client_json_id(pgd_json_get(j, "execution_id"), &id) == 0)
    fprintf(c->out, "%lld\n", id);
  else if (client_json_id(pgd_json_get(j, "flow_execution_id"), &id) == 0)
    fprintf(c->out, "flow execution %lld\n", id);
  cJSON_Delete(j);
  return PGD_CLI_EXIT_OK;
}
