/* Unit tests of core/net: message names (protocol.h) and the frame codec. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>

#include "pgd_test.h"
#include "net/frame.h"
#include "net/protocol.h"

/* ---- helpers ------------------------------------------------------------ */

#define MAX_SEEN 64

typedef struct {
  int n;
  int types[MAX_SEEN];
  char *texts[MAX_SEEN]; /* each message printed, owned */
  int stop_after;        /* return 1 after this many messages (0 = never) */
} seen_t;

static int collect(void *ud, pgd_msg_type_t type, cJSON *msg) {
  seen_t *s = ud;
  if (s->n < MAX_SEEN) {
    s->types[s->n] = (int)type;
    s->texts[s->n] = cJSON_PrintUnformatted(msg);
  }
  s->n++;
  return (s->stop_after && s->n >= s->stop_after) ? 1 : 0;
}

static void seen_free(seen_t *s) {
  for (int i = 0; i < s->n && i < MAX_SEEN; i++) cJSON_free(s->texts[i]);
  memset(s, 0, sizeof *s);
}

/* An exact-size malloc'ed frame (so ASan sees any read past its end). */
static char *raw_frame(const char *payload, size_t plen, uint32_t announced, size_t *len) {
  char *b = malloc(4 + plen);
  b[0] = (char)(announced >> 24);
  b[1] = (char)(announced >> 16);
  b[2] = (char)(announced >> 8);
  b[3] = (char)announced;
  memcpy(b + 4, payload, plen);
  *len = 4 + plen;
  return b;
}

static char *frame_of(const char *payload, size_t *len) {
  size_t n = strlen(payload);
  return raw_frame(payload, n, (uint32_t)n, len);
}

/* Feeds `buf` as one exact-size copy and returns feed's result. */
static int feed_copy(pgd_frame_decoder_t *d, const char *buf, size_t len, seen_t *s) {
  char *copy = malloc(len ? len : 1);
  memcpy(copy, buf, len);
  int rc = pgd_frame_decoder_feed(d, copy, len, collect, s);
  free(copy);
  return rc;
}

/* ---- protocol names ----------------------------------------------------- */

static void test_msg_names(void) {
  static const char *expect[] = {"hello", "challenge", "auth", "welcome", "reject", "heartbeat",
                                 "launch", "state",    "log",  "kill",    "ack",    "error",
                                 "plugins" /* plugin push (issue 16) */,
                                 "leave" /* worker stop (issue 16) */};
  CU_ASSERT_EQUAL(PGD_MSG__COUNT, 14);
  for (int i = 0; i < PGD_MSG__COUNT; i++) {
    CU_ASSERT_STRING_EQUAL(pgd_msg_name((pgd_msg_type_t)i), expect[i]);
    CU_ASSERT_EQUAL(pgd_msg_parse(expect[i]), i);
  }
  CU_ASSERT_EQUAL(pgd_msg_parse("HELLO"), -1);
  CU_ASSERT_EQUAL(pgd_msg_parse(""), -1);
  CU_ASSERT_EQUAL(pgd_msg_parse(NULL), -1);
  CU_ASSERT_EQUAL(pgd_msg_parse("hello "), -1);
  CU_ASSERT_PTR_NULL(pgd_msg_name(PGD_MSG__COUNT));
  CU_ASSERT_PTR_NULL(pgd_msg_name((pgd_msg_type_t)-1));
  CU_ASSERT_EQUAL(PGD_MSG_HELLO, 0);
  CU_ASSERT_EQUAL(PGD_MSG_ERROR, 11);
}

/* ---- encoder ------------------------------------------------------------ */

static void test_round_trip(void) {
  cJSON *body = cJSON_CreateObject();
  cJSON_AddNumberToObject(body, "version", PGD_PROTOCOL_VERSION);
  cJSON_AddStringToObject(body, "secret", "s3cr\xc3\xa9t \"quoted\"");
  cJSON_AddNumberToObject(body, "slots", 8);
  char *out = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL_FATAL(pgd_frame_encode(PGD_MSG_HELLO, body, &out, &len), 0);
  CU_ASSERT_FATAL(len > 4);
  size_t plen = ((size_t)(unsigned char)out[0] << 24) | ((size_t)(unsigned char)out[1] << 16) |
                ((size_t)(unsigned char)out[2] << 8) | (unsigned char)out[3];
  CU_ASSERT_EQUAL(plen, len - 4);
  CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(body, "type")->valuestring, "hello");

  pgd_frame_decoder_t d;
  pgd_frame_decoder_init(&d, 0);
  seen_t s = {0};
  CU_ASSERT_EQUAL(feed_copy(&d, out, len, &s), 0);
  CU_ASSERT_EQUAL_FATAL(s.n, 1);
  CU_ASSERT_EQUAL(s.types[0], PGD_MSG_HELLO);
  cJSON *back = cJSON_Parse(s.texts[0]);
  CU_ASSERT_TRUE(cJSON_Compare(back, body, 1));
  CU_ASSERT_FALSE(pgd_frame_decoder_partial(&d));
  cJSON_Delete(back);
  seen_free(&s);

  /* Re-encoding the same body as another type replaces "type". */
  free(out);
  CU_ASSERT_EQUAL_FATAL(pgd_frame_encode(PGD_MSG_ACK, body, &out, &len), 0);
  CU_ASSERT_EQUAL(feed_copy(&d, out, len, &s), 0);
  CU_ASSERT_EQUAL_FATAL(s.n, 1);
  CU_ASSERT_EQUAL(s.types[0], PGD_MSG_ACK);
  CU_ASSERT_PTR_NOT_NULL(strstr(s.texts[0], "\"type\":\"ack\""));
  CU_ASSERT_PTR_NULL(strstr(s.texts[0], "hello"));
  seen_free(&s);
  free(out);
  cJSON_Delete(body);
  pgd_frame_decoder_free(&d);
}

static void test_encode_edge(void) {
  char *out = NULL;
  size_t len = 0;
  CU_ASSERT_EQUAL_FATAL(pgd_frame_encode(PGD_MSG_HEARTBEAT, NULL, &out, &len), 0);
  CU_ASSERT_EQUAL(len, 4 + strlen("{\"type\":\"heartbeat\"}"));
  CU_ASSERT_EQUAL(memcmp(out + 4, "{\"type\":\"heartbeat\"}", len - 4), 0);
  free(out);

  cJSON *arr = cJSON_CreateArray();
  CU_ASSERT_EQUAL(pgd_frame_encode(PGD_MSG_LOG, arr, &out, &len), -EINVAL);
  cJSON_Delete(arr);
  CU_ASSERT_EQUAL(pgd_frame_encode(PGD_MSG__COUNT, NULL, &out, &len), -EINVAL);
  CU_ASSERT_EQUAL(pgd_frame_encode((pgd_msg_type_t)-3, NULL, &out, &len), -EINVAL);
  CU_ASSERT_EQUAL(pgd_frame_encode(PGD_MSG_LOG, NULL, NULL, &len), -EINVAL);

  /* A "type" of the wrong kind is replaced too. */
  cJSON *b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "type", 42);
  CU_ASSERT_EQUAL_FATAL(pgd_frame_encode(PGD_MSG_KILL, b, &out, &len), 0);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(b), 1);
  CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(b, "type")->valuestring, "kill");
  free(out);
  cJSON_Delete(b);
}

/* ---- decoder: splitting ------------------------------------------------- */

static char *three_frames(size_t *len) {
  const char *p[3] = {"{\"type\":\"hello\",\"a\":1}", "{\"b\":[1,2,{\"c\":\"x\"}],\"type\":\"state\"}",
                      " {\"type\":\"log\",\"data\":\"l\\u00e9\\n\"}\n"};
  char *all = NULL;
  size_t n = 0;
  for (int i = 0; i < 3; i++) {
    size_t fl;
    char *f = frame_of(p[i], &fl);
    all = realloc(all, n + fl);
    memcpy(all + n, f, fl);
    n += fl;
    free(f);
  }
  *len = n;
  return all;
}

static void check_three(seen_t *s) {
  CU_ASSERT_EQUAL_FATAL(s->n, 3);
  CU_ASSERT_EQUAL(s->types[0], PGD_MSG_HELLO);
  CU_ASSERT_EQUAL(s->types[1], PGD_MSG_STATE);
  CU_ASSERT_EQUAL(s->types[2], PGD_MSG_LOG);
  CU_ASSERT_STRING_EQUAL(s->texts[0], "{\"type\":\"hello\",\"a\":1}");
  CU_ASSERT_STRING_EQUAL(s->texts[1], "{\"b\":[1,2,{\"c\":\"x\"}],\"type\":\"state\"}");
  CU_ASSERT_STRING_EQUAL(s->texts[2], "{\"type\":\"log\",\"data\":\"l\xc3\xa9\\n\"}");
}

static void test_multiple_per_feed(void) {
  size_t n;
  char *all = three_frames(&n);
  pgd_frame_decoder_t d;
  pgd_frame_decoder_init(&d, 0);
  seen_t s = {0};
  CU_ASSERT_EQUAL(feed_copy(&d, all, n, &s), 0);
  check_three(&s);
  seen_free(&s);
  /* Zero-length feed is a no-op. */
  CU_ASSERT_EQUAL(pgd_frame_decoder_feed(&d, all, 0, collect, &s), 0);
  CU_ASSERT_EQUAL(s.n, 0);
  pgd_frame_decoder_free(&d);
  free(all);
}

static void test_split_every_boundary(void) {
  size_t n;
  char *all = three_frames(&n);
  for (size_t i = 0; i <= n; i++) {
    for (size_t j = i; j <= n; j++) { /* three pieces: [0,i) [i,j) [j,n) */
      pgd_frame_decoder_t d;
      pgd_frame_decoder_init(&d, 0);
      seen_t s = {0};
      int rc = feed_copy(&d, all, i, &s);
      rc |= feed_copy(&d, all + i, j - i, &s);
      rc |= feed_copy(&d, all + j, n - j, &s);
      CU_ASSERT_EQUAL(rc, 0);
      check_three(&s);
      CU_ASSERT_FALSE(pgd_frame_decoder_partial(&d));
      seen_free(&s);
      pgd_frame_decoder_free(&d);
    }
  }
  free(all);
}

static void test_one_byte_feeds(void) {
  size_t n;
  char *all = three_frames(&n);
  pgd_frame_decoder_t d;
  pgd_frame_decoder_init(&d, 0);
  seen_t s = {0};
  for (size_t i = 0; i < n; i++) {
    CU_ASSERT_EQUAL(feed_copy(&d, all + i, 1, &s), 0);
    if (i + 1 < n) CU_ASSERT_TRUE(s.n < 3);
  }
  check_three(&s);
  seen_free(&s);
  pgd_frame_decoder_free(&d);
  free(all);
}

static void test_large_frame_gathered(void) {
  size_t big = 3 * 1024 * 1024;
  cJSON *body = cJSON_CreateObject();
  char *data = malloc(big + 1);
  memset(data, 'x', big);
  data[big] = 0;
  cJSON_AddStringToObject(body, "data", data);
  char *out;
  size_t len;
  CU_ASSERT_EQUAL_FATAL(pgd_frame_encode(PGD_MSG_LOG, body, &out, &len), 0);
  pgd_frame_decoder_t d;
  pgd_frame_decoder_init(&d, 0);
  seen_t s = {0};
  for (size_t off = 0; off < len; off += 65536) {
    size_t chunk = len - off < 65536 ? len - off : 65536;
    CU_ASSERT_EQUAL(pgd_frame_decoder_feed(&d, out + off, chunk, collect, &s), 0);
  }
  CU_ASSERT_EQUAL_FATAL(s.n, 1);
  CU_ASSERT_EQUAL(s.types[0], PGD_MSG_LOG);
  CU_ASSERT_EQUAL(strlen(s.texts[0]), big + strlen("{\"data\":\"\",\"type\":\"log\"}"));
  CU_ASSERT_PTR_NULL(d.buf); /* a big gathering buffer is not kept */
  seen_free(&s);
  pgd_frame_decoder_free(&d);
  free(out);
  free(data);
  cJSON_Delete(body);
}

static void test_callback_stop(void) {
  size_t n;
  char *all = three_frames(&n);
  pgd_frame_decoder_t d;
  pgd_frame_decoder_init(&d, 0);
  seen_t s = {0};
  s.stop_after = 2;
  CU_ASSERT_EQUAL(pgd_frame_decoder_feed(&d, all, n, collect, &s), 1);
  CU_ASSERT_EQUAL(s.n, 2);
  seen_free(&s);
  pgd_frame_decoder_free(&d);
  free(all);
}

/* ---- decoder: bad input ------------------------------------------------- */

/* Feeds `frame` whole, then split byte by byte into a fresh decoder; both
 * must give `expect` and no message. */
static void expect_error(const char *frame, size_t len, size_t max, int expect) {
  pgd_frame_decoder_t d;
  pgd_frame_decoder_init(&d, max);
  seen_t s = {0};
  CU_ASSERT_EQUAL(feed_copy(&d, frame, len, &s), expect);
  CU_ASSERT_EQUAL(s.n, 0);
  /* Sticky: a good frame afterwards is refused with the same error. */
  size_t gl;
  char *good = frame_of("{\"type\":\"ack\"}", &gl);
  CU_ASSERT_EQUAL(feed_copy(&d, good, gl, &s), expect);
  CU_ASSERT_EQUAL(s.n, 0);
  pgd_frame_decoder_free(&d);

  pgd_frame_decoder_init(&d, max);
  int rc = 0;
  for (size_t i = 0; i < len && rc == 0; i++) rc = feed_copy(&d, frame + i, 1, &s);
  CU_ASSERT_EQUAL(rc, expect);
  CU_ASSERT_EQUAL(s.n, 0);
  pgd_frame_decoder_free(&d);
  free(good);
}

static void expect_payload_error(const char *payload, int expect) {
  size_t len;
  char *f = raw_frame(payload, strlen(payload), (uint32_t)strlen(payload), &len);
  expect_error(f, len, 0, expect);
  free(f);
}

static void test_oversize_and_zero(void) {
  size_t len;
  char *f = raw_frame("", 0, (uint32_t)PGD_FRAME_MAX_DEFAULT + 1, &len);
  expect_error(f, len, 0, PGD_FRAME_ETOOBIG);
  free(f);
  f = raw_frame("", 0, 0xffffffffu, &len);
  expect_error(f, len, 0, PGD_FRAME_ETOOBIG);
  free(f);
  f = raw_frame("{}", 2, 0, &len);
  expect_error(f, len, 0, PGD_FRAME_ETOOBIG);
  free(f);
}

static void test_max_boundary(void) {
  const char *p = "{\"type\":\"ack\",\"seq\":12345}";
  size_t plen = strlen(p);
  size_t len;
  char *f = frame_of(p, &len);
  /* Exactly at the maximum: accepted, whole and byte by byte. */
  pgd_frame_decoder_t d;
  pgd_frame_decoder_init(&d, plen);
  seen_t s = {0};
  CU_ASSERT_EQUAL(feed_copy(&d, f, len, &s), 0);
  for (size_t i = 0; i < len; i++) CU_ASSERT_EQUAL(feed_copy(&d, f + i, 1, &s), 0);
  CU_ASSERT_EQUAL(s.n, 2);
  CU_ASSERT_EQUAL(s.types[0], PGD_MSG_ACK);
  seen_free(&s);
  pgd_frame_decoder_free(&d);
  /* One byte below the payload size: refused. */
  expect_error(f, len, plen - 1, PGD_FRAME_ETOOBIG);
  /* The header alone is enough to refuse. */
  expect_error(f, 4, plen - 1, PGD_FRAME_ETOOBIG);
  free(f);
}

static void test_bad_json(void) {
  expect_payload_error("garbage!", PGD_FRAME_EJSON);
  expect_payload_error("{\"type\":\"hello\"", PGD_FRAME_EJSON);
  expect_payload_error("[{\"type\":\"hello\"}]", PGD_FRAME_EJSON);
  expect_payload_error("\"hello\"", PGD_FRAME_EJSON);
  expect_payload_error("42", PGD_FRAME_EJSON);
  expect_payload_error("null", PGD_FRAME_EJSON);
  expect_payload_error("{\"type\":\"hello\"}x", PGD_FRAME_EJSON);
  expect_payload_error("{\"type\":\"hello\"}{}", PGD_FRAME_EJSON);
  expect_payload_error("   ", PGD_FRAME_EJSON);
  /* An embedded NUL ends the text early: what is left is not whitespace. */
  size_t len;
  char *f = raw_frame("{\"type\":\"ack\"}\0\0", 16, 16, &len);
  expect_error(f, len, 0, PGD_FRAME_EJSON);
  free(f);
  /* Deep nesting is refused by cJSON's limit, without a crash. */
  char deep[4200];
  size_t k = 0;
  deep[k++] = '{';
  memcpy(deep + k, "\"a\":", 4);
  k += 4;
  for (int i = 0; i < 2000; i++) deep[k++] = '[';
  for (int i = 0; i < 2000; i++) deep[k++] = ']';
  deep[k++] = '}';
  deep[k] = 0;
  expect_payload_error(deep, PGD_FRAME_EJSON);
}

/* A key named twice is ambiguous (first value here, last elsewhere): refused
 * at any depth; the same keys once each are fine. */
static void test_duplicate_keys(void) {
  expect_payload_error("{\"type\":\"heartbeat\",\"running\":\"w1\",\"running\":[]}",
                       PGD_FRAME_EJSON);
  expect_payload_error("{\"type\":\"ack\",\"type\":\"ack\"}", PGD_FRAME_EJSON);
  expect_payload_error("{\"type\":\"hello\",\"worker\":{\"id\":\"a\",\"id\":\"b\"}}",
                       PGD_FRAME_EJSON);
  expect_payload_error("{\"type\":\"hello\",\"running\":[{\"a\":1,\"a\":2}]}",
                       PGD_FRAME_EJSON);
  /* a number beyond a double parses as infinity: refused too */
  expect_payload_error("{\"type\":\"hello\",\"worker\":{\"slots\":1e3081}}", PGD_FRAME_EJSON);
  /* one key name in two different objects is not a repeat */
  pgd_frame_decoder_t d;
  pgd_frame_decoder_init(&d, 0);
  seen_t s = {0};
  size_t len;
  char *f = frame_of("{\"type\":\"hello\",\"worker\":{\"id\":\"a\"},\"id\":\"a\"}", &len);
  CU_ASSERT_EQUAL(feed_copy(&d, f, len, &s), 0);
  CU_ASSERT_EQUAL(s.n, 1);
  seen_free(&s);
  free(f);
  pgd_frame_decoder_free(&d);
}

static void test_bad_type(void) {
  expect_payload_error("{}", PGD_FRAME_ETYPE);
  expect_payload_error("{\"kind\":\"hello\"}", PGD_FRAME_ETYPE);
  expect_payload_error("{\"type\":\"nonsense\"}", PGD_FRAME_ETYPE);
  expect_payload_error("{\"type\":\"HELLO\"}", PGD_FRAME_ETYPE);
  expect_payload_error("{\"type\":1}", PGD_FRAME_ETYPE);
  expect_payload_error("{\"type\":null}", PGD_FRAME_ETYPE);
  expect_payload_error("{\"Type\":\"hello\"}", PGD_FRAME_ETYPE);
}

static void test_good_after_whitespace(void) {
  pgd_frame_decoder_t d;
  pgd_frame_decoder_init(&d, 0);
  seen_t s = {0};
  size_t len;
  char *f = frame_of("\r\n {\"type\" : \"kill\" , \"epoch\":3}\t \n", &len);
  CU_ASSERT_EQUAL(feed_copy(&d, f, len, &s), 0);
  CU_ASSERT_EQUAL_FATAL(s.n, 1);
  CU_ASSERT_EQUAL(s.types[0], PGD_MSG_KILL);
  seen_free(&s);
  free(f);
  pgd_frame_decoder_free(&d);
}

static void test_strerror(void) {
  CU_ASSERT_PTR_NOT_NULL(strstr(pgd_frame_strerror(PGD_FRAME_ETOOBIG), "maximum"));
  CU_ASSERT_PTR_NOT_NULL(strstr(pgd_frame_strerror(PGD_FRAME_EJSON), "JSON"));
  CU_ASSERT_PTR_NOT_NULL(strstr(pgd_frame_strerror(PGD_FRAME_ETYPE), "type"));
  CU_ASSERT_STRING_EQUAL(pgd_frame_strerror(-ENOMEM), strerror(ENOMEM));
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("net_frame", NULL, NULL);
  CU_add_test(s, "message names", test_msg_names);
  CU_add_test(s, "round trip", test_round_trip);
  CU_add_test(s, "encode edge cases", test_encode_edge);
  CU_add_test(s, "multiple frames per feed", test_multiple_per_feed);
  CU_add_test(s, "split at every boundary", test_split_every_boundary);
  CU_add_test(s, "one-byte feeds", test_one_byte_feeds);
  CU_add_test(s, "large frame gathered", test_large_frame_gathered);
  CU_add_test(s, "callback stops", test_callback_stop);
  CU_add_test(s, "oversize and zero length", test_oversize_and_zero);
  CU_add_test(s, "max size boundary", test_max_boundary);
  CU_add_test(s, "bad JSON", test_bad_json);
  CU_add_test(s, "missing or unknown type", test_bad_type);
  CU_add_test(s, "a key named twice", test_duplicate_keys);
  CU_add_test(s, "whitespace around object", test_good_after_whitespace);
  CU_add_test(s, "strerror", test_strerror);
  return pgd_test_run();
}
