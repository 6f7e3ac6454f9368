/* Pagoda — process-wide logging.
 *
 * One line per message on stderr, in one of two formats (--log-format,
 * log_format in the config; docs/observability.md "Logs"):
 *  - text (default): "2026-11-22T10:00:00.123Z INFO  [module] text k=v ..."
 *  - json: {"ts":"2026-11-22T10:00:00.123Z","level":"info","module":"...",
 *    "msg":"...", <fields>} — one object a line, for log shippers.
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

/* The line format. */
typedef enum { PGD_LOG_FORMAT_TEXT = 0, PGD_LOG_FORMAT_JSON = 1 } pgd_log_format_t;
/* Sets the format of every later line (default text). Any thread. */
void pgd_log_set_format(pgd_log_format_t format);
pgd_log_format_t pgd_log_get_format(void);
/* Parses "text" or "json"; returns -1 for anything else. */
int pgd_log_format_parse(const char *name);

/* A structured field of a line: a key and either a string (str != NULL) or
 * a number. Text lines show fields as " key=value" after the message
 * (values with spaces or quotes quoted); JSON lines as members. Keys are
 * plain identifiers chosen by the code (not escaped); values are escaped. */
typedef struct pgd_log_field {
  const char *key;
  const char *str; /* nullable: then `num` is the value */
  double num;
} pgd_log_field_t;

/* Writes one line with `n` fields (all borrowed for the call). */
void pgd_log_fields(pgd_log_level_t level, const char *module, const pgd_log_field_t *fields,
                    int n, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Would a line of this level be written? (Skip building fields when not.) */
int pgd_log_enabled(pgd_log_level_t level);

#define PGD_DEBUG(mod, ...) pgd_log(PGD_LOG_DEBUG, mod, __VA_ARGS__)
#define PGD_INFO(mod, ...) pgd_log(PGD_LOG_INFO, mod, __VA_ARGS__)
#define PGD_WARN(mod, ...) pgd_log(PGD_LOG_WARN, mod, __VA_ARGS__)
#define PGD_ERROR(mod, ...) pgd_log(PGD_LOG_ERROR, mod, __VA_ARGS__)

#endif
