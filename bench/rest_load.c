/* Pagoda benchmark — a lean REST load generator: N keep-alive HTTP/1.1
 * connections to 127.0.0.1:PORT, M requests in total spread over them, each
 * `POST /api/v1/jobs/NAME/run` with the body `{}` and the admin token of a
 * `pagoda dev` (its DATA/admin.token) as `Authorization: Bearer TOKEN`.
 *
 * Why: bench/throughput.py's Python submitter (http.client, one thread per
 * connection) spends ~0.2 ms of CPU per request on the same 2 CPUs as the
 * daemon and its children, so the REST phases measured Python as much as
 * Pagoda. This program is what throughput.py runs by default (`--client c`);
 * like wrk for a web server, it costs a small fraction of that per request.
 *
 * How: ONE thread, one epoll loop (level-triggered) over all connections,
 * one request in flight per connection (no pipelining): a request costs a
 * write(), a share of an epoll_wait() and usually one read(). The loop can
 * never take more than one CPU.
 *
 * Plain HTTP only: no TLS (`pagoda dev` serves plain HTTP on loopback; a
 * daemon with --http-tls-cert needs bench/bench_throughput.py --tls).
 *
 * Usage:
 *   bench_rest_load --port PORT --token-file FILE [--job NAME]
 *                   [--connections N] [--requests M] [--timeout-s S]
 *   (defaults: job `true`, 1 connection, 1000 requests, 60 s without an
 *   answer on a connection = error)
 *
 * Output (stdout, one JSON object): connections, requests, wall_s (connect
 * of the first connection -> last answer), cpu_s / cpu_user_s / cpu_sys_s
 * (this process's getrusage, start -> last answer: start-up included),
 * cpu_ms_per_request, rtt_p50_ms / rtt_p99_ms / rtt_max_ms (request written
 * -> answer complete), ids (the execution ids, in answer order).
 *
 * Errors: any connection error, any answer that is not 201, and any
 * malformed answer (status line, headers, framing, JSON body without an
 * integer execution_id) stop the run with a message on stderr and exit 1;
 * nothing is retried. Bad arguments exit 2. Answers are framed by
 * Content-Length or chunked transfer coding; an answer framed by neither, or
 * longer than 64 KiB, is an error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RL_BUF_SIZE 65536 /* per connection: one whole answer must fit */
#define RL_MAX_CONNECTIONS 1024
#define RL_MAX_REQUESTS 100000000L
#define RL_MAX_TOKEN 512
#define RL_MAX_JOB_NAME 200

/* One keep-alive connection and the request in flight on it. */
typedef struct rl_conn {
  int fd;
  int index;          /* for messages */
  long quota;         /* requests this connection still has to send */
  long answered;      /* answers received on it */
  size_t sent;        /* bytes of the current request written */
  int64_t sent_ns;    /* when the current request was fully written */
  int in_flight;      /* a request is written (or being written) and unanswered */
  char buf[RL_BUF_SIZE];
  size_t len;         /* bytes in buf */
} rl_conn_t;

/* The run: what is sent, and what has come back. */
typedef struct rl_run {
  char *request; /* the whole request (head + body), identical for every send */
  size_t request_len;
  int64_t *ids;  /* execution ids, in answer order */
  int64_t *rtt_ns;
  long done;     /* answers recorded in ids / rtt_ns */
} rl_run_t;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench_rest_load: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench_rest_load: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputs("\nusage: bench_rest_load --port PORT --token-file FILE [--job NAME] [--connections N]"
        " [--requests M] [--timeout-s S]\n",
        stderr);
  va_end(ap);
  exit(2);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long parse_long(const char *s, const char *what, long lo, long hi) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi)
    usage_error("%s must be an integer in [%ld, %ld], not '%s'", what, lo, hi, s);
  return v;
}

/* The n bytes at p for a message (at most out_size - 1 of them): printable
 * ASCII, every other byte as '?'. */
static void excerpt(char *out, size_t out_size, const char *p, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n && k + 1 < out_size; i++)
    out[k++] = (p[i] >= 32 && p[i] < 127) ? p[i] : '?';
  out[k] = 0;
}

/* The token: the first line of the file, printable ASCII without spaces (it
 * goes into a header line). Caller frees. */
static char *read_token(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) usage_error("cannot open token file %s: %s", path, strerror(errno));
  char line[RL_MAX_TOKEN + 2];
  char *ok = fgets(line, sizeof line, f);
  fclose(f);
  if (!ok) usage_error("token file %s is empty", path);
  line[strcspn(line, "\r\n")] = 0;
  size_t n = strlen(line);
  if (n == 0) usage_error("token file %s: empty first line", path);
  if (n > RL_MAX_TOKEN) usage_error("token file %s: token longer than %d bytes", path, RL_MAX_TOKEN);
  for (size_t i = 0; i < n; i++)
    if (line[i] <= 32 || line[i] >= 127)
      usage_error("token file %s: the token holds a byte that is not printable ASCII", path);
  char *t = strdup(line);
  if (!t) die("out of memory");
  return t;
}

/* Job names go into the path unescaped: only characters that need no
 * percent-encoding are accepted. */
static void check_job_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > RL_MAX_JOB_NAME) usage_error("--job must be 1..%d characters", RL_MAX_JOB_NAME);
  for (size_t i = 0; i < n; i++)
    if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
      usage_error("--job '%s': only letters, digits, '.', '_' and '-' are accepted here", name);
}

static int open_connection(int port, int index) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die("connection %d: socket: %s", index, strerror(errno));
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
    die("connection %d: connect to 127.0.0.1:%d: %s", index, port, strerror(errno));
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
    die("connection %d: TCP_NODELAY: %s", index, strerror(errno));
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
    die("connection %d: O_NONBLOCK: %s", index, strerror(errno));
  return fd;
}

/* ---- answer parsing. All functions work on the bytes received so far and
 * return 0 = incomplete (read more), > 0 = complete, and die() on anything
 * malformed. */

/* A header's value: `line` .. `eol` is "Name: value"; returns the value with
 * leading and trailing blanks cut, in *v / *vn, when the name matches. */
static int header_is(const char *line, const char *eol, const char *name, const char **v, size_t *vn) {
  size_t nl = strlen(name);
  if ((size_t)(eol - line) < nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':') return 0;
  const char *p = line + nl + 1, *e = eol;
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
  *v = p;
  *vn = (size_t)(e - p);
  return 1;
}

/* Decimal digits only, no sign, no overflow; -1 when not. */
static long long parse_digits(const char *p, size_t n, long long max) {
  if (n == 0 || n > 18) return -1;
  long long v = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return -1;
    v = v * 10 + (p[i] - '0');
  }
  return v > max ? -1 : v;
}

typedef struct rl_head {
  int status;
  size_t head_len;     /* status line + headers + the empty line */
  long long content_length; /* -1 = none */
  int chunked;
  int close;           /* Connection: close */
} rl_head_t;

/* Parses the head of the answer in c->buf. 0 = incomplete, 1 = parsed. */
static int parse_head(rl_conn_t *c, rl_head_t *h) {
  char ex[120];
  const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
  if (!end) {
    if (c->len == sizeof c->buf)
      die("connection %d: an answer's head is longer than %d bytes", c->index, RL_BUF_SIZE);
    return 0;
  }
  memset(h, 0, sizeof *h);
  h->content_length = -1;
  h->head_len = (size_t)(end - c->buf) + 4;
  const char *eol = memmem(c->buf, h->head_len, "\r\n", 2);
  /* "HTTP/1.x NNN reason" */
  if (eol - c->buf < 12 || (memcmp(c->buf, "HTTP/1.1 ", 9) != 0 && memcmp(c->buf, "HTTP/1.0 ", 9) != 0) ||
      !isdigit((unsigned char)c->buf[9]) || !isdigit((unsigned char)c->buf[10]) ||
      !isdigit((unsigned char)c->buf[11]) || (eol - c->buf > 12 && c->buf[12] != ' ')) {
    excerpt(ex, sizeof ex, c->buf, (size_t)(eol - c->buf));
    die("connection %d: malformed status line '%s'", c->index, ex);
  }
  h->status = (c->buf[9] - '0') * 100 + (c->buf[10] - '0') * 10 + (c->buf[11] - '0');
  if (c->buf[7] == '0') h->close = 1; /* HTTP/1.0: closes unless told otherwise */
  for (const char *line = eol + 2; line < end;) {
    const char *le = memmem(line, (size_t)(end + 2 - line), "\r\n", 2);
    const char *v;
    size_t vn;
    if (!memchr(line, ':', (size_t)(le - line))) {
      excerpt(ex, sizeof ex, line, (size_t)(le - line));
      die("connection %d: malformed header line '%s'", c->index, ex);
    }
    if (header_is(line, le, "content-length", &v, &vn)) {
      long long cl = parse_digits(v, vn, RL_BUF_SIZE * 16LL);
      if (cl < 0 || (h->content_length >= 0 && cl != h->content_length)) {
        excerpt(ex, sizeof ex, line, (size_t)(le - line));
        die("connection %d: bad or conflicting header '%s'", c->index, ex);
      }
      h->content_length = cl;
    } else if (header_is(line, le, "transfer-encoding", &v, &vn)) {
      if (vn != 7 || strncasecmp(v, "chunked", 7) != 0) {
        excerpt(ex, sizeof ex, line, (size_t)(le - line));
        die("connection %d: unsupported '%s' (only chunked is)", c->index, ex);
      }
      h->chunked = 1;
    } else if (header_is(line, le, "connection", &v, &vn)) {
      if (vn == 5 && strncasecmp(v, "close", 5) == 0) h->close = 1;
      if (vn == 10 && strncasecmp(v, "keep-alive", 10) == 0) h->close = 0;
    }
    line = le + 2;
  }
  if (h->chunked && h->content_length >= 0)
    die("connection %d: an answer with both Content-Length and chunked coding", c->index);
  if (!h->chunked && h->content_length < 0)
    die("connection %d: an answer (status %d) framed by neither Content-Length nor chunked "
        "coding",
        c->index, h->status);
  return 1;
}

/* The chunked body starting at p (n bytes received): 0 = incomplete, else the
 * bytes it takes (up to and with the last CRLF); the data is copied to
 * out (size out_size, NUL-terminated), its length in *out_len. Trailers are
 * accepted and ignored. */
static size_t parse_chunked(const rl_conn_t *c, const char *p, size_t n, char *out, size_t out_size,
                            size_t *out_len) {
  size_t at = 0, olen = 0;
  for (;;) {
    const char *le = memmem(p + at, n - at, "\r\n", 2);
    if (!le) return 0;
    size_t sz = 0, digits = 0;
    const char *q = p + at;
    for (; q < le && isxdigit((unsigned char)*q); q++, digits++) {
      if (sz > RL_BUF_SIZE) die("connection %d: a chunk larger than %d bytes", c->index, RL_BUF_SIZE);
      sz = sz * 16 + (size_t)(isdigit((unsigned char)*q) ? *q - '0' : (tolower((unsigned char)*q) - 'a' + 10));
    }
    if (digits == 0 || (q < le && *q != ';' && *q != ' ' && *q != '\t'))
      die("connection %d: malformed chunk size line", c->index);
    at = (size_t)(le - p) + 2;
    if (sz == 0) {
      /* trailers, then an empty line */
      for (;;) {
        const char *te = memmem(p + at, n - at, "\r\n", 2);
        if (!te) return 0;
        size_t line_len = (size_t)(te - (p + at));
        at += line_len + 2;
        if (line_len == 0) {
          out[olen] = 0;
          *out_len = olen;
          return at;
        }
      }
    }
    if (n - at < sz + 2) return 0;
    if (olen + sz + 1 > out_size) die("connection %d: a chunked body larger than %d bytes", c->index, RL_BUF_SIZE);
    memcpy(out + olen, p + at, sz);
    olen += sz;
    if (p[at + sz] != '\r' || p[at + sz + 1] != '\n') die("connection %d: a chunk without its CRLF", c->index);
    at += sz + 2;
  }
}

/* The execution id of a 201 answer's body: a JSON object with an integer
 * "execution_id" > 0. */
static int64_t execution_id_of(const rl_conn_t *c, const char *body, size_t n) {
  char ex[200];
  cJSON *j = cJSON_ParseWithLength(body, n);
  const cJSON *id = j ? cJSON_GetObjectItemCaseSensitive(j, "execution_id") : NULL;
  double v = cJSON_IsNumber(id) ? id->valuedouble : -1;
  cJSON_Delete(j);
  if (!(v >= 1 && v <= 9007199254740992.0) || v != (double)(int64_t)v) {
    excerpt(ex, sizeof ex, body, n);
    die("connection %d: a 201 answer without an integer execution_id: '%s'", c->index, ex);
  }
  return (int64_t)v;
}

/* ---- the loop */

/* Writes (the rest of) the current request. Returns 1 when it is all
 * written, 0 when the socket is full (wait for EPOLLOUT). */
static int send_request(rl_conn_t *c, const rl_run_t *run) {
  while (c->sent < run->request_len) {
    ssize_t w = write(c->fd, run->request + c->sent, run->request_len - c->sent);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (w <= 0)
      die("connection %d: write after %ld answers: %s", c->index, c->answered,
          w < 0 ? strerror(errno) : "wrote nothing");
    c->sent += (size_t)w;
  }
  c->sent_ns = now_ns();
  return 1;
}

static void watch(int ep, rl_conn_t *c, uint32_t events, int op) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(ep, op, c->fd, &ev) != 0) die("connection %d: epoll_ctl: %s", c->index, strerror(errno));
}

/* Starts the next request on c, or closes it when its quota is spent.
 * Returns 1 if c is still open. */
static int next_request(int ep, rl_conn_t *c, const rl_run_t *run, int *open_conns) {
  if (c->quota == 0) {
    if (epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL) != 0)
      die("connection %d: epoll_ctl: %s", c->index, strerror(errno));
    close(c->fd);
    c->fd = -1;
    (*open_conns)--;
    return 0;
  }
  c->quota--;
  c->sent = 0;
  c->in_flight = 1;
  if (!send_request(c, run)) watch(ep, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
  return 1;
}

/* Reads what is there and handles a complete answer. */
static void on_readable(int ep, rl_conn_t *c, rl_run_t *run, int *open_conns) {
  static char chunked_body[RL_BUF_SIZE];
  char ex[200];
  ssize_t r;
  do r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
  while (r < 0 && errno == EINTR);
  if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
  if (r < 0) die("connection %d: read after %ld answers: %s", c->index, c->answered, strerror(errno));
  if (r == 0) {
    if (c->len) {
      excerpt(ex, sizeof ex, c->buf, c->len);
      die("connection %d: closed by the daemon in the middle of an answer: '%s'", c->index, ex);
    }
    die("connection %d: closed by the daemon after %ld answers%s", c->index, c->answered,
        c->in_flight ? " (a request unanswered)" : "");
  }
  c->len += (size_t)r;
  if (!c->in_flight) {
    excerpt(ex, sizeof ex, c->buf, c->len);
    die("connection %d: bytes from the daemon with no request in flight: '%s'", c->index, ex);
  }
  rl_head_t h;
  if (!parse_head(c, &h)) return;
  const char *body;
  size_t body_len, total;
  if (h.chunked) {
    size_t used = parse_chunked(c, c->buf + h.head_len, c->len - h.head_len, chunked_body,
                                sizeof chunked_body, &body_len);
    if (used == 0) {
      if (c->len == sizeof c->buf) die("connection %d: an answer longer than %d bytes", c->index, RL_BUF_SIZE);
      return;
    }
    body = chunked_body;
    total = h.head_len + used;
  } else {
    if ((long long)(sizeof c->buf - h.head_len) < h.content_length)
      die("connection %d: an answer longer than %d bytes", c->index, RL_BUF_SIZE);
    if ((long long)(c->len - h.head_len) < h.content_length) return;
    body = c->buf + h.head_len;
    body_len = (size_t)h.content_length;
    total = h.head_len + body_len;
  }
  int64_t t = now_ns();
  if (h.status != 201) {
    excerpt(ex, sizeof ex, body, body_len);
    die("connection %d: answer %ld: HTTP %d (not 201): '%s'", c->index, c->answered + 1, h.status, ex);
  }
  if (c->len != total) {
    excerpt(ex, sizeof ex, c->buf + total, c->len - total);
    die("connection %d: %zu unexpected bytes after an answer: '%s'", c->index, c->len - total, ex);
  }
  run->ids[run->done] = execution_id_of(c, body, body_len);
  run->rtt_ns[run->done] = t - c->sent_ns;
  run->done++;
  c->answered++;
  c->len = 0;
  c->in_flight = 0;
  if (h.close && c->quota > 0)
    die("connection %d: the daemon closes the connection (Connection: close) after %ld answers; "
        "%ld requests left on it",
        c->index, c->answered, c->quota);
  next_request(ep, c, run, open_conns);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted values (n > 0), in ms. */
static double pct_ms(const int64_t *sorted, long n, double p) {
  long k = (long)((p / 100.0) * (double)n + 0.999999999) - 1;
  if (k < 0) k = 0;
  if (k >= n) k = n - 1;
  return (double)sorted[k] / 1e6;
}

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

int main(int argc, char **argv) {
  static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                       {"token-file", required_argument, NULL, 't'},
                                       {"job", required_argument, NULL, 'j'},
                                       {"connections", required_argument, NULL, 'c'},
                                       {"requests", required_argument, NULL, 'n'},
                                       {"timeout-s", required_argument, NULL, 'T'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  long port = -1, connections = 1, requests = 1000, timeout_s = 60;
  const char *token_file = NULL, *job = "true";
  int o;
  while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (o) {
    case 'p': port = parse_long(optarg, "--port", 1, 65535); break;
    case 't': token_file = optarg; break;
    case 'j': job = optarg; break;
    case 'c': connections = parse_long(optarg, "--connections", 1, RL_MAX_CONNECTIONS); break;
    case 'n': requests = parse_long(optarg, "--requests", 1, RL_MAX_REQUESTS); break;
    case 'T': timeout_s = parse_long(optarg, "--timeout-s", 1, 3600); break;
    case 'h':
      printf("usage: bench_rest_load --port PORT --token-file FILE [--job NAME] [--connections N]"
             " [--requests M] [--timeout-s S]\n(see the comment at the top of bench/rest_load.c)\n");
      return 0;
    default: usage_error("unknown option");
    }
  }
  if (optind != argc) usage_error("unexpected argument '%s'", argv[optind]);
  if (port < 0) usage_error("--port is required");
  if (!token_file) usage_error("--token-file is required (a pagoda dev's DATA/admin.token)");
  check_job_name(job);
  if (connections > requests) connections = requests; /* an idle connection measures nothing */

  char *token = read_token(token_file);
  rl_run_t run = {0};
  size_t cap = strlen(job) + strlen(token) + 256;
  run.request = malloc(cap);
  if (!run.request) die("out of memory");
  int rl = snprintf(run.request, cap,
                    "POST /api/v1/jobs/%s/run HTTP/1.1\r\nHost: 127.0.0.1:%ld\r\n"
                    "Content-Type: application/json\r\nAccept: application/json\r\n"
                    "Authorization: Bearer %s\r\nContent-Length: 2\r\n\r\n{}",
                    job, port, token);
  free(token);
  if (rl < 0 || (size_t)rl >= cap) die("request too long");
  run.request_len = (size_t)rl;
  run.ids = calloc((size_t)requests, sizeof *run.ids);
  run.rtt_ns = calloc((size_t)requests, sizeof *run.rtt_ns);
  rl_conn_t *conns = calloc((size_t)connections, sizeof *conns);
  if (!run.ids || !run.rtt_ns || !conns) die("out of memory");

  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1: %s", strerror(errno));
  int64_t t0 = now_ns();
  int open_conns = 0;
  for (long i = 0; i < connections; i++) {
    rl_conn_t *c = &conns[i];
    c->index = (int)i;
    c->quota = requests / connections + (i < requests % connections ? 1 : 0);
    c->fd = open_connection((int)port, c->index);
    open_conns++;
    watch(ep, c, EPOLLIN, EPOLL_CTL_ADD);
  }
  for (long i = 0; i < connections; i++) next_request(ep, &conns[i], &run, &open_conns);

  struct epoll_event evs[64];
  while (open_conns > 0) {
    int k = epoll_wait(ep, evs, 64, (int)timeout_s * 1000);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) die("epoll_wait: %s", strerror(errno));
    if (k == 0) die("no answer on any connection for %ld s (%ld of %ld answered)", timeout_s, run.done, requests);
    for (int i = 0; i < k; i++) {
      rl_conn_t *c = evs[i].data.ptr;
      if (c->fd < 0) continue; /* closed by an earlier event of this batch */
      if ((evs[i].events & EPOLLOUT) && c->in_flight && c->sent < run.request_len) {
        if (send_request(c, &run)) watch(ep, c, EPOLLIN, EPOLL_CTL_MOD);
      }
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(ep, c, &run, &open_conns);
    }
  }
  int64_t t1 = now_ns();
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) die("getrusage: %s", strerror(errno));
  close(ep);
  if (run.done != requests) die("internal: %ld answers for %ld requests", run.done, requests);

  double user = tv_s(ru.ru_utime), sys = tv_s(ru.ru_stime);
  int64_t *sorted = malloc((size_t)requests * sizeof *sorted);
  if (!sorted) die("out of memory");
  memcpy(sorted, run.rtt_ns, (size_t)requests * sizeof *sorted);
  qsort(sorted, (size_t)requests, sizeof *sorted, cmp_i64);
  printf("{\"client\": \"c\", \"connections\": %ld, \"requests\": %ld, \"wall_s\": %.6f, "
         "\"cpu_s\": %.6f, \"cpu_user_s\": %.6f, \"cpu_sys_s\": %.6f, \"cpu_ms_per_request\": %.6f, "
         "\"rtt_p50_ms\": %.4f, \"rtt_p99_ms\": %.4f, \"rtt_max_ms\": %.4f, \"ids\": [",
         connections, requests, (double)(t1 - t0) / 1e9, user + sys, user, sys,
         (user + sys) * 1000.0 / (double)requests, pct_ms(sorted, requests, 50),
         pct_ms(sorted, requests, 99), (double)sorted[requests - 1] / 1e6);
  for (long i = 0; i < requests; i++) printf(i ? ", %" PRId64 : "%" PRId64, run.ids[i]);
  printf("]}\n");
  free(sorted);
  free(conns);
  free(run.ids);
  free(run.rtt_ns);
  free(run.request);
  if (fflush(stdout) != 0 || ferror(stdout)) die("writing the result: %s", strerror(errno));
  return 0;
}
