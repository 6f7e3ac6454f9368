/* Pagoda — the CLI's token sources (client_token.h). */
#include "cli/client_token.h"
#include "common/err.h"
#include "sched/timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKEN 4096

char *pgd_cli_token_read_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char buf[MAX_TOKEN];
  char *line = fgets(buf, sizeof buf, f);
  fclose(f);
  if (!line) {
    errno = ENODATA;
    return NULL;
  }
  char *start = buf;
  while (*start == ' ' || *start == '\t') start++;
  size_t n = strcspn(start, "\r\n");
  while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t')) n--;
  if (n == 0) {
    errno = ENODATA;
    return NULL;
  }
  return strndup(start, n);
}

/* http://127.0.0.1:7080, http://localhost, http://[::1]:80/... */
static int is_loopback_addr(const char *addr) {
  const char *h = strstr(addr, "://");
  h = h ? h + 3 : addr;
  static const char *const loop[] = {"127.0.0.1", "localhost", "[::1]"};
  for (size_t i = 0; i < sizeof loop / sizeof loop[0]; i++) {
    size_t n = strlen(loop[i]);
    if (strncmp(h, loop[i], n) == 0 && (h[n] == 0 || h[n] == ':' || h[n] == '/')) return 1;
  }
  return 0;
}

char *pgd_cli_token_resolve(const char *flag_token, const char *addr, const char **source,
                            char *err, size_t errlen) {
  const char *dummy;
  if (!source) source = &dummy;
  if (err && errlen) err[0] = 0;
  if (flag_token && *flag_token) {
    *source = "--token";
    return strdup(flag_token);
  }
  const char *env = getenv("PAGODA_TOKEN");
  if (env && *env) {
    *source = "PAGODA_TOKEN";
    return strdup(env);
  }
  const char *file = getenv("PAGODA_TOKEN_FILE");
  if (file && *file) {
    *source = "PAGODA_TOKEN_FILE";
    char *t = pgd_cli_token_read_file(file);
    if (!t) pgd_set_err(err, errlen, -errno, "cannot read PAGODA_TOKEN_FILE %s: %s", file,
                        strerror(errno));
    return t;
  }
  char path[4096];
  const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
  path[0] = 0;
  if (xdg && *xdg) snprintf(path, sizeof path, "%s/pagoda/token", xdg);
  else if (home && *home) snprintf(path, sizeof path, "%s/.config/pagoda/token", home);
  if (path[0]) {
    char *t = pgd_cli_token_read_file(path);
    if (t) {
      *source = "~/.config/pagoda/token";
      return t;
    }
  }
  if (addr && is_loopback_addr(addr)) {
    char *t = pgd_cli_token_read_file(PGD_CLI_DEV_TOKEN_FILE);
    if (t) {
      *source = PGD_CLI_DEV_TOKEN_FILE;
      return t;
    }
  }
  *source = NULL;
  return NULL;
}

/* "90s" "15m" "12h" "30d" "2w" → seconds, or -1. */
static long long duration_s(const char *v) {
  char *end;
  long long n = strtoll(v, &end, 10);
  if (end == v || n < 0) return -1;
  long long mult = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600
                 : *end == 'd' ? 86400 : *end == 'w' ? 7 * 86400 : 0;
  if (!mult || end[1]) return -1;
  return n * mult;
}

int pgd_cli_time_arg(const char *v, long long now_us, long long *us) {
  if (!v || !*v) return -EINVAL;
  char *end;
  long long n = strtoll(v, &end, 10);
  if (!*end && n > 0) {
    *us = n;
    return 0;
  }
  long long d = duration_s(v);
  if (d >= 0) {
    *us = now_us - d * 1000000;
    return 0;
  }
  int64_t t;
  char err[160];
  if (pgd_sched_parse_time(v, NULL, "time", &t, err, sizeof err) == 0 && t > 0) {
    *us = t;
    return 0;
  }
  return -EINVAL;
}

char *pgd_cli_audit_path(const pgd_cli_args_t *a, long long now_us, int *since_bad) {
  char q[2048] = "";
  size_t o = 0;
  *since_bad = 0;
  if (a->since) {
    long long since_us;
    if (pgd_cli_time_arg(a->since, now_us, &since_us) == 0)
      o += (size_t)snprintf(q + o, sizeof q - o, "&since=%lld", since_us);
    else *since_bad = 1;
  }
  const char *keys[] = {"token", "route", "before"};
  const char *vals[] = {a->by, a->route, a->before};
  for (int i = 0; i < 3; i++) {
    if (!vals[i]) continue;
    char *esc = pgd_cli_url_escape(vals[i]);
    if (!esc) return NULL;
    o += (size_t)snprintf(q + o, o < sizeof q ? sizeof q - o : 0, "&%s=%s", keys[i], esc);
    free(esc);
  }
  if (a->limit > 0 && o < sizeof q) o += (size_t)snprintf(q + o, sizeof q - o, "&limit=%ld", a->limit);
  if (o >= sizeof q) return NULL;
  char *p = NULL;
  if (asprintf(&p, "/api/v1/audit%s%s", q[0] ? "?" : "", q[0] ? q + 1 : "") < 0) return NULL;
  return p;
}
