/* Pagoda CLI — a reader of Server-Sent Events (GET /api/v1/events,
 * docs/api.md "Events"): bytes in as they arrive, whole events out.
 *
 * Thread rules: one reader per stream, used by one thread.
 * Added in 0.6 (issue 14).
 */
#ifndef PAGODA_CLI_CLIENT_EVENTS_H
#define PAGODA_CLI_CLIENT_EVENTS_H

#include <stddef.h>

/* Called once per complete event block: `kind` is its `event:` value and
 * `data` its `data:` line(s) joined by '\n' (both borrowed for the call);
 * both NULL for a block of comments only (keep-alive, the stream's first
 * bytes). Return 0 to go on, non-zero to stop (returned by feed). */
typedef int (*pgd_cli_sse_cb)(void *ud, const char *kind, const char *data);

typedef struct pgd_cli_sse {
  char *buf; /* the unfinished block (owned) */
  size_t len, cap;
  pgd_cli_sse_cb cb;
  void *ud;
} pgd_cli_sse_t;

/* Starts a reader (nothing allocated yet). */
void pgd_cli_sse_init(pgd_cli_sse_t *r, pgd_cli_sse_cb cb, void *ud);
/* Feeds bytes; calls cb for each block completed by them. Returns 0, the
 * callback's non-zero answer (the rest of the bytes are dropped), or
 * -ENOMEM. A block larger than 64 MiB is -EMSGSIZE. */
int pgd_cli_sse_feed(pgd_cli_sse_t *r, const char *data, size_t len);
/* Frees the buffer. */
void pgd_cli_sse_free(pgd_cli_sse_t *r);

#endif
