/* Pagoda — worker: launch, supervise, kill and report attempts. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "worker/utf8.h"
#include "worker/worker_priv.h"

#define MOD PGD_WORKER_MOD

/* ---- reports ------------------------------------------------------------- */

static cJSON *state_body(int64_t execution_id, int attempt, const char *state) {
  cJSON *b = cJSON_CreateObject();
  if (!b) return NULL;
  cJSON_AddNumberToObject(b, "execution_id", (double)execution_id);
  cJSON_AddNumberToObject(b, "attempt", attempt);
  cJSON_AddStringToObject(b, "state", state);
  cJSON_AddNumberToObject(b, "at_us", (double)pgd_now_us());
  return b;
}

/* A final state for an attempt that never started. */
static void report_refused(pgd_worker_t *w, int64_t execution_id, int attempt, const char *error) {
  PGD_WARN(MOD, "execution %" PRId64 " attempt %d refused: %s", execution_id, attempt, error);
  cJSON *b = state_body(execution_id, attempt, "failed");
  if (b) cJSON_AddStringToObject(b, "error", error);
  pgd_worker__report(w, PGD_MSG_STATE, b);
}

/* Sanitises and reports output; `final` flushes a held partial sequence. */
static void emit_output(pgd_attempt_t *a, const char *data, size_t len, int final) {
  char *joined = NULL;
  const char *in = data;
  size_t inlen = len;
  if (a->carry_len) {
    joined = malloc(a->carry_len + len);
    if (!joined) return;
    memcpy(joined, a->carry, a->carry_len);
    if (len) memcpy(joined + a->carry_len, data, len);
    in = joined;
    inlen = a->carry_len + len;
  }
  a->carry_len = 0;
  if (inlen == 0) return;
  char *out = malloc(3 * inlen + 1);
  if (!out) {
    free(joined);
    return;
  }
  size_t consumed = 0;
  size_t olen = pgd_utf8_sanitize(in, inlen, final, out, &consumed);
  a->carry_len = inlen - consumed; /* <= 3 by construction */
  memcpy(a->carry, in + consumed, a->carry_len);
  if (olen) {
    cJSON *b = cJSON_CreateObject();
    if (b) {
      cJSON_AddNumberToObject(b, "execution_id", (double)a->execution_id);
      cJSON_AddNumberToObject(b, "attempt", a->attempt);
      cJSON_AddNumberToObject(b, "offset", (double)a->offset);
      cJSON_AddStringToObject(b, "data", out);
      pgd_worker__report(a->w, PGD_MSG_LOG, b);
    }
    a->offset += olen;
  }
  free(out);
  free(joined);
}

/* ---- attempt list -------------------------------------------------------- */

static pgd_attempt_t *find_attempt(pgd_worker_t *w, int64_t execution_id, int attempt) {
  for (pgd_attempt_t *a = w->attempts; a; a = a->next)
    if (a->execution_id == execution_id && a->attempt == attempt) return a;
  return NULL;
}

static void attempt_free(pgd_attempt_t *a) {
  if (!a) return;
  if (a->workdir) pgd_rescache_remove_workdir(a->w->rescache, a->workdir);
  free(a->workdir);
  cJSON_Delete(a->launch);
  cJSON_Delete(a->attrs);
  pgd_outscan_release(a->scan); /* the plugin's per-execution state */
  free(a->scan);
  cJSON_Delete(a->params);
  free(a->job);
  free(a->type);
  free(a);
}

static void attempt_link(pgd_worker_t *w, pgd_attempt_t *a) {
  a->next = w->attempts;
  if (w->attempts) w->attempts->prev = a;
  w->attempts = a;
  w->running++;
  w->used_slots += a->slots;
}

/* Unlinks and frees `a`, then lets the worker know (stop may proceed). */
static void attempt_end(pgd_attempt_t *a) {
  pgd_worker_t *w = a->w;
  if (a->prev) a->prev->next = a->next;
  else w->attempts = a->next;
  if (a->next) a->next->prev = a->prev;
  w->running--;
  w->used_slots -= a->slots;
  attempt_free(a);
  pgd_worker__attempt_gone(w);
}

cJSON *pgd_worker__running_json(const pgd_worker_t *w) {
  cJSON *arr = cJSON_CreateArray();
  if (!arr) return NULL;
  for (const pgd_attempt_t *a = w->attempts; a; a = a->next) {
    cJSON *o = cJSON_CreateObject();
    if (!o) break;
    cJSON_AddNumberToObject(o, "execution_id", (double)a->execution_id);
    cJSON_AddNumberToObject(o, "attempt", a->attempt);
    cJSON_AddItemToArray(arr, o);
  }
  return arr;
}

/* ---- process attempts ---------------------------------------------------- */

/* Attributes found in the output so far (e.g. a Spark application id) go
 * to the master with a `running` report that carries them. */
static void report_attributes(pgd_attempt_t *a) {
  cJSON *b = state_body(a->execution_id, a->attempt, "running");
  if (!b) return;
  cJSON_AddItemToObject(b, "attributes", cJSON_Duplicate(a->attrs, 1));
  pgd_worker__report(a->w, PGD_MSG_STATE, b);
}

static void on_proc_output(pgd_spawn_t *sp, const char *data, size_t len, void *ud) {
  pgd_attempt_t *a = ud;
  emit_output(a, data, len, 0);
  if (a->scan && pgd_outscan_feed(a->scan, data, len) > 0) report_attributes(a);
}

/* ---- the plugin's kill command (e.g. `yarn application -kill`) ---------- */

typedef struct kill_cmd {
  int64_t execution_id;
} kill_cmd_t;

static void on_kill_cmd_output(pgd_spawn_t *sp, const char *data, size_t len, void *ud) {
  (void)sp;
  PGD_INFO(MOD, "execution %" PRId64 " kill command: %.*s", ((kill_cmd_t *)ud)->execution_id,
           (int)(len > 400 ? 400 : len), data);
}

static void on_kill_cmd_exit(pgd_spawn_t *sp, const pgd_spawn_result_t *r, void *ud) {
  (void)sp;
  kill_cmd_t *k = ud;
  PGD_INFO(MOD, "execution %" PRId64 " kill command ended: exit %d signal %d", k->execution_id,
           r->exit_code, r->term_signal);
  free(k);
}

/* After a kill or timeout, a job type whose work outlives its process (a
 * Spark application in cluster mode) names a command that stops it. */
static void run_plugin_kill(pgd_attempt_t *a) {
  if (!pgd_plugin_has_kill(a->plugin)) return;
  pgd_procspec_t ks;
  pgd_procspec_init(&ks);
  char err[512] = "";
  int rc = pgd_plugin_describe_kill(a->plugin, a->params, a->attrs, &ks, err, sizeof err);
  if (rc < 0) PGD_WARN(MOD, "execution %" PRId64 ": the plugin's kill failed: %s", a->execution_id, err);
  if (rc == 1) {
    kill_cmd_t *k = calloc(1, sizeof *k);
    if (k) {
      k->execution_id = a->execution_id;
      pgd_spawn_opts_t opts = {.timeout_ms = 60000, .kill_grace_ms = 5000};
      pgd_spawn_cbs_t cbs = {.on_output = on_kill_cmd_output, .on_exit = on_kill_cmd_exit};
      pgd_spawn_t *sp = NULL;
      if (pgd_spawn_start(a->w->loop, &ks, NULL, &opts, &cbs, k, &sp, err, sizeof err) < 0) {
        PGD_WARN(MOD, "execution %" PRId64 ": cannot start the kill command: %s", a->execution_id, err);
        free(k);
      } else {
        PGD_INFO(MOD, "execution %" PRId64 ": started the job type's kill command (%s)",
                 a->execution_id, ks.argv ? ks.argv[0] : "?");
      }
    }
  }
  pgd_procspec_free(&ks);
}

static void on_proc_exit(pgd_spawn_t *sp, const pgd_spawn_result_t *r, void *ud) {
  pgd_attempt_t *a = ud;
  a->sp = NULL;
  emit_output(a, "", 0, 1);
  if (a->scan) pgd_outscan_flush(a->scan);
  const char *state;
  char err[1024] = "";
  if (r->timed_out) {
    state = "timed_out";
    snprintf(err, sizeof err, "timed out after %" PRId64 " ms", a->timeout_ms);
  } else if (r->killed || a->kill_requested) {
    state = "killed";
    snprintf(err, sizeof err, "killed");
  } else if (r->status_lost) {
    state = "failed";
    snprintf(err, sizeof err, "exit status of pid %d was lost", (int)r->pid);
  } else if (pgd_plugin_interpret_exit_ex(a->plugin, a->params, a->attrs,
                                          a->scan ? &a->scan->exec_state : NULL, r->exit_code,
                                          r->term_signal, err, sizeof err) == 0) {
    state = "succeeded";
  } else {
    state = "failed";
    if (!err[0]) {
      if (r->term_signal)
        snprintf(err, sizeof err, "killed by signal %d", r->term_signal);
      else
        snprintf(err, sizeof err, "exit code %d", r->exit_code);
    }
  }
  PGD_DEBUG(MOD, "execution %" PRId64 " attempt %d: %s (exit %d, signal %d, %" PRIu64 " us)",
            a->execution_id, a->attempt, state, r->exit_code, r->term_signal, r->duration_us);
  cJSON *b = state_body(a->execution_id, a->attempt, state);
  if (b) {
    if (r->exit_code >= 0 && !r->status_lost) cJSON_AddNumberToObject(b, "exit_code", r->exit_code);
    if (r->term_signal) cJSON_AddNumberToObject(b, "signal", r->term_signal);
    if (err[0] && strcmp(state, "succeeded") != 0) cJSON_AddStringToObject(b, "error", err);
    if (a->attrs && cJSON_GetArraySize(a->attrs) > 0)
      cJSON_AddItemToObject(b, "attributes", cJSON_Duplicate(a->attrs, 1));
  }
  pgd_worker__report(a->w, PGD_MSG_STATE, b);
  if (strcmp(state, "killed") == 0 || strcmp(state, "timed_out") == 0) run_plugin_kill(a);
  attempt_end(a);
}

/* "K=V" strings for launch.env (strings, numbers, booleans) and PAGODA_*.
 * Returns a NULL-terminated array owned by the caller (free_env). */
static char **build_extra_env(const pgd_attempt_t *a, const cJSON *env) {
  size_t n = 4 + (size_t)(cJSON_IsObject(env) ? cJSON_GetArraySize(env) : 0);
  char **v = calloc(n + 1, sizeof *v);
  if (!v) return NULL;
  size_t k = 0;
  const cJSON *it;
  const cJSON *obj = cJSON_IsObject(env) ? env : NULL;
  cJSON_ArrayForEach(it, obj) {
    if (!it->string || !it->string[0] || strchr(it->string, '=')) continue;
    char num[64];
    const char *val = NULL;
    if (cJSON_IsString(it)) val = it->valuestring;
    else if (cJSON_IsBool(it)) val = cJSON_IsTrue(it) ? "true" : "false";
    else if (cJSON_IsNumber(it)) {
      double d = it->valuedouble;
      if (d == floor(d) && fabs(d) < 9e15) snprintf(num, sizeof num, "%.0f", d);
      else snprintf(num, sizeof num, "%.17g", d);
      val = num;
    }
    if (!val) continue;
    if (asprintf(&v[k], "%s=%s", it->string, val) < 0) v[k] = NULL;
    else k++;
  }
  if (asprintf(&v[k], "PAGODA_EXECUTION_ID=%" PRId64, a->execution_id) >= 0) k++;
  else v[k] = NULL;
  if (asprintf(&v[k], "PAGODA_JOB=%s", a->job ? a->job : "") >= 0) k++;
  else v[k] = NULL;
  if (asprintf(&v[k], "PAGODA_ATTEMPT=%d", a->attempt) >= 0) k++;
  else v[k] = NULL;
  if (a->workdir) {
    if (asprintf(&v[k], "PAGODA_WORKDIR=%s", a->workdir) >= 0) k++;
    else v[k] = NULL;
  }
  v[k] = NULL;
  return v;
}

static void free_env(char **v) {
  if (!v) return;
  for (size_t i = 0; v[i]; i++) free(v[i]);
  free(v);
}

/* The user a process attempt runs as: launch.run_as, else the plugin's
 * process_set_user; both set and different is an error. NULL = no run_as. */
static const char *pick_user(const char *run_as, const pgd_procspec_t *spec, char *err,
                             size_t errlen, int *rc) {
  *rc = 0;
  if (run_as && spec->user && strcmp(run_as, spec->user) != 0) {
    snprintf(err, errlen, "run_as user '%s' conflicts with user '%s' set by the job type's plugin",
             run_as, spec->user);
    *rc = -EINVAL;
    return NULL;
  }
  return run_as ? run_as : spec->user;
}

static int start_process(pgd_attempt_t *a, const cJSON *env, const char *run_as, int *pid,
                         char *err, size_t errlen) {
  pgd_procspec_t spec;
  pgd_runas_t ru = {0};
  pgd_procspec_init(&spec);
  int rc = pgd_plugin_describe_process(a->plugin, a->params, &spec, err, errlen);
  /* resources: the process starts in its working directory unless the job
   * type (e.g. params.cwd) chose one */
  if (rc == 0 && a->workdir && !spec.cwd) rc = pgd_procspec_set_cwd(&spec, a->workdir);
  const char *user = rc == 0 ? pick_user(run_as, &spec, err, errlen, &rc) : NULL;
  if (rc == 0 && user) {
    rc = pgd_runas_resolve(user, a->w->allowed_users, geteuid(), &ru, err, errlen);
    /* the spawner checks that spec->user is the resolved user */
    if (rc == 0) rc = pgd_procspec_set_user(&spec, ru.name);
  }
  if (rc == 0) {
    char **extra = build_extra_env(a, env);
    if (!extra) {
      snprintf(err, errlen, "out of memory");
      rc = -ENOMEM;
    } else {
      pgd_spawn_opts_t opts = {.timeout_ms = a->timeout_ms,
                               .kill_grace_ms = a->kill_grace_ms,
                               .runas = user ? &ru : NULL};
      pgd_spawn_cbs_t cbs = {.on_output = on_proc_output, .on_exit = on_proc_exit};
      rc = pgd_spawn_start(a->w->loop, &spec, (const char *const *)extra, &opts, &cbs, a, &a->sp,
                           err, errlen);
      if (rc == 0) *pid = (int)pgd_spawn_pid(a->sp);
      if (rc == 0 && (pgd_plugin_has_output_scan(a->plugin) || pgd_plugin_has_kill(a->plugin))) {
        a->attrs = cJSON_CreateObject();
        a->scan = pgd_plugin_has_output_scan(a->plugin) ? malloc(sizeof *a->scan) : NULL;
        if (a->scan) pgd_outscan_init(a->scan, a->plugin, a->params, a->attrs);
      }
      free_env(extra);
    }
  }
  pgd_runas_free(&ru);
  pgd_procspec_free(&spec);
  return rc;
}

/* ---- in-process attempts ------------------------------------------------- */

static void on_inproc_output(pgd_inproc_t *ip, const char *data, size_t len, void *ud) {
  emit_output(ud, data, len, 0);
}

static void on_inproc_exit(pgd_inproc_t *ip, const pgd_inproc_result_t *r, void *ud) {
  pgd_attempt_t *a = ud;
  a->ip = NULL;
  emit_output(a, "", 0, 1);
  const char *state;
  char err[1024] = "";
  if (r->timed_out) {
    state = "timed_out";
    snprintf(err, sizeof err, "timed out after %" PRId64 " ms", a->timeout_ms);
  } else if (r->killed || a->kill_requested) {
    state = "killed";
    snprintf(err, sizeof err, "killed");
  } else if (r->rc == 0) {
    state = "succeeded";
  } else {
    state = "failed";
    snprintf(err, sizeof err, "%s", r->error && r->error[0] ? r->error : "run failed");
  }
  cJSON *b = state_body(a->execution_id, a->attempt, state);
  if (b) {
    if (err[0]) cJSON_AddStringToObject(b, "error", err);
    if (r->result_json) {
      cJSON *res = cJSON_Parse(r->result_json);
      if (!res) res = cJSON_CreateString(r->result_json);
      if (res) cJSON_AddItemToObject(b, "result", res);
    }
  }
  pgd_worker__report(a->w, PGD_MSG_STATE, b);
  attempt_end(a);
}

/* ---- launch / kill ------------------------------------------------------- */

static void begin_attempt(pgd_attempt_t *a, const cJSON *msg, bool linked);
static void launch_with_resources(pgd_attempt_t *a, const cJSON *msg, const cJSON *res);

static int get_int64(const cJSON *msg, const char *key, int64_t *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, key);
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return 0;
  *out = (int64_t)v->valuedouble;
  return 1;
}

static char *dup_str(const cJSON *msg, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, key);
  return cJSON_IsString(v) && v->valuestring ? strdup(v->valuestring) : NULL;
}

void pgd_worker__handle_launch(pgd_worker_t *w, const cJSON *msg) {
  int64_t execution_id, attempt64;
  if (!get_int64(msg, "execution_id", &execution_id) || !get_int64(msg, "attempt", &attempt64) ||
      attempt64 < 0 || attempt64 > INT32_MAX) {
    PGD_WARN(MOD, "launch without a numeric execution_id and attempt: ignored");
    if (w->conn) {
      cJSON *e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "message", "launch without a numeric execution_id and attempt");
      pgd_conn_send(w->conn, PGD_MSG_ERROR, e);
      cJSON_Delete(e);
    }
    return;
  }
  int attempt = (int)attempt64;
  if (!pgd_worker__epoch_ok(w, msg, "launch")) return;
  if (find_attempt(w, execution_id, attempt)) {
    PGD_INFO(MOD, "execution %" PRId64 " attempt %d is already running here: duplicate launch ignored",
             execution_id, attempt);
    return;
  }
  char err[1024];
  if (w->stopping) {
    snprintf(err, sizeof err, "worker %s is stopping", w->id);
    report_refused(w, execution_id, attempt, err);
    return;
  }
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(msg, "job_type");
  const pgd_plugin_t *plugin = NULL;
  if (cJSON_IsString(type) && w->plugins) plugin = pgd_registry_find(w->plugins, type->valuestring);
  int kind = plugin ? pgd_plugin_executor_kind(plugin) : PGD_EXEC_NONE;
  if (kind != PGD_EXEC_PROCESS && kind != PGD_EXEC_IN_PROCESS) {
    snprintf(err, sizeof err, "job type '%s' is not available on worker %s",
             cJSON_IsString(type) ? type->valuestring : "(none)", w->id);
    report_refused(w, execution_id, attempt, err);
    return;
  }
  int64_t slots = 1;
  if (get_int64(msg, "slots", &slots) && slots < 1) slots = 1;
  if (slots > w->slots || w->used_slots + slots > w->slots) {
    snprintf(err, sizeof err, "worker %s has no free slot", w->id);
    report_refused(w, execution_id, attempt, err);
    return;
  }
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
  pgd_attempt_t *a = calloc(1, sizeof *a);
  if (a) {
    a->params = cJSON_IsObject(params) ? cJSON_Duplicate(params, 1) : cJSON_CreateObject();
    a->type = strdup(type->valuestring);
    a->job = dup_str(msg, "job");
  }
  if (!a || !a->params || !a->type) {
    attempt_free(a);
    report_refused(w, execution_id, attempt, "out of memory");
    return;
  }
  a->w = w;
  a->execution_id = execution_id;
  a->attempt = attempt;
  a->slots = (int)slots;
  a->plugin = plugin;
  if (!get_int64(msg, "timeout_ms", &a->timeout_ms) || a->timeout_ms < 0) a->timeout_ms = 0;
  if (!get_int64(msg, "kill_grace_ms", &a->kill_grace_ms) || a->kill_grace_ms <= 0)
    a->kill_grace_ms = w->kill_grace_ms;

  const cJSON *res = cJSON_GetObjectItemCaseSensitive(msg, "resources");
  if (cJSON_IsArray(res) && cJSON_GetArraySize(res) > 0) {
    launch_with_resources(a, msg, res);
    return;
  }
  begin_attempt(a, msg, false);
}

/* Starts the process or in-process run of `a` (launch message `msg`,
 * borrowed). `linked`: `a` is already in the worker's list (it waited for
 * its resources). On failure reports the attempt failed and frees it. */
static void begin_attempt(pgd_attempt_t *a, const cJSON *msg, bool linked) {
  pgd_worker_t *w = a->w;
  char err[1024];
  int pid = 0, rc;
  err[0] = '\0';
  const cJSON *run_as = cJSON_GetObjectItemCaseSensitive(msg, "run_as");
  const char *user = cJSON_IsString(run_as) && run_as->valuestring[0] ? run_as->valuestring : NULL;
  if (pgd_plugin_executor_kind(a->plugin) == PGD_EXEC_PROCESS) {
    rc = start_process(a, cJSON_GetObjectItemCaseSensitive(msg, "env"), user, &pid, err,
                       sizeof err);
  } else if (user) {
    snprintf(err, sizeof err, "run_as is not possible for job type '%s': it runs inside the worker",
             a->type);
    rc = -EINVAL;
  } else {
    pgd_inproc_cbs_t cbs = {.on_output = on_inproc_output, .on_exit = on_inproc_exit};
    rc = pgd_inproc_start(w->loop, a->plugin, a->params, a->timeout_ms, &cbs, a, &a->ip, err,
                          sizeof err);
  }
  if (rc != 0) {
    if (!err[0]) snprintf(err, sizeof err, "cannot start: %s", strerror(rc < 0 ? -rc : rc));
    report_refused(w, a->execution_id, a->attempt, err);
    if (linked) attempt_end(a);
    else attempt_free(a);
    return;
  }
  if (!linked) attempt_link(w, a);
  cJSON *b = state_body(a->execution_id, a->attempt, "running");
  if (b && pid > 0) cJSON_AddNumberToObject(b, "pid", pid);
  pgd_worker__report(w, PGD_MSG_STATE, b);
  PGD_DEBUG(MOD, "execution %" PRId64 " attempt %d (%s) running, pid %d", a->execution_id,
            a->attempt, a->type, pid);
}

/* ---- resources: fetched before anything runs ------------------------------ */

static void on_resources(pgd_resfetch_t *f, int status, const char *err, const char *workdir,
                         void *ud) {
  (void)f;
  pgd_attempt_t *a = ud;
  a->fetch = NULL;
  if (status == 0 && !a->kill_requested && !a->w->stopping) {
    a->workdir = strdup(workdir);
    cJSON *msg = a->launch;
    a->launch = NULL;
    if (!a->workdir) {
      report_refused(a->w, a->execution_id, a->attempt, "out of memory");
      cJSON_Delete(msg);
      attempt_end(a);
      return;
    }
    begin_attempt(a, msg, true);
    cJSON_Delete(msg);
    return;
  }
  if (workdir) a->workdir = strdup(workdir); /* removed with the attempt */
  if (a->kill_requested || a->w->stopping) {
    cJSON *b = state_body(a->execution_id, a->attempt, "killed");
    if (b) cJSON_AddStringToObject(b, "error", "killed while its resources were being fetched");
    pgd_worker__report(a->w, PGD_MSG_STATE, b);
  } else {
    report_refused(a->w, a->execution_id, a->attempt, err ? err : "resource fetch failed");
  }
  attempt_end(a);
}

static void launch_with_resources(pgd_attempt_t *a, const cJSON *msg, const cJSON *res) {
  pgd_worker_t *w = a->w;
  char err[1024] = "", name[64];
  snprintf(name, sizeof name, "%" PRId64 "-%d", a->execution_id, a->attempt);
  a->launch = cJSON_Duplicate(msg, 1);
  if (!a->launch) {
    report_refused(w, a->execution_id, a->attempt, "out of memory");
    attempt_free(a);
    return;
  }
  int rc = pgd_resfetch_start(w->rescache, res, name, on_resources, a, &a->fetch, err, sizeof err);
  if (rc < 0) {
    report_refused(w, a->execution_id, a->attempt, err[0] ? err : "cannot fetch resources");
    attempt_free(a);
    return;
  }
  /* In the list from now on: slots taken, duplicates and kills recognised
   * (the callback never runs inside pgd_resfetch_start). */
  attempt_link(w, a);
}

static void kill_attempt(pgd_attempt_t *a, int64_t grace_ms) {
  a->kill_requested = 1;
  if (a->fetch) pgd_resfetch_cancel(a->fetch);
  else if (a->sp) pgd_spawn_kill(a->sp, grace_ms);
  else if (a->ip) pgd_inproc_kill(a->ip);
}

void pgd_worker__handle_kill(pgd_worker_t *w, const cJSON *msg) {
  int64_t execution_id, attempt;
  if (!get_int64(msg, "execution_id", &execution_id) || !get_int64(msg, "attempt", &attempt)) {
    PGD_WARN(MOD, "kill without a numeric execution_id and attempt: ignored");
    return;
  }
  if (!pgd_worker__epoch_ok(w, msg, "kill")) return;
  pgd_attempt_t *a = find_attempt(w, execution_id, (int)attempt);
  if (!a) {
    PGD_DEBUG(MOD, "kill of execution %" PRId64 " attempt %" PRId64 ": not running here", execution_id,
              attempt);
    return;
  }
  int64_t grace;
  if (!get_int64(msg, "grace_ms", &grace) || grace < 0) grace = a->kill_grace_ms;
  PGD_INFO(MOD, "killing execution %" PRId64 " attempt %d (grace %" PRId64 " ms)", execution_id,
           a->attempt, grace);
  kill_attempt(a, grace);
}

void pgd_worker__kill_all(pgd_worker_t *w) {
  for (pgd_attempt_t *a = w->attempts; a; a = a->next) kill_attempt(a, w->kill_grace_ms);
}
