/* Pagoda — private to core/plugin: the structs behind pgd_plugin_t and
 * pgd_registry_t, shared by registry.c (loading) and call.c (calling). */
#ifndef PAGODA_PLUGIN_PRIV_H
#define PAGODA_PLUGIN_PRIV_H

#include <pagoda/plugin.h>
#include <sys/types.h>
#include <time.h>

#include "plugin/registry.h"

/* Size of a descriptor of ABI 1.0: the host reads no field beyond it for a
 * 1.0 plugin, and refuses a struct_size smaller than this. */
#define PGD_DESC_SIZE_1_0 \
  (offsetof(pagoda_plugin_descriptor_t, executor) + sizeof(const pagoda_executor_t *))

/* The minor ABI version that added the per-execution state slots
 * (on_output_line_ex, interpret_exit_ex, exec_state_free). */
#define PGD_EXEC_STATE_MINOR 2

struct pgd_plugin {
  char *file;     /* path as given to load_file, owned */
  char *realpath; /* canonical path, owned */
  void *dl;       /* dlopen handle */
  const pagoda_plugin_descriptor_t *desc; /* static in the .so */
  void *state;    /* what init stored */
  char abi[16];   /* "1.0" as declared by the plugin */
  char sha[65];   /* pushed.c: the SHA-256 of a pushed version; "" for a
                   * file of the plugins directory */
  int retired;    /* another version of the type is active: pgd_registry_find
                   * skips it (still loaded: running attempts keep it) */
};

/* A file that was refused, kept for listings and to avoid retrying an
 * unchanged file on every directory scan. */
typedef struct pgd_refusal {
  char *file, *realpath, *reason; /* owned */
  char *type, *version;           /* owned copies, NULL when unknown */
  char abi[16];                   /* "" when unknown */
  int has_stat;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
  int conflict;                   /* refused because another file of the
                                   * same scan offered the same type */
} pgd_refusal_t;

struct pgd_registry {
  pgd_plugin_t **plugins; /* stable pointers, load order */
  size_t n, cap;
  pgd_refusal_t *refused;
  size_t nref, refcap;
  int load_timeout_ms;    /* hard deadline of one file's probe */
  struct pgd_scan *scan;  /* scan.c: the rescan in flight, NULL when none */
};

/* One file on its way into a registry. Made on the loop thread
 * (pgd_cand_init), prepared on any thread without touching the registry
 * (pgd_cand_prepare: probe, dlopen, entry, descriptor checks, init), then
 * committed on the loop thread (registry.c), which decides against the
 * registry and the other files of the same scan. */
typedef struct pgd_cand {
  char *path;     /* as given, owned */
  char *realpath; /* owned */
  int rc;         /* 0: ready to commit; < 0: refused, msg says why */
  char msg[1024];
  void *dl;       /* dlopen handle while ready */
  const pagoda_plugin_descriptor_t *desc; /* NULL when unknown or unreadable */
  void *state;    /* what init stored (ready only) */
  char abi[16];   /* "" when unknown */
  char type[72];  /* copies of the descriptor's type and version, kept for */
  char version[260]; /* the refusal record after dlclose; "" when unknown */
  int has_type, has_version;
  int inited;     /* init succeeded: destroy is owed unless the registry keeps it */
} pgd_cand_t;

/* Fills `c` for `path` (copied). -ENOMEM when out of memory. Loop thread. */
int pgd_cand_init(pgd_cand_t *c, const char *path);
/* Loads the file off the registry: probe child killed after `timeout_ms`
 * (<= 0: no probe deadline), dlopen, entry, descriptor checks except the
 * type conflicts, init. Sets c->rc/msg. Any thread; blocks. */
void pgd_cand_prepare(pgd_cand_t *c, int timeout_ms);
/* Undoes a prepared candidate that is not kept (destroy, dlclose) and frees
 * its strings. Loop thread (destroy runs there). */
void pgd_cand_discard(pgd_cand_t *c);
/* Commits prepared candidates (loop thread): the type rules (built-in
 * types, a type offered by two files), then registry entries or refusal
 * records. Each candidate is consumed (kept by the registry or discarded).
 * Returns the number loaded; `rcs` (nullable, n entries) gets each
 * candidate's code (0 loaded, else the refusal's), and each c->msg keeps
 * the refusal's reason. */
int pgd_registry_commit(pgd_registry_t *r, pgd_cand_t *cands, size_t n, int *rcs);
/* The candidates a scan of `dir` tries (new files, changed refused ones,
 * conflicts whose other file is gone), in name order; owned by the caller
 * (*out, free with free() after each is consumed). Returns the count or
 * -errno when `dir` cannot be read (logged). Loop thread; cheap. */
int pgd_registry_plan_dir(pgd_registry_t *r, const char *dir, pgd_cand_t **out);
/* Moves a ready candidate into the registry (pushed.c: a pushed version).
 * 0, or -ENOMEM. Loop thread. */
int pgd_registry_keep(pgd_registry_t *r, pgd_cand_t *c);
/* 1 for the types only the plugins Pagoda ships provide (shell, ...). */
int pgd_registry_is_builtin_type(const char *type);

#endif
