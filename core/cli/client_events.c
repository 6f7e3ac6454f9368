/* Pagoda CLI — Server-Sent Events reader (client_events.h). Lines end with
 * "\n" (the master never sends "\r"); a blank line ends a block. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/client_events.h"

#define SSE_MAX_BLOCK (64u * 1024u * 1024u)

void pgd_cli_sse_init(pgd_cli_sse_t *r, pgd_cli_sse_cb cb, void *ud) {
  memset(r, 0, sizeof *r);
  r->cb = cb;
  r->ud = ud;
}

void pgd_cli_sse_free(pgd_cli_sse_t *r) {
  free(r->buf);
  r->buf = NULL;
  r->len = r->cap = 0;
}

/* One block (NUL-terminated, without its blank line): its fields, then cb. */
static int dispatch(pgd_cli_sse_t *r, char *block) {
  const char *kind = NULL;
  char *data = NULL;
  size_t dlen = 0;
  int rc = 0;
  for (char *line = block, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    if (line[0] == ':') continue; /* a comment */
    char *colon = strchr(line, ':');
    char *value = colon ? colon + 1 : line + strlen(line);
    if (colon) *colon = 0;
    if (*value == ' ') value++;
    if (strcmp(line, "event") == 0) {
      kind = value;
    } else if (strcmp(line, "data") == 0) {
      size_t n = strlen(value);
      char *d = realloc(data, dlen + n + 2);
      if (!d) {
        free(data);
        return -ENOMEM;
      }
      data = d;
      if (dlen) data[dlen++] = '\n';
      memcpy(data + dlen, value, n + 1);
      dlen += n;
    }
  }
  if (kind || data) rc = r->cb(r->ud, kind ? kind : "message", data ? data : "");
  else rc = r->cb(r->ud, NULL, NULL);
  free(data);
  return rc;
}

int pgd_cli_sse_feed(pgd_cli_sse_t *r, const char *data, size_t len) {
  if (r->len + len + 1 > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < r->len + len + 1) cap *= 2;
    if (cap > SSE_MAX_BLOCK) return -EMSGSIZE;
    char *b = realloc(r->buf, cap);
    if (!b) return -ENOMEM;
    r->buf = b;
    r->cap = cap;
  }
  memcpy(r->buf + r->len, data, len);
  r->len += len;
  r->buf[r->len] = 0;
  size_t start = 0;
  for (;;) {
    char *end = strstr(r->buf + start, "\n\n");
    if (!end) break;
    *end = 0;
    size_t next = (size_t)(end - r->buf) + 2;
    int rc = dispatch(r, r->buf + start);
    start = next;
    if (rc != 0) {
      r->len = 0;
      return rc;
    }
  }
  memmove(r->buf, r->buf + start, r->len - start + 1);
  r->len -= start;
  return 0;
}
