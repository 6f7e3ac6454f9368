#include "common/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_level = PGD_LOG_INFO;
static atomic_int g_format = PGD_LOG_FORMAT_TEXT;
static const char *const level_names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
static const char *const level_json[] = {"debug", "info", "warn", "error"};

#define LINE_MAX_BYTES 16384 /* a line; a message is cut at MSG_MAX_BYTES */
#define MSG_MAX_BYTES 2048

void pgd_log_set_level(pgd_log_level_t level) { atomic_store(&g_level, (int)level); }

int pgd_log_level_parse(const char *name) {
  static const char *const names[] = {"debug", "info", "warn", "error"};
  for (int i = 0; i < 4; i++)
    if (name && strcasecmp(name, names[i]) == 0) return i;
  return -1;
}

void pgd_log_set_format(pgd_log_format_t format) { atomic_store(&g_format, (int)format); }
pgd_log_format_t pgd_log_get_format(void) { return (pgd_log_format_t)atomic_load(&g_format); }

int pgd_log_format_parse(const char *name) {
  if (name && strcasecmp(name, "text") == 0) return PGD_LOG_FORMAT_TEXT;
  if (name && strcasecmp(name, "json") == 0) return PGD_LOG_FORMAT_JSON;
  return -1;
}

int pgd_log_enabled(pgd_log_level_t level) { return (int)level >= atomic_load(&g_level); }

/* A line being built in a fixed buffer (one write(2) at the end); what does
 * not fit is cut, keeping room for the closing characters. */
typedef struct line {
  char buf[LINE_MAX_BYTES];
  size_t n;
} line_t;

#define LINE_RESERVE 8 /* for "\"}\n" and the like */

static void put(line_t *l, const char *s, size_t len) {
  size_t room = sizeof l->buf - LINE_RESERVE - l->n;
  if (len > room) len = room;
  memcpy(l->buf + l->n, s, len);
  l->n += len;
}
static void puts_(line_t *l, const char *s) { put(l, s, strlen(s)); }

/* JSON string contents: quotes, backslashes and control characters escaped
 * (bytes >= 0x80 pass: the messages are UTF-8 or repaired by their writers). */
static void put_json(line_t *l, const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char esc[16];
    if (*p == '"' || *p == '\\') {
      esc[0] = '\\', esc[1] = (char)*p, esc[2] = 0;
    } else if (*p == '\n') {
      strcpy(esc, "\\n");
    } else if (*p == '\t') {
      strcpy(esc, "\\t");
    } else if (*p == '\r') {
      strcpy(esc, "\\r");
    } else if (*p < 0x20 || *p == 0x7f) {
      snprintf(esc, sizeof esc, "\\u%04x", *p);
    } else {
      put(l, (const char *)p, 1);
      continue;
    }
    /* never cut an escape in half */
    if (sizeof l->buf - LINE_RESERVE - l->n < strlen(esc)) return;
    puts_(l, esc);
  }
}

static void put_num(line_t *l, double v) {
  char tmp[40];
  if (v == (double)(long long)v && v > -9e15 && v < 9e15) snprintf(tmp, sizeof tmp, "%lld", (long long)v);
  else snprintf(tmp, sizeof tmp, "%.6g", v);
  puts_(l, tmp);
}

static void timestamp(char *ts, size_t cap) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  snprintf(ts, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
           tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(tv.tv_usec / 1000));
}

static void emit(pgd_log_level_t level, const char *module, const pgd_log_field_t *fields, int nf,
                 const char *fmt, va_list ap) {
  if ((int)level < atomic_load(&g_level)) return;
  char msg[MSG_MAX_BYTES];
  int m = vsnprintf(msg, sizeof msg, fmt, ap);
  if (m < 0) msg[0] = 0;
  char ts[96];
  timestamp(ts, sizeof ts);
  line_t l;
  l.n = 0;
  if (atomic_load(&g_format) == PGD_LOG_FORMAT_JSON) {
    puts_(&l, "{\"ts\":\"");
    puts_(&l, ts);
    puts_(&l, "\",\"level\":\"");
    puts_(&l, level_json[level & 3]);
    puts_(&l, "\",\"module\":\"");
    put_json(&l, module ? module : "-");
    puts_(&l, "\",\"msg\":\"");
    put_json(&l, msg);
    puts_(&l, "\"");
    for (int i = 0; i < nf; i++) {
      puts_(&l, ",\"");
      put_json(&l, fields[i].key);
      puts_(&l, "\":");
      if (fields[i].str) {
        puts_(&l, "\"");
        put_json(&l, fields[i].str);
        puts_(&l, "\"");
      } else {
        put_num(&l, fields[i].num);
      }
    }
    /* A cut line still closes its string and object (LINE_RESERVE). */
    if (l.n >= sizeof l.buf - LINE_RESERVE && l.buf[l.n - 1] != '"') {
      memcpy(l.buf + l.n, "\"", 1);
      l.n++;
    }
    memcpy(l.buf + l.n, "}\n", 2);
    l.n += 2;
  } else {
    puts_(&l, ts);
    puts_(&l, " ");
    puts_(&l, level_names[level & 3]);
    puts_(&l, " [");
    puts_(&l, module ? module : "-");
    puts_(&l, "] ");
    puts_(&l, msg);
    for (int i = 0; i < nf; i++) {
      puts_(&l, " ");
      puts_(&l, fields[i].key);
      puts_(&l, "=");
      if (fields[i].str && (!*fields[i].str || strpbrk(fields[i].str, " \"="))) {
        puts_(&l, "\"");
        put_json(&l, fields[i].str);
        puts_(&l, "\"");
      } else if (fields[i].str) {
        puts_(&l, fields[i].str);
      } else {
        put_num(&l, fields[i].num);
      }
    }
    l.buf[l.n++] = '\n';
  }
  ssize_t w = write(STDERR_FILENO, l.buf, l.n);
  (void)w;
}

void pgd_logv(pgd_log_level_t level, const char *module, const char *fmt, va_list ap) {
  emit(level, module, NULL, 0, fmt, ap);
}

void pgd_log(pgd_log_level_t level, const char *module, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(level, module, NULL, 0, fmt, ap);
  va_end(ap);
}

void pgd_log_fields(pgd_log_level_t level, const char *module, const pgd_log_field_t *fields,
                    int n, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(level, module, fields, n, fmt, ap);
  va_end(ap);
}
