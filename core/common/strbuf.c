#include "common/strbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(pgd_strbuf_t *b, size_t extra) {
  if (b->oom) return -ENOMEM;
  if (b->len + extra + 1 <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < b->len + extra + 1) {
    if (cap > ((size_t)-1) / 2) { b->oom = true; return -ENOMEM; }
    cap *= 2;
  }
  char *p = realloc(b->data, cap);
  if (!p) { b->oom = true; return -ENOMEM; }
  b->data = p;
  b->cap = cap;
  return 0;
}

int pgd_strbuf_append(pgd_strbuf_t *b, const char *s, size_t len) {
  /* The room check first: most appends fit, and grow() is not inlined. */
  if ((b->len + len + 1 > b->cap || b->oom) && grow(b, len) < 0) return -ENOMEM;
  if (len) memcpy(b->data + b->len, s, len);
  b->len += len;
  b->data[b->len] = '\0';
  return 0;
}

int pgd_strbuf_puts(pgd_strbuf_t *b, const char *s) { return pgd_strbuf_append(b, s, strlen(s)); }

int pgd_strbuf_vprintf(pgd_strbuf_t *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return -EINVAL;
  if (grow(b, (size_t)n) < 0) return -ENOMEM;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int pgd_strbuf_printf(pgd_strbuf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = pgd_strbuf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

void pgd_strbuf_reset(pgd_strbuf_t *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

char *pgd_strbuf_take(pgd_strbuf_t *b) {
  char *p = b->oom ? NULL : (b->data ? b->data : strdup(""));
  if (b->oom) free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->oom = false;
  return p;
}

void pgd_strbuf_free(pgd_strbuf_t *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->oom = false;
}
