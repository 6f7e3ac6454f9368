/* Unit tests of core/worker against a fake master (pgd_listener in the test):
 * handshake, launch of shell jobs, reports and their resending after a
 * reconnect, refusals, kill, stale epochs, in-process runs, stop. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <uv.h>

#include "pgd_test.h"
#include "common/clock.h"
#include "common/log.h"
#include "net/auth.h"
#include "net/conn.h"
#include "plugin/registry.h"
#include "worker/worker.h"

#define MAX_MSGS 4096

typedef struct fake_master {
  uv_loop_t *loop;
  pgd_listener_t *l;
  pgd_conn_t *c;
  pgd_msg_type_t types[MAX_MSGS];
  cJSON *msgs[MAX_MSGS];
  int n;
  int hellos, accepts, closes;
  int epoch;
  const char *reject; /* reject hellos with this reason */
  /* the handshake (net/auth.h): the worker's nonce and id from its hello,
   * this connection's challenge, proofs checked and the secret we prove */
  char wnonce[PGD_AUTH_HEX_LEN + 1], mnonce[PGD_AUTH_HEX_LEN + 1], wid[80];
  int good_proofs, bad_proofs;
  const char *secret; /* the master's secret (NULL = "s3cret", the worker's) */
} fake_master_t;

static uv_loop_t loop;
static fake_master_t fm;
static pgd_registry_t *reg;
static int have_shell, have_inproc;

/* ---- fake master --------------------------------------------------------- */

static void fm_send(pgd_msg_type_t t, cJSON *body) {
  CU_ASSERT_PTR_NOT_NULL_FATAL(fm.c);
  CU_ASSERT_EQUAL(pgd_conn_send(fm.c, t, body), 0);
  cJSON_Delete(body);
}

static void fm_on_message(pgd_conn_t *c, pgd_msg_type_t t, cJSON *msg, void *ud) {
  if (fm.n < MAX_MSGS) {
    fm.types[fm.n] = t;
    fm.msgs[fm.n++] = cJSON_Duplicate(msg, 1);
  }
  if (t == PGD_MSG_HELLO) {
    fm.hellos++;
    if (fm.reject) {
      cJSON *r = cJSON_CreateObject();
      cJSON_AddStringToObject(r, "reason", fm.reject);
      fm_send(PGD_MSG_REJECT, r);
      pgd_conn_close(c);
      return;
    }
    const cJSON *wk = cJSON_GetObjectItemCaseSensitive(msg, "worker");
    const char *nonce = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "nonce"));
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(wk, "id"));
    snprintf(fm.wnonce, sizeof fm.wnonce, "%s", nonce ? nonce : "");
    snprintf(fm.wid, sizeof fm.wid, "%s", id ? id : "");
    CU_ASSERT_EQUAL(pgd_auth_nonce(fm.mnonce), 0);
    cJSON *ch = cJSON_CreateObject();
    cJSON_AddNumberToObject(ch, "protocol", PGD_PROTOCOL_VERSION);
    cJSON_AddStringToObject(ch, "nonce", fm.mnonce);
    fm_send(PGD_MSG_CHALLENGE, ch);
  } else if (t == PGD_MSG_AUTH) {
    const char *secret = fm.secret ? fm.secret : "s3cret";
    const char *proof = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(msg, "proof"));
    if (pgd_auth_verify(secret, PGD_AUTH_WORKER, fm.mnonce, fm.wnonce, fm.wid, proof))
      fm.good_proofs++;
    else
      fm.bad_proofs++;
    char mine[PGD_AUTH_HEX_LEN + 1];
    CU_ASSERT_EQUAL(pgd_auth_proof(secret, PGD_AUTH_MASTER, fm.mnonce, fm.wnonce, fm.wid, mine), 0);
    cJSON *w = cJSON_CreateObject();
    cJSON_AddNumberToObject(w, "epoch", fm.epoch);
    cJSON_AddNumberToObject(w, "heartbeat_ms", 50);
    cJSON_AddStringToObject(w, "master", "127.0.0.1:0");
    cJSON_AddStringToObject(w, "proof", mine);
    fm_send(PGD_MSG_WELCOME, w);
  }
}

static void fm_on_close(pgd_conn_t *c, int reason, void *ud) {
  if (c == fm.c) fm.c = NULL;
  fm.closes++;
}

static void fm_on_accept(pgd_listener_t *l, pgd_conn_t *c, void *ud) {
  static const pgd_conn_cbs_t cbs = {.on_message = fm_on_message, .on_close = fm_on_close};
  pgd_conn_set_callbacks(c, &cbs, NULL);
  if (fm.c) pgd_conn_close(fm.c);
  fm.c = c;
  fm.accepts++;
}

static void fm_clear(void) {
  for (int i = 0; i < fm.n; i++) cJSON_Delete(fm.msgs[i]);
  fm.n = 0;
}

/* ---- loop helpers -------------------------------------------------------- */

static void tick(uv_timer_t *t) {}

/* Runs the loop until pred() or timeout_ms; returns pred(). */
static int run_until(int (*pred)(void *), void *arg, int timeout_ms) {
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  uv_timer_start(&t, tick, 5, 5);
  uint64_t deadline = pgd_mono_ns() + (uint64_t)timeout_ms * 1000000u;
  int ok;
  while (!(ok = pred(arg)) && pgd_mono_ns() < deadline) uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
  return ok;
}

static void run_for(int ms) {
  uint64_t end = pgd_mono_ns() + (uint64_t)ms * 1000000u;
  uv_timer_t t;
  uv_timer_init(&loop, &t);
  uv_timer_start(&t, tick, 5, 5);
  while (pgd_mono_ns() < end) uv_run(&loop, UV_RUN_ONCE);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&loop, UV_RUN_NOWAIT);
}

static int count_type(pgd_msg_type_t t) {
  int k = 0;
  for (int i = 0; i < fm.n; i++) k += fm.types[i] == t;
  return k;
}

static double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsNumber(v) ? v->valuedouble : -12345;
}

static const char *str(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

static int is_final(const char *s) {
  return !strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "killed") ||
         !strcmp(s, "timed_out");
}

/* The final state message of (exec, attempt), or NULL. */
static const cJSON *final_state(int exec) {
  for (int i = 0; i < fm.n; i++)
    if (fm.types[i] == PGD_MSG_STATE && num(fm.msgs[i], "execution_id") == exec &&
        is_final(str(fm.msgs[i], "state")))
      return fm.msgs[i];
  return NULL;
}

static const cJSON *state_of(int exec, const char *state) {
  for (int i = 0; i < fm.n; i++)
    if (fm.types[i] == PGD_MSG_STATE && num(fm.msgs[i], "execution_id") == exec &&
        !strcmp(str(fm.msgs[i], "state"), state))
      return fm.msgs[i];
  return NULL;
}

static int has_final(void *arg) { return final_state((int)(intptr_t)arg) != NULL; }
static int has_state_running(void *arg) { return state_of((int)(intptr_t)arg, "running") != NULL; }
static int got_hellos(void *arg) { return fm.hellos >= (int)(intptr_t)arg; }
static int got_heartbeat(void *arg) { return count_type(PGD_MSG_HEARTBEAT) > 0; }
static int got_error(void *arg) { return count_type(PGD_MSG_ERROR) > 0; }

/* Output of exec as shipped, checking offsets are contiguous. */
static void collect_log(int exec, char *out, size_t cap) {
  size_t len = 0;
  out[0] = '\0';
  for (int i = 0; i < fm.n; i++) {
    if (fm.types[i] != PGD_MSG_LOG || num(fm.msgs[i], "execution_id") != exec) continue;
    CU_ASSERT_EQUAL(num(fm.msgs[i], "offset"), (double)len);
    const char *d = str(fm.msgs[i], "data");
    size_t n = strlen(d);
    if (len + n < cap) {
      memcpy(out + len, d, n + 1);
      len += n;
    }
  }
}

static cJSON *launch_msg(int epoch, int exec, const char *type, const char *params_json) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddNumberToObject(m, "epoch", epoch);
  cJSON_AddNumberToObject(m, "execution_id", exec);
  cJSON_AddNumberToObject(m, "attempt", 1);
  cJSON_AddStringToObject(m, "job", "job-x");
  cJSON_AddStringToObject(m, "job_type", type);
  cJSON_AddItemToObject(m, "params", cJSON_Parse(params_json));
  cJSON_AddNumberToObject(m, "timeout_ms", 0);
  cJSON_AddNumberToObject(m, "kill_grace_ms", 1000);
  return m;
}

static cJSON *kill_msg(int epoch, int exec, int grace) {
  cJSON *m = cJSON_CreateObject();
  cJSON_AddNumberToObject(m, "epoch", epoch);
  cJSON_AddNumberToObject(m, "execution_id", exec);
  cJSON_AddNumberToObject(m, "attempt", 1);
  cJSON_AddStringToObject(m, "reason", "killed");
  cJSON_AddNumberToObject(m, "grace_ms", grace);
  return m;
}

/* ---- worker life --------------------------------------------------------- */

static int stopped;
static void on_stopped(void *ud) { stopped++; }

static pgd_worker_t *start_worker_with(int slots, pgd_registry_t *registry, cJSON *allowed) {
  pgd_worker_config_t cfg = {.master_host = "127.0.0.1",
                             .master_port = pgd_listener_port(fm.l),
                             .secret = "s3cret",
                             .id_override = "w-test",
                             .host_name = "testhost",
                             .slots = slots,
                             .heartbeat_ms = 50,
                             .kill_grace_ms = 500,
                             .reconnect_ms = 20,
                             .allowed_users = allowed};
  cJSON *labels = cJSON_Parse("[\"etl\",\"gpu\"]");
  cfg.labels = labels;
  pgd_worker_t *w = NULL;
  char err[256];
  int rc = pgd_worker_start(&loop, &cfg, registry, &w, err, sizeof err);
  cJSON_Delete(labels);
  CU_ASSERT_EQUAL(rc, 0);
  return w;
}

static pgd_worker_t *start_worker(int slots) { return start_worker_with(slots, reg, NULL); }

static int is_stopped(void *arg) { return stopped > 0; }

static void stop_worker(pgd_worker_t *w) {
  stopped = 0;
  pgd_worker_stop(w, on_stopped, NULL);
  CU_ASSERT(run_until(is_stopped, NULL, 5000));
}

static int suite_init(void) {
  signal(SIGPIPE, SIG_IGN);
  pgd_log_set_level(PGD_LOG_WARN);
  if (uv_loop_init(&loop) != 0) return 1;
  memset(&fm, 0, sizeof fm);
  fm.loop = &loop;
  fm.epoch = 1;
  if (pgd_listener_start(&loop, "127.0.0.1", 0, 0, fm_on_accept, NULL, &fm.l) != 0) return 1;
  reg = pgd_registry_new();
  const char *bd = getenv("PAGODA_BUILD_DIR");
  char path[4096], err[512];
  if (bd) {
    snprintf(path, sizeof path, "%s/plugins/shell.so", bd);
    have_shell = access(path, R_OK) == 0 && pgd_registry_load_file(reg, path, err, sizeof err) == 0;
    snprintf(path, sizeof path, "%s/tests/plugins-mixed/c_inproc.so", bd);
    have_inproc = access(path, R_OK) == 0 && pgd_registry_load_file(reg, path, err, sizeof err) == 0;
  }
  if (!have_shell) printf("\n  (PAGODA_BUILD_DIR/plugins/shell.so absent: shell tests skipped)\n");
  if (!have_inproc) printf("\n  (tests/plugins-mixed/c_inproc.so absent: in-process test skipped)\n");
  return 0;
}

static int suite_clean(void) {
  fm_clear();
  if (fm.c) pgd_conn_close(fm.c);
  pgd_listener_close(fm.l);
  uv_run(&loop, UV_RUN_DEFAULT);
  int alive = uv_loop_alive(&loop);
  int rc = uv_loop_close(&loop);
  pgd_registry_free(reg);
  if (alive || rc) {
    printf("\n  loop not clean at the end (alive %d, close %d)\n", alive, rc);
    return 1;
  }
  return 0;
}

/* ---- tests --------------------------------------------------------------- */

static void test_handshake_and_heartbeat(void) {
  fm_clear();
  fm.hellos = 0;
  pgd_worker_t *w = start_worker(2);
  CU_ASSERT_STRING_EQUAL(pgd_worker_id(w), "w-test");
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  const cJSON *h = fm.msgs[0];
  CU_ASSERT_EQUAL(fm.types[0], PGD_MSG_HELLO);
  CU_ASSERT_EQUAL(num(h, "protocol"), PGD_PROTOCOL_VERSION);
  /* the secret never crosses the wire: a nonce, then a proof over both */
  CU_ASSERT_PTR_NULL(cJSON_GetObjectItemCaseSensitive(h, "secret"));
  CU_ASSERT_EQUAL(strlen(str(h, "nonce")), PGD_AUTH_HEX_LEN);
  const cJSON *wk = cJSON_GetObjectItemCaseSensitive(h, "worker");
  CU_ASSERT_STRING_EQUAL(str(wk, "id"), "w-test");
  CU_ASSERT_STRING_EQUAL(str(wk, "host"), "testhost");
  CU_ASSERT_EQUAL(num(wk, "slots"), 2);
  CU_ASSERT_EQUAL(num(wk, "pid"), getpid());
  CU_ASSERT(num(cJSON_GetObjectItemCaseSensitive(wk, "load"), "mem_free_mb") > 0);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(wk, "labels")), 2);
  const cJSON *types = cJSON_GetObjectItemCaseSensitive(wk, "types");
  CU_ASSERT(cJSON_IsArray(types));
  if (have_shell) {
    int found = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, types) found |= cJSON_IsString(t) && !strcmp(t->valuestring, "shell");
    CU_ASSERT(found);
  }
  CU_ASSERT(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(h, "running")));
  CU_ASSERT(run_until(got_heartbeat, NULL, 2000));
  CU_ASSERT(fm.good_proofs >= 1);
  CU_ASSERT_EQUAL(fm.bad_proofs, 0);
  for (int i = 0; i < fm.n; i++) { /* no message carries the secret */
    char *text = cJSON_PrintUnformatted(fm.msgs[i]);
    CU_ASSERT_PTR_NULL(strstr(text, "s3cret"));
    free(text);
  }
  CU_ASSERT(pgd_worker_connected(w));
  for (int i = 0; i < fm.n; i++) {
    if (fm.types[i] != PGD_MSG_HEARTBEAT) continue;
    CU_ASSERT_EQUAL(num(fm.msgs[i], "slots"), 2);
    CU_ASSERT_EQUAL(num(fm.msgs[i], "running"), 0);
    const cJSON *load = cJSON_GetObjectItemCaseSensitive(fm.msgs[i], "load");
    CU_ASSERT(num(load, "load1") >= 0);
    CU_ASSERT(num(load, "mem_free_mb") > 0);
    break;
  }
  stop_worker(w);
}

static int acked_all(void *arg) { return pgd_worker_pending_reports(arg) == 0; }

static void test_shell_job_and_resend(void) {
  if (!have_shell) {
    CU_FAIL("shell.so is not built: it is a build dependency of this test");
    return;
  }
  fm_clear();
  fm.hellos = 0;
  pgd_worker_t *w = start_worker(2);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  run_for(20);
  fm_send(PGD_MSG_LAUNCH,
          launch_msg(1, 7, "shell",
                     "{\"script\":\"echo hello; echo $PAGODA_EXECUTION_ID-$PAGODA_JOB-$PAGODA_ATTEMPT\","
                     "\"shell\":\"sh\"}"));
  CU_ASSERT_FATAL(run_until(has_final, (void *)7, 5000));
  const cJSON *running = state_of(7, "running");
  CU_ASSERT_PTR_NOT_NULL_FATAL(running);
  CU_ASSERT(num(running, "pid") > 0);
  CU_ASSERT(num(running, "at_us") > 1.7e15);
  const cJSON *fin = final_state(7);
  CU_ASSERT_STRING_EQUAL(str(fin, "state"), "succeeded");
  CU_ASSERT_EQUAL(num(fin, "exit_code"), 0);
  char log[4096];
  collect_log(7, log, sizeof log);
  CU_ASSERT_STRING_EQUAL(log, "hello\n7-job-x-1\n");

  /* order: running < every log < final; seqs strictly increasing */
  int first_seq = -1, last_seq = -1, reports = 0, saw_final = 0;
  for (int i = 0; i < fm.n; i++) {
    if (fm.types[i] != PGD_MSG_STATE && fm.types[i] != PGD_MSG_LOG) continue;
    int seq = (int)num(fm.msgs[i], "seq");
    CU_ASSERT(seq > last_seq);
    if (first_seq < 0) {
      first_seq = seq;
      CU_ASSERT_EQUAL(fm.types[i], PGD_MSG_STATE);
    }
    CU_ASSERT_FALSE(saw_final);
    if (fm.types[i] == PGD_MSG_STATE && is_final(str(fm.msgs[i], "state"))) saw_final = 1;
    last_seq = seq;
    reports++;
  }
  CU_ASSERT(reports >= 3);
  CU_ASSERT_EQUAL(pgd_worker_pending_reports(w), (size_t)reports);

  /* the master drops the connection without acking: all is resent in order */
  int old_n = fm.n;
  pgd_conn_close(fm.c);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)2, 3000));
  int resent_from = -1;
  for (int i = old_n; i < fm.n; i++)
    if (fm.types[i] == PGD_MSG_HELLO) resent_from = i;
  CU_ASSERT_FATAL(resent_from >= 0);
  run_for(100);
  int expect = first_seq, resent = 0;
  for (int i = resent_from; i < fm.n; i++) {
    if (fm.types[i] != PGD_MSG_STATE && fm.types[i] != PGD_MSG_LOG) continue;
    CU_ASSERT_EQUAL((int)num(fm.msgs[i], "seq"), expect);
    expect++;
    resent++;
  }
  CU_ASSERT_EQUAL(resent, reports);

  /* ack all but the last, then the last */
  cJSON *ack = cJSON_CreateObject();
  cJSON *seqs = cJSON_AddArrayToObject(ack, "seqs");
  for (int s = first_seq; s < last_seq; s++) cJSON_AddItemToArray(seqs, cJSON_CreateNumber(s));
  cJSON_AddItemToArray(seqs, cJSON_CreateNumber(999999)); /* unknown: ignored */
  fm_send(PGD_MSG_ACK, ack);
  run_for(50);
  CU_ASSERT_EQUAL(pgd_worker_pending_reports(w), 1);
  ack = cJSON_Parse("{\"seqs\":[]}");
  cJSON_AddItemToArray(cJSON_GetObjectItem(ack, "seqs"), cJSON_CreateNumber(last_seq));
  fm_send(PGD_MSG_ACK, ack);
  CU_ASSERT(run_until(acked_all, w, 2000));
  stop_worker(w);
}

static void test_failures_and_refusals(void) {
  if (!have_shell) {
    CU_FAIL("shell.so is not built: it is a build dependency of this test");
    return;
  }
  fm_clear();
  fm.hellos = 0;
  pgd_worker_t *w = start_worker(1);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  run_for(20);
  /* unknown type */
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 20, "nope", "{}"));
  CU_ASSERT_FATAL(run_until(has_final, (void *)20, 2000));
  CU_ASSERT_STRING_EQUAL(str(final_state(20), "state"), "failed");
  CU_ASSERT_STRING_EQUAL(str(final_state(20), "error"), "job type 'nope' is not available on worker w-test");
  CU_ASSERT_PTR_NULL(state_of(20, "running"));

  /* exit code 3 */
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 21, "shell", "{\"script\":\"echo bad >&2; exit 3\",\"shell\":\"sh\"}"));
  CU_ASSERT_FATAL(run_until(has_final, (void *)21, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(21), "state"), "failed");
  CU_ASSERT_EQUAL(num(final_state(21), "exit_code"), 3);
  CU_ASSERT_PTR_NOT_NULL(strstr(str(final_state(21), "error"), "exit code 3"));

  /* plugin refuses the params */
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 22, "shell", "{}"));
  CU_ASSERT_FATAL(run_until(has_final, (void *)22, 2000));
  CU_ASSERT_STRING_EQUAL(str(final_state(22), "state"), "failed");
  CU_ASSERT_PTR_NOT_NULL(strstr(str(final_state(22), "error"), "script"));

  /* missing program */
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 23, "shell", "{\"argv\":[\"/nonexistent/prog\"]}"));
  CU_ASSERT_FATAL(run_until(has_final, (void *)23, 2000));
  CU_ASSERT_STRING_EQUAL(str(final_state(23), "error"),
                         "cannot start '/nonexistent/prog': No such file or directory");

  /* slot full: the second launch is refused; kill the first */
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 24, "shell", "{\"argv\":[\"sleep\",\"30\"]}"));
  CU_ASSERT_FATAL(run_until(has_state_running, (void *)24, 2000));
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 25, "shell", "{\"argv\":[\"true\"]}"));
  CU_ASSERT_FATAL(run_until(has_final, (void *)25, 2000));
  CU_ASSERT_STRING_EQUAL(str(final_state(25), "error"), "worker w-test has no free slot");
  CU_ASSERT_EQUAL(pgd_worker_running(w), 1);

  /* a duplicate launch of a running attempt changes nothing */
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 24, "shell", "{\"argv\":[\"sleep\",\"30\"]}"));
  run_for(50);
  CU_ASSERT_PTR_NULL(final_state(24));

  /* kill of an unknown attempt: harmless */
  fm_send(PGD_MSG_KILL, kill_msg(1, 999, 100));
  run_for(30);
  CU_ASSERT_EQUAL(pgd_worker_running(w), 1);

  uint64_t t0 = pgd_mono_ns();
  fm_send(PGD_MSG_KILL, kill_msg(1, 24, 1000));
  CU_ASSERT_FATAL(run_until(has_final, (void *)24, 3000));
  CU_ASSERT((pgd_mono_ns() - t0) / 1000000 < 900); /* SIGTERM was enough */
  CU_ASSERT_STRING_EQUAL(str(final_state(24), "state"), "killed");
  CU_ASSERT_EQUAL(num(final_state(24), "signal"), SIGTERM);
  CU_ASSERT_EQUAL(pgd_worker_running(w), 0);

  /* timeout */
  cJSON *m = launch_msg(1, 26, "shell", "{\"argv\":[\"sleep\",\"30\"]}");
  cJSON_ReplaceItemInObject(m, "timeout_ms", cJSON_CreateNumber(100));
  fm_send(PGD_MSG_LAUNCH, m);
  CU_ASSERT_FATAL(run_until(has_final, (void *)26, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(26), "state"), "timed_out");

  stop_worker(w);
}

static void test_stale_epoch(void) {
  if (!have_shell) {
    CU_FAIL("shell.so is not built: it is a build dependency of this test");
    return;
  }
  fm_clear();
  fm.hellos = 0;
  fm.epoch = 5;
  pgd_worker_t *w = start_worker(2);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  run_for(20);
  fm_send(PGD_MSG_LAUNCH, launch_msg(4, 30, "shell", "{\"argv\":[\"true\"]}"));
  CU_ASSERT(run_until(got_error, NULL, 2000));
  run_for(50);
  CU_ASSERT_PTR_NULL(state_of(30, "running"));
  CU_ASSERT_PTR_NULL(final_state(30));
  /* the current epoch is accepted */
  fm_send(PGD_MSG_LAUNCH, launch_msg(5, 31, "shell", "{\"argv\":[\"true\"]}"));
  CU_ASSERT(run_until(has_final, (void *)31, 2000));
  CU_ASSERT_STRING_EQUAL(str(final_state(31), "state"), "succeeded");
  fm.epoch = 1;
  stop_worker(w);
}

static void test_in_process(void) {
  if (!have_inproc) {
    CU_FAIL("c_inproc.so is not built: it is a build dependency of this test");
    return;
  }
  fm_clear();
  fm.hellos = 0;
  pgd_worker_t *w = start_worker(2);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  run_for(20);
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 40, "test_inproc", "{}"));
  CU_ASSERT_FATAL(run_until(has_final, (void *)40, 3000));
  CU_ASSERT_PTR_NOT_NULL(state_of(40, "running"));
  CU_ASSERT_STRING_EQUAL(str(final_state(40), "state"), "succeeded");
  const cJSON *res = cJSON_GetObjectItemCaseSensitive(final_state(40), "result");
  CU_ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "ok")));
  char log[256];
  collect_log(40, log, sizeof log);
  CU_ASSERT_STRING_EQUAL(log, "start\ndone\n");

  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 41, "test_inproc", "{\"wait\":true}"));
  CU_ASSERT_FATAL(run_until(has_state_running, (void *)41, 2000));
  run_for(30);
  fm_send(PGD_MSG_KILL, kill_msg(1, 41, 100));
  CU_ASSERT_FATAL(run_until(has_final, (void *)41, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(41), "state"), "killed");

  cJSON *m = launch_msg(1, 42, "test_inproc", "{\"wait\":true}");
  cJSON_ReplaceItemInObject(m, "timeout_ms", cJSON_CreateNumber(50));
  fm_send(PGD_MSG_LAUNCH, m);
  CU_ASSERT_FATAL(run_until(has_final, (void *)42, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(42), "state"), "timed_out");
  stop_worker(w);
}

static void test_stop_kills_running(void) {
  if (!have_shell) {
    CU_FAIL("shell.so is not built: it is a build dependency of this test");
    return;
  }
  fm_clear();
  fm.hellos = 0;
  pgd_worker_t *w = start_worker(2);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  run_for(20);
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 50, "shell", "{\"script\":\"trap '' TERM; sleep 30\",\"shell\":\"sh\"}"));
  CU_ASSERT_FATAL(run_until(has_state_running, (void *)50, 2000));
  run_for(50);
  uint64_t t0 = pgd_mono_ns();
  stop_worker(w); /* grace 500 ms, then SIGKILL */
  double ms = (double)(pgd_mono_ns() - t0) / 1e6;
  CU_ASSERT(ms >= 450 && ms < 3000);
  run_for(50);
  CU_ASSERT_PTR_NOT_NULL_FATAL(final_state(50));
  CU_ASSERT_STRING_EQUAL(str(final_state(50), "state"), "killed");
  CU_ASSERT_EQUAL(num(final_state(50), "signal"), SIGKILL);
}

/* A master that cannot prove the secret gets no heartbeat, no report: the
 * worker closes after its welcome and retries later. */
static void test_refuses_master_without_the_secret(void) {
  fm_clear();
  fm.hellos = 0;
  fm.good_proofs = fm.bad_proofs = 0;
  fm.secret = "not-the-secret";
  int closes = fm.closes;
  pgd_worker_t *w = start_worker(1);
  CU_ASSERT(run_until(got_hellos, (void *)1, 3000));
  run_for(300);
  CU_ASSERT_FALSE(pgd_worker_connected(w));
  CU_ASSERT_EQUAL(fm.bad_proofs, fm.hellos); /* its proof did not match ours either */
  CU_ASSERT(fm.closes > closes);
  CU_ASSERT_EQUAL(count_type(PGD_MSG_HEARTBEAT), 0);
  stop_worker(w);
  fm.secret = NULL;
}

static void test_reject_and_unreachable(void) {
  fm_clear();
  fm.hellos = 0;
  fm.reject = "wrong cluster secret";
  pgd_worker_t *w = start_worker(1);
  CU_ASSERT(run_until(got_hellos, (void *)1, 3000));
  run_for(100);
  CU_ASSERT_FALSE(pgd_worker_connected(w));
  CU_ASSERT_EQUAL(fm.hellos, 1); /* backs off to 5 s after a reject */
  stop_worker(w);
  fm.reject = NULL;

  /* nobody listening: retries quietly, stops cleanly */
  pgd_worker_config_t cfg = {.master_host = "127.0.0.1", .master_port = 1, .id_override = "w-x",
                             .slots = 1, .reconnect_ms = 10};
  pgd_worker_t *w2;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(pgd_worker_start(&loop, &cfg, NULL, &w2, err, sizeof err), 0);
  run_for(100);
  CU_ASSERT_FALSE(pgd_worker_connected(w2));
  stop_worker(w2);
}


/* ---- cluster support (issue 3) ------------------------------------------- */

/* The last heartbeat received, or NULL. */
static const cJSON *last_heartbeat(void) {
  for (int i = fm.n - 1; i >= 0; i--)
    if (fm.types[i] == PGD_MSG_HEARTBEAT) return fm.msgs[i];
  return NULL;
}

/* 1 when `arr` holds exactly the attempts {exec, 1} listed in `execs`. */
static int attempts_are(const cJSON *arr, const int *execs, int n) {
  if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != n) return 0;
  for (int k = 0; k < n; k++) {
    int found = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) found |= num(it, "execution_id") == execs[k] && num(it, "attempt") == 1;
    if (!found) return 0;
  }
  return 1;
}

static void test_heartbeat_running_attempts(void) {
  if (!have_shell) {
    CU_FAIL("shell.so is not built: it is a build dependency of this test");
    return;
  }
  fm_clear();
  fm.hellos = 0;
  pgd_worker_t *w = start_worker(3);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  CU_ASSERT_FATAL(run_until(got_heartbeat, NULL, 2000));
  const cJSON *hb = last_heartbeat();
  CU_ASSERT(attempts_are(cJSON_GetObjectItemCaseSensitive(hb, "running_attempts"), NULL, 0));
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 60, "shell", "{\"argv\":[\"sleep\",\"30\"]}"));
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 61, "shell", "{\"argv\":[\"sleep\",\"30\"]}"));
  CU_ASSERT_FATAL(run_until(has_state_running, (void *)60, 2000));
  CU_ASSERT_FATAL(run_until(has_state_running, (void *)61, 2000));
  fm_clear();
  CU_ASSERT_FATAL(run_until(got_heartbeat, NULL, 2000));
  hb = last_heartbeat();
  CU_ASSERT_EQUAL(num(hb, "running"), 2);
  CU_ASSERT_EQUAL(num(hb, "slots_used"), 2);
  int both[] = {60, 61};
  CU_ASSERT(attempts_are(cJSON_GetObjectItemCaseSensitive(hb, "running_attempts"), both, 2));
  fm_send(PGD_MSG_KILL, kill_msg(1, 60, 0));
  CU_ASSERT_FATAL(run_until(has_final, (void *)60, 3000));
  fm_clear();
  CU_ASSERT_FATAL(run_until(got_heartbeat, NULL, 2000));
  hb = last_heartbeat();
  int one[] = {61};
  CU_ASSERT_EQUAL(num(hb, "running"), 1);
  CU_ASSERT(attempts_are(cJSON_GetObjectItemCaseSensitive(hb, "running_attempts"), one, 1));
  stop_worker(w);
}

/* The master lost the worker (e.g. it was SIGSTOPped), replaced the attempt
 * elsewhere, and kills the old one when the worker comes back. */
static void test_kill_after_reconnect(void) {
  if (!have_shell) {
    CU_FAIL("shell.so is not built: it is a build dependency of this test");
    return;
  }
  fm_clear();
  fm.hellos = 0;
  pgd_worker_t *w = start_worker(2);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  run_for(20);
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 62, "shell", "{\"argv\":[\"sleep\",\"30\"]}"));
  CU_ASSERT_FATAL(run_until(has_state_running, (void *)62, 2000));
  pgd_conn_close(fm.c);
  fm_clear();
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)2, 3000));
  CU_ASSERT_EQUAL_FATAL(fm.types[0], PGD_MSG_HELLO);
  int one[] = {62};
  CU_ASSERT(attempts_are(cJSON_GetObjectItemCaseSensitive(fm.msgs[0], "running"), one, 1));
  CU_ASSERT_FATAL(run_until(got_heartbeat, NULL, 2000));
  CU_ASSERT_EQUAL(pgd_worker_running(w), 1);
  fm_send(PGD_MSG_KILL, kill_msg(1, 62, 1000));
  CU_ASSERT_FATAL(run_until(has_final, (void *)62, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(62), "state"), "killed");
  CU_ASSERT_EQUAL(num(final_state(62), "signal"), SIGTERM);
  CU_ASSERT_EQUAL(pgd_worker_running(w), 0);
  stop_worker(w);
}

static void test_launch_env_reaches_process(void) {
  if (!have_shell) {
    CU_FAIL("shell.so is not built: it is a build dependency of this test");
    return;
  }
  fm_clear();
  fm.hellos = 0;
  pgd_worker_t *w = start_worker(2);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  run_for(20);
  cJSON *m = launch_msg(1, 63, "shell",
                        "{\"script\":\"echo $PAGODA_SHARD_INDEX/$PAGODA_SHARD_COUNT $MY_VAR $FLAG\","
                        "\"shell\":\"sh\"}");
  cJSON_AddItemToObject(m, "env", cJSON_Parse("{\"PAGODA_SHARD_INDEX\":2,\"PAGODA_SHARD_COUNT\":4,"
                                              "\"MY_VAR\":\"a b\",\"FLAG\":true}"));
  fm_send(PGD_MSG_LAUNCH, m);
  CU_ASSERT_FATAL(run_until(has_final, (void *)63, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(63), "state"), "succeeded");
  char log[256];
  collect_log(63, log, sizeof log);
  CU_ASSERT_STRING_EQUAL(log, "2/4 a b true\n");
  stop_worker(w);
}

static int types_has_shell(const cJSON *types) {
  const cJSON *t;
  int found = 0;
  cJSON_ArrayForEach(t, types) found |= cJSON_IsString(t) && !strcmp(t->valuestring, "shell");
  return found;
}

static int heartbeat_has_shell(void *arg) {
  const cJSON *hb = last_heartbeat();
  return hb && types_has_shell(cJSON_GetObjectItemCaseSensitive(hb, "types"));
}

static void test_heartbeat_current_types(void) {
  const char *bd = getenv("PAGODA_BUILD_DIR");
  char path[4096], err[512];
  snprintf(path, sizeof path, "%s/plugins/shell.so", bd ? bd : ".");
  if (!bd || access(path, R_OK) != 0) {
    CU_FAIL("shell.so is not built: it is a build dependency of this test");
    return;
  }
  pgd_registry_t *r2 = pgd_registry_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(r2);
  fm_clear();
  fm.hellos = 0;
  pgd_worker_t *w = start_worker_with(1, r2, NULL);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  CU_ASSERT_FATAL(run_until(got_heartbeat, NULL, 2000));
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(last_heartbeat(), "types")), 0);
  /* what the daemon's periodic pgd_registry_load_dir does when a .so appears */
  CU_ASSERT_EQUAL_FATAL(pgd_registry_load_file(r2, path, err, sizeof err), 0);
  fm_clear();
  CU_ASSERT(run_until(heartbeat_has_shell, NULL, 2000));
  /* and the new type runs */
  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 64, "shell", "{\"argv\":[\"true\"]}"));
  CU_ASSERT_FATAL(run_until(has_final, (void *)64, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(64), "state"), "succeeded");
  stop_worker(w);
  pgd_registry_free(r2);
}

static cJSON *launch_as(int exec, const char *user, const char *params_json) {
  cJSON *m = launch_msg(1, exec, "shell", params_json);
  cJSON_AddStringToObject(m, "run_as", user);
  return m;
}

static void test_run_as(void) {
  if (!have_shell) {
    CU_FAIL("shell.so is not built: it is a build dependency of this test");
    return;
  }
  struct passwd *pw = getpwnam("nobody");
  char expect[512];
  if (pw)
    snprintf(expect, sizeof expect, "%u %u %s nobody nobody\n", (unsigned)pw->pw_uid,
             (unsigned)pw->pw_gid, pw->pw_dir);
  fm_clear();
  fm.hellos = 0;
  cJSON *allowed = cJSON_Parse("[\"nobody\",\"pgd-no-such-user\"]");
  pgd_worker_t *w = start_worker_with(2, reg, allowed);
  cJSON_Delete(allowed);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  run_for(20);
  const char *id_script = "{\"script\":\"echo $(id -u) $(id -g) $HOME $USER $LOGNAME\",\"shell\":\"sh\"}";

  /* not in allowed_users */
  fm_send(PGD_MSG_LAUNCH, launch_as(70, "bob", id_script));
  CU_ASSERT_FATAL(run_until(has_final, (void *)70, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(70), "state"), "failed");
  CU_ASSERT_STRING_EQUAL(str(final_state(70), "error"),
                         "run_as user 'bob' is not in this worker's allowed_users");
  CU_ASSERT_PTR_NULL(state_of(70, "running"));

  if (geteuid() != 0) {
    fm_send(PGD_MSG_LAUNCH, launch_as(71, "nobody", id_script));
    CU_ASSERT_FATAL(run_until(has_final, (void *)71, 3000));
    char msg[128];
    snprintf(msg, sizeof msg, "run_as needs the worker to run as root (it runs as uid %u)",
             (unsigned)geteuid());
    CU_ASSERT_STRING_EQUAL(str(final_state(71), "error"), msg);
    printf("\n  (not root: run_as as 'nobody' not exercised)\n");
    stop_worker(w);
    return;
  }
  /* allowed but unknown */
  fm_send(PGD_MSG_LAUNCH, launch_as(72, "pgd-no-such-user", id_script));
  CU_ASSERT_FATAL(run_until(has_final, (void *)72, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(72), "error"),
                         "run_as user 'pgd-no-such-user' does not exist");

  if (!pw) {
    CU_FAIL("no user 'nobody' on this machine");
    stop_worker(w);
    return;
  }
  /* runs as nobody, with nobody's identity in the environment */
  fm_send(PGD_MSG_LAUNCH, launch_as(73, "nobody", id_script));
  CU_ASSERT_FATAL(run_until(has_final, (void *)73, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(73), "state"), "succeeded");
  CU_ASSERT(num(state_of(73, "running"), "pid") > 0);
  char log[512];
  collect_log(73, log, sizeof log);
  CU_ASSERT_STRING_EQUAL(log, expect);

  /* exec failure as the user: a clean start error, no running state */
  fm_send(PGD_MSG_LAUNCH, launch_as(74, "nobody", "{\"argv\":[\"/nonexistent/prog\"]}"));
  CU_ASSERT_FATAL(run_until(has_final, (void *)74, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(74), "error"),
                         "cannot start '/nonexistent/prog' as user 'nobody': No such file or directory");
  CU_ASSERT_PTR_NULL(state_of(74, "running"));

  /* kill reaches a run_as process (its group) */
  fm_send(PGD_MSG_LAUNCH, launch_as(75, "nobody", "{\"argv\":[\"sleep\",\"30\"]}"));
  CU_ASSERT_FATAL(run_until(has_state_running, (void *)75, 2000));
  fm_send(PGD_MSG_KILL, kill_msg(1, 75, 1000));
  CU_ASSERT_FATAL(run_until(has_final, (void *)75, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(75), "state"), "killed");

  /* in-process job types cannot change user */
  if (have_inproc) {
    cJSON *m = launch_msg(1, 76, "test_inproc", "{}");
    cJSON_AddStringToObject(m, "run_as", "nobody");
    fm_send(PGD_MSG_LAUNCH, m);
    CU_ASSERT_FATAL(run_until(has_final, (void *)76, 3000));
    CU_ASSERT_STRING_EQUAL(
        str(final_state(76), "error"),
        "run_as is not possible for job type 'test_inproc': it runs inside the worker");
  }
  stop_worker(w);

  /* a worker without allowed_users refuses every run_as */
  fm_clear();
  fm.hellos = 0;
  w = start_worker(1);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  run_for(20);
  fm_send(PGD_MSG_LAUNCH, launch_as(77, "nobody", id_script));
  CU_ASSERT_FATAL(run_until(has_final, (void *)77, 3000));
  CU_ASSERT_STRING_EQUAL(str(final_state(77), "error"),
                         "run_as user 'nobody' is not in this worker's allowed_users");
  stop_worker(w);
}

static void test_bad_config(void) {
  pgd_worker_t *w = NULL;
  char err[256];
  pgd_worker_config_t cfg = {.master_host = "127.0.0.1", .master_port = 1000, .id_override = "w-x",
                             .slots = 0};
  CU_ASSERT_EQUAL(pgd_worker_start(&loop, &cfg, NULL, &w, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "slots"));
  cfg.slots = 1;
  cfg.id_override = "bad id!";
  CU_ASSERT_EQUAL(pgd_worker_start(&loop, &cfg, NULL, &w, err, sizeof err), -EINVAL);
  cfg.id_override = "w-x";
  cJSON *labels = cJSON_Parse("[1]");
  cfg.labels = labels;
  CU_ASSERT_EQUAL(pgd_worker_start(&loop, &cfg, NULL, &w, err, sizeof err), -EINVAL);
  cJSON_Delete(labels);
  cfg.labels = NULL;
  cJSON *users = cJSON_Parse("[\"nobody\", 3]");
  cfg.allowed_users = users;
  CU_ASSERT_EQUAL(pgd_worker_start(&loop, &cfg, NULL, &w, err, sizeof err), -EINVAL);
  CU_ASSERT_STRING_EQUAL(err, "worker: allowed_users must be an array of user names");
  cJSON_Delete(users);
  cfg.allowed_users = NULL;
  cfg.master_port = 0;
  CU_ASSERT_EQUAL(pgd_worker_start(&loop, &cfg, NULL, &w, err, sizeof err), -EINVAL);
  CU_ASSERT_PTR_NULL(w);

  /* id file: created once, then kept */
  char dir[] = "/tmp/pgd-worker-id-XXXXXX";
  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  char sub[128];
  snprintf(sub, sizeof sub, "%s/data/w", dir);
  cfg.master_port = 1;
  cfg.id_override = NULL;
  cfg.data_dir = sub;
  CU_ASSERT_EQUAL_FATAL(pgd_worker_start(&loop, &cfg, NULL, &w, err, sizeof err), 0);
  char id1[80];
  snprintf(id1, sizeof id1, "%s", pgd_worker_id(w));
  CU_ASSERT_EQUAL(strncmp(id1, "w-", 2), 0);
  CU_ASSERT_EQUAL(strlen(id1), 18);
  stop_worker(w);
  CU_ASSERT_EQUAL_FATAL(pgd_worker_start(&loop, &cfg, NULL, &w, err, sizeof err), 0);
  CU_ASSERT_STRING_EQUAL(pgd_worker_id(w), id1);
  stop_worker(w);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CU_ASSERT_EQUAL(system(cmd), 0);
}

/* ---- a master in the same process (pagoda dev) ------------------------- */

static int local_dials, local_refusals;
/* dial_local of the tests: the first `local_refusals` dials are refused (a
 * master not there yet), then the fake master's listener takes a local
 * stream. */
static int dial_fake_master(void *ud, const pgd_conn_cbs_t *cbs, void *cb_ud, pgd_conn_t **out) {
  CU_ASSERT_PTR_EQUAL(ud, &fm);
  local_dials++;
  if (local_refusals > 0) {
    local_refusals--;
    return UV_ECONNREFUSED;
  }
  return pgd_listener_connect_local(fm.l, cbs, cb_ud, out);
}

/* With dial_local the worker reaches the master over a local stream (the
 * peer reads "local", no TCP), with the same handshake (the secret proved),
 * launches, reports and heartbeats; a refused dial and a dropped connection
 * are retried through dial_local, and unacknowledged reports are resent. */
static void test_local_stream(void) {
  if (!have_shell) {
    CU_FAIL("shell.so is not built: it is a build dependency of this test");
    return;
  }
  fm_clear();
  fm.hellos = 0;
  fm.good_proofs = fm.bad_proofs = 0;
  int accepts0 = fm.accepts;
  local_dials = 0;
  local_refusals = 1;
  pgd_worker_config_t cfg = {.master_host = "127.0.0.1",
                             .master_port = pgd_listener_port(fm.l),
                             .secret = "s3cret",
                             .id_override = "w-local",
                             .slots = 2,
                             .heartbeat_ms = 50,
                             .reconnect_ms = 20,
                             .dial_local = dial_fake_master,
                             .dial_local_ud = &fm};
  pgd_worker_t *w = NULL;
  char err[256];
  CU_ASSERT_EQUAL_FATAL(pgd_worker_start(&loop, &cfg, reg, &w, err, sizeof err), 0);
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)1, 3000));
  CU_ASSERT_EQUAL(local_dials, 2); /* refused once, then connected */
  CU_ASSERT_EQUAL(fm.accepts, accepts0 + 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(fm.c);
  CU_ASSERT_STRING_EQUAL(pgd_conn_peer(fm.c), "local");
  CU_ASSERT_FATAL(run_until(got_heartbeat, NULL, 2000));
  CU_ASSERT(pgd_worker_connected(w));
  CU_ASSERT_EQUAL(fm.good_proofs, 1);
  CU_ASSERT_EQUAL(fm.bad_proofs, 0);

  fm_send(PGD_MSG_LAUNCH, launch_msg(1, 90, "shell", "{\"script\":\"echo over-local\",\"shell\":\"sh\"}"));
  CU_ASSERT_FATAL(run_until(has_final, (void *)90, 5000));
  CU_ASSERT_STRING_EQUAL(str(final_state(90), "state"), "succeeded");
  char log[256];
  collect_log(90, log, sizeof log);
  CU_ASSERT_STRING_EQUAL(log, "over-local\n");
  size_t pending = pgd_worker_pending_reports(w);
  CU_ASSERT(pending >= 3);

  /* the master drops it: the worker dials again and resends every report */
  pgd_conn_close(fm.c);
  fm_clear();
  CU_ASSERT_FATAL(run_until(got_hellos, (void *)2, 3000));
  CU_ASSERT_EQUAL(local_dials, 3);
  CU_ASSERT_FATAL(run_until(has_final, (void *)90, 3000)); /* resent */
  CU_ASSERT_EQUAL(pgd_worker_pending_reports(w), pending);
  stop_worker(w);
}

int main(void) {
  if (CU_initialize_registry() != CUE_SUCCESS) return 1;
  CU_pSuite s = CU_add_suite("worker_protocol", suite_init, suite_clean);
  CU_add_test(s, "handshake and heartbeat", test_handshake_and_heartbeat);
  CU_add_test(s, "shell job, reports, resend after reconnect, acks", test_shell_job_and_resend);
  CU_add_test(s, "failures and refusals, kill, timeout", test_failures_and_refusals);
  CU_add_test(s, "stale epoch refused", test_stale_epoch);
  CU_add_test(s, "in-process plugin", test_in_process);
  CU_add_test(s, "stop kills running attempts", test_stop_kills_running);
  CU_add_test(s, "reject and unreachable master", test_reject_and_unreachable);
  CU_add_test(s, "a master that cannot prove the secret is refused",
              test_refuses_master_without_the_secret);
  CU_add_test(s, "heartbeat carries running_attempts", test_heartbeat_running_attempts);
  CU_add_test(s, "kill of an attempt started before a reconnect", test_kill_after_reconnect);
  CU_add_test(s, "launch env reaches the process", test_launch_env_reaches_process);
  CU_add_test(s, "heartbeat reports the current job types", test_heartbeat_current_types);
  CU_add_test(s, "run_as: allowed_users, unknown user, runs as nobody", test_run_as);
  CU_add_test(s, "bad config and id file", test_bad_config);
  CU_add_test(s, "a master in this process, over a local stream", test_local_stream);
  return pgd_test_run();
}
