/* Pagoda — a script thread with a deadline (script_thread.h).
 *
 * Hand-offs: a mutex and two condition variables; the owner, which waits
 * anyway, spins SPIN_NS for the result before it sleeps (a quick call then
 * costs no wake-up of the owner). The script thread does not spin between
 * calls: measured on a loaded 2-core machine, a spinning script thread took
 * the CPU from everything else and made hand-offs 10x slower. */
#include "script/script_thread.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct pgd_script_thread {
  pthread_t tid;
  pthread_mutex_t mu;
  pthread_cond_t wake; /* the owner posted work or asked to stop */
  pthread_cond_t done; /* the call returned */
  pgd_script_thread_fn fn;
  void *ud;
  atomic_int pending;  /* work posted, not yet finished */
  atomic_int finished; /* the posted work returned */
  int stop;
  int orphaned;
  pgd_script_thread_fn orphan_done;
  void *orphan_ud;
};

/* How long the waiting owner spins before sleeping. */
#define SPIN_NS 20000L

static long long mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Spins until *flag is set or SPIN_NS passed; returns whether it is set. */
static int spin_for(atomic_int *flag) {
  long long end = mono_ns() + SPIN_NS;
  for (int i = 0;; i++) {
    if (atomic_load_explicit(flag, memory_order_acquire)) return 1;
    if ((i & 63) == 63 && mono_ns() >= end) return 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

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
  t->finished = 0;
  atomic_store_explicit(&t->pending, 1, memory_order_release);
  pthread_cond_signal(&t->wake);
  pthread_mutex_unlock(&t->mu);
  spin_for(&t->finished); /* a quick call ends before the thread would sleep */
  pthread_mutex_lock(&t->mu);
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
