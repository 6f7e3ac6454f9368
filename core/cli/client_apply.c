/* Pagoda — `pagoda apply` and `pagoda export` (see client_apply.h). */
#include "cli/client_apply.h"

#include "common/json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "cli/client.h"
#include "cli/client_call.h"
#include "cli/client_defs.h"
#include "cli/client_table.h"

/* A resource file larger than this is refused by apply (the master's
 * default master.http.max_resource_bytes is smaller). */
#define MAX_RESOURCE_FILE ((size_t)4 << 30)

typedef struct {
  const pgd_cli_args_t *a;
  FILE *out, *err;
  int created, changed, deleted, unchanged;
} apply_t;

static char *item_path(pgd_def_kind_t kind, const char *name, const char *suffix) {
  char *esc = pgd_cli_url_escape(name);
  char *p = NULL;
  if (esc && asprintf(&p, "%s/%s%s", pgd_def_kind_api(kind), esc, suffix ? suffix : "") < 0)
    p = NULL;
  free(esc);
  return p;
}

/* GETs a JSON object. Returns 0 with *out (owned) set, 0 with *out NULL on
 * a 404, or PGD_CLI_EXIT_FAIL after a message. */
static int fetch(apply_t *ap, const char *path, cJSON **out) {
  *out = NULL;
  if (!path) {
    fprintf(ap->err, "pagoda: out of memory\n");
    return PGD_CLI_EXIT_FAIL;
  }
  pgd_http_response_t resp;
  int rc = pgd_client_call_any(ap->a, ap->err, "GET", path, NULL, 0, &resp);
  if (rc != 0) return rc;
  if (resp.status == 404) {
    pgd_http_response_free(&resp);
    return 0;
  }
  if (resp.status != 200) {
    char msg[1024];
    pgd_cli_error_message(resp.body, resp.len, msg, sizeof msg);
    fprintf(ap->err, "pagoda: %s: %s (HTTP %ld)\n", path, msg, resp.status);
    pgd_http_response_free(&resp);
    return PGD_CLI_EXIT_FAIL;
  }
  *out = resp.body ? cJSON_ParseWithLength(resp.body, resp.len) : NULL;
  pgd_http_response_free(&resp);
  if (!cJSON_IsObject(*out)) {
    cJSON_Delete(*out);
    *out = NULL;
    fprintf(ap->err, "pagoda: the API answered %s with something that is not a JSON object\n",
            path);
    return PGD_CLI_EXIT_FAIL;
  }
  return 0;
}

/* The names of every definition of a kind on the server (owned array of
 * strings), or NULL after a message. */
static cJSON *server_names(apply_t *ap, pgd_def_kind_t kind) {
  cJSON *list = NULL;
  if (fetch(ap, pgd_def_kind_api(kind), &list) != 0 || !list) {
    if (!list) fprintf(ap->err, "pagoda: cannot list %s\n", pgd_def_kind_dir(kind));
    return NULL;
  }
  cJSON *names = cJSON_CreateArray();
  const cJSON *it;
  cJSON_ArrayForEach(it, pgd_json_get(list, pgd_def_kind_dir(kind))) {
    const char *n = pgd_json_str(it, "name");
    /* "_plugin.TYPE" resources hold pushed plugins: plugin push owns them */
    if (kind == PGD_DEF_RESOURCE && n && strncmp(n, "_plugin.", 8) == 0) continue;
    if (n && names) cJSON_AddItemToArray(names, cJSON_CreateString(n));
  }
  cJSON_Delete(list);
  if (!names) fprintf(ap->err, "pagoda: out of memory\n");
  return names;
}

static int sha256_file(const char *path, char hex[65], char **content, size_t *len) {
  *content = pgd_client_read_file(path, MAX_RESOURCE_FILE, len);
  if (!*content) return -errno;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!EVP_Digest(*content, *len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
    free(*content);
    *content = NULL;
    return -EIO;
  }
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return 0;
}

static void print_member(apply_t *ap, char sign, const char *key, const cJSON *v) {
  char *s = v ? cJSON_PrintUnformatted(v) : NULL;
  if (s) fprintf(ap->out, "    %c %s: %s\n", sign, key, s);
  cJSON_free(s);
}

/* ---- apply --------------------------------------------------------------- */

static int apply_resource(apply_t *ap, const pgd_def_t *d) {
  char hash[65];
  char *content = NULL;
  size_t len = 0;
  int rc = sha256_file(d->content_path, hash, &content, &len);
  if (rc < 0) {
    fprintf(ap->err, "pagoda: %s: cannot read %s: %s\n", d->file, d->content_path,
            strerror(-rc));
    return PGD_CLI_EXIT_FAIL;
  }
  cJSON *cur = NULL;
  char *vpath = item_path(PGD_DEF_RESOURCE, d->name, "/versions");
  rc = fetch(ap, vpath, &cur);
  free(vpath);
  const char *latest = pgd_json_str(cur, "latest");
  if (rc == 0 && latest && strcmp(latest, hash) == 0) {
    fprintf(ap->out, "resource %s: unchanged\n", d->name);
    ap->unchanged++;
  } else if (rc == 0) {
    if (latest) {
      fprintf(ap->out, "resource %s: changed: version %.12s -> %.12s\n", d->name, latest, hash);
      ap->changed++;
    } else {
      fprintf(ap->out, "resource %s: created (version %.12s, %zu bytes)\n", d->name, hash, len);
      ap->created++;
    }
    if (!ap->a->dry_run) {
      char *path = item_path(PGD_DEF_RESOURCE, d->name, NULL);
      pgd_http_response_t resp;
      rc = path ? pgd_client_call(ap->a, ap->err, "PUT", path, content, len, NULL, NULL, &resp)
                : PGD_CLI_EXIT_FAIL;
      if (rc == 0) pgd_http_response_free(&resp);
      free(path);
    }
  }
  cJSON_Delete(cur);
  free(content);
  return rc;
}

static int apply_definition(apply_t *ap, const pgd_def_t *d) {
  const char *kind = pgd_def_kind_name(d->kind);
  cJSON *cur = NULL;
  char *path = item_path(d->kind, d->name, NULL);
  int rc = fetch(ap, path, &cur);
  free(path);
  if (rc != 0) return rc;
  cJSON *want = pgd_def_canonical(d->kind, d->body);
  cJSON *have = cur ? pgd_def_canonical(d->kind, cur) : NULL;
  cJSON *keys = have && want ? pgd_def_changed_keys(have, want) : NULL;
  bool send = true;
  if (!want || (cur && (!have || !keys))) {
    fprintf(ap->err, "pagoda: out of memory\n");
    rc = PGD_CLI_EXIT_FAIL;
    send = false;
  } else if (!cur) {
    fprintf(ap->out, "%s %s: created\n", kind, d->name);
    ap->created++;
  } else if (cJSON_GetArraySize(keys) == 0) {
    fprintf(ap->out, "%s %s: unchanged\n", kind, d->name);
    ap->unchanged++;
    send = false;
  } else {
    fprintf(ap->out, "%s %s: changed:", kind, d->name);
    const cJSON *k;
    cJSON_ArrayForEach(k, keys) fprintf(ap->out, " %s", k->valuestring);
    fputc('\n', ap->out);
    cJSON_ArrayForEach(k, keys) {
      print_member(ap, '-', k->valuestring, pgd_json_get(have, k->valuestring));
      print_member(ap, '+', k->valuestring, pgd_json_get(want, k->valuestring));
    }
    ap->changed++;
  }
  if (send && !ap->a->dry_run) {
    char *body = cJSON_PrintUnformatted(d->body);
    pgd_http_response_t resp;
    rc = body ? pgd_client_call(ap->a, ap->err, "POST", pgd_def_kind_api(d->kind), body,
                                strlen(body), NULL, NULL, &resp)
              : PGD_CLI_EXIT_FAIL;
    if (rc == 0) pgd_http_response_free(&resp);
    else fprintf(ap->err, "pagoda: %s: %s %s refused\n", d->file, kind, d->name);
    cJSON_free(body);
  }
  cJSON_Delete(keys);
  cJSON_Delete(have);
  cJSON_Delete(want);
  cJSON_Delete(cur);
  return rc;
}

static int prune_kind(apply_t *ap, const pgd_def_set_t *set, pgd_def_kind_t kind) {
  cJSON *names = server_names(ap, kind);
  if (!names) return PGD_CLI_EXIT_FAIL;
  int rc = 0;
  const cJSON *n;
  cJSON_ArrayForEach(n, names) {
    if (pgd_def_set_has(set, kind, n->valuestring)) continue;
    fprintf(ap->out, "%s %s: deleted\n", pgd_def_kind_name(kind), n->valuestring);
    ap->deleted++;
    if (ap->a->dry_run) continue;
    char *path = item_path(kind, n->valuestring, NULL);
    pgd_http_response_t resp;
    rc = path ? pgd_client_call(ap->a, ap->err, "DELETE", path, NULL, 0, NULL, NULL, &resp)
              : PGD_CLI_EXIT_FAIL;
    free(path);
    if (rc != 0) break;
    pgd_http_response_free(&resp);
  }
  cJSON_Delete(names);
  return rc;
}

int pgd_client_apply(const pgd_cli_args_t *a, FILE *out, FILE *err) {
  apply_t ap = {a, out, err, 0, 0, 0, 0};
  struct stat st;
  if (a->prune && (stat(a->arg, &st) != 0 || !S_ISDIR(st.st_mode))) {
    fprintf(err, "pagoda: --prune needs a directory (everything it does not define is deleted)\n");
    return PGD_CLI_EXIT_USAGE;
  }
  pgd_def_set_t set = {0};
  char msg[1024];
  if (pgd_def_load(a->arg, &set, msg, sizeof msg) != 0) {
    fprintf(err, "pagoda: %s (nothing applied)\n", msg);
    pgd_def_set_free(&set);
    return PGD_CLI_EXIT_FAIL;
  }
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < set.n; i++) /* sorted: resources, jobs, flows, schedules */
    rc = set.items[i].kind == PGD_DEF_RESOURCE ? apply_resource(&ap, &set.items[i])
                                               : apply_definition(&ap, &set.items[i]);
  for (int k = PGD_DEF_KINDS - 1; rc == 0 && a->prune && k >= 0; k--)
    rc = prune_kind(&ap, &set, (pgd_def_kind_t)k);
  fprintf(out, "%s%d created, %d changed, %d deleted, %d unchanged%s\n",
          rc == 0 ? "" : "stopped after an error: ", ap.created, ap.changed, ap.deleted,
          ap.unchanged, a->dry_run ? " (dry run: nothing was changed)" : "");
  pgd_def_set_free(&set);
  return rc == 0 ? PGD_CLI_EXIT_OK : PGD_CLI_EXIT_FAIL;
}

/* ---- export ---------------------------------------------------------------- */

static int make_dir(FILE *err, const char *path) {
  if (mkdir(path, 0777) == 0 || errno == EEXIST) return 0;
  fprintf(err, "pagoda: cannot create %s: %s\n", path, strerror(errno));
  return PGD_CLI_EXIT_FAIL;
}

/* Names become file names: refuse what would leave the directory. */
static bool safe_file_name(const char *name) {
  return name[0] && name[0] != '.' && !strchr(name, '/');
}

static int write_text(FILE *err, const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  bool ok = f && fputs(text, f) >= 0;
  if (f && fclose(f) != 0) ok = false;
  if (!ok) fprintf(err, "pagoda: cannot write %s: %s\n", path, strerror(errno));
  return ok ? 0 : PGD_CLI_EXIT_FAIL;
}

static int write_chunk(const char *data, size_t len, void *ud) {
  return fwrite(data, 1, len, ud) == len ? 0 : 1;
}

static int export_one(apply_t *ap, pgd_def_kind_t kind, const char *dir, const char *name) {
  char *file = NULL, *content_file = NULL;
  int rc = 0;
  cJSON *doc = NULL;
  if (asprintf(&file, "%s/%s.json", dir, name) < 0) file = NULL;
  if (kind == PGD_DEF_RESOURCE) {
    /* the content beside its .json; never itself a *.json that apply would read */
    const size_t nl = strlen(name);
    const bool json_like = nl >= 5 && strcmp(name + nl - 5, ".json") == 0;
    if (asprintf(&content_file, "%s/%s%s", dir, name, json_like ? ".content" : "") < 0)
      content_file = NULL;
    char *path = item_path(kind, name, NULL);
    FILE *f = content_file ? fopen(content_file, "wb") : NULL;
    pgd_http_response_t resp;
    if (!path || !f) {
      fprintf(ap->err, "pagoda: cannot write %s: %s\n", content_file ? content_file : name,
              strerror(errno));
      rc = PGD_CLI_EXIT_FAIL;
    } else {
      rc = pgd_client_call(ap->a, ap->err, "GET", path, NULL, 0, write_chunk, f, &resp);
      if (rc == 0) pgd_http_response_free(&resp);
    }
    if (f && fclose(f) != 0) rc = PGD_CLI_EXIT_FAIL;
    free(path);
    doc = cJSON_CreateObject();
    if (doc && content_file) {
      cJSON_AddStringToObject(doc, "file", strrchr(content_file, '/') + 1);
      cJSON_AddStringToObject(doc, "name", name);
    }
  } else {
    cJSON *cur = NULL;
    char *path = item_path(kind, name, NULL);
    rc = fetch(ap, path, &cur);
    free(path);
    if (rc == 0 && !cur) {
      free(file);
      return 0; /* deleted since the list */
    }
    doc = cur ? pgd_def_canonical(kind, cur) : NULL;
    cJSON_Delete(cur);
  }
  if (rc == 0) {
    char *text = NULL;
    if (doc) cJSON_AddStringToObject(doc, "kind", pgd_def_kind_name(kind));
    if (doc) text = pgd_def_print(doc);
    if (!file || !text) {
      fprintf(ap->err, "pagoda: out of memory\n");
      rc = PGD_CLI_EXIT_FAIL;
    } else {
      rc = write_text(ap->err, file, text);
    }
    if (rc == 0) fprintf(ap->out, "%s\n", file);
    free(text);
  }
  cJSON_Delete(doc);
  free(file);
  free(content_file);
  return rc;
}

int pgd_client_export(const pgd_cli_args_t *a, FILE *out, FILE *err) {
  apply_t ap = {a, out, err, 0, 0, 0, 0};
  int rc = make_dir(err, a->arg);
  for (int k = 0; rc == 0 && k < PGD_DEF_KINDS; k++) {
    cJSON *names = server_names(&ap, (pgd_def_kind_t)k);
    if (!names) return PGD_CLI_EXIT_FAIL;
    char *dir = NULL;
    if (cJSON_GetArraySize(names) > 0) {
      if (asprintf(&dir, "%s/%s", a->arg, pgd_def_kind_dir((pgd_def_kind_t)k)) < 0) dir = NULL;
      rc = dir ? make_dir(err, dir) : PGD_CLI_EXIT_FAIL;
    }
    const cJSON *n;
    cJSON_ArrayForEach(n, names) {
      if (rc != 0) break;
      if (!safe_file_name(n->valuestring)) {
        fprintf(err, "pagoda: %s '%s' skipped: its name cannot be a file name\n",
                pgd_def_kind_name((pgd_def_kind_t)k), n->valuestring);
        rc = PGD_CLI_EXIT_FAIL;
        break;
      }
      rc = export_one(&ap, (pgd_def_kind_t)k, dir, n->valuestring);
    }
    free(dir);
    cJSON_Delete(names);
  }
  return rc == 0 ? PGD_CLI_EXIT_OK : PGD_CLI_EXIT_FAIL;
}
