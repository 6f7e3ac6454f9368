/* Pagoda API — paging of the lists ordered by name (docs/api.md "Paging"):
 * ?limit=N&after=NAME, answered with "next_after". Loop thread. */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "common/json.h"

static const char *sort_key; /* the member qsort compares by (loop thread only) */

static const char *key_of(const cJSON *item) {
  const char *k = pgd_json_str(item, sort_key);
  return k ? k : "";
}

static int by_key(const void *a, const void *b) {
  return strcmp(key_of(*(cJSON *const *)a), key_of(*(cJSON *const *)b));
}

cJSON *api_page_by_key(pgd_http_req_t *req, cJSON *list, const char *key, cJSON *out) {
  const char *limit_s = pgd_http_req_query(req, "limit");
  const char *after = pgd_http_req_query(req, "after");
  int limit = 0;
  if (limit_s && !api_parse_limit(req, limit_s, &limit)) {
    cJSON_Delete(list);
    return NULL;
  }
  if (!limit_s) { /* no paging asked: the whole list, as before paging existed */
    cJSON_AddNullToObject(out, "next_after");
    return list;
  }
  /* The page follows the key's byte order, whatever order `list` has. */
  int total = cJSON_GetArraySize(list);
  cJSON **items = total > 0 ? calloc((size_t)total, sizeof *items) : NULL;
  if (total > 0 && !items) {
    cJSON_Delete(list);
    pgd_http_respond_error(req, 500, "out of memory");
    return NULL;
  }
  int count = 0;
  for (cJSON *it = list ? list->child : NULL; it; it = it->next) items[count++] = it;
  sort_key = key;
  if (count > 1) qsort(items, (size_t)count, sizeof *items, by_key);
  cJSON *page = cJSON_CreateArray();
  const char *last = NULL;
  int n = 0;
  bool more = false;
  for (int i = 0; i < count; i++) {
    const char *k = pgd_json_str(items[i], key);
    if (!k || (after && strcmp(k, after) <= 0)) continue;
    if (n == limit) {
      more = true;
      break;
    }
    cJSON_AddItemToArray(page, cJSON_DetachItemViaPointer(list, items[i]));
    last = k;
    n++;
  }
  free(items);
  if (more && last) cJSON_AddStringToObject(out, "next_after", last);
  else cJSON_AddNullToObject(out, "next_after");
  cJSON_Delete(list);
  return page;
}

void api_respond_paged(pgd_http_req_t *req, const char *key, cJSON *list, const char *sort_by) {
  cJSON *out = cJSON_CreateObject();
  cJSON *page = api_page_by_key(req, list ? list : cJSON_CreateArray(), sort_by, out);
  if (!page) {
    cJSON_Delete(out);
    return;
  }
  cJSON_AddItemToObject(out, key, page);
  api_respond_take(req, 200, out);
}
