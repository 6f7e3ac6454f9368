/* Pagoda — the cJSON bridge of the sandbox (core/script/sandbox_json.c).
 * Host only: the lua plugin compiles sandbox.c but converts values through
 * the plugin ABI's JSON functions instead. */
#ifndef PAGODA_SCRIPT_SANDBOX_JSON_H
#define PAGODA_SCRIPT_SANDBOX_JSON_H

#include <cjson/cJSON.h>

#include "script/sandbox.h"

/* ---- JSON bridge (use inside a pgd_sandbox_fn: both may raise Lua errors) */

/* Maximum nesting followed by the two converters below. */
#define PGD_SANDBOX_JSON_DEPTH 32
/* Maximum number of values one Lua→JSON conversion produces. */
#define PGD_SANDBOX_JSON_NODES 100000

/* Pushes `json` (borrowed; NULL pushes nil) as a Lua value: objects and arrays
 * become tables (arrays 1-based), JSON null becomes nil (dropped from tables),
 * numbers become integers when they are whole and fit, else floats. Nesting
 * deeper than PGD_SANDBOX_JSON_DEPTH raises a Lua error. */
void pgd_sandbox_push_json(lua_State *L, const cJSON *json);

/* Converts the Lua value at `idx` to JSON. Returns a new cJSON (owned by the
 * caller) or NULL with `err` filled: functions, userdata, threads, tables
 * with keys that are neither all 1..n nor all strings, cycles, nesting deeper
 * than PGD_SANDBOX_JSON_DEPTH or more than PGD_SANDBOX_JSON_NODES values are
 * refused. A table whose keys are exactly 1..n is an array; an empty table is
 * an empty object; NaN and infinities are refused. Does not raise. */
cJSON *pgd_sandbox_to_json(lua_State *L, int idx, char *err, size_t errlen);

#endif
