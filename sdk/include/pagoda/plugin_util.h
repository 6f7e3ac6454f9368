/* Pagoda plugin helpers — header-only, part of the plugin SDK (since ABI 1.2).
 *
 * Small static inline functions over the host table of <pagoda/plugin.h>
 * for what every plugin repeats: read a param with its type checked, apply
 * the `env` object to a process, add an array of strings as arguments, join
 * strings, set an error and return its code. Nothing here is linked from
 * the host: the functions compile into the plugin and call only `host`
 * services, so they work with any 1.x host (they use 1.0 services only).
 *
 * Conventions shared by every helper:
 *   - `h` is the host table from init; `type` is the plugin's job type name,
 *     the prefix of every message ("shell: params.cwd must be a string").
 *   - `params` is borrowed for the call (as in the callbacks); a NULL
 *     params reads as an empty object.
 *   - Return PAGODA_OK, or a negative PAGODA_E* code with a message in `err`
 *     (written with host->error_set) naming the field by its path.
 *   - Strings returned through `out` are borrowed from `params`: valid for
 *     the current callback only.
 *   - Thread rules: no state of their own; safe wherever the host services
 *     they call are (any thread, with handles of the current call).
 *
 * With a 1.2 schema the host has already checked each declared key's type
 * before validate / describe_process / run; these helpers check the rules a
 * schema cannot say (non-empty, ranges, characters) and still refuse a wrong
 * type, so they are also safe for keys the schema does not declare.
 */
#ifndef PAGODA_PLUGIN_UTIL_H
#define PAGODA_PLUGIN_UTIL_H

#include <pagoda/plugin.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags for pagoda_param_string and pagoda_param_strings (items). */
#define PAGODA_PU_NONEMPTY 0x1u /* "" is refused */
#define PAGODA_PU_NO_DASH 0x2u  /* must not start with '-' (it follows a command option) */
#define PAGODA_PU_DASH 0x4u     /* must start with '-' (it is an option) */
#define PAGODA_PU_ABSOLUTE 0x8u /* must start with '/' */
#define PAGODA_PU_QUOTE 0x10u   /* the message ends with (got "<value>") */

/* Sets `err` to the printf-style message (copied; cut at 1023 bytes) and
 * returns `rc`, so that a check reads
 *   return pagoda_fail(h, err, PAGODA_EINVAL, "mytype: params.x must be ...");
 */
static inline int pagoda_fail(const pagoda_host_t *h, pagoda_error_t *err, int rc,
                              const char *fmt, ...) PAGODA_PRINTF(4, 5);
static inline int pagoda_fail(const pagoda_host_t *h, pagoda_error_t *err, int rc,
                              const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  if (vsnprintf(msg, sizeof msg, fmt, ap) < 0) msg[0] = '\0';
  va_end(ap);
  h->error_set(err, "%s", msg);
  return rc;
}

/* 0 when string `s` passes `flags` (PAGODA_PU_*) and holds no byte of
 * `reject` (NULL: none), else -1. */
static inline int pagoda_pu_string_ok(const char *s, unsigned flags, const char *reject) {
  if (!s) return -1;
  if ((flags & PAGODA_PU_NONEMPTY) && !*s) return -1;
  if ((flags & PAGODA_PU_NO_DASH) && s[0] == '-') return -1;
  if ((flags & PAGODA_PU_DASH) && s[0] != '-') return -1;
  if ((flags & PAGODA_PU_ABSOLUTE) && s[0] != '/') return -1;
  if (reject && *reject && strpbrk(s, reject)) return -1;
  return 0;
}

/* Reads params.<key> as a string. Absent: PAGODA_OK with *out = NULL.
 * Present and a string passing `flags`: PAGODA_OK with *out set (borrowed).
 * Otherwise PAGODA_EINVAL with "<type>: params.<key> must be <must_be>"
 * (must_be NULL: "a string", or "a non-empty string" with
 * PAGODA_PU_NONEMPTY). `out` may be NULL to check only. */
static inline int pagoda_param_string(const pagoda_host_t *h, const char *type,
                                      const pagoda_json_t *params, const char *key,
                                      unsigned flags, const char *must_be, const char **out,
                                      pagoda_error_t *err) {
  const pagoda_json_t *v = h->json_get(params, key);
  const char *s = h->json_string(v);
  if (out) *out = NULL;
  if (!v) return PAGODA_OK;
  if (pagoda_pu_string_ok(s, flags, NULL) < 0) {
    if (!must_be) must_be = (flags & PAGODA_PU_NONEMPTY) ? "a non-empty string" : "a string";
    if ((flags & PAGODA_PU_QUOTE) && s)
      return pagoda_fail(h, err, PAGODA_EINVAL, "%s: params.%s must be %s (got \"%.64s\")",
                         type, key, must_be, s);
    return pagoda_fail(h, err, PAGODA_EINVAL, "%s: params.%s must be %s", type, key, must_be);
  }
  if (out) *out = s;
  return PAGODA_OK;
}

/* Reads params.<key> as an integer in [min, max]. Absent: PAGODA_OK with
 * *out = dflt. Otherwise PAGODA_EINVAL unless a number without fraction in
 * range, with "<type>: params.<key> must be <must_be>" (must_be NULL: "an
 * integer from <min> to <max>"). */
static inline int pagoda_param_int(const pagoda_host_t *h, const char *type,
                                   const pagoda_json_t *params, const char *key, long long min,
                                   long long max, long long dflt, const char *must_be,
                                   long long *out, pagoda_error_t *err) {
  const pagoda_json_t *v = h->json_get(params, key);
  *out = dflt;
  if (!v) return PAGODA_OK;
  double d = h->json_number(v, 0);
  if (h->json_type(v) != PAGODA_JSON_NUMBER || !(d >= (double)min && d <= (double)max) ||
      d != (double)(long long)d) {
    if (must_be)
      return pagoda_fail(h, err, PAGODA_EINVAL, "%s: params.%s must be %s", type, key, must_be);
    return pagoda_fail(h, err, PAGODA_EINVAL, "%s: params.%s must be an integer from %lld to %lld",
                       type, key, min, max);
  }
  *out = (long long)d;
  return PAGODA_OK;
}

/* Reads params.<key> as a boolean. Absent: PAGODA_OK with *out = dflt.
 * Not a boolean: PAGODA_EINVAL with "<type>: params.<key> must be a
 * boolean". */
static inline int pagoda_param_bool(const pagoda_host_t *h, const char *type,
                                    const pagoda_json_t *params, const char *key, int dflt,
                                    int *out, pagoda_error_t *err) {
  const pagoda_json_t *v = h->json_get(params, key);
  *out = dflt;
  if (!v) return PAGODA_OK;
  if (h->json_type(v) != PAGODA_JSON_BOOL)
    return pagoda_fail(h, err, PAGODA_EINVAL, "%s: params.%s must be a boolean", type, key);
  *out = h->json_bool(v, dflt);
  return PAGODA_OK;
}

/* Checks params.<key>, if present, is an array of strings whose every item
 * passes `flags` and holds no byte of `reject` (NULL: none). Messages:
 *   "<type>: params.<key> must be an array of strings"
 *   "<type>: params.<key>[i] must be a string"
 *   "<type>: params.<key>[i] must <item_must>" (a rule failed; with
 *     PAGODA_PU_QUOTE followed by (got "<item>")), where item_must is the
 *     rest of the sentence: "be a non-empty path without ':'", "start with
 *     '-'"; NULL reads "be a valid item". */
static inline int pagoda_param_strings(const pagoda_host_t *h, const char *type,
                                       const pagoda_json_t *params, const char *key,
                                       unsigned flags, const char *reject,
                                       const char *item_must, pagoda_error_t *err) {
  const pagoda_json_t *a = h->json_get(params, key);
  if (!a) return PAGODA_OK;
  if (h->json_type(a) != PAGODA_JSON_ARRAY)
    return pagoda_fail(h, err, PAGODA_EINVAL, "%s: params.%s must be an array of strings", type,
                       key);
  size_t n = h->json_array_size(a);
  for (size_t i = 0; i < n; i++) {
    const char *s = h->json_string(h->json_array_item(a, i));
    if (!s)
      return pagoda_fail(h, err, PAGODA_EINVAL, "%s: params.%s[%zu] must be a string", type, key,
                         i);
    if (pagoda_pu_string_ok(s, flags, reject) < 0) {
      const char *what = item_must ? item_must : "be a valid item";
      if (flags & PAGODA_PU_QUOTE)
        return pagoda_fail(h, err, PAGODA_EINVAL, "%s: params.%s[%zu] must %s (got \"%.64s\")",
                           type, key, i, what, s);
      return pagoda_fail(h, err, PAGODA_EINVAL, "%s: params.%s[%zu] must %s", type, key, i, what);
    }
  }
  return PAGODA_OK;
}

/* Calls fn(ud, name, value) for each variable of params.<key> (an `env`
 * object: string values), in document order, and stops at the first
 * negative return, which it returns. Entries that are not strings are
 * skipped (the host's PAGODA_PARAM_ENV check refuses them earlier). `name`
 * and `value` are borrowed for the call. */
static inline int pagoda_env_each(const pagoda_host_t *h, const pagoda_json_t *params,
                                  const char *key,
                                  int (*fn)(void *ud, const char *name, const char *value),
                                  void *ud) {
  const pagoda_json_t *env = h->json_get(params, key);
  size_t n = h->json_object_size(env);
  for (size_t i = 0; i < n; i++) {
    const char *name = h->json_object_key_at(env, i);
    const char *value = h->json_string(h->json_object_value_at(env, i));
    if (!name || !value) continue;
    int rc = fn(ud, name, value);
    if (rc < 0) return rc;
  }
  return PAGODA_OK;
}

/* Adds each variable of params.<key> to `proc` with host->process_set_env
 * (describe_process / describe_kill). PAGODA_OK or the first error code
 * (no message: the caller names its step). */
static inline int pagoda_process_add_env(const pagoda_host_t *h, pagoda_process_t *proc,
                                         const pagoda_json_t *params, const char *key) {
  const pagoda_json_t *env = h->json_get(params, key);
  size_t n = h->json_object_size(env);
  for (size_t i = 0; i < n; i++) {
    const char *value = h->json_string(h->json_object_value_at(env, i));
    if (!value) continue;
    int rc = h->process_set_env(proc, h->json_object_key_at(env, i), value);
    if (rc < 0) return rc;
  }
  return PAGODA_OK;
}

/* Appends each string of the array `a` (borrowed; NULL or empty: nothing)
 * to the process's argv. PAGODA_OK, PAGODA_EINVAL for an item that is not a
 * string, or the host's error code. */
static inline int pagoda_process_add_args(const pagoda_host_t *h, pagoda_process_t *proc,
                                          const pagoda_json_t *a) {
  size_t n = h->json_array_size(a);
  for (size_t i = 0; i < n; i++) {
    const char *s = h->json_string(h->json_array_item(a, i));
    if (!s) return PAGODA_EINVAL;
    int rc = h->process_add_arg(proc, s);
    if (rc < 0) return rc;
  }
  return PAGODA_OK;
}

/* The strings of array `a` (borrowed; items that are not strings are
 * skipped) joined with `sep`, in a block owned by the caller (release with
 * h->free); "" for NULL or an empty array; NULL when out of memory. */
static inline char *pagoda_strings_join(const pagoda_host_t *h, const pagoda_json_t *a,
                                        char sep) {
  size_t n = h->json_array_size(a), total = 1;
  for (size_t i = 0; i < n; i++) {
    const char *s = h->json_string(h->json_array_item(a, i));
    if (s) total += strlen(s) + 1;
  }
  char *out = (char *)h->alloc(total);
  if (!out) return NULL;
  size_t at = 0, joined = 0;
  for (size_t i = 0; i < n; i++) {
    const char *s = h->json_string(h->json_array_item(a, i));
    if (!s) continue;
    size_t l = strlen(s);
    if (joined++) out[at++] = sep;
    memcpy(out + at, s, l);
    at += l;
  }
  out[at] = '\0';
  return out;
}

#ifdef __cplusplus
}
#endif

#endif /* PAGODA_PLUGIN_UTIL_H */
