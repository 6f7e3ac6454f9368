/* Pagoda — JSON text of a cJSON tree without floating-point formatting for
 * integers (json.h pgd_json_print). cJSON prints every number beyond 32
 * bits with "%1.15g" and reads it back with sscanf to check it (the µs
 * timestamps of every record: __printf_fp and strtod on each store write
 * and wire frame); here an integral number below 2^53 is printed as
 * integer digits. Everything else is printed as cJSON_PrintUnformatted
 * prints it, so the text differs only in how such numbers are spelt
 * (1.79e+15 becomes 1790000000000000: the same value to any JSON reader). */
#include "common/json.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strbuf.h"

#define MAX_DEPTH 1000 /* cJSON's own nesting limit when parsing */
/* The largest scratch buffer pgd_json_print keeps for the next call. */
#define SCRATCH_KEEP (256u * 1024u)

/* pgd_strbuf_append with the common case inline: a print is hundreds of
 * appends of one to a few dozen bytes, most of which fit. */
static inline void put_raw(pgd_strbuf_t *b, const char *s, size_t n) {
  if (b->len + n < b->cap && !b->oom) {
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return;
  }
  pgd_strbuf_append(b, s, n);
}

static void put_int(pgd_strbuf_t *b, int64_t v) {
  char buf[24], *p = buf + sizeof buf;
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  put_raw(b, p, (size_t)(buf + sizeof buf - p));
}

static void put_number(pgd_strbuf_t *b, double d) {
  if (isnan(d) || isinf(d)) {
    put_raw(b, "null", 4);
    return;
  }
  if (d == floor(d) && fabs(d) < 9007199254740992.0) { /* 2^53: exact */
    put_int(b, (int64_t)d);
    return;
  }
  /* As cJSON: the shortest of 15 digits that reads back, else 17. */
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%1.15g", d);
  if (strtod(buf, NULL) != d) n = snprintf(buf, sizeof buf, "%1.17g", d);
  put_raw(b, buf, (size_t)n);
}

/* Bytes put_string must stop at: controls (NUL ends the string), '"' and '\\'. */
static const unsigned char escaped[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1};

static void put_string(pgd_strbuf_t *b, const char *s) {
  put_raw(b, "\"", 1);
  if (s) {
    const char *run = s; /* bytes copied as they are, in one append */
    const unsigned char *p = (const unsigned char *)s;
    for (;; p++) {
      while (!escaped[*p]) p++; /* a run of plain bytes */
      if (!*p) break;
      char esc[8];
      size_t n = 2;
      switch (*p) {
      case '"': memcpy(esc, "\\\"", 2); break;
      case '\\': memcpy(esc, "\\\\", 2); break;
      case '\b': memcpy(esc, "\\b", 2); break;
      case '\f': memcpy(esc, "\\f", 2); break;
      case '\n': memcpy(esc, "\\n", 2); break;
      case '\r': memcpy(esc, "\\r", 2); break;
      case '\t': memcpy(esc, "\\t", 2); break;
      default: n = (size_t)snprintf(esc, sizeof esc, "\\u%04x", *p);
      }
      put_raw(b, run, (size_t)((const char *)p - run));
      put_raw(b, esc, n);
      run = (const char *)p + 1;
    }
    put_raw(b, run, (size_t)((const char *)p - run));
  }
  put_raw(b, "\"", 1);
}

/* false: an item cJSON would not print either (invalid, too deep). */
static bool put_value(pgd_strbuf_t *b, const cJSON *v, int depth) {
  if (depth > MAX_DEPTH) return false;
  switch (v->type & 0xFF) {
  case cJSON_NULL: put_raw(b, "null", 4); return true;
  case cJSON_False: put_raw(b, "false", 5); return true;
  case cJSON_True: put_raw(b, "true", 4); return true;
  case cJSON_Number: put_number(b, v->valuedouble); return true;
  case cJSON_Raw:
    if (!v->valuestring) return false;
    pgd_strbuf_puts(b, v->valuestring);
    return true;
  case cJSON_String: put_string(b, v->valuestring); return true;
  case cJSON_Array:
  case cJSON_Object: {
    bool obj = (v->type & 0xFF) == cJSON_Object;
    put_raw(b, obj ? "{" : "[", 1);
    for (const cJSON *c = v->child; c; c = c->next) {
      if (obj) {
        put_string(b, c->string);
        put_raw(b, ":", 1);
      }
      if (!put_value(b, c, depth + 1)) return false;
      if (c->next) put_raw(b, ",", 1);
    }
    put_raw(b, obj ? "}" : "]", 1);
    return true;
  }
  default: return false;
  }
}

/* One scratch buffer per thread (the loop, the store writer, the thread
 * pool's workers), freed when its thread ends; NULL when it cannot be had
 * (the caller then uses a buffer of its own). */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_key_ok;

static void scratch_free(void *p) {
  pgd_strbuf_free(p);
  free(p);
}

static void scratch_key_make(void) { scratch_key_ok = pthread_key_create(&scratch_key, scratch_free) == 0; }

static pgd_strbuf_t *thread_scratch(void) {
  static __thread pgd_strbuf_t *mine;
  if (mine) return mine;
  pthread_once(&scratch_once, scratch_key_make);
  if (!scratch_key_ok) return NULL;
  pgd_strbuf_t *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  if (pthread_setspecific(scratch_key, b) != 0) {
    free(b);
    return NULL;
  }
  return mine = b;
}

void pgd_json_print_string(struct pgd_strbuf *b, const char *s) { put_string(b, s); }

void pgd_json_print_int(struct pgd_strbuf *b, int64_t v) { put_int(b, v); }

bool pgd_json_print_append(struct pgd_strbuf *b, const cJSON *v) {
  if (!v || !b) return false;
  return put_value(b, v, 0) && !b->oom;
}

char *pgd_json_print(const cJSON *v) {
  if (!v) return NULL;
  /* Printed into this thread's scratch buffer (kept between calls), then
   * copied out at its exact size: a record grew a fresh buffer from 64
   * bytes by doubling, five or six reallocs per print. */
  pgd_strbuf_t *scratch = thread_scratch();
  pgd_strbuf_t local = PGD_STRBUF_INIT;
  pgd_strbuf_t *b = scratch ? scratch : &local;
  pgd_strbuf_reset(b);
  b->oom = false;
  bool ok = put_value(b, v, 0) && !b->oom;
  char *out = ok ? malloc(b->len + 1) : NULL;
  if (out) memcpy(out, b->data ? b->data : "", b->len + 1);
  if (b->cap > SCRATCH_KEEP || b == &local) pgd_strbuf_free(b); /* a huge print: not kept */
  return out;
}
