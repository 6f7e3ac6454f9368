/* Pagoda — a growable byte string.
 *
 * `pgd_strbuf_t` is a plain struct: zero-initialise it (PGD_STRBUF_INIT),
 * append, read `data`/`len`, then pgd_strbuf_free() or take `data` with
 * pgd_strbuf_take(). `data` is always NUL-terminated once anything was
 * appended. An allocation failure sets `oom` and makes later appends no-ops,
 * so callers check once at the end.
 *
 * Thread rules: a buffer belongs to one thread at a time.
 */
#ifndef PAGODA_COMMON_STRBUF_H
#define PAGODA_COMMON_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct pgd_strbuf {
  char *data; /* owned; NULL until the first append */
  size_t len; /* bytes in data, not counting the NUL */
  size_t cap;
  bool oom;   /* an allocation failed; contents are truncated */
} pgd_strbuf_t;

#define PGD_STRBUF_INIT {NULL, 0, 0, false}

/* Appends `len` bytes (which may include NULs). Returns 0 or -ENOMEM. */
int pgd_strbuf_append(pgd_strbuf_t *b, const char *s, size_t len);
int pgd_strbuf_puts(pgd_strbuf_t *b, const char *s);
int pgd_strbuf_printf(pgd_strbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int pgd_strbuf_vprintf(pgd_strbuf_t *b, const char *fmt, va_list ap);
/* Empties the buffer and keeps its memory. */
void pgd_strbuf_reset(pgd_strbuf_t *b);
/* Returns the data (caller frees; "" allocated when empty, NULL on OOM) and
 * leaves the buffer empty. */
char *pgd_strbuf_take(pgd_strbuf_t *b);
void pgd_strbuf_free(pgd_strbuf_t *b);

#endif
