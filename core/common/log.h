/* Pagoda — process-wide logging.
 *
 * One line per message on stderr: "2026-11-22T10:00:00.123Z INFO  [module] text".
 * Thread rules: every function is safe to call from any thread (a line is
 * written with a single write(2), so lines never interleave).
 */
#ifndef PAGODA_COMMON_LOG_H
#define PAGODA_COMMON_LOG_H

#include <stdarg.h>

typedef enum {
  PGD_LOG_DEBUG = 0,
  PGD_LOG_INFO = 1,
  PGD_LOG_WARN = 2,
  PGD_LOG_ERROR = 3
} pgd_log_level_t;

/* Sets the lowest level that is printed (default INFO). */
void pgd_log_set_level(pgd_log_level_t level);

/* Parses "debug", "info", "warn" or "error"; returns -1 for anything else. */
int pgd_log_level_parse(const char *name);

/* Writes one log line. `module` and `fmt` are borrowed for the call. */
void pgd_log(pgd_log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pgd_logv(pgd_log_level_t level, const char *module, const char *fmt, va_list ap);

#define PGD_DEBUG(mod, ...) pgd_log(PGD_LOG_DEBUG, mod, __VA_ARGS__)
#define PGD_INFO(mod, ...) pgd_log(PGD_LOG_INFO, mod, __VA_ARGS__)
#define PGD_WARN(mod, ...) pgd_log(PGD_LOG_WARN, mod, __VA_ARGS__)
#define PGD_ERROR(mod, ...) pgd_log(PGD_LOG_ERROR, mod, __VA_ARGS__)

#endif
