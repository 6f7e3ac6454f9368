/* Pagoda — error messages into caller buffers.
 *
 * The convention across the core: a function that can fail takes
 * `char *err, size_t errlen` and, on failure, writes one human-readable
 * sentence there (no trailing newline) and returns a negative code or NULL.
 *
 * Thread rules: pure functions, safe from any thread.
 */
#ifndef PAGODA_COMMON_ERR_H
#define PAGODA_COMMON_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Formats the message into err (borrowed, may be NULL when errlen is 0);
 * always NUL-terminates when errlen > 0. Returns `rc`, so a failure path
 * reads `return pgd_set_err(err, errlen, -EINVAL, "bad %s", what);`. */
int pgd_set_err(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int pgd_set_errv(char *err, size_t errlen, int rc, const char *fmt, va_list ap);

#endif
