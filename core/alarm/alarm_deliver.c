/* Pagoda alarms — the delivery thread (alarm_deliver.h): one thread, one
 * send at a time, libcurl easy handles with the channel's timeout. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>

#include "alarm/alarm_deliver.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/strbuf.h"

#define MOD "alarm"

typedef struct send_item {
  struct send_item *next;
  const pgd_alarm_channel_t *channel;
  int64_t alarm_id;
  char *subject, *body;
  /* result, filled by the thread */
  int ok;
  char error[256];
  int64_t took_us;
} send_item_t;

struct pgd_alarm_sender {
  uv_loop_t *loop;
  uv_async_t async;
  pgd_alarm_send_done_cb done;
  void *ud;
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  send_item_t *todo, *todo_tail; /* guarded by mu */
  send_item_t *done_list;        /* guarded by mu, newest first */
  int busy;                      /* loop thread: submitted and not yet reported */
  bool stop;                     /* guarded by mu */
};

static void item_free(send_item_t *it) {
  if (!it) return;
  free(it->subject);
  free(it->body);
  free(it);
}

char *pgd_alarm_email_message(const pgd_alarm_channel_t *ch, const char *subject,
                              const char *body, int64_t alarm_id, int64_t date_us) {
  pgd_strbuf_t b = {0};
  char date[64];
  time_t t = (time_t)(date_us / 1000000);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  pgd_strbuf_printf(&b, "Date: %s\r\nFrom: %s\r\nTo: ", date, ch->from);
  for (int i = 0; i < ch->n_to; i++) pgd_strbuf_printf(&b, "%s%s", i ? ", " : "", ch->to[i]);
  /* Subject: one line, CR/LF replaced (a reworded subject must not add headers). */
  pgd_strbuf_puts(&b, "\r\nSubject: ");
  for (const char *p = subject ? subject : "Pagoda alarm"; *p; p++)
    pgd_strbuf_append(&b, (*p == '\r' || *p == '\n') ? " " : p, 1);
  pgd_strbuf_printf(&b,
                    "\r\nMessage-ID: <pagoda-alarm-%lld-%lld@pagoda>\r\nX-Pagoda-Alarm-Id: %lld\r\n"
                    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    "Content-Transfer-Encoding: 8bit\r\n\r\n",
                    (long long)alarm_id, (long long)date_us, (long long)alarm_id);
  /* Body lines end in CRLF; a line starting with "." is dot-stuffed by libcurl. */
  for (const char *p = body ? body : ""; *p; p++) {
    if (*p == '\n' && (p == body || p[-1] != '\r')) pgd_strbuf_append(&b, "\r", 1);
    pgd_strbuf_append(&b, p, 1);
  }
  pgd_strbuf_puts(&b, "\r\n");
  return pgd_strbuf_take(&b);
}

typedef struct {
  const char *data;
  size_t len, off;
} reader_t;

static size_t read_cb(char *buf, size_t size, size_t nmemb, void *ud) {
  reader_t *r = ud;
  size_t n = size * nmemb;
  if (n > r->len - r->off) n = r->len - r->off;
  memcpy(buf, r->data + r->off, n);
  r->off += n;
  return n;
}

static size_t discard_cb(char *p, size_t size, size_t nmemb, void *ud) {
  (void)p;
  (void)ud;
  return size * nmemb;
}

static void send_webhook(CURL *c, send_item_t *it) {
  const pgd_alarm_channel_t *ch = it->channel;
  struct curl_slist *h = NULL;
  char line[160];
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "User-Agent: pagoda-alarms");
  snprintf(line, sizeof line, "X-Pagoda-Alarm-Id: %lld", (long long)it->alarm_id);
  h = curl_slist_append(h, line);
  if (ch->secret) {
    char sig[PGD_ALARM_SIGNATURE_LEN + 1];
    if (pgd_alarm_sign(ch->secret, it->body, strlen(it->body), sig, sizeof sig) == 0) {
      snprintf(line, sizeof line, "X-Pagoda-Signature: %s", sig);
      h = curl_slist_append(h, line);
    }
  }
  curl_easy_setopt(c, CURLOPT_URL, ch->url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, it->body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(it->body));
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_cb);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK)
    snprintf(it->error, sizeof it->error, "%s", curl_easy_strerror(rc));
  else if (status < 200 || status > 299)
    snprintf(it->error, sizeof it->error, "HTTP status %ld", status);
  else
    it->ok = 1;
  curl_slist_free_all(h);
}

static void send_email(CURL *c, send_item_t *it) {
  const pgd_alarm_channel_t *ch = it->channel;
  char *msg = pgd_alarm_email_message(ch, it->subject, it->body, it->alarm_id, pgd_now_us());
  if (!msg) {
    snprintf(it->error, sizeof it->error, "out of memory");
    return;
  }
  reader_t r = {msg, strlen(msg), 0};
  struct curl_slist *rcpt = NULL;
  char addr[512];
  for (int i = 0; i < ch->n_to; i++) {
    snprintf(addr, sizeof addr, "<%s>", ch->to[i]);
    rcpt = curl_slist_append(rcpt, addr);
  }
  snprintf(addr, sizeof addr, "<%s>", ch->from);
  curl_easy_setopt(c, CURLOPT_URL, ch->url);
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, addr);
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(c, CURLOPT_READDATA, &r);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  if (ch->starttls) curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
  if (ch->username) curl_easy_setopt(c, CURLOPT_USERNAME, ch->username);
  if (ch->password) curl_easy_setopt(c, CURLOPT_PASSWORD, ch->password);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK)
    snprintf(it->error, sizeof it->error, "%s", curl_easy_strerror(rc));
  else
    it->ok = 1;
  curl_slist_free_all(rcpt);
  free(msg);
}

static void perform(send_item_t *it) {
  uint64_t t0 = pgd_mono_ns();
  CURL *c = curl_easy_init();
  if (!c) {
    snprintf(it->error, sizeof it->error, "cannot create a curl handle");
    return;
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, it->channel->timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, it->channel->timeout_ms);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, it->channel->tls_verify ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, it->channel->tls_verify ? 2L : 0L);
  if (it->channel->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, it->channel->ca_file);
  if (it->channel->type == PGD_ALARM_CH_WEBHOOK)
    send_webhook(c, it);
  else
    send_email(c, it);
  curl_easy_cleanup(c);
  it->took_us = (int64_t)((pgd_mono_ns() - t0) / 1000);
}

static void *thread_main(void *arg) {
  pgd_alarm_sender_t *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->stop && !s->todo) pthread_cond_wait(&s->cv, &s->mu);
    if (s->stop) break;
    send_item_t *it = s->todo;
    s->todo = it->next;
    if (!s->todo) s->todo_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    perform(it);
    pthread_mutex_lock(&s->mu);
    it->next = s->done_list;
    s->done_list = it;
    uv_async_send(&s->async);
  }
  pthread_mutex_unlock(&s->mu);
  return NULL;
}

static void on_async(uv_async_t *a) {
  pgd_alarm_sender_t *s = a->data;
  pthread_mutex_lock(&s->mu);
  send_item_t *list = s->done_list;
  s->done_list = NULL;
  pthread_mutex_unlock(&s->mu);
  /* reverse: report in completion order */
  send_item_t *rev = NULL;
  while (list) {
    send_item_t *n = list->next;
    list->next = rev;
    rev = list;
    list = n;
  }
  while (rev) {
    send_item_t *it = rev;
    rev = it->next;
    if (--s->busy == 0) uv_unref((uv_handle_t *)&s->async);
    pgd_alarm_send_result_t res = {.alarm_id = it->alarm_id,
                                   .channel = it->channel->name,
                                   .ok = it->ok,
                                   .error = it->error,
                                   .took_us = it->took_us};
    s->done(s->ud, &res);
    item_free(it);
  }
}

static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static void on_closed(uv_handle_t *h) {
  pgd_alarm_sender_t *s = h->data;
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
}

int pgd_alarm_sender_new(uv_loop_t *loop, pgd_alarm_send_done_cb done, void *ud,
                         pgd_alarm_sender_t **out) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, global_init);
  pgd_alarm_sender_t *s = calloc(1, sizeof *s);
  if (!s) return -ENOMEM;
  s->loop = loop;
  s->done = done;
  s->ud = ud;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  int rc = uv_async_init(loop, &s->async, on_async);
  if (rc < 0) {
    free(s);
    return rc;
  }
  s->async.data = s;
  uv_unref((uv_handle_t *)&s->async);
  if ((rc = pthread_create(&s->thread, NULL, thread_main, s)) != 0) {
    uv_close((uv_handle_t *)&s->async, on_closed);
    return -rc;
  }
  *out = s;
  return 0;
}

int pgd_alarm_sender_submit(pgd_alarm_sender_t *s, const pgd_alarm_send_t *send) {
  send_item_t *it = calloc(1, sizeof *it);
  if (!it) return -ENOMEM;
  it->channel = send->channel;
  it->alarm_id = send->alarm_id;
  it->subject = strdup(send->subject ? send->subject : "");
  it->body = strdup(send->body ? send->body : "{}");
  if (!it->subject || !it->body) {
    item_free(it);
    return -ENOMEM;
  }
  pthread_mutex_lock(&s->mu);
  if (s->todo_tail)
    s->todo_tail->next = it;
  else
    s->todo = it;
  s->todo_tail = it;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  if (s->busy++ == 0) uv_ref((uv_handle_t *)&s->async);
  return 0;
}

int pgd_alarm_sender_busy(const pgd_alarm_sender_t *s) { return s ? s->busy : 0; }

void pgd_alarm_sender_free(pgd_alarm_sender_t *s) {
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->stop = true;
  pthread_cond_signal(&s->cv);
  pthread_mutex_unlock(&s->mu);
  pthread_join(s->thread, NULL);
  send_item_t *lists[2] = {s->todo, s->done_list};
  for (int i = 0; i < 2; i++)
    while (lists[i]) {
      send_item_t *n = lists[i]->next;
      item_free(lists[i]);
      lists[i] = n;
    }
  s->todo = s->todo_tail = s->done_list = NULL;
  uv_close((uv_handle_t *)&s->async, on_closed);
}
