/* Pagoda — one HTTP request: its parsed parts, its body, its response
 * buffer, and the write path to lws. */
#include "common/json.h"
#include "common/utf8.h"
#include "http/httpd_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"

/* Copies the URI args (each fragment "k=v", already decoded by lws) into
 * r->qbuf as "k\0v\0...". */
static int req_parse_query(pgd_http_req_t *r) {
  int tot = lws_hdr_total_length(r->wsi, WSI_TOKEN_HTTP_URI_ARGS);
  if (tot <= 0) return 0;
  char *frag = malloc((size_t)tot + 1);
  size_t cap = (size_t)tot + 64, len = 0;
  char *q = malloc(cap);
  if (!frag || !q) {
    free(frag);
    free(q);
    return -ENOMEM;
  }
  for (int i = 0;; i++) {
    int n = lws_hdr_copy_fragment(r->wsi, frag, tot + 1, WSI_TOKEN_HTTP_URI_ARGS, i);
    if (n < 0) break;
    if (n == 0) continue;
    if (len + (size_t)n + 2 > cap) {
      size_t ncap = (len + (size_t)n + 2) * 2;
      char *nq = realloc(q, ncap);
      if (!nq) {
        free(frag);
        free(q);
        return -ENOMEM;
      }
      q = nq;
      cap = ncap;
    }
    char *eq = memchr(frag, '=', (size_t)n);
    size_t klen = eq ? (size_t)(eq - frag) : (size_t)n;
    memcpy(q + len, frag, klen);
    len += klen;
    q[len++] = '\0';
    if (eq) {
      size_t vlen = (size_t)n - klen - 1;
      memcpy(q + len, eq + 1, vlen);
      len += vlen;
    }
    q[len++] = '\0';
    r->nq++;
  }
  free(frag);
  r->qbuf = q;
  return 0;
}

pgd_http_req_t *pgd_http__req_new(pgd_httpd_t *h, struct lws *wsi, const char *path,
                                  size_t pathlen) {
  pgd_http_req_t *r = calloc(1, sizeof(*r));
  if (!r) return NULL;
  r->h = h;
  r->wsi = wsi;
  r->file_fd = -1;
  r->start_ns = uv_hrtime();
  r->path = strndup(path, pathlen);
  if (!r->path || req_parse_query(r) != 0) {
    free(r->path);
    free(r);
    return NULL;
  }
  r->next = h->reqs;
  if (h->reqs) h->reqs->prev = r;
  h->reqs = r;
  h->nreqs++;
  return r;
}

/* Runs the on_status callback once (status 0: the request ended unanswered). */
static void req_report_status(pgd_http_req_t *r, int status) {
  void (*cb)(int, void *) = r->status_cb;
  r->status_cb = NULL;
  if (cb) cb(status, r->status_ud);
  if (!r->answered && r->h->on_answer) {
    r->answered = 1;
    pgd_http_answer_t a = {.method = r->method ? r->method : "",
                           .path = r->path ? r->path : "",
                           .route = r->route,
                           .who = r->who,
                           .status = status,
                           .seconds = (double)(uv_hrtime() - r->start_ns) / 1e9};
    r->h->on_answer(&a, r->h->ud);
  }
}

void pgd_http__req_free(pgd_http_req_t *r) {
  if (!r) return;
  req_report_status(r, 0);
  pgd_httpd_t *h = r->h;
  if (r->sink.write && r->sink.discard) r->sink.discard(r->sink.ud);
  memset(&r->sink, 0, sizeof r->sink);
  if (r->prev) r->prev->next = r->next;
  else h->reqs = r->next;
  if (r->next) r->next->prev = r->prev;
  h->nreqs--;
  for (pgd_http_hdr_t *x = r->hdrs, *nx; x; x = nx) {
    nx = x->next;
    free(x->name);
    free(x->value);
    free(x);
  }
  for (pgd_http_hdr_t *x = r->resp_hdrs, *nx; x; x = nx) {
    nx = x->next;
    free(x->name);
    free(x->value);
    free(x);
  }
  if (r->file_fd >= 0) close(r->file_fd);
  free(r->path);
  free(r->qbuf);
  free(r->body);
  free(r->out);
  free(r);
}

static int buf_reserve(char **buf, size_t *cap, size_t need) {
  if (need <= *cap) return 0;
  size_t ncap = *cap ? *cap : 256;
  while (ncap < need) ncap *= 2;
  char *nb = realloc(*buf, ncap);
  if (!nb) return -ENOMEM;
  *buf = nb;
  *cap = ncap;
  return 0;
}

int pgd_http__req_body_append(pgd_http_req_t *r, const void *data, size_t len) {
  size_t need = r->body_len + len + 1;
  if (!r->body && r->content_length && r->content_length + 1 > need)
    need = (size_t)r->content_length + 1; /* one allocation for a known length */
  if (buf_reserve(&r->body, &r->body_cap, need) != 0) return -ENOMEM;
  if (len) memcpy(r->body + r->body_len, data, len);
  r->body_len += len;
  r->body[r->body_len] = '\0';
  return 0;
}

static int out_append(pgd_http_req_t *r, const void *data, size_t len) {
  if (!len) return 0;
  if (r->out_off == r->out_len) r->out_off = r->out_len = 0;
  if (buf_reserve(&r->out, &r->out_cap, r->out_len + len) != 0) return -ENOMEM;
  memcpy(r->out + r->out_len, data, len);
  r->out_len += len;
  return 0;
}

/* Formats the status line and headers with lws into `r->out`. */
static int queue_headers(pgd_http_req_t *r, int status, const char *ctype,
                         long long content_length, int chunked) {
  unsigned char hb[2048];
  unsigned char *p = hb, *end = hb + sizeof(hb);
  char num[32];
  if (status < 100 || status > 999) status = 500;
  req_report_status(r, status);
  if (lws_add_http_header_status(r->wsi, (unsigned int)status, &p, end)) return -EINVAL;
  if (ctype && *ctype &&
      lws_add_http_header_by_token(r->wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                   (const unsigned char *)ctype, (int)strlen(ctype), &p, end))
    return -EINVAL;
  if (content_length >= 0) {
    int n = snprintf(num, sizeof(num), "%lld", content_length);
    if (lws_add_http_header_by_token(r->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH,
                                     (const unsigned char *)num, n, &p, end))
      return -EINVAL;
  }
  if (chunked &&
      lws_add_http_header_by_token(r->wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
                                   (const unsigned char *)"chunked", 7, &p, end))
    return -EINVAL;
  for (const pgd_http_hdr_t *x = r->resp_hdrs; x; x = x->next)
    if (lws_add_http_header_by_name(r->wsi, (const unsigned char *)x->name,
                                    (const unsigned char *)x->value, (int)strlen(x->value), &p, end))
      return -EINVAL;
  if (r->close_after &&
      lws_add_http_header_by_token(r->wsi, WSI_TOKEN_CONNECTION,
                                   (const unsigned char *)"close", 5, &p, end))
    return -EINVAL;
  if (lws_finalize_http_header(r->wsi, &p, end)) return -EINVAL;
  return out_append(r, hb, (size_t)(p - hb));
}

static void req_kick(pgd_http_req_t *r) {
  if (r->wsi) lws_callback_on_writable(r->wsi);
}

/* On failure the connection is closed (a half-built response cannot be
 * repaired); the request is then freed by the close path. */
static int req_fail(pgd_http_req_t *r, int rc) {
  r->state = PGD_REQ_ENDED;
  r->close_after = 1;
  r->out_len = r->out_off = 0;
  if (r->wsi) lws_set_timeout(r->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
  return rc;
}

int pgd_http__queue_response(pgd_http_req_t *r, int status, const char *ctype,
                             const char *body, size_t len) {
  if (!body) len = 0;
  int rc = queue_headers(r, status, ctype, (long long)len, 0);
  if (rc == 0 && !r->head_only) rc = out_append(r, body, len);
  if (rc != 0) return req_fail(r, rc);
  r->state = PGD_REQ_ENDED;
  req_kick(r);
  return 0;
}

static size_t json_escape(char *dst, size_t cap, const char *s) {
  size_t n = 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char tmp[8];
    const char *rep = NULL;
    if (c == '"') rep = "\\\"";
    else if (c == '\\') rep = "\\\\";
    else if (c == '\n') rep = "\\n";
    else if (c == '\r') rep = "\\r";
    else if (c == '\t') rep = "\\t";
    else if (c < 0x20) {
      snprintf(tmp, sizeof(tmp), "\\u%04x", c);
      rep = tmp;
    }
    size_t rl = rep ? strlen(rep) : 1;
    if (n + rl + 1 > cap) break;
    if (rep) memcpy(dst + n, rep, rl);
    else dst[n] = (char)c;
    n += rl;
  }
  /* A cut at `cap` may split a multi-byte character: drop its head. */
  while (n > 0 && !pgd_utf8_valid(dst, n)) n--;
  dst[n] = '\0';
  return n;
}

int pgd_http__queue_error(pgd_http_req_t *r, int status, const char *msg) {
  char esc[1024], body[1100];
  /* Messages may quote the client's bytes (a path, a name): invalid UTF-8
   * becomes U+FFFD so the answer is valid JSON text (common/utf8.h). */
  char *clean = pgd_utf8_clean_copy(msg ? msg : "", msg ? strlen(msg) : 0, NULL);
  json_escape(esc, sizeof(esc), clean ? clean : "invalid message");
  free(clean);
  int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", esc);
  return pgd_http__queue_response(r, status, "application/json", body, (size_t)n);
}

int pgd_http__on_writable(pgd_httpd_t *h, struct lws *wsi, pgd_http_pss_t *pss) {
  pgd_http_req_t *r = pss ? pss->req : NULL;
  if (!r) return 0;
  /* Before writing what may be the answer's last bytes: the client cannot
   * have sent its next request yet (http_guard.c counts from here). */
  if (r->state == PGD_REQ_ENDED && !r->close_after) pgd_http__guard_mark(h, wsi);
  if (r->out_off < r->out_len) {
    size_t n = r->out_len - r->out_off;
    if (n > PGD_HTTP_WRITE_CHUNK) n = PGD_HTTP_WRITE_CHUNK;
    memcpy(h->scratch + LWS_PRE, r->out + r->out_off, n);
    if (lws_write(wsi, h->scratch + LWS_PRE, n, LWS_WRITE_HTTP) < (int)n) return -1;
    r->out_off += n;
    if (r->out_off < r->out_len) {
      lws_callback_on_writable(wsi);
      return 0;
    }
    r->out_off = r->out_len = 0;
  }
  if (r->file_fd >= 0 && r->file_left > 0) { /* respond_fd: the next piece */
    size_t n = r->file_left > PGD_HTTP_WRITE_CHUNK ? PGD_HTTP_WRITE_CHUNK : (size_t)r->file_left;
    ssize_t got;
    do got = pread(r->file_fd, h->scratch + LWS_PRE, n, (off_t)r->file_off);
    while (got < 0 && errno == EINTR);
    if (got <= 0) {
      PGD_WARN(PGD_HTTP_MOD, "%s: file shorter than announced (%s); closing the connection",
               r->path, got < 0 ? strerror(errno) : "end of file");
      return -1;
    }
    if (lws_write(wsi, h->scratch + LWS_PRE, (size_t)got, LWS_WRITE_HTTP) < (int)got) return -1;
    r->file_off += (unsigned long long)got;
    r->file_left -= (unsigned long long)got;
    if (r->file_left > 0) {
      lws_callback_on_writable(wsi);
      return 0;
    }
  }
  if (r->state != PGD_REQ_ENDED) return 0;
  int close = r->close_after;
  pss->req = NULL;
  r->wsi = NULL;
  pgd_http__req_free(r);
  if (close) return -1;
  pgd_http__guard_idle(h, wsi, 1); /* counted from the last mark */
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* --- public accessors --- */

const char *pgd_http_req_method(const pgd_http_req_t *r) { return r ? r->method : NULL; }

const char *pgd_http_req_path(const pgd_http_req_t *r) { return r ? r->path : NULL; }

const char *pgd_http_req_query(const pgd_http_req_t *r, const char *key) {
  if (!r || !key || !r->qbuf) return NULL;
  const char *p = r->qbuf;
  for (size_t i = 0; i < r->nq; i++) {
    const char *k = p;
    const char *v = k + strlen(k) + 1;
    if (!strcmp(k, key)) return v;
    p = v + strlen(v) + 1;
  }
  return NULL;
}

/* Maps a lower-case header name to an lws token, or -1 (custom header). */
static int header_token(const char *lname) {
  size_t n = strlen(lname);
  for (int t = 0; t < WSI_TOKEN_COUNT; t++) {
    const char *s = (const char *)lws_token_to_string((enum lws_token_indexes)t);
    if (s && !strncmp(s, lname, n) && s[n] == ':' && s[n + 1] == '\0') return t;
  }
  return -1;
}

const char *pgd_http_req_header(const pgd_http_req_t *cr, const char *name) {
  pgd_http_req_t *r = (pgd_http_req_t *)cr; /* the cache is not observable state */
  if (!r || !name || !*name) return NULL;
  char lname[128];
  size_t n = strlen(name);
  if (n + 2 > sizeof(lname)) return NULL;
  for (size_t i = 0; i < n; i++) lname[i] = (char)tolower((unsigned char)name[i]);
  lname[n] = '\0';
  for (pgd_http_hdr_t *x = r->hdrs; x; x = x->next)
    if (!strcmp(x->name, lname)) return x->value;
  if (!r->wsi) return NULL;

  char *value = NULL;
  int tok = header_token(lname);
  if (tok >= 0) {
    int len = lws_hdr_total_length(r->wsi, (enum lws_token_indexes)tok);
    if (len <= 0) return NULL;
    value = malloc((size_t)len + 1);
    if (!value || lws_hdr_copy(r->wsi, value, len + 1, (enum lws_token_indexes)tok) < 0) {
      free(value);
      return NULL;
    }
  } else {
    lname[n] = ':';
    lname[n + 1] = '\0';
    int len = lws_hdr_custom_length(r->wsi, lname, (int)n + 1);
    lname[n] = '\0';
    if (len < 0) return NULL;
    value = malloc((size_t)len + 1);
    lname[n] = ':';
    if (!value || lws_hdr_custom_copy(r->wsi, value, len + 1, lname, (int)n + 1) < 0) {
      free(value);
      return NULL;
    }
    lname[n] = '\0';
  }
  pgd_http_hdr_t *x = calloc(1, sizeof(*x));
  if (!x || !(x->name = strdup(lname))) {
    free(x);
    free(value);
    return NULL;
  }
  x->value = value;
  x->next = r->hdrs;
  r->hdrs = x;
  return value;
}

const char *pgd_http_req_body(const pgd_http_req_t *r, size_t *len) {
  if (len) *len = r && r->body ? r->body_len : 0;
  if (!r) return NULL;
  return r->body ? r->body : "";
}

char *pgd_http_req_take_body(pgd_http_req_t *r, size_t *len) {
  if (len) *len = r && r->body ? r->body_len : 0;
  if (!r) return NULL;
  char *b = r->body;
  r->body = NULL;
  r->body_len = r->body_cap = 0;
  return b;
}

/* --- responses --- */

void *pgd_http_req_take_sink(pgd_http_req_t *r) {
  if (!r || !r->sink.write) return NULL;
  void *ud = r->sink.ud;
  memset(&r->sink, 0, sizeof r->sink);
  return ud;
}

int pgd_http_req_add_header(pgd_http_req_t *r, const char *name, const char *value) {
  if (!r || r->state != PGD_REQ_HANDLER) return -EINVAL;
  return pgd_http__add_header(r, name, value);
}

int pgd_http__add_header(pgd_http_req_t *r, const char *name, const char *value) {
  if (!r || !name || !*name || !value) return -EINVAL;
  pgd_http_hdr_t *x = calloc(1, sizeof *x);
  size_t n = strlen(name);
  char *nm = x ? malloc(n + 2) : NULL;
  char *val = nm ? strdup(value) : NULL;
  if (!val) {
    free(nm);
    free(x);
    return -ENOMEM;
  }
  /* lws wants the name with its colon ("allow:"). */
  memcpy(nm, name, n);
  nm[n] = ':';
  nm[n + 1] = 0;
  x->name = nm;
  x->value = val;
  pgd_http_hdr_t **tail = &r->resp_hdrs;
  while (*tail) tail = &(*tail)->next;
  *tail = x;
  return 0;
}

int pgd_http_respond(pgd_http_req_t *r, int status, const char *content_type,
                     const char *body, size_t len) {
  if (!r || r->state != PGD_REQ_HANDLER) return -EINVAL;
  return pgd_http__queue_response(r, status, content_type, body, len);
}

int pgd_http_respond_json(pgd_http_req_t *r, int status, const cJSON *obj) {
  if (!r || r->state != PGD_REQ_HANDLER) return -EINVAL;
  char *s = obj ? pgd_json_print(obj) : NULL;
  if (!s) {
    pgd_http__queue_error(r, 500, obj ? "out of memory" : "no response body");
    return obj ? -ENOMEM : -EINVAL;
  }
  /* JSON syntax is ASCII, so invalid bytes can only be inside strings:
   * replacing them in the printed text keeps it JSON and makes it UTF-8. */
  size_t len = strlen(s);
  if (!pgd_utf8_valid(s, len)) {
    char *clean = pgd_utf8_clean_copy(s, len, &len);
    free(s);
    if (!clean) {
      pgd_http__queue_error(r, 500, "out of memory");
      return -ENOMEM;
    }
    int rc = pgd_http__queue_response(r, status, "application/json", clean, len);
    free(clean);
    return rc;
  }
  int rc = pgd_http__queue_response(r, status, "application/json", s, len);
  free(s);
  return rc;
}

int pgd_http_respond_error(pgd_http_req_t *r, int status, const char *fmt, ...) {
  if (!r || r->state != PGD_REQ_HANDLER) return -EINVAL;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt ? fmt : "", ap);
  va_end(ap);
  return pgd_http__queue_error(r, status, msg);
}

int pgd_http_respond_fd(pgd_http_req_t *r, int status, const char *content_type, int fd,
                        unsigned long long size) {
  if (!r || r->state != PGD_REQ_HANDLER || fd < 0) {
    if (fd >= 0) close(fd);
    return -EINVAL;
  }
  r->file_fd = fd; /* closed by req_free */
  int rc = queue_headers(r, status, content_type, (long long)size, 0);
  if (rc != 0) return req_fail(r, rc);
  r->file_off = 0;
  r->file_left = r->head_only ? 0 : size;
  r->state = PGD_REQ_ENDED;
  req_kick(r);
  return 0;
}

int pgd_http_stream_start(pgd_http_req_t *r, int status, const char *content_type) {
  if (!r || r->state != PGD_REQ_HANDLER) return -EINVAL;
  if (r->http10) r->close_after = 1;
  else r->chunked = 1;
  int rc = queue_headers(r, status, content_type, r->head_only ? 0 : -1, r->chunked && !r->head_only);
  if (rc != 0) {
    /* the handler still owns r until stream_end; nothing was queued */
    r->out_len = r->out_off = 0;
    return rc;
  }
  r->state = PGD_REQ_STREAMING;
  req_kick(r);
  return 0;
}

int pgd_http_stream_write(pgd_http_req_t *r, const char *data, size_t len) {
  if (!r || r->state != PGD_REQ_STREAMING || (len && !data)) return -EINVAL;
  if (!len || r->head_only) return 0;
  if (r->chunked) {
    char pre[24];
    int n = snprintf(pre, sizeof(pre), "%zx\r\n", len);
    if (out_append(r, pre, (size_t)n) || out_append(r, data, len) || out_append(r, "\r\n", 2))
      return -ENOMEM;
  } else if (out_append(r, data, len)) {
    return -ENOMEM;
  }
  req_kick(r);
  return 0;
}

size_t pgd_http_stream_pending(const pgd_http_req_t *r) {
  return r ? r->out_len - r->out_off : 0;
}

int pgd_http_stream_end(pgd_http_req_t *r) {
  if (!r || r->state != PGD_REQ_STREAMING) return -EINVAL;
  int rc = 0;
  if (r->chunked && !r->head_only && out_append(r, "0\r\n\r\n", 5) != 0) {
    r->close_after = 1; /* the client sees a truncated stream */
    rc = -ENOMEM;
  }
  r->state = PGD_REQ_ENDED;
  req_kick(r);
  return rc;
}

int pgd_http_stream_close(pgd_http_req_t *r, int grace_s) {
  if (!r || r->state != PGD_REQ_STREAMING) return -EINVAL;
  struct lws *wsi = r->wsi;
  r->close_after = 1;
  int rc = pgd_http_stream_end(r);
  /* A client that does not read what is left within the grace is cut off:
   * its buffer must not stay in memory. */
  if (wsi) lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_SEND, grace_s > 0 ? grace_s : 1);
  return rc;
}

void pgd_http_req_on_abort(pgd_http_req_t *r, void (*cb)(pgd_http_req_t *r, void *ud),
                           void *ud) {
  if (!r) return;
  r->abort_cb = cb;
  r->abort_ud = ud;
}

void pgd_http_req_set_data(pgd_http_req_t *r, void *p) {
  if (r) r->data = p;
}

void *pgd_http_req_get_data(const pgd_http_req_t *r) { return r ? r->data : NULL; }

void pgd_http_req_set_route(pgd_http_req_t *r, const char *route) {
  if (r && route) r->route = route;
}

void pgd_http_req_set_who(pgd_http_req_t *r, const char *who) {
  if (r && who) snprintf(r->who, sizeof r->who, "%s", who);
}

void pgd_http_req_on_status(pgd_http_req_t *r, void (*cb)(int status, void *ud), void *ud) {
  r->status_cb = cb;
  r->status_ud = ud;
}

int pgd_http_req_peer(const pgd_http_req_t *r, char *buf, size_t cap) {
  if (!buf || cap == 0) return -EINVAL;
  buf[0] = 0;
  if (!r->wsi || !lws_get_peer_simple(r->wsi, buf, cap)) return -ENOTCONN;
  return 0;
}
