/* Pagoda — plugin push, rollback and list (see client_plugin.h). */
#include "cli/client_plugin.h"

#include "common/json.h"
#include "plugin/registry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client.h"
#include "cli/client_call.h"
#include "cli/client_table.h"

static cJSON *answer_json(FILE *err, pgd_http_response_t *resp) {
  cJSON *j = resp->body ? cJSON_ParseWithLength(resp->body, resp->len) : NULL;
  pgd_http_response_free(resp);
  if (!cJSON_IsObject(j)) {
    fprintf(err, "pagoda: the API answered with something that is not a JSON object\n");
    cJSON_Delete(j);
    return NULL;
  }
  return j;
}

static void short_sha(const char *sha, char out[13]) {
  snprintf(out, 13, "%s", sha ? sha : "?");
}

int pgd_client_plugin_push(const pgd_cli_args_t *a, FILE *out, FILE *err) {
  char msg[512];
  /* the master checks again (and probes): this only answers early */
  if (pgd_plugin_file_check(a->arg, msg, sizeof msg) < 0) {
    fprintf(err, "pagoda: %s: %s\n", a->arg, msg);
    return PGD_CLI_EXIT_FAIL;
  }
  size_t len = 0;
  char *body = pgd_client_read_file(a->arg, PGD_PLUGIN_PUSH_MAX_BYTES, &len);
  if (!body) {
    fprintf(err, "pagoda: cannot read %s: %s\n", a->arg, strerror(errno));
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = pgd_client_call(a, err, "PUT", "/api/v1/plugins", body, len, NULL, NULL, &resp);
  free(body);
  if (rc != 0) return rc;
  long status = resp.status;
  cJSON *j = answer_json(err, &resp);
  if (!j) return PGD_CLI_EXIT_FAIL;
  char sha[13], prev[13];
  short_sha(pgd_json_str(j, "sha256"), sha);
  short_sha(pgd_json_str(j, "previous"), prev);
  fprintf(out, "plugin %s: version %s (%s) %s", pgd_json_str(j, "type"), sha,
          pgd_json_str(j, "version") ? pgd_json_str(j, "version") : "",
          status == 201 ? "pushed and active" : "was already the active one");
  if (status == 201 && pgd_json_str(j, "previous")) fprintf(out, "; previous %s", prev);
  fputc('\n', out);
  cJSON_Delete(j);
  return PGD_CLI_EXIT_OK;
}

int pgd_client_plugin_rollback(const pgd_cli_args_t *a, FILE *out, FILE *err) {
  char *esc = pgd_cli_url_escape(a->arg);
  char *path = NULL;
  if (!esc || asprintf(&path, "/api/v1/plugins/%s/rollback", esc) < 0) path = NULL;
  free(esc);
  if (!path) {
    fprintf(err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = pgd_client_call(a, err, "POST", path, NULL, 0, NULL, NULL, &resp);
  free(path);
  if (rc != 0) return rc;
  cJSON *j = answer_json(err, &resp);
  if (!j) return PGD_CLI_EXIT_FAIL;
  char sha[13];
  short_sha(pgd_json_str(j, "sha256"), sha);
  fprintf(out, "plugin %s: back to version %s (%s)\n", pgd_json_str(j, "type"), sha,
          pgd_json_str(j, "version") ? pgd_json_str(j, "version") : "");
  cJSON_Delete(j);
  return PGD_CLI_EXIT_OK;
}

static int get_json(const pgd_cli_args_t *a, FILE *err, const char *path, cJSON **out) {
  pgd_http_response_t resp;
  int rc = pgd_client_call(a, err, "GET", path, NULL, 0, NULL, NULL, &resp);
  if (rc != 0) return rc;
  *out = answer_json(err, &resp);
  return *out ? 0 : PGD_CLI_EXIT_FAIL;
}

static int print_pushed(const cJSON *pushed, FILE *out) {
  static const char *h[] = {"PUSHED TYPE", "ACTIVE", "PREVIOUS", "WORKER", "HOLDS", "STATUS",
                            "REASON"};
  pgd_cli_table_t *t = pgd_cli_table_new(7, h);
  if (!t) return -ENOMEM;
  const cJSON *p;
  cJSON_ArrayForEach(p, pgd_json_get(pushed, "pushed")) {
    char active[13], prev[13];
    short_sha(pgd_json_str(p, "active"), active);
    if (pgd_json_str(p, "previous")) short_sha(pgd_json_str(p, "previous"), prev);
    else snprintf(prev, sizeof prev, "-");
    const char *type = pgd_json_str(p, "type");
    const cJSON *workers = pgd_json_get(p, "workers"), *w;
    if (cJSON_GetArraySize(workers) == 0) {
      const char *row[] = {type, active, prev, "-", "-", "(no worker reported it yet)", ""};
      pgd_cli_table_add_row(t, row);
    }
    cJSON_ArrayForEach(w, workers) {
      char holds[13];
      short_sha(pgd_json_str(w, "sha256"), holds);
      const char *row[] = {type, active, prev, pgd_json_str(w, "worker"), holds,
                           pgd_json_str(w, "status"), pgd_json_str(w, "reason")};
      pgd_cli_table_add_row(t, row);
    }
  }
  int rc = pgd_cli_table_rows(t) > 0 ? pgd_cli_table_print(t, out) : 0;
  pgd_cli_table_free(t);
  return rc;
}

int pgd_client_plugin_list(const pgd_cli_args_t *a, FILE *out, FILE *err) {
  cJSON *plugins = NULL, *pushed = NULL;
  int rc = get_json(a, err, "/api/v1/plugins", &plugins);
  if (rc == 0) rc = get_json(a, err, "/api/v1/plugins/pushed", &pushed);
  if (rc == 0 && a->json) {
    cJSON *both = cJSON_CreateObject();
    cJSON_AddItemToObject(both, "plugins",
                          cJSON_DetachItemFromObjectCaseSensitive(plugins, "plugins"));
    cJSON_AddItemToObject(both, "pushed", cJSON_DetachItemFromObjectCaseSensitive(pushed, "pushed"));
    char *s = cJSON_PrintUnformatted(both);
    if (s) fprintf(out, "%s\n", s);
    cJSON_free(s);
    cJSON_Delete(both);
  } else if (rc == 0) {
    int pr = pgd_cli_print_plugins(plugins, out);
    if (pr == 0 && cJSON_GetArraySize(pgd_json_get(pushed, "pushed")) > 0) {
      fputc('\n', out);
      pr = print_pushed(pushed, out);
    }
    if (pr != 0) {
      fprintf(err, "pagoda: cannot print the list\n");
      rc = PGD_CLI_EXIT_FAIL;
    }
  }
  cJSON_Delete(plugins);
  cJSON_Delete(pushed);
  return rc;
}
