/* Pagoda — the one rule for the names users give things: jobs, flows'
 * jobs, schedules, resources (also as file names on workers) and the
 * ZooKeeper cluster name. A name is 1 to `max` characters of
 * [A-Za-z0-9_.-]; a name that becomes a path component is also not "." or
 * "..". Thread rules: pure functions, any thread.
 */
#ifndef PAGODA_COMMON_NAMES_H
#define PAGODA_COMMON_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/* True when the `n` bytes at `s` (borrowed; NULL = false) are 1 to `max`
 * characters of [A-Za-z0-9_.-]. */
bool pgd_name_chars_ok(const char *s, size_t n, size_t max);

/* pgd_name_chars_ok, and not "." or "..": safe as one path component. */
bool pgd_path_name_ok(const char *s, size_t n, size_t max);

#endif
