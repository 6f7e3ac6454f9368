/* Pagoda — the host's enforcement of a plugin's declared parameter schema
 * (ABI 1.2, see "parameter schema" in sdk/include/pagoda/plugin.h).
 *
 * One place for the rules: type names, the environment-variable key rule,
 * reading a schema array with the element size of the plugin's declared
 * ABI, and the check run before validate, describe_process and run.
 * Thread rules: pure functions over borrowed data; any thread.
 */
#ifndef PAGODA_PLUGIN_SCHEMA_H
#define PAGODA_PLUGIN_SCHEMA_H

#include <cjson/cJSON.h>
#include <pagoda/plugin.h>
#include <stddef.h>

#include "plugin/registry.h"

/* The minor ABI version from which the host enforces the schema. */
#define PGD_SCHEMA_MINOR 2

/* Longest environment variable name PAGODA_PARAM_ENV accepts. */
#define PGD_ENV_KEY_MAX 255

/* Name of a schema type for listings: "string", "number", "bool", "array",
 * "object", "null", "text", "strings", "integer", "env", or "any" (static). */
const char *pgd_param_type_name(pagoda_json_type_t t);

/* 1 when `key` is a valid environment variable name for PAGODA_PARAM_ENV:
 * 1-255 characters of [A-Za-z0-9_.-], the first not a digit. 0 otherwise
 * (NULL too). */
int pgd_env_key_ok(const char *key);

/* Copies entry `i` of the schema of descriptor `d` into *out, reading the
 * array with the element size of the ABI `d` declares (a 1.0/1.1 entry has
 * no must_be: it is set to NULL). Returns 1, or 0 past the end (the entry
 * whose key is NULL) or when there is no schema. */
int pgd_param_spec_at(const pagoda_plugin_descriptor_t *d, size_t i, pagoda_param_spec_t *out);

/* Checks `params` (borrowed; NULL is taken as {}) against the schema of
 * `p`. 0 when it conforms, or when the plugin declares ABI < 1.2 (its
 * schema is only listed); otherwise -EINVAL with a message naming the
 * field, prefixed with the job type ("shell: params.cwd must be a string").
 * -EINVAL also when params is not an object. */
int pgd_plugin_schema_check(const pgd_plugin_t *p, const cJSON *params, char *err, size_t errlen);

#endif
