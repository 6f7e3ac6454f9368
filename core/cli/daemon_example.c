#include "cli/daemon_example.h"
#include "cli/client_token.h"
#include "common/json.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXAMPLE_JOB                                                                      \
  "{\"name\":\"hello\",\"type\":\"shell\",\"timeout\":60,"                               \
  "\"params\":{\"script\":\"echo \\\"Hello from Pagoda, execution "                      \
  "$PAGODA_EXECUTION_ID of job $PAGODA_JOB on $(hostname)\\\"; for i in 1 2 3; do echo " \
  "\\\"step $i\\\"; sleep 0.2; done\"}}"

struct pgd_example {
  uv_thread_t thread;
  char *base;
  char *token_file; /* shown in the curl commands printed */
  char *auth;       /* "Authorization: Bearer ..." */
  atomic_int cancelled;
};

typedef struct buf {
  char *data;
  size_t len;
} buf_t;

static size_t collect(char *p, size_t sz, size_t n, void *ud) {
  buf_t *b = ud;
  char *nd = realloc(b->data, b->len + sz * n + 1);
  if (!nd) return 0;
  b->data = nd;
  memcpy(b->data + b->len, p, sz * n);
  b->len += sz * n;
  b->data[b->len] = 0;
  return sz * n;
}

static size_t print_chunk(char *p, size_t sz, size_t n, void *ud) {
  (void)ud;
  fwrite(p, sz, n, stdout);
  fflush(stdout);
  return sz * n;
}

static int progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d) {
  (void)a, (void)b, (void)c, (void)d;
  return atomic_load(&((pgd_example_t *)ud)->cancelled) ? 1 : 0;
}

static long request(pgd_example_t *ex, const char *method, const char *path, const char *body,
                    size_t (*sink)(char *, size_t, size_t, void *), void *sink_ud) {
  CURL *c = curl_easy_init();
  if (!c) return -1;
  char url[512];
  snprintf(url, sizeof url, "%s%s", ex->base, path);
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  if (ex->auth) h = curl_slist_append(h, ex->auth);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, sink_ud);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, ex);
  long status = -1;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return status;
}

static void run(void *arg) {
  pgd_example_t *ex = arg;
  buf_t b = {0};
  printf("\nExample: creating job 'hello' (T=\"Authorization: Bearer $(cat %s)\"):\n"
         "  curl -H \"$T\" -H 'Content-Type: application/json' -X POST %s/api/v1/jobs -d '%s'\n",
         ex->token_file, ex->base, EXAMPLE_JOB);
  long st = request(ex, "POST", "/api/v1/jobs", EXAMPLE_JOB, collect, &b);
  if (st != 200 && st != 201) {
    printf("Example: creating the job failed (HTTP %ld): %s\n", st, b.data ? b.data : "");
    goto out;
  }
  free(b.data);
  b = (buf_t){0};
  printf("Example: running it:\n  curl -H \"$T\" -X POST %s/api/v1/jobs/hello/run\n", ex->base);
  st = request(ex, "POST", "/api/v1/jobs/hello/run", "{}", collect, &b);
  cJSON *r = b.data ? cJSON_Parse(b.data) : NULL;
  const cJSON *idj = pgd_json_get(r, "execution_id");
  if (st != 201 || !cJSON_IsNumber(idj)) {
    printf("Example: running the job failed (HTTP %ld): %s\n", st, b.data ? b.data : "");
    cJSON_Delete(r);
    goto out;
  }
  long long id = (long long)idj->valuedouble;
  cJSON_Delete(r);
  char path[128];
  snprintf(path, sizeof path, "/api/v1/executions/%lld/log?follow=1", id);
  printf("Example: execution %lld started; its log (curl -H \"$T\" '%s%s'):\n", id, ex->base, path);
  request(ex, "GET", path, NULL, print_chunk, NULL);
  free(b.data);
  b = (buf_t){0};
  snprintf(path, sizeof path, "/api/v1/executions/%lld", id);
  request(ex, "GET", path, NULL, collect, &b);
  r = b.data ? cJSON_Parse(b.data) : NULL;
  const cJSON *code = pgd_json_get(r, "exit_code");
  const char *state = pgd_json_str(r, "state");
  printf("Example: execution %lld %s, exit code %d. See it with: pagoda exec show %lld\n\n", id,
         state ? state : "(unknown)", cJSON_IsNumber(code) ? (int)code->valuedouble : -1, id);
  cJSON_Delete(r);
out:
  free(b.data);
  fflush(stdout);
}

pgd_example_t *pgd_example_start(uv_loop_t *loop, const char *base_url, const char *token_file) {
  (void)loop;
  pgd_example_t *ex = calloc(1, sizeof *ex);
  if (!ex) return NULL;
  ex->base = strdup(base_url);
  ex->token_file = strdup(token_file);
  char *token = pgd_cli_token_read_file(token_file);
  if (token && asprintf(&ex->auth, "Authorization: Bearer %s", token) < 0) ex->auth = NULL;
  free(token);
  if (uv_thread_create(&ex->thread, run, ex) != 0) {
    free(ex->auth);
    free(ex->token_file);
    free(ex->base);
    free(ex);
    return NULL;
  }
  return ex;
}

void pgd_example_cancel(pgd_example_t *ex) {
  if (ex) atomic_store(&ex->cancelled, 1);
}

void pgd_example_free(pgd_example_t *ex) {
  if (!ex) return;
  atomic_store(&ex->cancelled, 1);
  uv_thread_join(&ex->thread);
  free(ex->auth);
  free(ex->token_file);
  free(ex->base);
  free(ex);
}
