/* Pagoda — definitions kept as files (`pagoda apply`, `pagoda export`;
 * docs/cli.md "Definitions as files"): loading a file or a directory of
 * definitions, their canonical form (what is compared and exported) and its
 * text. Pure functions over files and JSON: no network.
 *
 * Layout (what `export` writes; `apply` reads any *.json under a directory,
 * whatever its subdirectory, each one object with a "kind"):
 *   jobs/NAME.json        {"kind": "job", "name": NAME, ...the job...}
 *   flows/NAME.json       {"kind": "flow", ...}
 *   schedules/NAME.json   {"kind": "schedule", ...}
 *   resources/NAME.json   {"kind": "resource", "name": NAME, "file": F}
 *   resources/F           the resource's content (F relative to the .json;
 *                         default NAME)
 *
 * Thread rules: reentrant; nothing global.
 */
#ifndef PAGODA_CLI_CLIENT_DEFS_H
#define PAGODA_CLI_CLIENT_DEFS_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* The kinds, in the order `apply` creates them (a job may name resources, a
 * flow jobs, a schedule a job or a flow); `--prune` deletes in reverse. */
typedef enum {
  PGD_DEF_RESOURCE = 0,
  PGD_DEF_JOB,
  PGD_DEF_FLOW,
  PGD_DEF_SCHEDULE,
  PGD_DEF_KINDS
} pgd_def_kind_t;

/* "resource", "job", "flow", "schedule" (static). */
const char *pgd_def_kind_name(pgd_def_kind_t kind);
/* The export subdirectory: "resources", "jobs", "flows", "schedules" (static). */
const char *pgd_def_kind_dir(pgd_def_kind_t kind);
/* The API collection: "/api/v1/resources", ... (static). */
const char *pgd_def_kind_api(pgd_def_kind_t kind);

/* One definition read from a file. All members owned by the set. */
typedef struct {
  pgd_def_kind_t kind;
  char *name;
  char *file;         /* the .json it came from */
  cJSON *body;        /* the object without "kind" (resources: unused, NULL) */
  char *content_path; /* resources: the content file, resolved; else NULL */
} pgd_def_t;

typedef struct {
  pgd_def_t *items;
  size_t n, cap;
} pgd_def_set_t;

/* Reads `path`: one .json file, or every *.json under a directory
 * (recursively; names starting with '.' skipped, so a .git directory is
 * ignored). Appends to *set (zero it first), items sorted by kind then
 * name. Every file must hold one JSON object with a known "kind" and a
 * non-empty string "name"; a resource may have only "kind", "name" and
 * "file"; two files may not define the same kind and name. Returns 0, or a
 * negative code with a message naming the file in err (the set then holds
 * what was read: free it). */
int pgd_def_load(const char *path, pgd_def_set_t *set, char *err, size_t errlen);

/* Frees what the set owns and empties it. NULL-safe. */
void pgd_def_set_free(pgd_def_set_t *set);

/* 1 when the set holds a definition of that kind and name. */
int pgd_def_set_has(const pgd_def_set_t *set, pgd_def_kind_t kind, const char *name);

/* The canonical form of a job, flow or schedule (a new object, owned by the
 * caller; NULL on allocation failure): a copy of `obj` (borrowed) without
 * "kind", without what the server adds (created/updated times; a
 * schedule's progress and previews) and without members equal to the
 * default the server fills in (a flow's "failure_strategy": "fail_fast",
 * "hooks_error": "run", "max_parallel": 0, empty "params"; a node's
 * "trigger_rule": "all_success" and empty "depends_on"; a schedule's
 * "enabled": true, "timezone": "UTC", "concurrency": "allow"). A file and
 * the server's copy of the same definition have equal canonical forms. */
cJSON *pgd_def_canonical(pgd_def_kind_t kind, const cJSON *obj);

/* The text of a JSON value with object keys sorted (byte order) at every
 * level, two-space indentation, arrays of scalars on one line, and a final
 * newline: what `export` writes. Owned by the caller (free()); NULL on
 * allocation failure. */
char *pgd_def_print(const cJSON *v);

/* The names of the top-level members whose values differ between two
 * objects (borrowed), sorted, as a new array of strings (owned by the
 * caller); NULL on allocation failure. Empty when they are equal. */
cJSON *pgd_def_changed_keys(const cJSON *before, const cJSON *after);

#endif
