/* Pagoda — a script thread with a deadline (script_thread.h). */
#include "script/script_thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct pgd_script_thread {
  pthread_t tid;
  pthread_mutex_t mu;
  pthread_cond_t wake; /* the owner posted work or asked to stop */
  pthread_cond_t done; /* the call returned */
  pgd_script_thread_fn fn;
  void *ud;
  int pending;  /* work posted, not yet finished */
  int finished; /* the posted work returned */
  int stop;
  int orphaned;
  pgd_script_thread_fn orphan_done;
  void *orphan_ud;
};

static void destroy(pgd_script_thread_t *t) {
  pthread_cond_destroy(&t->done);
  pthread_cond_destroy(&t->wake);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

static void *main_fn(void *arg) {
  pgd_script_thread_t *t = arg;
  pthread_mutex_lock(&t->mu);
  for (;;) {
    while (!t->pending && !t->stop) pthread_cond_wait(&t->wake, &t->mu);
    if (!t->pending) break; /* stop */
    pgd_script_thread_fn fn = t->fn;
    void *ud = t->ud;
    pthread_mutex_unlock(&t->mu);
    fn(ud);
    pthread_mutex_lock(&t->mu);
    t->pending = 0;
    t->finished = 1;
    if (t->orphaned) {
      pthread_mutex_unlock(&t->mu);
      if (t->orphan_done) t->orphan_done(t->orphan_ud);
      destroy(t); /* detached by pgd_script_thread_orphan */
      return NULL;
    }
    pthread_cond_signal(&t->done);
  }
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

int pgd_script_thread_new(pgd_script_thread_t **out) {
  pgd_script_thread_t *t = calloc(1, sizeof *t);
  if (!t) return -ENOMEM;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&t->mu, NULL);
  pthread_cond_init(&t->wake, NULL);
  pthread_cond_init(&t->done, &ca);
  pthread_condattr_destroy(&ca);
  int rc = pthread_create(&t->tid, NULL, main_fn, t);
  if (rc != 0) {
    destroy(t);
    return -rc;
  }
  *out = t;
  return 0;
}

int pgd_script_thread_run(pgd_script_thread_t *t, pgd_script_thread_fn fn, void *ud, long timeout_ms) {
  struct timespec end;
  clock_gettime(CLOCK_MONOTONIC, &end);
  end.tv_sec += timeout_ms / 1000;
  end.tv_nsec += (timeout_ms % 1000) * 1000000L;
  if (end.tv_nsec >= 1000000000L) {
    end.tv_sec++;
    end.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&t->mu);
  t->fn = fn;
  t->ud = ud;
  t->pending = 1;
  t->finished = 0;
  pthread_cond_signal(&t->wake);
  int rc = 0;
  while (!t->finished && rc != ETIMEDOUT) {
    if (timeout_ms > 0) rc = pthread_cond_timedwait(&t->done, &t->mu, &end);
    else pthread_cond_wait(&t->done, &t->mu);
  }
  int ok = t->finished;
  t->finished = 0;
  pthread_mutex_unlock(&t->mu);
  return ok ? 0 : PGD_SCRIPT_THREAD_ETIMEDOUT;
}

void pgd_script_thread_orphan(pgd_script_thread_t *t, pgd_script_thread_fn done, void *done_ud) {
  if (!t) return;
  pthread_mutex_lock(&t->mu);
  if (!t->pending) { /* it returned after all: clean up now */
    pthread_mutex_unlock(&t->mu);
    if (done) done(done_ud);
    pgd_script_thread_free(t);
    return;
  }
  t->orphaned = 1;
  t->orphan_done = done;
  t->orphan_ud = done_ud;
  pthread_detach(t->tid);
  pthread_mutex_unlock(&t->mu);
}

void pgd_script_thread_free(pgd_script_thread_t *t) {
  if (!t) return;
  pthread_mutex_lock(&t->mu);
  t->stop = 1;
  pthread_cond_signal(&t->wake);
  pthread_mutex_unlock(&t->mu);
  pthread_join(t->tid, NULL);
  destroy(t);
}
