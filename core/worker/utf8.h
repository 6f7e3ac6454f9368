/* Pagoda — worker: making process output safe to ship as JSON text.
 * Thread rules: pure functions, any thread. */
#ifndef PAGODA_WORKER_UTF8_H
#define PAGODA_WORKER_UTF8_H

#include <stddef.h>

/* Copies in[0..len) to `out` as valid UTF-8 without NUL bytes: each byte
 * that does not start a valid sequence (RFC 3629: no overlongs, surrogates or
 * code points above U+10FFFF), and each NUL, becomes U+FFFD (EF BF BD).
 * When `final` is 0, a valid but incomplete sequence at the very end (at most
 * 3 bytes) is left unconsumed so that the caller can prepend it to the next
 * chunk; when 1 it is replaced. *consumed receives the number of input bytes
 * used. `out` must hold 3 * len + 1 bytes; it is NUL-terminated. Returns the
 * output length (excluding the NUL). `in`/`out` are borrowed. */
size_t pgd_utf8_sanitize(const char *in, size_t len, int final, char *out, size_t *consumed);

#endif
