/* Pagoda — UTF-8 validation and repair (utf8.h). */
#include "common/utf8.h"

#include <stdlib.h>
#include <string.h>

size_t pgd_utf8_seq_len(const unsigned char *s, size_t n) {
  if (n == 0) return 0;
  unsigned char c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c == 0xE0) len = 3, lo = 0xA0;             /* no overlong */
  else if (c == 0xED) len = 3, hi = 0x9F;             /* no surrogates */
  else if (c >= 0xE1 && c <= 0xEF) len = 3;
  else if (c == 0xF0) len = 4, lo = 0x90;             /* no overlong */
  else if (c >= 0xF1 && c <= 0xF3) len = 4;
  else if (c == 0xF4) len = 4, hi = 0x8F;             /* not above U+10FFFF */
  else return 0;
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return len;
}

bool pgd_utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    if (p[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = pgd_utf8_seq_len(p + i, n - i);
    if (!k) return false;
    i += k;
  }
  return true;
}

char *pgd_utf8_clean_copy(const char *s, size_t n, size_t *out_len) {
  char *out = malloc(n * 3 + 1);
  if (!out) return NULL;
  /* The streaming sanitizer, final: NUL bytes are replaced too. */
  size_t o = pgd_utf8_sanitize(s, n, 1, out, NULL);
  if (out_len) *out_len = o;
  return out;
}

/* Replaces *sp (a cJSON-owned string) when invalid; 1 when replaced. */
static int fix_string(char **sp) {
  if (!*sp) return 0;
  size_t n = strlen(*sp);
  if (pgd_utf8_valid(*sp, n)) return 0;
  char *fixed = pgd_utf8_clean_copy(*sp, n, NULL);
  if (!fixed) return 0;
  /* cJSON frees these with its allocator, which is malloc unless hooked
   * (Pagoda does not hook it). */
  char *copy = cJSON_malloc(strlen(fixed) + 1);
  if (!copy) {
    free(fixed);
    return 0;
  }
  strcpy(copy, fixed);
  free(fixed);
  cJSON_free(*sp);
  *sp = copy;
  return 1;
}

int pgd_utf8_fix_json(cJSON *v) {
  if (!v) return 0;
  int changed = 0;
  if (v->string && !(v->type & cJSON_StringIsConst)) changed += fix_string(&v->string);
  if (cJSON_IsString(v) || cJSON_IsRaw(v)) changed += fix_string(&v->valuestring);
  for (cJSON *c = v->child; c; c = c->next) changed += pgd_utf8_fix_json(c);
  return changed;
}
