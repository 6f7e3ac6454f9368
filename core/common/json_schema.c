/* Pagoda — the JSON body checker (json_schema.h). Recursive over the
 * value, bounded by MAX_DEPTH; the path of the value being checked is kept
 * in one buffer that each level extends and restores. */
#include "common/json_schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 32

typedef struct {
  char path[160];
  pgd_jschema_err_t *err;
} ctx_t;

const char *pgd_jschema_type_name(const cJSON *v) {
  if (!v || cJSON_IsNull(v)) return "null";
  if (cJSON_IsBool(v)) return "boolean";
  if (cJSON_IsNumber(v)) return "number";
  if (cJSON_IsString(v)) return "string";
  if (cJSON_IsArray(v)) return "array";
  if (cJSON_IsObject(v)) return "object";
  return "invalid";
}

/* "string or null", "integer, string or null" ... */
static void types_text(unsigned t, char *buf, size_t cap) {
  static const struct {
    unsigned bit;
    const char *name;
  } names[] = {{PGD_JT_BOOL, "boolean"}, {PGD_JT_INT, "integer"}, {PGD_JT_NUMBER, "number"},
               {PGD_JT_STRING, "string"}, {PGD_JT_ARRAY, "array"},  {PGD_JT_OBJECT, "object"},
               {PGD_JT_NULL, "null"}};
  const char *picked[8];
  int n = 0;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (!(t & names[i].bit)) continue;
    if (names[i].bit == PGD_JT_INT && (t & PGD_JT_NUMBER)) continue;
    picked[n++] = names[i].name;
  }
  buf[0] = 0;
  for (int i = 0; i < n; i++) {
    size_t o = strlen(buf);
    snprintf(buf + o, cap - o, "%s%s", i == 0 ? "" : (i == n - 1 ? " or " : ", "), picked[i]);
  }
}

static bool fail(ctx_t *c, const char *expected, const char *fmt, const char *detail) {
  pgd_jschema_err_t *e = c->err;
  if (!e) return false;
  snprintf(e->field, sizeof e->field, "%s", c->path);
  snprintf(e->expected, sizeof e->expected, "%s", expected);
  char what[200];
  snprintf(what, sizeof what, fmt, detail);
  if (c->path[0])
    snprintf(e->message, sizeof e->message, "field \"%.160s\" %.200s", c->path, what);
  else
    snprintf(e->message, sizeof e->message, "the body %.200s", what);
  return false;
}

static bool type_ok(unsigned t, const cJSON *v) {
  if (cJSON_IsNull(v)) return t & PGD_JT_NULL;
  if (cJSON_IsBool(v)) return t & PGD_JT_BOOL;
  if (cJSON_IsString(v)) return t & PGD_JT_STRING;
  if (cJSON_IsArray(v)) return t & PGD_JT_ARRAY;
  if (cJSON_IsObject(v)) return t & PGD_JT_OBJECT;
  if (cJSON_IsNumber(v)) {
    if (t & PGD_JT_NUMBER) return isfinite(v->valuedouble);
    return (t & PGD_JT_INT) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
  }
  return false;
}

static bool check(ctx_t *c, const pgd_jschema_t *s, const cJSON *v, int depth);

/* Appends ".name" or "[i]" to the path; returns the old length to restore. */
static size_t push(ctx_t *c, const char *name, int index) {
  size_t old = strlen(c->path);
  if (name)
    snprintf(c->path + old, sizeof c->path - old, "%s%.60s", old ? "." : "", name);
  else
    snprintf(c->path + old, sizeof c->path - old, "[%d]", index);
  return old;
}

static const pgd_jfield_t *find_field(const pgd_jfield_t *f, const char *name) {
  for (; f && f->name; f++)
    if (strcmp(f->name, name) == 0) return f;
  return NULL;
}

static bool check_object(ctx_t *c, const pgd_jschema_t *s, const cJSON *v, int depth) {
  for (const pgd_jfield_t *f = s->fields; f && f->name; f++) {
    if (!f->required || cJSON_GetObjectItemCaseSensitive(v, f->name)) continue;
    size_t old = push(c, f->name, 0);
    char t[96];
    types_text(f->schema && f->schema->types ? f->schema->types : PGD_JT_ANY, t, sizeof t);
    bool ok = fail(c, t, "is required (%s)", t);
    c->path[old] = 0;
    return ok;
  }
  int n = 0;
  const cJSON *m;
  cJSON_ArrayForEach(m, v) {
    if (s->max_items && (size_t)++n > s->max_items) {
      char lim[32];
      snprintf(lim, sizeof lim, "%zu", s->max_items);
      return fail(c, "fewer members", "has more than %s members", lim);
    }
    const char *key = m->string ? m->string : "";
    const pgd_jfield_t *f = find_field(s->fields, key);
    const pgd_jschema_t *sub = f ? f->schema : s->each;
    size_t old = push(c, key, 0);
    bool ok = true;
    if (!f && !s->each && s->closed)
      ok = fail(c, "no such field", "is not a known field%s", "");
    else if (sub)
      ok = check(c, sub, m, depth + 1);
    c->path[old] = 0;
    if (!ok) return false;
  }
  return true;
}

static bool check_array(ctx_t *c, const pgd_jschema_t *s, const cJSON *v, int depth) {
  int i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, v) {
    if (s->max_items && (size_t)i >= s->max_items) {
      char lim[32];
      snprintf(lim, sizeof lim, "%zu", s->max_items);
      return fail(c, "fewer items", "has more than %s items", lim);
    }
    if (s->each) {
      size_t old = push(c, NULL, i);
      bool ok = check(c, s->each, it, depth + 1);
      c->path[old] = 0;
      if (!ok) return false;
    }
    i++;
  }
  return true;
}

static bool check_string(ctx_t *c, const pgd_jschema_t *s, const cJSON *v) {
  const char *str = v->valuestring ? v->valuestring : "";
  if (s->max_len && strlen(str) > s->max_len) {
    char lim[64];
    snprintf(lim, sizeof lim, "%zu", s->max_len);
    char exp[96];
    snprintf(exp, sizeof exp, "a string of at most %zu bytes", s->max_len);
    return fail(c, exp, "is longer than %s bytes", lim);
  }
  if (!s->enum_values) return true;
  char list[96] = "";
  for (const char *const *e = s->enum_values; *e; e++) {
    if (strcmp(*e, str) == 0) return true;
    size_t o = strlen(list);
    snprintf(list + o, sizeof list - o, "%s%s", o ? ", " : "one of ", *e);
  }
  return fail(c, list, "must be %s", list);
}

static bool check(ctx_t *c, const pgd_jschema_t *s, const cJSON *v, int depth) {
  if (!s) return true;
  if (depth > MAX_DEPTH) return fail(c, "less nesting", "is nested too deeply%s", "");
  unsigned t = s->types ? s->types : PGD_JT_ANY;
  if (!type_ok(t, v)) {
    char exp[96], got[64];
    types_text(t, exp, sizeof exp);
    snprintf(got, sizeof got, "%s", pgd_jschema_type_name(v));
    char what[200];
    snprintf(what, sizeof what, "must be %s (got %s)", exp, got);
    return fail(c, exp, "%s", what);
  }
  if (cJSON_IsString(v)) return check_string(c, s, v);
  if (cJSON_IsNumber(v) && s->ranged && (v->valuedouble < s->min || v->valuedouble > s->max)) {
    char range[96];
    snprintf(range, sizeof range, "a number from %g to %g", s->min, s->max);
    return fail(c, range, "must be %s", range);
  }
  if (cJSON_IsObject(v)) return check_object(c, s, v, depth);
  if (cJSON_IsArray(v)) return check_array(c, s, v, depth);
  return true;
}

bool pgd_jschema_check(const pgd_jschema_t *s, const cJSON *v, pgd_jschema_err_t *err) {
  ctx_t c = {.err = err};
  if (err) memset(err, 0, sizeof *err);
  return check(&c, s, v, 0);
}
