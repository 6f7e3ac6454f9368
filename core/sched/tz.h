/* Pagoda — IANA time zones for schedules, without touching the process TZ.
 *
 * A zone is read from the compiled tzdata file /usr/share/zoneinfo/<name>
 * (TZif version 2 or later, 64-bit section) and its footer POSIX TZ string
 * ("CET-1CEST,M3.5.0,M10.5.0/3") covers times after the file's last
 * transition. "UTC" is built in and always loads, even without tzdata.
 * Leap-second ("right/") zones are refused.
 *
 * Loaded zones are immutable and shared: loading the same name twice returns
 * the same object with one more reference; pgd_tz_free drops one reference.
 *
 * Thread rules: every function is safe from any thread (the cache is guarded
 * by a mutex; a loaded zone is read-only).
 * Added in Pagoda 0.1.0.
 */
#ifndef PAGODA_SCHED_TZ_H
#define PAGODA_SCHED_TZ_H

#include <stddef.h>
#include <stdint.h>

#define PGD_TZ_DIR "/usr/share/zoneinfo"

typedef struct pgd_tz pgd_tz_t;

/* Loads the zone `name` (borrowed; e.g. "Europe/Berlin", "UTC").
 * On success returns 0 and *out holds a reference owned by the caller (free
 * it with pgd_tz_free). On failure returns -ENOENT (unknown zone: err reads
 * `unknown time zone "Mars/Base"`), -EINVAL (a name with "..", a leading '/',
 * odd characters, or a file that is not valid TZif) or -ENOMEM, writes a
 * message into err (errlen bytes, may be 0) and leaves *out NULL. */
int pgd_tz_load(const char *name, pgd_tz_t **out, char *err, size_t errlen);

/* Drops one reference; the zone is freed with its last one. NULL is a no-op. */
void pgd_tz_free(pgd_tz_t *tz);

/* The zone's name as loaded; borrowed, valid while the reference is held. */
const char *pgd_tz_name(const pgd_tz_t *tz);

/* UTC offset in seconds east of Greenwich at the instant `utc_s` (seconds
 * since the Unix epoch); *is_dst (may be NULL) is set to 1 in daylight time. */
int32_t pgd_tz_offset(const pgd_tz_t *tz, int64_t utc_s, int *is_dst);

/* The wall clock of the zone at `utc_s`, as seconds since 1970-01-01T00:00
 * of that wall clock (utc_s + offset). */
int64_t pgd_tz_to_local(const pgd_tz_t *tz, int64_t utc_s);

typedef enum {
  PGD_TZ_LOCAL_UNIQUE = 0, /* the wall time occurs exactly once */
  PGD_TZ_LOCAL_GAP = 1,    /* skipped by a forward jump (spring forward) */
  PGD_TZ_LOCAL_REPEAT = 2  /* occurs twice (fall back) */
} pgd_tz_local_kind_t;

/* The UTC instant of the wall time `local_s` (seconds since 1970-01-01T00:00
 * of the zone's wall clock). In a gap it returns the first instant after the
 * gap (the moment of the jump: 02:30 on a spring-forward night in Berlin maps
 * to 03:00 CEST); in a repeat it returns the first occurrence (02:30 CEST,
 * not 02:30 CET). *kind (may be NULL) says which case applied. */
int64_t pgd_tz_local_to_utc(const pgd_tz_t *tz, int64_t local_s, pgd_tz_local_kind_t *kind);

#endif
