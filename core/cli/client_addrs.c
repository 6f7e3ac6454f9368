/* Pagoda — the masters the CLI may talk to (see client_addrs.h). */
#include "cli/client_addrs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "ha/zk_lookup.h"

static int push(pgd_cli_addrs_t *a, const char *url, size_t len) {
  char **v = realloc(a->urls, (a->n + 1) * sizeof *v);
  if (!v) return -ENOMEM;
  a->urls = v;
  if (!(v[a->n] = strndup(url, len))) return -ENOMEM;
  a->n++;
  return 0;
}

/* "zk://h1:2181,h2:2181/cluster" → the masters' URLs from ZooKeeper. */
static int parse_zk(const char *spec, pgd_cli_addrs_t *out, char *err, size_t errlen) {
  const char *hosts = spec + 5;
  const char *slash = strchr(hosts, '/');
  if (!slash || slash == hosts || !slash[1] || strchr(slash + 1, '/'))
    return pgd_set_err(err, errlen, -EINVAL,
                       "a ZooKeeper address is zk://HOST:PORT[,HOST:PORT...]/CLUSTER, not '%s'",
                       spec);
  char *host_list = strndup(hosts, (size_t)(slash - hosts));
  if (!host_list) return -ENOMEM;
  cJSON *urls = NULL;
  int rc = pgd_zk_lookup_masters(host_list, slash + 1, PGD_CLI_ZK_TIMEOUT_MS, &urls, err, errlen);
  free(host_list);
  const cJSON *u;
  cJSON_ArrayForEach(u, urls) {
    if (rc == 0 && cJSON_IsString(u)) rc = push(out, u->valuestring, strlen(u->valuestring));
  }
  cJSON_Delete(urls);
  if (rc == 0 && out->n == 0)
    rc = pgd_set_err(err, errlen, -ENOENT, "no master of cluster '%s' is registered in ZooKeeper",
                     slash + 1);
  return rc;
}

int pgd_cli_addrs_parse(const char *spec, pgd_cli_addrs_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (err && errlen) err[0] = 0;
  int rc = 0;
  if (spec && strncmp(spec, "zk://", 5) == 0) {
    rc = parse_zk(spec, out, err, errlen);
  } else {
    for (const char *p = spec ? spec : ""; rc == 0 && *p;) {
      size_t len = strcspn(p, ",");
      while (len > 0 && (*p == ' ')) p++, len--;
      if (len > 0) rc = push(out, p, len);
      p += len;
      if (*p == ',') p++;
    }
    if (rc == 0 && out->n == 0)
      rc = pgd_set_err(err, errlen, -EINVAL, "no API address given (--addr or PAGODA_ADDR)");
  }
  if (rc == -ENOMEM) pgd_set_err(err, errlen, rc, "out of memory");
  if (rc < 0) pgd_cli_addrs_free(out);
  return rc;
}

const char *pgd_cli_addrs_current(const pgd_cli_addrs_t *a) {
  return a->n ? a->urls[a->cur] : "";
}

int pgd_cli_addrs_advance(pgd_cli_addrs_t *a, size_t start) {
  if (a->n == 0) return 0;
  a->cur = (a->cur + 1) % a->n;
  return a->cur != start;
}

void pgd_cli_addrs_free(pgd_cli_addrs_t *a) {
  if (!a) return;
  for (size_t i = 0; i < a->n; i++) free(a->urls[i]);
  free(a->urls);
  memset(a, 0, sizeof *a);
}
