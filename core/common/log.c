#include "common/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_level = PGD_LOG_INFO;
static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};

void pgd_log_set_level(pgd_log_level_t level) { atomic_store(&g_level, (int)level); }

int pgd_log_level_parse(const char *name) {
  static const char *const names[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (name && strcasecmp(name, names[i]) == 0) return i;
  return -1;
}

void pgd_logv(pgd_log_level_t level, const char *module, const char *fmt, va_list ap) {
  if ((int)level < atomic_load(&g_level)) return;
  char line[2048];
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %s [%s] ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                   tm.tm_sec, (int)(tv.tv_usec / 1000), level_names[level & 3],
                   module ? module : "-");
  if (n < 0) return;
  if ((size_t)n < sizeof line) {
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (m > 0) n += m;
  }
  if ((size_t)n >= sizeof line - 1) n = (int)sizeof line - 2;
  line[n++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, (size_t)n);
  (void)w;
}

void pgd_log(pgd_log_level_t level, const char *module, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pgd_logv(level, module, fmt, ap);
  va_end(ap);
}
