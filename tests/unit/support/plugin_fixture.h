/* Pagoda unit tests — a built plugin loaded through the production loader,
 * for the tests of one plugin (tests/unit/test_plugin_<type>.c).
 *
 * Header-only (static functions) because only the tests that link pgd_plugin
 * include it. Main thread only. */
#ifndef PAGODA_TEST_SUPPORT_PLUGIN_FIXTURE_H
#define PAGODA_TEST_SUPPORT_PLUGIN_FIXTURE_H

#include <stdio.h>

#include "plugin/registry.h"

/* Creates a registry, loads the plugin file `path` into it and finds the
 * plugin of job type `type`. On success returns 0 with *reg owned by the
 * caller (free with pgd_registry_free) and *plugin borrowed from it. On
 * failure prints why on stderr and returns -1; *reg may then be non-NULL and
 * is still the caller's to free (a suite cleanup does it). Meant as (part of)
 * a CUnit suite init, so that a plugin that cannot load fails the binary
 * (pgd_test_run). */
static inline int pgd_test_plugin_load(const char *path, const char *type, pgd_registry_t **reg,
                                       const pgd_plugin_t **plugin) {
  char err[512] = "";
  *plugin = NULL;
  *reg = pgd_registry_new();
  if (!*reg) {
    fprintf(stderr, "cannot create a plugin registry\n");
    return -1;
  }
  if (pgd_registry_load_file(*reg, path, err, sizeof err) != 0) {
    fprintf(stderr, "cannot load %s: %s\n", path, err);
    return -1;
  }
  *plugin = pgd_registry_find(*reg, type);
  if (!*plugin) {
    fprintf(stderr, "%s loaded but has no job type \"%s\"\n", path, type);
    return -1;
  }
  return 0;
}

#endif
