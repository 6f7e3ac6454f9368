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

/* A state report of (execution_id, attempt) stamped now; the caller adds
 * the outcome fields. */
static pgd_msg_state_t state_msg(int64_t execution_id, int attempt, pgd_exec_state_t state) {
  return (pgd_msg_state_t){.execution_id = execution_id,
                           .attempt = attempt,
                           .state = state,
                           .at_us = pgd_msg_int(pgd_now_us())};
}

/* A final state for an attempt that never started. */
static void report_refused(pgd_worker_t *w, int64_t execution_id, int attempt, const char *error) {
  PGD_WARN(MOD, "execution %" PRId64 " attempt %d refused: %s", execution_id, attempt, error);
  pgd_msg_state_t m = state_msg(execution_id, attempt, PGD_STATE_FAILED);
  m.error = error;
  pgd_worker__report_state(w, &m);
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
    pgd_msg_log_t m = {.execution_id = a->execution_id,
                       .attempt = a->attempt,
                       .offset = (int64_t)a->offset,
                       .data = out};
    pgd_worker__report_log(a->w, &m);
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
  for (const pgd_attempt_t *a = w->attempts; arr && a; a = a->next)
    if (pgd_msg_attempt_ref_add(arr, a->execution_id, a->attempt) < 0) break;
  return arr;
}

/* ---- process attempts ---------------------------------------------------- */

/* Attributes found in the output so far (e.g. a Spark application id) go
 * to the master with a `running` report that carries them. */
static void report_attributes(pgd_attempt_t *a) {
  pgd_msg_state_t m = state_msg(a->execution_id, a->attempt, PGD_STATE_RUNNING);
  m.attributes = a->attrs;
  pgd_worker__report_state(a->w, &m);
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
      pgd_spawn_opts_t opts = {.timeout_ms = 60000, .kill_grace_ms = 5000, .set = a->w->spawn_set};
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
  pgd_exec_state_t state;
  char err[1024] = "";
  if (r->timed_out) {
    state = PGD_STATE_TIMED_OUT;
    snprintf(err, sizeof err, "timed out after %" PRId64 " ms", a->timeout_ms);
  } else if (r->killed || a->kill_requested) {
    state = PGD_STATE_KILLED;
    snprintf(err, sizeof err, "killed");
  } else if (r->oom_killed) {
    /* the kernel killed a process of the tree at limits.memory_mb */
    state = PGD_STATE_FAILED;
    snprintf(err, sizeof err, "oom_killed: the attempt reached its memory limit (%" PRId64 " MiB)",
             a->memory_limit_mb);
  } else if (r->status_lost) {
    state = PGD_STATE_FAILED;
    snprintf(err, sizeof err, "exit status of pid %d was lost", (int)r->pid);
  } else if (pgd_plugin_interpret_exit_ex(a->plugin, a->params, a->attrs,
                                          a->scan ? &a->scan->exec_state : NULL, r->exit_code,
                                          r->term_signal, err, sizeof err) == 0) {
    state = PGD_STATE_SUCCEEDED;
  } else {
    state = PGD_STATE_FAILED;
    if (!err[0]) {
      if (r->term_signal)
        snprintf(err, sizeof err, "killed by signal %d", r->term_signal);
      else
        snprintf(err, sizeof err, "exit code %d", r->exit_code);
    }
  }
  PGD_DEBUG(MOD, "execution %" PRId64 " attempt %d: %s (exit %d, signal %d, %" PRIu64 " us)",
            a->execution_id, a->attempt, pgd_exec_state_name(state), r->exit_code, r->term_signal,
            r->duration_us);
  pgd_msg_state_t m = state_msg(a->execution_id, a->attempt, state);
  if (r->exit_code >= 0 && !r->status_lost) m.exit_code = pgd_msg_int(r->exit_code);
  if (r->term_signal) m.signal = pgd_msg_int(r->term_signal);
  if (err[0] && state != PGD_STATE_SUCCEEDED) m.error = err;
  if (a->attrs && cJSON_GetArraySize(a->attrs) > 0) m.attributes = a->attrs;
  pgd_worker__report_state(a->w, &m);
  if (state == PGD_STATE_KILLED || state == PGD_STATE_TIMED_OUT) run_plugin_kill(a);
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

/* The attempt's containment (cgroup.h) with the launch's limits; NULL
 * with a message in err when it cannot be made. */
static pgd_cgroup_t *contain_attempt(pgd_attempt_t *a, const pgd_msg_limits_t *lim, char *err,
                                     size_t errlen) {
  char name[64], skipped[256];
  snprintf(name, sizeof name, "e%" PRId64 "-a%d", a->execution_id, a->attempt);
  pgd_cgroup_limits_t cl = {0};
  if (lim && lim->set) cl = (pgd_cgroup_limits_t){lim->memory_mb, lim->cpus, lim->pids};
  pgd_cgroup_t *cg = NULL;
  if (pgd_cgroup_create(a->w->contain, name, &cl, &cg, skipped, sizeof skipped, err, errlen) < 0)
    return NULL;
  if (skipped[0])
    PGD_WARN(MOD, "execution %" PRId64 " attempt %d: limits not enforced on this worker: %s",
             a->execution_id, a->attempt, skipped);
  a->memory_limit_mb = cl.memory_mb;
  return cg;
}

static int start_process(pgd_attempt_t *a, const cJSON *env, const char *run_as,
                         const pgd_msg_limits_t *limits, int *pid, char *err, size_t errlen) {
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
                               .runas = user ? &ru : NULL,
                               .set = a->w->spawn_set};
      pgd_spawn_cbs_t cbs = {.on_output = on_proc_output, .on_exit = on_proc_exit};
      if (a->w->contain && !(opts.cgroup = contain_attempt(a, limits, err, errlen))) rc = -EIO;
      else rc = pgd_spawn_start(a->w->loop, &spec, (const char *const *)extra, &opts, &cbs, a, &a->sp,
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
  pgd_exec_state_t state;
  char err[1024] = "";
  if (r->timed_out) {
    state = PGD_STATE_TIMED_OUT;
    snprintf(err, sizeof err, "timed out after %" PRId64 " ms", a->timeout_ms);
  } else if (r->killed || a->kill_requested) {
    state = PGD_STATE_KILLED;
    snprintf(err, sizeof err, "killed");
  } else if (r->rc == 0) {
    state = PGD_STATE_SUCCEEDED;
  } else {
    state = PGD_STATE_FAILED;
    snprintf(err, sizeof err, "%s", r->error && r->error[0] ? r->error : "run failed");
  }
  pgd_msg_state_t m = state_msg(a->execution_id, a->attempt, state);
  if (err[0]) m.error = err;
  cJSON *res = NULL;
  if (r->result_json) { /* JSON, or the text as a string */
    res = cJSON_Parse(r->result_json);
    if (!res) res = cJSON_CreateString(r->result_json);
    m.result = res;
  }
  pgd_worker__report_state(a->w, &m);
  cJSON_Delete(res);
  attempt_end(a);
}

/* ---- launch / kill ------------------------------------------------------- */

static void begin_attempt(pgd_attempt_t *a, const pgd_msg_launch_t *lm, bool linked);
static void launch_with_resources(pgd_attempt_t *a, const cJSON *msg, const cJSON *res);

void pgd_worker__handle_launch(pgd_worker_t *w, const cJSON *msg) {
  pgd_msg_launch_t lm;
  char err[1024];
  if (pgd_msg_launch_decode(msg, &lm, err, sizeof err) < 0) {
    PGD_WARN(MOD, "%s: launch ignored", err);
    pgd_worker__send_error(w, err);
    return;
  }
  int64_t execution_id = lm.execution_id;
  int attempt = lm.attempt;
  if (!pgd_worker__epoch_ok(w, lm.epoch, "launch")) return;
  if (find_attempt(w, execution_id, attempt)) {
    PGD_INFO(MOD, "execution %" PRId64 " attempt %d is already running here: duplicate launch ignored",
             execution_id, attempt);
    return;
  }
  if (w->stopping) {
    snprintf(err, sizeof err, "worker %s is stopping", w->id);
    report_refused(w, execution_id, attempt, err);
    return;
  }
  const pgd_plugin_t *plugin = NULL;
  if (lm.job_type && w->plugins) plugin = pgd_registry_find(w->plugins, lm.job_type);
  int kind = plugin ? pgd_plugin_executor_kind(plugin) : PGD_EXEC_NONE;
  if (kind != PGD_EXEC_PROCESS && kind != PGD_EXEC_IN_PROCESS) {
    snprintf(err, sizeof err, "job type '%s' is not available on worker %s",
             lm.job_type ? lm.job_type : "(none)", w->id);
    report_refused(w, execution_id, attempt, err);
    return;
  }
  int64_t slots = lm.slots.set && lm.slots.v >= 1 ? lm.slots.v : 1;
  if (slots > w->slots || w->used_slots + slots > w->slots) {
    snprintf(err, sizeof err, "worker %s has no free slot", w->id);
    report_refused(w, execution_id, attempt, err);
    return;
  }
  pgd_attempt_t *a = calloc(1, sizeof *a);
  if (a) {
    a->params = lm.params ? cJSON_Duplicate(lm.params, 1) : cJSON_CreateObject();
    a->type = strdup(lm.job_type);
    a->job = lm.job ? strdup(lm.job) : NULL;
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
  a->timeout_ms = lm.timeout_ms.set && lm.timeout_ms.v > 0 ? lm.timeout_ms.v : 0;
  a->kill_grace_ms =
      lm.kill_grace_ms.set && lm.kill_grace_ms.v > 0 ? lm.kill_grace_ms.v : w->kill_grace_ms;
  if (pgd_msg_count(lm.resources) > 0) {
    launch_with_resources(a, msg, lm.resources);
    return;
  }
  begin_attempt(a, &lm, false);
}

/* Starts the process or in-process run of `a` (launch message `lm`,
 * borrowed). `linked`: `a` is already in the worker's list (it waited for
 * its resources). On failure reports the attempt failed and frees it. */
static void begin_attempt(pgd_attempt_t *a, const pgd_msg_launch_t *lm, bool linked) {
  pgd_worker_t *w = a->w;
  char err[1024];
  int pid = 0, rc;
  err[0] = '\0';
  const char *user = lm->run_as && lm->run_as[0] ? lm->run_as : NULL;
  if (pgd_plugin_executor_kind(a->plugin) == PGD_EXEC_PROCESS) {
    rc = start_process(a, lm->env, user, &lm->limits, &pid, err, sizeof err);
  } else if (user) {
    snprintf(err, sizeof err, "run_as is not possible for job type '%s': it runs inside the worker",
             a->type);
    rc = -EINVAL;
  } else {
    pgd_inproc_cbs_t cbs = {.on_output = on_inproc_output, .on_exit = on_inproc_exit};
    pgd_inproc_opts_t io = {.timeout_ms = a->timeout_ms, .kill_grace_ms = a->kill_grace_ms,
                            .isolation = w->inproc_isolation, .helper = w->inproc_helper};
    rc = pgd_inproc_start_ex(w->loop, a->plugin, a->params, &io, &cbs, a, &a->ip, err,
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
  pgd_msg_state_t m = state_msg(a->execution_id, a->attempt, PGD_STATE_RUNNING);
  if (pid > 0) m.pid = pgd_msg_int(pid);
  pgd_worker__report_state(w, &m);
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
    pgd_msg_launch_t lm;
    char err2[256];
    if (pgd_msg_launch_decode(msg, &lm, err2, sizeof err2) == 0) { /* decoded once already */
      begin_attempt(a, &lm, true);
    } else {
      report_refused(a->w, a->execution_id, a->attempt, err2);
      attempt_end(a);
    }
    cJSON_Delete(msg);
    return;
  }
  if (workdir) a->workdir = strdup(workdir); /* removed with the attempt */
  if (a->kill_requested || a->w->stopping) {
    pgd_msg_state_t m = state_msg(a->execution_id, a->attempt, PGD_STATE_KILLED);
    m.error = "killed while its resources were being fetched";
    pgd_worker__report_state(a->w, &m);
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
  else if (a->ip) pgd_inproc_kill(a->ip, grace_ms);
}

void pgd_worker__handle_kill(pgd_worker_t *w, const cJSON *msg) {
  pgd_msg_kill_t km;
  char err[512];
  if (pgd_msg_kill_decode(msg, &km, err, sizeof err) < 0) {
    PGD_WARN(MOD, "%s: kill ignored", err);
    pgd_worker__send_error(w, err);
    return;
  }
  if (!pgd_worker__epoch_ok(w, km.epoch, "kill")) return;
  pgd_attempt_t *a = find_attempt(w, km.execution_id, km.attempt);
  if (!a) {
    PGD_DEBUG(MOD, "kill of execution %" PRId64 " attempt %d: not running here", km.execution_id,
              km.attempt);
    return;
  }
  int64_t grace = km.grace_ms.set && km.grace_ms.v >= 0 ? km.grace_ms.v : a->kill_grace_ms;
  PGD_INFO(MOD, "killing execution %" PRId64 " attempt %d (%s, grace %" PRId64 " ms)",
           km.execution_id, a->attempt, km.reason ? km.reason : "no reason given", grace);
  kill_attempt(a, grace);
}

void pgd_worker__kill_all(pgd_worker_t *w) {
  for (pgd_attempt_t *a = w->attempts; a; a = a->next) kill_attempt(a, w->kill_grace_ms);
}
