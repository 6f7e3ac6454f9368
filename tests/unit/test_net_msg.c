/* Unit tests of core/net's typed messages (net/msg.h):
 *  (a) every message encodes and decodes round trip with all fields set;
 *  (b) what an encoder writes is exactly what its decoder reads (decode and
 *      re-encode give the same JSON) and exactly the codec's field list;
 *  (c) docs/protocol.md's field table of every message equals that list;
 *  (d) hostile input (wrong types, nulls, missing required fields, huge or
 *      fractional numbers) fails with an error naming the field, no crash. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "pgd_test.h"
#include <cjson/cJSON.h>

#include "net/msg.h"
#include "net/protocol.h"

/* JSON values the filled structs borrow; freed at the end. */
static cJSON *arena;

static const cJSON *keep(cJSON *v) {
  cJSON_AddItemToArray(arena, v);
  return v;
}

/* ---- one entry per message type ---- */

typedef struct codec {
  pgd_msg_type_t type;
  size_t size;
  cJSON *(*encode)(const void *m);
  int (*decode)(const cJSON *p, void *out, char *err, size_t errlen);
  void (*fill)(void *m); /* every field set */
  void (*check_equal)(const void *a, const void *b);
} codec_t;

#define CODEC_FNS(name)                                                                            \
  static cJSON *enc_##name(const void *m) { return pgd_msg_##name##_encode(m); }                   \
  static int dec_##name(const cJSON *p, void *o, char *e, size_t n) {                              \
    return pgd_msg_##name##_decode(p, o, e, n);                                                    \
  }

#define EQ_STR(a, b)  CU_ASSERT_STRING_EQUAL((a) ? (a) : "(null)", (b) ? (b) : "(null)")
#define EQ_JSON(a, b) CU_ASSERT(cJSON_Compare((a), (b), 1))
#define EQ_OPT(a, b)  CU_ASSERT((a).set == (b).set && (a).v == (b).v)
#define EQ_LOAD(a, b)                                                                              \
  CU_ASSERT((a).set == (b).set && (a).load1 == (b).load1 && (a).mem_free_mb == (b).mem_free_mb)

static cJSON *refs(void) {
  cJSON *a = cJSON_CreateArray();
  pgd_msg_attempt_ref_add(a, 4503599627370496LL, 3);
  pgd_msg_attempt_ref_add(a, 12, 0);
  return a;
}

CODEC_FNS(hello)
static void fill_hello(void *p) {
  pgd_msg_hello_t *m = p;
  m->protocol = PGD_PROTOCOL_VERSION;
  m->nonce = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  m->worker.id = "w-1";
  m->worker.host = "node1";
  m->worker.slots = pgd_msg_int(8);
  m->worker.labels = keep(cJSON_Parse("[\"etl\",\"gpu\"]"));
  m->worker.types = keep(cJSON_Parse("[\"shell\"]"));
  m->worker.pid = pgd_msg_int(4321);
  m->worker.load = (pgd_msg_load_t){true, 0.25, 1200};
  m->running = keep(refs());
}
static void eq_hello(const void *pa, const void *pb) {
  const pgd_msg_hello_t *a = pa, *b = pb;
  CU_ASSERT_EQUAL(a->protocol, b->protocol);
  EQ_STR(a->nonce, b->nonce);
  EQ_STR(a->worker.id, b->worker.id);
  EQ_STR(a->worker.host, b->worker.host);
  EQ_OPT(a->worker.slots, b->worker.slots);
  EQ_JSON(a->worker.labels, b->worker.labels);
  EQ_JSON(a->worker.types, b->worker.types);
  EQ_OPT(a->worker.pid, b->worker.pid);
  EQ_LOAD(a->worker.load, b->worker.load);
  EQ_JSON(a->running, b->running);
}

CODEC_FNS(welcome)
static void fill_welcome(void *p) {
  *(pgd_msg_welcome_t *)p = (pgd_msg_welcome_t){
      7, pgd_msg_int(1000), "0.0.0.0:8080",
      "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100", "pgd_0123"};
}
static void eq_welcome(const void *pa, const void *pb) {
  const pgd_msg_welcome_t *a = pa, *b = pb;
  CU_ASSERT_EQUAL(a->epoch, b->epoch);
  EQ_OPT(a->heartbeat_ms, b->heartbeat_ms);
  EQ_STR(a->http, b->http);
  EQ_STR(a->proof, b->proof);
  EQ_STR(a->http_token, b->http_token);
}

CODEC_FNS(challenge)
static void fill_challenge(void *p) {
  *(pgd_msg_challenge_t *)p = (pgd_msg_challenge_t){
      PGD_PROTOCOL_VERSION, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"};
}
static void eq_challenge(const void *pa, const void *pb) {
  const pgd_msg_challenge_t *a = pa, *b = pb;
  CU_ASSERT_EQUAL(a->protocol, b->protocol);
  EQ_STR(a->nonce, b->nonce);
}

CODEC_FNS(auth)
static void fill_auth(void *p) {
  ((pgd_msg_auth_t *)p)->proof = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
}
static void eq_auth(const void *pa, const void *pb) {
  EQ_STR(((const pgd_msg_auth_t *)pa)->proof, ((const pgd_msg_auth_t *)pb)->proof);
}

CODEC_FNS(reject)
static void fill_reject(void *p) { ((pgd_msg_reject_t *)p)->reason = "wrong cluster secret"; }
static void eq_reject(const void *pa, const void *pb) {
  EQ_STR(((const pgd_msg_reject_t *)pa)->reason, ((const pgd_msg_reject_t *)pb)->reason);
}

CODEC_FNS(heartbeat)
static void fill_heartbeat(void *p) {
  pgd_msg_heartbeat_t *m = p;
  m->slots = 4;
  m->slots_used = 2;
  m->running = 2;
  m->running_attempts = keep(refs());
  m->types = keep(cJSON_Parse("[\"shell\",\"lua\"]"));
  m->labels = keep(cJSON_Parse("[\"etl\"]"));
  m->load = (pgd_msg_load_t){true, 1.5, -1};
  m->resource_cache = (pgd_msg_rescache_t){true, 3, 4096, 5, 1, 2};
  m->plugins = keep(cJSON_Parse(
      "[{\"type\":\"etl\",\"sha256\":\"ab\",\"status\":\"active\",\"version\":\"2.0\","
      "\"abi\":\"1.2\",\"reason\":\"r\"}]"));
}
static void eq_heartbeat(const void *pa, const void *pb) {
  const pgd_msg_heartbeat_t *a = pa, *b = pb;
  CU_ASSERT(a->slots == b->slots && a->slots_used == b->slots_used && a->running == b->running);
  EQ_JSON(a->running_attempts, b->running_attempts);
  EQ_JSON(a->types, b->types);
  EQ_JSON(a->labels, b->labels);
  EQ_LOAD(a->load, b->load);
  CU_ASSERT_EQUAL(memcmp(&a->resource_cache, &b->resource_cache, sizeof a->resource_cache), 0);
  EQ_JSON(a->plugins, b->plugins);
}

CODEC_FNS(plugins)
static void fill_plugins(void *p) {
  ((pgd_msg_plugins_t *)p)->plugins =
      keep(cJSON_Parse("[{\"type\":\"etl\",\"sha256\":\"ab\",\"size\":4096}]"));
}
static void eq_plugins(const void *pa, const void *pb) {
  EQ_JSON(((const pgd_msg_plugins_t *)pa)->plugins, ((const pgd_msg_plugins_t *)pb)->plugins);
}

CODEC_FNS(launch)
static void fill_launch(void *p) {
  pgd_msg_launch_t *m = p;
  m->epoch = 3;
  m->execution_id = 17;
  m->attempt = 2;
  m->job = "nightly";
  m->job_type = "shell";
  m->params = keep(cJSON_Parse("{\"script\":\"echo hi\",\"n\":[1,2]}"));
  m->slots = pgd_msg_int(2);
  m->timeout_ms = pgd_msg_int(60000);
  m->kill_grace_ms = pgd_msg_int(5000);
  m->run_as = "nobody";
  m->env = keep(cJSON_Parse("{\"A\":\"1\",\"B\":2,\"C\":true}"));
  cJSON *res = cJSON_CreateArray();
  pgd_msg_resource_add(res, &(pgd_msg_resource_t){"data.csv", "ab12", pgd_msg_int(99), NULL});
  pgd_msg_resource_add(res, &(pgd_msg_resource_t){"gone", NULL, {0}, "no such resource"});
  m->resources = keep(res);
  m->limits = (pgd_msg_limits_t){true, 256, 1.5, 64};
}
static void eq_launch(const void *pa, const void *pb) {
  const pgd_msg_launch_t *a = pa, *b = pb;
  CU_ASSERT(a->epoch == b->epoch && a->execution_id == b->execution_id && a->attempt == b->attempt);
  EQ_STR(a->job, b->job);
  EQ_STR(a->job_type, b->job_type);
  EQ_JSON(a->params, b->params);
  EQ_OPT(a->slots, b->slots);
  EQ_OPT(a->timeout_ms, b->timeout_ms);
  EQ_OPT(a->kill_grace_ms, b->kill_grace_ms);
  EQ_STR(a->run_as, b->run_as);
  EQ_JSON(a->env, b->env);
  EQ_JSON(a->resources, b->resources);
  CU_ASSERT(a->limits.set == b->limits.set && a->limits.memory_mb == b->limits.memory_mb &&
            a->limits.cpus == b->limits.cpus && a->limits.pids == b->limits.pids);
}

CODEC_FNS(kill)
static void fill_kill(void *p) {
  *(pgd_msg_kill_t *)p = (pgd_msg_kill_t){3, 17, 2, "killed", pgd_msg_int(250)};
}
static void eq_kill(const void *pa, const void *pb) {
  const pgd_msg_kill_t *a = pa, *b = pb;
  CU_ASSERT(a->epoch == b->epoch && a->execution_id == b->execution_id && a->attempt == b->attempt);
  EQ_STR(a->reason, b->reason);
  EQ_OPT(a->grace_ms, b->grace_ms);
}

CODEC_FNS(state)
static void fill_state(void *p) {
  pgd_msg_state_t *m = p;
  m->seq = 42;
  m->execution_id = 17;
  m->attempt = 2;
  m->state = PGD_STATE_FAILED;
  m->at_us = pgd_msg_int(1764950000123456LL); /* µs timestamps stay exact */
  m->pid = pgd_msg_int(999);
  m->exit_code = pgd_msg_int(3);
  m->signal = pgd_msg_int(15);
  m->error = "exit code 3";
  m->result = keep(cJSON_Parse("{\"rows\":10}"));
  m->attributes = keep(cJSON_Parse("{\"spark_app_id\":\"app-1\"}"));
}
static void eq_state(const void *pa, const void *pb) {
  const pgd_msg_state_t *a = pa, *b = pb;
  CU_ASSERT(a->seq == b->seq && a->execution_id == b->execution_id && a->attempt == b->attempt);
  CU_ASSERT_EQUAL(a->state, b->state);
  EQ_OPT(a->at_us, b->at_us);
  EQ_OPT(a->pid, b->pid);
  EQ_OPT(a->exit_code, b->exit_code);
  EQ_OPT(a->signal, b->signal);
  EQ_STR(a->error, b->error);
  EQ_JSON(a->result, b->result);
  EQ_JSON(a->attributes, b->attributes);
}

CODEC_FNS(log)
static void fill_log(void *p) {
  *(pgd_msg_log_t *)p = (pgd_msg_log_t){43, 17, 2, 1024, "line \xc3\xa9\n"};
}
static void eq_log(const void *pa, const void *pb) {
  const pgd_msg_log_t *a = pa, *b = pb;
  CU_ASSERT(a->seq == b->seq && a->execution_id == b->execution_id && a->attempt == b->attempt &&
            a->offset == b->offset);
  EQ_STR(a->data, b->data);
}

CODEC_FNS(ack)
static void fill_ack(void *p) {
  ((pgd_msg_ack_t *)p)->seqs = keep(cJSON_Parse("[1,2,9007199254740991]"));
}
static void eq_ack(const void *pa, const void *pb) {
  EQ_JSON(((const pgd_msg_ack_t *)pa)->seqs, ((const pgd_msg_ack_t *)pb)->seqs);
}

CODEC_FNS(error)
static void fill_error(void *p) {
  *(pgd_msg_error_t *)p = (pgd_msg_error_t){"launch from epoch 1 refused", pgd_msg_int(-20002)};
}
static void eq_error(const void *pa, const void *pb) {
  const pgd_msg_error_t *a = pa, *b = pb;
  EQ_STR(a->reason, b->reason);
  EQ_OPT(a->code, b->code);
}

CODEC_FNS(leave)
static void fill_leave(void *p) { ((pgd_msg_leave_t *)p)->grace_ms = 30000; }
static void eq_leave(const void *pa, const void *pb) {
  CU_ASSERT(((const pgd_msg_leave_t *)pa)->grace_ms == ((const pgd_msg_leave_t *)pb)->grace_ms);
}

#define ENTRY(T, name)                                                                             \
  { PGD_MSG_##T, sizeof(pgd_msg_##name##_t), enc_##name, dec_##name, fill_##name, eq_##name }
static const codec_t codecs[] = {
    ENTRY(HELLO, hello),   ENTRY(WELCOME, welcome),
    ENTRY(REJECT, reject), ENTRY(HEARTBEAT, heartbeat),
    ENTRY(LAUNCH, launch), ENTRY(STATE, state),
    ENTRY(LOG, log),       ENTRY(KILL, kill),
    ENTRY(ACK, ack),       ENTRY(ERROR, error),
    ENTRY(CHALLENGE, challenge), ENTRY(AUTH, auth),
    ENTRY(PLUGINS, plugins),
    ENTRY(LEAVE, leave),
};
#define N_CODECS (int)(sizeof codecs / sizeof codecs[0])

/* The full message of codec `c`, as a peer receives it (printed, parsed). */
static cJSON *full_wire(const codec_t *c) {
  void *m = calloc(1, c->size);
  c->fill(m);
  cJSON *enc = c->encode(m);
  free(m);
  CU_ASSERT_PTR_NOT_NULL_FATAL(enc);
  char *text = cJSON_PrintUnformatted(enc);
  cJSON *wire = cJSON_Parse(text);
  free(text);
  cJSON_Delete(enc);
  return wire;
}

/* ---- key paths ---- */

typedef struct paths {
  char *p[128];
  int n;
} paths_t;

static void paths_free(paths_t *ps) {
  for (int i = 0; i < ps->n; i++) free(ps->p[i]);
  ps->n = 0;
}

static int paths_has(const paths_t *ps, const char *p) {
  for (int i = 0; i < ps->n; i++)
    if (!strcmp(ps->p[i], p)) return 1;
  return 0;
}

static void paths_add(paths_t *ps, const char *p) {
  if (!paths_has(ps, p) && ps->n < 128) ps->p[ps->n++] = strdup(p);
}

/* 1 when the field list names children of `prefix` + sep. */
static int has_children(const pgd_msg_field_t *f, size_t n, const char *prefix, const char *sep) {
  char want[256];
  snprintf(want, sizeof want, "%s%s", prefix, sep);
  for (size_t i = 0; i < n; i++)
    if (!strncmp(f[i].path, want, strlen(want))) return 1;
  return 0;
}

/* Every key path of `o` (descending into records the field list details). */
static void collect_paths(const cJSON *o, const char *prefix, const pgd_msg_field_t *f, size_t n,
                          paths_t *out) {
  const cJSON *kv;
  cJSON_ArrayForEach(kv, o) {
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", kv->string);
    paths_add(out, path);
    if (cJSON_IsObject(kv) && has_children(f, n, path, ".")) collect_paths(kv, path, f, n, out);
    if (cJSON_IsArray(kv) && has_children(f, n, path, "[].")) {
      char elem[260];
      snprintf(elem, sizeof elem, "%s[]", path);
      const cJSON *e;
      cJSON_ArrayForEach(e, kv) collect_paths(e, elem, f, n, out);
    }
  }
}

/* ---- (a) and (b) ---- */

static void test_round_trip_every_message(void) {
  CU_ASSERT_EQUAL(N_CODECS, PGD_MSG__COUNT);
  for (int i = 0; i < N_CODECS; i++) {
    const codec_t *c = &codecs[i];
    void *m = calloc(1, c->size), *d = calloc(1, c->size);
    c->fill(m);
    cJSON *wire = full_wire(c);
    char err[256] = "";
    int rc = c->decode(wire, d, err, sizeof err);
    if (rc != 0) fprintf(stderr, "%s: %s\n", pgd_msg_name(c->type), err);
    CU_ASSERT_EQUAL(rc, 0);
    c->check_equal(m, d);
    free(m);
    free(d);
    cJSON_Delete(wire);
  }
}

static void test_encoder_writes_what_decoder_reads(void) {
  for (int i = 0; i < N_CODECS; i++) {
    const codec_t *c = &codecs[i];
    size_t n;
    const pgd_msg_field_t *f = pgd_msg_fields(c->type, &n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    cJSON *wire = full_wire(c);
    /* decode, re-encode: a key the decoder does not read would be lost */
    void *d = calloc(1, c->size);
    CU_ASSERT_EQUAL_FATAL(c->decode(wire, d, NULL, 0), 0);
    cJSON *again = c->encode(d);
    if (!cJSON_Compare(wire, again, 1)) {
      char *a = cJSON_PrintUnformatted(wire), *b = cJSON_PrintUnformatted(again);
      fprintf(stderr, "%s: sent %s, decoded and re-encoded %s\n", pgd_msg_name(c->type), a, b);
      free(a);
      free(b);
      CU_FAIL("re-encoding a decoded message changed it");
    }
    /* the encoded key paths are exactly the field list */
    paths_t got = {0};
    collect_paths(wire, "", f, n, &got);
    CU_ASSERT_EQUAL(got.n, (int)n);
    for (size_t k = 0; k < n; k++) {
      if (!paths_has(&got, f[k].path))
        fprintf(stderr, "%s: field %s is listed but not encoded\n", pgd_msg_name(c->type),
                f[k].path);
      CU_ASSERT(paths_has(&got, f[k].path));
    }
    for (int k = 0; k < got.n; k++) {
      int listed = 0;
      for (size_t j = 0; j < n; j++) listed |= !strcmp(f[j].path, got.p[k]);
      if (!listed)
        fprintf(stderr, "%s: %s is encoded but not listed\n", pgd_msg_name(c->type), got.p[k]);
      CU_ASSERT(listed);
    }
    paths_free(&got);
    cJSON_Delete(again);
    cJSON_Delete(wire);
    free(d);
  }
}

/* ---- (c) docs/protocol.md ---- */

static char *read_file(const char *path) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return NULL;
  fseek(fp, 0, SEEK_END);
  long len = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *s = malloc((size_t)len + 1);
  size_t got = fread(s, 1, (size_t)len, fp);
  s[got] = '\0';
  fclose(fp);
  return s;
}

/* Copies cell `idx` (0-based) of a Markdown table row into out, trimmed and
 * without backticks. Returns 0, or -1 when the row has fewer cells. */
static int cell(const char *row, int idx, char *out, size_t outlen) {
  const char *p = row;
  if (*p == '|') p++;
  for (int i = 0; i < idx; i++) {
    p = strchr(p, '|');
    if (!p) return -1;
    p++;
  }
  const char *end = strchr(p, '|');
  if (!end) return -1;
  size_t k = 0;
  for (const char *q = p; q < end && k + 1 < outlen; q++)
    if (*q != '`' && !(k == 0 && *q == ' ')) out[k++] = *q;
  while (k > 0 && out[k - 1] == ' ') k--;
  out[k] = '\0';
  return 0;
}

static void test_docs_match_codec(void) {
  const char *src = getenv("PAGODA_SOURCE_DIR");
  CU_ASSERT_PTR_NOT_NULL_FATAL(src); /* ctest sets it */
  char path[4096];
  snprintf(path, sizeof path, "%s/docs/protocol.md", src);
  char *doc = read_file(path);
  CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
  for (int t = 0; t < PGD_MSG__COUNT; t++) {
    const char *name = pgd_msg_name(t);
    char heading[64];
    snprintf(heading, sizeof heading, "\n### `%s`", name);
    const char *sec = strstr(doc, heading);
    if (!sec) fprintf(stderr, "docs/protocol.md has no section %s\n", heading + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sec);
    const char *next = strstr(sec + 1, "\n#");
    size_t n;
    const pgd_msg_field_t *f = pgd_msg_fields(t, &n);
    size_t row = 0;
    /* rows of the field table: "| `path` | type | yes/no | meaning |" */
    for (const char *l = strstr(sec, "\n| `"); l && (!next || l < next);
         l = strstr(l + 1, "\n| `")) {
      char p[128], type[32], req[16];
      CU_ASSERT_EQUAL_FATAL(cell(l + 1, 0, p, sizeof p) | cell(l + 1, 1, type, sizeof type) |
                                cell(l + 1, 2, req, sizeof req),
                            0);
      if (row >= n) {
        fprintf(stderr, "%s: docs list %s, which the codec does not have\n", name, p);
        CU_FAIL("a documented field is not in the codec");
        break;
      }
      if (strcmp(p, f[row].path) || strcmp(type, f[row].type) ||
          strcmp(req, f[row].required ? "yes" : "no")) {
        fprintf(stderr, "%s: docs row %zu says `%s` %s %s, the codec `%s` %s %s\n", name, row, p,
                type, req, f[row].path, f[row].type, f[row].required ? "yes" : "no");
        CU_FAIL("docs/protocol.md and the codec disagree");
      }
      row++;
    }
    if (row != n) fprintf(stderr, "%s: docs list %zu fields, the codec %zu\n", name, row, n);
    CU_ASSERT_EQUAL(row, n);
  }
  free(doc);
}

/* ---- (d) hostile input ---- */

/* The object holding the last component of `path` in `msg` (descending
 * into the first element of "[]" arrays), and that component in *leaf. */
static cJSON *parent_of(cJSON *msg, const char *path, char *leaf, size_t leaflen) {
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  cJSON *o = msg;
  char *s = buf, *dot;
  while ((dot = strchr(s, '.'))) {
    *dot = '\0';
    size_t l = strlen(s);
    int arr = l > 2 && !strcmp(s + l - 2, "[]");
    if (arr) s[l - 2] = '\0';
    o = cJSON_GetObjectItemCaseSensitive(o, s);
    if (arr) o = cJSON_GetArrayItem(o, 0);
    if (!o) return NULL;
    s = dot + 1;
  }
  snprintf(leaf, leaflen, "%s", s);
  return o;
}

/* Decodes `msg` with codec c; returns rc and leaves the error in err. */
static int decode(const codec_t *c, const cJSON *msg, char *err, size_t errlen) {
  void *d = calloc(1, c->size);
  err[0] = '\0';
  int rc = c->decode(msg, d, err, errlen);
  free(d);
  return rc;
}

/* Values of the wrong type (or range) for a field of `type`. */
static int bad_values(const char *type, cJSON **v) {
  int n = 0;
  v[n++] = cJSON_CreateNull();
  v[n++] = cJSON_CreateTrue();
  if (!strcmp(type, "integer")) {
    v[n++] = cJSON_CreateString("1");
    v[n++] = cJSON_CreateNumber(1e300);
    v[n++] = cJSON_CreateNumber(-1e300);
    v[n++] = cJSON_CreateNumber(9007199254740992.0); /* 2^53 */
    v[n++] = cJSON_CreateNumber(0.5);
    v[n++] = cJSON_CreateObject();
  } else if (!strcmp(type, "number")) {
    v[n++] = cJSON_CreateString("0.5");
    v[n++] = cJSON_CreateArray();
  } else if (!strcmp(type, "string") || !strcmp(type, "state")) {
    v[n++] = cJSON_CreateNumber(1);
    v[n++] = cJSON_CreateArray();
    if (!strcmp(type, "state")) v[n++] = cJSON_CreateString("exploded");
  } else if (!strcmp(type, "object")) {
    v[n++] = cJSON_CreateString("{}");
    v[n++] = cJSON_CreateArray();
  } else if (!strcmp(type, "string[]")) {
    v[n++] = cJSON_CreateObject();
    v[n++] = cJSON_Parse("[\"a\", 1]");
    v[n++] = cJSON_Parse("[null]");
  } else if (!strcmp(type, "integer[]")) {
    v[n++] = cJSON_CreateString("[1]");
    v[n++] = cJSON_Parse("[1, \"2\"]");
    v[n++] = cJSON_Parse("[1e300]");
    v[n++] = cJSON_Parse("[0]");
  } else if (!strcmp(type, "object[]")) {
    v[n++] = cJSON_CreateObject();
    v[n++] = cJSON_Parse("[1]");
    v[n++] = cJSON_Parse("[null]");
  } else {
    for (int i = 0; i < n; i++) cJSON_Delete(v[i]);
    return 0; /* any: every JSON value is valid */
  }
  return n;
}

static void test_hostile_input(void) {
  char err[512];
  for (int i = 0; i < N_CODECS; i++) {
    const codec_t *c = &codecs[i];
    const char *name = pgd_msg_name(c->type);
    /* not an object at all */
    cJSON *notobj[] = {NULL, cJSON_CreateNull(), cJSON_CreateArray(), cJSON_CreateString("x"),
                       cJSON_CreateNumber(1)};
    for (size_t k = 0; k < sizeof notobj / sizeof notobj[0]; k++) {
      CU_ASSERT_EQUAL(decode(c, notobj[k], err, sizeof err), -EINVAL);
      cJSON_Delete(notobj[k]);
    }
    size_t n;
    const pgd_msg_field_t *f = pgd_msg_fields(c->type, &n);
    for (size_t k = 0; k < n; k++) {
      char leaf[256], shown[300];
      /* the path as errors show it: running[].attempt -> running[0].attempt */
      snprintf(shown, sizeof shown, "%s.", name);
      for (const char *p = f[k].path; *p; p++) {
        size_t l = strlen(shown);
        if (p[0] == '[' && p[1] == ']') {
          snprintf(shown + l, sizeof shown - l, "[0]");
          p++;
        } else if (l + 1 < sizeof shown) {
          shown[l] = *p;
          shown[l + 1] = '\0';
        }
      }
      /* missing */
      cJSON *msg = full_wire(c);
      cJSON *parent = parent_of(msg, f[k].path, leaf, sizeof leaf);
      CU_ASSERT_PTR_NOT_NULL_FATAL(parent);
      cJSON_DeleteItemFromObjectCaseSensitive(parent, leaf);
      int rc = decode(c, msg, err, sizeof err);
      if (f[k].required) {
        CU_ASSERT_EQUAL(rc, -EINVAL);
        if (!strstr(err, shown)) fprintf(stderr, "missing %s: error '%s'\n", shown, err);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, shown));
      } else {
        if (rc != 0) fprintf(stderr, "without optional %s: %s\n", shown, err);
        CU_ASSERT_EQUAL(rc, 0);
      }
      cJSON_Delete(msg);
      /* wrong types and out-of-range values */
      cJSON *bad[16];
      int nb = bad_values(f[k].type, bad);
      for (int b = 0; b < nb; b++) {
        msg = full_wire(c);
        parent = parent_of(msg, f[k].path, leaf, sizeof leaf);
        CU_ASSERT_PTR_NOT_NULL_FATAL(parent);
        if (cJSON_GetObjectItemCaseSensitive(parent, leaf))
          cJSON_ReplaceItemInObjectCaseSensitive(parent, leaf, bad[b]);
        else /* an optional field this record does not carry */
          cJSON_AddItemToObject(parent, leaf, bad[b]);
        rc = decode(c, msg, err, sizeof err);
        if (c->type == PGD_MSG_HELLO && !strcmp(f[k].path, "protocol") && cJSON_IsNumber(bad[b]) &&
            rc == -EPROTONOSUPPORT)
          rc = -EINVAL; /* a whole other version: refused as such */
        if (rc != -EINVAL) {
          char *t = cJSON_PrintUnformatted(msg);
          fprintf(stderr, "accepted a bad %s: %s\n", shown, t);
          free(t);
        }
        CU_ASSERT_EQUAL(rc, -EINVAL);
        CU_ASSERT(err[0] != '\0');
        cJSON_Delete(msg);
      }
    }
  }
}

static void test_specific_rules(void) {
  char err[256];
  /* error: the old name `message` is still read; `reason` wins */
  pgd_msg_error_t e;
  cJSON *m = cJSON_Parse("{\"message\":\"old worker\"}");
  CU_ASSERT_EQUAL(pgd_msg_error_decode(m, &e, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(e.reason, "old worker");
  CU_ASSERT_FALSE(e.code.set);
  cJSON_Delete(m);
  m = cJSON_Parse("{\"reason\":\"new\",\"message\":\"old\",\"code\":-20001}");
  CU_ASSERT_EQUAL(pgd_msg_error_decode(m, &e, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(e.reason, "new");
  CU_ASSERT(e.code.set && e.code.v == -20001);
  cJSON_Delete(m);
  m = cJSON_Parse("{\"message\":7}");
  CU_ASSERT_EQUAL(pgd_msg_error_decode(m, &e, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "error.message"));
  cJSON_Delete(m);

  /* hello: another protocol version is refused before anything else */
  pgd_msg_hello_t h;
  m = cJSON_Parse("{\"protocol\":99,\"worker\":\"a whole other shape\"}");
  CU_ASSERT_EQUAL(pgd_msg_hello_decode(m, &h, err, sizeof err), -EPROTONOSUPPORT);
  CU_ASSERT_EQUAL(h.protocol, 99);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "99"));
  cJSON_Delete(m);

  /* a bad report still yields its seq (decoded first) so it can be acked */
  pgd_msg_state_t s;
  m = cJSON_Parse("{\"seq\":4,\"execution_id\":9,\"attempt\":1,\"state\":\"exploded\"}");
  CU_ASSERT_EQUAL(pgd_msg_state_decode(m, &s, err, sizeof err), -EINVAL);
  CU_ASSERT_EQUAL(s.seq, 4);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "state.state"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "exploded"));
  cJSON_Delete(m);

  /* ranges: attempt fits an int, seq starts at 1 */
  pgd_msg_kill_t k;
  m = cJSON_Parse("{\"epoch\":1,\"execution_id\":1,\"attempt\":2147483648}");
  CU_ASSERT_EQUAL(pgd_msg_kill_decode(m, &k, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "kill.attempt"));
  cJSON_Delete(m);
  pgd_msg_log_t l;
  m = cJSON_Parse("{\"seq\":0,\"execution_id\":1,\"attempt\":1,\"offset\":0,\"data\":\"\"}");
  CU_ASSERT_EQUAL(pgd_msg_log_decode(m, &l, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "log.seq"));
  cJSON_Delete(m);

  /* launch.limits: each value >= 0, of its type; absent = not set */
  pgd_msg_launch_t lm;
  m = cJSON_Parse("{\"epoch\":1,\"execution_id\":1,\"attempt\":1,\"limits\":{\"cpus\":-1}}");
  CU_ASSERT_EQUAL(pgd_msg_launch_decode(m, &lm, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "launch.limits.cpus"));
  cJSON_Delete(m);
  m = cJSON_Parse("{\"epoch\":1,\"execution_id\":1,\"attempt\":1,\"limits\":{\"memory_mb\":\"1g\"}}");
  CU_ASSERT_EQUAL(pgd_msg_launch_decode(m, &lm, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "launch.limits.memory_mb"));
  cJSON_Delete(m);
  m = cJSON_Parse("{\"epoch\":1,\"execution_id\":1,\"attempt\":1,\"limits\":{\"pids\":5}}");
  CU_ASSERT_EQUAL(pgd_msg_launch_decode(m, &lm, err, sizeof err), 0);
  CU_ASSERT(lm.limits.set && lm.limits.pids == 5 && lm.limits.memory_mb == 0 && lm.limits.cpus == 0);
  cJSON_Delete(m);
  m = cJSON_Parse("{\"epoch\":1,\"execution_id\":1,\"attempt\":1}");
  CU_ASSERT_EQUAL(pgd_msg_launch_decode(m, &lm, err, sizeof err), 0);
  CU_ASSERT_FALSE(lm.limits.set);
  cJSON_Delete(m);

  /* unknown keys are ignored (an optional field may be added later) */
  pgd_msg_welcome_t w;
  m = cJSON_Parse("{\"type\":\"welcome\",\"epoch\":2,\"proof\":\"p\",\"master\":\"h:1\",\"future\":[1]}");
  CU_ASSERT_EQUAL(pgd_msg_welcome_decode(m, &w, err, sizeof err), 0);
  CU_ASSERT_EQUAL(w.epoch, 2);
  CU_ASSERT_FALSE(w.heartbeat_ms.set);
  CU_ASSERT_PTR_NULL(w.http);
  cJSON_Delete(m);

  /* the report queue sets seq: an encoder leaves out seq 0 */
  pgd_msg_state_t st = {.execution_id = 1, .attempt = 1, .state = PGD_STATE_RUNNING};
  m = pgd_msg_state_encode(&st);
  CU_ASSERT_PTR_NULL(cJSON_GetObjectItemCaseSensitive(m, "seq"));
  CU_ASSERT_STRING_EQUAL(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "state")),
                         "running");
  cJSON_Delete(m);

  /* record accessors */
  cJSON *arr = refs();
  pgd_msg_attempt_ref_t r;
  CU_ASSERT_EQUAL(pgd_msg_count(arr), 2);
  CU_ASSERT_EQUAL(pgd_msg_attempt_ref_at(arr, 0, &r), 0);
  CU_ASSERT(r.execution_id == 4503599627370496LL && r.attempt == 3);
  CU_ASSERT_EQUAL(pgd_msg_attempt_ref_at(arr, 2, &r), -EINVAL);
  CU_ASSERT_EQUAL(pgd_msg_attempt_ref_at(NULL, 0, &r), -EINVAL);
  CU_ASSERT_EQUAL(pgd_msg_count(NULL), 0);
  cJSON_Delete(arr);
  size_t n = 1;
  CU_ASSERT_PTR_NULL(pgd_msg_fields(PGD_MSG__COUNT, &n));
  CU_ASSERT_EQUAL(n, 0);
  CU_ASSERT_PTR_NULL(pgd_msg_state_encode(NULL));
  CU_ASSERT_EQUAL(pgd_msg_state_decode(NULL, NULL, NULL, 0), -EINVAL);
}

int main(void) {
  arena = cJSON_CreateArray();
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("net_msg", NULL, NULL);
  CU_add_test(s, "round trip of every message", test_round_trip_every_message);
  CU_add_test(s, "encoder writes what the decoder reads", test_encoder_writes_what_decoder_reads);
  CU_add_test(s, "docs/protocol.md matches the codec", test_docs_match_codec);
  CU_add_test(s, "hostile input", test_hostile_input);
  CU_add_test(s, "specific rules", test_specific_rules);
  int rc = pgd_test_run();
  cJSON_Delete(arena);
  return rc;
}
