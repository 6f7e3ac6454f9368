/* Behavioural cases of the store's documents (pgd_store_put_doc & co.),
 * shared by the backend tests like test_store_cases.h (include that one
 * first: this file uses its helpers and `B`). Registered with
 * store_add_doc_cases(). */
#ifndef PAGODA_TEST_STORE_DOC_CASES_H
#define PAGODA_TEST_STORE_DOC_CASES_H

#include "test_store_cases.h"

/* put_doc + wait; returns the callback's status */
static int doc_put_wait(uv_loop_t *loop, pgd_store_t *s, const char *kind, const char *id,
                        const char *parent, const char *state, const char *text) {
  cJSON *o = parse(text);
  counter_t c = {0};
  int rc = pgd_store_put_doc(s, kind, id, parent, state, o, count_cb, &c);
  cJSON_Delete(o);
  CU_ASSERT_FATAL(rc == 0);
  uv_run(loop, UV_RUN_DEFAULT);
  CU_ASSERT_FATAL(c.calls == 1);
  return c.last_status;
}

static void doc_put_async(pgd_store_t *s, const char *kind, const char *id, const char *parent,
                          const char *state, counter_t *c) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", id);
  CU_ASSERT(pgd_store_put_doc(s, kind, id, parent, state, o, count_cb, c) == 0);
  cJSON_Delete(o);
}

/* the doc without the store's timestamps equals want_text */
static int doc_equal(cJSON *doc, const char *want_text) {
  if (!doc) return json_equal_text(NULL, want_text);
  cJSON *copy = cJSON_Duplicate(doc, 1);
  cJSON_DeleteItemFromObject(copy, "created_us");
  cJSON_DeleteItemFromObject(copy, "updated_us");
  int eq = json_equal_text(copy, want_text);
  cJSON_Delete(copy);
  return eq;
}

/* the "id" members of the array's objects, in order, equal ids[] */
static int doc_ids_are(const cJSON *arr, const char *const *ids, int n) {
  int ok = cJSON_IsArray(arr) && cJSON_GetArraySize(arr) == n;
  for (int i = 0; ok && i < n; i++) {
    const cJSON *id = cJSON_GetObjectItem(cJSON_GetArrayItem(arr, i), "id");
    ok = cJSON_IsString(id) && strcmp(id->valuestring, ids[i]) == 0;
  }
  if (!ok) {
    char *g = arr ? cJSON_PrintUnformatted(arr) : NULL;
    fprintf(stderr, "\n  want %d ids starting %s, got %s\n", n, n ? ids[0] : "-", g ? g : "(null)");
    free(g);
  }
  return ok;
}

static void test_doc_roundtrip_upsert(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  const char *flow = "{\"name\":\"etl\",\"nodes\":[{\"id\":\"a\",\"job\":\"x\"},{\"id\":\"b\","
                     "\"after\":[\"a\"]}],\"retries\":2,\"ratio\":0.5,\"on\":true,\"none\":null,"
                     "\"text\":\"quote \\\" back \\\\ \\u00e9\\u4e2d\",\"empty\":{}}";
  int64_t t0 = pgd_now_us();
  CU_ASSERT(doc_put_wait(&loop, s, "flow", "etl", NULL, "active", flow) == 0);
  /* same id, other kind: another document */
  CU_ASSERT(doc_put_wait(&loop, s, "schedule", "etl", "etl", NULL,
                         "{\"cron\":\"0 * * * *\",\"created_us\":5,\"updated_us\":6}") == 0);
  cJSON *d = pgd_store_get_doc(s, "flow", "etl");
  CU_ASSERT_FATAL(d != NULL);
  int64_t created = get_int(d, "created_us");
  CU_ASSERT(created >= t0 && created <= pgd_now_us());
  CU_ASSERT(get_int(d, "updated_us") == created);
  CU_ASSERT(doc_equal(d, flow));
  cJSON_Delete(d);
  d = pgd_store_get_doc(s, "schedule", "etl"); /* the caller's timestamps are ignored */
  CU_ASSERT(doc_equal(d, "{\"cron\":\"0 * * * *\"}"));
  CU_ASSERT(get_int(d, "created_us") >= t0);
  cJSON_Delete(d);
  CU_ASSERT(pgd_store_get_doc(s, "flow", "nope") == NULL);
  CU_ASSERT(pgd_store_get_doc(s, "resource", "etl") == NULL);

  /* upsert: created_us kept, object, parent and state replaced */
  usleep(2000);
  CU_ASSERT(doc_put_wait(&loop, s, "flow", "etl", "team-a", NULL, "{\"name\":\"etl\",\"v\":2}") == 0);
  d = pgd_store_get_doc(s, "flow", "etl");
  CU_ASSERT(doc_equal(d, "{\"name\":\"etl\",\"v\":2}"));
  CU_ASSERT(get_int(d, "created_us") == created);
  CU_ASSERT(get_int(d, "updated_us") > created);
  cJSON_Delete(d);
  cJSON *l = pgd_store_list_docs(s, "flow", NULL, "active", 0, NULL);
  CU_ASSERT(cJSON_IsArray(l) && cJSON_GetArraySize(l) == 0);
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "flow", "team-a", NULL, 0, NULL);
  CU_ASSERT(cJSON_GetArraySize(l) == 1 && doc_equal(cJSON_GetArrayItem(l, 0), "{\"name\":\"etl\",\"v\":2}"));
  cJSON_Delete(l);

  /* columns: sort_num is the id's value for digit ids, NULL otherwise */
  CU_ASSERT(doc_put_wait(&loop, s, "schedule_run", "0042", "etl", "running", "{}") == 0);
  CU_ASSERT(sql_int("SELECT sort_num FROM docs WHERE kind='schedule_run' AND id='0042'") == 42);
  CU_ASSERT(sql_int("SELECT count(*) FROM docs WHERE sort_num IS NULL") == 2);
  CU_ASSERT(sql_int("SELECT count(*) FROM docs WHERE parent='etl' AND state='running'") == 1);

  /* durable across reopen */
  close_all(s, &loop);
  uv_loop_init(&loop);
  s = open_ok(&loop);
  d = pgd_store_get_doc(s, "schedule_run", "0042");
  CU_ASSERT(doc_equal(d, "{}"));
  cJSON_Delete(d);
  close_all(s, &loop);
  remove_db();
}

static void test_doc_delete(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  counter_t c = {0};
  for (int i = 1; i <= 6; i++) {
    char id[8];
    snprintf(id, sizeof(id), "%d", i);
    doc_put_async(s, "schedule_run", id, i <= 4 ? "s1" : "s2", NULL, &c);
  }
  doc_put_async(s, "flow_execution", "1", "s1", NULL, &c); /* same parent, other kind */
  doc_put_async(s, "schedule", "s1", NULL, NULL, &c);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(c.calls == 8 && c.ok == 8);

  counter_t d = {0};
  CU_ASSERT(pgd_store_delete_doc(s, "schedule", "s1", count_cb, &d) == 0);
  CU_ASSERT(pgd_store_delete_doc(s, "schedule", "never", count_cb, &d) == 0);
  CU_ASSERT(pgd_store_delete_docs(s, "schedule_run", "s1", count_cb, &d) == 0);
  CU_ASSERT(pgd_store_delete_docs(s, "schedule_run", "nobody", count_cb, &d) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(d.calls == 4 && d.ok == 4);
  CU_ASSERT(pgd_store_get_doc(s, "schedule", "s1") == NULL);
  cJSON *l = pgd_store_list_docs(s, "schedule_run", NULL, NULL, 0, NULL);
  const char *left[] = {"6", "5"};
  CU_ASSERT(doc_ids_are(l, left, 2));
  cJSON_Delete(l);
  cJSON *fe = pgd_store_get_doc(s, "flow_execution", "1");
  CU_ASSERT(fe != NULL);
  cJSON_Delete(fe);

  /* writes of one batch apply in order: put, delete, put -> the last put */
  memset(&d, 0, sizeof(d));
  cJSON *o1 = parse("{\"v\":1}"), *o2 = parse("{\"v\":2}");
  CU_ASSERT(pgd_store_put_doc(s, "flow", "f", NULL, NULL, o1, count_cb, &d) == 0);
  CU_ASSERT(pgd_store_delete_doc(s, "flow", "f", count_cb, &d) == 0);
  CU_ASSERT(pgd_store_put_doc(s, "flow", "f", NULL, NULL, o2, count_cb, &d) == 0);
  CU_ASSERT(pgd_store_put_doc(s, "flow", "g", NULL, NULL, o1, count_cb, &d) == 0);
  CU_ASSERT(pgd_store_delete_doc(s, "flow", "g", count_cb, &d) == 0);
  cJSON_Delete(o1);
  cJSON_Delete(o2);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(d.calls == 5 && d.ok == 5);
  cJSON *f = pgd_store_get_doc(s, "flow", "f");
  CU_ASSERT(doc_equal(f, "{\"v\":2}"));
  cJSON_Delete(f);
  CU_ASSERT(pgd_store_get_doc(s, "flow", "g") == NULL);
  close_all(s, &loop);
  remove_db();
}

static void test_doc_list_filters_paging(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  counter_t c = {0};
  for (int i = 25; i >= 1; i--) { /* parent s1 for odd ids; running when i%4==0 */
    char id[8];
    snprintf(id, sizeof(id), "%d", i);
    doc_put_async(s, "schedule_run", id, i % 2 ? "s1" : "s2", i % 4 == 0 ? "running" : "succeeded",
                  &c);
  }
  doc_put_async(s, "flow_execution", "100", "s1", "running", &c); /* another kind */
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(c.calls == 26 && c.ok == 26);

  /* numeric order: 25 ... 10, 9 ... 1 (not "9" > "25") */
  cJSON *l = pgd_store_list_docs(s, "schedule_run", NULL, NULL, 0, NULL);
  CU_ASSERT_FATAL(cJSON_GetArraySize(l) == 25);
  int bad = 0;
  for (int i = 0; i < 25; i++) {
    char want[8];
    snprintf(want, sizeof(want), "%d", 25 - i);
    const cJSON *id = cJSON_GetObjectItem(cJSON_GetArrayItem(l, i), "id");
    if (!cJSON_IsString(id) || strcmp(id->valuestring, want) != 0) bad++;
    if (!cJSON_GetObjectItem(cJSON_GetArrayItem(l, i), "created_us")) bad++;
  }
  CU_ASSERT(bad == 0);
  cJSON_Delete(l);

  l = pgd_store_list_docs(s, "schedule_run", "s1", NULL, 0, NULL);
  const char *odd[] = {"25", "23", "21", "19", "17", "15", "13", "11", "9", "7", "5", "3", "1"};
  CU_ASSERT(doc_ids_are(l, odd, 13));
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "schedule_run", NULL, "running", 0, NULL);
  const char *running[] = {"24", "20", "16", "12", "8", "4"};
  CU_ASSERT(doc_ids_are(l, running, 6));
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "schedule_run", "s2", "running", 2, NULL);
  CU_ASSERT(doc_ids_are(l, running, 2));
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "schedule_run", "s2", "running", 0, "20");
  CU_ASSERT(doc_ids_are(l, running + 2, 4));
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "schedule_run", "s1", "running", 0, NULL);
  CU_ASSERT(cJSON_IsArray(l) && cJSON_GetArraySize(l) == 0);
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "resource", NULL, NULL, 10, NULL); /* an unused kind */
  CU_ASSERT(cJSON_IsArray(l) && cJSON_GetArraySize(l) == 0);
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "schedule_run", NULL, NULL, 0, "1");
  CU_ASSERT(cJSON_IsArray(l) && cJSON_GetArraySize(l) == 0);
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "schedule_run", NULL, NULL, 3, "");  /* "" = no paging */
  const char *top[] = {"25", "24", "23"};
  CU_ASSERT(doc_ids_are(l, top, 3));
  cJSON_Delete(l);

  /* paging by 7 from the top visits every document once, in order */
  char before[16] = "";
  int seen = 0, pages = 0, expect = 25;
  for (;;) {
    l = pgd_store_list_docs(s, "schedule_run", NULL, NULL, 7, before[0] ? before : NULL);
    CU_ASSERT_FATAL(l != NULL);
    int n = cJSON_GetArraySize(l);
    for (int i = 0; i < n; i++) {
      const cJSON *id = cJSON_GetObjectItem(cJSON_GetArrayItem(l, i), "id");
      if (atoi(id->valuestring) != expect--) bad++;
      snprintf(before, sizeof(before), "%s", id->valuestring);
    }
    seen += n;
    pages++;
    cJSON_Delete(l);
    if (n < 7) break;
  }
  CU_ASSERT(bad == 0);
  CU_ASSERT(seen == 25 && pages == 4);
  close_all(s, &loop);
  remove_db();
}

/* numeric ids first by value, then the others by bytes, all descending */
static void test_doc_order_numeric_and_text(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  const char *ids[] = {"b", "a", "B", "10", "9", "2", "007", "7", "a10", "a9", "\xc3\xa9",
                       "1234567890123456789" /* 19 digits: text */, "-3"};
  const int n = (int)(sizeof(ids) / sizeof(ids[0]));
  counter_t c = {0};
  for (int i = 0; i < n; i++) doc_put_async(s, "flow", ids[i], "p", NULL, &c);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(c.calls == n && c.ok == n);
  const char *want[] = {"10", "9", "7", "007", "2", "\xc3\xa9", "b", "a9", "a10", "a", "B",
                        "1234567890123456789", "-3"};
  cJSON *l = pgd_store_list_docs(s, "flow", NULL, NULL, 0, NULL);
  CU_ASSERT(doc_ids_are(l, want, n));
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "flow", "p", NULL, 0, NULL); /* through the parent index */
  CU_ASSERT(doc_ids_are(l, want, n));
  cJSON_Delete(l);
  /* paging across the boundaries */
  l = pgd_store_list_docs(s, "flow", NULL, NULL, 3, "7");
  CU_ASSERT(doc_ids_are(l, want + 3, 3));
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "flow", "p", NULL, 0, "2");
  CU_ASSERT(doc_ids_are(l, want + 5, n - 5));
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "flow", NULL, NULL, 0, "b");
  CU_ASSERT(doc_ids_are(l, want + 7, n - 7));
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "flow", NULL, NULL, 2, "zzz"); /* absent: "é" > "zzz" > "b" */
  CU_ASSERT(doc_ids_are(l, want + 6, 2));
  cJSON_Delete(l);
  l = pgd_store_list_docs(s, "flow", NULL, NULL, 0, "8"); /* absent numeric id */
  CU_ASSERT(doc_ids_are(l, want + 2, n - 2));
  cJSON_Delete(l);
  close_all(s, &loop);
  remove_db();
}

static void test_doc_bad_shapes(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  counter_t c = {0};
  cJSON *obj = parse("{\"a\":1}"), *arr = parse("[1]"), *str = parse("\"x\"");
  char kind33[40], id257[300], id256[300], kind32[40];
  memset(kind33, 'k', 33);
  kind33[33] = 0;
  memset(kind32, 'k', 32);
  kind32[32] = 0;
  memset(id257, 'i', 257);
  id257[257] = 0;
  memset(id256, 'i', 256);
  id256[256] = 0;
  const char *bad_kinds[] = {NULL, "", "Flow", "flow-x", "flow1", "fl ow", kind33};
  for (int i = 0; i < 7; i++) {
    CU_ASSERT(pgd_store_put_doc(s, bad_kinds[i], "x", NULL, NULL, obj, count_cb, &c) == -EINVAL);
    CU_ASSERT(pgd_store_delete_doc(s, bad_kinds[i], "x", count_cb, &c) == -EINVAL);
    CU_ASSERT(pgd_store_delete_docs(s, bad_kinds[i], "p", count_cb, &c) == -EINVAL);
    CU_ASSERT(pgd_store_get_doc(s, bad_kinds[i], "x") == NULL);
    CU_ASSERT(pgd_store_list_docs(s, bad_kinds[i], NULL, NULL, 0, NULL) == NULL);
  }
  const char *bad_ids[] = {NULL, "", id257};
  for (int i = 0; i < 3; i++) {
    CU_ASSERT(pgd_store_put_doc(s, "flow", bad_ids[i], NULL, NULL, obj, count_cb, &c) == -EINVAL);
    CU_ASSERT(pgd_store_delete_doc(s, "flow", bad_ids[i], count_cb, &c) == -EINVAL);
    CU_ASSERT(pgd_store_delete_docs(s, "flow", bad_ids[i], count_cb, &c) == -EINVAL);
    CU_ASSERT(pgd_store_get_doc(s, "flow", bad_ids[i]) == NULL);
  }
  CU_ASSERT(pgd_store_put_doc(s, "flow", "x", "", NULL, obj, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_put_doc(s, "flow", "x", id257, NULL, obj, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_put_doc(s, "flow", "x", NULL, "", obj, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_put_doc(s, "flow", "x", NULL, id257, obj, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_put_doc(s, "flow", "x", NULL, NULL, NULL, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_put_doc(s, "flow", "x", NULL, NULL, arr, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_put_doc(s, "flow", "x", NULL, NULL, str, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_put_doc(NULL, "flow", "x", NULL, NULL, obj, count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_delete_doc(NULL, "flow", "x", count_cb, &c) == -EINVAL);
  CU_ASSERT(pgd_store_get_doc(NULL, "flow", "x") == NULL);
  CU_ASSERT(pgd_store_list_docs(NULL, "flow", NULL, NULL, 0, NULL) == NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(c.calls == 0); /* a call that returned an error never calls back */
  CU_ASSERT(sql_int("SELECT count(*) FROM docs") == 0);

  /* the limits themselves are accepted */
  counter_t ok = {0};
  CU_ASSERT(pgd_store_put_doc(s, kind32, id256, id256, id256, obj, count_cb, &ok) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(ok.calls == 1 && ok.last_status == 0);
  cJSON *d = pgd_store_get_doc(s, kind32, id256);
  CU_ASSERT(doc_equal(d, "{\"a\":1}"));
  cJSON_Delete(d);
  cJSON *l = pgd_store_list_docs(s, kind32, id256, id256, 0, NULL);
  CU_ASSERT(cJSON_GetArraySize(l) == 1);
  cJSON_Delete(l);
  cJSON_Delete(obj);
  cJSON_Delete(arr);
  cJSON_Delete(str);
  close_all(s, &loop);
  remove_db();
}

static void test_doc_fencing(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *a = open_ok(&loop);
  pgd_store_t *b = open_ok(&loop);
  int64_t ea = 0, eb = 0;
  CU_ASSERT_FATAL(pgd_store_acquire_epoch(a, &ea, NULL, 0) == 0);
  pgd_store_set_epoch(a, ea);
  CU_ASSERT(doc_put_wait(&loop, a, "schedule", "s", NULL, "on", "{\"v\":1}") == 0);
  CU_ASSERT(doc_put_wait(&loop, a, "schedule_run", "1", "s", NULL, "{}") == 0);
  CU_ASSERT_FATAL(pgd_store_acquire_epoch(b, &eb, NULL, 0) == 0);
  pgd_store_set_epoch(b, eb);

  /* deposed A: every doc write refused, nothing changed */
  counter_t ca = {0};
  cJSON *o = parse("{\"v\":2}");
  CU_ASSERT(pgd_store_put_doc(a, "schedule", "s", NULL, "off", o, count_cb, &ca) == 0);
  CU_ASSERT(pgd_store_put_doc(a, "schedule", "t", NULL, NULL, o, count_cb, &ca) == 0);
  CU_ASSERT(pgd_store_delete_docs(a, "schedule_run", "s", count_cb, &ca) == 0);
  CU_ASSERT(pgd_store_delete_doc(a, "schedule", "s", count_cb, &ca) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(ca.calls == 4 && ca.ok == 0 && ca.min_status == -ESTALE && ca.last_status == -ESTALE);
  cJSON *d = pgd_store_get_doc(a, "schedule", "s");
  CU_ASSERT(doc_equal(d, "{\"v\":1}"));
  cJSON_Delete(d);
  CU_ASSERT(pgd_store_get_doc(b, "schedule", "t") == NULL);
  CU_ASSERT(sql_int("SELECT count(*) FROM docs WHERE kind='schedule_run'") == 1);
  CU_ASSERT(sql_int("SELECT count(*) FROM docs WHERE state='on'") == 1);

  /* the new leader writes */
  counter_t cb = {0};
  CU_ASSERT(pgd_store_put_doc(b, "schedule", "s", NULL, "off", o, count_cb, &cb) == 0);
  CU_ASSERT(pgd_store_delete_docs(b, "schedule_run", "s", count_cb, &cb) == 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(cb.calls == 2 && cb.ok == 2);
  d = pgd_store_get_doc(a, "schedule", "s");
  CU_ASSERT(doc_equal(d, "{\"v\":2}"));
  cJSON_Delete(d);
  CU_ASSERT(sql_int("SELECT count(*) FROM docs WHERE kind='schedule_run'") == 0);
  cJSON_Delete(o);
  pgd_store_close(a);
  close_all(b, &loop);
  remove_db();
}

/* documents ride in the same queue as the other writes: callbacks in order */
static void test_doc_mixed_order(void) {
  fresh_db();
  uv_loop_t loop;
  uv_loop_init(&loop);
  pgd_store_t *s = open_ok(&loop);
  memset(&g_order, 0, sizeof(g_order));
  g_order.in_order = 1;
  g_order.next = 1;
  cJSON *e = parse("{\"id\":1,\"state\":\"running\"}"), *o = parse("{\"x\":1}");
  intptr_t k = 1;
  for (int i = 0; i < 300; i++) {
    char id[16];
    snprintf(id, sizeof(id), "%d", i);
    cJSON_SetNumberValue(cJSON_GetObjectItem(e, "id"), i + 1);
    CU_ASSERT(pgd_store_put_execution(s, e, seq_cb, (void *)k++) == 0);
    CU_ASSERT(pgd_store_put_doc(s, "flow_execution", id, "f", "running", o, seq_cb, (void *)k++) == 0);
    if (i % 3 == 0) CU_ASSERT(pgd_store_delete_doc(s, "flow_execution", id, seq_cb, (void *)k++) == 0);
  }
  CU_ASSERT(pgd_store_flush(s, seq_cb, (void *)k++) == 0);
  cJSON_Delete(e);
  cJSON_Delete(o);
  uv_run(&loop, UV_RUN_DEFAULT);
  CU_ASSERT(g_order.calls == (int)(k - 1) && g_order.ok == (int)(k - 1) && g_order.in_order == 1);
  cJSON *l = pgd_store_list_docs(s, "flow_execution", "f", "running", 0, NULL);
  CU_ASSERT(cJSON_GetArraySize(l) == 200);
  cJSON_Delete(l);
  close_all(s, &loop);
  remove_db();
}

static void store_add_doc_cases(CU_pSuite suite) {
  CU_add_test(suite, "docs: round trip, upsert keeps created_us", test_doc_roundtrip_upsert);
  CU_add_test(suite, "docs: delete one, delete a parent's", test_doc_delete);
  CU_add_test(suite, "docs: list by kind/parent/state, limit, paging", test_doc_list_filters_paging);
  CU_add_test(suite, "docs: numeric then byte order", test_doc_order_numeric_and_text);
  CU_add_test(suite, "docs: bad shapes are -EINVAL", test_doc_bad_shapes);
  CU_add_test(suite, "docs: fencing refuses a stale epoch", test_doc_fencing);
  CU_add_test(suite, "docs: in order with the other writes", test_doc_mixed_order);
}

#endif
