/* Pagoda — typed getters and setters over cJSON objects.
 *
 * One place for the "read a member if it has the right type" helpers that
 * the master, worker, flows and schedules all need. Getters never allocate:
 * returned strings are borrowed from the object and live as long as it does.
 * Setters replace an existing member of the same name.
 *
 * Thread rules: no shared state (pgd_json_print keeps one scratch buffer
 * per thread); an object must not be used from two threads at once
 * (cJSON's own rule).
 */
#ifndef PAGODA_COMMON_JSON_H
#define PAGODA_COMMON_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

/* Member `key` of `o` (NULL when `o` is not an object or has no such key). */
const cJSON *pgd_json_get(const cJSON *o, const char *key);

/* Integer member, or `dflt` when absent or not a number. */
int64_t pgd_json_int(const cJSON *o, const char *key, int64_t dflt);
/* Strict integer: 0 and *out set when the member is a number with no
 * fractional part, of magnitude below 2^53; -ENOENT when absent; -EINVAL otherwise. */
int pgd_json_int_strict(const cJSON *o, const char *key, int64_t *out);
/* String member (borrowed), or NULL when absent or not a string. */
const char *pgd_json_str(const cJSON *o, const char *key);
/* Boolean member, or `dflt` when absent or not a boolean. */
bool pgd_json_bool(const cJSON *o, const char *key, bool dflt);

/* Sets o[key]; `v` is taken (freed on failure). NULL `v` sets JSON null. */
void pgd_json_set(cJSON *o, const char *key, cJSON *v);
void pgd_json_set_int(cJSON *o, const char *key, int64_t v);
void pgd_json_set_str(cJSON *o, const char *key, const char *v); /* NULL → null */
void pgd_json_set_bool(cJSON *o, const char *key, bool v);

/* Whether `v` is ambiguous JSON: an object (at any depth) that names a key
 * twice, or a number beyond a double (1e999 parses as infinity and prints
 * as null). cJSON reads the first of two keys, other parsers the last, so
 * such input is refused at every boundary (API bodies, wire frames, flow
 * definitions) rather than read two ways. On true, *why (nullable) gets a
 * static phrase for an error message. Keys are sorted per object: n log n. */
bool pgd_json_ambiguous(const cJSON *v, const char **why);

/* Integers beyond 32 bits as exact integer text: cJSON prints numbers with
 * "%1.15g", which would round µs timestamps. Returns a raw number item. */
cJSON *pgd_json_int_item(int64_t v);

/* The JSON text of `v` (borrowed) as cJSON_PrintUnformatted writes it,
 * except that a number with no fractional part below 2^53 in magnitude is
 * written as integer digits (cJSON writes those beyond 32 bits with
 * "%1.15g", e.g. 1.79e+15, a floating-point format and a read-back per
 * number): the same values to any reader, at a fraction of the cost.
 * Caller frees the result with free(); NULL on allocation failure or for
 * what cJSON would not print either (an invalid item, nesting beyond
 * 1000). json_print.c. */
char *pgd_json_print(const cJSON *v);

struct pgd_strbuf;
/* Appends the text pgd_json_print would return for `v` (borrowed) to `b`
 * (common/strbuf.h), for callers that build a larger text around it (an
 * event frame, a page of records) without a copy per value. Returns false
 * when `v` would not print (pgd_json_print's NULL cases) or `b` ran out of
 * memory; `b` may then hold part of the text. */
bool pgd_json_print_append(struct pgd_strbuf *b, const cJSON *v);
/* Appends `s` (NULL: "") as a JSON string, escaped as pgd_json_print does. */
void pgd_json_print_string(struct pgd_strbuf *b, const char *s);
/* Appends `v` as JSON integer digits. */
void pgd_json_print_int(struct pgd_strbuf *b, int64_t v);

#endif
