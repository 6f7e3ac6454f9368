/* Pagoda — a one-shot read of a cluster's masters (see zk_lookup.h). */
#include "ha/zk_lookup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zookeeper/zookeeper.h>

#include "common/err.h"
#include "ha/zk_internal.h"

/* Election order (zk_seq_of: the sequence suffix); names without one last. */
int pgd_zk_candidate_cmp(const void *a, const void *b) {
  int64_t x = zk_seq_of(*(const char *const *)a), y = zk_seq_of(*(const char *const *)b);
  if (x < 0 || y < 0) return (x < 0) - (y < 0);
  return (x > y) - (x < y);
}

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx) {
  (void)zh, (void)type, (void)state, (void)path, (void)ctx;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pgd_zk_lookup_masters(const char *hosts, const char *cluster, int timeout_ms, cJSON **out,
                          char *err, size_t errlen) {
  *out = NULL;
  zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
  zhandle_t *zh = zookeeper_init(hosts, session_watcher, timeout_ms > 0 ? timeout_ms : 5000, NULL,
                                 NULL, 0);
  if (!zh) return pgd_set_err(err, errlen, -EIO, "cannot use ZooKeeper servers '%s'", hosts);
  /* The synchronous calls below wait for the session themselves, but an
   * unreachable ensemble would make them wait forever: poll its state. */
  long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 5000);
  while (zoo_state(zh) != ZOO_CONNECTED_STATE && now_ms() < deadline) {
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  int rc = 0;
  struct String_vector kids = {0, NULL};
  char path[512];
  snprintf(path, sizeof path, "/pagoda/%s/masters", cluster);
  if (zoo_state(zh) != ZOO_CONNECTED_STATE) {
    rc = pgd_set_err(err, errlen, -ETIMEDOUT, "no answer from ZooKeeper at %s within %d ms",
                     hosts, timeout_ms);
    goto done;
  }
  int zrc = zoo_get_children(zh, path, 0, &kids);
  if (zrc == ZNONODE) {
    rc = pgd_set_err(err, errlen, -ENOENT, "no Pagoda cluster '%s' in ZooKeeper at %s (%s)",
                     cluster, hosts, path);
    goto done;
  }
  if (zrc != ZOK) {
    rc = pgd_set_err(err, errlen, -EIO, "cannot list %s in ZooKeeper: %s", path, zerror(zrc));
    goto done;
  }
  qsort(kids.data, (size_t)kids.count, sizeof(char *), pgd_zk_candidate_cmp);
  cJSON *urls = cJSON_CreateArray();
  if (!urls) {
    rc = -ENOMEM;
    goto done;
  }
  for (int i = 0; i < kids.count; i++) {
    char node[768], data[4096];
    int len = (int)sizeof data - 1;
    snprintf(node, sizeof node, "%s/%s", path, kids.data[i]);
    if (zoo_get(zh, node, 0, data, &len, NULL) != ZOK || len < 0) continue; /* gone meanwhile */
    data[len] = 0;
    cJSON *info = cJSON_Parse(data);
    const char *http = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(info, "http"));
    if (http && *http) cJSON_AddItemToArray(urls, cJSON_CreateString(http));
    cJSON_Delete(info);
  }
  *out = urls;
done:
  deallocate_String_vector(&kids);
  zookeeper_close(zh);
  return rc;
}
