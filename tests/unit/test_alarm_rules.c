/* Unit tests of core/alarm's pure parts (alarm_rules.h): configuration and
 * rule parsing with their messages, matching, grouping keys and windows,
 * the retry backoff, the webhook signature (RFC 4231 vectors), the e-mail
 * message, and the Lua alarm hooks (drop, reword, route, errors, a runaway
 * script stopped by its budget). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "alarm/alarm_deliver.h"
#include "alarm/alarm_hook.h"
#include "alarm/alarm_rules.h"
#include "pgd_test.h"

#define S 1000000LL

static int parse_rule(const char *json, bool targeted, const pgd_alarm_config_t *c,
                      pgd_alarm_rule_t *r, char *err, size_t errlen) {
  cJSON *j = cJSON_Parse(json);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  int rc = pgd_alarm_rule_parse(j, "t.0", targeted, 600 * S, c, r, err, errlen);
  cJSON_Delete(j);
  return rc;
}

static int parse_config(const char *json, pgd_alarm_config_t *c, char *err, size_t errlen) {
  cJSON *j = cJSON_Parse(json);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  int rc = pgd_alarm_config_parse(j, c, err, errlen);
  cJSON_Delete(j);
  return rc;
}

static void test_events(void) {
  for (int i = 0; i < PGD_ALARM_EV__COUNT; i++)
    CU_ASSERT_EQUAL(pgd_alarm_event_parse(pgd_alarm_event_name((pgd_alarm_event_t)i)), i);
  CU_ASSERT_EQUAL(pgd_alarm_event_parse("succeeded"), -1);
  CU_ASSERT_EQUAL(pgd_alarm_event_parse(NULL), -1);
  CU_ASSERT_PTR_NULL(pgd_alarm_event_name(PGD_ALARM_EV__COUNT));
}

static void test_rule_parse(void) {
  pgd_alarm_rule_t r;
  char err[512];
  CU_ASSERT_EQUAL(parse_rule("{\"on\":[\"failed\",\"lost\"],\"job\":\"etl-*\",\"group_window\":\"5m\"}",
                             true, NULL, &r, err, sizeof err), 0);
  CU_ASSERT_EQUAL(r.events, (1u << PGD_ALARM_EV_FAILED) | (1u << PGD_ALARM_EV_LOST));
  CU_ASSERT_STRING_EQUAL(r.job, "etl-*");
  CU_ASSERT_EQUAL(r.group_window_us, 300 * S);
  CU_ASSERT_EQUAL(r.n_channels, 0);
  pgd_alarm_rule_free(&r);
  /* one string for "on"; an SLA implies sla_missed */
  CU_ASSERT_EQUAL(parse_rule("{\"on\":\"misfire\",\"sla\":{\"start_within\":30,\"finish_by\":\"06:30\"}}",
                             false, NULL, &r, err, sizeof err), 0);
  CU_ASSERT_EQUAL(r.events, (1u << PGD_ALARM_EV_MISFIRE) | (1u << PGD_ALARM_EV_SLA_MISSED));
  CU_ASSERT_EQUAL(r.sla_start_within_us, 30 * S);
  CU_ASSERT_EQUAL(r.sla_finish_within_us, -1);
  CU_ASSERT_EQUAL(r.sla_finish_by_s, 6 * 3600 + 30 * 60);
  CU_ASSERT_EQUAL(r.group_window_us, 600 * S);
  pgd_alarm_rule_free(&r);

  static const struct { const char *json; bool targeted; const char *msg; } bad[] = {
      {"{\"on\":[\"exploded\"]}", true, "unknown event 'exploded'"},
      {"{\"on\":[]}", true, "'on' must name at least one event"},
      {"{\"channels\":[\"x\"]}", true, "'on' must name at least one event"},
      {"{\"on\":[\"failed\"],\"colour\":1}", true, "unknown key 'colour'"},
      {"{\"on\":[\"failed\"],\"job\":\"x\"}", false, "'job' is for rules in the configuration"},
      {"{\"on\":[\"failed\"],\"group_window\":\"0s\"}", true, "greater than zero"},
      {"{\"on\":[\"failed\"],\"sla\":{}}", true, "sla needs start_within"},
      {"{\"on\":[\"failed\"],\"sla\":{\"finish_by\":\"25:00\"}}", true, "sla.finish_by must be"},
      {"{\"on\":[\"failed\"],\"channels\":[1]}", true, "channels must be a list of non-empty"},
      {"[1]", true, "must be an object"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    CU_ASSERT_EQUAL(parse_rule(bad[i].json, bad[i].targeted, NULL, &r, err, sizeof err), -EINVAL);
    if (!strstr(err, bad[i].msg)) fprintf(stderr, "\n  %s: got '%s'\n", bad[i].json, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].msg));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.0"));
  }
}

static void test_config(void) {
  char dir[] = "/tmp/pgd-alarm-test-XXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  char path[256], json[1024], err[512];
  snprintf(path, sizeof path, "%s/secret", dir);
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs("top-secret-value\n", f);
  fclose(f);
  snprintf(json, sizeof json,
           "{\"backoff_initial\":\"2s\",\"channels\":["
           "{\"name\":\"ops\",\"type\":\"webhook\",\"url\":\"https://h.example/x\",\"secret_file\":\"%s\",\"timeout\":\"3s\"},"
           "{\"name\":\"mail\",\"type\":\"email\",\"url\":\"smtp://m:25\",\"from\":\"a@b\",\"to\":[\"c@d\",\"e@f\"],"
           "\"starttls\":true,\"username\":\"u\",\"password_env\":\"PGD_ALARM_TEST_PW\"}],"
           "\"rules\":[{\"on\":[\"failed\"],\"channels\":[\"ops\"]}]}",
           path);
  pgd_alarm_config_t c;
  /* the password's variable is not set: refused, and the message names it */
  unsetenv("PGD_ALARM_TEST_PW");
  CU_ASSERT_EQUAL(parse_config(json, &c, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "PGD_ALARM_TEST_PW"));
  setenv("PGD_ALARM_TEST_PW", "pw-value", 1);
  CU_ASSERT_EQUAL_FATAL(parse_config(json, &c, err, sizeof err), 0);
  CU_ASSERT_EQUAL(c.n_channels, 2);
  CU_ASSERT_STRING_EQUAL(c.channels[0].secret, "top-secret-value");
  CU_ASSERT_EQUAL(c.channels[0].timeout_ms, 3000);
  CU_ASSERT_EQUAL(c.channels[1].type, PGD_ALARM_CH_EMAIL);
  CU_ASSERT_EQUAL(c.channels[1].n_to, 2);
  CU_ASSERT(c.channels[1].starttls);
  CU_ASSERT_STRING_EQUAL(c.channels[1].password, "pw-value");
  CU_ASSERT_EQUAL(c.backoff_initial_us, 2 * S);
  CU_ASSERT_EQUAL(c.n_rules, 1);
  CU_ASSERT_STRING_EQUAL(c.rules[0].id, "config.0");
  CU_ASSERT_PTR_NOT_NULL(pgd_alarm_channel_find(&c, "mail"));
  CU_ASSERT_PTR_NULL(pgd_alarm_channel_find(&c, "nope"));
  /* a rule naming a channel that is not configured */
  pgd_alarm_rule_t r;
  CU_ASSERT_EQUAL(parse_rule("{\"on\":[\"failed\"],\"channels\":[\"pager\"]}", false, &c, &r, err,
                             sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown channel 'pager'"));
  pgd_alarm_config_free(&c);

  static const struct { const char *json; const char *msg; } bad[] = {
      {"{\"channels\":[{\"name\":\"a b\",\"type\":\"webhook\",\"url\":\"http://x\"}]}", "name must be"},
      {"{\"channels\":[{\"name\":\"a\",\"type\":\"pager\",\"url\":\"http://x\"}]}", "type must be"},
      {"{\"channels\":[{\"name\":\"a\",\"type\":\"webhook\",\"url\":\"ftp://x\"}]}", "url must start with http"},
      {"{\"channels\":[{\"name\":\"a\",\"type\":\"email\",\"url\":\"http://x\"}]}", "url must start with smtp"},
      {"{\"channels\":[{\"name\":\"a\",\"type\":\"email\",\"url\":\"smtp://x\",\"from\":\"f\"}]}", "to must name"},
      {"{\"channels\":[{\"name\":\"a\",\"type\":\"webhook\",\"url\":\"http://x\",\"secret_file\":\"/nonexistent/s\"}]}", "cannot read secret_file"},
      {"{\"channels\":[{\"name\":\"a\",\"type\":\"webhook\",\"url\":\"http://x\"},{\"name\":\"a\",\"type\":\"webhook\",\"url\":\"http://y\"}]}", "defined twice"},
      {"{\"rules\":[{\"on\":[\"failed\"],\"channels\":[\"ghost\"]}]}", "unknown channel 'ghost'"},
      {"{\"max_attempts\":-1}", "max_attempts"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    CU_ASSERT_EQUAL(parse_config(bad[i].json, &c, err, sizeof err), -EINVAL);
    if (!strstr(err, bad[i].msg)) fprintf(stderr, "\n  %s: got '%s'\n", bad[i].json, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].msg));
  }
  /* no configuration at all: defaults, nothing configured */
  CU_ASSERT_EQUAL(pgd_alarm_config_parse(NULL, &c, err, sizeof err), 0);
  CU_ASSERT_EQUAL(c.n_channels + c.n_rules, 0);
  CU_ASSERT_EQUAL(c.max_attempts, 50);
  pgd_alarm_config_free(&c);
  unlink(path);
  rmdir(dir);
}

static void test_matching_and_grouping(void) {
  pgd_alarm_rule_t r;
  char err[512], k1[512], k2[512];
  CU_ASSERT_EQUAL_FATAL(parse_rule("{\"on\":[\"failed\",\"worker_lost\"],\"job\":\"etl-*\"}", true,
                                   NULL, &r, err, sizeof err), 0);
  pgd_alarm_cause_t c = {.event = PGD_ALARM_EV_FAILED, .job = "etl-daily"};
  CU_ASSERT(pgd_alarm_rule_matches(&r, &c));
  c.job = "web-daily";
  CU_ASSERT_FALSE(pgd_alarm_rule_matches(&r, &c));
  c.job = "etl-daily";
  c.event = PGD_ALARM_EV_TIMED_OUT;
  CU_ASSERT_FALSE(pgd_alarm_rule_matches(&r, &c));
  /* a rule naming a job does not take a cause without one (worker lost) */
  pgd_alarm_cause_t w = {.event = PGD_ALARM_EV_WORKER_LOST, .worker = "w1"};
  CU_ASSERT_FALSE(pgd_alarm_rule_matches(&r, &w));
  pgd_alarm_rule_free(&r);
  CU_ASSERT_EQUAL_FATAL(parse_rule("{\"on\":[\"worker_lost\"]}", true, NULL, &r, err, sizeof err), 0);
  CU_ASSERT(pgd_alarm_rule_matches(&r, &w));
  /* grouping keys: same cause same key; another worker another key */
  pgd_alarm_group_key(&r, &w, k1, sizeof k1);
  pgd_alarm_group_key(&r, &w, k2, sizeof k2);
  CU_ASSERT_STRING_EQUAL(k1, k2);
  CU_ASSERT_STRING_EQUAL(k1, "t.0|worker_lost||||w1");
  w.worker = "w2";
  pgd_alarm_group_key(&r, &w, k2, sizeof k2);
  CU_ASSERT_STRING_NOT_EQUAL(k1, k2);
  pgd_alarm_rule_free(&r);
  /* leader changes group per master */
  CU_ASSERT_EQUAL_FATAL(parse_rule("{\"on\":[\"leader_change\"]}", true, NULL, &r, err, sizeof err), 0);
  pgd_alarm_cause_t l1 = {.event = PGD_ALARM_EV_LEADER_CHANGE, .master = "http://a:1"};
  pgd_alarm_cause_t l2 = {.event = PGD_ALARM_EV_LEADER_CHANGE, .master = "http://b:1"};
  CU_ASSERT(pgd_alarm_rule_matches(&r, &l1));
  pgd_alarm_group_key(&r, &l1, k1, sizeof k1);
  pgd_alarm_group_key(&r, &l2, k2, sizeof k2);
  CU_ASSERT_STRING_EQUAL(k1, "t.0|leader_change|||||http://a:1");
  CU_ASSERT_STRING_NOT_EQUAL(k1, k2);
  pgd_alarm_rule_free(&r);
  /* windows: inside folds, at the end it does not, no group never folds */
  CU_ASSERT(pgd_alarm_group_folds(100 * S, 100 * S, 60 * S));
  CU_ASSERT(pgd_alarm_group_folds(100 * S, 159 * S, 60 * S));
  CU_ASSERT_FALSE(pgd_alarm_group_folds(100 * S, 160 * S, 60 * S));
  CU_ASSERT_FALSE(pgd_alarm_group_folds(0, 10 * S, 60 * S));
  CU_ASSERT_FALSE(pgd_alarm_group_folds(100 * S, 99 * S, 60 * S));
}

static void test_backoff(void) {
  CU_ASSERT_EQUAL(pgd_alarm_backoff_us(0, S, 300 * S), 0);
  int64_t prev = 0;
  for (int i = 1; i <= 12; i++) {
    int64_t d = pgd_alarm_backoff_us(i, S, 300 * S);
    CU_ASSERT(d >= prev);
    CU_ASSERT(d <= 300 * S);
    if (i <= 9) CU_ASSERT_EQUAL(d, S << (i - 1));
    prev = d;
  }
  CU_ASSERT_EQUAL(pgd_alarm_backoff_us(10, S, 300 * S), 300 * S);
  CU_ASSERT_EQUAL(pgd_alarm_backoff_us(1000000, S, 300 * S), 300 * S);
}

static void test_signature(void) {
  char sig[PGD_ALARM_SIGNATURE_LEN + 1];
  /* RFC 4231 test case 2 */
  const char *data = "what do ya want for nothing?";
  CU_ASSERT_EQUAL(pgd_alarm_sign("Jefe", data, strlen(data), sig, sizeof sig), 0);
  CU_ASSERT_STRING_EQUAL(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CU_ASSERT_EQUAL(strlen(sig), PGD_ALARM_SIGNATURE_LEN);
  /* one byte more changes it; a short buffer is refused */
  char sig2[PGD_ALARM_SIGNATURE_LEN + 1];
  CU_ASSERT_EQUAL(pgd_alarm_sign("Jefe", "what do ya want for nothing!", strlen(data), sig2, sizeof sig2), 0);
  CU_ASSERT_STRING_NOT_EQUAL(sig, sig2);
  CU_ASSERT_EQUAL(pgd_alarm_sign("Jefe", data, strlen(data), sig2, 10), -EINVAL);
}

static void test_time_of_day(void) {
  CU_ASSERT_EQUAL(pgd_alarm_parse_time_of_day("00:00"), 0);
  CU_ASSERT_EQUAL(pgd_alarm_parse_time_of_day("23:59:59"), 86399);
  CU_ASSERT_EQUAL(pgd_alarm_parse_time_of_day("7:30"), -1);
  CU_ASSERT_EQUAL(pgd_alarm_parse_time_of_day("24:00"), -1);
  CU_ASSERT_EQUAL(pgd_alarm_parse_time_of_day("12:60"), -1);
  CU_ASSERT_EQUAL(pgd_alarm_parse_time_of_day("12:00x"), -1);
}

/* seconds of a UTC civil time, via the same parser the schedules use */
static int64_t utc_s(const char *iso) {
  struct tm tm = {0};
  CU_ASSERT_PTR_NOT_NULL_FATAL(strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm));
  return (int64_t)timegm(&tm);
}

static void test_next_time_of_day(void) {
  /* Berlin in winter is UTC+1: 06:00 local is 05:00Z, same day when before it */
  CU_ASSERT_EQUAL(pgd_alarm_next_time_of_day("Europe/Berlin", utc_s("2026-12-06T02:00:00") * S, 6 * 3600),
                  utc_s("2026-12-06T05:00:00") * S);
  /* after it: the next day */
  CU_ASSERT_EQUAL(pgd_alarm_next_time_of_day("Europe/Berlin", utc_s("2026-12-06T06:00:00") * S, 6 * 3600),
                  utc_s("2026-12-07T05:00:00") * S);
  /* exactly at it: that instant */
  CU_ASSERT_EQUAL(pgd_alarm_next_time_of_day("Europe/Berlin", utc_s("2026-12-06T05:00:00") * S, 6 * 3600),
                  utc_s("2026-12-06T05:00:00") * S);
  /* summer (UTC+2), and a local date that differs from the UTC date */
  CU_ASSERT_EQUAL(pgd_alarm_next_time_of_day("Europe/Berlin", utc_s("2026-07-01T23:30:00") * S, 3600),
                  utc_s("2026-07-02T23:00:00") * S);
  /* 02:30 on the spring-forward night does not exist: the jump (03:00 CEST = 01:00Z) */
  CU_ASSERT_EQUAL(pgd_alarm_next_time_of_day("Europe/Berlin", utc_s("2026-03-28T23:30:00") * S, 2 * 3600 + 1800),
                  utc_s("2026-03-29T01:00:00") * S);
  CU_ASSERT_EQUAL(pgd_alarm_next_time_of_day(NULL, utc_s("2026-12-06T10:00:00") * S, 9 * 3600),
                  utc_s("2026-12-07T09:00:00") * S);
  CU_ASSERT_EQUAL(pgd_alarm_next_time_of_day("Mars/Base", 0, 0), -1);
}

static void test_email_message(void) {
  char *to[] = {"a@x", "b@x"};
  pgd_alarm_channel_t ch = {.name = "m", .type = PGD_ALARM_CH_EMAIL, .from = "p@x", .to = to, .n_to = 2};
  char *m = pgd_alarm_email_message(&ch, "bad\r\nBcc: evil@x", "line1\nline2", 42, 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(m);
  CU_ASSERT_PTR_NOT_NULL(strstr(m, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(m, "To: a@x, b@x\r\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(m, "Subject: bad  Bcc: evil@x\r\n")); /* no header injection */
  CU_ASSERT_PTR_NULL(strstr(m, "\r\nBcc:"));
  CU_ASSERT_PTR_NOT_NULL(strstr(m, "X-Pagoda-Alarm-Id: 42\r\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(m, "\r\n\r\nline1\r\nline2\r\n"));
  free(m);
}

/* ---- Lua hooks ---- */

static char hooks_dir[64];

static void write_hook(const char *name, const char *text) {
  char path[256];
  snprintf(path, sizeof path, "%s/%s", hooks_dir, name);
  FILE *f = fopen(path, "w");
  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  fputs(text, f);
  fclose(f);
}

static cJSON *alarm_for(const char *job) {
  cJSON *a = cJSON_CreateObject();
  cJSON_AddStringToObject(a, "event", "failed");
  cJSON_AddStringToObject(a, "job", job);
  cJSON_AddStringToObject(a, "subject", "S");
  cJSON_AddStringToObject(a, "text", "T");
  cJSON *ch = cJSON_AddArrayToObject(a, "channels");
  cJSON_AddItemToArray(ch, cJSON_CreateString("ops"));
  return a;
}

static void test_hooks(void) {
  snprintf(hooks_dir, sizeof hooks_dir, "/tmp/pgd-alarm-hooks-XXXXXX");
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(hooks_dir));
  write_hook("10-route.lua",
             "function on_alarm(a)\n"
             "  if a.job == 'drop-me' then return false end\n"
             "  if a.job == 'reword' then return {subject = 'R: ' .. a.subject, channels = {'mail'}} end\n"
             "  if a.job == 'bad' then return 42 end\n"
             "  if a.job == 'loop' then while true do end end\n"
             "  return nil\n"
             "end\n");
  write_hook("20-second.lua",
             "function on_alarm(a) if a.job == 'reword' then return {text = a.text .. '+2'} end end\n");
  write_hook("30-broken.lua", "this is not lua");
  write_hook("40-nohook.lua", "x = 1");
  write_hook("notlua.txt", "function on_alarm(a) return false end");
  pgd_alarm_hooks_t *h = NULL;
  CU_ASSERT_EQUAL_FATAL(pgd_alarm_hooks_load(hooks_dir, 100000, &h), 0);
  CU_ASSERT_EQUAL(pgd_alarm_hooks_count(h), 2); /* the broken one and the one without on_alarm skipped */
  const char *by = NULL;
  cJSON *a = alarm_for("drop-me");
  CU_ASSERT_EQUAL(pgd_alarm_hooks_run(h, a, &by), PGD_ALARM_HOOK_DROP);
  CU_ASSERT_STRING_EQUAL(by, "10-route.lua");
  cJSON_Delete(a);
  a = alarm_for("reword"); /* both scripts in order: subject and route, then text */
  CU_ASSERT_EQUAL(pgd_alarm_hooks_run(h, a, &by), PGD_ALARM_HOOK_KEEP);
  CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(a, "subject")->valuestring, "R: S");
  CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(a, "text")->valuestring, "T+2");
  CU_ASSERT_STRING_EQUAL(cJSON_GetArrayItem(cJSON_GetObjectItem(a, "channels"), 0)->valuestring, "mail");
  cJSON_Delete(a);
  for (int i = 0; i < 2; i++) { /* an error or a runaway script keeps the alarm as it was */
    a = alarm_for(i == 0 ? "bad" : "loop");
    CU_ASSERT_EQUAL(pgd_alarm_hooks_run(h, a, &by), PGD_ALARM_HOOK_KEEP);
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(a, "subject")->valuestring, "S");
    cJSON_Delete(a);
  }
  a = alarm_for("drop-me"); /* still works after the runaway call */
  CU_ASSERT_EQUAL(pgd_alarm_hooks_run(h, a, &by), PGD_ALARM_HOOK_DROP);
  cJSON_Delete(a);
  pgd_alarm_hooks_free(h);
  /* no directory: no hooks, every alarm kept */
  CU_ASSERT_EQUAL_FATAL(pgd_alarm_hooks_load("/nonexistent/alarms", 0, &h), 0);
  CU_ASSERT_EQUAL(pgd_alarm_hooks_count(h), 0);
  a = alarm_for("drop-me");
  CU_ASSERT_EQUAL(pgd_alarm_hooks_run(h, a, &by), PGD_ALARM_HOOK_KEEP);
  cJSON_Delete(a);
  pgd_alarm_hooks_free(h);
  static const char *const files[] = {"10-route.lua", "20-second.lua", "30-broken.lua",
                                      "40-nohook.lua", "notlua.txt"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", hooks_dir, files[i]);
    unlink(path);
  }
  rmdir(hooks_dir);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("alarm_rules", NULL, NULL);
  CU_add_test(s, "event names", test_events);
  CU_add_test(s, "rules: parse and messages", test_rule_parse);
  CU_add_test(s, "configuration: channels, secrets, messages", test_config);
  CU_add_test(s, "matching and grouping", test_matching_and_grouping);
  CU_add_test(s, "backoff", test_backoff);
  CU_add_test(s, "signature (RFC 4231)", test_signature);
  CU_add_test(s, "time of day", test_time_of_day);
  CU_add_test(s, "next time of day in a zone (SLA finish_by)", test_next_time_of_day);
  CU_add_test(s, "e-mail message", test_email_message);
  CU_add_test(s, "Lua hooks: drop, reword, route, errors", test_hooks);
  return pgd_test_run();
}
