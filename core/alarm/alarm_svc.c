/* Pagoda alarms — the service (alarm.h): rules → groups → hooks → store →
 * delivery with retries; leadership. Events come from alarm_events.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarm/alarm_int.h"
#include "common/clock.h"
#include "common/json.h"
#include "common/log.h"
#include "store/store.h"

#define MOD "alarm"
#define TICK_MS 200
#define MAX_GROUPS 10000
#define RECENT_FOR_GROUPS 500

/* ---- the first write of an alarm: delivery waits for it ---- */

/* A put whose completion may come after pgd_alarms_stop: the service
 * detaches the ones outstanding (a = NULL) and the callback frees them. */
typedef struct put_ctx {
  struct put_ctx *next, *prev;
  pgd_alarms_t *a;
  int64_t id;
} put_ctx_t;
static put_ctx_t *outstanding; /* loop thread; one service per process at a time */

static void id_str(int64_t id, char *buf, size_t len) { snprintf(buf, len, "%" PRId64, id); }

static a_pending_t *pending_find(pgd_alarms_t *a, int64_t id) {
  for (int i = 0; i < a->n_pending; i++)
    if (a->pending[i].id == id) return &a->pending[i];
  return NULL;
}

static void pending_remove(pgd_alarms_t *a, int64_t id) {
  for (int i = 0; i < a->n_pending; i++)
    if (a->pending[i].id == id) {
      cJSON_Delete(a->pending[i].doc);
      a->pending[i] = a->pending[--a->n_pending];
      return;
    }
}

static a_pending_t *pending_add(pgd_alarms_t *a, int64_t id, cJSON *doc, bool durable) {
  if (a->n_pending == a->cap_pending) {
    int cap = a->cap_pending ? 2 * a->cap_pending : 16;
    a_pending_t *v = realloc(a->pending, (size_t)cap * sizeof *v);
    if (!v) return NULL;
    a->pending = v;
    a->cap_pending = cap;
  }
  a_pending_t *p = &a->pending[a->n_pending++];
  memset(p, 0, sizeof *p);
  p->id = id;
  p->doc = doc;
  p->durable = durable;
  return p;
}

static void deliver_due(pgd_alarms_t *a, int64_t now);

static void on_first_put(int status, void *ud) {
  put_ctx_t *c = ud;
  pgd_alarms_t *a = c->a;
  if (c->prev)
    c->prev->next = c->next;
  else if (outstanding == c)
    outstanding = c->next;
  if (c->next) c->next->prev = c->prev;
  int64_t id = c->id;
  free(c);
  if (!a) return;
  a_pending_t *p = pending_find(a, id);
  if (!p) return;
  if (status < 0) {
    /* Not stored (fenced by a newer leader, or the store stopped): the
     * leader that owns the store raises its own alarms. */
    PGD_WARN(MOD, "alarm %lld could not be stored (%d); not delivered by this master",
             (long long)id, status);
    pending_remove(a, id);
    return;
  }
  p->durable = true;
  deliver_due(a, pgd_now_us()); /* now, not at the next tick: the delay counts */
}

/* Writes the document; `first` makes delivery wait for it. */
static void put_doc(pgd_alarms_t *a, int64_t id, const cJSON *doc, bool first) {
  char ids[24];
  id_str(id, ids, sizeof ids);
  const char *state = pgd_json_str(doc, "state");
  put_ctx_t *c = NULL;
  if (first && (c = calloc(1, sizeof *c))) {
    c->a = a;
    c->id = id;
    c->next = outstanding;
    if (outstanding) outstanding->prev = c;
    outstanding = c;
  }
  int rc = pgd_store_put_doc(pgd_master_store(a->m), PGD_ALARM_DOC_KIND, ids, NULL, state, doc,
                             c ? on_first_put : NULL, c);
  if (rc < 0 && c) on_first_put(rc, c);
  else if (rc < 0)
    PGD_ERROR(MOD, "alarm %lld: cannot write it (%d)", (long long)id, rc);
}

/* ---- state of one alarm ---- */

static const char *overall_state(const cJSON *doc) {
  const cJSON *dl = pgd_json_get(doc, "deliveries"), *d;
  bool failed = false, any = false, cancelled = false;
  cJSON_ArrayForEach(d, dl) {
    const char *s = pgd_json_str(d, "state");
    any = true;
    if (s && strcmp(s, "pending") == 0) return "pending";
    if (s && strcmp(s, "failed") == 0) failed = true;
    if (s && strcmp(s, "cancelled") == 0) cancelled = true;
  }
  if (cancelled) return "acked"; /* acknowledged while a channel was pending */
  return failed || !any ? "failed" : "delivered";
}

static int channel_index(const pgd_alarms_t *a, const char *name) {
  for (int i = 0; name && i < a->cfg.n_channels; i++)
    if (strcmp(a->cfg.channels[i].name, name) == 0) return i;
  return -1;
}

/* The alarm as receivers see it: the document without delivery state. */
static cJSON *message_view(const cJSON *doc) {
  cJSON *v = cJSON_Duplicate(doc, 1);
  cJSON_DeleteItemFromObjectCaseSensitive(v, "deliveries");
  cJSON_DeleteItemFromObjectCaseSensitive(v, "group"); /* internal grouping key */
  cJSON_DeleteItemFromObjectCaseSensitive(v, "state");
  cJSON_DeleteItemFromObjectCaseSensitive(v, "created_us");
  cJSON_DeleteItemFromObjectCaseSensitive(v, "updated_us");
  return v;
}

static char *email_text(const cJSON *view) {
  char *json = cJSON_Print(view);
  const char *text = pgd_json_str(view, "text");
  size_t n = (text ? strlen(text) : 0) + (json ? strlen(json) : 0) + 64;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%s\n\n-- \nalarm details:\n%s\n", text ? text : "", json ? json : "");
  free(json);
  return out;
}

static void deliver_due(pgd_alarms_t *a, int64_t now) {
  for (int i = 0; i < a->n_pending; i++) {
    a_pending_t *p = &a->pending[i];
    if (!p->durable) continue;
    cJSON *dl = cJSON_GetObjectItemCaseSensitive(p->doc, "deliveries"), *d;
    cJSON *view = NULL;
    char *body = NULL;
    cJSON_ArrayForEach(d, dl) {
      int ci = channel_index(a, d->string);
      if (ci < 0 || ci >= PGD_ALARM_MAX_CHANNELS || (p->in_flight & (1u << ci)) ||
          strcmp(pgd_json_str(d, "state") ? pgd_json_str(d, "state") : "", "pending") != 0 ||
          pgd_json_int(d, "next_us", 0) > now)
        continue;
      const pgd_alarm_channel_t *ch = &a->cfg.channels[ci];
      if (!view) view = message_view(p->doc);
      char *text = NULL;
      if (ch->type == PGD_ALARM_CH_WEBHOOK) {
        if (!body) body = cJSON_PrintUnformatted(view);
      } else {
        text = email_text(view);
      }
      pgd_alarm_send_t s = {.channel = ch,
                            .alarm_id = p->id,
                            .subject = pgd_json_str(view, "subject"),
                            .body = text ? text : body};
      if (s.body && pgd_alarm_sender_submit(a->sender, &s) == 0) p->in_flight |= 1u << ci;
      free(text);
    }
    free(body);
    cJSON_Delete(view);
  }
}

static void on_sent(void *ud, const pgd_alarm_send_result_t *res) {
  pgd_alarms_t *a = ud;
  int ci = channel_index(a, res->channel);
  a_pending_t *p = pending_find(a, res->alarm_id);
  if (ci < 0) return;
  if (res->ok)
    a->ch_stats[ci].sent++;
  else
    a->ch_stats[ci].failed++;
  if (!p || !a->leader) return; /* no longer ours: the new leader delivers it */
  p->in_flight &= ~(1u << ci);
  cJSON *d = cJSON_GetObjectItemCaseSensitive(pgd_json_get(p->doc, "deliveries"), res->channel);
  if (!d) return;
  int64_t now = pgd_now_us();
  int attempts = (int)pgd_json_int(d, "attempts", 0) + 1;
  pgd_json_set_int(d, "attempts", attempts);
  const char *dstate = pgd_json_str(d, "state");
  if (dstate && strcmp(dstate, "cancelled") == 0) {
    /* acknowledged while this send was on its way: keep "cancelled" */
    if (res->ok) pgd_json_set_int(d, "sent_us", now);
  } else if (res->ok) {
    pgd_json_set_str(d, "state", "sent");
    pgd_json_set_int(d, "sent_us", now);
    PGD_INFO(MOD, "alarm %lld sent to %s (%.1f ms)", (long long)p->id, res->channel,
             (double)res->took_us / 1000.0);
  } else {
    pgd_json_set_str(d, "error", res->error);
    if (a->cfg.max_attempts > 0 && attempts >= a->cfg.max_attempts) {
      pgd_json_set_str(d, "state", "failed");
      a->ch_stats[ci].given_up++;
      PGD_ERROR(MOD, "alarm %lld: %s failed %d times, giving up: %s", (long long)p->id,
                res->channel, attempts, res->error);
    } else {
      int64_t delay = pgd_alarm_backoff_us(attempts, a->cfg.backoff_initial_us,
                                           a->cfg.backoff_max_us);
      pgd_json_set_int(d, "next_us", now + delay);
      PGD_WARN(MOD, "alarm %lld: %s failed (%s); retry %d in %.1f s", (long long)p->id,
               res->channel, res->error, attempts, (double)delay / 1e6);
    }
  }
  pgd_json_set_str(p->doc, "state", overall_state(p->doc));
  put_doc(a, p->id, p->doc, false);
  if (strcmp(pgd_json_str(p->doc, "state"), "pending") != 0 && !p->in_flight)
    pending_remove(a, res->alarm_id);
}

/* ---- grouping ---- */

static a_group_t *group_find(pgd_alarms_t *a, const char *key) {
  for (int i = 0; i < a->n_groups; i++)
    if (strcmp(a->groups[i].key, key) == 0) return &a->groups[i];
  return NULL;
}

static void groups_prune(pgd_alarms_t *a, int64_t now) {
  for (int i = 0; i < a->n_groups;) {
    a_group_t *g = &a->groups[i];
    if (!pgd_alarm_group_folds(g->first_us, now, g->window_us)) {
      free(g->key);
      a->groups[i] = a->groups[--a->n_groups];
    } else {
      i++;
    }
  }
}

static void group_set(pgd_alarms_t *a, const char *key, int64_t id, int64_t first_us,
                      int64_t window_us) {
  a_group_t *g = group_find(a, key);
  if (!g) {
    if (a->n_groups >= MAX_GROUPS) groups_prune(a, pgd_now_us());
    if (a->n_groups >= MAX_GROUPS) return;
    if (a->n_groups == a->cap_groups) {
      int cap = a->cap_groups ? 2 * a->cap_groups : 16;
      a_group_t *v = realloc(a->groups, (size_t)cap * sizeof *v);
      if (!v) return;
      a->groups = v;
      a->cap_groups = cap;
    }
    g = &a->groups[a->n_groups++];
    if (!(g->key = strdup(key))) {
      a->n_groups--;
      return;
    }
  }
  g->id = id;
  g->first_us = first_us;
  g->window_us = window_us;
}

/* A repeat: count it on the group's alarm (no new delivery). */
static void fold(pgd_alarms_t *a, a_group_t *g, int64_t now) {
  a->stats.grouped++;
  a_pending_t *p = pending_find(a, g->id);
  cJSON *doc = p ? p->doc : NULL;
  if (!doc) {
    char ids[24];
    id_str(g->id, ids, sizeof ids);
    doc = pgd_store_get_doc(pgd_master_store(a->m), PGD_ALARM_DOC_KIND, ids);
    if (!doc) return;
  }
  pgd_json_set_int(doc, "count", pgd_json_int(doc, "count", 1) + 1);
  pgd_json_set_int(doc, "last_us", now);
  put_doc(a, g->id, doc, false);
  if (!p) cJSON_Delete(doc);
}

/* ---- raising ---- */

static void set_opt(cJSON *o, const char *k, const char *v) {
  if (v) pgd_json_set_str(o, k, v);
}

static void raise_one(pgd_alarms_t *a, const a_event_t *ev, const pgd_alarm_rule_t *r,
                      int64_t now) {
  char key[1024];
  pgd_alarm_group_key(r, &ev->cause, key, sizeof key);
  a_group_t *g = group_find(a, key);
  if (g && pgd_alarm_group_folds(g->first_us, now, g->window_us)) {
    fold(a, g, now);
    return;
  }
  int64_t id = a->next_id++;
  cJSON *doc = cJSON_CreateObject();
  pgd_json_set_int(doc, "id", id);
  pgd_json_set_str(doc, "event", pgd_alarm_event_name(ev->cause.event));
  pgd_json_set_str(doc, "rule", r->id);
  pgd_json_set_str(doc, "subject", ev->subject);
  pgd_json_set_str(doc, "text", ev->text);
  set_opt(doc, "job", ev->cause.job);
  set_opt(doc, "flow", ev->cause.flow);
  set_opt(doc, "schedule", ev->cause.schedule);
  set_opt(doc, "worker", ev->cause.worker);
  if (ev->execution_id > 0) pgd_json_set_int(doc, "execution_id", ev->execution_id);
  if (ev->flow_execution_id > 0) pgd_json_set_int(doc, "flow_execution_id", ev->flow_execution_id);
  pgd_json_set_str(doc, "group", key);
  pgd_json_set_int(doc, "group_window_us", r->group_window_us);
  pgd_json_set_int(doc, "count", 1);
  pgd_json_set_int(doc, "first_us", now);
  pgd_json_set_int(doc, "last_us", now);
  char at[40];
  pgd_json_set_str(doc, "raised_at", pgd_format_time_us(now, at, sizeof at));
  cJSON *chs = cJSON_AddArrayToObject(doc, "channels");
  if (r->n_channels == 0)
    for (int i = 0; i < a->cfg.n_channels; i++)
      cJSON_AddItemToArray(chs, cJSON_CreateString(a->cfg.channels[i].name));
  for (int i = 0; i < r->n_channels; i++)
    cJSON_AddItemToArray(chs, cJSON_CreateString(r->channels[i]));
  const char *dropped_by = NULL;
  a->stats.raised++;
  group_set(a, key, id, now, r->group_window_us);
  if (pgd_alarm_hooks_run(a->hooks, doc, &dropped_by) == PGD_ALARM_HOOK_DROP) {
    a->stats.dropped++;
    pgd_json_set_str(doc, "state", "dropped");
    pgd_json_set_str(doc, "dropped_by", dropped_by);
    PGD_INFO(MOD, "alarm %lld (%s) dropped by hook %s", (long long)id, ev->subject, dropped_by);
    put_doc(a, id, doc, false);
    cJSON_Delete(doc);
    return;
  }
  cJSON *dl = cJSON_AddObjectToObject(doc, "deliveries");
  const cJSON *c;
  cJSON_ArrayForEach(c, pgd_json_get(doc, "channels")) {
    if (!cJSON_IsString(c) || cJSON_GetObjectItemCaseSensitive(dl, c->valuestring)) continue;
    cJSON *d = cJSON_AddObjectToObject(dl, c->valuestring);
    pgd_json_set_int(d, "attempts", 0);
    if (channel_index(a, c->valuestring) < 0) {
      pgd_json_set_str(d, "state", "failed");
      pgd_json_set_str(d, "error", "no such channel in master.alarms.channels");
    } else {
      pgd_json_set_str(d, "state", "pending");
      pgd_json_set_int(d, "next_us", now);
    }
  }
  pgd_json_set_str(doc, "state", overall_state(doc));
  if (!cJSON_GetArraySize(dl))
    pgd_json_set_str(doc, "error", "no channel to deliver to (see master.alarms.channels)");
  PGD_INFO(MOD, "alarm %lld raised: %s", (long long)id, pgd_json_str(doc, "subject"));
  if (strcmp(pgd_json_str(doc, "state"), "pending") == 0) {
    a_pending_t *p = pending_add(a, id, doc, false);
    if (!p) {
      cJSON_Delete(doc);
      return;
    }
    put_doc(a, id, p->doc, true);
  } else {
    put_doc(a, id, doc, false);
    cJSON_Delete(doc);
  }
}

void a_raise(pgd_alarms_t *a, const a_event_t *ev) {
  if (!a_leading(a)) return;
  int64_t now = pgd_now_us();
  for (int i = 0; !ev->skip_config && i < a->cfg.n_rules; i++) {
    const pgd_alarm_rule_t *r = &a->cfg.rules[i];
    if ((!ev->only_rule || strcmp(ev->only_rule, r->id) == 0) &&
        pgd_alarm_rule_matches(r, &ev->cause))
      raise_one(a, ev, r, now);
  }
  int n = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, ev->def_rules) {
    char id[300], err[512];
    snprintf(id, sizeof id, "%s.%d", ev->def_rules_owner ? ev->def_rules_owner : "def", n++);
    if (ev->only_rule && strcmp(ev->only_rule, id) != 0) continue;
    pgd_alarm_rule_t r;
    if (pgd_alarm_rule_parse(it, id, false, a->cfg.group_window_us, &a->cfg, &r, err,
                             sizeof err) < 0) {
      PGD_WARN(MOD, "%s (ignored)", err);
      continue;
    }
    if (pgd_alarm_rule_matches(&r, &ev->cause)) raise_one(a, ev, &r, now);
    pgd_alarm_rule_free(&r);
  }
  deliver_due(a, now);
}

/* ---- Lua hooks reload ---- */

int pgd_alarms_reload_hooks(pgd_alarms_t *a) {
  pgd_alarm_hooks_t *h = NULL;
  int rc = pgd_alarm_hooks_load(a->hooks_dir, a->cfg.hook_instructions, &h);
  if (rc < 0) {
    PGD_ERROR(MOD, "alarm hooks: reload failed (%d); keeping the loaded ones", rc);
    return rc;
  }
  pgd_alarm_hooks_free(a->hooks); /* its script thread is idle: calls are synchronous */
  a->hooks = h;
  PGD_INFO(MOD, "alarm hooks reloaded: %d hook(s)", pgd_alarm_hooks_count(h));
  return pgd_alarm_hooks_count(h);
}

/* ---- checks of definitions ---- */

int pgd_alarms_check_rules(const pgd_alarms_t *a, const cJSON *rules, char *err, size_t errlen) {
  if (!rules || cJSON_IsNull(rules)) return 0;
  if (!cJSON_IsArray(rules)) {
    snprintf(err, errlen, "alarms must be a list of rules");
    return -EINVAL;
  }
  int i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, rules) {
    char id[32];
    snprintf(id, sizeof id, "alarms[%d]", i++);
    pgd_alarm_rule_t r;
    int rc = pgd_alarm_rule_parse(it, id, false, 1, a ? &a->cfg : NULL, &r, err, errlen);
    if (rc < 0) return rc;
    pgd_alarm_rule_free(&r);
  }
  return 0;
}

/* ---- acknowledgement ---- */

typedef struct {
  pgd_master_done_cb done;
  void *ud;
} ack_ctx_t;

static void on_ack_put(int status, void *ud) {
  ack_ctx_t *c = ud;
  c->done(c->ud, status);
  free(c);
}

int pgd_alarms_ack(pgd_alarms_t *a, int64_t id, const char *by, cJSON **view,
                   pgd_master_done_cb done, void *ud, char *err, size_t errlen) {
  if (view) *view = NULL;
  if (!a || !a_leading(a)) {
    snprintf(err, errlen, "this master does not lead: acknowledge on the leader");
    return -ESHUTDOWN;
  }
  a_pending_t *p = pending_find(a, id);
  cJSON *doc = p ? p->doc : NULL;
  char ids[24];
  id_str(id, ids, sizeof ids);
  if (!doc && (doc = pgd_store_get_doc(pgd_master_store(a->m), PGD_ALARM_DOC_KIND, ids))) {
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "created_us");
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "updated_us");
  }
  if (!doc) {
    snprintf(err, errlen, "alarm %lld not found", (long long)id);
    return -ENOENT;
  }
  if (pgd_json_get(doc, "acked_us")) {
    snprintf(err, errlen, "alarm %lld was acknowledged already", (long long)id);
    if (!p) cJSON_Delete(doc);
    return -EALREADY;
  }
  ack_ctx_t *c = malloc(sizeof *c);
  if (!c) {
    if (!p) cJSON_Delete(doc);
    snprintf(err, errlen, "out of memory");
    return -ENOMEM;
  }
  c->done = done;
  c->ud = ud;
  int64_t now = pgd_now_us();
  char at[40];
  pgd_json_set_int(doc, "acked_us", now);
  pgd_json_set_str(doc, "acked_at", pgd_format_time_us(now, at, sizeof at));
  pgd_json_set_str(doc, "acked_by", by);
  cJSON *d;
  cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(doc, "deliveries")) {
    const char *st = pgd_json_str(d, "state");
    if (st && strcmp(st, "pending") == 0) pgd_json_set_str(d, "state", "cancelled");
  }
  const char *st = pgd_json_str(doc, "state");
  if (st && strcmp(st, "pending") == 0) pgd_json_set_str(doc, "state", overall_state(doc));
  if (view) *view = cJSON_Duplicate(doc, 1);
  int rc = pgd_store_put_doc(pgd_master_store(a->m), PGD_ALARM_DOC_KIND, ids, NULL,
                             pgd_json_str(doc, "state"), doc, on_ack_put, c);
  if (rc < 0) {
    free(c);
    if (view) {
      cJSON_Delete(*view);
      *view = NULL;
    }
    snprintf(err, errlen, "cannot store the acknowledgement (%d)", rc);
  } else {
    PGD_INFO(MOD, "alarm %lld acknowledged%s%s", (long long)id, by ? " by " : "", by ? by : "");
  }
  /* No longer pending: out of the delivery list (a send on its way is
   * recorded by on_sent first). */
  if (p && !p->in_flight && strcmp(pgd_json_str(doc, "state"), "pending") != 0)
    pending_remove(a, id);
  else if (!p)
    cJSON_Delete(doc);
  return rc < 0 ? rc : 0;
}

/* ---- leadership ---- */

static void give_up(pgd_alarms_t *a) {
  a->leader = false;
  for (int i = 0; i < a->n_pending; i++) cJSON_Delete(a->pending[i].doc);
  a->n_pending = 0;
  for (int i = 0; i < a->n_groups; i++) free(a->groups[i].key);
  a->n_groups = 0;
  a_sla_free_all(a);
}

static void take_over(pgd_alarms_t *a) {
  pgd_store_t *st = pgd_master_store(a->m);
  int64_t now = pgd_now_us();
  a->leader = true;
  a->next_id = 1;
  cJSON *last = pgd_store_list_docs(st, PGD_ALARM_DOC_KIND, NULL, NULL, 1, NULL);
  if (cJSON_GetArraySize(last) > 0)
    a->next_id = pgd_json_int(cJSON_GetArrayItem(last, 0), "id", 0) + 1;
  cJSON_Delete(last);
  cJSON *list = pgd_store_list_docs(st, PGD_ALARM_DOC_KIND, NULL, "pending", 0, NULL), *it;
  int n = 0;
  cJSON_ArrayForEach(it, list) {
    int64_t id = pgd_json_int(it, "id", 0);
    if (id <= 0) continue;
    cJSON *doc = cJSON_Duplicate(it, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "created_us");
    cJSON_DeleteItemFromObjectCaseSensitive(doc, "updated_us");
    if (pending_add(a, id, doc, true))
      n++;
    else
      cJSON_Delete(doc);
  }
  cJSON_Delete(list);
  /* Groups of the recent alarms, so a repeat right after a failover folds. */
  list = pgd_store_list_docs(st, PGD_ALARM_DOC_KIND, NULL, NULL, RECENT_FOR_GROUPS, NULL);
  cJSON_ArrayForEach(it, list) {
    const char *key = pgd_json_str(it, "group");
    int64_t first = pgd_json_int(it, "first_us", 0), win = pgd_json_int(it, "group_window_us", 0);
    if (key && pgd_alarm_group_folds(first, now, win) && !group_find(a, key))
      group_set(a, key, pgd_json_int(it, "id", 0), first, win);
  }
  cJSON_Delete(list);
  a_sla_restore(a, now);
  PGD_INFO(MOD, "alarms: leading; %d pending alarm(s) to deliver, %d SLA watch(es), next id %lld",
           n, a->n_slas, (long long)a->next_id);
  cJSON *cl = pgd_master_cluster(a->m);
  if (pgd_json_bool(cl, "ha", false)) {
    char subject[256], text[512];
    int64_t epoch = pgd_json_int(cl, "epoch", 0);
    snprintf(subject, sizeof subject, "Pagoda: leader change (epoch %lld)", (long long)epoch);
    snprintf(text, sizeof text,
             "A master became the leader of cluster %s with epoch %lld; it now delivers "
             "the alarms and runs the schedules.",
             pgd_json_str(cl, "cluster") ? pgd_json_str(cl, "cluster") : "", (long long)epoch);
    /* grouped per master: a flapping pair of masters makes two alarms with
     * counts, not one per change */
    const char *self = NULL;
    const cJSON *mi;
    cJSON_ArrayForEach(mi, pgd_json_get(cl, "masters")) if (pgd_json_bool(mi, "self", false))
        self = pgd_json_str(mi, "http");
    a_event_t ev = {.cause = {.event = PGD_ALARM_EV_LEADER_CHANGE, .master = self},
                    .subject = subject,
                    .text = text};
    a_raise(a, &ev);
  }
  cJSON_Delete(cl);
}

bool a_leading(pgd_alarms_t *a) {
  bool lead = pgd_master_is_leader(a->m) && !pgd_master_is_stopping(a->m);
  if (lead && !a->leader) take_over(a);
  else if (!lead && a->leader) give_up(a);
  return lead;
}

static void on_tick(uv_timer_t *t) {
  pgd_alarms_t *a = t->data;
  if (!a_leading(a)) return;
  int64_t now = pgd_now_us();
  a_sla_tick(a, now);
  deliver_due(a, now);
}

/* ---- lifecycle ---- */

int pgd_alarms_start(uv_loop_t *loop, pgd_master_t *m, const cJSON *config, const char *hooks_dir,
                     pgd_alarms_t **out, char *err, size_t errlen) {
  pgd_alarms_t *a = calloc(1, sizeof *a);
  if (!a) return -ENOMEM;
  a->loop = loop;
  a->m = m;
  int rc = pgd_alarm_config_parse(config, &a->cfg, err, errlen);
  if (rc < 0) {
    free(a);
    return rc;
  }
  a->ch_stats = calloc((size_t)a->cfg.n_channels + 1, sizeof *a->ch_stats);
  const char *dir = a->cfg.hooks_dir ? a->cfg.hooks_dir : hooks_dir;
  a->hooks_dir = dir ? strdup(dir) : NULL;
  if (!a->ch_stats || (rc = pgd_alarm_hooks_load(dir, a->cfg.hook_instructions, &a->hooks)) < 0 ||
      (rc = pgd_alarm_sender_new(loop, on_sent, a, &a->sender)) < 0) {
    snprintf(err, errlen, "alarms: cannot start (%d)", rc);
    pgd_alarm_hooks_free(a->hooks);
    free(a->ch_stats);
    free(a->hooks_dir);
    pgd_alarm_config_free(&a->cfg);
    free(a);
    return rc < 0 ? rc : -ENOMEM;
  }
  pgd_master_observer_t obs = a_observer_template;
  obs.ud = a;
  a->observer = pgd_master_subscribe(m, &obs);
  uv_timer_init(loop, &a->tick);
  a->tick.data = a;
  uv_timer_start(&a->tick, on_tick, TICK_MS, TICK_MS);
  uv_unref((uv_handle_t *)&a->tick);
  if (pgd_alarms_metrics_start(a) < 0) PGD_WARN(MOD, "alarms: not in /metrics (out of memory)");
  PGD_INFO(MOD, "alarms: %d channel(s), %d rule(s), %d Lua hook(s)", a->cfg.n_channels,
           a->cfg.n_rules, pgd_alarm_hooks_count(a->hooks));
  *out = a;
  return 0;
}

static void on_tick_closed(uv_handle_t *h) {
  pgd_alarms_t *a = h->data;
  pgd_alarm_config_free(&a->cfg); /* after the sender: it borrowed the channels */
  free(a->ch_stats);
  free(a->hooks_dir);
  free(a);
}

void pgd_alarms_stop(pgd_alarms_t *a) {
  if (!a) return;
  pgd_alarms_metrics_stop(a);
  pgd_master_unsubscribe(a->m, a->observer);
  for (put_ctx_t *c = outstanding; c; c = c->next)
    if (c->a == a) c->a = NULL;
  give_up(a);
  free(a->pending);
  free(a->groups);
  free(a->slas);
  pgd_alarm_sender_free(a->sender);
  pgd_alarm_hooks_free(a->hooks);
  uv_timer_stop(&a->tick);
  uv_close((uv_handle_t *)&a->tick, on_tick_closed);
}

int pgd_alarms_stats(const pgd_alarms_t *a, pgd_alarm_stats_t *totals,
                     pgd_alarm_channel_stats_t *per, int max) {
  if (!a) return 0;
  if (totals) *totals = a->stats;
  for (int i = 0; per && i < a->cfg.n_channels && i < max; i++) {
    per[i] = (pgd_alarm_channel_stats_t){.channel = a->cfg.channels[i].name,
                                         .sent = a->ch_stats[i].sent,
                                         .failed = a->ch_stats[i].failed,
                                         .given_up = a->ch_stats[i].given_up};
    for (int j = 0; j < a->n_pending; j++) {
      const cJSON *d = pgd_json_get(pgd_json_get(a->pending[j].doc, "deliveries"),
                                    a->cfg.channels[i].name);
      const char *s = pgd_json_str(d, "state");
      if (s && strcmp(s, "pending") == 0) per[i].pending++;
    }
  }
  return a->cfg.n_channels;
}
