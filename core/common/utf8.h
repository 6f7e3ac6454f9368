/* Pagoda — UTF-8 validity for text that crosses a trust boundary.
 *
 * Everything Pagoda serves as JSON and everything it stores as text is
 * valid UTF-8. Text from outside (request paths echoed in errors, job
 * results and errors reported by workers, plugin output) may not be: each
 * byte that does not belong to a well-formed UTF-8 sequence (RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF) is replaced by
 * U+FFFD REPLACEMENT CHARACTER (EF BF BD), one per byte. docs/api.md
 * ("Errors") documents the choice.
 *
 * Thread rules: no shared state.
 */
#ifndef PAGODA_COMMON_UTF8_H
#define PAGODA_COMMON_UTF8_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Length of the well-formed sequence at s[0..n), or 0 when s[0] starts none. */
size_t pgd_utf8_seq_len(const unsigned char *s, size_t n);

/* Is s[0..n) entirely well-formed UTF-8? */
bool pgd_utf8_valid(const char *s, size_t n);

/* A copy of s[0..n) with each invalid byte replaced by U+FFFD,
 * NUL-terminated, owned by the caller (free), *out_len set when non-NULL;
 * NULL when out of memory. */
char *pgd_utf8_clean_copy(const char *s, size_t n, size_t *out_len);

/* Streaming form (utf8_stream.c), for process output: copies in[0..len) to
 * `out` as valid UTF-8 without NUL bytes: each byte that does not start a
 * valid sequence, and each NUL, becomes U+FFFD (EF BF BD).
 * When `final` is 0, a valid but incomplete sequence at the very end (at most
 * 3 bytes) is left unconsumed so that the caller can prepend it to the next
 * chunk; when 1 it is replaced. *consumed receives the number of input bytes
 * used. `out` must hold 3 * len + 1 bytes; it is NUL-terminated. Returns the
 * output length (excluding the NUL). `in`/`out` are borrowed. */
size_t pgd_utf8_sanitize(const char *in, size_t len, int final, char *out, size_t *consumed);

/* Replaces, in place, every string value and member name under `v` that is
 * not valid UTF-8 by its sanitized copy. Returns the number of strings
 * changed. NULL ok. */
int pgd_utf8_fix_json(cJSON *v);

#endif
