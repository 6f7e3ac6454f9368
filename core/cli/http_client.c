/* Pagoda — a small blocking HTTP/1.1 client for the CLI (see http_client.h). */
#include "cli/http_client.h"
#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#define MAX_BODY (64u * 1024u * 1024u)

int pgd_http_global_init(void) {
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

/* "Authorization: Bearer ..." (pgd_http_set_token), or NULL. */
static char *g_auth_header;

void pgd_http_global_cleanup(void) {
  pgd_http_set_token(NULL);
  curl_global_cleanup();
}

void pgd_http_set_token(const char *token) {
  free(g_auth_header);
  g_auth_header = NULL;
  if (token && *token && asprintf(&g_auth_header, "Authorization: Bearer %s", token) < 0)
    g_auth_header = NULL;
}

typedef struct {
  CURL *curl;
  pgd_http_response_t *resp;
  size_t cap;
  pgd_http_chunk_cb on_chunk;
  void *ud;
  int cancelled;
  int too_big;
  int oom;
} transfer_t;

static int collect(transfer_t *t, const char *data, size_t n) {
  pgd_http_response_t *r = t->resp;
  if (r->len + n > MAX_BODY) {
    t->too_big = 1;
    return -1;
  }
  if (r->len + n + 1 > t->cap) {
    size_t ncap = t->cap ? t->cap : 4096;
    while (ncap < r->len + n + 1) ncap *= 2;
    char *nb = realloc(r->body, ncap);
    if (!nb) {
      t->oom = 1;
      return -1;
    }
    r->body = nb;
    t->cap = ncap;
  }
  memcpy(r->body + r->len, data, n);
  r->len += n;
  r->body[r->len] = '\0';
  return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud) {
  transfer_t *t = ud;
  size_t n = size * nmemb;
  if (t->on_chunk) {
    long status = 0;
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 200 && status < 300) {
      if (n > 0 && t->on_chunk(data, n, t->ud) != 0) {
        t->cancelled = 1;
        return 0;
      }
      return n;
    }
  }
  return collect(t, data, n) == 0 ? n : 0;
}

static const char *g_cacert; /* borrowed; see pgd_http_set_cacert */

void pgd_http_set_cacert(const char *path) { g_cacert = path && *path ? path : NULL; }

void pgd_http_response_free(pgd_http_response_t *resp) {
  if (!resp) return;
  free(resp->body);
  memset(resp, 0, sizeof(*resp));
}

int pgd_http_request(const char *method, const char *url, const char *body, size_t body_len,
                     pgd_http_chunk_cb on_chunk, void *ud, long timeout_ms,
                     pgd_http_response_t *resp, char *err, size_t errlen) {
  return pgd_http_request_with(method, url, NULL, body, body_len, on_chunk, ud, timeout_ms, resp,
                               err, errlen);
}

int pgd_http_request_with(const char *method, const char *url, const char *const *headers,
                          const char *body, size_t body_len, pgd_http_chunk_cb on_chunk, void *ud,
                          long timeout_ms, pgd_http_response_t *resp, char *err, size_t errlen) {
  if (err && errlen) err[0] = '\0';
  if (!resp) return -EINVAL;
  memset(resp, 0, sizeof(*resp));
  if (!method || !url) {
    return pgd_set_err(err, errlen, -EINVAL, "bad request arguments");
  }
  CURL *c = curl_easy_init();
  if (!c) {
    return pgd_set_err(err, errlen, -ENOMEM, "cannot create an HTTP handle");
  }
  transfer_t t = {.curl = c, .resp = resp, .on_chunk = on_chunk, .ud = ud};
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *hdrs = NULL, *tmp = NULL;
  bool own_accept = false; /* the caller's Accept replaces the default */
  for (const char *const *h = headers; h && *h; h++) own_accept |= strncasecmp(*h, "Accept:", 7) == 0;
  if (!own_accept) {
    tmp = curl_slist_append(hdrs, "Accept: application/json");
    if (tmp) hdrs = tmp;
  }
  /* A POST without a body still declares JSON: libcurl would say
   * application/x-www-form-urlencoded, which the API refuses (415). */
  if (body || strcmp(method, "POST") == 0) {
    tmp = curl_slist_append(hdrs, strcmp(method, "PUT") == 0
                                      ? "Content-Type: application/octet-stream"
                                      : "Content-Type: application/json");
    if (tmp) hdrs = tmp;
  }
  if (g_auth_header) {
    tmp = curl_slist_append(hdrs, g_auth_header);
    if (tmp) hdrs = tmp;
  }
  /* No "Expect: 100-continue" round trip for larger bodies. */
  tmp = curl_slist_append(hdrs, "Expect:");
  if (tmp) hdrs = tmp;
  for (const char *const *h = headers; h && *h; h++) {
    tmp = curl_slist_append(hdrs, *h);
    if (tmp) hdrs = tmp;
  }

  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "pagoda-cli/" PAGODA_VERSION);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  if (g_cacert) curl_easy_setopt(c, CURLOPT_CAINFO, g_cacert);
  if (timeout_ms > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  if (strcmp(method, "GET") == 0) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    if (strcmp(method, "POST") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body || strcmp(method, "POST") == 0) {
      curl_easy_setopt(c, CURLOPT_POST, 1L);
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
    }
  }

  CURLcode cc = curl_easy_perform(c);
  int rc = 0;
  if (cc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
  } else {
    if (t.cancelled) rc = -ECANCELED;
    else if (t.too_big) rc = -EMSGSIZE;
    else if (t.oom || cc == CURLE_OUT_OF_MEMORY) rc = -ENOMEM;
    else if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
             cc == CURLE_COULDNT_RESOLVE_PROXY || cc == CURLE_UNSUPPORTED_PROTOCOL ||
             cc == CURLE_URL_MALFORMAT)
      rc = -ECONNREFUSED;
    else if (cc == CURLE_OPERATION_TIMEDOUT) rc = -ETIMEDOUT;
    else rc = -EIO;
    if (rc == -ECANCELED) pgd_set_err(err, errlen, rc, "transfer stopped");
    else if (rc == -EMSGSIZE) pgd_set_err(err, errlen, rc, "response body too large");
    else pgd_set_err(err, errlen, rc, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
  }
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(c);
  return rc;
}
