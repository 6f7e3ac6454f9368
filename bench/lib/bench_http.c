/* Pagoda benchmarks — the HTTP client (see bench_http.h). */
#include "bench_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

int bench_http_open(bench_http_t *h, int port) {
  memset(h, 0, sizeof *h);
  h->port = port;
  h->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (h->fd < 0) return -errno;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(h->fd, (struct sockaddr *)&a, sizeof a) != 0) {
    int e = errno;
    close(h->fd);
    h->fd = -1;
    return -e;
  }
  int one = 1;
  setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return 0;
}

void bench_http_close(bench_http_t *h) {
  if (h->fd >= 0) close(h->fd);
  h->fd = -1;
  free(h->buf);
  h->buf = NULL;
  h->len = h->cap = 0;
}

/* Reads more bytes into h->buf. Returns bytes read, 0 at EOF, <0 on error. */
static ssize_t fill(bench_http_t *h) {
  if (h->cap - h->len < 16384) {
    size_t nc = h->cap ? h->cap * 2 : 65536;
    char *nb = realloc(h->buf, nc);
    if (!nb) return -ENOMEM;
    h->buf = nb;
    h->cap = nc;
  }
  ssize_t r;
  do r = read(h->fd, h->buf + h->len, h->cap - h->len - 1);
  while (r < 0 && errno == EINTR);
  if (r > 0) h->len += (size_t)r;
  return r < 0 ? -errno : r;
}

static void consume(bench_http_t *h, size_t n) {
  memmove(h->buf, h->buf + n, h->len - n);
  h->len -= n;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -errno;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* "Authorization: Bearer ...\r\n", or "" (bench_http_set_token). */
static char g_auth[256] = "";

int bench_http_set_token(const char *token) {
  if (!token || !*token) {
    g_auth[0] = 0;
    return 0;
  }
  int n = snprintf(g_auth, sizeof g_auth, "Authorization: Bearer %s\r\n", token);
  if (n < 0 || (size_t)n >= sizeof g_auth) {
    g_auth[0] = 0;
    return -ENOMEM;
  }
  return 0;
}

int bench_http_token_from_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -errno;
  char line[200] = "";
  char *ok = fgets(line, sizeof line, f);
  fclose(f);
  if (!ok) return -ENODATA;
  line[strcspn(line, "\r\n")] = 0;
  return line[0] ? bench_http_set_token(line) : -ENODATA;
}

int bench_http_req(bench_http_t *h, const char *method, const char *path, const char *json,
                   char **body) {
  if (body) *body = NULL;
  char head[1280];
  size_t jl = json ? strlen(json) : 0;
  int hl = snprintf(head, sizeof head,
                    "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                    "%sContent-Length: %zu\r\n\r\n",
                    method, path, h->port, g_auth, jl);
  if (write_all(h->fd, head, (size_t)hl) != 0 || (jl && write_all(h->fd, json, jl) != 0)) return -EIO;
  char *end;
  for (;;) {
    if (h->len) {
      h->buf[h->len] = 0;
      if ((end = strstr(h->buf, "\r\n\r\n"))) break;
    }
    if (fill(h) <= 0) return -EIO;
  }
  size_t hdr_len = (size_t)(end - h->buf) + 4;
  int status = 0;
  if (sscanf(h->buf, "HTTP/1.%*d %d", &status) != 1) return -EPROTO;
  long long clen = -1;
  int chunked = 0;
  for (char *l = strstr(h->buf, "\r\n"); l && l < end; l = strstr(l + 2, "\r\n")) {
    const char *p = l + 2;
    if (!strncasecmp(p, "content-length:", 15)) clen = atoll(p + 15);
    if (!strncasecmp(p, "transfer-encoding:", 18) && strstr(p, "chunked") && strstr(p, "chunked") < strstr(p, "\r\n"))
      chunked = 1;
  }
  consume(h, hdr_len);
  char *out = NULL;
  size_t olen = 0;
  if (!chunked) {
    if (clen < 0) clen = 0;
    while (h->len < (size_t)clen)
      if (fill(h) <= 0) return -EIO;
    if (body) {
      out = malloc((size_t)clen + 1);
      memcpy(out, h->buf, (size_t)clen);
      out[clen] = 0;
    }
    consume(h, (size_t)clen);
  } else {
    for (;;) {
      char *crlf;
      for (;;) {
        h->buf[h->len] = 0;
        if ((crlf = strstr(h->buf, "\r\n"))) break;
        if (fill(h) <= 0) return -EIO;
      }
      size_t sz = strtoul(h->buf, NULL, 16);
      size_t skip = (size_t)(crlf - h->buf) + 2;
      while (h->len < skip + sz + 2)
        if (fill(h) <= 0) return -EIO;
      if (body && sz) {
        char *nb = realloc(out, olen + sz + 1);
        if (!nb) return -ENOMEM;
        out = nb;
        memcpy(out + olen, h->buf + skip, sz);
        olen += sz;
        out[olen] = 0;
      }
      consume(h, skip + sz + 2);
      if (sz == 0) break;
    }
    if (body && !out) out = calloc(1, 1);
  }
  if (body) *body = out;
  else free(out);
  return status;
}
