/* Pagoda — ${...} substitution in node params, and date variables.
 *
 * Date syntax (docs/flows.md):  ${date[:PART]...}  ${datetime[:PART]...}
 *   PART = OFFSET  [+-]N(y|m|w|d|h|min|s)     applied left to right
 *        | FORMAT  any text with a '%': strftime conversions (UTC)
 * `date` formats as %Y-%m-%d, `datetime` as %Y-%m-%dT%H:%M:%SZ unless a
 * FORMAT is given. Month and year offsets keep the day, clamped to the
 * month's last day (2026-03-31 -1m = 2026-02-28). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow/flow_int.h"

#define SUBST_MAX (1u << 20) /* one substituted string: 1 MiB */

static int days_in_month(int year, int mon /* 0-11 */) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mon == 1 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)) return 29;
  return d[mon];
}

static int apply_offset(time_t *t, const char *p, size_t n, char *err, size_t errlen) {
  int sign = p[0] == '-' ? -1 : 1;
  size_t i = 1;
  long long v = 0;
  while (i < n && p[i] >= '0' && p[i] <= '9' && v < 1000000) v = v * 10 + (p[i++] - '0');
  const char *unit = p + i;
  size_t ul = n - i;
  if (i == 1 || v >= 1000000 || ul == 0) goto bad;
  v *= sign;
  if (ul == 1 && (unit[0] == 'm' || unit[0] == 'y')) {
    struct tm tm;
    gmtime_r(t, &tm);
    long long months = (long long)tm.tm_year * 12 + tm.tm_mon + (unit[0] == 'y' ? v * 12 : v);
    tm.tm_year = (int)(months >= 0 ? months / 12 : -((-months + 11) / 12));
    tm.tm_mon = (int)(months - (long long)tm.tm_year * 12);
    int dim = days_in_month(tm.tm_year + 1900, tm.tm_mon);
    if (tm.tm_mday > dim) tm.tm_mday = dim;
    *t = timegm(&tm);
    return 0;
  }
  long long mult = 0;
  if (ul == 1 && unit[0] == 'w') mult = 7 * 86400;
  else if (ul == 1 && unit[0] == 'd') mult = 86400;
  else if (ul == 1 && unit[0] == 'h') mult = 3600;
  else if (ul == 3 && !memcmp(unit, "min", 3)) mult = 60;
  else if (ul == 1 && unit[0] == 's') mult = 1;
  else goto bad;
  *t += (time_t)(v * mult);
  return 0;
bad:
  snprintf(err, errlen, "bad date offset '%.*s' (use e.g. -1d, +2h, -1m: units y m w d h min s)",
           (int)(n > 64 ? 64 : n), p);
  return -1;
}

int pgd_flow_date_expand(int64_t logical_time_us, const char *body, char *buf, size_t buflen,
                         char *err, size_t errlen) {
  const char *fmt;
  size_t nl;
  if (!strncmp(body, "datetime", 8) && (body[8] == '\0' || body[8] == ':')) {
    fmt = "%Y-%m-%dT%H:%M:%SZ";
    nl = 8;
  } else if (!strncmp(body, "date", 4) && (body[4] == '\0' || body[4] == ':')) {
    fmt = "%Y-%m-%d";
    nl = 4;
  } else {
    return PGD_FLOW_ENOENT;
  }
  int64_t s = logical_time_us / 1000000;
  if (logical_time_us < 0 && logical_time_us % 1000000) s--;
  time_t t = (time_t)s;
  char fbuf[256];
  const char *p = body + nl;
  while (*p == ':') {
    p++;
    const char *end = strchr(p, ':');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (memchr(p, '%', n)) {
      /* a format takes the rest, colons included (e.g. %H:%M) */
      n = strlen(p);
      if (n >= sizeof fbuf) {
        snprintf(err, errlen, "date format too long");
        return PGD_FLOW_EINVAL;
      }
      memcpy(fbuf, p, n + 1);
      fmt = fbuf;
      p += n;
      break;
    }
    if (n == 0 || (p[0] != '+' && p[0] != '-')) {
      snprintf(err, errlen, "bad date part '%.*s' in ${%s} (an offset like -1d or a format with %%)",
               (int)(n > 64 ? 64 : n), p, body);
      return PGD_FLOW_EINVAL;
    }
    if (apply_offset(&t, p, n, err, errlen)) return PGD_FLOW_EINVAL;
    p += n;
  }
  struct tm tm;
  if (!gmtime_r(&t, &tm)) {
    snprintf(err, errlen, "date out of range");
    return PGD_FLOW_EINVAL;
  }
  if (buflen == 0) return PGD_FLOW_EINVAL;
  buf[0] = '\0';
  size_t w = strftime(buf, buflen, fmt, &tm);
  if (w == 0 && fmt[0]) {
    snprintf(err, errlen, "date format gives nothing or too much: '%s'", fmt);
    return PGD_FLOW_EINVAL;
  }
  return 0;
}

/* ---- variables ------------------------------------------------------------ */

typedef struct {
  char *p;
  size_t len, cap;
} sbuf_t;

static int sb_add(sbuf_t *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    if (cap > SUBST_MAX) return -1;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}

/* Appends the text of a JSON value. */
static int sb_add_json(sbuf_t *b, const cJSON *v) {
  char num[64];
  if (cJSON_IsString(v)) return sb_add(b, v->valuestring, strlen(v->valuestring));
  if (cJSON_IsTrue(v)) return sb_add(b, "true", 4);
  if (cJSON_IsFalse(v)) return sb_add(b, "false", 5);
  if (cJSON_IsNull(v)) return 0;
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (d == (double)(long long)d && d > -9e15 && d < 9e15) snprintf(num, sizeof num, "%lld", (long long)d);
    else snprintf(num, sizeof num, "%.17g", d);
    return sb_add(b, num, strlen(num));
  }
  char *s = cJSON_PrintUnformatted(v);
  if (!s) return -1;
  int rc = sb_add(b, s, strlen(s));
  free(s);
  return rc;
}

/* Resolves one variable `name` (NUL-terminated) into b. */
static int resolve(const pgd_flow_run_t *run, const char *name, sbuf_t *b, char *err, size_t errlen) {
  char num[64];
  if (!strcmp(name, "execution.id") || !strcmp(name, "flow.execution_id")) {
    snprintf(num, sizeof num, "%lld", (long long)run->id);
    return sb_add(b, num, strlen(num));
  }
  if (!strcmp(name, "flow.name")) return sb_add(b, run->def->name, strlen(run->def->name));
  if (!strncmp(name, "flow.params.", 12) || !strncmp(name, "flow.vars.", 10)) {
    int isp = name[5] == 'p';
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(isp ? run->params : run->vars, name + (isp ? 12 : 10));
    if (v) return sb_add_json(b, v);
  } else if (!strncmp(name, "node.", 5)) {
    const char *id = name + 5, *dot = strchr(id, '.');
    char nid[PGD_FLOW_ID_MAX + 1];
    if (dot && (size_t)(dot - id) <= PGD_FLOW_ID_MAX) {
      memcpy(nid, id, (size_t)(dot - id));
      nid[dot - id] = '\0';
      int i = flow_def_index(run->def, nid);
      if (i >= 0) {
        const flow_node_run_t *nr = &run->nodes[i];
        if (!strncmp(dot, ".outputs.", 9)) {
          const cJSON *v = cJSON_GetObjectItemCaseSensitive(nr->outputs, dot + 9);
          if (v) return sb_add_json(b, v);
        } else if (!strcmp(dot, ".execution_id") && nr->execution_id) {
          snprintf(num, sizeof num, "%lld", (long long)nr->execution_id);
          return sb_add(b, num, strlen(num));
        } else if (!strcmp(dot, ".state")) {
          return sb_add(b, flow_node_state_names[nr->state], strlen(flow_node_state_names[nr->state]));
        }
      }
    }
  } else {
    char out[512];
    int rc = pgd_flow_date_expand(run->logical_time, name, out, sizeof out, err, errlen);
    if (rc == 0) return sb_add(b, out, strlen(out));
    if (rc != PGD_FLOW_ENOENT) return -2;
  }
  snprintf(err, errlen, "unknown variable ${%.200s}", name);
  return -2;
}

int flow_subst_string(const pgd_flow_run_t *run, const char *in, char **out, char *err, size_t errlen) {
  sbuf_t b = {0};
  const char *p = in;
  int rc = 0;
  while (*p && rc == 0) {
    const char *d = strchr(p, '$');
    if (!d) {
      rc = sb_add(&b, p, strlen(p));
      break;
    }
    rc = sb_add(&b, p, (size_t)(d - p));
    if (rc) break;
    if (d[1] == '$' && d[2] == '{') { /* $${ -> literal ${ */
      rc = sb_add(&b, "${", 2);
      p = d + 3;
    } else if (d[1] == '{') {
      const char *end = strchr(d + 2, '}');
      if (!end) {
        snprintf(err, errlen, "unterminated ${ in '%.100s'", in);
        rc = -2;
        break;
      }
      size_t n = (size_t)(end - d - 2);
      char name[600];
      if (n == 0 || n >= sizeof name) {
        snprintf(err, errlen, "bad variable ${%.*s}", (int)(n > 100 ? 100 : n), d + 2);
        rc = -2;
        break;
      }
      memcpy(name, d + 2, n);
      name[n] = '\0';
      rc = resolve(run, name, &b, err, errlen);
      p = end + 1;
    } else {
      rc = sb_add(&b, "$", 1);
      p = d + 1;
    }
  }
  if (rc == 0 && !b.p) rc = sb_add(&b, "", 0);
  if (rc) {
    if (rc == -1) snprintf(err, errlen, "substituted value too large or out of memory");
    free(b.p);
    return -1;
  }
  *out = b.p;
  return 0;
}

int flow_subst_json(const pgd_flow_run_t *run, cJSON *v, char *err, size_t errlen) {
  if (cJSON_IsString(v)) {
    if (!strchr(v->valuestring, '$')) return 0;
    char *s;
    if (flow_subst_string(run, v->valuestring, &s, err, errlen)) return -1;
    free(v->valuestring);
    v->valuestring = s;
    return 0;
  }
  cJSON *c;
  if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
    cJSON_ArrayForEach(c, v) {
      if (flow_subst_json(run, c, err, errlen)) {
        if (c->string && !strstr(err, " in params.")) {
          size_t l = strlen(err);
          snprintf(err + l, errlen - l, " in params.%s", c->string);
        }
        return -1;
      }
    }
  }
  return 0;
}
