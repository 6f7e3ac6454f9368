/* Pagoda — node outputs: the streaming `::output KEY=VALUE` line parser and
 * the outputs of a lua job's result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow_int.h"

struct pgd_flow_outparse {
  cJSON *outputs;
  size_t len;   /* bytes in buf */
  int overflow; /* the current line is too long: drop until newline */
  char buf[PGD_FLOW_OUTPUT_LINE_MAX];
};

static int key_ok(const char *k, size_t n) {
  if (n == 0 || n > PGD_FLOW_OUTPUT_KEY_MAX) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = k[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '-' || c == '.'))
      return 0;
  }
  return 1;
}

static size_t outputs_bytes(const cJSON *o) {
  size_t b = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, o) b += strlen(it->string) + (it->valuestring ? strlen(it->valuestring) : 0);
  return b;
}

int flow_output_add(cJSON *outputs, const char *key, size_t klen, const char *val, size_t vlen) {
  if (!key_ok(key, klen) || !outputs) return -1;
  char k[PGD_FLOW_OUTPUT_KEY_MAX + 1];
  memcpy(k, key, klen);
  k[klen] = '\0';
  char *v = malloc(vlen + 1);
  if (!v) return -1;
  memcpy(v, val, vlen);
  v[vlen] = '\0';
  cJSON *old = cJSON_GetObjectItemCaseSensitive(outputs, k);
  size_t used = outputs_bytes(outputs) - (old ? klen + strlen(old->valuestring ? old->valuestring : "") : 0);
  int count = cJSON_GetArraySize(outputs) - (old ? 1 : 0);
  int rc = -1;
  if (used + klen + vlen <= PGD_FLOW_OUTPUTS_BYTES && count < PGD_FLOW_OUTPUTS_MAX) {
    cJSON *s = cJSON_CreateString(v);
    if (s) {
      if (old) cJSON_ReplaceItemInObjectCaseSensitive(outputs, k, s);
      else cJSON_AddItemToObject(outputs, k, s);
      rc = 0;
    }
  }
  free(v);
  return rc;
}

pgd_flow_outparse_t *pgd_flow_outparse_new(void) {
  pgd_flow_outparse_t *p = malloc(sizeof *p);
  if (!p) return NULL;
  p->outputs = cJSON_CreateObject();
  p->len = 0;
  p->overflow = 0;
  if (!p->outputs) {
    free(p);
    return NULL;
  }
  return p;
}

void pgd_flow_outparse_free(pgd_flow_outparse_t *p) {
  if (!p) return;
  cJSON_Delete(p->outputs);
  free(p);
}

static void parse_line(pgd_flow_outparse_t *p, const char *l, size_t n) {
  static const char tag[] = "::output ";
  if (n && l[n - 1] == '\r') n--;
  if (n < sizeof tag - 1 || memcmp(l, tag, sizeof tag - 1) != 0) return;
  l += sizeof tag - 1;
  n -= sizeof tag - 1;
  const char *eq = memchr(l, '=', n);
  if (!eq) return;
  flow_output_add(p->outputs, l, (size_t)(eq - l), eq + 1, n - (size_t)(eq - l) - 1);
}

void pgd_flow_outparse_feed(pgd_flow_outparse_t *p, const char *data, size_t len) {
  if (!p || !data) return;
  while (len) {
    const char *nl = memchr(data, '\n', len);
    size_t take = nl ? (size_t)(nl - data) : len;
    if (!p->overflow) {
      if (p->len + take > sizeof p->buf) {
        p->overflow = 1;
        p->len = 0;
      } else if (nl && p->len == 0) {
        parse_line(p, data, take); /* whole line in the chunk: no copy */
      } else {
        memcpy(p->buf + p->len, data, take);
        p->len += take;
        if (nl) {
          parse_line(p, p->buf, p->len);
          p->len = 0;
        }
      }
    }
    if (!nl) break;
    p->overflow = 0;
    data = nl + 1;
    len -= take + 1;
  }
}

void pgd_flow_outparse_finish(pgd_flow_outparse_t *p) {
  if (!p) return;
  if (!p->overflow && p->len) parse_line(p, p->buf, p->len);
  p->len = 0;
  p->overflow = 0;
}

const cJSON *pgd_flow_outparse_outputs(const pgd_flow_outparse_t *p) { return p ? p->outputs : NULL; }

cJSON *pgd_flow_outputs_from_result(const cJSON *result) {
  cJSON *out = cJSON_CreateObject();
  if (!out || !cJSON_IsObject(result)) return out;
  const cJSON *src = cJSON_GetObjectItemCaseSensitive(result, "outputs");
  if (!cJSON_IsObject(src)) src = result;
  const cJSON *it;
  cJSON_ArrayForEach(it, src) {
    if (!it->string) continue;
    char num[64];
    char *printed = NULL;
    const char *v;
    if (cJSON_IsString(it)) v = it->valuestring;
    else if (cJSON_IsBool(it)) v = cJSON_IsTrue(it) ? "true" : "false";
    else if (cJSON_IsNull(it)) v = "";
    else if (cJSON_IsNumber(it)) {
      double d = it->valuedouble;
      if (d == (double)(long long)d && d > -9e15 && d < 9e15) snprintf(num, sizeof num, "%lld", (long long)d);
      else snprintf(num, sizeof num, "%.17g", d);
      v = num;
    } else {
      v = printed = cJSON_PrintUnformatted(it);
      if (!v) continue;
    }
    flow_output_add(out, it->string, strlen(it->string), v, strlen(v));
    free(printed);
  }
  return out;
}
