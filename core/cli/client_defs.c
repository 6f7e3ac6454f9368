/* Pagoda — definitions kept as files (see client_defs.h). */
#include "cli/client_defs.h"

#include "common/err.h"
#include "common/strbuf.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/client_call.h"

/* A definition file larger than this is refused (the API's body limit is
 * smaller anyway). */
#define MAX_DEF_FILE (16u * 1024u * 1024u)
#define MAX_DEPTH 16

static const char *const k_kind_names[PGD_DEF_KINDS] = {"resource", "job", "flow", "schedule"};
static const char *const k_kind_dirs[PGD_DEF_KINDS] = {"resources", "jobs", "flows", "schedules"};
static const char *const k_kind_api[PGD_DEF_KINDS] = {"/api/v1/resources", "/api/v1/jobs",
                                                       "/api/v1/flows", "/api/v1/schedules"};

const char *pgd_def_kind_name(pgd_def_kind_t kind) {
  return kind < PGD_DEF_KINDS ? k_kind_names[kind] : "?";
}
const char *pgd_def_kind_dir(pgd_def_kind_t kind) {
  return kind < PGD_DEF_KINDS ? k_kind_dirs[kind] : "?";
}
const char *pgd_def_kind_api(pgd_def_kind_t kind) {
  return kind < PGD_DEF_KINDS ? k_kind_api[kind] : "?";
}

/* ---- loading ----------------------------------------------------------- */

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n > m && strcmp(s + n - m, suffix) == 0;
}

static char *path_join(const char *dir, const char *name) {
  char *p = NULL;
  if (asprintf(&p, "%s/%s", dir, name) < 0) return NULL;
  return p;
}

static int set_push(pgd_def_set_t *set, pgd_def_t *d) {
  if (set->n == set->cap) {
    size_t cap = set->cap ? set->cap * 2 : 16;
    pgd_def_t *items = realloc(set->items, cap * sizeof *items);
    if (!items) return -ENOMEM;
    set->items = items;
    set->cap = cap;
  }
  set->items[set->n++] = *d;
  return 0;
}

static void def_free(pgd_def_t *d) {
  free(d->name);
  free(d->file);
  free(d->content_path);
  cJSON_Delete(d->body);
  memset(d, 0, sizeof *d);
}

/* The content file of a resource: "file" relative to the .json's directory
 * (an absolute "file" is taken as it is). */
static char *resource_content(const char *json_path, const char *file) {
  if (file[0] == '/') return strdup(file);
  const char *slash = strrchr(json_path, '/');
  if (!slash) return strdup(file);
  char *dir = strndup(json_path, (size_t)(slash - json_path));
  char *p = dir ? path_join(dir, file) : NULL;
  free(dir);
  return p;
}

static int load_file(const char *path, pgd_def_set_t *set, char *err, size_t errlen) {
  size_t len = 0;
  char *text = pgd_client_read_file(path, MAX_DEF_FILE, &len);
  if (!text) {
    int e = errno;
    return pgd_set_err(err, errlen, -e, "%s: cannot read: %s", path, strerror(e));
  }
  const char *end = NULL;
  cJSON *obj = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  free(text);
  if (!cJSON_IsObject(obj)) {
    cJSON_Delete(obj);
    return pgd_set_err(err, errlen, -EINVAL, "%s: not one JSON object", path);
  }
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
  pgd_def_t d = {0};
  int k = 0;
  for (; cJSON_IsString(kind) && k < PGD_DEF_KINDS; k++)
    if (strcmp(kind->valuestring, k_kind_names[k]) == 0) break;
  int rc = 0;
  if (!cJSON_IsString(kind) || k == PGD_DEF_KINDS) {
    rc = pgd_set_err(err, errlen, -EINVAL,
                     "%s: \"kind\" must be \"job\", \"flow\", \"schedule\" or \"resource\"", path);
    goto out;
  }
  if (!cJSON_IsString(name) || !name->valuestring[0]) {
    rc = pgd_set_err(err, errlen, -EINVAL, "%s: \"name\" must be a non-empty string", path);
    goto out;
  }
  d.kind = (pgd_def_kind_t)k;
  d.name = strdup(name->valuestring);
  d.file = strdup(path);
  if (!d.name || !d.file) {
    rc = pgd_set_err(err, errlen, -ENOMEM, "out of memory");
    goto out;
  }
  if (d.kind == PGD_DEF_RESOURCE) {
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
      if (strcmp(it->string, "kind") != 0 && strcmp(it->string, "name") != 0 &&
          strcmp(it->string, "file") != 0) {
        rc = pgd_set_err(err, errlen, -EINVAL,
                         "%s: a resource has only \"kind\", \"name\" and \"file\", not \"%s\"",
                         path, it->string);
        goto out;
      }
    }
    const cJSON *file = cJSON_GetObjectItemCaseSensitive(obj, "file");
    if (file && (!cJSON_IsString(file) || !file->valuestring[0])) {
      rc = pgd_set_err(err, errlen, -EINVAL, "%s: \"file\" must be a non-empty string", path);
      goto out;
    }
    d.content_path = resource_content(path, file ? file->valuestring : d.name);
    if (!d.content_path) {
      rc = pgd_set_err(err, errlen, -ENOMEM, "out of memory");
      goto out;
    }
  } else {
    cJSON_DeleteItemFromObjectCaseSensitive(obj, "kind");
    d.body = obj;
    obj = NULL;
  }
  for (size_t i = 0; i < set->n; i++) {
    if (set->items[i].kind == d.kind && strcmp(set->items[i].name, d.name) == 0) {
      rc = pgd_set_err(err, errlen, -EEXIST, "%s and %s both define %s '%s'", set->items[i].file,
                       path, k_kind_names[d.kind], d.name);
      goto out;
    }
  }
  rc = set_push(set, &d);
  if (rc == 0) memset(&d, 0, sizeof d);
  else pgd_set_err(err, errlen, rc, "out of memory");
out:
  def_free(&d);
  cJSON_Delete(obj);
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(const char *dir, int depth, pgd_def_set_t *set, char *err, size_t errlen) {
  if (depth > MAX_DEPTH) return pgd_set_err(err, errlen, -ELOOP, "%s: too deep", dir);
  DIR *d = opendir(dir);
  if (!d) return pgd_set_err(err, errlen, -errno, "%s: cannot open: %s", dir, strerror(errno));
  char **names = NULL;
  size_t n = 0, cap = 0;
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue; /* ., .., .git and other hidden entries */
    if (n == cap) {
      cap = cap ? cap * 2 : 32;
      char **nn = realloc(names, cap * sizeof *nn);
      if (!nn) {
        rc = -ENOMEM;
        break;
      }
      names = nn;
    }
    if (!(names[n] = strdup(e->d_name))) rc = -ENOMEM;
    else n++;
  }
  closedir(d);
  if (rc == 0 && n > 1) qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    char *p = path_join(dir, names[i]);
    struct stat st;
    if (!p) {
      rc = -ENOMEM;
    } else if (stat(p, &st) != 0) {
      rc = pgd_set_err(err, errlen, -errno, "%s: %s", p, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
      rc = load_dir(p, depth + 1, set, err, errlen);
    } else if (S_ISREG(st.st_mode) && has_suffix(names[i], ".json")) {
      rc = load_file(p, set, err, errlen);
    }
    free(p);
  }
  if (rc == -ENOMEM && (!err || !err[0])) pgd_set_err(err, errlen, rc, "out of memory");
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return rc;
}

static int cmp_def(const void *a, const void *b) {
  const pgd_def_t *x = a, *y = b;
  if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
  return strcmp(x->name, y->name);
}

int pgd_def_load(const char *path, pgd_def_set_t *set, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!path || !set) return pgd_set_err(err, errlen, -EINVAL, "no path");
  struct stat st;
  if (stat(path, &st) != 0)
    return pgd_set_err(err, errlen, -errno, "%s: %s", path, strerror(errno));
  int rc = S_ISDIR(st.st_mode) ? load_dir(path, 0, set, err, errlen)
                               : load_file(path, set, err, errlen);
  if (rc == 0 && set->n > 1) qsort(set->items, set->n, sizeof *set->items, cmp_def);
  return rc;
}

void pgd_def_set_free(pgd_def_set_t *set) {
  if (!set) return;
  for (size_t i = 0; i < set->n; i++) def_free(&set->items[i]);
  free(set->items);
  memset(set, 0, sizeof *set);
}

int pgd_def_set_has(const pgd_def_set_t *set, pgd_def_kind_t kind, const char *name) {
  for (size_t i = 0; set && name && i < set->n; i++)
    if (set->items[i].kind == kind && strcmp(set->items[i].name, name) == 0) return 1;
  return 0;
}

/* ---- canonical form ---------------------------------------------------- */

/* Members the server adds to what it stores or shows: not definition. */
static const char *const k_server_members[] = {
    "kind",          "created_us",    "updated_us",        "created_at",   "updated_at",
    /* schedules: progress and previews (core/master/schedules.c) */
    "checkpoint_us", "last_fired_us", "last_fired_at",     "last_execution_id",
    "next_fire_us",  "next_fire_at",  "running",           "runs",         "next",
    "next_us",       "last_end_us"};

typedef struct {
  const char *key;
  const char *json; /* the default's JSON text */
} default_t;

static const default_t k_flow_defaults[] = {{"failure_strategy", "\"fail_fast\""},
                                            {"hooks_error", "\"run\""},
                                            {"max_parallel", "0"},
                                            {"params", "{}"}};
static const default_t k_node_defaults[] = {{"trigger_rule", "\"all_success\""},
                                            {"depends_on", "[]"}};
static const default_t k_schedule_defaults[] = {
    {"enabled", "true"}, {"timezone", "\"UTC\""}, {"concurrency", "\"allow\""}};

static void drop_defaults(cJSON *o, const default_t *defs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(o, defs[i].key);
    if (!v) continue;
    cJSON *dflt = cJSON_Parse(defs[i].json);
    if (dflt && cJSON_Compare(v, dflt, 1)) cJSON_DeleteItemFromObjectCaseSensitive(o, defs[i].key);
    cJSON_Delete(dflt);
  }
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

cJSON *pgd_def_canonical(pgd_def_kind_t kind, const cJSON *obj) {
  cJSON *c = cJSON_Duplicate(obj, 1);
  if (!c) return NULL;
  if (!cJSON_IsObject(c)) return c;
  if (kind == PGD_DEF_SCHEDULE) {
    for (size_t i = 0; i < COUNT(k_server_members); i++)
      cJSON_DeleteItemFromObjectCaseSensitive(c, k_server_members[i]);
  } else {
    /* a job may carry members of its own named like schedule progress:
     * only the common ones are the server's */
    for (size_t i = 0; i < 5; i++) cJSON_DeleteItemFromObjectCaseSensitive(c, k_server_members[i]);
  }
  if (kind == PGD_DEF_FLOW) {
    drop_defaults(c, k_flow_defaults, COUNT(k_flow_defaults));
    cJSON *node;
    cJSON_ArrayForEach(node, cJSON_GetObjectItemCaseSensitive(c, "nodes"))
        drop_defaults(node, k_node_defaults, COUNT(k_node_defaults));
  } else if (kind == PGD_DEF_SCHEDULE) {
    drop_defaults(c, k_schedule_defaults, COUNT(k_schedule_defaults));
  }
  return c;
}

cJSON *pgd_def_changed_keys(const cJSON *before, const cJSON *after) {
  cJSON *keys = cJSON_CreateArray();
  if (!keys) return NULL;
  const cJSON *it;
  char *names[512];
  size_t n = 0;
  cJSON_ArrayForEach(it, after) {
    const cJSON *old = cJSON_GetObjectItemCaseSensitive(before, it->string);
    if ((!old || !cJSON_Compare(old, it, 1)) && n < COUNT(names)) names[n++] = it->string;
  }
  cJSON_ArrayForEach(it, before) {
    if (!cJSON_GetObjectItemCaseSensitive(after, it->string) && n < COUNT(names))
      names[n++] = it->string;
  }
  qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n; i++) {
    cJSON *s = cJSON_CreateString(names[i]);
    if (!s || !cJSON_AddItemToArray(keys, s)) {
      cJSON_Delete(s);
      cJSON_Delete(keys);
      return NULL;
    }
  }
  return keys;
}

/* ---- canonical text ---------------------------------------------------- */

static bool is_scalar(const cJSON *v) { return !cJSON_IsObject(v) && !cJSON_IsArray(v); }

static int put_scalar(pgd_strbuf_t *b, const cJSON *v) {
  char *s = cJSON_PrintUnformatted(v);
  if (!s) return -ENOMEM;
  int rc = pgd_strbuf_puts(b, s);
  cJSON_free(s);
  return rc;
}

static int put_indent(pgd_strbuf_t *b, int depth) {
  for (int i = 0; i < depth; i++)
    if (pgd_strbuf_puts(b, "  ") != 0) return -ENOMEM;
  return 0;
}

static int put_value(pgd_strbuf_t *b, const cJSON *v, int depth) {
  if (is_scalar(v)) return put_scalar(b, v);
  int n = cJSON_GetArraySize(v);
  if (n == 0) return pgd_strbuf_puts(b, cJSON_IsArray(v) ? "[]" : "{}");
  if (cJSON_IsArray(v)) {
    bool flat = true;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) if (!is_scalar(it)) flat = false;
    if (pgd_strbuf_puts(b, flat ? "[" : "[\n") != 0) return -ENOMEM;
    int i = 0;
    cJSON_ArrayForEach(it, v) {
      if (!flat && put_indent(b, depth + 1) != 0) return -ENOMEM;
      if (put_value(b, it, depth + 1) != 0) return -ENOMEM;
      if (++i < n && pgd_strbuf_puts(b, flat ? ", " : ",\n") != 0) return -ENOMEM;
    }
    if (!flat && (pgd_strbuf_puts(b, "\n") != 0 || put_indent(b, depth) != 0)) return -ENOMEM;
    return pgd_strbuf_puts(b, "]");
  }
  const cJSON **kids = malloc((size_t)n * sizeof *kids);
  if (!kids) return -ENOMEM;
  int k = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, v) kids[k++] = it;
  /* sort by key: the members' first field is comparable through string */
  for (int i = 1; i < k; i++)
    for (int j = i; j > 0 && strcmp(kids[j - 1]->string, kids[j]->string) > 0; j--) {
      const cJSON *t = kids[j];
      kids[j] = kids[j - 1];
      kids[j - 1] = t;
    }
  int rc = pgd_strbuf_puts(b, "{\n");
  for (int i = 0; rc == 0 && i < k; i++) {
    cJSON *key = cJSON_CreateString(kids[i]->string);
    rc = key ? 0 : -ENOMEM;
    if (rc == 0) rc = put_indent(b, depth + 1);
    if (rc == 0) rc = put_scalar(b, key);
    cJSON_Delete(key);
    if (rc == 0) rc = pgd_strbuf_puts(b, ": ");
    if (rc == 0) rc = put_value(b, kids[i], depth + 1);
    if (rc == 0) rc = pgd_strbuf_puts(b, i + 1 < k ? ",\n" : "\n");
  }
  free(kids);
  if (rc == 0) rc = put_indent(b, depth);
  if (rc == 0) rc = pgd_strbuf_puts(b, "}");
  return rc;
}

char *pgd_def_print(const cJSON *v) {
  pgd_strbuf_t b = PGD_STRBUF_INIT;
  if (put_value(&b, v, 0) != 0 || pgd_strbuf_puts(&b, "\n") != 0) {
    pgd_strbuf_free(&b);
    return NULL;
  }
  return pgd_strbuf_take(&b);
}
