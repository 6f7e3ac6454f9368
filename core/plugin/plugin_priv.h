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
} pgd_refusal_t;

struct pgd_registry {
  pgd_plugin_t **plugins; /* stable pointers, load order */
  size_t n, cap;
  pgd_refusal_t *refused;
  size_t nref, refcap;
};

#endif
