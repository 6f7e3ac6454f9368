/* Unit tests: the CLI's HTTP client and client commands (core/cli/http_client.c,
 * client.c) against a scripted HTTP server on a loopback port in a thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "cli/client.h"
#include "pgd_test.h"
#include "cli/http_client.h"

#define MAX_SCRIPT 8

/* The server answers each connection with the next scripted response and
 * records the request it got. */
typedef struct {
  int fd;
  int port;
  pthread_t thread;
  const char *responses[MAX_SCRIPT];
  int nresponses;
  char requests[MAX_SCRIPT][4096];
  int served;
} server_t;

static void *serve(void *ud) {
  server_t *s = ud;
  for (int i = 0; i < s->nresponses; i++) {
    int c = accept(s->fd, NULL, NULL);
    if (c < 0) break;
    struct timeval tv = {5, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char *req = s->requests[i];
    size_t len = 0;
    /* Read the head, then Content-Length bytes of body. */
    for (;;) {
      ssize_t n = read(c, req + len, sizeof(s->requests[i]) - 1 - len);
      if (n <= 0) break;
      len += (size_t)n;
      req[len] = '\0';
      char *end = strstr(req, "\r\n\r\n");
      if (!end) continue;
      char *cl = strcasestr(req, "Content-Length:");
      size_t want = (size_t)(end + 4 - req) + (cl && cl < end ? strtoul(cl + 15, NULL, 10) : 0);
      if (len >= want || len >= sizeof(s->requests[i]) - 1) break;
    }
    const char *r = s->responses[i];
    size_t rl = strlen(r);
    /* Written in two parts so that a chunk boundary falls mid-response. */
    size_t half = rl / 2;
    if (write(c, r, half) < 0 || write(c, r + half, rl - half) < 0) {
      /* the client went away: fine for the cancellation test */
    }
    s->served = i + 1;
    close(c);
  }
  return NULL;
}

static void server_start(server_t *s) {
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof(a);
  CU_ASSERT_FATAL(bind(s->fd, (struct sockaddr *)&a, sizeof(a)) == 0);
  CU_ASSERT_FATAL(listen(s->fd, 8) == 0);
  getsockname(s->fd, (struct sockaddr *)&a, &al);
  s->port = ntohs(a.sin_port);
  pthread_create(&s->thread, NULL, serve, s);
}

/* Stops accepting (a client that failed early leaves responses unserved;
 * shutdown wakes the blocked accept) and joins the thread. */
static void server_stop(server_t *s) {
  shutdown(s->fd, SHUT_RDWR);
  pthread_join(s->thread, NULL);
  close(s->fd);
}

static char *url(const server_t *s, const char *path) {
  static char buf[128];
  snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", s->port, path);
  return buf;
}

/* A port nobody listens on (bound, then closed). */
static int dead_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof(a);
  bind(fd, (struct sockaddr *)&a, sizeof(a));
  getsockname(fd, (struct sockaddr *)&a, &al);
  close(fd);
  return ntohs(a.sin_port);
}

#define JSON_200(body)                                                                      \
  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " \
  "%zu\r\n\r\n" body

static char *fmt_response(const char *fmt, const char *body) {
  char *r = NULL;
  if (asprintf(&r, fmt, strlen(body)) < 0) return NULL;
  return r;
}

static void test_get_and_post(void) {
  server_t s = {0};
  char *r1 = fmt_response(JSON_200("{\"jobs\":[]}"), "{\"jobs\":[]}");
  char *r2 = fmt_response(
      "HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n{\"name\":\"a\"}",
      "{\"name\":\"a\"}");
  s.responses[0] = r1;
  s.responses[1] = r2;
  s.nresponses = 2;
  server_start(&s);
  pgd_http_response_t resp;
  char err[256];
  CU_ASSERT_EQUAL(pgd_http_request("GET", url(&s, "/api/v1/jobs"), NULL, 0, NULL, NULL, 5000, &resp,
                                   err, sizeof(err)),
                  0);
  CU_ASSERT_EQUAL(resp.status, 200);
  CU_ASSERT_EQUAL(resp.len, strlen("{\"jobs\":[]}"));
  CU_ASSERT_STRING_EQUAL(resp.body, "{\"jobs\":[]}");
  pgd_http_response_free(&resp);
  CU_ASSERT_PTR_NULL(resp.body);

  const char *body = "{\"name\":\"a\",\"type\":\"shell\"}";
  CU_ASSERT_EQUAL(pgd_http_request("POST", url(&s, "/api/v1/jobs"), body, strlen(body), NULL, NULL,
                                   5000, &resp, err, sizeof(err)),
                  0);
  CU_ASSERT_EQUAL(resp.status, 201);
  pgd_http_response_free(&resp);
  server_stop(&s);
  CU_ASSERT_EQUAL(strncmp(s.requests[0], "GET /api/v1/jobs HTTP/1.1\r\n", 27), 0);
  CU_ASSERT_EQUAL(strncmp(s.requests[1], "POST /api/v1/jobs HTTP/1.1\r\n", 28), 0);
  CU_ASSERT_PTR_NOT_NULL(strcasestr(s.requests[1], "Content-Type: application/json"));
  CU_ASSERT_PTR_NOT_NULL(strstr(s.requests[1], body));
  free(r1);
  free(r2);
}

typedef struct {
  char buf[256];
  size_t len;
  int calls;
  int stop;
} sink_t;

static int on_chunk(const char *data, size_t len, void *ud) {
  sink_t *k = ud;
  k->calls++;
  if (k->len + len < sizeof(k->buf)) {
    memcpy(k->buf + k->len, data, len);
    k->len += len;
    k->buf[k->len] = '\0';
  }
  return k->stop;
}

static void test_streaming(void) {
  server_t s = {0};
  s.responses[0] =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
      "6\r\nline1\n\r\n6\r\nline2\n\r\n0\r\n\r\n";
  s.responses[1] =
      "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 24\r\n\r\n"
      "{\"error\":\"no execution\"}";
  s.responses[2] = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nabcde";
  s.nresponses = 3;
  server_start(&s);
  pgd_http_response_t resp;
  char err[256];
  sink_t k = {0};
  CU_ASSERT_EQUAL(pgd_http_request("GET", url(&s, "/log"), NULL, 0, on_chunk, &k, 0, &resp, err,
                                   sizeof(err)),
                  0);
  CU_ASSERT_EQUAL(resp.status, 200);
  CU_ASSERT_PTR_NULL(resp.body);
  CU_ASSERT_STRING_EQUAL(k.buf, "line1\nline2\n");
  CU_ASSERT(k.calls >= 1);
  pgd_http_response_free(&resp);

  /* An error body is collected for its message, not streamed. */
  memset(&k, 0, sizeof(k));
  CU_ASSERT_EQUAL(pgd_http_request("GET", url(&s, "/log"), NULL, 0, on_chunk, &k, 0, &resp, err,
                                   sizeof(err)),
                  0);
  CU_ASSERT_EQUAL(resp.status, 404);
  CU_ASSERT_EQUAL(k.calls, 0);
  CU_ASSERT_STRING_EQUAL(resp.body, "{\"error\":\"no execution\"}");
  pgd_http_response_free(&resp);

  /* The callback can stop the transfer. */
  memset(&k, 0, sizeof(k));
  k.stop = 1;
  CU_ASSERT_EQUAL(pgd_http_request("GET", url(&s, "/log"), NULL, 0, on_chunk, &k, 0, &resp, err,
                                   sizeof(err)),
                  -ECANCELED);
  CU_ASSERT_EQUAL(k.calls, 1);
  pgd_http_response_free(&resp);
  server_stop(&s);
}

static void test_unreachable(void) {
  char u[64];
  snprintf(u, sizeof(u), "http://127.0.0.1:%d/api/v1/jobs", dead_port());
  pgd_http_response_t resp;
  char err[256] = "";
  CU_ASSERT_EQUAL(pgd_http_request("GET", u, NULL, 0, NULL, NULL, 5000, &resp, err, sizeof(err)),
                  -ECONNREFUSED);
  CU_ASSERT(strlen(err) > 0);
  CU_ASSERT_PTR_NULL(resp.body);
  pgd_http_response_free(&resp);
  CU_ASSERT_EQUAL(pgd_http_request("GET", "not a url", NULL, 0, NULL, NULL, 5000, &resp, err,
                                   sizeof(err)),
                  -ECONNREFUSED);
  CU_ASSERT_EQUAL(pgd_http_request(NULL, u, NULL, 0, NULL, NULL, 0, &resp, err, sizeof(err)),
                  -EINVAL);
  CU_ASSERT_EQUAL(pgd_http_request("GET", u, NULL, 0, NULL, NULL, 0, NULL, err, sizeof(err)),
                  -EINVAL);
}

typedef struct {
  FILE *f;
  char *buf;
  size_t len;
} mem_t;

static FILE *mopen(mem_t *m) {
  memset(m, 0, sizeof(*m));
  return m->f = open_memstream(&m->buf, &m->len);
}

/* Runs one client command line against addr; returns the exit code and the
 * captured output and messages (owned by the caller). */
static int run_cli(const char *addr, char **out, char **err, int argc, char **argv) {
  pgd_cli_args_t a;
  char e[256];
  int rc = pgd_cli_args_parse(argc, argv, addr, &a, e, sizeof(e));
  CU_ASSERT_EQUAL_FATAL(rc, 0);
  mem_t mo, me;
  rc = pgd_client_run(&a, mopen(&mo), mopen(&me));
  fclose(mo.f);
  fclose(me.f);
  *out = mo.buf;
  *err = me.buf;
  pgd_cli_args_free(&a);
  return rc;
}

/* A whole response with the given status line tail and body (owned). */
static char *resp_text(const char *status, const char *body) {
  char *r = NULL;
  if (asprintf(&r, "HTTP/1.1 %s\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s", status,
               strlen(body), body) < 0)
    return NULL;
  return r;
}

static void test_client_commands(void) {
  server_t s = {0};
  const char *jobs = "{\"jobs\":[{\"name\":\"hello\",\"type\":\"shell\",\"timeout\":5}]}";
  char *rjobs = NULL;
  CU_ASSERT_FATAL(asprintf(&rjobs,
                           "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
                           strlen(jobs), jobs) > 0);
  s.responses[0] = rjobs;
  char *r1 = resp_text("404 Not Found", "{\"error\":\"no job named zz\"}");
  char *r2 = resp_text("201 Created", "{\"execution_id\":42}");
  char *r3 = resp_text("200 OK", "{\"id\":42,\"state\":\"running\"}");
  char *r4 = resp_text("200 OK", "{\"id\":42,\"state\":\"timed_out\"}");
  s.responses[1] = r1;
  s.responses[2] = r2;
  s.responses[3] = r3;
  s.responses[4] = r4;
  s.nresponses = 5;
  server_start(&s);
  char addr[64];
  snprintf(addr, sizeof(addr), "http://127.0.0.1:%d", s.port);
  char *out, *err;

  char *list[] = {"pagoda", "job", "list", NULL};
  CU_ASSERT_EQUAL(run_cli(addr, &out, &err, 3, list), 0);
  CU_ASSERT_STRING_EQUAL(out, "NAME   TYPE   TIMEOUT  UPDATED\nhello  shell  5        -\n");
  CU_ASSERT_STRING_EQUAL(err, "");
  free(out);
  free(err);

  char *show[] = {"pagoda", "job", "show", "zz", NULL};
  CU_ASSERT_EQUAL(run_cli(addr, &out, &err, 4, show), 1);
  CU_ASSERT_STRING_EQUAL(out, "");
  CU_ASSERT_STRING_EQUAL(err, "pagoda: no job named zz (HTTP 404)\n");
  free(out);
  free(err);

  char *runw[] = {"pagoda", "job", "run", "a b", "--param", "k=v", "--wait", NULL};
  CU_ASSERT_EQUAL(run_cli(addr, &out, &err, 7, runw), 1);
  CU_ASSERT_STRING_EQUAL(out, "42\ntimed_out\n");
  free(out);
  free(err);
  server_stop(&s);
  CU_ASSERT_EQUAL(s.served, 5);
  CU_ASSERT_EQUAL(strncmp(s.requests[1], "GET /api/v1/jobs/zz HTTP/1.1", 28), 0);
  CU_ASSERT_EQUAL(strncmp(s.requests[2], "POST /api/v1/jobs/a%20b/run HTTP/1.1", 36), 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(s.requests[2], "{\"params\":{\"k\":\"v\"}}"));
  CU_ASSERT_EQUAL(strncmp(s.requests[4], "GET /api/v1/executions/42 HTTP/1.1", 34), 0);
  free(rjobs);
  free(r1);
  free(r2);
  free(r3);
  free(r4);

  /* Nobody listening. */
  snprintf(addr, sizeof(addr), "http://127.0.0.1:%d", dead_port());
  CU_ASSERT_EQUAL(run_cli(addr, &out, &err, 3, list), 1);
  CU_ASSERT_STRING_EQUAL(out, "");
  char want[128];
  snprintf(want, sizeof(want), "pagoda: cannot reach the Pagoda API at %s: ", addr);
  CU_ASSERT_EQUAL(strncmp(err, want, strlen(want)), 0);
  free(out);
  free(err);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  if (pgd_http_global_init() != 0) return 1;
  CU_pSuite s = CU_add_suite("cli_http", NULL, NULL);
  CU_add_test(s, "get and post", test_get_and_post);
  CU_add_test(s, "streaming", test_streaming);
  CU_add_test(s, "unreachable", test_unreachable);
  CU_add_test(s, "client commands", test_client_commands);
  int rc = pgd_test_run();
  pgd_http_global_cleanup();
  return rc;
}
