/* Pagoda — a small declarative checker for JSON request bodies.
 *
 * A schema is static data: a tree of pgd_jschema_t nodes, each naming the
 * JSON types a value may have (null included or not), and for strings a
 * byte limit and an enum, for numbers an integer/range rule, for objects
 * their known members (required or not; unknown members are allowed unless
 * `closed`), for arrays and for maps the schema of each element. The REST
 * route table gives one schema per body (core/api/api_schemas.c); the API
 * checks a body before its handler runs, so handlers and the master's
 * normalisers only ever see values of the declared types.
 *
 * The checker reports the first problem found as a path ("nodes[2].id") and
 * the types expected ("string or null"), which the API puts in its 400.
 *
 * Thread rules: schemas are immutable static data; checking allocates
 * nothing and may run on any thread.
 */
#ifndef PAGODA_COMMON_JSON_SCHEMA_H
#define PAGODA_COMMON_JSON_SCHEMA_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* Type bits; a value is accepted when its type is in the mask. INT accepts
 * a number with no fractional part (NUMBER accepts every number). */
enum {
  PGD_JT_NULL = 1u << 0,
  PGD_JT_BOOL = 1u << 1,
  PGD_JT_INT = 1u << 2,
  PGD_JT_NUMBER = 1u << 3,
  PGD_JT_STRING = 1u << 4,
  PGD_JT_ARRAY = 1u << 5,
  PGD_JT_OBJECT = 1u << 6,
  PGD_JT_ANY = 0x7fu,
};

typedef struct pgd_jschema pgd_jschema_t;

/* One member of an object schema; a list of them ends with {NULL}. */
typedef struct pgd_jfield {
  const char *name;
  const pgd_jschema_t *schema;
  bool required; /* absent → error (a present null is judged by the type mask) */
} pgd_jfield_t;

struct pgd_jschema {
  unsigned types;                  /* PGD_JT_* mask; 0 means PGD_JT_ANY */
  size_t max_len;                  /* strings: most bytes (0 = no limit) */
  const char *const *enum_values;  /* strings: the allowed values, NULL-terminated */
  bool ranged;                     /* numbers: min..max apply */
  double min, max;
  const pgd_jfield_t *fields;      /* objects: known members */
  bool closed;                     /* objects: refuse members not in `fields` */
  const pgd_jschema_t *each;       /* arrays: each item; objects: each member not in `fields` */
  size_t max_items;                /* arrays and objects: most items (0 = no limit) */
};

/* What went wrong, for the error answer. */
typedef struct pgd_jschema_err {
  char field[160];    /* "nodes[2].id"; "" for the body itself */
  char expected[96];  /* "string or null", "one of fixed, exponential", ... */
  char message[400];  /* a whole sentence naming both */
} pgd_jschema_err_t;

/* Checks `v` (borrowed) against `s`. true when it conforms; false with
 * *err filled (err may be NULL). A NULL schema accepts everything. Nesting
 * deeper than 32 levels is refused. */
bool pgd_jschema_check(const pgd_jschema_t *s, const cJSON *v, pgd_jschema_err_t *err);

/* The name of a value's JSON type: "null", "boolean", "number", "string",
 * "array", "object" (static storage). */
const char *pgd_jschema_type_name(const cJSON *v);

#endif
