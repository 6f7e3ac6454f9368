#include "plugin/procspec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pgd_procspec_init(pgd_procspec_t *spec) {
  if (spec) memset(spec, 0, sizeof *spec);
}

static void free_vec(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

void pgd_procspec_free(pgd_procspec_t *spec) {
  if (!spec) return;
  free_vec(spec->argv, spec->argc);
  free_vec(spec->env, spec->envc);
  free(spec->cwd);
  free(spec->user);
  pgd_procspec_init(spec);
}

/* Makes room for one more entry plus the NULL terminator. */
static int grow(char ***vec, size_t n, size_t *cap) {
  if (n + 2 <= *cap) return 0;
  size_t ncap = *cap ? *cap * 2 : 8;
  while (ncap < n + 2) ncap *= 2;
  char **nv = realloc(*vec, ncap * sizeof *nv);
  if (!nv) return -ENOMEM;
  *vec = nv;
  *cap = ncap;
  return 0;
}

int pgd_procspec_add_arg(pgd_procspec_t *spec, const char *arg) {
  if (!spec || !arg) return -EINVAL;
  if (grow(&spec->argv, spec->argc, &spec->argv_cap) < 0) return -ENOMEM;
  char *copy = strdup(arg);
  if (!copy) return -ENOMEM;
  spec->argv[spec->argc++] = copy;
  spec->argv[spec->argc] = NULL;
  return 0;
}

static long find_env(const pgd_procspec_t *spec, const char *key, size_t klen) {
  for (size_t i = 0; i < spec->envc; i++)
    if (strncmp(spec->env[i], key, klen) == 0 && spec->env[i][klen] == '=') return (long)i;
  return -1;
}

int pgd_procspec_set_env(pgd_procspec_t *spec, const char *key, const char *value) {
  if (!spec || !key || !value || !*key || strchr(key, '=')) return -EINVAL;
  size_t klen = strlen(key), vlen = strlen(value);
  char *entry = malloc(klen + vlen + 2);
  if (!entry) return -ENOMEM;
  memcpy(entry, key, klen);
  entry[klen] = '=';
  memcpy(entry + klen + 1, value, vlen + 1);
  long at = find_env(spec, key, klen);
  if (at >= 0) {
    free(spec->env[at]);
    spec->env[at] = entry;
    return 0;
  }
  if (grow(&spec->env, spec->envc, &spec->env_cap) < 0) {
    free(entry);
    return -ENOMEM;
  }
  spec->env[spec->envc++] = entry;
  spec->env[spec->envc] = NULL;
  return 0;
}

const char *pgd_procspec_get_env(const pgd_procspec_t *spec, const char *key) {
  if (!spec || !key || !*key) return NULL;
  size_t klen = strlen(key);
  long at = find_env(spec, key, klen);
  return at >= 0 ? spec->env[at] + klen + 1 : NULL;
}

static int set_str(char **slot, const char *value) {
  char *copy = NULL;
  if (value) {
    if (!*value) return -EINVAL;
    copy = strdup(value);
    if (!copy) return -ENOMEM;
  }
  free(*slot);
  *slot = copy;
  return 0;
}

int pgd_procspec_set_cwd(pgd_procspec_t *spec, const char *value) {
  return spec ? set_str(&spec->cwd, value) : -EINVAL;
}

int pgd_procspec_set_user(pgd_procspec_t *spec, const char *value) {
  return spec ? set_str(&spec->user, value) : -EINVAL;
}
