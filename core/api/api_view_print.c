/* Pagoda API — the execution view printed straight from the record.
 *
 * api_exec_view_refs builds a tree of the view (a node per member, a copy
 * of the attempts, a string node per time) that is printed once and
 * freed: the event stream did that for every state change of every
 * execution, with or without a client. This writes the same text from the
 * record itself, member by member, with no tree and no allocation beyond
 * the output buffer. tests/unit/test_api_view_print.c checks the text
 * against the tree's for many records, so the two cannot drift apart. */
#include <stdbool.h>
#include <string.h>

#include "api/api_int.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/strbuf.h"

/* The "*_us" members that get a text time next to them (api_add_time_strings). */
static const char *const time_keys[][2] = {{"submitted_us", "submitted_at"},
                                           {"dispatched_us", "dispatched_at"},
                                           {"started_us", "started_at"},
                                           {"finished_us", "finished_at"},
                                           {"created_us", "created_at"},
                                           {"updated_us", "updated_at"}};
#define N_TIME_KEYS (sizeof time_keys / sizeof time_keys[0])

/* The members an execution view always has (null when the record lacks them). */
static const char *const always_keys[] = {"worker_id", "exit_code", "signal", "error",
                                          "submitted_us", "dispatched_us", "started_us",
                                          "finished_us"};
#define N_ALWAYS (sizeof always_keys / sizeof always_keys[0])
/* The time_keys index of each always-member that is a time (else -1). */
static const int always_time[N_ALWAYS] = {-1, -1, -1, -1, 0, 1, 2, 3};

typedef struct view_plan {
  const cJSON *time_us[N_TIME_KEYS]; /* the first "*_us" member; NULL: none */
  bool time_null[N_TIME_KEYS];       /* absent from the record, added as null */
  const cJSON *drop[N_TIME_KEYS];    /* a "*_at" member the time string replaces */
  bool add_null[N_ALWAYS];           /* an always-member the record lacks */
  const cJSON *attempts;             /* the first "attempts" member (exec level) */
} view_plan_t;

static bool skipped(const cJSON *c, const char *skip) {
  return !c->string || (skip && strcmp(c->string, skip) == 0);
}

/* The names the view looks at, so that one pass over a record's members
 * finds them all (a lookup per name per member was most of the cost). */
enum { K_NONE = -1, K_ATTEMPTS = 2 * N_TIME_KEYS + N_ALWAYS, K_COUNT };

static int classify(const char *s) {
  switch (s[0]) { /* a first letter no name starts with: not one of them */
  case 'a': case 'c': case 'd': case 'e': case 'f': case 's': case 'u': case 'w': break;
  default: return K_NONE;
  }
  for (size_t i = 0; i < N_TIME_KEYS; i++) {
    if (s[0] != time_keys[i][0][0]) continue;
    if (strcmp(s, time_keys[i][0]) == 0) return (int)i;
    if (strcmp(s, time_keys[i][1]) == 0) return (int)(N_TIME_KEYS + i);
  }
  for (size_t i = 0; i < N_ALWAYS; i++)
    if (s[0] == always_keys[i][0] && strcmp(s, always_keys[i]) == 0) return (int)(2 * N_TIME_KEYS + i);
  if (strcmp(s, "attempts") == 0) return K_ATTEMPTS;
  return K_NONE;
}

/* What the tree-building view would add, drop and replace in `o`. */
static void plan(view_plan_t *p, const cJSON *o, const char *skip, bool exec_level) {
  memset(p, 0, sizeof *p);
  const cJSON *first[K_COUNT] = {0};
  for (const cJSON *c = o->child; c; c = c->next) {
    if (skipped(c, skip)) continue;
    int k = classify(c->string);
    if (k != K_NONE && !first[k]) first[k] = c;
  }
  for (size_t i = 0; i < N_TIME_KEYS; i++) p->time_us[i] = first[i];
  if (exec_level) {
    for (size_t i = 0; i < N_ALWAYS; i++) {
      int t = always_time[i]; /* a time is classified as one, not as an always-member */
      p->add_null[i] = t >= 0 ? !first[t] : !first[2 * N_TIME_KEYS + i];
      if (t >= 0 && p->add_null[i]) p->time_null[t] = true;
    }
    p->attempts = first[K_ATTEMPTS];
  }
  for (size_t i = 0; i < N_TIME_KEYS; i++)
    if (p->time_us[i] || p->time_null[i]) p->drop[i] = first[N_TIME_KEYS + i];
}

static bool dropped(const view_plan_t *p, const cJSON *c) {
  for (size_t i = 0; i < N_TIME_KEYS; i++)
    if (p->drop[i] == c) return true;
  return false;
}

static void put_key(pgd_strbuf_t *b, bool *first, const char *key) {
  if (!*first) pgd_strbuf_append(b, ",", 1);
  *first = false;
  pgd_json_print_string(b, key);
  pgd_strbuf_append(b, ":", 1);
}

static bool print_object(pgd_strbuf_t *b, const cJSON *o, const char *skip, bool exec_level);

/* The attempts member: each attempt object with its own time strings. */
static bool print_attempts(pgd_strbuf_t *b, const cJSON *a) {
  if (!cJSON_IsArray(a) && !cJSON_IsObject(a)) return pgd_json_print_append(b, a);
  bool obj = cJSON_IsObject(a);
  pgd_strbuf_append(b, obj ? "{" : "[", 1);
  for (const cJSON *c = a->child; c; c = c->next) {
    if (obj) {
      pgd_json_print_string(b, c->string);
      pgd_strbuf_append(b, ":", 1);
    }
    if (!(cJSON_IsObject(c) ? print_object(b, c, NULL, false) : pgd_json_print_append(b, c)))
      return false;
    if (c->next) pgd_strbuf_append(b, ",", 1);
  }
  pgd_strbuf_append(b, obj ? "}" : "]", 1);
  return true;
}

static bool print_object(pgd_strbuf_t *b, const cJSON *o, const char *skip, bool exec_level) {
  view_plan_t p;
  plan(&p, o, skip, exec_level);
  bool first = true;
  pgd_strbuf_append(b, "{", 1);
  for (const cJSON *c = o->child; c; c = c->next) {
    if (skipped(c, skip) || dropped(&p, c)) continue;
    put_key(b, &first, c->string);
    if (!(c == p.attempts ? print_attempts(b, c) : pgd_json_print_append(b, c))) return false;
  }
  for (size_t i = 0; i < N_ALWAYS; i++) {
    if (!p.add_null[i]) continue;
    put_key(b, &first, always_keys[i]);
    pgd_strbuf_append(b, "null", 4);
  }
  for (size_t i = 0; i < N_TIME_KEYS; i++) {
    if (!p.time_us[i] && !p.time_null[i]) continue;
    put_key(b, &first, time_keys[i][1]);
    if (p.time_us[i] && cJSON_IsNumber(p.time_us[i])) {
      char buf[40];
      pgd_json_print_string(b, pgd_format_time_us((int64_t)p.time_us[i]->valuedouble, buf, sizeof buf));
    } else {
      pgd_strbuf_append(b, "null", 4);
    }
  }
  pgd_strbuf_append(b, "}", 1);
  return !b->oom;
}

bool api_exec_view_print(pgd_strbuf_t *b, const cJSON *rec, const char *skip) {
  if (!b || !cJSON_IsObject(rec)) return false;
  return print_object(b, rec, skip, true);
}
