/* Pagoda — tables and values for the `pagoda` client's output (see client_table.h). */
#include "cli/client_table.h"
#include "common/json.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_COLS 32

struct pgd_cli_table {
  size_t ncols;
  char *headers[MAX_COLS];
  char **cells; /* rows * ncols */
  size_t rows;
  size_t cap;
};

/* Copies a cell, replacing control characters by spaces; "" and NULL give "-". */
static char *cell_dup(const char *s) {
  if (!s || !*s) s = "-";
  char *d = strdup(s);
  if (!d) return NULL;
  for (char *p = d; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = ' ';
  return d;
}

/* Display width: UTF-8 code points (continuation bytes not counted). */
static size_t text_width(const char *s) {
  size_t w = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) w++;
  return w;
}

pgd_cli_table_t *pgd_cli_table_new(size_t ncols, const char *const *headers) {
  if (ncols == 0 || ncols > MAX_COLS || !headers) return NULL;
  pgd_cli_table_t *t = calloc(1, sizeof(*t));
  if (!t) return NULL;
  t->ncols = ncols;
  for (size_t i = 0; i < ncols; i++) {
    t->headers[i] = cell_dup(headers[i]);
    if (!t->headers[i]) {
      pgd_cli_table_free(t);
      return NULL;
    }
  }
  return t;
}

int pgd_cli_table_add_row(pgd_cli_table_t *t, const char *const *cells) {
  if (!t || !cells) return -EINVAL;
  if (t->rows == t->cap) {
    size_t ncap = t->cap ? t->cap * 2 : 16;
    char **n = realloc(t->cells, ncap * t->ncols * sizeof(char *));
    if (!n) return -ENOMEM;
    t->cells = n;
    t->cap = ncap;
  }
  char **row = t->cells + t->rows * t->ncols;
  for (size_t i = 0; i < t->ncols; i++) {
    row[i] = cell_dup(cells[i]);
    if (!row[i]) {
      for (size_t j = 0; j < i; j++) free(row[j]);
      return -ENOMEM;
    }
  }
  t->rows++;
  return 0;
}

size_t pgd_cli_table_rows(const pgd_cli_table_t *t) { return t ? t->rows : 0; }

static int print_line(const pgd_cli_table_t *t, char *const *row, const size_t *width, FILE *out) {
  for (size_t c = 0; c < t->ncols; c++) {
    if (fputs(row[c], out) == EOF) return -EIO;
    if (c + 1 < t->ncols) {
      size_t pad = width[c] - text_width(row[c]) + 2;
      for (size_t k = 0; k < pad; k++)
        if (fputc(' ', out) == EOF) return -EIO;
    }
  }
  if (fputc('\n', out) == EOF) return -EIO;
  return 0;
}

int pgd_cli_table_print(const pgd_cli_table_t *t, FILE *out) {
  if (!t || !out) return -EINVAL;
  size_t width[MAX_COLS];
  for (size_t c = 0; c < t->ncols; c++) width[c] = text_width(t->headers[c]);
  for (size_t r = 0; r < t->rows; r++)
    for (size_t c = 0; c < t->ncols; c++) {
      size_t w = text_width(t->cells[r * t->ncols + c]);
      if (w > width[c]) width[c] = w;
    }
  int rc = print_line(t, t->headers, width, out);
  for (size_t r = 0; rc == 0 && r < t->rows; r++)
    rc = print_line(t, t->cells + r * t->ncols, width, out);
  return rc;
}

void pgd_cli_table_free(pgd_cli_table_t *t) {
  if (!t) return;
  for (size_t i = 0; i < t->ncols; i++) free(t->headers[i]);
  for (size_t i = 0; i < t->rows * t->ncols; i++) free(t->cells[i]);
  free(t->cells);
  free(t);
}

/* ---- cells ------------------------------------------------------------ */

/* Appends `s` to buf at *pos, truncating with "..." when it does not fit.
 * Returns 0, or -1 once truncated. */
static int buf_append(char *buf, size_t len, size_t *pos, const char *s) {
  size_t n = strlen(s);
  if (*pos + n < len) {
    memcpy(buf + *pos, s, n + 1);
    *pos += n;
    return 0;
  }
  if (len >= 4) {
    size_t keep = len - 4;
    if (*pos < keep) memcpy(buf + *pos, s, keep - *pos);
    /* Do not cut a UTF-8 sequence in half: back up while the first byte
     * dropped is a continuation byte. */
    unsigned char next = (*pos <= keep) ? (unsigned char)s[keep - *pos] : (unsigned char)buf[keep];
    while (keep > 0 && (next & 0xC0) == 0x80) {
      keep--;
      next = (unsigned char)buf[keep];
    }
    memcpy(buf + keep, "...", 4);
    *pos = len - 1;
  } else {
    buf[len - 1] = '\0';
  }
  return -1;
}

static void format_number(double d, char *tmp, size_t len) {
  if (isfinite(d) && d == floor(d) && fabs(d) < 9.2e18)
    snprintf(tmp, len, "%lld", (long long)d);
  else
    snprintf(tmp, len, "%g", d);
}

/* Formats a scalar (or an object by its name) into tmp; returns 0, or -1 when
 * the value has no short form. */
static int scalar_text(const cJSON *v, char *tmp, size_t len) {
  if (cJSON_IsString(v)) {
    snprintf(tmp, len, "%s", v->valuestring ? v->valuestring : "");
  } else if (cJSON_IsNumber(v)) {
    format_number(v->valuedouble, tmp, len);
  } else if (cJSON_IsBool(v)) {
    snprintf(tmp, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
  } else if (cJSON_IsObject(v)) {
    static const char *names[] = {"name", "type", "id"};
    for (size_t i = 0; i < 3; i++) {
      const cJSON *n = pgd_json_get(v, names[i]);
      if (cJSON_IsString(n) || cJSON_IsNumber(n)) return scalar_text(n, tmp, len);
    }
    return -1;
  } else {
    return -1;
  }
  return 0;
}

char *pgd_cli_cell(const cJSON *obj, const char *key, char *buf, size_t len) {
  if (!buf || len < 2) return buf;
  size_t pos = 0;
  buf[0] = '\0';
  const cJSON *v = key ? pgd_json_get(obj, key) : NULL;
  char tmp[512];
  if (!v || cJSON_IsNull(v)) {
    /* "-" below */
  } else if (cJSON_IsArray(v)) {
    const cJSON *it;
    int first = 1;
    cJSON_ArrayForEach(it, v) {
      if (scalar_text(it, tmp, sizeof(tmp)) != 0) continue;
      if (!first && buf_append(buf, len, &pos, ",") != 0) break;
      first = 0;
      if (buf_append(buf, len, &pos, tmp) != 0) break;
    }
  } else if (scalar_text(v, tmp, sizeof(tmp)) == 0) {
    buf_append(buf, len, &pos, tmp);
  } else {
    char *js = cJSON_PrintUnformatted(v);
    if (js) {
      buf_append(buf, len, &pos, js);
      cJSON_free(js);
    }
  }
  if (buf[0] == '\0') snprintf(buf, len, "-");
  return buf;
}

char *pgd_cli_time_cell(const cJSON *obj, const char *key, char *buf, size_t len) {
  if (!buf || len < 2) return buf;
  const cJSON *v = key ? pgd_json_get(obj, key) : NULL;
  if (cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble > 0 &&
      v->valuedouble < 1e18) {
    double d = v->valuedouble;
    if (d > 1e14) d /= 1e6;
    else if (d > 1e11) d /= 1e3;
    time_t secs = (time_t)d;
    struct tm tm;
    if (gmtime_r(&secs, &tm) && strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) > 0) return buf;
    snprintf(buf, len, "-");
    return buf;
  }
  if (cJSON_IsString(v)) return pgd_cli_cell(obj, key, buf, len);
  snprintf(buf, len, "-");
  return buf;
}

/* ---- list tables -------------------------------------------------------- */

#define CELL 256

typedef void (*row_fn)(const cJSON *item, char cells[][CELL]);

static int print_list(const cJSON *resp, const char *key, size_t ncols,
                      const char *const *headers, row_fn fill, FILE *out) {
  const cJSON *arr = pgd_json_get(resp, key);
  if (!cJSON_IsArray(arr) || !out) return -EPROTO;
  pgd_cli_table_t *t = pgd_cli_table_new(ncols, headers);
  if (!t) return -ENOMEM;
  char cells[MAX_COLS][CELL];
  const char *ptrs[MAX_COLS];
  for (size_t c = 0; c < ncols; c++) ptrs[c] = cells[c];
  int rc = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) {
    for (size_t c = 0; c < ncols; c++) snprintf(cells[c], CELL, "-");
    if (cJSON_IsObject(it)) fill(it, cells);
    rc = pgd_cli_table_add_row(t, ptrs);
    if (rc != 0) break;
  }
  if (rc == 0) rc = pgd_cli_table_print(t, out);
  pgd_cli_table_free(t);
  return rc;
}

static void job_row(const cJSON *j, char c[][CELL]) {
  pgd_cli_cell(j, "name", c[0], CELL);
  pgd_cli_cell(j, "type", c[1], CELL);
  pgd_cli_cell(j, "timeout", c[2], CELL);
  if (pgd_json_get(j, "updated_at"))
    pgd_cli_time_cell(j, "updated_at", c[3], CELL);
  else
    pgd_cli_time_cell(j, "updated", c[3], CELL);
}

int pgd_cli_print_jobs(const cJSON *resp, FILE *out) {
  static const char *h[] = {"NAME", "TYPE", "TIMEOUT", "UPDATED"};
  return print_list(resp, "jobs", 4, h, job_row, out);
}

static void exec_row(const cJSON *e, char c[][CELL]) {
  pgd_cli_cell(e, "id", c[0], CELL);
  pgd_cli_cell(e, "job", c[1], CELL);
  pgd_cli_cell(e, "state", c[2], CELL);
  pgd_cli_cell(e, "attempt", c[3], CELL);
  pgd_cli_cell(e, "worker_id", c[4], CELL);
  pgd_cli_cell(e, "exit_code", c[5], CELL);
  pgd_cli_time_cell(e, "submitted_at", c[6], CELL);
}

int pgd_cli_print_executions(const cJSON *resp, FILE *out) {
  static const char *h[] = {"ID", "JOB", "STATE", "ATTEMPT", "WORKER", "EXIT", "SUBMITTED"};
  return print_list(resp, "executions", 7, h, exec_row, out);
}

/* "running" may be a count or the list of running executions. */
static void slots_cell(const cJSON *w, char *buf) {
  const cJSON *slots = pgd_json_get(w, "slots");
  const cJSON *running = pgd_json_get(w, "slots_used");
  if (!running) running = pgd_json_get(w, "running");
  char used[64] = "-", total[64] = "-";
  if (cJSON_IsNumber(running)) format_number(running->valuedouble, used, sizeof(used));
  else if (cJSON_IsArray(running)) snprintf(used, sizeof(used), "%d", cJSON_GetArraySize(running));
  if (cJSON_IsNumber(slots)) format_number(slots->valuedouble, total, sizeof(total));
  if (strcmp(used, "-") == 0 && strcmp(total, "-") == 0) snprintf(buf, CELL, "-");
  else snprintf(buf, CELL, "%s/%s", used, total);
}

static void worker_row(const cJSON *w, char c[][CELL]) {
  pgd_cli_cell(w, "id", c[0], CELL);
  pgd_cli_cell(w, "host", c[1], CELL);
  pgd_cli_cell(w, "state", c[2], CELL);
  slots_cell(w, c[3]);
  pgd_cli_cell(w, "labels", c[4], CELL);
  const cJSON *load1 = pgd_json_get(pgd_json_get(w, "load"), "load1");
  if (cJSON_IsNumber(load1))
    snprintf(c[5], CELL, "%.2f", load1->valuedouble);
  else
    snprintf(c[5], CELL, "-");
  pgd_cli_cell(w, "types", c[6], CELL);
  pgd_cli_time_cell(w, "last_heartbeat", c[7], CELL);
}

int pgd_cli_print_workers(const cJSON *resp, FILE *out) {
  static const char *h[] = {"ID", "HOST", "STATE", "SLOTS", "LABELS", "LOAD", "TYPES", "LAST-HEARTBEAT"};
  return print_list(resp, "workers", 8, h, worker_row, out);
}

static void plugin_row(const cJSON *p, char c[][CELL]) {
  pgd_cli_cell(p, "type", c[0], CELL);
  pgd_cli_cell(p, "version", c[1], CELL);
  pgd_cli_cell(p, "status", c[2], CELL);
  /* a pushed version set aside by another of its type (plugin push) */
  if (cJSON_IsFalse(pgd_json_get(p, "active")) && strcmp(c[2], "loaded") == 0)
    snprintf(c[2], CELL, "inactive");
  /* A refused plugin shows why; a loaded one shows its file. */
  const cJSON *reason = pgd_json_get(p, "reason");
  if (cJSON_IsString(reason) && reason->valuestring && reason->valuestring[0])
    pgd_cli_cell(p, "reason", c[3], CELL);
  else
    pgd_cli_cell(p, "file", c[3], CELL);
}

int pgd_cli_print_plugins(const cJSON *resp, FILE *out) {
  static const char *h[] = {"TYPE", "VERSION", "STATUS", "FILE/REASON"};
  return print_list(resp, "plugins", 4, h, plugin_row, out);
}

static void balancer_row(const cJSON *b, char c[][CELL]) {
  pgd_cli_cell(b, "name", c[0], CELL);
  const cJSON *d = pgd_json_get(b, "default");
  const cJSON *bi = pgd_json_get(b, "builtin");
  const cJSON *ld = pgd_json_get(b, "loaded");
  snprintf(c[1], CELL, "%s%s", cJSON_IsTrue(bi) ? "built-in" : (cJSON_IsFalse(ld) ? "refused" : "loaded"),
           cJSON_IsTrue(d) ? ", default" : "");
  pgd_cli_cell(b, "calls", c[2], CELL);
  pgd_cli_cell(b, "errors", c[3], CELL);
  pgd_cli_cell(b, "file", c[4], CELL);
  pgd_cli_cell(b, "last_error", c[5], CELL);
}

static void resource_row(const cJSON *r, char c[][CELL]) {
  pgd_cli_cell(r, "name", c[0], CELL);
  pgd_cli_cell(r, "latest", c[1], CELL);
  if (strlen(c[1]) > 12) c[1][12] = 0; /* a hash prefix is enough to read */
  pgd_cli_cell(r, "size", c[2], CELL);
  pgd_cli_cell(r, "versions_count", c[3], CELL);
  pgd_cli_time_cell(r, "updated_at", c[4], CELL);
}

int pgd_cli_print_resources(const cJSON *resp, FILE *out) {
  static const char *h[] = {"NAME", "LATEST", "SIZE", "VERSIONS", "UPDATED"};
  return print_list(resp, "resources", 5, h, resource_row, out);
}

int pgd_cli_print_balancers(const cJSON *resp, FILE *out) {
  static const char *h[] = {"NAME", "STATUS", "CALLS", "ERRORS", "FILE", "LAST-ERROR"};
  return print_list(resp, "balancers", 6, h, balancer_row, out);
}

/* ---- tokens and the audit log ------------------------------------------------ */

static void token_row(const cJSON *t, char c[][CELL]) {
  pgd_cli_cell(t, "name", c[0], CELL);
  pgd_cli_cell(t, "role", c[1], CELL);
  pgd_cli_cell(t, "state", c[2], CELL);
  pgd_cli_time_cell(t, "created_at", c[3], CELL);
  pgd_cli_time_cell(t, "expires_at", c[4], CELL);
  pgd_cli_cell(t, "created_by", c[5], CELL);
}

int pgd_cli_print_tokens(const cJSON *resp, FILE *out) {
  static const char *h[] = {"NAME", "ROLE", "STATE", "CREATED", "EXPIRES", "CREATED-BY"};
  return print_list(resp, "tokens", 6, h, token_row, out);
}

static void audit_row(const cJSON *a, char c[][CELL]) {
  pgd_cli_cell(a, "id", c[0], CELL);
  pgd_cli_time_cell(a, "time_at", c[1], CELL);
  pgd_cli_cell(a, "token", c[2], CELL);
  pgd_cli_cell(a, "method", c[3], CELL);
  pgd_cli_cell(a, "target", c[4], CELL);
  pgd_cli_cell(a, "status", c[5], CELL);
  pgd_cli_cell(a, "peer", c[6], CELL);
}

int pgd_cli_print_audit(const cJSON *resp, FILE *out) {
  static const char *h[] = {"ID", "TIME", "TOKEN", "METHOD", "TARGET", "STATUS", "PEER"};
  return print_list(resp, "audit", 7, h, audit_row, out);
}

/* ---- alarms ------------------------------------------------------------------ */

static void alarm_row(const cJSON *a, char c[][CELL]) {
  pgd_cli_cell(a, "id", c[0], CELL);
  pgd_cli_time_cell(a, "raised_at", c[1], CELL);
  pgd_cli_cell(a, "event", c[2], CELL);
  pgd_cli_cell(a, "count", c[3], CELL);
  pgd_cli_cell(a, "state", c[4], CELL);
  /* each channel with its delivery state: "ops:sent mail:pending(3)" */
  size_t n = 0;
  c[5][0] = 0;
  const cJSON *d;
  cJSON_ArrayForEach(d, pgd_json_get(a, "deliveries")) {
    long long tries = (long long)pgd_json_int(d, "attempts", 0);
    const char *st = pgd_json_str(d, "state") ? pgd_json_str(d, "state") : "?";
    int w = tries > 1 ? snprintf(c[5] + n, CELL - n, "%s%s:%s(%lld)", n ? " " : "", d->string, st, tries)
                      : snprintf(c[5] + n, CELL - n, "%s%s:%s", n ? " " : "", d->string, st);
    if (w < 0 || (size_t)w >= CELL - n) break;
    n += (size_t)w;
  }
  if (!n) snprintf(c[5], CELL, "-");
  pgd_cli_cell(a, "subject", c[6], CELL);
}

int pgd_cli_print_alarms(const cJSON *resp, FILE *out) {
  static const char *h[] = {"ID", "RAISED", "EVENT", "COUNT", "STATE", "CHANNELS", "SUBJECT"};
  return print_list(resp, "alarms", 7, h, alarm_row, out);
}

/* ---- schedules --------------------------------------------------------------- */

static void schedule_row(const cJSON *s, char c[][CELL]) {
  pgd_cli_cell(s, "name", c[0], CELL);
  const cJSON *flow = pgd_json_get(s, "flow");
  char t[CELL - 8];
  pgd_cli_cell(s, cJSON_IsString(flow) ? "flow" : "job", t, sizeof t);
  snprintf(c[1], CELL, "%s %s", cJSON_IsString(flow) ? "flow" : "job", t);
  static const char *const kinds[] = {"cron", "every", "delay", "at"};
  snprintf(c[2], CELL, "-");
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    if (!pgd_json_get(s, kinds[i])) continue;
    pgd_cli_cell(s, kinds[i], t, sizeof t);
    snprintf(c[2], CELL, "%s %s", kinds[i], t);
  }
  pgd_cli_cell(s, "timezone", c[3], CELL);
  pgd_cli_cell(s, "enabled", c[4], CELL);
  pgd_cli_time_cell(s, "next_fire_us", c[5], CELL);
  pgd_cli_time_cell(s, "last_fired_us", c[6], CELL);
}

int pgd_cli_print_schedules(const cJSON *resp, FILE *out) {
  static const char *h[] = {"NAME", "TARGET", "TRIGGER", "TIMEZONE", "ENABLED", "NEXT", "LAST-FIRED"};
  return print_list(resp, "schedules", 7, h, schedule_row, out);
}

/* ---- flows ------------------------------------------------------------------- */

static void flow_row(const cJSON *f, char c[][CELL]) {
  pgd_cli_cell(f, "name", c[0], CELL);
  pgd_cli_cell(f, "failure_strategy", c[1], CELL);
  pgd_cli_cell(f, "nodes", c[2], CELL);
  pgd_cli_time_cell(f, "updated_us", c[3], CELL);
}

int pgd_cli_print_flows(const cJSON *resp, FILE *out) {
  static const char *h[] = {"NAME", "STRATEGY", "NODES", "UPDATED"};
  return print_list(resp, "flows", 4, h, flow_row, out);
}

int pgd_cli_print_flow_status(const cJSON *fe, FILE *out) {
  const cJSON *nodes = pgd_json_get(fe, "nodes");
  if (!cJSON_IsObject(nodes) || !out) return -EPROTO;
  char id[CELL], flow[CELL], state[CELL], err[CELL];
  pgd_cli_cell(fe, "id", id, CELL);
  pgd_cli_cell(fe, "flow", flow, CELL);
  pgd_cli_cell(fe, "state", state, CELL);
  pgd_cli_cell(fe, "error", err, CELL);
  if (fprintf(out, "flow execution %s of %s: %s%s%s\n", id, flow, state,
              strcmp(err, "-") ? ": " : "", strcmp(err, "-") ? err : "") < 0)
    return -EIO;
  static const char *h[] = {"NODE", "STATE", "EXECUTION", "OUTPUTS", "REASON"};
  pgd_cli_table_t *t = pgd_cli_table_new(5, h);
  if (!t) return -ENOMEM;
  const cJSON *errs = pgd_json_get(fe, "node_errors");
  char cells[5][CELL];
  const char *ptrs[5] = {cells[0], cells[1], cells[2], cells[3], cells[4]};
  int rc = 0;
  const cJSON *n;
  cJSON_ArrayForEach(n, nodes) {
    snprintf(cells[0], CELL, "%s", n->string ? n->string : "-");
    pgd_cli_cell(n, "state", cells[1], CELL);
    const cJSON *eid = pgd_json_get(n, "execution_id");
    if (cJSON_IsNumber(eid) && eid->valuedouble > 0) pgd_cli_cell(n, "execution_id", cells[2], CELL);
    else snprintf(cells[2], CELL, "-");
    const cJSON *outs = pgd_json_get(n, "outputs");
    size_t pos = 0;
    cells[3][0] = '\0';
    const cJSON *kv;
    cJSON_ArrayForEach(kv, outs) {
      int w = snprintf(cells[3] + pos, CELL - pos, "%s%s=%s", pos ? " " : "", kv->string,
                       cJSON_IsString(kv) ? kv->valuestring : "?");
      if (w < 0 || (size_t)w >= CELL - pos) break;
      pos += (size_t)w;
    }
    const cJSON *ne = n->string ? pgd_json_get(errs, n->string) : NULL;
    if (cJSON_IsString(ne)) snprintf(cells[4], CELL, "%s", ne->valuestring);
    else pgd_cli_cell(n, "reason", cells[4], CELL);
    if ((rc = pgd_cli_table_add_row(t, ptrs)) != 0) break;
  }
  if (rc == 0) rc = pgd_cli_table_print(t, out);
  pgd_cli_table_free(t);
  return rc;
}

/* ---- errors and states ---------------------------------------------------- */

char *pgd_cli_error_message(const char *body, size_t body_len, char *buf, size_t len) {
  if (!buf || len < 2) return buf;
  buf[0] = '\0';
  if (body && body_len > 0) {
    cJSON *j = cJSON_ParseWithLength(body, body_len);
    const cJSON *e = pgd_json_get(j, "error");
    if (cJSON_IsObject(e)) e = pgd_json_get(e, "message");
    if (!e) e = pgd_json_get(j, "message");
    if (cJSON_IsString(e) && e->valuestring && e->valuestring[0]) {
      snprintf(buf, len, "%s", e->valuestring);
    } else if (!j) {
      /* Not JSON: the first non-empty line of the body. */
      size_t i = 0;
      while (i < body_len && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' ||
                              body[i] == '\n'))
        i++;
      size_t e2 = i;
      while (e2 < body_len && body[e2] != '\n' && body[e2] != '\r' && body[e2] != '\0') e2++;
      while (e2 > i && (body[e2 - 1] == ' ' || body[e2 - 1] == '\t')) e2--;
      size_t n = e2 - i;
      if (n >= len) n = len - 1;
      memcpy(buf, body + i, n);
      buf[n] = '\0';
    }
    cJSON_Delete(j);
  }
  for (char *p = buf; *p; p++)
    if ((unsigned char)*p < 0x20) *p = ' ';
  if (buf[0] == '\0') snprintf(buf, len, "request failed");
  return buf;
}

int pgd_cli_state_is_final(const char *state) {
  static const char *final[] = {"succeeded", "failed", "killed", "timed_out", "lost"};
  if (!state) return 0;
  for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
    if (strcmp(state, final[i]) == 0) return 1;
  return 0;
}
